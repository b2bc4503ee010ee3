//! Creation markers: a record in a member's name counts only if that member's peers endorsed its
//! creation.
//!
//! Key-level endorsement ([`crate::ownership`]) protects a record once it exists; a key that does
//! not exist yet is governed by the chaincode's policy (a majority), so a coalition running a
//! modified contract could *create* a cloud, host, VM, migration or stay in another member's name.
//! Fabric gives every channel one implicit private data collection per member,
//! `_implicit_org_<MSP id>`, with no configuration; a write into it is valid only if it satisfies
//! that member's own Endorsement policy (its peers) — for new keys too. So each transaction that
//! creates a record owned by member X also writes a small fixed marker under the record's key into
//! X's implicit collection. The marker's value reaches only X's peers, but its SHA-256 is on every
//! peer, so any member checks it with `GetPrivateDataHash`.
//!
//! Readers accept a record only if its marker is there: a record asked for by id without one is
//! refused as `NOT_FOUND` saying so (for every honest purpose it does not exist, and clients and
//! exit codes already handle an absent record); listings, histories and usage reports skip such
//! records and list their keys in `unanchored`.
//!
//! | record | marker in the implicit collection of |
//! | --- | --- |
//! | a cloud | its member (and its id must be in that member's namespace) |
//! | a host | its cloud's member (and its id in that member's namespace) |
//! | a VM | its operator (its cloud's member) |
//! | a migration | the VM's operator (the member that asks for it) |
//! | a stay (residency) | the VM's operator (the member it bills) |
//! | an accepted-credit index entry (`AcceptClaim`) | the accused cloud's member (the one that owes it) |

use std::collections::BTreeMap;

use sha2::Digest;

use crate::error::{ContractError, Kind, Result};
use crate::ledger::Ledger;
use crate::model::{Cloud, Host, Migration, Residency, VirtualMachine};
use crate::ownership::in_namespace;
use crate::state;

/// Fabric's name prefix of a member's implicit collection.
const IMPLICIT_COLLECTION_PREFIX: &str = "_implicit_org_";

/// The marker's value: fixed and small; what matters is who endorsed writing it.
pub const MARK: &str = "created";

/// The implicit collection of the member `msp_id`.
pub fn collection(msp_id: &str) -> String {
    format!("{IMPLICIT_COLLECTION_PREFIX}{msp_id}")
}

/// The member whose implicit collection `collection` is, if it is one.
pub fn implicit_owner(collection: &str) -> Option<String> {
    collection.strip_prefix(IMPLICIT_COLLECTION_PREFIX).filter(|m| !m.is_empty()).map(str::to_owned)
}

/// Hex SHA-256 of [`MARK`]: what every peer holds for a marker.
fn mark_hash() -> String {
    hex::encode(sha2::Sha256::digest(MARK.as_bytes()))
}

/// Marks the record at `key` as created with `owner_msp_id`'s endorsement. Call it only when the
/// record is created: the marker's key is the record's key.
pub async fn mark(ledger: &impl Ledger, key: &str, owner_msp_id: &str) -> Result<()> {
    ledger.put_private(&collection(owner_msp_id), key, MARK).await
}

/// How Fabric refuses a collection the channel does not have: a member's implicit collection goes
/// when the member leaves the channel.
const UNDEFINED_COLLECTION: &str = "not defined in the collection config";

/// Whether the record at `key` carries `owner_msp_id`'s marker.
///
/// The records of a member that has left the channel are accepted as they stood: its implicit
/// collection, and so its markers, can no longer be read, and its past must still answer.
pub async fn is_marked(ledger: &impl Ledger, key: &str, owner_msp_id: &str) -> Result<bool> {
    match ledger.private_hash(&collection(owner_msp_id), key).await {
        Ok(hash) => Ok(hash.is_some_and(|h| h == mark_hash())),
        Err(ContractError::Ledger { reason }) if reason.contains(UNDEFINED_COLLECTION) => Ok(true),
        Err(other) => Err(other),
    }
}

fn unanchored(kind: Kind, id: &str, owner_msp_id: &str) -> ContractError {
    ContractError::NotFound {
        kind,
        id: id.to_owned(),
        unanchored: Some(format!(
            "a record exists, but {owner_msp_id}'s peers never endorsed its creation (no marker in {})",
            collection(owner_msp_id)
        )),
    }
}

