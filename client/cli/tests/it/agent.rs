//! The destination agent against a stand-in ledger: it waits for the Indication, checks it, hashes
//! what arrives and confirms a complete image with the hash it computed; the (stand-in) contract
//! decides. A cut upload is kept and resumed, never confirmed with what arrived.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use sha2::Digest;

use crate::cli::vmledger;
use vmledger_testkit::sample;
use vmledger_testkit::{Reply, StandIn};

fn sha256(data: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(data))
}

/// A stand-in ledger holding one indicated migration with `recorded` as its hash. The first
/// lookup finds nothing (the Indication is still committing). Confirmations compare hashes as the
/// contract does, and are remembered.
async fn ledger_with_indication(recorded: String, confirmations: Arc<Mutex<Vec<String>>>) -> StandIn {
    StandIn::start(move |seen, i| match seen.function() {
        "GetMigration" if i == 0 => Reply::problem(
            404,
            sample::problem(404, "NOT_FOUND", json!({"kind": "migration", "id": sample::migration_id()})),
        ),
        "GetMigration" => Reply::result(sample::migration("indicated", &recorded, None)),
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

/// A running `vmledger agent`; killed when dropped.
struct Agent {
    child: Child,
    url: String,
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_agent(proxy: &str, dir: &Path, lookup_timeout: u64) -> Agent {
    let (proxy, dir) = (proxy.to_owned(), dir.to_owned());
    tokio::task::spawn_blocking(move || {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_vmledger"))
            .args(["--proxy-url", &proxy, "--api-key", "k", "--json", "agent", "--listen", "127.0.0.1:0"])
            .args(["--msp-id", "Org2MSP"])
            .arg("--dir")
            .arg(&dir)
            .args(["--lookup-timeout", &lookup_timeout.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the agent");
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().expect("stdout")).read_line(&mut line).expect("first line");
        let started: serde_json::Value = serde_json::from_str(&line).expect("listening line");
        Agent { url: started["url"].as_str().expect("url").to_owned(), child }
    })
    .await
    .expect("join")
}

fn image(dir: &Path, name: &str, data: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, data).expect("write image");
    path.to_str().expect("path").to_owned()
}

#[tokio::test]
async fn an_intact_image_is_confirmed_and_kept() {
    let tmp = tempfile::tempdir().expect("tmp");
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 256) as u8).collect();
    let confirmations = Arc::new(Mutex::new(Vec::new()));
    let proxy = ledger_with_indication(sha256(&data), confirmations.clone()).await;
    let landing = tmp.path().join("landing");
    let agent = start_agent(&proxy.url, &landing, 10).await;
    let source = image(tmp.path(), "vm.raw", &data);

    let output = vmledger(&[
        "--json",
        "migrate",
        "send",
        &sample::migration_id(),
        "--image",
        &source,
        "--to-agent",
        &agent.url,
        "--transfer-key",
        sample::TRANSFER_KEY,
    ])
    .await;
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    let delivered: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(delivered["receipt"]["status"], "confirmed");
    assert_eq!(delivered["receipt"]["bytes"], 3_000_000);
    assert_eq!(delivered["receipt"]["resumedFrom"], 0);
    assert_eq!(*confirmations.lock().expect("lock"), vec![sha256(&data)]);
    let kept = std::fs::read(landing.join(format!("{}.img", sample::migration_id()))).expect("kept image");
    assert!(kept == data, "the kept image is the one sent");
}

#[tokio::test]
async fn a_tampered_image_is_rejected_on_the_ledger_and_the_uploader_exits_4() {
    let tmp = tempfile::tempdir().expect("tmp");
    let original = vec![1u8; 1_000_000];
    let mut tampered = original.clone();
    tampered[500_000] = 2;
    let confirmations = Arc::new(Mutex::new(Vec::new()));
    let proxy = ledger_with_indication(sha256(&original), confirmations.clone()).await;
    let agent = start_agent(&proxy.url, tmp.path(), 10).await;
    let source = image(tmp.path(), "tampered.raw", &tampered);

    let output = vmledger(&[
        "migrate",
        "send",
        &sample::migration_id(),
        "--image",
        &source,
        "--to-agent",
        &agent.url,
        "--transfer-key",
        sample::TRANSFER_KEY,
    ])
    .await;
    assert_eq!(output.status.code(), Some(4), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(*confirmations.lock().expect("lock"), vec![sha256(&tampered)], "confirmed with what arrived");
    assert!(tmp.path().join(format!("{}.rejected", sample::migration_id())).exists(), "evidence kept");
    assert!(!tmp.path().join(format!("{}.img", sample::migration_id())).exists());
}

#[tokio::test]
async fn a_truncated_upload_is_kept_not_confirmed_and_migrate_send_resumes_it() {
    let tmp = tempfile::tempdir().expect("tmp");
    let full: Vec<u8> = (0..1000u32).map(|i| (i % 200) as u8).collect();
    let confirmations = Arc::new(Mutex::new(Vec::new()));
    let proxy = ledger_with_indication(sha256(&full), confirmations.clone()).await;
    let landing = tmp.path().join("landing");
    let agent = start_agent(&proxy.url, &landing, 10).await;

    let address = agent.url.trim_start_matches("http://").to_owned();
    let id = sample::migration_id();
    let sent = full[..400].to_vec();
    tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(address).expect("connect");
        let key = sample::TRANSFER_KEY;
        write!(
            stream,
            "PUT /migrations/{id}/image HTTP/1.1\r\nHost: agent\r\nAuthorization: Bearer {key}\r\nContent-Length: 1000\r\n\r\n"
        )
        .expect("head");
        stream.write_all(&sent).expect("part of the body");
        stream.flush().expect("flush");
        // The sender dies mid-upload.
        drop(stream);
    })
    .await
    .expect("join");
    let part = landing.join(format!("{}.part", sample::migration_id()));
    for _ in 0..100 {
        if std::fs::metadata(&part).is_ok_and(|m| m.len() == 400) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(std::fs::metadata(&part).expect("the part is kept").len(), 400);
    assert!(confirmations.lock().expect("lock").is_empty(), "a cut upload is not confirmed");

    let source = image(tmp.path(), "vm.raw", &full);
    let output = vmledger(&[
        "--json",
        "migrate",
        "send",
        &sample::migration_id(),
        "--image",
        &source,
        "--to-agent",
        &agent.url,
        "--transfer-key",
        sample::TRANSFER_KEY,
    ])
    .await;
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    let delivered: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(delivered["receipt"]["resumedFrom"], 400);
    assert_eq!(*confirmations.lock().expect("lock"), vec![sha256(&full)], "confirmed once, whole");
    let kept = std::fs::read(landing.join(format!("{}.img", sample::migration_id()))).expect("kept image");
    assert!(kept == full, "the kept image is the one sent");
}

#[tokio::test]
async fn an_upload_for_a_migration_never_indicated_is_refused_with_not_found() {
    let tmp = tempfile::tempdir().expect("tmp");
    let proxy = StandIn::always(Reply::problem(
        404,
        sample::problem(404, "NOT_FOUND", json!({"kind": "migration", "id": "x"})),
    ))
    .await;
    let agent = start_agent(&proxy.url, tmp.path(), 1).await;
    let source = image(tmp.path(), "vm.raw", b"image");
    let output = vmledger(&[
        "migrate",
        "send",
        &sample::migration_id(),
        "--image",
        &source,
        "--to-agent",
        &agent.url,
        "--transfer-key",
        sample::TRANSFER_KEY,
    ])
    .await;
    assert_eq!(output.status.code(), Some(7), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(
        std::fs::read_dir(tmp.path()).expect("dir").all(|e| !e
            .expect("entry")
            .path()
            .to_string_lossy()
            .ends_with(".part"))
    );
}
