//! The agent's image route: `PUT /migrations/{migrationId}/image` receives a cold image (or the
//! rest of one), `GET`/`HEAD` on the same resource answers how many bytes the agent holds.
//!
//! Nothing is stored before the upload is admitted: the bearer token must be present, the declared
//! length within the agent's cap, an upload slot free; then, on the chain holding it (waiting up to
//! the lookup timeout for the Indication to reach this member's peer), the migration must exist,
//! the token must be its transfer key (SHA-256 equal to the Indication's commitment), its
//! destination cloud must be this agent's member's, and it must still be `indicated`. Only then is
//! the first byte of the body read.
//!
//! Resume: an upload that breaks off (connection lost, idle or total time limit) keeps what
//! arrived as `DIR/{migrationId}.part` and is not confirmed; the source asks `GET` for the bytes
//! held and sends the rest with `Content-Range: bytes {held}-{last}/{total}`. Only a complete
//! image is confirmed, so only a complete image whose hash differs is committed as a rejection.
//! The hash of a resumed image is computed over the whole file: the kept prefix is read back from
//! disk and hashed before the rest arrives. Rehashing, rather than keeping the hasher's state in
//! memory, makes the hash cover exactly the bytes on disk (whatever the broken connection left in
//! buffers) and survives a restart of the agent; it costs one read of the prefix (≈ 1 GB/s).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use http_body_util::BodyExt;
use hyper::Request;
use hyper::body::Incoming;
use tokio::io::AsyncWriteExt;
use vmledger_contract::model::{Migration, MigrationStatus};
use vmledger_contract::msg;

use super::{Agent, Claim, from_sdk, internal, problem, status_name};
use crate::error::Problem;
use crate::gateway::millis;
use crate::image::{StreamHasher, TransferKey};
use crate::ledger::VmLedger;
use crate::transfer::{Held, Receipt};

/// The header naming the bytes held, on `GET`/`HEAD` (as the tus protocol names it).
pub const UPLOAD_OFFSET: &str = "upload-offset";

/// How long a refused-for-now uploader should wait (`Retry-After`, seconds).
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// The part of the image a `PUT` carries: from `offset`, up to `total` bytes in all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) offset: u64,
    pub(crate) total: u64,
}

/// The span a request declares: `Content-Range: bytes A-B/T` (a resume), or `Content-Length` (the
/// whole image). A body of undeclared length is refused: the agent caps what it stores.
pub(crate) fn span(headers: &hyper::HeaderMap) -> Result<Span, String> {
    let length =
        headers.get(hyper::header::CONTENT_LENGTH).map(|v| v.to_str().ok().and_then(|v| v.parse::<u64>().ok()));
    let length = match length {
        Some(Some(length)) => length,
        Some(None) => return Err("Content-Length is not a number".into()),
        None => return Err("an upload declares its length (Content-Length; chunked bodies are refused)".into()),
    };
    let Some(range) = headers.get(hyper::header::CONTENT_RANGE) else {
        return Ok(Span { offset: 0, total: length });
    };
    let malformed = || "Content-Range is not `bytes FIRST-LAST/TOTAL`".to_owned();
    let range = range.to_str().map_err(|_| malformed())?;
    let (first_last, total) = range.strip_prefix("bytes ").and_then(|r| r.split_once('/')).ok_or_else(malformed)?;
    let (first, last) = first_last.split_once('-').ok_or_else(malformed)?;
    let number = |s: &str| s.trim().parse::<u64>().map_err(|_| malformed());
    let (first, last, total) = (number(first)?, number(last)?, number(total)?);
    if first > last || last >= total || last - first + 1 != length {
        return Err(format!("Content-Range {range} does not match Content-Length {length}"));
    }
    Ok(Span { offset: first, total })
}

/// The bearer token, as a transfer key.
fn bearer(request: &Request<Incoming>) -> Result<TransferKey, Box<Problem>> {
    request
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .and_then(TransferKey::from_hex)
        .ok_or_else(|| {
            Box::new(problem(
                "UNAUTHENTICATED",
                "an upload carries its migration's transfer key: Authorization: Bearer <64 hex>".into(),
            ))
        })
}

fn valid_id(id: &str) -> Result<(), Box<Problem>> {
    if id.is_empty() || id.len() > 128 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Err(Box::new(problem("BAD_REQUEST", format!("`{id}` is not a migration id"))));
    }
    Ok(())
}

fn busy(detail: String) -> Box<Problem> {
    let mut p = problem("UNAVAILABLE", detail);
    p.retry_after = Some(RETRY_AFTER);
    Box::new(p)
}

fn part_path(agent: &Agent, id: &str) -> PathBuf {
    agent.dir.join(format!("{id}.part"))
}

/// Bytes of `id` held so far (0 when none).
async fn held_bytes(agent: &Agent, id: &str) -> u64 {
    tokio::fs::metadata(part_path(agent, id)).await.map(|m| m.len()).unwrap_or(0)
}

