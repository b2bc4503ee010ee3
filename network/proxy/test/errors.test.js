'use strict';
const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const { EndorseError, GatewayError, CommitStatusError } = require('@hyperledger/fabric-gateway');
const {
  ProblemError, parseContractError, fromGatewayError, fromInvalidCommit, toProblem, GRPC,
} = require('../src/errors');

const TX = 'f'.repeat(64);

/** An endorse failure as the Fabric Gateway reports a chaincode rejection. */
function endorseRejection(contractError, { code = GRPC.ABORTED } = {}) {
  const message = `chaincode response 500, ${JSON.stringify(contractError)}`;
  return new EndorseError({
    code,
    message: `${code} ABORTED: failed to endorse transaction, see attached details for more info`,
    details: [{ address: 'peer0.org1.vmledger.local:7051', mspId: 'Org1MSP', message }],
    cause: new Error('grpc'),
    transactionId: TX,
  });
}

describe('parseContractError', () => {
  it('parses the contract JSON after the peer prefix, from the first brace', () => {
    const e = parseContractError('chaincode response 500, {"code":"NOT_FOUND","message":"vm vm-9 not found","details":{"id":"vm-9"}}');
    assert.deepEqual(e, { code: 'NOT_FOUND', message: 'vm vm-9 not found', details: { id: 'vm-9' } });
  });
  it('keeps nested objects and braces inside strings', () => {
    const e = parseContractError('x {"code":"POLICY_DENIED","message":"country {FR} not allowed","details":{"a":{"b":[1,{"c":2}]}}}');
    assert.equal(e.code, 'POLICY_DENIED');
    assert.equal(e.message, 'country {FR} not allowed');
    assert.deepEqual(e.details, { a: { b: [1, { c: 2 }] } });
  });
  it('rejects text that is not exactly one JSON object with a string code', () => {
    for (const m of [undefined, '', 'chaincode response 500, plain failure', 'response {"code":1}',
      'response {"message":"no code"}', 'response {"code":"X"} trailing', 'response [1]', '{broken']) {
      assert.equal(parseContractError(m), undefined, String(m));
    }
  });
});

describe('fromGatewayError: contract rejections', () => {
  const cases = [
    ['INVALID_ARGUMENT', 400], ['UNAUTHORIZED', 403], ['NOT_FOUND', 404], ['ALREADY_EXISTS', 409],
    ['CONFLICT', 409], ['POLICY_DENIED', 422], ['CAPACITY_EXCEEDED', 422], ['LEDGER', 500],
  ];
  for (const [code, status] of cases) {
    it(`${code} → ${status}, details and txId passed through`, () => {
      const p = fromGatewayError(endorseRejection({ code, message: `msg ${code}`, details: { k: code } }),
        { step: 'endorse', txId: TX });
      assert.equal(p.status, status);
      assert.equal(p.code, code);
      assert.equal(p.detail, `msg ${code}`);
      assert.deepEqual(p.details, { k: code });
      assert.equal(p.txId, TX);
      assert.equal(p.retryable, undefined);
      assert.equal(p.toJSON().step, 'endorse');
    });
  }
  it('an unknown contract code is 422 with the code kept', () => {
    const p = fromGatewayError(endorseRejection({ code: 'HASH_MISMATCH', message: 'm' }));
    assert.equal(p.status, 422);
    assert.equal(p.code, 'HASH_MISMATCH');
  });
  it('an evaluate rejection (gRPC UNKNOWN, message repeats the detail) is parsed the same way', () => {
    const json = '{"code":"NOT_FOUND","message":"vm x not found"}';
    const err = new GatewayError({
      code: GRPC.UNKNOWN,
      message: `2 UNKNOWN: evaluate call to endorser returned error: chaincode response 500, ${json}`,
      details: [{ address: 'a', mspId: 'Org1MSP', message: `chaincode response 500, ${json}` }],
      cause: new Error('grpc'),
    });
    const p = fromGatewayError(err, { step: 'evaluate' });
    assert.equal(p.status, 404);
    assert.equal(p.code, 'NOT_FOUND');
    assert.equal(p.txId, undefined);
    assert.equal(p.toJSON().step, 'evaluate');
  });
  it('falls back to the error message when details are empty', () => {
    const err = new GatewayError({
      code: GRPC.UNKNOWN,
      message: '2 UNKNOWN: evaluate call to endorser returned error: chaincode response 500, {"code":"CONFLICT","message":"m"}',
      details: [],
      cause: new Error('grpc'),
    });
    assert.equal(fromGatewayError(err).status, 409);
  });
  it('takes the first detail that carries a contract error', () => {
    const err = new EndorseError({
      code: GRPC.ABORTED,
      message: 'failed to endorse',
      details: [
        { address: 'p1', mspId: 'Org2MSP', message: 'rpc error: code = Unavailable desc = connection refused' },
        { address: 'p0', mspId: 'Org1MSP', message: 'chaincode response 500, {"code":"POLICY_DENIED","message":"FR"}' },
      ],
      cause: new Error('grpc'),
      transactionId: TX,
    });
    const p = fromGatewayError(err);
    assert.equal(p.code, 'POLICY_DENIED');
    assert.equal(p.txId, TX, 'txId taken from the EndorseError');
  });
});

