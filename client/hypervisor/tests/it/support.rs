//! Scenario helpers: a counting guest.

use std::time::Duration;

use vmledger_hypervisor::{Qemu, Side};

use crate::guest::{Workload, test_guest, wait_for_tick};

/// How long a guest may take to boot (TCG, with other tests beside it on two cores).
pub(crate) const BOOT: Duration = Duration::from_secs(120);

/// A source guest that has booted and counts.
pub(crate) struct Counting {
    pub source: Qemu,
}

/// Given a guest of `memory_mib` running `workload`, booted and counting past tick 3.
pub(crate) async fn given_a_counting_guest(memory_mib: u32, workload: Workload) -> anyhow::Result<Counting> {
    let config = test_guest()?.config(memory_mib, workload);
    let source = Qemu::start(&config, Side::Source).await?;
    wait_for_tick(source.console(), 3, BOOT).await?;
    Ok(Counting { source })
}
