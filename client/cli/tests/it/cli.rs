//! The `vmledger` binary against a stand-in proxy: output, and one exit code per kind of outcome.

use std::process::Output;

use serde_json::json;

use vmledger_testkit::sample;
use vmledger_testkit::{Reply, StandIn, nowhere};

/// Runs `vmledger` with a clean environment (no `VMLEDGER_*`, no config file) and the given
/// arguments.
pub(crate) async fn vmledger(args: &[&str]) -> Output {
    vmledger_in(&std::env::temp_dir().join("vmledger-tests-no-config"), args).await
}

/// Runs `vmledger` with `XDG_CONFIG_HOME` set to `config_home`.
pub(crate) async fn vmledger_in(config_home: &std::path::Path, args: &[&str]) -> Output {
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    let config_home = config_home.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_vmledger"));
        for (key, _) in std::env::vars() {
            if key.starts_with("VMLEDGER_") {
                command.env_remove(key);
            }
        }
        command.env("XDG_CONFIG_HOME", &config_home).args(&args).output().expect("run vmledger")
    })
    .await
    .expect("join")
}

/// `vmledger --proxy-url URL --api-key k ARGS…`
pub(crate) async fn against(url: &str, args: &[&str]) -> Output {
    let mut all = vec!["--proxy-url", url, "--api-key", "k"];
    all.extend_from_slice(args);
    vmledger(&all).await
}

pub(crate) fn code(output: &Output) -> i32 {
    output.status.code().expect("exit code")
}

pub(crate) fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub(crate) fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test]
async fn show_prints_a_human_record_or_json() {
    let stand_in = StandIn::always(Reply::result(sample::vm("vm-1"))).await;
    let human = against(&stand_in.url, &["vm", "show", "vm-1"]).await;
    assert_eq!(code(&human), 0, "{}", stderr(&human));
    assert!(stdout(&human).contains("host-a1"), "{}", stdout(&human));
    assert!(stdout(&human).contains("JP, GB"), "{}", stdout(&human));
    let json = against(&stand_in.url, &["vm", "show", "vm-1", "--json"]).await;
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON on stdout");
    assert_eq!(value["id"], "vm-1");
}

#[tokio::test]
async fn a_denied_migration_exits_3_with_every_reason() {
    let check = json!({"permitted": false, "violations": [
        {"code": "POLICY_DENIED", "details": {"vmId": "vm-1", "hostId": "h-us", "reasons": [{"rule": "country", "country": "US", "allowed": ["JP"]}]}},
        {"code": "CAPACITY_EXCEEDED", "details": {"hostId": "h-us", "shortfalls": [{"resource": "cpuCores", "requested": 4, "free": 1, "capacity": 8}]}}]});
    let stand_in = StandIn::routing_then(Reply::result(check)).await;
    let output = against(&stand_in.url, &["migrate", "check", "--vm", "vm-1", "--to-host", "h-us"]).await;
    assert_eq!(code(&output), 3);
    let text = stdout(&output);
    assert!(text.contains("[POLICY_DENIED] residency policy denies VM `vm-1` on host `h-us`: country US"), "{text}");
    assert!(text.contains("[CAPACITY_EXCEEDED]"), "{text}");

    let refused = StandIn::routing_then(Reply::problem(422, sample::problem(422, "POLICY_DENIED",
        json!({"vmId": "vm-1", "hostId": "h-us", "reasons": [{"rule": "country", "country": "US", "allowed": ["JP"]}]})))).await;
    let output = against(
        &refused.url,
        &["migrate", "start", "--vm", "vm-1", "--to-host", "h-us", "--image-hash", sample::HASH_A],
    )
    .await;
    assert_eq!(code(&output), 3, "{}", stderr(&output));
    assert!(stderr(&output).contains("residency policy denies"), "{}", stderr(&output));
}

#[tokio::test]
async fn unauthorized_and_capacity_also_exit_3() {
    for (status, code_name, details) in [
        (403, "UNAUTHORIZED", json!({"rule": "only the operator may migrate", "callerMspId": "Org2MSP"})),
        (422, "CAPACITY_EXCEEDED", json!({"hostId": "h", "shortfalls": []})),
    ] {
        let stand_in = StandIn::routing_then(Reply::problem(status, sample::problem(status, code_name, details))).await;
        let output = against(
            &stand_in.url,
            &["migrate", "start", "--vm", "vm-1", "--to-host", "h", "--image-hash", sample::HASH_A],
        )
        .await;
        assert_eq!(code(&output), 3, "{code_name}: {}", stderr(&output));
    }
}

