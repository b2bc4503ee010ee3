//! `apply`: bring the ledger to a federation described as data (clouds, hosts, VMs with their
//! regulations), idempotently. What is there and equal is left alone; what differs is changed where
//! the contract allows it (`UpdateHost` for a host's country, organisations and capacity;
//! `SetRegulation` for a VM's regulation) and reported as a conflict where it does not (a cloud's
//! name or prices, a host's cloud, a VM's operator, requirements or image hash). A second run of
//! the same file changes nothing.
//!
//! The file's format is fixtures/federation.json's: `clouds` (RegisterCloud inputs), `hosts`
//! (RegisterHost), `vms` (RegisterVm), and `operators`, which member (`org` of members.json) acts
//! for each cloud. A VM's `hostId` is where it is registered: a VM that has migrated since is not
//! moved back (the difference is noted, not a conflict).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use vmledger_contract::model::{Cloud, Host, VirtualMachine};
use vmledger_contract::msg;

use crate::error::Error;
use crate::ledger::VmLedger;

/// A federation as data. Other keys of the file (`description`, `images`, `scenarios`) are ignored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FederationSpec {
    /// Who acts for each cloud, by cloud id.
    #[serde(default)]
    pub operators: BTreeMap<String, Operator>,
    #[serde(default)]
    pub clouds: Vec<msg::RegisterCloud>,
    #[serde(default)]
    pub hosts: Vec<msg::RegisterHost>,
    #[serde(default)]
    pub vms: Vec<msg::RegisterVm>,
}

/// The member that operates a cloud.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Operator {
    /// The member's org name in members.json (`org1`).
    pub org: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub msp_id: Option<String>,
}

/// The kinds of records `apply` manages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Kind {
    Cloud,
    Host,
    Vm,
}

/// What `apply` does (or would do) with one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Action {
    /// Not on the ledger: registered.
    Create,
    /// On the ledger and equal: nothing to do.
    Unchanged,
    /// On the ledger with fields the contract can change: changed.
    Update,
    /// On the ledger with fields the contract cannot change: left as it is, reported.
    Conflict,
}

/// One record's plan and, once applied, its outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Change {
    pub kind: Kind,
    pub id: String,
    /// The cloud it belongs to (whose operator acts).
    pub cloud_id: String,
    pub action: Action,
    /// The fields that differ (file's names).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
    /// Anything worth knowing (why a conflict, a VM that moved).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
    /// The transaction that made the change, once applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tx_id: Option<String>,
}

impl Change {
    fn new(kind: Kind, id: &str, cloud_id: &str, action: Action) -> Change {
        Change {
            kind,
            id: id.to_owned(),
            cloud_id: cloud_id.to_owned(),
            action,
            fields: Vec::new(),
            note: String::new(),
            tx_id: None,
        }
    }
}

/// The plan for a cloud: clouds cannot be changed once registered.
pub fn plan_cloud(desired: &msg::RegisterCloud, current: Option<&Cloud>) -> Change {
    let Some(current) = current else { return Change::new(Kind::Cloud, &desired.id, &desired.id, Action::Create) };
    let mut fields = Vec::new();
    if current.name != desired.name {
        fields.push("name".to_owned());
    }
    if current.prices != desired.prices {
        fields.push("prices".to_owned());
    }
    let action = if fields.is_empty() { Action::Unchanged } else { Action::Conflict };
    let mut change = Change::new(Kind::Cloud, &desired.id, &desired.id, action);
    if action == Action::Conflict {
        change.note = "a registered cloud cannot be changed".into();
    }
    change.fields = fields;
    change
}

