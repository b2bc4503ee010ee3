//! The bench crate's one error type.

use std::path::{Path, PathBuf};

/// Why a suite or a summary could not be made.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The network's members file could not be used.
    #[error(transparent)]
    Members(#[from] vmledger_client::MembersError),
    /// A ledger call of the set-up failed (measured calls never fail the suite: they are counted).
    #[error("{what}")]
    Ledger {
        what: String,
        #[source]
        source: Box<vmledger_client::Error>,
    },
    #[error("{path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// An external tool (`sha256sum`, the destination agent) failed.
    #[error("{0}")]
    Tool(String),
    /// The options do not make a suite.
    #[error("{0}")]
    Options(String),
    #[error("no benchmark report (*.json) in {0}")]
    NoReports(PathBuf),
    /// The figures were written but failed their sanity checks.
    #[error("the benchmark's figures are not sane: {}", .0.join("; "))]
    NotSane(Vec<String>),
}

impl BenchError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> BenchError {
        BenchError::Io { path: path.to_owned(), source }
    }

    pub(crate) fn ledger(what: &str, source: vmledger_client::Error) -> BenchError {
        BenchError::Ledger { what: what.to_owned(), source: Box::new(source) }
    }
}

/// Shorthand for the crate's results.
pub type Result<T, E = BenchError> = std::result::Result<T, E>;
