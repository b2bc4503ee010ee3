//! Chain routing, as BASICS designs it: a migration between two hosts of one cloud goes to the
//! operator member's local chain; one that leaves the cloud goes to the federation. The caller never
//! names a channel: [`Chains::for_migration`] reads the registry (which only the federation keeps)
//! and picks.
//!
//! A migration is found by its id on whichever chain holds it ([`Chains::find_migration`]), so
//! `show`, `confirm`, `cancel` and the destination agent need no channel either.

use serde::{Deserialize, Serialize};
use vmledger_contract::model::{LocalRecords, Migration, RegulationChange, Residency, Scope};
use vmledger_contract::msg;

use crate::error::{Error, Result};
use crate::ledger::VmLedger;

/// One member's view of its chains, as one identity: the federation, and its own local chain when
/// it has one.
#[derive(Debug, Clone)]
pub struct Chains {
    federation: VmLedger,
    local: Option<VmLedger>,
}

/// Why no chain could be picked.
#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    #[error("reading the registry on the federation")]
    Registry(#[source] Box<Error>),
    #[error(
        "VM {vm_id} would move inside cloud {cloud_id}, which goes to the member's local chain, and this connection knows none (members.json gives each member's `localChannel`)"
    )]
    NoLocalChain { vm_id: String, cloud_id: String },
}

/// Where a migration goes: its scope and the chain that records it.
#[derive(Debug, Clone)]
pub struct Route<'a> {
    pub scope: Scope,
    /// The cloud the VM is in now and the destination host's cloud.
    pub source_cloud: String,
    pub destination_cloud: String,
    pub ledger: &'a VmLedger,
}

impl Chains {
    pub fn new(federation: VmLedger, local: Option<VmLedger>) -> Chains {
        Chains { federation, local }
    }

    /// The consortium chain: the registry, inter-cloud migrations, residencies and billing.
    pub fn federation(&self) -> &VmLedger {
        &self.federation
    }

    /// The member's own chain, if this connection knows it.
    pub fn local(&self) -> Option<&VmLedger> {
        self.local.as_ref()
    }

    /// The chain of a scope: the local chain for `local`, the federation for `inter`.
    pub fn of(&self, scope: Scope) -> Option<&VmLedger> {
        match scope {
            Scope::Local => self.local.as_ref(),
            Scope::Inter => Some(&self.federation),
        }
    }

    /// Where moving `vm_id` to `to_host` goes: the local chain when the VM's host and `to_host` are
    /// of one cloud, the federation otherwise.
    ///
    /// # Errors
    /// [`RouteError::Registry`] (the VM or host unknown: the contract's `NOT_FOUND`, or the
    /// federation unreachable); [`RouteError::NoLocalChain`].
    pub async fn for_migration(&self, vm_id: &str, to_host: &str) -> Result<Route<'_>, RouteError> {
        let registry = |e| RouteError::Registry(Box::new(e));
        let (vm, destination) = tokio::join!(self.federation.get_vm(vm_id), self.federation.get_host(to_host));
        let (vm, destination) = (vm.map_err(registry)?, destination.map_err(registry)?);
        let source = self.federation.get_host(&vm.host_id).await.map_err(registry)?;
        let scope = if source.cloud_id == destination.cloud_id { Scope::Local } else { Scope::Inter };
        let ledger = self
            .of(scope)
            .ok_or_else(|| RouteError::NoLocalChain { vm_id: vm_id.to_owned(), cloud_id: source.cloud_id.clone() })?;
        Ok(Route { scope, source_cloud: source.cloud_id, destination_cloud: destination.cloud_id, ledger })
    }

    /// The migration `id` and the chain holding it: the federation first, then the local chain.
    ///
    /// # Errors
    /// The federation's `NOT_FOUND` when neither holds it; transport errors.
    pub async fn find_migration(&self, id: &str) -> Result<(Migration, &VmLedger)> {
        match self.federation.get_migration(id).await {
            Ok(m) => Ok((m, &self.federation)),
            Err(e) if is_not_found(&e) => match &self.local {
                Some(local) => match local.get_migration(id).await {
                    Ok(m) => Ok((m, local)),
                    Err(local_error) if is_not_found(&local_error) => Err(e),
                    Err(local_error) => Err(local_error),
                },
                None => Err(e),
            },
            Err(e) => Err(e),
        }
    }
}

/// One move of a VM, on the chain that recorded it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrailEntry {
    /// The channel holding the migration: the federation (between clouds) or a local chain.
    pub chain: String,
    pub migration: Migration,
    /// An inter-cloud migration's Leave or Arrival on this member's local chain, as the local
    /// contract answers `GetLocalRecord` (absent when this member's chain holds none: not its
    /// cloud, or its relay has not written it yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_record: Option<LocalRecords>,
}

/// A VM's whole trail as one member can read it: its moves inside this member's cloud from the
/// local chain, its moves between clouds from the federation with their Leave and Arrival, and
/// its residencies. The residencies (and so billing) are the federation's only: a move inside a
/// cloud changes neither the cloud that bills nor the amounts, so counting the local chain's stays
/// as well would count the same hours twice; the local chain gives the host-level detail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Trail {
    pub vm_id: String,
    /// Oldest first.
    pub moves: Vec<TrailEntry>,
    pub residencies: Vec<Residency>,
    pub regulation_changes: Vec<RegulationChange>,
    /// The local chain read (absent when this connection knows none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_channel: Option<String>,
}

impl Chains {
    /// The trail of the VM of `query` (`vm_id`, optionally a period): every page of both chains.
    ///
    /// # Errors
    /// The federation's errors (`NOT_FOUND` for an unknown VM); the local chain's, but `NOT_FOUND`
    /// (no local move).
    pub async fn vm_trail(&self, query: &msg::ListMigrations) -> Result<Trail> {
        let vm_id = query.vm_id.clone().unwrap_or_default();
        let mut query = query.clone();
        query.bookmark = None;
        let (history, inter) = tokio::join!(self.federation.vm_history(&vm_id), self.federation.all_migrations(&query));
        let (history, inter) = (history?, inter?);
        let mut moves = Vec::new();
        let federation = self.federation.contract().network().name().to_owned();
        for migration in inter {
            let local_record = match &self.local {
                Some(local) if migration.scope == Scope::Inter => match local.get_local_record(&migration.id).await {
                    Ok(record) => Some(record),
                    Err(e) if e.contract_error().is_some() => None,
                    Err(e) => return Err(e),
                },
                _ => None,
            };
            moves.push(TrailEntry { chain: federation.clone(), migration, local_record });
        }
        if let Some(local) = &self.local {
            match local.all_migrations(&query).await {
                Ok(found) => {
                    let chain = local.contract().network().name().to_owned();
                    moves.extend(found.into_iter().map(|migration| TrailEntry {
                        chain: chain.clone(),
                        migration,
                        local_record: None,
                    }));
                }
                Err(e) if e.contract_error().is_some() => {}
                Err(e) => return Err(e),
            }
        }
        moves.sort_by_key(|a| a.migration.indicated_at);
        Ok(Trail {
            vm_id,
            moves,
            residencies: history.residencies,
            regulation_changes: history.regulation_changes,
            local_channel: self.local.as_ref().map(|l| l.contract().network().name().to_owned()),
        })
    }
}

/// The contract's `NOT_FOUND`.
pub fn is_not_found(e: &Error) -> bool {
    e.contract_error().is_some_and(|c| c.code() == "NOT_FOUND")
}
