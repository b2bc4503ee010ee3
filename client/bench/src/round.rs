//! The benchmark driver, Caliper-style: a round drives one operation under a load — a closed loop
//! (a fixed number of workers, each starting its next operation when the last one ended) or an open
//! loop (operations started at a fixed offered rate, whatever the answers) — bounded in count and
//! time, and reports every outcome: latency figures (min / p50 / p95 / p99 / max), per-step times,
//! throughput, blocks cut, and failures counted by code (MVCC conflicts included), never hidden.
//!
//! Operations are given a *slot*: a worker number in a closed loop, a free resource from a pool in
//! an open loop, so that concurrent operations can use distinct VMs and hosts and never conflict by
//! design. In an open loop an operation that finds no free slot waits for one, and its latency is
//! counted from when it was due: a system that cannot keep up shows a delay that grows.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use vmledger_client::Network;

use crate::stats::Summary;

/// What stands for an image in the rounds where none travels: its hash (and HMAC), and the
/// transfer key the Indication commits to.
pub(crate) const NO_IMAGE_HASH: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

pub(crate) fn no_image_key() -> vmledger_client::image::TransferKey {
    vmledger_client::image::TransferKey::from_hex(&"b0".repeat(32)).expect("a well-formed key")
}

/// How a round loads the system.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum Load {
    /// `in_flight` workers, each running operations back to back, until `count` operations have
    /// started or `max_duration` has passed.
    Closed { in_flight: usize, count: u64, max_duration: Duration },
    /// Operations due every `1/rate` seconds during `duration`, on `slots` distinct slots.
    Open { rate: f64, duration: Duration, slots: usize },
}

impl Load {
    /// Slots the operation must be prepared to be given (`0..slots`).
    pub fn slots(&self) -> usize {
        match self {
            Load::Closed { in_flight, .. } => *in_flight,
            Load::Open { slots, .. } => *slots,
        }
    }
}

/// What one operation reports: success, or the code of its failure; and the time of its steps.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Outcome {
    /// `None` when it succeeded; else a stable code (`MVCC_READ_CONFLICT`, `TIMEOUT`, `NOT_FOUND`, …).
    pub failure: Option<String>,
    /// Milliseconds per named step (e.g. `migrate.endorse`, `confirm.commit`).
    pub steps: BTreeMap<String, f64>,
}

impl Outcome {
    pub fn ok() -> Outcome {
        Outcome::default()
    }

    pub fn failed(code: impl Into<String>) -> Outcome {
        Outcome { failure: Some(code.into()), steps: BTreeMap::new() }
    }

    /// Records a step's time.
    pub fn step(&mut self, name: &str, ms: f64) {
        self.steps.insert(name.to_owned(), ms);
    }
}

/// One operation as the driver saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sample {
    /// Since the round started, when the operation was due (open loop) or started (closed loop).
    pub at_ms: f64,
    /// From due (or start) to end.
    pub latency_ms: f64,
    pub outcome: Outcome,
}

/// Everything a round measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoundResult {
    pub name: String,
    pub load: Load,
    pub elapsed_s: f64,
    pub started: u64,
    pub succeeded: u64,
    pub failed: u64,
    /// Failures by code.
    pub failures: BTreeMap<String, u64>,
    /// Failures that are read conflicts (`MVCC_READ_CONFLICT`, `PHANTOM_READ_CONFLICT`).
    pub conflicts: u64,
    /// Open loop: operations due but not started before the round's time ran out.
    pub not_started: u64,
    /// Operations still running when the drain deadline passed (counted as failed `UNFINISHED`).
    pub unfinished: u64,
    /// Offered rate (open loop), operations per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offered_per_s: Option<f64>,
    /// Succeeded operations per second of the round.
    pub throughput_per_s: f64,
    /// Latency of the succeeded operations, ms.
    pub latency_ms: Summary,
    /// Latency of the succeeded operations of the round's first and second halves (instability
    /// shows as growth).
    pub latency_early_ms: Summary,
    pub latency_late_ms: Summary,
    /// Per-step times of the succeeded operations, ms.
    pub steps_ms: BTreeMap<String, Summary>,
    /// Blocks the channel grew by during the round, and per second.
    pub blocks: u64,
    pub blocks_per_s: f64,
    /// The samples, for CSV and plots.
    #[serde(skip)]
    pub samples: Vec<Sample>,
}

/// How long a round waits for operations still running after its time is up.
pub const DRAIN: Duration = Duration::from_secs(30);

