//! Entry points: one flat dispatch that decodes each call's argument and hands it to one function.
//! Transactions that change state are here; read-only queries are in [`crate::query`].
//!
//! Every transaction checks everything before it writes anything, and emits exactly one event
//! where the state changes.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::auth::{require_destination, require_manager, require_operator};
use crate::capacity::{ensure_fits, shortfalls};
use crate::error::{ContractError, Kind, Result};
use crate::integrity::{image_intact, parse_hash};
use crate::ledger::Ledger;
use crate::model::{
    Allocation, Cloud, Host, Migration, MigrationCheck, MigrationStatus, Page, Placement, Pong, Residency, Scope,
    Signer, UsageReport, VirtualMachine, VmHistory, VmStatus,
};
use crate::msg::{
    ById, CancelMigration, ConfirmMigration, ListHosts, ListMigrations, Migrate, Ping, RegisterCloud, RegisterHost,
    RegisterVm, SetRegulation, UpdateHost, Usage,
};
use crate::policy::residency_denials;
use crate::{msg, query, state, validate};

// The contract's functions and events: one entry each. Adding a transaction is one entry here
// (and its handler below); the dispatch, `vocabulary::FUNCTIONS`, the chaincode host's Fabric
// methods, `vocabulary.json` (with the JSON Schemas), the proxy's routes and OpenAPI document all
// follow from it.
crate::vocabulary::transactions! {
    RegisterCloud: Submit register_cloud(RegisterCloud) -> Cloud,
        emits [CloudRegistered], refuses [INVALID_ARGUMENT, UNAUTHORIZED, ALREADY_EXISTS, LEDGER],
        "Registers a cloud and binds it to the caller's MSP. Needs the manager role.";
    RegisterHost: Submit register_host(RegisterHost) -> Host,
        emits [HostRegistered], refuses [INVALID_ARGUMENT, NOT_FOUND, UNAUTHORIZED, ALREADY_EXISTS, LEDGER],
        "Registers a host of one of the caller's clouds. Needs the manager role.";
    UpdateHost: Submit update_host(UpdateHost) -> Host,
        emits [HostUpdated], refuses [INVALID_ARGUMENT, NOT_FOUND, UNAUTHORIZED, CAPACITY_EXCEEDED, LEDGER],
        "Changes a host's country, organisations or capacity (not below what is committed on it). Needs the manager role.";
    RegisterVm: Submit register_vm(RegisterVm) -> VirtualMachine,
        emits [VmRegistered],
        refuses [INVALID_ARGUMENT, NOT_FOUND, UNAUTHORIZED, ALREADY_EXISTS, POLICY_DENIED, CAPACITY_EXCEEDED, LEDGER],
        "Registers a VM on a host of its operator's cloud, where its regulation and requirements allow.";
    SetRegulation: Submit set_regulation(SetRegulation) -> VirtualMachine,
        emits [RegulationSet], refuses [INVALID_ARGUMENT, NOT_FOUND, UNAUTHORIZED, LEDGER],
        "Replaces a VM's regulation, for later migrations. Needs the operator's manager role.";
    Migrate: Submit migrate(Migrate) -> Migration,
        emits [MigrationIndicated],
        refuses [INVALID_ARGUMENT, NOT_FOUND, UNAUTHORIZED, CONFLICT, POLICY_DENIED, CAPACITY_EXCEEDED, LEDGER],
        "The Indication: the VM's operator records the image's hash and sends the VM to an allowed host with room; reserves it.";
    ConfirmMigration: Submit confirm_migration(ConfirmMigration) -> Migration,
        emits [MigrationConfirmed, MigrationRejected],
        refuses [INVALID_ARGUMENT, NOT_FOUND, UNAUTHORIZED, CONFLICT, POLICY_DENIED, LEDGER],
        "The Confirmation, by the destination with the hash it observed: equal moves the VM, different is committed as a rejection.";
    CancelMigration: Submit cancel_migration(CancelMigration) -> Migration,
        emits [MigrationCancelled], refuses [INVALID_ARGUMENT, NOT_FOUND, UNAUTHORIZED, CONFLICT, LEDGER],
        "Withdraws an Indication before the destination answers; by the VM's operator only.";
    Ping: Submit ping(Ping) -> Pong,
        emits [], refuses [INVALID_ARGUMENT, LEDGER],
        "Writes one key and nothing else: the floor that benchmarks measure the contract against.";
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
}

