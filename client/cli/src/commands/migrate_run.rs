//! `vmledger migrate run`: the whole migration of BASICS, timed.
//!
//! 1. hash the image (source);
//! 2. submit the Indication and go on as soon as the orderer has it;
//! 3. transfer the image while the Indication commits;
//! 4. the destination hashes what it received (the agent while receiving; for a folder, after the
//!    copy) and confirms or rejects with its own identity;
//! 5. report where the time went, and the ledger's share of it.

use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Serialize;
use vmledger_client::gateway::millis;
use vmledger_client::image::Rate;
use vmledger_client::{Committed, Timings, VmLedger};
use vmledger_contract::model::{Migration, MigrationStatus, Placement, Scope};
use vmledger_contract::msg;

use super::hash::hash_with_progress;
use super::migrate::{Target, copy_into, destination, landing_path, upload, verdict};
use crate::args::MigrateRun;
use crate::context::Ctx;
use crate::exit::UsageError;
use crate::output::{fields, wire};

/// Ledger time of one transaction.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct LedgerStep {
    tx_id: String,
    block_number: u64,
    /// As measured by the proxy.
    timings: Timings,
    /// As seen by the caller, HTTP included.
    client_ms: u64,
}

impl LedgerStep {
    fn of<T>(c: &Committed<T>) -> Self {
        LedgerStep { tx_id: c.tx_id.clone(), block_number: c.block_number, timings: c.timings, client_ms: c.client_ms }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct TransferReport {
    /// `folder` or `agent`.
    mode: &'static str,
    destination: String,
    bytes: u64,
    elapsed_ms: u64,
    megabits_per_second: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    rate_limit_megabits_per_second: Option<f64>,
}

/// The timing report.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct RunReport {
    migration_id: String,
    vm_id: String,
    source: Placement,
    destination: Placement,
    scope: Scope,
    status: MigrationStatus,
    image: String,
    image_bytes: u64,
    recorded_hash: String,
    observed_hash: String,
    /// Source hashing.
    hash_ms: u64,
    hash_megabytes_per_second: f64,
    /// The Indication (`Migrate`): accepted by the orderer after `acceptedMs`, committed later.
    indicate: LedgerStep,
    indicate_accepted_ms: u64,
    transfer: TransferReport,
    /// Destination hashing after the copy (folder); the agent hashes while receiving (0 here).
    destination_hash_ms: u64,
    /// Time the destination waited, after the transfer, for the Indication to be on its ledger.
    indication_wait_ms: u64,
    /// The Confirmation (`ConfirmMigration`) by the destination member.
    confirm: LedgerStep,
    total_ms: u64,
    /// Indication + Confirmation as the client saw them, overlapped with the transfer or not.
    ledger_ms: u64,
    /// Ledger time on the critical path: orderer acceptance + waiting for the Indication after
    /// the transfer + the Confirmation.
    ledger_critical_ms: u64,
    /// `ledgerCriticalMs / totalMs`, in percent.
    ledger_share_percent: f64,
}

pub(crate) async fn run(ctx: &Ctx, args: MigrateRun) -> anyhow::Result<()> {
    let started = Instant::now();
    let ledger = ctx.ledger()?;
    let target = destination(&args.destination);
    // Resolve the destination before anything is recorded, so a bad option leaves no Indication.
    let destination_ledger = match &target {
        Target::Dir(_) => {
            let identity = args.dest_as.as_deref().unwrap_or("user");
            let profile = ctx.profile_of(
                args.dest_member.as_deref(),
                identity,
                args.dest_proxy_url.clone(),
                args.dest_api_key.clone(),
            )?;
            Some(ctx.ledger_for(&profile)?)
        }
        Target::Agent(url) => {
            agent_ready(url).await?;
            None
        }
    };
    if !args.image.is_file() {
        return Err(UsageError(format!("{} is not a file", args.image.display())).into());
    }

    // 1. Hash at the source.
    let hashed = hash_with_progress(ctx, &args.image).await?;

    // 2. The Indication, up to the orderer's acceptance.
    let input = msg::Migrate {
        vm_id: args.vm.clone(),
        destination_host_id: args.to_host.clone(),
        image_hash: Some(hashed.hash.clone()),
    };
    let spinner = ctx.out.spinner("indicating the migration");
    let pending = ledger.migrate_async(&input).await;
    spinner.finish_and_clear();
    let pending = pending.context("the Indication (Migrate) was refused")?;
    let migration_id = pending.migration_id().to_owned();
    let accepted_ms = pending.accepted_ms();
    ctx.out.note(&format!("migration {migration_id} accepted by the orderer in {accepted_ms} ms; transferring"));

    // 3. Transfer while the Indication commits; a failed commit abandons the transfer.
    let mut commit = tokio::spawn(async move { pending.wait().await });
    let transfer = async {
        match &target {
            Target::Dir(dir) => {
                copy_into(ctx.out, &args.image, dir, &migration_id, args.rate_limit).await.map(Sent::Folder)
            }
            Target::Agent(url) => upload(ctx.out, url, &migration_id, &args.image, args.rate_limit)
                .await
                .map(|d| Sent::Agent(Box::new(d))),
        }
    };
    tokio::pin!(transfer);
    let mut indicated: Option<Committed<Migration>> = None;
    let sent = loop {
        tokio::select! {
            sent = &mut transfer => break sent?,
            joined = &mut commit, if indicated.is_none() => {
                let committed = joined.context("waiting for the Indication")?
                    .with_context(|| format!("the Indication {migration_id} did not commit; the transfer was abandoned"))?;
                indicated = Some(committed);
            }
        }
    };

    // 4. The destination hashes what arrived and confirms.
    let (transfer, destination_hash_ms, indication_wait_ms, confirmed, observed_hash, confirm) = match sent {
        Sent::Folder(transferred) => {
            let destination_ledger = destination_ledger.context("no destination member")?;
            let landed =
                landing_path(args.destination.to_dir.as_deref().unwrap_or(std::path::Path::new(".")), &migration_id);
            let observed = hash_with_progress(ctx, &landed).await?;
            let wait_started = Instant::now();
            let indicated_now = match indicated.take() {
                Some(c) => c,
                None => commit.await.context("waiting for the Indication")??,
            };
            visible(&destination_ledger, &migration_id).await?;
            let indication_wait_ms = millis(wait_started.elapsed());
            let spinner = ctx.out.spinner("confirming at the destination");
            let confirmed = destination_ledger
                .confirm_migration(&msg::ConfirmMigration {
                    migration_id: migration_id.clone(),
                    observed_hash: observed.hash.clone(),
                })
                .await;
            spinner.finish_and_clear();
            let confirmed = confirmed.context("the Confirmation (ConfirmMigration) failed")?;
            indicated = Some(indicated_now);
            let report = TransferReport {
                mode: "folder",
                destination: transferred.destination.clone(),
                bytes: transferred.bytes,
                elapsed_ms: transferred.elapsed_ms,
                megabits_per_second: transferred.rate().megabits_per_second(),
                rate_limit_megabits_per_second: args.rate_limit.map(|r| r.megabits_per_second()),
            };
            let step = LedgerStep::of(&confirmed);
            (report, observed.elapsed_ms, indication_wait_ms, confirmed.result, observed.hash, step)
        }
        Sent::Agent(delivered) => {
            if indicated.is_none() {
                indicated = Some(commit.await.context("waiting for the Indication")??);
            }
            let delivered = *delivered;
            let r = delivered.receipt;
            let migration = match &indicated {
                Some(c) => closed_like(&c.result, &r),
                None => return Err(anyhow::anyhow!("the Indication's outcome is unknown")),
            };
            let report = TransferReport {
                mode: "agent",
                destination: delivered.transferred.destination.clone(),
                bytes: delivered.transferred.bytes,
                elapsed_ms: delivered.transferred.elapsed_ms,
                megabits_per_second: delivered.transferred.rate().megabits_per_second(),
                rate_limit_megabits_per_second: args.rate_limit.map(|r| r.megabits_per_second()),
            };
            let step = LedgerStep {
                tx_id: r.confirm_tx_id.clone(),
                block_number: r.confirm_block,
                timings: r.confirm_timings,
                client_ms: r.confirm_client_ms,
            };
            (report, 0, r.lookup_wait_ms, migration, r.observed_hash, step)
        }
    };
    let indicated = indicated.context("the Indication's outcome is unknown")?;
    let total_ms = millis(started.elapsed());
    let ledger_ms = indicated.client_ms + confirm.client_ms;
    let ledger_critical_ms = accepted_ms + indication_wait_ms + confirm.client_ms;
    let report = RunReport {
        migration_id: migration_id.clone(),
        vm_id: args.vm.clone(),
        source: confirmed.source.clone(),
        destination: confirmed.destination.clone(),
        scope: confirmed.scope,
        status: confirmed.status,
        image: args.image.display().to_string(),
        image_bytes: hashed.bytes,
        recorded_hash: hashed.hash.clone(),
        observed_hash,
        hash_ms: hashed.elapsed_ms,
        hash_megabytes_per_second: hashed.megabytes_per_second(),
        indicate: LedgerStep::of(&indicated),
        indicate_accepted_ms: accepted_ms,
        transfer,
        destination_hash_ms,
        indication_wait_ms,
        confirm,
        total_ms,
        ledger_ms,
        ledger_critical_ms,
        ledger_share_percent: if total_ms > 0 { ledger_critical_ms as f64 * 100.0 / total_ms as f64 } else { 0.0 },
    };
    ctx.out.show(&report, || describe(&report, args.rate_limit))?;
    verdict(&confirmed)
}

enum Sent {
    Folder(vmledger_client::transfer::Transferred),
    Agent(Box<vmledger_client::transfer::Delivered>),
}

/// The migration as the agent's receipt says it closed.
fn closed_like(indicated: &Migration, receipt: &vmledger_client::transfer::Receipt) -> Migration {
    let mut m = indicated.clone();
    m.status = receipt.status;
    m.observed_hash = Some(receipt.observed_hash.clone());
    m
}

/// Fails early when the agent does not answer, before anything is recorded.
async fn agent_ready(url: &str) -> anyhow::Result<()> {
    let health = format!("{}/healthz", url.trim_end_matches('/'));
    let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build()?;
    let response = client
        .get(&health)
        .send()
        .await
        .map_err(|source| vmledger_client::transfer::TransferError::Unreachable { url: url.to_owned(), source })?;
    if !response.status().is_success() {
        anyhow::bail!("the destination agent at {url} is not healthy ({})", response.status());
    }
    Ok(())
}

/// Waits until the destination's peer has the Indication too (peers commit blocks independently).
async fn visible(ledger: &VmLedger, migration_id: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match ledger.get_migration(migration_id).await {
            Ok(_) => return Ok(()),
            Err(e) if e.contract_error().is_some_and(|c| c.code() == "NOT_FOUND") && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => return Err(anyhow::Error::new(e).context("looking the migration up at the destination")),
        }
    }
}

