//! Moving a VM image from source to destination, outside the ledger: into a destination folder, or
//! over HTTP to a destination agent (`vmledger agent`), optionally capped to a rate.
//!
//! The agent's protocol: `PUT /migrations/{migrationId}/image` with the image as the body. The agent
//! hashes while receiving, confirms (or rejects) the migration on the ledger with its own identity
//! and answers a [`Receipt`]: 200 when confirmed, 422 when the ledger recorded a rejection, or a
//! problem document (as the proxy's) when it could not decide.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use vmledger_contract::model::MigrationStatus;

use crate::error::Problem;
use crate::gateway::{Timings, millis};
use crate::image::{Pacer, Rate};

/// Bytes moved and how long it took.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Transferred {
    pub bytes: u64,
    pub elapsed_ms: u64,
    /// Where the image went: a file path or the agent's URL.
    pub destination: String,
}

impl Transferred {
    pub fn rate(&self) -> Rate {
        Rate::observed(self.bytes, Duration::from_millis(self.elapsed_ms))
    }
}

/// The destination agent's answer to an upload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Receipt {
    pub migration_id: String,
    pub vm_id: String,
    /// `confirmed` or `rejected`, as committed on the ledger.
    pub status: MigrationStatus,
    pub recorded_hash: String,
    pub observed_hash: String,
    pub bytes: u64,
    /// From the first byte received to the last (hashing included).
    pub receive_ms: u64,
    /// Waiting for the Indication to be visible on the ledger after the upload ended.
    pub lookup_wait_ms: u64,
    /// The `ConfirmMigration` transaction.
    pub confirm_tx_id: String,
    pub confirm_block: u64,
    pub confirm_timings: Timings,
    pub confirm_client_ms: u64,
    /// Whether the upload ended early (the declared length was not reached).
    #[serde(default)]
    pub truncated: bool,
    /// Where the agent keeps the image (a confirmed image) or the evidence (a rejected one).
    #[serde(default)]
    pub stored_at: Option<String>,
}

/// Why a transfer failed.
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    #[error("{path}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot reach the destination agent at {url}")]
    Unreachable {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("the destination agent refused: {problem}")]
    Refused { problem: Box<Problem> },
    #[error("unexpected answer from the destination agent ({status}): {body}")]
    Protocol { status: u16, body: String },
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> TransferError + '_ {
    move |source| TransferError::Io { path: path.to_owned(), source }
}

/// Where an image for `migration_id` lands in a destination folder: `DIR/{migrationId}.img`.
pub fn landing_path(dir: &Path, migration_id: &str) -> PathBuf {
    dir.join(format!("{migration_id}.img"))
}

/// Copies `image` into the folder `dir` (created if needed) as [`landing_path`], at most at
/// `rate`, on a blocking thread; `progress` gets the bytes copied so far.
///
/// # Errors
/// [`TransferError::Io`].
pub async fn copy_to_folder(
    image: &Path,
    dir: &Path,
    migration_id: &str,
    rate: Option<Rate>,
    progress: impl FnMut(u64) + Send + 'static,
) -> Result<Transferred, TransferError> {
    std::fs::create_dir_all(dir).map_err(io_error(dir))?;
    let (from, to) = (image.to_owned(), landing_path(dir, migration_id));
    tokio::task::spawn_blocking(move || copy_file(&from, &to, rate, progress))
        .await
        .map_err(|e| TransferError::Io { path: image.to_owned(), source: io::Error::other(e.to_string()) })?
}

/// Asks the destination agent at `agent_url` whether it is up (`GET /healthz`), so that nothing is
/// recorded on the ledger for a destination that cannot receive.
///
/// # Errors
/// [`TransferError::Unreachable`]; [`TransferError::Protocol`] when it answers but not 200.
pub async fn agent_health(agent_url: &str) -> Result<(), TransferError> {
    let url = format!("{}/healthz", agent_url.trim_end_matches('/'));
    let unreachable = |source| TransferError::Unreachable { url: agent_url.to_owned(), source };
    let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().map_err(unreachable)?;
    let response = client.get(&url).send().await.map_err(unreachable)?;
    let status = response.status().as_u16();
    if status != 200 {
        let body = response.text().await.unwrap_or_default().chars().take(500).collect();
        return Err(TransferError::Protocol { status, body });
    }
    Ok(())
}