/// A cloud, if it exists and its member endorsed its creation.
pub async fn cloud(ledger: &impl Ledger, id: &str) -> Result<Cloud> {
    let key = state::cloud(id);
    let cloud: Cloud = state::require(ledger, Kind::Cloud, id, &key).await?;
    if !in_namespace(&cloud.msp_id, id) || !is_marked(ledger, &key, &cloud.msp_id).await? {
        return Err(unanchored(Kind::Cloud, id, &cloud.msp_id));
    }
    Ok(cloud)
}

/// A host, if it exists and its cloud's member endorsed its creation; with that cloud.
pub async fn host_and_cloud(ledger: &impl Ledger, id: &str) -> Result<(Host, Cloud)> {
    let key = state::host(id);
    let host: Host = state::require(ledger, Kind::Host, id, &key).await?;
    let cloud = cloud(ledger, &host.cloud_id).await?;
    if !in_namespace(&cloud.msp_id, id) || !is_marked(ledger, &key, &cloud.msp_id).await? {
        return Err(unanchored(Kind::Host, id, &cloud.msp_id));
    }
    Ok((host, cloud))
}

/// A host, if it exists and its cloud's member endorsed its creation.
pub async fn host(ledger: &impl Ledger, id: &str) -> Result<Host> {
    Ok(host_and_cloud(ledger, id).await?.0)
}

/// A VM's record on this chain, if it exists and its operator endorsed its creation; with the
/// operator's cloud.
pub async fn vm_and_cloud(ledger: &impl Ledger, id: &str) -> Result<(VirtualMachine, Cloud)> {
    let key = state::vm(id);
    let vm: VirtualMachine = state::require(ledger, Kind::Vm, id, &key).await?;
    let cloud = cloud(ledger, &vm.cloud_id).await?;
    if !is_marked(ledger, &key, &cloud.msp_id).await? {
        return Err(unanchored(Kind::Vm, id, &cloud.msp_id));
    }
    Ok((vm, cloud))
}

/// A VM, if it exists and its operator endorsed its creation.
pub async fn vm(ledger: &impl Ledger, id: &str) -> Result<VirtualMachine> {
    Ok(vm_and_cloud(ledger, id).await?.0)
}

/// Whether a migration carries the marker of its VM's operator (`operator_msp_id`).
pub async fn is_migration_marked(ledger: &impl Ledger, migration: &Migration, operator_msp_id: &str) -> Result<bool> {
    is_marked(ledger, &state::migration(&migration.id), operator_msp_id).await
}

/// A migration on this chain, if its VM's operator endorsed its creation.
pub async fn migration(ledger: &impl Ledger, id: &str) -> Result<Migration> {
    let migration: Migration = state::require(ledger, Kind::Migration, id, &state::migration(id)).await?;
    let operator = operator_of(ledger, &migration.vm_id).await?;
    if !is_migration_marked(ledger, &migration, &operator).await? {
        return Err(unanchored(Kind::Migration, id, &operator));
    }
    Ok(migration)
}

/// The MSP id of a VM's operator (the member of the VM's cloud), as this chain sees the VM.
async fn operator_of(ledger: &impl Ledger, vm_id: &str) -> Result<String> {
    let vm = crate::chains::vm(ledger, vm_id).await?;
    Ok(crate::chains::cloud(ledger, &vm.cloud_id).await?.msp_id)
}

/// Checks the records of one listing or report against their markers, remembering each cloud and
/// VM it resolves (a page of 1000 migrations of a few VMs reads each VM once), and the keys of the
/// records it refused, for the answer's `unanchored`.
#[derive(Default)]
pub struct Checker {
    clouds: BTreeMap<String, Option<Cloud>>,
    vms: BTreeMap<String, Option<VirtualMachine>>,
    /// Keys of the records refused so far.
    pub unanchored: Vec<String>,
}

impl Checker {
    /// A cloud that exists and is anchored, else `None`.
    async fn cloud(&mut self, ledger: &impl Ledger, id: &str) -> Result<Option<Cloud>> {
        if let Some(known) = self.clouds.get(id) {
            return Ok(known.clone());
        }
        let found = absent_if_not_found(crate::chains::cloud(ledger, id).await)?;
        self.clouds.insert(id.to_owned(), found.clone());
        Ok(found)
    }

