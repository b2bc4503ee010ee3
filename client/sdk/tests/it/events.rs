//! The event feed: SSE parsing, typed events, resumption after a broken connection, problems.

use serde_json::json;
use vmledger_client::{Error, Gateway, StartAt};
use vmledger_contract::model::MigrationStatus;
use vmledger_contract::vocabulary::ContractEvent;

use vmledger_testkit::sample;
use vmledger_testkit::{Reply, StandIn};

fn sse(id: &str, name: &str, block: u64, payload: serde_json::Value) -> String {
    let data = json!({"blockNumber": block, "txId": "t".repeat(64), "eventName": name, "payload": payload});
    format!("id: {id}\nevent: {name}\ndata: {data}\n\n")
}

fn contract(url: &str) -> vmledger_client::Contract {
    Gateway::builder(url).api_key("k").connect().expect("gateway").network("federation").contract("vmledger")
}

#[tokio::test]
async fn events_arrive_typed_and_a_broken_stream_resumes_after_the_last_id() {
    let stand_in = StandIn::start(|seen, i| {
        let body = if i == 0 {
            assert_eq!(seen.query.as_deref(), Some("startBlock=5"));
            format!(
                "retry: 1000\n: events from block 5\n\n{}",
                sse("5:0", "MigrationIndicated", 5, sample::migration("indicated", sample::HASH_A, None))
            )
        } else {
            assert_eq!(seen.header("last-event-id"), Some("5:0"), "resumes after the last event seen");
            sse("6:0", "MigrationConfirmed", 6, sample::migration("confirmed", sample::HASH_A, Some(sample::HASH_A)))
        };
        Reply::text(200, "text/event-stream", &body)
    })
    .await;
    let mut stream = contract(&stand_in.url).events(StartAt::Block(5));
    let first = stream.next().await.expect("first");
    assert_eq!(first.id, "5:0");
    assert!(matches!(first.decode(), Some(ContractEvent::MigrationIndicated(m)) if m.vm_id == "vm-1"));
    let second = stream.next().await.expect("second, after a reconnect");
    assert_eq!(second.block_number, 6);
    assert_eq!(second.migration().map(|m| m.status), Some(MigrationStatus::Confirmed));
    assert_eq!(stand_in.seen()[0].path, "/channels/federation/chaincodes/vmledger/events");
}

#[tokio::test]
async fn a_problem_in_the_stream_is_an_error() {
    let body = format!(
        "event: problem\ndata: {}\n\n",
        json!({"status": 503, "code": "UNAVAILABLE", "detail": "peer gone", "retryable": true})
    );
    let stand_in = StandIn::always(Reply::text(200, "text/event-stream", &body)).await;
    let err = contract(&stand_in.url).events(StartAt::Next).next().await.expect_err("problem");
    assert!(matches!(&err, Error::Network { problem, .. } if problem.code == "UNAVAILABLE"), "{err:?}");
}

#[tokio::test]
async fn a_refused_stream_is_an_auth_error() {
    let stand_in =
        StandIn::always(Reply::problem(401, json!({"status": 401, "code": "UNAUTHENTICATED", "detail": "no key"})))
            .await;
    let err = contract(&stand_in.url).events(StartAt::Next).next().await.expect_err("refused");
    assert!(matches!(&err, Error::Auth { .. }), "{err:?}");
}
