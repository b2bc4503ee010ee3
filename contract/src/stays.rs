//! Stays (residencies): where each VM ran, from when to when, with what resources: the evidence for
//! billing and SLA disputes. A stay opens when a VM is registered on a host or arrives there, and
//! closes when it leaves. Indexed for `Usage` by hosting cloud: the open ones, and each closed one
//! under every calendar month it overlaps, so a report reads only the stays of its period, however
//! long the history.

use chrono::{Datelike, TimeZone, Utc};

use crate::clock;
use crate::error::{ContractError, Result};
use crate::ledger::Ledger;
use crate::model::{Host, Residency, Timestamp, VirtualMachine};
use crate::ownership::own;
use crate::state;

/// The calendar months (UTC, `YYYY-MM`) that `[from, to]` overlaps, in order.
pub fn months(from: &Timestamp, to: &Timestamp) -> Vec<String> {
    let mut months = Vec::new();
    let (mut year, mut month) = (from.year(), from.month());
    while (year, month) <= (to.year(), to.month()) {
        if let Some(first) = Utc.with_ymd_and_hms(year, month, 1, 0, 0, 0).single() {
            months.push(state::month_key(&first));
        }
        (year, month) = if month == 12 { (year + 1, 1) } else { (year, month + 1) };
    }
    months
}

/// Arrival: `vm`'s stay on `host` (of the member `hosting_msp`) starts at `vm.since`.
pub async fn open(
    ledger: &impl Ledger,
    vm: &VirtualMachine,
    host: &Host,
    operator_msp: &str,
    hosting_msp: &str,
) -> Result<()> {
    let residency = Residency {
        vm_id: vm.id.clone(),
        operator_cloud_id: vm.cloud_id.clone(),
        cloud_id: host.cloud_id.clone(),
        host_id: host.id.clone(),
        from: vm.since,
        to: None,
        requirements: vm.requirements,
        opened_by_tx: vm.residency_tx_id.clone(),
    };
    let key = state::residency(&vm.id, &vm.since, &vm.residency_tx_id);
    let open_key = state::open_residency_by_cloud(&host.cloud_id, &vm.id, &vm.residency_tx_id);
    state::store(ledger, &key, &residency).await?;
    ledger.put(&open_key, &key).await?;
    for k in [&key, &open_key] {
        own(ledger, k, &[operator_msp, hosting_msp]).await?;
    }
    // The member the stay bills endorses its creation (see `crate::anchor`).
    crate::anchor::mark(ledger, &key, operator_msp).await?;
    let on_host = state::vm_by_host(&host.id, &vm.id);
    ledger.put(&on_host, &state::vm(&vm.id)).await?;
    own(ledger, &on_host, &[hosting_msp]).await
}

/// Leave: `vm`'s stay on its current host ends now. Returns the closed stay.
pub async fn close(
    ledger: &impl Ledger,
    vm: &VirtualMachine,
    operator_msp: &str,
    hosting_msp: &str,
) -> Result<Residency> {
    let key = state::residency(&vm.id, &vm.since, &vm.residency_tx_id);
    let mut residency: Residency = state::load(ledger, &key)
        .await?
        .ok_or_else(|| ContractError::Ledger { reason: format!("VM `{}` has no open residency at `{key}`", vm.id) })?;
    let now = ledger.tx().timestamp;
    clock::not_before(&now, "the start of the VM's stay", &residency.from)?;
    residency.to = Some(now);
    state::store(ledger, &key, &residency).await?;
    ledger.delete(&state::open_residency_by_cloud(&residency.cloud_id, &vm.id, &vm.residency_tx_id)).await?;
    for month in months(&residency.from, &now) {
        let index =
            state::residency_by_cloud_month(&residency.cloud_id, &month, &residency.from, &vm.id, &vm.residency_tx_id);
        ledger.put(&index, &key).await?;
        own(ledger, &index, &[operator_msp, hosting_msp]).await?;
    }
    ledger.delete(&state::vm_by_host(&residency.host_id, &vm.id)).await?;
    Ok(residency)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(y: i32, m: u32, d: u32) -> Timestamp {
        Utc.with_ymd_and_hms(y, m, d, 12, 0, 0).single().unwrap_or_default()
    }

    #[test]
    fn a_stay_is_filed_under_every_month_it_overlaps() {
        assert_eq!(months(&at(2026, 11, 3), &at(2026, 11, 30)), ["2026-11"]);
        assert_eq!(months(&at(2026, 11, 30), &at(2027, 2, 1)), ["2026-11", "2026-12", "2027-01", "2027-02"]);
    }
}
