//! The destination agent: BASICS' destination cloud manager, the destination side of
//! [`crate::workflow::migrate`] (`vmledger agent` runs it).
//!
//! `PUT /migrations/{migrationId}/image` receives an image: before a byte of it is stored the agent
//! checks the transfer key, its caps, and the migration on its peer (see [`image`]); it hashes the
//! image as it arrives and, once it is complete, confirms it with the hash it computed, as its own
//! member. The contract compares the hashes: a tampered image is committed as a rejected migration,
//! never accepted. An upload that breaks off is kept and resumed (`GET` answers the bytes held, a
//! `PUT` with `Content-Range` sends the rest), never rejected. The uploader gets a [`Receipt`]: 200
//! confirmed, 422 rejected; or a problem document (401 no or wrong transfer key, 403 not this
//! member's, 404 unknown migration, 409 not open, 413 over the cap, 503 busy or the ledger
//! unreachable, with `Retry-After` when worth retrying). `GET /healthz` answers 200.
//!
//! Confirmed images are kept as `DIR/{migrationId}.img`; rejected ones as
//! `DIR/{migrationId}.rejected` (the evidence); a cut one as `DIR/{migrationId}.part` until resumed.
//!
//! Limits ([`AgentLimits`]): concurrent connections and uploads, a cap on an image's size, an idle
//! and a total time per upload, and hyper's limits on the request head (size and time).
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
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use serde::Serialize;
use tokio::sync::Semaphore;
use vmledger_contract::model::{Migration, MigrationStatus};

use crate::chains::Chains;
use crate::error::{Error, Problem};
use crate::ledger::VmLedger;
use crate::transfer::Receipt;
use crate::workflow::live::LiveLedger;

pub mod image;
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

/// What the agent allows, so that no uploader can exhaust it. `vmledger agent` sets each with a
/// flag; the defaults are these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentLimits {
    /// Connections open at once; one over it is closed as soon as it is accepted. Default 64.
    pub max_connections: usize,
    /// Image uploads in progress at once; one over it is answered 503 with `Retry-After`. Default 4.
    pub max_uploads: usize,
    /// The largest image the agent stores, in bytes: a larger declared length is refused before a
    /// byte is read. Default 64 GiB. (The ledger records no image size: see the README.)
    pub max_image_bytes: u64,
    /// The longest an upload may go without a byte arriving; then it is kept for a resume. Default 30 s.
    pub idle_timeout: Duration,
    /// The longest one upload request may take; then it is kept for a resume. Default 1 h.
    pub upload_timeout: Duration,
    /// The longest a client may take to send a request's head. Default 10 s.
    pub header_timeout: Duration,
    /// The largest request head, in bytes (hyper's read buffer; at least 8 KiB). Default 16 KiB.
    pub max_header_bytes: usize,
}

impl Default for AgentLimits {
    fn default() -> Self {
        AgentLimits {
            max_connections: 64,
            max_uploads: 4,
            max_image_bytes: 64 << 30,
            idle_timeout: Duration::from_secs(30),
            upload_timeout: Duration::from_secs(3600),
            header_timeout: Duration::from_secs(10),
            max_header_bytes: 16 << 10,
        }
    }
}

