'use strict';
/**
 * A transaction proposal built and signed here, sent to one peer's Endorser service: what a member
 * with its own client can do and the peer CLI cannot — choose the transaction's timestamp, or send an
 * argument larger than a command line holds (one argument of the CLI is at most 128 KiB).
 *
 * Built from Fabric's own message definitions (@hyperledger/fabric-protos), signed with the
 * identity's key as the proxy signs (its signer gives the low-S DER signatures Fabric requires).
 */
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const grpc = require('@grpc/grpc-js');
const { common, ledger, msp, orderer, peer } = require('@hyperledger/fabric-protos');
const { Timestamp } = require('google-protobuf/google/protobuf/timestamp_pb');

const { newOpenSslSigner } = require('../../network/proxy/src/signer');

/** The one file of a folder of an MSP (signcerts/, keystore/). */
function onlyFile(dir) {
  const files = fs.readdirSync(dir);
  if (files.length !== 1) throw new Error(`${dir} holds ${files.length} files, not one`);
  return fs.readFileSync(path.join(dir, files[0]));
}

/** The signing identity of an MSP folder: its MSP id, certificate and a signer with its key. */
function identity(mspId, mspDir) {
  const certificate = onlyFile(path.join(mspDir, 'signcerts'));
  const sign = newOpenSslSigner(crypto.createPrivateKey(onlyFile(path.join(mspDir, 'keystore'))));
  return { mspId, certificate, sign };
}

function timestampOf(date) {
  const ms = date.getTime();
  const t = new Timestamp();
  t.setSeconds(Math.floor(ms / 1000));
  t.setNanos((ms % 1000) * 1e6);
  return t;
}

/**
 * A signed proposal to call FN(ARGUMENT) of CHAINCODE on CHANNEL as ID, dated AT (a Date); ARGUMENT
 * is one string, or a list of them (a system chaincode's arguments). Returns {signed, txId, proposal}.
 */
async function signedProposal({ id, channel, chaincode, fn, argument, at }) {
  const creator = new msp.SerializedIdentity();
  creator.setMspid(id.mspId);
  creator.setIdBytes(id.certificate);
  const creatorBytes = creator.serializeBinary();
  const nonce = crypto.randomBytes(24);
  // Fabric's transaction id: the SHA-256 of the nonce and the creator.
  const txId = crypto.createHash('sha256').update(nonce).update(creatorBytes).digest('hex');

  const chaincodeId = new peer.ChaincodeID();
  chaincodeId.setName(chaincode);
  const extension = new peer.ChaincodeHeaderExtension();
  extension.setChaincodeId(chaincodeId);

  const channelHeader = new common.ChannelHeader();
  channelHeader.setType(common.HeaderType.ENDORSER_TRANSACTION);
  channelHeader.setChannelId(channel);
  channelHeader.setTxId(txId);
  channelHeader.setTimestamp(timestampOf(at));
  channelHeader.setExtension$(extension.serializeBinary());
  const signatureHeader = new common.SignatureHeader();
  signatureHeader.setCreator(creatorBytes);
  signatureHeader.setNonce(nonce);
  const header = new common.Header();
  header.setChannelHeader(channelHeader.serializeBinary());
  header.setSignatureHeader(signatureHeader.serializeBinary());

  const input = new peer.ChaincodeInput();
  input.setArgsList([fn, ...[argument].flat()].map((a) => Buffer.from(a)));
  const spec = new peer.ChaincodeSpec();
  spec.setChaincodeId(chaincodeId);
  spec.setInput(input);
  const invocation = new peer.ChaincodeInvocationSpec();
  invocation.setChaincodeSpec(spec);
  const payload = new peer.ChaincodeProposalPayload();
  payload.setInput(invocation.serializeBinary());

  const proposal = new peer.Proposal();
  proposal.setHeader(header.serializeBinary());
  proposal.setPayload(payload.serializeBinary());
  const proposalBytes = proposal.serializeBinary();
  const signed = new peer.SignedProposal();
  signed.setProposalBytes(proposalBytes);
  signed.setSignature(await id.sign(proposalBytes));
  return { signed, txId, proposal };
}

/**
 * Sends SIGNED to PEER ({endpoint, tlsRootCert, hostAlias} of network.json, over TLS); resolves to
 * its ProposalResponse as {status, message, payload (Buffer)}, rejects with the gRPC error when the
 * peer refuses the proposal itself (its signature, its time).
 */
function endorse(peerNode, signed, timeoutMs = 60000) {
  const tls = grpc.credentials.createSsl(fs.readFileSync(peerNode.tlsRootCert));
  const client = new peer.EndorserClient(peerNode.endpoint, tls, {
    // The peer's certificate names its host alias too: TLS checks that name, not the IP address.
    'grpc.ssl_target_name_override': peerNode.hostAlias,
    'grpc.default_authority': peerNode.hostAlias,
    'grpc.max_send_message_length': 16 << 20,
    'grpc.max_receive_message_length': 16 << 20,
  });
  return new Promise((resolve, reject) => {
    client.processProposal(signed, { deadline: Date.now() + timeoutMs }, (err, answer) => {
      client.close();
      if (err) return reject(err);
      const response = answer.getResponse();
      return resolve({
        status: response.getStatus(),
        message: response.getMessage(),
        payload: Buffer.from(response.getPayload_asU8()),
        endorsed: answer,
      });
    });
  });
}

