'use strict';
const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const sse = require('../src/sse');
const { ProblemError } = require('../src/errors');

describe('SSE formatting', () => {
  it('formats id, event and data lines ending with a blank line', () => {
    assert.equal(sse.formatMessage({ id: '5:0', event: 'VmRegistered', data: '{"a":1}' }),
      'id: 5:0\nevent: VmRegistered\ndata: {"a":1}\n\n');
  });
  it('splits multi-line data and strips newlines from id and event', () => {
    assert.equal(sse.formatMessage({ id: 'a\nb', event: 'x\ry', data: 'one\ntwo' }),
      'id: a b\nevent: x y\ndata: one\ndata: two\n\n');
  });
  it('formats comments', () => {
    assert.equal(sse.formatComment('heartbeat'), ': heartbeat\n\n');
  });
  it('turns a chaincode event into the interfaces.md message', () => {
    const msg = sse.chaincodeEventMessage({
      blockNumber: 12n, transactionId: 'tx1', eventName: 'MigrationIndicated',
      payload: Buffer.from('{"id":"m-1","status":"indicated"}'),
    }, 3);
    const lines = msg.split('\n');
    assert.equal(lines[0], 'id: 12:3');
    assert.equal(lines[1], 'event: MigrationIndicated');
    assert.deepEqual(JSON.parse(lines[2].slice('data: '.length)), {
      blockNumber: 12, txId: 'tx1', eventName: 'MigrationIndicated', payload: { id: 'm-1', status: 'indicated' },
    });
    assert.equal(msg.endsWith('\n\n'), true);
  });
  it('keeps a non-JSON payload as text', () => {
    assert.equal(sse.decodePayload(Buffer.from('plain')), 'plain');
    assert.equal(sse.decodePayload(new Uint8Array()), '');
  });
});

describe('resume position', () => {
  it('Last-Event-ID wins over startBlock and skips through the given index', () => {
    assert.deepEqual(sse.resumePosition('41:2', '3'), { startBlock: 41n, skipThrough: { block: 41n, index: 2 } });
  });
  it('startBlock alone', () => {
    assert.deepEqual(sse.resumePosition(undefined, '0'), { startBlock: 0n });
  });
  it('neither: from the next block', () => {
    assert.deepEqual(sse.resumePosition(undefined, null), {});
    assert.deepEqual(sse.resumePosition('', null), {});
  });
  it('malformed values are 400 BAD_REQUEST', () => {
    for (const [id, start] of [['41', null], ['x:1', null], ['4:-1', null], [undefined, '-1'], [undefined, '1e3'],
      [undefined, ''], [undefined, '123456789012345678901']]) {
      assert.throws(() => sse.resumePosition(id, start), (err) => err instanceof ProblemError && err.status === 400,
        `${id} ${start}`);
    }
  });
});

describe('event sequencer', () => {
  const ev = (b) => ({ blockNumber: BigInt(b) });
  it('numbers events within each block', () => {
    const seq = sse.eventSequencer();
    assert.deepEqual([5, 5, 5, 6, 7, 7].map((b) => seq(ev(b)).index), [0, 1, 2, 0, 0, 1]);
  });
  it('skips events of the resume block up to and including the last seen index', () => {
    const seq = sse.eventSequencer({ block: 5n, index: 1 });
    assert.deepEqual([5, 5, 5, 6].map((b) => seq(ev(b)).skip), [true, true, false, false]);
  });
});