fn decode<T: DeserializeOwned>(argument: &str) -> Result<T> {
    serde_json::from_str(argument).map_err(|e| ContractError::invalid("argument", e.to_string()))
}

fn answer<T: Serialize>(result: Result<T>) -> Result<String> {
    state::to_json(&result?)
}

fn emit(ledger: &impl Ledger, event: Emit<'_>) -> Result<()> {
    ledger.set_event(event.name(), &event.payload()?)
}

fn signer(ledger: &impl Ledger) -> Signer {
    let caller = &ledger.tx().caller;
    Signer { msp_id: caller.msp_id.clone(), id: caller.id.clone() }
}

/// Registers a cloud and binds it to the caller's MSP. Needs the manager role.
pub async fn register_cloud(ledger: &impl Ledger, input: msg::RegisterCloud) -> Result<Cloud> {
    validate::id("id", &input.id)?;
    validate::text("name", &input.name)?;
    if let Some(prices) = &input.prices {
        validate::prices("prices", prices)?;
    }
    let tx = ledger.tx();
    require_manager(&tx.caller, "register a cloud")?;
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
    emit(ledger, Emit::CloudRegistered(&cloud))?;
    Ok(cloud)
}

/// Registers a host of one of the caller's clouds. Needs the manager role.
pub async fn register_host(ledger: &impl Ledger, input: msg::RegisterHost) -> Result<Host> {
    validate::id("id", &input.id)?;
    validate::id("cloudId", &input.cloud_id)?;
    let country = validate::country("country", &input.country)?;
    validate::organizations("organizations", &input.organizations)?;
    let cloud: Cloud = state::require(ledger, Kind::Cloud, &input.cloud_id, &state::cloud(&input.cloud_id)).await?;
    let caller = &ledger.tx().caller;
    require_operator(caller, &cloud, "register its hosts")?;
    require_manager(caller, "register a host")?;
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
    };
    state::store(ledger, &key, &host).await?;
    state::store(ledger, &state::allocation(&host.id), &Allocation::default()).await?;
    ledger.put(&state::host_by_cloud(&host.cloud_id, &host.id), &key).await?;
    emit(ledger, Emit::HostRegistered(&host))?;
    Ok(host)
}

/// Changes a host's country, organisations or capacity. Needs the manager role; the capacity may not
/// fall below what is committed on the host.
pub async fn update_host(ledger: &impl Ledger, input: msg::UpdateHost) -> Result<Host> {
    validate::id("id", &input.id)?;
    if input.country.is_none() && input.organizations.is_none() && input.capacity.is_none() {
        return Err(ContractError::invalid("argument", "nothing to update: give country, organizations or capacity"));
    }
    let mut host: Host = state::require(ledger, Kind::Host, &input.id, &state::host(&input.id)).await?;
    let cloud: Cloud = state::require(ledger, Kind::Cloud, &host.cloud_id, &state::cloud(&host.cloud_id)).await?;
    let caller = &ledger.tx().caller;
    require_operator(caller, &cloud, "change its hosts")?;
    require_manager(caller, "change a host")?;
    if let Some(country) = &input.country {
        host.country = validate::country("country", country)?;
    }
    if let Some(organizations) = input.organizations {
        validate::organizations("organizations", &organizations)?;
        host.organizations = organizations;
    }
    if let Some(capacity) = input.capacity {
        let allocation: Allocation = state::load(ledger, &state::allocation(&host.id)).await?.unwrap_or_default();
        // The new capacity must still hold everything committed on the host.
        ensure_fits(&host.id, &capacity, &Allocation::default(), &allocation.committed())?;
        host.capacity = capacity;
    }
    state::store(ledger, &state::host(&host.id), &host).await?;
    emit(ledger, Emit::HostUpdated(&host))?;
    Ok(host)
}

