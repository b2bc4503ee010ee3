//! The relay: BASICS' cloud gateway between the federation (the consortium chain) and one member's
//! local chain. It follows the federation channel's events from a durable checkpoint and, for each
//! inter-cloud Confirmation that concerns its member's clouds, writes **Leave** (its cloud was the
//! source) or **Arrival** (the destination) on the member's local channel, as the member's `relay`
//! identity. The local contract does not trust it: it checks on the federation (a read-only
//! cross-channel query on the same peer) that the migration really is confirmed and concerns this
//! member, and refuses a second record for the same migration (`ALREADY_EXISTS`).
//!
//! Invariants:
//! - **At least once, recorded once.** An event is done when its records are committed, or the
//!   contract answers `ALREADY_EXISTS` (written before a crash), or it refuses it for good (counted,
//!   never retried). Until then it is retried with backoff; the checkpoint never passes it.
//! - **Durable, atomic checkpoint.** After each record is committed, the position up to which every
//!   event is done (and the counts) is written to a temporary file, synced, and renamed over
//!   `checkpoint.json`: a crash at any point leaves the old or the new checkpoint, never a torn one.
//!   A restart resumes after it (SSE `Last-Event-ID`); what it replays was done already.
//! - **Rejected, cancelled and local migrations get nothing**: only `MigrationConfirmed` of an
//!   `inter` migration is relayed.
//!
//! Records are submitted concurrently (up to [`RelayOptions::window`] at once) so that the relay
//! keeps up with the federation; the checkpoint advances only over a done prefix of the events.
//!
//! Its status ([`RelayStatus`]: lag in blocks behind the federation, last checkpoint, counts) is
//! served over HTTP by [`serve_status`] (`GET /status`, `/healthz`, `/metrics`) and read by
//! [`status_of`].

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::future::Future;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};
use vmledger_contract::Kind;
use vmledger_contract::model::{Migration, Scope};
use vmledger_contract::vocabulary::ContractEvent;

use crate::error::Error;
use crate::events::{ChaincodeEvent, EventStream, StartAt};
use crate::ledger::VmLedger;

/// What the relay writes on the local chain for one confirmed migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Record {
    /// This member's cloud was the source: the VM left it.
    Leave,
    /// This member's cloud was the destination: the VM arrived.
    Arrival,
}

/// How one record ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "outcome")]
pub enum Outcome {
    /// Committed now, in this block of the local chain.
    Recorded { tx_id: String, block_number: u64 },
    /// The local chain already holds it (written before a restart): done.
    AlreadyRecorded,
    /// The local contract refused it for good (`NOT_FOUND`, `CONFLICT`, `UNAUTHORIZED`…): counted,
    /// never retried.
    Refused { code: String, message: String },
}

/// Counts since the relay's checkpoint was first written (kept in the checkpoint).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    /// Every federation event read.
    pub events: u64,
    /// `MigrationConfirmed` events of inter-cloud migrations that concern this member.
    pub confirmations: u64,
    pub leaves: u64,
    pub arrivals: u64,
    /// Records the local chain already had (a replay after a restart).
    pub already_recorded: u64,
    pub refused: u64,
    /// Attempts that failed in a way worth retrying (network, proxy, conflicts).
    pub retries: u64,
}

/// The durable position: the last federation event (`"<block>:<index>"`) up to which every event is
/// done, with the counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Checkpoint {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub written_at: Option<String>,
    #[serde(default)]
    pub counts: Counts,
}

impl Checkpoint {
    /// The checkpoint file in `dir`.
    pub fn path(dir: &Path) -> PathBuf {
        dir.join("checkpoint.json")
    }

