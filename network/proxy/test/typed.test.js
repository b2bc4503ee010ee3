'use strict';
/**
 * What the contract's vocabulary gives the HTTP layer: only the contract's functions and the configured
 * chaincode are reachable, each function on the route of its access with exactly one argument, the typed
 * routes with the input object as the body, and the REST readers. Against a scripted Fabric stand-in.
 */
const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { fakeFabric, startApp, call } = require('./helpers');
const readers = require('../src/readers');

const CC = '/channels/federation/chaincodes';

async function problem(res, status, code) {
  const text = await res.text();
  assert.equal(res.status, status, text);
  assert.equal(res.headers.get('content-type'), 'application/problem+json');
  const body = JSON.parse(text);
  assert.equal(body.code, code, text);
  return body;
}

describe('only the contract, by its vocabulary', () => {
  let s;
  before(async () => { s = await startApp(); });
  after(() => s.close());

  it('an unknown function is the contract\'s own NOT_FOUND, answered before Fabric is touched', async () => {
    for (const path of [`${CC}/vmledger/transactions/Teleport`, `${CC}/vmledger/queries/Teleport`,
      '/v1/transactions/Teleport', '/v1/queries/Teleport']) {
      const body = await problem(await call(s.url, path, { method: 'POST', body: { args: ['{}'] } }), 404, 'NOT_FOUND');
      assert.deepEqual(body.details, { kind: 'function', id: 'Teleport' }, path);
    }
    assert.equal(s.fabric.calls.length, 0);
  });

  it('no other chaincode is reachable by name: not qscc, cscc or _lifecycle, not their events', async () => {
    for (const cc of ['qscc', 'cscc', '_lifecycle', 'other']) {
      for (const [method, path] of [['POST', `${CC}/${cc}/transactions/GetChainInfo`],
        ['POST', `${CC}/${cc}/queries/GetChainInfo`], ['GET', `${CC}/${cc}/events`]]) {
        const res = await call(s.url, path, { method, body: method === 'POST' ? { args: ['federation'] } : undefined });
        // `_lifecycle` is not even a valid chaincode name in a path; either way Fabric is not called.
        assert.ok([400, 404].includes(res.status), `${path}: ${res.status}`);
        await res.arrayBuffer();
      }
    }
    const body = await problem(await call(s.url, `${CC}/qscc/queries/GetChainInfo`, { method: 'POST', body: { args: ['federation'] } }),
      404, 'ROUTE_NOT_FOUND');
    assert.match(body.detail, /serves chaincode vmledger only/);
    assert.equal(s.fabric.calls.length, 0);
  });

  it('a query is not submitted (400, naming it and the route to use); a transaction may be evaluated as a dry run', async () => {
    const body = await problem(await call(s.url, `${CC}/vmledger/transactions/GetVm`, { method: 'POST', body: { args: ['{"id":"v"}'] } }),
      400, 'BAD_REQUEST');
    assert.match(body.detail, /^GetVm only reads the ledger: evaluate it/);
    assert.deepEqual(body.details, { function: 'GetVm', access: 'evaluate' });
    await problem(await call(s.url, '/v1/transactions/GetVm', { method: 'POST', body: { id: 'v' } }), 400, 'BAD_REQUEST');
    const typed = await problem(await call(s.url, '/v1/queries/Migrate', { method: 'POST', body: {} }), 400, 'BAD_REQUEST');
    assert.match(typed.detail, /^Migrate changes the ledger: submit it \(POST \/v1\/transactions\/Migrate\)/);
    assert.equal(s.fabric.calls.length, 0);
    const dry = await call(s.url, `${CC}/vmledger/queries/Ping`, { method: 'POST', body: { args: ['{}'] } });
    assert.equal(dry.status, 200);
    assert.deepEqual(s.fabric.calls.map((c) => [c.op, c.call.fn]), [['evaluate', 'Ping']]);
  });
});

