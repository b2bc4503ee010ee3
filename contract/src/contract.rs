//! Entry points: one flat dispatch that decodes each call's argument and hands it to one function.
//! Transactions that change state are here; read-only queries are in [`crate::query`].
//!
//! Every transaction checks everything before it writes anything, and emits exactly one event
//! where the state changes.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::anchor;
use crate::auth::{require_manager, require_operator, require_role};
use crate::capacity::ensure_fits;
use crate::chains::{self, require_federation};
use crate::claims::{AcceptClaim, Claim, ClaimViolation, DisputeClaim};
use crate::error::{ContractError, Kind, Result};
use crate::integrity::parse_hash;
use crate::ledger::Ledger;
use crate::model::{
    Allocation, Cloud, Host, LocalRecord, LocalRecords, Migration, MigrationCheck, Page, Pong, Signer, UsageReport,
    VirtualMachine, VmHistory, VmStatus,
};
use crate::msg::{
    ById, CloseMigration, ConfirmMigration, ExpireMigration, ListHosts, ListMigrations, Migrate, MigrationRef, Ping,
    RecordStreamHash, RegisterCloud, RegisterHost, RegisterVm, SetRegulation, UpdateHost, Usage,
};
use crate::ownership::{own, require_own_namespace};
use crate::placement::{HostState, ListAvailabilityChanges, PlaceVm, PlacementReport, SetHostAvailability};
use crate::policy::residency_denials;
use crate::reputation::{GetReputation, Reputation};
use crate::terms::{AcceptTerms, ProposeTerms, Terms, TermsView};
use crate::{claims, clock, migration, msg, placement, query, reputation, state, stays, terms, validate};

