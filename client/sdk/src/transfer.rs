//! Moving a VM image from source to destination, outside the ledger: into a destination folder, or
//! over HTTP to a destination agent (`vmledger agent`), optionally capped to a rate.
//!
//! The agent's protocol, every request with the migration's transfer key as `Authorization:
//! Bearer`: `GET /migrations/{migrationId}/image` answers the bytes the agent holds ([`Held`], also
//! in the `Upload-Offset` header; it waits for the Indication to reach the agent's peer and checks
//! the key, so a refusal comes before any byte is sent); `PUT` on the same resource sends the
//! image, or its rest with `Content-Range: bytes {held}-{last}/{total}`. Once the image is complete
//! the agent confirms (or rejects) the migration on the ledger with its own identity and answers a
//! [`Receipt`]: 200 when confirmed, 422 when the ledger recorded a rejection, or a problem document
//! (as the proxy's) when it could not decide. [`upload`] resumes a cut upload from what the agent
//! holds, a bounded number of times with exponential backoff ([`Resume`]).

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
    /// Where the request that completed the image started: 0, or the bytes held after a cut.
    #[serde(default)]
    pub resumed_from: u64,
    /// From the first byte of the last request's body to its last (hashing included).
    pub receive_ms: u64,
    /// Waiting for the Indication to be visible on the agent's peer, and checking it, before the
    /// last request's body was read.
    pub lookup_wait_ms: u64,
    /// The `ConfirmMigration` transaction.
    pub confirm_tx_id: String,
    pub confirm_block: u64,
    pub confirm_timings: Timings,
    pub confirm_client_ms: u64,
    /// Where the agent keeps the image (a confirmed image) or the evidence (a rejected one).
    #[serde(default)]
    pub stored_at: Option<String>,
}

/// What the agent holds of an upload (`GET /migrations/{migrationId}/image`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Held {
    pub migration_id: String,
    /// Bytes kept from earlier requests: where the next one starts.
    pub bytes_held: u64,
}

/// How [`upload`] resumes a cut upload: at most `attempts` requests in all, waiting between them
/// from `min_delay`, doubling up to `max_delay` (with jitter), or as long as the agent's
/// `Retry-After` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resume {
    pub attempts: usize,
    pub min_delay: Duration,
    pub max_delay: Duration,
}

