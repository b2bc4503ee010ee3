//! The migration protocol (BASICS, on Fabric), one function per step:
//!
//! 1. `Migrate`, the Indication, by the VM's operator: every rule checked (operator, not already
//!    migrating, residency policy, capacity), the destination reserved until a deadline, the
//!    transfer key's SHA-256 recorded; for a cold migration also the image's SHA-256 and its HMAC
//!    under the transfer key.
//! 2. `RecordStreamHash`, live migrations only: the source records its stream's hash when the stream
//!    ends (it cannot be known before), before the destination may confirm.
//! 3. `ConfirmMigration`, by the destination, revealing the transfer key and its HMAC of what
//!    arrived: equal hashes move the VM (Leave and Arrival of its stays); different ones are
//!    committed as a rejection, evidence of tampering; the VM stays.
//! 4. Or the Indication ends without tamper evidence: `CancelMigration` (the source withdraws it),
//!    `DeclineMigration` (the destination refuses it), `ExpireMigration` (its deadline passed).
//!
//! An Indication past its deadline no longer reserves its destination, even before anyone expires it.

use crate::auth::{require_destination, require_operator};
use crate::capacity::shortfalls;
use crate::chains::{self, Chain};
use crate::clock;
use crate::contract::{Emit, emit, signer};
use crate::error::{ContractError, Result};
use crate::integrity::{check_transfer_key, image_intact, parse_hash};
use crate::ledger::Ledger;
use crate::model::{
    Allocation, Cloud, Host, Migration, MigrationStatus, Placement, Resources, Scope, Timestamp, VirtualMachine,
    VmStatus,
};
use crate::ownership::own;
use crate::policy::residency_denials;
use crate::{msg, placement, state, stays, validate};

/// The member (MSP id) of the cloud a host belongs to.
pub(crate) async fn member_of_cloud(ledger: &impl Ledger, cloud_id: &str) -> Result<Cloud> {
    chains::cloud(ledger, cloud_id).await
}

/// A host's allocation as this chain records it, at `now`: what runs there and what unexpired
/// Indications reserve (on a local chain: what its migrations changed; see [`chains::allocation_at`]).
pub(crate) async fn recorded_allocation_at(ledger: &impl Ledger, host_id: &str, now: &Timestamp) -> Result<Allocation> {
    let mut allocation: Allocation = state::load(ledger, &state::allocation(host_id)).await?.unwrap_or_default();
    // Reservations are kept by deadline: those already past are read and left out.
    let prefix = state::reservations_of_host(host_id);
    let (start, _) = state::prefix_range(&prefix);
    let end = format!("{prefix}{}~", state::time_key(now));
    for entry in ledger.range(&start, &end, 0, None).await?.entries {
        let lapsed: Resources = state::decode(&entry.key, &entry.value)?;
        allocation.reserved = allocation.reserved.minus(&lapsed);
    }
    Ok(allocation)
}

/// What a migration would involve, read once and shared by `CheckMigration` and `Migrate`.
pub(crate) struct Assessment {
    pub(crate) vm: VirtualMachine,
    pub(crate) destination: Host,
    pub(crate) destination_member: Cloud,
    pub(crate) source_member: Cloud,
    /// The VM's cloud: its member asks for the migration and endorses its creation.
    pub(crate) operator: Cloud,
    pub(crate) source_cloud_id: String,
    /// Every rule the migration breaks, in the order `Migrate` reports them.
    pub(crate) violations: Vec<ContractError>,
}

