//! The live feed: a migration's Indication and Confirmation, in order, replayed from its block.

use vmledger_e2e::{Image, Scenario, exit, unique};

#[test]
#[ignore = "end-to-end: needs a running network"]
fn a_migration_shows_as_indicated_then_confirmed() {
    let s = Scenario::given_two_clouds();
    let tmp = tempfile::tempdir().expect("tmp");
    let image = Image::make(tmp.path(), &unique("image"), 1 << 20);
    let vm = s.given_a_vm(&image);
    let report = s
        .migrate_through_folder(&vm, &s.host_b, &image, &tmp.path().join("landing"), &s.org_b)
        .arg("--json")
        .run()
        .expect(exit::OK)
        .json();
    let block = report["indicate"]["blockNumber"].as_u64().expect("block").to_string();

    let feed = s
        .cli_b("operator")
        .args(["--json", "events", "--from-block", &block, "--vm", &vm, "--count", "2", "--duration", "60"])
        .run()
        .expect(exit::OK);
    let events: Vec<serde_json::Value> =
        feed.stdout.lines().map(|l| serde_json::from_str(l).expect("one event per line")).collect();
    let names: Vec<&str> = events.iter().map(|e| e["eventName"].as_str().unwrap_or_default()).collect();
    assert_eq!(names, ["MigrationIndicated", "MigrationConfirmed"], "{}", feed.stdout);
    assert_eq!(events[1]["payload"]["id"], report["migrationId"]);
}
