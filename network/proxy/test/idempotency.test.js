'use strict';
/**
 * Knowable outcomes and safe retries: the transaction id follows from the Idempotency-Key, a retry never
 * submits twice and answers the first outcome, and a transaction is found by id on the ledger when this proxy
 * has no record of it (a restart).
 */

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { connect } = require('@hyperledger/fabric-gateway');
const grpc = require('@grpc/grpc-js');
const { fromGatewayError, fromInvalidCommit } = require('../src/errors');
const proposal = require('../src/proposal');
const { fakeFabric, startApp, call } = require('./helpers');

const PATH = '/channels/federation/chaincodes/vmledger/transactions';
const BODY = { args: ['{"id":"c1","name":"C"}'] };
const ledgerCopy = (over = {}) => ({
  txId: 'x', channel: 'federation', blockNumber: 9, validationCode: 'VALID', creatorMspId: 'Org1MSP',
  timestamp: '2026-01-01T00:00:00.000Z', fn: 'RegisterCloud', args: BODY.args, result: { id: 'c1' }, ...over,
});
const idOf = (identity, nonce) => nonce.toString('hex');
/** A stand-in whose submissions are counted. */
function counting(overrides = {}) {
  const fabric = fakeFabric({ txIdOf: idOf, ...overrides });
  const submit = fabric.submit;
  fabric.submits = 0;
  fabric.submit = (...a) => {
    fabric.submits += 1;
    return submit(...a);
  };
  return fabric;
}
const committing = (result = { id: 'c1' }) => ({
  txId: 'ignored', result, timings: { endorseMs: 1, submitMs: 1 },
  commit: async () => ({ blockNumber: 3, validationCode: 'VALID', commitMs: 2 }),
});
const post = (url, key, extra = {}) => call(url, `${PATH}/RegisterCloud`,
  { method: 'POST', body: BODY, headers: key ? { 'Idempotency-Key': key } : {}, ...extra });

describe('transaction ids known before sending', () => {
  it('are hex SHA-256(SHA-256(key) ‖ creator), as fabric-gateway computes them from the proposal', () => {
    const creator = proposal.creatorOf('Org1MSP', Buffer.from('-----BEGIN CERTIFICATE-----\nx\n'));
    const nonce = proposal.nonceOf('key-1');
    assert.deepEqual(nonce, crypto.createHash('sha256').update('key-1').digest());
    const expected = crypto.createHash('sha256').update(Buffer.concat([nonce, creator])).digest('hex');
    const built = proposal.proposedTransaction({
      channel: 'federation', chaincode: 'vmledger', fn: 'Ping', args: ['{}'], creator, nonce,
    });
    assert.equal(built.txId, expected);
    // fabric-gateway reads our bytes back as its own proposal, with the same id.
    const client = new grpc.Client('127.0.0.1:1', grpc.credentials.createInsecure());
    const gw = connect({ client, identity: { mspId: 'Org1MSP', credentials: Buffer.from('-----BEGIN CERTIFICATE-----\nx\n') } });
    try {
      assert.equal(gw.newProposal(built.bytes).getTransactionId(), expected);
    } finally {
      gw.close();
      client.close();
    }
    assert.deepEqual(proposal.readProposal(built.bytes), {
      txId: expected, channel: 'federation', chaincode: 'vmledger', fn: 'Ping', args: ['{}'], creator,
    });
    assert.deepEqual(proposal.readCreator(creator).mspId, 'Org1MSP');
  });

  it('carry transient data in the proposal payload\'s TransientMap; the id does not depend on it', () => {
    const { peer } = require('@hyperledger/fabric-protos');
    const creator = proposal.creatorOf('Org1MSP', Buffer.from('-----BEGIN CERTIFICATE-----\nx\n'));
    const nonce = proposal.nonceOf('key-t');
    const call = { channel: 'federation', chaincode: 'vmledger', fn: 'ProposeTerms', args: ['{}'], creator, nonce };
    const plain = proposal.proposedTransaction(call);
    const priced = proposal.proposedTransaction({ ...call, transient: { terms: '{"prices":1}' } });
    assert.equal(priced.txId, plain.txId, 'Fabric\'s id is the nonce\'s and the creator\'s only');
    const transientOf = (bytes) => {
      const { gateway } = require('@hyperledger/fabric-protos');
      const signed = gateway.ProposedTransaction.deserializeBinary(bytes).getProposal();
      const p = peer.Proposal.deserializeBinary(signed.getProposalBytes_asU8());
      const map = peer.ChaincodeProposalPayload.deserializeBinary(p.getPayload_asU8()).getTransientmapMap();
      return Object.fromEntries(map.toArray().map(([k, v]) => [k, Buffer.from(v).toString('utf8')]));
    };
    assert.deepEqual(transientOf(priced.bytes), { terms: '{"prices":1}' });
    assert.deepEqual(transientOf(plain.bytes), {});
    // The arguments read back are the same: the transient data is not one of them.
    assert.deepEqual(proposal.readProposal(priced.bytes).args, ['{}']);
    // A retry with other transient data under the same key is another call.
    const fp = (transient) => proposal.fingerprintOf({ ...call, transient });
    assert.equal(fp(undefined), fp({}));
    assert.equal(fp({ a: '1', b: '2' }), fp({ b: '2', a: '1' }), 'order of names does not count');
    assert.notEqual(fp({ terms: '1' }), fp({ terms: '2' }));
    assert.notEqual(fp({ terms: '1' }), fp(undefined));
  });

  it('refuses the same key sent again with other transient data, before anything is sent', async () => {
    const fabric = counting({ submit: async () => committing() });
    const s = await startApp({ fabric });
    try {
      const send = (terms) => call(s.url, `${PATH}/RegisterCloud`,
        { method: 'POST', body: { ...BODY, transient: { terms } }, headers: { 'Idempotency-Key': 'k-t' } });
      assert.equal((await send('p1')).status, 200);
      assert.equal((await send('p1')).status, 200, 'the same call again: its outcome');
      const other = await send('p2');
      assert.equal(other.status, 422);
      assert.equal((await other.json()).code, 'IDEMPOTENCY_KEY_REUSED');
      assert.equal(fabric.submits, 1);
    } finally {
      await s.close();
    }
  });

  it('answers the key it used; the same key is the same id, another key another id', async () => {
    const s = await startApp({ fabric: fakeFabric({ txIdOf: idOf, submit: async () => committing() }) });
    try {
      const minted = await post(s.url);
      const key = minted.headers.get('idempotency-key');
      assert.match(key, /^[0-9a-f]{48}$/, 'a key is made when none is sent');
      assert.equal((await minted.json()).txId, proposal.nonceOf(key).toString('hex'));
      const a = await post(s.url, 'k-a');
      assert.equal(a.headers.get('idempotency-key'), 'k-a');
      assert.equal((await a.json()).txId, proposal.nonceOf('k-a').toString('hex'));
      const bad = await post(s.url, 'with space');
      assert.equal(bad.status, 400);
    } finally {
      await s.close();
    }
  });
});

