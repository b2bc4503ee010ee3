#!/usr/bin/env node
'use strict';
/**
 * vmledger gateway REST proxy: one per federation member, holding that member's Fabric identities.
 *
 *   node network/proxy/src/server.js --config network/run/proxy/org1.json
 *
 * stdout: one JSON line per request. stderr: start, stop and internal errors.
 * SIGTERM/SIGINT: stop accepting, finish in-flight submissions (and awaited async commits), exit 0.
 * A second signal exits at once (status 1).
 */

const http = require('node:http');
const { ConfigError, loadConfig } = require('./config');
const { Fabric } = require('./fabric');
const { createApp } = require('./app');
const { Vocabulary } = require('./vocabulary');

const USAGE = 'usage: node network/proxy/src/server.js --config <file.json>';

function parseArgv(argv) {
  const args = { config: undefined };
  for (let i = 0; i < argv.length; i += 1) {
    const a = argv[i];
    if (a === '--config') {
      args.config = argv[i + 1];
      i += 1;
    } else if (a.startsWith('--config=')) {
      args.config = a.slice('--config='.length);
    } else if (a === '--help' || a === '-h') {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    } else {
      throw new ConfigError([`unexpected argument ${a}`, USAGE]);
    }
  }
  if (!args.config) throw new ConfigError([USAGE]);
  return args;
}

const stderr = (line) => process.stderr.write(`vmledger-proxy: ${line}\n`);

async function main() {
  const args = parseArgv(process.argv.slice(2));
  const config = loadConfig(args.config, { warn: (m) => stderr(`warning: ${m}`) });

  let vocabulary;
  try {
    vocabulary = Vocabulary.load(config.vocabulary);
  } catch (err) {
    throw new ConfigError([`"vocabulary": ${err.message}`]);
  }

  let app;
  const fabric = new Fabric(config, { observeStep: (step, ms) => app?.metrics.stepSeconds.observe({ step }, ms / 1000) });
  app = createApp({ config, fabric, vocabulary, warn: stderr });

  const server = http.createServer({ requestTimeout: 60000, headersTimeout: 20000, keepAliveTimeout: 5000 },
    (req, res) => {
      app.handle(req, res);
    });
  server.maxHeadersCount = 100;

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.listen.port, config.listen.host, resolve);
  });
  const { address, port } = server.address();
  stderr(`listening on http://${address}:${port} (${config.mspId}, peer ${config.peer.endpoint} as `
    + `${config.peer.hostAlias}, identities ${Object.keys(config.identities).join(',')}, pid ${process.pid})`);

  let stopping = false;
  const stop = async (signal) => {
    if (stopping) {
      stderr(`${signal} again: exiting now`);
      process.exit(1);
    }
    stopping = true;
    const { inFlight, pendingCommits } = app.state;
    stderr(`${signal}: draining (${inFlight} in flight, ${pendingCommits.size} commits awaited)`);
    server.close();
    const clean = await app.drain();
    server.closeAllConnections();
    fabric.close();
    stderr(clean ? 'stopped cleanly' : 'stopped: drain timed out');
    process.exit(clean ? 0 : 1);
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err) => {
  if (err instanceof ConfigError) {
    stderr(err.message);
    process.exit(2);
  }
  stderr(`failed to start: ${err?.message ?? err}`);
  process.exit(1);
});
