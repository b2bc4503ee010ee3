//! `vmledger migrate check|start|show|confirm|cancel|send|run`: the protocol step by step, or whole
//! (`run` is the SDK's workflow, [`vmledger_client::workflow::migrate`]).

use vmledger_client::image::{Rate, TransferKey};
use vmledger_client::transfer::{self, Receipt, Transferred};
use vmledger_client::workflow::live::{LiveObserver, LiveReport, LiveRun, LiveStage};
use vmledger_client::workflow::migrate::{
    self as workflow, LedgerStep, MigrateRun as Run, RelayRecord, RunReport, TransferMode,
};
use vmledger_client::workflow::placement::{self, Ask};
use vmledger_contract::model::{Migration, MigrationCheck, MigrationStatus, Scope};
use vmledger_contract::msg;

use crate::args::{Destination, MigrateCommand, MigrateRun, MigrateSend};
use crate::context::Ctx;
use crate::exit::Verdict;
use crate::output::{Output, fields, opt_time, resources, time, wire};
use crate::progress;

pub(crate) async fn run(ctx: &Ctx, command: MigrateCommand) -> anyhow::Result<()> {
    match command {
        MigrateCommand::Check(args) => {
            let chains = ctx.chains()?;
            let route = chains.for_migration(&args.vm, &args.to_host).await?;
            let input = msg::Migrate {
                vm_id: args.vm,
                destination_host_id: args.to_host,
                image_hash: args.image_hash,
                ..msg::Migrate::default()
            };
            let check = route.ledger.check_migration(&input).await?;
            ctx.out.show(&check, || describe_check(&check))?;
            if check.permitted { Ok(()) } else { Err(Verdict::Denied.into()) }
        }
        MigrateCommand::Start(args) => {
            let chains = ctx.chains()?;
            let ledger = chains.for_migration(&args.vm, &args.to_host).await?.ledger;
            let key = match args.key.given()? {
                Some(key) => key,
                None => TransferKey::generate()?,
            };
            let (hash, keyed_digest) = args.image.digests(ctx.out, Some(&key), args.keyed_digest).await?;
            let input = msg::Migrate {
                vm_id: args.vm,
                destination_host_id: args.to_host,
                image_hash: Some(hash),
                keyed_digest,
                transfer_key_hash: Some(key.hash()),
                ttl_seconds: args.ttl,
                ..msg::Migrate::default()
            };
            // The key goes to the destination with the image (`migrate send --transfer-key`), never
            // on the ledger before the Confirmation. The idempotency key names the Indication: a rerun
            // with the same key after an outcome not seen finds the same migration.
            let idempotency_key = args.idempotency_key.unwrap_or_else(vmledger_client::identity::new_idempotency_key);
            if args.no_wait {
                let pending = ledger.migrate_async_with_key(&input, &idempotency_key).await?;
                let answer = serde_json::json!({"migrationId": pending.migration_id(), "status": "pending",
                    "acceptedMs": pending.accepted_ms(), "transferKey": key.to_hex()});
                return ctx.out.show(&answer, || {
                    format!(
                        "migration {} accepted by the orderer in {} ms; its commit is pending\ntransfer key (send it with the image only): {}",
                        pending.migration_id(),
                        pending.accepted_ms(),
                        key.to_hex()
                    )
                });
            }
            let committed = ledger
                .submit_with_key::<vmledger_contract::vocabulary::calls::Migrate>(&input, &idempotency_key)
                .await?;
            let answer = serde_json::json!({"indicated": &committed, "transferKey": key.to_hex()});
            ctx.out.show(&answer, || {
                format!(
                    "indicated migration {} in block {} ({} ms)\n{}\ntransfer key (send it with the image only): {}",
                    committed.tx_id,
                    committed.block_number,
                    committed.timings.total_ms,
                    describe(&committed.result),
                    key.to_hex()
                )
            })
        }
        MigrateCommand::Show { id } => {
            let (migration, _) = ctx.chains()?.find_migration(&id).await?;
            ctx.out.show(&migration, || describe(&migration))
        }
        MigrateCommand::Confirm(args) => {
            let chains = ctx.chains()?;
            let (_, ledger) = chains.find_migration(&args.id).await?;
            let key = args.key.required()?;
            let (observed_hash, keyed_digest) = match (args.observed_hash, &args.image) {
                (Some(hash), _) => (hash, args.keyed_digest.unwrap_or_default()),
                (None, Some(path)) => {
                    let hashed = progress::hash(ctx.out, path, Some(&key)).await?;
                    (hashed.hash, hashed.keyed_digest.unwrap_or_default())
                }
                (None, None) => {
                    return Err(crate::exit::UsageError("give --image FILE or --observed-hash HEX".into()).into());
                }
            };
            let confirm = msg::ConfirmMigration {
                migration_id: args.id,
                observed_hash,
                transfer_key: key.to_hex(),
                keyed_digest,
            };
            let committed = ledger.confirm_migration(&confirm).await?;
            ctx.out.show(&committed, || {
                format!(
                    "{} migration {} in block {}\n{}",
                    wire(&committed.result.status),
                    committed.result.id,
                    committed.block_number,
                    describe(&committed.result)
                )
            })?;
            verdict(&committed.result)
        }
        MigrateCommand::Cancel { id, reason } => {
            let chains = ctx.chains()?;
            let (_, ledger) = chains.find_migration(&id).await?;
            let committed = ledger.cancel_migration(&msg::CloseMigration { migration_id: id, reason }).await?;
            show_closed(ctx, "cancelled", &committed)
        }
        MigrateCommand::Decline { id, reason } => {
            let chains = ctx.chains()?;
            let (_, ledger) = chains.find_migration(&id).await?;
            let committed = ledger.decline_migration(&msg::CloseMigration { migration_id: id, reason }).await?;
            show_closed(ctx, "declined", &committed)
        }
        MigrateCommand::Expire { id } => {
            let chains = ctx.chains()?;
            let (_, ledger) = chains.find_migration(&id).await?;
            let committed = ledger.expire_migration(&msg::ExpireMigration { migration_id: id }).await?;
            show_closed(ctx, "expired", &committed)
        }
        MigrateCommand::Send(args) => send(ctx, args).await,
        MigrateCommand::Run(args) => run_whole(ctx, args).await,
    }
}