describe('a retried submission never applies twice', () => {
  it('a finished one answers its first outcome without sending anything', async () => {
    const s = await startApp({ fabric: counting({ submit: async () => committing() }) });
    try {
      const first = await (await post(s.url, 'k1')).json();
      const again = await post(s.url, 'k1');
      assert.equal(again.status, 200);
      assert.deepEqual(await again.json(), first);
      assert.equal(s.fabric.submits, 1);
    } finally {
      await s.close();
    }
  });

  it('concurrent ones wait for the one submission', async () => {
    let release;
    const gate = new Promise((resolve) => { release = resolve; });
    const s = await startApp({
      fabric: counting({ async submit() { await gate; return committing(); } }),
    });
    try {
      const answers = [post(s.url, 'k2'), post(s.url, 'k2'), post(s.url, 'k2', { headers: { 'Idempotency-Key': 'k2', Prefer: 'respond-async' } })];
      await new Promise((r) => setTimeout(r, 30));
      release();
      const [a, b, c] = await Promise.all(answers);
      assert.deepEqual([a.status, b.status, c.status], [200, 200, 202]);
      assert.deepEqual(await a.json(), await b.json());
      assert.equal(s.fabric.submits, 1);
    } finally {
      await s.close();
    }
  });

  it('a key used for another call is refused before anything is sent', async () => {
    const s = await startApp({ fabric: counting({ submit: async () => committing() }) });
    try {
      await (await post(s.url, 'k3')).arrayBuffer();
      const other = await call(s.url, `${PATH}/RegisterCloud`,
        { method: 'POST', body: { args: ['{"id":"c2","name":"C"}'] }, headers: { 'Idempotency-Key': 'k3' } });
      assert.equal(other.status, 422);
      assert.equal((await other.json()).code, 'IDEMPOTENCY_KEY_REUSED');
      assert.equal(s.fabric.submits, 1);
    } finally {
      await s.close();
    }
  });

  it('after an unknown outcome, a retry refused by the endorsers answers the ledger\'s first outcome', async () => {
    let attempt = 0;
    let onLedger;
    const fabric = fakeFabric({
      txIdOf: idOf,
      async submit(identity, c) {
        attempt += 1;
        if (attempt === 1) {
          // Sent; the commit status never came (the peer went away).
          return { ...committing(), commit: async () => { onLedger = true; throw fromGatewayError({ code: 14, message: 'gone' }, { step: 'commit' }); } };
        }
        // The same id again: the endorsers refuse a duplicate transaction id.
        throw fromGatewayError({ code: 10, message: 'duplicate transaction found' }, { step: 'endorse' });
      },
      async lookup(identity, channel, txId) {
        return onLedger ? ledgerCopy({ txId }) : undefined;
      },
    });
    const s = await startApp({ fabric });
    try {
      const first = await post(s.url, 'k4');
      assert.equal(first.status, 503);
      const problem = await first.json();
      assert.equal(problem.step, 'commit');
      const status = await (await call(s.url, `/v1/transactions/${problem.txId}`)).json();
      assert.equal(status.status, 'committed', 'the lookup finds it on the ledger');
      assert.equal(status.source, 'ledger');
      assert.equal(status.function, 'RegisterCloud');
      const again = await post(s.url, 'k4');
      assert.equal(again.status, 200);
      assert.deepEqual(await again.json(), {
        txId: problem.txId, blockNumber: 9, validationCode: 'VALID', result: { id: 'c1' }, timings: {},
      });
    } finally {
      await s.close();
    }
  });

  it('an envelope that lost to its twin (DUPLICATE_TXID) answers the twin\'s outcome', async () => {
    const fabric = fakeFabric({
      txIdOf: idOf,
      async submit() {
        return {
          ...committing(),
          commit: async () => {
            const p = fromInvalidCommit({ txId: 't', validationCode: 'DUPLICATE_TXID', blockNumber: 12 });
            p.outcome = { blockNumber: 12, validationCode: 'DUPLICATE_TXID', commitMs: 1 };
            throw p;
          },
        };
      },
      lookup: async (identity, channel, txId) => ledgerCopy({ txId, blockNumber: 11 }),
    });
    const s = await startApp({ fabric });
    try {
      const res = await post(s.url, 'k5');
      assert.equal(res.status, 200);
      const body = await res.json();
      assert.equal(body.blockNumber, 11);
      assert.equal(body.validationCode, 'VALID');
    } finally {
      await s.close();
    }
  });

  it('a key whose transaction on the ledger is another call is refused', async () => {
    const fabric = fakeFabric({
      txIdOf: idOf,
      async submit() { throw fromGatewayError({ code: 10, message: 'duplicate transaction found' }, { step: 'endorse' }); },
      lookup: async (identity, channel, txId) => ledgerCopy({ txId, fn: 'Ping', args: ['{}'] }),
    });
    const s = await startApp({ fabric });
    try {
      const res = await post(s.url, 'k6');
      assert.equal(res.status, 422);
      assert.equal((await res.json()).code, 'IDEMPOTENCY_KEY_REUSED');
    } finally {
      await s.close();
    }
  });
});