/// Registers a VM on a host of its operator's cloud, where its regulation and requirements allow.
pub async fn register_vm(ledger: &impl Ledger, input: msg::RegisterVm) -> Result<VirtualMachine> {
    validate::id("id", &input.id)?;
    validate::id("cloudId", &input.cloud_id)?;
    validate::id("hostId", &input.host_id)?;
    validate::requirements("requirements", &input.requirements)?;
    let image_hash = parse_hash("imageHash", &input.image_hash)?;
    let regulation = validate::regulation("regulation", &input.regulation)?;
    let cloud: Cloud = state::require(ledger, Kind::Cloud, &input.cloud_id, &state::cloud(&input.cloud_id)).await?;
    let tx = ledger.tx();
    require_operator(&tx.caller, &cloud, "register its VMs")?;
    let key = state::vm(&input.id);
    if ledger.get(&key).await?.is_some() {
        return Err(ContractError::AlreadyExists { kind: Kind::Vm, id: input.id });
    }
    let host: Host = state::require(ledger, Kind::Host, &input.host_id, &state::host(&input.host_id)).await?;
    if host.cloud_id != cloud.id {
        return Err(ContractError::Unauthorized {
            rule: format!(
                "a VM is registered on a host of its own cloud `{}`; host `{}` belongs to `{}` (migrate it there instead)",
                cloud.id, host.id, host.cloud_id
            ),
            caller_msp_id: tx.caller.msp_id.clone(),
            caller_role: None,
        });
    }
    let denials = residency_denials(&regulation, &host);
    if !denials.is_empty() {
        return Err(ContractError::PolicyDenied { vm_id: input.id, host_id: host.id, reasons: denials });
    }
    let mut allocation: Allocation = state::load(ledger, &state::allocation(&host.id)).await?.unwrap_or_default();
    ensure_fits(&host.id, &host.capacity, &allocation, &input.requirements)?;

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
    state::store(ledger, &state::allocation(&vm.host_id), &allocation).await?;
    open_residency(ledger, &vm, &host).await?;
    emit(ledger, Emit::VmRegistered(&vm))?;
    Ok(vm)
}

/// Replaces a VM's regulation. Needs the operator's manager role. Takes effect for later migrations.
pub async fn set_regulation(ledger: &impl Ledger, input: msg::SetRegulation) -> Result<VirtualMachine> {
    validate::id("vmId", &input.vm_id)?;
    let regulation = validate::regulation("regulation", &input.regulation)?;
    let mut vm: VirtualMachine = state::require(ledger, Kind::Vm, &input.vm_id, &state::vm(&input.vm_id)).await?;
    let cloud: Cloud = state::require(ledger, Kind::Cloud, &vm.cloud_id, &state::cloud(&vm.cloud_id)).await?;
    let caller = &ledger.tx().caller;
    require_operator(caller, &cloud, "set the regulation of its VMs")?;
    require_manager(caller, "set a VM's regulation")?;
    vm.regulation = regulation;
    state::store(ledger, &state::vm(&vm.id), &vm).await?;
    emit(ledger, Emit::RegulationSet(&vm))?;
    Ok(vm)
}

/// What a migration would involve, read once and shared by `CheckMigration` and `Migrate`.
pub(crate) struct Assessment {
    pub(crate) vm: VirtualMachine,
    pub(crate) destination: Host,
    pub(crate) destination_allocation: Allocation,
    pub(crate) source_cloud_id: String,
    /// Every rule the migration breaks, in the order `Migrate` reports them.
    pub(crate) violations: Vec<ContractError>,
}

