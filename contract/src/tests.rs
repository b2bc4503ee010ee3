//! The contract's rules on an in-memory ledger: one module per entry point, named actors, and for
//! every refusal the exact code, plus proof that nothing was written and nothing emitted.

use chrono::Duration;
use futures::executor::block_on;
use serde_json::{Value, json};

use crate::ledger::Caller;
use crate::memory::{MemoryLedger, Outcome};
use crate::model::*;

const HASH: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
const OTHER_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000001";

/// A member's identity as its Fabric CA issues it: NodeOU `client`, the vmledger role an attribute.
fn identity(msp_id: &str, role: &str, name: &str) -> Caller {
    Caller {
        msp_id: msp_id.into(),
        id: format!("x509::/C=US/O={msp_id}/OU=client/CN={name}::/C=US/CN=ca.example"),
        attributes: [(crate::auth::ROLE_ATTRIBUTE.to_owned(), role.to_owned())].into(),
    }
}

fn org1_admin() -> Caller {
    identity("Org1MSP", "manager", "manager")
}
fn org1_user() -> Caller {
    identity("Org1MSP", "operator", "operator")
}
fn org2_admin() -> Caller {
    identity("Org2MSP", "manager", "manager")
}
fn org2_user() -> Caller {
    identity("Org2MSP", "operator", "operator")
}

/// Runs one transaction, and checks its outcome against the function's entry in the vocabulary:
/// a refusal carries one of the codes it declares, an event is one it declares and its payload
/// decodes as the event's type. Every test goes through here, so a drifting entry fails them.
fn run(ledger: &MemoryLedger, caller: &Caller, function: &str, argument: Value) -> Outcome {
    let outcome = block_on(ledger.submit(caller, function, &argument.to_string()));
    let Some(declared) = crate::vocabulary::function(function) else { return outcome };
    if let Err(e) = &outcome.result {
        assert!(declared.refuses.contains(&e.code()), "{function} refused with undeclared {}: {e}", e.code());
    }
    if let Some(event) = &outcome.event {
        assert!(declared.emits.contains(&event.name.as_str()), "{function} emitted undeclared {}", event.name);
        let decoded = crate::vocabulary::ContractEvent::decode(&event.name, &event.payload);
        assert!(matches!(decoded, Some(Ok(_))), "{} payload does not decode: {decoded:?}", event.name);
    }
    outcome
}

/// Runs a transaction that must succeed; returns its decoded answer.
fn ok<T: serde::de::DeserializeOwned>(ledger: &MemoryLedger, caller: &Caller, function: &str, argument: Value) -> T {
    let outcome = run(ledger, caller, function, argument);
    let json = outcome.result.unwrap_or_else(|e| panic!("{function} refused: {e}"));
    serde_json::from_str(&json).unwrap_or_else(|e| panic!("{function} answered undecodable {json}: {e}"))
}

/// Runs a transaction that must be refused with `code`: it writes nothing, emits nothing, and the
/// committed state is unchanged. Returns the error.
fn refused(
    ledger: &MemoryLedger,
    caller: &Caller,
    function: &str,
    argument: Value,
    code: &str,
) -> crate::ContractError {
    let before = ledger.snapshot();
    let events = ledger.events().len();
    let outcome = run(ledger, caller, function, argument);
    let error = outcome.result.expect_err("expected a refusal");
    assert_eq!(error.code(), code, "{error}");
    assert!(outcome.writes.is_empty(), "a refused {function} wrote {:?}", outcome.writes);
    assert!(outcome.event.is_none(), "a refused {function} emitted {:?}", outcome.event);
    assert_eq!(ledger.snapshot(), before);
    assert_eq!(ledger.events().len(), events);
    error
}

fn last_event(ledger: &MemoryLedger) -> (String, Value) {
    let event = ledger.events().pop().expect("an event");
    (event.name, serde_json::from_str(&event.payload).expect("event payload is JSON"))
}

fn resources(cpu: u64, memory: u64, network: u64, io: u64) -> Value {
    json!({ "cpuCores": cpu, "memoryMib": memory, "networkMbps": network, "ioMbps": io })
}

fn host(id: &str, cloud: &str, country: &str, organizations: &[&str], capacity: Value) -> Value {
    json!({ "id": id, "cloudId": cloud, "country": country, "organizations": organizations, "capacity": capacity })
}

/// Seed 003's federation: VM1 may live in JP and GB, on hosts of CompanyA and CompanyB only.
/// cloud-a (Org1) runs vm1 on a-jp-1; cloud-b (Org2) offers hosts in GB, DE, JP (CompanyC), and a small one.
fn set_up() -> MemoryLedger {
    let ledger = MemoryLedger::new();
    let prices = json!({ "currency": "EUR", "cpuCoreHour": 20_000, "memoryGibHour": 5_000, "networkMbpsHour": 10, "ioMbpsHour": 1 });
    ok::<Cloud>(&ledger, &org1_admin(), "RegisterCloud", json!({ "id": "cloud-a", "name": "Cloud A" }));
    ok::<Cloud>(
        &ledger,
        &org2_admin(),
        "RegisterCloud",
        json!({ "id": "cloud-b", "name": "Cloud B", "prices": prices }),
    );
    let big = resources(16, 65_536, 10_000, 10_000);
    for h in [
        host("a-jp-1", "cloud-a", "JP", &["CompanyA"], big.clone()),
        host("a-gb-2", "cloud-a", "GB", &["CompanyB"], big.clone()),
    ] {
        ok::<Host>(&ledger, &org1_admin(), "RegisterHost", h);
    }
    for h in [
        host("b-gb-1", "cloud-b", "GB", &["CompanyA", "CompanyB"], big.clone()),
        host("b-de-1", "cloud-b", "DE", &["CompanyA"], big.clone()),
        host("b-jp-c", "cloud-b", "JP", &["CompanyC"], big.clone()),
        host("b-gb-small", "cloud-b", "GB", &["CompanyA"], resources(2, 2048, 100, 100)),
    ] {
        ok::<Host>(&ledger, &org2_admin(), "RegisterHost", h);
    }
    ok::<VirtualMachine>(&ledger, &org1_user(), "RegisterVm", vm1());
    ledger
}

