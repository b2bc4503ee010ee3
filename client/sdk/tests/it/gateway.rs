//! The gateway → network → contract layer and the typed API: what goes on the wire, and what comes back.

use std::time::Duration;

use serde_json::json;
use vmledger_client::{Error, Gateway, Step, VmLedger};
use vmledger_contract::model::{MigrationStatus, VmStatus};
use vmledger_contract::msg;

use vmledger_testkit::sample;
use vmledger_testkit::{Reply, StandIn};

fn ledger(url: &str) -> VmLedger {
    let gateway =
        Gateway::builder(url).api_key("secret-key").poll_interval(Duration::from_millis(5)).connect().expect("gateway");
    VmLedger::new(gateway.network("federation").contract("vmledger"))
}

#[tokio::test]
async fn submit_posts_one_json_argument_with_the_key_and_reads_the_commit() {
    let stand_in = StandIn::always(Reply::committed(sample::migration("indicated", sample::HASH_A, None))).await;
    let input = msg::Migrate {
        vm_id: "vm-1".into(),
        destination_host_id: "host-b1".into(),
        image_hash: Some(sample::HASH_A.into()),
        ..msg::Migrate::default()
    };
    let committed = ledger(&stand_in.url).migrate(&input).await.expect("committed");

    let seen = &stand_in.seen()[0];
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.path, "/channels/federation/chaincodes/vmledger/transactions/Migrate");
    assert_eq!(seen.header("x-api-key"), Some("secret-key"));
    assert_eq!(seen.argument(), json!({"vmId": "vm-1", "destinationHostId": "host-b1", "imageHash": sample::HASH_A}));
    assert_eq!(committed.block_number, 7);
    assert_eq!(committed.validation_code, "VALID");
    assert_eq!(committed.timings.commit_ms, 2003);
    assert_eq!(committed.result.status, MigrationStatus::Indicated);
    assert_eq!(committed.result.destination.host_id, "host-b1");
}

#[tokio::test]
async fn evaluate_posts_to_queries_and_decodes_the_model() {
    let stand_in = StandIn::always(Reply::result(sample::vm("vm-1"))).await;
    let vm = ledger(&stand_in.url).get_vm("vm-1").await.expect("vm");
    assert_eq!(stand_in.seen()[0].path, "/channels/federation/chaincodes/vmledger/queries/GetVm");
    assert_eq!(stand_in.seen()[0].argument(), json!({"id": "vm-1"}));
    assert_eq!(vm.status, VmStatus::Running);
    assert_eq!(vm.requirements.memory_mib, 2048);
}

#[tokio::test]
async fn an_unexpected_result_shape_is_a_codec_error() {
    let stand_in = StandIn::always(Reply::result(json!({"id": 5}))).await;
    let err = ledger(&stand_in.url).get_vm("vm-1").await.expect_err("bad shape");
    assert!(matches!(&err, Error::Codec { function, .. } if function == "GetVm"), "{err:?}");
}

#[tokio::test]
async fn submit_async_returns_at_202_and_waits_for_the_commit_status() {
    let stand_in = StandIn::start(move |seen, i| match (seen.method.as_str(), i) {
        ("POST", _) => {
            let id = seen.tx_id();
            Reply::json(202, json!({"txId": id, "statusUrl": format!("/channels/federation/transactions/{id}")}))
        }
        (_, 1 | 2) => Reply::json(
            200,
            json!({"txId": seen.last_segment(), "status": "pending", "result": null, "timings": {"endorseMs": 9, "submitMs": 3}}),
        ),
        _ => Reply::json(
            200,
            json!({"txId": seen.last_segment(), "status": "committed", "blockNumber": 9, "validationCode": "VALID",
            "result": sample::migration("indicated", sample::HASH_A, None),
            "timings": {"endorseMs": 9, "submitMs": 3, "commitMs": 1990, "totalMs": 2002}}),
        ),
    })
    .await;
    let input = msg::Migrate {
        vm_id: "vm-1".into(),
        destination_host_id: "host-b1".into(),
        image_hash: Some(sample::HASH_A.into()),
        ..msg::Migrate::default()
    };
    let pending = ledger(&stand_in.url).migrate_async_with_key(&input, "key-1").await.expect("accepted");
    assert_eq!(pending.migration_id(), vmledger_testkit::tx_id_of("key-1"), "known from the key");
    assert_eq!(stand_in.seen()[0].header("prefer"), Some("respond-async"));
    assert_eq!(stand_in.seen()[0].header("idempotency-key"), Some("key-1"));
    let committed = pending.wait().await.expect("committed");
    assert_eq!(committed.block_number, 9);
    assert_eq!(committed.timings.commit_ms, 1990);
    assert_eq!(committed.result.id, sample::migration_id());
    let polls = stand_in.seen().iter().filter(|s| s.method == "GET").count();
    assert_eq!(polls, 3);
    assert_eq!(
        stand_in.seen()[1].path,
        format!("/channels/federation/transactions/{}", vmledger_testkit::tx_id_of("key-1"))
    );
}

