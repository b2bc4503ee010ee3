//! The relay against a stand-in proxy: which federation events become Leave or Arrival on the local
//! chain, `ALREADY_EXISTS` as done, the checkpoint written and resumed from, the lag.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use vmledger_client::relay::{Checkpoint, Relay, RelayOptions, RelayStatus, serve_status, status_of};
use vmledger_client::{Gateway, VmLedger};

use vmledger_testkit::sample;
use vmledger_testkit::{Reply, StandIn};

fn sse(id: &str, name: &str, payload: Value) -> String {
    let block: u64 = id.split(':').next().and_then(|b| b.parse().ok()).expect("block");
    let data = json!({"blockNumber": block, "txId": "t".repeat(64), "eventName": name, "payload": payload});
    format!("id: {id}\nevent: {name}\ndata: {data}\n\n")
}

/// A migration `id` from `from` to `to` (clouds), with `status`.
fn migration(id: &str, from: &str, to: &str, status: &str) -> Value {
    let mut m = sample::migration(status, sample::HASH_A, Some(sample::HASH_A));
    m["id"] = json!(id);
    m["source"]["cloudId"] = json!(from);
    m["destination"]["cloudId"] = json!(to);
    m
}

fn id(n: char) -> String {
    n.to_string().repeat(64)
}

/// The federation and org1's local chain, as a proxy would answer the relay of org1 (Org1MSP, which
/// runs cloud-a): five events, of which two concern cloud-a.
async fn proxy() -> StandIn {
    StandIn::start(|seen, _| {
        let path = seen.path.as_str();
        if path.ends_with("/events") {
            if seen.header("last-event-id").is_some() {
                // Resumed: nothing new (the stream stays open and quiet).
                return Reply::text(200, "text/event-stream", ": quiet\n\n").after(Duration::from_secs(30));
            }
            assert_eq!(seen.query.as_deref(), Some("startBlock=0"), "no checkpoint yet: from the first block");
            let body = [
                sse("3:0", "MigrationIndicated", migration(&id('1'), "cloud-a", "cloud-b", "indicated")),
                sse("4:0", "MigrationConfirmed", migration(&id('1'), "cloud-a", "cloud-b", "confirmed")),
                sse("5:0", "MigrationRejected", migration(&id('2'), "cloud-a", "cloud-b", "rejected")),
                sse("6:0", "MigrationConfirmed", migration(&id('3'), "cloud-b", "cloud-a", "confirmed")),
                sse("7:0", "MigrationConfirmed", migration(&id('4'), "cloud-b", "cloud-c", "confirmed")),
            ]
            .concat();
            return Reply::text(200, "text/event-stream", &body);
        }
        match (path, seen.function()) {
            ("/channels/federation/info", _) => Reply::json(200, json!({"height": 8})),
            (p, "GetCloud") if p.starts_with("/channels/federation/") => {
                let cloud = seen.argument()["id"].as_str().expect("id").to_owned();
                let msp = match cloud.as_str() {
                    "cloud-a" => "Org1MSP",
                    "cloud-b" => "Org2MSP",
                    _ => "Org3MSP",
                };
                Reply::result(json!({"id": cloud, "name": cloud, "mspId": msp, "registeredAt": "2025-01-01T00:00:00Z"}))
            }
            ("/channels/local-org1/chaincodes/vmledger/transactions/RecordLeave", _) => Reply::committed(
                sample::local_record(seen.argument()["migrationId"].as_str().unwrap_or_default(), "leave"),
            ),
            ("/channels/local-org1/chaincodes/vmledger/transactions/RecordArrival", _) => {
                // Written before a crash: the contract refuses a second one.
                Reply::problem(
                    409,
                    sample::problem(409, "ALREADY_EXISTS", json!({"kind": "localRecord", "id": id('3')})),
                )
            }
            _ => Reply::problem(404, sample::problem(404, "ROUTE_NOT_FOUND", Value::Null)),
        }
    })
    .await
}

fn relay_of(url: &str, dir: &std::path::Path) -> Relay {
    let gateway = Gateway::builder(url).api_key("relay-key").connect().expect("gateway");
    let options = RelayOptions {
        member: "org1".into(),
        msp_id: "Org1MSP".into(),
        state_dir: dir.to_owned(),
        window: 4,
        tick: Duration::from_millis(100),
    };
    Relay::new(
        options,
        VmLedger::new(gateway.network("federation").contract("vmledger")),
        VmLedger::new(gateway.network("local-org1").contract("vmledger")),
        Arc::new(()),
    )
}