describe('lookup by id', () => {
  it('reads the ledger when this proxy has no record (a restart), with the validation code and block', async () => {
    const invalid = ledgerCopy({ validationCode: 'MVCC_READ_CONFLICT', blockNumber: 4 });
    const fabric = fakeFabric({
      lookup: async (identity, channel, txId) => (txId === 'a'.repeat(64) ? { ...invalid, txId } : undefined),
    });
    const s = await startApp({ fabric });
    try {
      const found = await (await call(s.url, `/channels/federation/transactions/${'a'.repeat(64)}`)).json();
      assert.equal(found.status, 'failed');
      assert.equal(found.validationCode, 'MVCC_READ_CONFLICT');
      assert.equal(found.blockNumber, 4);
      assert.equal(found.error.code, 'MVCC_READ_CONFLICT');
      const missing = await call(s.url, `/v1/transactions/${'b'.repeat(64)}`);
      assert.equal(missing.status, 404);
      assert.equal((await missing.json()).code, 'NOT_FOUND');
    } finally {
      await s.close();
    }
  });

  it('answers the identity a client computes its ids from', async () => {
    const s = await startApp();
    try {
      const who = await (await call(s.url, '/v1/identity', { as: 'operator' })).json();
      assert.equal(who.identity, 'operator');
      assert.equal(who.mspId, 'Org1MSP');
      assert.equal(Buffer.from(who.creator, 'base64').toString(), 'c');
    } finally {
      await s.close();
    }
  });
});
