//! Workflows: the multi-step procedures every caller needs, CLI or billing job, written once.
//!
//! - [`migrate`]: a whole migration (hash → Indication → transfer while it commits → Confirmation),
//!   with a timing report and progress through an [`migrate::Observer`];
//! - [`live`]: a running guest's live migration, gated by the ledger (Indication → stream →
//!   `RecordStreamHash` → the destination's Confirmation → quit or resume at the source);
//! - [`placement`]: where a VM may go, checked by the contract, best fit first;
//! - [`apply`]: bring the ledger to a federation described as data, idempotently.
//!
//! History and usage need no workflow of their own: [`crate::VmLedger::migration_pages`] follows a
//! listing's bookmarks page by page, and [`crate::rows`] flattens records for CSV and tables.

pub mod apply;
pub mod live;
pub mod migrate;
pub mod placement;
