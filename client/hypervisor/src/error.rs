//! The one error type of the crate.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

/// Which end of a live migration something happened at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Source,
    Destination,
}

impl std::fmt::Display for Side {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Side::Source => "source",
            Side::Destination => "destination",
        })
    }
}

/// Why an operation on QEMU or on the live stream failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The QMP socket did not answer with a QMP greeting.
    #[error("cannot talk QMP on {path}")]
    QmpConnect {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// QEMU refused a command, or the connection broke while it ran.
    #[error("QMP `{command}` failed: {source}")]
    Qmp {
        command: &'static str,
        #[source]
        source: qapi::ExecuteError,
    },
    /// QEMU closed its monitor (it exited).
    #[error("QEMU closed its QMP socket {path}")]
    QmpClosed { path: PathBuf },
    /// `qemu-system-x86_64` could not be started.
    #[error("cannot start {program} (Debian: apt-get install qemu-system-x86)")]
    Spawn {
        program: String,
        #[source]
        source: io::Error,
    },
    /// QEMU exited when it should have been running.
    #[error("QEMU exited ({status}): {stderr}")]
    Exited { status: String, stderr: String },
    #[error("timed out after {after:?} waiting for {what}")]
    Timeout { what: String, after: Duration },
    /// QEMU reported the migration failed or was cancelled.
    #[error("the migration {status} on the {side}: {reason}")]
    MigrationFailed { side: Side, status: String, reason: String },
    /// The guest is not in the state the operation needs (e.g. `resume` of a stream that was not
    /// loaded completely).
    #[error("the guest on the {side} cannot {operation}: {reason}")]
    WrongState { side: Side, operation: &'static str, reason: String },
    /// The peer broke the live stream's protocol.
    #[error("live stream protocol: {0}")]
    Protocol(String),
    /// The destination refused the live stream's request (HTTP status and body).
    #[error("the destination refused the live stream ({status}): {body}")]
    Refused { status: u16, body: String },
    /// An I/O error, with what was being done.
    #[error("{context}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
}

impl Error {
    /// An [`Error::Io`] maker for `map_err`.
    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(io::Error) -> Error {
        let context = context.into();
        move |source| Error::Io { context, source }
    }
}
