//! `vmledger history vm|cloud`: migrations by time range, page by page. With `-o ndjson` or `-o csv`
//! pages are printed as they arrive (one migration per line), so `--all` streams.

use chrono::Utc;
use serde::Serialize;
use vmledger_client::rows::{MigrationRow, ResidencyRow};
use vmledger_contract::model::{Migration, Page, VmHistory};
use vmledger_contract::msg;

use crate::args::{HistoryCommand, PageArgs, Period};
use crate::context::Ctx;
use crate::output::{Format, Table, allowed, opt_time, short, time, wire};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WithHistory {
    migrations: Page<Migration>,
    history: VmHistory,
}

pub(crate) async fn run(ctx: &Ctx, command: HistoryCommand) -> anyhow::Result<()> {
    let ledger = ctx.ledger()?;
    let (vm_id, cloud_id, period, page, residencies) = match command {
        HistoryCommand::Vm { id, period, page, residencies } => (Some(id), None, period, page, residencies),
        HistoryCommand::Cloud { id, period, page } => (None, Some(id), period, page, false),
    };
    let mut pages = ledger.migration_pages(&query(vm_id.clone(), cloud_id, &period, &page));
    let streaming = matches!(ctx.out.format, Format::Ndjson | Format::Csv);

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
    stream.finish()?;
    let migrations = Page { items, bookmark: pages.bookmark().map(str::to_owned) };
    if streaming {
        if let Some(b) = &migrations.bookmark {
            ctx.out.note(&format!("more: --bookmark {b}"));
        }
        return Ok(());
    }
    match vm_id.filter(|_| residencies) {
        Some(id) => {
            let history = ledger.vm_history(&id).await?;
            let both = WithHistory { migrations, history };
            ctx.out.show(&both, || format!("{}\n{}", table(&both.migrations), stays(&both.history)))
        }
        None => ctx.out.show(&migrations, || table(&migrations)),
    }
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

fn stays(h: &VmHistory) -> String {
    let mut t = Table::new(&["FROM", "TO", "CLOUD", "HOST", "OPENED BY"]);
    for r in &h.residencies {
        t.row(vec![
            time(&r.from),
            opt_time(r.to.as_ref()),
            r.cloud_id.clone(),
            r.host_id.clone(),
            short(&r.opened_by_tx),
        ]);
    }
    let mut text = format!("residencies of VM {}\n{}", h.vm.id, t.render());
    let mut changes = Table::new(&["AT", "COUNTRIES", "ORGANISATIONS", "TX"]);
    for c in &h.regulation_changes {
        changes.row(vec![
            time(&c.at),
            allowed(&c.regulation.countries),
            allowed(&c.regulation.organizations),
            short(&c.tx_id),
        ]);
    }
    text.push_str(&format!("\nregulation changes\n{}", changes.render()));
    text
}
