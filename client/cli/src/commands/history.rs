//! `vmledger history vm|cloud`: migrations by time range, page by page. With `-o ndjson` or `-o csv`
//! pages are printed as they arrive (one migration per line), so `--all` streams.

use chrono::Utc;
use vmledger_client::chains::Trail;
use vmledger_client::rows::{MigrationRow, ResidencyRow};
use vmledger_contract::model::{LocalRecords, Migration, Page, Residency, Scope};
use vmledger_contract::msg;

use crate::args::{HistoryCommand, PageArgs, Period};
use crate::context::Ctx;
use crate::output::{Format, Table, allowed, opt_time, short, time, wire};

pub(crate) async fn run(ctx: &Ctx, command: HistoryCommand) -> anyhow::Result<()> {
    let chains = ctx.chains()?;
    let ledger = chains.federation().clone();
    let (vm_id, cloud_id, period, page, residencies) = match command {
        HistoryCommand::Vm { id, period, page, residencies } => (Some(id), None, period, page, residencies),
        HistoryCommand::Cloud { id, period, page } => (None, Some(id), period, page, false),
    };
    let streaming = matches!(ctx.out.format, Format::Ndjson | Format::Csv);
    if let (Some(id), false) = (&vm_id, streaming) {
        // A VM's whole trail: both chains, with the relays' records, oldest first.
        let trail = chains.vm_trail(&query(Some(id.clone()), None, &period, &page)).await?;
        return ctx.out.show(&trail, || {
            let mut text = trail_table(&trail);
            if residencies {
                text.push_str(&format!(
                    "\nresidencies of VM {} (the federation's: what billing counts)\n",
                    trail.vm_id
                ));
                text.push_str(&residency_table(&trail.residencies));
                let mut changes = Table::new(&["AT", "COUNTRIES", "ORGANISATIONS", "TX"]);
                for c in &trail.regulation_changes {
                    changes.row(vec![
                        time(&c.at),
                        allowed(&c.regulation.countries),
                        allowed(&c.regulation.organizations),
                        short(&c.tx_id),
                    ]);
                }
                text.push_str(&format!("\nregulation changes\n{}", changes.render()));
            }
            text
        });
    }
    let mut pages = ledger.migration_pages(&query(vm_id.clone(), cloud_id, &period, &page));

    if let (Some(id), true) = (&vm_id, residencies && streaming) {
        // A stream of rows is one table: with --residencies, the stays.
        let history = ledger.vm_history(id).await?;
        return ctx.out.list(&history, &history.residencies, |r| ResidencyRow::from(r), String::new);
    }
    let mut items = Vec::new();
    let mut stream = ctx.out.stream();
    while let Some(next) = pages.next_page().await {
        let next = next?;
        if streaming {
            for m in &next.items {
                stream.item(m, || MigrationRow::from(m), String::new)?;
            }
        } else {
            items.extend(next.items);
        }
        if !page.all {
            break;
        }
    }
    // A VM's moves inside this member's cloud are on its local chain.
    if let (Some(local), Some(_)) = (chains.local(), &vm_id) {
        let mut local_pages = local.migration_pages(&query(vm_id.clone(), None, &period, &page));
        while let Some(next) = local_pages.next_page().await {
            let Ok(next) = next else { break };
            for m in &next.items {
                stream.item(m, || MigrationRow::from(m), String::new)?;
            }
            if !page.all {
                break;
            }
        }
    }
    stream.finish()?;
    let migrations = Page { items, bookmark: pages.bookmark().map(str::to_owned), unanchored: Vec::new() };
    if streaming {
        if let Some(b) = &migrations.bookmark {
            ctx.out.note(&format!("more: --bookmark {b}"));
        }
        return Ok(());
    }
    ctx.out.show(&migrations, || table(&migrations))
}

fn query(vm_id: Option<String>, cloud_id: Option<String>, period: &Period, page: &PageArgs) -> msg::ListMigrations {
    let now = Utc::now();
    msg::ListMigrations {
        vm_id,
        cloud_id,
        from: period.from.as_ref().map(|w| w.resolve(now)),
        to: period.to.as_ref().map(|w| w.resolve(now)),
        page_size: page.page_size,
        bookmark: page.bookmark.clone(),
    }
}

fn table(page: &Page<Migration>) -> String {
    let mut t = Table::new(&["INDICATED", "MIGRATION", "VM", "FROM", "TO", "SCOPE", "STATUS", "CLOSED"]);
    for m in &page.items {
        t.row(vec![
            time(&m.indicated_at),
            short(&m.id),
            m.vm_id.clone(),
            format!("{}/{}", m.source.cloud_id, m.source.host_id),
            format!("{}/{}", m.destination.cloud_id, m.destination.host_id),
            wire(&m.scope),
            wire(&m.status),
            opt_time(m.closed_at.as_ref()),
        ]);
    }
    let mut text = if t.is_empty() { "no migrations\n".to_owned() } else { t.render() };
    if let Some(b) = &page.bookmark {
        text.push_str(&format!("more: --bookmark {b}\n"));
    }
    text
}

/// A VM's moves on both chains: inter-cloud ones with this member's Leave or Arrival.
fn trail_table(trail: &Trail) -> String {
    let mut t = Table::new(&["INDICATED", "MIGRATION", "CHAIN", "FROM", "TO", "SCOPE", "STATUS", "LEAVE/ARRIVAL HERE"]);
    for e in &trail.moves {
        let m = &e.migration;
        let relayed = match (&e.local_record, m.scope) {
            (_, Scope::Local) => "-".to_owned(),
            (Some(record), _) => local_record(record),
            (None, _) => "none on this member's chain".to_owned(),
        };
        t.row(vec![
            time(&m.indicated_at),
            short(&m.id),
            e.chain.clone(),
            format!("{}/{}", m.source.cloud_id, m.source.host_id),
            format!("{}/{}", m.destination.cloud_id, m.destination.host_id),
            wire(&m.scope),
            wire(&m.status),
            relayed,
        ]);
    }
    let read =
        trail.local_channel.as_deref().map_or_else(|| "no local chain".to_owned(), |c| format!("federation and {c}"));
    let mut text = format!("moves of VM {} (read from the {read})\n", trail.vm_id);
    text.push_str(&if t.is_empty() { "no migrations\n".to_owned() } else { t.render() });
    text
}

/// The Leave and Arrival a local chain holds of a migration, in a few words: which, and when.
fn local_record(records: &LocalRecords) -> String {
    [("leave", &records.leave), ("arrival", &records.arrival)]
        .into_iter()
        .filter_map(|(what, record)| record.as_ref().map(|r| format!("{what} at {}", time(&r.recorded_at))))
        .collect::<Vec<_>>()
        .join(", ")
}

fn residency_table(residencies: &[Residency]) -> String {
    let mut t = Table::new(&["FROM", "TO", "CLOUD", "HOST", "OPENED BY"]);
    for r in residencies {
        t.row(vec![
            time(&r.from),
            opt_time(r.to.as_ref()),
            r.cloud_id.clone(),
            r.host_id.clone(),
            short(&r.opened_by_tx),
        ]);
    }
    t.render()
}
