'use strict';
/**
 * The HTTP layer against a scripted Fabric stand-in: routing, auth, limits, problem documents, async
 * records, event streams, operations endpoints, logs, graceful drain.
 */
const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const { MANAGER_KEY, OPERATOR_KEY, TX_ID, testConfig, eventSource, fakeFabric, startApp, call, readEvents } = require('./helpers');
const { ProblemError, fromInvalidCommit } = require('../src/errors');
const { matchRoute, prefersAsync, ROUTES } = require('../src/app');
const { Vocabulary } = require('../src/vocabulary');

const TX_PATH = '/channels/federation/chaincodes/vmledger/transactions';
const Q_PATH = '/channels/federation/chaincodes/vmledger/queries';
const EV_PATH = '/channels/federation/chaincodes/vmledger/events';
/** The one argument every function takes: the JSON text of its input object. */
const ONE = { args: ['{}'] };

async function problem(res, status, code) {
  assert.equal(res.status, status);
  assert.equal(res.headers.get('content-type'), 'application/problem+json');
  const body = await res.json();
  assert.equal(body.status, status);
  assert.equal(body.code, code);
  assert.equal(typeof body.type, 'string');
  assert.equal(typeof body.title, 'string');
  assert.equal(typeof body.detail, 'string');
  return body;
}

const deferred = () => {
  let resolve;
  const promise = new Promise((r) => { resolve = r; });
  return { promise, resolve };
};

describe('routing helpers', () => {
  it('matches routes and reports allowed methods', () => {
    const m = matchRoute('POST', `${TX_PATH}/Ping`);
    assert.equal(m.route.name, '/channels/{channel}/chaincodes/{chaincode}/transactions/{fn}');
    assert.deepEqual(m.params, { channel: 'federation', chaincode: 'vmledger', fn: 'Ping' });
    assert.deepEqual(matchRoute('GET', `${TX_PATH}/Ping`).allowed, ['POST']);
    assert.equal(matchRoute('GET', '/nope').route, undefined);
    assert.equal(matchRoute('GET', '/channels//info').route, undefined, 'empty segment');
  });
  it('recognises Prefer: respond-async among other preferences', () => {
    assert.equal(prefersAsync('respond-async'), true);
    assert.equal(prefersAsync('return=minimal, Respond-Async; wait=5'), true);
    assert.equal(prefersAsync('return=minimal'), false);
    assert.equal(prefersAsync(undefined), false);
  });
});

describe('authentication', () => {
  let s;
  before(async () => { s = await startApp(); });
  after(() => s.close());

  it('rejects a missing key with 401 and never calls Fabric', async () => {
    const res = await call(s.url, `${TX_PATH}/Ping`, { as: 'none', method: 'POST', body: { args: ['{}'] } });
    await problem(res, 401, 'UNAUTHENTICATED');
    assert.equal(res.headers.get('www-authenticate'), 'ApiKey header="X-API-Key"');
    assert.equal(s.fabric.calls.length, 0);
  });
  it('rejects an unknown key with 401 on every protected route and never calls Fabric', async () => {
    for (const [method, path] of [['POST', `${TX_PATH}/Ping`], ['POST', `${Q_PATH}/Ping`], ['GET', EV_PATH],
      ['GET', '/channels/federation/info'], ['GET', `/channels/federation/transactions/${TX_ID}`]]) {
      const res = await call(s.url, path, { as: 'c'.repeat(32), method, body: method === 'POST' ? {} : undefined });
      await problem(res, 401, 'UNAUTHENTICATED');
    }
    assert.equal(s.fabric.calls.length, 0);
  });
  it('maps each key to its identity', async () => {
    await call(s.url, `${Q_PATH}/GetVm`, { as: 'operator', method: 'POST', body: { args: ['{"id":"v"}'] } });
    await call(s.url, `${Q_PATH}/GetVm`, { as: 'manager', method: 'POST', body: { args: ['{"id":"v"}'] } });
    assert.deepEqual(s.fabric.calls.map((c) => c.identity), ['operator', 'manager']);
  });
  it('leaves operations endpoints open', async () => {
    for (const path of ['/healthz', '/readyz', '/metrics', '/openapi.json']) {
      assert.equal((await call(s.url, path, { as: 'none' })).status, 200, path);
    }
  });
  it('never logs a key, only its short hash', () => {
    const all = s.logs.join('\n');
    assert.ok(!all.includes(MANAGER_KEY) && !all.includes(OPERATOR_KEY) && !all.includes('c'.repeat(32)));
    assert.ok(s.logs.some((l) => JSON.parse(l).keyHash?.length === 8));
  });
});

