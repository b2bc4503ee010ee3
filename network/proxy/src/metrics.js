'use strict';
/**
 * A small Prometheus registry (counters, gauges, histograms with labels) rendering the text exposition
 * format 0.0.4. Enough for this proxy; no dependency.
 */

const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Latency buckets in seconds: from sub-millisecond evaluates to a minute-long commit wait. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

function escapeLabel(value) {
  return String(value).replaceAll('\\', '\\\\').replaceAll('\n', '\\n').replaceAll('"', '\\"');
}

function labelKey(names, labels) {
  return names.map((n) => String(labels[n] ?? '')).join('\u0000');
}

function renderLabels(names, values, extra) {
  const parts = names.map((n, i) => `${n}="${escapeLabel(values[i])}"`);
  if (extra) parts.push(extra);
  return parts.length > 0 ? `{${parts.join(',')}}` : '';
}

function formatNumber(n) {
  if (n === Infinity) return '+Inf';
  if (n === -Infinity) return '-Inf';
  return String(n);
}

class Metric {
  constructor(name, help, labelNames) {
    this.name = name;
    this.help = help;
    this.labelNames = labelNames;
    /** @type {Map<string, {values: string[], value: any}>} */
    this.series = new Map();
  }

  entry(labels, init) {
    const key = labelKey(this.labelNames, labels);
    let e = this.series.get(key);
    if (!e) {
      e = { values: this.labelNames.map((n) => String(labels[n] ?? '')), value: init() };
      this.series.set(key, e);
    }
    return e;
  }
}

class Counter extends Metric {
  inc(labels = {}, by = 1) {
    this.entry(labels, () => 0).value += by;
  }

  get(labels = {}) {
    return this.series.get(labelKey(this.labelNames, labels))?.value ?? 0;
  }

  render() {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    for (const { values, value } of this.series.values()) {
      lines.push(`${this.name}${renderLabels(this.labelNames, values)} ${formatNumber(value)}`);
    }
    return lines;
  }
}

class Gauge extends Metric {
  /** @param {() => number} [collect] computes the value at scrape time (unlabelled gauges only) */
  constructor(name, help, labelNames, collect) {
    super(name, help, labelNames);
    this.collect = collect;
  }

  set(labels, value) {
    this.entry(labels, () => 0).value = value;
  }

  render() {
    if (this.collect) this.set({}, this.collect());
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} gauge`];
    for (const { values, value } of this.series.values()) {
      lines.push(`${this.name}${renderLabels(this.labelNames, values)} ${formatNumber(value)}`);
    }
    return lines;
  }
}

class Histogram extends Metric {
  constructor(name, help, labelNames, buckets = LATENCY_BUCKETS) {
    super(name, help, labelNames);
    this.buckets = [...buckets].sort((a, b) => a - b);
  }

  observe(labels, value) {
    const e = this.entry(labels, () => ({ counts: new Array(this.buckets.length).fill(0), sum: 0, count: 0 }));
    const h = e.value;
    for (let i = 0; i < this.buckets.length; i += 1) {
      if (value <= this.buckets[i]) h.counts[i] += 1;
    }
    h.sum += value;
    h.count += 1;
  }

  count(labels = {}) {
    return this.series.get(labelKey(this.labelNames, labels))?.value.count ?? 0;
  }

  render() {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const { values, value: h } of this.series.values()) {
      this.buckets.forEach((le, i) => {
        lines.push(`${this.name}_bucket${renderLabels(this.labelNames, values, `le="${formatNumber(le)}"`)} ${h.counts[i]}`);
      });
      lines.push(`${this.name}_bucket${renderLabels(this.labelNames, values, 'le="+Inf"')} ${h.count}`);
      lines.push(`${this.name}_sum${renderLabels(this.labelNames, values)} ${formatNumber(h.sum)}`);
      lines.push(`${this.name}_count${renderLabels(this.labelNames, values)} ${h.count}`);
    }
    return lines;
  }
}

class Registry {
  constructor() {
    /** @type {Metric[]} */
    this.metrics = [];
  }

  counter(name, help, labelNames = []) {
    return this.add(new Counter(name, help, labelNames));
  }

  gauge(name, help, labelNames = [], collect = undefined) {
    return this.add(new Gauge(name, help, labelNames, collect));
  }

  histogram(name, help, labelNames = [], buckets = LATENCY_BUCKETS) {
    return this.add(new Histogram(name, help, labelNames, buckets));
  }

  add(metric) {
    this.metrics.push(metric);
    return metric;
  }

  /** The whole registry in Prometheus text format. */
  render() {
    return `${this.metrics.flatMap((m) => m.render()).join('\n')}\n`;
  }
}

/**
 * The proxy's metrics.
 * @param {{inFlight: () => number, eventStreams: () => number, pendingCommits: () => number}} gauges
 */
function proxyMetrics(gauges) {
  const registry = new Registry();
  const startSeconds = Date.now() / 1000;
  return {
    registry,
    requests: registry.counter('vmledger_proxy_http_requests_total',
      'HTTP requests answered, by method, route and status.', ['method', 'route', 'status']),
    requestSeconds: registry.histogram('vmledger_proxy_http_request_duration_seconds',
      'Time to answer an HTTP request (event streams: time to open), by route.', ['route']),
    stepSeconds: registry.histogram('vmledger_proxy_fabric_step_duration_seconds',
      'Duration of each Fabric Gateway step: endorse, submit, commit (status wait), evaluate, chaininfo.',
      ['step']),
    errors: registry.counter('vmledger_proxy_errors_total',
      'Problem responses and failed asynchronous commits, by problem code.', ['code']),
    transactions: registry.counter('vmledger_proxy_transactions_total',
      'Submitted transactions whose commit status is known, by validation code.', ['validation_code']),
    eventsSent: registry.counter('vmledger_proxy_chaincode_events_sent_total',
      'Chaincode events written to event streams.'),
    inFlight: registry.gauge('vmledger_proxy_in_flight_requests',
      'Requests being processed (event streams excluded).', [], gauges.inFlight),
    streams: registry.gauge('vmledger_proxy_event_streams', 'Open event streams.', [], gauges.eventStreams),
    pendingCommits: registry.gauge('vmledger_proxy_pending_async_commits',
      'Asynchronous submissions whose commit status is still awaited.', [], gauges.pendingCommits),
    start: registry.gauge('vmledger_proxy_start_time_seconds', 'Start time of the proxy, Unix seconds.', [],
      () => startSeconds),
    rss: registry.gauge('vmledger_proxy_resident_memory_bytes', 'Resident set size of the proxy process.', [],
      () => process.memoryUsage.rss()),
  };
}

module.exports = { CONTENT_TYPE, LATENCY_BUCKETS, Registry, proxyMetrics };
