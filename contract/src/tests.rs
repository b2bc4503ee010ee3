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
/// The transfer key the source gives the destination with the image, and its SHA-256.
const TRANSFER_KEY: &str = "1111111111111111111111111111111111111111111111111111111111111111";
const TRANSFER_KEY_HASH: &str = "02d449a31fbb267c8f352e9968a79e3e5fc95c1bbeaa502fd6454ebde5a4bedc";
/// The image's HMAC under the transfer key (as the source computed it and an honest destination does).
const KEYED: &str = "2222222222222222222222222222222222222222222222222222222222222222";

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
    assert!(outcome.private_writes.is_empty(), "a refused {function} wrote {:?}", outcome.private_writes);
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
    ok::<Cloud>(&ledger, &org1_admin(), "RegisterCloud", json!({ "id": "org1.cloud-a", "name": "Cloud A" }));
    ok::<Cloud>(
        &ledger,
        &org2_admin(),
        "RegisterCloud",
        json!({ "id": "org2.cloud-b", "name": "Cloud B", "prices": prices }),
    );
    let big = resources(16, 65_536, 10_000, 10_000);
    for h in [
        host("org1.a-jp-1", "org1.cloud-a", "JP", &["CompanyA"], big.clone()),
        host("org1.a-gb-2", "org1.cloud-a", "GB", &["CompanyB"], big.clone()),
    ] {
        ok::<Host>(&ledger, &org1_admin(), "RegisterHost", h);
    }
    for h in [
        host("org2.b-gb-1", "org2.cloud-b", "GB", &["CompanyA", "CompanyB"], big.clone()),
        host("org2.b-de-1", "org2.cloud-b", "DE", &["CompanyA"], big.clone()),
        host("org2.b-jp-c", "org2.cloud-b", "JP", &["CompanyC"], big.clone()),
        host("org2.b-gb-small", "org2.cloud-b", "GB", &["CompanyA"], resources(2, 2048, 100, 100)),
    ] {
        ok::<Host>(&ledger, &org2_admin(), "RegisterHost", h);
    }
    ok::<VirtualMachine>(&ledger, &org1_user(), "RegisterVm", vm1());
    ledger
}

fn vm1() -> Value {
    json!({
        "id": "vm1", "cloudId": "org1.cloud-a", "hostId": "org1.a-jp-1",
        "requirements": resources(1, 2048, 100, 50),
        "imageHash": HASH,
        "regulation": { "countries": ["JP", "GB"], "organizations": ["CompanyA", "CompanyB"] }
    })
}

fn migrate_to(host: &str) -> Value {
    json!({
        "vmId": "vm1", "destinationHostId": host, "imageHash": HASH, "keyedDigest": KEYED,
        "transferKeyHash": TRANSFER_KEY_HASH, "ttlSeconds": 86_400
    })
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
        assert_eq!(
            error,
            crate::ContractError::NotFound { kind: crate::Kind::Function, id: "Teleport".into(), unanchored: None }
        );
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
        let error = refused(&ledger, &org1_user(), "Migrate", migrate_to("org2.b-de-1"), "POLICY_DENIED");
        let wire: crate::WireError = serde_json::from_str(&error.to_wire_json()).unwrap();
        assert_eq!(wire.code, "POLICY_DENIED");
        assert_eq!(wire.details["hostId"], "org2.b-de-1");
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
            crate::ContractError::HostUnavailable {
                host_id: "h".into(),
                availability: crate::placement::Availability::Down,
                since: None,
            },
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
        let cloud: Cloud = ok(&ledger, &org2_admin(), "GetCloud", json!({ "id": "org2.cloud-b" }));
        assert_eq!(cloud.msp_id, "Org2MSP");
        assert_eq!(cloud.prices.unwrap().cpu_core_hour, 20_000);
        let fresh = MemoryLedger::new();
        ok::<Cloud>(&fresh, &org1_admin(), "RegisterCloud", json!({ "id": "org1.c", "name": "C" }));
        let (name, payload) = last_event(&fresh);
        assert_eq!((name.as_str(), &payload["mspId"]), ("CloudRegistered", &json!("Org1MSP")));
    }

    #[test]
    fn refuses_a_duplicate() {
        refused(
            &set_up(),
            &org1_admin(),
            "RegisterCloud",
            json!({ "id": "org1.cloud-a", "name": "Again" }),
            "ALREADY_EXISTS",
        );
    }

    #[test]
    fn nobody_squats_another_members_names() {
        let ledger = set_up();
        for id in ["org1.cloud-x", "cloud-x", "org22.cloud-x"] {
            let error =
                refused(&ledger, &org2_admin(), "RegisterCloud", json!({ "id": id, "name": "X" }), "UNAUTHORIZED");
            assert!(error.to_string().contains("`org2.<name>`"), "{error}");
        }
        let squat = host("org1.b-spare", "org2.cloud-b", "GB", &["CompanyA"], resources(1, 1, 1, 1));
        refused(&ledger, &org2_admin(), "RegisterHost", squat, "UNAUTHORIZED");
    }

    #[test]
    fn needs_the_manager_role() {
        refused(&set_up(), &org1_user(), "RegisterCloud", json!({ "id": "org1.c9", "name": "C" }), "UNAUTHORIZED");
    }

    #[test]
    fn refuses_bad_ids_names_and_currencies() {
        let ledger = set_up();
        refused(&ledger, &org1_admin(), "RegisterCloud", json!({ "id": "a/b", "name": "C" }), "INVALID_ARGUMENT");
        refused(&ledger, &org1_admin(), "RegisterCloud", json!({ "id": "org1.c", "name": " " }), "INVALID_ARGUMENT");
        let prices =
            json!({ "currency": "euro", "cpuCoreHour": 1, "memoryGibHour": 1, "networkMbpsHour": 1, "ioMbpsHour": 1 });
        refused(
            &ledger,
            &org1_admin(),
            "RegisterCloud",
            json!({ "id": "org1.c", "name": "C", "prices": prices }),
            "INVALID_ARGUMENT",
        );
    }
}

mod register_host {
    use super::*;

    #[test]
    fn registers_with_an_empty_allocation_and_is_listed() {
        let ledger = set_up();
        let page: Page<Host> = ok(&ledger, &org1_user(), "ListHosts", json!({ "cloudId": "org2.cloud-b" }));
        let ids: Vec<_> = page.items.iter().map(|h| h.id.as_str()).collect();
        assert_eq!(ids, ["org2.b-de-1", "org2.b-gb-1", "org2.b-gb-small", "org2.b-jp-c"]);
        assert_eq!(allocation(&ledger, "org2.b-gb-1"), Allocation::default());
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
            host("org1.a-fr", "org1.cloud-a", "fr", &["CompanyA"], resources(1, 1, 1, 1)),
        );
        assert_eq!(h.country, "FR");
    }

    #[test]
    fn only_the_clouds_member_registers_its_hosts() {
        refused(
            &set_up(),
            &org2_admin(),
            "RegisterHost",
            host("org1.x", "org1.cloud-a", "JP", &["CompanyA"], resources(1, 1, 1, 1)),
            "UNAUTHORIZED",
        );
    }

    #[test]
    fn needs_the_manager_role() {
        refused(
            &set_up(),
            &org1_user(),
            "RegisterHost",
            host("org1.x", "org1.cloud-a", "JP", &["CompanyA"], resources(1, 1, 1, 1)),
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
            host("org1.x", "org1.cloud-a", "XX", &["CompanyA"], resources(1, 1, 1, 1)),
            "INVALID_ARGUMENT",
        );
        refused(
            &ledger,
            &org1_admin(),
            "RegisterHost",
            host("org1.x", "org1.cloud-a", "JP", &[], resources(1, 1, 1, 1)),
            "INVALID_ARGUMENT",
        );
        refused(
            &ledger,
            &org1_admin(),
            "RegisterHost",
            host("org1.x", "cloud-z", "JP", &["CompanyA"], resources(1, 1, 1, 1)),
            "NOT_FOUND",
        );
        refused(
            &ledger,
            &org1_admin(),
            "RegisterHost",
            host("org1.a-jp-1", "org1.cloud-a", "JP", &["CompanyA"], resources(1, 1, 1, 1)),
            "ALREADY_EXISTS",
        );
    }
}

