//! BASICS' two kinds of chain, on which the same contract runs:
//!
//! - the **federation** (channel `federation`), which every member keeps: the registry (clouds,
//!   hosts, VMs, regulations), every stay (billing), and the migrations between clouds;
//! - each member's **local chain** (`local-<member>`), kept and ordered by that member alone: the
//!   migrations inside its clouds, where each VM really is inside them, and the Leave and Arrival of
//!   its VMs' inter-cloud migrations, written by its relay.
//!
//! A local chain reads the registry from the federation (a read-only query on the same peer) and
//! keeps only what it changes: its copy of a VM (where it moved inside the cloud), and per host what
//! its migrations moved on and off and reserve. The copy refines the federation's stay it was made
//! in and is ignored once the federation shows another one (the VM left, or left and came back).
//!
//! The federation sees a VM at the host where it entered the cloud: its capacity checks of an
//! inter-cloud Indication into a cloud do not see that cloud's local moves (the destination, which
//! consents to every Indication, declines one its host can no longer take).

use std::collections::BTreeMap;

use crate::auth::require_relay;
use crate::contract::{Emit, calls, emit, signer};
use crate::error::{ContractError, Kind, Result};
use crate::ledger::{Ledger, Tx};
use crate::migration::recorded_allocation_at;
use crate::model::{
    Allocation, Cloud, Crossing, Host, LocalRecord, LocalRecords, Migration, MigrationStatus, Scope, Timestamp,
    VirtualMachine,
};
use crate::ownership::namespace;
use crate::vocabulary::{Call, FEDERATION_CHANNEL, LOCAL_CHANNEL_PREFIX, local_channel};
use crate::{anchor, msg, state, validate};

/// The chain a transaction runs on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chain {
    Federation,
    /// The local chain of the member with this namespace.
    Local(String),
}

impl Chain {
    /// # Errors
    /// `LEDGER` on a channel that is neither.
    pub fn of(tx: &Tx) -> Result<Chain> {
        if tx.channel == FEDERATION_CHANNEL {
            return Ok(Chain::Federation);
        }
        match tx.channel.strip_prefix(LOCAL_CHANNEL_PREFIX) {
            Some(member) if !member.is_empty() => Ok(Chain::Local(member.to_owned())),
            // A deployment's mistake, not the caller's.
            _ => Err(ContractError::Ledger {
                reason: format!(
                    "the contract runs on `{FEDERATION_CHANNEL}` and on members' `{LOCAL_CHANNEL_PREFIX}<member>` channels, not on `{}`",
                    tx.channel
                ),
            }),
        }
    }
}

/// The registry, the stays and `what` are kept on the federation: refused on a local chain.
pub fn require_federation(ledger: &impl Ledger, what: &str) -> Result<()> {
    match Chain::of(ledger.tx())? {
        Chain::Federation => Ok(()),
        Chain::Local(_) => Err(ContractError::conflict(format!(
            "{what} is recorded on `{FEDERATION_CHANNEL}`, not on the local chain `{}`",
            ledger.tx().channel
        ))),
    }
}

/// Evaluates `C` on the federation, from a local chain: read-only, on this same peer.
pub async fn on_federation<C: Call>(ledger: &impl Ledger, input: &C::Input) -> Result<C::Output> {
    let answer = ledger.query_channel(FEDERATION_CHANNEL, C::NAME, &state::to_json(input)?).await?;
    serde_json::from_str(&answer).map_err(|e| ContractError::Ledger {
        reason: format!("the federation's answer to {} is not what it should be: {e}", C::NAME),
    })
}

/// On a local chain, the federation's answer to `C` (which it keeps); on the federation, `None`.
pub async fn forwarded<C: Call>(ledger: &impl Ledger, input: &C::Input) -> Result<Option<C::Output>> {
    match Chain::of(ledger.tx())? {
        Chain::Federation => Ok(None),
        Chain::Local(_) => on_federation::<C>(ledger, input).await.map(Some),
    }
}

fn by_id(id: &str) -> msg::ById {
    msg::ById { id: id.to_owned() }
}

pub async fn cloud(ledger: &impl Ledger, id: &str) -> Result<Cloud> {
    match forwarded::<calls::GetCloud>(ledger, &by_id(id)).await? {
        Some(cloud) => Ok(cloud),
        None => anchor::cloud(ledger, id).await,
    }
}

pub async fn host(ledger: &impl Ledger, id: &str) -> Result<Host> {
    match forwarded::<calls::GetHost>(ledger, &by_id(id)).await? {
        Some(host) => Ok(host),
        None => anchor::host(ledger, id).await,
    }
}