/// The migration, if this key may upload to it through this agent now. Each refusal names the
/// rule and the value. A migration no longer open loses its kept part.
async fn admitted(agent: &Agent, id: &str, key: &TransferKey) -> Result<(Migration, VmLedger), Box<Problem>> {
    let (migration, ledger) = super::lookup(agent.chains.clone(), id.to_owned(), agent.lookup_timeout).await?;
    if !key.matches(&migration.transfer_key_hash) {
        return Err(Box::new(problem(
            "UNAUTHENTICATED",
            format!("migration {id}: the bearer token is not its transfer key"),
        )));
    }
    let cloud = &migration.destination.cloud_id;
    let owner = agent.chains.federation().get_cloud(cloud).await.map_err(|e| Box::new(from_sdk(&e)))?.msp_id;
    if owner != agent.member_msp_id {
        return Err(Box::new(problem(
            "UNAUTHORIZED",
            format!(
                "migration {id} goes to cloud {cloud} of {owner}, not to this agent's member {}",
                agent.member_msp_id
            ),
        )));
    }
    if migration.live {
        return Err(Box::new(problem(
            "CONFLICT",
            format!("migration {id} is live: its stream goes to the live route"),
        )));
    }
    if migration.status != MigrationStatus::Indicated {
        let _ = tokio::fs::remove_file(part_path(agent, id)).await;
        return Err(Box::new(problem(
            "CONFLICT",
            format!("migration {id} is already {}; nothing to receive", status_name(migration.status)),
        )));
    }
    Ok((migration, ledger))
}

/// `GET`/`HEAD /migrations/{id}/image`: the bytes held, for the migration's source only.
pub(crate) async fn held(agent: &Agent, id: &str, request: &Request<Incoming>) -> Result<Held, Box<Problem>> {
    valid_id(id)?;
    let key = bearer(request)?;
    admitted(agent, id, &key).await?;
    // While a request is still writing (a cut it has not noticed yet), its count is not final.
    if agent.receiving.lock().map(|r| r.contains(id)).unwrap_or(false) {
        return Err(busy(format!("an upload of migration {id} is in progress here; retry once it ends")));
    }
    Ok(Held { migration_id: id.to_owned(), bytes_held: held_bytes(agent, id).await })
}

/// `PUT /migrations/{id}/image`: admit, then store and hash; confirm once the image is complete.
pub(crate) async fn receive(agent: &Agent, id: &str, request: Request<Incoming>) -> Result<Receipt, Box<Problem>> {
    valid_id(id)?;
    let key = bearer(&request)?;
    let span = span(request.headers()).map_err(|e| Box::new(problem("BAD_REQUEST", e)))?;
    let cap = agent.limits.max_image_bytes;
    if span.total > cap {
        let mut p = problem(
            "PAYLOAD_TOO_LARGE",
            format!("migration {id}: an image of {} bytes is over this agent's cap of {cap} bytes", span.total),
        );
        p.details = serde_json::json!({"totalBytes": span.total, "maxImageBytes": cap});
        return Err(Box::new(p));
    }
    let _slot = agent.uploads.clone().try_acquire_owned().map_err(|_| {
        busy(format!("this agent already receives {} uploads, its limit; retry later", agent.limits.max_uploads))
    })?;
    let claimed = agent.receiving.lock().map(|mut r| r.insert(id.to_owned())).unwrap_or(false);
    if !claimed {
        return Err(busy(format!("an upload of migration {id} is in progress here; retry once it ends")));
    }
    let _claim = Claim { agent, id: id.to_owned() };

    let waited = Instant::now();
    let (migration, ledger) = admitted(agent, id, &key).await?;
    let lookup_wait_ms = millis(waited.elapsed());

    let part = part_path(agent, id);
    let held = held_bytes(agent, id).await;
    if span.offset != 0 && span.offset != held {
        let mut p = problem(
            "CONFLICT",
            format!(
                "migration {id}: this agent holds {held} bytes; a resumed upload starts there, not at {}",
                span.offset
            ),
        );
        p.details = serde_json::json!({"bytesHeld": held, "offset": span.offset});
        return Err(Box::new(p));
    }
    // A resumed image is hashed whole: the prefix from disk first (see the module's docs).
    let hasher = if span.offset == 0 {
        StreamHasher::new(Some(&key))
    } else {
        let (path, key, length) = (part.clone(), key.clone(), span.offset);
        tokio::task::spawn_blocking(move || hash_prefix(&path, &key, length))
            .await
            .map_err(|e| Box::new(internal(format!("hashing the kept part: {e}"))))?
            .map_err(|e| Box::new(internal(format!("hashing {}: {e}", part.display()))))?
    };
    let file = if span.offset == 0 {
        tokio::fs::File::create(&part).await
    } else {
        tokio::fs::OpenOptions::new().append(true).open(&part).await
    }
    .map_err(|e| Box::new(internal(format!("opening {}: {e}", part.display()))))?;

    let started = Instant::now();
    let (hasher, ended) = store(agent, file, hasher, request.into_body(), span).await.map_err(|e| {
        let p = internal(format!("writing {}: {e}", part.display()));
        Box::new(p)
    })?;
    let receive_ms = millis(started.elapsed());
    let bytes = hasher.bytes();
    match ended {
        Ended::Complete => {}
        Ended::TooLong => {
            let _ = tokio::fs::remove_file(&part).await;
            return Err(Box::new(problem(
                "PAYLOAD_TOO_LARGE",
                format!("migration {id}: the body went past its declared {} bytes; cut", span.total),
            )));
        }
        Ended::Broken(why) => {
            // Kept for a resume: a broken connection never becomes a rejection.
            let code = if matches!(why, Broke::Idle | Broke::TimeLimit) { "TIMEOUT" } else { "UNAVAILABLE" };
            let mut p = problem(
                code,
                format!(
                    "migration {id}: the upload {why} after {bytes} of {} bytes; kept, resume from {bytes}",
                    span.total
                ),
            );
            p.details = serde_json::json!({"bytesHeld": bytes, "totalBytes": span.total});
            p.retry_after = Some(RETRY_AFTER);
            return Err(Box::new(p));
        }
    }

    let (observed_hash, keyed_digest) = hasher.finish_keyed();
    // The contract compares the hashes: a tampered image is rejected on the ledger, as evidence.
    let confirmed = ledger
        .confirm_migration(&msg::ConfirmMigration {
            migration_id: id.to_owned(),
            observed_hash: observed_hash.clone(),
            transfer_key: key.to_hex(),
            keyed_digest: keyed_digest.unwrap_or_default(),
        })
        .await
        .map_err(|e| Box::new(from_sdk(&e)))?;
    let status = confirmed.result.status;
    let kept = agent.dir.join(if status == MigrationStatus::Confirmed {
        format!("{id}.img")
    } else {
        format!("{id}.rejected")
    });
    let stored_at = tokio::fs::rename(&part, &kept).await.ok().map(|()| kept.display().to_string());
    Ok(Receipt {
        migration_id: id.to_owned(),
        vm_id: migration.vm_id,
        status,
        recorded_hash: confirmed.result.recorded_hash.clone().unwrap_or_default(),
        observed_hash,
        bytes,
        resumed_from: span.offset,
        receive_ms,
        lookup_wait_ms,
        confirm_tx_id: confirmed.tx_id.clone(),
        confirm_block: confirmed.block_number,
        confirm_timings: confirmed.timings,
        confirm_client_ms: confirmed.client_ms,
        stored_at,
    })
}