/**
 * What colluding members running a modified contract would endorse: the transaction of PROPOSAL (as
 * one of their peers answered it, ENDORSED) with its writes replaced by WRITES ([{key, value}] on
 * CHAINCODE) and PRIVATEWRITES ([{collection, key, value}]: on the ledger only their hashes, as
 * Fabric records a private write), each ENDORSERS' peer identity signing the forged result, the
 * whole signed by CREATOR (who made the proposal). Returns the Envelope to broadcast.
 */
async function forgedTransaction({
  proposal, endorsed, chaincode, writes, privateWrites = [], endorsers, creator,
}) {
  const kv = new ledger.rwset.kvrwset.KVRWSet();
  kv.setWritesList(writes.map(({ key, value }) => {
    const write = new ledger.rwset.kvrwset.KVWrite();
    write.setKey(key);
    write.setValue(Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)));
    return write;
  }));
  const ns = new ledger.rwset.NsReadWriteSet();
  ns.setNamespace(chaincode);
  ns.setRwset(kv.serializeBinary());
  const sha256 = (text) => crypto.createHash('sha256').update(text).digest();
  const collections = [...new Set(privateWrites.map((w) => w.collection))];
  ns.setCollectionHashedRwsetList(collections.map((name) => {
    const hashed = new ledger.rwset.kvrwset.HashedRWSet();
    hashed.setHashedWritesList(privateWrites.filter((w) => w.collection === name).map(({ key, value }) => {
      const write = new ledger.rwset.kvrwset.KVWriteHash();
      write.setKeyHash(sha256(key));
      write.setValueHash(sha256(value));
      return write;
    }));
    const collection = new ledger.rwset.CollectionHashedReadWriteSet();
    collection.setCollectionName(name);
    collection.setHashedRwset(hashed.serializeBinary());
    return collection;
  }));
  const results = new ledger.rwset.TxReadWriteSet();
  results.setDataModel(ledger.rwset.TxReadWriteSet.DataModel.KV);
  results.setNsRwsetList([ns]);

  const responsePayload = peer.ProposalResponsePayload.deserializeBinary(endorsed.getPayload_asU8());
  const action = peer.ChaincodeAction.deserializeBinary(responsePayload.getExtension_asU8());
  action.setResults(results.serializeBinary());
  responsePayload.setExtension$(action.serializeBinary());
  const responseBytes = responsePayload.serializeBinary();

  const endorsements = await Promise.all(endorsers.map(async (id) => {
    const endorser = new msp.SerializedIdentity();
    endorser.setMspid(id.mspId);
    endorser.setIdBytes(id.certificate);
    const endorserBytes = endorser.serializeBinary();
    const endorsement = new peer.Endorsement();
    endorsement.setEndorser(endorserBytes);
    endorsement.setSignature(await id.sign(Buffer.concat([responseBytes, endorserBytes])));
    return endorsement;
  }));
  const endorsedAction = new peer.ChaincodeEndorsedAction();
  endorsedAction.setProposalResponsePayload(responseBytes);
  endorsedAction.setEndorsementsList(endorsements);
  const actionPayload = new peer.ChaincodeActionPayload();
  actionPayload.setChaincodeProposalPayload(proposal.getPayload_asU8());
  actionPayload.setAction(endorsedAction);

  const header = common.Header.deserializeBinary(proposal.getHeader_asU8());
  const transactionAction = new peer.TransactionAction();
  transactionAction.setHeader(header.getSignatureHeader_asU8());
  transactionAction.setPayload(actionPayload.serializeBinary());
  const transaction = new peer.Transaction();
  transaction.setActionsList([transactionAction]);
  const payload = new common.Payload();
  payload.setHeader(header);
  payload.setData(transaction.serializeBinary());
  const payloadBytes = payload.serializeBinary();
  const envelope = new common.Envelope();
  envelope.setPayload(payloadBytes);
  envelope.setSignature(await creator.sign(payloadBytes));
  return envelope;
}

/** Sends ENVELOPE to the orderer at ENDPOINT (TLS, trusting TLSCA); resolves when it accepted it. */
function broadcast({ endpoint, tlsCa }, envelope, timeoutMs = 30000) {
  const client = new orderer.AtomicBroadcastClient(endpoint, grpc.credentials.createSsl(fs.readFileSync(tlsCa)), {
    // Every node's TLS certificate also names localhost: TLS checks that name, not the IP address.
    'grpc.ssl_target_name_override': 'localhost',
    'grpc.default_authority': 'localhost',
  });
  return new Promise((resolve, reject) => {
    const stream = client.broadcast({ deadline: Date.now() + timeoutMs });
    const done = (err, value) => {
      stream.end();
      client.close();
      if (err) reject(err); else resolve(value);
    };
    stream.on('data', (answer) => {
      const status = answer.getStatus();
      if (status === common.Status.SUCCESS) done(undefined, status);
      else done(new Error(`the orderer refused the transaction: ${status} ${answer.getInfo()}`));
    });
    stream.on('error', (err) => done(err));
    stream.write(envelope);
  });
}

/** The validation code (TxValidationCode's name) of a committed transaction, from qscc's ProcessedTransaction. */
function validationCodeOf(processedTransactionBytes) {
  const code = peer.ProcessedTransaction.deserializeBinary(processedTransactionBytes).getValidationcode();
  return Object.keys(peer.TxValidationCode).find((name) => peer.TxValidationCode[name] === code);
}

module.exports = { broadcast, endorse, forgedTransaction, identity, signedProposal, validationCodeOf };
