//! Every class of problem document the proxy answers, parsed into the SDK's typed errors.

use std::time::Duration;

use serde_json::json;
use vmledger_client::{Error, Gateway, RetryPolicy, Step, VmLedger};
use vmledger_contract::{ContractError, Denial, Kind, Shortfall};

use vmledger_testkit::sample::{self, problem};
use vmledger_testkit::{Reply, StandIn, nowhere};

fn ledger(url: &str) -> VmLedger {
    ledger_resolving_for(url, Duration::from_millis(300))
}

/// [`ledger`] with another resolve timeout.
fn ledger_resolving_for(url: &str, resolve: Duration) -> VmLedger {
    let gateway = Gateway::builder(url)
        .api_key("k")
        .retry(RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(5),
            max_retry_after: Duration::from_secs(5),
        })
        .evaluate_timeout(Duration::from_millis(500))
        .resolve_timeout(resolve)
        .connect()
        .expect("gateway");
    VmLedger::new(gateway.network("federation").contract("vmledger"))
}

fn migrate() -> vmledger_contract::msg::Migrate {
    vmledger_contract::msg::Migrate {
        vm_id: "vm-1".into(),
        destination_host_id: "host-b1".into(),
        image_hash: Some(sample::HASH_A.into()),
        ..vmledger_contract::msg::Migrate::default()
    }
}

/// The error a submitted `Migrate` gets when the stand-in answers `reply`.
async fn migrate_failing_with(reply: Reply) -> Error {
    let stand_in = StandIn::always(reply).await;
    ledger(&stand_in.url).migrate(&migrate()).await.expect_err("must fail")
}

fn contract_error(err: &Error) -> &ContractError {
    err.contract_error().unwrap_or_else(|| panic!("not a contract error: {err:?}"))
}

mod contract_rejections {
    use super::*;

    #[tokio::test]
    async fn policy_denied_carries_every_reason_and_the_tx_id() {
        let details = json!({"vmId": "vm-1", "hostId": "host-b1", "reasons": [
            {"rule": "country", "country": "US", "allowed": ["JP", "GB"]},
            {"rule": "organization", "organization": "Acme", "allowed": ["Globex"]}]});
        let err = migrate_failing_with(Reply::problem(422, problem(422, "POLICY_DENIED", details))).await;
        assert_eq!(
            *contract_error(&err),
            ContractError::PolicyDenied {
                vm_id: "vm-1".into(),
                host_id: "host-b1".into(),
                reasons: vec![
                    Denial::Country { country: "US".into(), allowed: vec!["JP".into(), "GB".into()] },
                    Denial::Organization { organization: "Acme".into(), allowed: vec!["Globex".into()] },
                ],
            }
        );
        assert!(matches!(err, Error::Contract { step: Step::Endorse, .. }), "{err:?}");
        assert_eq!(err.tx_id(), Some("d".repeat(64).as_str()));
        assert_eq!(err.code(), "POLICY_DENIED");
    }

    #[tokio::test]
    async fn capacity_exceeded_carries_the_shortfalls() {
        let details = json!({"hostId": "host-b1", "shortfalls": [
            {"resource": "cpuCores", "requested": 8, "free": 2, "capacity": 16}]});
        let err = migrate_failing_with(Reply::problem(422, problem(422, "CAPACITY_EXCEEDED", details))).await;
        assert_eq!(
            *contract_error(&err),
            ContractError::CapacityExceeded {
                host_id: "host-b1".into(),
                shortfalls: vec![Shortfall { resource: "cpuCores".into(), requested: 8, free: 2, capacity: 16 }],
            }
        );
    }

    #[tokio::test]
    async fn unauthorized_names_the_rule_and_the_caller() {
        let details = json!({"rule": "only the operator of cloud `cloud-a` (Org1MSP) may migrate its VMs", "callerMspId": "Org2MSP", "callerRole": "manager"});
        let err = migrate_failing_with(Reply::problem(403, problem(403, "UNAUTHORIZED", details))).await;
        let ContractError::Unauthorized { caller_msp_id, caller_role, .. } = contract_error(&err) else {
            panic!("{err:?}")
        };
        assert_eq!(caller_msp_id, "Org2MSP");
        assert_eq!(caller_role.as_deref(), Some("manager"));
    }

