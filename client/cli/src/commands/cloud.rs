//! `vmledger cloud register|show|reputation`.

use vmledger_contract::model::{Cloud, Prices};
use vmledger_contract::msg;
use vmledger_contract::reputation::{GetReputation, Reputation, SCORE_SCALE};

use crate::args::{CloudCommand, CloudRegister};
use crate::context::Ctx;
use crate::output::{Table, fields, money, time};

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
        CloudCommand::Reputation(args) => {
            let now = chrono::Utc::now();
            let input = GetReputation {
                cloud_id: args.id,
                from: args.from.map(|w| w.resolve(now)),
                to: args.to.map(|w| w.resolve(now)),
            };
            let reputation = ledger.get_reputation(&input).await?;
            ctx.out.show(&reputation, || describe_reputation(&reputation))
        }
    }
}

/// Each figure with the migrations behind it.
fn describe_reputation(r: &Reputation) -> String {
    let mut table = Table::new(&["SIDE", "OUTCOME", "COUNT", "MIGRATIONS OR CLAIMS"]);
    for (side, outcomes) in [("destination", &r.as_destination), ("source", &r.as_source)] {
        for (name, figure) in [
            ("confirmed", &outcomes.confirmed),
            ("rejected", &outcomes.rejected),
            ("declined", &outcomes.declined),
            ("expired", &outcomes.expired),
            ("cancelled", &outcomes.cancelled),
            ("pending", &outcomes.pending),
        ] {
            if figure.count > 0 {
                table.row(vec![side.into(), name.into(), figure.count.to_string(), figure.migration_ids.join(" ")]);
            }
        }
    }
    if r.accepted_violations.count > 0 {
        table.row(vec![
            "accused".into(),
            "violation accepted".into(),
            r.accepted_violations.count.to_string(),
            r.accepted_violations.claim_ids.join(" "),
        ]);
    }
    let mut text = fields(&[
        ("cloud", r.cloud_id.clone()),
        ("period", format!("{} to {}", time(&r.from), time(&r.to))),
        ("score", r.score.map_or_else(|| "none yet".into(), |s| format!("{s} / {SCORE_SCALE}"))),
        ("mean time to confirm", r.mean_confirm_ms.map_or_else(|| "-".into(), |ms| format!("{ms} ms"))),
        ("migrations", format!("{}{}", r.migrations, if r.truncated { " (the period holds more)" } else { "" })),
    ]);
    text.push('\n');
    text.push_str(&if table.is_empty() { "no migrations in the period\n".to_owned() } else { table.render() });
    text
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
