//! Figures of live migrations gated by the ledger, on the running network: a counting guest
//! (`fixtures/make-guest`) moves from cloud A to cloud B through cloud B's agent (in this
//! process), with the SDK's live workflow: Indication, stream, `RecordStreamHash`, the agent's
//! Confirmation, resume. For each guest size, workload and rate asked.
//!
//! ```sh
//! network/vmledger-net up
//! cargo run --release -p vmledger-e2e --example live-gate-figures                 # the full table
//! cargo run --release -p vmledger-e2e --example live-gate-figures -- --sizes 256 --rates none
//! ```
//!
//! Per migration: the stream, the total (from the Indication to the decision at the source),
//! QEMU's downtime, the gated pause (from the source's `STOP` to the destination's `cont`, both
//! clocks of this machine), the ledger's addition to it (from the end of the stream to the
//! destination's `cont`: `RecordStreamHash`, then the Confirmation once the recorded hash reached
//! the destination's peer), and the downtime the guest sees (the gap between the source's last
//! tick and the destination's first, less one tick period; the destination's console is read from
//! the agent's file every 2 ms). A markdown table to stdout, progress to stderr.

#![allow(clippy::print_stdout, clippy::print_stderr, reason = "a report binary")]

#[path = "../../../client/hypervisor/tests/it/guest.rs"]
mod guest;

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use guest::{TestGuest, Workload, test_guest, tick, ticks, wait_for_tick};
use vmledger_client::agent::{Agent, LiveConfig, LiveReceipt};
use vmledger_client::image::Rate;
use vmledger_client::workflow::live::{LiveObserver, LiveReport, LiveRun};
use vmledger_contract::model::MigrationStatus;
use vmledger_contract::msg;
use vmledger_e2e::{Scenario, unique};
use vmledger_hypervisor::{Accel, Qemu, Side};

#[derive(Debug, Parser)]
struct Args {
    /// Guest memory sizes, MiB.
    #[arg(long, value_delimiter = ',', default_values_t = [256, 1024])]
    sizes: Vec<u32>,
    /// Link rates in Mbit/s, or `none` for no cap.
    #[arg(long, value_delimiter = ',', default_values = ["124.8", "none"])]
    rates: Vec<String>,
    /// Workloads: `idle`, `dirty`.
    #[arg(long, value_delimiter = ',', default_values = ["idle", "dirty"])]
    workloads: Vec<String>,
    /// How fast the dirtying guest rewrites memory, MiB/s.
    #[arg(long, default_value_t = 8)]
    dirty_mib: u32,
    /// How much memory the dirtying guest rewrites, MiB.
    #[arg(long, default_value_t = 64)]
    wss_mib: u32,
}

struct Row {
    guest: String,
    landed: LiveReceipt,
    workload: String,
    rate: String,
    report: LiveReport,
    gated_pause_ms: u64,
    ledger_addition_ms: u64,
    guest_downtime_ms: u64,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let guest = test_guest()?;
    let scenario = Scenario::given_two_clouds();
    vmledger_e2e::block_on(run(args, guest, scenario))
}

