//! The suite: what `vmledger bench run` measures on a running network (see client/BENCHMARKS.md).
//!
//! In this order: sequential latency of `Ping` (Fabric's floor: a no-op write) and of a migration
//! (`Migrate` + `ConfirmMigration`, per step); hashing against `sha256sum`; a whole `migrate run`
//! (hash, Indication, transfer at a capped rate to a destination agent, Confirmation) per image and
//! rate; throughput in closed loops and open loops; and RSS/CPU of every process of the network
//! throughout. [`crate::report`] writes `<out>/<tag>.json` and CSV and SVG files beside it.
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

use serde::{Deserialize, Serialize};
use vmledger_client::workflow::migrate::{Destination, MigrateRun, RunReport};
use vmledger_client::{Error, Members, Profile, RetryPolicy, VmLedger};
use vmledger_contract::model::{Allowed, Regulation, Resources};
use vmledger_contract::msg;

use crate::error::{BenchError, Result};
use crate::procfs::{Monitor, pids_in};
use crate::report;
use crate::results::{HashRun, LatencyPart, Machine, SuiteReport, TransferRun};
use crate::round::{Load, NO_IMAGE_HASH, Outcome, RoundResult, no_image_key, run_round};
use crate::stats::Summary;

/// What to run, and against which network. `vmledger bench run` fills it from its flags.
#[derive(Debug, Clone)]
pub struct Options {
    /// A handful of transactions only (5 Ping, 3 migrations, one hash), then check the figures.
    pub smoke: bool,
    /// Parts to run.
    pub parts: Vec<Part>,
    /// Results folder.
    pub out: PathBuf,
    /// Name of this report (files `<tag>.json`, `<tag>-*.csv`, `<tag>-*.svg`).
    pub tag: String,
    /// The network's members.json.
    pub network_file: PathBuf,
    /// The source member (operator of the benchmark's VMs) and the destination member.
    pub source: String,
    pub destination: String,
    /// Sequential operations per latency round.
    pub latency_count: u64,
    /// Closed-loop rounds: operations in flight.
    pub in_flight: Vec<usize>,
    /// Open-loop rounds: offered migrations per second (also the BASICS rates).
    pub rates: Vec<f64>,
    /// The chains part: offered local and inter-cloud migrations per second.
    pub local_rates: Vec<f64>,
    pub inter_rates: Vec<f64>,
    /// Seconds per throughput round (closed or open).
    pub round_seconds: u64,
    /// VM images for the transfer part.
    pub images: Vec<PathBuf>,
    /// Transfer rate caps (`124.8Mbit`, `1Gbit`).
    pub transfer_rates: Vec<String>,
    /// Repetitions of each transfer (images of 512 MiB or more at under 200 Mbit/s run once).
    pub transfer_reps: u32,
    /// The file for the hashing part.
    pub hash_file: Option<PathBuf>,
    pub hash_reps: u32,
    /// PID files of the network's processes.
    pub pids: PathBuf,
    /// The network's settings file (`MAX_MESSAGE_COUNT`, `BATCH_TIMEOUT`), recorded in the report.
    pub net_env: PathBuf,
    /// The `vmledger` binary, started as the destination agent of the transfer part.
    pub vmledger: PathBuf,
}

/// The parts of the suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Part {
    Latency,
    Hash,
    Transfer,
    Throughput,
    Basics,
    /// BASICS' delay on the local chains and the federation (local and inter rates).
    Chains,
}

// ---- setup -----------------------------------------------------------------------------------

/// The benchmark's own clouds, hosts and VMs; slot `i` is VM `i` moving between hosts `a_i` and `b_i`.
struct Fleet {
    source: VmLedger,
    destination: VmLedger,
    tag: String,
    /// The namespaces of the source's and the destination's ids (`org1`, `org2`).
    namespaces: (String, String),
    /// Per slot: is the VM on its `b` host now?
    on_b: Arc<Vec<AtomicBool>>,
}

