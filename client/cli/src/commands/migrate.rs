//! `vmledger migrate check|start|show|confirm|cancel|send|run`: the protocol step by step, or whole
//! (`run` is the SDK's workflow, [`vmledger_client::workflow::migrate`]).

use vmledger_client::image::Rate;
use vmledger_client::transfer::{self, Receipt, Transferred};
use vmledger_client::workflow::live::{LiveObserver, LiveReport, LiveRun, LiveStage};
use vmledger_client::workflow::migrate::{self as workflow, LedgerStep, MigrateRun as Run, RunReport, TransferMode};
use vmledger_client::workflow::placement::{self, Candidate};
use vmledger_contract::model::{Migration, MigrationCheck, MigrationStatus};
use vmledger_contract::msg;

use crate::args::{Destination, MigrateCommand, MigratePlace, MigrateRun, MigrateSend};
use crate::context::Ctx;
use crate::exit::Verdict;
use crate::output::{Output, fields, opt_time, resources, time, wire};
use crate::progress;

pub(crate) async fn run(ctx: &Ctx, command: MigrateCommand) -> anyhow::Result<()> {
    match command {
        MigrateCommand::Check(args) => {
            let input = msg::Migrate { vm_id: args.vm, destination_host_id: args.to_host, image_hash: args.image_hash };
            let check = ctx.ledger()?.check_migration(&input).await?;
            ctx.out.show(&check, || describe_check(&check))?;
            if check.permitted { Ok(()) } else { Err(Verdict::Denied.into()) }
        }
        MigrateCommand::Place(args) => place(ctx, args).await,
        MigrateCommand::Start(args) => {
            let ledger = ctx.ledger()?;
            let input = msg::Migrate {
                vm_id: args.vm,
                destination_host_id: args.to_host,
                image_hash: Some(args.image.hash(ctx.out).await?),
            };
            if args.no_wait {
                let pending = ledger.migrate_async(&input).await?;
                let answer = serde_json::json!({"migrationId": pending.migration_id(), "status": "pending", "acceptedMs": pending.accepted_ms()});
                return ctx.out.show(&answer, || {
                    format!(
                        "migration {} accepted by the orderer in {} ms; its commit is pending",
                        pending.migration_id(),
                        pending.accepted_ms()
                    )
                });
            }
            let committed = ledger.migrate(&input).await?;
            ctx.out.show(&committed, || {
                format!(
                    "indicated migration {} in block {} ({} ms)\n{}",
                    committed.tx_id,
                    committed.block_number,
                    committed.timings.total_ms,
                    describe(&committed.result)
                )
            })
        }
        MigrateCommand::Show { id } => {
            let migration = ctx.ledger()?.get_migration(&id).await?;
            ctx.out.show(&migration, || describe(&migration))
        }
        MigrateCommand::Confirm(args) => {
            let ledger = ctx.ledger()?;
            let observed_hash = match (args.observed_hash, &args.image) {
                (Some(hash), _) => hash,
                (None, Some(path)) => progress::hash(ctx.out, path).await?.hash,
                (None, None) => {
                    return Err(crate::exit::UsageError("give --image FILE or --observed-hash HEX".into()).into());
                }
            };
            let committed =
                ledger.confirm_migration(&msg::ConfirmMigration { migration_id: args.id, observed_hash }).await?;
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
            let committed = ctx.ledger()?.cancel_migration(&msg::CancelMigration { migration_id: id, reason }).await?;
            ctx.out.show(&committed, || {
                format!(
                    "cancelled migration {} in block {}\n{}",
                    committed.result.id,
                    committed.block_number,
                    describe(&committed.result)
                )
            })
        }
        MigrateCommand::Send(args) => send(ctx, args).await,
        MigrateCommand::Run(args) => run_whole(ctx, args).await,
    }
}

async fn send(ctx: &Ctx, args: MigrateSend) -> anyhow::Result<()> {
    match destination(&args.destination) {
        Target::Dir(dir) => {
            let transferred = copy_into(ctx.out, &args.image, &dir, &args.id, args.rate_limit).await?;
            ctx.out.show(&transferred, || describe_transfer(&transferred))
        }
        Target::Agent(url) => {
            let delivered = upload(ctx.out, &url, &args.id, &args.image, args.rate_limit).await?;
            ctx.out.show(&delivered, || {
                format!("{}{}", describe_transfer(&delivered.transferred), describe_receipt(&delivered.receipt))
            })?;
            receipt_verdict(&delivered.receipt)
        }
    }
}

/// A placement candidate as a CSV row.
#[derive(serde::Serialize)]
struct PlaceRow {
    host: String,
    cloud: String,
    country: String,
    organizations: String,
    permitted: bool,
    slack: f64,
    reasons: String,
}

