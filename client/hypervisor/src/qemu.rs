//! Starting QEMU: a [`Qemu`] is one `qemu-system-x86_64` process this crate started, with its QMP
//! connection and its serial console.
//!
//! Every QEMU gets a private temporary folder (mode 0700) for its QMP socket. The process is a
//! child of this one: it is killed when the [`Qemu`] is dropped, and nothing else is ever signalled.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::watch;

use crate::error::{Error, Side};
use crate::qmp::{Qmp, RunState, wire_name};

/// How long QEMU may take to open its QMP socket.
const QMP_STARTUP: Duration = Duration::from_secs(20);
/// How long QEMU may take to exit after `quit`.
const QUIT_GRACE: Duration = Duration::from_secs(10);
/// How much of QEMU's stderr is kept for error messages.
const STDERR_TAIL: usize = 4096;

/// How QEMU runs the guest's CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accel {
    /// Hardware virtualisation through `/dev/kvm`.
    Kvm,
    /// QEMU's own translator: slower, works everywhere.
    Tcg,
}

impl Accel {
    /// KVM when `/dev/kvm` opens for reading and writing and runs ordinary guests, TCG otherwise.
    ///
    /// A host whose KVM is the `kvm_pvm` module (pagetable-based virtualisation, as on the
    /// project's Firecracker machines) counts as without: PVM runs only guest kernels built for it
    /// and emulates any other instruction by instruction. Measured there, Debian's cloud kernel had
    /// not printed its first line after 290 s under KVM; it boots in 5.4 s under TCG.
    pub fn detect() -> Accel {
        let opens = std::fs::OpenOptions::new().read(true).write(true).open("/dev/kvm").is_ok();
        let pvm = Path::new("/sys/module/kvm_pvm").exists();
        if opens && !pvm { Accel::Kvm } else { Accel::Tcg }
    }

    /// QEMU's name for it (`-accel NAME`).
    pub fn name(self) -> &'static str {
        match self {
            Accel::Kvm => "kvm",
            Accel::Tcg => "tcg",
        }
    }
}

/// What a QEMU runs. A source and its destination must agree on all of it but `append` (the
/// machine type, the memory size and the boot files shape the migration stream's RAM blocks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QemuConfig {
    /// The QEMU binary.
    pub program: PathBuf,
    /// `-machine`. Pin a versioned type (`pc-i440fx-7.2`) when source and destination may run
    /// different QEMU versions.
    pub machine: String,
    pub accel: Accel,
    pub memory_mib: u32,
    pub cpus: u32,
    /// Direct kernel boot.
    pub kernel: PathBuf,
    pub initrd: PathBuf,
    /// The kernel command line.
    pub append: String,
    /// A second QMP socket, for whoever drives this guest besides this crate (an operator's
    /// tools, `vmledger migrate run --live --qmp SOCKET`): QEMU serves one client per monitor.
    pub monitor: Option<PathBuf>,
}

impl QemuConfig {
    /// A 256 MiB, one-CPU `pc` guest booting `kernel` and `initrd` with its console on the first
    /// serial port; the accelerator as [`Accel::detect`] finds it.
    pub fn new(kernel: impl Into<PathBuf>, initrd: impl Into<PathBuf>) -> Self {
        QemuConfig {
            program: PathBuf::from("qemu-system-x86_64"),
            machine: "pc".to_owned(),
            accel: Accel::detect(),
            memory_mib: 256,
            cpus: 1,
            kernel: kernel.into(),
            initrd: initrd.into(),
            append: "console=ttyS0 quiet panic=-1".to_owned(),
            monitor: None,
        }
    }

    /// The command line for `role`, with QMP on `qmp_socket`.
    fn args(&self, role: Side, qmp_socket: &Path) -> Vec<String> {
        let mut args: Vec<String> = [
            "-name",
            match role {
                Side::Source => "vmledger-source",
                Side::Destination => "vmledger-destination",
            },
            "-nodefaults",
            "-no-user-config",
            "-display",
            "none",
            // A guest reboot ends QEMU: a reboot can never pass for a migrated guest.
            "-no-reboot",
            // The serial console on QEMU's stdout, which this process reads.
            "-serial",
            "stdio",
        ]
        .into_iter()
        .map(str::to_owned)
        .collect();
        args.extend([
            "-machine".to_owned(),
            self.machine.clone(),
            "-accel".to_owned(),
            self.accel.name().to_owned(),
            "-m".to_owned(),
            format!("{}M", self.memory_mib),
            "-smp".to_owned(),
            self.cpus.to_string(),
            "-kernel".to_owned(),
            self.kernel.display().to_string(),
            "-initrd".to_owned(),
            self.initrd.display().to_string(),
            "-append".to_owned(),
            self.append.clone(),
            "-qmp".to_owned(),
            format!("unix:{},server=on,wait=off", qmp_socket.display()),
        ]);
        if let Some(monitor) = &self.monitor {
            args.extend(["-qmp".to_owned(), format!("unix:{},server=on,wait=off", monitor.display())]);
        }
        if role == Side::Destination {
            // Paused after the incoming migration until `cont`: the ledger's gate.
            args.extend(["-S", "-incoming", "defer"].map(str::to_owned));
        }
        args
    }
}

