//! The destination agent: BASICS' destination cloud manager, the destination side of
//! [`crate::workflow::migrate`] (`vmledger agent` runs it).
//!
//! `PUT /migrations/{migrationId}/image` receives an image, hashing it as it arrives; the agent then
//! looks the migration up on the ledger (waiting for the Indication to commit if it has not yet),
//! and confirms it with the hash it computed, as its own member. The contract compares the hashes:
//! a tampered or truncated upload is committed as a rejected migration, never accepted. The
//! uploader gets a [`Receipt`]: 200 confirmed, 422 rejected; or a problem document (404 unknown
//! migration, 409 not open or already being received, 403 not this member's to confirm, 503 ledger
//! unreachable). `GET /healthz` answers 200.
//!
//! Confirmed images are kept as `DIR/{migrationId}.img`; rejected ones as
//! `DIR/{migrationId}.rejected` (the evidence).
//!
//! With a [`LiveConfig`] ([`Agent::with_live`]) the agent also takes running guests:
//! `POST /migrations/{migrationId}/live` (see [`live`] for the checks and the gate), and
//! `GET /migrations/{migrationId}/live` answers what became of one.

use std::collections::HashSet;
use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use tokio::io::AsyncWriteExt;
use vmledger_contract::model::{Migration, MigrationStatus};
use vmledger_contract::msg;

use crate::chains::Chains;
use crate::error::{Error, Problem};
use crate::gateway::millis;
use crate::image::{StreamHasher, TransferKey};
use crate::ledger::VmLedger;
use crate::transfer::Receipt;
use crate::workflow::live::LiveLedger;

pub mod live;
pub use crate::workflow::live::LiveReceipt;
pub use live::LiveConfig;

/// What the agent tells its host program (a log, a metrics counter). Called from the tasks serving
/// uploads; the defaults do nothing.
pub trait AgentObserver: Send + Sync {
    /// An upload was received and the migration closed on the ledger (confirmed or rejected).
    fn received(&self, _receipt: &Receipt) {}
    /// An upload was refused (the problem document the uploader got).
    fn refused(&self, _migration_id: &str, _problem: &Problem) {}
    /// Accepting a connection failed (the agent goes on).
    fn accept_failed(&self, _error: &std::io::Error) {}
    /// A live stream was received and decided: resumed here, or discarded.
    fn live(&self, _receipt: &LiveReceipt) {}
}

impl AgentObserver for () {}

/// A destination agent acting for one member: its chains (the member's identity on the federation
/// and on its local chain: a migration inside its cloud is on the latter), the folder images land
/// in, and how long it waits for an Indication to reach its peer.
pub struct Agent {
    chains: Chains,
    dir: PathBuf,
    lookup_timeout: Duration,
    receiving: Mutex<HashSet<String>>,
    observer: Arc<dyn AgentObserver>,
    live: Option<live::LiveDestination>,
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent").field("dir", &self.dir).field("lookup_timeout", &self.lookup_timeout).finish()
    }
}

impl Agent {
    /// An agent confirming as `chains`' identity, on the chain that holds each migration, keeping
    /// images in `dir` (created if needed).
    ///
    /// # Errors
    /// Creating `dir`.
    pub fn new(
        chains: Chains,
        dir: impl Into<PathBuf>,
        lookup_timeout: Duration,
        observer: Arc<dyn AgentObserver>,
    ) -> std::io::Result<Agent> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)?;
        Ok(Agent { chains, dir, lookup_timeout, receiving: Mutex::new(HashSet::new()), observer, live: None })
    }

    /// Takes live migrations too: `ledger` is this member's (the key check, the Confirmation),
    /// `config` how destination QEMUs start.
    #[must_use]
    pub fn with_live(mut self, ledger: Arc<dyn LiveLedger>, config: LiveConfig) -> Self {
        self.live = Some(live::LiveDestination::new(ledger, config));
        self
    }

    /// Serves uploads on `listener` until `shutdown` completes; each connection on its own task.
    pub async fn serve(self, listener: tokio::net::TcpListener, shutdown: impl std::future::Future<Output = ()>) {
        let agent = Arc::new(self);
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let (stream, _) = match accepted {
                        Ok(accepted) => accepted,
                        Err(e) => {
                            agent.observer.accept_failed(&e);
                            continue;
                        }
                    };
                    let agent = agent.clone();
                    tokio::spawn(async move {
                        let service = service_fn(move |request| handle(agent.clone(), request));
                        // Upgrades: the live route turns its connection into the live link.
                        let _ =
                            http1::Builder::new().serve_connection(TokioIo::new(stream), service).with_upgrades().await;
                    });
                }
                () = &mut shutdown => return,
            }
        }
    }
}

