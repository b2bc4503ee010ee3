//! `vmledger apply` against a stand-in ledger that keeps what it is given.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::json;
use vmledger_testkit::{Reply, StandIn, sample};

use crate::cli::{against, code, stderr, stdout};

/// A ledger of records by id: `Register*` stores (refusing duplicates), `Get*` reads or answers
/// NOT_FOUND, `UpdateHost` and `SetRegulation` change what is stored.
async fn keeping_ledger() -> (StandIn, Arc<Mutex<Vec<String>>>) {
    let records: Arc<Mutex<HashMap<String, serde_json::Value>>> = Arc::default();
    let transactions: Arc<Mutex<Vec<String>>> = Arc::default();
    let written = transactions.clone();
    let stand_in = StandIn::start(move |seen, _| {
        let argument = seen.argument();
        let mut records = records.lock().expect("lock");
        let function = seen.function().to_owned();
        let not_found = |kind: &str, id: &str| {
            Reply::problem(404, sample::problem(404, "NOT_FOUND", json!({"kind": kind, "id": id})))
        };
        match function.as_str() {
            "GetCloud" | "GetHost" | "GetVm" => {
                let id = argument["id"].as_str().expect("id").to_owned();
                match records.get(&id) {
                    Some(record) => Reply::result(record.clone()),
                    None => not_found(&function[3..].to_lowercase(), &id),
                }
            }
            "RegisterCloud" | "RegisterHost" | "RegisterVm" | "UpdateHost" | "SetRegulation" => {
                written.lock().expect("lock").push(function.clone());
                let mut record = argument.clone();
                let id =
                    record.get("id").or_else(|| record.get("vmId")).and_then(|v| v.as_str()).expect("id").to_owned();
                match function.as_str() {
                    "RegisterCloud" => {
                        record["mspId"] = json!("Org1MSP");
                        record["registeredAt"] = json!("2025-01-01T00:00:00Z");
                    }
                    "RegisterHost" => {
                        record["updatedAt"] = json!("2025-01-01T00:00:00Z");
                    }
                    "RegisterVm" => {
                        record["status"] = json!("running");
                        record["since"] = json!("2025-01-01T00:00:00Z");
                        record["residencyTxId"] = json!("r");
                    }
                    "UpdateHost" => {
                        let mut host = records[&id].clone();
                        for key in ["country", "organizations", "capacity"] {
                            host[key] = argument[key].clone();
                        }
                        record = host;
                    }
                    "SetRegulation" => {
                        let mut vm = records[&id].clone();
                        vm["regulation"] = argument["regulation"].clone();
                        record = vm;
                    }
                    _ => {}
                }
                records.insert(id, record.clone());
                Reply::committed(record)
            }
            other => panic!("unexpected call {other}"),
        }
    })
    .await;
    (stand_in, transactions)
}

fn federation(cpu: u64, countries: serde_json::Value) -> serde_json::Value {
    let resources = |cpu: u64| json!({"cpuCores": cpu, "memoryMib": 1024, "networkMbps": 100, "ioMbps": 100});
    json!({
        "description": "ignored",
        "clouds": [{"id": "cloud-x", "name": "Cloud X"}],
        "hosts": [{"id": "x-1", "cloudId": "cloud-x", "country": "JP", "organizations": ["A"], "capacity": resources(cpu)}],
        "vms": [{"id": "vm-x", "cloudId": "cloud-x", "hostId": "x-1", "requirements": resources(1),
                 "imageHash": sample::HASH_A, "regulation": {"countries": countries, "organizations": "All"}}]
    })
}

#[tokio::test]
async fn applying_twice_changes_nothing_the_second_time_and_differences_are_updated() {
    let (stand_in, transactions) = keeping_ledger().await;
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("federation.json");
    let path = file.to_str().expect("path");
    std::fs::write(&file, federation(8, json!("All")).to_string()).expect("write");

    let first = against(&stand_in.url, &["-o", "json", "apply", "-f", path]).await;
    assert_eq!(code(&first), 0, "{}", stderr(&first));
    let plan: serde_json::Value = serde_json::from_str(&stdout(&first)).expect("json");
    let actions: Vec<&str> =
        plan.as_array().expect("changes").iter().map(|c| c["action"].as_str().expect("a")).collect();
    assert_eq!(actions, ["create", "create", "create"]);
    assert_eq!(*transactions.lock().expect("lock"), ["RegisterCloud", "RegisterHost", "RegisterVm"]);

    let second = against(&stand_in.url, &["-o", "csv", "apply", "-f", path]).await;
    assert_eq!(code(&second), 0, "{}", stderr(&second));
    assert_eq!(stdout(&second).matches(",unchanged,").count(), 3, "{}", stdout(&second));
    assert_eq!(transactions.lock().expect("lock").len(), 3, "the second run wrote nothing");

    std::fs::write(&file, federation(16, json!(["JP"])).to_string()).expect("write");
    let dry = against(&stand_in.url, &["apply", "-f", path, "--dry-run"]).await;
    assert_eq!(code(&dry), 0, "{}", stderr(&dry));
    assert!(stdout(&dry).contains("2 to update"), "{}", stdout(&dry));
    assert_eq!(transactions.lock().expect("lock").len(), 3, "a dry run writes nothing");
    let third = against(&stand_in.url, &["apply", "-f", path]).await;
    assert_eq!(code(&third), 0, "{}", stderr(&third));
    assert_eq!(transactions.lock().expect("lock")[3..], ["UpdateHost", "SetRegulation"]);
}

#[tokio::test]
async fn what_the_contract_cannot_change_is_a_conflict_and_exits_8() {
    let (stand_in, transactions) = keeping_ledger().await;
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("federation.json");
    let path = file.to_str().expect("path");
    std::fs::write(&file, federation(8, json!("All")).to_string()).expect("write");
    assert_eq!(code(&against(&stand_in.url, &["apply", "-f", path]).await), 0);

    let mut renamed = federation(8, json!("All"));
    renamed["clouds"][0]["name"] = json!("Cloud X, renamed");
    std::fs::write(&file, renamed.to_string()).expect("write");
    let output = against(&stand_in.url, &["apply", "-f", path]).await;
    assert_eq!(code(&output), 8, "{}", stderr(&output));
    assert!(stdout(&output).contains("conflict") && stdout(&output).contains("name"), "{}", stdout(&output));
    assert_eq!(transactions.lock().expect("lock").len(), 3);
}