#[tokio::test]
async fn an_async_commit_that_failed_is_an_invalid_transaction_at_the_commit_step() {
    let stand_in = StandIn::start(move |seen, _| match seen.method.as_str() {
        "POST" => Reply::json(202, json!({"txId": seen.tx_id(), "statusUrl": "/x"})),
        _ => Reply::json(
            200,
            json!({"txId": seen.last_segment(), "status": "failed", "blockNumber": 4, "validationCode": "MVCC_READ_CONFLICT",
            "timings": {"endorseMs": 1, "submitMs": 1, "commitMs": 5},
            "error": {"status": 409, "code": "MVCC_READ_CONFLICT", "detail": "stale", "txId": seen.last_segment(), "retryable": true,
                      "details": {"blockNumber": 4, "validationCode": "MVCC_READ_CONFLICT"}}}),
        ),
    })
    .await;
    let input = msg::Migrate {
        vm_id: "vm-1".into(),
        destination_host_id: "host-b1".into(),
        image_hash: Some(sample::HASH_A.into()),
        ..msg::Migrate::default()
    };
    let pending = ledger(&stand_in.url).migrate_async_with_key(&input, "key-2").await.expect("accepted");
    let err = pending.wait().await.expect_err("invalid");
    assert!(
        matches!(&err, Error::Invalid { validation_code, block_number: Some(4), .. } if validation_code == "MVCC_READ_CONFLICT"),
        "{err:?}"
    );
    assert_eq!(err.tx_id(), Some(vmledger_testkit::tx_id_of("key-2").as_str()));
}

#[tokio::test]
async fn an_async_endorsement_refusal_comes_back_at_once() {
    let stand_in = StandIn::always(Reply::problem(422, sample::problem(422, "POLICY_DENIED",
        json!({"vmId": "vm-1", "hostId": "h", "reasons": [{"rule": "country", "country": "US", "allowed": ["JP"]}]})))).await;
    let input = msg::Migrate {
        vm_id: "vm-1".into(),
        destination_host_id: "h".into(),
        image_hash: Some(sample::HASH_A.into()),
        ..msg::Migrate::default()
    };
    let err = ledger(&stand_in.url).migrate_async(&input).await.expect_err("denied");
    assert!(matches!(&err, Error::Contract { step: Step::Endorse, .. }), "{err:?}");
}

#[tokio::test]
async fn listings_follow_bookmarks() {
    let stand_in = StandIn::start(|seen, _| {
        let bookmark = seen.argument().get("bookmark").cloned();
        if bookmark.is_none() {
            Reply::result(json!({"items": [sample::migration("confirmed", sample::HASH_A, Some(sample::HASH_A))], "bookmark": "p2"}))
        } else {
            Reply::result(json!({"items": [sample::migration("indicated", sample::HASH_A, None)]}))
        }
    })
    .await;
    let input = msg::ListMigrations { vm_id: Some("vm-1".into()), page_size: Some(1), ..Default::default() };
    let all = ledger(&stand_in.url).all_migrations(&input).await.expect("all");
    assert_eq!(all.len(), 2);
    assert_eq!(stand_in.seen()[1].argument()["bookmark"], "p2");
}

#[tokio::test]
async fn the_channel_height_is_read_from_info() {
    let stand_in =
        StandIn::always(Reply::json(200, json!({"height": 42, "currentBlockHash": "ab", "previousBlockHash": "cd"})))
            .await;
    let gateway = Gateway::builder(&stand_in.url).connect().expect("gateway");
    let info = gateway.network("federation").info().await.expect("info");
    assert_eq!(info.height, 42);
    assert_eq!(stand_in.seen()[0].path, "/channels/federation/info");
    assert_eq!(stand_in.seen()[0].header("x-api-key"), None);
}
