'use strict';
/**
 * The Fabric side: one TLS gRPC connection to this member's peer, one Gateway per configured identity.
 * Transactions go endorse → submit → commit status as three timed steps, each with its own deadline.
 *
 * Errors leave this module already mapped to ProblemErrors (see errors.js), tagged with the step that
 * failed and the transaction id.
 */

const crypto = require('node:crypto');
const fs = require('node:fs');
const grpc = require('@grpc/grpc-js');
const { connect, hash, StatusCode } = require('@hyperledger/fabric-gateway');
const { common } = require('@hyperledger/fabric-protos');
const { ProblemError, fromGatewayError, fromInvalidCommit } = require('./errors');
const {
  creatorOf, decodeResult, proposedTransaction, readProcessedTransaction, txIdOf,
} = require('./proposal');
const { newOpenSslSigner } = require('./signer');

/** How many gateways for offline-signing identities are kept (least recently used ones are closed). */
const OFFLINE_GATEWAYS = 256;

/** Validation code number → name (VALID, MVCC_READ_CONFLICT, …). */
const VALIDATION_CODE_NAMES = Object.freeze(
  Object.fromEntries(Object.entries(StatusCode).map(([name, value]) => [value, name])),
);

const deadline = (ms) => new Date(Date.now() + ms);
const since = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;
const now = () => process.hrtime.bigint();

/** A proposal's arguments, and its transient data (never on the ledger) when the caller gave some. */
function proposalOptions(args, transient) {
  if (transient === undefined || Object.keys(transient).length === 0) return { arguments: args };
  const transientData = {};
  for (const [name, value] of Object.entries(transient)) transientData[name] = Buffer.from(value, 'utf8');
  return { arguments: args, transientData };
}

class Fabric {
  /**
   * @param {object} config normalised configuration (config.js)
   * @param {{observeStep?: (step: string, ms: number) => void}} [hooks]
   */
  constructor(config, hooks = {}) {
    this.config = config;
    this.limits = config.limits;
    this.observeStep = hooks.observeStep ?? (() => {});
    const tlsRootCert = fs.readFileSync(config.peer.tlsRootCert);
    this.client = new grpc.Client(config.peer.endpoint, grpc.credentials.createSsl(tlsRootCert), {
      'grpc.ssl_target_name_override': config.peer.hostAlias,
      'grpc.default_authority': config.peer.hostAlias,
      'grpc.keepalive_time_ms': 60000,
      'grpc.keepalive_timeout_ms': 20000,
      'grpc.max_receive_message_length': 100 * 1024 * 1024,
      'grpc.max_send_message_length': 100 * 1024 * 1024,
    });
    /** @type {Map<string, import('@hyperledger/fabric-gateway').Gateway>} */
    this.gateways = new Map();
    /** @type {Map<string, {mspId: string, certificate: Buffer, creator: Buffer}>} identity name → who it is */
    this.identities = new Map();
    /** @type {Map<string, import('@hyperledger/fabric-gateway').Gateway>} creator hash → gateway without a signer */
    this.offlineGateways = new Map();
    for (const [name, id] of Object.entries(config.identities)) {
      const credentials = fs.readFileSync(id.cert);
      const privateKey = crypto.createPrivateKey(fs.readFileSync(id.key));
      this.identities.set(name, { mspId: config.mspId, certificate: credentials,
        creator: creatorOf(config.mspId, credentials) });
      this.gateways.set(name, connect({
        client: this.client,
        identity: { mspId: config.mspId, credentials },
        // OpenSSL signs the whole message (SHA-256 inside): see signer.js.
        hash: hash.none,
        signer: newOpenSslSigner(privateKey),
        // Defaults for calls made without explicit options (the explicit ones below win).
        evaluateOptions: () => ({ deadline: deadline(this.limits.evaluateMs) }),
        endorseOptions: () => ({ deadline: deadline(this.limits.endorseMs) }),
        submitOptions: () => ({ deadline: deadline(this.limits.submitMs) }),
        commitStatusOptions: () => ({ deadline: deadline(this.limits.commitMs) }),
      }));
    }
  }

  gateway(identity) {
    const gw = this.gateways.get(identity);
    if (!gw) throw new ProblemError('INTERNAL', `no gateway for identity ${identity}`);
    return gw;
  }

  /**
   * Who a configured identity is: MSP id, certificate, and Fabric's `creator` (the serialized identity a
   * transaction id is computed from).
   * @returns {{mspId: string, certificate: Buffer, creator: Buffer}}
   */
  identity(identity) {
    const who = this.identities.get(identity);
    if (!who) throw new ProblemError('INTERNAL', `no identity ${identity}`);
    return who;
  }

  /** The transaction id a proposal of `identity` with this nonce gets. */
  txIdOf(identity, nonce) {
    return txIdOf(nonce, this.identity(identity).creator);
  }

