'use strict';
/**
 * The Grafana dashboard (network/monitoring/grafana/vmledger.json) against the proxy it watches: every proxy
 * metric it queries exists in the proxy's /metrics. (Its Fabric metrics are checked against a real network's
 * operations endpoints in test/e2e/api.test.js.)
 */
const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const { startApp, call } = require('./helpers');
const { dashboard, dashboardFamilies, expressions, exposed, families } = require('./dashboard');

describe('Grafana dashboard', () => {
  it('reads the families out of PromQL', () => {
    assert.deepEqual(families('sum by (le, route) (rate(x_bucket{a="b"}[5m])) and on(instance) y_total'), ['x', 'y_total']);
    assert.deepEqual(families('sum by (validation_code) (rate(ledger_transaction_count[$__rate_interval]))'),
      ['ledger_transaction_count']);
  });

  it('is a dashboard with a Prometheus datasource variable and queries in every panel', () => {
    const doc = dashboard();
    assert.equal(doc.uid, 'vmledger');
    assert.ok(doc.templating.list.some((v) => v.type === 'datasource' && v.query === 'prometheus'));
    const ids = doc.panels.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
    for (const p of doc.panels.filter((x) => x.type !== 'row')) {
      assert.ok(p.targets.length > 0 && p.targets.every((t) => t.expr.length > 0), p.title);
      assert.equal(p.datasource.uid, '${datasource}', p.title);
    }
    assert.ok(expressions().length >= 30);
  });

  it('queries only metrics the proxy exposes (its own and its process\'s)', async () => {
    const s = await startApp();
    try {
      const have = exposed(await (await call(s.url, '/metrics', { as: 'none' })).text());
      const { proxy } = dashboardFamilies();
      assert.ok(proxy.length >= 10, proxy.join());
      for (const name of proxy) assert.ok(have.has(name), `${name} is in the proxy's /metrics`);
    } finally {
      await s.close();
    }
  });
});