describe('submit', () => {
  it('answers 200 with txId, block, validation code, result and integer timings', async () => {
    const s = await startApp();
    try {
      const res = await call(s.url, `${TX_PATH}/RegisterVm`, { method: 'POST', body: { args: ['{"id":"vm-1"}'] } });
      assert.equal(res.status, 200);
      const body = await res.json();
      assert.equal(body.txId, TX_ID);
      assert.equal(body.blockNumber, 7);
      assert.equal(body.validationCode, 'VALID');
      assert.deepEqual(body.result, { echoed: ['{"id":"vm-1"}'] });
      assert.equal(body.timings.endorseMs, 12);
      assert.equal(body.timings.submitMs, 4);
      assert.equal(body.timings.commitMs, 50);
      assert.ok(Number.isInteger(body.timings.totalMs));
      assert.deepEqual(s.fabric.calls[0], {
        op: 'submit', identity: 'manager',
        call: { channel: 'federation', chaincode: 'vmledger', fn: 'RegisterVm', args: ['{"id":"vm-1"}'] },
      });
      const line = JSON.parse(s.logs.at(-1));
      assert.equal(line.txId, TX_ID);
      assert.equal(line.status, 200);
      assert.equal(line.route, '/channels/{channel}/chaincodes/{chaincode}/transactions/{fn}');
      assert.equal(typeof line.ms, 'number');
    } finally {
      await s.close();
    }
  });

  it('passes a contract rejection through with its status and txId', async () => {
    const fabric = fakeFabric({
      async submit() {
        throw new ProblemError('POLICY_DENIED', 'country FR not allowed', { details: { country: 'FR' }, txId: TX_ID });
      },
    });
    const s = await startApp({ fabric });
    try {
      const body = await problem(await call(s.url, `${TX_PATH}/Migrate`, { method: 'POST', body: { args: ['{}'] } }),
        422, 'POLICY_DENIED');
      assert.deepEqual(body.details, { country: 'FR' });
      assert.equal(body.txId, TX_ID);
      assert.equal(JSON.parse(s.logs.at(-1)).code, 'POLICY_DENIED');
    } finally {
      await s.close();
    }
  });

  it('answers an MVCC conflict at commit with 409 retryable', async () => {
    const fabric = fakeFabric({
      async submit() {
        return {
          txId: TX_ID, result: '', timings: { endorseMs: 1, submitMs: 1 },
          commit: async () => { throw fromInvalidCommit({ txId: TX_ID, validationCode: 'MVCC_READ_CONFLICT', blockNumber: 4 }); },
        };
      },
    });
    const s = await startApp({ fabric });
    try {
      const body = await problem(await call(s.url, `${TX_PATH}/Ping`, { method: 'POST', body: { args: ['{}'] } }),
        409, 'MVCC_READ_CONFLICT');
      assert.equal(body.retryable, true);
      assert.equal(body.txId, TX_ID);
    } finally {
      await s.close();
    }
  });

  it('validates names and bodies with 400 before calling Fabric', async () => {
    const s = await startApp();
    try {
      const bad = [
        [`${TX_PATH}/Ping`, '{not json'],
        [`${TX_PATH}/Ping`, '[1]'],
        [`${TX_PATH}/Ping`, { args: [1] }],
        [`${TX_PATH}/Ping`, { args: '{}' }],
        [`${TX_PATH}/Ping`, { arg: ['{}'] }],
        [`${TX_PATH}/Bad%20Name`, { args: [] }],
        ['/channels/Bad_Channel/chaincodes/vmledger/transactions/Ping', { args: [] }],
        ['/channels/federation/chaincodes/bad%2Fname/transactions/Ping', { args: [] }],
        [`${TX_PATH}/%E0%A4%A`, { args: [] }],
      ];
      for (const [path, body] of bad) {
        const res = await call(s.url, path, { method: 'POST', body });
        assert.equal(res.status, path.endsWith('%A') ? 404 : 400, `${path} ${JSON.stringify(body)}`);
        await res.arrayBuffer();
      }
      assert.equal(s.fabric.calls.length, 0);
      // An empty body means no arguments, and every function takes exactly one.
      for (const body of [undefined, { args: [] }, { args: ['{}', '{}'] }]) {
        const refused = await problem(await call(s.url, `${TX_PATH}/Ping`, { method: 'POST', body }), 400, 'BAD_REQUEST');
        assert.match(refused.detail, /^Ping takes exactly one argument, the JSON text of a Ping object; [02] given$/);
        assert.equal(refused.details.function, 'Ping');
      }
      assert.equal(s.fabric.calls.length, 0);
    } finally {
      await s.close();
    }
  });

  it('answers 413 for a body over the limit (declared or streamed)', async () => {
    const s = await startApp();
    try {
      const big = JSON.stringify({ args: ['x'.repeat(2000)] });
      await problem(await call(s.url, `${TX_PATH}/Ping`, { method: 'POST', body: big }), 413, 'PAYLOAD_TOO_LARGE');
      // Chunked upload without Content-Length.
      const status = await new Promise((resolve, reject) => {
        const req = http.request(`${s.url}${TX_PATH}/Ping`, {
          method: 'POST', headers: { 'X-API-Key': MANAGER_KEY, 'Transfer-Encoding': 'chunked' },
        }, (res) => { res.resume(); resolve(res.statusCode); });
        req.on('error', reject);
        for (let i = 0; i < 10; i += 1) req.write('x'.repeat(300));
        req.end();
      });
      assert.equal(status, 413);
      assert.equal(s.fabric.calls.length, 0);
    } finally {
      await s.close();
    }
  });

  it('answers 429 once the in-flight cap is reached, and serves again after', async () => {
    const gate = deferred();
    let entered = 0;
    const fabric = fakeFabric({
      async evaluate() {
        entered += 1;
        await gate.promise;
        return 'ok';
      },
    });
    const s = await startApp({ fabric }); // inFlight: 4
    try {
      const held = Array.from({ length: 4 }, () => call(s.url, `${Q_PATH}/Ping`, { method: 'POST', body: ONE }));
      while (entered < 4) await new Promise((r) => setTimeout(r, 5));
      const res = await call(s.url, `${Q_PATH}/Ping`, { method: 'POST', body: ONE });
      const body = await problem(res, 429, 'TOO_MANY_REQUESTS');
      assert.equal(body.retryable, true);
      assert.equal(res.headers.get('retry-after'), '1');
      gate.resolve();
      assert.deepEqual((await Promise.all(held)).map((r) => r.status), [200, 200, 200, 200]);
      assert.equal((await call(s.url, `${Q_PATH}/Ping`, { method: 'POST', body: ONE })).status, 200);
      assert.equal(s.app.state.inFlight, 0);
    } finally {
      await s.close();
    }
  });
});