fn vm1() -> Value {
    json!({
        "id": "vm1", "cloudId": "cloud-a", "hostId": "a-jp-1",
        "requirements": resources(1, 2048, 100, 50),
        "imageHash": HASH,
        "regulation": { "countries": ["JP", "GB"], "organizations": ["CompanyA", "CompanyB"] }
    })
}

fn migrate_to(host: &str) -> Value {
    json!({ "vmId": "vm1", "destinationHostId": host, "imageHash": HASH })
}

fn vm(ledger: &MemoryLedger) -> VirtualMachine {
    ok(ledger, &org2_user(), "GetVm", json!({ "id": "vm1" }))
}

fn allocation(ledger: &MemoryLedger, host: &str) -> Allocation {
    serde_json::from_str(&ledger.value(&crate::state::allocation(host)).expect("allocation")).expect("decodes")
}

mod dispatch {
    use super::*;

    #[test]
    fn unknown_functions_are_not_found() {
        let error = refused(&set_up(), &org1_admin(), "Teleport", json!({}), "NOT_FOUND");
        assert_eq!(error, crate::ContractError::NotFound { kind: crate::Kind::Function, id: "Teleport".into() });
    }

    #[test]
    fn undecodable_and_misspelt_arguments_are_invalid() {
        let ledger = set_up();
        let error = refused(&ledger, &org1_admin(), "GetVm", json!({ "vm": "vm1" }), "INVALID_ARGUMENT");
        assert!(error.to_string().contains("unknown field `vm`"), "{error}");
        let outcome = block_on(ledger.submit(&org1_admin(), "GetVm", "not json"));
        assert_eq!(outcome.result.unwrap_err().code(), "INVALID_ARGUMENT");
    }

    #[test]
    fn errors_cross_the_wire_and_come_back_whole() {
        let ledger = set_up();
        let error = refused(&ledger, &org1_user(), "Migrate", migrate_to("b-de-1"), "POLICY_DENIED");
        let wire: crate::WireError = serde_json::from_str(&error.to_wire_json()).unwrap();
        assert_eq!(wire.code, "POLICY_DENIED");
        assert_eq!(wire.details["hostId"], "b-de-1");
        assert_eq!(wire.details["reasons"][0]["rule"], "country");
        assert!(wire.message.contains("country DE not in allowed countries [JP, GB]"), "{}", wire.message);
        assert_eq!(crate::ContractError::from_wire(&wire), Some(error));
    }

    #[test]
    fn every_code_is_listed_once() {
        let samples = [
            crate::ContractError::invalid("f", "r"),
            crate::ContractError::not_found(crate::Kind::Vm, "v"),
            crate::ContractError::AlreadyExists { kind: crate::Kind::Vm, id: "v".into() },
            crate::ContractError::Unauthorized { rule: "r".into(), caller_msp_id: "m".into(), caller_role: None },
            crate::ContractError::PolicyDenied { vm_id: "v".into(), host_id: "h".into(), reasons: vec![] },
            crate::ContractError::CapacityExceeded { host_id: "h".into(), shortfalls: vec![] },
            crate::ContractError::conflict("c"),
            crate::ContractError::Ledger { reason: "l".into() },
        ];
        let codes: Vec<_> = samples.iter().map(crate::ContractError::code).collect();
        assert_eq!(codes, crate::ContractError::CODES);
    }

    #[test]
    fn every_exported_function_is_dispatched() {
        let ledger = set_up();
        for function in crate::vocabulary::FUNCTIONS {
            let outcome = run(&ledger, &org1_admin(), function.name, json!({}));
            if let Err(e) = outcome.result {
                assert_ne!(e, crate::ContractError::not_found(crate::Kind::Function, function.name));
            }
        }
    }
}

mod register_cloud {
    use super::*;

    #[test]
    fn binds_the_cloud_to_the_callers_msp_and_emits() {
        let ledger = set_up();
        let cloud: Cloud = ok(&ledger, &org2_admin(), "GetCloud", json!({ "id": "cloud-b" }));
        assert_eq!(cloud.msp_id, "Org2MSP");
        assert_eq!(cloud.prices.unwrap().cpu_core_hour, 20_000);
        let fresh = MemoryLedger::new();
        ok::<Cloud>(&fresh, &org1_admin(), "RegisterCloud", json!({ "id": "c", "name": "C" }));
        let (name, payload) = last_event(&fresh);
        assert_eq!((name.as_str(), &payload["mspId"]), ("CloudRegistered", &json!("Org1MSP")));
    }

