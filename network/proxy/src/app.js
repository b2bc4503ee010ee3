'use strict';
/**
 * The HTTP API (interfaces.md, "Gateway REST proxy") over a Fabric backend. The backend is injected so the
 * HTTP behaviour (routing, auth, limits, errors, SSE, async records) is testable without a network; in
 * production it is the Fabric class of fabric.js.
 *
 * Order of checks for every request: route → draining → API key (401, before anything touches Fabric or
 * reads the body) → in-flight cap (429) → chaincode and function known to the contract's vocabulary (404),
 * route fits the function's access (400) → body size (413), shape and arity (400) → Fabric.
 *
 * Two families of routes reach the contract: the Fabric-shaped `/channels/{channel}/chaincodes/{chaincode}/…`
 * with `{"args": [<JSON text>]}` bodies, and the typed `/v1/…` with the function's input object as the body
 * and the default channel and chaincode. Only the configured chaincode is reachable by name (never qscc,
 * cscc or _lifecycle); `/channels/{channel}/info` is the proxy's own read of qscc.
 */

const { authenticator } = require('./auth');
const {
  PROBLEM_CONTENT_TYPE, ProblemError, badRequest, fromInvalidCommit, toProblem, useVocabulary,
} = require('./errors');
const metricsModule = require('./metrics');
const { openapiDocument } = require('./openapi');
const readers = require('./readers');
const docs = require('./docs');
const sse = require('./sse');
const { Vocabulary } = require('./vocabulary');
const {
  IDEMPOTENCY_KEY_RE, creatorOf, creatorOfCommit, creatorOfTransaction, decodeResult, fingerprintOf,
  newIdempotencyKey, nonceOf, proposedTransaction, readCreator, readProposal,
} = require('./proposal');


const CHANNEL_RE = /^[a-z][a-z0-9.-]{0,248}$/;
const CHAINCODE_RE = /^[A-Za-z0-9]+(?:[-_][A-Za-z0-9]+)*$/;
const FN_RE = /^[A-Za-z_][A-Za-z0-9_.:-]{0,127}$/;
const TXID_RE = /^[0-9a-f]{64}$/;
const HEARTBEAT_MS = 15000;
const READY_TIMEOUT_MS = 3000;

/** Routes: pattern segments starting with ':' capture a path parameter. */
const ROUTES = [
  { method: 'POST', path: '/channels/:channel/chaincodes/:chaincode/transactions/:fn', handler: 'submit' },
  { method: 'GET', path: '/channels/:channel/transactions/:txId', handler: 'txStatus' },
  { method: 'POST', path: '/channels/:channel/chaincodes/:chaincode/queries/:fn', handler: 'query' },
  { method: 'GET', path: '/channels/:channel/chaincodes/:chaincode/events', handler: 'events', stream: true },
  { method: 'GET', path: '/channels/:channel/info', handler: 'info' },
  { method: 'POST', path: '/channels/:channel/chaincodes/:chaincode/proposals/:fn', handler: 'offlinePropose' },
  { method: 'POST', path: '/channels/:channel/endorsements', handler: 'offlineEndorse' },
  { method: 'POST', path: '/channels/:channel/submissions', handler: 'offlineSubmit' },
  { method: 'POST', path: '/channels/:channel/commit-statuses', handler: 'offlineCommitStatus' },
  { method: 'GET', path: '/v1/identity', handler: 'identity' },
  { method: 'GET', path: '/v1/transactions/:txId', handler: 'lookup' },
  { method: 'POST', path: '/v1/transactions/:fn', handler: 'typedSubmit' },
  { method: 'POST', path: '/v1/queries/:fn', handler: 'typedQuery' },
  { method: 'GET', path: '/v1/clouds/:id/usage', handler: 'usage' },
  { method: 'GET', path: '/v1/vms/:id/history', handler: 'vmHistory' },
  { method: 'GET', path: '/v1/migrations', handler: 'migrations' },
  { method: 'GET', path: '/docs', handler: 'docs', open: true },
  { method: 'GET', path: '/docs/:asset', handler: 'docsAsset', open: true },
  { method: 'GET', path: '/healthz', handler: 'healthz', open: true },
  { method: 'GET', path: '/readyz', handler: 'readyz', open: true },
  { method: 'GET', path: '/metrics', handler: 'metrics', open: true },
  { method: 'GET', path: '/openapi.json', handler: 'openapi', open: true },
].map((r) => ({
  ...r,
  segments: r.path.split('/').slice(1),
  // The route label for logs and metrics: {param} instead of :param.
  name: r.path.split('/').map((s) => (s.startsWith(':') ? `{${s.slice(1)}}` : s)).join('/'),
}));

function matchRoute(method, pathname) {
  const parts = pathname.split('/').slice(1);
  let pathMatched;
  for (const route of ROUTES) {
    if (route.segments.length !== parts.length) continue;
    const params = {};
    let ok = true;
    for (let i = 0; i < parts.length; i += 1) {
      const seg = route.segments[i];
      if (seg.startsWith(':')) {
        let value;
        try {
          value = decodeURIComponent(parts[i]);
        } catch {
          ok = false;
          break;
        }
        if (value.length === 0) {
          ok = false;
          break;
        }
        params[seg.slice(1)] = value;
      } else if (seg !== parts[i]) {
        ok = false;
        break;
      }
    }
    if (!ok) continue;
    if (route.method === method) return { route, params };
    pathMatched ??= [];
    pathMatched.push(route.method);
  }
  return { allowed: pathMatched };
}

