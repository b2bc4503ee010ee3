'use strict';
// Drives the chaincode host, with the real wasm contract, against an in-memory stub.

const test = require('node:test');
const assert = require('node:assert/strict');
const wasm = require('../lib/wasm');
const {VmLedgerContract} = require('..');

// fabric-shim's logger logs and swallows uncaught exceptions; a test must fail on them instead.
process.removeAllListeners('uncaughtException');
const {KeyEndorsementPolicy} = require('fabric-shim');
const {StubAdapter, rfc3339, txContext} = require('../lib/stub-adapter');
const {MemoryWorld} = require('./memory-stub');

const HASH = '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08';
const OTHER_HASH = 'a'.repeat(64);
/** The migration's transfer key (the source keeps it to the transfer), its hash, and the image's HMAC. */
const TRANSFER_KEY = '11'.repeat(32);
const TRANSFER_KEY_HASH = require('node:crypto').createHash('sha256').update(Buffer.from(TRANSFER_KEY, 'hex')).digest('hex');
const KEYED = '22'.repeat(32);
const migrate = (destinationHostId) => ({vmId: 'vm1', destinationHostId, imageHash: HASH, keyedDigest: KEYED,
    transferKeyHash: TRANSFER_KEY_HASH});
const confirm = (migrationId, observedHash) => ({migrationId, observedHash, transferKey: TRANSFER_KEY, keyedDigest: KEYED});
/** A member's identity as its CA issues it: NodeOU client, the vmledger role a certificate attribute. */
const identity = (mspId, name, role) => ({
    mspId, id: `x509::/C=US/OU=client/CN=${name}::/C=US/CN=ca.${mspId}`, attrs: {'vmledger.role': role},
});
const ORG1_MANAGER = identity('Org1MSP', 'manager', 'manager');
const ORG1_OPERATOR = identity('Org1MSP', 'operator', 'operator');
const ORG2_MANAGER = identity('Org2MSP', 'manager', 'manager');

/** Runs one transaction through the host; commits it only if it succeeds, like Fabric. */
async function submit(world, caller, fn, request, transient = {}) {
    const ctx = world.transaction(caller);
    ctx.fcn = fn;
    ctx.transient = transient;
    const contract = new VmLedgerContract();
    const method = contract[fn] ? contract[fn].bind(contract) : () => contract.unknownTransaction(ctx);
    try {
        const answer = await method(ctx, JSON.stringify(request));
        ctx.commit();
        return {answer: JSON.parse(answer), ctx};
    } catch (error) {
        return {error: JSON.parse(error.message), ctx};
    }
}

async function federation() {
    const world = new MemoryWorld();
    const capacity = {cpuCores: 8, memoryMib: 16384, networkMbps: 1000, ioMbps: 1000};
    const steps = [
        [ORG1_MANAGER, 'RegisterCloud', {id: 'org1.cloud-a', name: 'Cloud A'}],
        [ORG2_MANAGER, 'RegisterCloud', {id: 'org2.cloud-b', name: 'Cloud B'}],
        [ORG1_MANAGER, 'RegisterHost', {id: 'org1.a-jp-1', cloudId: 'org1.cloud-a', country: 'JP', organizations: ['CompanyA'], capacity}],
        [ORG2_MANAGER, 'RegisterHost', {id: 'org2.b-gb-1', cloudId: 'org2.cloud-b', country: 'GB', organizations: ['CompanyB'], capacity}],
        [ORG2_MANAGER, 'RegisterHost', {id: 'org2.b-de-1', cloudId: 'org2.cloud-b', country: 'DE', organizations: ['CompanyA'], capacity}],
        [ORG1_OPERATOR, 'RegisterVm', {id: 'vm1', cloudId: 'org1.cloud-a', hostId: 'org1.a-jp-1', imageHash: HASH,
            requirements: {cpuCores: 2, memoryMib: 4096, networkMbps: 100, ioMbps: 100},
            regulation: {countries: ['JP', 'GB'], organizations: ['CompanyA', 'CompanyB']}}],
    ];
    for (const [caller, fn, request] of steps) {
        const {error} = await submit(world, caller, fn, request);
        assert.equal(error, undefined, `${fn}: ${JSON.stringify(error)}`);
    }
    return world;
}

test('every function of the wasm contract is a method of the Fabric contract', () => {
    const methods = Object.getOwnPropertyNames(VmLedgerContract.prototype)
        .filter((name) => name !== 'constructor' && name !== 'unknownTransaction');
    const functions = JSON.parse(wasm.functions());
    assert.deepEqual([...methods].sort(), functions.map((f) => f.name).sort());
    assert.ok(functions.some((f) => f.name === 'Migrate' && f.access === 'submit' && f.input === 'Migrate'));
    assert.ok(functions.some((f) => f.name === 'GetVm' && f.access === 'evaluate' && f.output === 'VirtualMachine'));
});