fn show_closed(ctx: &Ctx, what: &str, committed: &vmledger_client::Committed<Migration>) -> anyhow::Result<()> {
    ctx.out.show(committed, || {
        format!(
            "{what} migration {} in block {}\n{}",
            committed.result.id,
            committed.block_number,
            describe(&committed.result)
        )
    })
}

async fn send(ctx: &Ctx, args: MigrateSend) -> anyhow::Result<()> {
    match destination(&args.destination) {
        Target::Dir(dir) => {
            let transferred = copy_into(ctx.out, &args.image, &dir, &args.id, args.rate_limit).await?;
            ctx.out.show(&transferred, || describe_transfer(&transferred))
        }
        Target::Agent(url) => {
            let key = args.key.required()?;
            let delivered = upload(ctx.out, &url, &args.id, &key, &args.image, args.rate_limit).await?;
            ctx.out.show(&delivered, || {
                format!("{}{}", describe_transfer(&delivered.transferred), describe_receipt(&delivered.receipt))
            })?;
            receipt_verdict(&delivered.receipt)
        }
    }
}

enum Target {
    Dir(std::path::PathBuf),
    Agent(String),
}

fn destination(d: &Destination) -> Target {
    match (&d.to_dir, &d.to_agent) {
        (Some(dir), _) => Target::Dir(dir.clone()),
        (None, Some(url)) => Target::Agent(url.clone()),
        // clap's group makes one of them required.
        (None, None) => Target::Dir(std::path::PathBuf::from(".")),
    }
}