    /// A VM that exists and is anchored, else `None`.
    async fn vm(&mut self, ledger: &impl Ledger, id: &str) -> Result<Option<VirtualMachine>> {
        if let Some(known) = self.vms.get(id) {
            return Ok(known.clone());
        }
        let found = absent_if_not_found(crate::chains::vm(ledger, id).await)?;
        self.vms.insert(id.to_owned(), found.clone());
        Ok(found)
    }

    fn verdict(&mut self, key: &str, anchored: bool) -> bool {
        if !anchored {
            self.unanchored.push(key.to_owned());
        }
        anchored
    }

    /// A host of the cloud `cloud_id` (its index says so), created by that cloud's member.
    pub async fn host(&mut self, ledger: &impl Ledger, host: &Host, cloud_id: &str) -> Result<bool> {
        let key = state::host(&host.id);
        let anchored = match self.cloud(ledger, &host.cloud_id).await? {
            Some(cloud) if cloud.id == cloud_id => {
                in_namespace(&cloud.msp_id, &host.id) && is_marked(ledger, &key, &cloud.msp_id).await?
            }
            _ => false,
        };
        Ok(self.verdict(&key, anchored))
    }

    /// A migration of the VM `vm_id`, or touching the cloud `cloud_id` (its index says so), created
    /// by the VM's operator.
    pub async fn migration(
        &mut self,
        ledger: &impl Ledger,
        migration: &Migration,
        vm_id: Option<&str>,
        cloud_id: Option<&str>,
    ) -> Result<bool> {
        let key = state::migration(&migration.id);
        let listed = vm_id.is_none_or(|v| v == migration.vm_id)
            && cloud_id.is_none_or(|c| c == migration.source.cloud_id || c == migration.destination.cloud_id);
        let operator = match self.vm(ledger, &migration.vm_id).await? {
            Some(vm) if listed => self.cloud(ledger, &vm.cloud_id).await?,
            _ => None,
        };
        let anchored = match operator {
            Some(cloud) => is_migration_marked(ledger, migration, &cloud.msp_id).await?,
            None => false,
        };
        Ok(self.verdict(&key, anchored))
    }

    /// A stay at `key` of the VM `vm_id` or hosted by the cloud `cloud_id` (its index says so),
    /// created with the endorsement of the member it bills: the VM's operator.
    pub async fn stay(
        &mut self,
        ledger: &impl Ledger,
        key: &str,
        stay: &Residency,
        vm_id: Option<&str>,
        cloud_id: Option<&str>,
    ) -> Result<bool> {
        let listed = vm_id.is_none_or(|v| v == stay.vm_id) && cloud_id.is_none_or(|c| c == stay.cloud_id);
        let operator = match self.vm(ledger, &stay.vm_id).await? {
            Some(vm) if listed && vm.cloud_id == stay.operator_cloud_id => self.cloud(ledger, &vm.cloud_id).await?,
            _ => None,
        };
        let anchored = match operator {
            Some(cloud) => is_marked(ledger, key, &cloud.msp_id).await?,
            None => false,
        };
        Ok(self.verdict(key, anchored))
    }

    /// An entry of the accepted-credit index (`credit/…`, written by `AcceptClaim`) of a cloud of
    /// `accused_msp_id`: it counts only if that member endorsed writing it, so no coalition can make
    /// a cloud owe credits, or lose reputation, for a claim it never accepted.
    pub async fn credit(&mut self, ledger: &impl Ledger, key: &str, accused_msp_id: &str) -> Result<bool> {
        let anchored = is_marked(ledger, key, accused_msp_id).await?;
        Ok(self.verdict(key, anchored))
    }
}

/// `NOT_FOUND` (absent, or unanchored) as `None`; any other refusal stays one.
fn absent_if_not_found<T>(found: Result<T>) -> Result<Option<T>> {
    match found {
        Ok(record) => Ok(Some(record)),
        Err(ContractError::NotFound { .. }) => Ok(None),
        Err(other) => Err(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_members_implicit_collection_is_named_by_fabric() {
        assert_eq!(collection("Org1MSP"), "_implicit_org_Org1MSP");
        assert_eq!(implicit_owner("_implicit_org_Org1MSP").as_deref(), Some("Org1MSP"));
        assert_eq!(implicit_owner("terms-org1-org2"), None);
        assert_eq!(implicit_owner("_implicit_org_"), None);
    }
}