/** True when a Prefer header asks for respond-async (RFC 7240). */
function prefersAsync(header) {
  if (typeof header !== 'string') return false;
  return header.split(',').some((pref) => pref.split(';')[0].trim().toLowerCase() === 'respond-async');
}

function checkName(value, re, what) {
  if (!re.test(value)) throw badRequest(`invalid ${what}: ${JSON.stringify(value).slice(0, 140)}`);
  return value;
}

/** Whole milliseconds for the API's timings. */
const ms = (x) => Math.round(x);

/**
 * @param {{config: object, fabric: object, log?: (line: string) => void,
 *   warn?: (line: string) => void}} deps
 */
function createApp({ config, fabric, vocabulary = Vocabulary.load(config.vocabulary),
  log = (line) => process.stdout.write(`${line}\n`), warn = (line) => process.stderr.write(`${line}\n`) }) {
  const { limits, defaults } = config;
  useVocabulary(vocabulary);
  readers.checkVocabulary(vocabulary);
  const authenticate = authenticator(config.apiKeys);
  // Readiness is read with the least-privileged identity there is.
  const readyIdentity = Object.hasOwn(config.identities, 'operator') ? 'operator' : Object.keys(config.identities)[0];
  const openapiText = JSON.stringify(openapiDocument(config, vocabulary));

  const state = {
    inFlight: 0,
    draining: false,
    /** @type {Set<{close: () => void}>} */
    streams: new Set(),
    /** @type {Set<Promise<void>>} */
    pendingCommits: new Set(),
    /** @type {Map<string, object>} txId → async record, in insertion order */
    records: new Map(),
    readyCheck: undefined,
  };

  const metrics = metricsModule.proxyMetrics({
    inFlight: () => state.inFlight,
    eventStreams: () => state.streams.size,
    pendingCommits: () => state.pendingCommits.size,
  });

  // ---- responses ----------------------------------------------------------------------------------

  function sendJson(res, status, body, headers = {}) {
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Length': Buffer.byteLength(text),
      'Cache-Control': 'no-store',
      ...headers,
    });
    res.end(text);
  }

  function sendText(res, status, text, contentType, headers = {}) {
    res.writeHead(status, {
      'Content-Type': contentType,
      'Content-Length': Buffer.byteLength(text),
      'Cache-Control': 'no-store',
      ...headers,
    });
    res.end(text);
  }

  function sendProblem(res, ctx, err) {
    const problem = toProblem(err);
    if (problem.status === 500) warn(`internal error on ${ctx.method} ${ctx.route}: ${err?.stack ?? err}`);
    ctx.code = problem.code;
    if (problem.txId) ctx.txId = problem.txId;
    metrics.errors.inc({ code: problem.code });
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const text = JSON.stringify(problem);
    const headers = {
      'Content-Type': PROBLEM_CONTENT_TYPE,
      'Content-Length': Buffer.byteLength(text),
      'Cache-Control': 'no-store',
      ...(ctx.responseHeaders ?? {}),
      ...(problem.headers ?? {}),
    };
    if (ctx.closeConnection) headers.Connection = 'close';
    res.writeHead(problem.status, headers);
    res.end(text);
  }

  // ---- request body -------------------------------------------------------------------------------

  /** Read the JSON body {"args": [string…], "transient"?: {name: string}} within the size limit. */
  async function readArgs(req, ctx) {
    return parseCall(await readBody(req, ctx));
  }

  /** Read the body as text within the size limit. */
  function readBody(req, ctx) {
    return new Promise((resolve, reject) => {
      const tooLarge = () => {
        ctx.closeConnection = true;
        req.resume(); // discard the rest so the answer can be read by the caller
        reject(new ProblemError('PAYLOAD_TOO_LARGE', `request body exceeds ${limits.bodyBytes} bytes`));
      };
      const declared = Number(req.headers['content-length']);
      if (Number.isFinite(declared) && declared > limits.bodyBytes) {
        tooLarge();
        return;
      }
      const chunks = [];
      let size = 0;
      let done = false;
      req.on('data', (chunk) => {
        if (done) return;
        size += chunk.length;
        if (size > limits.bodyBytes) {
          done = true;
          tooLarge();
          return;
        }
        chunks.push(chunk);
      });
      req.on('error', (err) => {
        if (!done) {
          done = true;
          reject(err);
        }
      });
      req.on('end', () => {
        if (done) return;
        done = true;
        resolve(Buffer.concat(chunks).toString('utf8'));
      });
    });
  }

  // ---- handlers -----------------------------------------------------------------------------------

  /** The configured chaincode, or 404: nothing else (qscc, cscc, _lifecycle, …) is reachable by name. */
  function servedChaincode(name) {
    const chaincode = checkName(name, CHAINCODE_RE, 'chaincode name');
    if (chaincode !== defaults.chaincode) {
      throw new ProblemError('ROUTE_NOT_FOUND',
        `this proxy serves chaincode ${defaults.chaincode} only, not ${JSON.stringify(chaincode).slice(0, 140)}`);
    }
    return chaincode;
  }

  /** The offline gateway of a proposal's creator (msp.SerializedIdentity bytes). */
  function offlineGatewayOf(creator) {
    let mspId;
    let certificate;
    try {
      ({ mspId, certificate } = readCreator(creator));
    } catch {
      throw badRequest('the signer is not a serialized identity (MSP id and certificate)');
    }
    return { ...fabric.offlineGateway(mspId, certificate), mspId };
  }

  /**
   * The contract's function `name`, called as `kind` ('submit' or 'evaluate'), before any body is read: 404
   * for a function the contract does not have (in the contract's own NOT_FOUND form), 400 for submitting a
   * query (it would order a transaction that changes nothing) and, on the typed routes, for evaluating a
   * transaction (the OpenAPI document types each function on its one route; the Fabric-shaped query route
   * still evaluates anything, as a dry run: /readyz evaluates Ping).
   */
  function contractFunction(name, kind, { typed }) {
    const fn = vocabulary.fn(checkName(name, FN_RE, 'transaction name'));
    if (!fn) {
      throw new ProblemError('NOT_FOUND', `function \`${name}\` not found`, { details: { kind: 'function', id: name } });
    }
    if (kind === 'submit' && fn.access === 'evaluate') {
      throw badRequest(`${fn.name} only reads the ledger: evaluate it (POST ${typed ? `/v1/queries/${fn.name}`
        : `…/queries/${fn.name}`}); submitting it would order a transaction that changes nothing`,
      { function: fn.name, access: fn.access });
    }
    if (kind === 'evaluate' && typed && fn.access === 'submit') {
      throw badRequest(`${fn.name} changes the ledger: submit it (POST /v1/transactions/${fn.name})`,
        { function: fn.name, access: fn.access });
    }
    return fn;
  }

  /** Every function takes exactly one argument, the JSON text of its input object. */
  function checkArity(fn, args) {
    if (args.length !== 1) {
      throw badRequest(`${fn.name} takes exactly one argument, the JSON text of a ${fn.input} object; `
        + `${args.length} given`, { function: fn.name, expected: 1, given: args.length });
    }
    return args;
  }

  /** A Fabric-shaped call: names checked, function known and fit for `kind`, before the body is read. */
  function fabricCall(params, kind) {
    const channel = checkName(params.channel, CHANNEL_RE, 'channel name');
    const chaincode = servedChaincode(params.chaincode);
    const fn = contractFunction(params.fn, kind, { typed: false });
    return { channel, chaincode, fn };
  }

  /** A typed call on the default channel and chaincode, with the function's input object as the body. */
  async function typedCall(req, ctx, kind) {
    const fn = contractFunction(ctx.params.fn, kind, { typed: true });
    ctx.fn = fn.name;
    const input = parseInput(await readBody(req, ctx), fn);
    return { channel: defaults.channel, chaincode: defaults.chaincode, fn: fn.name, args: [JSON.stringify(input)] };
  }

  /** Evaluate one of the contract's queries on the default channel and chaincode. */
  function evaluateInput(ctx, fnName, input) {
    ctx.fn = fnName;
    return fabric.evaluate(ctx.identity,
      { channel: defaults.channel, chaincode: defaults.chaincode, fn: fnName, args: [JSON.stringify(input)] });
  }

  // ---- submissions: idempotency keys and records --------------------------------------------------

  /**
   * The idempotency key of a write: the `Idempotency-Key` header, or a fresh one when the caller sent none
   * (the answer's `Idempotency-Key` header names it). The key is the transaction's nonce (proposal.js), so
   * the caller knows the transaction id before sending, and a retry is the same transaction.
   */
  function idempotencyKey(req) {
    const given = req.headers['idempotency-key'];
    if (given === undefined) return newIdempotencyKey();
    if (typeof given !== 'string' || !IDEMPOTENCY_KEY_RE.test(given)) {
      throw badRequest('Idempotency-Key must be 1 to 255 visible ASCII characters');
    }
    return given;
  }

  /** A key already used for another call: answered before anything is sent. */
  function keyReused(txId) {
    return new ProblemError('IDEMPOTENCY_KEY_REUSED',
      `this Idempotency-Key was already used for another call (transaction ${txId}); use a new key`, { txId });
  }

  /** The record's outcome taken from the ledger's copy of the transaction. */
  function settleFromLedger(record, found) {
    record.blockNumber = found.blockNumber;
    record.validationCode = found.validationCode;
    record.source = 'ledger';
    if (found.validationCode === 'VALID') {
      record.status = 'committed';
      record.result = found.result;
    } else {
      record.status = 'failed';
      record.problem = fromInvalidCommit(
        { txId: record.txId, validationCode: found.validationCode, blockNumber: found.blockNumber });
      record.error = record.problem.toJSON();
    }
    metrics.transactions.inc({ validation_code: found.validationCode });
  }

  /** The transaction on the ledger, or undefined (not there, or the lookup itself failed). */
  async function onLedger(identity, channel, txId) {
    try {
      return await fabric.lookup(identity, channel, txId);
    } catch {
      return undefined;
    }
  }

  /**
   * Starts the submission of `call` as transaction `txId` and remembers it. `accepted` settles once the orderer
   * has the transaction (or the ledger already had it: a retry); `outcome` once its commit is known. A failure
   * that leaves the outcome unknown (endorse or submit failed, the commit status did not come) forgets the
   * record, so that a retry with the same key starts again; Fabric commits one transaction id at most once.
   */
  function startSubmission(identity, call, { txId, nonce, fingerprint }) {
    const tStart = process.hrtime.bigint();
    const record = { txId, channel: call.channel, fingerprint, status: 'pending', timings: {} };
    const forget = () => {
      if (state.records.get(txId) === record) state.records.delete(txId);
    };
    // Every answer about this submission names its transaction id, whichever step failed.
    const named = (err) => {
      const problem = toProblem(err);
      problem.txId ??= txId;
      return problem;
    };
    const fromLedger = async (err) => {
      const found = await onLedger(identity, call.channel, txId);
      if (!found) throw err;
      if (found.fn !== call.fn || fingerprintOf({ ...call, args: found.args }) !== fingerprint) throw keyReused(txId);
      settleFromLedger(record, found);
      return undefined;
    };
    record.accepted = (async () => {
      let prepared;
      try {
        prepared = await fabric.submit(identity, call, { nonce });
      } catch (err) {
        // A retry of a transaction that is already on the ledger is refused by the endorsers (duplicate
        // transaction id) or by the contract (its effects are there): answer the first outcome.
        try {
          return await fromLedger(err);
        } catch (answer) {
          forget();
          throw named(answer);
        }
      }
      record.result = prepared.result;
      record.timings = { endorseMs: ms(prepared.timings.endorseMs), submitMs: ms(prepared.timings.submitMs) };
      return prepared;
    })();
    record.outcome = record.accepted.then(async (prepared) => {
      if (!prepared) return;
      try {
        const outcome = await prepared.commit();
        record.status = 'committed';
        record.blockNumber = outcome.blockNumber;
        record.validationCode = outcome.validationCode;
        record.timings.commitMs = ms(outcome.commitMs);
        record.timings.totalMs = ms(Number(process.hrtime.bigint() - tStart) / 1e6);
        metrics.transactions.inc({ validation_code: outcome.validationCode });
      } catch (err) {
        const problem = named(err);
        if (problem.outcome?.validationCode === 'DUPLICATE_TXID') {
          // This envelope lost to an earlier one with the same id (a retry while the first was in flight).
          await fromLedger(problem);
          return;
        }
        if (problem.outcome) {
          record.status = 'failed';
          record.blockNumber = problem.outcome.blockNumber;
          record.validationCode = problem.outcome.validationCode;
          record.timings.commitMs = ms(problem.outcome.commitMs);
          record.problem = problem;
          record.error = problem.toJSON();
          metrics.transactions.inc({ validation_code: problem.outcome.validationCode });
          return;
        }
        // Sent, but the commit status did not come: the outcome is unknown here. The record says so (an
        // async caller polling it learns why); a retry with the same key or a lookup by id finds the truth.
        record.status = 'unknown';
        record.error = problem.toJSON();
        metrics.errors.inc({ code: problem.code });
        throw problem;
      }
    });
    record.outcome.catch(() => {}); // read by whoever waits; never an unhandled rejection
    rememberRecord(record);
    return record;
  }

  /** The record's answer as the submit route gives it (200 body), or throws its problem. */
  function committedBody(record) {
    if (record.status === 'failed') throw record.problem;
    return {
      txId: record.txId,
      blockNumber: record.blockNumber,
      validationCode: record.validationCode,
      result: record.result,
      timings: record.timings,
    };
  }

  /** A record as the status route shows it. */
  function recordBody(record) {
    const body = { txId: record.txId, status: record.status };
    for (const field of ['blockNumber', 'validationCode', 'result', 'timings', 'error', 'source']) {
      if (record[field] !== undefined) body[field] = record[field];
    }
    return body;
  }

  /**
   * Endorse, submit and (unless the caller prefers async) wait for the commit status, once per idempotency key:
   * a retry of a pending submission waits for it, a retry of a finished one answers its outcome.
   */
  async function submitCall(req, res, ctx, call) {
    const key = idempotencyKey(req);
    const nonce = nonceOf(key);
    const txId = fabric.txIdOf(ctx.identity, nonce);
    ctx.txId = txId;
    ctx.responseHeaders = { 'Idempotency-Key': key };
    const fingerprint = fingerprintOf(call);
    let record = state.records.get(txId);
    if (record && record.fingerprint !== fingerprint) throw keyReused(txId);
    if (!record || record.status === 'unknown') record = startSubmission(ctx.identity, call, { txId, nonce, fingerprint });
    await record.accepted;

    if (prefersAsync(req.headers.prefer)) {
      const statusUrl = `/channels/${encodeURIComponent(call.channel)}/transactions/${txId}`;
      if (record.status === 'pending') {
        const commitWait = record.outcome.catch(() => {}).finally(() => state.pendingCommits.delete(commitWait));
        state.pendingCommits.add(commitWait);
      }
      sendJson(res, 202, { txId, statusUrl }, {
        Location: statusUrl,
        'Preference-Applied': 'respond-async',
        ...ctx.responseHeaders,
      });
      return;
    }
    await record.outcome;
    sendJson(res, 200, committedBody(record), ctx.responseHeaders);
  }

  const handlers = {
    async submit(req, res, ctx) {
      const { channel, chaincode, fn } = fabricCall(ctx.params, 'submit');
      ctx.fn = fn.name;
      const { args, transient } = await readArgs(req, ctx);
      checkArity(fn, args);
      await submitCall(req, res, ctx, { channel, chaincode, fn: fn.name, args, ...(transient && { transient }) });
    },

    async typedSubmit(req, res, ctx) {
      await submitCall(req, res, ctx, await typedCall(req, ctx, 'submit'));
    },

    async typedQuery(req, res, ctx) {
      const call = await typedCall(req, ctx, 'evaluate');
      sendJson(res, 200, { result: await fabric.evaluate(ctx.identity, call) });
    },

    async usage(req, res, ctx) {
      const input = readers.usageInput(ctx.params.id, ctx.url.searchParams);
      const csv = readers.wantsCsv(req.headers.accept);
      const report = await evaluateInput(ctx, readers.FUNCTIONS.usage, input);
      if (csv) {
        sendText(res, 200, readers.usageCsv(report), readers.CSV_CONTENT_TYPE);
      } else {
        sendJson(res, 200, report);
      }
    },

    async vmHistory(req, res, ctx) {
      const input = readers.historyInput(ctx.params.id, ctx.url.searchParams);
      sendJson(res, 200, await evaluateInput(ctx, readers.FUNCTIONS.history, input));
    },

    async migrations(req, res, ctx) {
      const input = readers.migrationsInput(ctx.url.searchParams);
      const page = await evaluateInput(ctx, readers.FUNCTIONS.migrations, input);
      const next = readers.nextLink(ctx.url, page);
      sendJson(res, 200, page, next ? { Link: next } : {});
    },

    async docs(req, res) {
      sendText(res, 200, docs.PAGE, 'text/html; charset=utf-8', docs.HEADERS);
    },

    async docsAsset(req, res, ctx) {
      const asset = docs.asset(ctx.params.asset);
      if (!asset) throw new ProblemError('ROUTE_NOT_FOUND', `no route for GET ${ctx.url.pathname}`);
      sendText(res, 200, asset.body, asset.contentType, { 'Cache-Control': 'public, max-age=3600' });
    },

    async txStatus(req, res, ctx) {
      const channel = checkName(ctx.params.channel, CHANNEL_RE, 'channel name');
      const txId = checkName(ctx.params.txId, TXID_RE, 'transaction id');
      ctx.txId = txId;
      sendJson(res, 200, await transactionStatus(ctx.identity, channel, txId));
    },

    async lookup(req, res, ctx) {
      const txId = checkName(ctx.params.txId, TXID_RE, 'transaction id');
      ctx.txId = txId;
      sendJson(res, 200, await transactionStatus(ctx.identity, defaults.channel, txId));
    },

    async identity(req, res, ctx) {
      const who = fabric.identity(ctx.identity);
      sendJson(res, 200, {
        identity: ctx.identity,
        mspId: who.mspId,
        certificate: who.certificate.toString('utf8'),
        creator: who.creator.toString('base64'),
      });
    },

    // Offline signing: the client holds its key. The proxy builds each message for the client's identity,
    // the client signs it, and the proxy relays what is signed (fabric-gateway's newSigned* flow).

    async offlinePropose(req, res, ctx) {
      const { channel, chaincode, fn } = fabricCall(ctx.params, 'submit');
      ctx.fn = fn.name;
      const body = parseSigned(await readBody(req, ctx), { args: 'array', transient: 'transient', identity: 'object' });
      const args = checkArity(fn, checkStrings(body.args ?? [], 'args'));
      const { mspId, certificate } = body.identity;
      if (typeof mspId !== 'string' || typeof certificate !== 'string' || !certificate.includes('BEGIN CERTIFICATE')) {
        throw badRequest('"identity" must be {"mspId": string, "certificate": PEM text}');
      }
      const key = idempotencyKey(req);
      ctx.responseHeaders = { 'Idempotency-Key': key };
      const creator = creatorOf(mspId, Buffer.from(certificate, 'utf8'));
      // Transient data rides in the proposal the member signs; the endorsed transaction leaves it out.
      const proposed = proposedTransaction({
        channel, chaincode, fn: fn.name, args, transient: body.transient, creator, nonce: nonceOf(key),
      });
      ctx.txId = proposed.txId;
      sendJson(res, 200, { txId: proposed.txId, proposal: Buffer.from(proposed.bytes).toString('base64') },
        ctx.responseHeaders);
    },

    async offlineEndorse(req, res, ctx) {
      const channel = checkName(ctx.params.channel, CHANNEL_RE, 'channel name');
      const body = parseSigned(await readBody(req, ctx), { proposal: 'base64', signature: 'base64' });
      let asked;
      try {
        asked = readProposal(body.proposal);
      } catch (err) {
        throw badRequest(`"proposal" is not a proposal: ${err.message}`);
      }
      ctx.txId = asked.txId;
      if (asked.channel !== channel) throw badRequest(`the proposal is for channel ${asked.channel}, not ${channel}`);
      servedChaincode(asked.chaincode);
      const fn = contractFunction(asked.fn, 'submit', { typed: false });
      ctx.fn = fn.name;
      checkArity(fn, asked.args);
      const { gateway } = offlineGatewayOf(asked.creator);
      try {
        const { transaction, endorseMs } = await fabric.endorseProposal(
          gateway.newSignedProposal(body.proposal, body.signature), asked.txId);
        sendJson(res, 200, {
          txId: asked.txId,
          transaction: Buffer.from(transaction.getBytes()).toString('base64'),
          result: decodeResult(transaction.getResult()),
          timings: { endorseMs: ms(endorseMs) },
        });
      } catch (err) {
        // A retry of a transaction already on the ledger: its first outcome.
        const found = await onLedger(ctx.identity, channel, asked.txId);
        if (!found) throw err;
        const record = { txId: asked.txId };
        settleFromLedger(record, found);
        sendJson(res, 200, { txId: asked.txId, committed: committedBody(record) });
      }
    },

    async offlineSubmit(req, res, ctx) {
      checkName(ctx.params.channel, CHANNEL_RE, 'channel name');
      const body = parseSigned(await readBody(req, ctx), { transaction: 'base64', signature: 'base64' });
      let transaction;
      try {
        // The commit-status request the submission answers is made for the transaction's own creator.
        const { gateway } = offlineGatewayOf(creatorOfTransaction(body.transaction));
        transaction = gateway.newSignedTransaction(body.transaction, body.signature);
      } catch (err) {
        throw badRequest(`"transaction" is not a prepared transaction: ${err.message}`);
      }
      const txId = transaction.getTransactionId();
      ctx.txId = txId;
      const { submitted, submitMs } = await fabric.submitTransaction(transaction, txId);
      sendJson(res, 200, {
        txId,
        commit: Buffer.from(submitted.getBytes()).toString('base64'),
        timings: { submitMs: ms(submitMs) },
      });
    },

    async offlineCommitStatus(req, res, ctx) {
      const channel = checkName(ctx.params.channel, CHANNEL_RE, 'channel name');
      const body = parseSigned(await readBody(req, ctx), { commit: 'base64', signature: 'base64' });
      let commit;
      try {
        const { gateway } = offlineGatewayOf(creatorOfCommit(body.commit));
        commit = gateway.newSignedCommit(body.commit, body.signature);
      } catch (err) {
        throw badRequest(`"commit" is not a commit-status request: ${err.message}`);
      }
      const txId = commit.getTransactionId();
      ctx.txId = txId;
      const status = await fabric.commitStatus(commit, txId);
      metrics.transactions.inc({ validation_code: status.validationCode });
      const record = { txId, timings: { commitMs: ms(status.commitMs) } };
      if (status.validationCode === 'DUPLICATE_TXID') {
        const found = await onLedger(ctx.identity, channel, txId);
        if (found) settleFromLedger(record, found);
      } else if (status.successful) {
        Object.assign(record, { status: 'committed', blockNumber: status.blockNumber, validationCode: 'VALID' });
      } else {
        record.problem = fromInvalidCommit({ txId, validationCode: status.validationCode, blockNumber: status.blockNumber });
        record.status = 'failed';
      }
      if (record.status === undefined) {
        throw fromInvalidCommit({ txId, validationCode: status.validationCode, blockNumber: status.blockNumber });
      }
      sendJson(res, 200, committedBody(record));
    },

    async query(req, res, ctx) {
      const { channel, chaincode, fn } = fabricCall(ctx.params, 'evaluate');
      ctx.fn = fn.name;
      const { args, transient } = await readArgs(req, ctx);
      checkArity(fn, args);
      const result = await fabric.evaluate(ctx.identity,
        { channel, chaincode, fn: fn.name, args, ...(transient && { transient }) });
      sendJson(res, 200, { result });
    },

    async info(req, res, ctx) {
      const channel = checkName(ctx.params.channel, CHANNEL_RE, 'channel name');
      sendJson(res, 200, await fabric.chainInfo(ctx.identity, channel));
    },

    async events(req, res, ctx) {
      const channel = checkName(ctx.params.channel, CHANNEL_RE, 'channel name');
      const chaincode = servedChaincode(ctx.params.chaincode);
      const position = sse.resumePosition(req.headers['last-event-id'], ctx.url.searchParams.get('startBlock'));
      if (state.streams.size >= limits.eventStreams) {
        throw new ProblemError('TOO_MANY_REQUESTS', `${limits.eventStreams} event streams already open`,
          { headers: { 'Retry-After': '5' } });
      }
      const events = await fabric.chaincodeEvents(ctx.identity, channel, chaincode, position);
      await streamEvents(req, res, ctx, events, position);
    },

    async healthz(req, res) {
      sendJson(res, 200, { status: 'ok' });
    },

    async readyz(req, res) {
      if (state.draining) throw new ProblemError('UNAVAILABLE', 'shutting down');
      state.readyCheck ??= checkReady().finally(() => {
        state.readyCheck = undefined;
      });
      sendJson(res, 200, await state.readyCheck);
    },

    async metrics(req, res) {
      const text = await metrics.registry.metrics();
      res.writeHead(200, { 'Content-Type': metrics.contentType, 'Content-Length': Buffer.byteLength(text) });
      res.end(text);
    },

    async openapi(req, res) {
      res.writeHead(200, {
        'Content-Type': 'application/json; charset=utf-8',
        'Content-Length': Buffer.byteLength(openapiText),
      });
      res.end(openapiText);
    },
  };

  async function checkReady() {
    try {
      await fabric.waitForPeer(READY_TIMEOUT_MS);
    } catch (err) {
      throw new ProblemError('UNAVAILABLE', `peer ${config.peer.endpoint} unreachable: ${err.message}`);
    }
    try {
      await fabric.evaluate(readyIdentity,
        { channel: defaults.channel, chaincode: defaults.chaincode, fn: 'Ping', args: ['{}'] },
        Math.min(limits.evaluateMs, READY_TIMEOUT_MS));
    } catch (err) {
      const problem = toProblem(err);
      throw new ProblemError('UNAVAILABLE',
        `chaincode ${defaults.chaincode} on channel ${defaults.channel} does not answer Ping: ${problem.detail}`);
    }
    return { status: 'ready', checks: { peer: 'ok', channel: defaults.channel, chaincode: defaults.chaincode } };
  }

  /**
   * A transaction's status by id: this proxy's record of it while it knows better than the ledger (pending, or
   * committed as it saw it), else the member's peer's copy (qscc), so a restarted proxy or another member's
   * client still learns the outcome. 404 when neither knows the id.
   */
  async function transactionStatus(identity, channel, txId) {
    const record = state.records.get(txId);
    if (record && record.channel === channel && record.status !== 'unknown') return recordBody(record);
    const found = await fabric.lookup(identity, channel, txId);
    if (!found) {
      if (record && record.channel === channel) return recordBody(record);
      throw new ProblemError('NOT_FOUND', `no transaction ${txId} on channel ${channel}: not on this member's `
        + 'peer, and no submission of it is known to this proxy');
    }
    const body = { txId, status: found.validationCode === 'VALID' ? 'committed' : 'failed' };
    body.blockNumber = found.blockNumber;
    body.validationCode = found.validationCode;
    if (found.validationCode === 'VALID') {
      body.result = found.result;
    } else {
      body.error = fromInvalidCommit({ txId, validationCode: found.validationCode, blockNumber: found.blockNumber })
        .toJSON();
    }
    body.source = 'ledger';
    body.channel = found.channel;
    body.function = found.fn;
    body.creatorMspId = found.creatorMspId;
    body.timestamp = found.timestamp;
    return body;
  }

  function rememberRecord(record) {
    state.records.set(record.txId, record);
    if (state.records.size <= limits.asyncRecords) return;
    // Forget the oldest finished records first; pending ones are kept until they finish.
    for (const [txId, r] of state.records) {
      if (state.records.size <= limits.asyncRecords) break;
      if (r.status !== 'pending') state.records.delete(txId);
    }
  }

  async function streamEvents(req, res, ctx, events, position) {
    const sequence = sse.eventSequencer(position.skipThrough);
    let closed = false;
    const stream = {
      close() {
        if (closed) return;
        closed = true;
        events.close();
        res.end();
      },
    };
    state.streams.add(stream);
    const heartbeat = setInterval(() => {
      if (!closed) res.write(sse.formatComment('heartbeat'));
    }, HEARTBEAT_MS);
    heartbeat.unref();
    req.on('close', () => stream.close());
    res.on('close', () => stream.close());

    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    res.write(`retry: ${sse.RETRY_MS}\n`);
    res.write(sse.formatComment(position.startBlock !== undefined
      ? `events of ${ctx.params.chaincode} from block ${position.startBlock}`
      : `events of ${ctx.params.chaincode} from the next block`));
    ctx.streamOpenedMs = ctx.elapsedMs();

    try {
      for await (const event of events) {
        if (closed) break;
        const { index, skip } = sequence(event);
        if (skip) continue;
        metrics.eventsSent.inc();
        if (!res.write(sse.chaincodeEventMessage(event, index))) {
          await new Promise((resolve) => {
            res.once('drain', resolve);
            res.once('close', resolve);
          });
        }
      }
    } catch (err) {
      if (!closed) {
        const problem = toProblem(err);
        ctx.code = problem.code;
        metrics.errors.inc({ code: problem.code });
        res.write(sse.formatMessage({ event: 'problem', data: JSON.stringify(problem) }));
      }
    } finally {
      clearInterval(heartbeat);
      state.streams.delete(stream);
      stream.close();
    }
  }

  // ---- dispatch -----------------------------------------------------------------------------------

  /** The request listener. */
  async function handle(req, res) {
    const t0 = process.hrtime.bigint();
    const ctx = {
      method: req.method,
      route: 'unmatched',
      elapsedMs: () => Number(process.hrtime.bigint() - t0) / 1e6,
    };
    res.on('close', () => finish(req, res, ctx));
    let counted = false;
    try {
      let url;
      try {
        url = new URL(req.url, 'http://proxy.invalid');
      } catch {
        throw badRequest('malformed request target');
      }
      ctx.url = url;
      const { route, params, allowed } = matchRoute(req.method, url.pathname);
      if (!route) {
        if (allowed) {
          throw new ProblemError('METHOD_NOT_ALLOWED', `${req.method} is not allowed here`,
            { headers: { Allow: allowed.join(', ') } });
        }
        throw new ProblemError('ROUTE_NOT_FOUND', `no route for ${req.method} ${url.pathname}`);
      }
      ctx.route = route.name;
      ctx.params = params;
      if (state.draining && route.handler !== 'healthz' && route.handler !== 'metrics') {
        ctx.closeConnection = true;
        throw new ProblemError('UNAVAILABLE', 'the proxy is shutting down');
      }
      if (!route.open) {
        const who = authenticate(req.headers);
        ctx.identity = who.identity;
        ctx.keyHash = who.keyHash;
      }
      if (!route.open && !route.stream) {
        if (state.inFlight >= limits.inFlight) {
          throw new ProblemError('TOO_MANY_REQUESTS', `${limits.inFlight} requests already in flight`,
            { headers: { 'Retry-After': '1' } });
        }
        state.inFlight += 1;
        counted = true;
      }
      await handlers[route.handler](req, res, ctx);
    } catch (err) {
      sendProblem(res, ctx, err);
    } finally {
      if (counted) state.inFlight -= 1;
    }
  }

  function finish(req, res, ctx) {
    const totalMs = ctx.elapsedMs();
    const status = res.headersSent ? res.statusCode : 499; // 499: the caller went away first
    metrics.requests.inc({ method: ctx.method, route: ctx.route, status });
    metrics.requestSeconds.observe({ route: ctx.route }, (ctx.streamOpenedMs ?? totalMs) / 1000);
    const line = {
      time: new Date().toISOString(),
      method: ctx.method,
      route: ctx.route,
      status,
      ms: Math.round(totalMs * 10) / 10,
    };
    if (ctx.fn) line.fn = ctx.fn;
    if (ctx.txId) line.txId = ctx.txId;
    if (ctx.identity) line.identity = ctx.identity;
    if (ctx.keyHash) line.keyHash = ctx.keyHash;
    if (ctx.code) line.code = ctx.code;
    log(JSON.stringify(line));
  }

  /**
   * Stop taking work and wait for in-flight requests and awaited commits to finish (at most `timeoutMs`).
   * Event streams are closed at once (clients resume elsewhere or later with Last-Event-ID).
   * @returns {Promise<boolean>} true when everything finished in time
   */
  async function drain(timeoutMs = limits.shutdownMs) {
    state.draining = true;
    for (const stream of [...state.streams]) stream.close();
    const until = Date.now() + timeoutMs;
    while (state.inFlight > 0 || state.pendingCommits.size > 0) {
      if (Date.now() >= until) return false;
      if (state.pendingCommits.size > 0) {
        await Promise.race([Promise.allSettled([...state.pendingCommits]), sleep(50)]);
      } else {
        await sleep(20);
      }
    }
    return true;
  }

  return { handle, drain, state, metrics };
}

