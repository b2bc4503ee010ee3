//! The fault suite on the running network (`scripts/faults` brings a 3-member network up first):
//! one fault at a time under load, every operation reconciled with the ledger.
//!
//! ```sh
//! scripts/faults                                   # every fault, 400 writes at 12 in flight
//! scripts/faults --only peer0,proxy --writes 100   # some of them, a smaller load
//! ```
//!
//! Faults, each followed by its recovery: SIGKILL of `peer0.org2`, of one orderer of three
//! (`orderer0.org3`), of `proxy.org2` (the proxy the load goes through) and of `ccaas.org2`, each down
//! for `--down` seconds, then `vmledger-net up`; SIGSTOP of `peer0.org2` for `--pause` seconds, then
//! SIGCONT; `org2` cut off from the federation's orderers for `--cut` seconds (toxiproxy, on a network
//! made with `up --faults`); both members' relays SIGKILLed while inter-cloud migrations commit. The moment of each
//! fault is drawn from `--seed`. A markdown table to stdout, progress to stderr; `faults.json` and
//! `faults.csv` (with the machine and its load average) into `--out`.

#![allow(clippy::print_stdout, clippy::print_stderr, reason = "a report binary")]

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use serde::Serialize;
use vmledger_e2e::Federation;
use vmledger_e2e::faults::{self, Fault, Figures, Load};

#[derive(Debug, Parser)]
struct Args {
    /// RegisterHost writes per fault.
    #[arg(long, default_value_t = 400)]
    writes: usize,
    /// Writes in flight at once.
    #[arg(long, default_value_t = 12)]
    in_flight: usize,
    /// Inter-cloud migrations while the relays are killed.
    #[arg(long, default_value_t = 50)]
    migrations: usize,
    /// Seconds a killed process stays down before `vmledger-net up`.
    #[arg(long, default_value_t = 2)]
    down: u64,
    /// Seconds a paused process stays stopped.
    #[arg(long, default_value_t = 10)]
    pause: u64,
    /// Seconds a member stays cut off from the orderers (a network made with `up --faults`).
    #[arg(long, default_value_t = 10)]
    cut: u64,
    /// Where the faults' moments come from.
    #[arg(long, default_value_t = 14)]
    seed: u64,
    /// Only the faults whose name contains one of these (`peer0`, `orderer`, `proxy`, `ccaas`,
    /// `SIGSTOP`, `cut`, `relay`).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Where faults.json and faults.csv go.
    #[arg(long, default_value = "target/faults")]
    out: PathBuf,
}

/// The machine the figures were measured on.
#[derive(Debug, Serialize)]
struct Machine {
    cpu: String,
    cores: usize,
    memory_gib: f64,
    load_average_before: String,
    load_average_after: String,
    date: String,
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn machine(before: String) -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name").and_then(|r| r.split_once(':')).map(|(_, v)| v.trim().to_owned()))
        .unwrap_or_default();
    let memory_kib: f64 = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:").and_then(|r| r.split_whitespace().next()?.parse().ok()))
        .unwrap_or_default();
    Machine {
        cpu,
        cores: std::thread::available_parallelism().map(usize::from).unwrap_or(1),
        memory_gib: (memory_kib / (1024.0 * 1024.0) * 10.0).round() / 10.0,
        load_average_before: before,
        load_average_after: load_average(),
        date: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    }
}

/// One CSV row: the figures, the refusals flattened.
#[derive(Debug, Serialize)]
struct Row<'a> {
    fault: &'a str,
    through: &'a str,
    operations: usize,
    in_flight: usize,
    seed: u64,
    committed: usize,
    refused: usize,
    unknown: usize,
    lost: usize,
    duplicated: usize,
    failed_but_committed: usize,
    injected_after: usize,
    fault_ms: u64,
    recovered_ms: u64,
    resolved_ms: u64,
    refusals: String,
    load_average_after: &'a str,
}

