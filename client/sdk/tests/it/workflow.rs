//! The migrate-run workflow through the SDK alone, as an orchestrator would run it: the operator's
//! ledger and an in-process destination agent against a stand-in proxy that keeps one migration.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use sha2::Digest;
use vmledger_client::agent::Agent;
use vmledger_client::workflow::migrate::{Destination, MigrateRun, Observer, RunError, Stage, TransferMode};
use vmledger_client::{Gateway, VmLedger};
use vmledger_contract::model::MigrationStatus;
use vmledger_testkit::{Reply, StandIn, nowhere, sample};

/// A stand-in ledger on which `Migrate` is accepted (202), commits, and `ConfirmMigration`
/// compares the observed hash with `recorded` as the contract does.
async fn ledger(recorded: String) -> StandIn {
    let id = sample::migration_id();
    StandIn::start(move |seen, _| match (seen.method.as_str(), seen.function()) {
        ("POST", "Migrate") => Reply::json(202, json!({"txId": id, "statusUrl": "/x"})),
        ("GET", _) => Reply::json(
            200,
            json!({"txId": id, "status": "committed", "blockNumber": 5, "validationCode": "VALID",
                   "result": sample::migration("indicated", &recorded, None),
                   "timings": {"endorseMs": 9, "submitMs": 3, "commitMs": 60, "totalMs": 72}}),
        ),
        ("POST", "GetMigration") => Reply::result(sample::migration("indicated", &recorded, None)),
        ("POST", "ConfirmMigration") => {
            let observed = seen.argument()["observedHash"].as_str().expect("observedHash").to_owned();
            let status = if observed == recorded { "confirmed" } else { "rejected" };
            Reply::committed(sample::migration(status, &recorded, Some(&observed)))
        }
        other => panic!("unexpected call {other:?}"),
    })
    .await
}

fn contract(url: &str) -> VmLedger {
    let gateway = Gateway::builder(url).api_key("k").connect().expect("gateway");
    VmLedger::new(gateway.network("federation").contract("vmledger"))
}

/// Starts an in-process agent confirming through `url`; returns its base URL.
async fn agent(url: &str, dir: &std::path::Path) -> String {
    let agent = Agent::new(contract(url), dir, Duration::from_secs(5), Arc::new(())).expect("agent");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(agent.serve(listener, std::future::pending()));
    format!("http://{address}")
}

/// Records the stages in the order they start and end.
#[derive(Default)]
struct Recorder(Mutex<Vec<String>>);

impl Observer for Recorder {
    fn started(&self, stage: Stage, _bytes: Option<u64>) {
        self.0.lock().expect("lock").push(format!("+{stage:?}"));
    }
    fn finished(&self, stage: Stage) {
        self.0.lock().expect("lock").push(format!("-{stage:?}"));
    }
    fn indicated(&self, migration_id: &str, _accepted_ms: u64) {
        self.0.lock().expect("lock").push(format!("indicated {}", &migration_id[..4]));
    }
}

#[tokio::test]
async fn a_whole_migration_to_an_agent_is_confirmed_and_reported() {
    let tmp = tempfile::tempdir().expect("tmp");
    let data: Vec<u8> = (0..2_000_000u32).map(|i| (i % 253) as u8).collect();
    let image = tmp.path().join("vm.raw");
    std::fs::write(&image, &data).expect("image");
    let proxy = ledger(hex::encode(sha2::Sha256::digest(&data))).await;
    let url = agent(&proxy.url, &tmp.path().join("landing")).await;
    let recorder = Arc::new(Recorder::default());

    let run = MigrateRun {
        vm_id: "vm-1".into(),
        to_host: "host-b1".into(),
        image,
        destination: Destination::Agent { url },
        rate_limit: None,
    };
    let report = run.run(&contract(&proxy.url), recorder.clone()).await.expect("run");

    assert_eq!(report.status, MigrationStatus::Confirmed);
    assert_eq!(report.migration_id, sample::migration_id());
    assert_eq!(report.recorded_hash, report.observed_hash);
    assert_eq!(report.image_bytes, 2_000_000);
    assert_eq!(report.transfer.mode, TransferMode::Agent);
    assert_eq!(report.transfer.bytes, 2_000_000);
    assert_eq!(report.confirm.block_number, 7);
    // The stand-in answers within a millisecond, so the ledger's share may round to 0 %.
    assert!((0.0..=100.0).contains(&report.ledger_share_percent), "{report:?}");
    let stages = recorder.0.lock().expect("lock").clone();
    assert_eq!(stages, ["+Hash", "-Hash", "+Indicate", "-Indicate", "indicated bbbb", "+Transfer", "-Transfer"]);
    assert!(tmp.path().join("landing").join(format!("{}.img", sample::migration_id())).exists());
}

#[tokio::test]
async fn a_dead_agent_is_found_before_anything_is_recorded() {
    let tmp = tempfile::tempdir().expect("tmp");
    let image = tmp.path().join("vm.raw");
    std::fs::write(&image, b"image").expect("image");
    let proxy = StandIn::always(Reply::json(500, json!({}))).await;
    let run = MigrateRun {
        vm_id: "vm-1".into(),
        to_host: "host-b1".into(),
        image,
        destination: Destination::Agent { url: nowhere() },
        rate_limit: None,
    };
    let err = run.run(&contract(&proxy.url), Arc::new(())).await.expect_err("no agent");
    assert!(matches!(err, RunError::AgentNotReady { .. }), "{err:?}");
    assert!(proxy.seen().is_empty(), "nothing was sent to the ledger");
}