/// A VM as this chain sees it: on a local chain, the federation's record with where the VM moved
/// inside its cloud since it entered it (while the federation is not migrating it elsewhere).
pub async fn vm(ledger: &impl Ledger, id: &str) -> Result<VirtualMachine> {
    let key = state::vm(id);
    let Some(federation) = forwarded::<calls::GetVm>(ledger, &by_id(id)).await? else {
        return anchor::vm(ledger, id).await;
    };
    if federation.pending_migration_id.is_some() {
        return Ok(federation);
    }
    Ok(match state::load::<VirtualMachine>(ledger, &key).await? {
        Some(copy) if copy.residency_tx_id == federation.residency_tx_id => VirtualMachine {
            host_id: copy.host_id,
            since: copy.since,
            status: copy.status,
            pending_migration_id: copy.pending_migration_id,
            ..federation
        },
        _ => federation,
    })
}

/// A host's committed resources at `now` (running, and reserved by unexpired Indications); on a
/// local chain the federation's with this chain's moves and reservations.
pub async fn allocation_at(ledger: &impl Ledger, host_id: &str, now: &Timestamp) -> Result<Allocation> {
    let recorded = recorded_allocation_at(ledger, host_id, now).await?;
    Ok(match forwarded::<calls::GetAllocation>(ledger, &by_id(host_id)).await? {
        None => recorded,
        Some(federation) => Allocation {
            running: federation.running.plus(&recorded.running).minus(&recorded.moved_out),
            reserved: federation.reserved.plus(&recorded.reserved),
            moved_out: Default::default(),
        },
    })
}

/// Which chain a migration from `source` to `destination` of `vm` (operated by `operator`) belongs
/// on, if not this one: a move inside the operator's own cloud goes on its member's local chain;
/// every other one (between clouds, or of a guest VM inside its host cloud: two members) on the federation.
pub fn wrong_chain(
    ledger: &impl Ledger,
    vm: &VirtualMachine,
    source: &Host,
    destination: &Host,
    operator: &Cloud,
) -> Result<Option<ContractError>> {
    let local = source.cloud_id == destination.cloud_id && vm.cloud_id == source.cloud_id;
    let belongs = if local { Chain::Local(namespace(&operator.msp_id)) } else { Chain::Federation };
    let here = Chain::of(ledger.tx())?;
    if here == belongs {
        return Ok(None);
    }
    let (what, channel) = match &belongs {
        Chain::Federation => (
            "a migration between clouds, or of a VM its operator hosts elsewhere,".to_owned(),
            FEDERATION_CHANNEL.to_owned(),
        ),
        Chain::Local(member) => (format!("a migration inside cloud `{}`", source.cloud_id), local_channel(member)),
    };
    Ok(Some(ContractError::conflict(format!("{what} is recorded on `{channel}`, not on `{}`", ledger.tx().channel))))
}

/// The Leave of an inter-cloud migration on the source member's local chain, by its relay.
pub async fn record_leave(ledger: &impl Ledger, input: msg::MigrationRef) -> Result<LocalRecord> {
    let (migration, mut record) = crossing(ledger, input, Crossing::Leave).await?;
    // Where the VM really was: this chain's copy, if it was made during the stay the migration ended.
    let copy = state::load::<VirtualMachine>(ledger, &state::vm(&migration.vm_id))
        .await?
        .filter(|c| c.residency_tx_id == migration.source_stay_tx_id);
    if let Some(copy) = copy {
        record.host_id.clone_from(&copy.host_id);
        let mut changed = Allocations::default();
        // The federation released the VM from the host it entered by; this chain had counted it as
        // moved off that host and onto the one it left from: neither holds it any more.
        changed.of(ledger, &migration.source.host_id).await?.moved_out.reduce(&migration.requirements);
        changed.of(ledger, &copy.host_id).await?.running.reduce(&migration.requirements);
        // A move inside the cloud still pending ends: the VM is gone.
        if let Some(pending) = &copy.pending_migration_id {
            let mut local: Migration =
                state::require(ledger, Kind::Migration, pending, &state::migration(pending)).await?;
            changed.of(ledger, &local.destination.host_id).await?.reserved.reduce(&local.requirements);
            ledger.delete(&state::reservation(&local.destination.host_id, &local.expires_at, &local.id)).await?;
            local.status = MigrationStatus::Cancelled;
            local.closed_at = Some(record.recorded_at);
            local.closed_by = Some(record.recorded_by.clone());
            local.reason = Some(format!("the VM left the cloud by migration `{}`", migration.id));
            state::store(ledger, &state::migration(&local.id), &local).await?;
        }
        changed.store(ledger).await?;
        ledger.delete(&state::vm(&migration.vm_id)).await?;
    }
    state::store(ledger, &state::crossing(Crossing::Leave, &migration.id), &record).await?;
    emit(ledger, Emit::VmLeft(&record))?;
    Ok(record)
}

