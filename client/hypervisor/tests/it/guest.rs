//! The counting test guest that `fixtures/make-guest` builds: its files, its kernel parameters and
//! its `tick N` lines. Shared by the tests and the `live-figures` example.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use vmledger_hypervisor::{Console, QemuConfig};

/// The guest's kernel and initramfs.
#[derive(Debug, Clone)]
pub(crate) struct TestGuest {
    pub kernel: PathBuf,
    pub initrd: PathBuf,
}

/// How hard the guest writes to its memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Workload {
    /// MiB per second rewritten (0: idle).
    pub dirty_mib_per_second: u32,
    /// The size of the memory it rewrites, cyclically.
    pub working_set_mib: u32,
}

impl Workload {
    pub(crate) const IDLE: Workload = Workload { dirty_mib_per_second: 0, working_set_mib: 32 };

    pub(crate) fn dirtying(dirty_mib_per_second: u32, working_set_mib: u32) -> Workload {
        Workload { dirty_mib_per_second, working_set_mib }
    }
}

/// Makes the guest (once per process; `make-guest` itself caches across processes).
///
/// # Errors
/// When `fixtures/make-guest` fails (the kernel or busybox-static is not installed).
pub(crate) fn test_guest() -> anyhow::Result<TestGuest> {
    static MADE: OnceLock<Result<TestGuest, String>> = OnceLock::new();
    MADE.get_or_init(|| make().map_err(|e| format!("{e:#}"))).clone().map_err(anyhow::Error::msg)
}

fn make() -> anyhow::Result<TestGuest> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/make-guest");
    let output =
        std::process::Command::new(&script).output().with_context(|| format!("running {}", script.display()))?;
    if !output.status.success() {
        bail!("{} failed: {}", script.display(), String::from_utf8_lossy(&output.stderr).trim());
    }
    let printed = String::from_utf8(output.stdout).context("make-guest printed non-UTF-8")?;
    let path = |key: &str| {
        printed
            .lines()
            .find_map(|line| line.strip_prefix(key))
            .map(PathBuf::from)
            .with_context(|| format!("make-guest printed no `{key}` line"))
    };
    Ok(TestGuest { kernel: path("kernel=")?, initrd: path("initrd=")? })
}

impl TestGuest {
    /// A QEMU configuration for this guest with `memory_mib` of memory, running `workload`.
    pub(crate) fn config(&self, memory_mib: u32, workload: Workload) -> QemuConfig {
        let mut config = QemuConfig::new(&self.kernel, &self.initrd);
        config.memory_mib = memory_mib;
        config.append = format!(
            "{} vmledger.dirty_mib={} vmledger.wss_mib={}",
            config.append, workload.dirty_mib_per_second, workload.working_set_mib
        );
        config
    }
}

/// The counter of a `tick N` line.
pub(crate) fn tick(text: &str) -> Option<u64> {
    text.strip_prefix("tick ")?.trim().parse().ok()
}

/// Every tick the console printed so far, with when it was read.
pub(crate) fn ticks(console: &Console) -> Vec<(Instant, u64)> {
    console.lines().iter().filter_map(|line| tick(&line.text).map(|n| (line.at, n))).collect()
}

/// The last tick printed so far.
pub(crate) fn last_tick(console: &Console) -> Option<u64> {
    ticks(console).last().map(|&(_, n)| n)
}

/// Waits for a tick of at least `at_least`; answers its counter.
///
/// # Errors
/// When none comes within `timeout` or QEMU exits.
pub(crate) async fn wait_for_tick(console: &Console, at_least: u64, timeout: Duration) -> anyhow::Result<u64> {
    let found = console.wait_for(0, timeout, |line| tick(&line.text).filter(|&n| n >= at_least)).await;
    found.with_context(|| format!("waiting for tick {at_least}; the console's last lines: {:?}", tail(console)))
}

/// The console's last lines, for messages.
pub(crate) fn tail(console: &Console) -> Vec<String> {
    let lines = console.lines();
    lines.iter().rev().take(5).rev().map(|l| l.text.clone()).collect()
}