    #[tokio::test]
    async fn not_found_already_exists_conflict_and_invalid_argument() {
        let cases = [
            (
                404,
                "NOT_FOUND",
                json!({"kind": "vm", "id": "vm-9"}),
                ContractError::NotFound { kind: Kind::Vm, id: "vm-9".into(), unanchored: None },
            ),
            (
                409,
                "ALREADY_EXISTS",
                json!({"kind": "cloud", "id": "c"}),
                ContractError::AlreadyExists { kind: Kind::Cloud, id: "c".into() },
            ),
            (
                409,
                "CONFLICT",
                json!({"reason": "VM `vm-1` is already migrating"}),
                ContractError::Conflict { reason: "VM `vm-1` is already migrating".into() },
            ),
            (
                400,
                "INVALID_ARGUMENT",
                json!({"field": "imageHash", "reason": "not hex"}),
                ContractError::InvalidArgument { field: "imageHash".into(), reason: "not hex".into() },
            ),
        ];
        for (status, code, details, expected) in cases {
            let err = migrate_failing_with(Reply::problem(status, problem(status, code, details))).await;
            assert_eq!(*contract_error(&err), expected, "{code}");
        }
    }

    #[tokio::test]
    async fn a_rejected_evaluation_is_at_the_evaluate_step() {
        let stand_in =
            StandIn::always(Reply::problem(404, problem(404, "NOT_FOUND", json!({"kind": "vm", "id": "x"})))).await;
        let err = ledger(&stand_in.url).get_vm("x").await.expect_err("not found");
        assert!(matches!(err, Error::Contract { step: Step::Evaluate, .. }), "{err:?}");
        assert_eq!(stand_in.seen().len(), 1, "a contract rejection is not retried");
    }

    #[tokio::test]
    async fn a_contract_code_without_readable_details_is_a_protocol_error() {
        // An answer the SDK cannot read may hide a committed transaction: never reported as refused.
        let err =
            migrate_failing_with(Reply::problem(422, problem(422, "POLICY_DENIED", json!({"nonsense": 1})))).await;
        assert!(
            matches!(&err, Error::UnknownOutcome { source, .. } if matches!(**source, Error::Protocol { .. })),
            "{err:?}"
        );
    }
}

mod committed_invalid {
    use super::*;

    fn mvcc() -> Reply {
        Reply::problem(
            409,
            json!({
                "status": 409, "code": "MVCC_READ_CONFLICT", "detail": "stale", "txId": "e".repeat(64),
                "retryable": true, "details": {"blockNumber": 12, "validationCode": "MVCC_READ_CONFLICT"}
            }),
        )
    }

    #[tokio::test]
    async fn a_stale_read_set_is_endorsed_again() {
        let stand_in = StandIn::start(|_, i| {
            if i == 0 { mvcc() } else { Reply::committed(sample::migration("indicated", sample::HASH_A, None)) }
        })
        .await;
        let committed = ledger(&stand_in.url).migrate(&migrate()).await.expect("second attempt commits");
        assert_eq!(committed.attempts, 2);
        assert_eq!(stand_in.seen().len(), 2);
    }

    #[tokio::test]
    async fn retries_stop_at_the_policy_limit_with_the_validation_code() {
        let stand_in = StandIn::always(mvcc()).await;
        let err = ledger(&stand_in.url).migrate(&migrate()).await.expect_err("always stale");
        let Error::Invalid { tx_id, validation_code, block_number, retryable } = &err else { panic!("{err:?}") };
        assert_eq!((validation_code.as_str(), *block_number, *retryable), ("MVCC_READ_CONFLICT", Some(12), true));
        assert_eq!(tx_id, &"e".repeat(64));
        assert_eq!(stand_in.seen().len(), 3);
    }

    #[tokio::test]
    async fn other_invalid_codes_are_not_retried() {
        let stand_in = StandIn::always(Reply::problem(409, json!({
            "status": 409, "code": "ENDORSEMENT_POLICY_FAILURE", "detail": "x", "txId": "f".repeat(64), "retryable": false,
            "details": {"blockNumber": 3, "validationCode": "ENDORSEMENT_POLICY_FAILURE"}
        })))
        .await;
        let err = ledger(&stand_in.url).migrate(&migrate()).await.expect_err("invalid");
        assert!(
            matches!(&err, Error::Invalid { validation_code, retryable: false, .. } if validation_code == "ENDORSEMENT_POLICY_FAILURE"),
            "{err:?}"
        );
        assert_eq!(stand_in.seen().len(), 1);
    }
}

mod network_and_proxy {
    use super::*;