/// Checks every rule of the Indication against the current state, collecting every violation.
pub(crate) async fn assess(ledger: &impl Ledger, input: &msg::Migrate) -> Result<Assessment> {
    validate::id("vmId", &input.vm_id)?;
    validate::id("destinationHostId", &input.destination_host_id)?;
    for (field, value) in [
        ("imageHash", &input.image_hash),
        ("keyedDigest", &input.keyed_digest),
        ("transferKeyHash", &input.transfer_key_hash),
    ] {
        if let Some(value) = value {
            parse_hash(field, value)?;
        }
    }
    let now = ledger.tx().timestamp;
    let vm = chains::vm(ledger, &input.vm_id).await?;
    let operator = member_of_cloud(ledger, &vm.cloud_id).await?;
    let destination = chains::host(ledger, &input.destination_host_id).await?;
    let source = chains::host(ledger, &vm.host_id).await?;
    let destination_member = member_of_cloud(ledger, &destination.cloud_id).await?;
    let source_member = member_of_cloud(ledger, &source.cloud_id).await?;
    let destination_allocation = chains::allocation_at(ledger, &destination.id, &now).await?;

    let mut violations = Vec::new();
    if let Some(elsewhere) = chains::wrong_chain(ledger, &vm, &source, &destination, &operator)? {
        violations.push(elsewhere);
    }
    if let Err(refused) = require_operator(&ledger.tx().caller, &operator, "migrate its VMs") {
        violations.push(refused);
    }
    if let Some(pending) = &vm.pending_migration_id {
        violations.push(ContractError::conflict(format!(
            "VM `{}` is already migrating (migration `{pending}`; if its deadline passed, ExpireMigration ends it)",
            vm.id
        )));
    }
    if vm.host_id == destination.id {
        violations.push(ContractError::conflict(format!("VM `{}` is already on host `{}`", vm.id, destination.id)));
    }
    if let Err(refused) = clock::not_before(&now, "the VM's arrival on its host", &vm.since) {
        violations.push(refused);
    }
    let denials = residency_denials(&vm.regulation, &destination);
    if !denials.is_empty() {
        violations.push(ContractError::PolicyDenied {
            vm_id: vm.id.clone(),
            host_id: destination.id.clone(),
            reasons: denials,
        });
    }
    if let Some(unavailable) = placement::refuse_unavailable(ledger, &destination).await? {
        violations.push(unavailable);
    }
    let short = shortfalls(&destination.capacity, &destination_allocation, &vm.requirements);
    if !short.is_empty() {
        violations.push(ContractError::CapacityExceeded { host_id: destination.id.clone(), shortfalls: short });
    }
    Ok(Assessment {
        vm,
        destination,
        destination_member,
        source_member,
        operator,
        source_cloud_id: source.cloud_id,
        violations,
    })
}

/// The hashes an Indication records: for a cold migration the image's SHA-256 and HMAC, required;
/// for a live one neither (recorded when the stream ends).
fn recorded_hashes(input: &msg::Migrate) -> Result<(Option<String>, Option<String>)> {
    match (input.live, &input.image_hash, &input.keyed_digest) {
        (false, Some(hash), Some(digest)) => {
            Ok((Some(parse_hash("imageHash", hash)?), Some(parse_hash("keyedDigest", digest)?)))
        }
        (false, None, _) => {
            Err(ContractError::invalid("imageHash", "a cold migration's Indication carries the image's SHA-256"))
        }
        (false, Some(_), None) => {
            Err(ContractError::invalid("keyedDigest", "the image's HMAC under the transfer key goes with its hash"))
        }
        (true, None, None) => Ok((None, None)),
        (true, _, _) => Err(ContractError::invalid(
            "imageHash",
            "a live migration's hash is recorded when its stream ends (RecordStreamHash), not in the Indication",
        )),
    }
}

