'use strict';
/**
 * Drives the running vmledger network through Fabric itself: the `peer` CLI, as a member's admin or
 * user identity, reading the network's layout from network/run/network.json (written by
 * network/vmledger-net up). No proxy, no SDK: what the tests see is what the peers endorse and commit.
 */
const { execFile } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { promisify } = require('node:util');

const run = promisify(execFile);

const ROOT = path.resolve(__dirname, '../..');
const RUN = path.join(ROOT, 'network', 'run');
const NET = path.join(ROOT, 'network', 'vmledger-net');
const PEER = path.join(ROOT, '.tools', 'bin', 'peer');

/** A rejection by the contract: its code (POLICY_DENIED, …), message and details. */
class ContractError extends Error {
  constructor(wire, raw) {
    super(`${wire.code}: ${wire.message}`);
    this.code = wire.code;
    this.details = wire.details;
    this.raw = raw;
  }
}

/** The network as network/vmledger-net wrote it; throws a clear error when it is not up. */
function loadNetwork() {
  const file = path.join(RUN, 'network.json');
  if (!fs.existsSync(file) || !fs.existsSync(PEER)) {
    throw new Error(`no vmledger network: ${path.relative(ROOT, file)} is missing. `
      + 'Start one with `network/vmledger-net up` (after scripts/install).');
  }
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

/** The chaincode error object inside a peer CLI error text ("... message:\"{\\\"code\\\":...}\""). */
function parseContractError(text) {
  const at = text.indexOf('{');
  if (at < 0) return undefined;
  // The CLI prints the message as a quoted Go string: undo one level of escaping first.
  const tail = text.slice(at).replace(/\\"/g, '"').replace(/\\\\/g, '\\');
  for (let end = tail.lastIndexOf('}'); end > 0; end = tail.lastIndexOf('}', end - 1)) {
    try {
      const wire = JSON.parse(tail.slice(0, end + 1));
      if (wire && typeof wire.code === 'string') return wire;
    } catch {
      // not yet the end of the object: try a shorter one
    }
  }
  return undefined;
}

class Fabric {
  constructor(network = loadNetwork()) {
    this.network = network;
  }

  peerOf(org) {
    const peer = this.network.peers.find((p) => p.org === org);
    if (!peer) throw new Error(`no member ${org} in this network`);
    return peer;
  }

  env(org, as) {
    const peer = this.peerOf(org);
    return {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      FABRIC_CFG_PATH: this.network.fabricCfgPath,
      FABRIC_LOGGING_SPEC: 'info',
      CORE_PEER_LOCALMSPID: peer.mspId,
      CORE_PEER_MSPCONFIGPATH: as === 'admin' ? peer.adminMsp : peer.userMsp,
      CORE_PEER_ADDRESS: peer.endpoint,
      CORE_PEER_TLS_ENABLED: 'true',
      CORE_PEER_TLS_ROOTCERT_FILE: peer.tlsRootCert,
    };
  }

  async peer(org, as, args) {
    try {
      return await run(PEER, args, { env: this.env(org, as), timeout: 60000, maxBuffer: 16 << 20 });
    } catch (err) {
      const text = `${err.stderr ?? ''}${err.stdout ?? ''}`;
      const wire = parseContractError(text);
      if (wire) throw new ContractError(wire, text);
      throw new Error(`peer ${args.slice(0, 3).join(' ')} as ${org}/${as} failed: ${text.trim() || err.message}`);
    }
  }

  /** Evaluate a read-only function on ORG's peer; returns the parsed JSON answer. */
  async query(org, as, fn, arg = {}) {
    const { stdout } = await this.peer(org, as, ['chaincode', 'query', '-C', this.network.channel,
      '-n', this.network.chaincode, '-c', JSON.stringify({ Args: [fn, JSON.stringify(arg)] })]);
    return JSON.parse(stdout);
  }

  /**
   * Submit a transaction endorsed by every member's peer, and wait until ORG's peer commits it.
   * Returns {txId, status} (status: the validation code, VALID for a recorded transaction).
   */
  async invoke(org, as, fn, arg = {}) {
    const orderer = this.network.orderers[0];
    const args = ['chaincode', 'invoke', '-o', orderer.endpoint, '--tls', '--cafile', this.network.ordererTlsCa,
      '-C', this.network.channel, '-n', this.network.chaincode,
      '-c', JSON.stringify({ Args: [fn, JSON.stringify(arg)] }), '--waitForEvent', '--waitForEventTimeout', '60s'];
    for (const p of this.network.peers) args.push('--peerAddresses', p.endpoint, '--tlsRootCertFiles', p.tlsRootCert);
    const { stdout, stderr } = await this.peer(org, as, args);
    const text = `${stderr}${stdout}`;
    const committed = /txid \[([0-9a-f]{64})\] committed with status \((\w+)\)/.exec(text);
    if (!committed) throw new Error(`no commit status in the peer CLI output:\n${text}`);
    return { txId: committed[1], status: committed[2] };
  }
}

/** Run network/vmledger-net VERB (used by the restart test). */
async function vmledgerNet(verb) {
  return run(NET, [verb], { cwd: ROOT, timeout: 300000, maxBuffer: 16 << 20 });
}

module.exports = { ContractError, Fabric, ROOT, loadNetwork, parseContractError, vmledgerNet };
