//! A VM moves from cloud A to cloud B: hash, Indication, transfer, destination hash, Confirmation.

use vmledger_contract::model::{MigrationStatus, VmStatus};
use vmledger_e2e::{Image, Scenario, block_on, exit, unique};

#[test]
#[ignore = "end-to-end: needs a running network"]
fn a_vm_moves_across_clouds_through_a_folder_and_the_destination_confirms() {
    let s = Scenario::given_two_clouds();
    let tmp = tempfile::tempdir().expect("tmp");
    let image = Image::make(tmp.path(), &unique("image"), 8 << 20);
    let vm = s.given_a_vm(&image);
    let landing = tmp.path().join("landing");

    let report = s
        .migrate_through_folder(&vm, &s.host_b, &image, &landing, &s.org_b)
        .arg("--json")
        .run()
        .expect(exit::OK)
        .json();

    assert_eq!(report["status"], "confirmed");
    assert_eq!(report["scope"], "inter");
    assert_eq!(report["recordedHash"], image.hash.as_str());
    assert_eq!(report["observedHash"], image.hash.as_str());
    assert_eq!(report["transfer"]["mode"], "folder");
    assert_eq!(report["transfer"]["bytes"], image.bytes);
    let share = report["ledgerSharePercent"].as_f64().expect("share");
    assert!(share > 0.0 && share < 100.0, "{report}");
    let migration_id = report["migrationId"].as_str().expect("id").to_owned();

    let landed = std::fs::read(landing.join(format!("{migration_id}.img"))).expect("the image landed");
    assert_eq!(landed.len() as u64, image.bytes);
    let ledger = s.ledger_b();
    let (moved, migration) = block_on(async { tokio::join!(ledger.get_vm(&vm), ledger.get_migration(&migration_id)) });
    let (moved, migration) = (moved.expect("vm"), migration.expect("migration"));
    assert_eq!(moved.host_id, s.host_b);
    assert_eq!(moved.status, VmStatus::Running);
    assert_eq!(moved.cloud_id, s.cloud_a, "the operator stays cloud A");
    assert_eq!(migration.status, MigrationStatus::Confirmed);
    assert_eq!(
        migration.closed_by.expect("closed by").msp_id,
        s.federation.members.member(&s.org_b).expect("b").msp_id
    );
}

#[test]
#[ignore = "end-to-end: needs a running network"]
fn a_vm_moves_through_the_destination_agent_at_a_capped_rate() {
    let s = Scenario::given_two_clouds();
    let tmp = tempfile::tempdir().expect("tmp");
    let image = Image::make(tmp.path(), &unique("image"), 8 << 20);
    let vm = s.given_a_vm(&image);
    let agent = s
        .cli_b("operator")
        .args(["--json", "agent", "--listen", "127.0.0.1:0", "--dir", tmp.path().join("agent").to_str().expect("path")])
        .start_agent();

    let report = s
        .cli_a("operator")
        .args(["--json", "migrate", "run", "--vm", &vm, "--to-host", &s.host_b, "--image", image.path_str()])
        .args(["--to-agent", &agent.url, "--rate-limit", "200Mbit"])
        .run()
        .expect(exit::OK)
        .json();

    assert_eq!(report["status"], "confirmed");
    assert_eq!(report["transfer"]["mode"], "agent");
    assert_eq!(report["transfer"]["bytes"], image.bytes);
    let rate = report["transfer"]["megabitsPerSecond"].as_f64().expect("rate");
    assert!(rate > 50.0 && rate <= 210.0, "the cap holds: {rate} Mbit/s");
    assert!(
        report["confirm"]["blockNumber"].as_u64().expect("block")
            > report["indicate"]["blockNumber"].as_u64().expect("block")
    );
    let moved = block_on(s.ledger_a().get_vm(&vm)).expect("vm");
    assert_eq!(moved.host_id, s.host_b);
}