/// One line of a guest's serial console, and when this process read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleLine {
    pub at: Instant,
    pub text: String,
}

/// A guest's serial console as it is printed: every complete line, timestamped.
#[derive(Debug, Clone)]
pub struct Console {
    lines: Arc<Mutex<Vec<ConsoleLine>>>,
    count: watch::Receiver<usize>,
}

impl Console {
    /// Reads `output` line by line until it ends.
    fn capture(output: impl AsyncRead + Unpin + Send + 'static) -> Console {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (count_tx, count) = watch::channel(0);
        let sink = lines.clone();
        tokio::spawn(async move {
            let mut reader = BufReader::new(output);
            let mut raw = Vec::new();
            loop {
                raw.clear();
                match reader.read_until(b'\n', &mut raw).await {
                    // A last line without its newline is not complete: left out.
                    Ok(0) | Err(_) => break,
                    Ok(_) if raw.last() != Some(&b'\n') => break,
                    Ok(_) => {
                        let text = String::from_utf8_lossy(&raw).trim_end_matches(['\n', '\r']).to_owned();
                        let n = match sink.lock() {
                            Ok(mut lines) => {
                                lines.push(ConsoleLine { at: Instant::now(), text });
                                lines.len()
                            }
                            Err(_) => break,
                        };
                        let _ = count_tx.send(n);
                    }
                }
            }
        });
        Console { lines, count }
    }

    /// Every line so far.
    pub fn lines(&self) -> Vec<ConsoleLine> {
        self.lines.lock().map(|lines| lines.clone()).unwrap_or_default()
    }

    /// How many lines so far.
    pub fn len(&self) -> usize {
        *self.count.borrow()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Waits for the first line at index `from` or later for which `find` answers `Some`.
    ///
    /// # Errors
    /// [`Error::Timeout`]; [`Error::Exited`] when the console ended (QEMU exited) first.
    pub async fn wait_for<T>(
        &self,
        from: usize,
        timeout: Duration,
        mut find: impl FnMut(&ConsoleLine) -> Option<T>,
    ) -> Result<T, Error> {
        let mut count = self.count.clone();
        let mut next = from;
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let found = {
                let lines = self.lines.lock().map_err(|_| Error::Protocol("console lock poisoned".to_owned()))?;
                let found = lines.iter().skip(next).find_map(&mut find);
                next = next.max(lines.len());
                found
            };
            if let Some(found) = found {
                return Ok(found);
            }
            match tokio::time::timeout_at(deadline, count.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => {
                    return Err(Error::Exited { status: "console closed".to_owned(), stderr: String::new() });
                }
                Err(_) => {
                    return Err(Error::Timeout { what: "a line on the serial console".to_owned(), after: timeout });
                }
            }
        }
    }
}

/// A `qemu-system-x86_64` this process started.
#[derive(Debug)]
pub struct Qemu {
    child: Child,
    qmp: Qmp,
    console: Console,
    stderr: Arc<Mutex<String>>,
    role: Side,
    /// Holds the QMP socket; removed on drop.
    _dir: tempfile::TempDir,
}

