//! `vmledger bench`: the benchmark suite on a running network (see client/BENCHMARKS.md).
//!
//! `bench run` measures, in this order: sequential latency of `Ping` (Fabric's floor: a no-op write)
//! and of a migration (`Migrate` + `ConfirmMigration`, per step); hashing against `sha256sum`; a
//! whole `migrate run` (hash, Indication, transfer at a capped rate to a destination agent,
//! Confirmation) per image and rate, as subprocesses of this very binary; throughput in closed loops
//! and open loops; and RSS/CPU of every process of the network throughout. It writes
//! `<out>/<tag>.json` and CSV and SVG files beside it. `bench summary` turns every report of a folder
//! into `SUMMARY.md` (and the BASICS plot when several block sizes were measured).
//!
//! Everything it registers is new (ids carry a run tag), each concurrent migration has its own VM
//! and its own pair of hosts, so migrations never conflict by design; any failure is counted by code.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use serde::{Deserialize, Serialize};
use vmledger_client::bench::procfs::{Monitor, Usage, pids_in};
use vmledger_client::bench::{Load, Outcome, RoundResult, Summary, run_round};
use vmledger_client::{Error, RetryPolicy, VmLedger};
use vmledger_contract::model::{Allowed, Regulation, Resources};
use vmledger_contract::msg;

use super::context::Ctx;

mod report;

#[derive(Debug, Subcommand)]
pub(crate) enum BenchCommand {
    /// Run the suite (or parts of it) on the running network and write a report.
    Run(Box<BenchRun>),
    /// Write SUMMARY.md (and the cross-report plots) from every report in a folder.
    Summary {
        /// The results folder.
        #[arg(long, default_value = "results")]
        out: PathBuf,
    },
}

#[derive(Debug, Args)]
pub(crate) struct BenchRun {
    /// A handful of transactions only (5 Ping, 3 migrations, one hash), then check the figures.
    #[arg(long)]
    pub(crate) smoke: bool,
    /// Parts to run: latency, hash, transfer, throughput, basics.
    #[arg(long, value_delimiter = ',', default_value = "latency,hash,transfer,throughput")]
    pub(crate) suite: Vec<Part>,
    /// Results folder.
    #[arg(long, default_value = "results")]
    pub(crate) out: PathBuf,
    /// Name of this report (files `<tag>.json`, `<tag>-*.csv`, `<tag>-*.svg`).
    #[arg(long, default_value = "bench")]
    pub(crate) tag: String,
    /// The source member (operator of the benchmark's VMs) and the destination member.
    #[arg(long, default_value = "org1")]
    pub(crate) source: String,
    #[arg(long, default_value = "org2")]
    pub(crate) destination: String,
    /// Sequential operations per latency round.
    #[arg(long, default_value_t = 40)]
    pub(crate) latency_count: u64,
    /// Closed-loop rounds: operations in flight.
    #[arg(long, value_delimiter = ',', default_value = "1,4,16,64")]
    pub(crate) in_flight: Vec<usize>,
    /// Open-loop rounds: offered migrations per second (also the BASICS rates).
    #[arg(long, value_delimiter = ',', default_value = "5,10,20,40,60,80")]
    pub(crate) rates: Vec<f64>,
    /// Seconds per throughput round (closed or open).
    #[arg(long, default_value_t = 12)]
    pub(crate) round_seconds: u64,
    /// VM images for the transfer part (made by fixtures/make-image).
    #[arg(long = "image", value_name = "FILE")]
    pub(crate) images: Vec<PathBuf>,
    /// Transfer rate caps.
    #[arg(long, value_delimiter = ',', default_value = "124.8Mbit,1Gbit")]
    pub(crate) transfer_rates: Vec<String>,
    /// Repetitions of each transfer (images ≥ 512 MiB at under 200 Mbit/s run once).
    #[arg(long, default_value_t = 3)]
    pub(crate) transfer_reps: u32,
    /// The file for the hashing part.
    #[arg(long, value_name = "FILE")]
    pub(crate) hash_file: Option<PathBuf>,
    #[arg(long, default_value_t = 5)]
    pub(crate) hash_reps: u32,
    /// PID files of the network's processes.
    #[arg(long, default_value = "network/run/pids")]
    pub(crate) pids: PathBuf,
    /// The network's settings file (`MAX_MESSAGE_COUNT`, `BATCH_TIMEOUT`), recorded in the report.
    #[arg(long, default_value = "network/run/net.env")]
    pub(crate) net_env: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) enum Part {
    Latency,
    Hash,
    Transfer,
    Throughput,
    Basics,
}