/// Copies the image into the destination folder, with a progress bar.
async fn copy_into(
    out: Output,
    image: &std::path::Path,
    dir: &std::path::Path,
    migration_id: &str,
    rate: Option<Rate>,
) -> anyhow::Result<Transferred> {
    let bar = progress::bar(out, std::fs::metadata(image).map(|m| m.len()).unwrap_or(0), "transfer");
    let shown = bar.clone();
    let transferred = transfer::copy_to_folder(image, dir, migration_id, rate, move |n| shown.set_position(n)).await;
    bar.finish_and_clear();
    Ok(transferred?)
}

/// Uploads the image to a destination agent, with a progress bar; the agent confirms or rejects.
async fn upload(
    out: Output,
    url: &str,
    migration_id: &str,
    key: &TransferKey,
    image: &std::path::Path,
    rate: Option<Rate>,
) -> anyhow::Result<transfer::Delivered> {
    let bar = progress::bar(out, std::fs::metadata(image).map(|m| m.len()).unwrap_or(0), "upload");
    let shown = bar.clone();
    let delivered = transfer::upload(url, migration_id, key, image, rate, move |n| shown.set_position(n)).await;
    bar.finish_and_clear();
    Ok(delivered?)
}

/// `migrate run`: the SDK's workflow, with progress bars, then its report.
async fn run_whole(ctx: &Ctx, args: MigrateRun) -> anyhow::Result<()> {
    if args.live {
        return run_live(ctx, args).await;
    }
    let chains = ctx.chains()?;
    // Resolve the destination before anything is recorded, so a bad option leaves no Indication.
    let destination = match destination(&args.destination) {
        Target::Dir(dir) => {
            let identity = args.dest_as.as_deref().unwrap_or("operator");
            let profile =
                ctx.profile_of(args.dest_member.as_deref(), identity, args.dest_proxy_url, args.dest_api_key)?;
            workflow::Destination::Folder { dir, confirmer: Box::new(ctx.chains_for(&profile)?) }
        }
        Target::Agent(url) => workflow::Destination::Agent { url },
    };
    let image = args.image.ok_or_else(|| crate::exit::UsageError("give --image FILE (or --live)".into()))?;
    let to_host = match args.to_host {
        Some(host) => host,
        None => {
            let (first, _) = placement::pick(&chains, &Ask::new(&args.vm, args.strategy)).await?;
            ctx.out.note(&format!(
                "placement ({}) picked host {} of cloud {}",
                wire(&args.strategy),
                first.host_id,
                first.cloud_id
            ));
            first.host_id
        }
    };
    let run = Run {
        vm_id: args.vm,
        to_host,
        image,
        destination,
        rate_limit: args.rate_limit,
        relay_timeout: workflow::RELAY_TIMEOUT,
        idempotency_key: args.idempotency_key,
    };
    let report = run.run(&chains, progress::Bars::new(ctx.out)).await?;
    ctx.out.show(&report, || describe_run(&report))?;
    if report.status == MigrationStatus::Rejected {
        return Err(Verdict::Rejected {
            migration_id: report.migration_id.clone(),
            recorded: report.recorded_hash.clone(),
            observed: report.observed_hash.clone(),
        }
        .into());
    }
    Ok(())
}

fn describe_run(r: &RunReport) -> String {
    let step = |s: &LedgerStep| {
        format!(
            "{} ms (endorse {} + submit {} + commit {}; block {})",
            s.client_ms, s.timings.endorse_ms, s.timings.submit_ms, s.timings.commit_ms, s.block_number
        )
    };
    let agent = r.transfer.mode == TransferMode::Agent;
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
                r.transfer.rate_limit_megabits_per_second.map(|m| format!(" (cap {m:.1} Mbit/s)")).unwrap_or_default(),
                wire(&r.transfer.mode),
                r.transfer.destination
            ),
        ),
        (
            "hash (destination)",
            if agent { "while receiving".to_owned() } else { format!("{} ms", r.destination_hash_ms) },
        ),
        ("wait for Indication", format!("{} ms after the transfer", r.indication_wait_ms)),
        ("ledger: Confirm", step(&r.confirm)),
        ("chain", r.chain.clone()),
        ("relay: Leave", relay_record(r.leave.as_ref(), r.scope)),
        ("relay: Arrival", relay_record(r.arrival.as_ref(), r.scope)),
        (
            "migration delay",
            r.migration_delay_ms.map_or_else(
                || "- (the Leave was not seen)".to_owned(),
                |d| format!("{d} ms (BASICS: from the Indication to its last transaction in a block)"),
            ),
        ),
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

