//! One module per subcommand: each turns its arguments into SDK calls and prints the outcome. No
//! subcommand imports another; what they share is in `input`, `output` and `progress`.

pub(crate) mod agent;
pub(crate) mod apply;
pub(crate) mod bench;
pub(crate) mod claim;
pub(crate) mod cloud;
pub(crate) mod completion;
pub(crate) mod context;
pub(crate) mod events;
pub(crate) mod hash;
pub(crate) mod history;
pub(crate) mod host;
pub(crate) mod migrate;
pub(crate) mod place;
pub(crate) mod terms;
pub(crate) mod tx;
pub(crate) mod usage;
pub(crate) mod vm;