    #[test]
    fn refuses_a_duplicate() {
        refused(
            &set_up(),
            &org2_admin(),
            "RegisterCloud",
            json!({ "id": "cloud-a", "name": "Again" }),
            "ALREADY_EXISTS",
        );
    }

    #[test]
    fn needs_the_manager_role() {
        refused(&set_up(), &org1_user(), "RegisterCloud", json!({ "id": "c9", "name": "C" }), "UNAUTHORIZED");
    }

    #[test]
    fn refuses_bad_ids_names_and_currencies() {
        let ledger = set_up();
        refused(&ledger, &org1_admin(), "RegisterCloud", json!({ "id": "a/b", "name": "C" }), "INVALID_ARGUMENT");
        refused(&ledger, &org1_admin(), "RegisterCloud", json!({ "id": "c", "name": " " }), "INVALID_ARGUMENT");
        let prices =
            json!({ "currency": "euro", "cpuCoreHour": 1, "memoryGibHour": 1, "networkMbpsHour": 1, "ioMbpsHour": 1 });
        refused(
            &ledger,
            &org1_admin(),
            "RegisterCloud",
            json!({ "id": "c", "name": "C", "prices": prices }),
            "INVALID_ARGUMENT",
        );
    }
}

mod register_host {
    use super::*;

    #[test]
    fn registers_with_an_empty_allocation_and_is_listed() {
        let ledger = set_up();
        let page: Page<Host> = ok(&ledger, &org1_user(), "ListHosts", json!({ "cloudId": "cloud-b" }));
        let ids: Vec<_> = page.items.iter().map(|h| h.id.as_str()).collect();
        assert_eq!(ids, ["b-de-1", "b-gb-1", "b-gb-small", "b-jp-c"]);
        assert_eq!(allocation(&ledger, "b-gb-1"), Allocation::default());
        let (name, payload) = last_event(&ledger);
        assert_eq!(name, "VmRegistered");
        assert_eq!(payload["id"], "vm1");
    }

    #[test]
    fn upper_cases_the_country() {
        let ledger = set_up();
        let h: Host = ok(
            &ledger,
            &org1_admin(),
            "RegisterHost",
            host("a-fr", "cloud-a", "fr", &["CompanyA"], resources(1, 1, 1, 1)),
        );
        assert_eq!(h.country, "FR");
    }

    #[test]
    fn only_the_clouds_member_registers_its_hosts() {
        refused(
            &set_up(),
            &org2_admin(),
            "RegisterHost",
            host("x", "cloud-a", "JP", &["CompanyA"], resources(1, 1, 1, 1)),
            "UNAUTHORIZED",
        );
    }

    #[test]
    fn needs_the_manager_role() {
        refused(
            &set_up(),
            &org1_user(),
            "RegisterHost",
            host("x", "cloud-a", "JP", &["CompanyA"], resources(1, 1, 1, 1)),
            "UNAUTHORIZED",
        );
    }

    #[test]
    fn refuses_unknown_countries_clouds_and_duplicates() {
        let ledger = set_up();
        refused(
            &ledger,
            &org1_admin(),
            "RegisterHost",
            host("x", "cloud-a", "XX", &["CompanyA"], resources(1, 1, 1, 1)),
            "INVALID_ARGUMENT",
        );
        refused(
            &ledger,
            &org1_admin(),
            "RegisterHost",
            host("x", "cloud-a", "JP", &[], resources(1, 1, 1, 1)),
            "INVALID_ARGUMENT",
        );
        refused(
            &ledger,
            &org1_admin(),
            "RegisterHost",
            host("x", "cloud-z", "JP", &["CompanyA"], resources(1, 1, 1, 1)),
            "NOT_FOUND",
        );
        refused(
            &ledger,
            &org1_admin(),
            "RegisterHost",
            host("a-jp-1", "cloud-a", "JP", &["CompanyA"], resources(1, 1, 1, 1)),
            "ALREADY_EXISTS",
        );
    }
}

mod update_host {
    use super::*;

    #[test]
    fn changes_only_what_is_given() {
        let ledger = set_up();
        let h: Host = ok(&ledger, &org2_admin(), "UpdateHost", json!({ "id": "b-de-1", "country": "FR" }));
        assert_eq!((h.country.as_str(), h.organizations.clone()), ("FR", vec!["CompanyA".to_string()]));
        assert_eq!(last_event(&ledger).0, "HostUpdated");
    }

    #[test]
    fn capacity_may_not_fall_below_what_is_committed() {
        let ledger = set_up();
        let error = refused(
            &ledger,
            &org1_admin(),
            "UpdateHost",
            json!({ "id": "a-jp-1", "capacity": resources(16, 1024, 10_000, 10_000) }),
            "CAPACITY_EXCEEDED",
        );
        assert!(error.to_string().contains("memoryMib requested 2048 but 1024 free"), "{error}");
        ok::<Host>(
            &ledger,
            &org1_admin(),
            "UpdateHost",
            json!({ "id": "a-jp-1", "capacity": resources(1, 2048, 100, 50) }),
        );
    }

    #[test]
    fn only_the_hosts_manager_changes_it() {
        let ledger = set_up();
        refused(&ledger, &org1_admin(), "UpdateHost", json!({ "id": "b-de-1", "country": "JP" }), "UNAUTHORIZED");
        refused(&ledger, &org2_user(), "UpdateHost", json!({ "id": "b-de-1", "country": "JP" }), "UNAUTHORIZED");
    }

