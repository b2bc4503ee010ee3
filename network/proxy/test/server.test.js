'use strict';
/**
 * The real entry point (src/server.js with the real Fabric layer) as a child process, against a peer
 * address where nothing listens: start-up, configuration errors, the unavailable mapping, and SIGTERM.
 * No network needed.
 */
const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { startProxy, eventually } = require('./e2e/helpers');

const SERVER = path.join(__dirname, '..', 'src', 'server.js');
const KEY = 'k'.repeat(40);

function writeFixture() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vmledger-proxy-server-'));
  const { privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const keyFile = path.join(dir, 'key_sk');
  fs.writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }));
  // The client never parses its own certificate (the peer does), so any PEM-looking bytes do here.
  const certFile = path.join(dir, 'cert.pem');
  fs.writeFileSync(certFile, '-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n');
  const caFile = path.join(dir, 'ca.crt');
  fs.writeFileSync(caFile, '-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n');
  return {
    dir,
    config: {
      listen: { host: '127.0.0.1', port: 0 },
      mspId: 'Org1MSP',
      peer: { endpoint: '127.0.0.1:9', hostAlias: 'peer0.org1.vmledger.local', tlsRootCert: caFile },
      identities: { manager: { cert: certFile, key: keyFile } },
      apiKeys: [{ key: KEY, identity: 'manager' }],
      defaults: { channel: 'federation', chaincode: 'vmledger' },
      limits: { endorseMs: 1500, submitMs: 1500, commitMs: 1500, evaluateMs: 1500 },
    },
  };
}

describe('server.js', () => {
  let fixture;
  let proxy;
  before(async () => {
    fixture = writeFixture();
    proxy = await startProxy(fixture.config);
  });
  after(async () => {
    if (proxy) await proxy.stop();
    fs.rmSync(fixture.dir, { recursive: true, force: true });
  });

  it('listens on loopback and answers /healthz', async () => {
    assert.match(proxy.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal((await fetch(`${proxy.url}/healthz`)).status, 200);
  });

  it('maps an unreachable peer to 503 UNAVAILABLE (readyz and submit) and logs one line per request', async () => {
    const ready = await fetch(`${proxy.url}/readyz`);
    assert.equal(ready.status, 503);
    assert.equal((await ready.json()).code, 'UNAVAILABLE');
    const res = await fetch(`${proxy.url}/channels/federation/chaincodes/vmledger/transactions/Ping`, {
      method: 'POST', headers: { 'X-API-Key': KEY, 'Content-Type': 'application/json' }, body: '{"args":["{}"]}',
    });
    const body = await res.json();
    assert.equal(res.status, 503, JSON.stringify(body));
    assert.ok(['UNAVAILABLE', 'TIMEOUT'].includes(body.code), body.code);
    assert.equal(body.retryable, true);
    assert.match(body.txId, /^[0-9a-f]{64}$/);
    const line = await eventually(() => proxy.logs.map((l) => JSON.parse(l)).find((l) => l.txId === body.txId),
      5000, 'the log line');
    assert.equal(line.status, 503);
    assert.equal(line.txId, body.txId);
    assert.equal(line.method, 'POST');
    assert.ok(!proxy.logs.join('\n').includes(KEY), 'the key is never logged');
  });

  it('exits 0 on SIGTERM', async () => {
    assert.equal(await proxy.stop('SIGTERM'), 0);
    assert.ok(proxy.stderr.some((l) => l.includes('stopped cleanly')));
  });

  it('refuses a bad configuration with exit status 2 and every problem listed', () => {
    const bad = path.join(fixture.dir, 'bad.json');
    fs.writeFileSync(bad, JSON.stringify({ ...fixture.config, apiKeys: [{ key: 'short', identity: 'nobody' }] }));
    const run = spawnSync(process.execPath, [SERVER, '--config', bad], { encoding: 'utf8' });
    assert.equal(run.status, 2);
    assert.match(run.stderr, /apiKeys\[0\]\.key/);
    assert.match(run.stderr, /apiKeys\[0\]\.identity/);
    const noVocabulary = path.join(fixture.dir, 'no-vocabulary.json');
    fs.writeFileSync(noVocabulary, JSON.stringify({ ...fixture.config, vocabulary: 'missing/vocabulary.json' }));
    const missing = spawnSync(process.execPath, [SERVER, '--config', noVocabulary], { encoding: 'utf8' });
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /"vocabulary" is not a readable file: .*missing\/vocabulary\.json/);
    const none = spawnSync(process.execPath, [SERVER], { encoding: 'utf8' });
    assert.equal(none.status, 2);
    assert.match(none.stderr, /usage/);
  });
});