/// Checks every rule of the Indication against the current state, collecting every violation.
pub(crate) async fn assess(ledger: &impl Ledger, input: &msg::Migrate) -> Result<Assessment> {
    validate::id("vmId", &input.vm_id)?;
    validate::id("destinationHostId", &input.destination_host_id)?;
    if let Some(hash) = &input.image_hash {
        parse_hash("imageHash", hash)?;
    }
    let vm: VirtualMachine = state::require(ledger, Kind::Vm, &input.vm_id, &state::vm(&input.vm_id)).await?;
    let operator: Cloud = state::require(ledger, Kind::Cloud, &vm.cloud_id, &state::cloud(&vm.cloud_id)).await?;
    let destination: Host =
        state::require(ledger, Kind::Host, &input.destination_host_id, &state::host(&input.destination_host_id))
            .await?;
    let source: Host = state::require(ledger, Kind::Host, &vm.host_id, &state::host(&vm.host_id)).await?;
    let destination_allocation: Allocation =
        state::load(ledger, &state::allocation(&destination.id)).await?.unwrap_or_default();

    let mut violations = Vec::new();
    if let Err(refused) = require_operator(&ledger.tx().caller, &operator, "migrate its VMs") {
        violations.push(refused);
    }
    if let Some(pending) = &vm.pending_migration_id {
        violations
            .push(ContractError::conflict(format!("VM `{}` is already migrating (migration `{pending}`)", vm.id)));
    }
    if vm.host_id == destination.id {
        violations.push(ContractError::conflict(format!("VM `{}` is already on host `{}`", vm.id, destination.id)));
    }
    let denials = residency_denials(&vm.regulation, &destination);
    if !denials.is_empty() {
        violations.push(ContractError::PolicyDenied {
            vm_id: vm.id.clone(),
            host_id: destination.id.clone(),
            reasons: denials,
        });
    }
    let short = shortfalls(&destination.capacity, &destination_allocation, &vm.requirements);
    if !short.is_empty() {
        violations.push(ContractError::CapacityExceeded { host_id: destination.id.clone(), shortfalls: short });
    }
    Ok(Assessment { vm, destination, destination_allocation, source_cloud_id: source.cloud_id, violations })
}

/// The Indication: records that the VM's operator is sending it, with the image's hash, to a host
/// that its regulation and requirements allow, and reserves the host's resources for it.
pub async fn migrate(ledger: &impl Ledger, input: msg::Migrate) -> Result<Migration> {
    let Some(hash) = &input.image_hash else {
        return Err(ContractError::invalid("imageHash", "the Indication must carry the image's SHA-256"));
    };
    let recorded_hash = parse_hash("imageHash", hash)?;
    let Assessment { mut vm, destination, mut destination_allocation, source_cloud_id, violations } =
        assess(ledger, &input).await?;
    if let Some(first) = violations.into_iter().next() {
        return Err(first);
    }
    let tx = ledger.tx();
    let migration = Migration {
        id: tx.id.clone(),
        vm_id: vm.id.clone(),
        scope: if source_cloud_id == destination.cloud_id { Scope::Local } else { Scope::Inter },
        source: Placement { cloud_id: source_cloud_id, host_id: vm.host_id.clone() },
        destination: Placement { cloud_id: destination.cloud_id.clone(), host_id: destination.id.clone() },
        recorded_hash,
        requirements: vm.requirements,
        status: MigrationStatus::Indicated,
        indicated_at: tx.timestamp,
        requested_by: signer(ledger),
        closed_at: None,
        closed_by: None,
        observed_hash: None,
        cancel_reason: None,
    };
    vm.status = VmStatus::Migrating;
    vm.pending_migration_id = Some(migration.id.clone());
    destination_allocation.reserved = destination_allocation.reserved.plus(&migration.requirements);

    let key = state::migration(&migration.id);
    state::store(ledger, &key, &migration).await?;
    state::store(ledger, &state::vm(&vm.id), &vm).await?;
    state::store(ledger, &state::allocation(&destination.id), &destination_allocation).await?;
    ledger.put(&state::migration_by_vm(&vm.id, &tx.timestamp, &migration.id), &key).await?;
    ledger.put(&state::migration_by_cloud(&migration.source.cloud_id, &tx.timestamp, &migration.id), &key).await?;
    if migration.scope == Scope::Inter {
        ledger
            .put(&state::migration_by_cloud(&migration.destination.cloud_id, &tx.timestamp, &migration.id), &key)
            .await?;
    }
    emit(ledger, Emit::MigrationIndicated(&migration))?;
    Ok(migration)
}

