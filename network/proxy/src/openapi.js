'use strict';
/**
 * The OpenAPI 3.1 description of the proxy's HTTP API, served at GET /openapi.json.
 */

const { version } = require('../package.json');

const json = (schemaRef, description) => ({
  description,
  content: { 'application/json': { schema: { $ref: `#/components/schemas/${schemaRef}` } } },
});

const problem = (description) => ({
  description,
  content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
});

const param = (name, description, schema = { type: 'string' }) => ({
  name, in: 'path', required: true, description, schema,
});

/**
 * @param {{defaults: {channel: string, chaincode: string}, limits: {bodyBytes: number}}} config
 */
function openapiDocument(config) {
  const channel = param('channel', 'Channel name.', {
    type: 'string', pattern: '^[a-z][a-z0-9.-]*$', maxLength: 249, examples: [config.defaults.channel],
  });
  const chaincode = param('chaincode', 'Chaincode name.', {
    type: 'string', pattern: '^[A-Za-z0-9]+([-_][A-Za-z0-9]+)*$', maxLength: 128, examples: [config.defaults.chaincode],
  });
  const fn = param('fn', 'Transaction (function) name.', {
    type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_.:-]*$', maxLength: 128, examples: ['Ping'],
  });
  const txId = param('txId', 'Transaction id (64 lowercase hex digits).', {
    type: 'string', pattern: '^[0-9a-f]{64}$',
  });
  const common = {
    401: problem('Missing or invalid API key (code UNAUTHENTICATED); the request never reached Fabric.'),
    429: problem('Too many requests in flight (code TOO_MANY_REQUESTS); retry later.'),
    503: problem('Peer, orderer or endorsers unavailable (code UNAVAILABLE) or a step timed out (code TIMEOUT); '
      + 'retryable.'),
  };
  const contractErrors = {
    400: problem('Bad request (code BAD_REQUEST) or the contract\'s INVALID_ARGUMENT.'),
    403: problem('The contract refused the caller (code UNAUTHORIZED) or the peer denied the identity (FORBIDDEN).'),
    404: problem('The contract\'s NOT_FOUND, or an unknown channel/chaincode.'),
    409: problem('The contract\'s ALREADY_EXISTS / CONFLICT, or the transaction was committed invalid (code = the '
      + 'validation code; MVCC_READ_CONFLICT and PHANTOM_READ_CONFLICT are retryable).'),
    413: problem(`Request body larger than ${config.limits.bodyBytes} bytes (code PAYLOAD_TOO_LARGE).`),
    422: problem('The contract\'s POLICY_DENIED / CAPACITY_EXCEEDED (or another contract code).'),
    502: problem('The chaincode failed without a structured error (code CHAINCODE_ERROR).'),
  };

  return {
    openapi: '3.1.0',
    info: {
      title: 'vmledger gateway REST proxy',
      version,
      summary: 'A federation member\'s HTTP door to the Fabric Gateway.',
      description: 'Contract-agnostic: submit and evaluate transactions, follow chaincode events, read chain info. '
        + 'Every transaction takes string arguments (the vmledger contract takes exactly one: a JSON object). '
        + 'Errors are RFC 9457 problem documents with a stable `code`.',
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
    },
    servers: [{ url: '/' }],
    security: [{ apiKey: [] }],
    tags: [
      { name: 'transactions' }, { name: 'events' }, { name: 'channel' }, { name: 'operations' },
    ],
    paths: {
      '/channels/{channel}/chaincodes/{chaincode}/transactions/{fn}': {
        post: {
          tags: ['transactions'],
          operationId: 'submitTransaction',
          summary: 'Submit a transaction: endorse, submit to ordering, wait for its commit status.',
          description: 'Answers once the transaction is committed (200), or with `Prefer: respond-async` once the '
            + 'orderer accepted it (202; poll the status URL).',
          parameters: [channel, chaincode, fn, {
            name: 'Prefer', in: 'header', required: false, schema: { type: 'string', examples: ['respond-async'] },
            description: '`respond-async`: answer 202 after submit, without waiting for the commit.',
          }],
          requestBody: {
            required: false,
            content: { 'application/json': { schema: { $ref: '#/components/schemas/Arguments' } } },
          },
          responses: {
            200: json('SubmitResult', 'Committed VALID.'),
            202: {
              ...json('Accepted', 'Accepted by the orderer; the commit status is awaited in the background.'),
              headers: { Location: { schema: { type: 'string' }, description: 'The status URL.' } },
            },
            ...contractErrors,
            ...common,
          },
        },
      },
      '/channels/{channel}/transactions/{txId}': {
        get: {
          tags: ['transactions'],
          operationId: 'getTransactionStatus',
          summary: 'Status of an asynchronous submission made through this proxy.',
          parameters: [channel, txId],
          responses: {
            200: json('TransactionStatus', 'The proxy-local record.'),
            400: problem('Malformed transaction id (code BAD_REQUEST).'),
            404: problem('No record of this transaction in this proxy (code NOT_FOUND).'),
            401: common[401],
          },
        },
      },
      '/channels/{channel}/chaincodes/{chaincode}/queries/{fn}': {
        post: {
          tags: ['transactions'],
          operationId: 'evaluateTransaction',
          summary: 'Evaluate a transaction on this member\'s peer (nothing is written).',
          parameters: [channel, chaincode, fn],
          requestBody: {
            required: false,
            content: { 'application/json': { schema: { $ref: '#/components/schemas/Arguments' } } },
          },
          responses: { 200: json('QueryResult', 'The transaction\'s result.'), ...contractErrors, ...common },
        },
      },
      '/channels/{channel}/chaincodes/{chaincode}/events': {
        get: {
          tags: ['events'],
          operationId: 'chaincodeEvents',
          summary: 'Chaincode events as server-sent events.',
          description: 'Each message: `id: <blockNumber>:<index in block>`, `event: <eventName>`, `data:` a '
            + 'ChaincodeEvent JSON. Reconnect with `Last-Event-ID` (wins) or `startBlock` to resume; without '
            + 'either the stream starts at the next block. A `problem` event carries a Problem when the stream '
            + 'fails; the server then closes it. Comment lines are heartbeats.',
          parameters: [channel, chaincode,
            {
              name: 'startBlock', in: 'query', required: false, description: 'First block to read events from.',
              schema: { type: 'string', pattern: '^[0-9]+$' },
            },
            {
              name: 'Last-Event-ID', in: 'header', required: false, description: 'Resume after this event id.',
              schema: { type: 'string', pattern: '^[0-9]+:[0-9]+$' },
            }],
          responses: {
            200: {
              description: 'An event stream (text/event-stream) whose `data` lines are ChaincodeEvent objects.',
              content: { 'text/event-stream': { schema: { type: 'string' } } },
            },
            400: problem('Malformed startBlock or Last-Event-ID (code BAD_REQUEST).'),
            ...common,
          },
        },
      },
      '/channels/{channel}/info': {
        get: {
          tags: ['channel'],
          operationId: 'channelInfo',
          summary: 'Block height and hashes of the channel (qscc GetChainInfo).',
          parameters: [channel],
          responses: { 200: json('ChainInfo', 'Chain info.'), ...common },
        },
      },
      '/healthz': {
        get: {
          tags: ['operations'], operationId: 'healthz', security: [], summary: 'The process is alive.',
          responses: { 200: json('Health', 'Alive.') },
        },
      },
      '/readyz': {
        get: {
          tags: ['operations'],
          operationId: 'readyz',
          security: [],
          summary: 'Peer reachable and the default channel and chaincode answer an evaluate of Ping.',
          responses: {
            200: json('Health', 'Ready.'),
            503: problem('Not ready (code UNAVAILABLE): shutting down, peer unreachable or chaincode not answering.'),
          },
        },
      },
      '/metrics': {
        get: {
          tags: ['operations'], operationId: 'metrics', security: [], summary: 'Prometheus metrics.',
          responses: { 200: { description: 'Prometheus text format 0.0.4.', content: { 'text/plain': { schema: { type: 'string' } } } } },
        },
      },
      '/openapi.json': {
        get: {
          tags: ['operations'], operationId: 'openapi', security: [], summary: 'This document.',
          responses: { 200: { description: 'OpenAPI 3.1 document.', content: { 'application/json': { schema: { type: 'object' } } } } },
        },
      },
    },
    components: {
      securitySchemes: { apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' } },
      schemas: {
        Arguments: {
          type: 'object',
          additionalProperties: false,
          properties: { args: { type: 'array', items: { type: 'string' }, default: [] } },
          examples: [{ args: ['{}'] }],
        },
        Timings: {
          type: 'object',
          description: 'Milliseconds spent in each step (rounded).',
          properties: {
            endorseMs: { type: 'integer' }, submitMs: { type: 'integer' },
            commitMs: { type: 'integer' }, totalMs: { type: 'integer' },
          },
          required: ['endorseMs', 'submitMs'],
        },
        Result: { description: 'The transaction\'s result: its JSON value if it parses as JSON, else the text.' },
        SubmitResult: {
          type: 'object',
          required: ['txId', 'blockNumber', 'validationCode', 'result', 'timings'],
          properties: {
            txId: { type: 'string' },
            blockNumber: { type: 'integer' },
            validationCode: { type: 'string', const: 'VALID' },
            result: { $ref: '#/components/schemas/Result' },
            timings: { $ref: '#/components/schemas/Timings' },
          },
        },
        Accepted: {
          type: 'object',
          required: ['txId', 'statusUrl'],
          properties: { txId: { type: 'string' }, statusUrl: { type: 'string' } },
        },
        TransactionStatus: {
          type: 'object',
          required: ['txId', 'status'],
          properties: {
            txId: { type: 'string' },
            status: { enum: ['pending', 'committed', 'failed'] },
            blockNumber: { type: 'integer' },
            validationCode: { type: 'string' },
            result: { $ref: '#/components/schemas/Result' },
            timings: { $ref: '#/components/schemas/Timings' },
            error: { $ref: '#/components/schemas/Problem' },
          },
        },
        QueryResult: {
          type: 'object', required: ['result'], properties: { result: { $ref: '#/components/schemas/Result' } },
        },
        ChaincodeEvent: {
          type: 'object',
          required: ['blockNumber', 'txId', 'eventName', 'payload'],
          properties: {
            blockNumber: { type: 'integer' },
            txId: { type: 'string' },
            eventName: { type: 'string' },
            payload: { description: 'The event payload: its JSON value if it parses, else the text.' },
          },
        },
        ChainInfo: {
          type: 'object',
          required: ['height', 'currentBlockHash', 'previousBlockHash'],
          properties: {
            height: { type: 'integer' },
            currentBlockHash: { type: 'string', description: 'hex' },
            previousBlockHash: { type: 'string', description: 'hex' },
          },
        },
        Health: {
          type: 'object',
          required: ['status'],
          properties: { status: { type: 'string' }, checks: { type: 'object' } },
        },
        Problem: {
          type: 'object',
          description: 'RFC 9457 problem details with this API\'s extensions.',
          required: ['type', 'title', 'status', 'detail', 'code'],
          properties: {
            type: { type: 'string', format: 'uri', examples: ['urn:vmledger:problem:POLICY_DENIED'] },
            title: { type: 'string' },
            status: { type: 'integer' },
            detail: { type: 'string' },
            code: {
              type: 'string',
              description: 'Stable code: a contract code (INVALID_ARGUMENT, UNAUTHORIZED, NOT_FOUND, ALREADY_EXISTS, '
                + 'CONFLICT, POLICY_DENIED, CAPACITY_EXCEEDED), a validation code (MVCC_READ_CONFLICT, …), or one '
                + 'of the proxy\'s (BAD_REQUEST, UNAUTHENTICATED, FORBIDDEN, NOT_FOUND, ROUTE_NOT_FOUND, '
                + 'METHOD_NOT_ALLOWED, PAYLOAD_TOO_LARGE, TOO_MANY_REQUESTS, UNAVAILABLE, TIMEOUT, CHAINCODE_ERROR, '
                + 'GATEWAY_ERROR, INTERNAL).',
            },
            details: { description: 'The contract\'s error details, passed through.' },
            txId: { type: 'string' },
            retryable: { type: 'boolean' },
            step: {
              type: 'string',
              enum: ['endorse', 'submit', 'commit', 'evaluate', 'chaininfo', 'events'],
              description: 'The Fabric step that failed, for errors that come from the network.',
            },
          },
        },
      },
    },
  };
}

module.exports = { openapiDocument };
