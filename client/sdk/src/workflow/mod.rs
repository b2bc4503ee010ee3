//! Workflows: the multi-step procedures every caller needs, CLI or billing job, written once.
//!
//! - [`migrate`]: a whole migration (hash → Indication → transfer while it commits → Confirmation),
//!   with a timing report and progress through an [`migrate::Observer`];
//! - [`apply`]: bring the ledger to a federation described as data, idempotently.

pub mod apply;
pub mod migrate;
