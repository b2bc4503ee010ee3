//! `vmledger cloud register|show`.

use vmledger_contract::model::{Cloud, Prices};
use vmledger_contract::msg;

use crate::args::{CloudCommand, CloudRegister};
use crate::context::Ctx;
use crate::output::{fields, money, time};

pub(crate) async fn run(ctx: &Ctx, command: CloudCommand) -> anyhow::Result<()> {
    let ledger = ctx.ledger()?;
    match command {
        CloudCommand::Register(args) => {
            let committed = ledger.register_cloud(&register_msg(args)).await?;
            ctx.out.show(&committed, || {
                format!(
                    "registered cloud {} in block {} (tx {})\n{}",
                    committed.result.id,
                    committed.block_number,
                    committed.tx_id,
                    describe(&committed.result)
                )
            })
        }
        CloudCommand::Show { id } => {
            let cloud = ledger.get_cloud(&id).await?;
            ctx.out.show(&cloud, || describe(&cloud))
        }
    }
}

fn register_msg(args: CloudRegister) -> msg::RegisterCloud {
    let prices =
        match (args.currency, args.cpu_core_hour, args.memory_gib_hour, args.network_mbps_hour, args.io_mbps_hour) {
            (Some(currency), Some(cpu), Some(memory), Some(network), Some(io)) => Some(Prices {
                currency,
                cpu_core_hour: cpu,
                memory_gib_hour: memory,
                network_mbps_hour: network,
                io_mbps_hour: io,
            }),
            _ => None,
        };
    msg::RegisterCloud { id: args.id, name: args.name, prices }
}

pub(crate) fn describe(cloud: &Cloud) -> String {
    let mut pairs = vec![
        ("cloud", cloud.id.clone()),
        ("name", cloud.name.clone()),
        ("operator", cloud.msp_id.clone()),
        ("registered", time(&cloud.registered_at)),
    ];
    if let Some(p) = &cloud.prices {
        let c = Some(p.currency.as_str());
        pairs.push((
            "prices/hour",
            format!(
                "cpu core {}, memory GiB {}, network Mbps {}, io Mbps {}",
                money(p.cpu_core_hour, c),
                money(p.memory_gib_hour, c),
                money(p.network_mbps_hour, c),
                money(p.io_mbps_hour, c)
            ),
        ));
    }
    fields(&pairs)
}