/// The plan for a host: country, organisations and capacity can be updated; its cloud cannot.
pub fn plan_host(desired: &msg::RegisterHost, current: Option<&Host>) -> Change {
    let new = |action| Change::new(Kind::Host, &desired.id, &desired.cloud_id, action);
    let Some(current) = current else { return new(Action::Create) };
    if current.cloud_id != desired.cloud_id {
        let mut change = new(Action::Conflict);
        change.fields = vec!["cloudId".into()];
        change.note = format!("the host belongs to cloud {}", current.cloud_id);
        return change;
    }
    let mut fields = Vec::new();
    if current.country != desired.country {
        fields.push("country".to_owned());
    }
    if current.organizations != desired.organizations {
        fields.push("organizations".to_owned());
    }
    if current.capacity != desired.capacity {
        fields.push("capacity".to_owned());
    }
    let mut change = new(if fields.is_empty() { Action::Unchanged } else { Action::Update });
    change.fields = fields;
    change
}

/// The plan for a VM: its regulation can be replaced; its operator, requirements and image hash
/// cannot; where it runs is the ledger's business once registered.
pub fn plan_vm(desired: &msg::RegisterVm, current: Option<&VirtualMachine>) -> Change {
    let new = |action| Change::new(Kind::Vm, &desired.id, &desired.cloud_id, action);
    let Some(current) = current else { return new(Action::Create) };
    let mut fixed = Vec::new();
    if current.cloud_id != desired.cloud_id {
        fixed.push("cloudId".to_owned());
    }
    if current.requirements != desired.requirements {
        fixed.push("requirements".to_owned());
    }
    if current.image_hash != desired.image_hash {
        fixed.push("imageHash".to_owned());
    }
    let regulation = current.regulation != desired.regulation;
    let mut change = if !fixed.is_empty() {
        let mut c = new(Action::Conflict);
        c.note = "a VM's operator, requirements and image hash cannot be changed".into();
        c.fields = fixed;
        c
    } else if regulation {
        new(Action::Update)
    } else {
        new(Action::Unchanged)
    };
    if regulation {
        change.fields.push("regulation".into());
    }
    if current.host_id != desired.host_id {
        let moved = format!("runs on {} now (migrated since; not moved back)", current.host_id);
        change.note = if change.note.is_empty() { moved } else { format!("{}; {moved}", change.note) };
    }
    change
}

/// Why `apply` stopped.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// No ledger for the cloud's operator (the caller's `ledger_for` failed).
    #[error("no connection for cloud {cloud_id}: {reason}")]
    Connection { cloud_id: String, reason: String },
    #[error("reading {kind:?} {id} from the ledger")]
    Read {
        kind: Kind,
        id: String,
        #[source]
        source: Box<Error>,
    },
    #[error("applying {action:?} to {kind:?} {id}")]
    Write {
        kind: Kind,
        id: String,
        action: Action,
        #[source]
        source: Box<Error>,
    },
}

/// The record, or `None` when the contract says it does not exist.
fn found<T>(kind: Kind, id: &str, read: crate::Result<T>) -> Result<Option<T>, ApplyError> {
    match read {
        Ok(record) => Ok(Some(record)),
        Err(e) if e.contract_error().is_some_and(|c| c.code() == "NOT_FOUND") => Ok(None),
        Err(e) => Err(ApplyError::Read { kind, id: id.to_owned(), source: Box::new(e) }),
    }
}