    /// Reads the checkpoint in `dir`; none yet is the empty one (start from block 0).
    ///
    /// # Errors
    /// Reading or parsing an existing file.
    pub fn load(dir: &Path) -> std::io::Result<Checkpoint> {
        match std::fs::read(Self::path(dir)) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(std::io::Error::other),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Checkpoint::default()),
            Err(e) => Err(e),
        }
    }

    /// Writes the checkpoint durably and atomically: a temporary file, synced, renamed over the old
    /// one, and the folder synced, so a crash leaves the old or the new one whole.
    ///
    /// # Errors
    /// Any I/O error.
    pub fn store(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let path = Self::path(dir);
        let temporary = dir.join("checkpoint.json.tmp");
        {
            let mut file = std::fs::File::create(&temporary)?;
            file.write_all(&serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?)?;
            file.sync_all()?;
        }
        std::fs::rename(&temporary, &path)?;
        std::fs::File::open(dir)?.sync_all()
    }
}

/// What the relay tells about itself: `GET /status`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RelayStatus {
    /// `following` (caught up or catching up), `reconnecting` (the event stream broke), `starting`.
    pub state: String,
    pub member: String,
    pub msp_id: String,
    pub federation_channel: String,
    pub local_channel: String,
    /// The federation's height as last read (blocks `0..height`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub federation_height: Option<u64>,
    /// Every event of the federation's blocks `0..=this` is done (`None`: not even block 0 yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done_through_block: Option<u64>,
    /// Federation blocks not yet examined: `height - 1 - doneThroughBlock`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lag_blocks: Option<u64>,
    /// Records being submitted now.
    pub in_flight: usize,
    pub checkpoint: Checkpoint,
    pub counts: Counts,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    pub started_at: String,
}

/// What the relay tells its host program (a log line per call). The defaults do nothing.
pub trait RelayObserver: Send + Sync {
    /// A record of a confirmed migration ended.
    fn recorded(&self, _record: Record, _migration: &Migration, _outcome: &Outcome) {}
    /// An attempt failed and will be retried.
    fn retrying(&self, _what: &str, _error: &Error) {}
    /// The event stream (re)opened at this position.
    fn following(&self, _from: &StartAt) {}
    /// The event stream broke; it is reopened after the last event read.
    fn stream_broke(&self, _error: &Error) {}
}

impl RelayObserver for () {}

/// Who the relay acts for and where it keeps its checkpoint.
#[derive(Debug, Clone)]
pub struct RelayOptions {
    /// The member (`org1`), for the status.
    pub member: String,
    /// Its MSP id: a cloud is this member's when the federation binds it to this MSP.
    pub msp_id: String,
    /// The folder of `checkpoint.json`.
    pub state_dir: PathBuf,
    /// Records submitted at once, at most.
    pub window: usize,
    /// How often the federation's height is read (the lag).
    pub tick: Duration,
}

/// One member's relay: the federation and the local chain, both as the member's `relay` identity
/// through its proxy.
pub struct Relay {
    options: RelayOptions,
    federation: VmLedger,
    local: VmLedger,
    observer: Arc<dyn RelayObserver>,
    status: Arc<Mutex<RelayStatus>>,
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay").field("options", &self.options).finish()
    }
}

