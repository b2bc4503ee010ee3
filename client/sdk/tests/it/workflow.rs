//! The migrate-run workflow through the SDK alone, as an orchestrator would run it: the operator's
//! ledger and an in-process destination agent against a stand-in proxy that keeps one migration.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use sha2::Digest;
use vmledger_client::agent::Agent;
use vmledger_client::workflow::migrate::{Destination, MigrateRun, Observer, RunError, Stage, TransferMode};
use vmledger_client::{Chains, Gateway, VmLedger};
use vmledger_contract::model::MigrationStatus;
use vmledger_testkit::{Reply, StandIn, nowhere, sample};

/// A stand-in proxy with the federation and org1's local chain. The VM is on host-a1 (cloud-a);
/// host-a2 is in cloud-a too, host-b1 in cloud-b. `Migrate` is accepted (202) on whichever channel
/// it is sent to, commits with the transfer key's hash it was given, and is then found there only;
/// `ConfirmMigration` compares the observed hash with `recorded` as the contract does; org1's relay
/// writes Leave on `local-org1` (its event).
async fn ledger(recorded: String) -> StandIn {
    // The migration's id is the Indication's transaction id, which follows from the run's key.
    let id = vmledger_testkit::tx_id_of(RUN_KEY);
    let indicated_on: Arc<Mutex<Option<String>>> = Arc::default();
    let indicated = Arc::new(Mutex::new(sample::migration("indicated", &recorded, None)));
    StandIn::start(move |seen, _| {
        let channel = seen.path.split('/').nth(2).unwrap_or_default().to_owned();
        let on_its_chain = indicated_on.lock().expect("lock").as_deref() == Some(channel.as_str());
        let not_found =
            || Reply::problem(404, sample::problem(404, "NOT_FOUND", json!({"kind": "migration", "id": id})));
        match (seen.method.as_str(), seen.function()) {
            ("POST", "Migrate") => {
                *indicated_on.lock().expect("lock") = Some(channel);
                let (key_hash, to_host) =
                    (seen.argument()["transferKeyHash"].clone(), seen.argument()["destinationHostId"].clone());
                let mut indicated = indicated.lock().expect("lock");
                indicated["transferKeyHash"] = key_hash;
                indicated["destination"] = sample::host(to_host.as_str().expect("destinationHostId"))
                    .as_object()
                    .map(|h| json!({"cloudId": h["cloudId"], "hostId": h["id"]}))
                    .expect("host");
                Reply::json(202, json!({"txId": id, "statusUrl": "/x"}))
            }
            ("GET", "info") => Reply::json(200, json!({"height": 3})),
            ("GET", "events") => {
                let data = json!({"blockNumber": 3, "txId": "e".repeat(64), "eventName": "VmLeft",
                                  "payload": sample::local_record(&id, "leave")});
                Reply::text(200, "text/event-stream", &format!("id: 3:0\nevent: VmLeft\ndata: {data}\n\n"))
            }
            ("GET", _) => Reply::json(
                200,
                json!({"txId": id, "status": "committed", "blockNumber": 5, "validationCode": "VALID",
                       "result": indicated.lock().expect("lock").clone(),
                       "timings": {"endorseMs": 9, "submitMs": 3, "commitMs": 60, "totalMs": 72}}),
            ),
            ("POST", "GetVm") => Reply::result(sample::vm("vm-1")),
            ("POST", "GetCloud") => Reply::result(sample::cloud(seen.argument()["id"].as_str().expect("id"))),
            ("POST", "GetHost") => {
                let host = seen.argument()["id"].as_str().expect("id").to_owned();
                let cloud = if host.starts_with("host-a") { "cloud-a" } else { "cloud-b" };
                Reply::result(json!({"id": host, "cloudId": cloud, "country": "JP", "organizations": ["A"],
                    "capacity": {"cpuCores": 8, "memoryMib": 8192, "networkMbps": 1000, "ioMbps": 1000},
                    "updatedAt": "2025-01-01T00:00:00Z"}))
            }
            ("POST", "GetMigration") if on_its_chain => Reply::result(indicated.lock().expect("lock").clone()),
            ("POST", "GetMigration") => not_found(),
            ("POST", "ConfirmMigration") if on_its_chain => {
                let observed = seen.argument()["observedHash"].as_str().expect("observedHash").to_owned();
                let status = if observed == recorded { "confirmed" } else { "rejected" };
                Reply::committed(sample::migration(status, &recorded, Some(&observed)))
            }
            other => panic!("unexpected call {other:?} on {}", seen.path),
        }
    })
    .await
}

/// org1's chains through the stand-in: the federation and `local-org1`.
fn chains(url: &str) -> Chains {
    let gateway = Gateway::builder(url).api_key("k").connect().expect("gateway");
    Chains::new(
        VmLedger::new(gateway.network("federation").contract("vmledger")),
        Some(VmLedger::new(gateway.network("local-org1").contract("vmledger"))),
    )
}

