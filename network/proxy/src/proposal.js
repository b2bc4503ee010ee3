'use strict';
/**
 * Transaction ids a client can know before it sends anything, and the transactions read back from the ledger.
 *
 * Fabric's transaction id is `hex(SHA-256(nonce ‖ creator))`, where `creator` is the serialized identity
 * (MSP id and certificate) that signs the proposal. fabric-gateway draws a random nonce in `newProposal`;
 * this proxy derives it from the request's idempotency key instead, `nonce = SHA-256(UTF-8 key)`, so that:
 * - the client computes the transaction id itself, before sending, from its key and its identity's creator
 *   (`GET /v1/identity` answers the creator of the API key's identity);
 * - the same key submitted again is the same transaction id, which Fabric commits at most once (a second
 *   envelope with that id is refused at endorsement, or committed as DUPLICATE_TXID and changes nothing).
 *
 * The proposal is built here with fabric-protos, field for field as fabric-gateway's own ProposalBuilder
 * does, and handed to fabric-gateway with `gateway.newProposal(bytes)`, which endorses, submits and waits
 * for the commit status as usual.
 */

const crypto = require('node:crypto');
const { common, gateway, msp, peer } = require('@hyperledger/fabric-protos');
const { Timestamp } = require('google-protobuf/google/protobuf/timestamp_pb');

/** What an idempotency key may be: 1–255 visible ASCII characters. */
const IDEMPOTENCY_KEY_RE = /^[\x21-\x7e]{1,255}$/;

const sha256 = (bytes) => crypto.createHash('sha256').update(bytes).digest();

/** The nonce of the transaction a key stands for. */
function nonceOf(idempotencyKey) {
  return sha256(Buffer.from(idempotencyKey, 'utf8'));
}

/** A fresh idempotency key, for a write that came without one. */
function newIdempotencyKey() {
  return crypto.randomBytes(24).toString('hex');
}

/** The serialized identity (msp.SerializedIdentity) that signs: Fabric's `creator`. */
function creatorOf(mspId, certificate) {
  const identity = new msp.SerializedIdentity();
  identity.setMspid(mspId);
  identity.setIdBytes(certificate);
  return Buffer.from(identity.serializeBinary());
}

/** Fabric's transaction id of a proposal with this nonce and creator. */
function txIdOf(nonce, creator) {
  return sha256(Buffer.concat([nonce, creator])).toString('hex');
}

/**
 * The fingerprint of a call, to tell a retry (same call) from a key reused for another call. Transient data
 * counts (the same key with other prices is another call), as its sorted entries' digest: the transaction id
 * cannot carry it (Fabric's id is the nonce's and the creator's only), and the ledger never holds it, so a
 * retry found on the ledger is matched by its arguments alone.
 */
function fingerprintOf({ channel, chaincode, fn, args, transient }) {
  const call = [channel, chaincode, fn, ...args];
  if (transient !== undefined && Object.keys(transient).length > 0) {
    call.push({ transient: Object.entries(transient).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)) });
  }
  return sha256(Buffer.from(JSON.stringify(call), 'utf8')).toString('hex');
}

/** A ChaincodeProposalPayload's TransientMap (name → bytes) from text values; endorsers read it, the ledger never. */
function setTransient(payload, transient) {
  if (transient === undefined) return;
  const map = payload.getTransientmapMap();
  for (const [name, value] of Object.entries(transient)) map.set(name, Buffer.from(value, 'utf8'));
}

/**
 * A gateway.ProposedTransaction (what `gateway.newProposal(bytes)` reads), unsigned.
 * Transient data goes into the proposal payload's TransientMap, as fabric-gateway's ProposalBuilder puts it:
 * the endorsers read it, and the transaction the gateway assembles from the endorsements leaves it out.
 * @param {{channel: string, chaincode: string, fn: string, args: string[], transient?: Object<string, string>,
 *   creator: Buffer, nonce: Buffer}} call
 * @returns {{txId: string, bytes: Uint8Array}}
 */