// The contract's functions and events: one entry each. Adding a transaction is one entry here
// (and its handler below); the dispatch, `vocabulary::FUNCTIONS`, the chaincode host's Fabric
// methods, `vocabulary.json` (with the JSON Schemas), the proxy's routes and OpenAPI document all
// follow from it.
crate::vocabulary::transactions! {
    RegisterCloud: Submit register_cloud(RegisterCloud) -> Cloud,
        emits [CloudRegistered], refuses [INVALID_ARGUMENT, UNAUTHORIZED, ALREADY_EXISTS, CONFLICT, LEDGER],
        "Registers a cloud in the caller's namespace and binds it to the caller's MSP. Needs the manager role.";
    RegisterHost: Submit register_host(RegisterHost) -> Host,
        emits [HostRegistered], refuses [INVALID_ARGUMENT, NOT_FOUND, UNAUTHORIZED, ALREADY_EXISTS, CONFLICT, LEDGER],
        "Registers a host of one of the caller's clouds, in its namespace. Needs the manager role.";
    UpdateHost: Submit update_host(UpdateHost) -> Host,
        emits [HostUpdated],
        refuses [INVALID_ARGUMENT, NOT_FOUND, UNAUTHORIZED, CONFLICT, POLICY_DENIED, CAPACITY_EXCEEDED, LEDGER],
        "Changes a host's country, organisations or capacity (not below what is committed on it, nor where a VM on it may not be). Needs the manager role.";
    RegisterVm: Submit register_vm(RegisterVm) -> VirtualMachine,
        emits [VmRegistered],
        refuses [INVALID_ARGUMENT, NOT_FOUND, UNAUTHORIZED, ALREADY_EXISTS, CONFLICT, POLICY_DENIED, CAPACITY_EXCEEDED, HOST_UNAVAILABLE, LEDGER],
        "Registers a VM on a host of its operator's cloud, where its regulation and requirements allow.";
    SetRegulation: Submit set_regulation(SetRegulation) -> VirtualMachine,
        emits [RegulationSet], refuses [INVALID_ARGUMENT, NOT_FOUND, UNAUTHORIZED, CONFLICT, POLICY_DENIED, LEDGER],
        "Replaces a VM's regulation, for later migrations (not one its current host breaks). Needs the operator's manager role.";
    Migrate: Submit migration::migrate(Migrate) -> Migration,
        emits [MigrationIndicated],
        refuses [INVALID_ARGUMENT, NOT_FOUND, UNAUTHORIZED, CONFLICT, POLICY_DENIED, CAPACITY_EXCEEDED, HOST_UNAVAILABLE, LEDGER],
        "The Indication: the VM's operator records the transfer key's hash (and, cold, the image's hash and HMAC) and sends the VM to an allowed host with room; reserves it until a deadline.";
    RecordStreamHash: Submit migration::record_stream_hash(RecordStreamHash) -> Migration,
        emits [StreamRecorded], refuses [INVALID_ARGUMENT, NOT_FOUND, UNAUTHORIZED, CONFLICT, LEDGER],
        "A live migration's stream ended: the source records its hash, HMAC and length, once, before the destination may confirm.";
    ConfirmMigration: Submit migration::confirm_migration(ConfirmMigration) -> Migration,
        emits [MigrationConfirmed, MigrationRejected],
        refuses [INVALID_ARGUMENT, NOT_FOUND, UNAUTHORIZED, CONFLICT, POLICY_DENIED, LEDGER],
        "The Confirmation, by the destination with the transfer key and the hash and HMAC of what it received: equal moves the VM, different is committed as a rejection.";
    CancelMigration: Submit migration::cancel_migration(CloseMigration) -> Migration,
        emits [MigrationCancelled], refuses [INVALID_ARGUMENT, NOT_FOUND, UNAUTHORIZED, CONFLICT, LEDGER],
        "Withdraws an Indication before the destination answers; by the VM's operator only.";
    DeclineMigration: Submit migration::decline_migration(CloseMigration) -> Migration,
        emits [MigrationDeclined], refuses [INVALID_ARGUMENT, NOT_FOUND, UNAUTHORIZED, CONFLICT, LEDGER],
        "The destination refuses an Indication: its reservation ends, and nothing is recorded against anyone.";
    ExpireMigration: Submit migration::expire_migration(ExpireMigration) -> Migration,
        emits [MigrationExpired], refuses [INVALID_ARGUMENT, NOT_FOUND, UNAUTHORIZED, CONFLICT, LEDGER],
        "Ends an Indication past its deadline, by its source or destination: its reservation ends.";
    RecordLeave: Submit chains::record_leave(MigrationRef) -> LocalRecord,
        emits [VmLeft], refuses [INVALID_ARGUMENT, NOT_FOUND, UNAUTHORIZED, ALREADY_EXISTS, CONFLICT, LEDGER],
        "On the source member's local chain, by its relay: the VM left the cloud, as a confirmed inter-cloud migration on the federation says (checked there).";
    RecordArrival: Submit chains::record_arrival(MigrationRef) -> LocalRecord,
        emits [VmArrived], refuses [INVALID_ARGUMENT, NOT_FOUND, UNAUTHORIZED, ALREADY_EXISTS, CONFLICT, LEDGER],
        "On the destination member's local chain, by its relay: the VM arrived in the cloud, as a confirmed inter-cloud migration on the federation says (checked there).";
    Ping: Submit ping(Ping) -> Pong,
        emits [], refuses [INVALID_ARGUMENT, UNAUTHORIZED, LEDGER],
        "Writes one key and nothing else: the floor that benchmarks measure the contract against. Members' application identities only.";
    CheckMigration: Evaluate query::check_migration(Migrate) -> MigrationCheck,
        emits [], refuses [INVALID_ARGUMENT, NOT_FOUND, LEDGER],
        "Would this caller's Migrate succeed? Permit, or deny with every reason.";
    GetCloud: Evaluate query::get_cloud(ById) -> Cloud,
        emits [], refuses [INVALID_ARGUMENT, NOT_FOUND, LEDGER],
        "A cloud by id.";
    GetHost: Evaluate query::get_host(ById) -> Host,
        emits [], refuses [INVALID_ARGUMENT, NOT_FOUND, LEDGER],
        "A host by id.";
    ListHosts: Evaluate query::list_hosts(ListHosts) -> Page<Host>,
        emits [], refuses [INVALID_ARGUMENT, NOT_FOUND, LEDGER],
        "The hosts of a cloud, by id, a page at a time.";
    GetVm: Evaluate query::get_vm(ById) -> VirtualMachine,
        emits [], refuses [INVALID_ARGUMENT, NOT_FOUND, LEDGER],
        "A VM by id.";
    GetAllocation: Evaluate query::get_allocation(ById) -> Allocation,
        emits [], refuses [INVALID_ARGUMENT, NOT_FOUND, LEDGER],
        "What is committed on a host now: running, and reserved by unexpired Indications (on a local chain, with that chain's moves).";
    GetMigration: Evaluate query::get_migration(ById) -> Migration,
        emits [], refuses [INVALID_ARGUMENT, NOT_FOUND, LEDGER],
        "A migration by id (the id of its Migrate transaction).";
    ListMigrations: Evaluate query::list_migrations(ListMigrations) -> Page<Migration>,
        emits [], refuses [INVALID_ARGUMENT, NOT_FOUND, LEDGER],
        "Migrations of a VM, or touching a cloud, indicated in [from, to), oldest first, a page at a time.";
    VmHistory: Evaluate query::vm_history(ById) -> VmHistory,
        emits [], refuses [INVALID_ARGUMENT, NOT_FOUND, LEDGER],
        "Everything about one VM: its migrations, its residencies and every change of its regulation.";
    Usage: Evaluate query::usage(Usage) -> UsageReport,
        emits [], refuses [INVALID_ARGUMENT, NOT_FOUND, LEDGER],
        "What a cloud hosted over [from, to): per VM, time, resource-hours and cost at the cloud's prices.";
    GetLocalRecord: Evaluate chains::get_local_record(MigrationRef) -> LocalRecords,
        emits [], refuses [INVALID_ARGUMENT, NOT_FOUND, LEDGER],
        "What a member's local chain holds of an inter-cloud migration: its Leave, its Arrival.";
    SetHostAvailability: Submit placement::set_host_availability(SetHostAvailability) -> HostState,
        emits [HostAvailabilityChanged], refuses [INVALID_ARGUMENT, NOT_FOUND, UNAUTHORIZED, CONFLICT, LEDGER],
        "A host's member reports it up, draining or down (and its utilisation): recorded only when it changes, with its time. Needs the manager role.";
    GetHostState: Evaluate placement::get_host_state(ById) -> HostState,
        emits [], refuses [INVALID_ARGUMENT, NOT_FOUND, LEDGER],
        "A host's availability now (up when never reported).";
    ListAvailabilityChanges: Evaluate placement::list_availability_changes(ListAvailabilityChanges) -> Page<HostState>,
        emits [], refuses [INVALID_ARGUMENT, NOT_FOUND, LEDGER],
        "The recorded changes of a host's availability in [from, to), oldest first, a page at a time: when it was down.";
    PlaceVm: Evaluate placement::place_vm(PlaceVm) -> PlacementReport,
        emits [], refuses [INVALID_ARGUMENT, NOT_FOUND, LEDGER],
        "Where a VM (or a shape under a regulation) may go: the federation's eligible hosts ranked by a strategy (round-robin, least-loaded, hash, best-fit), and every other host with its reasons.";
    GetReputation: Evaluate reputation::get_reputation(GetReputation) -> Reputation,
        emits [], refuses [INVALID_ARGUMENT, NOT_FOUND, LEDGER],
        "How a cloud's migrations ended over a period (default 30 days), as destination and as source, with the migrations behind each figure, its mean time to confirm and its score.";
    ProposeTerms: Submit terms::propose_terms(ProposeTerms) -> Terms,
        emits [TermsProposed], refuses [INVALID_ARGUMENT, NOT_FOUND, UNAUTHORIZED, ALREADY_EXISTS, CONFLICT, LEDGER],
        "The source cloud's manager proposes service terms to another member's cloud; the prices travel as transient data into the pair's private collection, only their hash on the shared ledger.";
    AcceptTerms: Submit terms::accept_terms(AcceptTerms) -> Terms,
        emits [TermsAgreed], refuses [INVALID_ARGUMENT, NOT_FOUND, UNAUTHORIZED, CONFLICT, LEDGER],
        "The destination cloud's manager accepts proposed terms, naming the hash of the prices it read; both members endorse.";
    GetTerms: Evaluate terms::get_terms(ById) -> TermsView,
        emits [], refuses [INVALID_ARGUMENT, NOT_FOUND, LEDGER],
        "Service terms: the public part, both signers and the private part's hash for every member; the prices for the two parties only.";
    ClaimViolation: Submit claims::claim_violation(ClaimViolation) -> Claim,
        emits [ViolationClaimed], refuses [INVALID_ARGUMENT, NOT_FOUND, UNAUTHORIZED, ALREADY_EXISTS, CONFLICT, LEDGER],
        "One party of agreed terms claims a violation by the other, with its oracle's measurement, checked against the terms and the ledger's evidence.";
    DisputeClaim: Submit claims::dispute_claim(DisputeClaim) -> Claim,
        emits [ClaimDisputed], refuses [INVALID_ARGUMENT, NOT_FOUND, UNAUTHORIZED, CONFLICT, LEDGER],
        "The accused disputes a claim with its own measurement and evidence.";
    AcceptClaim: Submit claims::accept_claim(AcceptClaim) -> Claim,
        emits [ClaimAccepted], refuses [INVALID_ARGUMENT, NOT_FOUND, UNAUTHORIZED, CONFLICT, LEDGER],
        "The accused accepts a claim (claimed or disputed): its credit appears in the accused cloud's Usage.";
    GetClaim: Evaluate claims::get_claim(ById) -> Claim,
        emits [], refuses [INVALID_ARGUMENT, NOT_FOUND, LEDGER],
        "A violation claim by id.";
}