test("Fabric's GetMetadata lists every function of the wasm contract, each with one argument", async () => {
    const {JSONSerializer} = require('fabric-contract-api');
    const ChaincodeFromContract = require('fabric-shim/lib/contract-spi/chaincodefromcontract');
    const serializers = {transaction: 'jsonSerializer', serializers: {jsonSerializer: JSONSerializer}};
    // What fabric-shim builds at start-up from the contract class; GetMetadata answers it as it is.
    const chaincode = new ChaincodeFromContract([VmLedgerContract], serializers, {}, 'vmledger', '0.1.0');
    const system = chaincode.contractImplementations['org.hyperledger.fabric'].contractInstance;
    const metadata = await system.GetMetadata();
    const transactions = metadata.contracts.vmledger.transactions;
    assert.deepEqual(transactions.map((t) => t.name).sort(), JSON.parse(wasm.functions()).map((f) => f.name).sort());
    for (const t of transactions) assert.equal(t.parameters.length, 1, t.name);
});

test('timestamps keep their nanoseconds', () => {
    assert.equal(rfc3339({seconds: 1_700_000_000, nanos: 5}), '2023-11-14T22:13:20.000000005Z');
});

test('a migration across clouds is indicated, confirmed and moves the VM', async () => {
    const world = await federation();
    const indicated = await submit(world, ORG1_OPERATOR, 'Migrate', migrate('org2.b-gb-1'));
    assert.equal(indicated.answer.status, 'indicated');
    assert.equal(indicated.answer.scope, 'inter');
    assert.equal(indicated.answer.id, indicated.ctx.stub.getTxID());
    assert.equal(indicated.ctx.event.name, 'MigrationIndicated');

    const confirmed = await submit(world, ORG2_MANAGER, 'ConfirmMigration', confirm(indicated.answer.id, HASH));
    assert.equal(confirmed.answer.status, 'confirmed');
    assert.equal(confirmed.ctx.event.name, 'MigrationConfirmed');
    const {answer: vm} = await submit(world, ORG2_MANAGER, 'GetVm', {id: 'vm1'});
    assert.equal(vm.hostId, 'org2.b-gb-1');
    assert.equal(vm.since, confirmed.answer.closedAt);
    assert.match(vm.since, /\.000000005Z$/);
});

test('a wrong hash is committed as a rejection and the VM stays', async () => {
    const world = await federation();
    const {answer: m} = await submit(world, ORG1_OPERATOR, 'Migrate', migrate('org2.b-gb-1'));
    const rejected = await submit(world, ORG2_MANAGER, 'ConfirmMigration', confirm(m.id, OTHER_HASH));
    assert.equal(rejected.answer.status, 'rejected');
    assert.equal(rejected.answer.observedHash, OTHER_HASH);
    assert.equal(rejected.ctx.event.name, 'MigrationRejected');
    const {answer: vm} = await submit(world, ORG2_MANAGER, 'GetVm', {id: 'vm1'});
    assert.equal(vm.hostId, 'org1.a-jp-1');
    assert.equal(vm.status, 'running');
});

test('a refusal is thrown as the wire JSON, writes nothing and emits nothing', async () => {
    const world = await federation();
    const before = new Map(world.state);
    const {error, ctx} = await submit(world, ORG1_OPERATOR, 'Migrate', migrate('org2.b-de-1'));
    assert.equal(error.code, 'POLICY_DENIED');
    assert.equal(error.details.reasons[0].country, 'DE');
    assert.match(error.message, /country DE not in allowed countries \[JP, GB\]/);
    assert.equal(ctx.writes.size, 0);
    assert.equal(ctx.event, null);
    assert.deepEqual(world.state, before);
});

test('an unknown function is NOT_FOUND in the same wire form', async () => {
    const {error} = await submit(await federation(), ORG1_OPERATOR, 'Teleport', {});
    assert.deepEqual({code: error.code, details: error.details}, {code: 'NOT_FOUND', details: {kind: 'function', id: 'Teleport'}});
});