fn place_row(c: &Candidate) -> PlaceRow {
    PlaceRow {
        host: c.host.id.clone(),
        cloud: c.host.cloud_id.clone(),
        country: c.host.country.clone(),
        organizations: c.host.organizations.join(";"),
        permitted: c.permitted,
        slack: (c.slack * 1000.0).round() / 1000.0,
        reasons: c.violations.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "),
    }
}

/// `migrate place`: the SDK's placement, best fit first.
async fn place(ctx: &Ctx, args: MigratePlace) -> anyhow::Result<()> {
    let found = placement::place(&ctx.ledger()?, &args.vm, &args.clouds).await?;
    let all: Vec<&Candidate> = found.permitted.iter().chain(&found.denied).collect();
    ctx.out.list(
        &found,
        &all,
        |c| place_row(c),
        || {
            let mut table = crate::output::Table::new(&["HOST", "CLOUD", "COUNTRY", "ORGANISATIONS", "VERDICT"]);
            for c in &all {
                let verdict = if c.permitted {
                    "permitted".to_owned()
                } else {
                    c.violations.iter().map(|v| format!("[{}] {v}", v.code())).collect::<Vec<_>>().join("; ")
                };
                table.row(vec![
                    c.host.id.clone(),
                    c.host.cloud_id.clone(),
                    c.host.country.clone(),
                    c.host.organizations.join(","),
                    verdict,
                ]);
            }
            format!(
                "{}{} of {} hosts permitted for VM {}",
                table.render(),
                found.permitted.len(),
                all.len(),
                found.vm_id
            )
        },
    )?;
    if found.permitted.is_empty() { Err(Verdict::Denied.into()) } else { Ok(()) }
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
    image: &std::path::Path,
    rate: Option<Rate>,
) -> anyhow::Result<transfer::Delivered> {
    let bar = progress::bar(out, std::fs::metadata(image).map(|m| m.len()).unwrap_or(0), "upload");
    let shown = bar.clone();
    let delivered = transfer::upload(url, migration_id, image, rate, move |n| shown.set_position(n)).await;
    bar.finish_and_clear();
    Ok(delivered?)
}

/// `migrate run`: the SDK's workflow, with progress bars, then its report.
async fn run_whole(ctx: &Ctx, args: MigrateRun) -> anyhow::Result<()> {
    if args.live {
        return run_live(ctx, args).await;
    }
    let ledger = ctx.ledger()?;
    // Resolve the destination before anything is recorded, so a bad option leaves no Indication.
    let destination = match destination(&args.destination) {
        Target::Dir(dir) => {
            let identity = args.dest_as.as_deref().unwrap_or("operator");
            let profile =
                ctx.profile_of(args.dest_member.as_deref(), identity, args.dest_proxy_url, args.dest_api_key)?;
            workflow::Destination::Folder { dir, confirmer: Box::new(ctx.ledger_for(&profile)?) }
        }
        Target::Agent(url) => workflow::Destination::Agent { url },
    };
    let image = args.image.ok_or_else(|| crate::exit::UsageError("give --image FILE (or --live)".into()))?;
    let run = Run { vm_id: args.vm, to_host: args.to_host, image, destination, rate_limit: args.rate_limit };
    let report = run.run(&ledger, progress::Bars::new(ctx.out)).await?;
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

/// `migrate run --live`: the SDK's live workflow, each step noted as it ends, then the report.
async fn run_live(ctx: &Ctx, args: MigrateRun) -> anyhow::Result<()> {
    let ledger = ctx.ledger()?;
    let (Some(qmp), Some(agent)) = (args.qmp, args.destination.to_agent) else {
        return Err(crate::exit::UsageError("--live needs --qmp SOCKET and --to-agent URL".into()).into());
    };
    let run = LiveRun {
        rate_limit: args.rate_limit,
        postcopy: args.postcopy,
        downtime_limit_ms: args.downtime_limit,
        decision_timeout: std::time::Duration::from_secs(args.decision_timeout),
        corrupt_byte_at: args.test_corrupt_byte_at,
        ..LiveRun::new(args.vm, args.to_host, qmp, &agent)
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
            recorded: migration.recorded_hash.clone(),
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
        ("recorded sha256", m.recorded_hash.clone()),
        ("indicated", format!("{} by {}", time(&m.indicated_at), m.requested_by.msp_id)),
    ];
    if let Some(closed) = &m.closed_at {
        let by = m.closed_by.as_ref().map(|s| s.msp_id.clone()).unwrap_or_default();
        pairs.push(("closed", format!("{} by {by}", opt_time(Some(closed)))));
    }
    if let Some(observed) = &m.observed_hash {
        pairs.push(("observed sha256", observed.clone()));
    }
    if let Some(reason) = &m.cancel_reason {
        pairs.push(("cancel reason", reason.clone()));
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
        ("received", format!("{} bytes{}", r.bytes, if r.truncated { " (truncated)" } else { "" })),
    ])
}