/// The Confirmation, by the destination's operator with the hash of what it received. Equal hash:
/// confirmed, the VM moves, its source residency closes and the destination's opens (Leave and
/// Arrival). Different hash: rejected and committed as evidence; the VM stays where it was.
/// The residency policy is checked again on arrival: `POLICY_DENIED` if the host or the regulation
/// changed since the Indication so that the host is now forbidden (the operator then cancels).
pub async fn confirm_migration(ledger: &impl Ledger, input: msg::ConfirmMigration) -> Result<Migration> {
    validate::id("migrationId", &input.migration_id)?;
    let observed_hash = parse_hash("observedHash", &input.observed_hash)?;
    let mut migration = open_migration(ledger, &input.migration_id).await?;
    let destination_cloud: Cloud = state::require(
        ledger,
        Kind::Cloud,
        &migration.destination.cloud_id,
        &state::cloud(&migration.destination.cloud_id),
    )
    .await?;
    require_destination(&ledger.tx().caller, &destination_cloud)?;
    let mut vm: VirtualMachine =
        state::require(ledger, Kind::Vm, &migration.vm_id, &state::vm(&migration.vm_id)).await?;
    let destination_key = state::allocation(&migration.destination.host_id);
    let mut destination: Allocation = state::load(ledger, &destination_key).await?.unwrap_or_default();
    destination.reserved = destination.reserved.minus(&migration.requirements);

    let tx = ledger.tx();
    let intact = image_intact(&migration.recorded_hash, &observed_hash);
    migration.status = if intact { MigrationStatus::Confirmed } else { MigrationStatus::Rejected };
    migration.closed_at = Some(tx.timestamp);
    migration.closed_by = Some(signer(ledger));
    migration.observed_hash = Some(observed_hash);
    vm.status = VmStatus::Running;
    vm.pending_migration_id = None;

    if intact {
        let host: Host = state::require(
            ledger,
            Kind::Host,
            &migration.destination.host_id,
            &state::host(&migration.destination.host_id),
        )
        .await?;
        // The host or the regulation may have changed since the Indication: the VM still never
        // lands where its regulation forbids (the operator cancels such a migration).
        let denials = residency_denials(&vm.regulation, &host);
        if !denials.is_empty() {
            return Err(ContractError::PolicyDenied { vm_id: vm.id, host_id: host.id, reasons: denials });
        }
        let source_key = state::allocation(&migration.source.host_id);
        let mut source: Allocation = state::load(ledger, &source_key).await?.unwrap_or_default();
        source.running = source.running.minus(&migration.requirements);
        destination.running = destination.running.plus(&migration.requirements);
        close_residency(ledger, &vm).await?;
        vm.host_id = host.id.clone();
        vm.since = tx.timestamp;
        vm.residency_tx_id = tx.id.clone();
        vm.image_hash = migration.recorded_hash.clone();
        open_residency(ledger, &vm, &host).await?;
        state::store(ledger, &source_key, &source).await?;
    }
    state::store(ledger, &destination_key, &destination).await?;
    state::store(ledger, &state::vm(&vm.id), &vm).await?;
    state::store(ledger, &state::migration(&migration.id), &migration).await?;
    emit(ledger, if intact { Emit::MigrationConfirmed(&migration) } else { Emit::MigrationRejected(&migration) })?;
    Ok(migration)
}