describe('transient data', () => {
  it('passes named strings to Fabric beside the arguments, and refuses anything else', async () => {
    const s = await startApp();
    try {
      const transient = { terms: '{"prices":{}}' };
      const res = await call(s.url, `${TX_PATH}/RegisterVm`, { method: 'POST', body: { args: ['{}'], transient } });
      assert.equal(res.status, 200);
      assert.deepEqual(s.fabric.calls[0].call.transient, transient);
      for (const bad of [{ terms: 1 }, ['x'], { '': 'x' }, null]) {
        const refused = await call(s.url, `${TX_PATH}/RegisterVm`,
          { method: 'POST', body: { args: ['{}'], transient: bad } });
        assert.equal(refused.status, 400, JSON.stringify(bad));
      }
      assert.equal(s.fabric.calls.length, 1, 'a refused body reaches no peer');
    } finally {
      await s.close();
    }
  });
});

describe('asynchronous submit', () => {
  it('answers 202 with a status URL; the record goes pending → committed', async () => {
    const committed = deferred();
    const fabric = fakeFabric({
      async submit() {
        return {
          txId: TX_ID, result: 'r', timings: { endorseMs: 1, submitMs: 2 },
          commit: async () => { await committed.promise; return { blockNumber: 11, validationCode: 'VALID', commitMs: 30 }; },
        };
      },
    });
    const s = await startApp({ fabric });
    try {
      const res = await call(s.url, `${TX_PATH}/Ping`, {
        method: 'POST', body: { args: ['{}'] }, headers: { Prefer: 'respond-async' },
      });
      assert.equal(res.status, 202);
      const statusUrl = `/channels/federation/transactions/${TX_ID}`;
      assert.deepEqual(await res.json(), { txId: TX_ID, statusUrl });
      assert.equal(res.headers.get('location'), statusUrl);
      assert.equal(res.headers.get('preference-applied'), 'respond-async');

      let rec = await (await call(s.url, statusUrl)).json();
      assert.equal(rec.status, 'pending');
      assert.equal(rec.result, 'r');
      committed.resolve();
      await new Promise((r) => setTimeout(r, 10));
      rec = await (await call(s.url, statusUrl)).json();
      assert.deepEqual(rec, {
        txId: TX_ID, status: 'committed', blockNumber: 11, validationCode: 'VALID', result: 'r',
        timings: { endorseMs: 1, submitMs: 2, commitMs: 30, totalMs: rec.timings.totalMs },
      });
      // Wrong channel, unknown id, malformed id.
      await problem(await call(s.url, `/channels/other/transactions/${TX_ID}`), 404, 'NOT_FOUND');
      await problem(await call(s.url, `/channels/federation/transactions/${'9'.repeat(64)}`), 404, 'NOT_FOUND');
      await problem(await call(s.url, '/channels/federation/transactions/xyz'), 400, 'BAD_REQUEST');
    } finally {
      await s.close();
    }
  });

  it('records a transaction committed invalid as failed with its problem', async () => {
    const fabric = fakeFabric({
      async submit() {
        return {
          txId: TX_ID, result: '', timings: { endorseMs: 1, submitMs: 1 },
          commit: async () => {
            const p = fromInvalidCommit({ txId: TX_ID, validationCode: 'MVCC_READ_CONFLICT', blockNumber: 5 });
            p.outcome = { blockNumber: 5, validationCode: 'MVCC_READ_CONFLICT', commitMs: 3 };
            throw p;
          },
        };
      },
    });
    const s = await startApp({ fabric });
    try {
      const res = await call(s.url, `${TX_PATH}/Ping`, { method: 'POST', body: ONE, headers: { Prefer: 'respond-async' } });
      assert.equal(res.status, 202);
      await new Promise((r) => setTimeout(r, 10));
      const rec = await (await call(s.url, `/channels/federation/transactions/${TX_ID}`)).json();
      assert.equal(rec.status, 'failed');
      assert.equal(rec.validationCode, 'MVCC_READ_CONFLICT');
      assert.equal(rec.blockNumber, 5);
      assert.equal(rec.error.code, 'MVCC_READ_CONFLICT');
      assert.equal(rec.error.retryable, true);
    } finally {
      await s.close();
    }
  });
});

