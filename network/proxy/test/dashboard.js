'use strict';
/**
 * The metric families the Grafana dashboard (network/monitoring/grafana/vmledger.json) queries, read from
 * its PromQL: the proxy's own (and the Node process metrics of the proxy), and Fabric's.
 */
const fs = require('node:fs');
const path = require('node:path');

const DASHBOARD = path.resolve(__dirname, '..', '..', 'monitoring', 'grafana', 'vmledger.json');
const HISTOGRAM_SUFFIX = /_bucket$/; // the dashboard reads histograms through their buckets only
const PROMQL_WORDS = new Set(['sum', 'max', 'min', 'avg', 'rate', 'increase', 'histogram_quantile', 'by', 'on',
  'and', 'or', 'unless', 'group_left', 'group_right', 'without', 'ignoring']);

function dashboard() {
  return JSON.parse(fs.readFileSync(DASHBOARD, 'utf8'));
}

/** Every PromQL expression of the dashboard's panels. */
function expressions(doc = dashboard()) {
  return doc.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
}

/** Metric families in one expression (histogram series named by their family). */
function families(expr) {
  const stripped = expr
    .replace(/\b(by|on|without|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ') // label lists
    .replace(/\[[^\]]*\]/g, ' ') // ranges
    .replace(/\{[^}]*\}/g, ' '); // matchers
  const names = new Set();
  for (const [word] of stripped.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    if (PROMQL_WORDS.has(word)) continue;
    names.add(word.replace(HISTOGRAM_SUFFIX, ''));
  }
  return [...names];
}

/** {proxy, fabric}: the families the dashboard queries, split by who exposes them. */
function dashboardFamilies() {
  const all = [...new Set(expressions().flatMap(families))].sort();
  const proxy = all.filter((n) => /^(vmledger_proxy_|process_|nodejs_)/.test(n));
  return { proxy, fabric: all.filter((n) => !proxy.includes(n)) };
}

/** The families a Prometheus text exposition declares (`# TYPE` lines). */
function exposed(text) {
  return new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]));
}

module.exports = { DASHBOARD, dashboard, expressions, families, dashboardFamilies, exposed };
