'use strict';
/**
 * End-to-end tests of vmledger on a real Fabric network, through Fabric itself (the peer CLI):
 * every write on the federation is endorsed by every member's peer, ordered by the members' orderers
 * and committed; a move inside a cloud goes on its member's local chain, whose contract reads the
 * registry from the federation on the same peer.
 *
 * Needs a running network: `network/vmledger-net up` (scripts/test brings one up and down).
 * Run: node --test tests/network/
 *
 * Each run registers the demo federation of fixtures/federation.json under fresh ids (suffixed with
 * a run id), so runs never collide on a long-lived ledger. The last test restarts the network
 * (`vmledger-net down` then `up`): keep it last, and do not run these tests beside other tests that
 * need the network at that moment.
 */
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { before, describe, test } = require('node:test');

const {
  ContractError, Fabric, ROOT, confirmation, indication, transferKey, vmledgerNet,
} = require('./fabric');

const RUN_ID = `${Date.now().toString(36)}${crypto.randomBytes(2).toString('hex')}`;
const fixture = JSON.parse(fs.readFileSync(path.join(ROOT, 'fixtures', 'federation.json'), 'utf8'));
const id = (base) => `${base}.${RUN_ID}`;
const sha256 = (text) => crypto.createHash('sha256').update(text).digest('hex');

/** The fixture's transaction inputs under this run's ids. */
function federation() {
  return {
    clouds: fixture.clouds.map((c) => ({ ...c, id: id(c.id) })),
    hosts: fixture.hosts.map((h) => ({ ...h, id: id(h.id), cloudId: id(h.cloudId) })),
    vms: fixture.vms.map((v) => ({ ...v, id: id(v.id), cloudId: id(v.cloudId), hostId: id(v.hostId) })),
  };
}

/** The member (org1, org2, …) that operates a fixture cloud. */
const operatorOf = (cloudId) => fixture.operators[cloudId.slice(0, cloudId.lastIndexOf('.'))].org;

/** Assert that PROMISE is refused by the contract with CODE; returns the error. */
async function refusedWith(promise, code) {
  const err = await promise.then(
    (ok) => assert.fail(`expected ${code}, but it succeeded: ${JSON.stringify(ok)}`),
    (e) => e,
  );
  assert.ok(err instanceof ContractError, `expected a contract error ${code}, got: ${err.stack}`);
  assert.equal(err.code, code, err.message);
  return err;
}

