//! Records as the contract answers them (JSON), for stand-in replies.

use serde_json::{Value, json};

pub const HASH_A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

pub fn migration_id() -> String {
    "b".repeat(64)
}

pub fn vm(id: &str) -> Value {
    json!({
        "id": id, "cloudId": "cloud-a", "hostId": "host-a1",
        "requirements": {"cpuCores": 2, "memoryMib": 2048, "networkMbps": 100, "ioMbps": 50},
        "imageHash": HASH_A, "regulation": {"countries": ["JP", "GB"], "organizations": "All"},
        "status": "running", "since": "2025-01-01T00:00:00Z", "residencyTxId": "c".repeat(64)
    })
}

/// A migration of `vm-1` to `host-b1`, with `status` and, when closed, the observed hash.
pub fn migration(status: &str, recorded: &str, observed: Option<&str>) -> Value {
    let mut m = json!({
        "id": migration_id(), "vmId": "vm-1",
        "source": {"cloudId": "cloud-a", "hostId": "host-a1"},
        "destination": {"cloudId": "cloud-b", "hostId": "host-b1"},
        "scope": "inter", "recordedHash": recorded,
        "requirements": {"cpuCores": 2, "memoryMib": 2048, "networkMbps": 100, "ioMbps": 50},
        "status": status, "indicatedAt": "2025-01-01T00:00:00Z",
        "requestedBy": {"mspId": "Org1MSP", "id": "x509::CN=Admin@org1"}
    });
    if let Some(observed) = observed {
        m["observedHash"] = json!(observed);
        m["closedAt"] = json!("2025-01-01T00:00:05Z");
        m["closedBy"] = json!({"mspId": "Org2MSP", "id": "x509::CN=User1@org2"});
    }
    m
}

pub fn problem(status: u16, code: &str, details: Value) -> Value {
    json!({
        "type": format!("urn:vmledger:problem:{code}"), "title": "t", "status": status,
        "detail": format!("{code} happened"), "code": code, "details": details, "txId": "d".repeat(64)
    })
}

/// A host of `cloud` (`host-a…` hosts are cloud-a's, the others cloud-b's, in these samples).
pub fn host(id: &str) -> Value {
    let cloud = if id.starts_with("host-a") { "cloud-a" } else { "cloud-b" };
    json!({
        "id": id, "cloudId": cloud, "country": "JP", "organizations": ["CompanyA"],
        "capacity": {"cpuCores": 8, "memoryMib": 8192, "networkMbps": 1000, "ioMbps": 1000}
    })
}
