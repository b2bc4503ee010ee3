'use strict';
const { describe, it, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { ConfigError, DEFAULT_LIMITS, validateConfig, loadConfig } = require('../src/config');

const dirs = [];
after(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

function tmpFiles() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vmledger-proxy-config-'));
  dirs.push(dir);
  const file = (name, text = 'x') => {
    const p = path.join(dir, name);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, text);
    return p;
  };
  return { dir, file };
}

function valid(t) {
  return {
    listen: { host: '127.0.0.1', port: 7101 },
    mspId: 'Org1MSP',
    peer: { endpoint: '127.0.0.1:7051', hostAlias: 'peer0.org1.vmledger.local', tlsRootCert: t.file('ca.crt') },
    identities: {
      manager: { cert: t.file('admin/cert.pem'), key: t.file('admin/keystore/priv_sk') },
      operator: { cert: t.file('user/cert.pem'), key: t.file('user/key_sk') },
    },
    apiKeys: [{ key: '0123456789abcdef0123', identity: 'manager' }, { key: 'fedcba9876543210fedc', identity: 'operator' }],
    defaults: { channel: 'federation', chaincode: 'vmledger' },
    limits: { bodyBytes: 2048, inFlight: 8, endorseMs: 100, submitMs: 100, commitMs: 100, evaluateMs: 100 },
  };
}

function problemsOf(raw, opts) {
  try {
    validateConfig(raw, opts);
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.problems;
  }
  return [];
}

describe('validateConfig', () => {
  it('accepts the interfaces.md format and keeps the given limits', () => {
    const t = tmpFiles();
    const c = validateConfig(valid(t));
    assert.equal(c.listen.port, 7101);
    assert.equal(c.limits.bodyBytes, 2048);
    assert.equal(c.limits.eventStreams, DEFAULT_LIMITS.eventStreams, 'optional limits defaulted');
    assert.deepEqual(c.apiKeys.map((k) => k.identity), ['manager', 'operator']);
  });

  it('fills defaults for listen, defaults and limits', () => {
    const t = tmpFiles();
    const raw = valid(t);
    delete raw.listen;
    delete raw.defaults;
    delete raw.limits;
    const c = validateConfig(raw);
    assert.deepEqual(c.listen, { host: '127.0.0.1', port: 7101 });
    assert.deepEqual(c.defaults, { channel: 'federation', chaincode: 'vmledger' });
    assert.deepEqual(c.limits, { ...DEFAULT_LIMITS });
  });

  it('resolves a keystore directory holding one file to that file', () => {
    const t = tmpFiles();
    const raw = valid(t);
    raw.identities.manager.key = path.dirname(raw.identities.manager.key);
    const c = validateConfig(raw);
    assert.equal(path.basename(c.identities.manager.key), 'priv_sk');
  });

  it('lists every problem at once', () => {
    const t = tmpFiles();
    const raw = valid(t);
    raw.listen.port = 70000;
    raw.peer.hostAlias = '';
    raw.apiKeys.push({ key: 'short', identity: 'manager' });
    raw.apiKeys.push({ key: '0123456789abcdef0123', identity: 'ghost' });
    raw.limits.inFlight = -1;
    const problems = problemsOf(raw);
    assert.equal(problems.length, 6, problems.join('\n'));
    for (const needle of ['listen.port', 'peer.hostAlias', 'apiKeys[2].key', 'apiKeys[3].identity', 'apiKeys[3].key is used twice', 'limits.inFlight']) {
      assert.ok(problems.some((p) => p.includes(needle)), `expected a problem about ${needle}: ${problems.join(' | ')}`);
    }
  });

  it('requires the certificate and key files to exist', () => {
    const t = tmpFiles();
    const raw = valid(t);
    raw.peer.tlsRootCert = path.join(t.dir, 'missing.crt');
    raw.identities.operator.key = path.join(t.dir, 'nope');
    const problems = problemsOf(raw);
    assert.equal(problems.length, 2, problems.join('\n'));
    assert.equal(problemsOf(raw, { checkFiles: false }).length, 0);
  });

  it('rejects missing sections and non-objects', () => {
    assert.ok(problemsOf([]).length > 0);
    const problems = problemsOf({}, { checkFiles: false });
    for (const needle of ['mspId', 'peer', 'identities', 'apiKeys']) {
      assert.ok(problems.some((p) => p.includes(needle)), needle);
    }
  });

  it('warns about unknown keys instead of failing', () => {
    const t = tmpFiles();
    const raw = { ...valid(t), org: 'org1' };
    raw.limits.bogus = 1;
    const warnings = [];
    validateConfig(raw, { warn: (w) => warnings.push(w) });
    assert.equal(warnings.length, 2);
  });
});

describe('loadConfig', () => {
  it('reports unreadable and malformed files as ConfigError', () => {
    const t = tmpFiles();
    assert.throws(() => loadConfig(path.join(t.dir, 'absent.json')), ConfigError);
    assert.throws(() => loadConfig(t.file('bad.json', '{')), /not valid JSON/);
    const good = t.file('good.json', JSON.stringify(valid(t)));
    assert.equal(loadConfig(good).mspId, 'Org1MSP');
  });
});
