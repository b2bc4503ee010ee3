//! Workflows: the multi-step procedures every caller needs, CLI or billing job, written once.
//!
//! - [`migrate`]: a whole migration (hash → Indication → transfer while it commits → Confirmation),
//!   with a timing report and progress through an [`migrate::Observer`].

pub mod migrate;
