//! `vmledger usage`: what a cloud hosted over a period, as a billing report (table, CSV or JSON).

use chrono::Utc;
use vmledger_contract::model::UsageReport;
use vmledger_contract::msg;

use crate::args::{Format, UsageArgs};
use crate::context::Ctx;
use crate::output::{Table, money, time};

pub(crate) async fn run(ctx: &Ctx, args: UsageArgs) -> anyhow::Result<()> {
    let now = Utc::now();
    let input =
        msg::Usage { cloud_id: args.cloud, from: args.from.resolve(now), to: args.to.map_or(now, |w| w.resolve(now)) };
    let report = ctx.ledger()?.usage(&input).await?;
    let format = if ctx.out.json { Format::Json } else { args.format };
    match format {
        Format::Json => ctx.out.show(&report, String::new),
        Format::Csv => ctx.out.text(&csv(&report)),
        Format::Table => ctx.out.text(&table(&report)),
    }
}

const COLUMNS: [&str; 9] = [
    "vm",
    "operator",
    "hours",
    "cpu_core_hours",
    "memory_gib_hours",
    "network_mbps_hours",
    "io_mbps_hours",
    "cost",
    "currency",
];

fn hours(ms: u64) -> f64 {
    ms as f64 / 3_600_000.0
}

/// One line per VM, then a total line; costs in the currency's units (6 decimals, exact).
pub(crate) fn csv(r: &UsageReport) -> String {
    let mut out = COLUMNS.join(",") + "\n";
    let currency = r.currency.as_deref().unwrap_or("");
    for vm in &r.vms {
        out.push_str(&format!(
            "{},{},{:.6},{:.6},{:.6},{:.6},{:.6},{},{}\n",
            field(&vm.vm_id),
            field(&vm.operator_cloud_id),
            hours(vm.duration_ms),
            vm.cpu_core_hours,
            vm.memory_gib_hours,
            vm.network_mbps_hours,
            vm.io_mbps_hours,
            vm.cost.map(|c| money(c, None)).unwrap_or_default(),
            field(currency),
        ));
    }
    if let Some(total) = r.total_cost {
        out.push_str(&format!("TOTAL,,,,,,,{},{}\n", money(total, None), field(currency)));
    }
    out
}

/// Quotes a CSV field when it needs it.
fn field(s: &str) -> String {
    if s.contains([',', '"', '\n']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_owned() }
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
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use vmledger_contract::model::VmUsage;

    #[test]
    fn csv_has_one_line_per_vm_and_a_total() {
        let at = chrono::DateTime::UNIX_EPOCH;
        let report = UsageReport {
            cloud_id: "cloud-b".into(),
            from: at,
            to: at,
            currency: Some("EUR".into()),
            vms: vec![VmUsage {
                vm_id: "vm,1".into(),
                operator_cloud_id: "cloud-a".into(),
                duration_ms: 1_800_000,
                cpu_core_hours: 1.0,
                memory_gib_hours: 2.0,
                network_mbps_hours: 50.0,
                io_mbps_hours: 25.0,
                cost: Some(1_500_000),
                residencies: vec![],
            }],
            total_cost: Some(1_500_000),
        };
        assert_eq!(
            csv(&report),
            "vm,operator,hours,cpu_core_hours,memory_gib_hours,network_mbps_hours,io_mbps_hours,cost,currency\n\
             \"vm,1\",cloud-a,0.500000,1.000000,2.000000,50.000000,25.000000,1.500000,EUR\n\
             TOTAL,,,,,,,1.500000,EUR\n"
        );
    }
}
