//! Creation markers (`crate::anchor`): every record in a member's name is created with a marker in
//! that member's implicit collection, which only its peers can endorse; records created without
//! one (by a majority running a modified contract) are refused by id and left out, and named, by
//! every listing, history and bill.

use super::*;
use crate::anchor::{MARK, collection};
use crate::placement::{Exclusion, PlacementReport};
use crate::state;

/// The (collection, key) pairs a transaction marked.
fn marked(outcome: &Outcome) -> Vec<(String, String)> {
    outcome
        .private_writes
        .iter()
        .map(|((c, k), v)| {
            assert_eq!(v, MARK);
            (c.clone(), k.clone())
        })
        .collect()
}

fn in_org1(key: &str) -> (String, String) {
    (collection("Org1MSP"), key.to_owned())
}

fn in_org2(key: &str) -> (String, String) {
    (collection("Org2MSP"), key.to_owned())
}

fn json_of<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("encodes")
}

fn not_found_unanchored(ledger: &MemoryLedger, function: &str, id: &str) {
    let error = refused(ledger, &org1_user(), function, json!({ "id": id }), "NOT_FOUND");
    let crate::ContractError::NotFound { id: named, unanchored: Some(why), .. } = &error else {
        panic!("{function} {id}: not refused as unanchored: {error:?}")
    };
    assert_eq!(named, id);
    assert!(why.contains("never endorsed its creation"), "{why}");
}

mod creation_paths {
    use super::*;

    #[test]
    fn a_cloud_host_and_vm_are_marked_in_their_members_collection() {
        let ledger = set_up();
        let cloud = run(&ledger, &org2_admin(), "RegisterCloud", json!({ "id": "org2.c2", "name": "C2" }));
        assert_eq!(marked(&cloud), [in_org2("cloud/org2.c2")]);
        assert!(cloud.endorsers.contains("Org2MSP"));
        let host = run(
            &ledger,
            &org2_admin(),
            "RegisterHost",
            host("org2.h2", "org2.c2", "GB", &["CompanyA"], resources(8, 8192, 100, 100)),
        );
        assert_eq!(marked(&host), [in_org2("host/org2.h2")]);
        let registered = run(
            &ledger,
            &org2_user(),
            "RegisterVm",
            json!({ "id": "vm2", "cloudId": "org2.c2", "hostId": "org2.h2", "requirements": resources(1, 1024, 10, 10),
                    "imageHash": HASH, "regulation": { "countries": "All", "organizations": "All" } }),
        );
        let vm: VirtualMachine = serde_json::from_str(registered.result.as_ref().expect("registered")).unwrap();
        let stay = state::residency("vm2", &vm.since, &vm.residency_tx_id);
        let mut expected = vec![in_org2("vm/vm2"), in_org2(&stay)];
        expected.sort();
        assert_eq!(marked(&registered), expected);
    }

    #[test]
    fn a_migration_and_the_stay_it_opens_are_marked_by_the_operator_whoever_confirms() {
        let ledger = set_up();
        let indicated = run(&ledger, &org1_user(), "Migrate", migrate_to("org2.b-gb-1"));
        let m: Migration = serde_json::from_str(indicated.result.as_ref().expect("indicated")).unwrap();
        assert_eq!(marked(&indicated), [in_org1(&state::migration(&m.id))]);
        // Org2 confirms; the new stay bills org1, so org1's peers endorse its creation.
        let confirmed = run(&ledger, &org2_user(), "ConfirmMigration", confirmation(&m, HASH, KEYED));
        assert!(confirmed.result.is_ok(), "{:?}", confirmed.result);
        let stay = state::residency("vm1", &confirmed_at(&confirmed), &confirmed_tx(&ledger));
        assert_eq!(marked(&confirmed), [in_org1(&stay)]);
        assert!(confirmed.endorsers.contains("Org1MSP") && confirmed.endorsers.contains("Org2MSP"));
        // A rejection opens no stay: nothing to mark.
        let back = run(&ledger, &org1_user(), "Migrate", migrate_to("org1.a-gb-2"));
        let back: Migration = serde_json::from_str(back.result.as_ref().expect("indicated")).unwrap();
        let rejected = run(&ledger, &org1_user(), "ConfirmMigration", confirmation(&back, OTHER_HASH, KEYED));
        assert!(rejected.result.is_ok(), "{:?}", rejected.result);
        assert!(marked(&rejected).is_empty());
    }