/// The Indication: records that the VM's operator is sending it to a host its regulation and
/// requirements allow, with the transfer key's hash (and, cold, the image's hash and HMAC), and
/// reserves the host until the deadline.
pub async fn migrate(ledger: &impl Ledger, input: msg::Migrate) -> Result<Migration> {
    let (recorded_hash, keyed_digest) = recorded_hashes(&input)?;
    let Some(key_hash) = &input.transfer_key_hash else {
        return Err(ContractError::invalid("transferKeyHash", "the Indication records the transfer key's SHA-256"));
    };
    let transfer_key_hash = parse_hash("transferKeyHash", key_hash)?;
    let tx = ledger.tx();
    let expires_at = clock::deadline(&tx.timestamp, input.ttl_seconds)?;
    let Assessment { mut vm, destination, destination_member, source_member, operator, source_cloud_id, violations } =
        assess(ledger, &input).await?;
    if let Some(first) = violations.into_iter().next() {
        return Err(first);
    }
    let migration = Migration {
        id: tx.id.clone(),
        vm_id: vm.id.clone(),
        scope: if source_cloud_id == destination.cloud_id { Scope::Local } else { Scope::Inter },
        source: Placement { cloud_id: source_cloud_id, host_id: vm.host_id.clone() },
        destination: Placement { cloud_id: destination.cloud_id.clone(), host_id: destination.id.clone() },
        live: input.live,
        recorded_hash,
        keyed_digest,
        stream_bytes: None,
        stream_recorded_at: None,
        transfer_key_hash,
        requirements: vm.requirements,
        source_stay_tx_id: vm.residency_tx_id.clone(),
        status: MigrationStatus::Indicated,
        indicated_at: tx.timestamp,
        expires_at,
        requested_by: signer(ledger),
        closed_at: None,
        closed_by: None,
        observed_hash: None,
        reason: None,
    };
    vm.status = VmStatus::Migrating;
    vm.pending_migration_id = Some(migration.id.clone());
    let allocation_key = state::allocation(&destination.id);
    let mut allocation: Allocation = state::load(ledger, &allocation_key).await?.unwrap_or_default();
    allocation.reserved = allocation.reserved.plus(&migration.requirements);

    let parties = [source_member.msp_id.as_str(), destination_member.msp_id.as_str()];
    let key = state::migration(&migration.id);
    state::store(ledger, &key, &migration).await?;
    own(ledger, &key, &parties).await?;
    crate::anchor::mark(ledger, &key, &operator.msp_id).await?;
    state::store(ledger, &state::vm(&vm.id), &vm).await?;
    state::store(ledger, &allocation_key, &allocation).await?;
    let reservation = state::reservation(&destination.id, &expires_at, &migration.id);
    state::store(ledger, &reservation, &migration.requirements).await?;
    own(ledger, &reservation, &[destination_member.msp_id.as_str()]).await?;
    let mut indexes = vec![
        state::migration_by_vm(&vm.id, &tx.timestamp, &migration.id),
        state::migration_by_cloud(&migration.source.cloud_id, &tx.timestamp, &migration.id),
    ];
    if migration.scope == Scope::Inter {
        indexes.push(state::migration_by_cloud(&migration.destination.cloud_id, &tx.timestamp, &migration.id));
    }
    for index in indexes {
        ledger.put(&index, &key).await?;
        own(ledger, &index, &parties).await?;
    }
    placement::count_indication(ledger, &destination.id, &migration.id, &destination_member.msp_id).await?;
    emit(ledger, Emit::MigrationIndicated(&migration))?;
    Ok(migration)
}

/// A live stream's end: its hash, HMAC and length, by the VM's operator, once.
pub async fn record_stream_hash(ledger: &impl Ledger, input: msg::RecordStreamHash) -> Result<Migration> {
    validate::id("migrationId", &input.migration_id)?;
    let stream_hash = parse_hash("streamHash", &input.stream_hash)?;
    let keyed_digest = parse_hash("keyedDigest", &input.keyed_digest)?;
    let mut migration = open_migration(ledger, &input.migration_id).await?;
    let vm = chains::vm(ledger, &migration.vm_id).await?;
    let operator = member_of_cloud(ledger, &vm.cloud_id).await?;
    require_operator(&ledger.tx().caller, &operator, "record its migrations' streams")?;
    if !migration.live {
        return Err(ContractError::conflict(format!(
            "migration `{}` is cold: its image's hash was recorded in the Indication",
            migration.id
        )));
    }
    if migration.recorded_hash.is_some() {
        return Err(ContractError::conflict(format!("migration `{}` already has its stream's hash", migration.id)));
    }
    let now = ledger.tx().timestamp;
    clock::not_before(&now, "the Indication", &migration.indicated_at)?;
    if clock::passed(&migration.expires_at, &now) {
        return Err(expired(&migration));
    }
    migration.recorded_hash = Some(stream_hash);
    migration.keyed_digest = Some(keyed_digest);
    migration.stream_bytes = Some(input.bytes);
    migration.stream_recorded_at = Some(now);
    state::store(ledger, &state::migration(&migration.id), &migration).await?;
    emit(ledger, Emit::StreamRecorded(&migration))?;
    Ok(migration)
}

