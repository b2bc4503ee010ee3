//! Placement: where may a VM go? Every host of the candidate clouds is checked with the contract's
//! own `CheckMigration` (residency policy, free capacity, authority), so the answer is the one a
//! `Migrate` would get, with every reason for each host left out; the permitted hosts are ranked
//! best fit first (BlockchainBus' match-making): least capacity left beyond the VM's needs.

use serde::{Deserialize, Serialize};
use vmledger_contract::ContractError;
use vmledger_contract::model::{Host, Resources};
use vmledger_contract::msg;

use crate::error::Result;
use crate::ledger::VmLedger;

/// One host considered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Candidate {
    pub host: Host,
    pub permitted: bool,
    /// Every rule a migration there would break (empty when permitted).
    pub violations: Vec<ContractError>,
    /// The host's capacity beyond the VM's needs, summed over the resources as fractions of the
    /// capacity (0 = a perfect fit); the ranking key.
    pub slack: f64,
}

/// The answer: the permitted hosts, best fit first, and the others with their reasons.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Placements {
    pub vm_id: String,
    pub requirements: Resources,
    pub permitted: Vec<Candidate>,
    pub denied: Vec<Candidate>,
}

/// How much of `capacity` is left beyond `needs`, as the sum of each resource's leftover fraction.
pub fn slack(capacity: &Resources, needs: &Resources) -> f64 {
    let part = |cap: u64, need: u64| if cap == 0 { 0.0 } else { cap.saturating_sub(need) as f64 / cap as f64 };
    part(capacity.cpu_cores, needs.cpu_cores)
        + part(capacity.memory_mib, needs.memory_mib)
        + part(capacity.network_mbps, needs.network_mbps)
        + part(capacity.io_mbps, needs.io_mbps)
}

/// Checks every host of `clouds` (but the one the VM is on) for `vm_id`, as `ledger`'s identity.
///
/// # Errors
/// The errors of `GetVm`, `ListHosts` and `CheckMigration` (`NOT_FOUND` for an unknown VM or cloud).
pub async fn place(ledger: &VmLedger, vm_id: &str, clouds: &[String]) -> Result<Placements> {
    let vm = ledger.get_vm(vm_id).await?;
    let mut permitted = Vec::new();
    let mut denied = Vec::new();
    for cloud in clouds {
        let mut pages = ledger.host_pages(&msg::ListHosts { cloud_id: cloud.clone(), page_size: None, bookmark: None });
        while let Some(page) = pages.next_page().await {
            for host in page?.items.into_iter().filter(|h| h.id != vm.host_id) {
                let input = msg::Migrate {
                    vm_id: vm.id.clone(),
                    destination_host_id: host.id.clone(),
                    ..msg::Migrate::default()
                };
                let check = ledger.check_migration(&input).await?;
                let candidate = Candidate {
                    slack: slack(&host.capacity, &vm.requirements),
                    permitted: check.permitted,
                    violations: check.violations,
                    host,
                };
                if candidate.permitted { permitted.push(candidate) } else { denied.push(candidate) }
            }
        }
    }
    permitted.sort_by(|a, b| a.slack.total_cmp(&b.slack).then_with(|| a.host.id.cmp(&b.host.id)));
    Ok(Placements { vm_id: vm.id, requirements: vm.requirements, permitted, denied })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tight_host_has_less_slack_than_a_roomy_one() {
        let needs = Resources { cpu_cores: 2, memory_mib: 2048, network_mbps: 100, io_mbps: 100 };
        let tight = Resources { cpu_cores: 2, memory_mib: 4096, network_mbps: 100, io_mbps: 200 };
        let roomy = Resources { cpu_cores: 64, memory_mib: 262_144, network_mbps: 10_000, io_mbps: 4000 };
        assert_eq!(slack(&needs, &needs), 0.0);
        assert!(slack(&tight, &needs) < slack(&roomy, &needs));
        assert_eq!(slack(&tight, &needs), 1.0);
    }
}