    #[test]
    fn refuses_an_empty_update_and_unknown_hosts() {
        let ledger = set_up();
        refused(&ledger, &org2_admin(), "UpdateHost", json!({ "id": "b-de-1" }), "INVALID_ARGUMENT");
        refused(&ledger, &org2_admin(), "UpdateHost", json!({ "id": "nope", "country": "JP" }), "NOT_FOUND");
    }
}

mod register_vm {
    use super::*;

    #[test]
    fn places_the_vm_commits_its_resources_and_opens_its_residency() {
        let ledger = set_up();
        let vm = vm(&ledger);
        assert_eq!((vm.status, vm.host_id.as_str()), (VmStatus::Running, "a-jp-1"));
        assert_eq!(
            allocation(&ledger, "a-jp-1").running,
            Resources { cpu_cores: 1, memory_mib: 2048, network_mbps: 100, io_mbps: 50 }
        );
        let history: VmHistory = ok(&ledger, &org2_user(), "VmHistory", json!({ "id": "vm1" }));
        assert_eq!(history.residencies.len(), 1);
        assert_eq!((history.residencies[0].host_id.as_str(), history.residencies[0].to), ("a-jp-1", None));
    }

    #[test]
    fn only_on_a_host_of_its_own_cloud() {
        let mut on_b = vm1();
        on_b["id"] = json!("vm2");
        on_b["hostId"] = json!("b-gb-1");
        refused(&set_up(), &org1_user(), "RegisterVm", on_b, "UNAUTHORIZED");
    }

    #[test]
    fn only_by_the_clouds_member() {
        let mut other = vm1();
        other["id"] = json!("vm2");
        refused(&set_up(), &org2_admin(), "RegisterVm", other, "UNAUTHORIZED");
    }

    #[test]
    fn the_first_host_must_obey_the_regulation_and_fit() {
        let ledger = set_up();
        let mut denied = vm1();
        denied["id"] = json!("vm2");
        denied["regulation"]["countries"] = json!(["GB"]);
        refused(&ledger, &org1_user(), "RegisterVm", denied, "POLICY_DENIED");
        let mut huge = vm1();
        huge["id"] = json!("vm3");
        huge["requirements"] = resources(64, 1, 1, 1);
        refused(&ledger, &org1_user(), "RegisterVm", huge, "CAPACITY_EXCEEDED");
    }

    #[test]
    fn refuses_duplicates_bad_hashes_and_empty_requirements() {
        let ledger = set_up();
        refused(&ledger, &org1_user(), "RegisterVm", vm1(), "ALREADY_EXISTS");
        let mut bad_hash = vm1();
        bad_hash["id"] = json!("vm2");
        bad_hash["imageHash"] = json!("abc");
        refused(&ledger, &org1_user(), "RegisterVm", bad_hash, "INVALID_ARGUMENT");
        let mut no_cpu = vm1();
        no_cpu["id"] = json!("vm2");
        no_cpu["requirements"] = resources(0, 1, 1, 1);
        refused(&ledger, &org1_user(), "RegisterVm", no_cpu, "INVALID_ARGUMENT");
    }
}

mod set_regulation {
    use super::*;

    #[test]
    fn replaces_the_regulation_and_keeps_every_version() {
        let ledger = set_up();
        let all = json!({ "countries": "All", "organizations": ["CompanyA"] });
        let vm: VirtualMachine =
            ok(&ledger, &org1_admin(), "SetRegulation", json!({ "vmId": "vm1", "regulation": all }));
        assert_eq!(vm.regulation.countries, Allowed::All);
        assert_eq!(last_event(&ledger).0, "RegulationSet");
        let history: VmHistory = ok(&ledger, &org2_user(), "VmHistory", json!({ "id": "vm1" }));
        assert_eq!(history.regulation_changes.len(), 2);
        assert_eq!(history.regulation_changes[1].regulation.countries, Allowed::All);
    }

    #[test]
    fn only_the_operators_manager_sets_it() {
        let ledger = set_up();
        let all = json!({ "countries": "All", "organizations": "All" });
        refused(&ledger, &org1_user(), "SetRegulation", json!({ "vmId": "vm1", "regulation": all }), "UNAUTHORIZED");
        refused(&ledger, &org2_admin(), "SetRegulation", json!({ "vmId": "vm1", "regulation": all }), "UNAUTHORIZED");
    }

    #[test]
    fn refuses_empty_lists_and_bad_countries() {
        let ledger = set_up();
        let empty = json!({ "countries": [], "organizations": "All" });
        refused(
            &ledger,
            &org1_admin(),
            "SetRegulation",
            json!({ "vmId": "vm1", "regulation": empty }),
            "INVALID_ARGUMENT",
        );
        let bad = json!({ "countries": ["Japan"], "organizations": "All" });
        refused(
            &ledger,
            &org1_admin(),
            "SetRegulation",
            json!({ "vmId": "vm1", "regulation": bad }),
            "INVALID_ARGUMENT",
        );
        let word = json!({ "countries": "Everywhere", "organizations": "All" });
        refused(
            &ledger,
            &org1_admin(),
            "SetRegulation",
            json!({ "vmId": "vm1", "regulation": word }),
            "INVALID_ARGUMENT",
        );
    }
}

mod check_migration {
    use super::*;

