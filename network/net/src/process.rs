//! The network's processes: started detached with a clean environment, logged to one file each,
//! known by PID files that also record the process's start time (so a reused PID is never taken
//! for ours), stopped by those PIDs only.

use std::fs::OpenOptions;
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::layout::Paths;

/// How long a stopped process may take before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(15);

/// A process we started and that still runs: its PID and resident memory.
#[derive(Debug, Clone, Copy)]
pub struct Running {
    pub pid: i32,
    pub rss_mib: u64,
}

fn start_time(pid: i32) -> Option<u64> {
    let stat = procfs::process::Process::new(pid).ok()?.stat().ok()?;
    // A zombie has exited; it only waits to be reaped.
    (stat.state != 'Z').then_some(stat.starttime)
}

/// Our process `name`, if it runs (the PID file's PID, alive, with the recorded start time).
pub fn running(paths: &Paths, name: &str) -> Option<Running> {
    let text = std::fs::read_to_string(paths.pid(name)).ok()?;
    let mut lines = text.lines();
    let pid: i32 = lines.next()?.trim().parse().ok()?;
    let recorded: u64 = lines.next()?.trim().parse().ok()?;
    (start_time(pid)? == recorded).then(|| Running { pid, rss_mib: rss_mib(pid) })
}

pub fn is_running(paths: &Paths, name: &str) -> bool {
    running(paths, name).is_some()
}

fn rss_mib(pid: i32) -> u64 {
    procfs::process::Process::new(pid).and_then(|p| p.status()).ok().and_then(|s| s.vmrss).map_or(0, |kib| kib / 1024)
}

pub fn port_free(host: &str, port: u16) -> bool {
    TcpStream::connect_timeout(&format!("{host}:{port}").parse().expect("host:port"), Duration::from_millis(200))
        .is_err()
}

/// Starts `command` as the process `name`: in its own process group (a terminal's Ctrl-C is not
/// its), stdin closed, stdout and stderr appended to its log. The caller gives the whole
/// environment (`env_clear` first): Fabric and fabric-shim read options from it.
pub fn start(paths: &Paths, name: &str, host: &str, ports: &[u16], mut command: Command) -> Result<Running> {
    for &port in ports {
        // A process just stopped may hold its port a moment longer.
        let deadline = Instant::now() + Duration::from_secs(5);
        while !port_free(host, port) {
            if Instant::now() > deadline {
                bail!("{name}: port {host}:{port} is already in use by another program");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    std::fs::create_dir_all(paths.logs())?;
    std::fs::create_dir_all(paths.pids())?;
    let log_path = paths.log(name);
    let mut log = OpenOptions::new().create(true).append(true).open(&log_path)?;
    {
        use std::io::Write;
        writeln!(log, "=== {} vmledger-net starts {name}", crate::now_rfc3339())?;
    }
    let child = command
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .process_group(0)
        .spawn()
        .with_context(|| format!("{name}: cannot start {:?}", command.get_program()))?;
    let pid = i32::try_from(child.id()).context("pid")?;
    // The child runs on after this tool exits; it is never waited for here.
    drop(child);
    let started = (0..50)
        .find_map(|_| {
            let t = start_time(pid);
            if t.is_none() {
                std::thread::sleep(Duration::from_millis(10));
            }
            t
        })
        .ok_or_else(|| failure(paths, name, "exited at once"))?;
    crate::files::write(&paths.pid(name), format!("{pid}\n{started}\n").as_bytes())?;
    Ok(Running { pid, rss_mib: 0 })
}

/// Stops our process `name`: SIGTERM, then SIGKILL after the grace period. Only the recorded PID.
pub fn stop(paths: &Paths, name: &str) -> Result<bool> {
    let Some(Running { pid, .. }) = running(paths, name) else {
        let _ = std::fs::remove_file(paths.pid(name));
        return Ok(false);
    };
    signal(pid, Signal::SIGTERM)?;
    let deadline = Instant::now() + STOP_GRACE;
    while start_time(pid).is_some() {
        if Instant::now() > deadline {
            crate::say(&format!("{name} (pid {pid}) did not stop in {} s: killing it", STOP_GRACE.as_secs()));
            signal(pid, Signal::SIGKILL)?;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = std::fs::remove_file(paths.pid(name));
    Ok(true)
}

/// Sends `sig` to our process `name` (the fault suite's SIGKILL, SIGSTOP, SIGCONT).
pub fn signal_named(paths: &Paths, name: &str, sig: Signal) -> Result<i32> {
    let Running { pid, .. } = running(paths, name).ok_or_else(|| anyhow!("{name} is not running"))?;
    signal(pid, sig)?;
    Ok(pid)
}

fn signal(pid: i32, sig: Signal) -> Result<()> {
    match kill(Pid::from_raw(pid), sig) {
        Ok(()) | Err(nix::errno::Errno::ESRCH) => Ok(()),
        Err(e) => Err(anyhow!("signal {sig} to pid {pid}: {e}")),
    }
}

/// The last lines of a log, for error messages.
pub fn log_tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// An error naming the process, with the end of its log.
pub fn failure(paths: &Paths, name: &str, what: &str) -> anyhow::Error {
    let log = paths.log(name);
    anyhow!("{name}: {what}\n--- last 25 lines of {}\n{}\n---", crate::shown(&log), log_tail(&log, 25))
}

/// Retries `check` every 200 ms until it holds; fails naming `name` if the process dies or
/// `timeout` passes.
pub fn wait_until(
    paths: &Paths,
    name: &str,
    what: &str,
    timeout: Duration,
    mut check: impl FnMut() -> bool,
) -> Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        if check() {
            return Ok(());
        }
        if paths.pid(name).exists() && !is_running(paths, name) {
            return Err(failure(paths, name, &format!("exited while waiting for {what}")));
        }
        if Instant::now() > deadline {
            return Err(failure(paths, name, &format!("no {what} after {} s", timeout.as_secs())));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Every process that has a PID file (whatever the settings say now).
pub fn recorded(paths: &Paths) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(paths.pids())
        .map(|dir| {
            dir.filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().to_str().and_then(|n| n.strip_suffix(".pid")).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// A `Command` with a clean environment holding only PATH and HOME.
pub fn clean_command(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut command = Command::new(program);
    command.env_clear();
    for key in ["PATH", "HOME"] {
        if let Some(value) = std::env::var_os(key) {
            command.env(key, value);
        }
    }
    command
}

/// Where `program` is on PATH.
pub fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .and_then(|path| std::env::split_paths(&path).map(|dir| dir.join(program)).find(|p| p.is_file()))
}
