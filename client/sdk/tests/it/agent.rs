//! The destination agent as an attacker meets it, against a stand-in ledger holding one indicated
//! migration into cloud-b (Org2MSP's): every refusal comes before a byte of the body is read (the
//! requests below send their head only) and leaves the agent's folder empty; a cut upload is kept,
//! resumed from what the agent holds, and confirmed once, whole.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use sha2::Digest;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use vmledger_client::agent::{Agent, AgentLimits};
use vmledger_client::image::TransferKey;
use vmledger_client::transfer::{self, Resume, TransferError};
use vmledger_client::{Chains, Gateway, VmLedger};
use vmledger_contract::model::MigrationStatus;
use vmledger_testkit::{CutRelay, Reply, StandIn, sample};

const WRONG_KEY: &str = "2222222222222222222222222222222222222222222222222222222222222222";

fn sha256(data: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(data))
}

/// A ledger holding the sample migration (indicated, into cloud-b, recorded hash `recorded`);
/// every other id is unknown. Confirmations compare hashes as the contract does and are kept.
async fn ledger(recorded: String, confirmations: Arc<Mutex<Vec<String>>>) -> StandIn {
    StandIn::start(move |seen, _| match seen.function() {
        "GetMigration" if seen.argument()["id"] == json!(sample::migration_id()) => {
            Reply::result(sample::migration("indicated", &recorded, None))
        }
        "GetMigration" => Reply::problem(404, sample::problem(404, "NOT_FOUND", json!({"kind": "migration"}))),
        "GetCloud" => Reply::result(sample::cloud(seen.argument()["id"].as_str().expect("id"))),
        "ConfirmMigration" => {
            let observed = seen.argument()["observedHash"].as_str().expect("observedHash").to_owned();
            confirmations.lock().expect("lock").push(observed.clone());
            let status = if observed == recorded { "confirmed" } else { "rejected" };
            Reply::committed(sample::migration(status, &recorded, Some(&observed)))
        }
        other => panic!("unexpected call {other}"),
    })
    .await
}

/// An agent of `msp_id` through the stand-in at `url`, with `limits`; its address.
async fn agent(url: &str, msp_id: &str, dir: &Path, limits: AgentLimits) -> std::net::SocketAddr {
    let gateway = Gateway::builder(url).api_key("k").connect().expect("gateway");
    let chains = Chains::new(VmLedger::new(gateway.network("federation").contract("vmledger")), None);
    let agent =
        Agent::new(chains, msp_id, dir, Duration::from_secs(1), Arc::new(())).expect("agent").with_limits(limits);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(agent.serve(listener, std::future::pending()));
    address
}

/// Sends a `PUT` head announcing `length` bytes and no byte of the body; the answer's status,
/// `Retry-After` and body.
async fn put_head_only(address: std::net::SocketAddr, id: &str, key: Option<&str>, length: u64) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(address).await.expect("connect");
    let authorization = key.map(|k| format!("Authorization: Bearer {k}\r\n")).unwrap_or_default();
    let head = format!(
        "PUT /migrations/{id}/image HTTP/1.1\r\nHost: agent\r\n{authorization}Content-Length: {length}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.expect("head");
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    // The agent answers without waiting for the body, which never comes.
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let n = stream.read(&mut buffer).await.expect("read");
            answer.extend_from_slice(&buffer[..n]);
            let text = String::from_utf8_lossy(&answer);
            if n == 0 || text.split_once("\r\n\r\n").is_some_and(|(_, body)| body.ends_with('}')) {
                break;
            }
        }
    })
    .await
    .expect("an answer before any byte of the body");
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("status line");
    (status, text)
}