#[tokio::test]
async fn a_hash_mismatch_exits_4() {
    let observed = "0".repeat(64);
    let stand_in =
        StandIn::always(Reply::committed(sample::migration("rejected", sample::HASH_A, Some(&observed)))).await;
    let output = against(
        &stand_in.url,
        &[
            "migrate",
            "confirm",
            &sample::migration_id(),
            "--observed-hash",
            &observed,
            "--keyed-digest",
            &observed,
            "--transfer-key",
            sample::TRANSFER_KEY,
        ],
    )
    .await;
    assert_eq!(code(&output), 4, "{}", stderr(&output));
    assert!(stdout(&output).contains("rejected"), "{}", stdout(&output));
}

#[tokio::test]
async fn usage_errors_exit_2() {
    let output = vmledger(&["vm", "show", "vm-1"]).await;
    assert_eq!(code(&output), 2, "no proxy configured: {}", stderr(&output));
    assert!(stderr(&output).contains("no proxy configured"), "{}", stderr(&output));
    let output = vmledger(&["migrate", "frobnicate"]).await;
    assert_eq!(code(&output), 2);
    let output =
        vmledger(&["--network-file", "/nonexistent/members.json", "--member", "org1", "vm", "show", "x"]).await;
    assert_eq!(code(&output), 2, "{}", stderr(&output));
    let invalid = StandIn::always(Reply::problem(
        400,
        sample::problem(400, "INVALID_ARGUMENT", json!({"field": "country", "reason": "not ISO"})),
    ))
    .await;
    let output = against(
        &invalid.url,
        &[
            "host",
            "register",
            "--id",
            "h",
            "--cloud",
            "c",
            "--country",
            "Japan",
            "--org",
            "o",
            "--cpu",
            "1",
            "--memory-mib",
            "1",
            "--network-mbps",
            "1",
            "--io-mbps",
            "1",
        ],
    )
    .await;
    assert_eq!(code(&output), 2, "{}", stderr(&output));
}

#[tokio::test]
async fn an_unreachable_or_unavailable_network_exits_5() {
    let output = against(&nowhere(), &["vm", "show", "vm-1"]).await;
    assert_eq!(code(&output), 5, "{}", stderr(&output));
    let stand_in = StandIn::always(Reply::problem(
        503,
        json!({"status": 503, "code": "UNAVAILABLE", "detail": "no peer", "retryable": true, "step": "endorse"}),
    ))
    .await;
    let output = against(&stand_in.url, &["cloud", "register", "--id", "c", "--name", "C"]).await;
    assert_eq!(code(&output), 5, "{}", stderr(&output));
}

#[tokio::test]
async fn a_write_whose_outcome_stays_unknown_exits_9_with_its_transaction_id() {
    let stand_in = StandIn::always(Reply::problem(
        503,
        json!({"status": 503, "code": "TIMEOUT", "detail": "commit timed out", "retryable": true, "step": "commit"}),
    ))
    .await;
    let output = against(
        &stand_in.url,
        &["--resolve-timeout", "1", "-o", "json", "cloud", "register", "--id", "c", "--name", "C"],
    )
    .await;
    assert_eq!(code(&output), 9, "{}", stderr(&output));
    let document: serde_json::Value = serde_json::from_slice(&output.stdout).expect("an error document");
    assert_eq!(document["code"], "UNKNOWN_OUTCOME");
    let tx_id = document["txId"].as_str().expect("the transaction id");
    let key = stand_in.seen()[0].header("idempotency-key").expect("a key").to_owned();
    assert_eq!(tx_id, vmledger_testkit::tx_id_of(&key));
}

#[tokio::test]
async fn a_refused_key_exits_6_not_found_7_conflict_8() {
    let cases = [
        (Reply::problem(401, json!({"status": 401, "code": "UNAUTHENTICATED", "detail": "bad key"})), 6),
        (Reply::problem(404, sample::problem(404, "NOT_FOUND", json!({"kind": "vm", "id": "vm-1"}))), 7),
        (Reply::problem(409, sample::problem(409, "ALREADY_EXISTS", json!({"kind": "vm", "id": "vm-1"}))), 8),
    ];
    for (reply, expected) in cases {
        let stand_in = StandIn::always(reply).await;
        let output = against(&stand_in.url, &["vm", "show", "vm-1", "--json"]).await;
        assert_eq!(code(&output), expected, "{}", stderr(&output));
        let error: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON error document");
        assert_eq!(error["exitCode"], expected);
    }
}

#[tokio::test]
async fn hash_matches_sha256sum() {
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("image.raw");
    let data: Vec<u8> = (0..5_000_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&file, &data).expect("write");
    let output = vmledger(&["hash", file.to_str().expect("path"), "--json"]).await;
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let hashed: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    use sha2::Digest;
    assert_eq!(hashed["hash"], hex::encode(sha2::Sha256::digest(&data)));
    assert_eq!(hashed["bytes"], 5_000_000);
}