describe('typed routes: the input object is the body', () => {
  it('submits with the body as the one argument, on the default channel and chaincode', async () => {
    const s = await startApp({ fabric: fakeFabric({ txIdOf: (identity, nonce) => nonce.toString('hex') }) });
    try {
      const input = { vmId: 'vm-1', destinationHostId: 'h', imageHash: 'ab' };
      const res = await call(s.url, '/v1/transactions/Migrate', { method: 'POST', body: input });
      assert.equal(res.status, 200);
      const body = await res.json();
      assert.equal(body.validationCode, 'VALID');
      assert.deepEqual(s.fabric.calls[0].call, {
        channel: 'federation', chaincode: 'vmledger', fn: 'Migrate', args: [JSON.stringify(input)],
      });
      const accepted = await call(s.url, '/v1/transactions/Ping', { method: 'POST', headers: { Prefer: 'respond-async' } });
      assert.equal(accepted.status, 202);
      assert.deepEqual(s.fabric.calls[1].call.args, ['{}'], 'an empty body is the empty object');
      assert.equal(JSON.parse(s.logs.at(-1)).fn, 'Ping');
    } finally {
      await s.close();
    }
  });

  it('evaluates queries and answers {result}', async () => {
    const s = await startApp();
    try {
      const res = await call(s.url, '/v1/queries/GetVm', { as: 'operator', method: 'POST', body: { id: 'vm-1' } });
      assert.deepEqual(await res.json(), { result: { pong: true } });
      assert.deepEqual(s.fabric.calls[0], {
        op: 'evaluate', identity: 'operator', call: { channel: 'federation', chaincode: 'vmledger', fn: 'GetVm', args: ['{"id":"vm-1"}'] },
      });
    } finally {
      await s.close();
    }
  });

  it('refuses a body that is not one JSON object, naming the function and its input type', async () => {
    const s = await startApp();
    try {
      for (const body of ['[1]', '"x"', 'null', '{nope']) {
        const p = await problem(await call(s.url, '/v1/transactions/RegisterCloud', { method: 'POST', body }), 400, 'BAD_REQUEST');
        if (body !== '{nope') assert.match(p.detail, /^the body of RegisterCloud must be a JSON object \(RegisterCloud\)$/);
      }
      assert.equal(s.fabric.calls.length, 0);
    } finally {
      await s.close();
    }
  });

  it('passes the contract\'s refusal through with the vocabulary\'s status', async () => {
    const { fromGatewayError } = require('../src/errors');
    const fabric = fakeFabric({
      async submit() {
        throw fromGatewayError({
          code: 10,
          message: 'failed to endorse',
          details: [{ message: 'chaincode response 500, {"code":"CAPACITY_EXCEEDED","message":"no room","details":{"hostId":"h"}}' }],
        }, { step: 'endorse' });
      },
    });
    const s = await startApp({ fabric });
    try {
      const body = await problem(await call(s.url, '/v1/transactions/Migrate', { method: 'POST', body: {} }), 422, 'CAPACITY_EXCEEDED');
      assert.deepEqual(body.details, { hostId: 'h' });
    } finally {
      await s.close();
    }
  });
});

