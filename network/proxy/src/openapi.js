'use strict';
/**
 * The OpenAPI 3.1 description of the proxy's HTTP API, served at GET /openapi.json and rendered at /docs.
 *
 * The typed part comes from the contract's vocabulary: one operation per function (its input schema as the
 * body, its output schema as the result, and the problem codes it can answer with their statuses), the
 * REST readers, and every schema of the contract under components/schemas.
 */

const { version } = require('../package.json');
const { PROXY_CODES } = require('./errors');
const readers = require('./readers');

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

const ref = (name) => ({ $ref: `#/components/schemas/${name}` });

/** The contract's schemas with their references moved from `#/$defs/` to `#/components/schemas/`. */
function contractSchemas(vocabulary) {
  const text = JSON.stringify(vocabulary.schemas).replaceAll('"#/$defs/', '"#/components/schemas/');
  return JSON.parse(text);
}

/**
 * Problem responses by HTTP status for a list of codes, each naming its codes (and typing `code` as one
 * of them), with the statuses from the vocabulary.
 */
function problemResponses(vocabulary, codes) {
  const byStatus = new Map();
  for (const code of codes) {
    const entry = vocabulary.code(code);
    if (!entry) throw new Error(`code ${code} is not in the contract's vocabulary`);
    if (!byStatus.has(entry.httpStatus)) byStatus.set(entry.httpStatus, []);
    byStatus.get(entry.httpStatus).push(entry);
  }
  const responses = {};
  for (const [status, entries] of [...byStatus].sort(([a], [b]) => a - b)) {
    responses[status] = {
      description: entries.map((e) => `\`${e.code}\`${e.retryable ? ' (retryable)' : ''}: ${e.summary}`).join('  \n'),
      content: {
        'application/problem+json': {
          schema: { allOf: [ref('Problem'), { properties: { code: { enum: entries.map((e) => e.code) } } }] },
        },
      },
    };
  }
  return responses;
}

/** The proxy's own codes any operation reaching Fabric can answer. */
const FABRIC_ROUTE_CODES = ['UNAUTHENTICATED', 'FORBIDDEN', 'TOO_MANY_REQUESTS', 'INTERNAL', 'CHAINCODE_ERROR',
  'GATEWAY_ERROR', 'UNAVAILABLE', 'TIMEOUT'];

