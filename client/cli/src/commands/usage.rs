//! `vmledger usage`: what a cloud hosted over a period, as a billing report: a table, the report
//! (`-o json|yaml`), one row per VM and a total (`-o csv`, the SDK's `UsageRow`), or one VM per line
//! (`-o ndjson`).

use chrono::Utc;
use vmledger_client::rows::UsageRow;
use vmledger_contract::model::UsageReport;
use vmledger_contract::msg;

use crate::args::UsageArgs;
use crate::context::Ctx;
use crate::output::{Format, Table, money, time};

pub(crate) async fn run(ctx: &Ctx, args: UsageArgs) -> anyhow::Result<()> {
    let now = Utc::now();
    let input =
        msg::Usage { cloud_id: args.cloud, from: args.from.resolve(now), to: args.to.map_or(now, |w| w.resolve(now)) };
    let report = ctx.ledger()?.usage(&input).await?;
    if ctx.out.format == Format::Csv {
        // The total is a row of its own.
        let rows = UsageRow::of_report(&report);
        return ctx.out.list(&report, &rows, Clone::clone, String::new);
    }
    ctx.out.list(&report, &report.vms, |vm| vm.clone(), || table(&report))
}

fn hours(ms: u64) -> f64 {
    ms as f64 / 3_600_000.0
}

fn table(r: &UsageReport) -> String {
    let mut t = Table::new(&["VM", "OPERATOR", "HOURS", "CPU CORE-H", "MEM GiB-H", "NET Mbps-H", "IO Mbps-H", "COST"]);
    let currency = r.currency.as_deref();
    for vm in &r.vms {
        t.row(vec![
            vm.vm_id.clone(),
            vm.operator_cloud_id.clone(),
            format!("{:.3}", hours(vm.duration_ms)),
            format!("{:.3}", vm.cpu_core_hours),
            format!("{:.3}", vm.memory_gib_hours),
            format!("{:.3}", vm.network_mbps_hours),
            format!("{:.3}", vm.io_mbps_hours),
            vm.cost.map(|c| money(c, currency)).unwrap_or_else(|| "-".into()),
        ]);
    }
    let mut text = format!("usage of cloud {} from {} to {}\n", r.cloud_id, time(&r.from), time(&r.to));
    text.push_str(&if t.is_empty() { "no VMs hosted in the period\n".to_owned() } else { t.render() });
    if let Some(total) = r.total_cost {
        text.push_str(&format!("total {}\n", money(total, currency)));
    }
    for c in &r.credits {
        text.push_str(&format!(
            "credit {} to {} (claim {}, accepted {})\n",
            money(c.amount, Some(&c.currency)),
            c.to_cloud_id,
            c.claim_id,
            time(&c.accepted_at)
        ));
    }
    if let Some(net) = r.net_cost.filter(|_| !r.credits.is_empty()) {
        text.push_str(&format!("net {}\n", money(net, currency)));
    }
    text
}
