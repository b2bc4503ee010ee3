'use strict';
/**
 * The proxy's configuration (format: interfaces.md, "Gateway REST proxy"): read, checked and completed
 * with defaults. Every problem found is reported at once, so a bad file fails fast with a full list.
 */

const fs = require('node:fs');
const path = require('node:path');
const { DEFAULT_FILE: DEFAULT_VOCABULARY } = require('./vocabulary');

const DEFAULT_LIMITS = Object.freeze({
  bodyBytes: 1048576,
  inFlight: 512,
  endorseMs: 15000,
  submitMs: 5000,
  commitMs: 60000,
  evaluateMs: 5000,
  // Not in the shared format: optional, with these defaults.
  eventStreams: 64,
  asyncRecords: 100000,
  shutdownMs: 90000,
});

const KNOWN_TOP = new Set(['listen', 'mspId', 'peer', 'identities', 'apiKeys', 'defaults', 'limits', 'vocabulary']);
const MIN_KEY_LENGTH = 16;

class ConfigError extends Error {
  /** @param {string[]} problems */
  constructor(problems) {
    super(`invalid proxy configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const isNonEmptyString = (v) => typeof v === 'string' && v.length > 0;

/**
 * Check a parsed configuration and complete it with defaults.
 * @param {unknown} raw the parsed JSON
 * @param {{checkFiles?: boolean, warn?: (msg: string) => void, baseDir?: string}} [opts] checkFiles (default
 *   true): require the certificate, key and vocabulary files to exist; baseDir: what a relative `vocabulary`
 *   path is relative to (the configuration file's folder)
 * @returns {object} the normalised configuration
 * @throws {ConfigError} listing every problem found
 */
function validateConfig(raw, opts = {}) {
  const checkFiles = opts.checkFiles ?? true;
  const warn = opts.warn ?? (() => {});
  const problems = [];
  const need = (cond, msg) => {
    if (!cond) problems.push(msg);
    return cond;
  };

  if (!isObject(raw)) throw new ConfigError(['the configuration must be a JSON object']);
  for (const key of Object.keys(raw)) {
    if (!KNOWN_TOP.has(key)) warn(`unknown configuration key "${key}" ignored`);
  }

  // listen
  const listen = isObject(raw.listen) ? raw.listen : {};
  need(raw.listen === undefined || isObject(raw.listen), '"listen" must be an object');
  const host = listen.host ?? '127.0.0.1';
  need(isNonEmptyString(host), '"listen.host" must be a non-empty string');
  const port = listen.port ?? 7101;
  need(Number.isInteger(port) && port >= 0 && port <= 65535, '"listen.port" must be an integer 0..65535');

  need(isNonEmptyString(raw.mspId), '"mspId" must be a non-empty string');

  // peer
  const peer = raw.peer;
  if (need(isObject(peer), '"peer" must be an object')) {
    need(isNonEmptyString(peer.endpoint) && peer.endpoint.includes(':'), '"peer.endpoint" must be "host:port"');
    need(isNonEmptyString(peer.hostAlias), '"peer.hostAlias" must be a non-empty string (the TLS server name)');
    if (need(isNonEmptyString(peer.tlsRootCert), '"peer.tlsRootCert" must be a file path') && checkFiles) {
      need(isReadableFile(peer.tlsRootCert), `"peer.tlsRootCert" is not a readable file: ${peer.tlsRootCert}`);
    }
  }

  // identities
  const identities = {};
  if (need(isObject(raw.identities) && Object.keys(raw.identities).length > 0,
    '"identities" must be an object with at least one identity')) {
    for (const [name, id] of Object.entries(raw.identities)) {
      if (!need(isObject(id), `identity "${name}" must be an object {cert, key}`)) continue;
      const certOk = need(isNonEmptyString(id.cert), `identity "${name}": "cert" must be a file path`);
      const keyOk = need(isNonEmptyString(id.key),
        `identity "${name}": "key" must be a file (or keystore directory) path`);
      if (certOk && keyOk && checkFiles) {
        need(isReadableFile(id.cert), `identity "${name}": cert is not a readable file: ${id.cert}`);
        need(resolveKeyFile(id.key) !== undefined,
          `identity "${name}": key is neither a readable file nor a directory holding exactly one file: ${id.key}`);
      }
      identities[name] = { cert: id.cert, key: checkFiles ? (resolveKeyFile(id.key) ?? id.key) : id.key };
    }
  }

  // apiKeys
  const apiKeys = [];
  if (need(Array.isArray(raw.apiKeys) && raw.apiKeys.length > 0, '"apiKeys" must be a non-empty array')) {
    const seen = new Set();
    raw.apiKeys.forEach((entry, i) => {
      if (!need(isObject(entry), `apiKeys[${i}] must be an object {key, identity}`)) return;
      const keyOk = need(isNonEmptyString(entry.key) && entry.key.length >= MIN_KEY_LENGTH,
        `apiKeys[${i}].key must be a string of at least ${MIN_KEY_LENGTH} characters`);
      need(isNonEmptyString(entry.identity) && Object.hasOwn(identities, entry.identity),
        `apiKeys[${i}].identity must name a configured identity`);
      if (keyOk) {
        need(!seen.has(entry.key), `apiKeys[${i}].key is used twice`);
        seen.add(entry.key);
      }
      apiKeys.push({ key: entry.key, identity: entry.identity });
    });
  }

  // defaults
  const defaults = isObject(raw.defaults) ? raw.defaults : {};
  need(raw.defaults === undefined || isObject(raw.defaults), '"defaults" must be an object');
  const channel = defaults.channel ?? 'federation';
  const chaincode = defaults.chaincode ?? 'vmledger';
  need(isNonEmptyString(channel), '"defaults.channel" must be a non-empty string');
  need(isNonEmptyString(chaincode), '"defaults.chaincode" must be a non-empty string');

  // vocabulary: the contract's, as scripts/build-wasm writes it (default: this repository's).
  const vocabularyGiven = raw.vocabulary !== undefined;
  need(!vocabularyGiven || isNonEmptyString(raw.vocabulary), '"vocabulary" must be a file path');
  const vocabulary = vocabularyGiven && isNonEmptyString(raw.vocabulary)
    ? path.resolve(opts.baseDir ?? process.cwd(), raw.vocabulary)
    : DEFAULT_VOCABULARY;
  if (checkFiles) {
    need(isReadableFile(vocabulary), `"vocabulary" is not a readable file: ${vocabulary}`
      + (vocabularyGiven ? '' : ' (the default; run scripts/build-wasm)'));
  }

  // limits
  const limits = { ...DEFAULT_LIMITS };
  if (raw.limits !== undefined) {
    if (need(isObject(raw.limits), '"limits" must be an object')) {
      for (const [name, value] of Object.entries(raw.limits)) {
        if (!Object.hasOwn(DEFAULT_LIMITS, name)) {
          warn(`unknown limit "limits.${name}" ignored`);
          continue;
        }
        if (need(Number.isInteger(value) && value > 0, `"limits.${name}" must be a positive integer`)) {
          limits[name] = value;
        }
      }
    }
  }

  if (problems.length > 0) throw new ConfigError(problems);
  return {
    listen: { host, port },
    mspId: raw.mspId,
    peer: { endpoint: peer.endpoint, hostAlias: peer.hostAlias, tlsRootCert: peer.tlsRootCert },
    identities,
    apiKeys,
    defaults: { channel, chaincode },
    vocabulary,
    limits,
  };
}

/**
 * Read and check a configuration file.
 * @param {string} file
 * @param {{warn?: (msg: string) => void}} [opts]
 */
function loadConfig(file, opts = {}) {
  let text;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError([`cannot read ${file}: ${err.code ?? err.message}`]);
  }
  let raw;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError([`${file} is not valid JSON: ${err.message}`]);
  }
  return validateConfig(raw, { baseDir: path.dirname(path.resolve(file)), ...opts });
}

function isReadableFile(file) {
  try {
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** A key path may name the key file or a keystore directory holding exactly one file (cryptogen's layout). */
function resolveKeyFile(keyPath) {
  try {
    const stat = fs.statSync(keyPath);
    if (stat.isFile()) return keyPath;
    if (stat.isDirectory()) {
      const files = fs.readdirSync(keyPath).filter((f) => isReadableFile(path.join(keyPath, f)));
      return files.length === 1 ? path.join(keyPath, files[0]) : undefined;
    }
  } catch {
    return undefined;
  }
  return undefined;
}

module.exports = { ConfigError, DEFAULT_LIMITS, validateConfig, loadConfig };