crate::vocabulary::events! {
    CloudRegistered(Cloud), "A cloud joined the federation.";
    HostRegistered(Host), "A cloud registered a host.";
    HostUpdated(Host), "A host's country, organisations or capacity changed.";
    VmRegistered(VirtualMachine), "A VM was registered on a host of its operator's cloud.";
    RegulationSet(VirtualMachine), "A VM's regulation was replaced.";
    MigrationIndicated(Migration), "The Indication: a VM is on its way, with the recorded hash.";
    MigrationConfirmed(Migration), "The destination confirmed with an equal hash: the VM moved.";
    MigrationRejected(Migration), "The destination observed a different hash: rejected, committed as evidence.";
    MigrationCancelled(Migration), "The operator withdrew an Indication.";
    MigrationDeclined(Migration), "The destination refused an Indication.";
    MigrationExpired(Migration), "An Indication ended at its deadline.";
    StreamRecorded(Migration), "A live migration's stream ended; its hash is recorded.";
    VmLeft(LocalRecord), "On a local chain: a VM left the member's cloud (BASICS' Leave).";
    VmArrived(LocalRecord), "On a local chain: a VM arrived in the member's cloud (BASICS' Arrival).";
    HostAvailabilityChanged(HostState), "A host's member reported it up, draining or down.";
    TermsProposed(Terms), "A cloud proposed service terms to another (prices private to the pair).";
    TermsAgreed(Terms), "The destination accepted service terms: both signed.";
    ViolationClaimed(Claim), "A party claimed a violation of agreed terms.";
    ClaimDisputed(Claim), "The accused disputed a claim.";
    ClaimAccepted(Claim), "The accused accepted a claim: a credit is due.";
}

