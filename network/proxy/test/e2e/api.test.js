'use strict';
/**
 * The proxy against the real network: every endpoint, auth failures, each error class with the real
 * contract's rejections, asynchronous submission, and the event stream resuming after a reconnect.
 *
 * Run: node --test --test-concurrency=1 test/e2e/*.test.js (with the network up).
 */
const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { dashboardFamilies, exposed } = require('../dashboard');
const {
  MEMBERS_FILE, RUN, loadNetwork, proxyConfig, startProxy, eventually, client, expectProblem, expectOk, readEvents,
} = require('./helpers');

const sha256 = (s) => crypto.createHash('sha256').update(s).digest('hex');
const caps = (cpuCores, memoryMib) => ({ cpuCores, memoryMib, networkMbps: 1000, ioMbps: 1000 });
/** A cold Indication under a fresh transfer key (no image travels here: the HMAC stands for one). */
const indication = (vmId, destinationHostId, imageHash) => {
  const key = crypto.randomBytes(32);
  return {
    vmId, destinationHostId, imageHash,
    keyedDigest: crypto.createHmac('sha256', key).update(imageHash).digest('hex'),
    transferKeyHash: crypto.createHash('sha256').update(key).digest('hex'),
  };
};

describe('gateway REST proxy on the real network', () => {
  let network;
  let member;
  let proxy;
  let manager;
  let operator;
  let channel;
  let chaincode;
  // Clouds and hosts are named in the member's namespace (`org1.…`); filled in once the member is known.
  const ids = {};
  let own;
  let scenarioStartHeight;

  before(async () => {
    network = loadNetwork();
    ({ channel, chaincode } = network);
    member = network.members[0];
    own = (name) => `${member.mspId.toLowerCase().replace(/msp$/, '')}.e2e-${RUN}-${name}`;
    Object.assign(ids, {
      // The VM's home cloud, and a second cloud of the same member: a migration between the two is
      // recorded on the federation (one inside a cloud goes to the member's local chain).
      cloud: own('cloud'), cloud2: own('cloud2'),
      hostDe: own('h-de'), hostUs: own('h-us'), hostSmall: own('h-small'), hostDe2: own('h-de2'),
      vm: `e2e-${RUN}-vm`,
    });
    proxy = await startProxy(proxyConfig(network, member));
    manager = client(proxy.url, member.apiKeys.manager, { channel, chaincode });
    operator = client(proxy.url, member.apiKeys.operator, { channel, chaincode });
    await eventually(async () => (await fetch(`${proxy.url}/readyz`)).status === 200, 60000, 'proxy /readyz');
  });

  after(async () => {
    if (proxy) assert.equal(await proxy.stop(), 0, 'the proxy exits 0 on SIGTERM');
  });

  describe('operations endpoints', () => {
    it('the network\'s own proxies are up and ready', async () => {
      for (const m of network.members) {
        assert.ok(m.proxy?.url, `members.json gives ${m.org} a proxy url`);
        assert.equal((await fetch(`${m.proxy.url}/healthz`)).status, 200, `${m.org} /healthz`);
        const ready = await fetch(`${m.proxy.url}/readyz`);
        assert.equal(ready.status, 200, `${m.org} /readyz: ${await ready.text()}`);
      }
    });

    it('/healthz and /readyz answer without a key', async () => {
      assert.deepEqual(await expectOk(await fetch(`${proxy.url}/healthz`)), { status: 'ok' });
      const ready = await expectOk(await fetch(`${proxy.url}/readyz`));
      assert.equal(ready.status, 'ready');
      assert.equal(ready.checks.chaincode, chaincode);
    });

    it('/openapi.json is an OpenAPI 3.1 document', async () => {
      const doc = await expectOk(await fetch(`${proxy.url}/openapi.json`));
      assert.equal(doc.openapi, '3.1.0');
      assert.ok(doc.paths['/channels/{channel}/chaincodes/{chaincode}/transactions/{fn}'].post);
    });

    it('/channels/{channel}/info answers the height and hashes from qscc', async () => {
      const info = await manager.info();
      assert.ok(Number.isInteger(info.height) && info.height > 1);
      assert.match(info.currentBlockHash, /^[0-9a-f]{64}$/);
      assert.match(info.previousBlockHash, /^[0-9a-f]{64}$/);
    });
  });

  describe('authentication', () => {
    const endorsements = async () => {
      const text = await (await fetch(`${proxy.url}/metrics`)).text();
      const line = text.split('\n').find((l) => l.startsWith('vmledger_proxy_fabric_step_duration_seconds_count{step="endorse"}'));
      const evals = text.split('\n').find((l) => l.startsWith('vmledger_proxy_fabric_step_duration_seconds_count{step="evaluate"}'));
      return `${line ?? 0}|${evals ?? 0}`;
    };

    it('answers 401 for a missing or unknown key, and such requests never reach Fabric', async () => {
      const before_ = await endorsements();
      const heightBefore = (await manager.info()).height;
      const anon = client(proxy.url, undefined, { channel, chaincode });
      const wrong = client(proxy.url, 'f'.repeat(64), { channel, chaincode });
      for (const c of [anon, wrong]) {
        await expectProblem(await c.submit('Ping', {}), 401, 'UNAUTHENTICATED');
        await expectProblem(await c.query('Ping', {}), 401, 'UNAUTHENTICATED');
        await expectProblem(await c.get(`/channels/${channel}/info`), 401, 'UNAUTHENTICATED');
        await expectProblem(await c.events('?startBlock=0'), 401, 'UNAUTHENTICATED');
      }
      assert.equal(await endorsements(), before_, 'no endorse or evaluate happened');
      assert.equal((await manager.info()).height, heightBefore, 'nothing was written');
    });

    it('never writes a key to its log', () => {
      const all = proxy.logs.join('\n') + proxy.stderr.join('\n');
      for (const key of Object.values(member.apiKeys)) assert.ok(!all.includes(key));
    });
  });

  describe('transactions', () => {
    it('submits Ping: 200, VALID, block number, result, per-step timings; the chain grows', async () => {
      const before_ = (await manager.info()).height;
      const body = await expectOk(await manager.submit('Ping', {}));
      assert.match(body.txId, /^[0-9a-f]{64}$/);
      assert.equal(body.validationCode, 'VALID');
      assert.ok(body.blockNumber >= before_, `block ${body.blockNumber} ≥ height before ${before_}`);
      assert.equal(typeof body.result, 'object', 'the contract answers JSON');
      for (const k of ['endorseMs', 'submitMs', 'commitMs', 'totalMs']) assert.ok(Number.isInteger(body.timings[k]), k);
      assert.ok(body.timings.totalMs >= body.timings.endorseMs + body.timings.commitMs - 2);
      assert.ok((await manager.info()).height > body.blockNumber);
      const line = proxy.logs.map((l) => JSON.parse(l)).find((l) => l.txId === body.txId);
      assert.equal(line.status, 200);
      assert.equal(line.fn, 'Ping');
    });

    it('submits asynchronously: 202 with a status URL that reports the commit', async () => {
      const res = await manager.submit('Ping', {}, { Prefer: 'respond-async' });
      const accepted = await expectOk(res, 202);
      assert.equal(accepted.statusUrl, `/channels/${channel}/transactions/${accepted.txId}`);
      const record = await eventually(async () => {
        const r = await expectOk(await manager.get(accepted.statusUrl));
        return r.status === 'pending' ? undefined : r;
      }, 30000, 'async commit');
      assert.equal(record.status, 'committed');
      assert.equal(record.validationCode, 'VALID');
      assert.ok(Number.isInteger(record.blockNumber));
      assert.ok(Number.isInteger(record.timings.commitMs));
      await expectProblem(await manager.get(`/channels/${channel}/transactions/${'0'.repeat(64)}`), 404, 'NOT_FOUND');
    });

    it('evaluates Ping without writing', async () => {
      const before_ = (await manager.info()).height;
      const body = await expectOk(await operator.query('Ping', {}));
      assert.ok('result' in body);
      assert.equal((await manager.info()).height, before_);
    });
  });

  describe('contract rejections, mapped to problems', () => {
    before(async () => {
      scenarioStartHeight = (await manager.info()).height;
    });

    it('registers two clouds, their hosts and a VM (manager identity)', async () => {
      const cloud = await expectOk(await manager.submit('RegisterCloud', { id: ids.cloud, name: 'E2E cloud' }));
      assert.equal(cloud.result.id, ids.cloud);
      assert.equal(cloud.result.mspId, member.mspId);
      await expectOk(await manager.submit('RegisterCloud', { id: ids.cloud2, name: 'E2E cloud 2' }));
      for (const [id, cloudId, country, capacity] of [[ids.hostDe, ids.cloud, 'DE', caps(16, 65536)],
        [ids.hostUs, ids.cloud2, 'US', caps(16, 65536)], [ids.hostSmall, ids.cloud2, 'DE', caps(1, 1024)]]) {
        await expectOk(await manager.submit('RegisterHost', {
          id, cloudId, country, organizations: ['E2E Org'], capacity,
        }));
      }
      const vm = await expectOk(await manager.submit('RegisterVm', {
        id: ids.vm, cloudId: ids.cloud, hostId: ids.hostDe, requirements: caps(2, 2048),
        imageHash: sha256(ids.vm), regulation: { countries: ['DE'], organizations: 'All' },
      }));
      assert.equal(vm.result.hostId, ids.hostDe);
      const got = await expectOk(await operator.query('GetVm', { id: ids.vm }));
      assert.equal(got.result.id, ids.vm);
    });

    it('GetVm of an unknown id → 404 NOT_FOUND', async () => {
      const p = await expectProblem(await operator.query('GetVm', { id: `e2e-${RUN}-nope` }), 404, 'NOT_FOUND');
      assert.match(p.detail, /nope/);
      assert.equal(p.type, 'urn:vmledger:problem:NOT_FOUND');
    });

    it('RegisterCloud twice → 409 ALREADY_EXISTS with the transaction id', async () => {
      const p = await expectProblem(await manager.submit('RegisterCloud', { id: ids.cloud, name: 'again' }), 409, 'ALREADY_EXISTS');
      assert.match(p.txId, /^[0-9a-f]{64}$/);
      assert.equal(p.retryable, undefined);
    });

    it('RegisterCloud by an operator (not a manager) → 403 UNAUTHORIZED', async () => {
      await expectProblem(await operator.submit('RegisterCloud', { id: own('c2'), name: 'x' }), 403, 'UNAUTHORIZED');
    });

    it('malformed contract input → 400 INVALID_ARGUMENT', async () => {
      await expectProblem(await operator.query('GetVm', { vm: 'x' }), 400, 'INVALID_ARGUMENT');
      await expectProblem(await manager.submit('RegisterHost', {
        id: own('h-bad'), cloudId: ids.cloud, country: 'ZZ', organizations: ['o'], capacity: caps(1, 1),
      }), 400, 'INVALID_ARGUMENT');
    });

    it('Migrate to a forbidden country → 422 POLICY_DENIED with the contract\'s details', async () => {
      const p = await expectProblem(await manager.submit('Migrate', indication(ids.vm, ids.hostUs, sha256(ids.vm))),
        422, 'POLICY_DENIED');
      assert.match(p.detail, /US/);
      assert.ok(p.details !== undefined, 'details passed through');
    });

    it('Migrate to a host without room → 422 CAPACITY_EXCEEDED', async () => {
      await expectProblem(await manager.submit('Migrate', indication(ids.vm, ids.hostSmall, sha256(ids.vm))),
        422, 'CAPACITY_EXCEEDED');
    });

    it('concurrent updates of one host → some 409 MVCC_READ_CONFLICT, retryable, with txId (others 200 or 503 retryable)', async () => {
      let conflict;
      for (let round = 0; round < 5 && !conflict; round += 1) {
        const responses = await Promise.all(Array.from({ length: 12 }, (_, i) => manager.submit('UpdateHost', {
          id: ids.hostDe, capacity: caps(16 + round * 12 + i, 65536),
        })));
        const bodies = await Promise.all(responses.map(async (r) => ({ status: r.status, body: await r.json() })));
        for (const { status, body } of bodies) {
          // Endorsers of the two orgs may read different versions while a block is being committed: the
          // gateway then reports mismatched proposal responses, which the proxy answers 503 retryable.
          assert.ok(status === 200 || status === 409 || (status === 503 && body.retryable), JSON.stringify(body));
          if (status === 409) {
            assert.equal(body.code, 'MVCC_READ_CONFLICT', JSON.stringify(body));
            conflict ??= body;
          }
        }
        assert.ok(bodies.some((b) => b.status === 200), 'at least one update wins');
      }
      assert.ok(conflict, 'saw an MVCC conflict');
      assert.equal(conflict.retryable, true);
      assert.match(conflict.txId, /^[0-9a-f]{64}$/);
      assert.equal(conflict.details.validationCode, 'MVCC_READ_CONFLICT');
    });
  });

  describe('chaincode events over SSE', () => {
    const ours = (messages) => messages.filter((m) => String(m.data?.payload?.id ?? '').includes(`e2e-${RUN}-`));
    const expected = () => [
      ['CloudRegistered', ids.cloud], ['CloudRegistered', ids.cloud2], ['HostRegistered', ids.hostDe],
      ['HostRegistered', ids.hostUs],
      ['HostRegistered', ids.hostSmall], ['VmRegistered', ids.vm],
    ];

    it('replays from startBlock, and resumes after a reconnect with Last-Event-ID: no loss, no duplicate', async () => {
      assert.ok(scenarioStartHeight !== undefined, 'the rejection scenario ran first');
      // First connection: read until two of our events arrived, then drop the connection.
      const first = await readEvents(await manager.events(`?startBlock=${scenarioStartHeight}`),
        (msgs) => ours(msgs).length >= 2);
      assert.ok(ours(first).length >= 2, 'first connection saw two events');
      const lastId = first.at(-1).id;
      assert.match(lastId, /^\d+:\d+$/);

      // Second connection resumes after the last id received.
      const second = await readEvents(await manager.events('', { 'Last-Event-ID': lastId }),
        (msgs) => ours(first).length + ours(msgs).length >= expected().length);
      const all = [...first, ...second];
      const seen = ours(all).map((m) => [m.event, m.data.payload.id]);
      // UpdateHost events (HostUpdated) of the MVCC test come after; keep the registrations.
      assert.deepEqual(seen.filter(([e]) => e !== 'HostUpdated').slice(0, expected().length), expected());

      // Ids strictly increase across the reconnect; no id is delivered twice.
      const keys = all.map((m) => m.id.split(':').map(Number));
      for (let i = 1; i < keys.length; i += 1) {
        const [b0, i0] = keys[i - 1];
        const [b1, i1] = keys[i];
        assert.ok(b1 > b0 || (b1 === b0 && i1 > i0), `ids increase: ${all[i - 1].id} then ${all[i].id}`);
      }
      for (const m of all) {
        assert.equal(m.event, m.data.eventName);
        assert.match(m.data.txId, /^[0-9a-f]{64}$/);
        assert.equal(m.data.blockNumber, Number(m.id.split(':')[0]));
      }
    });

    it('delivers new events live (stream opened before the transaction)', async () => {
      const res = await manager.events();
      const hostId = own('h-live');
      const reading = readEvents(res, (msgs) => msgs.some((m) => m.data?.payload?.id === hostId));
      await new Promise((r) => setTimeout(r, 300)); // let the stream register with the peer
      await expectOk(await manager.submit('RegisterHost', {
        id: hostId, cloudId: ids.cloud, country: 'FR', organizations: ['E2E Org'], capacity: caps(4, 4096),
      }));
      const msgs = await reading;
      const live = msgs.find((m) => m.data?.payload?.id === hostId);
      assert.ok(live, 'the live event arrived');
      assert.equal(live.event, 'HostRegistered');
      assert.equal(live.data.payload.country, 'FR');
    });

    it('rejects a malformed resume position with 400', async () => {
      await expectProblem(await manager.events('?startBlock=-3'), 400, 'BAD_REQUEST');
      await expectProblem(await manager.events('', { 'Last-Event-ID': 'abc' }), 400, 'BAD_REQUEST');
    });
  });

  describe('typed routes and REST readers, from the contract\'s vocabulary', () => {
    const typed = (key) => ({
      post: (p, body, extra = {}) => fetch(`${proxy.url}${p}`, {
        method: 'POST', headers: { 'X-API-Key': key, 'Content-Type': 'application/json', ...extra }, body: JSON.stringify(body),
      }),
      get: (p, extra = {}) => fetch(`${proxy.url}${p}`, { headers: { 'X-API-Key': key, ...extra } }),
    });

    it('submits and evaluates with the input object as the body', async () => {
      const a = typed(member.apiKeys.manager);
      const host = await expectOk(await a.post('/v1/transactions/RegisterHost', {
        id: ids.hostDe2, cloudId: ids.cloud2, country: 'DE', organizations: ['E2E Org'], capacity: caps(8, 8192),
      }));
      assert.equal(host.validationCode, 'VALID');
      assert.equal(host.result.id, ids.hostDe2);
      const got = await expectOk(await typed(member.apiKeys.operator).post('/v1/queries/GetHost', { id: ids.hostDe2 }));
      assert.equal(got.result.country, 'DE');
      await expectProblem(await a.post('/v1/transactions/Migrate', indication(ids.vm, ids.hostUs, sha256(ids.vm))),
        422, 'POLICY_DENIED');
    });

    it('refuses what is not the contract\'s before Fabric: unknown functions, other chaincodes, wrong arity', async () => {
      const heightBefore = (await manager.info()).height;
      const body = await expectProblem(await typed(member.apiKeys.manager).post('/v1/transactions/Teleport', {}), 404, 'NOT_FOUND');
      assert.deepEqual(body.details, { kind: 'function', id: 'Teleport' });
      const qscc = client(proxy.url, member.apiKeys.manager, { channel, chaincode: 'qscc' });
      await expectProblem(await qscc.query('GetChainInfo', channel), 404, 'ROUTE_NOT_FOUND');
      const tx = `${proxy.url}/channels/${channel}/chaincodes/${chaincode}/transactions/Ping`;
      const key = { 'X-API-Key': member.apiKeys.manager, 'Content-Type': 'application/json' };
      const arity = await expectProblem(await fetch(tx, { method: 'POST', headers: key, body: '{"args": []}' }), 400, 'BAD_REQUEST');
      assert.match(arity.detail, /^Ping takes exactly one argument/);
      assert.equal((await manager.info()).height, heightBefore, 'nothing was ordered');
    });

    it('reads a VM\'s history, its migrations page by page (Link: rel="next"), and a cloud\'s usage as CSV', async () => {
      const a = typed(member.apiKeys.manager);
      const migrations = [];
      for (let i = 0; i < 2; i += 1) {
        const m = await expectOk(await a.post('/v1/transactions/Migrate', indication(ids.vm, ids.hostDe2, sha256(ids.vm))));
        migrations.push(m.result.id);
        await expectOk(await a.post('/v1/transactions/CancelMigration', { migrationId: m.result.id, reason: 'e2e' }));
      }
      const history = await expectOk(await a.get(`/v1/vms/${ids.vm}/history`));
      assert.equal(history.vm.id, ids.vm);
      assert.deepEqual(history.migrations.map((m) => m.id), migrations);

      const first = await a.get(`/v1/migrations?vmId=${ids.vm}&pageSize=1`);
      const page1 = await expectOk(first);
      assert.deepEqual(page1.items.map((m) => m.id), [migrations[0]]);
      const link = first.headers.get('link');
      assert.match(link, /^<\/v1\/migrations\?.*bookmark=.*>; rel="next"$/);
      const page2 = await expectOk(await a.get(link.slice(1, link.indexOf('>'))));
      assert.deepEqual(page2.items.map((m) => m.id), [migrations[1]]);

      // A report covers at most 366 days: this run's last hour holds the VM's stay.
      const to = new Date(Date.now() + 60000).toISOString();
      const from = new Date(Date.now() - 3600000).toISOString();
      const csv = await a.get(`/v1/clouds/${ids.cloud}/usage?from=${from}&to=${to}`, { Accept: 'text/csv' });
      assert.equal(csv.status, 200, await csv.clone().text());
      assert.match(csv.headers.get('content-type'), /^text\/csv/);
      const lines = (await csv.text()).trim().split('\n');
      assert.equal(lines[0], 'vm,operator,hours,cpu_core_hours,memory_gib_hours,network_mbps_hours,io_mbps_hours,cost,currency');
      assert.ok(lines.some((l) => l.startsWith(`${ids.vm},${ids.cloud},`)), lines.join('\n'));
      const json = await expectOk(await a.get(`/v1/clouds/${ids.cloud}/usage?from=${from}&to=${to}`));
      assert.ok(json.vms.some((v) => v.vmId === ids.vm));
    });

    it('renders /docs and types every function in /openapi.json', async () => {
      const page = await fetch(`${proxy.url}/docs`);
      assert.equal(page.status, 200);
      const doc = await expectOk(await fetch(`${proxy.url}/openapi.json`));
      assert.ok(doc.paths['/v1/transactions/Migrate'].post);
      assert.ok(doc.paths['/v1/clouds/{id}/usage'].get);
    });
  });

  describe('proxy-side errors', () => {
    it('400 for a bad body, 404/405 for unknown routes and methods, 413 for a large body', async () => {
      const tx = `${proxy.url}/channels/${channel}/chaincodes/${chaincode}/transactions/Ping`;
      const key = { 'X-API-Key': member.apiKeys.manager, 'Content-Type': 'application/json' };
      await expectProblem(await fetch(tx, { method: 'POST', headers: key, body: '{"args": [1]}' }), 400, 'BAD_REQUEST');
      await expectProblem(await fetch(tx, { method: 'POST', headers: key, body: 'nope' }), 400, 'BAD_REQUEST');
      await expectProblem(await fetch(tx, { headers: key }), 405, 'METHOD_NOT_ALLOWED');
      await expectProblem(await fetch(`${proxy.url}/v2/anything`, { headers: key }), 404, 'ROUTE_NOT_FOUND');
      const big = JSON.stringify({ args: ['x'.repeat(1048577)] });
      await expectProblem(await fetch(tx, { method: 'POST', headers: key, body: big }), 413, 'PAYLOAD_TOO_LARGE');
    });

    it('an unknown channel or chaincode is an error problem, not a 500', async () => {
      const other = client(proxy.url, member.apiKeys.manager, { channel: 'nosuchchannel', chaincode });
      const r1 = await other.query('Ping', {});
      assert.ok([404, 503].includes(r1.status), `${r1.status} ${await r1.clone().text()}`);
      assert.equal(r1.headers.get('content-type'), 'application/problem+json');
      const missing = client(proxy.url, member.apiKeys.manager, { channel, chaincode: 'nosuchcc' });
      const r2 = await missing.submit('Ping', {});
      assert.ok(r2.status >= 400 && r2.status !== 500, `${r2.status} ${await r2.clone().text()}`);
    });

    it('more requests than limits.inFlight → 429 TOO_MANY_REQUESTS with Retry-After; the others commit', async () => {
      const capped = await startProxy(proxyConfig(network, member, { inFlight: 2 }));
      try {
        const c = client(capped.url, member.apiKeys.manager, { channel, chaincode });
        const responses = await Promise.all(Array.from({ length: 10 }, () => c.submit('Ping', {})));
        const statuses = responses.map((r) => r.status);
        assert.ok(statuses.includes(429), statuses.join());
        assert.ok(statuses.includes(200), statuses.join());
        assert.ok(statuses.every((st) => st === 200 || st === 429), statuses.join());
        const limited = responses.find((r) => r.status === 429);
        assert.equal(limited.headers.get('retry-after'), '1');
        await expectProblem(limited, 429, 'TOO_MANY_REQUESTS');
        await Promise.all(responses.map((r) => r.body?.cancel().catch(() => {})));
      } finally {
        assert.equal(await capped.stop(), 0);
      }
    });

    it('an unreachable peer → 503 UNAVAILABLE retryable; /readyz 503', async () => {
      const cfg = proxyConfig(network, member, { endorseMs: 2000, evaluateMs: 2000 });
      cfg.peer = { ...cfg.peer, endpoint: '127.0.0.1:9' }; // discard port: nothing listens
      const dead = await startProxy(cfg);
      try {
        const c = client(dead.url, member.apiKeys.manager, { channel, chaincode });
        const p = await expectProblem(await c.submit('Ping', {}), 503, 'UNAVAILABLE');
        assert.equal(p.retryable, true);
        await expectProblem(await fetch(`${dead.url}/readyz`), 503, 'UNAVAILABLE');
        assert.equal((await fetch(`${dead.url}/healthz`)).status, 200);
      } finally {
        assert.equal(await dead.stop(), 0);
      }
    });

    it('a step over its deadline → 503 TIMEOUT retryable', async () => {
      const slow = await startProxy(proxyConfig(network, member, { endorseMs: 1, evaluateMs: 1 }));
      try {
        const c = client(slow.url, member.apiKeys.manager, { channel, chaincode });
        const p = await expectProblem(await c.submit('Ping', {}), 503, 'TIMEOUT');
        assert.equal(p.retryable, true);
        assert.match(p.detail, /^endorse timed out/);
        await expectProblem(await c.query('Ping', {}), 503, 'TIMEOUT');
      } finally {
        assert.equal(await slow.stop(), 0);
      }
    });
  });

  describe('metrics', () => {
    it('count requests by route and status, errors by code, and step latencies', async () => {
      const text = await (await fetch(`${proxy.url}/metrics`)).text();
      assert.match(text, /vmledger_proxy_http_requests_total\{method="POST",route="\/channels\/\{channel\}\/chaincodes\/\{chaincode\}\/transactions\/\{fn\}",status="200"\} \d+/);
      for (const code of ['UNAUTHENTICATED', 'NOT_FOUND', 'ALREADY_EXISTS', 'POLICY_DENIED', 'MVCC_READ_CONFLICT']) {
        assert.match(text, new RegExp(`vmledger_proxy_errors_total\\{code="${code}"\\} \\d+`), code);
      }
      for (const step of ['endorse', 'submit', 'commit', 'evaluate', 'chaininfo']) {
        assert.match(text, new RegExp(`vmledger_proxy_fabric_step_duration_seconds_count\\{step="${step}"\\} [1-9]`), step);
      }
      assert.match(text, /vmledger_proxy_transactions_total\{validation_code="MVCC_READ_CONFLICT"\} [1-9]/);
    });

    it('every Fabric metric the Grafana dashboard queries is exposed by the network\'s peers or orderers', async () => {
      // network.json (beside members.json) lists each peer's and orderer's operations endpoint.
      const file = path.join(path.dirname(MEMBERS_FILE), 'network.json');
      const { peers, orderers } = JSON.parse(fs.readFileSync(file, 'utf8'));
      const have = new Set();
      for (const { operations } of [...peers, ...orderers]) {
        const res = await fetch(`${operations}/metrics`);
        assert.equal(res.status, 200, `${operations}/metrics`);
        for (const name of exposed(await res.text())) have.add(name);
      }
      const { fabric } = dashboardFamilies();
      assert.ok(fabric.length >= 10, fabric.join());
      const missing = fabric.filter((name) => !have.has(name));
      assert.deepEqual(missing, [], `exposed: ${[...have].filter((n) => !n.startsWith('go_')).sort().join(' ')}`);
    });
  });
});
