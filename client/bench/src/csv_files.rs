//! The report's CSV files, one row type per file, written by the `csv` crate: fields holding a
//! comma, a quote or a line break (an image path, a failure code) are quoted as RFC 4180 says.

use std::path::Path;

use serde::Serialize;

use crate::error::{BenchError, Result};
use crate::results::SuiteReport;
use crate::round::{Load, RoundResult};
use crate::stats::Summary;

/// Count and the five figures of a [`Summary`] as CSV columns, rounded to 0.001.
#[derive(Debug, Serialize)]
struct Five {
    count: usize,
    min: f64,
    p50: f64,
    p95: f64,
    p99: f64,
    max: f64,
    mean: f64,
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

impl From<&Summary> for Five {
    fn from(s: &Summary) -> Five {
        Five {
            count: s.count,
            min: round3(s.min),
            p50: round3(s.p50),
            p95: round3(s.p95),
            p99: round3(s.p99),
            max: round3(s.max),
            mean: round3(s.mean),
        }
    }
}

/// `<tag>-rounds.csv`: one row per round and metric (its latency, then each step), each followed
/// by the [`Five`] columns.
#[derive(Debug, Serialize)]
struct RoundRow<'a> {
    part: &'a str,
    round: &'a str,
    in_flight: Option<usize>,
    offered_per_s: Option<f64>,
    started: u64,
    succeeded: u64,
    failed: u64,
    conflicts: u64,
    throughput_per_s: f64,
    blocks_per_s: f64,
    metric: &'a str,
}

/// `<tag>-samples.csv`: every operation.
#[derive(Debug, Serialize)]
struct SampleRow<'a> {
    part: &'a str,
    round: &'a str,
    at_ms: f64,
    latency_ms: f64,
    failure: &'a str,
}

/// `<tag>-hash.csv`, each row followed by the [`Five`] columns.
#[derive(Debug, Serialize)]
struct HashRow<'a> {
    tool: &'a str,
    file: &'a str,
    bytes: u64,
    metric: &'a str,
}

/// `<tag>-transfer.csv`, each row followed by the [`Five`] columns.
#[derive(Debug, Serialize)]
struct TransferRow<'a> {
    image: &'a str,
    bytes: u64,
    rate_limit: &'a str,
    runs: u32,
    failures: u64,
    metric: &'a str,
}

/// `<tag>-resources.csv`.
#[derive(Debug, Serialize)]
struct ResourceRow<'a> {
    part: &'a str,
    process: &'a str,
    pid: u32,
    cpu_percent: f64,
    rss_min_mib: f64,
    rss_p50_mib: f64,
    rss_max_mib: f64,
    machine_cpu_percent: f64,
    load_start: f64,
    load_end: f64,
    seconds: f64,
}

/// Writes `rows` as `dir/name` with a header line; nothing when there are no rows. A row may be a
/// tuple of structs: the csv crate writes their columns one after the other.
fn write<R: Serialize>(dir: &Path, name: &str, rows: &[R]) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let path = dir.join(name);
    let failed = |e: csv::Error| BenchError::io(&path, std::io::Error::other(e));
    let mut writer = csv::Writer::from_path(&path).map_err(failed)?;
    for row in rows {
        writer.serialize(row).map_err(failed)?;
    }
    writer.flush().map_err(|e| BenchError::io(&path, e))
}

/// Writes every CSV file of a report into `dir`.
///
/// # Errors
/// [`BenchError::Io`].
pub(crate) fn write_all(dir: &Path, r: &SuiteReport) -> Result<()> {
    let tag = &r.tag;
    let mut rounds: Vec<(&str, &RoundResult)> = Vec::new();
    if let Some(l) = &r.latency {
        rounds.push(("latency", &l.ping));
        rounds.push(("latency", &l.migration));
    }
    rounds.extend(r.closed_ping.iter().map(|c| ("closed", c)));
    rounds.extend(r.closed.iter().map(|c| ("closed", c)));
    rounds.extend(r.open.iter().map(|c| ("open", c)));
    let mut round_rows = Vec::new();
    let mut sample_rows = Vec::new();
    for (part, round) in &rounds {
        let (in_flight, offered_per_s) = match round.load {
            Load::Closed { in_flight, .. } => (Some(in_flight), None),
            Load::Open { rate, .. } => (None, Some(rate)),
        };
        let metrics = std::iter::once(("latency_ms", &round.latency_ms))
            .chain(round.steps_ms.iter().map(|(step, s)| (step.as_str(), s)));
        for (metric, s) in metrics {
            let head = RoundRow {
                part,
                round: &round.name,
                in_flight,
                offered_per_s,
                started: round.started,
                succeeded: round.succeeded,
                failed: round.failed,
                conflicts: round.conflicts,
                throughput_per_s: round3(round.throughput_per_s),
                blocks_per_s: round3(round.blocks_per_s),
                metric,
            };
            round_rows.push((head, Five::from(s)));
        }
        sample_rows.extend(round.samples.iter().map(|s| SampleRow {
            part,
            round: &round.name,
            at_ms: round3(s.at_ms),
            latency_ms: round3(s.latency_ms),
            failure: s.outcome.failure.as_deref().unwrap_or(""),
        }));
    }
    write(dir, &format!("{tag}-rounds.csv"), &round_rows)?;
    write(dir, &format!("{tag}-samples.csv"), &sample_rows)?;

    let hash_rows: Vec<(HashRow, Five)> = r
        .hash
        .iter()
        .flat_map(|h| {
            [("mb_per_s", &h.megabytes_per_second), ("seconds", &h.seconds)]
                .map(|(metric, s)| (HashRow { tool: &h.tool, file: &h.file, bytes: h.bytes, metric }, s.into()))
        })
        .collect();
    write(dir, &format!("{tag}-hash.csv"), &hash_rows)?;

    let mut transfer_rows = Vec::new();
    for t in &r.transfer {
        let failures = t.failures.values().sum();
        for (metric, s) in [
            ("total_ms", &t.total_ms),
            ("transfer_ms", &t.transfer_ms),
            ("hash_ms", &t.hash_ms),
            ("indicate_client_ms", &t.indicate_client_ms),
            ("confirm_client_ms", &t.confirm_client_ms),
            ("ledger_ms", &t.ledger_ms),
            ("ledger_critical_ms", &t.ledger_critical_ms),
            ("ledger_share_percent", &t.ledger_share_percent),
        ] {
            let head = TransferRow {
                image: &t.image,
                bytes: t.image_bytes,
                rate_limit: &t.rate_limit,
                runs: t.runs,
                failures,
                metric,
            };
            transfer_rows.push((head, Five::from(s)));
        }
    }
    write(dir, &format!("{tag}-transfer.csv"), &transfer_rows)?;

    let mut resource_rows = Vec::new();
    for (part, u) in &r.resources {
        for (process, p) in &u.processes {
            resource_rows.push(ResourceRow {
                part,
                process,
                pid: p.pid,
                cpu_percent: round3(p.cpu_percent),
                rss_min_mib: round3(p.rss_mib.min),
                rss_p50_mib: round3(p.rss_mib.p50),
                rss_max_mib: round3(p.rss_mib.max),
                machine_cpu_percent: round3(u.machine_cpu_percent),
                load_start: u.load_average_start,
                load_end: u.load_average_end,
                seconds: round3(u.seconds),
            });
        }
    }
    write(dir, &format!("{tag}-resources.csv"), &resource_rows)
}