    fn confirmed_at(outcome: &Outcome) -> Timestamp {
        let m: Migration = serde_json::from_str(outcome.result.as_ref().expect("confirmed")).unwrap();
        m.closed_at.expect("closed")
    }

    fn confirmed_tx(ledger: &MemoryLedger) -> String {
        vm(ledger).residency_tx_id
    }

    #[test]
    fn a_local_migration_is_marked_on_its_local_chain() {
        let federation = std::rc::Rc::new(set_up());
        let local = MemoryLedger::on_channel(&crate::vocabulary::local_channel("org1"));
        local.link(federation.clone());
        local.advance(Duration::hours(1));
        let indicated = run(&local, &org1_user(), "Migrate", migrate_to("org1.a-gb-2"));
        let m: Migration = serde_json::from_str(indicated.result.as_ref().expect("indicated")).unwrap();
        assert_eq!(marked(&indicated), [in_org1(&state::migration(&m.id))]);
        ok::<Migration>(&local, &org1_user(), "GetMigration", json!({ "id": m.id }));
    }
}

mod forged_creations {
    use super::*;

    /// What org2 and org3 commit together, without org1's peers: records in org1's name.
    fn forge_in_org1s_name(ledger: &MemoryLedger) -> (String, String) {
        let now = ledger.now();
        let cloud = Cloud {
            id: "org1.forged".into(),
            name: "Forged".into(),
            msp_id: "Org1MSP".into(),
            prices: None,
            registered_at: now,
        };
        let host = Host {
            id: "org1.forged-host".into(),
            cloud_id: "org1.cloud-a".into(),
            country: "GB".into(),
            organizations: vec!["CompanyA".into()],
            capacity: Resources { cpu_cores: 64, memory_mib: 65_536, network_mbps: 100, io_mbps: 100 },
            updated_at: now,
        };
        let mut forged_vm = vm(ledger);
        forged_vm.id = "vm-forged".into();
        // 30 days of 64 cores of org1's vm1 on org2's host: 46 080 core-hours billed to org1.
        let from = now - Duration::days(30);
        let stay = Residency {
            vm_id: "vm1".into(),
            operator_cloud_id: "org1.cloud-a".into(),
            cloud_id: "org2.cloud-b".into(),
            host_id: "org2.b-gb-1".into(),
            from,
            to: None,
            requirements: Resources { cpu_cores: 64, memory_mib: 1024, network_mbps: 1, io_mbps: 1 },
            opened_by_tx: "forged".into(),
        };
        let stay_key = state::residency("vm1", &from, "forged");
        let mut migration: Migration = {
            let real = ok::<Migration>(ledger, &org1_user(), "Migrate", migrate_to("org2.b-gb-1"));
            ok::<Migration>(ledger, &org1_user(), "CancelMigration", json!({ "migrationId": real.id }));
            real
        };
        migration.id = "forged-migration".into();
        let migration_key = state::migration(&migration.id);
        ledger.forge(&[
            (&state::cloud(&cloud.id), json_of(&cloud)),
            (&state::host(&host.id), json_of(&host)),
            (&state::host_by_cloud(&host.cloud_id, &host.id), state::host(&host.id)),
            (&state::vm(&forged_vm.id), json_of(&forged_vm)),
            (&stay_key, json_of(&stay)),
            (&state::open_residency_by_cloud("org2.cloud-b", "vm1", "forged"), stay_key.clone()),
            (&migration_key, json_of(&migration)),
            (&state::migration_by_vm("vm1", &now, &migration.id), migration_key.clone()),
            (&state::migration_by_cloud("org2.cloud-b", &now, &migration.id), migration_key.clone()),
        ]);
        (stay_key, migration_key)
    }