async fn run(args: Args, guest: TestGuest, s: Scenario) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let accel = Accel::detect();
    let msp_b = s.federation.members.member(&s.org_b)?.msp_id.clone();
    let agent_ledger = s.ledger_b();
    let config = LiveConfig::new(guest.config(256, Workload::IDLE), msp_b);
    let chains = s.federation.chains(&s.org_b, "operator");
    let agent = Agent::new(chains, &config.member_msp_id, dir.path(), Duration::from_secs(60), Arc::new(()))?
        .with_live(Arc::new(agent_ledger), config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let agent_url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(agent.serve(listener, std::future::pending()));
    let source_ledger = s.ledger_a();
    // The floor, in the same run: a one-key write through the same proxy and Gateway.
    let mut pings = Vec::new();
    for _ in 0..15 {
        pings.push(source_ledger.ping().await?.client_ms);
    }
    pings.sort_unstable();
    let ping_ms = pings[pings.len() / 2];
    eprintln!("live-gate-figures: Ping p50 {ping_ms} ms");

    let mut rows = Vec::new();
    for &size in &args.sizes {
        for workload in &args.workloads {
            let load = match workload.as_str() {
                "idle" => Workload::IDLE,
                "dirty" => Workload::dirtying(args.dirty_mib, args.wss_mib),
                other => anyhow::bail!("unknown workload {other}"),
            };
            for rate in &args.rates {
                let rate_limit = match rate.as_str() {
                    "none" => None,
                    mbit => Some(Rate { bytes_per_second: mbit.parse::<f64>()? * 1e6 / 8.0 }),
                };
                eprintln!("live-gate-figures: {size} MiB, {workload}, {rate} Mbit/s ({})", accel.name());
                let vm = unique("vm-figures");
                source_ledger
                    .register_vm(&msg::RegisterVm {
                        id: vm.clone(),
                        cloud_id: s.cloud_a.clone(),
                        host_id: s.host_a.clone(),
                        requirements: vmledger_contract::model::Resources {
                            cpu_cores: 1,
                            memory_mib: u64::from(size),
                            network_mbps: 100,
                            io_mbps: 50,
                        },
                        image_hash: "0".repeat(64),
                        regulation: Scenario::regulation(),
                    })
                    .await
                    .context("registering the VM")?;
                let monitor = dir.path().join(format!("{vm}.qmp"));
                let mut config = guest.config(size, load);
                config.monitor = Some(monitor.clone());
                let source = Qemu::start(&config, Side::Source).await?;
                wait_for_tick(source.console(), 20, Duration::from_secs(300)).await?;
                let run = LiveRun {
                    rate_limit,
                    stream_timeout: Duration::from_secs(1200),
                    ..LiveRun::new(&vm, &s.host_b, &monitor, &agent_url)
                };
                let watch = Arc::new(FirstTick { dir: dir.path().to_owned(), found: Default::default() });
                let report = run.run(&source_ledger, watch.clone()).await?;
                anyhow::ensure!(report.status == MigrationStatus::Confirmed, "not confirmed: {:?}", report.status);
                let landed: LiveReceipt =
                    reqwest_json(&format!("{agent_url}/migrations/{}/live", report.migration_id)).await?;
                let waiting = watch.found.lock().map_err(|_| anyhow::anyhow!("lock"))?.take();
                let (first, first_at) = waiting.context("no Indication seen")?.await??;
                let source_ticks = ticks(source.console());
                let &(last_at, last) = source_ticks.last().context("the source never ticked")?;
                let mut gaps: Vec<Duration> = source_ticks.windows(2).take(15).map(|w| w[1].0 - w[0].0).collect();
                gaps.sort();
                let period = gaps.get(gaps.len() / 2).copied().unwrap_or(Duration::from_millis(100));
                let lost = first.saturating_sub(last + 1);
                let gap = first_at.saturating_duration_since(last_at);
                let guest_downtime = gap.saturating_sub(period * u32::try_from(lost + 1).unwrap_or(1));
                let resumed = landed.resumed_at_unix_ms.context("not resumed")?;
                let stopped = report.stopped_at_unix_ms.context("no STOP event")?;
                let stream_end = report.decided_at_unix_ms.saturating_sub(report.ledger_pause_ms);
                rows.push(Row {
                    guest: format!("{size} MiB"),
                    workload: if load == Workload::IDLE {
                        "idle".to_owned()
                    } else {
                        format!("{} MiB/s over {} MiB", load.dirty_mib_per_second, load.working_set_mib)
                    },
                    rate: if rate == "none" { "unthrottled".to_owned() } else { format!("{rate} Mbit/s") },
                    gated_pause_ms: resumed.saturating_sub(stopped),
                    ledger_addition_ms: resumed.saturating_sub(stream_end),
                    guest_downtime_ms: u64::try_from(guest_downtime.as_millis()).unwrap_or(u64::MAX),
                    report,
                    landed: landed.clone(),
                });
                if let Some(monitor) = &landed.monitor {
                    let destination = vmledger_hypervisor::Qmp::connect(monitor).await?;
                    let _ = destination.quit().await;
                }
                drop(source);
            }
        }
    }
    println!("The floor, measured in this run: `Ping` p50 {ping_ms} ms (sequential, source member).\n");
    println!(
        "| guest | workload | link | stream | total | QEMU downtime | gated pause (STOP → cont) | ledger's addition | of which: source's RecordStreamHash / destination waits for it / its Confirmation | guest-seen downtime |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for r in &rows {
        println!(
            "| {} | {} | {} | {:.0} MiB | {:.2} s | {} ms | {} ms | {} ms ({:.1}× Ping) | {} / {} / {} ms | {} ms |",
            r.guest,
            r.workload,
            r.rate,
            r.report.stream_bytes as f64 / (1024.0 * 1024.0),
            r.report.total_ms as f64 / 1e3,
            r.report.qemu_downtime_ms.unwrap_or(0),
            r.gated_pause_ms,
            r.ledger_addition_ms,
            r.ledger_addition_ms as f64 / ping_ms.max(1) as f64,
            r.report.record.client_ms,
            r.landed.record_wait_ms,
            r.landed.confirm.as_ref().map_or(0, |c| c.client_ms),
            r.guest_downtime_ms,
        );
    }
    Ok(())
}

/// The destination's first tick and when it was seen.
type Seen = tokio::task::JoinHandle<anyhow::Result<(u64, Instant)>>;

/// Watches the destination's console from the moment the migration has its id.
struct FirstTick {
    dir: std::path::PathBuf,
    found: std::sync::Mutex<Option<Seen>>,
}

impl LiveObserver for FirstTick {
    fn indicated(&self, migration_id: &str, _accepted_ms: u64) {
        let path = self.dir.join(format!("{migration_id}.console"));
        if let Ok(mut found) = self.found.lock() {
            *found = Some(tokio::spawn(first_tick(path)));
        }
    }
}

/// The destination's first tick and when it appeared in the agent's console file (polled every
/// 2 ms, so up to 2 ms late).
async fn first_tick(path: std::path::PathBuf) -> anyhow::Result<(u64, Instant)> {
    let deadline = Instant::now() + Duration::from_secs(1500);
    loop {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        if let Some(n) = text.lines().find_map(tick) {
            return Ok((n, Instant::now()));
        }
        anyhow::ensure!(Instant::now() < deadline, "the destination never ticked");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

async fn reqwest_json<T: serde::de::DeserializeOwned>(url: &str) -> anyhow::Result<T> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (host, path) = url.trim_start_matches("http://").split_once('/').context("url")?;
    let mut stream = tokio::net::TcpStream::connect(host).await?;
    stream.write_all(format!("GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes()).await?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await?;
    let body = answer.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or_default();
    serde_json::from_str(body).with_context(|| format!("not JSON: {answer}"))
}