describe('REST readers', () => {
  const REPORT = {
    cloudId: 'cloud-b', from: '2026-01-01T00:00:00Z', to: '2026-01-02T00:00:00Z', currency: 'EUR',
    vms: [{
      vmId: 'vm-1', operatorCloudId: 'cloud-a', durationMs: 1800000, cpuCoreHours: 1, memoryGibHours: 2,
      networkMbpsHours: 50, ioMbpsHours: 25, cost: 1500000, residencies: [],
    }],
    totalCost: 1500000,
  };
  let s;
  let answers;
  before(async () => {
    answers = {};
    const fabric = fakeFabric({
      async evaluate(identity, c) {
        fabric.calls.push({ op: 'evaluate', identity, call: c });
        return answers[c.fn];
      },
    });
    s = await startApp({ fabric });
  });
  after(() => s.close());
  const lastInput = () => JSON.parse(s.fabric.calls.at(-1).call.args[0]);

  it('usage: JSON by default, the Usage function\'s input from the path and query', async () => {
    answers.Usage = REPORT;
    const res = await call(s.url, '/v1/clouds/cloud-b/usage?from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z');
    assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8');
    assert.deepEqual(await res.json(), REPORT);
    assert.equal(s.fabric.calls.at(-1).call.fn, 'Usage');
    assert.deepEqual(lastInput(), { cloudId: 'cloud-b', from: '2026-01-01T00:00:00Z', to: '2026-01-02T00:00:00Z' });
  });

  it('usage: CSV when Accept prefers it, with the same columns as `vmledger usage --format csv`', async () => {
    answers.Usage = REPORT;
    for (const accept of ['text/csv', 'application/json;q=0.5, text/csv']) {
      const res = await call(s.url, '/v1/clouds/cloud-b/usage?from=a&to=b', { headers: { Accept: accept } });
      assert.equal(res.headers.get('content-type'), 'text/csv; charset=utf-8; header=present');
      assert.equal(await res.text(),
        'vm,operator,hours,cpu_core_hours,memory_gib_hours,network_mbps_hours,io_mbps_hours,cost,currency\n'
        + 'vm-1,cloud-a,0.500000,1.000000,2.000000,50.000000,25.000000,1.500000,EUR\n'
        + 'TOTAL,,,,,,,1.500000,EUR\n');
    }
    const json = await call(s.url, '/v1/clouds/cloud-b/usage?from=a&to=b', { headers: { Accept: 'text/csv;q=0.1, application/json' } });
    assert.equal(json.headers.get('content-type'), 'application/json; charset=utf-8');
  });

  it('usage CSV quotes what needs quoting and leaves the cost out when the cloud set no prices', () => {
    const text = readers.usageCsv({
      ...REPORT, currency: undefined, totalCost: undefined,
      vms: [{ ...REPORT.vms[0], vmId: 'vm,"1"\nx', operatorCloudId: 'a b', cost: undefined }],
    });
    assert.equal(text.split('\n')[1] + '\n' + text.split('\n')[2],
      '"vm,""1""\nx",a b,0.500000,1.000000,2.000000,50.000000,25.000000,,');
  });

  it('history: VmHistory of the VM in the path', async () => {
    answers.VmHistory = { vm: { id: 'vm-1' }, migrations: [], residencies: [], regulationChanges: [] };
    const res = await call(s.url, '/v1/vms/vm%2F1/history');
    assert.deepEqual(await res.json(), answers.VmHistory);
    assert.deepEqual([s.fabric.calls.at(-1).call.fn, lastInput()], ['VmHistory', { id: 'vm/1' }]);
  });

  it('migrations: ListMigrations, the next page linked with the same query and the bookmark', async () => {
    answers.ListMigrations = { items: [{ id: 'm1' }], bookmark: 'b&1' };
    const res = await call(s.url, '/v1/migrations?cloudId=cloud-b&pageSize=1&from=2026-01-01T00:00:00Z');
    assert.deepEqual(await res.json(), answers.ListMigrations);
    assert.deepEqual(lastInput(), { cloudId: 'cloud-b', pageSize: 1, from: '2026-01-01T00:00:00Z' });
    assert.equal(res.headers.get('link'),
      '</v1/migrations?cloudId=cloud-b&pageSize=1&from=2026-01-01T00%3A00%3A00Z&bookmark=b%261>; rel="next"');
    answers.ListMigrations = { items: [] };
    const last = await call(s.url, '/v1/migrations?cloudId=cloud-b&bookmark=b%261');
    assert.equal(last.headers.get('link'), null, 'no next page after the last');
    assert.equal(lastInput().bookmark, 'b&1');
  });

  it('refuses unknown or repeated parameters and a malformed page size, before Fabric', async () => {
    const before_ = s.fabric.calls.length;
    for (const path of ['/v1/migrations?vmid=x', '/v1/migrations?vmId=a&vmId=b', '/v1/migrations?vmId=a&pageSize=-1',
      '/v1/migrations?vmId=a&pageSize=2x', '/v1/vms/vm-1/history?from=x', '/v1/clouds/c/usage?from=a&to=b&currency=EUR']) {
      await problem(await call(s.url, path), 400, 'BAD_REQUEST');
    }
    assert.equal(s.fabric.calls.length, before_);
  });

  it('need an API key', async () => {
    await problem(await call(s.url, '/v1/vms/vm-1/history', { as: 'none' }), 401, 'UNAUTHENTICATED');
  });
});
