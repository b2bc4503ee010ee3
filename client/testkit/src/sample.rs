//! Records as the contract answers them (JSON), for stand-in replies.

use serde_json::{Value, json};

pub const HASH_A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
/// The sample migration's transfer key, and the SHA-256 its Indication records.
pub const TRANSFER_KEY: &str = "1111111111111111111111111111111111111111111111111111111111111111";
pub const TRANSFER_KEY_HASH: &str = "02d449a31fbb267c8f352e9968a79e3e5fc95c1bbeaa502fd6454ebde5a4bedc";

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
        "scope": "inter", "recordedHash": recorded, "keyedDigest": HASH_A, "transferKeyHash": TRANSFER_KEY_HASH,
        "requirements": {"cpuCores": 2, "memoryMib": 2048, "networkMbps": 100, "ioMbps": 50},
        "sourceStayTxId": "c".repeat(64), "status": status, "indicatedAt": "2025-01-01T00:00:00Z", "expiresAt": "2025-01-01T01:00:00Z",
        "requestedBy": {"mspId": "Org1MSP", "id": "x509::CN=Admin@org1"}
    });
    if let Some(observed) = observed {
        m["observedHash"] = json!(observed);
        m["closedAt"] = json!("2025-01-01T00:00:05Z");
        m["closedBy"] = json!({"mspId": "Org2MSP", "id": "x509::CN=User1@org2"});
    }
    m
}

/// A local chain's Leave or Arrival (`crossing`: `leave`, `arrival`) of the sample migration `id`.
pub fn local_record(id: &str, crossing: &str) -> Value {
    let (cloud, host) = if crossing == "leave" { ("cloud-a", "host-a1") } else { ("cloud-b", "host-b1") };
    json!({
        "migrationId": id, "crossing": crossing, "vmId": "vm-1", "cloudId": cloud, "hostId": host,
        "requirements": {"cpuCores": 2, "memoryMib": 2048, "networkMbps": 100, "ioMbps": 50},
        "confirmedAt": "2025-01-01T00:00:05Z", "recordedAt": "2025-01-01T00:00:06Z",
        "recordedBy": {"mspId": "Org1MSP", "id": "x509::CN=relay@org1"}
    })
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
        "capacity": {"cpuCores": 8, "memoryMib": 8192, "networkMbps": 1000, "ioMbps": 1000},
        "updatedAt": "2025-01-01T00:00:00Z"
    })
}

/// A cloud as `GetCloud` answers it: `cloud-a…` is Org1MSP's, the others Org2MSP's (as [`host`]).
pub fn cloud(id: &str) -> Value {
    let msp_id = if id.starts_with("cloud-a") { "Org1MSP" } else { "Org2MSP" };
    json!({"id": id, "name": id, "mspId": msp_id, "registeredAt": "2025-01-01T00:00:00Z"})
}