/// The Confirmation, by the destination's member, with the transfer key, its HMAC and the hash of
/// what it received. Equal hash (and HMAC): confirmed, the VM moves, its stay on the source closes
/// and one on the destination opens (Leave and Arrival). Different hash: rejected and committed as
/// evidence; the VM stays. The residency policy is checked again on arrival: `POLICY_DENIED` if the
/// host or the regulation changed since the Indication so that the host is now forbidden.
pub async fn confirm_migration(ledger: &impl Ledger, input: msg::ConfirmMigration) -> Result<Migration> {
    validate::id("migrationId", &input.migration_id)?;
    let observed_hash = parse_hash("observedHash", &input.observed_hash)?;
    let observed_digest = parse_hash("keyedDigest", &input.keyed_digest)?;
    let mut migration = open_migration(ledger, &input.migration_id).await?;
    let destination_member = member_of_cloud(ledger, &migration.destination.cloud_id).await?;
    let caller = &ledger.tx().caller;
    require_destination(caller, &destination_member)?;
    check_transfer_key(&input.transfer_key, &migration.transfer_key_hash, &caller.msp_id)?;
    let now = ledger.tx().timestamp;
    let (Some(recorded_hash), Some(recorded_digest)) =
        (migration.recorded_hash.clone(), migration.keyed_digest.clone())
    else {
        return Err(ContractError::conflict(format!(
            "live migration `{}` has no recorded stream hash yet: the source records it when the stream ends",
            migration.id
        )));
    };
    clock::not_before(&now, "the Indication", &migration.indicated_at)?;
    if let Some(recorded_at) = &migration.stream_recorded_at {
        clock::not_before(&now, "the stream's hash", recorded_at)?;
    }
    if clock::passed(&migration.expires_at, &now) {
        return Err(expired(&migration));
    }
    let intact = image_intact(&recorded_hash, &observed_hash);
    if intact && observed_digest != recorded_digest {
        return Err(ContractError::Unauthorized {
            rule: "the HMAC of what arrived differs from the source's: equal hashes without it prove no possession"
                .into(),
            caller_msp_id: caller.msp_id.clone(),
            caller_role: caller.role().map(str::to_owned),
        });
    }
    let mut vm = chains::vm(ledger, &migration.vm_id).await?;
    if vm.pending_migration_id.as_deref() != Some(migration.id.as_str()) {
        return Err(ContractError::conflict(format!(
            "VM `{}` is no longer waiting for migration `{}`: it left the cloud the migration started in",
            vm.id, migration.id
        )));
    }
    let operator = member_of_cloud(ledger, &vm.cloud_id).await?;
    let source_member = member_of_cloud(ledger, &migration.source.cloud_id).await?;
    let host = chains::host(ledger, &migration.destination.host_id).await?;
    // The host or the regulation may have changed since the Indication: the VM still never lands
    // where its regulation forbids (the operator cancels, or the destination declines, such a migration).
    let denials = residency_denials(&vm.regulation, &host);
    if intact && !denials.is_empty() {
        return Err(ContractError::PolicyDenied { vm_id: vm.id, host_id: host.id, reasons: denials });
    }

    let mut destination_allocation = release_reservation(ledger, &migration).await?;
    let tx = ledger.tx();
    migration.status = if intact { MigrationStatus::Confirmed } else { MigrationStatus::Rejected };
    migration.closed_at = Some(tx.timestamp);
    migration.closed_by = Some(signer(ledger));
    migration.observed_hash = Some(observed_hash);
    vm.status = VmStatus::Running;
    vm.pending_migration_id = None;

    if intact {
        let source_key = state::allocation(&migration.source.host_id);
        let mut source: Allocation = state::load(ledger, &source_key).await?.unwrap_or_default();
        destination_allocation.running = destination_allocation.running.plus(&migration.requirements);
        let chain = Chain::of(tx)?;
        if chain == Chain::Federation {
            stays::close(ledger, &vm, &operator.msp_id, &source_member.msp_id).await?;
        }
        vm.host_id = host.id.clone();
        vm.since = tx.timestamp;
        vm.image_hash = recorded_hash;
        match chain {
            Chain::Federation => {
                source.running.reduce(&migration.requirements);
                vm.residency_tx_id = tx.id.clone();
                stays::open(ledger, &vm, &host, &operator.msp_id, &destination_member.msp_id).await?;
                // From now on the VM changes only with its new host's member too.
                own(ledger, &state::vm(&vm.id), &[operator.msp_id.as_str(), destination_member.msp_id.as_str()])
                    .await?;
            }
            // A move inside the cloud: the federation's stay goes on (its copy here refines it).
            Chain::Local(_) => source.moved_out = source.moved_out.plus(&migration.requirements),
        }
        state::store(ledger, &source_key, &source).await?;
    }
    state::store(ledger, &state::allocation(&migration.destination.host_id), &destination_allocation).await?;
    state::store(ledger, &state::vm(&vm.id), &vm).await?;
    state::store(ledger, &state::migration(&migration.id), &migration).await?;
    emit(ledger, if intact { Emit::MigrationConfirmed(&migration) } else { Emit::MigrationRejected(&migration) })?;
    Ok(migration)
}

