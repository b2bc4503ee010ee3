//! Host availability, placement and reputation on `set_up()`'s federation: vm1 (JP or GB, CompanyA or
//! CompanyB) on org1.a-jp-1; eligible elsewhere: org1.a-gb-2, org2.b-gb-1 and the small
//! org2.b-gb-small (an exact fit); org2.b-de-1 (country) and org2.b-jp-c (organisation) are not.

use super::*;
use crate::placement::{Availability, Exclusion, HostState, PlacementReport};
use crate::reputation::Reputation;

fn set_availability(host: &str, availability: &str) -> Value {
    json!({ "hostId": host, "availability": availability })
}

fn place(ledger: &MemoryLedger, input: Value) -> PlacementReport {
    ok(ledger, &org1_user(), "PlaceVm", input)
}

fn ranked(report: &PlacementReport) -> Vec<&str> {
    report.candidates.iter().map(|c| c.host_id.as_str()).collect()
}

fn reasons<'a>(report: &'a PlacementReport, host: &str) -> &'a [Exclusion] {
    &report.excluded.iter().find(|e| e.host_id == host).unwrap_or_else(|| panic!("{host} not excluded")).reasons
}

/// An Indication of vm1 to `host`, withdrawn at once: it moves the round-robin cursor only.
fn indicate_and_cancel(ledger: &MemoryLedger, host: &str) {
    let m: Migration = ok(ledger, &org1_user(), "Migrate", migrate_to(host));
    ok::<Migration>(ledger, &org1_user(), "CancelMigration", json!({ "migrationId": m.id }));
}

mod availability {
    use super::*;

    #[test]
    fn the_hosts_manager_records_each_change_once_with_its_time() {
        let ledger = set_up();
        let fresh: HostState = ok(&ledger, &org1_user(), "GetHostState", json!({ "id": "org2.b-gb-1" }));
        assert_eq!((fresh.availability, fresh.since), (Availability::Up, None));

        let down: HostState =
            ok(&ledger, &org2_admin(), "SetHostAvailability", set_availability("org2.b-gb-1", "down"));
        assert_eq!((down.availability, down.since), (Availability::Down, Some(ledger.now() - Duration::seconds(1))));
        assert_eq!(last_event(&ledger).0, "HostAvailabilityChanged");
        let again =
            refused(&ledger, &org2_admin(), "SetHostAvailability", set_availability("org2.b-gb-1", "down"), "CONFLICT");
        assert!(again.to_string().contains("already down"), "{again}");

        ledger.advance(Duration::minutes(10));
        ok::<HostState>(&ledger, &org2_admin(), "SetHostAvailability", set_availability("org2.b-gb-1", "up"));
        let log: Page<HostState> =
            ok(&ledger, &org1_user(), "ListAvailabilityChanges", json!({ "hostId": "org2.b-gb-1" }));
        let trail: Vec<_> = log.items.iter().map(|s| s.availability).collect();
        assert_eq!(trail, [Availability::Down, Availability::Up]);
        let down_for = log.items[1].since.unwrap() - log.items[0].since.unwrap();
        assert!(down_for >= Duration::minutes(10), "the log says how long it was down: {down_for}");
    }

    #[test]
    fn another_member_cannot_set_my_host_down_and_nothing_changes() {
        let ledger = set_up();
        for stranger in [org1_admin(), org1_user()] {
            let error = refused(
                &ledger,
                &stranger,
                "SetHostAvailability",
                set_availability("org2.b-gb-1", "down"),
                "UNAUTHORIZED",
            );
            assert!(error.to_string().contains("Org1MSP"), "{error}");
        }
        // The member's own operator is not its manager either.
        refused(&ledger, &org2_user(), "SetHostAvailability", set_availability("org2.b-gb-1", "down"), "UNAUTHORIZED");
        let state: HostState = ok(&ledger, &org1_user(), "GetHostState", json!({ "id": "org2.b-gb-1" }));
        assert_eq!(state.availability, Availability::Up);
    }

