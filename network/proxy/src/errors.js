'use strict';
/**
 * Errors as RFC 9457 problem documents, and the one mapping from whatever went wrong (a caller's bad
 * request, a contract rejection, a transaction committed invalid, an unreachable peer) to a problem
 * with a stable `code`. The HTTP status of every code comes from the contract's vocabulary.
 *
 * Contract rejections arrive inside Fabric Gateway errors: the peer's message in the error details reads
 * `chaincode response 500, {"code":"POLICY_DENIED","message":…,"details":{…}}`. The contract's JSON is
 * parsed from the first '{' of that message; nothing else about the text is relied on.
 */

const { Vocabulary } = require('./vocabulary');

const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/**
 * The codes the proxy's own code answers with (besides passing the contract's and Fabric's validation
 * codes through). Each is in the contract's vocabulary, which gives its HTTP status; a test checks that
 * every code written in src/ is listed here and answered with the vocabulary's status.
 */
const PROXY_CODES = Object.freeze([
  'BAD_REQUEST', 'UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND', 'ROUTE_NOT_FOUND', 'METHOD_NOT_ALLOWED',
  'PAYLOAD_TOO_LARGE', 'TOO_MANY_REQUESTS', 'INTERNAL', 'CHAINCODE_ERROR', 'GATEWAY_ERROR', 'UNAVAILABLE', 'TIMEOUT',
  'IDEMPOTENCY_KEY_REUSED',
]);

/** A contract code the vocabulary does not know (a newer contract): the caller's request was refused. */
const UNKNOWN_CONTRACT_CODE_STATUS = 422;
/** A validation code the vocabulary does not know: committed invalid, like every other. */
const UNKNOWN_VALIDATION_CODE_STATUS = 409;

let active;

/** Use this vocabulary for every problem's status (server.js: the configured one). */
function useVocabulary(vocabulary) {
  active = vocabulary;
}

/** The vocabulary in use; the repository's own when none was set (unit tests). */
function vocabulary() {
  active ??= Vocabulary.load();
  return active;
}

/** gRPC status codes (numeric, as grpc-js reports them). */
const GRPC = Object.freeze({
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
});

const TITLES = Object.freeze({
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
});

/**
 * An error that already knows how it is answered. Everything the proxy throws on purpose is one of these;
 * anything else reaching the HTTP layer goes through {@link toProblem}.
 */
class ProblemError extends Error {
  /**
   * @param {string} code stable machine-readable code; its HTTP status comes from the vocabulary
   * @param {string} detail human-readable explanation (never a stack trace)
   * @param {{details?: unknown, txId?: string, retryable?: boolean, step?: string, status?: number,
   *   headers?: Record<string,string>}} [extra] `status` only for codes the vocabulary lacks
   */
  constructor(code, detail, extra = {}) {
    super(detail);
    const entry = vocabulary().code(code);
    const status = entry?.httpStatus ?? extra.status;
    if (status === undefined) throw new Error(`problem code ${code} is not in the contract's vocabulary`);
    this.name = 'ProblemError';
    this.status = status;
    this.code = code;
    this.detail = detail;
    this.details = extra.details;
    this.txId = extra.txId;
    this.retryable = extra.retryable ?? (entry?.retryable ? true : undefined);
    this.step = extra.step;
    this.headers = extra.headers;
  }

  /** The problem document (RFC 9457 members plus this API's extensions). */
  toJSON() {
    const body = {
      type: problemType(this.code),
      title: TITLES[this.status] ?? 'Error',
      status: this.status,
      detail: this.detail,
      code: this.code,
    };
    if (this.details !== undefined) body.details = this.details;
    if (this.txId !== undefined) body.txId = this.txId;
    if (this.retryable !== undefined) body.retryable = this.retryable;
    if (this.step !== undefined) body.step = this.step;
    return body;
  }
}

/** The problem `type` URI for a code: stable, and distinct per code. */
function problemType(code) {
  return `urn:vmledger:problem:${code}`;
}

const badRequest = (detail, details) => new ProblemError('BAD_REQUEST', detail, { details });

/**
 * The contract's structured rejection inside a message, or undefined. The contract's message is a JSON
 * object; the peer prefixes it (`chaincode response 500, `), so parsing starts at the first '{'.
 * @param {unknown} message
 * @returns {{code: string, message?: string, details?: unknown} | undefined}
 */
