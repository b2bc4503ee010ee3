'use strict';
// The Fabric face of the vmledger contract. Every function of the contract is a real method, so
// Fabric's GetMetadata lists them, and each hands its one JSON argument, the stub and the
// transaction's context (id, timestamp, caller) to the contract compiled to WebAssembly. The rules
// live there, and so does the list of functions (vocabulary::FUNCTIONS, through wasm.functions()):
// a function added to the contract is a method here without any change to this file.

// The wasm first: if it is missing, fail loudly before fabric-shim's logger takes over uncaught errors.
const wasm = require('./wasm');
const {Contract} = require('fabric-contract-api');
const {StubAdapter, txContext} = require('./stub-adapter');

/** The contract's functions: [{name, access, input, output, emits, refuses, summary}]. */
const FUNCTIONS = Object.freeze(JSON.parse(wasm.functions()));

/** Runs `fn` in the wasm contract; a refusal becomes an Error whose message is the wire JSON. */
async function call(ctx, fn, request) {
    try {
        return await wasm.invoke(fn, request, txContext(ctx), new StubAdapter(ctx.stub));
    } catch (refusal) {
        throw new Error(typeof refusal === 'string' ? refusal : JSON.stringify({
            code: 'LEDGER',
            message: `chaincode host failure: ${refusal && refusal.message}`,
            details: {},
        }));
    }
}

class VmLedgerContract extends Contract {
    constructor() {
        super('vmledger');
    }

    /** An unknown function is refused like any other: NOT_FOUND, in the contract's wire form. */
    async unknownTransaction(ctx) {
        const {fcn} = ctx.stub.getFunctionAndParameters();
        return call(ctx, fcn, '{}');
    }
}

// Names Fabric would not list (fabric-contract-api skips `_…` and the Contract base methods), or that
// would replace one of ours: refused at load rather than silently unreachable.
const RESERVED = new Set([
    ...Object.getOwnPropertyNames(Contract.prototype),
    ...Object.getOwnPropertyNames(VmLedgerContract.prototype),
]);

for (const {name} of FUNCTIONS) {
    if (name.startsWith('_') || RESERVED.has(name)) {
        throw new Error(`the contract's function ${name} cannot be a Fabric method of the host`);
    }
    // Two declared parameters (context, request): Fabric's metadata gives it one string argument.
    const method = {async [name](ctx, request) { return call(ctx, name, request); }}[name];
    Object.defineProperty(VmLedgerContract.prototype, name, {value: method, writable: false, configurable: false});
}

module.exports = {VmLedgerContract, FUNCTIONS};
