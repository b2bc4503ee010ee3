//! The residency policy and capacity: a migration that breaks a rule is refused, every reason is
//! given, nothing is written and nothing is sent.

use vmledger_contract::model::VmStatus;
use vmledger_e2e::{Image, Scenario, block_on, exit, unique};

/// `migrate check` then `migrate run` to `host`: both exit 3; returns the check's violations.
fn denied(s: &Scenario, host: &str) -> serde_json::Value {
    let tmp = tempfile::tempdir().expect("tmp");
    let image = Image::make(tmp.path(), &unique("image"), 1 << 20);
    let vm = s.given_a_vm(&image);
    let check = s
        .cli_a("operator")
        .args(["--json", "migrate", "check", "--vm", &vm, "--to-host", host])
        .run()
        .expect(exit::DENIED)
        .json();
    assert_eq!(check["permitted"], false);

    let landing = tmp.path().join("landing");
    let run = s.migrate_through_folder(&vm, host, &image, &landing, &s.org_b).arg("--json").run().expect(exit::DENIED);
    assert!(!landing.exists() || std::fs::read_dir(&landing).expect("dir").next().is_none(), "nothing was sent");
    assert_eq!(run.json()["code"], check["violations"][0]["code"]);

    let unchanged = block_on(s.ledger_a().get_vm(&vm)).expect("vm");
    assert_eq!(unchanged.host_id, s.host_a);
    assert_eq!(unchanged.status, VmStatus::Running);
    assert_eq!(unchanged.pending_migration_id, None);
    check["violations"].clone()
}

#[test]
#[ignore = "end-to-end: needs a running network"]
fn a_host_in_a_forbidden_country_is_denied() {
    let s = Scenario::given_two_clouds();
    let violations = denied(&s, &s.host_b_us);
    assert_eq!(violations[0]["code"], "POLICY_DENIED");
    assert_eq!(violations[0]["details"]["reasons"][0]["rule"], "country");
    assert_eq!(violations[0]["details"]["reasons"][0]["country"], "US");
}

#[test]
#[ignore = "end-to-end: needs a running network"]
fn a_host_managed_by_a_forbidden_organisation_is_denied() {
    let s = Scenario::given_two_clouds();
    let violations = denied(&s, &s.host_b_other_org);
    assert_eq!(violations[0]["code"], "POLICY_DENIED");
    assert_eq!(violations[0]["details"]["reasons"][0]["rule"], "organization");
    assert_eq!(violations[0]["details"]["reasons"][0]["organization"], "CompanyC");
}

#[test]
#[ignore = "end-to-end: needs a running network"]
fn a_host_without_room_is_denied() {
    let s = Scenario::given_two_clouds();
    let violations = denied(&s, &s.host_b_tiny);
    assert_eq!(violations[0]["code"], "CAPACITY_EXCEEDED");
    let shortfall = &violations[0]["details"]["shortfalls"][0];
    assert_eq!(
        (shortfall["resource"].as_str(), shortfall["requested"].as_u64(), shortfall["free"].as_u64()),
        (Some("cpuCores"), Some(2), Some(1))
    );
}
