'use strict';
/**
 * Helpers for the end-to-end tests: the running network's members.json, proxies of this checkout started
 * against it (on ephemeral loopback ports), HTTP calls and an SSE reader.
 *
 * The network must be up (network/vmledger-net up, or the lead's scripts/test). These tests never skip:
 * without a network they fail and say how to bring one up.
 */

const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { readEvents } = require('../helpers');

const PROXY_DIR = path.resolve(__dirname, '..', '..');
const REPO = path.resolve(PROXY_DIR, '..', '..');
const SERVER = path.join(PROXY_DIR, 'src', 'server.js');
const MEMBERS_FILE = process.env.VMLEDGER_NETWORK_FILE ?? path.join(REPO, 'network', 'run', 'members.json');

/** The network's members.json; throws a clear error when the network is not up. */
function loadNetwork() {
  let text;
  try {
    text = fs.readFileSync(MEMBERS_FILE, 'utf8');
  } catch {
    throw new Error(`end-to-end tests need a running network: ${MEMBERS_FILE} not found. `
      + 'Bring one up with `network/vmledger-net up` (or run scripts/test), or point VMLEDGER_NETWORK_FILE at '
      + 'another members.json.');
  }
  const network = JSON.parse(text);
  assert.ok(Array.isArray(network.members) && network.members.length > 0, `${MEMBERS_FILE} lists no members`);
  return network;
}

/** Proxy configuration for a member, as vmledger-net writes it, on an ephemeral port. */
function proxyConfig(network, member, limits = {}) {
  return {
    listen: { host: '127.0.0.1', port: 0 },
    mspId: member.mspId,
    peer: member.peer,
    identities: member.identities,
    apiKeys: Object.entries(member.apiKeys).map(([identity, key]) => ({ key, identity })),
    defaults: { channel: network.channel, chaincode: network.chaincode },
    limits: {
      bodyBytes: 1048576, inFlight: 512, endorseMs: 15000, submitMs: 5000, commitMs: 60000, evaluateMs: 5000,
      ...limits,
    },
  };
}

/**
 * Start `node src/server.js` with a configuration; resolves once it listens.
 * @returns {Promise<{url: string, proc: import('node:child_process').ChildProcess, logs: string[],
 *   stderr: string[], exited: Promise<number|null>, stop: (signal?: string) => Promise<number|null>}>}
 */
async function startProxy(config) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vmledger-proxy-e2e-'));
  const file = path.join(dir, 'proxy.json');
  fs.writeFileSync(file, JSON.stringify(config, null, 2), { mode: 0o600 });
  const proc = spawn(process.execPath, [SERVER, '--config', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  const logs = [];
  const stderr = [];
  lines(proc.stdout, (l) => logs.push(l));
  const exited = new Promise((resolve) => { proc.on('exit', (code) => resolve(code)); });
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`proxy did not start: ${stderr.join('\n')}`)), 15000);
    lines(proc.stderr, (l) => {
      stderr.push(l);
      const at = l.indexOf('listening on http://');
      if (at >= 0) {
        clearTimeout(timer);
        resolve(l.slice(at + 'listening on '.length).split(' ')[0]);
      }
    });
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`proxy exited with ${code}: ${stderr.join('\n')}`));
    });
  });
  return {
    url,
    proc,
    logs,
    stderr,
    exited,
    async stop(signal = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      const code = await exited;
      fs.rmSync(dir, { recursive: true, force: true });
      return code;
    },
  };
}

function lines(stream, onLine) {
  let buf = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk) => {
    buf += chunk;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      onLine(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
    }
  });
}

/** Poll `check` until it returns a truthy value (or throw after `ms`). */
async function eventually(check, ms = 30000, what = 'condition') {
  const until = Date.now() + ms;
  let last;
  while (Date.now() < until) {
    try {
      const v = await check();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}`);
}

/** A small client for one proxy and one API key. */
function client(url, key, { channel = 'federation', chaincode = 'vmledger' } = {}) {
  const headers = (extra = {}) => (key === undefined ? { ...extra } : { 'X-API-Key': key, ...extra });
  const post = (p, body, extra) => fetch(`${url}${p}`, {
    method: 'POST', headers: headers({ 'Content-Type': 'application/json', ...extra }), body: JSON.stringify(body),
  });
  return {
    url,
    submit: (fn, arg, extra) => post(`/channels/${channel}/chaincodes/${chaincode}/transactions/${fn}`,
      { args: [JSON.stringify(arg)] }, extra),
    query: (fn, arg) => post(`/channels/${channel}/chaincodes/${chaincode}/queries/${fn}`, { args: [JSON.stringify(arg)] }),
    get: (p, extra) => fetch(`${url}${p}`, { headers: headers(extra) }),
    info: async () => {
      const res = await fetch(`${url}/channels/${channel}/info`, { headers: headers() });
      assert.equal(res.status, 200, await res.clone().text());
      return res.json();
    },
    events: (query = '', extra = {}) => fetch(`${url}/channels/${channel}/chaincodes/${chaincode}/events${query}`, {
      headers: headers(extra),
    }),
  };
}

/** Expect a problem response; returns its body. */
async function expectProblem(res, status, code) {
  const text = await res.text();
  assert.equal(res.status, status, text);
  assert.equal(res.headers.get('content-type'), 'application/problem+json', text);
  const body = JSON.parse(text);
  assert.equal(body.code, code, text);
  assert.equal(body.status, status);
  return body;
}

/** Expect 200 and return the JSON body. */
async function expectOk(res, status = 200) {
  const text = await res.text();
  assert.equal(res.status, status, text);
  return JSON.parse(text);
}

/** Run `fn` over `items` with at most `limit` at once; results in order. */
async function pool(items, limit, fn) {
  const results = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next;
      next += 1;
      results[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

function quantile(sorted, q) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/** Short unique suffix for ids, so runs on the same network do not collide. */
const RUN = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e4).toString(36)}`;

module.exports = {
  MEMBERS_FILE, RUN, loadNetwork, proxyConfig, startProxy, eventually, client, expectProblem, expectOk,
  readEvents, pool, quantile,
};