/** Typed operations: one per function, and the REST readers. */
function typedPaths(vocabulary, config) {
  const validationCodes = [...vocabulary.codes.values()].filter((c) => c.origin === 'validation').map((c) => c.code);
  const paths = {};
  for (const fn of vocabulary.functions.values()) {
    const submit = fn.access === 'submit';
    const codes = [...fn.refuses, 'BAD_REQUEST', 'PAYLOAD_TOO_LARGE', ...FABRIC_ROUTE_CODES,
      ...(submit ? validationCodes : [])];
    const result = submit
      ? { allOf: [ref('SubmitResult'), { properties: { result: ref(fn.output) } }] }
      : { type: 'object', required: ['result'], properties: { result: ref(fn.output) } };
    const events = fn.emits.length > 0 ? ` Emits ${fn.emits.map((e) => `\`${e}\``).join(' or ')}.` : '';
    paths[`/v1/${submit ? 'transactions' : 'queries'}/${fn.name}`] = {
      post: {
        tags: [submit ? 'contract transactions' : 'contract queries'],
        operationId: fn.name,
        summary: fn.summary,
        description: `${submit ? 'Submitted: endorsed, ordered, and answered once committed (or 202 with '
          + '`Prefer: respond-async`).' : 'Evaluated on this member\'s peer; nothing is written.'}${events} `
          + `The body is the \`${fn.input}\` object; the channel and chaincode are the proxy's defaults `
          + `(${config.defaults.channel}, ${config.defaults.chaincode}).`,
        parameters: submit ? [PREFER] : [],
        requestBody: { required: true, content: { 'application/json': { schema: ref(fn.input) } } },
        responses: {
          200: { description: submit ? 'Committed VALID.' : 'The result.', content: { 'application/json': { schema: result } } },
          ...(submit ? { 202: ACCEPTED } : {}),
          ...problemResponses(vocabulary, codes),
        },
      },
    };
  }
  const query = (name, description, schema, required = false) => ({ name, in: 'query', required, description, schema });
  const string = { type: 'string' };
  const time = { type: 'string', format: 'date-time' };
  const readerCodes = (fnName) => [...vocabulary.fn(fnName).refuses, 'BAD_REQUEST', ...FABRIC_ROUTE_CODES];
  const usage = vocabulary.fn(readers.FUNCTIONS.usage);
  const history = vocabulary.fn(readers.FUNCTIONS.history);
  const migrations = vocabulary.fn(readers.FUNCTIONS.migrations);
  paths['/v1/clouds/{id}/usage'] = {
    get: {
      tags: ['readers'],
      operationId: 'cloudUsage',
      summary: `${usage.summary} (${usage.name})`,
      description: 'JSON by default; CSV (one line per VM and a TOTAL line, costs in currency units) when the '
        + '`Accept` header prefers `text/csv`.',
      parameters: [
        { name: 'id', in: 'path', required: true, description: 'Cloud id.', schema: string },
        query('from', 'Start of the period (RFC 3339).', time, true),
        query('to', 'End of the period, exclusive (RFC 3339).', time, true),
      ],
      responses: {
        200: {
          description: 'The usage report.',
          content: {
            'application/json': { schema: ref(usage.output) },
            'text/csv': { schema: { type: 'string' }, example: `${readers.USAGE_COLUMNS.join(',')}\n` },
          },
        },
        ...problemResponses(vocabulary, readerCodes(usage.name)),
      },
    },
  };
  paths['/v1/vms/{id}/history'] = {
    get: {
      tags: ['readers'],
      operationId: 'vmHistory',
      summary: `${history.summary} (${history.name})`,
      parameters: [{ name: 'id', in: 'path', required: true, description: 'VM id.', schema: string }],
      responses: {
        200: { description: 'The VM\'s history.', content: { 'application/json': { schema: ref(history.output) } } },
        ...problemResponses(vocabulary, readerCodes(history.name)),
      },
    },
  };
  paths['/v1/migrations'] = {
    get: {
      tags: ['readers'],
      operationId: 'migrations',
      summary: `${migrations.summary} (${migrations.name})`,
      description: 'Give exactly one of `vmId` and `cloudId`. The next page is linked from the `Link` header '
        + '(`rel="next"`), the same query with the page\'s bookmark.',
      parameters: [
        query('vmId', 'Migrations of this VM.', string),
        query('cloudId', 'Migrations touching this cloud, as source or destination.', string),
        query('from', 'Indicated at or after (RFC 3339).', time),
        query('to', 'Indicated before (RFC 3339).', time),
        query('pageSize', 'Migrations per page.', { type: 'integer', minimum: 1 }),
        query('bookmark', 'Where the page starts: the bookmark of the previous page.', string),
      ],
      responses: {
        200: {
          description: 'One page.',
          headers: {
            Link: { description: '`<…>; rel="next"` when there is a next page.', schema: { type: 'string' } },
          },
          content: { 'application/json': { schema: ref(migrations.output) } },
        },
        ...problemResponses(vocabulary, readerCodes(migrations.name)),
      },
    },
  };
  return paths;
}

const PREFER = {
  name: 'Prefer', in: 'header', required: false, schema: { type: 'string', examples: ['respond-async'] },
  description: '`respond-async`: answer 202 after submit, without waiting for the commit.',
};

const IDEMPOTENCY_KEY = {
  name: 'Idempotency-Key', in: 'header', required: false,
  schema: { type: 'string', pattern: '^[\\x21-\\x7e]{1,255}$' },
  description: 'The write\'s key (1–255 visible ASCII characters; the proxy makes one when absent and answers it in '
    + 'the same header). It is the transaction\'s nonce: the transaction id is hex SHA-256(SHA-256(key) ‖ '
    + 'creator), known before sending. The same key again never applies twice: a pending submission is waited '
    + 'for, a finished one answers its first outcome; a key used for another call is 422 IDEMPOTENCY_KEY_REUSED.',
};

