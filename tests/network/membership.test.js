'use strict';
/**
 * A federation of equals, on the real network (network/vmledger-net), through Fabric itself:
 * a role smuggled into a certificate's subject grants nothing; a join short of a majority of admin
 * signatures is refused and changes nothing; a new member joins while migrations run, receives a
 * migration, and every peer answers the same history byte for byte; a member leaves and its past
 * migrations still answer.
 *
 * Needs a running network of two members or more (scripts/test brings one up). It adds and removes a member, so
 * run it alone (node --test --test-concurrency=1 tests/network/). Each run adds a member number:
 * a network holds nine in all, so a long-lived ledger takes seven runs of this file.
 */
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { before, describe, test } = require('node:test');

const {
  ContractError, Fabric, confirmation, indication, transferKey, vmledgerNet,
} = require('./fabric');

const RUN_ID = `${Date.now().toString(36)}${crypto.randomBytes(2).toString('hex')}`;
const id = (base) => `${base}.${RUN_ID}`;
const hash = crypto.createHash('sha256').update(`image ${RUN_ID}`).digest('hex');
const resources = (cpu) => ({ cpuCores: cpu, memoryMib: 1024 * cpu, networkMbps: 100, ioMbps: 100 });

async function refusedWith(promise, code) {
  const err = await promise.then((ok) => assert.fail(`expected ${code}, got ${JSON.stringify(ok)}`), (e) => e);
  assert.ok(err instanceof ContractError, `expected the contract's ${code}, got: ${err.stack}`);
  assert.equal(err.code, code, err.message);
  return err;
}

function host(hostId, cloudId, country) {
  return { id: hostId, cloudId, country, organizations: ['CompanyA'], capacity: resources(16) };
}

