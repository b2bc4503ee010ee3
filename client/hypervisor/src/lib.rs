//! # vmledger-hypervisor
//!
//! vmledger's hypervisor layer: it drives QEMU through QMP and carries a running guest's live
//! migration stream from the source to the destination, hashing it on both ends, so that the
//! ledger can decide whether the destination guest may run.
//!
//! - [`qmp`]: [`Qmp`], a QMP client (the `qapi` crate's protocol and types): status, stop/cont,
//!   quit, migration capabilities and parameters, `migrate`, `migrate-incoming`, post-copy,
//!   `query-migrate`, and the events.
//! - [`qemu`]: [`Qemu`], a `qemu-system-x86_64` this process starts (KVM or TCG, see
//!   [`Accel::detect`]), with its QMP socket and its serial [`Console`]; a destination waits with
//!   `-S -incoming defer`.
//! - [`link`]: the link between the two vmledgers: an HTTP/1.1 request (migration id, bearer
//!   token, mode) upgraded to a framed two-way stream that tells a complete stream from a truncated
//!   one.
//! - [`live`]: [`send_live`] and [`receive_live`], and the destination's [`Arrived`] guest.
//! - [`pace`]: the link's rate cap.
//!
//! ## Invariants
//! - The source's hash is the SHA-256 of exactly the bytes its QEMU produced, the destination's
//!   of exactly the bytes that arrived; a corrupted, truncated or aborted stream cannot hash equal
//!   unless the corruption changed nothing. Neither side learns the other's hash over the link.
//! - The destination guest never runs before [`Arrived::resume`], which refuses a stream that
//!   was not complete and loaded. Call it only once the ledger has confirmed the hash; otherwise
//!   [`Arrived::discard`] (dropping an [`Arrived`] discards it too).
//! - After [`send_live`] the source guest is paused (`postmigrate`): at most one of the two runs
//!   until someone decides, and the source can always resume where it stopped.
//! - This crate signals only processes it started ([`Qemu`] kills its child on drop), and keeps
//!   its sockets in private temporary folders.
//!
//! ## The live protocol with the ledger (for the SDK, the CLI and the agent)
//! A live stream's hash is known only when the stream ends, so the source records it then, in a
//! transaction of its own, and the destination may confirm only after that:
//! 1. source: `Migrate` (the Indication, without a hash) — policy, capacity, the destination's
//!    consent;
//! 2. source: [`link::connect`] to the destination agent, which checks the token and that the
//!    migration is indicated for it, starts its QEMU as a destination and calls [`receive_live`];
//! 3. source: [`send_live`]: pre-copy while the guest runs, then QEMU stops it, sends the rest and
//!    completes; the source guest stays paused;
//! 4. source: records the stream's hash and length on the ledger (new transaction);
//! 5. destination: once [`receive_live`] returned and the recorded hash is on its peer,
//!    `ConfirmMigration` with its own hash;
//! 6. confirmed: the destination [`Arrived::resume`]s, the source [`Qmp::quit`]s; rejected (the
//!    rejection is committed as evidence): the destination [`Arrived::discard`]s, the source
//!    [`Qmp::cont`]s. Cancelled or expired: the same as rejected.
//!
//! ## Pre-copy and post-copy
//! Pre-copy (the default) copies memory while the guest runs, then stops it for the last dirty
//! pages; QEMU aims for at most `downtime-limit` (300 ms). A guest that dirties memory faster than
//! the link carries it never gets there, and the migration runs until its timeout.
//! Post-copy ([`SendOptions::postcopy`], with `postcopy-ram` and userfaultfd at the destination)
//! switches after the first pass: the source stops the guest, sends its device state, and the
//! destination normally runs it at once, fetching each missing page when the guest touches it.
//! That bounds the total time, but here the destination guest stays paused until the ledger
//! confirms the whole stream's hash, so the switchover pause lasts until every remaining page has
//! arrived: post-copy trades a longer pause for a migration that always ends (measured with a guest
//! dirtying 8 MiB/s at 124.8 Mbit/s: 11.5 s in all and a 3.5 s pause, against 13.9 s and 0.3 s for
//! pre-copy). QEMU's own downtime figure then counts only the device state. Letting the guest
//! run before the hash is checked would give up BASICS' guarantee (and a post-copy guest whose
//! link breaks is lost on both sides), so this crate does not offer it.

pub mod error;
pub mod link;
pub mod live;
pub mod pace;
pub mod qemu;
pub mod qmp;

pub use error::{Error, Side};
pub use live::{
    Arrived, DigestKey, LiveReceived, LiveSent, Load, ReceiveOptions, SendOptions, StreamEnd, receive_live, send_live,
};
pub use qemu::{Accel, Console, ConsoleLine, Qemu, QemuConfig};
pub use qmp::{MigrationStats, Qmp};

/// A temporary folder only this user may enter (0700), for sockets; removed when dropped.
pub(crate) fn private_dir(prefix: &str) -> Result<tempfile::TempDir, Error> {
    use std::os::unix::fs::PermissionsExt;
    tempfile::Builder::new()
        .prefix(prefix)
        .permissions(std::fs::Permissions::from_mode(0o700))
        .tempdir()
        .map_err(error::Error::io("creating a private folder for sockets"))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn socket_folders_are_private() {
        let dir = super::private_dir("vmledger-test-").expect("a folder");
        let mode = std::fs::metadata(dir.path()).expect("metadata").permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }
}
