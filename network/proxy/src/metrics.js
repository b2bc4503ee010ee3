'use strict';
/**
 * The proxy's metrics, on prom-client: the proxy's own families below, and prom-client's default process
 * and Node.js metrics (CPU, memory, file descriptors, event-loop lag, heap, GC), which dashboards expect
 * under their standard names. network/monitoring/grafana/vmledger.json queries them.
 */

const client = require('prom-client');

/** Latency buckets in seconds: from sub-millisecond evaluates to a minute-long commit wait. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/**
 * The proxy's metrics, in a registry of their own (one per app, so tests can run several).
 * @param {{inFlight: () => number, eventStreams: () => number, pendingCommits: () => number}} gauges
 */
function proxyMetrics(gauges) {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const counter = (name, help, labelNames = []) => new client.Counter({ name, help, labelNames, registers });
  const histogram = (name, help, labelNames) => new client.Histogram({
    name, help, labelNames, buckets: LATENCY_BUCKETS, registers,
  });
  const gauge = (name, help, value) => new client.Gauge({
    name, help, registers, collect() { this.set(value()); },
  });
  const startSeconds = Date.now() / 1000;
  return {
    registry,
    contentType: registry.contentType,
    requests: counter('vmledger_proxy_http_requests_total',
      'HTTP requests answered, by method, route and status.', ['method', 'route', 'status']),
    requestSeconds: histogram('vmledger_proxy_http_request_duration_seconds',
      'Time to answer an HTTP request (event streams: time to open), by route.', ['route']),
    stepSeconds: histogram('vmledger_proxy_fabric_step_duration_seconds',
      'Duration of each Fabric Gateway step: endorse, submit, commit (status wait), evaluate, chaininfo.',
      ['step']),
    errors: counter('vmledger_proxy_errors_total',
      'Problem responses and failed asynchronous commits, by problem code.', ['code']),
    transactions: counter('vmledger_proxy_transactions_total',
      'Submitted transactions whose commit status is known, by validation code.', ['validation_code']),
    eventsSent: counter('vmledger_proxy_chaincode_events_sent_total',
      'Chaincode events written to event streams.'),
    inFlight: gauge('vmledger_proxy_in_flight_requests',
      'Requests being processed (event streams excluded).', gauges.inFlight),
    streams: gauge('vmledger_proxy_event_streams', 'Open event streams.', gauges.eventStreams),
    pendingCommits: gauge('vmledger_proxy_pending_async_commits',
      'Asynchronous submissions whose commit status is still awaited.', gauges.pendingCommits),
    start: gauge('vmledger_proxy_start_time_seconds', 'Start time of the proxy, Unix seconds.', () => startSeconds),
    rss: gauge('vmledger_proxy_resident_memory_bytes', 'Resident set size of the proxy process.',
      () => process.memoryUsage.rss()),
  };
}

module.exports = { LATENCY_BUCKETS, proxyMetrics };
