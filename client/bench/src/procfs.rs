//! Memory (RSS) and CPU of processes, and the machine's load, read from Linux's `/proc` (with the
//! `procfs` crate) while a suite runs.
//!
//! Two facts the figures depend on: CPU times are in clock ticks of `1 / CLK_TCK` s, and the kernel
//! says how many (`procfs::ticks_per_second`, from `sysconf`), not a constant; and `/proc/stat`
//! counts a guest's time twice, in `user` (`nice`) and again in `guest` (`guest_nice`), so the
//! machine's total is the sum of the other columns only.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use procfs::WithCurrentSystemInfo;
use procfs::{Current, CurrentSI, KernelStats};
use serde::{Deserialize, Serialize};

use crate::stats::Summary;

/// RSS (KiB) and CPU time (user + system, clock ticks) of a process now.
pub fn read(pid: u32) -> Option<(u64, u64)> {
    let stat = procfs::process::Process::new(i32::try_from(pid).ok()?).ok()?.stat().ok()?;
    Some((stat.rss_bytes().get() / 1024, stat.utime + stat.stime))
}

/// The machine's CPU ticks by state, from the first line of `/proc/stat`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuTicks {
    pub user: u64,
    pub nice: u64,
    pub system: u64,
    pub idle: u64,
    pub iowait: u64,
    pub irq: u64,
    pub softirq: u64,
    pub steal: u64,
    /// Already counted in `user`.
    pub guest: u64,
    /// Already counted in `nice`.
    pub guest_nice: u64,
}

impl CpuTicks {
    /// Every tick once: guest time is inside `user` and `nice` already.
    pub fn total(&self) -> u64 {
        self.user + self.nice + self.system + self.idle + self.iowait + self.irq + self.softirq + self.steal
    }

    /// Ticks a CPU was doing something (neither idle nor waiting for I/O).
    pub fn busy(&self) -> u64 {
        self.total() - self.idle - self.iowait
    }

    /// Busy share of all CPUs between two readings, percent (100 = every core busy).
    pub fn busy_percent_since(&self, before: &CpuTicks) -> f64 {
        let total = self.total().saturating_sub(before.total());
        if total == 0 {
            return 0.0;
        }
        self.busy().saturating_sub(before.busy()) as f64 * 100.0 / total as f64
    }
}

impl From<&procfs::CpuTime> for CpuTicks {
    fn from(t: &procfs::CpuTime) -> CpuTicks {
        CpuTicks {
            user: t.user,
            nice: t.nice,
            system: t.system,
            idle: t.idle,
            iowait: t.iowait.unwrap_or(0),
            irq: t.irq.unwrap_or(0),
            softirq: t.softirq.unwrap_or(0),
            steal: t.steal.unwrap_or(0),
            guest: t.guest.unwrap_or(0),
            guest_nice: t.guest_nice.unwrap_or(0),
        }
    }
}

/// The machine's CPU ticks now.
fn machine_ticks() -> Option<CpuTicks> {
    KernelStats::current().ok().map(|k| CpuTicks::from(&k.total))
}

/// Percent of one core that `ticks` of CPU time over `seconds` of wall time is, with the kernel's
/// `ticks_per_second`.
pub fn cpu_percent(ticks: u64, ticks_per_second: u64, seconds: f64) -> f64 {
    if ticks_per_second == 0 || seconds <= 0.0 {
        return 0.0;
    }
    ticks as f64 / ticks_per_second as f64 / seconds * 100.0
}

/// The 1-minute load average.
pub fn load_average() -> f64 {
    procfs::LoadAverage::current().map(|l| f64::from(l.one)).unwrap_or(0.0)
}

/// The first CPU's model name, the memory in GiB and the kernel release.
pub fn machine() -> (String, f64, String) {
    let model = procfs::CpuInfo::current().ok().and_then(|c| c.model_name(0).map(str::to_owned)).unwrap_or_default();
    let memory = procfs::Meminfo::current().map(|m| m.mem_total as f64 / f64::from(1u32 << 30)).unwrap_or(0.0);
    let kernel = procfs::sys::kernel::Version::current().map(|v| format!("{}.{}.{}", v.major, v.minor, v.patch));
    (model, memory, kernel.unwrap_or_default())
}

/// The processes named by the PID files of a folder (`network/run/pids/<name>.pid`; the PID is the
/// first word of the file).
pub fn pids_in(dir: &Path) -> Vec<(String, u32)> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            let (Some(name), Some("pid")) =
                (path.file_stem().and_then(|s| s.to_str()), path.extension().and_then(|s| s.to_str()))
            else {
                continue;
            };
            if let Some(pid) =
                std::fs::read_to_string(&path).ok().and_then(|s| s.split_whitespace().next()?.parse().ok())
            {
                out.push((name.to_owned(), pid));
            }
        }
    }
    out.sort();
    out
}

/// What a process used during a monitored period.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProcessUsage {
    pub pid: u32,
    /// RSS over the samples, MiB.
    pub rss_mib: Summary,
    /// Average CPU over the period, percent of one core.
    pub cpu_percent: f64,
}