/// Why the relay stopped (other than being asked to).
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("the checkpoint in {}", dir.display())]
    Checkpoint {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the event stream of the federation was refused")]
    Refused(#[source] Box<Error>),
}

/// An event read, waiting for its records.
struct Pending {
    event_id: String,
    block: u64,
    /// Records still to finish.
    open: usize,
}

/// How long the stream must be quiet (nothing read, nothing pending) before the relay takes a
/// height it read earlier as examined: events of a committed block reach it within milliseconds.
const QUIET: Duration = Duration::from_secs(1);
/// How long a stopping relay lets its records in flight finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// Longest wait between retries of one record.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

impl Relay {
    pub fn new(options: RelayOptions, federation: VmLedger, local: VmLedger, observer: Arc<dyn RelayObserver>) -> Self {
        let status = RelayStatus {
            state: "starting".into(),
            member: options.member.clone(),
            msp_id: options.msp_id.clone(),
            federation_channel: federation.contract().network().name().to_owned(),
            local_channel: local.contract().network().name().to_owned(),
            started_at: chrono::Utc::now().to_rfc3339(),
            ..RelayStatus::default()
        };
        Relay { options, federation, local, observer, status: Arc::new(Mutex::new(status)) }
    }

    /// The live status, shared with [`serve_status`].
    pub fn status(&self) -> Arc<Mutex<RelayStatus>> {
        self.status.clone()
    }

    /// Follows the federation until `shutdown` completes; records in flight then have a few
    /// seconds to finish (their checkpoint is written), new ones are not started.
    ///
    /// # Errors
    /// [`RelayError::Checkpoint`] when the checkpoint cannot be read or written;
    /// [`RelayError::Refused`] when the proxy refuses the relay's identity or the stream for good.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), RelayError> {
        let dir = self.options.state_dir.clone();
        let io = |source| RelayError::Checkpoint { dir: dir.clone(), source };
        let mut checkpoint = Checkpoint::load(&dir).map_err(io)?;
        let mut counts = checkpoint.counts.clone();
        // Events read, by arrival order, until done; and the last one read (to reopen after it).
        let mut pending: BTreeMap<u64, Pending> = BTreeMap::new();
        let mut next_seq: u64 = 0;
        let mut last_read: Option<String> = checkpoint.event_id.clone();
        let mut read_through: Option<u64> = checkpoint.block.map(|b| b.saturating_sub(1));
        let mut clouds: HashMap<String, String> = HashMap::new();
        let mut tasks: tokio::task::JoinSet<(u64, Record, Migration, Outcome, u64)> = tokio::task::JoinSet::new();
        let mut stream = None;
        let mut last_event_at = Instant::now();
        let mut opened_at = Instant::now();
        // The federation's height as last read, and one read earlier that the quiet rule may use.
        let mut latest_height: Option<u64> = None;
        let mut probe: Option<(u64, Instant)> = None;
        let mut ticker = tokio::time::interval(self.options.tick);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut dirty = false;
        tokio::pin!(shutdown);

        loop {
            if stream.is_none() {
                let start = match &last_read {
                    Some(id) => StartAt::After(id.clone()),
                    None => StartAt::Block(0),
                };
                self.observer.following(&start);
                stream = Some(self.federation.contract().events(start).max_reconnects(3));
                opened_at = Instant::now();
                self.set(|s| s.state = "following".into());
            }
            let room = tasks.len() < self.options.window.max(1);
            tokio::select! {
                () = &mut shutdown => break,
                read = next_event(&mut stream), if room => {
                    match read {
                        Ok(event) => {
                            last_event_at = Instant::now();
                            counts.events += 1;
                            last_read = Some(event.id.clone());
                            read_through = Some(read_through.map_or(event.block_number.saturating_sub(1), |r| r.max(event.block_number.saturating_sub(1))));
                            let seq = next_seq;
                            next_seq += 1;
                            let work = self.records_for(&event, &mut clouds).await;
                            if !work.is_empty() {
                                counts.confirmations += 1;
                            }
                            pending.insert(seq, Pending { event_id: event.id.clone(), block: event.block_number, open: work.len() });
                            for (record, migration) in work {
                                let local = self.local.clone();
                                let observer = self.observer.clone();
                                tasks.spawn(async move {
                                    let (outcome, retries) = record_until_done(&local, record, &migration.id, observer.as_ref()).await;
                                    (seq, record, migration, outcome, retries)
                                });
                            }
                            dirty = true;
                        }
                        Err(e) if matches!(e, Error::Auth { .. }) => return Err(RelayError::Refused(Box::new(e))),
                        Err(e) => {
                            self.observer.stream_broke(&e);
                            self.set(|s| { s.state = "reconnecting".into(); s.last_error = Some(e.to_string()); });
                            stream = None;
                            tokio::time::sleep(Duration::from_secs(1)).await;
                        }
                    }
                }
                Some(joined) = tasks.join_next(), if !tasks.is_empty() => {
                    let Ok((seq, record, migration, outcome, retries)) = joined else { continue };
                    tally(&mut counts, record, &outcome, retries);
                    self.observer.recorded(record, &migration, &outcome);
                    if let Some(p) = pending.get_mut(&seq) {
                        p.open = p.open.saturating_sub(1);
                    }
                    // A record was committed: the checkpoint is written now.
                    advance(&mut pending, &mut checkpoint);
                    checkpoint.counts = counts.clone();
                    checkpoint.written_at = Some(chrono::Utc::now().to_rfc3339());
                    checkpoint.store(&dir).map_err(io)?;
                    dirty = false;
                }
                _ = ticker.tick() => {
                    if advance(&mut pending, &mut checkpoint) || dirty {
                        checkpoint.counts = counts.clone();
                        checkpoint.written_at = Some(chrono::Utc::now().to_rfc3339());
                        checkpoint.store(&dir).map_err(io)?;
                        dirty = false;
                    }
                    let height = self.federation.contract().network().info().await.ok().map(|i| i.height);
                    if height.is_some() {
                        latest_height = height;
                    }
                    // A height read at least QUIET ago, with the stream open and quiet since and
                    // nothing pending: every event of the blocks below it has been read.
                    match probe {
                        Some((h, at)) if at.elapsed() >= QUIET => {
                            let quiet = last_event_at.elapsed() >= QUIET
                                && opened_at.elapsed() >= QUIET
                                && pending.is_empty()
                                && stream.is_some();
                            if quiet && h > 0 {
                                read_through = Some(read_through.map_or(h - 1, |r| r.max(h - 1)));
                            }
                            probe = height.map(|h| (h, Instant::now()));
                        }
                        Some(_) => {}
                        None => probe = height.map(|h| (h, Instant::now())),
                    }
                }
            }
            let done_through = done_through(&pending, read_through);
            let in_flight = tasks.len();
            self.set(|s| {
                s.counts = counts.clone();
                s.checkpoint = checkpoint.clone();
                s.in_flight = in_flight;
                s.done_through_block = done_through;
                if let Some(h) = latest_height {
                    s.federation_height = Some(h);
                    s.lag_blocks = Some(lag(h, done_through));
                }
            });
        }

        // Let the records in flight finish (for a moment: one may be retrying until its chain
        // answers) and checkpoint them; the others are abandoned, and replayed after a restart.
        let grace = tokio::time::Instant::now() + SHUTDOWN_GRACE;
        while let Ok(Some(joined)) = tokio::time::timeout_at(grace, tasks.join_next()).await {
            let Ok((seq, record, migration, outcome, retries)) = joined else { continue };
            tally(&mut counts, record, &outcome, retries);
            self.observer.recorded(record, &migration, &outcome);
            if let Some(p) = pending.get_mut(&seq) {
                p.open = p.open.saturating_sub(1);
            }
        }
        tasks.abort_all();
        advance(&mut pending, &mut checkpoint);
        checkpoint.counts = counts;
        checkpoint.written_at = Some(chrono::Utc::now().to_rfc3339());
        checkpoint.store(&dir).map_err(io)
    }

    fn set(&self, change: impl FnOnce(&mut RelayStatus)) {
        if let Ok(mut s) = self.status.lock() {
            change(&mut s);
        }
    }

    /// The records `event` asks of this member: none unless it is the Confirmation of an inter-cloud
    /// migration whose source (Leave) or destination (Arrival) cloud is this member's.
    async fn records_for(
        &self,
        event: &ChaincodeEvent,
        clouds: &mut HashMap<String, String>,
    ) -> Vec<(Record, Migration)> {
        let Some(ContractEvent::MigrationConfirmed(migration)) = event.decode() else { return Vec::new() };
        if migration.scope != Scope::Inter {
            return Vec::new();
        }
        let mut out = Vec::new();
        for (record, cloud) in
            [(Record::Leave, &migration.source.cloud_id), (Record::Arrival, &migration.destination.cloud_id)]
        {
            if self.cloud_msp(cloud, clouds).await.as_deref() == Some(self.options.msp_id.as_str()) {
                out.push((record, migration.clone()));
            }
        }
        out
    }

    /// The MSP a cloud is bound to on the federation (a binding never changes: cached). Retried
    /// while the federation cannot answer.
    async fn cloud_msp(&self, cloud: &str, clouds: &mut HashMap<String, String>) -> Option<String> {
        if let Some(msp) = clouds.get(cloud) {
            return Some(msp.clone());
        }
        let mut backoff = Duration::from_millis(100);
        loop {
            match self.federation.get_cloud(cloud).await {
                Ok(c) => {
                    clouds.insert(cloud.to_owned(), c.msp_id.clone());
                    return Some(c.msp_id);
                }
                Err(e) if e.contract_error().is_some() => return None,
                Err(e) => {
                    self.observer.retrying(&format!("GetCloud {cloud}"), &e);
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }
}

/// The next event of the stream; never, while there is none (it is reopened first).
async fn next_event(stream: &mut Option<EventStream>) -> crate::Result<ChaincodeEvent> {
    match stream {
        Some(s) => s.next().await,
        None => std::future::pending().await,
    }
}

/// Adds one record's outcome to the counts.
fn tally(counts: &mut Counts, record: Record, outcome: &Outcome, retries: u64) {
    counts.retries += retries;
    match (outcome, record) {
        (Outcome::Recorded { .. }, Record::Leave) => counts.leaves += 1,
        (Outcome::Recorded { .. }, Record::Arrival) => counts.arrivals += 1,
        (Outcome::AlreadyRecorded, _) => counts.already_recorded += 1,
        (Outcome::Refused { .. }, _) => counts.refused += 1,
    }
}

/// Blocks of a federation of `height` not yet examined when every event of `0..=done_through` is done.
fn lag(height: u64, done_through: Option<u64>) -> u64 {
    match done_through {
        Some(d) => height.saturating_sub(d + 1),
        None => height,
    }
}

/// Moves the checkpoint over the done prefix of `pending`; whether it moved.
fn advance(pending: &mut BTreeMap<u64, Pending>, checkpoint: &mut Checkpoint) -> bool {
    let mut moved = false;
    while let Some(entry) = pending.first_entry() {
        if entry.get().open > 0 {
            break;
        }
        let done = entry.remove();
        checkpoint.event_id = Some(done.event_id);
        checkpoint.block = Some(done.block);
        moved = true;
    }
    moved
}

/// The last block all of whose events are done: below the first event still open, and no further
/// than what was read.
fn done_through(pending: &BTreeMap<u64, Pending>, read_through: Option<u64>) -> Option<u64> {
    let open = pending.values().filter(|p| p.open > 0).map(|p| p.block).min();
    match (open, read_through) {
        (Some(block), Some(read)) => block.checked_sub(1).map(|b| b.min(read)),
        (Some(block), None) => block.checked_sub(1),
        (None, read) => read,
    }
}

/// Submits one record until it is done; answers how it ended and how many attempts failed.
async fn record_until_done(
    local: &VmLedger,
    record: Record,
    migration_id: &str,
    observer: &dyn RelayObserver,
) -> (Outcome, u64) {
    let mut retries = 0;
    let mut backoff = Duration::from_millis(100);
    loop {
        let attempt = match record {
            Record::Leave => local.record_leave(migration_id).await,
            Record::Arrival => local.record_arrival(migration_id).await,
        };
        match attempt {
            Ok(committed) => {
                return (Outcome::Recorded { tx_id: committed.tx_id, block_number: committed.block_number }, retries);
            }
            Err(e) => match classify(&e) {
                Some(outcome) => return (outcome, retries),
                None => {
                    retries += 1;
                    observer.retrying(&format!("{record:?} of {migration_id}"), &e);
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            },
        }
    }
}

/// The final outcome a failure means, or `None` when it is worth retrying: a refusal by the contract
/// is final (`ALREADY_EXISTS` means done); everything else (the network, the proxy, a stale read
/// set, a timeout after which the record may or may not be in: the retry then finds
/// `ALREADY_EXISTS`) is retried.
fn classify(e: &Error) -> Option<Outcome> {
    let code = match e {
        // The local chain's chaincode predates Leave and Arrival: retried until it is upgraded.
        Error::Contract { error: vmledger_contract::ContractError::NotFound { kind: Kind::Function, .. }, .. } => {
            return None;
        }
        Error::Contract { error, .. } => error.code().to_owned(),
        // A refusal carrying a contract code whose details this SDK cannot type is still final.
        Error::Protocol { reason, .. } if reason.starts_with("unreadable contract error") => {
            reason.split(':').nth(1).map(str::trim).unwrap_or("CONTRACT").to_owned()
        }
        _ => return None,
    };
    if code == "ALREADY_EXISTS" {
        Some(Outcome::AlreadyRecorded)
    } else {
        Some(Outcome::Refused { code, message: e.to_string() })
    }
}

// ---- status over HTTP ---------------------------------------------------------------------------

type Answer = Response<Full<Bytes>>;

fn json_answer(status: StatusCode, body: &impl Serialize) -> Answer {
    let mut response = Response::new(Full::new(Bytes::from(serde_json::to_vec(body).unwrap_or_default())));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static("application/json"));
    response
}

/// The status in Prometheus' text format. Eight lines, written here rather than through a metrics
/// library: the relay keeps no histograms, only these counters and gauges of its status.
pub fn metrics_text(s: &RelayStatus) -> String {
    let labels = format!("member=\"{}\"", s.member);
    let mut out = String::new();
    let mut line = |name: &str, kind: &str, help: &str, value: u64| {
        out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n{name}{{{labels}}} {value}\n"));
    };
    line(
        "vmledger_relay_lag_blocks",
        "gauge",
        "Federation blocks the relay has not examined yet.",
        s.lag_blocks.unwrap_or(0),
    );
    line(
        "vmledger_relay_federation_height",
        "gauge",
        "The federation's height as last read.",
        s.federation_height.unwrap_or(0),
    );
    line("vmledger_relay_in_flight", "gauge", "Records being submitted.", s.in_flight as u64);
    line("vmledger_relay_events_total", "counter", "Federation events read.", s.counts.events);
    line("vmledger_relay_leaves_total", "counter", "Leave records committed.", s.counts.leaves);
    line("vmledger_relay_arrivals_total", "counter", "Arrival records committed.", s.counts.arrivals);
    line(
        "vmledger_relay_already_recorded_total",
        "counter",
        "Records the local chain already held.",
        s.counts.already_recorded,
    );
    line("vmledger_relay_refused_total", "counter", "Records the local contract refused.", s.counts.refused);
    out
}

/// Serves the relay's status on `listener` until `shutdown`: `GET /healthz` (200 while it runs),
/// `GET /status` ([`RelayStatus`]), `GET /metrics` (Prometheus text).
pub async fn serve_status(
    listener: tokio::net::TcpListener,
    status: Arc<Mutex<RelayStatus>>,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let status = status.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                        let status = status.clone();
                        async move {
                            let snapshot = status.lock().map(|s| s.clone()).unwrap_or_default();
                            let answer = match (request.method(), request.uri().path()) {
                                (&Method::GET, "/healthz") => json_answer(StatusCode::OK, &serde_json::json!({"status": "ok"})),
                                (&Method::GET, "/status") => json_answer(StatusCode::OK, &snapshot),
                                (&Method::GET, "/metrics") => {
                                    let mut r = Response::new(Full::new(Bytes::from(metrics_text(&snapshot))));
                                    r.headers_mut().insert(
                                        hyper::header::CONTENT_TYPE,
                                        hyper::header::HeaderValue::from_static("text/plain; version=0.0.4"),
                                    );
                                    r
                                }
                                _ => json_answer(StatusCode::NOT_FOUND, &serde_json::json!({"code": "ROUTE_NOT_FOUND"})),
                            };
                            Ok::<_, Infallible>(answer)
                        }
                    });
                    let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                });
            }
            () = &mut shutdown => return,
        }
    }
}