describe('queries and channel info', () => {
  let s;
  before(async () => { s = await startApp(); });
  after(() => s.close());

  it('evaluates and answers {result}', async () => {
    const res = await call(s.url, `${Q_PATH}/GetVm`, { as: 'operator', method: 'POST', body: { args: ['{"id":"vm-1"}'] } });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { result: { pong: true } });
  });
  it('answers chain info', async () => {
    const res = await call(s.url, '/channels/federation/info');
    assert.deepEqual(await res.json(), { height: 8, currentBlockHash: 'aa', previousBlockHash: 'bb' });
  });
  it('answers 404 and 405 as problems', async () => {
    await problem(await call(s.url, '/nope'), 404, 'ROUTE_NOT_FOUND');
    const res = await call(s.url, `${TX_PATH}/Ping`);
    await problem(res, 405, 'METHOD_NOT_ALLOWED');
    assert.equal(res.headers.get('allow'), 'POST');
  });
});

describe('event stream', () => {
  const events = [
    { blockNumber: 5n, transactionId: 't1', eventName: 'CloudRegistered', payload: Buffer.from('{"id":"c1"}') },
    { blockNumber: 5n, transactionId: 't2', eventName: 'HostRegistered', payload: Buffer.from('{"id":"h1"}') },
    { blockNumber: 6n, transactionId: 't3', eventName: 'VmRegistered', payload: Buffer.from('not json') },
  ];

  it('streams events with block:index ids and resumes after Last-Event-ID', async () => {
    const sources = [];
    const fabric = fakeFabric({
      async chaincodeEvents(identity, channel, chaincode, position) {
        fabric.calls.push({ op: 'events', position });
        const from = position.startBlock ?? 0n;
        const src = eventSource(events.filter((e) => e.blockNumber >= from));
        sources.push(src);
        return src;
      },
    });
    const s = await startApp({ fabric });
    try {
      let res = await call(s.url, `${EV_PATH}?startBlock=5`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'text/event-stream; charset=utf-8');
      const first = await readEvents(res, (msgs) => msgs.length >= 2);
      assert.deepEqual(first.map((m) => [m.id, m.event]), [['5:0', 'CloudRegistered'], ['5:1', 'HostRegistered']]);
      assert.deepEqual(first[0].data, { blockNumber: 5, txId: 't1', eventName: 'CloudRegistered', payload: { id: 'c1' } });
      await new Promise((r) => setTimeout(r, 20));
      assert.equal(sources[0].closed(), true, 'the Fabric stream is closed when the client goes away');
      assert.equal(s.app.state.streams.size, 0);

      res = await call(s.url, EV_PATH, { headers: { 'Last-Event-ID': '5:1' } });
      const rest = await readEvents(res, (msgs) => msgs.length >= 1);
      assert.deepEqual(rest.map((m) => m.id), ['6:0']);
      assert.equal(rest[0].data.payload, 'not json');
      assert.deepEqual(fabric.calls.map((c) => c.position), [{ startBlock: 5n }, { startBlock: 5n, skipThrough: { block: 5n, index: 1 } }]);
    } finally {
      await s.close();
    }
  });

  it('rejects a malformed resume position with 400 before opening a stream', async () => {
    const s = await startApp();
    try {
      await problem(await call(s.url, `${EV_PATH}?startBlock=abc`), 400, 'BAD_REQUEST');
      await problem(await call(s.url, EV_PATH, { headers: { 'Last-Event-ID': 'zz' } }), 400, 'BAD_REQUEST');
      assert.equal(s.fabric.calls.length, 0);
    } finally {
      await s.close();
    }
  });

  it('ends the stream with a problem event when Fabric fails mid-stream', async () => {
    const fabric = fakeFabric({
      async chaincodeEvents() {
        return {
          close() {},
          async* [Symbol.asyncIterator]() {
            yield events[0];
            throw Object.assign(new Error('14 UNAVAILABLE: peer went away'), { code: 14, details: 'peer went away' });
          },
        };
      },
    });
    const s = await startApp({ fabric });
    try {
      const res = await call(s.url, EV_PATH);
      const text = await res.text(); // the server closes the stream
      assert.match(text, /^retry: 1000\n/);
      assert.match(text, /id: 5:0\nevent: CloudRegistered\n/);
      const problemLine = text.split('\n').find((l) => l.startsWith('data: {"type"'));
      assert.equal(JSON.parse(problemLine.slice(6)).code, 'UNAVAILABLE');
      assert.match(text, /event: problem\n/);
    } finally {
      await s.close();
    }
  });

  it('caps the number of open streams with 429', async () => {
    const s = await startApp({ config: testConfig({ limits: { eventStreams: 1 } }) });
    try {
      const open = await call(s.url, EV_PATH);
      assert.equal(open.status, 200);
      await problem(await call(s.url, EV_PATH), 429, 'TOO_MANY_REQUESTS');
      await open.body.cancel();
    } finally {
      await s.close();
    }
  });
});