function proposedTransaction({ channel, chaincode, fn, args, transient, creator, nonce }) {
  const txId = txIdOf(nonce, creator);
  const chaincodeId = new peer.ChaincodeID();
  chaincodeId.setName(chaincode);

  const extension = new peer.ChaincodeHeaderExtension();
  extension.setChaincodeId(chaincodeId);
  const channelHeader = new common.ChannelHeader();
  channelHeader.setType(common.HeaderType.ENDORSER_TRANSACTION);
  channelHeader.setTxId(txId);
  channelHeader.setTimestamp(Timestamp.fromDate(new Date()));
  channelHeader.setChannelId(channel);
  channelHeader.setExtension$(extension.serializeBinary());
  channelHeader.setEpoch(0);

  const signatureHeader = new common.SignatureHeader();
  signatureHeader.setCreator(creator);
  signatureHeader.setNonce(nonce);

  const header = new common.Header();
  header.setChannelHeader(channelHeader.serializeBinary());
  header.setSignatureHeader(signatureHeader.serializeBinary());

  const input = new peer.ChaincodeInput();
  input.setArgsList([fn, ...args].map((a) => Buffer.from(a, 'utf8')));
  const spec = new peer.ChaincodeSpec();
  spec.setType(peer.ChaincodeSpec.Type.NODE);
  spec.setChaincodeId(chaincodeId);
  spec.setInput(input);
  const invocation = new peer.ChaincodeInvocationSpec();
  invocation.setChaincodeSpec(spec);
  const payload = new peer.ChaincodeProposalPayload();
  payload.setInput(invocation.serializeBinary());
  setTransient(payload, transient);

  const proposal = new peer.Proposal();
  proposal.setHeader(header.serializeBinary());
  proposal.setPayload(payload.serializeBinary());
  const signed = new peer.SignedProposal();
  signed.setProposalBytes(proposal.serializeBinary());

  const proposed = new gateway.ProposedTransaction();
  proposed.setTransactionId(txId);
  proposed.setProposal(signed);
  return { txId, bytes: proposed.serializeBinary() };
}

/**
 * What a proposal asks for (gateway.ProposedTransaction bytes, as a client sends them back signed): the proxy
 * checks the chaincode and function of an offline-signed proposal before relaying it.
 * @returns {{txId: string, channel: string, chaincode: string, fn: string, args: string[], creator: Buffer}}
 */
function readProposal(bytes) {
  const proposed = gateway.ProposedTransaction.deserializeBinary(bytes);
  const signed = proposed.getProposal();
  if (!signed) throw new Error('no signed proposal');
  const proposal = peer.Proposal.deserializeBinary(signed.getProposalBytes_asU8());
  const header = common.Header.deserializeBinary(proposal.getHeader_asU8());
  const channelHeader = common.ChannelHeader.deserializeBinary(header.getChannelHeader_asU8());
  const signatureHeader = common.SignatureHeader.deserializeBinary(header.getSignatureHeader_asU8());
  const payload = peer.ChaincodeProposalPayload.deserializeBinary(proposal.getPayload_asU8());
  const invocation = peer.ChaincodeInvocationSpec.deserializeBinary(payload.getInput_asU8());
  const spec = invocation.getChaincodeSpec();
  const [fn, ...args] = (spec?.getInput()?.getArgsList_asU8() ?? []).map((a) => Buffer.from(a).toString('utf8'));
  return {
    txId: channelHeader.getTxId(),
    channel: channelHeader.getChannelId(),
    chaincode: spec?.getChaincodeId()?.getName() ?? '',
    fn: fn ?? '',
    args,
    creator: Buffer.from(signatureHeader.getCreator_asU8()),
  };
}

/** MSP id and certificate of a creator (msp.SerializedIdentity bytes). */
function readCreator(creator) {
  const identity = msp.SerializedIdentity.deserializeBinary(creator);
  return { mspId: identity.getMspid(), certificate: Buffer.from(identity.getIdBytes_asU8()) };
}