    #[tokio::test]
    async fn an_answer_that_leaves_the_outcome_unknown_is_resolved_then_reported_unknown_with_the_tx_id() {
        let stand_in = StandIn::always(Reply::problem(
            503,
            json!({"status": 503, "code": "UNAVAILABLE", "detail": "the proxy is shutting down", "retryable": true}),
        ))
        .await;
        let err = ledger(&stand_in.url).migrate(&migrate()).await.expect_err("unknown");
        let Error::UnknownOutcome { tx_id, idempotency_key, .. } = &err else { panic!("{err:?}") };
        assert_eq!(err.code(), "UNKNOWN_OUTCOME");
        assert_eq!(*tx_id, vmledger_testkit::tx_id_of(idempotency_key), "the id follows from the key");
        let seen = stand_in.seen();
        let sends: Vec<_> = seen.iter().filter(|s| s.method == "POST").collect();
        let lookups: Vec<_> = seen.iter().filter(|s| s.method == "GET").collect();
        assert!(sends.len() >= 2, "sent again: {}", sends.len());
        assert!(sends.iter().all(|s| s.header("idempotency-key") == Some(idempotency_key.as_str())), "same key");
        assert!(lookups.iter().all(|s| s.last_segment() == tx_id), "looked up by its id");
        assert!(!lookups.is_empty());
    }

    #[tokio::test]
    async fn an_outcome_not_seen_is_found_by_lookup_without_sending_again() {
        let stand_in = StandIn::start(|seen, _| match seen.method.as_str() {
            "POST" => Reply::problem(503, json!({"status": 503, "code": "TIMEOUT", "detail": "commit", "step": "commit", "retryable": true})),
            _ => Reply::json(200, json!({"txId": seen.last_segment(), "status": "committed", "blockNumber": 12,
                "validationCode": "VALID", "source": "ledger", "result": sample::migration("indicated", sample::HASH_A, None)})),
        })
        .await;
        let committed = ledger(&stand_in.url).migrate(&migrate()).await.expect("resolved: committed");
        assert_eq!(committed.block_number, 12);
        assert_eq!(stand_in.seen().iter().filter(|s| s.method == "POST").count(), 1, "not sent again");
    }

    #[tokio::test]
    async fn an_outcome_not_on_the_ledger_is_sent_again_with_the_same_key() {
        let stand_in = StandIn::start(|seen, i| match (seen.method.as_str(), i) {
            ("POST", 0) => Reply::text(502, "text/plain", "connection reset"),
            ("POST", _) => Reply::json(
                200,
                json!({"txId": seen.tx_id(), "blockNumber": 3, "validationCode": "VALID",
                "result": sample::migration("indicated", sample::HASH_A, None), "timings": {}}),
            ),
            _ => Reply::problem(404, json!({"status": 404, "code": "NOT_FOUND", "detail": "not known"})),
        })
        .await;
        let committed = ledger(&stand_in.url).migrate(&migrate()).await.expect("committed on the second send");
        let posts: Vec<_> = stand_in.seen().into_iter().filter(|s| s.method == "POST").collect();
        assert_eq!(posts.len(), 2);
        assert_eq!(posts[0].header("idempotency-key"), posts[1].header("idempotency-key"));
        assert_eq!(committed.tx_id, posts[1].tx_id());
    }

    #[tokio::test]
    async fn endorsers_unavailable_after_an_answer_lost_never_turn_a_committed_write_into_a_refusal() {
        // The first send's answer is lost (its transaction may be with the orderer); the peer then
        // goes away, so sending again is refused at the endorse step, and the ledger shows the first
        // send committed only later: the outcome is the ledger's, not the second send's refusal.
        use std::sync::atomic::{AtomicUsize, Ordering};
        let (posts, lookups) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let stand_in = StandIn::start(move |seen, _| {
            match seen.method.as_str() {
                "POST" if posts.fetch_add(1, Ordering::SeqCst) == 0 => Reply::text(502, "text/plain", "connection reset"),
                "POST" => Reply::problem(503, json!({"status": 503, "code": "UNAVAILABLE", "detail": "endorse failed", "step": "endorse", "retryable": true})),
                _ if lookups.fetch_add(1, Ordering::SeqCst) < 4 => Reply::problem(404, json!({"status": 404, "code": "NOT_FOUND", "detail": "not known"})),
                _ => Reply::json(200, json!({"txId": seen.last_segment(), "status": "committed", "blockNumber": 9,
                    "validationCode": "VALID", "source": "ledger", "result": sample::migration("indicated", sample::HASH_A, None)})),
            }
        })
        .await;
        let committed = ledger_resolving_for(&stand_in.url, Duration::from_secs(5))
            .migrate(&migrate())
            .await
            .expect("committed, as the ledger says");
        assert_eq!(committed.block_number, 9);
        assert!(
            stand_in.seen().iter().filter(|s| s.method == "POST").count() > 3,
            "more sends than the policy's attempts"
        );
    }

