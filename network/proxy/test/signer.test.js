'use strict';
const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { newOpenSslSigner, CURVE_ORDERS } = require('../src/signer');

/** Parse DER SEQUENCE { r, s } back into numbers. */
function parseDer(sig) {
  const b = Buffer.from(sig);
  assert.equal(b[0], 0x30);
  let i = b[1] === 0x81 ? 3 : 2;
  assert.equal(b.length, i + (b[1] === 0x81 ? b[2] : b[1]));
  const ints = [];
  for (let k = 0; k < 2; k += 1) {
    assert.equal(b[i], 0x02);
    const len = b[i + 1];
    const bytes = b.subarray(i + 2, i + 2 + len);
    assert.ok(len === 1 || !(bytes[0] === 0 && !(bytes[1] & 0x80)), 'minimal encoding');
    assert.equal(bytes[0] & 0x80, 0, 'positive');
    ints.push(BigInt(`0x${bytes.toString('hex')}`));
    i += 2 + len;
  }
  return ints;
}

describe('OpenSSL signer', () => {
  for (const curve of ['prime256v1', 'secp384r1']) {
    it(`${curve}: DER signatures over SHA-256 of the message, always low-S, verifiable`, async () => {
      const { privateKey, publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: curve });
      const sign = newOpenSslSigner(privateKey);
      const half = CURVE_ORDERS[curve] >> 1n;
      for (let i = 0; i < 200; i += 1) {
        const message = crypto.randomBytes(100 + i);
        const sig = await sign(message);
        const [, s] = parseDer(sig);
        assert.ok(s <= half, 'low S');
        assert.ok(crypto.verify('sha256', message, publicKey, sig), 'verifies');
      }
    });
  }
  it('refuses keys that are not ECDSA P-256/P-384', () => {
    const { privateKey } = crypto.generateKeyPairSync('ed25519');
    assert.throws(() => newOpenSslSigner(privateKey), /unsupported signing key/);
  });
});