/// A relay's record as a line of the report.
fn relay_record(record: Option<&RelayRecord>, scope: Scope) -> String {
    match (record, scope) {
        (_, Scope::Local) => "- (a local migration has none)".to_owned(),
        (Some(r), _) => {
            format!("block {} of {} ({} ms after the Confirmation)", r.block_number, r.channel, r.after_confirm_ms)
        }
        (None, _) => "- (not seen from this member: not its chain, or the relay is behind)".to_owned(),
    }
}

/// `migrate run --live`: the SDK's live workflow, each step noted as it ends, then the report.
async fn run_live(ctx: &Ctx, args: MigrateRun) -> anyhow::Result<()> {
    let ledger = ctx.ledger()?;
    let (Some(qmp), Some(agent), Some(to_host)) = (args.qmp, args.destination.to_agent, args.to_host) else {
        return Err(
            crate::exit::UsageError("--live needs --qmp SOCKET, --to-agent URL and --to-host HOST".into()).into()
        );
    };
    let run = LiveRun {
        rate_limit: args.rate_limit,
        postcopy: args.postcopy,
        downtime_limit_ms: args.downtime_limit,
        decision_timeout: std::time::Duration::from_secs(args.decision_timeout),
        corrupt_byte_at: args.test_corrupt_byte_at,
        ..LiveRun::new(args.vm, to_host, qmp, &agent)
    };
    let report = run.run(&ledger, std::sync::Arc::new(LiveSteps(ctx.out))).await?;
    ctx.out.show(&report, || describe_live(&report))?;
    match report.status {
        MigrationStatus::Confirmed => Ok(()),
        MigrationStatus::Rejected => Err(Verdict::Rejected {
            migration_id: report.migration_id.clone(),
            recorded: report.stream_hash.clone(),
            observed: report.observed_hash.clone().unwrap_or_default(),
        }
        .into()),
        _ => Err(Verdict::Denied.into()),
    }
}

/// Notes each step of a live run on stderr as it ends.
struct LiveSteps(Output);

impl LiveObserver for LiveSteps {
    fn indicated(&self, migration_id: &str, accepted_ms: u64) {
        self.0.note(&format!("indicated migration {migration_id} (orderer accepted after {accepted_ms} ms)"));
    }

    fn finished(&self, stage: LiveStage, ms: u64) {
        self.0.note(&format!("{}: {ms} ms", wire(&stage)));
    }
}

fn describe_live(r: &LiveReport) -> String {
    let step = |s: &LedgerStep| {
        format!(
            "{} ms (endorse {} + submit {} + commit {}; block {})",
            s.client_ms, s.timings.endorse_ms, s.timings.submit_ms, s.timings.commit_ms, s.block_number
        )
    };
    let ms = |v: Option<u64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v} ms"));
    let mut pairs = vec![
        ("migration", format!("{} of VM {}: {}", r.migration_id, r.vm_id, wire(&r.status).to_uppercase())),
        ("guest runs at", wire(&r.running_at)),
        (
            "ledger: Migrate (live)",
            format!("{} (orderer accepted after {} ms)", step(&r.indicate), r.indicate_accepted_ms),
        ),
        (
            "stream",
            format!(
                "{} ms, {} bytes, {:.1} Mbit/s{}{}",
                r.stream_ms,
                r.stream_bytes,
                r.stream_megabits_per_second,
                r.rate_limit_megabits_per_second.map(|m| format!(" (cap {m:.1} Mbit/s)")).unwrap_or_default(),
                if r.postcopy { ", post-copy" } else { "" }
            ),
        ),
        ("stream sha256", r.stream_hash.clone()),
        ("ledger: RecordStreamHash", step(&r.record)),
        ("Confirmation seen", format!("{} ms after the stream's hash committed", r.confirmation_wait_ms)),
        ("quit/cont at source", format!("{} ms", r.resume_ms)),
        ("total", format!("{} ms", r.total_ms)),
        ("QEMU downtime", ms(r.qemu_downtime_ms)),
        ("gated pause", format!("{} (source STOP -> decision)", ms(r.gated_pause_ms))),
        ("host pause", format!("{} (source STOP -> destination cont, by the agent)", ms(r.host_pause_ms))),
        ("ledger's addition", format!("{} ms (RecordStreamHash + Confirmation, on the pause)", r.ledger_pause_ms)),
    ];
    if r.status == MigrationStatus::Rejected {
        pairs.push((
            "REJECTED",
            format!("observed {} != recorded {}", r.observed_hash.clone().unwrap_or_default(), r.stream_hash),
        ));
    }
    fields(&pairs)
}