/// Starts an in-process agent of `msp_id` confirming through `url`; returns its base URL.
async fn agent(url: &str, msp_id: &str, dir: &std::path::Path) -> String {
    let agent = Agent::new(chains(url), msp_id, dir, Duration::from_secs(5), Arc::new(())).expect("agent");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(agent.serve(listener, std::future::pending()));
    format!("http://{address}")
}

fn run_to(to_host: &str, image: std::path::PathBuf, url: String) -> MigrateRun {
    MigrateRun {
        vm_id: "vm-1".into(),
        to_host: to_host.into(),
        image,
        destination: Destination::Agent { url },
        rate_limit: None,
        relay_timeout: Duration::from_secs(5),
        idempotency_key: Some(RUN_KEY.into()),
    }
}

const RUN_KEY: &str = "run-1";

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
    let url = agent(&proxy.url, "Org2MSP", &tmp.path().join("landing")).await;
    let recorder = Arc::new(Recorder::default());

    let report = run_to("host-b1", image, url).run(&chains(&proxy.url), recorder.clone()).await.expect("run");

    assert_eq!(report.status, MigrationStatus::Confirmed);
    let id = vmledger_testkit::tx_id_of(RUN_KEY);
    assert_eq!(report.migration_id, id, "the id follows from the run's key");
    assert_eq!(report.recorded_hash, report.observed_hash);
    assert_eq!(report.image_bytes, 2_000_000);
    assert_eq!(report.transfer.mode, TransferMode::Agent);
    assert_eq!(report.transfer.bytes, 2_000_000);
    assert_eq!(report.confirm.block_number, 7);
    // Against a stand-in every ledger step may take under a millisecond: 0 % is possible.
    assert!((0.0..=100.0).contains(&report.ledger_share_percent), "{report:?}");
    assert_eq!(report.chain, "federation", "from cloud-a to cloud-b: the federation");
    let leave = report.leave.as_ref().expect("the relay's Leave was seen");
    assert_eq!((leave.channel.as_str(), leave.block_number), ("local-org1", 3));
    assert!(report.arrival.is_none(), "the destination's local chain is not this caller's to read");
    let delay = report.migration_delay_ms.expect("BASICS' delay, up to the Leave");
    assert!(delay >= leave.after_confirm_ms && delay <= report.total_ms, "{report:?}");
    let stages = recorder.0.lock().expect("lock").clone();
    let indicated = format!("indicated {}", &id[..4]);
    assert_eq!(
        stages,
        ["+Hash", "-Hash", "+Indicate", "-Indicate", indicated.as_str(), "+Transfer", "-Transfer", "+Relay", "-Relay"]
    );
    assert!(tmp.path().join("landing").join(format!("{id}.img")).exists());
    let sent: Vec<String> = proxy.seen().iter().filter(|s| s.method == "POST").map(|s| s.path.clone()).collect();
    assert!(sent.contains(&"/channels/federation/chaincodes/vmledger/transactions/Migrate".to_owned()), "{sent:?}");
    assert!(!sent.iter().any(|p| p.contains("local-org1/chaincodes/vmledger/transactions")), "{sent:?}");
}

#[tokio::test]
async fn a_migration_inside_a_cloud_goes_to_the_local_chain_only() {
    let tmp = tempfile::tempdir().expect("tmp");
    let data = vec![7u8; 100_000];
    let image = tmp.path().join("vm.raw");
    std::fs::write(&image, &data).expect("image");
    let proxy = ledger(hex::encode(sha2::Sha256::digest(&data))).await;
    let url = agent(&proxy.url, "Org1MSP", &tmp.path().join("landing")).await;

    let report = run_to("host-a2", image, url).run(&chains(&proxy.url), Arc::new(())).await.expect("run");

    assert_eq!(report.status, MigrationStatus::Confirmed);
    assert_eq!(report.chain, "local-org1");
    assert!(report.leave.is_none() && report.arrival.is_none(), "no Leave or Arrival inside a cloud");
    assert!(report.migration_delay_ms.is_some(), "the Confirmation ends a local migration");
    let written: Vec<String> = proxy
        .seen()
        .iter()
        .filter(|s| s.method == "POST" && s.path.contains("/transactions/"))
        .map(|s| s.path.clone())
        .collect();
    assert_eq!(
        written,
        [
            "/channels/local-org1/chaincodes/vmledger/transactions/Migrate",
            "/channels/local-org1/chaincodes/vmledger/transactions/ConfirmMigration"
        ],
        "the Indication and the Confirmation on org1's local chain, nothing on the federation"
    );
}

#[tokio::test]
async fn a_dead_agent_is_found_before_anything_is_recorded() {
    let tmp = tempfile::tempdir().expect("tmp");
    let image = tmp.path().join("vm.raw");
    std::fs::write(&image, b"image").expect("image");
    let proxy = StandIn::always(Reply::json(500, json!({}))).await;
    let err = run_to("host-b1", image, nowhere()).run(&chains(&proxy.url), Arc::new(())).await.expect_err("no agent");
    assert!(matches!(err, RunError::AgentNotReady { .. }), "{err:?}");
    assert!(proxy.seen().is_empty(), "nothing was sent to the ledger");
}