/// Runs one round of `operation` under `load`. `operation(slot, seq)` gets a slot in
/// `0..load.slots()` that no other running operation holds, and the operation's sequence number.
/// With `network`, the channel's height is read before and after (blocks per second).
pub async fn run_round<F, Fut>(name: &str, load: Load, network: Option<&Network>, operation: F) -> RoundResult
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Outcome> + Send + 'static,
{
    let height_before = height(network).await;
    let operation = Arc::new(operation);
    let started = Instant::now();
    let (samples, not_started, unfinished) = match load {
        Load::Closed { in_flight, count, max_duration } => {
            closed(operation, in_flight.max(1), count, max_duration, started).await
        }
        Load::Open { rate, duration, slots } => open(operation, rate, duration, slots.max(1), started).await,
    };
    let elapsed_s = started.elapsed().as_secs_f64();
    let height_after = height(network).await;
    let blocks = match (height_before, height_after) {
        (Some(b), Some(a)) => a.saturating_sub(b),
        _ => 0,
    };
    summarise(name, load, samples, not_started, unfinished, elapsed_s, blocks)
}

async fn height(network: Option<&Network>) -> Option<u64> {
    match network {
        Some(n) => n.info().await.ok().map(|i| i.height),
        None => None,
    }
}

type Samples = (Vec<Sample>, u64, u64);

async fn closed<F, Fut>(operation: Arc<F>, in_flight: usize, count: u64, max: Duration, t0: Instant) -> Samples
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Outcome> + Send + 'static,
{
    let next = Arc::new(AtomicU64::new(0));
    let deadline = t0 + max;
    let mut workers = tokio::task::JoinSet::new();
    for slot in 0..in_flight {
        let operation = operation.clone();
        let next = next.clone();
        workers.spawn(async move {
            let mut mine = Vec::new();
            loop {
                if Instant::now() >= deadline {
                    break;
                }
                let seq = next.fetch_add(1, Ordering::Relaxed);
                if seq >= count {
                    break;
                }
                let start = Instant::now();
                let outcome = operation(slot, seq).await;
                mine.push(Sample { at_ms: ms(start - t0), latency_ms: ms(start.elapsed()), outcome });
            }
            mine
        });
    }
    let (samples, unfinished) = join_all(workers, deadline + DRAIN).await;
    (samples, 0, unfinished)
}

async fn open<F, Fut>(operation: Arc<F>, rate: f64, duration: Duration, slots: usize, t0: Instant) -> Samples
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Outcome> + Send + 'static,
{
    let free = Arc::new(std::sync::Mutex::new((0..slots).collect::<Vec<usize>>()));
    let permits = Arc::new(tokio::sync::Semaphore::new(slots));
    let interval = Duration::from_secs_f64(1.0 / rate.max(0.001));
    let total = (rate * duration.as_secs_f64()).floor().max(1.0) as u64;
    let end = t0 + duration;
    let mut tasks = tokio::task::JoinSet::new();
    let not_started = Arc::new(AtomicU64::new(0));
    for seq in 0..total {
        let due = t0 + interval.mul_f64(seq as f64);
        if due >= end {
            break;
        }
        tokio::time::sleep_until(due.into()).await;
        let (operation, free, permits) = (operation.clone(), free.clone(), permits.clone());
        let late = Arc::clone(&not_started);
        tasks.spawn(async move {
            // Wait for a free slot, but not past the round's end (+ the drain time).
            let permit = match tokio::time::timeout_at((end + DRAIN / 2).into(), permits.acquire_owned()).await {
                Ok(Ok(permit)) => permit,
                _ => {
                    late.fetch_add(1, Ordering::Relaxed);
                    return Vec::new();
                }
            };
            let slot = free.lock().map(|mut f| f.pop()).ok().flatten().unwrap_or(0);
            let service = Instant::now();
            let mut outcome = operation(slot, seq).await;
            outcome.step("queue", ms(service - due));
            if let Ok(mut f) = free.lock() {
                f.push(slot);
            }
            drop(permit);
            vec![Sample { at_ms: ms(due - t0), latency_ms: ms(due.elapsed()), outcome }]
        });
    }
    let (samples, unfinished) = join_all(tasks, end + DRAIN).await;
    let late = not_started.load(Ordering::Relaxed);
    (samples, late, unfinished)
}