    #[test]
    fn refuses_bad_values_and_unknown_hosts() {
        let ledger = set_up();
        let mut too_busy = set_availability("org2.b-gb-1", "up");
        too_busy["utilizationPercent"] = json!(101);
        refused(&ledger, &org2_admin(), "SetHostAvailability", too_busy, "INVALID_ARGUMENT");
        refused(
            &ledger,
            &org2_admin(),
            "SetHostAvailability",
            set_availability("org2.b-gb-1", "asleep"),
            "INVALID_ARGUMENT",
        );
        refused(&ledger, &org2_admin(), "SetHostAvailability", set_availability("org2.nowhere", "down"), "NOT_FOUND");
    }

    #[test]
    fn a_utilisation_change_is_a_change_and_keeps_the_availabilitys_time() {
        let ledger = set_up();
        let mut busy = set_availability("org2.b-gb-1", "draining");
        busy["utilizationPercent"] = json!(80);
        let first: HostState = ok(&ledger, &org2_admin(), "SetHostAvailability", busy.clone());
        refused(&ledger, &org2_admin(), "SetHostAvailability", busy.clone(), "CONFLICT");
        busy["utilizationPercent"] = json!(40);
        let second: HostState = ok(&ledger, &org2_admin(), "SetHostAvailability", busy);
        assert_eq!((second.utilization_percent, second.since), (Some(40), first.since));
    }

    #[test]
    fn a_down_or_draining_host_refuses_an_indication_naming_the_rule() {
        let ledger = set_up();
        for availability in ["down", "draining"] {
            ok::<HostState>(
                &ledger,
                &org2_admin(),
                "SetHostAvailability",
                set_availability("org2.b-gb-1", availability),
            );
            let error = refused(&ledger, &org1_user(), "Migrate", migrate_to("org2.b-gb-1"), "HOST_UNAVAILABLE");
            let text = error.to_string();
            assert!(text.contains(availability) && text.contains("host availability rule"), "{text}");
        }
        ok::<HostState>(&ledger, &org2_admin(), "SetHostAvailability", set_availability("org2.b-gb-1", "up"));
        ok::<Migration>(&ledger, &org1_user(), "Migrate", migrate_to("org2.b-gb-1"));
    }

    #[test]
    fn a_down_or_draining_host_refuses_a_new_vm_naming_the_host_and_its_availability() {
        let ledger = set_up();
        let mut vm2 = vm1();
        vm2["id"] = json!("vm2");
        for (wire, availability) in [("down", Availability::Down), ("draining", Availability::Draining)] {
            ok::<HostState>(&ledger, &org1_admin(), "SetHostAvailability", set_availability("org1.a-jp-1", wire));
            let since = Some(ledger.now() - Duration::seconds(1));
            let error = refused(&ledger, &org1_user(), "RegisterVm", vm2.clone(), "HOST_UNAVAILABLE");
            assert_eq!(
                error,
                crate::ContractError::HostUnavailable { host_id: "org1.a-jp-1".into(), availability, since },
                "typed: the host, its availability and since when"
            );
            assert!(error.to_string().contains(&format!("host `org1.a-jp-1` is {wire} since")), "{error}");
        }
        ok::<HostState>(&ledger, &org1_admin(), "SetHostAvailability", set_availability("org1.a-jp-1", "up"));
        ok::<VirtualMachine>(&ledger, &org1_user(), "RegisterVm", vm2);
    }

    #[test]
    fn a_draining_host_still_takes_what_is_already_on_its_way() {
        let ledger = set_up();
        let m: Migration = ok(&ledger, &org1_user(), "Migrate", migrate_to("org2.b-gb-1"));
        ok::<HostState>(&ledger, &org2_admin(), "SetHostAvailability", set_availability("org2.b-gb-1", "draining"));
        let confirmed: Migration = ok(&ledger, &org2_user(), "ConfirmMigration", confirmation(&m, HASH, KEYED));
        assert_eq!(confirmed.status, MigrationStatus::Confirmed);
    }

    #[test]
    fn only_the_hosts_member_must_endorse_its_state() {
        let ledger = set_up();
        ok::<HostState>(&ledger, &org2_admin(), "SetHostAvailability", set_availability("org2.b-gb-1", "down"));
        assert_eq!(ledger.endorsers_of(&crate::state::host_state("org2.b-gb-1")), Some(vec!["Org2MSP".to_owned()]));
    }
}

mod place_vm {
    use super::*;

