'use strict';
/**
 * The contract's vocabulary, as the contract emits it (`contract/chaincode/wasm/vocabulary.json`, written
 * by scripts/build-wasm from contract/src/contract.rs and vocabulary.rs): its functions with the JSON
 * Schemas of their input and output, its events, and every error code with its HTTP status. The proxy
 * takes its function names, its routes' types and every problem's status from here, never from a list
 * of its own.
 */

const fs = require('node:fs');
const path = require('node:path');

/** Where scripts/build-wasm writes it, in this repository. */
const DEFAULT_FILE = path.resolve(__dirname, '..', '..', '..', 'contract', 'chaincode', 'wasm', 'vocabulary.json');

class Vocabulary {
  /** @param {object} doc the parsed vocabulary.json */
  constructor(doc) {
    for (const key of ['functions', 'events', 'codes', '$defs']) {
      if (doc === null || typeof doc !== 'object' || doc[key] === undefined) {
        throw new Error(`not a vmledger vocabulary: "${key}" is missing`);
      }
    }
    this.doc = doc;
    /** @type {Map<string, {name: string, access: 'submit'|'evaluate', input: string, output: string,
     *   emits: string[], refuses: string[], summary: string}>} */
    this.functions = new Map(doc.functions.map((f) => [f.name, f]));
    /** @type {Map<string, {code: string, origin: string, httpStatus: number, exitCode: number,
     *   retryable: boolean, summary: string}>} */
    this.codes = new Map(doc.codes.map((c) => [c.code, c]));
    this.events = doc.events;
    /** JSON Schemas by name (draft 2020-12), referring to each other as `#/$defs/<name>`. */
    this.schemas = doc.$defs;
  }

  /** @param {string} file */
  static load(file = DEFAULT_FILE) {
    let text;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      throw new Error(`cannot read the contract's vocabulary ${file} (${err.code ?? err.message}): `
        + 'run scripts/build-wasm (or scripts/install)');
    }
    return new Vocabulary(JSON.parse(text));
  }

  /** The function entry, or undefined. */
  fn(name) {
    return this.functions.get(name);
  }

  /** The code entry, or undefined. */
  code(code) {
    return this.codes.get(code);
  }
}

module.exports = { DEFAULT_FILE, Vocabulary };