/** The creator of an endorsed transaction (gateway.PreparedTransaction bytes). */
function creatorOfTransaction(bytes) {
  const prepared = gateway.PreparedTransaction.deserializeBinary(bytes);
  const envelope = prepared.getEnvelope();
  if (!envelope) throw new Error('no envelope');
  const payload = common.Payload.deserializeBinary(envelope.getPayload_asU8());
  const header = payload.getHeader();
  if (!header) throw new Error('no header');
  return Buffer.from(common.SignatureHeader.deserializeBinary(header.getSignatureHeader_asU8()).getCreator_asU8());
}

/** The identity of a commit-status request (gateway.SignedCommitStatusRequest bytes). */
function creatorOfCommit(bytes) {
  const signed = gateway.SignedCommitStatusRequest.deserializeBinary(bytes);
  return Buffer.from(gateway.CommitStatusRequest.deserializeBinary(signed.getRequest_asU8()).getIdentity_asU8());
}

/** Decode a transaction result: its JSON value if it parses, else the UTF-8 text. */
function decodeResult(bytes) {
  const text = Buffer.from(bytes ?? []).toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * A committed transaction as qscc GetTransactionByID answers it (peer.ProcessedTransaction): its validation
 * code (a number), who sent it, when, which call, and the chaincode's answer.
 */
function readProcessedTransaction(bytes) {
  const processed = peer.ProcessedTransaction.deserializeBinary(bytes);
  const envelope = processed.getTransactionenvelope();
  const payload = common.Payload.deserializeBinary(envelope.getPayload_asU8());
  const header = payload.getHeader();
  const channelHeader = common.ChannelHeader.deserializeBinary(header.getChannelHeader_asU8());
  const signatureHeader = common.SignatureHeader.deserializeBinary(header.getSignatureHeader_asU8());
  const creator = msp.SerializedIdentity.deserializeBinary(signatureHeader.getCreator_asU8());
  const out = {
    txId: channelHeader.getTxId(),
    channel: channelHeader.getChannelId(),
    validationCode: processed.getValidationcode(),
    creatorMspId: creator.getMspid(),
    timestamp: channelHeader.getTimestamp()?.toDate().toISOString(),
    fn: undefined,
    args: [],
    result: undefined,
  };
  if (channelHeader.getType() !== common.HeaderType.ENDORSER_TRANSACTION) return out;
  const transaction = peer.Transaction.deserializeBinary(payload.getData_asU8());
  const [action] = transaction.getActionsList();
  if (!action) return out;
  const actionPayload = peer.ChaincodeActionPayload.deserializeBinary(action.getPayload_asU8());
  const proposalPayload = peer.ChaincodeProposalPayload.deserializeBinary(actionPayload.getChaincodeProposalPayload_asU8());
  const invocation = peer.ChaincodeInvocationSpec.deserializeBinary(proposalPayload.getInput_asU8());
  const [fn, ...args] = (invocation.getChaincodeSpec()?.getInput()?.getArgsList_asU8() ?? [])
    .map((a) => Buffer.from(a).toString('utf8'));
  out.fn = fn;
  out.args = args;
  const endorsed = actionPayload.getAction();
  if (endorsed) {
    const responsePayload = peer.ProposalResponsePayload.deserializeBinary(endorsed.getProposalResponsePayload_asU8());
    const chaincodeAction = peer.ChaincodeAction.deserializeBinary(responsePayload.getExtension_asU8());
    out.result = chaincodeAction.getResponse()?.getPayload_asU8();
  }
  return out;
}

module.exports = {
  IDEMPOTENCY_KEY_RE,
  nonceOf,
  newIdempotencyKey,
  creatorOf,
  txIdOf,
  fingerprintOf,
  proposedTransaction,
  readProposal,
  readProcessedTransaction,
  readCreator,
  creatorOfTransaction,
  creatorOfCommit,
  decodeResult,
};
