//! # vmledger-hypervisor
//!
//! vmledger's hypervisor layer: it drives QEMU through QMP and carries a running guest's live
//! migration stream from the source to the destination, hashing it on both ends, so that the
//! ledger can decide whether the destination guest may run. (The stream comes next.)
//!
//! - [`qmp`]: [`Qmp`], a QMP client (the `qapi` crate's protocol and types): status, stop/cont,
//!   quit, migration capabilities and parameters, `migrate`, `migrate-incoming`, post-copy,
//!   `query-migrate`, and the events.
//! - [`qemu`]: [`Qemu`], a `qemu-system-x86_64` this process starts (KVM or TCG, see
//!   [`Accel::detect`]), with its QMP socket and its serial [`Console`]; a destination waits with
//!   `-S -incoming defer`.
//!
//! ## Invariants
//! - This crate signals only processes it started ([`Qemu`] kills its child on drop), and keeps
//!   its sockets in private temporary folders.

pub mod error;
pub mod qemu;
pub mod qmp;

pub use error::{Error, Side};
pub use qemu::{Accel, Console, ConsoleLine, Qemu, QemuConfig};
pub use qmp::{MigrationStats, Qmp};