impl Fleet {
    fn host(&self, side: char, slot: usize) -> String {
        let namespace = if side == 'a' { &self.namespaces.0 } else { &self.namespaces.1 };
        format!("{namespace}.{}-{side}{slot}", self.tag)
    }

    fn vm(&self, slot: usize) -> String {
        format!("{}-vm{slot}", self.tag)
    }
}

fn ledger(members: &Members, member: &str, identity: &str) -> Result<VmLedger> {
    let profile = Profile::from_members(members, member, identity)?;
    // No retries: conflicts and failures are counted, not hidden.
    profile.ledger_with(|b| b.retry(RetryPolicy::none())).map_err(|e| BenchError::ledger("connecting", e))
}

/// Registers two clouds, `slots` pairs of hosts and `slots` VMs (setup; not measured).
async fn fleet(members: &Members, args: &Options, slots: usize) -> Result<Fleet> {
    let tag = format!("bench-{}", chrono::Utc::now().format("%m%d%H%M%S"));
    let manager_a = ledger(members, &args.source, "manager")?;
    let manager_b = ledger(members, &args.destination, "manager")?;
    let cloud = |id: &str| msg::RegisterCloud { id: id.to_owned(), name: format!("benchmark {id}"), prices: None };
    let namespaces = (members.member(&args.source)?.namespace(), members.member(&args.destination)?.namespace());
    let (cloud_a, cloud_b) = (format!("{}.{tag}-a", namespaces.0), format!("{}.{tag}-b", namespaces.1));
    manager_a
        .register_cloud(&cloud(&cloud_a))
        .await
        .map_err(|e| BenchError::ledger("registering the benchmark's source cloud", e))?;
    manager_b
        .register_cloud(&cloud(&cloud_b))
        .await
        .map_err(|e| BenchError::ledger("registering the benchmark's destination cloud", e))?;
    let capacity = Resources { cpu_cores: 1024, memory_mib: 1 << 20, network_mbps: 100_000, io_mbps: 100_000 };
    let requirements = Resources { cpu_cores: 1, memory_mib: 512, network_mbps: 10, io_mbps: 10 };
    let hosts: Vec<(VmLedger, msg::RegisterHost)> = (0..slots)
        .flat_map(|i| {
            [
                (
                    manager_a.clone(),
                    msg::RegisterHost {
                        id: format!("{}.{tag}-a{i}", namespaces.0),
                        cloud_id: cloud_a.clone(),
                        country: "JP".into(),
                        organizations: vec!["BenchCo".into()],
                        capacity,
                    },
                ),
                (
                    manager_b.clone(),
                    msg::RegisterHost {
                        id: format!("{}.{tag}-b{i}", namespaces.1),
                        cloud_id: cloud_b.clone(),
                        country: "GB".into(),
                        organizations: vec!["BenchCo".into()],
                        capacity,
                    },
                ),
            ]
        })
        .collect();
    setup_all(hosts, |l, h| async move { l.register_host(&h).await.map(drop) })
        .await
        .map_err(|e| BenchError::ledger("registering hosts", e))?;
    let vms: Vec<(VmLedger, msg::RegisterVm)> = (0..slots)
        .map(|i| {
            (
                manager_a.clone(),
                msg::RegisterVm {
                    id: format!("{tag}-vm{i}"),
                    cloud_id: cloud_a.clone(),
                    host_id: format!("{}.{tag}-a{i}", namespaces.0),
                    requirements,
                    image_hash: NO_IMAGE_HASH.into(),
                    regulation: Regulation { countries: Allowed::All, organizations: Allowed::All },
                },
            )
        })
        .collect();
    setup_all(vms, |l, v| async move { l.register_vm(&v).await.map(drop) })
        .await
        .map_err(|e| BenchError::ledger("registering VMs", e))?;
    Ok(Fleet {
        source: ledger(members, &args.source, "operator")?,
        destination: ledger(members, &args.destination, "operator")?,
        tag,
        namespaces,
        on_b: Arc::new((0..slots).map(|_| AtomicBool::new(false)).collect()),
    })
}