/// Withdraws an Indication before the destination answers; by the VM's operator only.
pub async fn cancel_migration(ledger: &impl Ledger, input: msg::CloseMigration) -> Result<Migration> {
    let migration = close_without_evidence(ledger, input, |ledger, migration, vm| {
        let operator = vm.cloud_id.clone();
        async move {
            let operator = member_of_cloud(ledger, &operator).await?;
            require_operator(&ledger.tx().caller, &operator, "cancel its migrations")?;
            Ok((MigrationStatus::Cancelled, migration))
        }
    })
    .await?;
    emit(ledger, Emit::MigrationCancelled(&migration))?;
    Ok(migration)
}

/// The destination refuses an Indication; no tamper evidence. By the destination's member only.
pub async fn decline_migration(ledger: &impl Ledger, input: msg::CloseMigration) -> Result<Migration> {
    let migration = close_without_evidence(ledger, input, |ledger, migration, _vm| {
        let destination = migration.destination.cloud_id.clone();
        async move {
            let destination = member_of_cloud(ledger, &destination).await?;
            require_destination(&ledger.tx().caller, &destination)?;
            Ok((MigrationStatus::Declined, migration))
        }
    })
    .await?;
    emit(ledger, Emit::MigrationDeclined(&migration))?;
    Ok(migration)
}