    #[test]
    fn asked_for_by_id_they_are_refused_as_unanchored() {
        let ledger = set_up();
        forge_in_org1s_name(&ledger);
        not_found_unanchored(&ledger, "GetCloud", "org1.forged");
        not_found_unanchored(&ledger, "GetHost", "org1.forged-host");
        not_found_unanchored(&ledger, "GetVm", "vm-forged");
        not_found_unanchored(&ledger, "GetMigration", "forged-migration");
        // Nor can a transaction act on them.
        refused(&ledger, &org1_user(), "Migrate", migrate_to("org1.forged-host"), "NOT_FOUND");
        refused(
            &ledger,
            &org2_user(),
            "ConfirmMigration",
            json!({ "migrationId": "forged-migration", "observedHash": HASH, "transferKey": TRANSFER_KEY, "keyedDigest": KEYED }),
            "NOT_FOUND",
        );
        // The honest records beside them still answer.
        ok::<Cloud>(&ledger, &org2_user(), "GetCloud", json!({ "id": "org1.cloud-a" }));
        ok::<VirtualMachine>(&ledger, &org2_user(), "GetVm", json!({ "id": "vm1" }));
    }

    #[test]
    fn a_forged_stay_bills_nothing_and_the_report_says_so() {
        let ledger = set_up();
        let (stay_key, _) = forge_in_org1s_name(&ledger);
        let now = ledger.now();
        let period =
            json!({ "cloudId": "org2.cloud-b", "from": now - Duration::days(31), "to": now + Duration::days(1) });
        let report: UsageReport = ok(&ledger, &org2_user(), "Usage", period);
        assert!(report.vms.is_empty(), "the forged stay was billed: {report:?}");
        assert_eq!(report.total_cost, Some(0), "cloud-b has prices: it bills nothing");
        assert_eq!(report.unanchored, std::slice::from_ref(&stay_key));
        // vm1's own stay on org1's cloud is billed as before.
        let own: UsageReport = ok(
            &ledger,
            &org1_user(),
            "Usage",
            json!({ "cloudId": "org1.cloud-a", "from": now - Duration::days(31), "to": now + Duration::days(1) }),
        );
        assert_eq!(own.vms.len(), 1);
        assert!(own.unanchored.is_empty());
    }

    #[test]
    fn histories_and_listings_leave_them_out_and_name_them() {
        let ledger = set_up();
        let (stay_key, migration_key) = forge_in_org1s_name(&ledger);
        let history: VmHistory = ok(&ledger, &org2_user(), "VmHistory", json!({ "id": "vm1" }));
        assert!(history.migrations.iter().all(|m| m.id != "forged-migration"));
        assert!(history.residencies.iter().all(|r| r.opened_by_tx != "forged"));
        assert_eq!(history.residencies.len(), 1);
        assert_eq!(history.unanchored, [migration_key.clone(), stay_key]);
        let by_vm: Page<Migration> = ok(&ledger, &org2_user(), "ListMigrations", json!({ "vmId": "vm1" }));
        assert_eq!(by_vm.items.len(), 1, "only the real (cancelled) migration: {by_vm:?}");
        assert_eq!(by_vm.unanchored, std::slice::from_ref(&migration_key));
        let by_cloud: Page<Migration> =
            ok(&ledger, &org2_user(), "ListMigrations", json!({ "cloudId": "org2.cloud-b" }));
        assert_eq!(by_cloud.unanchored, [migration_key]);
        let hosts: Page<Host> = ok(&ledger, &org2_user(), "ListHosts", json!({ "cloudId": "org1.cloud-a" }));
        assert_eq!(hosts.items.iter().map(|h| h.id.as_str()).collect::<Vec<_>>(), ["org1.a-gb-2", "org1.a-jp-1"]);
        assert_eq!(hosts.unanchored, ["host/org1.forged-host"]);
        let report: PlacementReport =
            ok(&ledger, &org1_user(), "PlaceVm", json!({ "vmId": "vm1", "strategy": "best-fit" }));
        assert!(report.candidates.iter().all(|c| c.host_id != "org1.forged-host"));
        let forged = report.excluded.iter().find(|e| e.host_id == "org1.forged-host").expect("excluded");
        assert_eq!(forged.reasons, [Exclusion::Unanchored]);
    }