describe('vmledger on a real Fabric network', { timeout: 600000 }, () => {
  let fabric;
  const fed = federation();
  const migrations = {};

  before(async () => {
    fabric = new Fabric();
    try {
      for (const p of fabric.network.peers) await fabric.query(p.org, 'operator', 'Ping');
    } catch (err) {
      throw new Error('the vmledger network is not running (start it with `network/vmledger-net up`): '
        + `Ping did not answer: ${err.message}`);
    }
    // Given the demo federation, each record registered by the member operating its cloud.
    await Promise.all(fed.clouds.map((c) => fabric.invoke(operatorOf(c.id), 'manager', 'RegisterCloud', c)));
    await Promise.all(fed.hosts.map((h) => fabric.invoke(operatorOf(h.cloudId), 'manager', 'RegisterHost', h)));
    await Promise.all(fed.vms.map((v) => fabric.invoke(operatorOf(v.cloudId), 'operator', 'RegisterVm', v)));
  });

  test('the federation is on the ledger, as each member sees it', async () => {
    for (const p of fabric.network.peers) {
      const vm = await fabric.query(p.org, 'operator', 'GetVm', { id: id('vm-003') });
      assert.equal(vm.hostId, id('org1.a-tokyo-1'));
      assert.equal(vm.status, 'running');
      assert.deepEqual(vm.regulation, { countries: ['JP', 'GB'], organizations: ['CompanyA', 'CompanyB'] });
    }
    const cloud = await fabric.query('org2', 'operator', 'GetCloud', { id: id('org1.cloud-a') });
    assert.equal(cloud.mspId, 'Org1MSP');
  });

  test('a migration is recorded: Migrate, then ConfirmMigration with the right hash moves the VM', async () => {
    const vmId = id('vm-003');
    const { imageHash } = fed.vms.find((v) => v.id === vmId);
    // When cloud-a (org1) indicates the migration of vm-003 to b-london-1 (GB, CompanyB: allowed)…
    const k = transferKey();
    const indicated = await fabric.invoke('org1', 'operator', 'Migrate',
      indication(vmId, id('org2.b-london-1'), imageHash, k));
    assert.equal(indicated.status, 'VALID');
    const migration = await fabric.query('org2', 'operator', 'GetMigration', { id: indicated.txId });
    assert.equal(migration.status, 'indicated');
    assert.equal(migration.scope, 'inter');
    assert.equal((await fabric.query('org1', 'operator', 'GetVm', { id: vmId })).status, 'migrating');

    // …and cloud-b (org2) confirms with the hash of what it received, equal to the recorded one,
    const confirmed = await fabric.invoke('org2', 'operator', 'ConfirmMigration',
      confirmation(indicated.txId, imageHash, k));
    assert.equal(confirmed.status, 'VALID');

    // then the VM runs on the destination host, and the migration is confirmed, for every member.
    for (const p of fabric.network.peers) {
      const vm = await fabric.query(p.org, 'operator', 'GetVm', { id: vmId });
      assert.equal(vm.hostId, id('org2.b-london-1'));
      assert.equal(vm.status, 'running');
      const done = await fabric.query(p.org, 'operator', 'GetMigration', { id: indicated.txId });
      assert.equal(done.status, 'confirmed');
      assert.equal(done.observedHash, imageHash);
      assert.deepEqual(done.source, { cloudId: id('org1.cloud-a'), hostId: id('org1.a-tokyo-1') });
      assert.deepEqual(done.destination, { cloudId: id('org2.cloud-b'), hostId: id('org2.b-london-1') });
    }
    migrations.confirmed = indicated.txId;
  });

  test('a residency-policy violation is refused with POLICY_DENIED, and nothing is written', async () => {
    const vmId = id('vm-003');
    const before = await fabric.query('org1', 'operator', 'GetVm', { id: vmId });
    // b-frankfurt-1 is in DE and managed by CompanyC: neither is allowed by vm-003's regulation.
    const err = await refusedWith(fabric.invoke('org1', 'operator', 'Migrate',
      indication(vmId, id('org2.b-frankfurt-1'), before.imageHash, transferKey())), 'POLICY_DENIED');
    assert.match(err.message, /DE|CompanyC/);
    assert.deepEqual(await fabric.query('org1', 'operator', 'GetVm', { id: vmId }), before);
  });

  test('a wrong hash at ConfirmMigration commits a rejected migration and the VM stays', async () => {
    const vmId = id('vm-web');
    const { imageHash } = fed.vms.find((v) => v.id === vmId);
    const k = transferKey();
    const indicated = await fabric.invoke('org1', 'operator', 'Migrate',
      indication(vmId, id('org2.b-paris-1'), imageHash, k));
    const tampered = sha256('an image altered on its way');
    // The destination reports a different hash: the transaction is valid and committed as evidence…
    const rejected = await fabric.invoke('org2', 'operator', 'ConfirmMigration',
      confirmation(indicated.txId, tampered, k));
    assert.equal(rejected.status, 'VALID');
    // …the migration is rejected with the hash observed, and the VM is still on its source host.
    for (const p of fabric.network.peers) {
      const migration = await fabric.query(p.org, 'operator', 'GetMigration', { id: indicated.txId });
      assert.equal(migration.status, 'rejected');
      assert.equal(migration.recordedHash, imageHash);
      assert.equal(migration.observedHash, tampered);
      const vm = await fabric.query(p.org, 'operator', 'GetVm', { id: vmId });
      assert.equal(vm.hostId, id('org1.a-virginia-1'));
      assert.equal(vm.status, 'running');
      assert.equal(vm.imageHash, imageHash);
    }
    migrations.rejected = indicated.txId;
  });

  test('a host without room is refused with CAPACITY_EXCEEDED', async () => {
    const vmId = id('vm-web');
    const { imageHash } = fed.vms.find((v) => v.id === vmId);
    await refusedWith(fabric.invoke('org1', 'operator', 'Migrate',
      indication(vmId, id('org2.b-london-2'), imageHash, transferKey())), 'CAPACITY_EXCEEDED');
  });

  test('a move inside cloud A is on org1\'s local chain only, which reads the registry from the federation',
    async () => {
      const local = fabric.peerOf('org1').localChannel;
      const vmId = id('vm-db');
      const { imageHash } = fed.vms.find((v) => v.id === vmId);
      const k = transferKey();
      const inside = indication(vmId, id('org1.a-tokyo-1'), imageHash, k);
      const err = await refusedWith(fabric.invoke('org1', 'operator', 'Migrate', inside), 'CONFLICT');
      assert.match(err.message, new RegExp(`recorded on \`${local}\``));
      const indicated = await fabric.invoke('org1', 'operator', 'Migrate', inside, local);
      assert.equal(indicated.status, 'VALID');
      const confirmed = await fabric.invoke('org1', 'operator', 'ConfirmMigration',
        confirmation(indicated.txId, imageHash, k), local);
      assert.equal(confirmed.status, 'VALID');
      const migration = await fabric.query('org1', 'operator', 'GetMigration', { id: indicated.txId }, local);
      assert.deepEqual([migration.scope, migration.status], ['local', 'confirmed']);
      // The local chain sees the VM where it moved; no member's federation ledger holds the move.
      assert.equal((await fabric.query('org1', 'operator', 'GetVm', { id: vmId }, local)).hostId, id('org1.a-tokyo-1'));
      for (const p of fabric.network.peers) {
        await refusedWith(fabric.query(p.org, 'operator', 'GetMigration', { id: indicated.txId }), 'NOT_FOUND');
        assert.equal((await fabric.query(p.org, 'operator', 'GetVm', { id: vmId })).hostId, id('org1.a-osaka-1'));
      }
      migrations.local = indicated.txId;
    });

  test('the ledger keeps its history across down/up', async () => {
    assert.ok(migrations.confirmed && migrations.rejected && migrations.local, 'the migration tests above must have passed');
    await vmledgerNet('down');
    await vmledgerNet('up');
    fabric = new Fabric();
    for (const p of fabric.network.peers) {
      assert.equal((await fabric.query(p.org, 'operator', 'GetMigration', { id: migrations.confirmed })).status, 'confirmed');
      assert.equal((await fabric.query(p.org, 'operator', 'GetMigration', { id: migrations.rejected })).status, 'rejected');
      assert.equal((await fabric.query(p.org, 'operator', 'GetVm', { id: id('vm-003') })).hostId, id('org2.b-london-1'));
    }
    const local = fabric.peerOf('org1').localChannel;
    assert.equal((await fabric.query('org1', 'operator', 'GetMigration', { id: migrations.local }, local)).status,
      'confirmed');
    // And both kinds of chain still record new transactions after the restart.
    const vm = await fabric.query('org1', 'operator', 'GetVm', { id: id('vm-db') }, local);
    const back = await fabric.invoke('org1', 'operator', 'Migrate',
      indication(vm.id, id('org1.a-osaka-1'), vm.imageHash, transferKey()), local);
    assert.equal(back.status, 'VALID');
    const ping = await fabric.invoke('org2', 'operator', 'Ping', {});
    assert.equal(ping.status, 'VALID');
  });
});
