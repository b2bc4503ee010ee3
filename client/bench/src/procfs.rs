//! Memory (RSS) and CPU of processes, and the machine's load, read from Linux's `/proc` while a
//! suite runs. CPU times are in clock ticks of 1/100 s (`CLK_TCK`, 100 on Linux).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::stats::Summary;

const CLK_TCK: f64 = 100.0;

/// RSS (KiB) and CPU time (user + system, clock ticks) of a process now.
pub fn read(pid: u32) -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command (which may hold spaces) start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest[0] is field 3 (state): utime is field 14, stime 15, rss (pages) 24.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())?;
    Some((rss_kib, utime + stime))
}

/// Busy and total ticks of all CPUs (`/proc/stat`).
fn machine_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let cpu = stat.lines().next()?.strip_prefix("cpu ")?;
    let v: Vec<u64> = cpu.split_whitespace().filter_map(|x| x.parse().ok()).collect();
    let total: u64 = v.iter().sum();
    let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
    Some((total - idle, total))
}

/// The 1-minute load average.
pub fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0.0)
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
    machine_start: Option<(u64, u64)>,
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
            (Some((b0, t0)), Some((b1, t1))) if t1 > t0 => (b1 - b0) as f64 * 100.0 / (t1 - t0) as f64,
            _ => 0.0,
        };
        let mut processes = BTreeMap::new();
        if let Ok(mut tracks) = self.tracks.lock() {
            for (name, track) in tracks.iter_mut() {
                if let Some((rss_kib, ticks)) = read(track.pid) {
                    track.first_ticks.get_or_insert(ticks);
                    track.last_ticks = ticks;
                    track.rss.push(rss_kib as f64 / 1024.0);
                }
                let Some(first) = track.first_ticks else { continue };
                let cpu_percent = (track.last_ticks - first) as f64 / CLK_TCK / seconds * 100.0;
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
    fn this_process_has_memory_and_cpu_time() {
        let (rss, _ticks) = read(std::process::id()).expect("own /proc entry");
        assert!(rss > 0);
        assert!(machine_ticks().is_some_and(|(busy, total)| busy <= total && total > 0));
    }
}