#[tokio::test]
async fn a_config_file_supplies_the_connection() {
    let stand_in = StandIn::always(Reply::result(sample::vm("vm-1"))).await;
    let dir = tempfile::tempdir().expect("tmp");
    let config = dir.path().join("vmledger.toml");
    std::fs::write(&config, format!("proxy_url = \"{}\"\napi_key = \"file-key\"\nchannel = \"other\"\n", stand_in.url))
        .expect("write");
    let output = vmledger(&["--config", config.to_str().expect("path"), "vm", "show", "vm-1"]).await;
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(stand_in.seen()[0].header("x-api-key"), Some("file-key"));
    assert!(stand_in.seen()[0].path.starts_with("/channels/other/"));
}

#[tokio::test]
async fn a_denied_indication_in_migrate_run_exits_3_with_the_contract_code() {
    let tmp = tempfile::tempdir().expect("tmp");
    let image = tmp.path().join("vm.raw");
    std::fs::write(&image, b"image").expect("image");
    let stand_in = StandIn::routing_then(Reply::problem(422, sample::problem(422, "POLICY_DENIED",
        json!({"vmId": "vm-1", "hostId": "h-us", "reasons": [{"rule": "country", "country": "US", "allowed": ["JP"]}]})))).await;
    let landing = tmp.path().join("landing");
    let output = {
        let mut args = vec!["--proxy-url", &stand_in.url, "--api-key", "k", "--json", "migrate", "run"];
        args.extend(["--vm", "vm-1", "--to-host", "h-us", "--image", image.to_str().expect("path")]);
        args.extend(["--to-dir", landing.to_str().expect("path"), "--dest-proxy-url", &stand_in.url]);
        args.extend(["--dest-api-key", "k2"]);
        vmledger(&args).await
    };
    assert_eq!(code(&output), 3, "{}", stderr(&output));
    let error: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON error document");
    assert_eq!(error["code"], "POLICY_DENIED");
    assert_eq!(error["contractError"]["details"]["reasons"][0]["country"], "US");
    assert!(!landing.exists(), "nothing was sent");
}

#[tokio::test]
async fn relative_times_in_weeks_and_minutes_reach_the_contract_as_instants() {
    let stand_in = StandIn::always(Reply::result(json!({"items": []}))).await;
    let output = against(&stand_in.url, &["history", "cloud", "cloud-b", "--from", "-1w", "--to", "+90m"]).await;
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let argument = stand_in.seen()[0].argument();
    let from = chrono::DateTime::parse_from_rfc3339(argument["from"].as_str().expect("from")).expect("rfc 3339");
    let to = chrono::DateTime::parse_from_rfc3339(argument["to"].as_str().expect("to")).expect("rfc 3339");
    assert_eq!((to - from).num_minutes(), 7 * 24 * 60 + 90);
    let ago = chrono::Utc::now().signed_duration_since(from);
    assert!((ago.num_minutes() - 7 * 24 * 60).abs() <= 1, "{ago}");
}

#[tokio::test]
async fn place_asks_the_contract_and_exits_3_when_no_host_is_eligible() {
    let report = |candidates: serde_json::Value| {
        json!({"strategy": "round-robin", "vmId": "vm-1", "at": "2026-01-01T00:00:00Z",
               "requirements": {"cpuCores": 2, "memoryMib": 2048, "networkMbps": 100, "ioMbps": 50},
               "candidates": candidates, "scanned": 2,
               "excluded": [{"hostId": "b-us", "cloudId": "cloud-b",
                             "reasons": [{"rule": "down", "since": "2026-01-01T00:00:00Z"}]}]})
    };
    let first = json!([{"rank": 1, "hostId": "b-gb", "cloudId": "cloud-b", "country": "GB", "score": 0, "placements": 0,
        "capacity": {"cpuCores": 16, "memoryMib": 65536, "networkMbps": 10000, "ioMbps": 2000},
        "free": {"cpuCores": 16, "memoryMib": 65536, "networkMbps": 10000, "ioMbps": 2000}}]);
    let stand_in = StandIn::always(Reply::result(report(first))).await;
    let output = against(
        &stand_in.url,
        &["place", "vm-1", "--strategy", "round-robin", "--limit", "3", "--min-reputation", "900"],
    )
    .await;
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.contains("b-gb") && text.contains("b-us") && text.contains("down since"), "{text}");
    let seen = &stand_in.seen()[0];
    assert_eq!(seen.function(), "PlaceVm");
    assert_eq!(seen.argument(), json!({"vmId": "vm-1", "strategy": "round-robin", "limit": 3, "minReputation": 900}));

    let nowhere = StandIn::always(Reply::result(report(json!([])))).await;
    let output = against(&nowhere.url, &["place", "vm-1"]).await;
    assert_eq!(code(&output), 3, "{}", stderr(&output));
    let bad = against(&nowhere.url, &["place", "vm-1", "--strategy", "random"]).await;
    assert_eq!(code(&bad), 2, "an unknown strategy is a usage error");
}