const ACCEPTED = {
  description: 'Accepted by the orderer; the commit status is awaited in the background.',
  headers: { Location: { schema: { type: 'string' }, description: 'The status URL.' } },
  content: { 'application/json': { schema: ref('Accepted') } },
};

/**
 * @param {{defaults: {channel: string, chaincode: string}, limits: {bodyBytes: number}}} config
 * @param {import('./vocabulary').Vocabulary} vocabulary
 */
function openapiDocument(config, vocabulary) {
  const channel = param('channel', 'Channel name.', {
    type: 'string', pattern: '^[a-z][a-z0-9.-]*$', maxLength: 249, examples: [config.defaults.channel],
  });
  const chaincode = param('chaincode', 'Chaincode name.', {
    type: 'string', pattern: '^[A-Za-z0-9]+([-_][A-Za-z0-9]+)*$', maxLength: 128, examples: [config.defaults.chaincode],
  });
  const fn = param('fn', 'The contract\'s function.', {
    type: 'string', enum: [...vocabulary.functions.keys()], examples: ['Ping'],
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
    400: problem('Bad request (code BAD_REQUEST: malformed body, not exactly one argument, or a query '
      + 'submitted) or the contract\'s INVALID_ARGUMENT.'),
    403: problem('The contract refused the caller (code UNAUTHORIZED) or the peer denied the identity (FORBIDDEN).'),
    404: problem('The contract\'s NOT_FOUND (also for a function it does not have, before Fabric is touched), '
      + 'or ROUTE_NOT_FOUND for a chaincode this proxy does not serve.'),
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
      summary: 'A federation member\'s HTTP door to the vmledger contract on Fabric.',
      description: 'A federation member\'s door to the vmledger contract. Typed operations (`/v1/…`): one per '
        + 'function of the contract, with its input object as the body, and REST readers. Fabric-shaped '
        + 'operations (`/channels/…`): submit and evaluate by name with `{"args": ["<JSON text>"]}` (exactly one '
        + 'argument), follow chaincode events, read chain info. Only the configured chaincode is reachable. '
        + 'Errors are RFC 9457 problem documents with a stable `code`; every code, its status, the CLI\'s exit '
        + 'code and whether it is retryable are in the contract\'s vocabulary.',
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
    },
    servers: [{ url: '/' }],
    security: [{ apiKey: [] }],
    tags: [
      { name: 'contract transactions', description: 'The contract\'s functions that change the ledger.' },
      { name: 'contract queries', description: 'The contract\'s functions that read it.' },
      { name: 'readers', description: 'REST resources over the contract\'s queries.' },
      { name: 'transactions', description: 'Fabric-shaped: any function by name, string arguments.' },
      { name: 'offline signing', description: 'For clients that hold their own key: the proxy builds, the client '
        + 'signs, the proxy relays (fabric-gateway\'s offline-signing flow).' },
      { name: 'events' }, { name: 'channel' }, { name: 'operations' },
    ],
    paths: {
      ...typedPaths(vocabulary, config),
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
          }, IDEMPOTENCY_KEY],
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
          summary: 'A transaction by id: this proxy\'s record of its submission, else the member\'s peer\'s copy.',
          parameters: [channel, txId],
          responses: {
            200: json('TransactionStatus', 'The proxy\'s record (pending, committed, failed, unknown), or the '
              + 'ledger\'s (source `ledger`: validation code, block, function, creator, time, result).'),
            400: problem('Malformed transaction id (code BAD_REQUEST).'),
            404: problem('Neither this proxy nor the member\'s peer knows the transaction (code NOT_FOUND).'),
            401: common[401],
          },
        },
      },
      '/v1/transactions/{txId}': {
        get: {
          tags: ['transactions'],
          operationId: 'lookupTransaction',
          summary: 'A transaction by id on the default channel (as /channels/{channel}/transactions/{txId}).',
          parameters: [txId],
          responses: {
            200: json('TransactionStatus', 'Its status, validation code and block.'),
            400: problem('Malformed transaction id (code BAD_REQUEST).'),
            404: problem('Not known (code NOT_FOUND): not on the member\'s peer (yet) and not pending here.'),
            401: common[401],
          },
        },
      },
      '/v1/identity': {
        get: {
          tags: ['transactions'],
          operationId: 'identity',
          summary: 'The identity behind the API key: its MSP id, certificate and Fabric creator (base64), from '
            + 'which a client computes its transaction ids: hex SHA-256(SHA-256(Idempotency-Key) ‖ creator).',
          responses: { 200: json('Identity', 'Who signs for this key.'), 401: common[401] },
        },
      },
      '/channels/{channel}/chaincodes/{chaincode}/proposals/{fn}': {
        post: {
          tags: ['offline signing'],
          operationId: 'newProposal',
          summary: 'Offline signing, 1 of 4: build the proposal for the client\'s identity, unsigned.',
          description: 'The client signs SHA-256 of the proposal bytes with its own key (ECDSA, low-S DER) and '
            + 'sends both to /endorsements. The nonce comes from the Idempotency-Key, so the transaction id is '
            + 'known before anything is sent.',
          parameters: [channel, chaincode, fn, IDEMPOTENCY_KEY],
          requestBody: { required: true, content: { 'application/json': { schema: ref('OfflineProposalRequest') } } },
          responses: { 200: json('OfflineProposal', 'The proposal to sign.'), ...contractErrors, ...common },
        },
      },
      '/channels/{channel}/endorsements': {
        post: {
          tags: ['offline signing'],
          operationId: 'endorseSigned',
          summary: 'Offline signing, 2 of 4: endorse a signed proposal; answers the transaction to sign.',
          description: 'When the transaction is already on the ledger (a retry), answers its first outcome as '
            + '`committed` instead.',
          parameters: [channel],
          requestBody: { required: true, content: { 'application/json': { schema: ref('SignedMessage') } } },
          responses: { 200: json('OfflineEndorsed', 'Endorsed.'), ...contractErrors, ...common },
        },
      },
      '/channels/{channel}/submissions': {
        post: {
          tags: ['offline signing'],
          operationId: 'submitSigned',
          summary: 'Offline signing, 3 of 4: submit a signed transaction; answers the commit-status request to sign.',
          parameters: [channel],
          requestBody: { required: true, content: { 'application/json': { schema: ref('SignedMessage') } } },
          responses: { 200: json('OfflineSubmitted', 'Accepted by the orderer.'), ...contractErrors, ...common },
        },
      },
      '/channels/{channel}/commit-statuses': {
        post: {
          tags: ['offline signing'],
          operationId: 'commitStatusSigned',
          summary: 'Offline signing, 4 of 4: wait for the commit status with a signed request.',
          parameters: [channel],
          requestBody: { required: true, content: { 'application/json': { schema: ref('SignedMessage') } } },
          responses: { 200: json('SubmitResult', 'Committed VALID.'), ...contractErrors, ...common },
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
          description: 'Any function may be evaluated here, a transaction too (a dry run: nothing is written).',
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
      '/docs': {
        get: {
          tags: ['operations'], operationId: 'docs', security: [], summary: 'This document, rendered (Swagger UI).',
          responses: { 200: { description: 'An HTML page.', content: { 'text/html': { schema: { type: 'string' } } } } },
        },
      },
    },
    components: {
      securitySchemes: { apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' } },
      schemas: {
        ...contractSchemas(vocabulary),
        Arguments: {
          type: 'object',
          additionalProperties: false,
          properties: {
            args: { type: 'array', items: { type: 'string' }, default: [] },
            transient: {
              type: 'object',
              additionalProperties: { type: 'string' },
              description: 'Transient data: reaches the endorsing peers, never the ledger (private data, e.g. '
                + 'the prices of ProposeTerms under "terms").',
            },
          },
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
        Identity: {
          type: 'object',
          required: ['identity', 'mspId', 'certificate', 'creator'],
          properties: {
            identity: { type: 'string' }, mspId: { type: 'string' }, certificate: { type: 'string' },
            creator: { type: 'string', contentEncoding: 'base64' },
          },
        },
        OfflineProposalRequest: {
          type: 'object',
          additionalProperties: false,
          required: ['identity'],
          properties: {
            args: { type: 'array', items: { type: 'string' } },
            transient: {
              type: 'object',
              additionalProperties: { type: 'string' },
              description: 'Transient data, in the proposal the client signs; the endorsed transaction leaves it out.',
            },
            identity: {
              type: 'object',
              required: ['mspId', 'certificate'],
              properties: { mspId: { type: 'string' }, certificate: { type: 'string', description: 'PEM' } },
            },
          },
        },
        OfflineProposal: {
          type: 'object',
          required: ['txId', 'proposal'],
          properties: { txId: { type: 'string' }, proposal: { type: 'string', contentEncoding: 'base64' } },
        },
        SignedMessage: {
          type: 'object',
          description: 'One of proposal, transaction or commit (base64 bytes) with its signature (base64 DER).',
          properties: {
            proposal: { type: 'string', contentEncoding: 'base64' },
            transaction: { type: 'string', contentEncoding: 'base64' },
            commit: { type: 'string', contentEncoding: 'base64' },
            signature: { type: 'string', contentEncoding: 'base64' },
          },
          required: ['signature'],
        },
        OfflineEndorsed: {
          type: 'object',
          required: ['txId'],
          properties: {
            txId: { type: 'string' },
            transaction: { type: 'string', contentEncoding: 'base64' },
            result: { $ref: '#/components/schemas/Result' },
            timings: { $ref: '#/components/schemas/Timings' },
            committed: { $ref: '#/components/schemas/SubmitResult' },
          },
        },
        OfflineSubmitted: {
          type: 'object',
          required: ['txId', 'commit'],
          properties: { txId: { type: 'string' }, commit: { type: 'string', contentEncoding: 'base64' } },
        },
        TransactionStatus: {
          type: 'object',
          required: ['txId', 'status'],
          properties: {
            txId: { type: 'string' },
            status: { enum: ['pending', 'committed', 'failed', 'unknown'] },
            source: { enum: ['ledger'], description: 'Read from the member\'s peer (qscc), not this proxy\'s record.' },
            function: { type: 'string' },
            creatorMspId: { type: 'string' },
            timestamp: { type: 'string', format: 'date-time' },
            channel: { type: 'string' },
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
            eventName: { enum: vocabulary.events.map((e) => e.name) },
            payload: {
              description: 'The event payload: its JSON value if it parses, else the text. '
                + vocabulary.events.map((e) => `${e.name}: ${e.payload}`).join('; '),
            },
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
              description: 'Stable code: the contract\'s, a Fabric validation code, or the proxy\'s. Every '
                + 'code with its status, exit code and retryability is in the contract\'s vocabulary.',
              enum: [...vocabulary.codes.keys()],
            },
            details: { description: 'The contract\'s error details, passed through (see ContractError).' },
            txId: { type: 'string' },
            retryable: { type: 'boolean' },
            step: {
              type: 'string',
              enum: ['endorse', 'submit', 'commit', 'evaluate', 'chaininfo', 'events', 'lookup'],
              description: 'The Fabric step that failed, for errors that come from the network.',
            },
          },
        },
      },
    },
  };
}

// The typed operations name these: a code the proxy answers that the vocabulary lacks fails here.
for (const code of [...FABRIC_ROUTE_CODES, 'BAD_REQUEST', 'PAYLOAD_TOO_LARGE']) {
  if (!PROXY_CODES.includes(code)) throw new Error(`${code} is not one of the proxy's codes`);
}

module.exports = { openapiDocument };