describe('operations endpoints', () => {
  it('/readyz answers 200 when the peer and Ping answer, 503 otherwise', async () => {
    let pingFails = false;
    const fabric = fakeFabric({
      async evaluate(identity, call) {
        fabric.calls.push({ identity, call });
        if (pingFails) throw new ProblemError('UNAVAILABLE', 'chaincode vmledger not installed');
        return {};
      },
    });
    const s = await startApp({ fabric });
    try {
      const ok = await call(s.url, '/readyz', { as: 'none' });
      assert.equal(ok.status, 200);
      assert.equal((await ok.json()).status, 'ready');
      assert.deepEqual(fabric.calls[0].call, { channel: 'federation', chaincode: 'vmledger', fn: 'Ping', args: ['{}'] });
      assert.equal(fabric.calls[0].identity, 'operator');
      pingFails = true;
      const body = await problem(await call(s.url, '/readyz', { as: 'none' }), 503, 'UNAVAILABLE');
      assert.match(body.detail, /not installed/);
    } finally {
      await s.close();
    }
  });

  it('/metrics counts requests by route and status, errors by code and step latencies', async () => {
    const s = await startApp();
    try {
      await call(s.url, `${TX_PATH}/Ping`, { method: 'POST', body: { args: ['{}'] } });
      await call(s.url, `${TX_PATH}/Ping`, { as: 'none', method: 'POST', body: ONE });
      s.app.metrics.stepSeconds.observe({ step: 'endorse' }, 0.012);
      const res = await call(s.url, '/metrics', { as: 'none' });
      assert.match(res.headers.get('content-type'), /^text\/plain; version=0.0.4/);
      const text = await res.text();
      assert.match(text, /vmledger_proxy_http_requests_total\{method="POST",route="\/channels\/\{channel\}\/chaincodes\/\{chaincode\}\/transactions\/\{fn\}",status="200"\} 1/);
      assert.match(text, /status="401"\} 1/);
      assert.match(text, /vmledger_proxy_errors_total\{code="UNAUTHENTICATED"\} 1/);
      assert.match(text, /vmledger_proxy_transactions_total\{validation_code="VALID"\} 1/);
      assert.match(text, /vmledger_proxy_fabric_step_duration_seconds_count\{step="endorse"\} 1/);
      assert.match(text, /vmledger_proxy_in_flight_requests 0/);
    } finally {
      await s.close();
    }
  });

  it('/openapi.json is an OpenAPI 3.1 document describing every route', async () => {
    const s = await startApp();
    try {
      const doc = await (await call(s.url, '/openapi.json', { as: 'none' })).json();
      assert.equal(doc.openapi, '3.1.0');
      assert.equal(doc.components.securitySchemes.apiKey.name, 'X-API-Key');
      const vocabulary = Vocabulary.load();
      const functions = [...vocabulary.functions.values()];
      for (const route of ROUTES.filter((r) => r.handler !== 'docsAsset')) {
        // The typed routes are one path per function of its access.
        const names = route.handler === 'typedSubmit' || route.handler === 'typedQuery'
          ? functions.filter((f) => f.access === (route.handler === 'typedSubmit' ? 'submit' : 'evaluate'))
            .map((f) => route.name.replace('{fn}', f.name))
          : [route.name];
        for (const name of names) {
          const op = doc.paths[name]?.[route.method.toLowerCase()];
          assert.ok(op, `${route.method} ${name} documented`);
          const params = name.split('/').filter((seg) => seg.startsWith('{')).map((seg) => seg.slice(1, -1));
          for (const p of params) assert.ok(op.parameters.some((x) => x.in === 'path' && x.name === p), `${name} ${p}`);
        }
      }
      // Every $ref resolves; the contract's schemas are all there and none was replaced by the proxy's.
      const refs = JSON.stringify(doc).match(/"\$ref":"[^"]+"/g) ?? [];
      for (const ref of refs) {
        const name = ref.split('/').at(-1).replace('"', '');
        assert.ok(doc.components.schemas[name], ref);
      }
      for (const [name, schema] of Object.entries(vocabulary.schemas)) {
        assert.equal(JSON.stringify(doc.components.schemas[name]),
          JSON.stringify(schema).replaceAll('#/$defs/', '#/components/schemas/'), name);
      }
      assert.deepEqual(doc.components.schemas.Problem.properties.code.enum, [...vocabulary.codes.keys()]);
    } finally {
      await s.close();
    }
  });

  it('types each function: its input as the body, its output as the result, its codes with their statuses', async () => {
    const s = await startApp();
    try {
      const doc = await (await call(s.url, '/openapi.json', { as: 'none' })).json();
      const vocabulary = Vocabulary.load();
      for (const f of vocabulary.functions.values()) {
        const op = doc.paths[`/v1/${f.access === 'submit' ? 'transactions' : 'queries'}/${f.name}`].post;
        assert.equal(op.operationId, f.name);
        assert.equal(op.summary, f.summary);
        assert.equal(op.requestBody.content['application/json'].schema.$ref, `#/components/schemas/${f.input}`);
        assert.match(JSON.stringify(op.responses[200]), new RegExp(`"result":\\{"\\$ref":"#/components/schemas/${f.output}"`));
        const answered = new Map();
        for (const [status, response] of Object.entries(op.responses)) {
          const codes = response.content?.['application/problem+json']?.schema.allOf[1].properties.code.enum ?? [];
          for (const code of codes) answered.set(code, Number(status));
        }
        for (const code of [...f.refuses, 'BAD_REQUEST', 'UNAUTHENTICATED', 'UNAVAILABLE', 'TIMEOUT']) {
          assert.equal(answered.get(code), vocabulary.code(code).httpStatus, `${f.name} answers ${code}`);
        }
        assert.equal(answered.has('MVCC_READ_CONFLICT'), f.access === 'submit', `${f.name}: validation codes`);
      }
      const migrate = doc.paths['/v1/transactions/Migrate'].post;
      assert.equal(migrate.responses[422].content['application/problem+json'].schema.allOf[1].properties.code.enum
        .join(), 'POLICY_DENIED,CAPACITY_EXCEEDED');
      const usage = doc.paths['/v1/clouds/{id}/usage'].get;
      assert.equal(usage.responses[200].content['application/json'].schema.$ref, '#/components/schemas/UsageReport');
      assert.ok(usage.responses[200].content['text/csv']);
      assert.equal(doc.paths['/v1/migrations'].get.responses[200].content['application/json'].schema.$ref,
        '#/components/schemas/MigrationPage');
    } finally {
      await s.close();
    }
  });
});

