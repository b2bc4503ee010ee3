'use strict';
/**
 * Hostile members (issue 12), on a real federation of three members, through Fabric itself: each
 * attack a member could try on another, tried as it would be — with the peer CLI, or with a proposal
 * built and signed by the attacker's own client when the CLI cannot express it (a chosen timestamp,
 * a 1.1 MB argument) — and refused with a stable code, the state read back unchanged.
 *
 *   1. forged time: outside the peers' time window, refused by the peer; a Confirmation back-dated
 *      before its Indication inside the window, refused by the contract (CONFLICT);
 *   2. stalling a member's chaincode with an oversized request: refused at once, a Ping right
 *      after answers within a small bound;
 *   3. collusion: two members of three endorse a write to the third's assets — the contract's own
 *      Confirmation without its owner, or what a modified contract writes, signed by their peers:
 *      invalidated at commit (ENDORSEMENT_POLICY_FAILURE), while two of three suffice where no
 *      member owns the key; the same two creating new records in the third's name (a cloud in its
 *      namespace, a VM of its cloud, a stay that bills its VM): without the third's creation marker
 *      every peer ignores them and names them, with one in its implicit collection they are
 *      invalidated at commit;
 *   4. locking a host: the destination declines (no tamper evidence); an Indication expires at its
 *      deadline and frees its reservation; no Confirmation without the transfer key;
 *   5. squatting another member's names; moving a host where a resident VM may not be;
 *   6. malformed inputs: typed errors naming the field; the proxy signs as a member's application
 *      identity, never its admin. (The proxy's 400 to `{"args": []}` and its refusal to reach qscc
 *      are end-to-end tests of network/proxy/test/e2e/api.test.js.)
 *
 * Uses the running network when it has three members or more (`network/vmledger-net up --orgs 3`);
 * otherwise starts its own 3-member network in a temporary run folder, on ports 2000 above the main
 * network's base (VMLEDGER_NET_BASE_PORT or 7000), and removes it afterwards.
 */
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { after, before, describe, test } = require('node:test');

const {
  ContractError, Fabric, RUN, confirmation, indication, loadNetwork, transferKey, vmledgerNet,
} = require('./fabric');

const RUN_ID = `${Date.now().toString(36)}${crypto.randomBytes(2).toString('hex')}`;
const id = (base) => `${base}.${RUN_ID}`;
const sha256 = (text) => crypto.createHash('sha256').update(text).digest('hex');
// Every resource in proportion to the cores: a host of N cores holds VMs of N cores in all, exactly.
const resources = (cpu) => ({ cpuCores: cpu, memoryMib: 1024 * cpu, networkMbps: 10 * cpu, ioMbps: 10 * cpu });
const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });
const DAY_MS = 86400000;
/** What an oversized request and a Ping right after may take, on two loaded cores (it took 31.8 s before the caps). */
const QUICK_MS = 5000;

async function refusedWith(promise, code) {
  const err = await promise.then((ok) => assert.fail(`expected ${code}, got ${JSON.stringify(ok)}`), (e) => e);
  assert.ok(err instanceof ContractError, `expected the contract's ${code}, got: ${err.stack}`);
  assert.equal(err.code, code, err.message);
  return err;
}

/** A refusal by the peer itself, before any contract runs: its gRPC error. */
async function refusedByPeer(promise, pattern) {
  const err = await promise.then((ok) => assert.fail(`expected the peer to refuse, got ${JSON.stringify(ok)}`), (e) => e);
  assert.ok(!(err instanceof ContractError), `the contract answered, not the peer: ${err.message}`);
  assert.match(err.details ?? err.message, pattern);
  return err;
}

const cloudA = id('org1.cloud-a');
const cloudB = id('org2.cloud-b');
const tokyo = id('org1.a-tokyo');
const london = id('org2.b-london');
const small = id('org2.b-small');
/** Regulated to Japan and Britain, any organisation. */
const jpOrGb = { countries: ['JP', 'GB'], organizations: 'All' };

function vm(name, cpu) {
  const vmId = id(name);
  return {
    id: vmId, cloudId: cloudA, hostId: tokyo, requirements: resources(cpu), imageHash: sha256(vmId), regulation: jpOrGb,
  };
}