type Answer = Response<Full<Bytes>>;

async fn handle(agent: Arc<Agent>, request: Request<Incoming>) -> Result<Answer, Infallible> {
    let path: Vec<String> = request.uri().path().trim_matches('/').split('/').map(str::to_owned).collect();
    let answer = match (request.method(), path.iter().map(String::as_str).collect::<Vec<_>>().as_slice()) {
        (&Method::GET, ["healthz"]) => json(StatusCode::OK, &serde_json::json!({"status": "ok"})),
        (&Method::GET, ["migrations", id, "live"]) => live::receipt(&agent, id).await,
        (_, ["migrations", _, "live"]) => live::offer(agent.clone(), request).await,
        (&Method::PUT, ["migrations", id, "image"]) => {
            let id = (*id).to_owned();
            match receive(&agent, &id, request).await {
                Ok(receipt) => {
                    agent.observer.received(&receipt);
                    let status = if receipt.status == MigrationStatus::Confirmed {
                        StatusCode::OK
                    } else {
                        StatusCode::UNPROCESSABLE_ENTITY
                    };
                    json(status, &receipt)
                }
                Err(problem) => {
                    agent.observer.refused(&id, &problem);
                    problem_answer(&problem)
                }
            }
        }
        _ => problem_answer(&problem(
            "ROUTE_NOT_FOUND",
            format!("no route for {} {}", request.method(), request.uri().path()),
        )),
    };
    Ok(answer)
}

/// Releases the claim on a migration id when the upload's handling ends.
struct Claim<'a> {
    agent: &'a Agent,
    id: String,
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        if let Ok(mut receiving) = self.agent.receiving.lock() {
            receiving.remove(&self.id);
        }
    }
}

async fn receive(agent: &Agent, id: &str, request: Request<Incoming>) -> Result<Receipt, Problem> {
    if id.is_empty() || id.len() > 128 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Err(problem("BAD_REQUEST", format!("`{id}` is not a migration id")));
    }
    let claimed = agent.receiving.lock().map(|mut r| r.insert(id.to_owned())).unwrap_or(false);
    if !claimed {
        return Err(problem("CONFLICT", format!("an image for migration {id} is already being received")));
    }
    let _claim = Claim { agent, id: id.to_owned() };
    // The source sends the migration's transfer key with the image, and only here.
    let key = request
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .and_then(TransferKey::from_hex)
        .ok_or_else(|| {
            problem(
                "UNAUTHENTICATED",
                "an upload carries its migration's transfer key: Authorization: Bearer <64 hex>".into(),
            )
        })?;
    let declared: Option<u64> =
        request.headers().get(hyper::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());

    // Look the migration up while the image arrives.
    let lookup = tokio::spawn(lookup(agent.chains.clone(), id.to_owned(), agent.lookup_timeout));

    let part = agent.dir.join(format!("{id}.part"));
    let file =
        tokio::fs::File::create(&part).await.map_err(|e| internal(format!("creating {}: {e}", part.display())))?;
    let mut file = tokio::io::BufWriter::with_capacity(1 << 20, file);
    let mut hasher = StreamHasher::new(Some(&key));
    let mut body = request.into_body();
    let started = Instant::now();
    let mut broken = false;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            broken = true;
            break;
        };
        if let Ok(chunk) = frame.into_data() {
            hasher.update(&chunk);
            if let Err(e) = file.write_all(&chunk).await {
                let _ = tokio::fs::remove_file(&part).await;
                return Err(internal(format!("writing {}: {e}", part.display())));
            }
        }
    }
    let flushed = file.flush().await;
    drop(file);
    let receive_ms = millis(started.elapsed());
    if let Err(e) = flushed {
        let _ = tokio::fs::remove_file(&part).await;
        return Err(internal(format!("writing {}: {e}", part.display())));
    }
    let bytes = hasher.bytes();
    let truncated = broken || declared.is_some_and(|d| d != bytes);
    let (observed_hash, keyed_digest) = hasher.finish_keyed();

    let wait_started = Instant::now();
    let (migration, ledger) = match lookup.await {
        Ok(Ok(found)) => found,
        Ok(Err(problem)) => {
            let _ = tokio::fs::remove_file(&part).await;
            return Err(problem);
        }
        Err(e) => {
            let _ = tokio::fs::remove_file(&part).await;
            return Err(internal(format!("lookup task: {e}")));
        }
    };
    let lookup_wait_ms = millis(wait_started.elapsed());
    if migration.transfer_key_hash != key.hash() {
        let _ = tokio::fs::remove_file(&part).await;
        return Err(problem("UNAUTHENTICATED", format!("the bearer token is not migration {id}'s transfer key")));
    }
    if migration.status != MigrationStatus::Indicated {
        let _ = tokio::fs::remove_file(&part).await;
        return Err(problem(
            "CONFLICT",
            format!("migration {id} is already {}; nothing to confirm", status_name(migration.status)),
        ));
    }

    // The contract compares the hashes: a tampered or truncated image is rejected on the ledger.
    let confirmed = ledger
        .confirm_migration(&msg::ConfirmMigration {
            migration_id: id.to_owned(),
            observed_hash: observed_hash.clone(),
            transfer_key: key.to_hex(),
            keyed_digest: keyed_digest.unwrap_or_default(),
        })
        .await;
    let confirmed = match confirmed {
        Ok(c) => c,
        Err(e) => {
            let _ = tokio::fs::remove_file(&part).await;
            return Err(from_sdk(&e));
        }
    };
    let status = confirmed.result.status;
    let kept = agent.dir.join(if status == MigrationStatus::Confirmed {
        format!("{id}.img")
    } else {
        format!("{id}.rejected")
    });
    let stored_at = match tokio::fs::rename(&part, &kept).await {
        Ok(()) => Some(kept.display().to_string()),
        Err(_) => None,
    };
    Ok(Receipt {
        migration_id: id.to_owned(),
        vm_id: confirmed.result.vm_id.clone(),
        status,
        recorded_hash: confirmed.result.recorded_hash.clone().unwrap_or_default(),
        observed_hash,
        bytes,
        receive_ms,
        lookup_wait_ms,
        confirm_tx_id: confirmed.tx_id.clone(),
        confirm_block: confirmed.block_number,
        confirm_timings: confirmed.timings,
        confirm_client_ms: confirmed.client_ms,
        truncated,
        stored_at,
    })
}

