'use strict';

const assert = require('node:assert/strict');
/**
 * Helpers for the unit tests: a configuration, a scripted stand-in for the Fabric backend, and the HTTP app
 * listening on an ephemeral loopback port.
 */

const http = require('node:http');
const { validateConfig } = require('../src/config');
const { createApp } = require('../src/app');

const MANAGER_KEY = 'a'.repeat(32);
const OPERATOR_KEY = 'b'.repeat(32);
const TX_ID = '0123456789abcdef'.repeat(4);

function testConfig(overrides = {}) {
  return validateConfig({
    listen: { host: '127.0.0.1', port: 0 },
    mspId: 'Org1MSP',
    peer: { endpoint: '127.0.0.1:7051', hostAlias: 'peer0.org1.vmledger.local', tlsRootCert: '/nonexistent/ca.crt' },
    identities: { manager: { cert: '/x/manager.pem', key: '/x/manager_sk' }, operator: { cert: '/x/operator.pem', key: '/x/operator_sk' } },
    apiKeys: [{ key: MANAGER_KEY, identity: 'manager' }, { key: OPERATOR_KEY, identity: 'operator' }],
    defaults: { channel: 'federation', chaincode: 'vmledger' },
    limits: { bodyBytes: 1024, inFlight: 4, endorseMs: 1000, submitMs: 1000, commitMs: 1000, evaluateMs: 1000 },
    ...overrides,
  }, { checkFiles: false });
}

/** An async iterable of chaincode events with close(), like fabric-gateway's. */
function eventSource(events, { holdOpen = true } = {}) {
  let closed = false;
  let wake;
  return {
    closed: () => closed,
    close() {
      closed = true;
      wake?.();
    },
    async* [Symbol.asyncIterator]() {
      for (const e of events) {
        if (closed) return;
        yield e;
      }
      if (holdOpen) {
        while (!closed) await new Promise((resolve) => { wake = resolve; });
      }
    },
  };
}

/** A Fabric backend stand-in recording every call; override any method. */
function fakeFabric(overrides = {}) {
  const calls = [];
  const fabric = {
    calls,
    async submit(identity, call) {
      calls.push({ op: 'submit', identity, call });
      return {
        txId: TX_ID,
        result: { echoed: call.args },
        timings: { endorseMs: 12.4, submitMs: 3.6 },
        commit: async () => ({ blockNumber: 7, validationCode: 'VALID', commitMs: 50.2 }),
      };
    },
    // One fixed id, so tests can name it; tests making several different calls give each its own.
    txIdOf() {
      return TX_ID;
    },
    identity() {
      return { mspId: 'Org1MSP', certificate: Buffer.from('-----BEGIN CERTIFICATE-----\n'), creator: Buffer.from('c') };
    },
    async lookup(identity, channel, txId) {
      calls.push({ op: 'lookup', identity, channel, txId });
      return undefined;
    },
    async evaluate(identity, call) {
      calls.push({ op: 'evaluate', identity, call });
      return { pong: true };
    },
    async chainInfo(identity, channel) {
      calls.push({ op: 'chainInfo', identity, channel });
      return { height: 8, currentBlockHash: 'aa', previousBlockHash: 'bb' };
    },
    async chaincodeEvents(identity, channel, chaincode, position) {
      calls.push({ op: 'events', identity, channel, chaincode, position });
      return eventSource([]);
    },
    async waitForPeer() {},
    ...overrides,
  };
  return fabric;
}

/** Start the app on 127.0.0.1:<ephemeral>. */
async function startApp({ config = testConfig(), fabric = fakeFabric() } = {}) {
  const logs = [];
  const warnings = [];
  const app = createApp({ config, fabric, log: (l) => logs.push(l), warn: (l) => warnings.push(l) });
  const server = http.createServer((req, res) => app.handle(req, res));
  await new Promise((resolve) => { server.listen(0, '127.0.0.1', resolve); });
  const url = `http://127.0.0.1:${server.address().port}`;
  return {
    app,
    fabric,
    url,
    logs,
    warnings,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => { server.close(resolve); });
    },
  };
}

/** fetch with the API key of `as` (manager|operator|none|a literal key). */
function call(base, path, { as = 'manager', method = 'GET', body, headers = {} } = {}) {
  const key = { manager: MANAGER_KEY, operator: OPERATOR_KEY, none: undefined }[as] ?? as;
  const h = { ...headers };
  if (key !== undefined) h['X-API-Key'] = key;
  if (body !== undefined && typeof body !== 'string') h['Content-Type'] = 'application/json';
  return fetch(`${base}${path}`, {
    method,
    headers: h,
    body: body === undefined ? undefined : (typeof body === 'string' ? body : JSON.stringify(body)),
  });
}

/**
 * Read SSE messages from a fetch Response until `stop(messages)` is true or `ms` pass; then cancel.
 * @returns {Promise<{id?: string, event?: string, data?: any}[]>}
 */
async function readEvents(res, stop, ms = 30000) {
  assert.equal(res.status, 200, res.status === 200 ? '' : await res.text());
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  const messages = [];
  let buf = '';
  const timer = setTimeout(() => reader.cancel().catch(() => {}), ms);
  try {
    while (!stop(messages)) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, cut);
        buf = buf.slice(cut + 2);
        const msg = {};
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) continue;
          const colon = line.indexOf(':');
          if (colon <= 0) continue;
          const field = line.slice(0, colon);
          const value = line.slice(colon + 1).trimStart();
          if (field === 'data') msg.data = msg.data === undefined ? value : `${msg.data}\n${value}`;
          else msg[field] = value;
        }
        if (msg.data !== undefined) {
          msg.data = JSON.parse(msg.data);
          messages.push(msg);
          if (stop(messages)) break;
        }
      }
    }
  } finally {
    clearTimeout(timer);
    await reader.cancel().catch(() => {});
  }
  return messages;
}

module.exports = { MANAGER_KEY, OPERATOR_KEY, TX_ID, testConfig, eventSource, fakeFabric, startApp, call, readEvents };