function parseContractError(message) {
  if (typeof message !== 'string') return undefined;
  const start = message.indexOf('{');
  if (start < 0) return undefined;
  let parsed;
  try {
    parsed = JSON.parse(message.slice(start));
  } catch {
    return undefined;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined;
  if (typeof parsed.code !== 'string' || parsed.code.length === 0) return undefined;
  return parsed;
}

/** The first structured contract error found in a gateway error's details (then its own message). */
function findContractError(err) {
  const details = Array.isArray(err?.details) ? err.details : [];
  for (const detail of details) {
    const found = parseContractError(detail?.message);
    if (found) return found;
  }
  return parseContractError(err?.message);
}

/** The peers' messages of a gateway error, joined, for a problem's `detail`. */
function peerMessages(err) {
  const details = Array.isArray(err?.details) ? err.details : [];
  const messages = details
    .map((d) => (typeof d?.message === 'string' ? d.message : ''))
    .filter((m) => m.length > 0);
  return messages.length > 0 ? messages.join('; ') : undefined;
}

/**
 * Map an error from a Fabric Gateway call (GatewayError, EndorseError, SubmitError, CommitStatusError or a
 * raw gRPC ServiceError: anything with a numeric gRPC `code` and optional `details`) to a problem.
 * @param {any} err
 * @param {{step?: string, txId?: string}} [ctx] the step that failed and the transaction id, if any
 * @returns {ProblemError}
 */
function fromGatewayError(err, ctx = {}) {
  const problem = classifyGatewayError(err, ctx);
  problem.step = ctx.step;
  return problem;
}

function classifyGatewayError(err, ctx) {
  const txId = ctx.txId ?? err?.transactionId;
  const step = ctx.step ?? 'call';

  const rejection = findContractError(err);
  if (rejection) {
    const detail = typeof rejection.message === 'string' && rejection.message.length > 0
      ? rejection.message
      : `the contract rejected the transaction (${rejection.code})`;
    return new ProblemError(rejection.code, detail,
      { details: rejection.details, txId, status: UNKNOWN_CONTRACT_CODE_STATUS });
  }

  const peers = peerMessages(err);
  const why = peers ?? grpcMessage(err) ?? 'no details';
  switch (err?.code) {
    case GRPC.DEADLINE_EXCEEDED:
      return new ProblemError('TIMEOUT', `${step} timed out: ${why}`, { txId });
    case GRPC.UNAVAILABLE:
    case GRPC.CANCELLED:
    case GRPC.RESOURCE_EXHAUSTED:
    case GRPC.FAILED_PRECONDITION: // e.g. no combination of peers satisfies the endorsement policy yet
      return new ProblemError('UNAVAILABLE', `${step} failed: ${why}`, { txId });
    case GRPC.NOT_FOUND:
      return new ProblemError('NOT_FOUND', `${step} failed: ${why}`, { txId });
    case GRPC.INVALID_ARGUMENT:
      return new ProblemError('BAD_REQUEST', `${step} rejected: ${why}`, { txId });
    case GRPC.PERMISSION_DENIED:
    case GRPC.UNAUTHENTICATED:
      return new ProblemError('FORBIDDEN', `${step} denied: ${why}`, { txId });
    case GRPC.ABORTED:
    case GRPC.UNKNOWN:
      // The chaincode ran and answered an error that is not a contract error: the contract (or its host)
      // is at fault. Otherwise the peer could not get an answer at all (chaincode server down, endorsers
      // disagreeing, …): unavailable for now.
      if (chaincodeAnswered(err)) {
        return new ProblemError('CHAINCODE_ERROR', `${step} failed: ${why}`, { txId });
      }
      return new ProblemError('UNAVAILABLE', `${step} failed: ${why}`, { txId });
    default:
      return new ProblemError('GATEWAY_ERROR', `${step} failed: ${why}`, { txId });
  }
}

/**
 * True when an endorser reports the chaincode's own response. The peer words it
 * `chaincode response <status>, <message>` (the same prefix the contract's JSON follows).
 */
function chaincodeAnswered(err) {
  const details = Array.isArray(err?.details) ? err.details : [];
  if (details.length > 0) {
    return details.some((d) => typeof d?.message === 'string' && d.message.startsWith(CHAINCODE_RESPONSE));
  }
  return typeof err?.message === 'string' && err.message.includes(CHAINCODE_RESPONSE);
}

const CHAINCODE_RESPONSE = 'chaincode response ';

/** The description part of a grpc-js message ("14 UNAVAILABLE: No connection established" → the rest). */
function grpcMessage(err) {
  const message = err?.details && typeof err.details === 'string' ? err.details : err?.message;
  if (typeof message !== 'string' || message.length === 0) return undefined;
  const colon = message.indexOf(': ');
  return colon >= 0 ? message.slice(colon + 2) : message;
}

/**
 * The problem for a transaction that was ordered and committed but marked invalid.
 * @param {{txId: string, validationCode: string, blockNumber: number}} status
 */
function fromInvalidCommit({ txId, validationCode, blockNumber }) {
  const retryable = vocabulary().code(validationCode)?.retryable ?? false;
  const detail = retryable
    ? `transaction ${txId} was committed invalid (${validationCode}) in block ${blockNumber}: its read set went stale; endorse it again`
    : `transaction ${txId} was committed invalid (${validationCode}) in block ${blockNumber}`;
  return new ProblemError(validationCode, detail, {
    status: UNKNOWN_VALIDATION_CODE_STATUS,
    txId,
    retryable,
    details: { blockNumber, validationCode },
  });
}

/**
 * Any error → the problem to answer with. ProblemErrors pass through; gateway-like errors (numeric gRPC
 * `code`) are mapped; anything else is an internal error whose message is not shown to the caller.
 * @param {unknown} err
 * @returns {ProblemError}
 */
function toProblem(err) {
  if (err instanceof ProblemError) return err;
  if (err && typeof err === 'object' && typeof err.code === 'number') return fromGatewayError(err);
  return new ProblemError('INTERNAL', 'internal error in the proxy');
}

module.exports = {
  PROBLEM_CONTENT_TYPE,
  PROXY_CODES,
  useVocabulary,
  vocabulary,
  GRPC,
  ProblemError,
  badRequest,
  parseContractError,
  findContractError,
  fromGatewayError,
  fromInvalidCommit,
  toProblem,
};