    #[test]
    fn every_host_is_ranked_or_excluded_with_its_reasons() {
        let ledger = set_up();
        let report = place(&ledger, json!({ "vmId": "vm1", "strategy": "best-fit" }));
        assert_eq!(report.scanned, 6);
        assert_eq!(report.candidates.len() + report.excluded.len(), 6);
        assert_eq!(reasons(&report, "org1.a-jp-1"), [Exclusion::SameHost]);
        assert!(
            matches!(reasons(&report, "org2.b-de-1"), [Exclusion::Policy { denials }] if matches!(denials[0], crate::Denial::Country { .. }))
        );
        assert!(
            matches!(reasons(&report, "org2.b-jp-c"), [Exclusion::Policy { denials }] if matches!(denials[0], crate::Denial::Organization { .. }))
        );
        assert_eq!(ranked(&report).len(), 3);
        assert_eq!(report.candidates.iter().map(|c| c.rank).collect::<Vec<_>>(), [1, 2, 3]);
    }

    #[test]
    fn best_fit_puts_the_closest_match_first() {
        let ledger = set_up();
        let report = place(&ledger, json!({ "vmId": "vm1", "strategy": "best-fit" }));
        assert_eq!(report.candidates[0].host_id, "org2.b-gb-small", "vm1 fills its cores and memory exactly");
        assert!(report.candidates[0].score < report.candidates[1].score);
    }

    #[test]
    fn least_loaded_puts_the_emptiest_first() {
        let ledger = set_up();
        let mut busy = vm1();
        busy["id"] = json!("vm2");
        busy["hostId"] = json!("org1.a-gb-2");
        busy["requirements"] = resources(8, 1024, 10, 10);
        ok::<VirtualMachine>(&ledger, &org1_user(), "RegisterVm", busy);
        let report = place(&ledger, json!({ "vmId": "vm1", "strategy": "least-loaded" }));
        assert_eq!(ranked(&report), ["org2.b-gb-1", "org2.b-gb-small", "org1.a-gb-2"]);
        assert_eq!(report.candidates[2].score, 500_000, "half its cores are taken");
        assert_eq!(report.candidates[2].free.cpu_cores, 8);
    }

    #[test]
    fn hash_is_stable_for_a_vm_and_needs_one() {
        let ledger = set_up();
        let first = place(&ledger, json!({ "vmId": "vm1", "strategy": "hash" }));
        ledger.advance(Duration::hours(1));
        assert_eq!(ranked(&place(&ledger, json!({ "vmId": "vm1", "strategy": "hash" }))), ranked(&first));
        let mut by_digest = ranked(&first);
        by_digest.sort_by_key(|h| crate::placement::rendezvous("vm1", h));
        assert_eq!(ranked(&first), by_digest);
        let shape = json!({ "requirements": resources(1, 1024, 0, 0), "regulation": { "countries": "All", "organizations": "All" }, "strategy": "hash" });
        refused(&ledger, &org1_user(), "PlaceVm", shape, "INVALID_ARGUMENT");
    }

    #[test]
    fn round_robin_takes_each_eligible_host_in_turn_as_indications_are_recorded() {
        let ledger = set_up();
        ok::<Host>(
            &ledger,
            &org2_admin(),
            "RegisterHost",
            host("org2.b-gb-3", "org2.cloud-b", "GB", &["CompanyA"], resources(16, 65_536, 10_000, 10_000)),
        );
        // The VM's own cloud is left out by draining its other host (a move there is on the local chain).
        ok::<HostState>(&ledger, &org1_admin(), "SetHostAvailability", set_availability("org1.a-gb-2", "draining"));
        let mut picks = Vec::new();
        for _ in 0..6 {
            let report = place(&ledger, json!({ "vmId": "vm1", "strategy": "round-robin" }));
            let first = report.candidates[0].host_id.clone();
            indicate_and_cancel(&ledger, &first);
            picks.push(first);
        }
        assert_eq!(
            picks,
            ["org2.b-gb-1", "org2.b-gb-3", "org2.b-gb-small", "org2.b-gb-1", "org2.b-gb-3", "org2.b-gb-small"]
        );
        let cursor: crate::placement::Placements =
            serde_json::from_str(&ledger.value(&crate::state::placed("org2.b-gb-3")).unwrap()).unwrap();
        assert_eq!(cursor.count, 2);
        assert_eq!(ledger.endorsers_of(&crate::state::placed("org2.b-gb-3")), Some(vec!["Org2MSP".to_owned()]));
    }