fn decode<T: DeserializeOwned>(argument: &str) -> Result<T> {
    validate::argument_size(argument)?;
    serde_json::from_str(argument).map_err(|e| ContractError::invalid("argument", e.to_string()))
}

fn answer<T: Serialize>(result: Result<T>) -> Result<String> {
    state::to_json(&result?)
}

pub(crate) fn emit(ledger: &impl Ledger, event: Emit<'_>) -> Result<()> {
    ledger.set_event(event.name(), &event.payload()?)
}

pub(crate) fn signer(ledger: &impl Ledger) -> Signer {
    let caller = &ledger.tx().caller;
    Signer { msp_id: caller.msp_id.clone(), id: caller.id.clone() }
}

/// Registers a cloud in the caller's namespace and binds it to the caller's MSP. Needs the manager role.
pub async fn register_cloud(ledger: &impl Ledger, input: msg::RegisterCloud) -> Result<Cloud> {
    validate::id("id", &input.id)?;
    require_federation(ledger, "a cloud")?;
    let tx = ledger.tx();
    require_manager(&tx.caller, "register a cloud")?;
    require_own_namespace(&tx.caller, "cloud id", &input.id)?;
    validate::text("name", &input.name)?;
    if let Some(prices) = &input.prices {
        validate::prices("prices", prices)?;
    }
    let key = state::cloud(&input.id);
    if ledger.get(&key).await?.is_some() {
        return Err(ContractError::AlreadyExists { kind: Kind::Cloud, id: input.id });
    }
    let cloud = Cloud {
        id: input.id,
        name: input.name,
        msp_id: tx.caller.msp_id.clone(),
        prices: input.prices,
        registered_at: tx.timestamp,
    };
    state::store(ledger, &key, &cloud).await?;
    own(ledger, &key, &[&cloud.msp_id]).await?;
    anchor::mark(ledger, &key, &cloud.msp_id).await?;
    emit(ledger, Emit::CloudRegistered(&cloud))?;
    Ok(cloud)
}