  /**
   * A gateway for an identity whose key this proxy never holds (offline signing): it builds proposals,
   * transactions and commit-status requests for that identity and relays them once the client signed them.
   * Digests are SHA-256, which the client signs.
   */
  offlineGateway(mspId, certificate) {
    const creator = creatorOf(mspId, certificate);
    const id = crypto.createHash('sha256').update(creator).digest('hex');
    let gw = this.offlineGateways.get(id);
    if (gw) {
      this.offlineGateways.delete(id);
    } else {
      gw = connect({
        client: this.client,
        identity: { mspId, credentials: certificate },
        hash: hash.sha256,
        endorseOptions: () => ({ deadline: deadline(this.limits.endorseMs) }),
        submitOptions: () => ({ deadline: deadline(this.limits.submitMs) }),
        commitStatusOptions: () => ({ deadline: deadline(this.limits.commitMs) }),
      });
      if (this.offlineGateways.size >= OFFLINE_GATEWAYS) {
        const [oldest, old] = this.offlineGateways.entries().next().value;
        old.close();
        this.offlineGateways.delete(oldest);
      }
    }
    this.offlineGateways.set(id, gw);
    return { gateway: gw, creator };
  }

  /**
   * Endorse and submit a transaction to the orderer. Resolves once the orderer accepted it, with the
   * result and a `commit()` that waits for its commit status.
   * @param {string} identity
   * @param {{channel: string, chaincode: string, fn: string, args: string[], transient?: Object<string, string>}} call
   * @returns {Promise<{txId: string, result: unknown, timings: {endorseMs: number, submitMs: number},
   *   commit: () => Promise<{blockNumber: number, validationCode: string, commitMs: number}>}>}
   * @throws {ProblemError} contract rejection, unavailable peers, timeouts
   */
  async submit(identity, { channel, chaincode, fn, args, transient }, { nonce }) {
    const gw = this.gateway(identity);
    const { creator } = this.identity(identity);
    const { txId, bytes } = proposedTransaction({ channel, chaincode, fn, args, transient, creator, nonce });
    const proposal = gw.newProposal(bytes);

    const { transaction, endorseMs } = await this.endorseProposal(proposal, txId);
    const { submitted, submitMs } = await this.submitTransaction(transaction, txId);

    const commit = async () => {
      const tc = now();
      let status;
      try {
        status = await submitted.getStatus({ deadline: deadline(this.limits.commitMs) });
      } catch (err) {
        throw fromGatewayError(err, { step: 'commit', txId });
      }
      const commitMs = since(tc);
      this.observeStep('commit', commitMs);
      const outcome = {
        blockNumber: Number(status.blockNumber),
        validationCode: VALIDATION_CODE_NAMES[status.code] ?? String(status.code),
        commitMs,
      };
      if (!status.successful) {
        const problem = fromInvalidCommit({ txId, ...outcome });
        problem.outcome = outcome;
        throw problem;
      }
      return outcome;
    };

    return { txId, result: decodeResult(transaction.getResult()), timings: { endorseMs, submitMs }, commit };
  }

  /** Endorse a proposal (signed by the client, or here): the endorsed transaction, timed. */
  async endorseProposal(proposal, txId) {
    const t = now();
    let transaction;
    try {
      transaction = await proposal.endorse({ deadline: deadline(this.limits.endorseMs) });
    } catch (err) {
      throw fromGatewayError(err, { step: 'endorse', txId });
    }
    const endorseMs = since(t);
    this.observeStep('endorse', endorseMs);
    return { transaction, endorseMs };
  }

  /** Hand an endorsed transaction to the orderer: the submitted transaction (its commit to come), timed. */
  async submitTransaction(transaction, txId) {
    const t = now();
    let submitted;
    try {
      submitted = await transaction.submit({ deadline: deadline(this.limits.submitMs) });
    } catch (err) {
      throw fromGatewayError(err, { step: 'submit', txId });
    }
    const submitMs = since(t);
    this.observeStep('submit', submitMs);
    return { submitted, submitMs };
  }

  /** The commit status of a (signed) commit-status request, as the submit route answers it. */
  async commitStatus(commit, txId) {
    const t = now();
    let status;
    try {
      status = await commit.getStatus({ deadline: deadline(this.limits.commitMs) });
    } catch (err) {
      throw fromGatewayError(err, { step: 'commit', txId });
    }
    const commitMs = since(t);
    this.observeStep('commit', commitMs);
    return {
      blockNumber: Number(status.blockNumber),
      validationCode: VALIDATION_CODE_NAMES[status.code] ?? String(status.code),
      successful: status.successful,
      commitMs,
    };
  }

