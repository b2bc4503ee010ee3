//! The ledger layout: every key the contract reads or writes, in one place. It is public API:
//! clients and auditors reading the world state directly depend on it.
//!
//! Keys are printable, `/`-separated; ids never contain `/` (see [`crate::validate::id`]).
//! Times inside keys are fixed-width RFC 3339 UTC with nanoseconds, so keys sort by time.
//!
//! | key                                              | value                          |
//! |--------------------------------------------------|--------------------------------|
//! | `cloud/{cloudId}`                                | [`Cloud`]                      |
//! | `host/{hostId}`                                  | [`Host`]                       |
//! | `alloc/{hostId}`                                 | [`Allocation`] of the host     |
//! | `vm/{vmId}`                                      | [`VirtualMachine`]             |
//! | `migration/{migrationId}`                        | [`Migration`]                  |
//! | `residency/{vmId}/{from}/{txId}`                 | [`Residency`]                  |
//! | `index/host-by-cloud/{cloudId}/{hostId}`         | host key                       |
//! | `index/migration-by-vm/{vmId}/{at}/{migrationId}`| migration key                  |
//! | `index/migration-by-cloud/{cloudId}/{at}/{migrationId}` | migration key (source and destination clouds) |
//! | `index/open-residency-by-cloud/{cloudId}/{vmId}/{txId}` | residency key, while the stay is open (hosting cloud) |
//! | `index/residency-by-cloud-month/{cloudId}/{YYYY-MM}/{from}/{vmId}/{txId}` | residency key, for every calendar month (UTC) a closed stay overlaps |
//! | `index/vm-by-host/{hostId}/{vmId}`               | VM key, while the VM runs there |
//! | `reservation/{hostId}/{expiresAt}/{migrationId}` | [`Resources`](crate::model::Resources) an Indication reserves, until its deadline |
//! | `ping/{txId}`                                    | [`Pong`](crate::model::Pong)   |
//! | `host-state/{hostId}`                            | [`HostState`](crate::placement::HostState): its availability now (absent: up) |
//! | `index/availability-by-host/{hostId}/{at}/{txId}` | [`HostState`](crate::placement::HostState) as each change recorded it |
//! | `placed/{hostId}`                                | [`Placements`](crate::placement::Placements): Indications into the host, the round-robin cursor |
//! | `terms/{termsId}`                                | [`Terms`](crate::terms::Terms): the public part, with the private part's hash |
//! | `terms/{termsId}` in collection `terms-{orgA}-{orgB}` | [`PrivateTerms`](crate::terms::PrivateTerms): prices, visible to the two members only |
//! | `claim/{claimId}`                                | [`Claim`](crate::claims::Claim) |
//! | `index/credit-by-cloud/{accusedCloudId}/{acceptedAt}/{claimId}` | claim key, once accepted: a credit the cloud owes |
//!
//! Creation markers ([`crate::anchor`]) live in the owner's implicit private data collection
//! `_implicit_org_<MSP id>`, not in the world state; their hashes are on every peer:
//!
//! | collection | key | value |
//! |---|---|---|
//! | `_implicit_org_<owner>` | the record's own key: `cloud/…`, `host/…`, `vm/…`, `migration/…`, `residency/…`, an accepted claim's credit index entry | [`MARK`](crate::anchor::MARK) (`created`) |
//!
//! Who must endorse a change of each key (Fabric's key-level endorsement policies) is set where the
//! key is written; [`crate::ownership`] says who owns what.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{ContractError, Kind, Result};
use crate::ledger::Ledger;
use crate::model::Timestamp;

/// Listings answer at most this many items per page.
pub const MAX_PAGE_SIZE: u32 = 1000;
/// Page size when the caller gives none.
pub const DEFAULT_PAGE_SIZE: u32 = 100;

/// Sorts after every character allowed in ids and times: the end of a prefix range.
const RANGE_END: char = '~';

