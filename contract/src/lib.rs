//! # vmledger-contract
//!
//! The rules of VM migration in a cloud federation, enforced on a Hyperledger Fabric ledger.
//! Compiled to WebAssembly for the chaincode (see `contract/chaincode`), and natively for tests
//! and for the client, which reuses the domain types (feature `library`).
//!
//! Invariants the contract keeps:
//! - a VM is accepted at its destination only if the SHA-256 the destination observed equals the
//!   hash the source recorded in the Indication; a mismatch is committed as a rejected migration
//!   and the VM stays where it was ([`integrity`]);
//! - a VM never goes to a host whose country or managing organisations its regulation forbids
//!   ([`policy`]);
//! - a VM goes only where its requirements fit beside everything running on or reserved for the
//!   host ([`capacity`]);
//! - only the member bound to a VM's cloud moves it; only the destination's member confirms
//!   ([`auth`]);
//! - every stay of a VM on a host is a [`model::Residency`] with its start and end: the evidence
//!   for billing and SLA disputes ([`query::usage`]);
//! - deterministic: no clock, no randomness, no I/O. Times come from the transaction's timestamp
//!   and ids from its id, so every endorsing peer computes the same writes.
//!
//! Read top-down: [`contract`] (the table of functions and events, and the transactions),
//! [`vocabulary`] (what crosses the wire: functions, events, codes, exit codes), [`query`], [`msg`] (inputs),
//! [`model`], [`state`] (the ledger layout), the rules ([`integrity`], [`policy`], [`capacity`],
//! [`auth`], [`validate`]), [`error`], and the ledger interface [`ledger`].

pub mod anchor;
pub mod auth;
pub mod capacity;
pub mod chains;
pub mod claims;
pub mod clock;
pub mod contract;
pub mod error;
pub mod integrity;
pub mod ledger;
pub mod memory;
pub mod migration;
pub mod model;
pub mod msg;
pub mod ownership;
pub mod placement;
pub mod policy;
pub mod query;
pub mod reputation;
#[cfg(any(test, feature = "schema"))]
pub mod schema;
pub mod state;
pub mod stays;
pub mod terms;
pub mod validate;
pub mod vocabulary;

#[cfg(all(target_arch = "wasm32", not(feature = "library")))]
pub mod wasm;

#[cfg(test)]
mod tests;

pub use contract::execute;
pub use error::{ContractError, Denial, Kind, Shortfall, WireError};
pub use ledger::{Caller, Ledger, Tx};
pub use model::*;
