//! `vmledger migrate check|start|show|confirm|cancel|send` (and `run`, in `migrate_run`).

use anyhow::Context;
use vmledger_client::transfer::{self, Receipt, Transferred};
use vmledger_contract::model::{Migration, MigrationCheck, MigrationStatus};
use vmledger_contract::msg;

use super::hash::hash_with_progress;
use super::vm::image_hash;
use crate::args::{Destination, MigrateCommand, MigrateSend};
use crate::context::Ctx;
use crate::exit::Verdict;
use crate::output::{Output, fields, opt_time, resources, time, wire};

pub(crate) async fn run(ctx: &Ctx, command: MigrateCommand) -> anyhow::Result<()> {
    match command {
        MigrateCommand::Check(args) => {
            let input = msg::Migrate { vm_id: args.vm, destination_host_id: args.to_host, image_hash: args.image_hash };
            let check = ctx.ledger()?.check_migration(&input).await?;
            ctx.out.show(&check, || describe_check(&check))?;
            if check.permitted { Ok(()) } else { Err(Verdict::Denied.into()) }
        }
        MigrateCommand::Start(args) => {
            let ledger = ctx.ledger()?;
            let input = msg::Migrate {
                vm_id: args.vm,
                destination_host_id: args.to_host,
                image_hash: Some(image_hash(ctx, &args.image).await?),
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
                (None, Some(path)) => hash_with_progress(ctx, path).await?.hash,
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
        MigrateCommand::Run(args) => super::migrate_run::run(ctx, args).await,
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

pub(crate) enum Target {
    Dir(std::path::PathBuf),
    Agent(String),
}

pub(crate) fn destination(d: &Destination) -> Target {
    match (&d.to_dir, &d.to_agent) {
        (Some(dir), _) => Target::Dir(dir.clone()),
        (None, Some(url)) => Target::Agent(url.clone()),
        // clap's group makes one of them required.
        (None, None) => Target::Dir(std::path::PathBuf::from(".")),
    }
}

/// Where an image for `migration_id` lands in a destination folder.
pub(crate) fn landing_path(dir: &std::path::Path, migration_id: &str) -> std::path::PathBuf {
    dir.join(format!("{migration_id}.img"))
}

/// Copies the image into the destination folder, with a progress bar.
pub(crate) async fn copy_into(
    out: Output,
    image: &std::path::Path,
    dir: &std::path::Path,
    migration_id: &str,
    rate: Option<vmledger_client::image::Rate>,
) -> anyhow::Result<Transferred> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let size = std::fs::metadata(image).with_context(|| format!("reading {}", image.display()))?.len();
    let bar = out.bar(size, "transfer");
    let progress = bar.clone();
    let (from, to) = (image.to_owned(), landing_path(dir, migration_id));
    let transferred =
        tokio::task::spawn_blocking(move || transfer::copy_file(&from, &to, rate, |n| progress.set_position(n)))
            .await
            .context("the transfer thread stopped")??;
    bar.finish_and_clear();
    Ok(transferred)
}

/// Uploads the image to a destination agent, with a progress bar; the agent confirms or rejects.
pub(crate) async fn upload(
    out: Output,
    url: &str,
    migration_id: &str,
    image: &std::path::Path,
    rate: Option<vmledger_client::image::Rate>,
) -> anyhow::Result<transfer::Delivered> {
    let size = std::fs::metadata(image).with_context(|| format!("reading {}", image.display()))?.len();
    let bar = out.bar(size, "upload");
    let progress = bar.clone();
    let delivered = transfer::upload(url, migration_id, image, rate, move |n| progress.set_position(n)).await;
    bar.finish_and_clear();
    Ok(delivered?)
}

/// Exit 4 when the ledger recorded a rejection.
pub(crate) fn verdict(migration: &Migration) -> anyhow::Result<()> {
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

pub(crate) fn receipt_verdict(receipt: &Receipt) -> anyhow::Result<()> {
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

pub(crate) fn describe(m: &Migration) -> String {
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

pub(crate) fn describe_transfer(t: &Transferred) -> String {
    fields(&[
        ("sent to", t.destination.clone()),
        ("bytes", t.bytes.to_string()),
        ("time", format!("{} ms", t.elapsed_ms)),
        ("rate", t.rate().to_string()),
    ])
}

pub(crate) fn describe_receipt(r: &Receipt) -> String {
    fields(&[
        ("destination says", format!("{} (block {}, tx {})", wire(&r.status), r.confirm_block, r.confirm_tx_id)),
        ("recorded sha256", r.recorded_hash.clone()),
        ("observed sha256", r.observed_hash.clone()),
        ("received", format!("{} bytes{}", r.bytes, if r.truncated { " (truncated)" } else { "" })),
    ])
}
