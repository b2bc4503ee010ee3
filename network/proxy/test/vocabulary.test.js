'use strict';
/**
 * The proxy against the contract's vocabulary: every code it answers is in the vocabulary, answered with the
 * vocabulary's HTTP status; every Fabric validation code it can report is there too.
 */
const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { StatusCode } = require('@hyperledger/fabric-gateway');
const { PROXY_CODES, ProblemError } = require('../src/errors');
const { Vocabulary } = require('../src/vocabulary');
const { TX_ID, testConfig, fakeFabric, startApp, call } = require('./helpers');

const vocabulary = Vocabulary.load();

describe('the proxy speaks the contract\'s vocabulary', () => {
  it('every code written in src/ is one of PROXY_CODES, and each is in the vocabulary', () => {
    const src = path.join(__dirname, '..', 'src');
    const written = new Set();
    for (const file of fs.readdirSync(src)) {
      const text = fs.readFileSync(path.join(src, file), 'utf8');
      for (const m of text.matchAll(/new ProblemError\(\s*'([A-Z_]+)'/g)) written.add(m[1]);
      if (/\bbadRequest\(/.test(text)) written.add('BAD_REQUEST');
    }
    assert.ok(written.size >= 10, [...written].join());
    for (const code of written) assert.ok(PROXY_CODES.includes(code), `${code} (written in src/) is in PROXY_CODES`);
    for (const code of PROXY_CODES) {
      const entry = vocabulary.code(code);
      assert.ok(entry, `${code} is in the vocabulary`);
      assert.ok(['proxy', 'contract'].includes(entry.origin), `${code}: ${entry.origin}`);
    }
  });

  it('every validation code Fabric can report is in the vocabulary: 409, retryable only for a stale read set', () => {
    const names = Object.keys(StatusCode).filter((k) => Number.isNaN(Number(k)) && k !== 'VALID');
    assert.ok(names.length > 20);
    for (const name of names) {
      const entry = vocabulary.code(name);
      assert.ok(entry, `${name} is in the vocabulary`);
      assert.equal(entry.origin, 'validation', name);
      assert.equal(entry.httpStatus, 409, name);
      assert.equal(entry.retryable, ['MVCC_READ_CONFLICT', 'PHANTOM_READ_CONFLICT'].includes(name), name);
    }
  });

  it('a code outside the vocabulary cannot be answered by mistake', () => {
    assert.throws(() => new ProblemError('NO_SUCH_CODE', 'x'), /not in the contract's vocabulary/);
  });

  it('answers every one of its codes, provoked through HTTP, with the vocabulary\'s status', async () => {
    let failWith;
    let gate;
    const fabric = fakeFabric({
      async evaluate() {
        if (gate) await gate;
        if (failWith) throw failWith;
        return {};
      },
    });
    const s = await startApp({ fabric, config: testConfig({ limits: { bodyBytes: 1024, inFlight: 1 } }) });
    const grpc = (code, message = 'm', details = []) => Object.assign(new Error(message), { code, details });
    const q = (extra = {}) => call(s.url, '/v1/queries/GetVm', { method: 'POST', body: { id: 'v' }, ...extra });
    const provoke = {
      BAD_REQUEST: () => call(s.url, '/v1/queries/GetVm', { method: 'POST', body: '[1]' }),
      UNAUTHENTICATED: () => q({ as: 'none' }),
      NOT_FOUND: () => call(s.url, `/channels/federation/transactions/${TX_ID}`),
      ROUTE_NOT_FOUND: () => call(s.url, '/nope'),
      METHOD_NOT_ALLOWED: () => call(s.url, '/v1/queries/GetVm'),
      PAYLOAD_TOO_LARGE: () => q({ body: { id: 'x'.repeat(2000) } }),
      TOO_MANY_REQUESTS: async () => {
        let open;
        gate = new Promise((resolve) => { open = resolve; });
        const held = q();
        await new Promise((r) => setTimeout(r, 50));
        const res = await q();
        open();
        gate = undefined;
        await (await held).arrayBuffer();
        return res;
      },
      FORBIDDEN: () => { failWith = grpc(7); return q(); },
      INTERNAL: () => { failWith = new TypeError('bug'); return q(); },
      CHAINCODE_ERROR: () => { failWith = grpc(10, 'm', [{ message: 'chaincode response 500, boom' }]); return q(); },
      GATEWAY_ERROR: () => { failWith = grpc(12); return q(); },
      UNAVAILABLE: () => { failWith = grpc(14); return q(); },
      TIMEOUT: () => { failWith = grpc(4); return q(); },
      IDEMPOTENCY_KEY_REUSED: async () => {
        const write = (body) => call(s.url, '/v1/transactions/RegisterCloud',
          { method: 'POST', body, headers: { 'Idempotency-Key': 'k-1' } });
        await (await write({ id: 'c1', name: 'C' })).arrayBuffer();
        return write({ id: 'c2', name: 'C' });
      },
    };
    try {
      assert.deepEqual(Object.keys(provoke).sort(), [...PROXY_CODES].sort(), 'every proxy code is provoked');
      for (const [code, go] of Object.entries(provoke)) {
        failWith = undefined;
        const res = await go();
        const body = await res.json();
        assert.equal(body.code, code, JSON.stringify(body));
        assert.equal(res.status, vocabulary.code(code).httpStatus, code);
        assert.equal(body.status, res.status);
        assert.equal(body.retryable === true, vocabulary.code(code).retryable, `${code} retryable`);
      }
    } finally {
      await s.close();
    }
  });
});