    fn check(ledger: &MemoryLedger, host: &str) -> MigrationCheck {
        ok(ledger, &org1_user(), "CheckMigration", json!({ "vmId": "vm1", "destinationHostId": host }))
    }

    /// Seed 003, Tables 3-4: VM1 (JP, GB; CompanyA, CompanyB) from hostmachine(1).
    #[test]
    fn the_seed_scenario_denies_by_country_and_organisation_and_permits_the_rest() {
        let ledger = set_up();
        let de = check(&ledger, "b-de-1");
        assert!(!de.permitted);
        assert_eq!(
            de.violations,
            vec![crate::ContractError::PolicyDenied {
                vm_id: "vm1".into(),
                host_id: "b-de-1".into(),
                reasons: vec![crate::Denial::Country { country: "DE".into(), allowed: vec!["JP".into(), "GB".into()] }],
            }]
        );
        let company_c = check(&ledger, "b-jp-c");
        assert!(!company_c.permitted);
        assert!(matches!(&company_c.violations[..], [crate::ContractError::PolicyDenied { reasons, .. }]
            if matches!(&reasons[..], [crate::Denial::Organization { organization, .. }] if organization == "CompanyC")));
        assert!(check(&ledger, "b-gb-1").permitted);
        assert!(check(&ledger, "a-gb-2").permitted);
    }

    #[test]
    fn lists_every_reason_and_writes_nothing() {
        let ledger = set_up();
        let mut tight = vm1();
        tight["id"] = json!("vm-big");
        tight["requirements"] = resources(4, 4096, 100, 100);
        tight["regulation"] = json!({ "countries": "All", "organizations": "All" });
        ok::<VirtualMachine>(&ledger, &org1_user(), "RegisterVm", tight);
        ok::<VirtualMachine>(
            &ledger,
            &org1_admin(),
            "SetRegulation",
            json!({ "vmId": "vm-big", "regulation": { "countries": ["JP"], "organizations": "All" } }),
        );
        let before = ledger.snapshot();
        let outcome = run(
            &ledger,
            &org2_user(),
            "CheckMigration",
            json!({ "vmId": "vm-big", "destinationHostId": "b-gb-small" }),
        );
        let answer: MigrationCheck = serde_json::from_str(&outcome.result.unwrap()).unwrap();
        let codes: Vec<_> = answer.violations.iter().map(|v| v.code()).collect();
        assert_eq!(codes, ["UNAUTHORIZED", "POLICY_DENIED", "CAPACITY_EXCEEDED"]);
        assert!(outcome.writes.is_empty() && outcome.event.is_none());
        assert_eq!(ledger.snapshot(), before);
    }

    #[test]
    fn refuses_unknown_vms_and_hosts() {
        let ledger = set_up();
        refused(
            &ledger,
            &org1_user(),
            "CheckMigration",
            json!({ "vmId": "nope", "destinationHostId": "b-gb-1" }),
            "NOT_FOUND",
        );
        refused(
            &ledger,
            &org1_user(),
            "CheckMigration",
            json!({ "vmId": "vm1", "destinationHostId": "nope" }),
            "NOT_FOUND",
        );
    }
}

mod migrate {
    use super::*;

    #[test]
    fn records_the_indication_and_reserves_the_destination() {
        let ledger = set_up();
        let m: Migration = ok(&ledger, &org1_user(), "Migrate", migrate_to("b-gb-1"));
        assert_eq!((m.status, m.scope), (MigrationStatus::Indicated, Scope::Inter));
        assert_eq!(m.source, Placement { cloud_id: "cloud-a".into(), host_id: "a-jp-1".into() });
        assert_eq!(m.destination, Placement { cloud_id: "cloud-b".into(), host_id: "b-gb-1".into() });
        assert_eq!((m.recorded_hash.as_str(), m.requested_by.msp_id.as_str()), (HASH, "Org1MSP"));
        let vm = vm(&ledger);
        assert_eq!((vm.status, vm.pending_migration_id), (VmStatus::Migrating, Some(m.id.clone())));
        assert_eq!(allocation(&ledger, "b-gb-1").reserved.memory_mib, 2048);
        let (name, payload) = last_event(&ledger);
        assert_eq!((name.as_str(), &payload["id"]), ("MigrationIndicated", &json!(m.id)));
    }

    #[test]
    fn within_one_cloud_is_local() {
        let ledger = set_up();
        let m: Migration = ok(&ledger, &org1_user(), "Migrate", migrate_to("a-gb-2"));
        assert_eq!(m.scope, Scope::Local);
    }

    #[test]
    fn only_the_vms_operator_moves_it() {
        let error = refused(&set_up(), &org2_admin(), "Migrate", migrate_to("b-gb-1"), "UNAUTHORIZED");
        assert!(error.to_string().contains("only the operator of cloud `cloud-a`"), "{error}");
    }

    #[test]
    fn a_migrating_vm_cannot_migrate_again() {
        let ledger = set_up();
        ok::<Migration>(&ledger, &org1_user(), "Migrate", migrate_to("b-gb-1"));
        refused(&ledger, &org1_user(), "Migrate", migrate_to("a-gb-2"), "CONFLICT");
    }

    #[test]
    fn the_destination_must_differ_from_the_current_host() {
        refused(&set_up(), &org1_user(), "Migrate", migrate_to("a-jp-1"), "CONFLICT");
    }