    #[test]
    fn a_marker_in_the_forgers_own_collection_does_not_make_a_record_the_victims() {
        let ledger = set_up();
        // Org2 may mark what it likes in its own collection: a cloud named in org1's namespace
        // but bound to Org2MSP, and a stay of org1's VM, stay not org1's.
        let cloud = Cloud {
            id: "org1.squat".into(),
            name: "Squat".into(),
            msp_id: "Org2MSP".into(),
            prices: None,
            registered_at: ledger.now(),
        };
        ledger.forge(&[(&state::cloud(&cloud.id), json_of(&cloud))]);
        ledger.forge_private(&collection("Org2MSP"), &state::cloud(&cloud.id), MARK);
        not_found_unanchored(&ledger, "GetCloud", "org1.squat");
        let (stay_key, _) = forge_in_org1s_name(&ledger);
        ledger.forge_private(&collection("Org2MSP"), &stay_key, MARK);
        let now = ledger.now();
        let period = json!({ "cloudId": "org2.cloud-b", "from": now - Duration::days(31), "to": now });
        let report: UsageReport = ok(&ledger, &org2_user(), "Usage", period);
        assert!(report.vms.is_empty());
        assert_eq!(report.unanchored, [stay_key]);
    }

    #[test]
    fn a_marker_value_other_than_the_mark_is_no_marker() {
        let ledger = set_up();
        let (stay_key, _) = forge_in_org1s_name(&ledger);
        ledger.forge_private(&collection("Org1MSP"), &stay_key, "something else");
        let now = ledger.now();
        let period = json!({ "cloudId": "org2.cloud-b", "from": now - Duration::days(31), "to": now });
        let report: UsageReport = ok(&ledger, &org2_user(), "Usage", period);
        assert_eq!(report.unanchored, std::slice::from_ref(&stay_key));
        // With org1's own mark (what only org1's peers could endorse), the stay would count.
        ledger.forge_private(&collection("Org1MSP"), &stay_key, MARK);
        let report: UsageReport = ok(
            &ledger,
            &org2_user(),
            "Usage",
            json!({ "cloudId": "org2.cloud-b", "from": now - Duration::days(31), "to": now }),
        );
        assert_eq!(report.vms.len(), 1);
        assert!(report.unanchored.is_empty());
    }

    #[test]
    fn a_member_that_left_keeps_its_past() {
        let ledger = set_up();
        let m: Migration = ok(&ledger, &org1_user(), "Migrate", migrate_to("org2.b-gb-1"));
        ok::<Migration>(&ledger, &org2_user(), "ConfirmMigration", confirmation(&m, HASH, KEYED));
        ledger.leave("Org1MSP");
        // Its implicit collection is gone, so its markers cannot be read: its records answer as they stood.
        ok::<Cloud>(&ledger, &org2_user(), "GetCloud", json!({ "id": "org1.cloud-a" }));
        ok::<Migration>(&ledger, &org2_user(), "GetMigration", json!({ "id": m.id }));
        let history: VmHistory = ok(&ledger, &org2_user(), "VmHistory", json!({ "id": "vm1" }));
        assert_eq!((history.migrations.len(), history.residencies.len()), (1, 2));
        assert!(history.unanchored.is_empty());
    }
}