    #[test]
    fn down_draining_and_full_hosts_are_left_out_naming_why() {
        let ledger = set_up();
        ok::<HostState>(&ledger, &org2_admin(), "SetHostAvailability", set_availability("org2.b-gb-1", "down"));
        ok::<HostState>(&ledger, &org2_admin(), "SetHostAvailability", set_availability("org2.b-gb-small", "draining"));
        let report = place(&ledger, json!({ "vmId": "vm1", "strategy": "least-loaded" }));
        assert_eq!(ranked(&report), ["org1.a-gb-2"]);
        assert!(matches!(reasons(&report, "org2.b-gb-1"), [Exclusion::Down { since: Some(_) }]));
        assert!(matches!(reasons(&report, "org2.b-gb-small"), [Exclusion::Draining { since: Some(_) }]));

        let big = json!({ "requirements": resources(17, 1024, 0, 0), "regulation": { "countries": "All", "organizations": "All" }, "strategy": "best-fit" });
        let report = place(&ledger, big);
        assert!(report.candidates.is_empty());
        assert!(
            matches!(reasons(&report, "org1.a-gb-2"), [Exclusion::Capacity { shortfalls }] if shortfalls[0].resource == "cpuCores")
        );
        assert_eq!(reasons(&report, "org2.b-gb-1").len(), 2, "down and too small: every reason");
    }

    #[test]
    fn a_shape_under_seed_003s_regulation_goes_only_where_it_is_allowed() {
        let ledger = set_up();
        let shape = json!({ "requirements": resources(1, 1024, 10, 10),
            "regulation": { "countries": ["JP", "GB"], "organizations": ["CompanyA", "CompanyB"] }, "strategy": "least-loaded" });
        let report = place(&ledger, shape);
        assert_eq!(
            ranked(&report),
            ["org1.a-gb-2", "org2.b-gb-1", "org2.b-gb-small", "org1.a-jp-1"],
            "vm1 loads a-jp-1"
        );
        assert_eq!(report.excluded.len(), 2);
    }

    #[test]
    fn the_scan_is_paged_and_the_list_limited() {
        let ledger = set_up();
        let first = place(&ledger, json!({ "vmId": "vm1", "strategy": "best-fit", "pageSize": 4 }));
        assert_eq!(first.scanned, 4);
        let bookmark = first.bookmark.clone().expect("more hosts");
        let rest =
            place(&ledger, json!({ "vmId": "vm1", "strategy": "best-fit", "pageSize": 4, "bookmark": bookmark }));
        assert_eq!((rest.scanned, rest.bookmark), (2, None));
        let limited = place(&ledger, json!({ "vmId": "vm1", "strategy": "best-fit", "limit": 1 }));
        assert_eq!(ranked(&limited), ["org2.b-gb-small"]);
        refused(
            &ledger,
            &org1_user(),
            "PlaceVm",
            json!({ "vmId": "vm1", "strategy": "hash", "bookmark": "vm/x" }),
            "INVALID_ARGUMENT",
        );
    }

    #[test]
    fn malformed_questions_are_refused() {
        let ledger = set_up();
        for bad in [
            json!({ "strategy": "best-fit" }),
            json!({ "vmId": "vm1", "requirements": resources(1, 1, 0, 0), "strategy": "best-fit" }),
            json!({ "vmId": "vm1", "strategy": "random" }),
            json!({ "vmId": "vm1", "strategy": "hash", "limit": 0 }),
            json!({ "vmId": "vm1", "strategy": "hash", "pageSize": 1001 }),
            json!({ "vmId": "vm1", "strategy": "hash", "minReputation": 1001 }),
        ] {
            refused(&ledger, &org1_user(), "PlaceVm", bad, "INVALID_ARGUMENT");
        }
        refused(&ledger, &org1_user(), "PlaceVm", json!({ "vmId": "vm9", "strategy": "hash" }), "NOT_FOUND");
    }

