'use strict';
const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const { Registry } = require('../src/metrics');

describe('Prometheus registry', () => {
  it('renders counters with escaped labels', () => {
    const r = new Registry();
    const c = r.counter('x_total', 'Help.', ['route']);
    c.inc({ route: '/a"b\\c' });
    c.inc({ route: '/a"b\\c' }, 2);
    assert.equal(r.render(), '# HELP x_total Help.\n# TYPE x_total counter\nx_total{route="/a\\"b\\\\c"} 3\n');
  });
  it('renders cumulative histogram buckets, sum and count', () => {
    const r = new Registry();
    const h = r.histogram('d_seconds', 'Help.', ['step'], [0.1, 1]);
    h.observe({ step: 'endorse' }, 0.05);
    h.observe({ step: 'endorse' }, 0.5);
    h.observe({ step: 'endorse' }, 5);
    const text = r.render();
    assert.match(text, /d_seconds_bucket\{step="endorse",le="0.1"\} 1\n/);
    assert.match(text, /d_seconds_bucket\{step="endorse",le="1"\} 2\n/);
    assert.match(text, /d_seconds_bucket\{step="endorse",le="\+Inf"\} 3\n/);
    assert.match(text, /d_seconds_sum\{step="endorse"\} 5.55\n/);
    assert.match(text, /d_seconds_count\{step="endorse"\} 3\n/);
  });
  it('collects gauges at scrape time', () => {
    const r = new Registry();
    let v = 1;
    r.gauge('g', 'Help.', [], () => v);
    v = 42;
    assert.match(r.render(), /^g 42$/m);
  });
});