pub(crate) async fn run(ctx: &Ctx, command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Run(args) => run_suite(ctx, *args).await,
        BenchCommand::Summary { out } => report::summary(ctx, &out),
    }
}

// ---- the report ------------------------------------------------------------------------------

/// Everything one `bench run` measured.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SuiteReport {
    pub(crate) tag: String,
    pub(crate) smoke: bool,
    pub(crate) started_at: String,
    pub(crate) machine: Machine,
    /// The network's settings (net.env).
    pub(crate) network: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) latency: Option<LatencyPart>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) hash: Vec<HashRun>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) transfer: Vec<TransferRun>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) closed: Vec<RoundResult>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) closed_ping: Vec<RoundResult>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) open: Vec<RoundResult>,
    /// RSS and CPU per part.
    pub(crate) resources: BTreeMap<String, Usage>,
    /// Checks of the figures that failed (empty when every number is sane).
    pub(crate) problems: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Machine {
    pub(crate) cpus: usize,
    pub(crate) cpu_model: String,
    pub(crate) mem_total_gib: f64,
    pub(crate) kernel: String,
    pub(crate) load_average: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LatencyPart {
    pub(crate) ping: RoundResult,
    pub(crate) migration: RoundResult,
    /// Migration (both transactions) p50 / Ping p50, and the same at p95.
    pub(crate) ratio_p50: f64,
    pub(crate) ratio_p95: f64,
    /// One migration transaction (`Migrate`, client side) p50 / Ping p50.
    pub(crate) migrate_tx_ratio_p50: f64,
    pub(crate) confirm_tx_ratio_p50: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct HashRun {
    pub(crate) tool: String,
    pub(crate) file: String,
    pub(crate) bytes: u64,
    pub(crate) megabytes_per_second: Summary,
    pub(crate) seconds: Summary,
    pub(crate) hash: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TransferRun {
    pub(crate) image: String,
    pub(crate) image_bytes: u64,
    pub(crate) rate_limit: String,
    pub(crate) rate_limit_mbit: f64,
    pub(crate) runs: u32,
    pub(crate) failures: BTreeMap<String, u64>,
    pub(crate) total_ms: Summary,
    pub(crate) transfer_ms: Summary,
    pub(crate) hash_ms: Summary,
    pub(crate) ledger_critical_ms: Summary,
    pub(crate) ledger_ms: Summary,
    pub(crate) indicate_client_ms: Summary,
    pub(crate) confirm_client_ms: Summary,
    pub(crate) ledger_share_percent: Summary,
    /// The `migrate run --json` reports.
    pub(crate) reports: Vec<serde_json::Value>,
}

// ---- setup -----------------------------------------------------------------------------------

const BENCH_HASH: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

/// The benchmark's own clouds, hosts and VMs; slot `i` is VM `i` moving between hosts `a_i` and `b_i`.
struct Fleet {
    source: VmLedger,
    destination: VmLedger,
    tag: String,
    /// Per slot: is the VM on its `b` host now?
    on_b: Arc<Vec<AtomicBool>>,
}

impl Fleet {
    fn host(&self, side: char, slot: usize) -> String {
        format!("{}-{side}{slot}", self.tag)
    }

    fn vm(&self, slot: usize) -> String {
        format!("{}-vm{slot}", self.tag)
    }
}

fn ledger(ctx: &Ctx, member: &str, identity: &str) -> anyhow::Result<VmLedger> {
    let profile = ctx.profile_of(Some(member), identity, None, None)?;
    // No retries: conflicts and failures are counted, not hidden.
    Ok(profile.ledger_with(|b| b.retry(RetryPolicy::none()))?)
}

/// Registers two clouds, `slots` pairs of hosts and `slots` VMs (setup; not measured).
async fn fleet(ctx: &Ctx, args: &BenchRun, slots: usize) -> anyhow::Result<Fleet> {
    let tag = format!("bench-{}", chrono::Utc::now().format("%m%d%H%M%S"));
    let admin_a = ledger(ctx, &args.source, "admin")?;
    let admin_b = ledger(ctx, &args.destination, "admin")?;
    let cloud = |id: &str| msg::RegisterCloud { id: id.to_owned(), name: format!("benchmark {id}"), prices: None };
    let (cloud_a, cloud_b) = (format!("{tag}-a"), format!("{tag}-b"));
    admin_a.register_cloud(&cloud(&cloud_a)).await.context("registering the benchmark's source cloud")?;
    admin_b.register_cloud(&cloud(&cloud_b)).await.context("registering the benchmark's destination cloud")?;
    let capacity = Resources { cpu_cores: 1024, memory_mib: 1 << 20, network_mbps: 100_000, io_mbps: 100_000 };
    let requirements = Resources { cpu_cores: 1, memory_mib: 512, network_mbps: 10, io_mbps: 10 };
    let hosts: Vec<(VmLedger, msg::RegisterHost)> = (0..slots)
        .flat_map(|i| {
            [
                (
                    admin_a.clone(),
                    msg::RegisterHost {
                        id: format!("{tag}-a{i}"),
                        cloud_id: cloud_a.clone(),
                        country: "JP".into(),
                        organizations: vec!["BenchCo".into()],
                        capacity,
                    },
                ),
                (
                    admin_b.clone(),
                    msg::RegisterHost {
                        id: format!("{tag}-b{i}"),
                        cloud_id: cloud_b.clone(),
                        country: "GB".into(),
                        organizations: vec!["BenchCo".into()],
                        capacity,
                    },
                ),
            ]
        })
        .collect();
    setup_all(hosts, |l, h| async move { l.register_host(&h).await.map(drop) }).await.context("registering hosts")?;
    let vms: Vec<(VmLedger, msg::RegisterVm)> = (0..slots)
        .map(|i| {
            (
                admin_a.clone(),
                msg::RegisterVm {
                    id: format!("{tag}-vm{i}"),
                    cloud_id: cloud_a.clone(),
                    host_id: format!("{tag}-a{i}"),
                    requirements,
                    image_hash: BENCH_HASH.into(),
                    regulation: Regulation { countries: Allowed::All, organizations: Allowed::All },
                },
            )
        })
        .collect();
    setup_all(vms, |l, v| async move { l.register_vm(&v).await.map(drop) }).await.context("registering VMs")?;
    Ok(Fleet {
        source: ledger(ctx, &args.source, "user")?,
        destination: ledger(ctx, &args.destination, "user")?,
        tag,
        on_b: Arc::new((0..slots).map(|_| AtomicBool::new(false)).collect()),
    })
}

/// Runs setup transactions 16 at a time, each retried a few times on a read conflict.
async fn setup_all<T, F, Fut>(items: Vec<(VmLedger, T)>, call: F) -> anyhow::Result<()>
where
    T: Clone + Send + 'static,
    F: Fn(VmLedger, T) -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = vmledger_client::Result<()>> + Send,
{
    let mut pending = items.into_iter();
    let mut running = tokio::task::JoinSet::new();
    loop {
        while running.len() < 16 {
            let Some((ledger, item)) = pending.next() else { break };
            let call = call.clone();
            running.spawn(async move {
                let mut attempt = 0;
                loop {
                    attempt += 1;
                    match call(ledger.clone(), item.clone()).await {
                        Err(e) if attempt < 5 && e.is_safe_to_retry() => {
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                        other => return other,
                    }
                }
            });
        }
        match running.join_next().await {
            Some(joined) => joined.context("a setup task stopped")??,
            None => return Ok(()),
        }
    }
}

// ---- operations --------------------------------------------------------------------------------

fn code(e: &Error) -> String {
    e.contract_error().map(|c| c.code().to_owned()).unwrap_or_else(|| e.code().to_owned())
}

fn steps(outcome: &mut Outcome, prefix: &str, c: &vmledger_client::Timings, client_ms: u64) {
    outcome.step(&format!("{prefix}.endorse"), c.endorse_ms as f64);
    outcome.step(&format!("{prefix}.submit"), c.submit_ms as f64);
    outcome.step(&format!("{prefix}.commit"), c.commit_ms as f64);
    outcome.step(&format!("{prefix}.proxy"), c.total_ms as f64);
    outcome.step(&format!("{prefix}.client"), client_ms as f64);
}

async fn ping(ledger: VmLedger) -> Outcome {
    match ledger.ping().await {
        Ok(c) => {
            let mut o = Outcome::ok();
            steps(&mut o, "ping", &c.timings, c.client_ms);
            o
        }
        Err(e) => Outcome::failed(code(&e)),
    }
}

/// One migration of slot's VM to its other host: `Migrate` by the operator, `ConfirmMigration` by
/// the destination's member (retried while the destination's peer has not yet seen the Indication).
async fn migration(fleet: Arc<Fleet>, slot: usize) -> Outcome {
    let to_b = !fleet.on_b[slot].load(Ordering::Relaxed);
    let target = fleet.host(if to_b { 'b' } else { 'a' }, slot);
    let input =
        msg::Migrate { vm_id: fleet.vm(slot), destination_host_id: target, image_hash: Some(BENCH_HASH.into()) };
    let mut outcome = Outcome::ok();
    // The previous Confirmation may be committed on the confirming member's peer and not yet on the
    // other: the endorsement then still sees the VM migrating (CONFLICT). Wait for the peers to agree,
    // as a real operator would (bounded).
    let started = Instant::now();
    let mut retries = 0u32;
    let indicated = loop {
        match fleet.source.migrate(&input).await {
            Err(e) if retries < 100 && e.contract_error().is_some_and(|c| c.code() == "CONFLICT") => {
                retries += 1;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            other => break other,
        }
    };
    let indicated = match indicated {
        Ok(c) => c,
        Err(e) => {
            resync(&fleet, slot).await;
            return Outcome::failed(format!("migrate:{}", code(&e)));
        }
    };
    steps(&mut outcome, "migrate", &indicated.timings, indicated.client_ms);
    outcome.step(
        "migrate.wait",
        vmledger_client::gateway::millis(started.elapsed()).saturating_sub(indicated.client_ms) as f64,
    );
    outcome.step("migrate.retries", f64::from(retries));
    let confirmer = if to_b { &fleet.destination } else { &fleet.source };
    let confirm = msg::ConfirmMigration { migration_id: indicated.tx_id.clone(), observed_hash: BENCH_HASH.into() };
    let started = Instant::now();
    let mut retries = 0u32;
    let confirmed = loop {
        match confirmer.confirm_migration(&confirm).await {
            Err(e) if retries < 100 && e.contract_error().is_some_and(|c| c.code() == "NOT_FOUND") => {
                retries += 1;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            other => break other,
        }
    };
    match confirmed {
        Ok(c) => {
            steps(&mut outcome, "confirm", &c.timings, c.client_ms);
            outcome.step(
                "confirm.wait",
                vmledger_client::gateway::millis(started.elapsed()).saturating_sub(c.client_ms) as f64,
            );
            outcome.step("confirm.retries", f64::from(retries));
            fleet.on_b[slot].store(to_b, Ordering::Relaxed);
            outcome
        }
        Err(e) => {
            resync(&fleet, slot).await;
            Outcome::failed(format!("confirm:{}", code(&e)))
        }
    }
}

/// After a failure: where is the slot's VM, and is a migration of it still open? Cancel it.
async fn resync(fleet: &Fleet, slot: usize) {
    for _ in 0..20 {
        let Ok(vm) = fleet.source.get_vm(&fleet.vm(slot)).await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        if let Some(id) = &vm.pending_migration_id {
            let _ = fleet
                .source
                .cancel_migration(&msg::CancelMigration { migration_id: id.clone(), reason: Some("benchmark".into()) })
                .await;
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        fleet.on_b[slot].store(vm.host_id == fleet.host('b', slot), Ordering::Relaxed);
        return;
    }
}

// ---- the suite ---------------------------------------------------------------------------------

async fn run_suite(ctx: &Ctx, mut args: BenchRun) -> anyhow::Result<()> {
    if args.smoke {
        args.latency_count = args.latency_count.min(3);
        args.suite.retain(|p| matches!(p, Part::Latency | Part::Hash));
        args.hash_reps = args.hash_reps.min(2);
    }
    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    let mut r = SuiteReport {
        tag: args.tag.clone(),
        smoke: args.smoke,
        started_at: chrono::Utc::now().to_rfc3339(),
        machine: machine(),
        network: net_env(&args.net_env),
        ..SuiteReport::default()
    };
    let processes = || {
        let mut p = pids_in(&args.pids);
        p.push(("vmledger-bench".into(), std::process::id()));
        p
    };
    let slots = if args.suite.iter().any(|p| matches!(p, Part::Throughput | Part::Basics)) {
        args.in_flight.iter().copied().max().unwrap_or(1).max(64)
    } else {
        1
    };
    let needs_fleet = args.suite.iter().any(|p| matches!(p, Part::Latency | Part::Throughput | Part::Basics));
    let fleet = if needs_fleet {
        ctx.out.note(&format!("bench: registering {slots} VM(s) and {} host(s)", 2 * slots));
        Some(Arc::new(fleet(ctx, &args, slots).await?))
    } else {
        None
    };
    let channel = fleet.as_ref().map(|f| f.source.contract().network().clone());

    if let (true, Some(fleet)) = (args.suite.contains(&Part::Latency), &fleet) {
        let monitor = Monitor::start(processes(), Duration::from_millis(500));
        let pings = if args.smoke { 5 } else { args.latency_count };
        ctx.out.note(&format!("bench: latency, {pings} Ping then {} migrations, one at a time", args.latency_count));
        let (ledger, f) = (fleet.source.clone(), fleet.clone());
        let sequential = |count| Load::Closed { in_flight: 1, count, max_duration: Duration::from_secs(300) };
        let ping_round = run_round("ping", sequential(pings), channel.as_ref(), move |_, _| ping(ledger.clone())).await;
        let migration_round = run_round("migration", sequential(args.latency_count), channel.as_ref(), move |s, _| {
            migration(f.clone(), s)
        })
        .await;
        let p = |r: &RoundResult, s: &str| r.steps_ms.get(s).map(|x| x.p50).unwrap_or(0.0);
        let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
        r.latency = Some(LatencyPart {
            ratio_p50: ratio(migration_round.latency_ms.p50, ping_round.latency_ms.p50),
            ratio_p95: ratio(migration_round.latency_ms.p95, ping_round.latency_ms.p95),
            migrate_tx_ratio_p50: ratio(p(&migration_round, "migrate.client"), p(&ping_round, "ping.client")),
            confirm_tx_ratio_p50: ratio(p(&migration_round, "confirm.client"), p(&ping_round, "ping.client")),
            ping: ping_round,
            migration: migration_round,
        });
        r.resources.insert("latency".into(), monitor.stop());
    }

    if args.suite.contains(&Part::Hash) {
        let monitor = Monitor::start(processes(), Duration::from_millis(500));
        let file = args.hash_file.clone().context("the hash part needs --hash-file FILE")?;
        ctx.out.note(&format!("bench: hashing {} ({} times each)", file.display(), args.hash_reps));
        r.hash = hashing(&file, args.hash_reps).await?;
        r.resources.insert("hash".into(), monitor.stop());
    }

    if args.suite.contains(&Part::Transfer) && !args.images.is_empty() {
        let mut p = processes();
        let agent = Agent::start(ctx, &args)?;
        p.push(("vmledger-agent".into(), agent.pid()));
        let monitor = Monitor::start(p, Duration::from_millis(500));
        r.transfer = transfers(ctx, &args, &agent).await?;
        r.resources.insert("transfer".into(), monitor.stop());
    }

    if let (true, Some(fleet)) = (args.suite.contains(&Part::Throughput), &fleet) {
        let monitor = Monitor::start(processes(), Duration::from_millis(500));
        let seconds = Duration::from_secs(args.round_seconds);
        for &n in &args.in_flight {
            ctx.out.note(&format!("bench: closed loop, {n} Ping in flight for {seconds:?}"));
            let ledger = fleet.source.clone();
            let load = Load::Closed { in_flight: n, count: 100_000, max_duration: seconds };
            r.closed_ping
                .push(run_round(&format!("ping x{n}"), load, channel.as_ref(), move |_, _| ping(ledger.clone())).await);
            ctx.out.note(&format!("bench: closed loop, {n} migrations in flight for {seconds:?}"));
            let f = fleet.clone();
            r.closed.push(
                run_round(&format!("migration x{n}"), load, channel.as_ref(), move |s, _| migration(f.clone(), s))
                    .await,
            );
        }
        r.resources.insert("throughput".into(), monitor.stop());
    }

    if let (true, Some(fleet)) =
        (args.suite.iter().any(|p| matches!(p, Part::Throughput | Part::Basics)) && !args.rates.is_empty(), &fleet)
    {
        let monitor = Monitor::start(processes(), Duration::from_millis(500));
        let duration = Duration::from_secs(args.round_seconds);
        for &rate in &args.rates {
            ctx.out.note(&format!("bench: open loop, {rate} migrations/s offered for {duration:?}"));
            let f = fleet.clone();
            let load = Load::Open { rate, duration, slots };
            let round =
                run_round(&format!("open {rate}/s"), load, channel.as_ref(), move |s, _| migration(f.clone(), s)).await;
            let unstable = report::unstable(&round);
            r.open.push(round);
            if unstable {
                ctx.out.note("bench: unstable at this rate (delay grows or the offered rate is not met); stopping");
                break;
            }
        }
        r.resources.insert("open".into(), monitor.stop());
    }

    r.problems = report::check(&r);
    report::write(&args.out, &r)?;
    ctx.out.show(&report::headline(&r), || report::human(&r))?;
    if !r.problems.is_empty() {
        bail!("the benchmark's figures are not sane: {}", r.problems.join("; "));
    }
    Ok(())
}

fn machine() -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    Machine {
        cpus: std::thread::available_parallelism().map(usize::from).unwrap_or(1),
        cpu_model: cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name").map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned()))
            .unwrap_or_default(),
        mem_total_gib: meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
            .map(|kib| kib / 1024.0 / 1024.0)
            .unwrap_or(0.0),
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim().to_owned(),
        load_average: vmledger_client::bench::procfs::load_average(),
    }
}

fn net_env(path: &Path) -> BTreeMap<String, String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once('=').map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned())))
        .collect()
}

// ---- hashing -----------------------------------------------------------------------------------

async fn hashing(file: &Path, reps: u32) -> anyhow::Result<Vec<HashRun>> {
    let bytes = std::fs::metadata(file).with_context(|| format!("reading {}", file.display()))?.len();
    // Warm the page cache so both tools read from memory.
    let owned = file.to_owned();
    tokio::task::spawn_blocking(move || vmledger_client::image::hash_file(&owned, |_| {})).await??;
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    let (mut our_hash, mut their_hash) = (String::new(), String::new());
    for _ in 0..reps.max(1) {
        let owned = file.to_owned();
        let started = Instant::now();
        let hashed = tokio::task::spawn_blocking(move || vmledger_client::image::hash_file(&owned, |_| {})).await??;
        ours.push(started.elapsed().as_secs_f64());
        our_hash = hashed.hash;
        let started = Instant::now();
        let output = Command::new("sha256sum").arg(file).output().context("running sha256sum")?;
        theirs.push(started.elapsed().as_secs_f64());
        if !output.status.success() {
            bail!("sha256sum failed on {}", file.display());
        }
        their_hash = String::from_utf8_lossy(&output.stdout).split_whitespace().next().unwrap_or_default().to_owned();
    }
    if our_hash != their_hash {
        bail!("vmledger and sha256sum disagree on {}: {our_hash} vs {their_hash}", file.display());
    }
    let run = |tool: &str, secs: &[f64], hash: String| HashRun {
        tool: tool.into(),
        file: file.display().to_string(),
        bytes,
        megabytes_per_second: Summary::of(&secs.iter().map(|s| bytes as f64 / 1e6 / s).collect::<Vec<_>>()),
        seconds: Summary::of(secs),
        hash,
    };
    Ok(vec![run("vmledger", &ours, our_hash), run("sha256sum", &theirs, their_hash)])
}

// ---- whole migrations with transfer -------------------------------------------------------------

/// A destination agent (`vmledger agent`, this binary) acting for the destination member.
struct Agent {
    child: std::process::Child,
    url: String,
    dir: PathBuf,
}

impl Agent {
    fn start(ctx: &Ctx, args: &BenchRun) -> anyhow::Result<Agent> {
        let dir = std::env::temp_dir().join(format!("vmledger-bench-agent-{}", std::process::id()));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut command = Command::new(std::env::current_exe()?);
        command
            .args(connection_args(ctx, &args.destination, "user"))
            .env_remove("VMLEDGER_PROXY_URL")
            .env_remove("VMLEDGER_API_KEY")
            .env_remove("VMLEDGER_CONFIG")
            .args(["--json", "-q", "agent", "--listen", "127.0.0.1:0", "--dir"])
            .arg(&dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = command.spawn().context("starting the destination agent")?;
        let stdout = child.stdout.take().context("the agent's stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).context("reading the agent's first line")?;
        let url = serde_json::from_str::<serde_json::Value>(&line)
            .ok()
            .and_then(|v| v.get("url").and_then(|u| u.as_str()).map(str::to_owned));
        match url {
            Some(url) => Ok(Agent { child, url, dir }),
            None => {
                let _ = child.kill();
                bail!("the destination agent did not say where it listens: {line}")
            }
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The connection flags that make a subprocess act as `identity` of `member` on the same network.
fn connection_args(ctx: &Ctx, member: &str, identity: &str) -> Vec<std::ffi::OsString> {
    let mut out = Vec::new();
    if let Some(file) = &ctx.connection.network_file {
        out.push("--network-file".into());
        out.push(file.clone().into_os_string());
    }
    for a in ["--member", member, "--as", identity] {
        out.push(a.into());
    }
    out
}

async fn transfers(ctx: &Ctx, args: &BenchRun, agent: &Agent) -> anyhow::Result<Vec<TransferRun>> {
    // One VM per run, on its own source host, all moving to one destination host.
    let admin_a = ledger(ctx, &args.source, "admin")?;
    let admin_b = ledger(ctx, &args.destination, "admin")?;
    let tag = format!("benchx-{}", chrono::Utc::now().format("%m%d%H%M%S"));
    let cloud = |id: &str| msg::RegisterCloud { id: id.to_owned(), name: format!("benchmark {id}"), prices: None };
    admin_a.register_cloud(&cloud(&format!("{tag}-a"))).await?;
    admin_b.register_cloud(&cloud(&format!("{tag}-b"))).await?;
    let capacity = Resources { cpu_cores: 1024, memory_mib: 1 << 20, network_mbps: 100_000, io_mbps: 100_000 };
    for (l, side, country) in [(&admin_a, 'a', "JP"), (&admin_b, 'b', "GB")] {
        l.register_host(&msg::RegisterHost {
            id: format!("{tag}-{side}"),
            cloud_id: format!("{tag}-{side}"),
            country: country.into(),
            organizations: vec!["BenchCo".into()],
            capacity,
        })
        .await?;
    }
    let mut out = Vec::new();
    let mut n = 0;
    for image in &args.images {
        let bytes = std::fs::metadata(image).with_context(|| format!("reading {}", image.display()))?.len();
        let hash = tokio::task::spawn_blocking({
            let image = image.clone();
            move || vmledger_client::image::hash_file(&image, |_| {})
        })
        .await??
        .hash;
        for rate in &args.transfer_rates {
            let parsed: vmledger_client::image::Rate = rate.parse()?;
            let slow = bytes >= 512 << 20 && parsed.megabits_per_second() < 200.0;
            let reps = if slow { 1 } else { args.transfer_reps.max(1) };
            let mut reports = Vec::new();
            let mut failures = BTreeMap::new();
            for _ in 0..reps {
                n += 1;
                let vm = format!("{tag}-vm{n}");
                admin_a
                    .register_vm(&msg::RegisterVm {
                        id: vm.clone(),
                        cloud_id: format!("{tag}-a"),
                        host_id: format!("{tag}-a"),
                        requirements: Resources { cpu_cores: 1, memory_mib: 512, network_mbps: 10, io_mbps: 10 },
                        image_hash: hash.clone(),
                        regulation: Regulation { countries: Allowed::All, organizations: Allowed::All },
                    })
                    .await?;
                ctx.out.note(&format!("bench: migrate run of {} ({bytes} bytes) at {rate}", image.display()));
                match migrate_run(ctx, args, agent, &vm, &format!("{tag}-b"), image, rate).await {
                    Ok(report) => reports.push(report),
                    Err(e) => {
                        ctx.out.note(&format!("bench: migrate run failed: {e:#}"));
                        *failures.entry(format!("{e:#}").chars().take(120).collect()).or_insert(0) += 1;
                    }
                }
                clear(&agent.dir);
            }
            let f = |path: &[&str]| -> Summary {
                Summary::of(
                    &reports
                        .iter()
                        .filter_map(|r| path.iter().try_fold(r, |v, k| v.get(k)).and_then(serde_json::Value::as_f64))
                        .collect::<Vec<_>>(),
                )
            };
            out.push(TransferRun {
                image: image.display().to_string(),
                image_bytes: bytes,
                rate_limit: rate.clone(),
                rate_limit_mbit: parsed.megabits_per_second(),
                runs: reps,
                failures,
                total_ms: f(&["totalMs"]),
                transfer_ms: f(&["transfer", "elapsedMs"]),
                hash_ms: f(&["hashMs"]),
                ledger_critical_ms: f(&["ledgerCriticalMs"]),
                ledger_ms: f(&["ledgerMs"]),
                indicate_client_ms: f(&["indicate", "clientMs"]),
                confirm_client_ms: f(&["confirm", "clientMs"]),
                ledger_share_percent: f(&["ledgerSharePercent"]),
                reports,
            });
        }
    }
    Ok(out)
}

/// `vmledger migrate run --json … --to-agent URL --rate-limit R`, as a subprocess: the CLI's own
/// code path, timed by itself.
async fn migrate_run(
    ctx: &Ctx,
    args: &BenchRun,
    agent: &Agent,
    vm: &str,
    to_host: &str,
    image: &Path,
    rate: &str,
) -> anyhow::Result<serde_json::Value> {
    let mut command = tokio::process::Command::new(std::env::current_exe()?);
    command
        .args(connection_args(ctx, &args.source, "admin"))
        .env_remove("VMLEDGER_PROXY_URL")
        .env_remove("VMLEDGER_API_KEY")
        .env_remove("VMLEDGER_CONFIG")
        .args(["--json", "-q", "migrate", "run", "--vm", vm, "--to-host", to_host, "--image"])
        .arg(image)
        .args(["--to-agent", &agent.url, "--rate-limit", rate])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(600), command.output())
        .await
        .context("migrate run took over 10 minutes")??;
    if !output.status.success() {
        bail!(
            "migrate run exited with {}: {}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout).trim(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    serde_json::from_slice(&output.stdout).context("reading migrate run's report")
}

/// Removes what the agent kept (received images), so that big images do not pile up.
fn clear(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}