/// Runs setup transactions 16 at a time, each retried a few times on a read conflict.
async fn setup_all<T, F, Fut>(items: Vec<(VmLedger, T)>, call: F) -> vmledger_client::Result<()>
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
            Some(Ok(done)) => done?,
            Some(Err(e)) => {
                return Err(Error::Protocol {
                    step: vmledger_client::Step::Transaction,
                    reason: format!("a setup task stopped: {e}"),
                    tx_id: None,
                });
            }
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
    // No image travels in this round: a fixed key and digest stand for the transfer's.
    let key = no_image_key();
    let input = msg::Migrate {
        vm_id: fleet.vm(slot),
        destination_host_id: target,
        image_hash: Some(NO_IMAGE_HASH.into()),
        keyed_digest: Some(NO_IMAGE_HASH.into()),
        transfer_key_hash: Some(key.hash()),
        ..msg::Migrate::default()
    };
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
    let confirm = msg::ConfirmMigration {
        migration_id: indicated.tx_id.clone(),
        observed_hash: NO_IMAGE_HASH.into(),
        transfer_key: key.to_hex(),
        keyed_digest: NO_IMAGE_HASH.into(),
    };
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
                .cancel_migration(&msg::CloseMigration { migration_id: id.clone(), reason: Some("benchmark".into()) })
                .await;
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        fleet.on_b[slot].store(vm.host_id == fleet.host('b', slot), Ordering::Relaxed);
        return;
    }
}

// ---- the suite ---------------------------------------------------------------------------------

