'use strict';
/**
 * Load and lifecycle on the real network: per-step latency of sequential submissions, a few hundred
 * concurrent submissions with none lost, and a SIGTERM that lets in-flight submissions finish.
 *
 * Figures are printed as test diagnostics (lines starting with "# ").
 * VMLEDGER_PROXY_LOAD_N (default 300) and VMLEDGER_PROXY_LOAD_CONCURRENCY (default 50) size the load.
 */
const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { validateConfig } = require('../../src/config');
const { Fabric } = require('../../src/fabric');
const {
  loadNetwork, proxyConfig, startProxy, eventually, client, expectOk, pool, quantile,
} = require('./helpers');

const N = Number(process.env.VMLEDGER_PROXY_LOAD_N ?? 300);
const CONCURRENCY = Number(process.env.VMLEDGER_PROXY_LOAD_CONCURRENCY ?? 50);
const SEQUENTIAL = 30;

const summary = (values) => {
  const s = [...values].sort((a, b) => a - b);
  return `p50 ${quantile(s, 0.5)} p90 ${quantile(s, 0.9)} p99 ${quantile(s, 0.99)} max ${s.at(-1)}`;
};

describe('proxy under load on the real network', () => {
  let network;
  let member;
  let proxy;
  let manager;

  before(async () => {
    network = loadNetwork();
    member = network.members[0];
    proxy = await startProxy(proxyConfig(network, member));
    manager = client(proxy.url, member.apiKeys.manager, { channel: network.channel, chaincode: network.chaincode });
    await eventually(async () => (await fetch(`${proxy.url}/readyz`)).status === 200, 60000, 'proxy /readyz');
  });

  after(async () => {
    if (proxy) await proxy.stop(); // also removes its configuration file
  });

  it(`${SEQUENTIAL} sequential Ping submissions: per-step latency`, async (t) => {
    const timings = [];
    for (let i = 0; i < SEQUENTIAL; i += 1) {
      const t0 = performance.now();
      const body = await expectOk(await manager.submit('Ping', {}));
      assert.equal(body.validationCode, 'VALID');
      timings.push({ ...body.timings, clientMs: Math.round(performance.now() - t0) });
    }
    for (const k of ['endorseMs', 'submitMs', 'commitMs', 'totalMs', 'clientMs']) {
      t.diagnostic(`sequential ${k}: ${summary(timings.map((x) => x[k]))}`);
    }
  });

  it(`${N} concurrent Ping submissions (at most ${CONCURRENCY} at once): none lost`, async (t) => {
    const heightBefore = (await manager.info()).height;
    const t0 = performance.now();
    const results = await pool(Array.from({ length: N }, (_, i) => i), CONCURRENCY, async () => {
      const res = await manager.submit('Ping', {});
      return { status: res.status, body: await res.json() };
    });
    const seconds = (performance.now() - t0) / 1000;
    const heightAfter = (await manager.info()).height;

    const failed = results.filter((r) => r.status !== 200);
    assert.deepEqual(failed.slice(0, 3), [], `${failed.length} of ${N} failed`);
    const txIds = new Set(results.map((r) => r.body.txId));
    assert.equal(txIds.size, N, 'every submission has its own transaction id');
    for (const { body } of results) {
      assert.equal(body.validationCode, 'VALID');
      assert.ok(body.blockNumber >= heightBefore && body.blockNumber < heightAfter,
        `block ${body.blockNumber} within [${heightBefore}, ${heightAfter})`);
    }
    const blocks = new Set(results.map((r) => r.body.blockNumber));
    assert.ok(heightAfter - heightBefore >= blocks.size, 'the height advanced by at least the blocks used');

    // Each transaction is in the ledger: asked of the peer itself through qscc GetTransactionByID for a
    // sample (the proxy's HTTP side does not serve qscc, so the test uses its Fabric layer directly; the
    // answer is a protobuf, success means the peer found the transaction).
    const fabric = new Fabric(validateConfig(proxyConfig(network, member)));
    try {
      for (const txId of [...txIds].filter((_, i) => i % 30 === 0)) {
        await fabric.evaluate('manager', { channel: network.channel, chaincode: 'qscc', fn: 'GetTransactionByID',
          args: [network.channel, txId] });
      }
    } finally {
      fabric.close();
    }

    const totals = results.map((r) => r.body.timings.totalMs);
    t.diagnostic(`load: ${N} submissions, concurrency ${CONCURRENCY}, ${seconds.toFixed(2)} s, `
      + `${(N / seconds).toFixed(1)} tx/s, ${blocks.size} blocks (height ${heightBefore} → ${heightAfter})`);
    t.diagnostic(`load totalMs: ${summary(totals)}`);
    for (const k of ['endorseMs', 'submitMs', 'commitMs']) {
      t.diagnostic(`load ${k}: ${summary(results.map((r) => r.body.timings[k]))}`);
    }
  });

  it('SIGTERM: in-flight submissions finish, then the proxy exits 0', async (t) => {
    const inFlight = async () => {
      const text = await (await fetch(`${proxy.url}/metrics`)).text();
      const line = text.split('\n').find((l) => l.startsWith('vmledger_proxy_in_flight_requests '));
      return Number(line.split(' ')[1]);
    };
    const count = 150;
    const submissions = Array.from({ length: count }, () => manager.submit('Ping', {})
      .then(async (res) => ({ status: res.status, body: await res.json() }))
      .catch((err) => ({ status: 'error', err })));
    // Signal as soon as a good number of submissions are inside the proxy.
    const until = Date.now() + 10000;
    while ((await inFlight()) < 20) {
      assert.ok(Date.now() < until, 'submissions reached the proxy');
    }
    proxy.proc.kill('SIGTERM');
    const results = await Promise.all(submissions);
    const code = await proxy.exited;

    // The proxy says how many requests were in flight when the signal came; each of them must finish.
    const draining = proxy.stderr.find((l) => l.includes('SIGTERM: draining ('));
    assert.ok(draining, proxy.stderr.join('\n'));
    const atSignal = Number(draining.split('draining (')[1].split(' ')[0]);
    const ok = results.filter((r) => r.status === 200 && r.body.validationCode === 'VALID').length;
    const refused = results.filter((r) => r.status === 503 || r.status === 'error').length;
    t.diagnostic(`shutdown: ${atSignal} in flight at SIGTERM; ${ok} answered VALID, ${refused} refused `
      + `(arrived after the signal); exit code ${code}`);
    assert.ok(atSignal >= 20, `${atSignal} in flight at the signal`);
    assert.ok(ok >= atSignal, `${ok} VALID ≥ ${atSignal} in flight at the signal`);
    assert.equal(ok + refused, count, 'every other request was refused cleanly (503 or connection refused)');
    for (const r of results.filter((x) => x.status === 503)) assert.equal(r.body.code, 'UNAVAILABLE');
    assert.equal(code, 0);
    assert.ok(proxy.stderr.some((l) => l.includes('stopped cleanly')), proxy.stderr.join('\n'));
    await assert.rejects(fetch(`${proxy.url}/healthz`), 'no longer listening');
  });
});