describe('fromGatewayError: infrastructure failures', () => {
  const gw = (code, message, details = []) => new EndorseError({
    code, message, details, cause: new Error('grpc'), transactionId: TX,
  });
  it('DEADLINE_EXCEEDED → 503 TIMEOUT, retryable, names the step', () => {
    const p = fromGatewayError(gw(GRPC.DEADLINE_EXCEEDED, '4 DEADLINE_EXCEEDED: Deadline exceeded'), { step: 'submit' });
    assert.equal(p.status, 503);
    assert.equal(p.code, 'TIMEOUT');
    assert.equal(p.retryable, true);
    assert.equal(p.txId, TX);
    assert.match(p.detail, /^submit timed out: Deadline exceeded/);
  });
  for (const code of [GRPC.UNAVAILABLE, GRPC.FAILED_PRECONDITION, GRPC.CANCELLED, GRPC.RESOURCE_EXHAUSTED]) {
    it(`gRPC ${code} → 503 UNAVAILABLE, retryable`, () => {
      const p = fromGatewayError(gw(code, `${code} X: no combination of peers`), { step: 'endorse' });
      assert.equal(p.status, 503);
      assert.equal(p.code, 'UNAVAILABLE');
      assert.equal(p.retryable, true);
    });
  }
  it('a chaincode failure without a structured error → 502 CHAINCODE_ERROR with the peer message', () => {
    const p = fromGatewayError(gw(GRPC.ABORTED, '10 ABORTED: failed to endorse',
      [{ address: 'a', mspId: 'm', message: 'chaincode response 500, wasm trap: unreachable' }]), { step: 'endorse' });
    assert.equal(p.status, 502);
    assert.equal(p.code, 'CHAINCODE_ERROR');
    assert.match(p.detail, /wasm trap: unreachable/);
  });
  it('an endorse failure where the chaincode never answered (server down) → 503 UNAVAILABLE, retryable', () => {
    const p = fromGatewayError(gw(GRPC.ABORTED, '10 ABORTED: failed to endorse transaction',
      [{ address: 'a', mspId: 'm', message: 'error in simulation: failed to execute transaction x: could not launch chaincode vmledger_1: connection refused' }]),
    { step: 'endorse' });
    assert.equal(p.status, 503);
    assert.equal(p.code, 'UNAVAILABLE');
    assert.equal(p.retryable, true);
    assert.match(p.detail, /could not launch chaincode/);
  });
  it('PERMISSION_DENIED → 403 FORBIDDEN; NOT_FOUND → 404; INVALID_ARGUMENT → 400', () => {
    assert.equal(fromGatewayError(gw(GRPC.PERMISSION_DENIED, 'x')).status, 403);
    assert.equal(fromGatewayError(gw(GRPC.NOT_FOUND, 'x')).status, 404);
    assert.equal(fromGatewayError(gw(GRPC.INVALID_ARGUMENT, 'x')).code, 'BAD_REQUEST');
  });
  it('a commit status error keeps its txId', () => {
    const err = new CommitStatusError({ code: GRPC.UNAVAILABLE, message: 'm', details: [], cause: new Error('g'), transactionId: TX });
    assert.equal(fromGatewayError(err, { step: 'commit' }).txId, TX);
  });
  it('a raw grpc-js ServiceError (string details) is mapped too', () => {
    const err = Object.assign(new Error('14 UNAVAILABLE: No connection established'), {
      code: GRPC.UNAVAILABLE, details: 'No connection established',
    });
    const p = toProblem(err);
    assert.equal(p.code, 'UNAVAILABLE');
    assert.match(p.detail, /No connection established/);
  });
});

describe('fromInvalidCommit', () => {
  it('MVCC and phantom read conflicts are 409 retryable with the validation code as code', () => {
    for (const validationCode of ['MVCC_READ_CONFLICT', 'PHANTOM_READ_CONFLICT']) {
      const p = fromInvalidCommit({ txId: TX, validationCode, blockNumber: 9 });
      assert.equal(p.status, 409);
      assert.equal(p.code, validationCode);
      assert.equal(p.retryable, true);
      assert.equal(p.txId, TX);
      assert.deepEqual(p.details, { blockNumber: 9, validationCode });
    }
  });
  it('other validation codes are 409 and not retryable', () => {
    const p = fromInvalidCommit({ txId: TX, validationCode: 'ENDORSEMENT_POLICY_FAILURE', blockNumber: 3 });
    assert.equal(p.status, 409);
    assert.equal(p.retryable, false);
  });
});

describe('problem documents', () => {
  it('carry the RFC 9457 members and the extensions, no stack', () => {
    const body = JSON.parse(JSON.stringify(new ProblemError('POLICY_DENIED', 'no', { details: { a: 1 }, txId: TX })));
    assert.deepEqual(body, {
      type: 'urn:vmledger:problem:POLICY_DENIED', title: 'Unprocessable Content', status: 422, detail: 'no',
      code: 'POLICY_DENIED', details: { a: 1 }, txId: TX,
    });
  });
  it('an unexpected error becomes a 500 that hides its message', () => {
    const p = toProblem(new TypeError('secret internals at /path/file.js:12'));
    assert.equal(p.status, 500);
    assert.equal(p.code, 'INTERNAL');
    assert.doesNotMatch(JSON.stringify(p), /secret|file\.js/);
  });
});
