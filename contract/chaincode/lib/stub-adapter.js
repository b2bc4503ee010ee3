'use strict';
// The contract's view of Fabric: the few calls of its Ledger trait (contract/src/ledger.rs) over
// fabric-shim's ChaincodeStub, with strings in and strings out so the wasm boundary stays simple.

const {KeyEndorsementPolicy} = require('fabric-shim');
const wasm = require('./wasm');

const utf8 = new TextDecoder('utf-8');

function text(bytes) {
    return bytes && bytes.length > 0 ? utf8.decode(bytes) : null;
}

/** RFC 3339 with nanoseconds, from a protobuf Timestamp ({seconds, nanos}; seconds may be a Long). */
function rfc3339(timestamp) {
    const seconds = Number(timestamp.seconds.toString());
    const whole = new Date(seconds * 1000).toISOString().slice(0, 19);
    return `${whole}.${String(timestamp.nanos || 0).padStart(9, '0')}Z`;
}

async function drain(iterator, toItem, limit = Infinity) {
    const items = [];
    try {
        for (let next = await iterator.next(); !next.done && items.length < limit; next = await iterator.next()) {
            items.push(toItem(next.value));
        }
    } finally {
        await iterator.close();
    }
    return items;
}

const entry = (kv) => ({key: kv.key, value: text(kv.value)});

class StubAdapter {
    constructor(stub) {
        this.stub = stub;
    }

    async getState(key) {
        return text(await this.stub.getState(key));
    }

    async putState(key, value) {
        await this.stub.putState(key, Buffer.from(value, 'utf8'));
    }

    async deleteState(key) {
        await this.stub.deleteState(key);
    }

    /** JSON of {entries, bookmark}; pageSize 0 reads the whole range (allowed in submitted transactions). */
    async range(start, end, pageSize, bookmark) {
        if (pageSize === 0) {
            const entries = await drain(await this.stub.getStateByRange(start, end), entry);
            return JSON.stringify({entries, bookmark: null});
        }
        const {iterator, metadata} = await this.stub.getStateByRangeWithPagination(start, end, pageSize, bookmark);
        const entries = await drain(iterator, entry);
        return JSON.stringify({entries, bookmark: (metadata && metadata.bookmark) || null});
    }

    /** JSON of the newest LIMIT committed versions of a key, oldest of them first (Fabric answers newest first). */
    async history(key, limit) {
        const versions = await drain(await this.stub.getHistoryForKey(key), (modification) => ({
            txId: modification.txId,
            timestamp: rfc3339(modification.timestamp),
            isDelete: modification.isDelete,
            value: modification.isDelete ? null : text(modification.value),
        }), limit);
        return JSON.stringify(versions.reverse());
    }

    setEvent(name, payload) {
        this.stub.setEvent(name, Buffer.from(payload, 'utf8'));
    }

    /** Key-level endorsement: a peer of every listed member must endorse any later change of KEY. */
    async setEndorsers(key, mspIdsJson) {
        const policy = new KeyEndorsementPolicy();
        policy.addOrgs('PEER', ...JSON.parse(mspIdsJson));
        await this.stub.setStateValidationParameter(key, policy.getPolicy());
    }

    /**
     * Evaluates FUNCTION of this chaincode on CHANNEL (same peer; read-only). Resolves with the answer's
     * text; rejects with the other contract's wire error (JSON text) when it refuses.
     */
    async queryChannel(channel, fn, argument) {
        const response = await this.stub.invokeChaincode(wasm.chaincode(), [fn, argument], channel);
        const payload = text(response.payload) ?? '';
        if (response.status === 200) return payload;
        const message = response.message ?? payload;
        throw message.startsWith('{') ? message : new Error(`${fn} on ${channel}: ${message}`);
    }

    /** A private value of COLLECTION, or null; Fabric refuses a caller outside it (memberOnlyRead). */
    async getPrivateData(collection, key) {
        return text(await this.stub.getPrivateData(collection, key));
    }

    async putPrivateData(collection, key, value) {
        await this.stub.putPrivateData(collection, key, Buffer.from(value, 'utf8'));
    }

    /** Hex SHA-256 of a committed private value (every peer of the channel holds it), or null. */
    async getPrivateDataHash(collection, key) {
        const hash = await this.stub.getPrivateDataHash(collection, key);
        return hash && hash.length > 0 ? Buffer.from(hash).toString('hex') : null;
    }

    /** A field of the proposal's transient data as text, or null. */
    getTransient(name) {
        const value = this.stub.getTransient().get(name);
        return value === undefined ? null : text(value) ?? '';
    }
}

/** The transaction's context as the contract's `Tx` (contract/src/ledger.rs). */
function txContext(ctx) {
    const identity = ctx.clientIdentity;
    const attributes = {};
    for (const [name, value] of Object.entries(identity.attrs || {})) {
        attributes[name] = String(value);
    }
    return JSON.stringify({
        id: ctx.stub.getTxID(),
        timestamp: rfc3339(ctx.stub.getTxTimestamp()),
        caller: {mspId: identity.getMSPID(), id: identity.getID(), attributes},
        channel: ctx.stub.getChannelID(),
    });
}

module.exports = {StubAdapter, txContext, rfc3339};
