//! `vmledger host register|update|show|list|availability`.

use vmledger_contract::model::{Host, Page};
use vmledger_contract::msg;
use vmledger_contract::placement::SetHostAvailability;

use crate::args::HostCommand;
use crate::context::Ctx;
use vmledger_client::rows::HostRow;

use crate::output::{Format, Table, fields, resources};

pub(crate) async fn run(ctx: &Ctx, command: HostCommand) -> anyhow::Result<()> {
    let ledger = ctx.ledger()?;
    match command {
        HostCommand::Register(args) => {
            let input = msg::RegisterHost {
                id: args.id,
                cloud_id: args.cloud,
                country: args.country,
                organizations: args.organizations,
                capacity: args.capacity.required("capacity")?,
            };
            let committed = ledger.register_host(&input).await?;
            ctx.out.show(&committed, || {
                format!(
                    "registered host {} in block {} (tx {})\n{}",
                    committed.result.id,
                    committed.block_number,
                    committed.tx_id,
                    describe(&committed.result)
                )
            })
        }
        HostCommand::Update(args) => {
            let capacity = if args.capacity.any() {
                let current = ledger.get_host(&args.id).await?;
                Some(args.capacity.over(current.capacity))
            } else {
                None
            };
            let input = msg::UpdateHost {
                id: args.id,
                country: args.country,
                organizations: (!args.organizations.is_empty()).then_some(args.organizations),
                capacity,
            };
            let committed = ledger.update_host(&input).await?;
            ctx.out.show(&committed, || {
                format!(
                    "updated host {} in block {} (tx {})\n{}",
                    committed.result.id,
                    committed.block_number,
                    committed.tx_id,
                    describe(&committed.result)
                )
            })
        }
        HostCommand::Availability(args) => {
            let input = SetHostAvailability {
                host_id: args.id,
                availability: args.availability,
                utilization_percent: args.utilization,
                reason: args.reason,
            };
            let committed = ledger.set_host_availability(&input).await?;
            let state = &committed.result;
            ctx.out.show(&committed, || {
                format!(
                    "host {} is {} since {} (block {}, tx {})",
                    state.host_id,
                    state.availability.wire(),
                    state.since.as_ref().map(crate::output::time).unwrap_or_default(),
                    committed.block_number,
                    committed.tx_id
                )
            })
        }
        HostCommand::Show { id } => {
            let host = ledger.get_host(&id).await?;
            ctx.out.show(&host, || describe(&host))
        }
        HostCommand::List(args) => {
            let input = msg::ListHosts {
                cloud_id: args.cloud,
                page_size: args.page.page_size,
                bookmark: args.page.bookmark.clone(),
            };
            let mut pages = ledger.host_pages(&input);
            let mut items = Vec::new();
            while let Some(page) = pages.next_page().await {
                items.extend(page?.items);
                if !args.page.all {
                    break;
                }
            }
            let page = Page { items, bookmark: pages.bookmark().map(str::to_owned), unanchored: Vec::new() };
            if let Some(b) = &page.bookmark
                && ctx.out.format != Format::Table
            {
                ctx.out.note(&format!("more: --bookmark {b}"));
            }
            ctx.out.list(
                &page,
                &page.items,
                |h| HostRow::from(h),
                || {
                    let mut table = Table::new(&[
                        "HOST",
                        "CLOUD",
                        "COUNTRY",
                        "ORGANISATIONS",
                        "CPU",
                        "MEMORY MiB",
                        "NET Mbps",
                        "IO Mbps",
                    ]);
                    for h in &page.items {
                        table.row(vec![
                            h.id.clone(),
                            h.cloud_id.clone(),
                            h.country.clone(),
                            h.organizations.join(","),
                            h.capacity.cpu_cores.to_string(),
                            h.capacity.memory_mib.to_string(),
                            h.capacity.network_mbps.to_string(),
                            h.capacity.io_mbps.to_string(),
                        ]);
                    }
                    let mut text = table.render();
                    if let Some(b) = &page.bookmark {
                        text.push_str(&format!("more: --bookmark {b}\n"));
                    }
                    text
                },
            )
        }
    }
}

pub(crate) fn describe(host: &Host) -> String {
    fields(&[
        ("host", host.id.clone()),
        ("cloud", host.cloud_id.clone()),
        ("country", host.country.clone()),
        ("organisations", host.organizations.join(", ")),
        ("capacity", resources(&host.capacity)),
    ])
}