/// Registers a host of one of the caller's clouds, in its namespace. Needs the manager role.
pub async fn register_host(ledger: &impl Ledger, input: msg::RegisterHost) -> Result<Host> {
    validate::id("id", &input.id)?;
    validate::id("cloudId", &input.cloud_id)?;
    require_federation(ledger, "a host")?;
    // Who may act comes before the work of checking the lists.
    let cloud: Cloud = anchor::cloud(ledger, &input.cloud_id).await?;
    let tx = ledger.tx();
    require_operator(&tx.caller, &cloud, "register its hosts")?;
    require_manager(&tx.caller, "register a host")?;
    require_own_namespace(&tx.caller, "host id", &input.id)?;
    let country = validate::country("country", &input.country)?;
    validate::organizations("organizations", &input.organizations)?;
    validate::capacity("capacity", &input.capacity)?;
    let key = state::host(&input.id);
    if ledger.get(&key).await?.is_some() {
        return Err(ContractError::AlreadyExists { kind: Kind::Host, id: input.id });
    }
    let host = Host {
        id: input.id,
        cloud_id: input.cloud_id,
        country,
        organizations: input.organizations,
        capacity: input.capacity,
        updated_at: tx.timestamp,
    };
    let index = state::host_by_cloud(&host.cloud_id, &host.id);
    let allocation = state::allocation(&host.id);
    // Every per-host key is made, and owned, here: a Migrate only updates them, so concurrent
    // Indications into a new host conflict as a retryable MVCC read, never on who owns a key.
    let placed = state::placed(&host.id);
    state::store(ledger, &key, &host).await?;
    state::store(ledger, &allocation, &Allocation::default()).await?;
    state::store(ledger, &placed, &crate::placement::Placements::default()).await?;
    ledger.put(&index, &key).await?;
    for k in [&key, &allocation, &placed, &index] {
        own(ledger, k, &[&cloud.msp_id]).await?;
    }
    anchor::mark(ledger, &key, &cloud.msp_id).await?;
    emit(ledger, Emit::HostRegistered(&host))?;
    Ok(host)
}

