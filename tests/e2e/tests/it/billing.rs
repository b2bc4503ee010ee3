//! The usage report over a period spanning a migration: each cloud bills the time the VM spent on
//! its hosts, and the two stays meet at the Confirmation's timestamp.

use std::time::Duration;

use chrono::{TimeDelta, Utc};
use vmledger_e2e::{Image, Scenario, block_on, exit, unique};

#[test]
#[ignore = "end-to-end: needs a running network"]
fn each_cloud_bills_its_part_of_a_period_spanning_a_migration() {
    let s = Scenario::given_two_clouds();
    let tmp = tempfile::tempdir().expect("tmp");
    let image = Image::make(tmp.path(), &unique("image"), 1 << 20);
    let period_start = (Utc::now() - TimeDelta::minutes(1)).to_rfc3339();
    let vm = s.given_a_vm(&image);
    std::thread::sleep(Duration::from_millis(1500));
    s.migrate_through_folder(&vm, &s.host_b, &image, &tmp.path().join("landing"), &s.org_b).run().expect(exit::OK);
    std::thread::sleep(Duration::from_millis(1500));

    let usage = |cloud: &str| {
        s.cli_a("operator")
            .args(["--json", "usage", "--cloud", cloud, "--from", &period_start, "--to", "+1h"])
            .run()
            .expect(exit::OK)
            .json()
    };
    let (at_a, at_b) = (usage(&s.cloud_a), usage(&s.cloud_b));
    let vm_a = at_a["vms"]
        .as_array()
        .expect("vms")
        .iter()
        .find(|v| v["vmId"] == vm.as_str())
        .expect("the VM ran on A")
        .clone();
    let vm_b = at_b["vms"]
        .as_array()
        .expect("vms")
        .iter()
        .find(|v| v["vmId"] == vm.as_str())
        .expect("the VM runs on B")
        .clone();

    // A's stay closed when B's opened: the Confirmation's timestamp.
    let left = vm_a["residencies"][0]["to"].as_str().expect("A's stay closed");
    let arrived = vm_b["residencies"][0]["from"].as_str().expect("B's stay opened");
    assert_eq!(left, arrived);
    assert!(vm_b["residencies"][0].get("to").is_none(), "B's stay is still open");
    assert!(vm_a["durationMs"].as_u64().expect("ms") >= 1500, "{vm_a}");
    assert!(vm_b["durationMs"].as_u64().expect("ms") >= 1000, "{vm_b}");
    assert_eq!(at_b["currency"], "EUR");
    assert!(vm_b["cost"].as_u64().expect("cost") > 0);
    assert_eq!(vm_b["operatorCloudId"], s.cloud_a.as_str(), "B bills A");

    // The same report as CSV and as a table.
    let csv = s
        .cli_a("operator")
        .args(["usage", "--cloud", &s.cloud_b, "--from", &period_start, "--format", "csv"])
        .run()
        .expect(exit::OK)
        .stdout;
    assert!(csv.starts_with("vm,operator,hours,"), "{csv}");
    assert!(csv.lines().any(|l| l.starts_with(&format!("{vm},{},", s.cloud_a)) && l.ends_with(",EUR")), "{csv}");
    let table = s
        .cli_a("operator")
        .args(["usage", "--cloud", &s.cloud_b, "--from", &period_start])
        .run()
        .expect(exit::OK)
        .stdout;
    assert!(table.contains(&vm) && table.contains("EUR"), "{table}");

    // The VM's history tells the same story.
    let history = block_on(s.ledger_a().vm_history(&vm)).expect("history");
    assert_eq!(history.residencies.len(), 2);
}