/// What the machine and each process used during a period.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    pub seconds: f64,
    pub load_average_start: f64,
    pub load_average_end: f64,
    /// Busy share of all CPUs, percent (100 = every core busy).
    pub machine_cpu_percent: f64,
    pub cpus: usize,
    pub processes: BTreeMap<String, ProcessUsage>,
}

#[derive(Debug, Default)]
struct Track {
    pid: u32,
    first_ticks: Option<u64>,
    last_ticks: u64,
    rss: Vec<f64>,
}

/// Samples a set of processes every `interval` until [`Monitor::stop`].
#[derive(Debug)]
pub struct Monitor {
    tracks: Arc<Mutex<BTreeMap<String, Track>>>,
    task: tokio::task::JoinHandle<()>,
    started: Instant,
    load_start: f64,
    machine_start: Option<CpuTicks>,
}

impl Monitor {
    /// Starts sampling `processes` (name, pid).
    pub fn start(processes: Vec<(String, u32)>, interval: Duration) -> Monitor {
        let tracks = Arc::new(Mutex::new(
            processes.into_iter().map(|(n, pid)| (n, Track { pid, ..Track::default() })).collect::<BTreeMap<_, _>>(),
        ));
        let shared = tracks.clone();
        let task = tokio::spawn(async move {
            loop {
                if let Ok(mut tracks) = shared.lock() {
                    for track in tracks.values_mut() {
                        if let Some((rss_kib, ticks)) = read(track.pid) {
                            track.first_ticks.get_or_insert(ticks);
                            track.last_ticks = ticks;
                            track.rss.push(rss_kib as f64 / 1024.0);
                        }
                    }
                }
                tokio::time::sleep(interval).await;
            }
        });
        Monitor { tracks, task, started: Instant::now(), load_start: load_average(), machine_start: machine_ticks() }
    }

    /// Stops sampling (after one last sample) and reports.
    pub fn stop(self) -> Usage {
        self.task.abort();
        let seconds = self.started.elapsed().as_secs_f64().max(1e-3);
        let machine_cpu_percent = match (self.machine_start, machine_ticks()) {
            (Some(before), Some(now)) => now.busy_percent_since(&before),
            _ => 0.0,
        };
        let ticks_per_second = procfs::ticks_per_second();
        let mut processes = BTreeMap::new();
        if let Ok(mut tracks) = self.tracks.lock() {
            for (name, track) in tracks.iter_mut() {
                if let Some((rss_kib, ticks)) = read(track.pid) {
                    track.first_ticks.get_or_insert(ticks);
                    track.last_ticks = ticks;
                    track.rss.push(rss_kib as f64 / 1024.0);
                }
                let Some(first) = track.first_ticks else { continue };
                let cpu_percent = cpu_percent(track.last_ticks - first, ticks_per_second, seconds);
                processes.insert(
                    name.clone(),
                    ProcessUsage { pid: track.pid, rss_mib: Summary::of(&track.rss), cpu_percent },
                );
            }
        }
        Usage {
            seconds,
            load_average_start: self.load_start,
            load_average_end: load_average(),
            machine_cpu_percent,
            cpus: std::thread::available_parallelism().map(usize::from).unwrap_or(1),
            processes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guest_time_is_counted_once() {
        // 300 ticks in user mode, 200 of them running a guest; 100 idle: 3/4 busy.
        let before = CpuTicks::default();
        let after = CpuTicks { user: 300, guest: 200, idle: 100, ..CpuTicks::default() };
        assert_eq!(after.total(), 400);
        assert_eq!(after.busy_percent_since(&before), 75.0);
        // Summing every column (guest again) said 500 busy of 600: 83 %.
    }

    #[test]
    fn cpu_time_uses_the_kernels_tick_rate() {
        // One second of CPU over one second at 250 ticks/s is one core, not 2.5.
        assert_eq!(cpu_percent(250, 250, 1.0), 100.0);
        assert_eq!(cpu_percent(50, 100, 2.0), 25.0);
        assert_eq!(cpu_percent(50, 0, 2.0), 0.0);
    }

    #[test]
    fn this_process_burning_cpu_shows_it() {
        // Spin until /proc shows a fifth of a second of our CPU time: on a loaded machine
        // the wall time this takes varies, the CPU time read back must not.
        let (rss, before) = read(std::process::id()).expect("own /proc entry");
        assert!(rss > 0);
        let wanted = procfs::ticks_per_second() / 5;
        let started = Instant::now();
        let mut x = 0u64;
        let mut burnt = 0;
        while burnt < wanted && started.elapsed() < Duration::from_secs(30) {
            for _ in 0..100_000 {
                x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
            }
            burnt = read(std::process::id()).expect("own /proc entry").1 - before;
        }
        assert!(burnt >= wanted, "{burnt} ticks of CPU after 30 s of spinning");
        let percent = cpu_percent(burnt, procfs::ticks_per_second(), started.elapsed().as_secs_f64());
        assert!(percent > 0.0 && percent < 250.0, "{percent} % of a core while spinning");
        assert!(machine_ticks().is_some_and(|t| t.busy() <= t.total() && t.total() > 0));
    }
}