/// Changes a host's country, organisations or capacity. Needs the manager role; the capacity may not
/// fall below what is committed on the host, and a host may not move where the regulation of a VM
/// running on it forbids (`POLICY_DENIED` naming the VM).
pub async fn update_host(ledger: &impl Ledger, input: msg::UpdateHost) -> Result<Host> {
    validate::id("id", &input.id)?;
    if input.country.is_none() && input.organizations.is_none() && input.capacity.is_none() {
        return Err(ContractError::invalid("argument", "nothing to update: give country, organizations or capacity"));
    }
    require_federation(ledger, "a host")?;
    let (mut host, cloud) = anchor::host_and_cloud(ledger, &input.id).await?;
    let before = host.clone();
    let tx = ledger.tx();
    require_operator(&tx.caller, &cloud, "change its hosts")?;
    require_manager(&tx.caller, "change a host")?;
    clock::not_before(&tx.timestamp, "the host's last change", &host.updated_at)?;
    if let Some(country) = &input.country {
        host.country = validate::country("country", country)?;
    }
    if let Some(organizations) = input.organizations {
        validate::organizations("organizations", &organizations)?;
        host.organizations = organizations;
    }
    if let Some(capacity) = input.capacity {
        validate::capacity("capacity", &capacity)?;
        let allocation = chains::allocation_at(ledger, &host.id, &tx.timestamp).await?;
        // The new capacity must still hold everything committed on the host.
        ensure_fits(&host.id, &capacity, &Allocation::default(), &allocation.committed())?;
        host.capacity = capacity;
    }
    if host.country != before.country || host.organizations != before.organizations {
        refuse_drift(ledger, &host).await?;
    }
    host.updated_at = tx.timestamp;
    state::store(ledger, &state::host(&host.id), &host).await?;
    emit(ledger, Emit::HostUpdated(&host))?;
    Ok(host)
}

/// A host may not drift to where a VM running on it may not be. Reads the VMs on the host (each
/// holds at least a core of it, so they are bounded by its capacity).
async fn refuse_drift(ledger: &impl Ledger, host: &Host) -> Result<()> {
    let (start, end) = state::prefix_range(&state::vms_of_host(&host.id));
    for entry in ledger.range(&start, &end, 0, None).await?.entries {
        let vm: VirtualMachine = state::load(ledger, &entry.value).await?.ok_or_else(|| ContractError::Ledger {
            reason: format!("index entry `{}` points at missing `{}`", entry.key, entry.value),
        })?;
        let denials = residency_denials(&vm.regulation, host);
        if !denials.is_empty() {
            return Err(ContractError::PolicyDenied { vm_id: vm.id, host_id: host.id.clone(), reasons: denials });
        }
    }
    Ok(())
}

