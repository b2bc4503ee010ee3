//! The ledger's records as flat rows, one scalar per column, in a fixed column order: ready for CSV
//! (`csv::Writer::serialize`), for tables, and for NDJSON streams of listings. Lists inside a record
//! (organisations, countries) are joined with `;`; times are RFC 3339; money stays in micro-units.

use serde::Serialize;
use vmledger_contract::model::{Host, Migration, Residency, UsageReport, VmUsage};

use crate::events::ChaincodeEvent;

fn joined(values: &[String]) -> String {
    values.join(";")
}

/// A wire name of an enum (`confirmed`, `inter`).
fn wire<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

/// One migration.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MigrationRow {
    pub indicated_at: String,
    pub migration_id: String,
    pub vm_id: String,
    pub source_cloud: String,
    pub source_host: String,
    pub destination_cloud: String,
    pub destination_host: String,
    pub scope: String,
    pub status: String,
    pub closed_at: String,
    pub recorded_hash: String,
    pub observed_hash: String,
    pub requested_by: String,
    pub closed_by: String,
}

impl From<&Migration> for MigrationRow {
    fn from(m: &Migration) -> Self {
        MigrationRow {
            indicated_at: m.indicated_at.to_rfc3339(),
            migration_id: m.id.clone(),
            vm_id: m.vm_id.clone(),
            source_cloud: m.source.cloud_id.clone(),
            source_host: m.source.host_id.clone(),
            destination_cloud: m.destination.cloud_id.clone(),
            destination_host: m.destination.host_id.clone(),
            scope: wire(&m.scope),
            status: wire(&m.status),
            closed_at: m.closed_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
            recorded_hash: m.recorded_hash.clone().unwrap_or_default(),
            observed_hash: m.observed_hash.clone().unwrap_or_default(),
            requested_by: m.requested_by.msp_id.clone(),
            closed_by: m.closed_by.as_ref().map(|s| s.msp_id.clone()).unwrap_or_default(),
        }
    }
}

/// One stay of a VM on a host.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResidencyRow {
    pub vm_id: String,
    pub operator_cloud: String,
    pub cloud: String,
    pub host: String,
    pub from: String,
    /// Empty while the stay is open.
    pub to: String,
    pub cpu_cores: u64,
    pub memory_mib: u64,
    pub network_mbps: u64,
    pub io_mbps: u64,
    pub opened_by_tx: String,
}

impl From<&Residency> for ResidencyRow {
    fn from(r: &Residency) -> Self {
        ResidencyRow {
            vm_id: r.vm_id.clone(),
            operator_cloud: r.operator_cloud_id.clone(),
            cloud: r.cloud_id.clone(),
            host: r.host_id.clone(),
            from: r.from.to_rfc3339(),
            to: r.to.map(|t| t.to_rfc3339()).unwrap_or_default(),
            cpu_cores: r.requirements.cpu_cores,
            memory_mib: r.requirements.memory_mib,
            network_mbps: r.requirements.network_mbps,
            io_mbps: r.requirements.io_mbps,
            opened_by_tx: r.opened_by_tx.clone(),
        }
    }
}

/// One host.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HostRow {
    pub host: String,
    pub cloud: String,
    pub country: String,
    pub organizations: String,
    pub cpu_cores: u64,
    pub memory_mib: u64,
    pub network_mbps: u64,
    pub io_mbps: u64,
}

impl From<&Host> for HostRow {
    fn from(h: &Host) -> Self {
        HostRow {
            host: h.id.clone(),
            cloud: h.cloud_id.clone(),
            country: h.country.clone(),
            organizations: joined(&h.organizations),
            cpu_cores: h.capacity.cpu_cores,
            memory_mib: h.capacity.memory_mib,
            network_mbps: h.capacity.network_mbps,
            io_mbps: h.capacity.io_mbps,
        }
    }
}

/// What one VM used on the billing cloud over the period; the last row of a report is the total
/// (`vm` = `TOTAL`, only the cost). Hours with 6 decimals; cost in the currency's units, exact.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UsageRow {
    pub vm: String,
    pub operator: String,
    pub hours: String,
    pub cpu_core_hours: String,
    pub memory_gib_hours: String,
    pub network_mbps_hours: String,
    pub io_mbps_hours: String,
    pub cost: String,
    pub currency: String,
}

/// Micro-units as a decimal amount, exactly (`1.500000`).
pub fn amount(micro: u64) -> String {
    format!("{}.{:06}", micro / 1_000_000, micro % 1_000_000)
}

impl UsageRow {
    fn of(vm: &VmUsage, currency: &str) -> Self {
        UsageRow {
            vm: vm.vm_id.clone(),
            operator: vm.operator_cloud_id.clone(),
            hours: format!("{:.6}", vm.duration_ms as f64 / 3_600_000.0),
            cpu_core_hours: format!("{:.6}", vm.cpu_core_hours),
            memory_gib_hours: format!("{:.6}", vm.memory_gib_hours),
            network_mbps_hours: format!("{:.6}", vm.network_mbps_hours),
            io_mbps_hours: format!("{:.6}", vm.io_mbps_hours),
            cost: vm.cost.map(amount).unwrap_or_default(),
            currency: currency.to_owned(),
        }
    }

    /// One row per VM, then the total when the cloud set prices.
    pub fn of_report(report: &UsageReport) -> Vec<UsageRow> {
        let currency = report.currency.as_deref().unwrap_or("");
        let mut rows: Vec<UsageRow> = report.vms.iter().map(|vm| UsageRow::of(vm, currency)).collect();
        if let Some(total) = report.total_cost {
            rows.push(UsageRow {
                vm: "TOTAL".into(),
                operator: String::new(),
                hours: String::new(),
                cpu_core_hours: String::new(),
                memory_gib_hours: String::new(),
                network_mbps_hours: String::new(),
                io_mbps_hours: String::new(),
                cost: amount(total),
                currency: currency.to_owned(),
            });
        }
        rows
    }
}

/// One chaincode event; `subject` is the record it is about (VM, host, cloud or migration id).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventRow {
    pub id: String,
    pub block: u64,
    pub tx_id: String,
    pub event: String,
    pub subject: String,
    pub vm_id: String,
}

impl From<&ChaincodeEvent> for EventRow {
    fn from(e: &ChaincodeEvent) -> Self {
        let field = |name: &str| e.payload.get(name).and_then(|v| v.as_str()).unwrap_or_default().to_owned();
        EventRow {
            id: e.id.clone(),
            block: e.block_number,
            tx_id: e.tx_id.clone(),
            event: e.event_name.clone(),
            subject: field("id"),
            vm_id: e.migration().map(|m| m.vm_id).unwrap_or_else(|| field("vmId")),
        }
    }
}
