//! # vmledger-bench
//!
//! The benchmark suite of vmledger: what a recorded migration costs on a real network, measured
//! beside Fabric's floor (`Ping`) in the same run. `vmledger bench run|summary` is its command line;
//! client/BENCHMARKS.md its method and figures.
//!
//! - [`round`]: the driver, Caliper-style: a round runs one operation under a closed or an open
//!   loop and reports every outcome (latency figures, per-step times, throughput, blocks, failures
//!   by code).
//! - [`suite`]: the parts (latency, hashing, whole migrations, throughput, BASICS) on the network
//!   of a members file.
//! - [`chains`]: BASICS' figures on real Fabric: local and inter-cloud migration delay (to the
//!   Leave on the local chain) against the rate, with the blocks each chain cut.
//! - [`results`]: what a suite measured (`SuiteReport` and its parts).
//! - [`report`]: the report's JSON, CSV and SVG files, their sanity checks, `SUMMARY.md`, and
//!   `SUMMARY.html` (one self-contained page with the plots inline).
//! - [`stats`] (min / p50 / p95 / p99 / max), [`procfs`] (RSS and CPU from `/proc`), [`svg`] (plots).
//!
//! Invariant: no failure is hidden. Retries are off in the SDK; every failed operation is counted by
//! its code, and a report whose figures are not sane says so ([`BenchError::NotSane`]).

pub mod chains;
mod csv_files;
mod error;
mod html;
pub mod procfs;
pub mod report;
pub mod results;
pub mod round;
pub mod stats;
pub mod suite;
pub mod svg;

pub use error::{BenchError, Result};
pub use stats::Summary;