/// A time as it appears inside keys: fixed width, so lexical order is time order.
pub fn time_key(t: &Timestamp) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.9fZ").to_string()
}

pub fn cloud(id: &str) -> String {
    format!("cloud/{id}")
}

pub fn host(id: &str) -> String {
    format!("host/{id}")
}

pub fn allocation(host_id: &str) -> String {
    format!("alloc/{host_id}")
}

pub fn vm(id: &str) -> String {
    format!("vm/{id}")
}

pub fn migration(id: &str) -> String {
    format!("migration/{id}")
}

/// A local chain's Leave or Arrival of an inter-cloud migration.
pub fn crossing(crossing: crate::model::Crossing, migration_id: &str) -> String {
    match crossing {
        crate::model::Crossing::Leave => format!("leave/{migration_id}"),
        crate::model::Crossing::Arrival => format!("arrival/{migration_id}"),
    }
}

pub fn residency(vm_id: &str, from: &Timestamp, tx_id: &str) -> String {
    format!("residency/{vm_id}/{}/{tx_id}", time_key(from))
}

pub fn ping(tx_id: &str) -> String {
    format!("ping/{tx_id}")
}

pub fn host_by_cloud(cloud_id: &str, host_id: &str) -> String {
    format!("{}{host_id}", hosts_of_cloud(cloud_id))
}

pub fn migration_by_vm(vm_id: &str, at: &Timestamp, migration_id: &str) -> String {
    format!("{}{}/{migration_id}", migrations_of_vm(vm_id), time_key(at))
}

pub fn migration_by_cloud(cloud_id: &str, at: &Timestamp, migration_id: &str) -> String {
    format!("{}{}/{migration_id}", migrations_of_cloud(cloud_id), time_key(at))
}

pub fn open_residency_by_cloud(cloud_id: &str, vm_id: &str, tx_id: &str) -> String {
    format!("{}{vm_id}/{tx_id}", open_residencies_of_cloud(cloud_id))
}

pub fn residency_by_cloud_month(cloud_id: &str, month: &str, from: &Timestamp, vm_id: &str, tx_id: &str) -> String {
    format!("{}{}/{vm_id}/{tx_id}", residencies_of_cloud_month(cloud_id, month), time_key(from))
}

pub fn vm_by_host(host_id: &str, vm_id: &str) -> String {
    format!("{}{vm_id}", vms_of_host(host_id))
}

pub fn reservation(host_id: &str, expires_at: &Timestamp, migration_id: &str) -> String {
    format!("{}{}/{migration_id}", reservations_of_host(host_id), time_key(expires_at))
}

/// The calendar month (UTC) of a time, as in [`residency_by_cloud_month`]: `2026-11`.
pub fn month_key(t: &Timestamp) -> String {
    t.format("%Y-%m").to_string()
}

pub fn host_state(host_id: &str) -> String {
    format!("host-state/{host_id}")
}

pub fn availability_by_host(host_id: &str, at: &Timestamp, tx_id: &str) -> String {
    format!("{}{}/{tx_id}", availability_of_host(host_id), time_key(at))
}

pub fn placed(host_id: &str) -> String {
    format!("placed/{host_id}")
}

/// Every host record: placement scans them in id order.
pub const HOSTS: &str = "host/";

pub fn availability_of_host(host_id: &str) -> String {
    format!("index/availability-by-host/{host_id}/")
}

/// Prefixes of the indexes, for range reads.
pub fn hosts_of_cloud(cloud_id: &str) -> String {
    format!("index/host-by-cloud/{cloud_id}/")
}

pub fn migrations_of_vm(vm_id: &str) -> String {
    format!("index/migration-by-vm/{vm_id}/")
}

pub fn migrations_of_cloud(cloud_id: &str) -> String {
    format!("index/migration-by-cloud/{cloud_id}/")
}

pub fn residencies_of_vm(vm_id: &str) -> String {
    format!("residency/{vm_id}/")
}

