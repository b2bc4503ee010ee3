//! `-o table|json|yaml|csv|ndjson`: every format parses with a real parser and says the same thing.

use serde_json::json;
use vmledger_testkit::{Reply, StandIn, sample};

use crate::cli::{against, code, stderr, stdout};

/// A migration of a VM whose id holds a comma and a double quote.
fn awkward_migration() -> serde_json::Value {
    let mut m = sample::migration("confirmed", sample::HASH_A, Some(sample::HASH_A));
    m["vmId"] = json!("vm, \"gold\"");
    m
}

/// A ledger whose migration listing has two pages of one migration each.
async fn two_pages() -> StandIn {
    StandIn::start(|seen, _| {
        if seen.argument().get("bookmark").is_none() {
            Reply::result(json!({"items": [awkward_migration()], "bookmark": "p2"}))
        } else {
            Reply::result(json!({"items": [sample::migration("indicated", sample::HASH_A, None)]}))
        }
    })
    .await
}

fn csv_rows(text: &str) -> (csv::StringRecord, Vec<csv::StringRecord>) {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header = reader.headers().expect("header").clone();
    let rows = reader.records().map(|r| r.expect("row")).collect();
    (header, rows)
}

#[tokio::test]
async fn history_as_csv_follows_every_page_and_quotes_what_needs_it() {
    let stand_in = two_pages().await;
    let output = against(&stand_in.url, &["-o", "csv", "history", "cloud", "cloud-b", "--all"]).await;
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let (header, rows) = csv_rows(&stdout(&output));
    assert_eq!(header.get(0), Some("indicated_at"));
    let vm = header.iter().position(|h| h == "vm_id").expect("vm_id column");
    let status = header.iter().position(|h| h == "status").expect("status column");
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].get(vm), Some("vm, \"gold\""));
    assert_eq!(rows[0].get(status), Some("confirmed"));
    assert_eq!(rows[1].get(status), Some("indicated"));
    assert_eq!(stand_in.seen().len(), 2, "both pages read");
}

#[tokio::test]
async fn history_as_ndjson_is_one_migration_per_line_and_says_where_to_go_on() {
    let stand_in = two_pages().await;
    let output = against(&stand_in.url, &["-o", "ndjson", "history", "cloud", "cloud-b"]).await;
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let lines: Vec<serde_json::Value> =
        stdout(&output).lines().map(|l| serde_json::from_str(l).expect("one JSON document per line")).collect();
    assert_eq!(lines.len(), 1, "one page without --all");
    assert_eq!(lines[0]["vmId"], "vm, \"gold\"");
    assert!(stderr(&output).contains("--bookmark p2"), "{}", stderr(&output));
}

#[tokio::test]
async fn a_record_as_yaml_json_and_csv() {
    let stand_in = StandIn::always(Reply::result(sample::vm("vm-1"))).await;
    let yaml = against(&stand_in.url, &["-o", "yaml", "vm", "show", "vm-1"]).await;
    let value: serde_json::Value = serde_yaml_ng::from_str(&stdout(&yaml)).expect("YAML");
    assert_eq!(value["requirements"]["memoryMib"], 2048);

    let json = against(&stand_in.url, &["vm", "show", "vm-1", "--output", "json"]).await;
    let value: serde_json::Value = serde_json::from_str(&stdout(&json)).expect("JSON");
    assert_eq!(value["id"], "vm-1");

    let csv = against(&stand_in.url, &["-o", "csv", "vm", "show", "vm-1"]).await;
    let (header, rows) = csv_rows(&stdout(&csv));
    assert_eq!(rows.len(), 1);
    let cell = |name: &str| rows[0].get(header.iter().position(|h| h == name).expect(name)).expect(name).to_owned();
    assert_eq!(cell("requirements.memoryMib"), "2048");
    assert_eq!(cell("regulation.countries"), "JP;GB");
}

#[tokio::test]
async fn usage_as_csv_has_a_row_per_vm_and_a_total_and_format_still_works() {
    let report = json!({
        "cloudId": "cloud-b", "from": "2025-01-01T00:00:00Z", "to": "2025-01-02T00:00:00Z", "currency": "EUR",
        "vms": [{"vmId": "vm,1", "operatorCloudId": "cloud-a", "durationMs": 1_800_000, "cpuCoreHours": 1.0,
                 "memoryGibHours": 2.0, "networkMbpsHours": 50.0, "ioMbpsHours": 25.0, "cost": 1_500_000,
                 "residencies": []}],
        "totalCost": 1_500_000
    });
    let stand_in = StandIn::always(Reply::result(report)).await;
    let output = against(&stand_in.url, &["usage", "--cloud", "cloud-b", "--from", "-1d", "--format", "csv"]).await;
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(
        stdout(&output),
        "vm,operator,hours,cpu_core_hours,memory_gib_hours,network_mbps_hours,io_mbps_hours,cost,currency\n\
         \"vm,1\",cloud-a,0.500000,1.000000,2.000000,50.000000,25.000000,1.500000,EUR\n\
         TOTAL,,,,,,,1.500000,EUR\n"
    );
}

#[tokio::test]
async fn events_stream_as_csv_rows() {
    let event = |id: &str, name: &str, block: u64, payload: serde_json::Value| {
        let data = json!({"blockNumber": block, "txId": "t".repeat(64), "eventName": name, "payload": payload});
        format!("id: {id}\nevent: {name}\ndata: {data}\n\n")
    };
    let body = format!(
        "{}{}",
        event("5:0", "MigrationIndicated", 5, sample::migration("indicated", sample::HASH_A, None)),
        event("6:0", "VmRegistered", 6, sample::vm("vm-2"))
    );
    let stand_in = StandIn::always(Reply::text(200, "text/event-stream", &body)).await;
    let output = against(&stand_in.url, &["-o", "csv", "events", "--from-block", "5", "--count", "2"]).await;
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let (header, rows) = csv_rows(&stdout(&output));
    assert_eq!(header.iter().collect::<Vec<_>>(), ["id", "block", "tx_id", "event", "subject", "vm_id"]);
    assert_eq!(rows[0].get(3), Some("MigrationIndicated"));
    assert_eq!(rows[0].get(5), Some("vm-1"));
    assert_eq!(rows[1].get(4), Some("vm-2"));
}