/**
 * The JSON body of an offline-signing route: an object with exactly the members of `shape` (`base64`
 * members decoded to Buffers).
 */
function parseSigned(text, shape) {
  let body;
  try {
    body = JSON.parse(text);
  } catch (err) {
    throw badRequest(`request body is not valid JSON: ${err.message}`);
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw badRequest('request body must be a JSON object');
  for (const key of Object.keys(body)) {
    if (!Object.hasOwn(shape, key)) throw badRequest(`unknown member "${key}" in request body`);
  }
  const out = {};
  for (const [key, kind] of Object.entries(shape)) {
    const value = body[key];
    if (kind === 'base64') {
      if (typeof value !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(value) || value.length === 0) {
        throw badRequest(`"${key}" must be base64 text`);
      }
      out[key] = Buffer.from(value, 'base64');
    } else if (kind === 'array') {
      if (value !== undefined && !Array.isArray(value)) throw badRequest(`"${key}" must be an array`);
      out[key] = value;
    } else if (kind === 'transient') {
      out[key] = checkTransient(value);
    } else {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) throw badRequest(`"${key}" must be an object`);
      out[key] = value;
    }
  }
  return out;
}

function checkStrings(args, what) {
  args.forEach((a, i) => {
    if (typeof a !== 'string') throw badRequest(`"${what}[${i}]" must be a string`);
  });
  return args;
}