    #[test]
    fn a_forbidden_country_or_organisation_is_denied() {
        let ledger = set_up();
        refused(&ledger, &org1_user(), "Migrate", migrate_to("b-de-1"), "POLICY_DENIED");
        refused(&ledger, &org1_user(), "Migrate", migrate_to("b-jp-c"), "POLICY_DENIED");
    }

    #[test]
    fn the_vm_must_fit_beside_what_is_running_and_reserved() {
        let ledger = set_up();
        ok::<Host>(
            &ledger,
            &org2_admin(),
            "UpdateHost",
            json!({ "id": "b-gb-small", "capacity": resources(1, 3000, 100, 100) }),
        );
        let mut vm2 = vm1();
        vm2["id"] = json!("vm2");
        ok::<VirtualMachine>(&ledger, &org1_user(), "RegisterVm", vm2);
        ok::<Migration>(&ledger, &org1_user(), "Migrate", migrate_to("b-gb-small"));
        // vm1's reservation leaves no core for vm2.
        let error = refused(
            &ledger,
            &org1_user(),
            "Migrate",
            json!({ "vmId": "vm2", "destinationHostId": "b-gb-small", "imageHash": HASH }),
            "CAPACITY_EXCEEDED",
        );
        assert!(error.to_string().contains("cpuCores requested 1 but 0 free of 1"), "{error}");
    }

    #[test]
    fn the_hash_is_required_and_well_formed() {
        let ledger = set_up();
        refused(
            &ledger,
            &org1_user(),
            "Migrate",
            json!({ "vmId": "vm1", "destinationHostId": "b-gb-1" }),
            "INVALID_ARGUMENT",
        );
        refused(
            &ledger,
            &org1_user(),
            "Migrate",
            json!({ "vmId": "vm1", "destinationHostId": "b-gb-1", "imageHash": "zz" }),
            "INVALID_ARGUMENT",
        );
    }

    #[test]
    fn unknown_vms_and_hosts_are_not_found() {
        let ledger = set_up();
        refused(
            &ledger,
            &org1_user(),
            "Migrate",
            json!({ "vmId": "vm9", "destinationHostId": "b-gb-1", "imageHash": HASH }),
            "NOT_FOUND",
        );
        refused(&ledger, &org1_user(), "Migrate", migrate_to("b-xx-9"), "NOT_FOUND");
    }
}

mod confirm_migration {
    use super::*;

    fn indicated(ledger: &MemoryLedger) -> Migration {
        ok(ledger, &org1_user(), "Migrate", migrate_to("b-gb-1"))
    }

    #[test]
    fn an_equal_hash_moves_the_vm_and_closes_and_opens_residencies() {
        let ledger = set_up();
        let m = indicated(&ledger);
        ledger.advance(Duration::hours(1));
        let confirmed: Migration = ok(
            &ledger,
            &org2_user(),
            "ConfirmMigration",
            json!({ "migrationId": m.id, "observedHash": HASH.to_uppercase() }),
        );
        assert_eq!(confirmed.status, MigrationStatus::Confirmed);
        assert_eq!(confirmed.closed_by.unwrap().msp_id, "Org2MSP");
        let vm = vm(&ledger);
        assert_eq!((vm.host_id.as_str(), vm.status, vm.pending_migration_id), ("b-gb-1", VmStatus::Running, None));
        assert_eq!(vm.since, confirmed.closed_at.unwrap());
        assert_eq!(allocation(&ledger, "a-jp-1").running, Resources::default());
        let dest = allocation(&ledger, "b-gb-1");
        assert_eq!((dest.running.cpu_cores, dest.reserved), (1, Resources::default()));
        let history: VmHistory = ok(&ledger, &org1_user(), "VmHistory", json!({ "id": "vm1" }));
        let stays: Vec<_> = history.residencies.iter().map(|r| (r.host_id.as_str(), r.to)).collect();
        assert_eq!(stays, [("a-jp-1", Some(vm.since)), ("b-gb-1", None)]);
        assert_eq!(history.migrations.len(), 1);
        assert_eq!(last_event(&ledger).0, "MigrationConfirmed");
    }

    #[test]
    fn a_different_hash_is_rejected_committed_and_the_vm_stays() {
        let ledger = set_up();
        let m = indicated(&ledger);
        let outcome =
            run(&ledger, &org2_user(), "ConfirmMigration", json!({ "migrationId": m.id, "observedHash": OTHER_HASH }));
        let rejected: Migration =
            serde_json::from_str(&outcome.result.expect("a rejection is committed, not refused")).unwrap();
        assert_eq!(rejected.status, MigrationStatus::Rejected);
        assert_eq!((rejected.recorded_hash.as_str(), rejected.observed_hash.as_deref()), (HASH, Some(OTHER_HASH)));
        let stored: Migration = ok(&ledger, &org1_user(), "GetMigration", json!({ "id": m.id }));
        assert_eq!(stored, rejected);
        let vm = vm(&ledger);
        assert_eq!((vm.host_id.as_str(), vm.status), ("a-jp-1", VmStatus::Running));
        assert_eq!(allocation(&ledger, "b-gb-1"), Allocation::default());
        assert_eq!(allocation(&ledger, "a-jp-1").running.cpu_cores, 1);
        assert_eq!(last_event(&ledger).0, "MigrationRejected");
    }