/// Copies `source` to `destination` (a file path), at most at `rate`. Blocking: run it on a thread.
///
/// # Errors
/// [`TransferError::Io`].
pub fn copy_file(
    source: &Path,
    destination: &Path,
    rate: Option<Rate>,
    mut progress: impl FnMut(u64),
) -> Result<Transferred, TransferError> {
    let started = Instant::now();
    let mut input = File::open(source).map_err(io_error(source))?;
    let mut output = File::create(destination).map_err(io_error(destination))?;
    let mut pacer = Pacer::new(rate);
    let mut buffer = vec![0u8; pacer.chunk_size()];
    let mut total = 0u64;
    loop {
        let n = match input.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io_error(source)(e)),
        };
        output.write_all(&buffer[..n]).map_err(io_error(destination))?;
        total += n as u64;
        progress(total);
        let wait = pacer.after(n);
        if !wait.is_zero() {
            std::thread::sleep(wait);
        }
    }
    output.sync_all().map_err(io_error(destination))?;
    Ok(Transferred {
        bytes: total,
        elapsed_ms: millis(started.elapsed()),
        destination: destination.display().to_string(),
    })
}

/// The outcome of an upload to an agent: the transfer, and the agent's receipt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivered {
    pub transferred: Transferred,
    pub receipt: Receipt,
}

/// Uploads `source` to the agent at `agent_url` for `migration_id`, at most at `rate`, with the
/// migration's transfer key as the bearer token, and returns the agent's receipt (confirmed or
/// rejected on the ledger).
///
/// # Errors
/// [`TransferError::Io`] reading the image; [`TransferError::Unreachable`];
/// [`TransferError::Refused`] with the agent's problem; [`TransferError::Protocol`].
pub async fn upload(
    agent_url: &str,
    migration_id: &str,
    key: &crate::image::TransferKey,
    source: &Path,
    rate: Option<Rate>,
    progress: impl Fn(u64) + Send + 'static,
) -> Result<Delivered, TransferError> {
    let url = format!("{}/migrations/{migration_id}/image", agent_url.trim_end_matches('/'));
    let file = File::open(source).map_err(io_error(source))?;
    let length = file.metadata().map_err(io_error(source))?.len();
    let (tx, rx) = tokio::sync::mpsc::channel::<io::Result<bytes::Bytes>>(8);
    let reader = std::thread::spawn(move || send_chunks(file, rate, &tx, progress));
    let body = reqwest::Body::wrap_stream(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    }));
    let started = Instant::now();
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .build()
        .map_err(|source| TransferError::Unreachable { url: url.clone(), source })?;
    // The transfer key authenticates the upload and is what the destination proves receipt with.
    let sent = client
        .put(&url)
        .bearer_auth(key.to_hex())
        .header(reqwest::header::CONTENT_LENGTH, length)
        .body(body)
        .send()
        .await;
    let sent_ms = millis(started.elapsed());
    let read = reader.join().unwrap_or_else(|_| Err(io::Error::other("the reader thread panicked")));
    let response = match sent {
        Ok(response) => response,
        Err(e) => {
            // A failed read also breaks the request: report the file then.
            read.map_err(io_error(source))?;
            return Err(TransferError::Unreachable { url, source: e });
        }
    };
    read.map_err(io_error(source))?;
    let status = response.status().as_u16();
    let text = response.text().await.map_err(|source| TransferError::Unreachable { url: url.clone(), source })?;
    match status {
        200 | 422 => {
            let receipt: Receipt = serde_json::from_str(&text)
                .map_err(|_| TransferError::Protocol { status, body: text.chars().take(500).collect() })?;
            // The upload ends when the agent has everything; its answer waits for the ledger.
            let elapsed_ms = receipt.receive_ms.min(sent_ms);
            Ok(Delivered { transferred: Transferred { bytes: receipt.bytes, elapsed_ms, destination: url }, receipt })
        }
        _ => match serde_json::from_str::<Problem>(&text) {
            Ok(problem) if !problem.code.is_empty() => Err(TransferError::Refused { problem: Box::new(problem) }),
            _ => Err(TransferError::Protocol { status, body: text.chars().take(500).collect() }),
        },
    }
}

/// Reads `file` in paced chunks into the request body's channel.
fn send_chunks(
    mut file: File,
    rate: Option<Rate>,
    tx: &tokio::sync::mpsc::Sender<io::Result<bytes::Bytes>>,
    progress: impl Fn(u64),
) -> io::Result<()> {
    let mut pacer = Pacer::new(rate);
    let chunk = pacer.chunk_size();
    let mut total = 0u64;
    loop {
        let mut buffer = vec![0u8; chunk];
        let n = match file.read(&mut buffer) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                let _ = tx.blocking_send(Err(io::Error::new(e.kind(), e.to_string())));
                return Err(e);
            }
        };
        buffer.truncate(n);
        if tx.blocking_send(Ok(bytes::Bytes::from(buffer))).is_err() {
            // The request ended (the agent answered early, or the connection broke).
            return Ok(());
        }
        total += n as u64;
        progress(total);
        let wait = pacer.after(n);
        if !wait.is_zero() {
            std::thread::sleep(wait);
        }
    }
}