  /**
   * A transaction on this member's peer by id (qscc GetTransactionByID and GetBlockByTxID), or undefined
   * when the peer has no transaction with that id (yet).
   * @returns {Promise<undefined | {txId: string, channel: string, blockNumber: number, validationCode: string,
   *   creatorMspId: string, timestamp: string, fn?: string, args: string[], result: unknown}>}
   */
  async lookup(identity, channel, txId, timeoutMs = this.limits.evaluateMs) {
    const qscc = this.gateway(identity).getNetwork(channel).getContract('qscc');
    const t = now();
    const read = async (fn) => {
      try {
        return await qscc.newProposal(fn, { arguments: [channel, txId] }).evaluate({ deadline: deadline(timeoutMs) });
      } catch (err) {
        if (isUnknownTransaction(err)) return undefined;
        throw fromGatewayError(err, { step: 'lookup', txId });
      }
    };
    const processed = await read('GetTransactionByID');
    if (!processed) return undefined;
    const blockBytes = await read('GetBlockByTxID');
    this.observeStep('lookup', since(t));
    const tx = readProcessedTransaction(processed);
    const block = blockBytes ? common.Block.deserializeBinary(blockBytes) : undefined;
    return {
      ...tx,
      blockNumber: block ? Number(block.getHeader().getNumber()) : undefined,
      validationCode: VALIDATION_CODE_NAMES[tx.validationCode] ?? String(tx.validationCode),
      result: tx.result === undefined ? undefined : decodeResult(tx.result),
    };
  }

  /**
   * Evaluate a transaction (no ledger update).
   * @returns {Promise<unknown>} the result, decoded
   */
  async evaluate(identity, { channel, chaincode, fn, args, transient }, timeoutMs = this.limits.evaluateMs) {
    const contract = this.gateway(identity).getNetwork(channel).getContract(chaincode);
    const proposal = contract.newProposal(fn, proposalOptions(args, transient));
    const t = now();
    let bytes;
    try {
      bytes = await proposal.evaluate({ deadline: deadline(timeoutMs) });
    } catch (err) {
      throw fromGatewayError(err, { step: 'evaluate' });
    }
    this.observeStep('evaluate', since(t));
    return decodeResult(bytes);
  }

  /**
   * Channel height and block hashes, from qscc GetChainInfo.
   * @returns {Promise<{height: number, currentBlockHash: string, previousBlockHash: string}>}
   */
  async chainInfo(identity, channel, timeoutMs = this.limits.evaluateMs) {
    const contract = this.gateway(identity).getNetwork(channel).getContract('qscc');
    const proposal = contract.newProposal('GetChainInfo', { arguments: [channel] });
    const t = now();
    let bytes;
    try {
      bytes = await proposal.evaluate({ deadline: deadline(timeoutMs) });
    } catch (err) {
      throw fromGatewayError(err, { step: 'chaininfo' });
    }
    this.observeStep('chaininfo', since(t));
    const info = common.BlockchainInfo.deserializeBinary(bytes);
    return {
      height: Number(info.getHeight()),
      currentBlockHash: Buffer.from(info.getCurrentblockhash_asU8()).toString('hex'),
      previousBlockHash: Buffer.from(info.getPreviousblockhash_asU8()).toString('hex'),
    };
  }

  /**
   * A stream of chaincode events. The caller closes it.
   * @param {{startBlock?: bigint}} position
   * @returns {Promise<import('@hyperledger/fabric-gateway').CloseableAsyncIterable<any>>}
   */
  async chaincodeEvents(identity, channel, chaincode, position) {
    const network = this.gateway(identity).getNetwork(channel);
    const options = position.startBlock !== undefined ? { startBlock: position.startBlock } : {};
    try {
      return await network.getChaincodeEvents(chaincode, options);
    } catch (err) {
      throw fromGatewayError(err, { step: 'events' });
    }
  }

  /** Resolves when the gRPC channel to the peer is connected, or rejects after `ms`. */
  waitForPeer(ms) {
    return new Promise((resolve, reject) => {
      this.client.waitForReady(deadline(ms), (err) => (err ? reject(err) : resolve()));
    });
  }

  close() {
    for (const gw of this.gateways.values()) gw.close();
    this.client.close();
  }
}

/**
 * Whether qscc answered that the peer has no transaction with that id. qscc says so only in its message
 * (`Failed to get transaction with id …, error no such transaction ID [...] in index`), in the peer's
 * error details; nothing else distinguishes it from a failed lookup.
 */
function isUnknownTransaction(err) {
  const messages = [err?.message, ...(Array.isArray(err?.details) ? err.details.map((d) => d?.message) : [])];
  return messages.some((m) => typeof m === 'string' && /no such transaction ID|not found|not available/i.test(m));
}

module.exports = { Fabric, VALIDATION_CODE_NAMES, decodeResult, isUnknownTransaction };