impl Default for Resume {
    fn default() -> Self {
        Resume { attempts: 8, min_delay: Duration::from_millis(200), max_delay: Duration::from_secs(5) }
    }
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

impl TransferError {
    /// Whether trying again may succeed: a connection that failed or broke, or a refusal the
    /// vocabulary calls retryable (busy, timed out, ledger unavailable).
    pub fn is_retryable(&self) -> bool {
        match self {
            TransferError::Unreachable { .. } => true,
            TransferError::Refused { problem } => {
                vmledger_contract::vocabulary::code(&problem.code).is_some_and(|c| c.retryable)
            }
            TransferError::Io { .. } | TransferError::Protocol { .. } => false,
        }
    }
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
/// migration's transfer key as the bearer token, resuming a cut upload as [`Resume::default`]
/// says, and returns the agent's receipt (confirmed or rejected on the ledger).
///
/// # Errors
/// As [`upload_resuming`].
pub async fn upload(
    agent_url: &str,
    migration_id: &str,
    key: &crate::image::TransferKey,
    source: &Path,
    rate: Option<Rate>,
    progress: impl Fn(u64) + Send + Sync + 'static,
) -> Result<Delivered, TransferError> {
    upload_resuming(agent_url, migration_id, key, source, rate, Resume::default(), progress).await
}

/// [`upload`] with its own [`Resume`]. Each attempt asks the agent what it holds (`GET`), then
/// sends the rest (`PUT`, with `Content-Range` when resuming); a retryable failure
/// ([`TransferError::is_retryable`]) is tried again until `resume.attempts` ran out. `progress`
/// gets the bytes the agent has, counting what it held.
///
/// # Errors
/// [`TransferError::Io`] reading the image; [`TransferError::Unreachable`] when every attempt
/// failed to reach or broke off; [`TransferError::Refused`] with the agent's problem;
/// [`TransferError::Protocol`].
pub async fn upload_resuming(
    agent_url: &str,
    migration_id: &str,
    key: &crate::image::TransferKey,
    source: &Path,
    rate: Option<Rate>,
    resume: Resume,
    progress: impl Fn(u64) + Send + Sync + 'static,
) -> Result<Delivered, TransferError> {
    use backon::Retryable;

    let url = format!("{}/migrations/{migration_id}/image", agent_url.trim_end_matches('/'));
    let length = std::fs::metadata(source).map_err(io_error(source))?.len();
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .build()
        .map_err(|source| TransferError::Unreachable { url: url.clone(), source })?;
    let progress: std::sync::Arc<dyn Fn(u64) + Send + Sync> = std::sync::Arc::new(progress);
    let started = Instant::now();
    let attempt = || async {
        let held = held(&client, &url, key).await?;
        if held > length {
            return Err(TransferError::Protocol {
                status: 200,
                body: format!("the agent holds {held} bytes of a {length}-byte image"),
            });
        }
        put_from(&client, &url, key, source, Span { offset: held, total: length }, rate, progress.clone()).await
    };
    let backoff = backon::ExponentialBuilder::default()
        .with_min_delay(resume.min_delay)
        .with_max_delay(resume.max_delay)
        .with_max_times(resume.attempts.saturating_sub(1))
        .with_jitter();
    let (receipt, sent_at) = attempt
        .retry(backoff)
        .when(TransferError::is_retryable)
        .adjust(|e, delay| match e {
            TransferError::Refused { problem } => problem.retry_after.max(delay),
            _ => delay,
        })
        .await?;
    // The transfer ends when the agent has everything; its answer then waits for the ledger.
    let elapsed_ms = millis(sent_at.saturating_duration_since(started));
    Ok(Delivered { transferred: Transferred { bytes: receipt.bytes, elapsed_ms, destination: url }, receipt })
}

/// The part of the image one request sends.
#[derive(Debug, Clone, Copy)]
struct Span {
    offset: u64,
    total: u64,
}

/// A problem document answered with `status` (and its `Retry-After`), or the body as it came.
async fn refusal(response: reqwest::Response) -> TransferError {
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .map(Duration::from_secs);
    let text = response.text().await.unwrap_or_default();
    match serde_json::from_str::<Problem>(&text) {
        Ok(mut problem) if !problem.code.is_empty() => {
            problem.retry_after = retry_after;
            TransferError::Refused { problem: Box::new(problem) }
        }
        _ => TransferError::Protocol { status, body: text.chars().take(500).collect() },
    }
}

/// What the agent holds of the upload at `url` (0 for a new one).
async fn held(client: &reqwest::Client, url: &str, key: &crate::image::TransferKey) -> Result<u64, TransferError> {
    let unreachable = |source| TransferError::Unreachable { url: url.to_owned(), source };
    let response = client.get(url).bearer_auth(key.to_hex()).send().await.map_err(unreachable)?;
    if response.status().as_u16() != 200 {
        return Err(refusal(response).await);
    }
    let status = response.status().as_u16();
    let text = response.text().await.map_err(unreachable)?;
    let held: Held = serde_json::from_str(&text)
        .map_err(|_| TransferError::Protocol { status, body: text.chars().take(500).collect() })?;
    Ok(held.bytes_held)
}

/// Sends `source` from `span.offset` on; the receipt, and when the last byte left.
async fn put_from(
    client: &reqwest::Client,
    url: &str,
    key: &crate::image::TransferKey,
    source: &Path,
    span: Span,
    rate: Option<Rate>,
    progress: std::sync::Arc<dyn Fn(u64) + Send + Sync>,
) -> Result<(Receipt, Instant), TransferError> {
    use std::io::Seek;

    let mut file = File::open(source).map_err(io_error(source))?;
    file.seek(io::SeekFrom::Start(span.offset)).map_err(io_error(source))?;
    let (tx, rx) = tokio::sync::mpsc::channel::<io::Result<bytes::Bytes>>(8);
    let offset = span.offset;
    let reader = std::thread::spawn(move || send_chunks(file, rate, &tx, move |n| progress(offset + n)));
    let body = reqwest::Body::wrap_stream(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    }));
    let mut request =
        client.put(url).bearer_auth(key.to_hex()).header(reqwest::header::CONTENT_LENGTH, span.total - span.offset);
    if span.offset > 0 {
        let range = format!("bytes {}-{}/{}", span.offset, span.total - 1, span.total);
        request = request.header(reqwest::header::CONTENT_RANGE, range);
    }
    // The transfer key authenticates the upload and is what the destination proves receipt with.
    let sent = request.body(body).send().await;
    let read = tokio::task::spawn_blocking(move || {
        reader.join().unwrap_or_else(|_| Err(io::Error::other("the reader thread panicked")))
    })
    .await
    .unwrap_or_else(|e| Err(io::Error::other(e.to_string())));
    let response = match sent {
        Ok(response) => response,
        Err(e) => {
            // A failed read also breaks the request: report the file then.
            read.map_err(io_error(source))?;
            return Err(TransferError::Unreachable { url: url.to_owned(), source: e });
        }
    };
    let sent_at = read.map_err(io_error(source))?.unwrap_or_else(Instant::now);
    let status = response.status().as_u16();
    if !matches!(status, 200 | 422) {
        return Err(refusal(response).await);
    }
    let text = response.text().await.map_err(|source| TransferError::Unreachable { url: url.to_owned(), source })?;
    let receipt: Receipt = serde_json::from_str(&text)
        .map_err(|_| TransferError::Protocol { status, body: text.chars().take(500).collect() })?;
    Ok((receipt, sent_at))
}

/// Reads `file` in paced chunks into the request body's channel; when it read to the end, the
/// time the last chunk was handed over.
fn send_chunks(
    mut file: File,
    rate: Option<Rate>,
    tx: &tokio::sync::mpsc::Sender<io::Result<bytes::Bytes>>,
    progress: impl Fn(u64),
) -> io::Result<Option<Instant>> {
    let mut pacer = Pacer::new(rate);
    let chunk = pacer.chunk_size();
    let mut total = 0u64;
    loop {
        let mut buffer = vec![0u8; chunk];
        let n = match file.read(&mut buffer) {
            Ok(0) => return Ok(Some(Instant::now())),
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
            return Ok(None);
        }
        total += n as u64;
        progress(total);
        let wait = pacer.after(n);
        if !wait.is_zero() {
            std::thread::sleep(wait);
        }
    }
}
