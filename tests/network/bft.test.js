'use strict';
/**
 * SmartBFT ordering (Fabric 3): a federation of 2 members with 2 orderers each (4 consenters,
 * f = 1) keeps ordering with one orderer stopped. Starts its own network in a temporary run folder
 * on its own ports (1000 above the main network's base, VMLEDGER_NET_BASE_PORT or 7000), beside
 * the main one, and removes it afterwards.
 */
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { after, before, describe, test } = require('node:test');

const { Fabric, ROOT, loadNetwork, vmledgerNet } = require('./fabric');

/** The installed Fabric release (second line of .tools/fabric.version, written by scripts/install). */
const fabricRelease = () => fs.readFileSync(path.join(ROOT, '.tools', 'fabric.version'), 'utf8').split('\n')[1] ?? '';

describe('SmartBFT with 4 consenters', { timeout: 600000, skip: !fabricRelease().startsWith('3') && 'BFT needs Fabric 3' },
  () => {
    const run = fs.mkdtempSync(path.join(os.tmpdir(), 'vmledger-bft-'));
    const env = { VMLEDGER_NET_RUN: run };
    let fabric;

    before(async () => {
      const base = Number(process.env.VMLEDGER_NET_BASE_PORT ?? 7000) + 1000;
      await vmledgerNet(['up', '--orgs', '2', '--orderers-per-member', '2', '--consensus', 'bft',
        '--base-port', String(base)], env);
      fabric = new Fabric(loadNetwork(run));
    });

    after(async () => {
      await vmledgerNet(['clean'], env);
    });

    test('orders with all four consenters, and with one of them stopped', async () => {
      const network = fabric.network;
      assert.equal(network.consensus, 'bft');
      assert.equal(network.orderers.filter((o) => o.channel === network.channel).length, 4);
      assert.equal((await fabric.invoke('org1', 'operator', 'Ping', {})).status, 'VALID');

      // One consenter down (f = 1 of 3f + 1 = 4): the other three still reach a quorum.
      await vmledgerNet(['signal', 'orderer1.org2', 'TERM'], env);
      for (const org of ['org1', 'org2', 'org1']) {
        assert.equal((await fabric.invoke(org, 'operator', 'Ping', {})).status, 'VALID');
      }
    });
  });