/// Why a body stopped before its end.
#[derive(Debug, Clone, Copy)]
enum Broke {
    Connection,
    Idle,
    TimeLimit,
}

impl std::fmt::Display for Broke {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Broke::Connection => "broke off",
            Broke::Idle => "went idle past the agent's idle timeout",
            Broke::TimeLimit => "went past the agent's time limit",
        })
    }
}

enum Ended {
    Complete,
    Broken(Broke),
    TooLong,
}

/// Writes the body after what `file` holds, hashing it, within the agent's idle and total time
/// limits; stops at the span's end. What arrived is flushed to disk whatever the ending.
async fn store(
    agent: &Agent,
    file: tokio::fs::File,
    mut hasher: StreamHasher,
    mut body: Incoming,
    span: Span,
) -> std::io::Result<(StreamHasher, Ended)> {
    let mut file = tokio::io::BufWriter::with_capacity(1 << 20, file);
    let deadline = tokio::time::Instant::now() + agent.limits.upload_timeout;
    let ended = loop {
        if hasher.bytes() == span.total {
            break Ended::Complete;
        }
        let idle = tokio::time::Instant::now() + agent.limits.idle_timeout;
        let frame = match tokio::time::timeout_at(idle.min(deadline), body.frame()).await {
            Err(_) if idle < deadline => break Ended::Broken(Broke::Idle),
            Err(_) => break Ended::Broken(Broke::TimeLimit),
            Ok(None) => break Ended::Broken(Broke::Connection),
            Ok(Some(Err(_))) => break Ended::Broken(Broke::Connection),
            Ok(Some(Ok(frame))) => frame,
        };
        let Ok(chunk) = frame.into_data() else { continue };
        if hasher.bytes() + chunk.len() as u64 > span.total {
            break Ended::TooLong;
        }
        hasher.update(&chunk);
        file.write_all(&chunk).await?;
    };
    file.flush().await?;
    file.into_inner().sync_data().await?;
    Ok((hasher, ended))
}

/// The hasher state after the first `length` bytes of `path`.
fn hash_prefix(path: &Path, key: &TransferKey, length: u64) -> std::io::Result<StreamHasher> {
    let mut hasher = StreamHasher::new(Some(key));
    let mut file = std::fs::File::open(path)?.take(length);
    let mut buffer = vec![0u8; 4 << 20];
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    if hasher.bytes() != length {
        return Err(std::io::Error::other(format!("{} holds {} bytes, not {length}", path.display(), hasher.bytes())));
    }
    Ok(hasher)
}
