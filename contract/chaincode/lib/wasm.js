'use strict';
// Loads the contract compiled to WebAssembly (built by scripts/build-wasm into ../wasm).

const path = require('node:path');
const fs = require('node:fs');

const bindings = path.join(__dirname, '..', 'wasm', 'vmledger_contract.js');
if (!fs.existsSync(bindings)) {
    throw new Error(`the contract's wasm is missing at ${bindings}: run scripts/build-wasm`);
}

module.exports = require(bindings);