pub fn open_residencies_of_cloud(cloud_id: &str) -> String {
    format!("index/open-residency-by-cloud/{cloud_id}/")
}

pub fn residencies_of_cloud_month(cloud_id: &str, month: &str) -> String {
    format!("index/residency-by-cloud-month/{cloud_id}/{month}/")
}

pub fn vms_of_host(host_id: &str) -> String {
    format!("index/vm-by-host/{host_id}/")
}

pub fn reservations_of_host(host_id: &str) -> String {
    format!("reservation/{host_id}/")
}

/// Service terms (public part); the same key holds the private part in the pair's collection.
pub fn terms(id: &str) -> String {
    format!("terms/{id}")
}

pub fn claim(id: &str) -> String {
    format!("claim/{id}")
}

pub fn credit_by_cloud(cloud_id: &str, at: &Timestamp, claim_id: &str) -> String {
    format!("{}{}/{claim_id}", credits_of_cloud(cloud_id), time_key(at))
}

pub fn credits_of_cloud(cloud_id: &str) -> String {
    format!("index/credit-by-cloud/{cloud_id}/")
}

/// `[start, end)` of a time-ordered index under `prefix`, bounded by `from` and `to` when given.
pub fn time_range(prefix: &str, from: Option<&Timestamp>, to: Option<&Timestamp>) -> (String, String) {
    let start = from.map_or_else(|| prefix.to_owned(), |t| format!("{prefix}{}", time_key(t)));
    let end = to.map_or_else(|| format!("{prefix}{RANGE_END}"), |t| format!("{prefix}{}", time_key(t)));
    (start, end)
}

/// `[start, end)` of every key under `prefix`.
pub fn prefix_range(prefix: &str) -> (String, String) {
    time_range(prefix, None, None)
}

/// Reads and decodes a record, `None` when absent.
pub async fn load<T: DeserializeOwned>(ledger: &impl Ledger, key: &str) -> Result<Option<T>> {
    match ledger.get(key).await? {
        None => Ok(None),
        Some(json) => decode(key, &json).map(Some),
    }
}

/// Decodes the value stored at `key`.
pub fn decode<T: DeserializeOwned>(key: &str, json: &str) -> Result<T> {
    serde_json::from_str(json)
        .map_err(|e| ContractError::Ledger { reason: format!("undecodable state at `{key}`: {e}") })
}

/// Reads a record that must exist: `NOT_FOUND` naming the kind and id otherwise.
pub async fn require<T: DeserializeOwned>(ledger: &impl Ledger, kind: Kind, id: &str, key: &str) -> Result<T> {
    load(ledger, key).await?.ok_or_else(|| ContractError::not_found(kind, id))
}

/// Encodes and writes a record.
pub async fn store<T: Serialize>(ledger: &impl Ledger, key: &str, value: &T) -> Result<()> {
    let json = to_json(value)?;
    ledger.put(key, &json).await
}

/// JSON text of a value (results, events and state all use it).
pub fn to_json<T: Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| ContractError::Ledger { reason: format!("unencodable value: {e}") })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    #[test]
    fn time_keys_are_fixed_width_and_sort_by_time() {
        let early = Utc.timestamp_opt(1_700_000_000, 5).unwrap();
        let late = Utc.timestamp_opt(1_700_000_001, 0).unwrap();
        assert_eq!(time_key(&early), "2023-11-14T22:13:20.000000005Z");
        assert_eq!(time_key(&early).len(), time_key(&late).len());
        assert!(time_key(&early) < time_key(&late));
    }

    #[test]
    fn ranges_cover_their_prefix_only() {
        let (start, end) = prefix_range(&migrations_of_vm("vm1"));
        let inside = migration_by_vm("vm1", &Utc.timestamp_opt(0, 0).unwrap(), "tx");
        assert!(start <= inside && inside < end);
        let other_vm = migration_by_vm("vm10", &Utc.timestamp_opt(0, 0).unwrap(), "tx");
        assert!(!(start <= other_vm && other_vm < end));
    }
}
