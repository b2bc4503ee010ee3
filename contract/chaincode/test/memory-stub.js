'use strict';
// An in-memory stand-in for fabric-shim's ChaincodeStub and ClientIdentity, with Fabric's semantics
// where the contract depends on them: reads see committed state only, writes apply on commit, one
// event per transaction, history newest first, paged range reads with a bookmark.

const Long = require('long');

function iteratorOf(items) {
    let index = 0;
    return {
        async next() {
            return index < items.length ? {value: items[index++], done: false} : {done: true};
        },
        async close() {},
    };
}

class MemoryWorld {
    constructor(channel = 'federation') {
        this.channel = channel;
        this.policies = new Map();
        this.state = new Map();
        this.history = new Map();
        this.events = [];
        this.private = new Map(); // `${collection}\u0000${key}` → value (every member's peer at once)
        this.txCount = 0;
        this.seconds = 1_767_225_600; // 2026-01-01T00:00:00Z
    }

    /** A context for one transaction by `caller` ({mspId, id, attrs}). */
    transaction(caller) {
        this.txCount += 1;
        this.seconds += 1;
        return new MemoryContext(this, caller, this.txCount.toString(16).padStart(64, '0'), this.seconds);
    }
}

class MemoryContext {
    constructor(world, caller, txId, seconds) {
        this.world = world;
        this.writes = new Map();
        this.event = null;
        const context = this;
        this.stub = {
            getTxID: () => txId,
            getTxTimestamp: () => ({seconds: Long.fromNumber(seconds, true), nanos: 5}),
            getFunctionAndParameters: () => ({fcn: context.fcn, params: []}),
            getState: async (key) => {
                const value = world.state.get(key);
                return value === undefined ? new Uint8Array(0) : Buffer.from(value);
            },
            putState: async (key, value) => { context.writes.set(key, Buffer.from(value).toString()); },
            deleteState: async (key) => { context.writes.set(key, null); },
            getStateByRange: async (start, end) => iteratorOf(context.rangeOf(start, end)),
            getStateByRangeWithPagination: async (start, end, pageSize, bookmark) => {
                const all = context.rangeOf(bookmark || start, end);
                const page = all.slice(0, pageSize);
                const next = all[pageSize];
                return {iterator: iteratorOf(page), metadata: {fetchedRecordsCount: page.length, bookmark: next ? next.key : ''}};
            },
            getHistoryForKey: async (key) => iteratorOf([...(world.history.get(key) || [])].reverse()),
            setEvent: (name, payload) => { context.event = {name, payload: Buffer.from(payload).toString()}; },
            getChannelID: () => world.channel,
            setStateValidationParameter: async (key, policy) => { context.policies.set(key, Buffer.from(policy)); },
            // No other channel here: cross-channel queries are tested on the Rust ledger and the network.
            invokeChaincode: async (name, args, channel) => (
                {status: 500, message: `this stand-in joined no channel ${channel}`, payload: Buffer.alloc(0)}),
            // Private data as Fabric answers it: bytes (empty when absent), and the SHA-256 of a value.
            getPrivateData: async (collection, key) => {
                const value = world.private.get(`${collection}\u0000${key}`);
                return value === undefined ? new Uint8Array(0) : Buffer.from(value);
            },
            putPrivateData: async (collection, key, value) => {
                context.privateWrites.set(`${collection}\u0000${key}`, Buffer.from(value).toString());
            },
            getPrivateDataHash: async (collection, key) => {
                const value = world.private.get(`${collection}\u0000${key}`);
                return value === undefined ? new Uint8Array(0)
                    : require('node:crypto').createHash('sha256').update(value).digest();
            },
            getTransient: () => new Map(Object.entries(context.transient).map(([k, v]) => [k, Buffer.from(v)])),
        };
        this.privateWrites = new Map();
        this.transient = {};
        this.policies = new Map();
        this.clientIdentity = {
            getMSPID: () => caller.mspId,
            getID: () => caller.id,
            attrs: caller.attrs ?? {},
        };
    }

    rangeOf(start, end) {
        return [...this.world.state.keys()].filter((k) => k >= start && k < end).sort()
            .map((key) => ({key, value: Buffer.from(this.world.state.get(key))}));
    }

    commit() {
        const timestamp = this.stub.getTxTimestamp();
        for (const [key, value] of this.writes) {
            if (value === null) {
                this.world.state.delete(key);
            } else {
                this.world.state.set(key, value);
            }
            const versions = this.world.history.get(key) || [];
            versions.push({txId: this.stub.getTxID(), value: Buffer.from(value || ''), isDelete: value === null,
                timestamp: {seconds: Number(timestamp.seconds.toString()), nanos: timestamp.nanos}});
            this.world.history.set(key, versions);
        }
        if (this.event) {
            this.world.events.push(this.event);
        }
        for (const [key, policy] of this.policies) this.world.policies.set(key, policy);
        for (const [key, value] of this.privateWrites) this.world.private.set(key, value);
    }
}

module.exports = {MemoryWorld};
