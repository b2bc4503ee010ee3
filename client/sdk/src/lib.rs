//! # vmledger-client
//!
//! The SDK of vmledger: a client of a federation member's gateway REST proxy, in Fabric's
//! vocabulary, and a typed API over the vmledger contract that shares the contract's own types.
//!
//! ```no_run
//! # async fn demo() -> vmledger_client::Result<()> {
//! use vmledger_client::{Gateway, VmLedger};
//! let gateway = Gateway::builder("http://127.0.0.1:7101").api_key("…").connect()?;
//! let ledger = VmLedger::new(gateway.network("federation").contract("vmledger"));
//! let vm = ledger.get_vm("vm-1").await?;
//! # let _ = vm; Ok(()) }
//! ```
//!
//! Layers, bottom up:
//! - [`gateway`]: [`Gateway`] → [`Network`] → [`Contract`]: `evaluate`, `submit` (waits for the
//!   commit), `submit_async` (returns at 202, then [`Pending::wait`]); per-step timeouts and the
//!   retry policy on the [`GatewayBuilder`].
//! - [`ledger`]: [`VmLedger`], one method per contract function.
//! - [`events`]: the live, resuming event feed.
//! - [`image`] (hashing, rate caps) and [`transfer`] (to a folder or a destination agent).
//! - [`chains`]: which chain a migration goes to (the member's local chain inside a cloud, the
//!   federation between clouds), and finding a migration on either.
//! - [`members`]: `network/run/members.json` and connection [`Profile`]s.
//! - [`rows`]: records as flat rows (CSV, tables, NDJSON listings).
//! - [`workflow`]: what a caller does in several steps, written once: a whole migration
//!   ([`workflow::migrate`]: hash → Indication → transfer while it commits → Confirmation, with a
//!   report and progress through an observer).
//! - [`relay`]: a member's relay (BASICS' cloud gateway): follows the federation and writes Leave and
//!   Arrival on the member's local chain, from a durable checkpoint, with its status over HTTP.
//! - [`sla`]: service terms with prices private to the two clouds, violation claims and their answers.
//! - [`agent`]: the destination agent, the destination side of that workflow (an HTTP server that
//!   hashes what it receives and confirms as its member).
//!
//! Invariants: every failure is an [`Error`] naming the step that failed and, when there is one, the
//! transaction id; a contract refusal carries the contract's typed
//! [`ContractError`](vmledger_contract::ContractError), parsed from the problem document's
//! `code`/`details`, never from text; only calls that cannot take effect twice are retried.

pub mod agent;
pub mod chains;
pub mod error;
pub mod events;
pub mod gateway;
pub mod identity;
pub mod image;
pub mod ledger;
pub mod members;
pub mod relay;
pub mod rows;
pub mod sla;
pub mod transfer;
pub mod workflow;

pub use chains::{Chains, Route, RouteError};
pub use error::{Error, Problem, Result, Step};
pub use events::{ChaincodeEvent, EventStream, StartAt};
pub use gateway::{
    ChainInfo, Committed, Contract, Gateway, GatewayBuilder, Network, Pending, Prepared, RetryPolicy, Timeouts,
    Timings, TxState, TxStatus,
};
pub use identity::Signer;
pub use ledger::{Pages, PendingMigration, VmLedger};
pub use members::{Member, Members, MembersError, Profile};
pub use vmledger_contract as contract;
pub use vmledger_hypervisor as hypervisor;
