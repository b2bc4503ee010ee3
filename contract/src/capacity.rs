//! BlockchainBus' resource rule: a VM goes only where its requirements fit. What is committed on a
//! host (VMs running there plus VMs reserved for it) plus the new VM must fit the host's capacity in
//! every dimension. Reserved at `Migrate`, released on rejection or cancellation, moved on confirmation.

use crate::error::{ContractError, Result, Shortfall};
use crate::model::{Allocation, Resources};

impl Resources {
    /// The four amounts by their wire names, in one fixed order.
    pub fn by_name(&self) -> [(&'static str, u64); 4] {
        [
            ("cpuCores", self.cpu_cores),
            ("memoryMib", self.memory_mib),
            ("networkMbps", self.network_mbps),
            ("ioMbps", self.io_mbps),
        ]
    }

    fn zip_with(&self, other: &Resources, f: impl Fn(u64, u64) -> u64) -> Resources {
        Resources {
            cpu_cores: f(self.cpu_cores, other.cpu_cores),
            memory_mib: f(self.memory_mib, other.memory_mib),
            network_mbps: f(self.network_mbps, other.network_mbps),
            io_mbps: f(self.io_mbps, other.io_mbps),
        }
    }

    pub fn is_zero(&self) -> bool {
        *self == Resources::default()
    }

    /// Component-wise sum (saturating: amounts are far below u64's range).
    pub fn plus(&self, other: &Resources) -> Resources {
        self.zip_with(other, u64::saturating_add)
    }

    /// Takes `other` away, never below zero.
    pub fn reduce(&mut self, other: &Resources) {
        *self = self.minus(other);
    }

    /// Component-wise difference, never below zero.
    pub fn minus(&self, other: &Resources) -> Resources {
        self.zip_with(other, u64::saturating_sub)
    }
}

impl Allocation {
    /// Everything committed on the host: running plus reserved.
    pub fn committed(&self) -> Resources {
        self.running.plus(&self.reserved)
    }
}

/// Every resource of which `request` exceeds what `capacity` leaves free after `allocation`.
pub fn shortfalls(capacity: &Resources, allocation: &Allocation, request: &Resources) -> Vec<Shortfall> {
    let free = capacity.minus(&allocation.committed());
    request
        .by_name()
        .into_iter()
        .zip(free.by_name())
        .zip(capacity.by_name())
        .filter(|(((_, wanted), (_, free)), _)| wanted > free)
        .map(|(((resource, requested), (_, free)), (_, capacity))| Shortfall {
            resource: resource.to_owned(),
            requested,
            free,
            capacity,
        })
        .collect()
}

/// `Ok` when `request` fits on the host, else `CAPACITY_EXCEEDED` with every shortfall.
pub fn ensure_fits(host_id: &str, capacity: &Resources, allocation: &Allocation, request: &Resources) -> Result<()> {
    let shortfalls = shortfalls(capacity, allocation, request);
    if shortfalls.is_empty() {
        Ok(())
    } else {
        Err(ContractError::CapacityExceeded { host_id: host_id.to_owned(), shortfalls })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(cpu_cores: u64, memory_mib: u64, network_mbps: u64, io_mbps: u64) -> Resources {
        Resources { cpu_cores, memory_mib, network_mbps, io_mbps }
    }

    #[test]
    fn a_vm_that_fits_exactly_is_accepted() {
        let allocation =
            Allocation { running: r(2, 2048, 100, 100), reserved: r(1, 1024, 0, 0), ..Allocation::default() };
        assert!(ensure_fits("h", &r(4, 4096, 200, 200), &allocation, &r(1, 1024, 100, 100)).is_ok());
    }

    #[test]
    fn reservations_count_against_the_host() {
        let allocation = Allocation { running: r(2, 2048, 0, 0), reserved: r(2, 0, 0, 0), ..Allocation::default() };
        assert_eq!(
            ensure_fits("h", &r(4, 4096, 100, 100), &allocation, &r(1, 1, 0, 0)),
            Err(ContractError::CapacityExceeded {
                host_id: "h".into(),
                shortfalls: vec![Shortfall { resource: "cpuCores".into(), requested: 1, free: 0, capacity: 4 }],
            })
        );
    }

    #[test]
    fn every_short_dimension_is_reported() {
        let found = shortfalls(&r(1, 1, 1, 1), &Allocation::default(), &r(2, 2, 2, 2));
        let names: Vec<_> = found.iter().map(|s| s.resource.as_str()).collect();
        assert_eq!(names, ["cpuCores", "memoryMib", "networkMbps", "ioMbps"]);
    }

    #[test]
    fn arithmetic_never_underflows() {
        assert_eq!(r(1, 1, 1, 1).minus(&r(2, 2, 2, 2)), Resources::default());
    }
}
