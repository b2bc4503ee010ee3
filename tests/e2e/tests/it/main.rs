//! End-to-end tests on a real network (see the crate docs: they are `#[ignore]`d unless run with
//! `cargo test -p vmledger-e2e -- --ignored`, after `cargo build -p vmledger-cli`).

mod apply;
mod authorization;
mod billing;
mod denial;
mod events;
mod exit_codes;
mod history;
mod integrity;
mod live;
mod migration;
mod multichain;
mod outcomes;
mod placement;
mod sla;
mod upload;