/// Reads a relay's status (`GET {url}/status`).
///
/// # Errors
/// [`Error::Unreachable`], [`Error::Timeout`] or [`Error::Protocol`] (at [`crate::Step::Info`]).
pub async fn status_of(url: &str) -> crate::Result<RelayStatus> {
    let step = crate::Step::Info;
    let http = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().map_err(|e| Error::Protocol {
        step,
        reason: format!("HTTP client: {e}"),
        tx_id: None,
    })?;
    let url = format!("{}/status", url.trim_end_matches('/'));
    let response = http.get(&url).send().await.map_err(|source| {
        if source.is_timeout() {
            Error::Timeout { step, after_ms: 5000, tx_id: None }
        } else {
            Error::Unreachable { step, url: url.clone(), tx_id: None, source }
        }
    })?;
    let body = crate::gateway::expect_ok(step, None, response).await?;
    crate::gateway::decode_body(step, None, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(block: u64, open: usize) -> Pending {
        Pending { event_id: format!("{block}:0"), block, open }
    }

    #[test]
    fn the_checkpoint_moves_over_the_done_prefix_only() {
        let mut p = BTreeMap::from([(0, pending(3, 0)), (1, pending(4, 1)), (2, pending(5, 0))]);
        let mut c = Checkpoint::default();
        assert!(advance(&mut p, &mut c));
        assert_eq!((c.event_id.as_deref(), c.block), (Some("3:0"), Some(3)));
        assert_eq!(p.len(), 2, "the open event and the one after it stay");
        assert!(!advance(&mut p, &mut c), "nothing more is done");
        p.get_mut(&1).expect("open").open = 0;
        assert!(advance(&mut p, &mut c));
        assert_eq!(c.block, Some(5));
        assert!(p.is_empty());
    }

    #[test]
    fn done_through_stops_below_the_first_open_event() {
        let p = BTreeMap::from([(0, pending(3, 0)), (1, pending(7, 1))]);
        assert_eq!(done_through(&p, Some(9)), Some(6));
        assert_eq!(done_through(&BTreeMap::new(), Some(9)), Some(9));
        assert_eq!(done_through(&BTreeMap::from([(0, pending(0, 1))]), Some(4)), None, "block 0 is open");
    }

    #[test]
    fn a_checkpoint_is_replaced_whole() {
        let dir = tempfile::tempdir().expect("tmp");
        assert_eq!(Checkpoint::load(dir.path()).expect("none yet"), Checkpoint::default());
        let c = Checkpoint {
            event_id: Some("12:1".into()),
            block: Some(12),
            written_at: None,
            counts: Counts { leaves: 3, ..Counts::default() },
        };
        c.store(dir.path()).expect("store");
        assert_eq!(Checkpoint::load(dir.path()).expect("load"), c);
        assert!(!dir.path().join("checkpoint.json.tmp").exists(), "the temporary file was renamed");
    }

    #[test]
    fn already_exists_is_done_other_refusals_are_final_and_the_network_is_retried() {
        use vmledger_contract::{ContractError, Kind};
        let exists = Error::Contract {
            step: crate::Step::Endorse,
            error: ContractError::AlreadyExists { kind: Kind::Migration, id: "m".into() },
            tx_id: None,
        };
        assert_eq!(classify(&exists), Some(Outcome::AlreadyRecorded));
        let missing = Error::Contract {
            step: crate::Step::Endorse,
            error: ContractError::NotFound { kind: Kind::Migration, id: "m".into(), unanchored: None },
            tx_id: None,
        };
        assert!(matches!(classify(&missing), Some(Outcome::Refused { code, .. }) if code == "NOT_FOUND"));
        let timeout = Error::Timeout { step: crate::Step::Transaction, after_ms: 1, tx_id: None };
        assert_eq!(classify(&timeout), None);
    }
}