impl Qemu {
    /// Starts QEMU for `role` and connects to its QMP socket. A source boots at once; a
    /// destination waits paused for an incoming migration (`-S -incoming defer`).
    ///
    /// # Errors
    /// [`Error::Spawn`]; [`Error::Exited`] when QEMU exits during start-up (its stderr says why);
    /// [`Error::Timeout`] when its QMP socket does not answer; [`Error::Qmp`].
    pub async fn start(config: &QemuConfig, role: Side) -> Result<Qemu, Error> {
        let dir = crate::private_dir("vmledger-qemu-")?;
        let qmp_socket = dir.path().join("qmp.sock");
        let mut child = Command::new(&config.program)
            .args(config.args(role, &qmp_socket))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| Error::Spawn { program: config.program.display().to_string(), source })?;
        let console = match child.stdout.take() {
            Some(stdout) => Console::capture(stdout),
            None => return Err(Error::Protocol("QEMU's stdout was not captured".to_owned())),
        };
        let stderr = Arc::new(Mutex::new(String::new()));
        if let Some(output) = child.stderr.take() {
            tokio::spawn(keep_tail(output, stderr.clone()));
        }
        let qmp = tokio::select! {
            qmp = Qmp::connect_within(&qmp_socket, QMP_STARTUP) => qmp?,
            status = child.wait() => {
                // Let the stderr reader catch up with QEMU's last words.
                tokio::time::sleep(Duration::from_millis(50)).await;
                return Err(Error::Exited {
                    status: status.map_or_else(|e| e.to_string(), |s| s.to_string()),
                    stderr: tail(&stderr),
                });
            }
        };
        let qemu = Qemu { child, qmp, console, stderr, role, _dir: dir };
        if role == Side::Destination {
            let status = qemu.qmp.status().await?;
            if status != RunState::inmigrate {
                return Err(Error::WrongState {
                    side: role,
                    operation: "receive a migration",
                    reason: format!("it is `{}`, not `inmigrate`", wire_name(&status)),
                });
            }
        }
        Ok(qemu)
    }

    pub fn qmp(&self) -> &Qmp {
        &self.qmp
    }

    pub fn console(&self) -> &Console {
        &self.console
    }

    pub fn role(&self) -> Side {
        self.role
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// The last lines QEMU wrote to stderr.
    pub fn stderr(&self) -> String {
        tail(&self.stderr)
    }

    /// Whether QEMU has exited (and how), without waiting.
    ///
    /// # Errors
    /// [`Error::Io`] when the process cannot be polled.
    pub fn exit_status(&mut self) -> Result<Option<std::process::ExitStatus>, Error> {
        self.child.try_wait().map_err(Error::io("polling QEMU"))
    }

    /// Asks QEMU to exit (`quit`) and waits for it; kills it when it does not exit in time.
    ///
    /// # Errors
    /// [`Error::Io`] when waiting for the process fails.
    pub async fn quit(mut self) -> Result<(), Error> {
        if self.exit_status()?.is_some() {
            return Ok(());
        }
        // A QEMU that no longer answers is killed below.
        let _ = tokio::time::timeout(QUIT_GRACE, self.qmp.quit()).await;
        match tokio::time::timeout(QUIT_GRACE, self.child.wait()).await {
            Ok(waited) => waited.map(drop).map_err(Error::io("waiting for QEMU to exit")),
            Err(_) => self.kill().await,
        }
    }

    /// Kills QEMU (SIGKILL) and waits for it.
    ///
    /// # Errors
    /// [`Error::Io`].
    pub async fn kill(mut self) -> Result<(), Error> {
        if self.exit_status()?.is_some() {
            return Ok(());
        }
        self.child.kill().await.map_err(Error::io("killing QEMU"))
    }
}

async fn keep_tail(mut output: impl AsyncRead + Unpin, into: Arc<Mutex<String>>) {
    let mut buffer = [0u8; 1024];
    while let Ok(n) = output.read(&mut buffer).await {
        if n == 0 {
            break;
        }
        let Ok(mut text) = into.lock() else { break };
        text.push_str(&String::from_utf8_lossy(&buffer[..n]));
        if text.len() > STDERR_TAIL {
            let cut = text.len() - STDERR_TAIL;
            let cut = (cut..text.len()).find(|&i| text.is_char_boundary(i)).unwrap_or(text.len());
            text.drain(..cut);
        }
    }
}

fn tail(text: &Arc<Mutex<String>>) -> String {
    text.lock().map(|t| t.trim().to_owned()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_destination_waits_paused_for_a_deferred_incoming_migration() {
        let config = QemuConfig { accel: Accel::Tcg, ..QemuConfig::new("/k", "/i") };
        let source = config.args(Side::Source, Path::new("/run/q.sock"));
        let destination = config.args(Side::Destination, Path::new("/run/q.sock"));
        assert!(!source.iter().any(|a| a == "-incoming" || a == "-S"));
        let tail: Vec<&str> = destination.iter().rev().take(3).rev().map(String::as_str).collect();
        assert_eq!(tail, ["-S", "-incoming", "defer"]);
        assert!(destination.windows(2).any(|w| w[0] == "-qmp" && w[1] == "unix:/run/q.sock,server=on,wait=off"));
        assert!(destination.windows(2).any(|w| w[0] == "-accel" && w[1] == "tcg"));
        assert_eq!(source.iter().filter(|a| *a == "-qmp").count(), 1);
    }

    #[test]
    fn a_second_monitor_is_a_second_qmp_socket() {
        let config = QemuConfig { monitor: Some(PathBuf::from("/run/ops.sock")), ..QemuConfig::new("/k", "/i") };
        let args = config.args(Side::Source, Path::new("/run/q.sock"));
        let sockets: Vec<&str> = args.windows(2).filter(|w| w[0] == "-qmp").map(|w| w[1].as_str()).collect();
        assert_eq!(sockets, ["unix:/run/q.sock,server=on,wait=off", "unix:/run/ops.sock,server=on,wait=off"]);
    }
}