fn describe(r: &RunReport, rate: Option<Rate>) -> String {
    let step = |s: &LedgerStep| {
        format!(
            "{} ms (endorse {} + submit {} + commit {}; block {})",
            s.client_ms, s.timings.endorse_ms, s.timings.submit_ms, s.timings.commit_ms, s.block_number
        )
    };
    let mut pairs = vec![
        ("migration", format!("{} of VM {}: {}", r.migration_id, r.vm_id, wire(&r.status).to_uppercase())),
        (
            "route",
            format!(
                "{}/{} -> {}/{} ({})",
                r.source.cloud_id,
                r.source.host_id,
                r.destination.cloud_id,
                r.destination.host_id,
                wire(&r.scope)
            ),
        ),
        ("image", format!("{} ({} bytes)", r.image, r.image_bytes)),
        ("hash (source)", format!("{} ms, {:.0} MB/s", r.hash_ms, r.hash_megabytes_per_second)),
        ("ledger: Migrate", format!("{} (orderer accepted after {} ms)", step(&r.indicate), r.indicate_accepted_ms)),
        (
            "transfer",
            format!(
                "{} ms, {} bytes, {:.1} Mbit/s{} to {} {}",
                r.transfer.elapsed_ms,
                r.transfer.bytes,
                r.transfer.megabits_per_second,
                rate.map(|r| format!(" (cap {r})")).unwrap_or_default(),
                r.transfer.mode,
                r.transfer.destination
            ),
        ),
        (
            "hash (destination)",
            if r.transfer.mode == "agent" {
                "while receiving".to_owned()
            } else {
                format!("{} ms", r.destination_hash_ms)
            },
        ),
        ("wait for Indication", format!("{} ms after the transfer", r.indication_wait_ms)),
        ("ledger: Confirm", step(&r.confirm)),
        ("total", format!("{} ms", r.total_ms)),
        (
            "ledger share",
            format!(
                "{:.2} % ({} ms on the critical path; {} ms in all, overlapped with the transfer or not)",
                r.ledger_share_percent, r.ledger_critical_ms, r.ledger_ms
            ),
        ),
    ];
    if r.status == MigrationStatus::Rejected {
        pairs.push(("REJECTED", format!("observed {} != recorded {}", r.observed_hash, r.recorded_hash)));
    }
    fields(&pairs)
}