/// Ends an Indication whose deadline passed, by the source's or the destination's member.
pub async fn expire_migration(ledger: &impl Ledger, input: msg::ExpireMigration) -> Result<Migration> {
    let close = msg::CloseMigration { migration_id: input.migration_id, reason: None };
    let migration = close_without_evidence(ledger, close, |ledger, migration, _vm| async move {
        let source = member_of_cloud(ledger, &migration.source.cloud_id).await?;
        let destination = member_of_cloud(ledger, &migration.destination.cloud_id).await?;
        let caller = &ledger.tx().caller;
        if caller.msp_id != source.msp_id && caller.msp_id != destination.msp_id {
            return Err(ContractError::Unauthorized {
                rule: format!(
                    "only the source ({}) or the destination ({}) of migration `{}` may expire it",
                    source.msp_id, destination.msp_id, migration.id
                ),
                caller_msp_id: caller.msp_id.clone(),
                caller_role: caller.role().map(str::to_owned),
            });
        }
        let now = ledger.tx().timestamp;
        if !clock::passed(&migration.expires_at, &now) {
            return Err(ContractError::conflict(format!(
                "migration `{}` reserves its destination until {}; the transaction's time is {}",
                migration.id,
                clock::rfc3339(&migration.expires_at),
                clock::rfc3339(&now)
            )));
        }
        Ok((MigrationStatus::Expired, migration))
    })
    .await?;
    emit(ledger, Emit::MigrationExpired(&migration))?;
    Ok(migration)
}

/// Closes an open Indication as `decide` says (after its own checks): the reservation released, the
/// VM running where it was, nothing recorded against anyone.
async fn close_without_evidence<'a, L, F, Fut>(
    ledger: &'a L,
    input: msg::CloseMigration,
    decide: F,
) -> Result<Migration>
where
    L: Ledger,
    F: FnOnce(&'a L, Migration, &VirtualMachine) -> Fut,
    Fut: std::future::Future<Output = Result<(MigrationStatus, Migration)>>,
{
    validate::id("migrationId", &input.migration_id)?;
    if let Some(reason) = &input.reason {
        validate::text("reason", reason)?;
    }
    let migration = open_migration(ledger, &input.migration_id).await?;
    let mut vm = chains::vm(ledger, &migration.vm_id).await?;
    let (status, mut migration) = decide(ledger, migration, &vm).await?;
    let now = ledger.tx().timestamp;
    clock::not_before(&now, "the Indication", &migration.indicated_at)?;
    let allocation = release_reservation(ledger, &migration).await?;
    state::store(ledger, &state::allocation(&migration.destination.host_id), &allocation).await?;
    // (A VM that left the cloud meanwhile is no longer this migration's to release.)
    if vm.pending_migration_id.as_deref() == Some(migration.id.as_str()) {
        vm.status = VmStatus::Running;
        vm.pending_migration_id = None;
        state::store(ledger, &state::vm(&vm.id), &vm).await?;
    }
    migration.status = status;
    migration.closed_at = Some(now);
    migration.closed_by = Some(signer(ledger));
    migration.reason = input.reason;
    state::store(ledger, &state::migration(&migration.id), &migration).await?;
    Ok(migration)
}

/// Ends the Indication's reservation: deletes its deadline entry and answers the destination's
/// allocation without it, for the caller to store (once: a transaction reads committed state only,
/// so a second read of the key would not see a first write).
async fn release_reservation(ledger: &impl Ledger, migration: &Migration) -> Result<Allocation> {
    let mut allocation: Allocation =
        state::load(ledger, &state::allocation(&migration.destination.host_id)).await?.unwrap_or_default();
    allocation.reserved = allocation.reserved.minus(&migration.requirements);
    ledger.delete(&state::reservation(&migration.destination.host_id, &migration.expires_at, &migration.id)).await?;
    Ok(allocation)
}

fn expired(migration: &Migration) -> ContractError {
    ContractError::conflict(format!(
        "migration `{}` expired at {}: ExpireMigration ends it",
        migration.id,
        clock::rfc3339(&migration.expires_at)
    ))
}

/// A migration still waiting for its Confirmation.
async fn open_migration(ledger: &impl Ledger, id: &str) -> Result<Migration> {
    let migration = crate::anchor::migration(ledger, id).await?;
    if migration.status != MigrationStatus::Indicated {
        return Err(ContractError::conflict(format!(
            "migration `{id}` is already {}",
            serde_json::to_value(migration.status).ok().and_then(|s| s.as_str().map(str::to_owned)).unwrap_or_default()
        )));
    }
    Ok(migration)
}