async fn until(status: &std::sync::Mutex<RelayStatus>, done: impl Fn(&RelayStatus) -> bool) -> RelayStatus {
    for _ in 0..100 {
        let now = status.lock().expect("status").clone();
        if done(&now) {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the relay never got there: {:?}", status.lock().expect("status"));
}

#[tokio::test]
async fn confirmations_of_its_clouds_become_leave_and_arrival_and_the_checkpoint_resumes() {
    let stand_in = proxy().await;
    let dir = tempfile::tempdir().expect("tmp");
    let relay = relay_of(&stand_in.url, dir.path());
    let status = relay.status();
    let stop = Arc::new(tokio::sync::Notify::new());
    let stopped = stop.clone();
    let running = tokio::spawn(relay.run(async move { stopped.notified().await }));

    let seen = until(&status, |s| s.counts.events == 5 && s.lag_blocks == Some(0)).await;
    assert_eq!((seen.counts.confirmations, seen.counts.leaves, seen.counts.already_recorded), (2, 1, 1), "{seen:?}");
    assert_eq!(seen.counts.refused, 0);
    assert_eq!(seen.federation_height, Some(8));
    stop.notify_one();
    running.await.expect("task").expect("relay");

    let records: Vec<(String, Value)> = stand_in
        .seen()
        .iter()
        .filter(|s| s.path.contains("/transactions/"))
        .map(|s| (s.path.clone(), s.argument()))
        .collect();
    assert_eq!(
        records,
        vec![
            (
                "/channels/local-org1/chaincodes/vmledger/transactions/RecordLeave".into(),
                json!({"migrationId": id('1')})
            ),
            (
                "/channels/local-org1/chaincodes/vmledger/transactions/RecordArrival".into(),
                json!({"migrationId": id('3')})
            ),
        ],
        "nothing for the rejected migration nor for one between two other clouds"
    );
    assert!(
        stand_in
            .seen()
            .iter()
            .filter(|s| s.path.contains("/transactions/"))
            .all(|s| s.header("x-api-key") == Some("relay-key"))
    );
    let checkpoint = Checkpoint::load(dir.path()).expect("checkpoint");
    assert_eq!((checkpoint.event_id.as_deref(), checkpoint.block), (Some("7:0"), Some(7)));
    assert_eq!((checkpoint.counts.leaves, checkpoint.counts.already_recorded), (1, 1));

    // A restart resumes after the checkpoint: nothing is read or recorded twice.
    let again = proxy().await;
    let relay = relay_of(&again.url, dir.path());
    let status = relay.status();
    let stop = Arc::new(tokio::sync::Notify::new());
    let stopped = stop.clone();
    let running = tokio::spawn(relay.run(async move { stopped.notified().await }));
    let resumed = until(&status, |s| s.lag_blocks == Some(0)).await;
    assert_eq!(resumed.counts.leaves, 1, "the counts are the checkpoint's");
    stop.notify_one();
    running.await.expect("task").expect("relay");
    let streams: Vec<_> = again.seen().into_iter().filter(|s| s.path.ends_with("/events")).collect();
    assert_eq!(streams[0].header("last-event-id"), Some("7:0"));
    assert!(!again.seen().iter().any(|s| s.path.contains("/transactions/")));
}

#[tokio::test]
async fn the_status_is_served_over_http() {
    let stand_in = proxy().await;
    let dir = tempfile::tempdir().expect("tmp");
    let relay = relay_of(&stand_in.url, dir.path());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let status = relay.status();
    let server = tokio::spawn(serve_status(listener, status.clone(), std::future::pending()));
    let stop = Arc::new(tokio::sync::Notify::new());
    let stopped = stop.clone();
    let running = tokio::spawn(relay.run(async move { stopped.notified().await }));
    until(&status, |s| s.counts.leaves == 1).await;

    let served = status_of(&url).await.expect("status");
    assert_eq!((served.member.as_str(), served.local_channel.as_str()), ("org1", "local-org1"));
    assert_eq!(served.counts.leaves, 1);
    let metrics = reqwest::get(format!("{url}/metrics")).await.expect("metrics").text().await.expect("text");
    assert!(metrics.contains("vmledger_relay_leaves_total{member=\"org1\"} 1"), "{metrics}");
    stop.notify_one();
    running.await.expect("task").expect("relay");
    server.abort();
}
