//! Placement: where should a VM go? The contract answers (`PlaceVm`, evaluated on the federation,
//! where the registry is): the federation's eligible hosts ranked by the strategy, and every host
//! left out with its reasons, the same answer for every member from the same ledger state. This
//! module asks it and picks the first host for `migrate run --auto`.

use vmledger_contract::placement::{Candidate, PlaceVm, PlacementReport, Strategy};

use crate::chains::Chains;
use crate::error::Error;
use crate::ledger::VmLedger;

/// What to ask of placement about one VM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ask {
    pub vm_id: String,
    pub strategy: Strategy,
    /// At most this many ranked hosts.
    pub limit: Option<u32>,
    /// Leave out clouds whose reputation score (per mille) is lower, or that have none.
    pub min_reputation: Option<u32>,
}

impl Ask {
    pub fn new(vm_id: &str, strategy: Strategy) -> Self {
        Ask { vm_id: vm_id.to_owned(), strategy, limit: None, min_reputation: None }
    }

    fn input(&self) -> PlaceVm {
        PlaceVm {
            vm_id: Some(self.vm_id.clone()),
            requirements: None,
            regulation: None,
            strategy: self.strategy,
            limit: self.limit,
            min_reputation: self.min_reputation,
            page_size: None,
            bookmark: None,
        }
    }
}

/// Why no host was picked.
#[derive(Debug, thiserror::Error)]
pub enum PickError {
    #[error("placement failed")]
    Ledger(#[from] Error),
    /// Every host was left out; the report says why, host by host.
    #[error("no eligible host for VM {}: {} hosts left out", .0.vm_id.as_deref().unwrap_or_default(), .0.excluded.len())]
    NoHost(Box<PlacementReport>),
}

/// The contract's placement of a VM, as `ledger`'s identity (any member gets the same answer).
///
/// # Errors
/// The errors of `PlaceVm` (`NOT_FOUND` for an unknown VM, `INVALID_ARGUMENT`).
pub async fn place(ledger: &VmLedger, ask: &Ask) -> Result<PlacementReport, Error> {
    ledger.place_vm(&ask.input()).await
}

/// The host the strategy picks for the VM (the first ranked), asked on the federation; with the
/// whole report.
///
/// # Errors
/// [`PickError::NoHost`] when every host is left out; [`PickError::Ledger`] as [`place`].
pub async fn pick(chains: &Chains, ask: &Ask) -> Result<(Candidate, PlacementReport), PickError> {
    let report = place(chains.federation(), ask).await?;
    match report.candidates.first() {
        Some(first) => Ok((first.clone(), report)),
        None => Err(PickError::NoHost(Box::new(report))),
    }
}
