'use strict';
/**
 * What creation markers cost (contract/src/anchor.rs), measured on the running network through each
 * member's gateway REST proxy, as ratios to the Ping floor measured in the same run:
 *
 *   node tests/network/marker-cost.js [--n 100] [--stays 100] [--usage 30]
 *
 * Sequential, on the federation: N Pings, N RegisterCloud (one marker each), N RegisterVm (two: the
 * VM and its stay), then `Usage` of a cloud whose period holds STAYS stays, USAGE times (evaluated,
 * one marker hash per stay). Prints p50 and mean of each against Ping's. Run it once with the
 * contract as built and once with a contract without markers (the figure is the difference of the
 * ratios). A command a person runs, not a test: it asserts nothing, and writes records with fresh ids.
 */
const fs = require('node:fs');
const path = require('node:path');

const RUN = process.env.VMLEDGER_NET_RUN ?? path.resolve(__dirname, '../../network/run');
const options = { n: 100, stays: 100, usage: 30 };
for (let i = 2; i < process.argv.length; i += 2) options[process.argv[i].replace(/^--/, '')] = Number(process.argv[i + 1]);

const { members } = JSON.parse(fs.readFileSync(path.join(RUN, 'members.json'), 'utf8'));
const org1 = members[0];
const tag = Date.now().toString(36);

async function call(kind, fn, body, as = 'operator') {
  const started = process.hrtime.bigint();
  const response = await fetch(`${org1.proxy.url}/v1/${kind}/${fn}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': org1.apiKeys[as] },
    body: JSON.stringify(body),
  });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  const answer = await response.json();
  if (response.status !== 200) throw new Error(`${fn}: ${response.status} ${JSON.stringify(answer)}`);
  return { ms, answer };
}

async function timed(label, count, make) {
  const ms = [];
  for (let i = 0; i < count; i += 1) ms.push((await make(i)).ms);
  ms.sort((a, b) => a - b);
  return { label, count, p50: ms[Math.floor(ms.length / 2)], mean: ms.reduce((a, b) => a + b, 0) / ms.length };
}

async function main() {
  const ns = org1.mspId.toLowerCase().replace(/msp$/, '');
  const cloudId = `${ns}.cost-${tag}`;
  const hostId = `${ns}.cost-host-${tag}`;
  await call('transactions', 'RegisterCloud', { id: cloudId, name: 'cost' }, 'manager');
  const capacity = { cpuCores: 100000, memoryMib: 100000, networkMbps: 100000, ioMbps: 100000 };
  await call('transactions', 'RegisterHost', { id: hostId, cloudId, country: 'GB', organizations: ['CostCo'], capacity },
    'manager');
  const from = new Date(Date.now() - 60000).toISOString();
  const vm = (i) => ({
    id: `cost-${tag}-${i}`, cloudId, hostId, imageHash: 'ab'.repeat(32),
    requirements: { cpuCores: 1, memoryMib: 1, networkMbps: 1, ioMbps: 1 },
    regulation: { countries: 'All', organizations: 'All' },
  });
  const rows = [];
  rows.push(await timed('Ping', options.n, () => call('transactions', 'Ping', {})));
  rows.push(await timed('RegisterCloud', options.n,
    (i) => call('transactions', 'RegisterCloud', { id: `${ns}.cost-${tag}-${i}`, name: 'c' }, 'manager')));
  rows.push(await timed('RegisterVm', Math.max(options.n, options.stays), (i) => call('transactions', 'RegisterVm', vm(i))));
  const to = new Date(Date.now() + 3600000).toISOString();
  const usage = await call('queries', 'Usage', { cloudId, from, to });
  const stays = usage.answer.result.vms.length;
  rows.push(await timed(`Usage (${stays} stays)`, options.usage, () => call('queries', 'Usage', { cloudId, from, to })));
  rows.push(await timed('GetCloud', options.usage, () => call('queries', 'GetCloud', { id: cloudId })));
  const floor = rows[0];
  console.log(`${new Date().toISOString()} load ${require('node:os').loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  for (const r of rows) {
    console.log(`${r.label.padEnd(22)} n=${String(r.count).padStart(4)}  p50 ${r.p50.toFixed(1).padStart(7)} ms `
      + `(${(r.p50 / floor.p50).toFixed(2)}x Ping)  mean ${r.mean.toFixed(1).padStart(7)} ms `
      + `(${(r.mean / floor.mean).toFixed(2)}x)`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