function parseArgs(text) {
  return parseCall(text).args;
}

/**
 * The body of a call by name: `args` (strings), and optional `transient` data (name → string) that
 * reaches the endorsing peers but is never recorded on the ledger (private data: the contract's
 * service terms carry their prices this way). Fabric's gateway then endorses only on peers of the
 * organisations in the collections the transaction writes.
 */
function parseCall(text) {
  if (text.trim().length === 0) return { args: [] };
  let body;
  try {
    body = JSON.parse(text);
  } catch (err) {
    throw badRequest(`request body is not valid JSON: ${err.message}`);
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw badRequest('request body must be a JSON object {"args": ["<string>", ...]}');
  }
  for (const key of Object.keys(body)) {
    if (key !== 'args' && key !== 'transient') {
      throw badRequest(`unknown member "${key}" in request body (expected only "args" and "transient")`);
    }
  }
  const args = body.args === undefined ? [] : body.args;
  if (!Array.isArray(args)) throw badRequest('"args" must be an array of strings');
  args.forEach((a, i) => {
    if (typeof a !== 'string') {
      throw badRequest(`"args[${i}]" must be a string (the vmledger contract takes one JSON text argument)`);
    }
  });
  const transient = checkTransient(body.transient);
  return transient === undefined ? { args } : { args, transient };
}

/** Transient data as a body gives it: absent, or an object of strings under non-empty names. */
function checkTransient(transient) {
  if (transient === undefined) return undefined;
  if (transient === null || typeof transient !== 'object' || Array.isArray(transient)) {
    throw badRequest('"transient" must be an object of strings');
  }
  for (const [name, value] of Object.entries(transient)) {
    if (name.length === 0 || typeof value !== 'string') {
      throw badRequest(`"transient.${name}" must be a string under a non-empty name`);
    }
  }
  return transient;
}

/** The body of a typed call: the function's input, a JSON object (an empty body is `{}`). */
function parseInput(text, fn) {
  if (text.trim().length === 0) return {};
  let input;
  try {
    input = JSON.parse(text);
  } catch (err) {
    throw badRequest(`request body is not valid JSON: ${err.message}`);
  }
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw badRequest(`the body of ${fn.name} must be a JSON object (${fn.input})`, { function: fn.name });
  }
  return input;
}

function sleep(msDelay) {
  return new Promise((resolve) => {
    setTimeout(resolve, msDelay);
  });
}

module.exports = { createApp, matchRoute, prefersAsync, parseArgs, parseCall, parseInput, ROUTES };