    #[test]
    fn the_policy_is_checked_again_on_arrival() {
        let ledger = set_up();
        let m = indicated(&ledger);
        ok::<Host>(&ledger, &org2_admin(), "UpdateHost", json!({ "id": "b-gb-1", "country": "DE" }));
        let error = refused(
            &ledger,
            &org2_user(),
            "ConfirmMigration",
            json!({ "migrationId": m.id, "observedHash": HASH }),
            "POLICY_DENIED",
        );
        assert!(error.to_string().contains("country DE"), "{error}");
        ok::<Migration>(&ledger, &org1_user(), "CancelMigration", json!({ "migrationId": m.id }));
        assert_eq!(vm(&ledger).host_id, "a-jp-1");
    }

    #[test]
    fn only_the_destination_confirms() {
        let ledger = set_up();
        let m = indicated(&ledger);
        refused(
            &ledger,
            &org1_admin(),
            "ConfirmMigration",
            json!({ "migrationId": m.id, "observedHash": HASH }),
            "UNAUTHORIZED",
        );
    }

    #[test]
    fn a_closed_migration_cannot_be_confirmed_again() {
        let ledger = set_up();
        let m = indicated(&ledger);
        ok::<Migration>(
            &ledger,
            &org2_user(),
            "ConfirmMigration",
            json!({ "migrationId": m.id, "observedHash": OTHER_HASH }),
        );
        let error = refused(
            &ledger,
            &org2_user(),
            "ConfirmMigration",
            json!({ "migrationId": m.id, "observedHash": HASH }),
            "CONFLICT",
        );
        assert!(error.to_string().contains("already rejected"), "{error}");
    }

    #[test]
    fn refuses_malformed_hashes_and_unknown_migrations() {
        let ledger = set_up();
        let m = indicated(&ledger);
        refused(
            &ledger,
            &org2_user(),
            "ConfirmMigration",
            json!({ "migrationId": m.id, "observedHash": "abc" }),
            "INVALID_ARGUMENT",
        );
        refused(
            &ledger,
            &org2_user(),
            "ConfirmMigration",
            json!({ "migrationId": "nope", "observedHash": HASH }),
            "NOT_FOUND",
        );
    }
}

mod cancel_migration {
    use super::*;

    #[test]
    fn releases_the_reservation() {
        let ledger = set_up();
        let m: Migration = ok(&ledger, &org1_user(), "Migrate", migrate_to("b-gb-1"));
        let cancelled: Migration =
            ok(&ledger, &org1_user(), "CancelMigration", json!({ "migrationId": m.id, "reason": "maintenance over" }));
        assert_eq!(
            (cancelled.status, cancelled.cancel_reason.as_deref()),
            (MigrationStatus::Cancelled, Some("maintenance over"))
        );
        assert_eq!(allocation(&ledger, "b-gb-1"), Allocation::default());
        assert_eq!(vm(&ledger).status, VmStatus::Running);
        assert_eq!(last_event(&ledger).0, "MigrationCancelled");
        ok::<Migration>(&ledger, &org1_user(), "Migrate", migrate_to("b-gb-1"));
    }

    #[test]
    fn only_the_operator_cancels_and_only_while_open() {
        let ledger = set_up();
        let m: Migration = ok(&ledger, &org1_user(), "Migrate", migrate_to("b-gb-1"));
        refused(&ledger, &org2_admin(), "CancelMigration", json!({ "migrationId": m.id }), "UNAUTHORIZED");
        ok::<Migration>(
            &ledger,
            &org2_user(),
            "ConfirmMigration",
            json!({ "migrationId": m.id, "observedHash": HASH }),
        );
        refused(&ledger, &org1_user(), "CancelMigration", json!({ "migrationId": m.id }), "CONFLICT");
    }
}

mod list_migrations {
    use super::*;

    #[test]
    fn by_vm_and_by_cloud_in_a_time_range_in_pages() {
        let ledger = set_up();
        let start = ledger.now();
        let mut ids = Vec::new();
        for _ in 0..3 {
            let m: Migration = ok(&ledger, &org1_user(), "Migrate", migrate_to("b-gb-1"));
            ok::<Migration>(&ledger, &org1_user(), "CancelMigration", json!({ "migrationId": m.id }));
            ids.push(m.id);
        }
        let first: Page<Migration> =
            ok(&ledger, &org2_user(), "ListMigrations", json!({ "vmId": "vm1", "pageSize": 2 }));
        assert_eq!(first.items.iter().map(|m| &m.id).collect::<Vec<_>>(), [&ids[0], &ids[1]]);
        let rest: Page<Migration> = ok(
            &ledger,
            &org2_user(),
            "ListMigrations",
            json!({ "vmId": "vm1", "pageSize": 2, "bookmark": first.bookmark }),
        );
        assert_eq!((rest.items.len(), &rest.items[0].id, rest.bookmark), (1, &ids[2], None));
        let cloud_b: Page<Migration> = ok(&ledger, &org2_user(), "ListMigrations", json!({ "cloudId": "cloud-b" }));
        assert_eq!(cloud_b.items.len(), 3);
        let later = start + Duration::seconds(2);
        let since: Page<Migration> =
            ok(&ledger, &org2_user(), "ListMigrations", json!({ "cloudId": "cloud-a", "from": later }));
        assert_eq!(since.items.iter().map(|m| &m.id).collect::<Vec<_>>(), [&ids[1], &ids[2]]);
    }