describe('graceful drain', () => {
  it('finishes in-flight submissions and awaited commits, refuses new work with 503', async () => {
    const endorsed = deferred();
    const release = deferred();
    let asyncCommitDone = false;
    const fabric = fakeFabric({
      txIdOf: (identity, nonce) => nonce.toString('hex'),
      async submit(identity, call) {
        if (call.fn === 'Migrate') {
          endorsed.resolve();
          await release.promise;
        }
        return {
          txId: TX_ID, result: call.fn, timings: { endorseMs: 1, submitMs: 1 },
          commit: async () => {
            await release.promise;
            if (call.fn === 'RegisterCloud') asyncCommitDone = true;
            return { blockNumber: 1, validationCode: 'VALID', commitMs: 1 };
          },
        };
      },
    });
    const s = await startApp({ fabric });
    try {
      const accepted = await call(s.url, `${TX_PATH}/RegisterCloud`, { method: 'POST', body: ONE, headers: { Prefer: 'respond-async' } });
      assert.equal(accepted.status, 202);
      const slow = call(s.url, `${TX_PATH}/Migrate`, { method: 'POST', body: ONE });
      await endorsed.promise;
      const drained = s.app.drain(5000);
      await problem(await call(s.url, `${TX_PATH}/Ping`, { method: 'POST', body: ONE }), 503, 'UNAVAILABLE');
      await problem(await call(s.url, '/readyz', { as: 'none' }), 503, 'UNAVAILABLE');
      assert.equal((await call(s.url, '/healthz', { as: 'none' })).status, 200);
      release.resolve();
      const res = await slow;
      assert.equal(res.status, 200);
      assert.equal(await drained, true);
      assert.equal(asyncCommitDone, true);
    } finally {
      await s.close();
    }
  });

  it('reports false when work outlasts the drain timeout', async () => {
    const fabric = fakeFabric({ async submit() { await new Promise(() => {}); } });
    const s = await startApp({ fabric });
    try {
      const pending = call(s.url, `${TX_PATH}/Ping`, { method: 'POST', body: ONE }).catch(() => {});
      // In flight, however busy the machine (a fixed pause raced the request on a loaded one).
      while (s.app.state.inFlight === 0) await new Promise((r) => setTimeout(r, 5));
      assert.equal(await s.app.drain(50), false);
      await s.close();
      await pending;
    } finally {
      await s.close().catch(() => {});
    }
  });
});