/// Runs the suite, writes its report into `options.out` (see [`report::write`]) and returns it.
/// `note` receives one line per stage (progress, for stderr).
///
/// # Errors
/// [`BenchError::Members`] when the network file is unusable; [`BenchError::Ledger`] when setting
/// up the benchmark's clouds, hosts and VMs fails; [`BenchError::Io`] and [`BenchError::Tool`]
/// for files and external tools; [`BenchError::NotSane`] when the figures fail their checks (the
/// report is written all the same).
pub async fn run(options: &Options, note: &(dyn Fn(&str) + Sync)) -> Result<SuiteReport> {
    let mut args = options.clone();
    if args.smoke {
        args.latency_count = args.latency_count.min(3);
        args.parts.retain(|p| matches!(p, Part::Latency | Part::Hash));
        args.hash_reps = args.hash_reps.min(2);
    }
    let members = Members::load(&args.network_file)?;
    std::fs::create_dir_all(&args.out).map_err(|e| BenchError::io(&args.out, e))?;
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
    let slots = if args.parts.iter().any(|p| matches!(p, Part::Throughput | Part::Basics)) {
        args.in_flight.iter().copied().max().unwrap_or(1).max(64)
    } else {
        1
    };
    let needs_fleet = args.parts.iter().any(|p| matches!(p, Part::Latency | Part::Throughput | Part::Basics));
    let fleet = if needs_fleet {
        note(&format!("bench: registering {slots} VM(s) and {} host(s)", 2 * slots));
        Some(Arc::new(fleet(&members, &args, slots).await?))
    } else {
        None
    };
    let channel = fleet.as_ref().map(|f| f.source.contract().network().clone());

    if let (true, Some(fleet)) = (args.parts.contains(&Part::Latency), &fleet) {
        let monitor = Monitor::start(processes(), Duration::from_millis(500));
        let pings = if args.smoke { 5 } else { args.latency_count };
        note(&format!("bench: latency, {pings} Ping then {} migrations, one at a time", args.latency_count));
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

    if args.parts.contains(&Part::Hash) {
        let monitor = Monitor::start(processes(), Duration::from_millis(500));
        let file =
            args.hash_file.clone().ok_or_else(|| BenchError::Options("the hash part needs a hash file".into()))?;
        note(&format!("bench: hashing {} ({} times each)", file.display(), args.hash_reps));
        r.hash = hashing(&file, args.hash_reps).await?;
        r.resources.insert("hash".into(), monitor.stop());
    }

    if args.parts.contains(&Part::Transfer) && !args.images.is_empty() {
        let mut p = processes();
        let agent = Agent::start(&args)?;
        p.push(("vmledger-agent".into(), agent.pid()));
        let monitor = Monitor::start(p, Duration::from_millis(500));
        r.transfer = transfers(&members, &args, &agent, note).await?;
        r.resources.insert("transfer".into(), monitor.stop());
    }

    if let (true, Some(fleet)) = (args.parts.contains(&Part::Throughput), &fleet) {
        let monitor = Monitor::start(processes(), Duration::from_millis(500));
        let seconds = Duration::from_secs(args.round_seconds);
        for &n in &args.in_flight {
            note(&format!("bench: closed loop, {n} Ping in flight for {seconds:?}"));
            let ledger = fleet.source.clone();
            let load = Load::Closed { in_flight: n, count: 100_000, max_duration: seconds };
            r.closed_ping
                .push(run_round(&format!("ping x{n}"), load, channel.as_ref(), move |_, _| ping(ledger.clone())).await);
            note(&format!("bench: closed loop, {n} migrations in flight for {seconds:?}"));
            let f = fleet.clone();
            r.closed.push(
                run_round(&format!("migration x{n}"), load, channel.as_ref(), move |s, _| migration(f.clone(), s))
                    .await,
            );
        }
        r.resources.insert("throughput".into(), monitor.stop());
    }

    if let (true, Some(fleet)) =
        (args.parts.iter().any(|p| matches!(p, Part::Throughput | Part::Basics)) && !args.rates.is_empty(), &fleet)
    {
        let monitor = Monitor::start(processes(), Duration::from_millis(500));
        let duration = Duration::from_secs(args.round_seconds);
        for &rate in &args.rates {
            note(&format!("bench: open loop, {rate} migrations/s offered for {duration:?}"));
            let f = fleet.clone();
            let load = Load::Open { rate, duration, slots };
            let round =
                run_round(&format!("open {rate}/s"), load, channel.as_ref(), move |s, _| migration(f.clone(), s)).await;
            let unstable = report::unstable(&round);
            r.open.push(round);
            if unstable {
                note("bench: unstable at this rate (delay grows or the offered rate is not met); stopping");
                break;
            }
        }
        r.resources.insert("open".into(), monitor.stop());
    }

    if args.parts.contains(&Part::Chains) {
        let monitor = Monitor::start(processes(), Duration::from_millis(500));
        let (local, inter) =
            if args.smoke { (vec![2.0], vec![1.0]) } else { (args.local_rates.clone(), args.inter_rates.clone()) };
        let seconds = if args.smoke { 4 } else { args.round_seconds };
        r.chains = crate::chains::run(&members, &args.source, &args.destination, &local, &inter, seconds, note).await?;
        r.resources.insert("chains".into(), monitor.stop());
    }

    r.problems = report::check(&r);
    report::write(&args.out, &r)?;
    Ok(r)
}

fn machine() -> Machine {
    let (cpu_model, mem_total_gib, kernel) = crate::procfs::machine();
    Machine {
        cpus: std::thread::available_parallelism().map(usize::from).unwrap_or(1),
        cpu_model,
        mem_total_gib,
        kernel,
        load_average: crate::procfs::load_average(),
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

async fn hash_once(file: &Path) -> Result<vmledger_client::image::Hashed> {
    let owned = file.to_owned();
    tokio::task::spawn_blocking(move || vmledger_client::image::hash_file(&owned, None, |_| {}))
        .await
        .map_err(|e| BenchError::Tool(format!("the hashing thread stopped: {e}")))?
        .map_err(|e| BenchError::io(file, e))
}

async fn hashing(file: &Path, reps: u32) -> Result<Vec<HashRun>> {
    let bytes = std::fs::metadata(file).map_err(|e| BenchError::io(file, e))?.len();
    // Warm the page cache so both tools read from memory.
    hash_once(file).await?;
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    let (mut our_hash, mut their_hash) = (String::new(), String::new());
    for _ in 0..reps.max(1) {
        let started = Instant::now();
        let hashed = hash_once(file).await?;
        ours.push(started.elapsed().as_secs_f64());
        our_hash = hashed.hash;
        let started = Instant::now();
        let output =
            Command::new("sha256sum").arg(file).output().map_err(|e| BenchError::Tool(format!("sha256sum: {e}")))?;
        theirs.push(started.elapsed().as_secs_f64());
        if !output.status.success() {
            return Err(BenchError::Tool(format!("sha256sum failed on {}", file.display())));
        }
        their_hash = String::from_utf8_lossy(&output.stdout).split_whitespace().next().unwrap_or_default().to_owned();
    }
    if our_hash != their_hash {
        return Err(BenchError::Tool(format!(
            "vmledger and sha256sum disagree on {}: {our_hash} vs {their_hash}",
            file.display()
        )));
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
    fn start(args: &Options) -> Result<Agent> {
        let dir = std::env::temp_dir().join(format!("vmledger-bench-agent-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| BenchError::io(&dir, e))?;
        let mut command = Command::new(&args.vmledger);
        command
            .args(connection_args(args, &args.destination, "operator"))
            .env_remove("VMLEDGER_PROXY_URL")
            .env_remove("VMLEDGER_API_KEY")
            .env_remove("VMLEDGER_CONFIG")
            .args(["--json", "-q", "agent", "--listen", "127.0.0.1:0", "--dir"])
            .arg(&dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let tool =
            |what: &str, e: &dyn std::fmt::Display| BenchError::Tool(format!("the destination agent: {what}: {e}"));
        let mut child = command.spawn().map_err(|e| tool("starting", &e))?;
        let Some(stdout) = child.stdout.take() else {
            let _ = child.kill();
            return Err(BenchError::Tool("the destination agent has no stdout".into()));
        };
        let mut line = String::new();
        if let Err(e) = BufReader::new(stdout).read_line(&mut line) {
            let _ = child.kill();
            return Err(tool("reading its first line", &e));
        }
        let url = serde_json::from_str::<serde_json::Value>(&line)
            .ok()
            .and_then(|v| v.get("url").and_then(|u| u.as_str()).map(str::to_owned));
        match url {
            Some(url) => Ok(Agent { child, url, dir }),
            None => {
                let _ = child.kill();
                Err(BenchError::Tool(format!("the destination agent did not say where it listens: {line}")))
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
fn connection_args(args: &Options, member: &str, identity: &str) -> Vec<std::ffi::OsString> {
    let mut out: Vec<std::ffi::OsString> = vec!["--network-file".into(), args.network_file.clone().into_os_string()];
    for a in ["--member", member, "--as", identity] {
        out.push(a.into());
    }
    out
}

async fn transfers(
    members: &Members,
    args: &Options,
    agent: &Agent,
    note: &(dyn Fn(&str) + Sync),
) -> Result<Vec<TransferRun>> {
    // One VM per run, on its own source host, all moving to one destination host.
    let manager_a = ledger(members, &args.source, "manager")?;
    let manager_b = ledger(members, &args.destination, "manager")?;
    // The operator runs the SDK's migrate-run workflow: the code `vmledger migrate run` calls.
    let operator = Profile::from_members(members, &args.source, "manager")?
        .chains_with(|b| b.retry(RetryPolicy::none()))
        .map_err(|e| BenchError::ledger("connecting", e))?;
    let setup = |e| BenchError::ledger("registering the transfer part's clouds, hosts and VMs", e);
    let tag = format!("benchx-{}", chrono::Utc::now().format("%m%d%H%M%S"));
    // Each side's cloud and its one host share a name, in the side's namespace.
    let (side_a, side_b) = (
        format!("{}.{tag}-a", members.member(&args.source)?.namespace()),
        format!("{}.{tag}-b", members.member(&args.destination)?.namespace()),
    );
    let cloud = |id: &str| msg::RegisterCloud { id: id.to_owned(), name: format!("benchmark {id}"), prices: None };
    manager_a.register_cloud(&cloud(&side_a)).await.map_err(setup)?;
    manager_b.register_cloud(&cloud(&side_b)).await.map_err(setup)?;
    let capacity = Resources { cpu_cores: 1024, memory_mib: 1 << 20, network_mbps: 100_000, io_mbps: 100_000 };
    for (l, side, country) in [(&manager_a, &side_a, "JP"), (&manager_b, &side_b, "GB")] {
        l.register_host(&msg::RegisterHost {
            id: side.clone(),
            cloud_id: side.clone(),
            country: country.into(),
            organizations: vec!["BenchCo".into()],
            capacity,
        })
        .await
        .map_err(setup)?;
    }
    let mut out = Vec::new();
    let mut n = 0;
    for image in &args.images {
        let bytes = std::fs::metadata(image).map_err(|e| BenchError::io(image, e))?.len();
        let hash = hash_once(image).await?.hash;
        for rate in &args.transfer_rates {
            let parsed: vmledger_client::image::Rate =
                rate.parse().map_err(|e: vmledger_client::image::BadRate| BenchError::Options(e.to_string()))?;
            let slow = bytes >= 512 << 20 && parsed.megabits_per_second() < 200.0;
            let reps = if slow { 1 } else { args.transfer_reps.max(1) };
            let mut reports = Vec::new();
            let mut failures = BTreeMap::new();
            for _ in 0..reps {
                n += 1;
                let vm = format!("{tag}-vm{n}");
                manager_a
                    .register_vm(&msg::RegisterVm {
                        id: vm.clone(),
                        cloud_id: side_a.clone(),
                        host_id: side_a.clone(),
                        requirements: Resources { cpu_cores: 1, memory_mib: 512, network_mbps: 10, io_mbps: 10 },
                        image_hash: hash.clone(),
                        regulation: Regulation { countries: Allowed::All, organizations: Allowed::All },
                    })
                    .await
                    .map_err(setup)?;
                note(&format!("bench: migrate run of {} ({bytes} bytes) at {rate}", image.display()));
                let run = MigrateRun {
                    vm_id: vm.clone(),
                    to_host: side_b.clone(),
                    image: image.clone(),
                    destination: Destination::Agent { url: agent.url.clone() },
                    rate_limit: Some(parsed),
                    relay_timeout: vmledger_client::workflow::migrate::RELAY_TIMEOUT,
                    idempotency_key: None,
                };
                match run.run(&operator, Arc::new(())).await {
                    Ok(report) => reports.push(report),
                    Err(e) => {
                        note(&format!("bench: migrate run failed: {e}"));
                        *failures.entry(e.to_string().chars().take(120).collect()).or_insert(0) += 1;
                    }
                }
                clear(&agent.dir);
            }
            let f = |figure: fn(&RunReport) -> u64| Summary::of_ms(&reports.iter().map(figure).collect::<Vec<_>>());
            out.push(TransferRun {
                image: image.display().to_string(),
                image_bytes: bytes,
                rate_limit: rate.clone(),
                rate_limit_mbit: parsed.megabits_per_second(),
                runs: reps,
                failures,
                total_ms: f(|r| r.total_ms),
                transfer_ms: f(|r| r.transfer.elapsed_ms),
                hash_ms: f(|r| r.hash_ms),
                ledger_critical_ms: f(|r| r.ledger_critical_ms),
                ledger_ms: f(|r| r.ledger_ms),
                indicate_client_ms: f(|r| r.indicate.client_ms),
                confirm_client_ms: f(|r| r.confirm.client_ms),
                ledger_share_percent: Summary::of(&reports.iter().map(|r| r.ledger_share_percent).collect::<Vec<_>>()),
                reports,
            });
        }
    }
    Ok(out)
}

/// Removes what the agent kept (received images), so that big images do not pile up.
fn clear(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}
