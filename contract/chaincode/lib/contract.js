'use strict';
// The Fabric face of the vmledger contract. Every transaction is a real method, so Fabric's
// GetMetadata lists them, and each hands its one JSON argument, the stub and the transaction's
// context (id, timestamp, caller) to the contract compiled to WebAssembly. The rules live there.

// The wasm first: if it is missing, fail loudly before fabric-shim's logger takes over uncaught errors.
const wasm = require('./wasm');
const {Contract} = require('fabric-contract-api');
const {StubAdapter, txContext} = require('./stub-adapter');

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

    // Changes of state: each emits one event.
    async RegisterCloud(ctx, request) { return call(ctx, 'RegisterCloud', request); }
    async RegisterHost(ctx, request) { return call(ctx, 'RegisterHost', request); }
    async UpdateHost(ctx, request) { return call(ctx, 'UpdateHost', request); }
    async RegisterVm(ctx, request) { return call(ctx, 'RegisterVm', request); }
    async SetRegulation(ctx, request) { return call(ctx, 'SetRegulation', request); }
    async Migrate(ctx, request) { return call(ctx, 'Migrate', request); }
    async ConfirmMigration(ctx, request) { return call(ctx, 'ConfirmMigration', request); }
    async CancelMigration(ctx, request) { return call(ctx, 'CancelMigration', request); }
    async Ping(ctx, request) { return call(ctx, 'Ping', request); }

    // Queries.
    async CheckMigration(ctx, request) { return call(ctx, 'CheckMigration', request); }
    async GetCloud(ctx, request) { return call(ctx, 'GetCloud', request); }
    async GetHost(ctx, request) { return call(ctx, 'GetHost', request); }
    async ListHosts(ctx, request) { return call(ctx, 'ListHosts', request); }
    async GetVm(ctx, request) { return call(ctx, 'GetVm', request); }
    async GetMigration(ctx, request) { return call(ctx, 'GetMigration', request); }
    async ListMigrations(ctx, request) { return call(ctx, 'ListMigrations', request); }
    async VmHistory(ctx, request) { return call(ctx, 'VmHistory', request); }
    async Usage(ctx, request) { return call(ctx, 'Usage', request); }

    /** An unknown function is refused like any other: NOT_FOUND, in the contract's wire form. */
    async unknownTransaction(ctx) {
        const {fcn} = ctx.stub.getFunctionAndParameters();
        return call(ctx, fcn, '{}');
    }
}

module.exports = {VmLedgerContract};