/// Host allocations one transaction changes, each read once and written once (a transaction's
/// reads see committed state only, so a second read would miss the first change).
#[derive(Default)]
struct Allocations(BTreeMap<String, Allocation>);

impl Allocations {
    async fn of(&mut self, ledger: &impl Ledger, host_id: &str) -> Result<&mut Allocation> {
        if !self.0.contains_key(host_id) {
            let recorded = state::load(ledger, &state::allocation(host_id)).await?.unwrap_or_default();
            self.0.insert(host_id.to_owned(), recorded);
        }
        Ok(self.0.entry(host_id.to_owned()).or_default())
    }

    async fn store(self, ledger: &impl Ledger) -> Result<()> {
        for (host_id, allocation) in self.0 {
            state::store(ledger, &state::allocation(&host_id), &allocation).await?;
        }
        Ok(())
    }
}

/// The Arrival of an inter-cloud migration on the destination member's local chain, by its relay.
/// The VM is where the federation put it; the federation already counts it on that host.
pub async fn record_arrival(ledger: &impl Ledger, input: msg::MigrationRef) -> Result<LocalRecord> {
    let (migration, record) = crossing(ledger, input, Crossing::Arrival).await?;
    state::store(ledger, &state::crossing(Crossing::Arrival, &migration.id), &record).await?;
    emit(ledger, Emit::VmArrived(&record))?;
    Ok(record)
}

/// Checks a Leave or an Arrival against the federation and answers the migration and the record to
/// write: only on the member's local chain, by its relay, once, for a confirmed inter-cloud
/// migration whose source (Leave) or destination (Arrival) cloud is the member's.
async fn crossing(
    ledger: &impl Ledger,
    input: msg::MigrationRef,
    crossing: Crossing,
) -> Result<(Migration, LocalRecord)> {
    validate::id("migrationId", &input.migration_id)?;
    let tx = ledger.tx();
    let Chain::Local(member) = Chain::of(tx)? else {
        return Err(ContractError::conflict(format!(
            "Leave and Arrival are recorded on members' local chains, not on `{FEDERATION_CHANNEL}`"
        )));
    };
    require_relay(&tx.caller, "record a Leave or an Arrival")?;
    let key = state::crossing(crossing, &input.migration_id);
    if ledger.get(&key).await?.is_some() {
        return Err(ContractError::AlreadyExists { kind: Kind::LocalRecord, id: input.migration_id });
    }
    let migration = on_federation::<calls::GetMigration>(ledger, &by_id(&input.migration_id)).await?;
    if migration.status != MigrationStatus::Confirmed || migration.scope != Scope::Inter {
        return Err(ContractError::conflict(format!(
            "migration `{}` is a {} migration {} on `{FEDERATION_CHANNEL}`: only a confirmed inter-cloud one leaves and arrives",
            migration.id,
            wire(&migration.scope),
            wire(&migration.status)
        )));
    }
    let side = match crossing {
        Crossing::Leave => &migration.source,
        Crossing::Arrival => &migration.destination,
    };
    let cloud = on_federation::<calls::GetCloud>(ledger, &by_id(&side.cloud_id)).await?;
    if namespace(&cloud.msp_id) != member {
        return Err(ContractError::conflict(format!(
            "the {} cloud of migration `{}`, `{}`, is {}'s, not this chain's member's",
            if crossing == Crossing::Leave { "source" } else { "destination" },
            migration.id,
            cloud.id,
            cloud.msp_id
        )));
    }
    let confirmed_at = migration.closed_at.ok_or_else(|| ContractError::Ledger {
        reason: format!("confirmed migration `{}` has no closing time", migration.id),
    })?;
    let record = LocalRecord {
        migration_id: migration.id.clone(),
        crossing,
        vm_id: migration.vm_id.clone(),
        cloud_id: side.cloud_id.clone(),
        host_id: side.host_id.clone(),
        requirements: migration.requirements,
        confirmed_at,
        recorded_at: tx.timestamp,
        recorded_by: signer(ledger),
    };
    Ok((migration, record))
}

/// What this local chain holds of an inter-cloud migration: its Leave, its Arrival.
pub async fn get_local_record(ledger: &impl Ledger, input: msg::MigrationRef) -> Result<LocalRecords> {
    validate::id("migrationId", &input.migration_id)?;
    let leave = state::load(ledger, &state::crossing(Crossing::Leave, &input.migration_id)).await?;
    let arrival = state::load(ledger, &state::crossing(Crossing::Arrival, &input.migration_id)).await?;
    if leave.is_none() && arrival.is_none() {
        return Err(ContractError::NotFound { kind: Kind::LocalRecord, id: input.migration_id, unanchored: None });
    }
    Ok(LocalRecords { migration_id: input.migration_id, leave, arrival })
}

fn wire<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}