mod update_host {
    use super::*;

    #[test]
    fn changes_only_what_is_given() {
        let ledger = set_up();
        let h: Host = ok(&ledger, &org2_admin(), "UpdateHost", json!({ "id": "org2.b-de-1", "country": "FR" }));
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
            json!({ "id": "org1.a-jp-1", "capacity": resources(16, 1024, 10_000, 10_000) }),
            "CAPACITY_EXCEEDED",
        );
        assert!(error.to_string().contains("memoryMib requested 2048 but 1024 free"), "{error}");
        ok::<Host>(
            &ledger,
            &org1_admin(),
            "UpdateHost",
            json!({ "id": "org1.a-jp-1", "capacity": resources(1, 2048, 100, 50) }),
        );
    }

    #[test]
    fn only_the_hosts_manager_changes_it() {
        let ledger = set_up();
        refused(&ledger, &org1_admin(), "UpdateHost", json!({ "id": "org2.b-de-1", "country": "JP" }), "UNAUTHORIZED");
        refused(&ledger, &org2_user(), "UpdateHost", json!({ "id": "org2.b-de-1", "country": "JP" }), "UNAUTHORIZED");
    }

    #[test]
    fn refuses_an_empty_update_and_unknown_hosts() {
        let ledger = set_up();
        refused(&ledger, &org2_admin(), "UpdateHost", json!({ "id": "org2.b-de-1" }), "INVALID_ARGUMENT");
        refused(&ledger, &org2_admin(), "UpdateHost", json!({ "id": "nope", "country": "JP" }), "NOT_FOUND");
    }
}

mod register_vm {
    use super::*;

    #[test]
    fn places_the_vm_commits_its_resources_and_opens_its_residency() {
        let ledger = set_up();
        let vm = vm(&ledger);
        assert_eq!((vm.status, vm.host_id.as_str()), (VmStatus::Running, "org1.a-jp-1"));
        assert_eq!(
            allocation(&ledger, "org1.a-jp-1").running,
            Resources { cpu_cores: 1, memory_mib: 2048, network_mbps: 100, io_mbps: 50 }
        );
        let history: VmHistory = ok(&ledger, &org2_user(), "VmHistory", json!({ "id": "vm1" }));
        assert_eq!(history.residencies.len(), 1);
        assert_eq!((history.residencies[0].host_id.as_str(), history.residencies[0].to), ("org1.a-jp-1", None));
    }

    #[test]
    fn only_on_a_host_of_its_own_cloud() {
        let mut on_b = vm1();
        on_b["id"] = json!("vm2");
        on_b["hostId"] = json!("org2.b-gb-1");
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
        let de = check(&ledger, "org2.b-de-1");
        assert!(!de.permitted);
        assert_eq!(
            de.violations,
            vec![crate::ContractError::PolicyDenied {
                vm_id: "vm1".into(),
                host_id: "org2.b-de-1".into(),
                reasons: vec![crate::Denial::Country { country: "DE".into(), allowed: vec!["JP".into(), "GB".into()] }],
            }]
        );
        let company_c = check(&ledger, "org2.b-jp-c");
        assert!(!company_c.permitted);
        assert!(matches!(&company_c.violations[..], [crate::ContractError::PolicyDenied { reasons, .. }]
            if matches!(&reasons[..], [crate::Denial::Organization { organization, .. }] if organization == "CompanyC")));
        assert!(check(&ledger, "org2.b-gb-1").permitted);
        // A move inside cloud A is allowed too, but not here: on org1's local chain.
        let local = check(&ledger, "org1.a-gb-2");
        assert!(
            matches!(&local.violations[..], [crate::ContractError::Conflict { reason }] if reason.contains("`local-org1`"))
        );
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
            json!({ "vmId": "vm-big", "destinationHostId": "org2.b-gb-small" }),
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
            json!({ "vmId": "nope", "destinationHostId": "org2.b-gb-1" }),
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
        let m: Migration = ok(&ledger, &org1_user(), "Migrate", migrate_to("org2.b-gb-1"));
        assert_eq!((m.status, m.scope), (MigrationStatus::Indicated, Scope::Inter));
        assert_eq!(m.source, Placement { cloud_id: "org1.cloud-a".into(), host_id: "org1.a-jp-1".into() });
        assert_eq!(m.destination, Placement { cloud_id: "org2.cloud-b".into(), host_id: "org2.b-gb-1".into() });
        assert_eq!((m.recorded_hash.as_deref(), m.requested_by.msp_id.as_str()), (Some(HASH), "Org1MSP"));
        assert_eq!((m.keyed_digest.as_deref(), m.transfer_key_hash.as_str()), (Some(KEYED), TRANSFER_KEY_HASH));
        let vm = vm(&ledger);
        assert_eq!((vm.status, vm.pending_migration_id), (VmStatus::Migrating, Some(m.id.clone())));
        assert_eq!(allocation(&ledger, "org2.b-gb-1").reserved.memory_mib, 2048);
        let (name, payload) = last_event(&ledger);
        assert_eq!((name.as_str(), &payload["id"]), ("MigrationIndicated", &json!(m.id)));
    }

    #[test]
    fn within_the_operators_cloud_goes_on_its_local_chain() {
        let error = refused(&set_up(), &org1_user(), "Migrate", migrate_to("org1.a-gb-2"), "CONFLICT");
        assert!(error.to_string().contains("recorded on `local-org1`, not on `federation`"), "{error}");
    }

    #[test]
    fn only_the_vms_operator_moves_it() {
        let error = refused(&set_up(), &org2_admin(), "Migrate", migrate_to("org2.b-gb-1"), "UNAUTHORIZED");
        assert!(error.to_string().contains("only the operator of cloud `org1.cloud-a`"), "{error}");
    }

    #[test]
    fn a_migrating_vm_cannot_migrate_again() {
        let ledger = set_up();
        ok::<Migration>(&ledger, &org1_user(), "Migrate", migrate_to("org2.b-gb-1"));
        refused(&ledger, &org1_user(), "Migrate", migrate_to("org1.a-gb-2"), "CONFLICT");
    }

    #[test]
    fn the_destination_must_differ_from_the_current_host() {
        refused(&set_up(), &org1_user(), "Migrate", migrate_to("org1.a-jp-1"), "CONFLICT");
    }

    #[test]
    fn a_forbidden_country_or_organisation_is_denied() {
        let ledger = set_up();
        refused(&ledger, &org1_user(), "Migrate", migrate_to("org2.b-de-1"), "POLICY_DENIED");
        refused(&ledger, &org1_user(), "Migrate", migrate_to("org2.b-jp-c"), "POLICY_DENIED");
    }