    #[test]
    fn a_bookmark_of_another_listing_is_refused() {
        let ledger = set_up();
        let foreign = crate::state::cloud("cloud-a");
        let error = refused(
            &ledger,
            &org1_user(),
            "ListMigrations",
            json!({ "vmId": "vm1", "bookmark": foreign }),
            "INVALID_ARGUMENT",
        );
        assert!(error.to_string().contains("not a bookmark of this listing"), "{error}");
        refused(
            &ledger,
            &org1_user(),
            "ListHosts",
            json!({ "cloudId": "cloud-a", "bookmark": "zzz" }),
            "INVALID_ARGUMENT",
        );
    }

    #[test]
    fn needs_exactly_one_subject_and_a_sane_period_and_page() {
        let ledger = set_up();
        refused(&ledger, &org1_user(), "ListMigrations", json!({}), "INVALID_ARGUMENT");
        refused(
            &ledger,
            &org1_user(),
            "ListMigrations",
            json!({ "vmId": "vm1", "cloudId": "cloud-a" }),
            "INVALID_ARGUMENT",
        );
        refused(&ledger, &org1_user(), "ListMigrations", json!({ "vmId": "vm1", "pageSize": 0 }), "INVALID_ARGUMENT");
        let now = ledger.now();
        refused(
            &ledger,
            &org1_user(),
            "ListMigrations",
            json!({ "vmId": "vm1", "from": now, "to": now }),
            "INVALID_ARGUMENT",
        );
        refused(&ledger, &org1_user(), "ListMigrations", json!({ "vmId": "vm9" }), "NOT_FOUND");
    }
}

mod usage {
    use super::*;

    /// vm1 (1 core, 2 GiB, 100 Mbps, 50 Mbps IO) spends exactly 2 hours of the period on cloud-b.
    #[test]
    fn bills_the_hosting_cloud_for_the_time_in_the_period() {
        let ledger = set_up();
        let m: Migration = ok(&ledger, &org1_user(), "Migrate", migrate_to("b-gb-1"));
        let confirmed: Migration =
            ok(&ledger, &org2_user(), "ConfirmMigration", json!({ "migrationId": m.id, "observedHash": HASH }));
        let arrival = confirmed.closed_at.unwrap();
        ledger.advance(Duration::hours(5));
        let period =
            json!({ "cloudId": "cloud-b", "from": arrival - Duration::hours(1), "to": arrival + Duration::hours(2) });
        let report: UsageReport = ok(&ledger, &org2_user(), "Usage", period);
        assert_eq!(report.currency.as_deref(), Some("EUR"));
        let [line] = &report.vms[..] else { panic!("one VM expected: {report:?}") };
        assert_eq!((line.vm_id.as_str(), line.operator_cloud_id.as_str()), ("vm1", "cloud-a"));
        assert_eq!(line.duration_ms, 2 * 3_600_000);
        assert_eq!(
            (line.cpu_core_hours, line.memory_gib_hours, line.network_mbps_hours, line.io_mbps_hours),
            (2.0, 4.0, 200.0, 100.0)
        );
        // 2 core-h × 20000 + 4 GiB-h × 5000 + 200 Mbps-h × 10 + 100 × 1 micro-EUR
        assert_eq!(line.cost, Some(40_000 + 20_000 + 2_000 + 100));
        assert_eq!(report.total_cost, line.cost);
        let cloud_a: UsageReport = ok(
            &ledger,
            &org1_user(),
            "Usage",
            json!({ "cloudId": "cloud-a", "from": arrival, "to": arrival + Duration::hours(2) }),
        );
        assert!(cloud_a.vms.is_empty(), "vm1 left cloud-a at the arrival: {cloud_a:?}");
        assert_eq!(cloud_a.total_cost, None);
    }

    #[test]
    fn open_stays_count_up_to_now() {
        let ledger = set_up();
        let from = ledger.now();
        ledger.advance(Duration::minutes(30));
        let report: UsageReport = ok(
            &ledger,
            &org1_user(),
            "Usage",
            json!({ "cloudId": "cloud-a", "from": from - Duration::days(1), "to": from + Duration::days(1) }),
        );
        let vm = vm(&ledger);
        assert_eq!(report.vms[0].duration_ms as i64, (from - vm.since).num_milliseconds() + 30 * 60_000);
    }

    #[test]
    fn refuses_an_empty_period_and_unknown_clouds() {
        let ledger = set_up();
        let now = ledger.now();
        refused(
            &ledger,
            &org1_user(),
            "Usage",
            json!({ "cloudId": "cloud-a", "from": now, "to": now - Duration::hours(1) }),
            "INVALID_ARGUMENT",
        );
        refused(
            &ledger,
            &org1_user(),
            "Usage",
            json!({ "cloudId": "nope", "from": now, "to": now + Duration::hours(1) }),
            "NOT_FOUND",
        );
    }
}

mod ping {
    use super::*;

    #[test]
    fn writes_one_key_and_emits_nothing() {
        let ledger = set_up();
        let events = ledger.events().len();
        let outcome = run(&ledger, &org1_user(), "Ping", json!({}));
        let pong: Pong = serde_json::from_str(&outcome.result.unwrap()).unwrap();
        assert_eq!(outcome.writes.keys().collect::<Vec<_>>(), [&crate::state::ping(&pong.tx_id)]);
        assert_eq!(ledger.events().len(), events);
    }
}