/// Exit 4 when the ledger recorded a rejection.
fn verdict(migration: &Migration) -> anyhow::Result<()> {
    if migration.status == MigrationStatus::Rejected {
        return Err(Verdict::Rejected {
            migration_id: migration.id.clone(),
            recorded: migration.recorded_hash.clone().unwrap_or_default(),
            observed: migration.observed_hash.clone().unwrap_or_default(),
        }
        .into());
    }
    Ok(())
}

fn receipt_verdict(receipt: &Receipt) -> anyhow::Result<()> {
    if receipt.status == MigrationStatus::Rejected {
        return Err(Verdict::Rejected {
            migration_id: receipt.migration_id.clone(),
            recorded: receipt.recorded_hash.clone(),
            observed: receipt.observed_hash.clone(),
        }
        .into());
    }
    Ok(())
}

fn describe(m: &Migration) -> String {
    let mut pairs = vec![
        ("migration", m.id.clone()),
        ("vm", m.vm_id.clone()),
        ("status", wire(&m.status)),
        ("scope", wire(&m.scope)),
        ("from", format!("{}/{}", m.source.cloud_id, m.source.host_id)),
        ("to", format!("{}/{}", m.destination.cloud_id, m.destination.host_id)),
        ("requirements", resources(&m.requirements)),
        ("recorded sha256", m.recorded_hash.clone().unwrap_or_else(|| "(live: when its stream ends)".into())),
        ("deadline", time(&m.expires_at)),
        ("indicated", format!("{} by {}", time(&m.indicated_at), m.requested_by.msp_id)),
    ];
    if let Some(closed) = &m.closed_at {
        let by = m.closed_by.as_ref().map(|s| s.msp_id.clone()).unwrap_or_default();
        pairs.push(("closed", format!("{} by {by}", opt_time(Some(closed)))));
    }
    if let Some(observed) = &m.observed_hash {
        pairs.push(("observed sha256", observed.clone()));
    }
    if let Some(reason) = &m.reason {
        pairs.push(("reason", reason.clone()));
    }
    fields(&pairs)
}

fn describe_check(check: &MigrationCheck) -> String {
    if check.permitted {
        return "permitted\n".into();
    }
    let mut text = String::from("denied:\n");
    for violation in &check.violations {
        text.push_str(&format!("  - [{}] {violation}\n", violation.code()));
    }
    text
}

fn describe_transfer(t: &Transferred) -> String {
    fields(&[
        ("sent to", t.destination.clone()),
        ("bytes", t.bytes.to_string()),
        ("time", format!("{} ms", t.elapsed_ms)),
        ("rate", t.rate().to_string()),
    ])
}

fn describe_receipt(r: &Receipt) -> String {
    fields(&[
        ("destination says", format!("{} (block {}, tx {})", wire(&r.status), r.confirm_block, r.confirm_tx_id)),
        ("recorded sha256", r.recorded_hash.clone()),
        ("observed sha256", r.observed_hash.clone()),
        (
            "received",
            if r.resumed_from > 0 {
                format!("{} bytes (resumed from {})", r.bytes, r.resumed_from)
            } else {
                format!("{} bytes", r.bytes)
            },
        ),
    ])
}