    #[test]
    fn min_reputation_leaves_out_clouds_below_it_or_without_a_record() {
        let ledger = set_up();
        let m: Migration = ok(&ledger, &org1_user(), "Migrate", migrate_to("org2.b-gb-1"));
        ok::<Migration>(&ledger, &org2_user(), "DeclineMigration", json!({ "migrationId": m.id }));
        let report = place(&ledger, json!({ "vmId": "vm1", "strategy": "best-fit", "minReputation": 500 }));
        assert!(report.candidates.is_empty());
        assert_eq!(reasons(&report, "org2.b-gb-1"), [Exclusion::Reputation { score: Some(0), min: 500 }]);
        assert_eq!(reasons(&report, "org1.a-gb-2"), [Exclusion::Reputation { score: None, min: 500 }]);
    }
}

mod reputation {
    use super::*;

    #[test]
    fn each_outcome_is_counted_on_its_side_with_its_migrations() {
        let ledger = set_up();
        let confirmed: Migration = ok(&ledger, &org1_user(), "Migrate", migrate_to("org2.b-gb-1"));
        ledger.advance(Duration::seconds(4));
        ok::<Migration>(&ledger, &org2_user(), "ConfirmMigration", confirmation(&confirmed, HASH, KEYED));
        // Back home, then a declined one and a tampered one.
        let mut back = migrate_to("org1.a-jp-1");
        back["vmId"] = json!("vm1");
        let home: Migration = ok(&ledger, &org1_user(), "Migrate", back);
        let mut confirm_home = confirmation(&home, HASH, KEYED);
        confirm_home["migrationId"] = json!(home.id);
        ok::<Migration>(&ledger, &org1_user(), "ConfirmMigration", confirm_home);
        let declined: Migration = ok(&ledger, &org1_user(), "Migrate", migrate_to("org2.b-gb-small"));
        ok::<Migration>(&ledger, &org2_user(), "DeclineMigration", json!({ "migrationId": declined.id }));
        let tampered: Migration = ok(&ledger, &org1_user(), "Migrate", migrate_to("org2.b-gb-1"));
        ok::<Migration>(&ledger, &org2_user(), "ConfirmMigration", confirmation(&tampered, OTHER_HASH, KEYED));

        let b: Reputation = ok(&ledger, &org1_user(), "GetReputation", json!({ "cloudId": "org2.cloud-b" }));
        assert_eq!(b.as_destination.confirmed.migration_ids, std::slice::from_ref(&confirmed.id));
        assert_eq!(b.as_destination.declined.migration_ids, std::slice::from_ref(&declined.id));
        assert_eq!(b.as_destination.rejected.migration_ids, std::slice::from_ref(&tampered.id));
        assert_eq!(b.as_source.confirmed.migration_ids, std::slice::from_ref(&home.id));
        assert_eq!(b.mean_confirm_ms, Some(5_000), "indicated, 4 s, then confirmed a second later");
        assert_eq!(b.score, Some(666), "2 confirmed, 1 declined");
        assert_eq!(b.migrations, 4);

        let a: Reputation = ok(&ledger, &org2_user(), "GetReputation", json!({ "cloudId": "org1.cloud-a" }));
        assert_eq!(a.as_source.rejected.count, 1);
        assert_eq!(a.as_destination.confirmed.migration_ids, [home.id]);
        assert_eq!(a.score, Some(666), "2 confirmed, 1 rejected as source");
    }

    #[test]
    fn a_period_bounds_what_is_read() {
        let ledger = set_up();
        let m: Migration = ok(&ledger, &org1_user(), "Migrate", migrate_to("org2.b-gb-1"));
        ok::<Migration>(&ledger, &org2_user(), "DeclineMigration", json!({ "migrationId": m.id }));
        ledger.advance(Duration::days(31));
        let now: Reputation = ok(&ledger, &org1_user(), "GetReputation", json!({ "cloudId": "org2.cloud-b" }));
        assert_eq!((now.migrations, now.score), (0, None), "older than the default 30 days");
        let all: Reputation = ok(
            &ledger,
            &org1_user(),
            "GetReputation",
            json!({ "cloudId": "org2.cloud-b", "from": "2025-01-01T00:00:00Z" }),
        );
        assert_eq!((all.migrations, all.score), (1, Some(0)));
        refused(
            &ledger,
            &org1_user(),
            "GetReputation",
            json!({ "cloudId": "org2.cloud-b", "from": "2030-01-01T00:00:00Z" }),
            "INVALID_ARGUMENT",
        );
        refused(&ledger, &org1_user(), "GetReputation", json!({ "cloudId": "org9.none" }), "NOT_FOUND");
    }
}
