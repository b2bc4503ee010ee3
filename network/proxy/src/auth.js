'use strict';
/**
 * API keys: each maps to one Fabric identity of this member. Keys are only ever held as SHA-256 digests
 * once loaded; lookups hash the presented key first, so the comparison does not depend on how many
 * leading characters of a key a caller guessed. A key is never logged: logs carry `keyHash`, the first
 * 8 hex digits of its digest.
 */

const crypto = require('node:crypto');
const { ProblemError } = require('./errors');

const HEADER = 'x-api-key';

function digest(key) {
  return crypto.createHash('sha256').update(key, 'utf8').digest('hex');
}

/** Short, non-reversible tag of a key for logs. */
function keyHash(key) {
  return digest(key).slice(0, 8);
}

/**
 * @param {{key: string, identity: string}[]} apiKeys
 * @returns {(headers: import('node:http').IncomingHttpHeaders) => {identity: string, keyHash: string}}
 *   throws a 401 ProblemError when the key is missing or unknown
 */
function authenticator(apiKeys) {
  const byDigest = new Map(apiKeys.map(({ key, identity }) => [digest(key), identity]));
  return (headers) => {
    const presented = headers[HEADER];
    if (typeof presented !== 'string' || presented.length === 0) {
      throw unauthenticated('missing X-API-Key header');
    }
    const d = digest(presented);
    const identity = byDigest.get(d);
    if (identity === undefined) throw unauthenticated('invalid API key');
    return { identity, keyHash: d.slice(0, 8) };
  };
}

function unauthenticated(detail) {
  return new ProblemError('UNAUTHENTICATED', detail, {
    headers: { 'WWW-Authenticate': 'ApiKey header="X-API-Key"' },
  });
}

module.exports = { HEADER, authenticator, keyHash };