describe('members join and leave a running federation', { timeout: 900000 }, () => {
  let fabric;
  let joiner;
  let members;

  before(async () => {
    fabric = new Fabric();
    members = fabric.network.peers.map((p) => p.org);
    assert.ok(members.length >= 2, 'this suite needs a federation of two members or more');
    await fabric.invoke('org1', 'manager', 'RegisterCloud', { id: id('org1.cloud-a'), name: 'A' });
    await fabric.invoke('org2', 'manager', 'RegisterCloud', { id: id('org2.cloud-b'), name: 'B' });
    await Promise.all([
      fabric.invoke('org1', 'manager', 'RegisterHost', host(id('org1.a-1'), id('org1.cloud-a'), 'JP')),
      fabric.invoke('org2', 'manager', 'RegisterHost', host(id('org2.b-1'), id('org2.cloud-b'), 'GB')),
    ]);
    await fabric.invoke('org1', 'operator', 'RegisterVm', {
      id: id('vm'), cloudId: id('org1.cloud-a'), hostId: id('org1.a-1'), requirements: resources(1), imageHash: hash,
      regulation: { countries: 'All', organizations: 'All' },
    });
  });

  test('an admin unit smuggled into a certificate subject gives no manager rights', async () => {
    // Org1's CA issues a certificate whose subject holds OU=admin twice over (in the CN and in L),
    // with the role its registrar gave it: operator.
    const name = `m${RUN_ID},OU=admin`;
    const { stdout } = await vmledgerNet(['identity', 'org1', name, '--role', 'operator', '--subject', 'L=x/OU=admin']);
    const msp = stdout.trim();
    const cert = new crypto.X509Certificate(fs.readFileSync(path.join(msp, 'signcerts', 'cert.pem')));
    assert.match(cert.subject, /OU=admin/);
    const err = await refusedWith(fabric.invoke('org1', { msp }, 'RegisterCloud', { id: id('org1.cloud-x'), name: 'X' }),
      'UNAUTHORIZED');
    assert.equal(err.details.callerRole, 'operator');
    await refusedWith(fabric.query('org1', 'operator', 'GetCloud', { id: id('org1.cloud-x') }), 'NOT_FOUND');
  });

  test('a join signed by 1 of the majority of admins it needs is refused and changes nothing', async () => {
    joiner = (await vmledgerNet(['org', 'add'])).stdout.trim();
    assert.match(joiner, /^org\d$/);
    const sequence = await fabric.configSequence('org1');
    const file = path.join(fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'vmledger-join-')), 'add.pb');
    await vmledgerNet(['update', 'propose', 'add-org', joiner, '--out', file]);
    await vmledgerNet(['update', 'sign', file, '--as', 'org1']);
    const refused = await vmledgerNet(['update', 'submit', file, '--as', 'org1']).then(
      () => assert.fail(`an update signed by one admin of ${members.length} was accepted`), (e) => e);
    assert.match(`${refused.stderr}`, /policy for \[Group\]\s+\/Channel\/(Application|Orderer) not satisfied/);
    assert.equal(await fabric.configSequence('org1'), sequence);
    assert.equal(new Fabric().network.peers.length, members.length);
  });

  test('a new member joins while migrations run, receives one, and every peer tells the same history',
    async () => {
      assert.ok(joiner, 'the previous test prepared the joining member');
      // Migrations back and forth between clouds A and B, one after another, during the join: each
      // indicated by A (the VM's operator), confirmed by its destination.
      let joined = false;
      const moves = [];
      const migrating = (async () => {
        let [to, by] = [id('org2.b-1'), 'org2'];
        while (!joined && moves.length < 40) {
          const k = transferKey();
          const indicated = await fabric.invoke('org1', 'operator', 'Migrate', indication(id('vm'), to, hash, k));
          const confirmed = await fabric.invoke(by, 'operator', 'ConfirmMigration',
            confirmation(indicated.txId, hash, k));
          moves.push([indicated.status, confirmed.status]);
          [to, by] = by === 'org2' ? [id('org1.a-1'), 'org1'] : [id('org2.b-1'), 'org2'];
        }
      })();
      await vmledgerNet(['join', joiner]).finally(() => { joined = true; });
      await migrating;
      assert.ok(moves.length > 0, 'no migration ran during the join');
      assert.deepEqual(moves.filter(([i, c]) => i !== 'VALID' || c !== 'VALID'), []);

      fabric = new Fabric();
      assert.equal(fabric.network.peers.length, members.length + 1);
      await fabric.invoke(joiner, 'manager', 'RegisterCloud', { id: id(`${joiner}.cloud-c`), name: 'C' });
      await fabric.invoke(joiner, 'manager', 'RegisterHost', host(id(`${joiner}.c-1`), id(`${joiner}.cloud-c`), 'GB'));
      const k = transferKey();
      const indicated = await fabric.invoke('org1', 'operator', 'Migrate',
        indication(id('vm'), id(`${joiner}.c-1`), hash, k));
      await fabric.invoke(joiner, 'operator', 'ConfirmMigration', confirmation(indicated.txId, hash, k));

      const histories = await Promise.all(fabric.network.peers.map((p) => fabric.queryText(p.org, 'operator',
        'VmHistory', { id: id('vm') })));
      assert.equal(JSON.parse(histories[0]).vm.hostId, id(`${joiner}.c-1`));
      assert.ok(histories.every((h) => h === histories[0]), `histories differ:\n${histories.join('\n')}`);
    });

  test('a member leaves; its past migrations still answer', async () => {
    const before = await fabric.queryText('org1', 'operator', 'VmHistory', { id: id('vm') });
    await vmledgerNet(['leave', joiner]);
    fabric = new Fabric();
    assert.deepEqual(fabric.network.peers.map((p) => p.org), members);
    for (const p of fabric.network.peers) {
      assert.equal(await fabric.queryText(p.org, 'operator', 'VmHistory', { id: id('vm') }), before);
      assert.equal((await fabric.query(p.org, 'operator', 'GetCloud', { id: id(`${joiner}.cloud-c`) })).mspId,
        `Org${joiner.slice(3)}MSP`);
    }
    // The federation goes on without it.
    const ping = await fabric.invoke('org2', 'operator', 'Ping', {});
    assert.equal(ping.status, 'VALID');
  });
});