describe('hostile members of a 3-member federation', { timeout: 900000 }, () => {
  let fabric;
  let run;
  let own;

  before(async () => {
    const main = (() => {
      try {
        return loadNetwork();
      } catch {
        return undefined;
      }
    })();
    if (main && main.peers.length >= 3) {
      fabric = new Fabric(main);
      run = RUN;
    } else {
      run = fs.mkdtempSync(path.join(os.tmpdir(), 'vmledger-hostile-'));
      own = { VMLEDGER_NET_RUN: run };
      const base = Number(process.env.VMLEDGER_NET_BASE_PORT ?? 7000) + 2000;
      await vmledgerNet(['up', '--orgs', '3', '--base-port', String(base)], own);
      fabric = new Fabric(loadNetwork(run));
    }
    // Org3 owns nothing here: it is the third member, whose peer endorses with org2's.
    await Promise.all([
      fabric.invoke('org1', 'manager', 'RegisterCloud', { id: cloudA, name: 'A' }),
      fabric.invoke('org2', 'manager', 'RegisterCloud', { id: cloudB, name: 'B' }),
    ]);
    const host = (hostId, cloudId, country, organization, cpu) => ({
      id: hostId, cloudId, country, organizations: [organization], capacity: resources(cpu),
    });
    await Promise.all([
      fabric.invoke('org1', 'manager', 'RegisterHost', host(tokyo, cloudA, 'JP', 'CompanyA', 64)),
      fabric.invoke('org2', 'manager', 'RegisterHost', host(london, cloudB, 'GB', 'CompanyB', 64)),
      fabric.invoke('org2', 'manager', 'RegisterHost', host(small, cloudB, 'GB', 'CompanyB', 4)),
    ]);
  });

  after(async () => {
    if (own) await vmledgerNet(['clean'], own);
  });

  /** Registers VMS (of org1, on its Tokyo host), one transaction each. */
  async function given(...vms) {
    for (const v of vms) assert.equal((await fabric.invoke('org1', 'operator', 'RegisterVm', v)).status, 'VALID');
  }

  /** What every member's peer answers for each [function, argument]: to compare before and after. */
  async function everywhere(reads) {
    const out = {};
    for (const p of fabric.network.peers) {
      for (const [fn, arg] of reads) {
        out[`${p.org} ${fn} ${JSON.stringify(arg)}`] = await fabric.query(p.org, 'operator', fn, arg);
      }
    }
    return out;
  }

  describe('forged time', () => {
    test('a proposal dated outside the peers\' 15-minute window is refused by the peer, back or forward', async () => {
      const now = Date.now();
      for (const at of [new Date(now - 400 * DAY_MS), new Date(now - 16 * 60000), new Date(now + 16 * 60000)]) {
        for (const on of ['org1', 'org2']) {
          await refusedByPeer(fabric.propose('org1', 'operator', 'Ping', {}, { on, at }), /incorrect timestamp/);
        }
      }
      // The same proposal, dated now, is endorsed: the refusal is its time.
      assert.ok((await fabric.propose('org1', 'operator', 'Ping', {}, { on: 'org2' })).result.txId);
    });

    test('a Confirmation back-dated 400 days, or to before its Indication, is refused and writes nothing', async () => {
      const v = vm('vm-time', 2);
      await given(v);
      const k = transferKey();
      const indicated = await fabric.invoke('org1', 'operator', 'Migrate', indication(v.id, london, v.imageHash, k));
      assert.equal(indicated.status, 'VALID');
      const reads = [['GetVm', { id: v.id }], ['GetMigration', { id: indicated.txId }], ['GetAllocation', { id: tokyo }]];
      const before = await everywhere(reads);
      const { indicatedAt } = await fabric.query('org2', 'operator', 'GetMigration', { id: indicated.txId });
      const confirm = confirmation(indicated.txId, v.imageHash, k);

      // The attack: the stay on B's host back-dated by 400 days, so that it bills nothing.
      await refusedByPeer(fabric.propose('org2', 'operator', 'ConfirmMigration', confirm,
        { at: new Date(Date.parse(indicatedAt) - 400 * DAY_MS) }), /incorrect timestamp/);
      // Inside the window, a time before the Indication: the contract keeps records in order, on every peer.
      const early = new Date(Date.parse(indicatedAt) - 120000);
      for (const on of ['org1', 'org2', 'org3']) {
        const err = await refusedWith(fabric.propose('org2', 'operator', 'ConfirmMigration', confirm, { on, at: early }),
          'CONFLICT');
        assert.match(err.message, /before the Indication/);
        assert.ok(err.message.includes(early.toISOString().slice(0, 19)), err.message);
        assert.ok(err.message.includes(indicatedAt.slice(0, 19)), err.message);
      }
      assert.deepEqual(await everywhere(reads), before);

      // The same Confirmation, at its true time, is recorded.
      assert.equal((await fabric.invoke('org2', 'operator', 'ConfirmMigration', confirm)).status, 'VALID');
      const done = await fabric.query('org1', 'operator', 'GetMigration', { id: indicated.txId });
      assert.equal(done.status, 'confirmed');
      assert.ok(Date.parse(done.closedAt) >= Date.parse(indicatedAt));

      // The other side of the same attack: the operator moves its VM off B's host with an Indication
      // dated before it arrived there, to cut B's stay short. Refused too, and nothing written.
      const arrived = await everywhere([['GetVm', { id: v.id }], ['GetAllocation', { id: tokyo }]]);
      const beforeArrival = new Date(Date.parse(done.closedAt) - 60000);
      const err = await refusedWith(fabric.propose('org1', 'operator', 'Migrate',
        indication(v.id, tokyo, v.imageHash, transferKey()), { on: 'org2', at: beforeArrival }), 'CONFLICT');
      assert.match(err.message, /before the VM's arrival on its host/);
      assert.deepEqual(await everywhere([['GetVm', { id: v.id }], ['GetAllocation', { id: tokyo }]]), arrived);

      // So B's stay is billed from the true Confirmation on, not from 400 days before nor for nothing.
      const usage = await fabric.query('org2', 'operator', 'Usage',
        { cloudId: cloudB, from: indicatedAt, to: new Date(Date.now() + 60000).toISOString() });
      const billed = usage.vms.find((u) => u.vmId === v.id);
      assert.ok(billed && billed.durationMs > 0, JSON.stringify(usage));
      assert.ok(billed.durationMs <= Date.now() - Date.parse(done.closedAt) + 60000, JSON.stringify(billed));
    });
  });

  describe('a request that would stall a member', () => {
    test('a 1.1 MB RegisterHost for another member\'s cloud is refused at once, and a Ping right after answers quickly',
      async (t) => {
        const ping = async () => (await fabric.propose('org3', 'operator', 'Ping', {}, { on: 'org1' })).ms;
        const floor = [];
        for (let i = 0; i < 3; i += 1) floor.push(await ping());
        floor.sort((a, b) => a - b);

        // Org2 asks org1's peer to register a host in org1's cloud, with 100 000 organisations.
        const stallId = id('org2.stall');
        const organizations = Array.from({ length: 100000 }, (_, i) => `Org ${i}`);
        const big = { id: stallId, cloudId: cloudA, country: 'GB', organizations, capacity: resources(1) };
        const bytes = Buffer.byteLength(JSON.stringify(big));
        assert.ok(bytes > 1.1e6, `${bytes} bytes`);
        const [refusal, pingDuring] = await Promise.all([
          refusedWith(fabric.propose('org2', 'manager', 'RegisterHost', big, { on: 'org1' }), 'INVALID_ARGUMENT'),
          sleep(20).then(ping),
        ]);
        assert.equal(refusal.details.field, 'argument');
        assert.match(refusal.message, new RegExp(`${bytes} bytes; at most 65536`));
        const pingAfter = await ping();
        t.diagnostic(`Ping floor (median of 3, org3 on org1's peer): ${floor[1].toFixed(0)} ms; `
          + `1.1 MB RegisterHost (${bytes} bytes): ${refusal.ms.toFixed(0)} ms; `
          + `Ping sent 20 ms after it: ${pingDuring.toFixed(0)} ms; Ping after it: ${pingAfter.toFixed(0)} ms`);
        assert.ok(refusal.ms < QUICK_MS, `the oversized call took ${refusal.ms} ms`);
        assert.ok(pingDuring < QUICK_MS && pingAfter < QUICK_MS, `Ping took ${pingDuring} ms, then ${pingAfter} ms`);

        // Just under the cap, the list is not even read: who may register comes first.
        const under = { ...big, organizations: organizations.slice(0, 3000) };
        assert.ok(Buffer.byteLength(JSON.stringify(under)) < 65536);
        const unauthorized = await refusedWith(fabric.propose('org2', 'manager', 'RegisterHost', under, { on: 'org1' }),
          'UNAUTHORIZED');
        assert.equal(unauthorized.details.callerMspId, 'Org2MSP');
        assert.ok(unauthorized.ms < QUICK_MS, `${unauthorized.ms} ms`);
        // And by its owner, the list is refused for its length.
        const long = await refusedWith(fabric.propose('org1', 'manager', 'RegisterHost', { ...under, id: id('org1.long') }),
          'INVALID_ARGUMENT');
        assert.equal(long.details.field, 'organizations');

        // A billing report reads one bounded period: over a year is refused before anything is read.
        const year = await refusedWith(fabric.propose('org2', 'operator', 'Usage',
          { cloudId: cloudA, from: '2000-01-01T00:00:00Z', to: '2026-01-01T00:00:00Z' }, { on: 'org1' }), 'INVALID_ARGUMENT');
        assert.equal(year.details.field, 'to');

        for (const hostId of [stallId, id('org1.long')]) {
          for (const p of fabric.network.peers) {
            await refusedWith(fabric.query(p.org, 'operator', 'GetHost', { id: hostId }), 'NOT_FOUND');
          }
        }
      });
  });

  describe('collusion', () => {
    test('two members of three cannot write the third\'s VM and host: invalidated at commit, nothing changes',
      async () => {
        const v = vm('vm-collude', 2);
        await given(v);
        const k = transferKey();
        const indicated = await fabric.invoke('org1', 'operator', 'Migrate', indication(v.id, london, v.imageHash, k));
        assert.equal(indicated.status, 'VALID');
        const reads = [['GetVm', { id: v.id }], ['GetMigration', { id: indicated.txId }],
          ['GetAllocation', { id: tokyo }], ['GetAllocation', { id: london }]];
        const before = await everywhere(reads);

        // Org2 (the destination) and org3 endorse the Confirmation without org1, whose VM and host it
        // changes: two of three satisfy the chaincode's majority, not the keys' owners.
        const confirm = confirmation(indicated.txId, v.imageHash, k);
        const colluded = await fabric.invoke('org2', 'operator', 'ConfirmMigration', confirm, undefined,
          { endorsers: ['org2', 'org3'] });
        assert.equal(colluded.status, 'ENDORSEMENT_POLICY_FAILURE');
        assert.deepEqual(await everywhere(reads), before);

        // Where no member owns the key (a new one), the same two members are enough: the refusal
        // above is the owner's key-level policy, not the chaincode's.
        const ping = await fabric.invoke('org2', 'operator', 'Ping', {}, undefined, { endorsers: ['org2', 'org3'] });
        assert.equal(ping.status, 'VALID');
        // And the Confirmation, endorsed by its owners too, is recorded.
        assert.equal((await fabric.invoke('org2', 'operator', 'ConfirmMigration', confirm)).status, 'VALID');
        assert.equal((await fabric.query('org3', 'operator', 'GetVm', { id: v.id })).hostId, london);
      });

    test('a modified contract\'s write to the third\'s host, endorsed by the other two peers, is invalidated',
      async () => {
        // Org2 and org3 run a contract that writes what they like: their peers sign it (their members
        // hold those keys). Here it moves org1's host to Germany.
        const hostId = id('org1.forged-at');
        await fabric.invoke('org1', 'manager', 'RegisterHost',
          { id: hostId, cloudId: cloudA, country: 'JP', organizations: ['CompanyA'], capacity: resources(4) });
        const before = await everywhere([['GetHost', { id: hostId }]]);
        const moved = [{ key: `host/${hostId}`, value: { ...before[`org1 GetHost {"id":"${hostId}"}`], country: 'DE' } }];
        const colluded = await fabric.forge('org2', 'operator', moved, { endorsers: ['org2', 'org3'] });
        assert.equal(colluded.status, 'ENDORSEMENT_POLICY_FAILURE');
        assert.deepEqual(await everywhere([['GetHost', { id: hostId }]]), before);
        // The same forged transaction with org1's peer among its endorsers is applied: what was
        // missing above is the owner's endorsement, and nothing else.
        const owned = await fabric.forge('org2', 'operator', moved, { endorsers: ['org1', 'org2', 'org3'] });
        assert.equal(owned.status, 'VALID');
        assert.equal((await fabric.query('org3', 'operator', 'GetHost', { id: hostId })).country, 'DE');
      });

    test('two members of three cannot create records in the third\'s name: unmarked, every peer ignores them '
      + 'and says so; marked in its implicit collection, they are invalidated', async () => {
      const v = vm('vm-billed', 1);
      await given(v);
      // What org2 and org3 commit without org1 (a modified contract, their peers' signatures): a stay
      // of org1's VM on org2's host for the last 20 days, that never happened; a cloud in org1's
      // namespace bound to Org1MSP; a VM of org1's cloud. New keys: the chaincode's MAJORITY governs them.
      const forgery = (tag) => {
        const to = new Date();
        const from = new Date(to.getTime() - 20 * DAY_MS);
        const forgedTx = sha256(`forged ${tag} ${RUN_ID}`);
        const timeKey = (t) => `${t.toISOString().slice(0, 19)}.${t.toISOString().slice(20, 23)}000000Z`;
        const stayKey = `residency/${v.id}/${timeKey(from)}/${forgedTx}`;
        const months = [...new Set([from, to].map((t) => t.toISOString().slice(0, 7)))];
        const cloudId = id(`org1.${tag}`);
        const vmId = id(`vm-${tag}`);
        const writes = [
          { key: stayKey, value: { vmId: v.id, operatorCloudId: cloudA, cloudId: cloudB, hostId: london,
            from: from.toISOString(), to: to.toISOString(), requirements: resources(64), openedByTx: forgedTx } },
          ...months.map((month) => ({
            key: `index/residency-by-cloud-month/${cloudB}/${month}/${timeKey(from)}/${v.id}/${forgedTx}`, value: stayKey,
          })),
          { key: `cloud/${cloudId}`, value: { id: cloudId, name: 'Not org1', mspId: 'Org1MSP',
            registeredAt: to.toISOString() } },
          { key: `vm/${vmId}`, value: { ...v, id: vmId, status: 'running', since: from.toISOString(),
            residencyTxId: forgedTx } },
        ];
        return { from, stayKey, cloudId, vmId, writes };
      };
      const usageOfB = (org, from) => fabric.query(org, 'operator', 'Usage',
        { cloudId: cloudB, from: new Date(from.getTime() - DAY_MS).toISOString(), to: new Date().toISOString() });

      // 1. Without org1's creation markers: committed (two of three are a majority)…
      const unmarked = forgery('forged');
      const forged = await fabric.forge('org2', 'operator', unmarked.writes, { endorsers: ['org2', 'org3'] });
      assert.equal(forged.status, 'VALID');
      // …and on every member's peer, nothing: the stay bills nothing, the cloud and the VM are not
      // found, each answer naming what it left out.
      for (const p of fabric.network.peers) {
        const usage = await usageOfB(p.org, unmarked.from);
        assert.deepEqual(usage.vms.filter((u) => u.vmId === v.id), [], `${p.org} billed the forged stay`);
        assert.ok(usage.unanchored.includes(unmarked.stayKey), `${p.org}: ${JSON.stringify(usage.unanchored)}`);
        const history = await fabric.query(p.org, 'operator', 'VmHistory', { id: v.id });
        assert.equal(history.residencies.length, 1, `${p.org}: ${JSON.stringify(history.residencies)}`);
        assert.ok(history.unanchored.includes(unmarked.stayKey), `${p.org}: ${JSON.stringify(history.unanchored)}`);
        for (const [fn, recordId] of [['GetCloud', unmarked.cloudId], ['GetVm', unmarked.vmId]]) {
          const err = await refusedWith(fabric.query(p.org, 'operator', fn, { id: recordId }), 'NOT_FOUND');
          assert.match(err.details.unanchored, /Org1MSP's peers never endorsed its creation/);
        }
      }

      // 2. With the markers written into org1's implicit collection, as org1's own creations carry
      // them: that collection's writes need org1's peer, so Fabric invalidates the whole transaction.
      const marked = forgery('marked');
      const markers = [marked.stayKey, `cloud/${marked.cloudId}`, `vm/${marked.vmId}`]
        .map((key) => ({ collection: '_implicit_org_Org1MSP', key, value: 'created' }));
      const refused = await fabric.forge('org2', 'operator', marked.writes,
        { endorsers: ['org2', 'org3'], privateWrites: markers });
      assert.equal(refused.status, 'ENDORSEMENT_POLICY_FAILURE');
      for (const p of fabric.network.peers) {
        const err = await refusedWith(fabric.query(p.org, 'operator', 'GetCloud', { id: marked.cloudId }), 'NOT_FOUND');
        assert.equal(err.details.unanchored, undefined, 'nothing of the invalid transaction was written');
        const usage = await usageOfB(p.org, marked.from);
        assert.ok(!usage.unanchored.includes(marked.stayKey));
      }

      // 3. Org1's own creations, through the Gateway, carry their markers and count everywhere.
      const honest = id('org1.honest');
      assert.equal((await fabric.invoke('org1', 'manager', 'RegisterCloud', { id: honest, name: 'A2' })).status, 'VALID');
      for (const p of fabric.network.peers) {
        assert.equal((await fabric.query(p.org, 'operator', 'GetCloud', { id: honest })).mspId, 'Org1MSP');
      }
    });
  });

  describe('locking a host', () => {
    test('the destination declines an Indication: its reservation ends, no tamper evidence', async () => {
      const v = vm('vm-decline', 2);
      await given(v);
      const k = transferKey();
      const indicated = await fabric.invoke('org1', 'operator', 'Migrate', indication(v.id, london, v.imageHash, k));
      const reserved = await fabric.query('org2', 'operator', 'GetAllocation', { id: london });
      assert.ok(reserved.reserved.cpuCores >= 2, JSON.stringify(reserved));

      // Without the transfer key, the destination cannot confirm (and so start billing) nor reject.
      const reads = [['GetVm', { id: v.id }], ['GetMigration', { id: indicated.txId }]];
      const before = await everywhere(reads);
      for (const observed of [v.imageHash, sha256('anything')]) {
        await refusedWith(fabric.invoke('org2', 'operator', 'ConfirmMigration',
          confirmation(indicated.txId, observed, transferKey())), 'UNAUTHORIZED');
      }
      // Nobody but the destination declines.
      await refusedWith(fabric.invoke('org3', 'operator', 'DeclineMigration', { migrationId: indicated.txId }),
        'UNAUTHORIZED');
      assert.deepEqual(await everywhere(reads), before);

      const declined = await fabric.invoke('org2', 'operator', 'DeclineMigration',
        { migrationId: indicated.txId, reason: 'no room for it this week' });
      assert.equal(declined.status, 'VALID');
      for (const p of fabric.network.peers) {
        const m = await fabric.query(p.org, 'operator', 'GetMigration', { id: indicated.txId });
        assert.equal(m.status, 'declined');
        assert.equal(m.observedHash ?? null, null, 'a decline records no observed hash');
        assert.equal(m.closedBy.mspId, 'Org2MSP');
        const after = await fabric.query(p.org, 'operator', 'GetVm', { id: v.id });
        assert.deepEqual([after.hostId, after.status, after.pendingMigrationId ?? null], [tokyo, 'running', null]);
      }
      const released = await fabric.query('org2', 'operator', 'GetAllocation', { id: london });
      assert.equal(released.reserved.cpuCores, reserved.reserved.cpuCores - 2);
    });

    test('an Indication expires at its deadline: its reservation lapses, and either side ends it', async () => {
      const first = vm('vm-expire', 4);
      const second = vm('vm-waiting', 4);
      await given(first, second);
      const ttlSeconds = 20;
      const indicated = await fabric.invoke('org1', 'operator', 'Migrate',
        { ...indication(first.id, small, first.imageHash, transferKey()), ttlSeconds });
      assert.equal(indicated.status, 'VALID');
      const { expiresAt } = await fabric.query('org2', 'operator', 'GetMigration', { id: indicated.txId });

      // Until its deadline, it holds the small host (4 cores), and nobody can end it as expired.
      await refusedWith(fabric.invoke('org1', 'operator', 'Migrate',
        indication(second.id, small, second.imageHash, transferKey())), 'CAPACITY_EXCEEDED');
      const early = await refusedWith(fabric.invoke('org2', 'operator', 'ExpireMigration', { migrationId: indicated.txId }),
        'CONFLICT');
      assert.ok(early.message.includes(expiresAt.slice(0, 19)), early.message);
      assert.ok(Date.now() < Date.parse(expiresAt), 'the checks above ran before the deadline (raise ttlSeconds)');

      await sleep(Date.parse(expiresAt) - Date.now() + 1500);
      // Past it, the host is free at once, before anyone expires the Indication…
      assert.equal((await fabric.query('org2', 'operator', 'GetAllocation', { id: small })).reserved.cpuCores, 0);
      // …a third member may not end it…
      await refusedWith(fabric.invoke('org3', 'operator', 'ExpireMigration', { migrationId: indicated.txId }),
        'UNAUTHORIZED');
      // …the destination does, with no evidence against anyone, and the VM runs where it was.
      assert.equal((await fabric.invoke('org2', 'operator', 'ExpireMigration', { migrationId: indicated.txId })).status,
        'VALID');
      for (const p of fabric.network.peers) {
        const m = await fabric.query(p.org, 'operator', 'GetMigration', { id: indicated.txId });
        assert.equal(m.status, 'expired');
        assert.equal(m.observedHash ?? null, null);
        const after = await fabric.query(p.org, 'operator', 'GetVm', { id: first.id });
        assert.deepEqual([after.hostId, after.status, after.pendingMigrationId ?? null], [tokyo, 'running', null]);
      }
      // The host takes the VM that was waiting.
      const next = await fabric.invoke('org1', 'operator', 'Migrate',
        indication(second.id, small, second.imageHash, transferKey()));
      assert.equal(next.status, 'VALID');
      await fabric.invoke('org1', 'operator', 'CancelMigration', { migrationId: next.txId, reason: 'test over' });
    });
  });

  describe('squatting and drift', () => {
    test('a member cannot register a cloud or a host in another member\'s namespace, or in its cloud', async () => {
      const attempts = [
        ['RegisterCloud', { id: id('org1.squat'), name: 'Not A' }, 'GetCloud'],
        ['RegisterHost', { id: id('org1.squat-host'), cloudId: cloudB, country: 'GB', organizations: ['CompanyB'],
          capacity: resources(8) }, 'GetHost'],
        ['RegisterHost', { id: id('org2.in-a'), cloudId: cloudA, country: 'JP', organizations: ['CompanyB'],
          capacity: resources(8) }, 'GetHost'],
      ];
      for (const [fn, arg, get] of attempts) {
        const err = await refusedWith(fabric.invoke('org2', 'manager', fn, arg), 'UNAUTHORIZED');
        assert.equal(err.details.callerMspId, 'Org2MSP');
        for (const p of fabric.network.peers) {
          await refusedWith(fabric.query(p.org, 'operator', get, { id: arg.id }), 'NOT_FOUND');
        }
      }
      // Nor change one of another member's hosts.
      const host = await fabric.query('org1', 'operator', 'GetHost', { id: tokyo });
      await refusedWith(fabric.invoke('org2', 'manager', 'UpdateHost', { id: tokyo, country: 'GB' }), 'UNAUTHORIZED');
      assert.deepEqual(await fabric.query('org3', 'operator', 'GetHost', { id: tokyo }), host);
    });

    test('a member cannot write on another member\'s local chain: its peer refuses the proposal', async () => {
      const local = fabric.peerOf('org1').localChannel;
      const err = await fabric.propose('org2', 'operator', 'Ping', {}, { on: 'org1', channel: local }).then(
        (ok) => assert.fail(`org2 wrote on ${local}: ${JSON.stringify(ok)}`), (e) => e);
      assert.ok(!(err instanceof ContractError), err.message);
      assert.match(err.message, /access denied/);
      // Its own member's operator may (the control).
      assert.ok((await fabric.propose('org1', 'operator', 'Ping', {}, { channel: local })).result.txId);
    });

    test('a host may not move to a country a resident VM\'s regulation forbids', async () => {
      const v = vm('vm-resident', 1);
      await given(v);
      const before = await everywhere([['GetHost', { id: tokyo }]]);
      const err = await refusedWith(fabric.invoke('org1', 'manager', 'UpdateHost', { id: tokyo, country: 'DE' }),
        'POLICY_DENIED');
      assert.equal(err.details.hostId, tokyo);
      assert.ok(err.details.reasons.some((r) => r.rule === 'country' && r.country === 'DE'), err.message);
      assert.deepEqual(await everywhere([['GetHost', { id: tokyo }]]), before);
    });
  });

  describe('malformed inputs', () => {
    /** Refused with INVALID_ARGUMENT naming FIELD (and VALUE, when given); nothing readable under ID afterwards. */
    async function invalid(org, as, fn, arg, field, get, recordId, value) {
      const err = await refusedWith(fabric.invoke(org, as, fn, arg), 'INVALID_ARGUMENT');
      assert.equal(err.details.field, field, err.message);
      if (value) assert.ok(err.message.includes(value), err.message);
      for (const p of fabric.network.peers) {
        await refusedWith(fabric.query(p.org, 'operator', get, { id: recordId }), 'NOT_FOUND');
      }
      return err;
    }

    test('invisible and direction-changing characters in a name', async () => {
      for (const [suffix, name, code] of [['rlo', 'invoice\u202Egpj.exe', 'U+202E'], ['zwsp', 'A\u200B', 'U+200B']]) {
        const cloudId = id(`org1.${suffix}`);
        await invalid('org1', 'manager', 'RegisterCloud', { id: cloudId, name }, 'name', 'GetCloud', cloudId, code);
      }
    });

    test('duplicate countries, and lists longer than their caps', async () => {
      const twice = { ...vm('vm-twice', 1), regulation: { countries: ['JP', 'GB', 'JP'], organizations: 'All' } };
      await invalid('org1', 'operator', 'RegisterVm', twice, 'regulation.countries', 'GetVm', twice.id,
        '`JP` is listed twice');
      const countries = Array.from({ length: 250 }, () => 'JP');
      const many = { ...vm('vm-many', 1), regulation: { countries, organizations: 'All' } };
      await invalid('org1', 'operator', 'RegisterVm', many, 'regulation.countries', 'GetVm', many.id, '250 countries');
      const orgs = Array.from({ length: 33 }, (_, i) => `Company ${i}`);
      const hostId = id('org1.many-orgs');
      await invalid('org1', 'manager', 'RegisterHost',
        { id: hostId, cloudId: cloudA, country: 'JP', organizations: orgs, capacity: resources(8) },
        'organizations', 'GetHost', hostId, '33 organisations; at most 32');
    });

    test('a price past its cap, where costs could overflow', async () => {
      const cloudId = id('org1.priced');
      const prices = { currency: 'EUR', cpuCoreHour: 1e12 + 1, memoryGibHour: 1, networkMbpsHour: 1, ioMbpsHour: 1 };
      await invalid('org1', 'manager', 'RegisterCloud', { id: cloudId, name: 'Priced', prices }, 'prices.cpuCoreHour',
        'GetCloud', cloudId, '1000000000001');
    });

    test('9007199254740993 (2^53 + 1) is refused as it was written, not rounded', async () => {
      const hostId = id('org1.big-number');
      // JSON text, not a JavaScript number: 2^53 + 1 has no double, and the attack is to send it exactly.
      const text = JSON.stringify({ id: hostId, cloudId: cloudA, country: 'JP', organizations: ['CompanyA'],
        capacity: { ...resources(8), cpuCores: '@' } }).replace('"@"', '9007199254740993');
      assert.match(text, /"cpuCores":9007199254740993/);
      await invalid('org1', 'manager', 'RegisterHost', text, 'capacity.cpuCores', 'GetHost', hostId, '9007199254740993');
    });

    test('a member\'s admin is no client of the contract: it may not even Ping', async () => {
      const err = await refusedWith(fabric.query('org1', 'admin', 'Ping', {}), 'UNAUTHORIZED');
      assert.equal(err.details.callerMspId, 'Org1MSP');
      assert.equal(err.details.callerRole, undefined);
    });

    test('the proxy signs as the member\'s application identities, which cannot administer its peer', async () => {
      const members = JSON.parse(fs.readFileSync(path.join(run, 'members.json'), 'utf8')).members;
      const member = members.find((m) => m.org === 'org1');
      for (const [name, files] of Object.entries(member.identities)) {
        const cert = new crypto.X509Certificate(fs.readFileSync(files.cert));
        assert.match(cert.subject, /^OU=client$/m, `${name}: ${cert.subject}`);
        assert.doesNotMatch(cert.subject, /OU=admin/, name);
        // The peer's admin operations refuse it; its admin may (the control).
        const msp = path.dirname(path.dirname(files.cert));
        const refused = await fabric.peer('org1', { msp }, ['lifecycle', 'chaincode', 'queryinstalled']).then(
          () => assert.fail(`${name} administers the peer`), (e) => e);
        assert.match(refused.message, /access denied|Failed to authorize|not an admin/i, name);
      }
      await fabric.peer('org1', 'admin', ['lifecycle', 'chaincode', 'queryinstalled']);

      // A migration submitted through the proxy is signed by the operator the API key names.
      const v = vm('vm-proxy', 1);
      await given(v);
      const post = (fn, body) => fetch(`${member.proxy.url}/v1/transactions/${fn}`, {
        method: 'POST',
        headers: { 'X-API-Key': member.apiKeys.operator, 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      });
      const res = await post('Migrate', indication(v.id, london, v.imageHash, transferKey()));
      const body = await res.json();
      assert.equal(res.status, 200, JSON.stringify(body));
      const operator = new crypto.X509Certificate(fs.readFileSync(member.identities.operator.cert));
      const cn = /^CN=(.*)$/m.exec(operator.subject)[1];
      assert.equal(body.result.requestedBy.mspId, 'Org1MSP');
      assert.match(body.result.requestedBy.id, new RegExp(`CN=${cn}[,/:]`));
      assert.match(body.result.requestedBy.id, /OU=client/);
      assert.doesNotMatch(body.result.requestedBy.id, /OU=admin/);
      assert.equal((await post('CancelMigration', { migrationId: body.result.id, reason: 'test over' })).status, 200);
    });
  });
});
