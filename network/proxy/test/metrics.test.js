'use strict';
const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const { proxyMetrics } = require('../src/metrics');

const idle = () => proxyMetrics({ inFlight: () => 3, eventStreams: () => 0, pendingCommits: () => 0 });

/** Samples of a Prometheus text exposition: [{name, labels, value}]. */
function samples(text) {
  return text.split('\n').filter((l) => l && !l.startsWith('#')).map((line) => {
    const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/);
    assert.ok(m, `a sample line: ${line}`);
    const labels = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[k] = v;
    return { name: m[1], labels, value: Number(m[3]) };
  });
}

describe('proxy metrics (prom-client)', () => {
  it('a counter without labels reads 0 from the start, so rate() and increase() see its first event', async () => {
    // The hand-written registry printed no sample at all before the first increment.
    const text = await idle().registry.metrics();
    assert.match(text, /^vmledger_proxy_chaincode_events_sent_total 0$/m);
  });

  it('refuses a label the metric does not declare instead of counting under an empty one', () => {
    // The hand-written registry counted errors_total{code=""} for a misspelt label.
    const m = idle();
    assert.throws(() => m.errors.inc({ cod: 'UNAVAILABLE' }), /label/i);
  });

  it('escapes label values and renders cumulative buckets whose +Inf equals _count', async () => {
    const m = idle();
    m.requests.inc({ method: 'GET', route: '/a"b\\c\nd', status: 200 });
    for (const v of [0.0005, 0.05, 0.05, 7, 100]) m.stepSeconds.observe({ step: 'endorse' }, v);
    const text = await m.registry.metrics();
    assert.match(text, /^vmledger_proxy_http_requests_total\{method="GET",route="\/a\\"b\\\\c\\nd",status="200"\} 1$/m);
    const buckets = samples(text).filter((x) => x.name === 'vmledger_proxy_fabric_step_duration_seconds_bucket');
    const counts = buckets.map((b) => b.value);
    assert.deepEqual(counts, [...counts].sort((a, b) => a - b), 'cumulative');
    assert.equal(buckets.at(-1).labels.le, '+Inf');
    assert.equal(buckets.at(-1).value, 5);
    assert.equal(buckets.find((b) => b.labels.le === '0.05').value, 3);
    assert.match(text, /^vmledger_proxy_fabric_step_duration_seconds_count\{step="endorse"\} 5$/m);
    assert.match(text, /^vmledger_proxy_fabric_step_duration_seconds_sum\{step="endorse"\} 107\.1005$/m);
  });

  it('collects gauges at scrape time, and the standard process and event-loop metrics', async () => {
    const m = idle();
    const text = await m.registry.metrics();
    assert.match(text, /^vmledger_proxy_in_flight_requests 3$/m);
    for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'process_start_time_seconds',
      'nodejs_eventloop_lag_seconds', 'nodejs_eventloop_lag_p99_seconds', 'nodejs_heap_size_used_bytes',
      'nodejs_gc_duration_seconds']) {
      assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'), name);
    }
    assert.equal(m.contentType, 'text/plain; version=0.0.4; charset=utf-8');
  });
});