    #[tokio::test]
    async fn endorsers_unavailable_for_good_after_an_answer_lost_is_unknown_not_refused() {
        let stand_in = StandIn::start(|seen, i| match (seen.method.as_str(), i) {
            ("POST", 0) => Reply::text(502, "text/plain", "connection reset"),
            ("POST", _) => Reply::problem(503, json!({"status": 503, "code": "UNAVAILABLE", "detail": "endorse failed", "step": "endorse", "retryable": true})),
            _ => Reply::problem(404, json!({"status": 404, "code": "NOT_FOUND", "detail": "not known"})),
        })
        .await;
        let err = ledger(&stand_in.url).migrate(&migrate()).await.expect_err("not seen");
        assert!(matches!(&err, Error::UnknownOutcome { .. }), "{err:?}");
    }

    #[tokio::test]
    async fn unavailable_endorsers_are_waited_out_with_the_same_key_nothing_was_sent() {
        let stand_in = StandIn::start(|seen, i| {
            if i < 2 {
                Reply::problem(503, json!({"status": 503, "code": "UNAVAILABLE", "detail": "endorse failed", "step": "endorse", "retryable": true}))
            } else {
                Reply::json(200, json!({"txId": seen.tx_id(), "blockNumber": 3, "validationCode": "VALID",
                    "result": sample::migration("indicated", sample::HASH_A, None), "timings": {}}))
            }
        })
        .await;
        ledger(&stand_in.url).migrate(&migrate()).await.expect("the third attempt commits");
        let keys: Vec<_> = stand_in.seen().iter().map(|s| s.header("idempotency-key").map(str::to_owned)).collect();
        assert_eq!(keys.len(), 3);
        assert!(keys.windows(2).all(|w| w[0] == w[1]));
    }

    #[tokio::test]
    async fn endorsers_unavailable_for_good_is_a_refusal_at_the_endorse_step() {
        let stand_in = StandIn::always(Reply::problem(
            503,
            json!({"status": 503, "code": "UNAVAILABLE", "detail": "endorse failed", "step": "endorse", "retryable": true}),
        ))
        .await;
        let err = ledger(&stand_in.url).migrate(&migrate()).await.expect_err("refused");
        assert!(matches!(&err, Error::Network { step: Step::Endorse, .. }), "{err:?}");
        assert_eq!(stand_in.seen().len(), 3, "the policy's attempts");
    }

    #[tokio::test]
    async fn an_evaluation_is_repeated_while_the_network_is_unavailable() {
        let stand_in = StandIn::start(|_, i| {
            if i < 2 {
                Reply::problem(503, json!({"status": 503, "code": "UNAVAILABLE", "detail": "x", "retryable": true}))
            } else {
                Reply::result(sample::vm("vm-1"))
            }
        })
        .await;
        let vm = ledger(&stand_in.url).get_vm("vm-1").await.expect("third attempt answers");
        assert_eq!(vm.id, "vm-1");
        assert_eq!(stand_in.seen().len(), 3);
    }

    #[tokio::test]
    async fn a_proxy_timeout_names_the_step_when_the_proxy_does() {
        let err = migrate_failing_with(Reply::problem(503, json!({"status": 503, "code": "TIMEOUT", "detail": "commit timed out", "retryable": true, "step": "commit"}))).await;
        let Error::UnknownOutcome { source, tx_id, .. } = &err else { panic!("{err:?}") };
        assert!(matches!(**source, Error::Network { step: Step::CommitStatus, .. }), "{err:?}");
        assert_eq!(err.tx_id(), Some(tx_id.as_str()));
    }

    #[tokio::test]
    async fn chaincode_and_gateway_errors_are_network_errors() {
        for code in ["CHAINCODE_ERROR", "GATEWAY_ERROR"] {
            let err = migrate_failing_with(Reply::problem(
                502,
                json!({"status": 502, "code": code, "detail": "x", "step": "endorse"}),
            ))
            .await;
            assert!(matches!(&err, Error::Network { problem, .. } if problem.code == code), "{err:?}");
        }
    }

