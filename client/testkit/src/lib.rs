//! # vmledger-testkit
//!
//! What the client crates' integration tests share: [`StandIn`], a scripted stand-in for a
//! member's gateway REST proxy on 127.0.0.1 that records what it was asked; [`sample`], records
//! as the contract answers them; and [`CutRelay`], a TCP relay that breaks a connection midway.
//! No Fabric network is needed; the end-to-end tests on a real one are in `tests/e2e`.
// Test support: panicking on a broken test fixture is the point.
#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

pub mod cut;
pub mod sample;
mod stand_in;

pub use cut::CutRelay;

pub use stand_in::{CERTIFICATE, MSP_ID, Reply, Seen, StandIn, creator, nowhere, tx_id_of};