/// Withdraws an Indication before the destination answers; by the VM's operator only.
pub async fn cancel_migration(ledger: &impl Ledger, input: msg::CancelMigration) -> Result<Migration> {
    validate::id("migrationId", &input.migration_id)?;
    if let Some(reason) = &input.reason {
        validate::text("reason", reason)?;
    }
    let mut migration = open_migration(ledger, &input.migration_id).await?;
    let mut vm: VirtualMachine =
        state::require(ledger, Kind::Vm, &migration.vm_id, &state::vm(&migration.vm_id)).await?;
    let operator: Cloud = state::require(ledger, Kind::Cloud, &vm.cloud_id, &state::cloud(&vm.cloud_id)).await?;
    require_operator(&ledger.tx().caller, &operator, "cancel its migrations")?;
    let destination_key = state::allocation(&migration.destination.host_id);
    let mut destination: Allocation = state::load(ledger, &destination_key).await?.unwrap_or_default();
    destination.reserved = destination.reserved.minus(&migration.requirements);
    vm.status = VmStatus::Running;
    vm.pending_migration_id = None;
    migration.status = MigrationStatus::Cancelled;
    migration.closed_at = Some(ledger.tx().timestamp);
    migration.closed_by = Some(signer(ledger));
    migration.cancel_reason = input.reason;

    state::store(ledger, &destination_key, &destination).await?;
    state::store(ledger, &state::vm(&vm.id), &vm).await?;
    state::store(ledger, &state::migration(&migration.id), &migration).await?;
    emit(ledger, Emit::MigrationCancelled(&migration))?;
    Ok(migration)
}

/// Writes one key and nothing else: the floor that benchmarks measure the contract against.
pub async fn ping(ledger: &impl Ledger, _input: msg::Ping) -> Result<Pong> {
    let tx = ledger.tx();
    let pong = Pong { tx_id: tx.id.clone(), at: tx.timestamp };
    state::store(ledger, &state::ping(&tx.id), &pong).await?;
    Ok(pong)
}

/// A migration still waiting for its Confirmation.
async fn open_migration(ledger: &impl Ledger, id: &str) -> Result<Migration> {
    let migration: Migration = state::require(ledger, Kind::Migration, id, &state::migration(id)).await?;
    if migration.status != MigrationStatus::Indicated {
        return Err(ContractError::conflict(format!(
            "migration `{id}` is already {}",
            serde_json::to_value(migration.status).ok().and_then(|s| s.as_str().map(str::to_owned)).unwrap_or_default()
        )));
    }
    Ok(migration)
}

/// Arrival: the VM's stay on `host` starts now.
async fn open_residency(ledger: &impl Ledger, vm: &VirtualMachine, host: &Host) -> Result<()> {
    let residency = Residency {
        vm_id: vm.id.clone(),
        operator_cloud_id: vm.cloud_id.clone(),
        cloud_id: host.cloud_id.clone(),
        host_id: host.id.clone(),
        from: vm.since,
        to: None,
        requirements: vm.requirements,
        opened_by_tx: vm.residency_tx_id.clone(),
    };
    let key = state::residency(&vm.id, &vm.since, &vm.residency_tx_id);
    state::store(ledger, &key, &residency).await?;
    ledger.put(&state::residency_by_cloud(&host.cloud_id, &vm.since, &vm.id, &vm.residency_tx_id), &key).await
}

/// Leave: the VM's stay on its current host ends now.
async fn close_residency(ledger: &impl Ledger, vm: &VirtualMachine) -> Result<()> {
    let key = state::residency(&vm.id, &vm.since, &vm.residency_tx_id);
    let mut residency: Residency = state::load(ledger, &key)
        .await?
        .ok_or_else(|| ContractError::Ledger { reason: format!("VM `{}` has no open residency at `{key}`", vm.id) })?;
    residency.to = Some(ledger.tx().timestamp);
    state::store(ledger, &key, &residency).await
}