    #[test]
    fn the_vm_must_fit_beside_what_is_running_and_reserved() {
        let ledger = set_up();
        ok::<Host>(
            &ledger,
            &org2_admin(),
            "UpdateHost",
            json!({ "id": "org2.b-gb-small", "capacity": resources(1, 3000, 100, 100) }),
        );
        let mut vm2 = vm1();
        vm2["id"] = json!("vm2");
        ok::<VirtualMachine>(&ledger, &org1_user(), "RegisterVm", vm2);
        ok::<Migration>(&ledger, &org1_user(), "Migrate", migrate_to("org2.b-gb-small"));
        // vm1's reservation leaves no core for vm2.
        let error = refused(
            &ledger,
            &org1_user(),
            "Migrate",
            json!({ "vmId": "vm2", "destinationHostId": "org2.b-gb-small", "imageHash": HASH, "keyedDigest": KEYED, "transferKeyHash": TRANSFER_KEY_HASH }),
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
            json!({ "vmId": "vm1", "destinationHostId": "org2.b-gb-1" }),
            "INVALID_ARGUMENT",
        );
        refused(
            &ledger,
            &org1_user(),
            "Migrate",
            json!({ "vmId": "vm1", "destinationHostId": "org2.b-gb-1", "imageHash": "zz", "keyedDigest": KEYED, "transferKeyHash": TRANSFER_KEY_HASH }),
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
            json!({ "vmId": "vm9", "destinationHostId": "org2.b-gb-1", "imageHash": HASH, "keyedDigest": KEYED, "transferKeyHash": TRANSFER_KEY_HASH }),
            "NOT_FOUND",
        );
        refused(&ledger, &org1_user(), "Migrate", migrate_to("b-xx-9"), "NOT_FOUND");
    }
}

mod confirm_migration {
    use super::*;

    fn indicated(ledger: &MemoryLedger) -> Migration {
        ok(ledger, &org1_user(), "Migrate", migrate_to("org2.b-gb-1"))
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
            json!({ "migrationId": m.id, "observedHash": HASH.to_uppercase(), "transferKey": TRANSFER_KEY, "keyedDigest": KEYED }),
        );
        assert_eq!(confirmed.status, MigrationStatus::Confirmed);
        assert_eq!(confirmed.closed_by.unwrap().msp_id, "Org2MSP");
        let vm = vm(&ledger);
        assert_eq!((vm.host_id.as_str(), vm.status, vm.pending_migration_id), ("org2.b-gb-1", VmStatus::Running, None));
        assert_eq!(vm.since, confirmed.closed_at.unwrap());
        assert_eq!(allocation(&ledger, "org1.a-jp-1").running, Resources::default());
        let dest = allocation(&ledger, "org2.b-gb-1");
        assert_eq!((dest.running.cpu_cores, dest.reserved), (1, Resources::default()));
        let history: VmHistory = ok(&ledger, &org1_user(), "VmHistory", json!({ "id": "vm1" }));
        let stays: Vec<_> = history.residencies.iter().map(|r| (r.host_id.as_str(), r.to)).collect();
        assert_eq!(stays, [("org1.a-jp-1", Some(vm.since)), ("org2.b-gb-1", None)]);
        assert_eq!(history.migrations.len(), 1);
        assert_eq!(last_event(&ledger).0, "MigrationConfirmed");
    }

    #[test]
    fn a_different_hash_is_rejected_committed_and_the_vm_stays() {
        let ledger = set_up();
        let m = indicated(&ledger);
        let outcome = run(
            &ledger,
            &org2_user(),
            "ConfirmMigration",
            json!({ "migrationId": m.id, "observedHash": OTHER_HASH, "transferKey": TRANSFER_KEY, "keyedDigest": KEYED }),
        );
        let rejected: Migration =
            serde_json::from_str(&outcome.result.expect("a rejection is committed, not refused")).unwrap();
        assert_eq!(rejected.status, MigrationStatus::Rejected);
        assert_eq!(
            (rejected.recorded_hash.as_deref(), rejected.observed_hash.as_deref()),
            (Some(HASH), Some(OTHER_HASH))
        );
        let stored: Migration = ok(&ledger, &org1_user(), "GetMigration", json!({ "id": m.id }));
        assert_eq!(stored, rejected);
        let vm = vm(&ledger);
        assert_eq!((vm.host_id.as_str(), vm.status), ("org1.a-jp-1", VmStatus::Running));
        assert_eq!(allocation(&ledger, "org2.b-gb-1"), Allocation::default());
        assert_eq!(allocation(&ledger, "org1.a-jp-1").running.cpu_cores, 1);
        assert_eq!(last_event(&ledger).0, "MigrationRejected");
    }

    #[test]
    fn the_policy_is_checked_again_on_arrival() {
        let ledger = set_up();
        let m = indicated(&ledger);
        ok::<Host>(&ledger, &org2_admin(), "UpdateHost", json!({ "id": "org2.b-gb-1", "country": "DE" }));
        let error = refused(
            &ledger,
            &org2_user(),
            "ConfirmMigration",
            json!({ "migrationId": m.id, "observedHash": HASH, "transferKey": TRANSFER_KEY, "keyedDigest": KEYED }),
            "POLICY_DENIED",
        );
        assert!(error.to_string().contains("country DE"), "{error}");
        ok::<Migration>(&ledger, &org1_user(), "CancelMigration", json!({ "migrationId": m.id }));
        assert_eq!(vm(&ledger).host_id, "org1.a-jp-1");
    }

    #[test]
    fn only_the_destination_confirms() {
        let ledger = set_up();
        let m = indicated(&ledger);
        refused(
            &ledger,
            &org1_admin(),
            "ConfirmMigration",
            json!({ "migrationId": m.id, "observedHash": HASH, "transferKey": TRANSFER_KEY, "keyedDigest": KEYED }),
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
            json!({ "migrationId": m.id, "observedHash": OTHER_HASH, "transferKey": TRANSFER_KEY, "keyedDigest": KEYED }),
        );
        let error = refused(
            &ledger,
            &org2_user(),
            "ConfirmMigration",
            json!({ "migrationId": m.id, "observedHash": HASH, "transferKey": TRANSFER_KEY, "keyedDigest": KEYED }),
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
            json!({ "migrationId": m.id, "observedHash": "abc", "transferKey": TRANSFER_KEY, "keyedDigest": KEYED }),
            "INVALID_ARGUMENT",
        );
        refused(
            &ledger,
            &org2_user(),
            "ConfirmMigration",
            json!({ "migrationId": "nope", "observedHash": HASH, "transferKey": TRANSFER_KEY, "keyedDigest": KEYED }),
            "NOT_FOUND",
        );
    }
}

mod cancel_migration {
    use super::*;

    #[test]
    fn releases_the_reservation() {
        let ledger = set_up();
        let m: Migration = ok(&ledger, &org1_user(), "Migrate", migrate_to("org2.b-gb-1"));
        let cancelled: Migration =
            ok(&ledger, &org1_user(), "CancelMigration", json!({ "migrationId": m.id, "reason": "maintenance over" }));
        assert_eq!(
            (cancelled.status, cancelled.reason.as_deref()),
            (MigrationStatus::Cancelled, Some("maintenance over"))
        );
        assert_eq!(allocation(&ledger, "org2.b-gb-1"), Allocation::default());
        assert_eq!(vm(&ledger).status, VmStatus::Running);
        assert_eq!(last_event(&ledger).0, "MigrationCancelled");
        ok::<Migration>(&ledger, &org1_user(), "Migrate", migrate_to("org2.b-gb-1"));
    }

