'use strict';
/**
 * Drives the running vmledger network through Fabric itself: the `peer` CLI, as one of a member's
 * identities (its channel `admin`, or the application identities `manager`, `operator`, `relay`),
 * reading the network's layout from network/run/network.json (written by network/vmledger-net up).
 * No proxy, no SDK: what the tests see is what the peers endorse and commit.
 */
const { execFile } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { promisify } = require('node:util');

const run = promisify(execFile);

const ROOT = path.resolve(__dirname, '../..');
const RUN = process.env.VMLEDGER_NET_RUN ?? path.join(ROOT, 'network', 'run');
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
function loadNetwork(run = RUN) {
  const file = path.join(run, 'network.json');
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

  /** The MSP folder of AS: an identity's name (admin, manager, operator, relay) or {msp: folder} for any other. */
  mspOf(org, as) {
    const peer = this.peerOf(org);
    const msp = typeof as === 'object' ? as.msp : as === 'admin' ? peer.adminMsp : peer.identities[as];
    if (!msp) throw new Error(`member ${org} has no identity ${as}`);
    return msp;
  }

  /** The peer CLI's environment as AS of ORG (see mspOf). */
  env(org, as) {
    const peer = this.peerOf(org);
    const msp = this.mspOf(org, as);
    return {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      FABRIC_CFG_PATH: this.network.fabricCfgPath,
      FABRIC_LOGGING_SPEC: 'grpc=error:info',
      CORE_PEER_LOCALMSPID: peer.mspId,
      CORE_PEER_MSPCONFIGPATH: msp,
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
      const who = typeof as === 'object' ? as.msp : as;
      throw new Error(`peer ${args.slice(0, 3).join(' ')} as ${org}/${who} failed: ${text.trim() || err.message}`);
    }
  }

  /** The federation channel's configuration sequence (one more with every committed update). */
  async configSequence(org) {
    const orderer = this.network.orderers.find((o) => o.channel === this.network.channel
      && o.mspId === this.peerOf(org).mspId);
    const dir = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'vmledger-config-'));
    try {
      const block = path.join(dir, 'config.block');
      await this.peer(org, 'admin', ['channel', 'fetch', 'config', block, '-c', this.network.channel,
        '-o', orderer.endpoint, '--tls', '--cafile', orderer.tlsCa]);
      const decoded = path.join(dir, 'config.json');
      await run(path.join(ROOT, '.tools', 'bin', 'configtxlator'),
        ['proto_decode', '--input', block, '--type', 'common.Block', '--output', decoded]);
      const config = JSON.parse(fs.readFileSync(decoded, 'utf8')).data.data[0].payload.data.config;
      return Number(config.sequence ?? 0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  /** Evaluate a read-only function on ORG's peer; returns the parsed JSON answer. ARG: an object, or its JSON text. */
  async query(org, as, fn, arg = {}, channel = this.network.channel) {
    const { stdout } = await this.peer(org, as, ['chaincode', 'query', '-C', channel,
      '-n', this.network.chaincode, '-c', JSON.stringify({ Args: [fn, argumentText(arg)] })]);
    return JSON.parse(stdout);
  }

  /** The raw bytes of an evaluated answer (to compare members' answers byte for byte). */
  async queryText(org, as, fn, arg = {}, channel = this.network.channel) {
    const { stdout } = await this.peer(org, as, ['chaincode', 'query', '-C', channel,
      '-n', this.network.chaincode, '-c', JSON.stringify({ Args: [fn, argumentText(arg)] })]);
    return stdout;
  }

  /**
   * Submit a transaction endorsed by every peer of the channel (the federation: every member's; a
   * local channel: its member's), or only by the members ENDORSERS lists (orgN names), through one
   * of ORG's orderers of that channel, and wait until ORG's peer commits it. Returns {txId, status}
   * (status: the validation code, VALID when recorded; an invalidated transaction is returned too,
   * with its code, e.g. ENDORSEMENT_POLICY_FAILURE). ARG: an object, or its JSON text.
   */
  async invoke(org, as, fn, arg = {}, channel = this.network.channel, { endorsers } = {}) {
    const orderer = this.network.orderers.find((o) => o.channel === channel && o.mspId === this.peerOf(org).mspId);
    if (!orderer) throw new Error(`${org} runs no orderer of ${channel}`);
    const args = ['chaincode', 'invoke', '-o', orderer.endpoint, '--tls', '--cafile', orderer.tlsCa,
      '-C', channel, '-n', this.network.chaincode,
      '-c', JSON.stringify({ Args: [fn, argumentText(arg)] }), '--waitForEvent', '--waitForEventTimeout', '60s'];
    const ofChannel = channel === this.network.channel
      ? this.network.peers : this.network.peers.filter((p) => p.localChannel === channel);
    const chosen = endorsers ? endorsers.map((o) => this.peerOf(o)) : ofChannel;
    for (const p of chosen) args.push('--peerAddresses', p.endpoint, '--tlsRootCertFiles', p.tlsRootCert);
    let text;
    try {
      const { stdout, stderr } = await this.peer(org, as, args);
      text = `${stderr}${stdout}`;
    } catch (err) {
      // The CLI fails on an invalidated transaction, after saying how it was committed.
      if (err instanceof ContractError || !COMMITTED.test(err.message)) throw err;
      text = err.message;
    }
    const committed = COMMITTED.exec(text);
    if (!committed) throw new Error(`no commit status in the peer CLI output:\n${text}`);
    return { txId: committed[1], status: committed[2] };
  }

  /**
   * Endorse FN(ARG) on the peer of ON (default ORG) with a proposal built and signed here as AS of
   * ORG, dated AT (default now): see proposal.js. Nothing is ordered. Resolves to {txId, result, ms}
   * when the peer endorses; rejects with the ContractError of a refusal by the contract, or with the
   * peer's own gRPC error when it refuses the proposal itself (its time, its signature).
   */
  async propose(org, as, fn, arg = {}, { on = org, at = new Date(), channel = this.network.channel } = {}) {
    const { endorse, identity, signedProposal } = require('./proposal');
    const id = identity(this.peerOf(org).mspId, this.mspOf(org, as));
    const { signed, txId } = await signedProposal({
      id, channel, chaincode: this.network.chaincode, fn, argument: argumentText(arg), at,
    });
    const target = this.peerOf(on);
    const started = process.hrtime.bigint();
    const answer = await endorse(target, signed);
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    if (answer.status >= 400) {
      const wire = wireError(answer.message);
      if (wire) throw Object.assign(new ContractError(wire, answer.message), { ms });
      throw new Error(`${on}'s peer answered ${answer.status}: ${answer.message}`);
    }
    return { txId, result: answer.payload.length ? JSON.parse(answer.payload) : undefined, ms };
  }

  /**
   * Commit what colluding members running a modified contract could: a transaction whose only effect
   * is WRITES ([{key, value}], values as JSON) and PRIVATEWRITES ([{collection, key, value}], hashes
   * only) on CHANNEL, endorsed by the peers of ENDORSERS (orgN
   * names; signed with those peers' own keys, which their members hold), made and signed by AS of
   * ORG and broadcast through ORG's orderer. Resolves to {txId, status} once ORG's peer has committed
   * it (status: the validation code, VALID when its writes were applied).
   */
  async forge(org, as, writes, { endorsers, privateWrites, channel = this.network.channel } = {}) {
    const {
      broadcast, endorse, forgedTransaction, identity, signedProposal, validationCodeOf,
    } = require('./proposal');
    const { chaincode } = this.network;
    const home = this.peerOf(org);
    const creator = identity(home.mspId, this.mspOf(org, as));
    // Any proposal its own peer endorses gives the transaction's frame (header, proposal hash).
    const { signed, txId, proposal } = await signedProposal({
      id: creator, channel, chaincode, fn: 'Ping', argument: '{}', at: new Date(),
    });
    const honest = await endorse(home, signed);
    if (honest.status >= 400) throw new Error(`${org}'s peer did not endorse the frame: ${honest.message}`);
    const peers = endorsers.map((o) => identity(this.peerOf(o).mspId, this.peerOf(o).nodeMsp));
    const envelope = await forgedTransaction({
      proposal, endorsed: honest.endorsed, chaincode, writes, privateWrites, endorsers: peers, creator,
    });
    const orderer = this.network.orderers.find((o) => o.channel === channel && o.mspId === home.mspId);
    await broadcast(orderer, envelope);
    for (const until = Date.now() + 60000; Date.now() < until;) {
      const { signed: ask } = await signedProposal({
        id: creator, channel, chaincode: 'qscc', fn: 'GetTransactionByID', argument: [channel, txId], at: new Date(),
      });
      const found = await endorse(home, ask);
      if (found.status === 200) return { txId, status: validationCodeOf(found.payload) };
      await new Promise((resolve) => { setTimeout(resolve, 250); });
    }
    throw new Error(`transaction ${txId} was not committed on ${org}'s peer within 60 s`);
  }
}

/** How the peer CLI reports a transaction's commit, valid or not. */
const COMMITTED = /txid \[([0-9a-f]{64})\] committed with status \((\w+)\)/;

/** The contract's refusal in a peer's answer: its wire JSON as it is, or inside the peer's words. */
function wireError(message) {
  try {
    const wire = JSON.parse(message);
    if (wire && typeof wire.code === 'string') return wire;
  } catch {
    // not only the contract's JSON
  }
  return parseContractError(message);
}

/** A contract argument as sent: an object as JSON, a string as it is (for JSON no object gives). */
const argumentText = (arg) => (typeof arg === 'string' ? arg : JSON.stringify(arg));

/**
 * A migration's transfer key as a source draws it (32 random bytes), with what the Indication records
 * (its SHA-256 and the image's HMAC under it) and what the destination confirms with. No image travels
 * in these tests: the HMAC stands for the one both sides would compute.
 */
function transferKey() {
  const key = require('node:crypto').randomBytes(32);
  const sha256 = (bytes) => require('node:crypto').createHash('sha256').update(bytes).digest('hex');
  return { key: key.toString('hex'), keyHash: sha256(key), keyed: sha256(Buffer.concat([Buffer.from('hmac'), key])) };
}

/** The Indication of VM to HOST with IMAGEHASH under transfer key K. */
function indication(vmId, destinationHostId, imageHash, k) {
  return { vmId, destinationHostId, imageHash, keyedDigest: k.keyed, transferKeyHash: k.keyHash };
}

/** The destination's Confirmation of MIGRATIONID with what it observed, proving receipt with K. */
function confirmation(migrationId, observedHash, k) {
  return { migrationId, observedHash, transferKey: k.key, keyedDigest: k.keyed };
}

/** Run network/vmledger-net with ARGS (a verb and its arguments); ENV adds to the environment. */
async function vmledgerNet(args, env = {}) {
  const argv = Array.isArray(args) ? args : [args];
  return run(NET, argv, { cwd: ROOT, timeout: 300000, maxBuffer: 16 << 20, env: { ...process.env, ...env } });
}

module.exports = {
  ContractError, Fabric, ROOT, RUN, confirmation, indication, loadNetwork, parseContractError, transferKey, vmledgerNet,
};