/// Whether the network was made with `up --faults` (its net.json says so).
fn made_for_faults(f: &Federation) -> bool {
    let settings = f.members_file.with_file_name("net.json");
    std::fs::read(&settings)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
        .is_some_and(|s| s["faults"] == true)
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let before = load_average();
    let f = Federation::connect();
    anyhow::ensure!(
        f.members.members.len() >= 3,
        "the fault suite needs 3 members (3 orderers): `vmledger-net up --orgs 3`"
    );
    let org = |i: usize| f.members.members[i].org.clone();
    let (org2, org3) = (org(1), org(2));
    let down = Duration::from_secs(args.down);
    let kill = |node: String| Fault::Kill { node, down };
    let load = Load { writes: args.writes, in_flight: args.in_flight };
    let wanted = |name: &str| args.only.is_empty() || args.only.iter().any(|o| name.contains(o.as_str()));

    let writes = [
        kill(format!("peer0.{org2}")),
        kill(format!("orderer0.{org3}")),
        kill(format!("proxy.{org2}")),
        kill(format!("ccaas.{org2}")),
        Fault::Pause { node: format!("peer0.{org2}"), paused: Duration::from_secs(args.pause) },
        Fault::Partition { org: org2.clone(), cut: Duration::from_secs(args.cut) },
    ];
    let mut rows: Vec<(Figures, String)> = Vec::new();
    for (i, fault) in writes.iter().enumerate() {
        if !wanted(&fault.name()) {
            continue;
        }
        if matches!(fault, Fault::Partition { .. }) && !made_for_faults(&f) {
            eprintln!("faults: skipping `{}`: the network was made without `up --faults`", fault.name());
            continue;
        }
        eprintln!("faults: {} under {} writes at {} in flight", fault.name(), load.writes, load.in_flight);
        let figures = faults::writes_under(&f, fault, &org2, load, args.seed + i as u64);
        eprint!("{}", faults::table(std::slice::from_ref(&figures)));
        rows.push((figures, load_average()));
    }
    if wanted("relay") {
        eprintln!("faults: relays killed during {} migrations", args.migrations);
        let figures = faults::migrations_under_relay_kill(&f, args.migrations, args.seed + writes.len() as u64);
        eprint!("{}", faults::table(std::slice::from_ref(&figures)));
        rows.push((figures, load_average()));
    }

    let figures: Vec<Figures> = rows.iter().map(|(f, _)| f.clone()).collect();
    let machine = machine(before);
    println!("{}", faults::table(&figures));
    println!(
        "{} cores ({}), {} GiB; load average {} before, {} after; {}",
        machine.cores,
        machine.cpu,
        machine.memory_gib,
        machine.load_average_before,
        machine.load_average_after,
        machine.date
    );

    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    let json = serde_json::json!({ "machine": machine, "faults": figures });
    std::fs::write(args.out.join("faults.json"), serde_json::to_string_pretty(&json)?)?;
    let mut csv = csv::Writer::from_path(args.out.join("faults.csv"))?;
    for (r, load) in &rows {
        csv.serialize(Row {
            fault: &r.fault,
            through: &r.through,
            operations: r.operations,
            in_flight: r.in_flight,
            seed: r.seed,
            committed: r.committed,
            refused: r.refused,
            unknown: r.unknown,
            lost: r.lost,
            duplicated: r.duplicated,
            failed_but_committed: r.failed_but_committed,
            injected_after: r.injected_after,
            fault_ms: r.fault_ms,
            recovered_ms: r.recovered_ms,
            resolved_ms: r.resolved_ms,
            refusals: r.refusals.iter().map(|(c, n)| format!("{n} {c}")).collect::<Vec<_>>().join("; "),
            load_average_after: load,
        })?;
    }
    csv.flush()?;
    eprintln!("faults: {} and faults.csv", args.out.join("faults.json").display());
    let dirty: Vec<&str> = figures.iter().filter(|r| !r.clean()).map(|r| r.fault.as_str()).collect();
    anyhow::ensure!(
        dirty.is_empty(),
        "lost, duplicated, failed-but-committed or unknown operations under: {}",
        dirty.join(", ")
    );
    Ok(())
}