fn code_of(answer: &str) -> String {
    let body = answer.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or_default();
    serde_json::from_str::<serde_json::Value>(body).expect("a problem document")["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn files_in(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir).expect("dir").map(|e| e.expect("entry").file_name().to_string_lossy().into_owned()).collect()
}

/// Given an agent of `msp_id` with `limits` and a ledger recording `data`'s hash.
struct Given {
    address: std::net::SocketAddr,
    dir: tempfile::TempDir,
    confirmations: Arc<Mutex<Vec<String>>>,
    _ledger: StandIn,
}

async fn given(data: &[u8], msp_id: &str, limits: AgentLimits) -> Given {
    let confirmations = Arc::new(Mutex::new(Vec::new()));
    let ledger = ledger(sha256(data), confirmations.clone()).await;
    let dir = tempfile::tempdir().expect("tmp");
    let address = agent(&ledger.url, msp_id, dir.path(), limits).await;
    Given { address, dir, confirmations, _ledger: ledger }
}

#[tokio::test]
async fn an_upload_without_its_token_is_refused_before_any_byte_is_written() {
    let g = given(b"image", "Org2MSP", AgentLimits::default()).await;
    let (status, answer) = put_head_only(g.address, &sample::migration_id(), None, 1 << 20).await;
    assert_eq!((status, code_of(&answer).as_str()), (401, "UNAUTHENTICATED"), "{answer}");
    assert!(files_in(g.dir.path()).is_empty(), "nothing written");
}

#[tokio::test]
async fn an_upload_with_another_key_is_refused_naming_the_migration() {
    let g = given(b"image", "Org2MSP", AgentLimits::default()).await;
    let (status, answer) = put_head_only(g.address, &sample::migration_id(), Some(WRONG_KEY), 1 << 20).await;
    assert_eq!((status, code_of(&answer).as_str()), (401, "UNAUTHENTICATED"), "{answer}");
    assert!(answer.contains(&sample::migration_id()), "{answer}");
    assert!(files_in(g.dir.path()).is_empty(), "nothing written");
    assert!(g.confirmations.lock().expect("lock").is_empty());
}

#[tokio::test]
async fn an_upload_for_a_migration_never_indicated_is_refused_after_the_lookup_timeout() {
    let g = given(b"image", "Org2MSP", AgentLimits::default()).await;
    let (status, answer) = put_head_only(g.address, &"f".repeat(64), Some(sample::TRANSFER_KEY), 1 << 20).await;
    assert_eq!((status, code_of(&answer).as_str()), (404, "NOT_FOUND"), "{answer}");
    assert!(files_in(g.dir.path()).is_empty(), "nothing written");
}

#[tokio::test]
async fn an_upload_for_another_members_migration_is_refused() {
    // The migration goes to cloud-b (Org2MSP); this agent is Org1MSP's.
    let g = given(b"image", "Org1MSP", AgentLimits::default()).await;
    let (status, answer) = put_head_only(g.address, &sample::migration_id(), Some(sample::TRANSFER_KEY), 5).await;
    assert_eq!((status, code_of(&answer).as_str()), (403, "UNAUTHORIZED"), "{answer}");
    assert!(answer.contains("cloud-b") && answer.contains("Org2MSP") && answer.contains("Org1MSP"), "{answer}");
    assert!(files_in(g.dir.path()).is_empty(), "nothing written");
}

#[tokio::test]
async fn an_image_over_the_cap_is_refused_before_it_is_read() {
    let limits = AgentLimits { max_image_bytes: 1000, ..AgentLimits::default() };
    let g = given(b"image", "Org2MSP", limits).await;
    let (status, answer) = put_head_only(g.address, &sample::migration_id(), Some(sample::TRANSFER_KEY), 1001).await;
    assert_eq!((status, code_of(&answer).as_str()), (413, "PAYLOAD_TOO_LARGE"), "{answer}");
    assert!(answer.contains("1001") && answer.contains("1000"), "{answer}");
    assert!(files_in(g.dir.path()).is_empty(), "nothing written");
}

#[tokio::test]
async fn a_body_of_undeclared_length_is_refused() {
    let g = given(b"image", "Org2MSP", AgentLimits::default()).await;
    let mut stream = tokio::net::TcpStream::connect(g.address).await.expect("connect");
    let head = format!(
        "PUT /migrations/{}/image HTTP/1.1\r\nHost: agent\r\nAuthorization: Bearer {}\r\nTransfer-Encoding: chunked\r\n\r\n",
        sample::migration_id(),
        sample::TRANSFER_KEY
    );
    stream.write_all(head.as_bytes()).await.expect("head");
    let mut answer = vec![0u8; 4096];
    let n =
        tokio::time::timeout(Duration::from_secs(10), stream.read(&mut answer)).await.expect("answer").expect("read");
    let answer = String::from_utf8_lossy(&answer[..n]).into_owned();
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(files_in(g.dir.path()).is_empty(), "nothing written");
}

#[tokio::test]
async fn an_upload_over_the_limit_of_uploads_is_told_to_retry_later() {
    let limits = AgentLimits { max_uploads: 1, ..AgentLimits::default() };
    let data = vec![3u8; 10_000];
    let g = given(&data, "Org2MSP", limits).await;
    // The first upload is admitted and stalls after 100 bytes, holding the only slot.
    let mut first = tokio::net::TcpStream::connect(g.address).await.expect("connect");
    let head = format!(
        "PUT /migrations/{}/image HTTP/1.1\r\nHost: agent\r\nAuthorization: Bearer {}\r\nContent-Length: 10000\r\n\r\n",
        sample::migration_id(),
        sample::TRANSFER_KEY
    );
    first.write_all(head.as_bytes()).await.expect("head");
    first.write_all(&data[..100]).await.expect("some of the body");
    let part = g.dir.path().join(format!("{}.part", sample::migration_id()));
    for _ in 0..200 {
        if part.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(part.exists(), "the first upload was admitted");

    let (status, answer) = put_head_only(g.address, &"e".repeat(64), Some(sample::TRANSFER_KEY), 10).await;
    assert_eq!((status, code_of(&answer).as_str()), (503, "UNAVAILABLE"), "{answer}");
    assert!(answer.to_ascii_lowercase().contains("retry-after: 1"), "{answer}");
    assert_eq!(files_in(g.dir.path()), [format!("{}.part", sample::migration_id())], "only the first upload's part");
    drop(first);
}

#[tokio::test]
async fn a_connection_over_the_limit_is_closed_at_once() {
    let limits = AgentLimits { max_connections: 1, ..AgentLimits::default() };
    let g = given(b"image", "Org2MSP", limits).await;
    let _held = tokio::net::TcpStream::connect(g.address).await.expect("the first connection");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut second = tokio::net::TcpStream::connect(g.address).await.expect("accepted, then closed");
    let _ = second.write_all(b"GET /healthz HTTP/1.1\r\nHost: agent\r\n\r\n").await;
    let mut buffer = [0u8; 64];
    let read = tokio::time::timeout(Duration::from_secs(5), second.read(&mut buffer)).await.expect("closed in time");
    assert!(matches!(read, Ok(0) | Err(_)), "closed without an answer: {read:?}");
}

#[tokio::test]
async fn a_cut_upload_resumes_from_what_the_agent_holds_and_is_confirmed_once_whole() {
    let data: Vec<u8> = (0..4_000_000u32).map(|i| (i * 31 % 251) as u8).collect();
    let g = given(&data, "Org2MSP", AgentLimits::default()).await;
    let image = g.dir.path().join("source.raw");
    std::fs::write(&image, &data).expect("image");
    // The network breaks once, 60 % into the image (the GET and the head count too).
    let relay = CutRelay::start(g.address, 2_400_000).await;
    let key = TransferKey::from_hex(sample::TRANSFER_KEY).expect("key");
    let resume = Resume { attempts: 4, min_delay: Duration::from_millis(50), max_delay: Duration::from_millis(200) };

    let delivered = transfer::upload_resuming(&relay.url, &sample::migration_id(), &key, &image, None, resume, |_| {})
        .await
        .expect("resumed and confirmed");

    assert!(relay.was_cut(), "the first connection was cut");
    let receipt = &delivered.receipt;
    assert_eq!(receipt.status, MigrationStatus::Confirmed);
    assert_eq!(receipt.bytes, 4_000_000);
    assert!(receipt.resumed_from > 1_000_000 && receipt.resumed_from < 2_400_000, "{receipt:?}");
    assert_eq!(receipt.observed_hash, sha256(&data), "the hash covers the whole image");
    assert_eq!(*g.confirmations.lock().expect("lock"), [sha256(&data)], "confirmed once, never rejected");
    let kept = std::fs::read(g.dir.path().join(format!("{}.img", sample::migration_id()))).expect("kept");
    assert!(kept == data, "the kept image is the one sent");
}

#[tokio::test]
async fn the_bytes_held_are_answered_to_the_source_only() {
    let data = vec![5u8; 1000];
    let g = given(&data, "Org2MSP", AgentLimits::default()).await;
    std::fs::write(g.dir.path().join(format!("{}.part", sample::migration_id())), &data[..300]).expect("a kept part");
    let url = format!("http://{}/migrations/{}/image", g.address, sample::migration_id());
    let client = reqwest::Client::new();

    let held = client.get(&url).bearer_auth(sample::TRANSFER_KEY).send().await.expect("GET");
    assert_eq!(held.status(), 200);
    assert_eq!(held.headers()["upload-offset"], "300");
    let body: serde_json::Value = held.json().await.expect("json");
    assert_eq!(body["bytesHeld"], 300);

    let refused = client.get(&url).bearer_auth(WRONG_KEY).send().await.expect("GET");
    assert_eq!(refused.status(), 401);

    // A resume that does not start where the agent is refused, and the part is left as it was.
    let stale = client
        .put(&url)
        .bearer_auth(sample::TRANSFER_KEY)
        .header("content-range", "bytes 200-999/1000")
        .body(data[200..].to_vec())
        .send()
        .await
        .expect("PUT");
    assert_eq!(stale.status(), 409);
    let problem: serde_json::Value = stale.json().await.expect("json");
    assert_eq!(problem["details"]["bytesHeld"], 300);
    assert_eq!(
        std::fs::metadata(g.dir.path().join(format!("{}.part", sample::migration_id()))).expect("part").len(),
        300
    );
}

#[tokio::test]
async fn a_refusal_reaches_the_uploader_as_the_agents_problem_not_a_retry() {
    let g = given(b"image", "Org1MSP", AgentLimits::default()).await;
    let image = g.dir.path().join("source.raw");
    std::fs::write(&image, b"image").expect("image");
    let key = TransferKey::from_hex(sample::TRANSFER_KEY).expect("key");
    let url = format!("http://{}", g.address);
    let err = transfer::upload(&url, &sample::migration_id(), &key, &image, None, |_| {}).await.expect_err("refused");
    match err {
        TransferError::Refused { problem } => assert_eq!(problem.code, "UNAUTHORIZED"),
        other => panic!("{other:?}"),
    }
    assert_eq!(files_in(g.dir.path()), ["source.raw"], "nothing written by the agent");
}
