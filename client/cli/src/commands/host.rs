//! `vmledger host register|update|show|list`.

use vmledger_contract::model::{Host, Resources};
use vmledger_contract::msg;

use crate::args::{HostCommand, PageArgs, ResourceArgs};
use crate::context::Ctx;
use crate::exit::UsageError;
use crate::output::{Table, fields, resources};

pub(crate) async fn run(ctx: &Ctx, command: HostCommand) -> anyhow::Result<()> {
    let ledger = ctx.ledger()?;
    match command {
        HostCommand::Register(args) => {
            let input = msg::RegisterHost {
                id: args.id,
                cloud_id: args.cloud,
                country: args.country,
                organizations: args.organizations,
                capacity: required(&args.capacity, "capacity")?,
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
        HostCommand::Show { id } => {
            let host = ledger.get_host(&id).await?;
            ctx.out.show(&host, || describe(&host))
        }
        HostCommand::List(args) => {
            let mut input = msg::ListHosts {
                cloud_id: args.cloud,
                page_size: args.page.page_size,
                bookmark: args.page.bookmark.clone(),
            };
            let (hosts, bookmark) = pages(&args.page, |bookmark| {
                input.bookmark = bookmark;
                let input = input.clone();
                let ledger = ledger.clone();
                async move { ledger.list_hosts(&input).await }
            })
            .await?;
            let page = vmledger_contract::model::Page { items: hosts, bookmark };
            ctx.out.show(&page, || {
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
            })
        }
    }
}

/// Reads one page, or every page with --all. Returns the items and the next bookmark.
pub(crate) async fn pages<T, F, Fut>(args: &PageArgs, mut fetch: F) -> anyhow::Result<(Vec<T>, Option<String>)>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: std::future::Future<Output = vmledger_client::Result<vmledger_contract::model::Page<T>>>,
{
    let mut items = Vec::new();
    let mut bookmark = args.bookmark.clone();
    loop {
        let page = fetch(bookmark).await?;
        items.extend(page.items);
        bookmark = page.bookmark.filter(|b| !b.is_empty());
        if !args.all || bookmark.is_none() {
            return Ok((items, bookmark));
        }
    }
}

impl ResourceArgs {
    pub(crate) fn any(&self) -> bool {
        self.cpu.is_some() || self.memory_mib.is_some() || self.network_mbps.is_some() || self.io_mbps.is_some()
    }

    /// These values over `current` for the resources not given.
    pub(crate) fn over(&self, current: Resources) -> Resources {
        Resources {
            cpu_cores: self.cpu.unwrap_or(current.cpu_cores),
            memory_mib: self.memory_mib.unwrap_or(current.memory_mib),
            network_mbps: self.network_mbps.unwrap_or(current.network_mbps),
            io_mbps: self.io_mbps.unwrap_or(current.io_mbps),
        }
    }
}

/// All four resources, each given.
pub(crate) fn required(args: &ResourceArgs, what: &str) -> Result<Resources, UsageError> {
    match (args.cpu, args.memory_mib, args.network_mbps, args.io_mbps) {
        (Some(cpu_cores), Some(memory_mib), Some(network_mbps), Some(io_mbps)) => {
            Ok(Resources { cpu_cores, memory_mib, network_mbps, io_mbps })
        }
        _ => Err(UsageError(format!("give the whole {what}: --cpu, --memory-mib, --network-mbps and --io-mbps"))),
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