/// Plans every record of `spec` against the ledger and, unless `dry_run`, carries the plan out,
/// clouds first, then hosts, then VMs. `ledger_for(cloud_id)` gives the ledger acting as that
/// cloud's operator; `each` sees every change as it is decided (and applied).
///
/// # Errors
/// [`ApplyError`]: a connection, a read or a write that failed. Conflicts are not errors: they are
/// changes with [`Action::Conflict`].
pub async fn apply(
    spec: &FederationSpec,
    ledger_for: impl Fn(&str) -> Result<VmLedger, String>,
    dry_run: bool,
    mut each: impl FnMut(&Change),
) -> Result<Vec<Change>, ApplyError> {
    let connect = |cloud_id: &str| {
        ledger_for(cloud_id).map_err(|reason| ApplyError::Connection { cloud_id: cloud_id.to_owned(), reason })
    };
    let write = |kind, id: &str, action| {
        let id = id.to_owned();
        move |source| ApplyError::Write { kind, id, action, source: Box::new(source) }
    };
    let mut changes = Vec::new();
    for cloud in &spec.clouds {
        let ledger = connect(&cloud.id)?;
        let current = found(Kind::Cloud, &cloud.id, ledger.get_cloud(&cloud.id).await)?;
        let mut change = plan_cloud(cloud, current.as_ref());
        if !dry_run && change.action == Action::Create {
            let committed =
                ledger.register_cloud(cloud).await.map_err(write(Kind::Cloud, &cloud.id, Action::Create))?;
            change.tx_id = Some(committed.tx_id);
        }
        each(&change);
        changes.push(change);
    }
    for host in &spec.hosts {
        let ledger = connect(&host.cloud_id)?;
        let current = found(Kind::Host, &host.id, ledger.get_host(&host.id).await)?;
        let mut change = plan_host(host, current.as_ref());
        if !dry_run {
            let written = match change.action {
                Action::Create => Some(ledger.register_host(host).await.map(|c| c.tx_id)),
                Action::Update => {
                    let update = msg::UpdateHost {
                        id: host.id.clone(),
                        country: Some(host.country.clone()),
                        organizations: Some(host.organizations.clone()),
                        capacity: Some(host.capacity),
                    };
                    Some(ledger.update_host(&update).await.map(|c| c.tx_id))
                }
                Action::Unchanged | Action::Conflict => None,
            };
            if let Some(written) = written {
                change.tx_id = Some(written.map_err(write(Kind::Host, &host.id, change.action))?);
            }
        }
        each(&change);
        changes.push(change);
    }
    for vm in &spec.vms {
        let ledger = connect(&vm.cloud_id)?;
        let current = found(Kind::Vm, &vm.id, ledger.get_vm(&vm.id).await)?;
        let mut change = plan_vm(vm, current.as_ref());
        if !dry_run {
            let written = match change.action {
                Action::Create => Some(ledger.register_vm(vm).await.map(|c| c.tx_id)),
                Action::Update => {
                    let set = msg::SetRegulation { vm_id: vm.id.clone(), regulation: vm.regulation.clone() };
                    Some(ledger.set_regulation(&set).await.map(|c| c.tx_id))
                }
                Action::Unchanged | Action::Conflict => None,
            };
            if let Some(written) = written {
                change.tx_id = Some(written.map_err(write(Kind::Vm, &vm.id, change.action))?);
            }
        }
        each(&change);
        changes.push(change);
    }
    Ok(changes)
}

#[cfg(test)]
mod tests {
    use vmledger_contract::model::{Allowed, Prices, Regulation, Resources, VmStatus};

    use super::*;

    const CAPACITY: Resources = Resources { cpu_cores: 8, memory_mib: 8192, network_mbps: 1000, io_mbps: 500 };

    fn at() -> vmledger_contract::model::Timestamp {
        chrono::DateTime::UNIX_EPOCH
    }

    fn host_msg() -> msg::RegisterHost {
        msg::RegisterHost {
            id: "h".into(),
            cloud_id: "c".into(),
            country: "JP".into(),
            organizations: vec!["A".into()],
            capacity: CAPACITY,
        }
    }

    fn host_of(m: &msg::RegisterHost) -> Host {
        Host {
            id: m.id.clone(),
            cloud_id: m.cloud_id.clone(),
            country: m.country.clone(),
            organizations: m.organizations.clone(),
            capacity: m.capacity,
            updated_at: chrono::DateTime::UNIX_EPOCH,
        }
    }

    fn vm_msg() -> msg::RegisterVm {
        msg::RegisterVm {
            id: "v".into(),
            cloud_id: "c".into(),
            host_id: "h".into(),
            requirements: Resources { cpu_cores: 1, ..CAPACITY },
            image_hash: "a".repeat(64),
            regulation: Regulation { countries: Allowed::All, organizations: Allowed::All },
        }
    }