/// The migration and the chain holding it, once the Indication is on this member's peer; waits up
/// to `timeout` for it.
async fn lookup(chains: Chains, id: String, timeout: Duration) -> Result<(Migration, VmLedger), Problem> {
    let deadline = Instant::now() + timeout;
    let mut interval = Duration::from_millis(20);
    loop {
        match chains.find_migration(&id).await {
            Ok((migration, ledger)) => return Ok((migration, ledger.clone())),
            Err(e) if crate::chains::is_not_found(&e) => {
                if Instant::now() >= deadline {
                    return Err(problem(
                        "NOT_FOUND",
                        format!("migration {id} was not indicated on the ledger within {} s", timeout.as_secs()),
                    ));
                }
            }
            Err(e) => return Err(from_sdk(&e)),
        }
        tokio::time::sleep(interval).await;
        interval = (interval * 2).min(Duration::from_millis(250));
    }
}

/// A migration status as on the wire (`confirmed`).
fn status_name(status: MigrationStatus) -> String {
    serde_json::to_value(status).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

/// A problem document with `code`; its HTTP status is the one the vocabulary gives the code, as the
/// proxy answers it.
fn problem(code: &str, detail: String) -> Problem {
    let status = vmledger_contract::vocabulary::code(code)
        .and_then(|c| StatusCode::from_u16(c.http_status).ok())
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    Problem {
        kind: format!("urn:vmledger:problem:{code}"),
        title: status.canonical_reason().unwrap_or("Error").to_owned(),
        status: status.as_u16(),
        detail,
        code: code.to_owned(),
        ..Problem::default()
    }
}

fn internal(detail: String) -> Problem {
    problem("INTERNAL", detail)
}

/// An SDK error as the agent's problem: contract codes keep their code and details.
fn from_sdk(e: &Error) -> Problem {
    let mut p = match e {
        Error::Contract { error, .. } => {
            let mut p = problem(error.code(), error.to_string());
            p.details = error.to_wire().details;
            p
        }
        Error::Unreachable { .. } | Error::Timeout { .. } | Error::Network { .. } => {
            problem("UNAVAILABLE", format!("the ledger is unavailable: {e}"))
        }
        _ => problem(e.code(), e.to_string()),
    };
    p.tx_id = e.tx_id().map(str::to_owned);
    p
}

fn json<T: Serialize>(status: StatusCode, body: &T) -> Answer {
    let text = serde_json::to_vec(body).unwrap_or_default();
    let mut response = Response::new(Full::new(Bytes::from(text)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static("application/json"));
    response
}

fn problem_answer(p: &Problem) -> Answer {
    let mut response = json(StatusCode::from_u16(p.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), p);
    response
        .headers_mut()
        .insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static("application/problem+json"));
    response
}
