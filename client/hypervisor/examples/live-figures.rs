//! Figures of live migrations through vmledger: a counting guest (`fixtures/make-guest`) moves
//! from one QEMU to another over a loopback link, for each guest size, workload and rate asked.
//!
//! ```sh
//! cargo run --release -p vmledger-hypervisor --example live-figures            # the full table
//! cargo run --release -p vmledger-hypervisor --example live-figures -- --sizes 256 --rates none
//! ```
//!
//! For each migration: the stream's size, the total time (from `migrate` to the end of the
//! stream), QEMU's own downtime, the pause as the host sees it (from the source's `STOP` event to
//! the destination's `cont`), and the downtime the guest sees: the gap between the last tick the
//! source printed and the first the destination printed, less one tick period. There is no ledger
//! here: the destination resumes as soon as it has loaded the stream, so the ledger's addition to
//! the pause (two transactions) comes on top, measured where the SDK wires the gate in.
//! With `--postcopy` the source switches to post-copy after its first pass; QEMU's downtime then
//! counts only the device state, and the host's pause is the one that matters.
//! A markdown table goes to stdout, progress to stderr.

#![allow(clippy::print_stdout, clippy::print_stderr, reason = "a report binary")]

#[path = "../tests/it/guest.rs"]
mod guest;

use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use guest::{Workload, test_guest, ticks, wait_for_tick};
use tokio::net::TcpListener;
use vmledger_hypervisor::link::{self, Offer};
use vmledger_hypervisor::{Accel, Qemu, ReceiveOptions, SendOptions, Side, receive_live, send_live};

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
    /// Switch to post-copy after the first pass (the destination still waits for the whole stream).
    #[arg(long)]
    postcopy: bool,
    /// `kvm` or `tcg`; detected by default.
    #[arg(long)]
    accel: Option<String>,
}

/// One migration's figures.
struct Row {
    size_mib: u32,
    workload: String,
    rate: String,
    stream_mib: f64,
    total_ms: u64,
    passes: u64,
    qemu_downtime_ms: u64,
    host_pause_ms: u64,
    guest_downtime_ms: u64,
    hashes_equal: bool,
    /// Whether the migration switched to post-copy.
    postcopy: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let guest = test_guest()?;
    let accel = match args.accel.as_deref() {
        None => Accel::detect(),
        Some("kvm") => Accel::Kvm,
        Some("tcg") => Accel::Tcg,
        Some(other) => anyhow::bail!("--accel is kvm or tcg, not {other}"),
    };
    let mut rows = Vec::new();
    for &size in &args.sizes {
        for workload in &args.workloads {
            let load = match workload.as_str() {
                "idle" => Workload::IDLE,
                "dirty" => Workload::dirtying(args.dirty_mib, args.wss_mib),
                other => anyhow::bail!("unknown workload {other}"),
            };
            for rate in &args.rates {
                let bytes_per_second = match rate.as_str() {
                    "none" => None,
                    mbit => Some(mbit.parse::<f64>().with_context(|| format!("rate {mbit}"))? * 1e6 / 8.0),
                };
                eprintln!("live-figures: {size} MiB, {workload}, {rate} Mbit/s ({})", accel.name());
                let mut config = guest.config(size, load);
                config.accel = accel;
                let mut row = migrate(&config, bytes_per_second, args.postcopy).await?;
                row.size_mib = size;
                row.workload = if load == Workload::IDLE {
                    "idle".to_owned()
                } else {
                    format!("{} MiB/s over {} MiB", load.dirty_mib_per_second, load.working_set_mib)
                };
                row.rate = if rate == "none" { "unthrottled".to_owned() } else { format!("{rate} Mbit/s") };
                if row.postcopy {
                    row.rate.push_str(", post-copy");
                }
                rows.push(row);
            }
        }
    }
    println!(
        "| guest | workload | link | stream | total | passes | QEMU downtime | host pause (STOP → cont) | guest-seen downtime | hashes |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for r in &rows {
        println!(
            "| {} MiB | {} | {} | {:.0} MiB | {:.2} s | {} | {} ms | {} ms | {} ms | {} |",
            r.size_mib,
            r.workload,
            r.rate,
            r.stream_mib,
            r.total_ms as f64 / 1e3,
            r.passes,
            r.qemu_downtime_ms,
            r.host_pause_ms,
            r.guest_downtime_ms,
            if r.hashes_equal { "equal" } else { "DIFFER" }
        );
    }
    Ok(())
}

async fn migrate(config: &vmledger_hypervisor::QemuConfig, rate: Option<f64>, postcopy: bool) -> anyhow::Result<Row> {
    let source = Qemu::start(config, Side::Source).await?;
    wait_for_tick(source.console(), 20, Duration::from_secs(180)).await?;
    let destination = Qemu::start(config, Side::Destination).await?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let offer = Offer { migration_id: "figures".to_owned(), postcopy };
    let (source_link, accepted) =
        tokio::join!(link::connect(&url, &offer, "figures"), link::accept_one(&listener, "figures"));
    let (_, destination_link, _) = accepted?;
    let send =
        SendOptions { rate_bytes_per_second: rate, postcopy, timeout: Duration::from_secs(1200), ..Default::default() };
    let receive = ReceiveOptions { postcopy, timeout: Duration::from_secs(1200), ..Default::default() };
    let (sent, received) = tokio::join!(
        send_live(source.qmp(), source_link?, &send),
        receive_live(destination_link, destination, &receive)
    );
    let sent = sent?;
    let (received, arrived) = received?;
    let destination = arrived.resume().await?;
    let resumed_at = Instant::now();
    let last_source = *ticks(source.console()).last().context("the source never ticked")?;
    let first = wait_for_tick(destination.console(), 0, Duration::from_secs(60)).await?;
    let first_at =
        ticks(destination.console()).iter().find(|&&(_, n)| n == first).map(|&(at, _)| at).context("tick")?;
    // The guest's own rhythm, from the source's ticks before the migration began.
    let source_ticks = ticks(source.console());
    let mut gaps: Vec<Duration> = source_ticks.windows(2).take(15).map(|w| w[1].0 - w[0].0).collect();
    gaps.sort();
    let period = gaps.get(gaps.len() / 2).copied().unwrap_or(Duration::from_millis(100));
    let lost_ticks = first.saturating_sub(last_source.1 + 1);
    let gap = first_at - last_source.0;
    let guest_downtime = gap.saturating_sub(period * u32::try_from(lost_ticks + 1).unwrap_or(1));
    let host_pause = sent.stopped_at.map_or(Duration::ZERO, |stopped| resumed_at - stopped);
    let row = Row {
        size_mib: 0,
        workload: String::new(),
        rate: String::new(),
        stream_mib: sent.bytes as f64 / (1024.0 * 1024.0),
        total_ms: sent.elapsed_ms,
        passes: sent.qemu.passes.unwrap_or(0),
        qemu_downtime_ms: sent.qemu.downtime_ms.unwrap_or(0),
        host_pause_ms: u64::try_from(host_pause.as_millis()).unwrap_or(u64::MAX),
        guest_downtime_ms: u64::try_from(guest_downtime.as_millis()).unwrap_or(u64::MAX),
        hashes_equal: sent.hash == received.hash,
        postcopy: sent.postcopy,
    };
    eprintln!(
        "  {} bytes in {} ms, QEMU downtime {:?} ms, {} passes; source's last tick {} / destination's first {}",
        sent.bytes, sent.elapsed_ms, sent.qemu.downtime_ms, row.passes, last_source.1, first
    );
    source.quit().await?;
    destination.quit().await?;
    Ok(row)
}