    #[tokio::test]
    async fn a_missing_or_wrong_key_is_an_auth_error() {
        let err = migrate_failing_with(Reply::problem(
            401,
            json!({"status": 401, "code": "UNAUTHENTICATED", "detail": "bad key"}),
        ))
        .await;
        assert!(matches!(&err, Error::Auth { .. }), "{err:?}");
        let err = migrate_failing_with(Reply::problem(
            403,
            json!({"status": 403, "code": "FORBIDDEN", "detail": "peer says no"}),
        ))
        .await;
        assert!(matches!(&err, Error::Auth { .. }), "{err:?}");
    }

    #[tokio::test]
    async fn refusals_of_the_request_itself_are_proxy_errors() {
        for (status, code) in
            [(400, "BAD_REQUEST"), (413, "PAYLOAD_TOO_LARGE"), (404, "ROUTE_NOT_FOUND"), (429, "TOO_MANY_REQUESTS")]
        {
            let err =
                migrate_failing_with(Reply::problem(status, json!({"status": status, "code": code, "detail": "x"})))
                    .await;
            assert!(matches!(&err, Error::Proxy { problem, .. } if problem.code == code), "{err:?}");
        }
    }

    /// A proxy that answers 429 with `Retry-After: 1` the first time, then the record; when each
    /// request came.
    async fn throttled_once() -> (StandIn, std::sync::Arc<std::sync::Mutex<Vec<std::time::Instant>>>) {
        let times = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = times.clone();
        let stand_in = StandIn::start(move |_, i| {
            seen.lock().expect("lock").push(std::time::Instant::now());
            if i == 0 {
                Reply::problem(429, json!({"status": 429, "code": "TOO_MANY_REQUESTS", "detail": "slow down"}))
                    .header("retry-after", "1")
            } else {
                Reply::result(sample::vm("vm-1"))
            }
        })
        .await;
        (stand_in, times)
    }

    #[tokio::test]
    async fn a_429_is_retried_after_the_time_its_retry_after_asks() {
        let (stand_in, times) = throttled_once().await;
        // The backoff alone would retry after 1-10 ms.
        let vm = ledger(&stand_in.url).get_vm("vm-1").await.expect("the second attempt succeeds");
        assert_eq!(vm.id, "vm-1");
        let times = times.lock().expect("lock").clone();
        assert_eq!(times.len(), 2);
        let waited = times[1] - times[0];
        assert!(waited >= Duration::from_millis(950), "waited only {waited:?} for Retry-After: 1");
        assert!(waited < Duration::from_secs(3), "{waited:?}");
    }

    #[tokio::test]
    async fn a_retry_after_beyond_the_policy_is_not_waited_for() {
        let (stand_in, times) = throttled_once().await;
        let gateway = Gateway::builder(&stand_in.url)
            .retry(RetryPolicy { max_retry_after: Duration::from_millis(500), ..RetryPolicy::default() })
            .connect()
            .expect("gateway");
        let err = VmLedger::new(gateway.network("federation").contract("vmledger"))
            .get_vm("vm-1")
            .await
            .expect_err("gave up");
        assert_eq!(err.retry_after(), Some(Duration::from_secs(1)));
        assert_eq!(times.lock().expect("lock").len(), 1);
    }

    #[tokio::test]
    async fn a_body_that_is_not_a_problem_keeps_the_status() {
        let err = migrate_failing_with(Reply::text(500, "text/html", "<h1>oops</h1>")).await;
        let Error::UnknownOutcome { source, .. } = &err else { panic!("{err:?}") };
        assert!(
            matches!(&**source, Error::Network { problem, .. } if problem.code == "HTTP_500" && problem.status == 500),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn a_closed_port_is_unreachable() {
        let err = ledger(&nowhere()).migrate(&migrate()).await.expect_err("nobody there");
        assert!(matches!(&err, Error::Unreachable { .. }), "{err:?}");
    }

    #[tokio::test]
    async fn a_slow_answer_hits_the_client_side_timeout() {
        let stand_in = StandIn::always(Reply::result(sample::vm("vm-1")).after(Duration::from_secs(3))).await;
        let gateway = Gateway::builder(&stand_in.url)
            .evaluate_timeout(Duration::from_millis(200))
            .retry(RetryPolicy::none())
            .connect()
            .expect("gateway");
        let err =
            VmLedger::new(gateway.network("federation").contract("vmledger")).get_vm("vm-1").await.expect_err("slow");
        assert!(matches!(&err, Error::Timeout { step: Step::Evaluate, after_ms: 200, .. }), "{err:?}");
    }
}