/// Registers a VM on a host of its operator's cloud, where its regulation and requirements allow.
pub async fn register_vm(ledger: &impl Ledger, input: msg::RegisterVm) -> Result<VirtualMachine> {
    validate::id("id", &input.id)?;
    validate::id("cloudId", &input.cloud_id)?;
    validate::id("hostId", &input.host_id)?;
    require_federation(ledger, "a VM")?;
    let cloud: Cloud = anchor::cloud(ledger, &input.cloud_id).await?;
    let tx = ledger.tx();
    require_operator(&tx.caller, &cloud, "register its VMs")?;
    validate::requirements("requirements", &input.requirements)?;
    let image_hash = parse_hash("imageHash", &input.image_hash)?;
    let regulation = validate::regulation("regulation", &input.regulation)?;
    let key = state::vm(&input.id);
    if ledger.get(&key).await?.is_some() {
        return Err(ContractError::AlreadyExists { kind: Kind::Vm, id: input.id });
    }
    let host = anchor::host(ledger, &input.host_id).await?;
    if host.cloud_id != cloud.id {
        return Err(ContractError::Unauthorized {
            rule: format!(
                "a VM is registered on a host of its own cloud `{}`; host `{}` belongs to `{}` (migrate it there instead)",
                cloud.id, host.id, host.cloud_id
            ),
            caller_msp_id: tx.caller.msp_id.clone(),
            caller_role: tx.caller.role().map(str::to_owned),
        });
    }
    let denials = residency_denials(&regulation, &host);
    if !denials.is_empty() {
        return Err(ContractError::PolicyDenied { vm_id: input.id, host_id: host.id, reasons: denials });
    }
    if let Some(unavailable) = placement::refuse_unavailable(ledger, &host).await? {
        return Err(unavailable);
    }
    let mut allocation = chains::allocation_at(ledger, &host.id, &tx.timestamp).await?;
    ensure_fits(&host.id, &host.capacity, &allocation, &input.requirements)?;
    // What is stored keeps the reservations as recorded (lapsed ones are released by their owner).
    allocation = state::load(ledger, &state::allocation(&host.id)).await?.unwrap_or_default();

    let vm = VirtualMachine {
        id: input.id,
        cloud_id: cloud.id,
        host_id: host.id.clone(),
        requirements: input.requirements,
        image_hash,
        regulation,
        status: VmStatus::Running,
        since: tx.timestamp,
        residency_tx_id: tx.id.clone(),
        pending_migration_id: None,
    };
    allocation.running = allocation.running.plus(&vm.requirements);
    state::store(ledger, &key, &vm).await?;
    own(ledger, &key, &[&cloud.msp_id]).await?;
    anchor::mark(ledger, &key, &cloud.msp_id).await?;
    state::store(ledger, &state::allocation(&vm.host_id), &allocation).await?;
    stays::open(ledger, &vm, &host, &cloud.msp_id, &cloud.msp_id).await?;
    emit(ledger, Emit::VmRegistered(&vm))?;
    Ok(vm)
}

/// Replaces a VM's regulation. Needs the operator's manager role. Takes effect for later migrations;
/// refused (`POLICY_DENIED`) if the host the VM runs on would break it.
pub async fn set_regulation(ledger: &impl Ledger, input: msg::SetRegulation) -> Result<VirtualMachine> {
    validate::id("vmId", &input.vm_id)?;
    require_federation(ledger, "a VM's regulation")?;
    let (mut vm, cloud) = anchor::vm_and_cloud(ledger, &input.vm_id).await?;
    let caller = &ledger.tx().caller;
    require_operator(caller, &cloud, "set the regulation of its VMs")?;
    require_manager(caller, "set a VM's regulation")?;
    let regulation = validate::regulation("regulation", &input.regulation)?;
    let host = anchor::host(ledger, &vm.host_id).await?;
    let denials = residency_denials(&regulation, &host);
    if !denials.is_empty() {
        return Err(ContractError::PolicyDenied { vm_id: vm.id, host_id: host.id, reasons: denials });
    }
    vm.regulation = regulation;
    state::store(ledger, &state::vm(&vm.id), &vm).await?;
    emit(ledger, Emit::RegulationSet(&vm))?;
    Ok(vm)
}

/// Writes one key and nothing else: the floor that benchmarks measure the contract against. Only a
/// member's application identities (with a vmledger role) may ping.
pub async fn ping(ledger: &impl Ledger, _input: msg::Ping) -> Result<Pong> {
    let tx = ledger.tx();
    require_role(&tx.caller, "ping")?;
    let pong = Pong { tx_id: tx.id.clone(), at: tx.timestamp };
    let key = state::ping(&tx.id);
    state::store(ledger, &key, &pong).await?;
    own(ledger, &key, &[&tx.caller.msp_id]).await?;
    Ok(pong)
}