/// A destination agent acting for one member: its chains (the member's identity on the federation
/// and on its local chain: a migration inside its cloud is on the latter), its MSP id (it takes only
/// migrations into its member's clouds), the folder images land in, and how long it waits for an
/// Indication to reach its peer.
pub struct Agent {
    chains: Chains,
    member_msp_id: String,
    dir: PathBuf,
    lookup_timeout: Duration,
    limits: AgentLimits,
    uploads: Arc<Semaphore>,
    receiving: Mutex<HashSet<String>>,
    observer: Arc<dyn AgentObserver>,
    live: Option<live::LiveDestination>,
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent")
            .field("member_msp_id", &self.member_msp_id)
            .field("dir", &self.dir)
            .field("lookup_timeout", &self.lookup_timeout)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl Agent {
    /// An agent for the member `member_msp_id`, confirming as `chains`' identity on the chain that
    /// holds each migration, keeping images in `dir` (created if needed), with the default limits.
    ///
    /// # Errors
    /// Creating `dir`.
    pub fn new(
        chains: Chains,
        member_msp_id: impl Into<String>,
        dir: impl Into<PathBuf>,
        lookup_timeout: Duration,
        observer: Arc<dyn AgentObserver>,
    ) -> std::io::Result<Agent> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)?;
        let limits = AgentLimits::default();
        Ok(Agent {
            chains,
            member_msp_id: member_msp_id.into(),
            dir,
            lookup_timeout,
            uploads: Arc::new(Semaphore::new(limits.max_uploads)),
            limits,
            receiving: Mutex::new(HashSet::new()),
            observer,
            live: None,
        })
    }

    /// With these limits instead of the defaults.
    #[must_use]
    pub fn with_limits(mut self, limits: AgentLimits) -> Self {
        self.uploads = Arc::new(Semaphore::new(limits.max_uploads));
        self.limits = limits;
        self
    }

    /// Takes live migrations too: `ledger` is this member's (the key check, the Confirmation),
    /// `config` how destination QEMUs start.
    #[must_use]
    pub fn with_live(mut self, ledger: Arc<dyn LiveLedger>, config: LiveConfig) -> Self {
        self.live = Some(live::LiveDestination::new(ledger, config));
        self
    }

    /// Serves uploads on `listener` until `shutdown` completes; each connection on its own task,
    /// at most [`AgentLimits::max_connections`] at once.
    pub async fn serve(self, listener: tokio::net::TcpListener, shutdown: impl std::future::Future<Output = ()>) {
        let connections = Arc::new(Semaphore::new(self.limits.max_connections));
        let mut http = http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(self.limits.header_timeout)
            .max_buf_size(self.limits.max_header_bytes.max(8 << 10));
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
                    // Over the limit: closed at once, before reading anything.
                    let Ok(connection) = connections.clone().try_acquire_owned() else { continue };
                    let (agent, http) = (agent.clone(), http.clone());
                    tokio::spawn(async move {
                        let _connection = connection;
                        let service = service_fn(move |request| handle(agent.clone(), request));
                        // Upgrades: the live route turns its connection into the live link.
                        let _ = http.serve_connection(TokioIo::new(stream), service).with_upgrades().await;
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
        (&Method::PUT, ["migrations", id, "image"]) => match image::receive(&agent, id, request).await {
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
                agent.observer.refused(id, &problem);
                problem_answer(&problem)
            }
        },
        (&Method::GET | &Method::HEAD, ["migrations", id, "image"]) => match image::held(&agent, id, &request).await {
            Ok(held) => {
                let mut answer = json(StatusCode::OK, &held);
                answer.headers_mut().insert(image::UPLOAD_OFFSET, hyper::header::HeaderValue::from(held.bytes_held));
                answer
            }
            Err(problem) => problem_answer(&problem),
        },
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

/// The migration and the chain holding it, once the Indication is on this member's peer; waits up
/// to `timeout` for it.
async fn lookup(chains: Chains, id: String, timeout: Duration) -> Result<(Migration, VmLedger), Box<Problem>> {
    let deadline = Instant::now() + timeout;
    let mut interval = Duration::from_millis(20);
    loop {
        match chains.find_migration(&id).await {
            Ok((migration, ledger)) => return Ok((migration, ledger.clone())),
            Err(e) if crate::chains::is_not_found(&e) => {
                if Instant::now() >= deadline {
                    return Err(Box::new(problem(
                        "NOT_FOUND",
                        format!("migration {id} was not indicated on the ledger within {} s", timeout.as_secs()),
                    )));
                }
            }
            Err(e) => return Err(Box::new(from_sdk(&e))),
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
    if let Some(after) = p.retry_after {
        response.headers_mut().insert(hyper::header::RETRY_AFTER, hyper::header::HeaderValue::from(after.as_secs()));
    }
    response
}