async fn join_all(mut tasks: tokio::task::JoinSet<Vec<Sample>>, deadline: Instant) -> (Vec<Sample>, u64) {
    let mut samples = Vec::new();
    loop {
        match tokio::time::timeout_at(deadline.into(), tasks.join_next()).await {
            Ok(Some(Ok(mine))) => samples.extend(mine),
            Ok(Some(Err(_))) => {
                samples.push(Sample { at_ms: 0.0, latency_ms: 0.0, outcome: Outcome::failed("PANICKED") })
            }
            Ok(None) => return (samples, 0),
            Err(_) => {
                let unfinished = tasks.len() as u64;
                tasks.abort_all();
                return (samples, unfinished);
            }
        }
    }
}

fn summarise(
    name: &str,
    load: Load,
    samples: Vec<Sample>,
    not_started: u64,
    unfinished: u64,
    elapsed_s: f64,
    blocks: u64,
) -> RoundResult {
    let mut failures = BTreeMap::new();
    let mut latencies = Vec::new();
    let mut early = Vec::new();
    let mut late = Vec::new();
    let mut steps: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let half = match load {
        Load::Open { duration, .. } => ms(duration) / 2.0,
        Load::Closed { .. } => samples.iter().map(|s| s.at_ms).fold(0.0, f64::max) / 2.0,
    };
    for s in &samples {
        match &s.outcome.failure {
            Some(code) => *failures.entry(code.clone()).or_insert(0) += 1,
            None => {
                latencies.push(s.latency_ms);
                if s.at_ms >= half {
                    late.push(s.latency_ms);
                } else {
                    early.push(s.latency_ms);
                }
                for (step, v) in &s.outcome.steps {
                    steps.entry(step.clone()).or_default().push(*v);
                }
            }
        }
    }
    if unfinished > 0 {
        *failures.entry("UNFINISHED".into()).or_insert(0) += unfinished;
    }
    if not_started > 0 {
        *failures.entry("NOT_STARTED".into()).or_insert(0) += not_started;
    }
    let succeeded = latencies.len() as u64;
    let failed = failures.values().sum();
    let conflicts = failures.iter().filter(|(c, _)| c.contains("READ_CONFLICT")).map(|(_, n)| n).sum();
    let elapsed = elapsed_s.max(1e-9);
    RoundResult {
        name: name.to_owned(),
        load,
        elapsed_s,
        started: samples.len() as u64 + unfinished,
        succeeded,
        failed,
        failures,
        conflicts,
        not_started,
        unfinished,
        offered_per_s: match load {
            Load::Open { rate, .. } => Some(rate),
            Load::Closed { .. } => None,
        },
        throughput_per_s: succeeded as f64 / elapsed,
        latency_ms: Summary::of(&latencies),
        latency_early_ms: Summary::of(&early),
        latency_late_ms: Summary::of(&late),
        steps_ms: steps.into_iter().map(|(k, v)| (k, Summary::of(&v))).collect(),
        blocks,
        blocks_per_s: blocks as f64 / elapsed,
        samples,
    }
}

/// Milliseconds of a duration, fractional.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_closed_round_runs_its_count_on_distinct_slots() {
        let busy = Arc::new(std::sync::Mutex::new(std::collections::HashSet::new()));
        let load = Load::Closed { in_flight: 4, count: 20, max_duration: Duration::from_secs(10) };
        let held = busy.clone();
        let r = run_round("t", load, None, move |slot, seq| {
            let held = held.clone();
            async move {
                assert!(held.lock().expect("lock").insert(slot), "slot {slot} used twice at once");
                tokio::time::sleep(Duration::from_millis(2)).await;
                held.lock().expect("lock").remove(&slot);
                if seq % 5 == 0 { Outcome::failed("MVCC_READ_CONFLICT") } else { Outcome::ok() }
            }
        })
        .await;
        assert_eq!((r.started, r.succeeded, r.failed, r.conflicts), (20, 16, 4, 4));
        assert!(r.latency_ms.min >= 2.0, "{:?}", r.latency_ms);
    }

    #[tokio::test]
    async fn an_open_round_offers_its_rate_and_queues_for_slots() {
        let load = Load::Open { rate: 200.0, duration: Duration::from_millis(250), slots: 1 };
        let r = run_round("t", load, None, |_, _| async {
            tokio::time::sleep(Duration::from_millis(10)).await;
            Outcome::ok()
        })
        .await;
        assert_eq!(r.started, 50);
        assert_eq!(r.succeeded, 50);
        // One slot at 10 ms per operation cannot follow 200/s: the later ones waited.
        assert!(r.latency_ms.max > 100.0, "{:?}", r.latency_ms);
        assert!(r.steps_ms["queue"].max > 90.0);
    }
}