test('listings page through the range with bookmarks, and history reads oldest first', async () => {
    const world = await federation();
    const ids = [];
    for (let i = 0; i < 3; i += 1) {
        const {answer: m} = await submit(world, ORG1_OPERATOR, 'Migrate', migrate('org2.b-gb-1'));
        await submit(world, ORG1_OPERATOR, 'CancelMigration', {migrationId: m.id});
        ids.push(m.id);
    }
    const first = await submit(world, ORG2_MANAGER, 'ListMigrations', {vmId: 'vm1', pageSize: 2});
    assert.deepEqual(first.answer.items.map((m) => m.id), ids.slice(0, 2));
    const rest = await submit(world, ORG2_MANAGER, 'ListMigrations', {vmId: 'vm1', pageSize: 2, bookmark: first.answer.bookmark});
    assert.deepEqual(rest.answer.items.map((m) => m.id), ids.slice(2));

    await submit(world, ORG1_MANAGER, 'SetRegulation', {vmId: 'vm1', regulation: {countries: 'All', organizations: 'All'}});
    const {answer: history} = await submit(world, ORG2_MANAGER, 'VmHistory', {id: 'vm1'});
    assert.deepEqual(history.regulationChanges.map((c) => c.regulation.countries), [['JP', 'GB'], 'All']);
    assert.equal(history.migrations.length, 3);
});

test('a key-level endorsement policy reaches Fabric naming every member given', async () => {
    const ctx = new MemoryWorld().transaction(ORG1_MANAGER);
    await new StubAdapter(ctx.stub).setEndorsers('vm/vm-1', JSON.stringify(['Org1MSP', 'Org2MSP']));
    const policy = new KeyEndorsementPolicy(ctx.policies.get('vm/vm-1'));
    assert.deepEqual(policy.listOrgs().sort(), ['Org1MSP', 'Org2MSP']);
});

test('the transaction context names the channel the contract runs on', () => {
    const ctx = new MemoryWorld('local-org1').transaction(ORG1_OPERATOR);
    assert.equal(JSON.parse(txContext(ctx)).channel, 'local-org1');
});

test('a query of a channel this peer has not joined is refused, not answered', async () => {
    const ctx = new MemoryWorld().transaction(ORG1_OPERATOR);
    await assert.rejects(new StubAdapter(ctx.stub).queryChannel('local-org9', 'GetVm', '{"id":"v"}'), /local-org9/);
});

test('terms reach the pair collection from transient data; the shared ledger holds only their hash', async () => {
    const world = await federation();
    const prices = {currency: 'EUR', cpuCoreHour: 17000, memoryGibHour: 4000, networkMbpsHour: 7, ioMbpsHour: 1};
    const terms = JSON.stringify({prices, salt: '5a'.repeat(32)});
    const proposal = {id: 'org1.t1', sourceCloudId: 'org1.cloud-a', destinationCloudId: 'org2.cloud-b',
        availabilityTargetBp: 9990, maxDowntimeMs: 500,
        penalty: {currency: 'EUR', fixedCredit: 1, creditPerDowntimeSecond: 1, creditPerBasisPoint: 1, maxCredit: 9}};
    const missing = await submit(world, ORG1_MANAGER, 'ProposeTerms', proposal);
    assert.equal(missing.error.code, 'INVALID_ARGUMENT');
    assert.match(missing.error.message, /transient/);

    const {answer, ctx} = await submit(world, ORG1_MANAGER, 'ProposeTerms', proposal, {terms});
    assert.equal(answer.collection, 'terms-org1-org2');
    assert.deepEqual([...ctx.privateWrites.keys()], ['terms-org1-org2\u0000terms/org1.t1']);
    const written = ctx.privateWrites.get('terms-org1-org2\u0000terms/org1.t1');
    assert.equal(answer.privateHash, require('node:crypto').createHash('sha256').update(written).digest('hex'));
    assert.ok(![...world.state.values()].some((v) => v.includes('17000')), 'no price on the shared ledger');

    const {answer: view} = await submit(world, ORG2_MANAGER, 'GetTerms', {id: 'org1.t1'});
    assert.equal(view.ledgerHash, answer.privateHash);
    assert.equal(view.verified, true);
    assert.deepEqual(view.private.prices, prices);
});
test('a creation marker reaches the owner\'s implicit collection through the stub; a record without one is not found',
    async () => {
        const world = await federation();
        const {answer, ctx} = await submit(world, ORG1_MANAGER, 'RegisterCloud', {id: 'org1.c2', name: 'C2'});
        assert.equal(answer.mspId, 'Org1MSP');
        assert.deepEqual([...ctx.privateWrites.entries()], [['_implicit_org_Org1MSP\u0000cloud/org1.c2', 'created']]);
        // Another member reads it through the marker's hash, which every peer holds.
        assert.equal((await submit(world, ORG2_MANAGER, 'GetCloud', {id: 'org1.c2'})).answer.id, 'org1.c2');

        // The same record written without its marker (what a majority running a modified contract can commit).
        world.state.set('cloud/org1.c3', JSON.stringify({...answer, id: 'org1.c3'}));
        const {error} = await submit(world, ORG2_MANAGER, 'GetCloud', {id: 'org1.c3'});
        assert.equal(error.code, 'NOT_FOUND');
        assert.match(error.details.unanchored, /Org1MSP's peers never endorsed its creation/);
    });
