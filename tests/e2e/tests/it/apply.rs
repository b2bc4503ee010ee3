//! `vmledger apply -f FILE` on the real network: a federation registered from data, idempotently.

use serde_json::json;
use vmledger_e2e::{Federation, block_on, exit, unique};

#[test]
#[ignore = "end-to-end: needs a running network"]
fn applying_a_federation_twice_changes_nothing_the_second_time() {
    let fed = Federation::connect();
    let (org_a, org_b) = fed.orgs();
    let (cloud_a, cloud_b, host_a, host_b, vm) = (
        fed.owned(&org_a, "apply-a"),
        fed.owned(&org_b, "apply-b"),
        fed.owned(&org_a, "apply-a-jp"),
        fed.owned(&org_b, "apply-b-gb"),
        unique("apply-vm"),
    );
    let capacity = json!({"cpuCores": 16, "memoryMib": 65536, "networkMbps": 10000, "ioMbps": 2000});
    let spec = json!({
        "operators": {cloud_a.as_str(): {"org": org_a}, cloud_b.as_str(): {"org": org_b}},
        "clouds": [
            {"id": cloud_a, "name": "Apply A"},
            {"id": cloud_b, "name": "Apply B",
             "prices": {"currency": "EUR", "cpuCoreHour": 30000, "memoryGibHour": 4000, "networkMbpsHour": 120, "ioMbpsHour": 60}}
        ],
        "hosts": [
            {"id": host_a, "cloudId": cloud_a, "country": "JP", "organizations": ["CompanyA"], "capacity": capacity},
            {"id": host_b, "cloudId": cloud_b, "country": "GB", "organizations": ["CompanyB"], "capacity": capacity}
        ],
        "vms": [{"id": vm, "cloudId": cloud_a, "hostId": host_a,
                 "requirements": {"cpuCores": 2, "memoryMib": 2048, "networkMbps": 100, "ioMbps": 50},
                 "imageHash": "a".repeat(64), "regulation": {"countries": ["JP", "GB"], "organizations": "All"}}]
    });
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("federation.json");
    std::fs::write(&file, spec.to_string()).expect("write");
    let apply = || {
        vmledger_e2e::Cli::new()
            .args(["--network-file", fed.members_file.to_str().expect("path"), "-q", "-o", "json"])
            .args(["apply", "-f", file.to_str().expect("path")])
            .run()
            .expect(exit::OK)
            .json()
    };

    let first = apply();
    let actions = |plan: &serde_json::Value| -> Vec<String> {
        plan.as_array().expect("changes").iter().map(|c| c["action"].as_str().expect("action").to_owned()).collect()
    };
    assert_eq!(actions(&first), ["create"; 5]);
    assert!(first.as_array().expect("changes").iter().all(|c| c["txId"].is_string()));

    let second = apply();
    assert_eq!(actions(&second), ["unchanged"; 5], "{second}");
    assert!(second.as_array().expect("changes").iter().all(|c| c.get("txId").is_none()), "nothing submitted");

    // Each record was written by its cloud's operator.
    let ledger = fed.ledger(&org_b, "operator");
    let (a, b) = block_on(async { tokio::join!(ledger.get_cloud(&cloud_a), ledger.get_cloud(&cloud_b)) });
    assert_eq!(a.expect("cloud a").msp_id, fed.members.member(&org_a).expect("a").msp_id);
    assert_eq!(b.expect("cloud b").msp_id, fed.members.member(&org_b).expect("b").msp_id);
    let registered = block_on(ledger.get_vm(&vm)).expect("vm");
    assert_eq!(registered.host_id, host_a);
}
