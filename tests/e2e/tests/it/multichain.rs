//! BASICS' two kinds of chain on the real network: a migration inside a cloud is on that cloud's
//! local chain only; one between clouds has its Indication and Confirmation on the federation and
//! the relays' Leave and Arrival on the two local chains; a forged or a second Leave is refused and
//! changes nothing.

use std::time::{Duration, Instant};

use vmledger_contract::model::MigrationStatus;
use vmledger_e2e::{Image, Scenario, block_on, exit, unique};

/// The contract's code of a refusal.
fn refused(result: vmledger_client::Result<impl std::fmt::Debug>) -> String {
    match result {
        Ok(v) => panic!("expected a refusal, got {v:?}"),
        Err(e) => e.contract_error().map_or_else(|| format!("not a contract error: {e}"), |c| c.code().to_owned()),
    }
}

/// Waits until `check` holds (the relays write after the Confirmation commits).
fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "{what} did not happen within 60 s");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
#[ignore = "end-to-end: needs a running network"]
fn a_local_migration_is_on_its_clouds_local_chain_and_not_on_the_federation() {
    let s = Scenario::given_two_clouds();
    let tmp = tempfile::tempdir().expect("tmp");
    let image = Image::make(tmp.path(), &unique("image"), 1 << 20);
    let vm = s.given_a_vm(&image);
    let landing = tmp.path().join("landing");

    let report = s
        .migrate_through_folder(&vm, &s.host_a2, &image, &landing, &s.org_a)
        .arg("--json")
        .run()
        .expect(exit::OK)
        .json();

    let local_channel = s.federation.local_channel(&s.org_a);
    assert_eq!(report["status"], "confirmed");
    assert_eq!(report["scope"], "local");
    assert_eq!(report["chain"], local_channel.as_str(), "the SDK picked the cloud's own chain");
    assert!(report["leave"].is_null() && report["arrival"].is_null(), "{report}");
    let id = report["migrationId"].as_str().expect("id").to_owned();
    let local = s.federation.ledger_on(&s.org_a, "operator", &local_channel);
    let on_local = block_on(local.get_migration(&id)).expect("on the local chain");
    assert_eq!(on_local.status, MigrationStatus::Confirmed);
    assert_eq!(on_local.destination.host_id, s.host_a2);
    assert_eq!(refused(block_on(s.ledger_a().get_migration(&id))), "NOT_FOUND", "not on the federation");
    // The other member's chains know nothing of it either.
    assert_eq!(refused(block_on(s.ledger_b().get_migration(&id))), "NOT_FOUND");
}

#[test]
#[ignore = "end-to-end: needs a running network"]
fn an_inter_migration_is_on_the_federation_with_leave_and_arrival_on_the_two_local_chains() {
    let s = Scenario::given_two_clouds();
    let tmp = tempfile::tempdir().expect("tmp");
    let image = Image::make(tmp.path(), &unique("image"), 1 << 20);
    let vm = s.given_a_vm(&image);
    let landing = tmp.path().join("landing");

    let report = s
        .migrate_through_folder(&vm, &s.host_b, &image, &landing, &s.org_b)
        .arg("--json")
        .run()
        .expect(exit::OK)
        .json();

    let (local_a, local_b) = (s.federation.local_channel(&s.org_a), s.federation.local_channel(&s.org_b));
    assert_eq!(report["status"], "confirmed");
    assert_eq!(report["chain"], "federation");
    assert_eq!(report["leave"]["channel"], local_a.as_str(), "{report}");
    assert_eq!(report["arrival"]["channel"], local_b.as_str(), "{report}");
    let delay = report["migrationDelayMs"].as_u64().expect("BASICS' delay");
    assert!(delay >= report["leave"]["afterConfirmMs"].as_u64().expect("after"), "{report}");
    let id = report["migrationId"].as_str().expect("id").to_owned();

    let on_federation = block_on(s.ledger_a().get_migration(&id)).expect("Indication and Confirmation");
    assert_eq!(on_federation.status, MigrationStatus::Confirmed);
    let relay_a = s.federation.ledger_on(&s.org_a, "relay", &local_a);
    let relay_b = s.federation.ledger_on(&s.org_b, "relay", &local_b);
    block_on(relay_a.get_local_record(&id)).expect("the Leave on the source's chain");
    block_on(relay_b.get_local_record(&id)).expect("the Arrival on the destination's chain");
    assert_eq!(refused(block_on(relay_a.get_migration(&id))), "NOT_FOUND", "the migration itself is not local");

    // The trail from either side: the move on the federation, with this member's record.
    let trail = s.cli_a("operator").args(["--json", "history", "vm", &vm]).run().expect(exit::OK).json();
    let moves = trail["moves"].as_array().expect("moves");
    assert_eq!(moves.len(), 1, "{trail}");
    assert_eq!(moves[0]["chain"], "federation");
    assert!(!moves[0]["localRecord"].is_null(), "org A reads its Leave: {trail}");
}

#[test]
#[ignore = "end-to-end: needs a running network"]
fn a_forged_leave_and_a_second_leave_are_refused_and_change_nothing() {
    let s = Scenario::given_two_clouds();
    let tmp = tempfile::tempdir().expect("tmp");
    let image = Image::make(tmp.path(), &unique("image"), 1 << 20);
    let (local_a, local_b) = (s.federation.local_channel(&s.org_a), s.federation.local_channel(&s.org_b));
    let relay_a = s.federation.ledger_on(&s.org_a, "relay", &local_a);
    let relay_b = s.federation.ledger_on(&s.org_b, "relay", &local_b);

    // A confirmed inter migration (its Leave written by org A's relay) and one only indicated.
    let vm = s.given_a_vm(&image);
    let report = s
        .migrate_through_folder(&vm, &s.host_b, &image, &tmp.path().join("landing"), &s.org_b)
        .arg("--json")
        .run()
        .expect(exit::OK)
        .json();
    let confirmed = report["migrationId"].as_str().expect("id").to_owned();
    eventually("org A's Leave", || block_on(relay_a.get_local_record(&confirmed)).ok());
    let other = s.given_a_vm(&image);
    let (indicated, _) = s.indicate(&other, &s.host_b, &image);

    assert_eq!(refused(block_on(relay_a.record_leave(&"f".repeat(64)))), "NOT_FOUND", "no migration behind it");
    assert_eq!(refused(block_on(relay_a.record_leave(&indicated))), "CONFLICT", "not confirmed");
    assert_eq!(refused(block_on(relay_a.record_leave(&confirmed))), "ALREADY_EXISTS", "a second Leave");
    assert_eq!(refused(block_on(relay_b.record_leave(&confirmed))), "CONFLICT", "org B's cloud was not the source");
    assert_eq!(
        refused(block_on(relay_a.record_arrival(&confirmed))),
        "CONFLICT",
        "org A's cloud was not the destination"
    );
    // An operator is not the relay.
    let operator_a = s.federation.ledger_on(&s.org_a, "operator", &local_a);
    assert_eq!(refused(block_on(operator_a.record_leave(&confirmed))), "UNAUTHORIZED");
    // Nothing was written: still no record of the forged or the unconfirmed one (other tests' relays
    // write on these chains meanwhile, so their heights say nothing).
    assert_eq!(refused(block_on(relay_a.get_local_record(&"f".repeat(64)))), "NOT_FOUND");
    assert_eq!(refused(block_on(relay_a.get_local_record(&indicated))), "NOT_FOUND");
    assert_eq!(refused(block_on(relay_b.get_local_record(&indicated))), "NOT_FOUND");
}