    fn vm_of(m: &msg::RegisterVm) -> VirtualMachine {
        VirtualMachine {
            id: m.id.clone(),
            cloud_id: m.cloud_id.clone(),
            host_id: m.host_id.clone(),
            requirements: m.requirements,
            image_hash: m.image_hash.clone(),
            regulation: m.regulation.clone(),
            status: VmStatus::Running,
            since: at(),
            residency_tx_id: "t".into(),
            pending_migration_id: None,
        }
    }

    #[test]
    fn missing_records_are_created_and_equal_ones_left_alone() {
        let cloud = msg::RegisterCloud { id: "c".into(), name: "C".into(), prices: None };
        assert_eq!(plan_cloud(&cloud, None).action, Action::Create);
        let on_ledger =
            Cloud { id: "c".into(), name: "C".into(), msp_id: "M".into(), prices: None, registered_at: at() };
        assert_eq!(plan_cloud(&cloud, Some(&on_ledger)).action, Action::Unchanged);
        assert_eq!(plan_host(&host_msg(), Some(&host_of(&host_msg()))).action, Action::Unchanged);
        assert_eq!(plan_vm(&vm_msg(), Some(&vm_of(&vm_msg()))).action, Action::Unchanged);
        assert_eq!(plan_vm(&vm_msg(), None).action, Action::Create);
    }

    #[test]
    fn what_the_contract_can_change_is_updated_and_the_rest_is_a_conflict() {
        let mut wider = host_msg();
        wider.capacity.cpu_cores = 16;
        wider.organizations.push("B".into());
        let change = plan_host(&wider, Some(&host_of(&host_msg())));
        assert_eq!(
            (change.action, change.fields.clone()),
            (Action::Update, vec!["organizations".into(), "capacity".into()])
        );

        let mut elsewhere = host_msg();
        elsewhere.cloud_id = "d".into();
        assert_eq!(plan_host(&elsewhere, Some(&host_of(&host_msg()))).action, Action::Conflict);

        let cloud = msg::RegisterCloud {
            id: "c".into(),
            name: "C".into(),
            prices: Some(Prices {
                currency: "EUR".into(),
                cpu_core_hour: 1,
                memory_gib_hour: 1,
                network_mbps_hour: 1,
                io_mbps_hour: 1,
            }),
        };
        let on_ledger =
            Cloud { id: "c".into(), name: "C".into(), msp_id: "M".into(), prices: None, registered_at: at() };
        let change = plan_cloud(&cloud, Some(&on_ledger));
        assert_eq!((change.action, change.fields), (Action::Conflict, vec!["prices".to_owned()]));

        let mut stricter = vm_msg();
        stricter.regulation.countries = Allowed::Only(vec!["JP".into()]);
        assert_eq!(plan_vm(&stricter, Some(&vm_of(&vm_msg()))).action, Action::Update);
        let mut bigger = vm_msg();
        bigger.requirements.cpu_cores = 4;
        let change = plan_vm(&bigger, Some(&vm_of(&vm_msg())));
        assert_eq!((change.action, change.fields), (Action::Conflict, vec!["requirements".to_owned()]));
    }

    #[test]
    fn a_vm_that_migrated_is_not_a_difference() {
        let mut moved = vm_of(&vm_msg());
        moved.host_id = "elsewhere".into();
        let change = plan_vm(&vm_msg(), Some(&moved));
        assert_eq!(change.action, Action::Unchanged);
        assert!(change.note.contains("elsewhere"), "{}", change.note);
    }

    #[test]
    fn the_fixture_file_reads_as_a_spec() {
        let text = include_str!("../../../../fixtures/federation.json");
        let spec: FederationSpec = serde_json::from_str(text).expect("fixtures/federation.json");
        assert_eq!((spec.clouds.len(), spec.hosts.len(), spec.vms.len()), (2, 7, 4));
        assert_eq!(spec.operators["org2.cloud-b"].org, "org2");
    }
}
