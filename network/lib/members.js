#!/usr/bin/env node
'use strict';
/**
 * Writes what clients read about a running vmledger network:
 *   network/run/members.json      one entry per member (the format in the interfaces agreement)
 *   network/run/proxy/<org>.json  each member's gateway REST proxy config
 *   network/run/network.json      orderers, peers and admin identities, for the peer-CLI tests
 * API keys are made once per fresh network (network/run/keys.json) and kept across down/up.
 *
 *   node network/lib/members.js <run dir> <orgs> <orderers>
 * Port layout (kept in step with network/vmledger-net): see ports() below.
 */
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const DOMAIN = 'vmledger.local';
const CLOUDS = ['cloud-a', 'cloud-b', 'cloud-c', 'cloud-d'];

function ports(n) { // member n (1-based)
  const base = 7051 + (n - 1) * 1000;
  return { peer: base, operations: base + 2, chaincode: base + 3, proxy: 7101 + (n - 1) * 1000 };
}

function ordererPorts(i) { // orderer i (0-based)
  const base = 6050 + i * 100;
  return { listen: base, admin: base + 3, operations: base + 4 };
}

function identity(run, org, user) {
  const msp = path.join(run, 'crypto/peerOrganizations', `${org}.${DOMAIN}`, 'users', `${user}@${org}.${DOMAIN}`, 'msp');
  return {
    cert: path.join(msp, 'signcerts', `${user}@${org}.${DOMAIN}-cert.pem`),
    key: path.join(msp, 'keystore', 'priv_sk'),
    msp,
  };
}

function writeJson(file, value) {
  const tmp = `${file}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
  fs.renameSync(tmp, file);
}

function main() {
  const [run, orgsArg, orderersArg] = process.argv.slice(2);
  const orgs = Number(orgsArg);
  const orderers = Number(orderersArg);
  if (!run || !(orgs >= 1) || !(orderers >= 1)) {
    process.stderr.write('usage: members.js <run dir> <orgs> <orderers>\n');
    process.exit(2);
  }

  const keysFile = path.join(run, 'keys.json');
  const keys = fs.existsSync(keysFile) ? JSON.parse(fs.readFileSync(keysFile, 'utf8')) : {};
  const newKey = () => crypto.randomBytes(24).toString('hex');

  fs.mkdirSync(path.join(run, 'proxy'), { recursive: true });
  const members = [];
  const peers = [];
  for (let n = 1; n <= orgs; n += 1) {
    const org = `org${n}`;
    const mspId = `Org${n}MSP`;
    const p = ports(n);
    keys[org] ??= { admin: newKey(), user: newKey() };
    const peerDir = path.join(run, 'crypto/peerOrganizations', `${org}.${DOMAIN}`, 'peers', `peer0.${org}.${DOMAIN}`);
    const peer = {
      endpoint: `127.0.0.1:${p.peer}`,
      hostAlias: `peer0.${org}.${DOMAIN}`,
      tlsRootCert: path.join(peerDir, 'tls', 'ca.crt'),
    };
    const admin = identity(run, org, 'Admin');
    const user = identity(run, org, 'User1');
    const identities = {
      admin: { cert: admin.cert, key: admin.key },
      user: { cert: user.cert, key: user.key },
    };
    members.push({
      org,
      mspId,
      cloudHint: CLOUDS[n - 1] ?? `cloud-${n}`,
      peer,
      proxy: { url: `http://127.0.0.1:${p.proxy}` },
      apiKeys: { admin: keys[org].admin, user: keys[org].user },
      identities,
    });
    writeJson(path.join(run, 'proxy', `${org}.json`), {
      listen: { host: '127.0.0.1', port: p.proxy },
      mspId,
      peer,
      identities,
      apiKeys: [{ key: keys[org].admin, identity: 'admin' }, { key: keys[org].user, identity: 'user' }],
      defaults: { channel: 'federation', chaincode: 'vmledger' },
      limits: {
        bodyBytes: 1048576, inFlight: 512, endorseMs: 15000, submitMs: 5000, commitMs: 60000, evaluateMs: 5000,
      },
    });
    peers.push({
      org,
      mspId,
      endpoint: peer.endpoint,
      hostAlias: peer.hostAlias,
      tlsRootCert: peer.tlsRootCert,
      operations: `http://127.0.0.1:${p.operations}`,
      chaincodeServer: `127.0.0.1:${p.chaincode}`,
      adminMsp: admin.msp,
      userMsp: user.msp,
    });
  }
  writeJson(keysFile, keys);

  const ordererOrg = path.join(run, 'crypto/ordererOrganizations', DOMAIN);
  const ordererList = [];
  for (let i = 0; i < orderers; i += 1) {
    const o = ordererPorts(i);
    ordererList.push({
      name: `orderer${i}`,
      endpoint: `127.0.0.1:${o.listen}`,
      hostAlias: `orderer${i}.${DOMAIN}`,
      admin: `127.0.0.1:${o.admin}`,
      operations: `http://127.0.0.1:${o.operations}`,
    });
  }
  writeJson(path.join(run, 'network.json'), {
    channel: 'federation',
    chaincode: 'vmledger',
    fabricCfgPath: path.join(run, 'config'),
    ordererTlsCa: path.join(ordererOrg, 'tlsca', `tlsca.${DOMAIN}-cert.pem`),
    orderers: ordererList,
    peers,
  });
  writeJson(path.join(run, 'members.json'), { channel: 'federation', chaincode: 'vmledger', members });
}

main();