    #[test]
    fn only_the_operator_cancels_and_only_while_open() {
        let ledger = set_up();
        let m: Migration = ok(&ledger, &org1_user(), "Migrate", migrate_to("org2.b-gb-1"));
        refused(&ledger, &org2_admin(), "CancelMigration", json!({ "migrationId": m.id }), "UNAUTHORIZED");
        ok::<Migration>(
            &ledger,
            &org2_user(),
            "ConfirmMigration",
            json!({ "migrationId": m.id, "observedHash": HASH, "transferKey": TRANSFER_KEY, "keyedDigest": KEYED }),
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
            let m: Migration = ok(&ledger, &org1_user(), "Migrate", migrate_to("org2.b-gb-1"));
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
        let cloud_b: Page<Migration> =
            ok(&ledger, &org2_user(), "ListMigrations", json!({ "cloudId": "org2.cloud-b" }));
        assert_eq!(cloud_b.items.len(), 3);
        let later = start + Duration::seconds(2);
        let since: Page<Migration> =
            ok(&ledger, &org2_user(), "ListMigrations", json!({ "cloudId": "org1.cloud-a", "from": later }));
        assert_eq!(since.items.iter().map(|m| &m.id).collect::<Vec<_>>(), [&ids[1], &ids[2]]);
    }

    #[test]
    fn a_bookmark_of_another_listing_is_refused() {
        let ledger = set_up();
        let foreign = crate::state::cloud("org1.cloud-a");
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
            json!({ "cloudId": "org1.cloud-a", "bookmark": "zzz" }),
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
            json!({ "vmId": "vm1", "cloudId": "org1.cloud-a" }),
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
        let m: Migration = ok(&ledger, &org1_user(), "Migrate", migrate_to("org2.b-gb-1"));
        let confirmed: Migration = ok(
            &ledger,
            &org2_user(),
            "ConfirmMigration",
            json!({ "migrationId": m.id, "observedHash": HASH, "transferKey": TRANSFER_KEY, "keyedDigest": KEYED }),
        );
        let arrival = confirmed.closed_at.unwrap();
        ledger.advance(Duration::hours(5));
        let period = json!({ "cloudId": "org2.cloud-b", "from": arrival - Duration::hours(1), "to": arrival + Duration::hours(2) });
        let report: UsageReport = ok(&ledger, &org2_user(), "Usage", period);
        assert_eq!(report.currency.as_deref(), Some("EUR"));
        let [line] = &report.vms[..] else { panic!("one VM expected: {report:?}") };
        assert_eq!((line.vm_id.as_str(), line.operator_cloud_id.as_str()), ("vm1", "org1.cloud-a"));
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
            json!({ "cloudId": "org1.cloud-a", "from": arrival, "to": arrival + Duration::hours(2) }),
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
            json!({ "cloudId": "org1.cloud-a", "from": from - Duration::days(1), "to": from + Duration::days(1) }),
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
            json!({ "cloudId": "org1.cloud-a", "from": now, "to": now - Duration::hours(1) }),
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

/// Confirms `m` as the destination (org2) with `observed`, the right transfer key and `digest`.
fn confirmation(m: &Migration, observed: &str, digest: &str) -> Value {
    json!({ "migrationId": m.id, "observedHash": observed, "transferKey": TRANSFER_KEY, "keyedDigest": digest })
}

mod transfer_key {
    use super::*;

    #[test]
    fn the_indication_records_only_the_keys_hash_and_needs_it() {
        let ledger = set_up();
        let mut input = migrate_to("org2.b-gb-1");
        input.as_object_mut().unwrap().remove("transferKeyHash");
        refused(&ledger, &org1_user(), "Migrate", input, "INVALID_ARGUMENT");
        let m: Migration = ok(&ledger, &org1_user(), "Migrate", migrate_to("org2.b-gb-1"));
        assert_eq!(m.transfer_key_hash, TRANSFER_KEY_HASH);
        assert!(!serde_json::to_string(&m).unwrap().contains(TRANSFER_KEY), "the key itself is never recorded");
    }

    #[test]
    fn a_destination_without_the_key_can_neither_confirm_nor_reject() {
        let ledger = set_up();
        let m: Migration = ok(&ledger, &org1_user(), "Migrate", migrate_to("org2.b-gb-1"));
        let mut guessed = confirmation(&m, HASH, KEYED);
        guessed["transferKey"] = json!("33".repeat(32));
        let error = refused(&ledger, &org2_user(), "ConfirmMigration", guessed.clone(), "UNAUTHORIZED");
        assert!(error.to_string().contains("transfer key"), "{error}");
        guessed["observedHash"] = json!(OTHER_HASH);
        refused(&ledger, &org2_user(), "ConfirmMigration", guessed.clone(), "UNAUTHORIZED");
        guessed["transferKey"] = json!("not hex");
        refused(&ledger, &org2_user(), "ConfirmMigration", guessed, "INVALID_ARGUMENT");
    }

    #[test]
    fn equal_hashes_without_the_same_hmac_prove_no_possession() {
        let ledger = set_up();
        let m: Migration = ok(&ledger, &org1_user(), "Migrate", migrate_to("org2.b-gb-1"));
        let error =
            refused(&ledger, &org2_user(), "ConfirmMigration", confirmation(&m, HASH, OTHER_HASH), "UNAUTHORIZED");
        assert!(error.to_string().contains("HMAC"), "{error}");
        // A different image is a rejection (evidence), whatever its HMAC.
        let rejected: Migration =
            ok(&ledger, &org2_user(), "ConfirmMigration", confirmation(&m, OTHER_HASH, OTHER_HASH));
        assert_eq!(rejected.status, MigrationStatus::Rejected);
    }
}

mod consent_and_expiry {
    use super::*;

    fn indicated_for(ledger: &MemoryLedger, ttl: u32) -> Migration {
        let mut input = migrate_to("org2.b-gb-small");
        input["ttlSeconds"] = json!(ttl);
        ok(ledger, &org1_user(), "Migrate", input)
    }

    #[test]
    fn the_destination_declines_without_tamper_evidence() {
        let ledger = set_up();
        let m = indicated_for(&ledger, 600);
        refused(&ledger, &org1_user(), "DeclineMigration", json!({ "migrationId": m.id }), "UNAUTHORIZED");
        let declined: Migration = ok(
            &ledger,
            &org2_user(),
            "DeclineMigration",
            json!({ "migrationId": m.id, "reason": "host in maintenance" }),
        );
        assert_eq!(
            (declined.status, declined.reason.as_deref()),
            (MigrationStatus::Declined, Some("host in maintenance"))
        );
        assert_eq!((declined.observed_hash, last_event(&ledger).0.as_str()), (None, "MigrationDeclined"));
        assert_eq!(allocation(&ledger, "org2.b-gb-small").reserved, Resources::default());
        assert_eq!((vm(&ledger).status, vm(&ledger).pending_migration_id), (VmStatus::Running, None));
        refused(&ledger, &org2_user(), "ConfirmMigration", confirmation(&m, HASH, KEYED), "CONFLICT");
    }

    #[test]
    fn a_lapsed_indication_reserves_nothing_and_can_only_expire() {
        let ledger = set_up();
        let m = indicated_for(&ledger, 60);
        // The small host (2 cores) holds vm1's reservation: a 2-core VM does not fit beside it…
        let mut second = vm1();
        second["id"] = json!("vm2");
        second["hostId"] = json!("org1.a-gb-2");
        second["requirements"] = resources(2, 2048, 100, 50);
        ok::<VirtualMachine>(&ledger, &org1_user(), "RegisterVm", second);
        let to_small = json!({
            "vmId": "vm2", "destinationHostId": "org2.b-gb-small", "imageHash": HASH, "keyedDigest": KEYED,
            "transferKeyHash": TRANSFER_KEY_HASH
        });
        refused(&ledger, &org1_user(), "Migrate", to_small.clone(), "CAPACITY_EXCEEDED");
        refused(&ledger, &org1_user(), "ExpireMigration", json!({ "migrationId": m.id }), "CONFLICT");
        // …until its deadline passes, even before anyone expires it.
        ledger.advance(Duration::seconds(61));
        refused(&ledger, &org2_user(), "ConfirmMigration", confirmation(&m, HASH, KEYED), "CONFLICT");
        let other_member = identity("Org3MSP", "operator", "operator");
        refused(&ledger, &other_member, "ExpireMigration", json!({ "migrationId": m.id }), "UNAUTHORIZED");
        let expired: Migration = ok(&ledger, &org2_user(), "ExpireMigration", json!({ "migrationId": m.id }));
        assert_eq!((expired.status, expired.observed_hash), (MigrationStatus::Expired, None));
        assert_eq!(allocation(&ledger, "org2.b-gb-small").reserved, Resources::default());
        assert!(ledger.snapshot().keys().all(|k| !k.starts_with("reservation/")), "the deadline entry is gone");
        ok::<Migration>(&ledger, &org1_user(), "Migrate", to_small);
    }

    #[test]
    fn a_deadline_is_bounded() {
        let ledger = set_up();
        for ttl in [0, 86_401] {
            let mut input = migrate_to("org2.b-gb-1");
            input["ttlSeconds"] = json!(ttl);
            refused(&ledger, &org1_user(), "Migrate", input, "INVALID_ARGUMENT");
        }
    }
}

mod live {
    use super::*;

    fn live_indication(ledger: &MemoryLedger) -> Migration {
        let input = json!({ "vmId": "vm1", "destinationHostId": "org2.b-gb-1", "live": true, "transferKeyHash": TRANSFER_KEY_HASH });
        ok(ledger, &org1_user(), "Migrate", input)
    }

    fn stream(m: &Migration, hash: &str) -> Value {
        json!({ "migrationId": m.id, "streamHash": hash, "keyedDigest": KEYED, "bytes": 123_456 })
    }

    #[test]
    fn the_stream_hash_is_recorded_once_by_the_source_before_the_destination_confirms() {
        let ledger = set_up();
        let m = live_indication(&ledger);
        assert_eq!((m.live, m.recorded_hash.as_deref()), (true, None));
        refused(&ledger, &org2_user(), "ConfirmMigration", confirmation(&m, HASH, KEYED), "CONFLICT");
        refused(&ledger, &org2_user(), "RecordStreamHash", stream(&m, HASH), "UNAUTHORIZED");
        let recorded: Migration = ok(&ledger, &org1_user(), "RecordStreamHash", stream(&m, HASH));
        assert_eq!((recorded.recorded_hash.as_deref(), recorded.stream_bytes), (Some(HASH), Some(123_456)));
        assert_eq!(last_event(&ledger).0, "StreamRecorded");
        refused(&ledger, &org1_user(), "RecordStreamHash", stream(&m, OTHER_HASH), "CONFLICT");
        let confirmed: Migration = ok(&ledger, &org2_user(), "ConfirmMigration", confirmation(&m, HASH, KEYED));
        assert_eq!(confirmed.status, MigrationStatus::Confirmed);
    }

    #[test]
    fn a_live_indication_carries_no_hash_and_a_cold_one_records_no_stream() {
        let ledger = set_up();
        let mut input = migrate_to("org2.b-gb-1");
        input["live"] = json!(true);
        refused(&ledger, &org1_user(), "Migrate", input, "INVALID_ARGUMENT");
        let cold: Migration = ok(&ledger, &org1_user(), "Migrate", migrate_to("org2.b-gb-1"));
        refused(&ledger, &org1_user(), "RecordStreamHash", stream(&cold, HASH), "CONFLICT");
    }
}

mod forged_time {
    use super::*;

    /// Seed attack: move a VM off B's host and back-date the Confirmation by 400 days, so B's stay
    /// would end before it starts and bill nothing. Refused: a record never precedes what it follows.
    #[test]
    fn a_confirmation_back_dated_before_its_indication_is_refused() {
        let ledger = set_up();
        let m: Migration = ok(&ledger, &org1_user(), "Migrate", migrate_to("org2.b-gb-1"));
        ledger.rewind(Duration::days(400));
        let error = refused(&ledger, &org2_user(), "ConfirmMigration", confirmation(&m, HASH, KEYED), "CONFLICT");
        assert!(error.to_string().contains("before the Indication"), "{error}");
    }

    #[test]
    fn an_indication_back_dated_before_the_vms_arrival_is_refused() {
        let ledger = set_up();
        let m: Migration = ok(&ledger, &org1_user(), "Migrate", migrate_to("org2.b-gb-1"));
        ok::<Migration>(&ledger, &org2_user(), "ConfirmMigration", confirmation(&m, HASH, KEYED));
        ledger.rewind(Duration::hours(2));
        let back = json!({
            "vmId": "vm1", "destinationHostId": "org1.a-jp-1", "imageHash": HASH, "keyedDigest": KEYED,
            "transferKeyHash": TRANSFER_KEY_HASH
        });
        refused(&ledger, &org1_user(), "Migrate", back, "CONFLICT");
    }

    #[test]
    fn a_host_change_back_dated_before_the_last_one_is_refused() {
        let ledger = set_up();
        ok::<Host>(&ledger, &org2_admin(), "UpdateHost", json!({ "id": "org2.b-de-1", "organizations": ["CompanyB"] }));
        ledger.rewind(Duration::hours(1));
        refused(&ledger, &org2_admin(), "UpdateHost", json!({ "id": "org2.b-de-1", "country": "FR" }), "CONFLICT");
    }
}

mod ownership {
    use super::*;

    fn owners(ledger: &MemoryLedger, key: &str) -> Vec<String> {
        ledger.endorsers_of(key).unwrap_or_else(|| panic!("`{key}` has no key-level policy"))
    }

    #[test]
    fn each_member_alone_owns_its_clouds_hosts_and_vms() {
        let ledger = set_up();
        assert_eq!(owners(&ledger, "cloud/org2.cloud-b"), ["Org2MSP"]);
        assert_eq!(owners(&ledger, "host/org2.b-gb-1"), ["Org2MSP"]);
        assert_eq!(owners(&ledger, "alloc/org2.b-gb-1"), ["Org2MSP"]);
        assert_eq!(owners(&ledger, "vm/vm1"), ["Org1MSP"]);
    }

    #[test]
    fn a_migration_needs_both_sides_and_a_vm_leaves_a_host_only_with_its_member() {
        let ledger = set_up();
        let indicated = run(&ledger, &org1_user(), "Migrate", migrate_to("org2.b-gb-1"));
        // The Indication reserves B's host: B's peer must endorse it, with A's (the VM's owner).
        assert_eq!(indicated.endorsers, ["Org1MSP", "Org2MSP"].map(String::from).into());
        let m: Migration = serde_json::from_str(&indicated.result.expect("indicated")).unwrap();
        assert_eq!(owners(&ledger, &format!("migration/{}", m.id)), ["Org1MSP", "Org2MSP"]);
        ok::<Migration>(&ledger, &org2_user(), "ConfirmMigration", confirmation(&m, HASH, KEYED));
        // On B's host, the VM changes only with B too: moving it off needs both.
        assert_eq!(owners(&ledger, "vm/vm1"), ["Org1MSP", "Org2MSP"]);
        let back = json!({
            "vmId": "vm1", "destinationHostId": "org1.a-gb-2", "imageHash": HASH, "keyedDigest": KEYED,
            "transferKeyHash": TRANSFER_KEY_HASH
        });
        let leaving = run(&ledger, &org1_user(), "Migrate", back);
        assert!(leaving.result.is_ok(), "{:?}", leaving.result);
        assert!(leaving.endorsers.contains("Org2MSP") && leaving.endorsers.contains("Org1MSP"));
    }
}

mod drift {
    use super::*;

    #[test]
    fn a_host_may_not_move_where_a_vm_on_it_may_not_be() {
        let ledger = set_up();
        // vm1 (JP or GB; CompanyA or CompanyB) runs on a-jp-1.
        let error = refused(
            &ledger,
            &org1_admin(),
            "UpdateHost",
            json!({ "id": "org1.a-jp-1", "country": "DE" }),
            "POLICY_DENIED",
        );
        assert!(error.to_string().contains("vm1"), "{error}");
        refused(
            &ledger,
            &org1_admin(),
            "UpdateHost",
            json!({ "id": "org1.a-jp-1", "organizations": ["CompanyC"] }),
            "POLICY_DENIED",
        );
        ok::<Host>(&ledger, &org1_admin(), "UpdateHost", json!({ "id": "org1.a-jp-1", "country": "GB" }));
    }

    #[test]
    fn a_regulation_may_not_exclude_the_host_its_vm_runs_on() {
        let ledger = set_up();
        let only_gb = json!({ "vmId": "vm1", "regulation": { "countries": ["GB"], "organizations": "All" } });
        refused(&ledger, &org1_admin(), "SetRegulation", only_gb, "POLICY_DENIED");
    }
}

mod bounded_inputs {
    use super::*;

    #[test]
    fn an_oversized_argument_is_refused_before_it_is_read() {
        let ledger = set_up();
        let organizations: Vec<String> = (0..40_000).map(|i| format!("Org{i:05}")).collect();
        let argument = json!({ "id": "org2.big", "cloudId": "org2.cloud-b", "country": "GB", "organizations": organizations,
            "capacity": resources(1, 1, 1, 1) });
        assert!(argument.to_string().len() > 300_000);
        let started = std::time::Instant::now();
        let error = refused(&ledger, &org1_admin(), "RegisterHost", argument, "INVALID_ARGUMENT");
        assert!(error.to_string().contains("at most 65536"), "{error}");
        // Generous: the quadratic check this replaces took tens of seconds here.
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }

    #[test]
    fn authorisation_comes_before_the_lists_are_checked() {
        let ledger = set_up();
        let organizations: Vec<String> = (0..33).map(|i| format!("Org{i}")).collect();
        let another_members = host("org1.h", "org2.cloud-b", "GB", &[], resources(1, 1, 1, 1));
        let mut input = another_members;
        input["organizations"] = json!(organizations);
        refused(&ledger, &org1_admin(), "RegisterHost", input.clone(), "UNAUTHORIZED");
        input["id"] = json!("org2.h");
        refused(&ledger, &org2_admin(), "RegisterHost", input, "INVALID_ARGUMENT");
    }

    #[test]
    fn each_finding_is_refused_naming_its_field() {
        let ledger = set_up();
        let cases = [
            (
                json!({ "id": "org1.dup", "cloudId": "org1.cloud-a", "country": "JP", "organizations": ["A", "A"],
                     "capacity": resources(1, 1, 1, 1) }),
                "organizations",
            ),
            (
                json!({ "id": "org1.zw", "cloudId": "org1.cloud-a", "country": "JP", "organizations": ["Comp\u{200B}anyA"],
                     "capacity": resources(1, 1, 1, 1) }),
                "U+200B",
            ),
            (
                json!({ "id": "org1.bidi", "cloudId": "org1.cloud-a", "country": "JP", "organizations": ["\u{202E}Bynapmoc"],
                     "capacity": resources(1, 1, 1, 1) }),
                "U+202E",
            ),
            (
                json!({ "id": "org1.huge", "cloudId": "org1.cloud-a", "country": "JP", "organizations": ["A"],
                     "capacity": resources(9_007_199_254_740_993, 1, 1, 1) }),
                "capacity.cpuCores",
            ),
        ];
        for (input, field) in cases {
            let error = refused(&ledger, &org1_admin(), "RegisterHost", input, "INVALID_ARGUMENT");
            assert!(error.to_string().contains(field), "{field}: {error}");
        }
        let twice = json!({ "vmId": "vm1", "regulation": { "countries": ["JP", "jp"], "organizations": "All" } });
        let error = refused(&ledger, &org1_admin(), "SetRegulation", twice, "INVALID_ARGUMENT");
        assert!(error.to_string().contains("listed twice"), "{error}");
        let prices = json!({ "currency": "EUR", "cpuCoreHour": u64::MAX, "memoryGibHour": 1, "networkMbpsHour": 1, "ioMbpsHour": 1 });
        refused(
            &ledger,
            &org1_admin(),
            "RegisterCloud",
            json!({ "id": "org1.p", "name": "P", "prices": prices }),
            "INVALID_ARGUMENT",
        );
    }

    #[test]
    fn only_application_identities_ping() {
        let ledger = set_up();
        let no_role =
            Caller { msp_id: "Org1MSP".into(), id: "x509::CN=peer0::CN=ca".into(), attributes: Default::default() };
        refused(&ledger, &no_role, "Ping", json!({}), "UNAUTHORIZED");
        ok::<Pong>(&ledger, &org1_user(), "Ping", json!({}));
    }
}

mod bounded_reports {
    use super::*;

    /// A VM that moved back and forth for two years: a report of one month reads that month's stays,
    /// not the whole history.
    #[test]
    fn usage_reads_the_period_not_the_history() {
        let ledger = set_up();
        let hosts = ["org2.b-gb-1", "org1.a-gb-2"];
        for round in 0..48 {
            let to = hosts[round % 2];
            let input = json!({ "vmId": "vm1", "destinationHostId": to, "imageHash": HASH, "keyedDigest": KEYED,
                                 "transferKeyHash": TRANSFER_KEY_HASH });
            let m: Migration = ok(&ledger, &org1_user(), "Migrate", input);
            let confirmer = if to.starts_with("org2") { org2_user() } else { org1_user() };
            ok::<Migration>(&ledger, &confirmer, "ConfirmMigration", confirmation(&m, HASH, KEYED));
            ledger.advance(Duration::days(15));
        }
        let to = ledger.now();
        let from = to - Duration::days(30);
        let before = ledger.reads();
        let report: UsageReport =
            ok(&ledger, &org2_user(), "Usage", json!({ "cloudId": "org2.cloud-b", "from": from, "to": to }));
        let read = ledger.reads() - before;
        assert_eq!(report.vms.len(), 1);
        assert!(read < 20, "a month's report read {read} entries of a 2-year history");
        let year = json!({ "cloudId": "org2.cloud-b", "from": to - Duration::days(400), "to": to });
        refused(&ledger, &org2_user(), "Usage", year, "INVALID_ARGUMENT");
    }
}

/// Org1's and org2's local chains beside the federation, on one peer: moves inside cloud A, the
/// Leave and Arrival of inter-cloud migrations, and what each chain refuses.
mod chains {
    use std::rc::Rc;

    use super::*;

    fn org1_relay() -> Caller {
        identity("Org1MSP", "relay", "relay")
    }
    fn org2_relay() -> Caller {
        identity("Org2MSP", "relay", "relay")
    }

    /// `set_up()`'s federation and org1's and org2's local chains, on one peer, an hour later.
    fn set_up_chains() -> (Rc<MemoryLedger>, MemoryLedger, MemoryLedger) {
        let federation = Rc::new(set_up());
        federation.advance(Duration::hours(1));
        let local = |member: &str| {
            let chain = MemoryLedger::on_channel(&crate::vocabulary::local_channel(member));
            chain.link(federation.clone());
            chain.advance(Duration::hours(1));
            chain
        };
        let (local1, local2) = (local("org1"), local("org2"));
        (federation, local1, local2)
    }

    fn confirm(ledger: &MemoryLedger, caller: &Caller, migration: &Migration) -> Migration {
        ok(
            ledger,
            caller,
            "ConfirmMigration",
            json!({ "migrationId": migration.id, "observedHash": HASH, "transferKey": TRANSFER_KEY, "keyedDigest": KEYED }),
        )
    }

    fn committed(ledger: &MemoryLedger, host: &str) -> Allocation {
        ok(ledger, &org1_user(), "GetAllocation", json!({ "id": host }))
    }

    fn by_migration(id: &str) -> Value {
        json!({ "migrationId": id })
    }

    /// vm1 moved inter-cloud to org2.b-gb-1 on the federation; the Confirmation.
    fn moved_to_cloud_b(federation: &MemoryLedger) -> Migration {
        let m: Migration = ok(federation, &org1_user(), "Migrate", migrate_to("org2.b-gb-1"));
        confirm(federation, &org2_user(), &m)
    }

    #[test]
    fn a_move_inside_the_cloud_is_recorded_on_its_local_chain_only() {
        let (federation, local, _) = set_up_chains();
        let before = federation.snapshot();
        let m: Migration = ok(&local, &org1_user(), "Migrate", migrate_to("org1.a-gb-2"));
        assert_eq!((m.scope, &m.source.host_id), (Scope::Local, &"org1.a-jp-1".to_owned()));
        let done = confirm(&local, &org1_user(), &m);
        assert_eq!(done.status, MigrationStatus::Confirmed);
        assert_eq!(federation.snapshot(), before, "the federation keeps none of it");

        // The local chain sees the VM where it moved, and counts it there; the federation where it
        // entered the cloud.
        assert_eq!(vm(&local).host_id, "org1.a-gb-2");
        assert_eq!(vm(&federation).host_id, "org1.a-jp-1");
        assert_eq!(committed(&local, "org1.a-gb-2").running.cpu_cores, 1);
        assert_eq!(committed(&local, "org1.a-jp-1").running.cpu_cores, 0);
        assert_eq!(committed(&federation, "org1.a-jp-1").running.cpu_cores, 1);
        let history: VmHistory = ok(&local, &org2_user(), "VmHistory", json!({ "id": "vm1" }));
        assert_eq!(history.migrations.iter().map(|m| &m.id).collect::<Vec<_>>(), [&m.id]);

        // And back, from where it really is.
        let back: Migration = ok(&local, &org1_user(), "Migrate", migrate_to("org1.a-jp-1"));
        assert_eq!(back.source.host_id, "org1.a-gb-2");
    }

    #[test]
    fn a_local_chain_keeps_to_its_cloud_and_leaves_the_registry_to_the_federation() {
        let (_, local, _) = set_up_chains();
        let error = refused(&local, &org1_user(), "Migrate", migrate_to("org2.b-gb-1"), "CONFLICT");
        assert!(error.to_string().contains("recorded on `federation`, not on `local-org1`"), "{error}");
        let error =
            refused(&local, &org1_admin(), "RegisterCloud", json!({ "id": "org1.c9", "name": "C9" }), "CONFLICT");
        assert!(error.to_string().contains("a cloud is recorded on `federation`"), "{error}");
        refused(
            &local,
            &org1_admin(),
            "SetRegulation",
            json!({ "vmId": "vm1", "regulation": { "countries": "All", "organizations": "All" } }),
            "CONFLICT",
        );
        // The registry reads through to the federation.
        let cloud: Cloud = ok(&local, &org1_user(), "GetCloud", json!({ "id": "org2.cloud-b" }));
        assert_eq!(cloud.msp_id, "Org2MSP");
    }

    #[test]
    fn a_local_move_obeys_the_regulation_and_what_the_federation_placed_on_the_host() {
        let (federation, local, _) = set_up_chains();
        ok::<Host>(
            &federation,
            &org1_admin(),
            "UpdateHost",
            json!({ "id": "org1.a-gb-2", "capacity": resources(1, 65_536, 10_000, 10_000) }),
        );
        let mut vm2 = vm1();
        vm2["id"] = json!("vm2");
        vm2["hostId"] = json!("org1.a-gb-2");
        vm2["regulation"] = json!({ "countries": "All", "organizations": "All" });
        ok::<VirtualMachine>(&federation, &org1_user(), "RegisterVm", vm2);
        refused(&local, &org1_user(), "Migrate", migrate_to("org1.a-gb-2"), "CAPACITY_EXCEEDED");
        ok::<Host>(
            &federation,
            &org1_admin(),
            "UpdateHost",
            json!({ "id": "org1.a-gb-2", "capacity": resources(8, 65_536, 10_000, 10_000), "country": "US" }),
        );
        refused(&local, &org1_user(), "Migrate", migrate_to("org1.a-gb-2"), "POLICY_DENIED");
    }

    #[test]
    fn leave_and_arrival_are_written_once_by_each_sides_relay_after_the_confirmation() {
        let (federation, local1, local2) = set_up_chains();
        let indicated: Migration = ok(&federation, &org1_user(), "Migrate", migrate_to("org2.b-gb-1"));
        let refusal = refused(&local1, &org1_relay(), "RecordLeave", by_migration(&indicated.id), "CONFLICT");
        assert!(refusal.to_string().contains("indicated"), "{refusal}");
        let confirmed = confirm(&federation, &org2_user(), &indicated);

        refused(&local1, &org1_relay(), "RecordLeave", by_migration(&"f".repeat(64)), "NOT_FOUND");
        refused(&local1, &org1_user(), "RecordLeave", by_migration(&confirmed.id), "UNAUTHORIZED");
        refused(&local1, &org1_relay(), "RecordArrival", by_migration(&confirmed.id), "CONFLICT");
        refused(&local2, &org2_relay(), "RecordLeave", by_migration(&confirmed.id), "CONFLICT");
        refused(&federation, &org1_relay(), "RecordLeave", by_migration(&confirmed.id), "CONFLICT");

        let leave: LocalRecord = ok(&local1, &org1_relay(), "RecordLeave", by_migration(&confirmed.id));
        assert_eq!((leave.crossing, leave.host_id.as_str()), (Crossing::Leave, "org1.a-jp-1"));
        assert_eq!(last_event(&local1).0, "VmLeft");
        let arrival: LocalRecord = ok(&local2, &org2_relay(), "RecordArrival", by_migration(&confirmed.id));
        assert_eq!((arrival.crossing, arrival.host_id.as_str()), (Crossing::Arrival, "org2.b-gb-1"));
        refused(&local1, &org1_relay(), "RecordLeave", by_migration(&confirmed.id), "ALREADY_EXISTS");
        refused(&local2, &org2_relay(), "RecordArrival", by_migration(&confirmed.id), "ALREADY_EXISTS");

        let records: LocalRecords = ok(&local1, &org1_user(), "GetLocalRecord", by_migration(&confirmed.id));
        assert_eq!((records.leave, records.arrival), (Some(leave), None));
        refused(&local2, &org2_user(), "GetLocalRecord", by_migration(&indicated.id.replace('0', "e")), "NOT_FOUND");
    }

    #[test]
    fn a_guest_vm_moves_inside_its_host_cloud_on_the_federation_where_both_members_are() {
        let (federation, _, local2) = set_up_chains();
        moved_to_cloud_b(&federation);
        let mut to_small = migrate_to("org2.b-gb-small");
        let refusal = refused(&local2, &org1_user(), "Migrate", to_small.clone(), "CONFLICT");
        assert!(refusal.to_string().contains("recorded on `federation`"), "{refusal}");
        to_small["ttlSeconds"] = json!(600);
        let m: Migration = ok(&federation, &org1_user(), "Migrate", to_small);
        assert_eq!((m.scope, m.source.cloud_id.as_str()), (Scope::Local, "org2.cloud-b"));
    }

    #[test]
    fn a_rejected_migration_neither_leaves_nor_arrives() {
        let (federation, local1, _) = set_up_chains();
        let m: Migration = ok(&federation, &org1_user(), "Migrate", migrate_to("org2.b-gb-1"));
        ok::<Migration>(
            &federation,
            &org2_user(),
            "ConfirmMigration",
            json!({ "migrationId": m.id, "observedHash": OTHER_HASH, "transferKey": TRANSFER_KEY, "keyedDigest": KEYED }),
        );
        refused(&local1, &org1_relay(), "RecordLeave", by_migration(&m.id), "CONFLICT");
    }

    #[test]
    fn the_leave_of_a_vm_moved_inside_its_cloud_names_where_it_was_and_frees_its_hosts() {
        let (federation, local, _) = set_up_chains();
        let inside: Migration = ok(&local, &org1_user(), "Migrate", migrate_to("org1.a-gb-2"));
        confirm(&local, &org1_user(), &inside);
        // A move back is pending when the federation moves the VM to cloud B.
        let pending: Migration = ok(&local, &org1_user(), "Migrate", migrate_to("org1.a-jp-1"));
        assert_eq!(committed(&local, "org1.a-jp-1").reserved.cpu_cores, 1);
        let away = moved_to_cloud_b(&federation);
        assert_eq!(away.source.host_id, "org1.a-jp-1", "the federation's view: where it entered");

        let leave: LocalRecord = ok(&local, &org1_relay(), "RecordLeave", by_migration(&away.id));
        assert_eq!(leave.host_id, "org1.a-gb-2", "where it really left from");
        for host in ["org1.a-jp-1", "org1.a-gb-2"] {
            assert_eq!(committed(&local, host), Allocation::default(), "{host} holds nothing of vm1");
        }
        let cancelled: Migration = ok(&local, &org1_user(), "GetMigration", json!({ "id": pending.id }));
        assert_eq!(cancelled.status, MigrationStatus::Cancelled);
        assert!(cancelled.reason.unwrap_or_default().contains(&away.id));
        assert_eq!(vm(&local).host_id, "org2.b-gb-1", "the local chain now sees the federation's");
        refused(
            &local,
            &org1_user(),
            "ConfirmMigration",
            json!({ "migrationId": pending.id, "observedHash": HASH, "transferKey": TRANSFER_KEY, "keyedDigest": KEYED }),
            "CONFLICT",
        );
    }
}

/// Every transaction's input, as a hostile member would send it: arbitrary JSON, and valid inputs
/// with one field replaced by arbitrary JSON. Never a panic; a refusal writes and emits nothing;
/// every call is quick.
mod properties {
    use super::*;
    use proptest::prelude::*;

    fn any_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
            ".{0,80}".prop_map(Value::from),
            prop_oneof![Just("org1.cloud-a"), Just("org2.b-gb-1"), Just("vm1"), Just("All"), Just(HASH), Just("JP")]
                .prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 48, 8, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..8).prop_map(Value::from),
                prop::collection::btree_map("[a-zA-Z]{1,16}", inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// A valid input for each function (on `set_up()`'s federation).
    fn valid_inputs() -> Vec<(&'static str, Value)> {
        vec![
            ("RegisterCloud", json!({ "id": "org1.c2", "name": "C2" })),
            ("RegisterHost", host("org2.h2", "org2.cloud-b", "GB", &["CompanyA"], resources(4, 4096, 100, 100))),
            ("UpdateHost", json!({ "id": "org2.b-gb-1", "capacity": resources(32, 65_536, 10_000, 10_000) })),
            (
                "RegisterVm",
                json!({ "id": "vm3", "cloudId": "org1.cloud-a", "hostId": "org1.a-jp-1",
                "requirements": resources(1, 1024, 10, 10), "imageHash": HASH,
                "regulation": { "countries": "All", "organizations": "All" } }),
            ),
            ("SetRegulation", json!({ "vmId": "vm1", "regulation": { "countries": ["JP"], "organizations": "All" } })),
            ("Migrate", migrate_to("org2.b-gb-1")),
            ("RecordStreamHash", json!({ "migrationId": "m", "streamHash": HASH, "keyedDigest": KEYED, "bytes": 1 })),
            (
                "ConfirmMigration",
                json!({ "migrationId": "m", "observedHash": HASH, "transferKey": TRANSFER_KEY, "keyedDigest": KEYED }),
            ),
            ("CancelMigration", json!({ "migrationId": "m" })),
            ("DeclineMigration", json!({ "migrationId": "m", "reason": "full" })),
            ("ExpireMigration", json!({ "migrationId": "m" })),
            ("RecordLeave", json!({ "migrationId": "m" })),
            ("RecordArrival", json!({ "migrationId": "m" })),
            ("GetLocalRecord", json!({ "migrationId": "m" })),
            ("GetAllocation", json!({ "id": "org2.b-gb-1" })),
            ("Ping", json!({})),
            ("CheckMigration", json!({ "vmId": "vm1", "destinationHostId": "org2.b-de-1" })),
            ("GetCloud", json!({ "id": "org1.cloud-a" })),
            ("GetHost", json!({ "id": "org2.b-gb-1" })),
            ("ListHosts", json!({ "cloudId": "org2.cloud-b", "pageSize": 2 })),
            ("GetVm", json!({ "id": "vm1" })),
            ("GetMigration", json!({ "id": "m" })),
            ("ListMigrations", json!({ "vmId": "vm1" })),
            ("VmHistory", json!({ "id": "vm1" })),
            (
                "Usage",
                json!({ "cloudId": "org2.cloud-b", "from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z" }),
            ),
            ("SetHostAvailability", json!({ "hostId": "org2.b-gb-1", "availability": "draining" })),
            ("GetHostState", json!({ "id": "org2.b-gb-1" })),
            ("ListAvailabilityChanges", json!({ "hostId": "org2.b-gb-1" })),
            ("PlaceVm", json!({ "vmId": "vm1", "strategy": "best-fit", "limit": 3 })),
            ("GetReputation", json!({ "cloudId": "org2.cloud-b" })),
            (
                "ProposeTerms",
                json!({ "id": "org1.t", "sourceCloudId": "org1.cloud-a", "destinationCloudId": "org2.cloud-b",
                "availabilityTargetBp": 9990, "maxDowntimeMs": 500,
                "penalty": { "currency": "EUR", "fixedCredit": 1, "creditPerDowntimeSecond": 1,
                "creditPerBasisPoint": 1, "maxCredit": 9 } }),
            ),
            ("AcceptTerms", json!({ "termsId": "org1.t", "privateHash": HASH })),
            ("GetTerms", json!({ "id": "org1.t" })),
            (
                "ClaimViolation",
                json!({ "id": "org1.c", "termsId": "org1.t", "metric": "availabilityBp", "measured": 9000 }),
            ),
            ("DisputeClaim", json!({ "claimId": "org1.c", "measured": 9999, "reason": "no" })),
            ("AcceptClaim", json!({ "claimId": "org1.c" })),
            ("GetClaim", json!({ "id": "org1.c" })),
        ]
    }

    /// Runs `function` with `input` as each kind of caller; checks the invariants.
    fn holds(ledger: &MemoryLedger, function: &str, input: &Value) {
        for caller in [org1_admin(), org2_user()] {
            let before = ledger.snapshot();
            let started = std::time::Instant::now();
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                run(ledger, &caller, function, input.clone())
            }))
            .unwrap_or_else(|_| panic!("{function} panicked on {input}"));
            assert!(
                started.elapsed() < std::time::Duration::from_millis(500),
                "{function} took {:?} on {input}",
                started.elapsed()
            );
            if outcome.result.is_err() {
                assert!(
                    outcome.writes.is_empty() && outcome.private_writes.is_empty() && outcome.event.is_none(),
                    "a refused {function} wrote on {input}"
                );
                assert_eq!(ledger.snapshot(), before);
            }
        }
    }

    #[test]
    fn the_valid_inputs_cover_every_function() {
        let names: Vec<_> = valid_inputs().into_iter().map(|(name, _)| name).collect();
        for function in crate::vocabulary::FUNCTIONS {
            assert!(names.contains(&function.name), "no valid input for {}", function.name);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]

        #[test]
        fn arbitrary_inputs_never_panic_nor_write_when_refused(index in 0usize..21, input in any_json()) {
            let ledger = set_up();
            let (function, _) = valid_inputs()[index % valid_inputs().len()].clone();
            holds(&ledger, function, &input);
        }

        #[test]
        fn a_valid_input_with_one_field_replaced(index in 0usize..21, field in 0usize..8, value in any_json()) {
            let ledger = set_up();
            let (function, mut input) = valid_inputs()[index % valid_inputs().len()].clone();
            if let Some(object) = input.as_object_mut() {
                let keys: Vec<String> = object.keys().cloned().collect();
                if !keys.is_empty() {
                    object.insert(keys[field % keys.len()].clone(), value);
                }
            }
            holds(&ledger, function, &input);
        }
    }
}

mod anchor;
mod placement;
mod sla;
