//! `migrate run --live`: a running guest's live migration, gated by the ledger (the source side;
//! the destination side is the agent's live route, [`crate::agent`]).
//!
//! 1. a fresh random transfer key `k`; the Indication (`Migrate`, `live: true`, SHA-256(k)) — the
//!    guest runs on;
//! 2. the link to the destination agent, `k` as the bearer token (the agent checks it against the
//!    Indication on its own peer, then starts its QEMU paused, `-incoming defer`);
//! 3. [`send_live`]: the source QEMU's stream through the link, hashed and keyed (HMAC-SHA256 with
//!    `k`) in one pass, paced; QEMU stops the guest for the switchover and leaves it paused;
//! 4. `RecordStreamHash` (the stream's hash, keyed digest and length): the hash of a live stream
//!    exists only now;
//! 5. the destination confirms with its own hash, `k` and keyed digest; this workflow waits until
//!    the migration is closed on its own peer;
//! 6. confirmed: the source QEMU quits (the guest runs at the destination); anything else
//!    (rejected, declined, cancelled, expired): the source guest resumes (`cont`).
//!
//! At every moment at most one of the two guests runs: the destination's only after its
//! Confirmation committed `confirmed`, the source's only before the switchover or once the ledger
//! closed the migration otherwise. When the decision does not come in time, the source cancels the
//! migration on the ledger first and resumes only if the cancellation committed: the ledger, not a
//! clock, decides which side runs.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use vmledger_contract::model::{MigrationStatus, Resources};
use vmledger_contract::msg;
use vmledger_contract::vocabulary::calls;
use vmledger_hypervisor::{DigestKey, MigrationStats, Qmp, SendOptions, link, send_live};

use crate::gateway::millis;
use crate::image::Rate;
use crate::transfer::{self, TransferError};
use crate::workflow::migrate::LedgerStep;

/// A migration's transfer key: 32 random bytes, fresh for each migration. Only its SHA-256 goes on
/// the ledger before the Confirmation; the key itself travels only to the destination agent (as the
/// link's bearer token) and, in the Confirmation, back to the ledger. Its `Debug` does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct TransferKey([u8; 32]);

impl TransferKey {
    /// A fresh key from the operating system's random source.
    ///
    /// # Errors
    /// When the system has no random source.
    pub fn generate() -> Result<TransferKey, getrandom::Error> {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key)?;
        Ok(TransferKey(key))
    }

    /// The key from its lower-case or upper-case hex (the bearer token); `None` unless 32 bytes.
    pub fn from_hex(text: &str) -> Option<TransferKey> {
        let bytes = hex::decode(text).ok()?;
        Some(TransferKey(bytes.try_into().ok()?))
    }

    /// Lower-case hex: the bearer token, and `transferKey` in the Confirmation.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// SHA-256 of the key, lower-case hex: `transferKeyHash` in the Indication.
    pub fn commitment(&self) -> String {
        hex::encode(Sha256::digest(self.0))
    }

    /// Whether this key is the one `commitment` commits to, compared in constant time.
    pub fn matches(&self, commitment: &str) -> bool {
        use subtle::ConstantTimeEq;
        bool::from(self.commitment().as_bytes().ct_eq(commitment.to_ascii_lowercase().as_bytes()))
    }

    /// The key for the stream's keyed digest.
    pub fn digest_key(&self) -> DigestKey {
        DigestKey::new(self.0)
    }
}

impl std::fmt::Debug for TransferKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TransferKey(…)")
    }
}

/// A live migration as the live protocol needs to see it, on one member's peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveMigration {
    pub id: String,
    pub vm_id: String,
    pub live: bool,
    pub status: MigrationStatus,
    pub destination_cloud_id: String,
    /// SHA-256 of the transfer key, as the Indication committed it.
    pub transfer_key_hash: String,
    /// The stream's hash, once the source recorded it (`RecordStreamHash`).
    pub recorded_hash: Option<String>,
    /// The destination's hash, once it confirmed (differs from `recorded_hash` on a rejection).
    pub observed_hash: Option<String>,
    /// What was reserved at the destination: the destination QEMU gets this memory and these CPUs.
    pub requirements: Resources,
}

/// The Indication of a live migration, accepted by the orderer: its id, and its commit to await.
pub struct IndicatedLive {
    pub migration_id: String,
    pub accepted_ms: u64,
    pub commit: BoxFuture<'static, crate::Result<LedgerStep>>,
}

/// What the source records when the stream ended (`RecordStreamHash`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamRecord {
    pub migration_id: String,
    pub stream_hash: String,
    pub keyed_digest: String,
    pub bytes: u64,
}

/// What the destination confirms with (`ConfirmMigration` of a live migration).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveConfirmation {
    pub migration_id: String,
    pub observed_hash: String,
    pub transfer_key: String,
    pub keyed_digest: String,
}

/// The ledger calls of the live protocol, for both ends. [`crate::VmLedger`] is the real one (its
/// member's peer); a ledger in memory stands in for it in the QEMU-only tests.
pub trait LiveLedger: Send + Sync {
    /// `Migrate` with `live: true` and the key's commitment, up to the orderer's acceptance.
    fn indicate_live<'a>(
        &'a self,
        vm_id: &'a str,
        to_host: &'a str,
        transfer_key_hash: &'a str,
    ) -> BoxFuture<'a, crate::Result<IndicatedLive>>;
    /// `RecordStreamHash`, waiting for its commit.
    fn record_stream<'a>(&'a self, record: &'a StreamRecord) -> BoxFuture<'a, crate::Result<LedgerStep>>;
    /// The migration on this member's peer; `None` while it is not (yet) there.
    fn live_migration<'a>(&'a self, id: &'a str) -> BoxFuture<'a, crate::Result<Option<LiveMigration>>>;
    /// The MSP id of the member that runs `cloud_id`.
    fn cloud_msp_id<'a>(&'a self, cloud_id: &'a str) -> BoxFuture<'a, crate::Result<String>>;
    /// `ConfirmMigration` with the destination's hash, the key and its keyed digest; the status it
    /// committed (`confirmed` or `rejected`).
    fn confirm_live<'a>(
        &'a self,
        confirmation: &'a LiveConfirmation,
    ) -> BoxFuture<'a, crate::Result<(LedgerStep, MigrationStatus)>>;
    /// `DeclineMigration` by the destination (it cannot take the guest; no evidence of tampering).
    fn decline<'a>(&'a self, id: &'a str, reason: &'a str) -> BoxFuture<'a, crate::Result<LedgerStep>>;
    /// `CancelMigration` by the source.
    fn cancel<'a>(&'a self, id: &'a str, reason: &'a str) -> BoxFuture<'a, crate::Result<MigrationStatus>>;
}

/// A step of the live workflow, as reported to a [`LiveObserver`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum LiveStage {
    /// The Indication, up to its commit (the guest runs).
    Indicate,
    /// The stream, from `migrate` to its end (the guest runs, then stops for the switchover).
    Stream,
    /// `RecordStreamHash` (the guest is paused on both sides).
    RecordStreamHash,
    /// Waiting for the destination's Confirmation to close the migration (paused).
    Confirmation,
    /// The source QEMU quits (confirmed) or its guest resumes (anything else).
    Resume,
}

/// Receives the live workflow's progress; `()` ignores it.
pub trait LiveObserver: Send + Sync {
    fn started(&self, _stage: LiveStage) {}
    /// A step ended after `ms`, successfully or not.
    fn finished(&self, _stage: LiveStage, _ms: u64) {}
    /// The orderer accepted the Indication: the migration has its id.
    fn indicated(&self, _migration_id: &str, _accepted_ms: u64) {}
    /// QEMU's own account of the migration, once the stream ended.
    fn qemu(&self, _stats: &MigrationStats) {}
}

impl LiveObserver for () {}

/// One live migration to run, from the source.
#[derive(Debug, Clone)]
pub struct LiveRun {
    pub vm_id: String,
    pub to_host: String,
    /// The source QEMU's QMP socket (any QEMU: libvirt's, OpenStack's, one of ours).
    pub qmp: PathBuf,
    /// The destination agent (`http://HOST:PORT`).
    pub agent_url: String,
    pub rate_limit: Option<Rate>,
    /// Switch to post-copy after the first pass (the destination still waits for the ledger).
    pub postcopy: bool,
    /// QEMU's `downtime-limit` in ms; `None` keeps QEMU's.
    pub downtime_limit_ms: Option<u64>,
    /// The longest the stream may take.
    pub stream_timeout: Duration,
    /// The longest to wait for the destination's Confirmation after `RecordStreamHash`.
    pub decision_timeout: Duration,
    /// Test hook: flip the stream's byte at this offset after hashing it (a corrupting link).
    pub corrupt_byte_at: Option<u64>,
}

impl LiveRun {
    pub fn new(vm_id: impl Into<String>, to_host: impl Into<String>, qmp: impl Into<PathBuf>, agent_url: &str) -> Self {
        LiveRun {
            vm_id: vm_id.into(),
            to_host: to_host.into(),
            qmp: qmp.into(),
            agent_url: agent_url.trim_end_matches('/').to_owned(),
            rate_limit: None,
            postcopy: false,
            downtime_limit_ms: None,
            stream_timeout: Duration::from_secs(600),
            decision_timeout: Duration::from_secs(60),
            corrupt_byte_at: None,
        }
    }
}

/// What a live run did and where the time went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveReport {
    pub migration_id: String,
    pub vm_id: String,
    /// As the ledger closed it: `confirmed`, `rejected` (the destination's hash differed: evidence),
    /// `declined`, `cancelled` or `expired`.
    pub status: MigrationStatus,
    /// Where the guest runs now: `destination` (confirmed) or `source`.
    pub running_at: RunningAt,
    pub stream_hash: String,
    /// The destination's hash, as the ledger has it (absent when it never confirmed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_hash: Option<String>,
    pub keyed_digest: String,
    pub stream_bytes: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit_megabits_per_second: Option<f64>,
    pub postcopy: bool,
    /// The Indication: accepted by the orderer, then committed.
    pub indicate_accepted_ms: u64,
    pub indicate: LedgerStep,
    /// From `migrate` to the end of the stream.
    pub stream_ms: u64,
    pub stream_megabits_per_second: f64,
    /// `RecordStreamHash`.
    pub record: LedgerStep,
    /// From `RecordStreamHash`'s commit to the closed migration on the source's peer (the
    /// destination's Confirmation, and its commit reaching this peer).
    pub confirmation_wait_ms: u64,
    /// `quit` or `cont` at the source.
    pub resume_ms: u64,
    /// QEMU's downtime: how long it needed the guest stopped to send the last pages and devices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qemu_downtime_ms: Option<u64>,
    /// From the source's `STOP` (the switchover) to the decision seen at the source: the pause as
    /// the gate makes it (the destination resumes when its own Confirmation commits, about then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gated_pause_ms: Option<u64>,
    /// The ledger's addition to the pause: from the end of the stream to the decision seen at the
    /// source (`RecordStreamHash` + the destination's Confirmation, on the critical path).
    pub ledger_pause_ms: u64,
    /// When the source guest stopped and when the decision was seen, in ms since the Unix epoch
    /// (to set beside the destination agent's resume time and the guest's console).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_at_unix_ms: Option<u64>,
    pub decided_at_unix_ms: u64,
    /// From the source's `STOP` to the destination's `cont`, by the agent's receipt (both clocks
    /// must agree: the same machine, or NTP); absent when the guest did not resume there or the
    /// agent did not answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_pause_ms: Option<u64>,
    /// What the destination agent says it did (`GET /migrations/{id}/live`), when it answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<LiveReceipt>,
    pub total_ms: u64,
    /// QEMU's own account of the migration.
    pub qemu: MigrationStats,
}

/// What the destination agent did with a live stream (its answer to `GET /migrations/{id}/live`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveReceipt {
    pub migration_id: String,
    pub vm_id: String,
    /// As the ledger closed the migration (`confirmed`, `rejected`, `declined`, `cancelled`, …);
    /// `indicated` when the agent gave up waiting.
    pub status: MigrationStatus,
    /// Whether the guest runs here now.
    pub resumed: bool,
    /// SHA-256 of what arrived.
    pub observed_hash: String,
    pub bytes: u64,
    /// `complete`, `truncated` or `aborted`.
    pub stream_end: String,
    /// Why the destination QEMU did not load the stream, when it did not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_failed: Option<String>,
    /// From the request to the loaded (or refused) stream.
    pub receive_ms: u64,
    /// From the end of the stream to the source's hash on this peer.
    pub record_wait_ms: u64,
    /// The Confirmation (or the Decline) this agent submitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirm: Option<LedgerStep>,
    /// From the end of the stream to `cont` (or the discard): the gate's share of the pause here.
    pub gate_ms: u64,
    /// When the guest ran again here, in ms since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resumed_at_unix_ms: Option<u64>,
    /// The guest's serial console, as a file (kept while the agent runs).
    pub console: String,
    /// The resumed guest's QMP socket, for its operator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Where the guest runs after a live run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RunningAt {
    Source,
    Destination,
}

/// Why a live run failed. Each names the step; the source guest's state is said where it matters.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error("no random source for the transfer key: {0}")]
    Random(getrandom::Error),
    #[error("the source QEMU's QMP socket {}", path.display())]
    Qmp {
        path: PathBuf,
        #[source]
        source: vmledger_hypervisor::Error,
    },
    #[error("the destination agent at {url} is not ready")]
    AgentNotReady {
        url: String,
        #[source]
        source: TransferError,
    },
    #[error("the Indication (Migrate, live) was refused")]
    Indicate(#[source] Box<crate::Error>),
    #[error("the Indication {migration_id} did not commit; nothing was sent")]
    IndicationFailed {
        migration_id: String,
        #[source]
        source: Box<crate::Error>,
    },
    #[error(
        "the destination agent did not take the live stream of migration {migration_id}; the guest runs on at the source"
    )]
    Link {
        migration_id: String,
        #[source]
        source: vmledger_hypervisor::Error,
    },
    #[error("the live stream of migration {migration_id} failed; the guest runs on at the source")]
    Stream {
        migration_id: String,
        #[source]
        source: vmledger_hypervisor::Error,
    },
    #[error("RecordStreamHash of migration {migration_id} failed; the guest was resumed at the source")]
    Record {
        migration_id: String,
        #[source]
        source: Box<crate::Error>,
    },
    #[error("no decision on migration {migration_id} and it could not be cancelled: the source guest stays paused")]
    Undecided {
        migration_id: String,
        #[source]
        source: Option<Box<crate::Error>>,
    },
    #[error("ending the source QEMU's side of migration {migration_id} ({action})")]
    Resume {
        migration_id: String,
        action: &'static str,
        #[source]
        source: vmledger_hypervisor::Error,
    },
}

/// Times a step for the observer, also when it fails.
struct StepClock<'a> {
    observer: &'a dyn LiveObserver,
    stage: LiveStage,
    started: Instant,
}

impl Drop for StepClock<'_> {
    fn drop(&mut self) {
        self.observer.finished(self.stage, millis(self.started.elapsed()));
    }
}

fn step(observer: &dyn LiveObserver, stage: LiveStage) -> StepClock<'_> {
    observer.started(stage);
    StepClock { observer, stage, started: Instant::now() }
}

/// How often the source looks for the decision on its peer.
const DECISION_POLL: Duration = Duration::from_millis(10);

impl LiveRun {
    /// Runs the live migration with `ledger` (the VM's operator, on the source's member).
    ///
    /// # Errors
    /// [`LiveError`], naming the step. Before the switchover a failure leaves the guest running at
    /// the source; after it, the guest is resumed at the source unless the ledger confirmed the
    /// migration, or cannot say ([`LiveError::Undecided`]: it stays paused, nobody runs it twice).
    pub async fn run(&self, ledger: &dyn LiveLedger, observer: Arc<dyn LiveObserver>) -> Result<LiveReport, LiveError> {
        let started = Instant::now();
        let qmp = Qmp::connect(&self.qmp).await.map_err(|source| LiveError::Qmp { path: self.qmp.clone(), source })?;
        // A dead agent leaves no Indication behind.
        transfer::agent_health(&self.agent_url)
            .await
            .map_err(|source| LiveError::AgentNotReady { url: self.agent_url.clone(), source })?;
        let key = TransferKey::generate().map_err(LiveError::Random)?;

        // 1. The Indication; the link opens while it commits (the agent waits for it on its peer).
        let indicate = step(observer.as_ref(), LiveStage::Indicate);
        let indicated = ledger
            .indicate_live(&self.vm_id, &self.to_host, &key.commitment())
            .await
            .map_err(|e| LiveError::Indicate(Box::new(e)))?;
        let migration_id = indicated.migration_id.clone();
        observer.indicated(&migration_id, indicated.accepted_ms);
        let offer = link::Offer { migration_id: migration_id.clone(), postcopy: self.postcopy };
        let token = key.to_hex();
        let (committed, link) = tokio::join!(indicated.commit, link::connect(&self.agent_url, &offer, &token));
        drop(indicate);
        let indication = committed.map_err(|source| LiveError::IndicationFailed {
            migration_id: migration_id.clone(),
            source: Box::new(source),
        })?;
        let link = match link {
            Ok(link) => link,
            Err(source) => {
                let _ = ledger.cancel(&migration_id, "the destination agent refused the live stream").await;
                return Err(LiveError::Link { migration_id, source });
            }
        };

        // 2. The stream: hashed and keyed as it goes; the guest stays paused at its end.
        let options = SendOptions {
            rate_bytes_per_second: self.rate_limit.map(|r| r.bytes_per_second),
            downtime_limit_ms: self.downtime_limit_ms,
            postcopy: self.postcopy,
            timeout: self.stream_timeout,
            corrupt_byte_at: self.corrupt_byte_at,
            digest_key: Some(key.digest_key()),
        };
        let sent = {
            let _step = step(observer.as_ref(), LiveStage::Stream);
            match send_live(&qmp, link, &options).await {
                Ok(sent) => sent,
                Err(source) => {
                    // QEMU resumes a guest whose migration failed; make sure of it, then close the
                    // Indication so the destination stops waiting.
                    resume_if_paused(&qmp).await;
                    let _ = ledger.cancel(&migration_id, "the live stream failed").await;
                    return Err(LiveError::Stream { migration_id, source });
                }
            }
        };
        observer.qemu(&sent.qemu);
        let keyed_digest = sent.keyed_digest.clone().unwrap_or_default();

        // 3. The stream's hash on the ledger: the guest is paused on both sides meanwhile.
        let record = StreamRecord {
            migration_id: migration_id.clone(),
            stream_hash: sent.hash.clone(),
            keyed_digest: keyed_digest.clone(),
            bytes: sent.bytes,
        };
        let recorded = {
            let _step = step(observer.as_ref(), LiveStage::RecordStreamHash);
            ledger.record_stream(&record).await
        };
        let recorded = match recorded {
            Ok(recorded) => recorded,
            Err(source) => {
                // Without a recorded hash the destination cannot confirm (the contract refuses it):
                // the source may run again once the Indication is closed.
                let closed = ledger.cancel(&migration_id, "RecordStreamHash failed").await;
                if !matches!(closed, Ok(MigrationStatus::Cancelled)) {
                    return Err(LiveError::Undecided { migration_id, source: Some(Box::new(source)) });
                }
                resume_if_paused(&qmp).await;
                return Err(LiveError::Record { migration_id, source: Box::new(source) });
            }
        };
        let recorded_at = Instant::now();

        // 4. The destination's decision, as committed on this member's peer.
        let decided = {
            let _step = step(observer.as_ref(), LiveStage::Confirmation);
            self.decision(ledger, &migration_id).await?
        };
        let status = decided.status;
        let decided_at = Instant::now();
        let decided_at_unix_ms = unix_ms(SystemTime::now());

        // 5. One side runs.
        let running_at = {
            let _step = step(observer.as_ref(), LiveStage::Resume);
            let (action, done) = if status == MigrationStatus::Confirmed {
                ("quit", qmp.quit().await)
            } else {
                ("cont", qmp.cont().await)
            };
            done.map_err(|source| LiveError::Resume { migration_id: migration_id.clone(), action, source })?;
            if status == MigrationStatus::Confirmed { RunningAt::Destination } else { RunningAt::Source }
        };
        let resume_ms = millis(decided_at.elapsed());

        let stopped_at_unix_ms = sent.stopped_at.map(|at| unix_ms(SystemTime::now() - at.elapsed()));
        let total_ms = millis(started.elapsed());
        let destination = destination_receipt(&self.agent_url, &migration_id).await;
        let host_pause_ms = destination
            .as_ref()
            .and_then(|d| d.resumed_at_unix_ms)
            .zip(stopped_at_unix_ms)
            .map(|(resumed, stopped)| resumed.saturating_sub(stopped));
        Ok(LiveReport {
            migration_id,
            vm_id: self.vm_id.clone(),
            status,
            running_at,
            stream_hash: sent.hash,
            observed_hash: decided.observed_hash,
            keyed_digest,
            stream_bytes: sent.bytes,
            rate_limit_megabits_per_second: self.rate_limit.map(|r| r.megabits_per_second()),
            postcopy: sent.postcopy,
            indicate_accepted_ms: indicated.accepted_ms,
            indicate: indication,
            stream_ms: sent.elapsed_ms,
            stream_megabits_per_second: Rate::observed(sent.bytes, Duration::from_millis(sent.elapsed_ms.max(1)))
                .megabits_per_second(),
            record: recorded,
            confirmation_wait_ms: millis(decided_at - recorded_at),
            resume_ms,
            qemu_downtime_ms: sent.qemu.downtime_ms,
            gated_pause_ms: sent.stopped_at.map(|at| millis(decided_at.saturating_duration_since(at))),
            ledger_pause_ms: millis(decided_at.saturating_duration_since(sent.ended_at)),
            stopped_at_unix_ms,
            decided_at_unix_ms,
            host_pause_ms,
            destination,
            total_ms,
            qemu: sent.qemu,
        })
    }

    /// Waits until the migration is no longer `indicated` on this member's peer. When no decision
    /// comes in time, cancels it: a committed cancellation means the destination can no longer
    /// confirm; a refused one means it closed meanwhile (read again).
    async fn decision(&self, ledger: &dyn LiveLedger, migration_id: &str) -> Result<LiveMigration, LiveError> {
        let deadline = Instant::now() + self.decision_timeout;
        loop {
            match ledger.live_migration(migration_id).await {
                Ok(Some(m)) if m.status != MigrationStatus::Indicated => return Ok(m),
                Ok(_) | Err(_) if Instant::now() < deadline => tokio::time::sleep(DECISION_POLL).await,
                Ok(_) | Err(_) => break,
            }
        }
        let cancelled = ledger.cancel(migration_id, "no Confirmation in time").await;
        match ledger.live_migration(migration_id).await {
            Ok(Some(m)) if m.status != MigrationStatus::Indicated => Ok(m),
            _ => Err(LiveError::Undecided {
                migration_id: migration_id.to_owned(),
                source: cancelled.err().map(Box::new),
            }),
        }
    }
}

/// The agent's receipt of the stream, once it decided (it answers within seconds of the decision);
/// `None` when it does not answer in time: the report goes without it.
async fn destination_receipt(agent_url: &str, migration_id: &str) -> Option<LiveReceipt> {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().ok()?;
    let url = format!("{agent_url}{}", link::live_path(migration_id));
    let response = client.get(url).send().await.ok()?;
    if response.status() != reqwest::StatusCode::OK {
        return None;
    }
    response.json().await.ok()
}

/// `cont` unless the guest already runs (QEMU resumes a guest whose migration failed by itself).
async fn resume_if_paused(qmp: &Qmp) {
    if qmp.status().await.is_ok_and(|s| s != vmledger_hypervisor::qmp::RunState::running) {
        let _ = qmp.cont().await;
    }
}

/// Milliseconds since the Unix epoch.
pub fn unix_ms(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).map(millis).unwrap_or(0)
}

impl From<vmledger_contract::model::Migration> for LiveMigration {
    fn from(m: vmledger_contract::model::Migration) -> Self {
        LiveMigration {
            id: m.id,
            vm_id: m.vm_id,
            live: m.live,
            status: m.status,
            destination_cloud_id: m.destination.cloud_id,
            transfer_key_hash: m.transfer_key_hash,
            recorded_hash: m.recorded_hash,
            observed_hash: m.observed_hash,
            requirements: m.requirements,
        }
    }
}

/// The contract's live calls on a member's peer.
impl LiveLedger for crate::VmLedger {
    fn indicate_live<'a>(
        &'a self,
        vm_id: &'a str,
        to_host: &'a str,
        transfer_key_hash: &'a str,
    ) -> BoxFuture<'a, crate::Result<IndicatedLive>> {
        Box::pin(async move {
            let input = msg::Migrate {
                vm_id: vm_id.to_owned(),
                destination_host_id: to_host.to_owned(),
                transfer_key_hash: Some(transfer_key_hash.to_owned()),
                live: true,
                ..msg::Migrate::default()
            };
            let pending = self.migrate_async(&input).await?;
            let migration_id = pending.migration_id().to_owned();
            let accepted_ms = pending.accepted_ms();
            let commit = Box::pin(async move { pending.wait().await.map(|c| LedgerStep::of(&c)) });
            Ok(IndicatedLive { migration_id, accepted_ms, commit })
        })
    }

    fn record_stream<'a>(&'a self, record: &'a StreamRecord) -> BoxFuture<'a, crate::Result<LedgerStep>> {
        Box::pin(async move {
            let input = msg::RecordStreamHash {
                migration_id: record.migration_id.clone(),
                stream_hash: record.stream_hash.clone(),
                keyed_digest: record.keyed_digest.clone(),
                bytes: record.bytes,
            };
            Ok(LedgerStep::of(&self.submit::<calls::RecordStreamHash>(&input).await?))
        })
    }

    fn live_migration<'a>(&'a self, id: &'a str) -> BoxFuture<'a, crate::Result<Option<LiveMigration>>> {
        Box::pin(async move {
            match self.get_migration(id).await {
                Ok(migration) => Ok(Some(migration.into())),
                Err(e) if e.contract_error().is_some_and(|c| c.code() == "NOT_FOUND") => Ok(None),
                Err(e) => Err(e),
            }
        })
    }

    fn cloud_msp_id<'a>(&'a self, cloud_id: &'a str) -> BoxFuture<'a, crate::Result<String>> {
        Box::pin(async move { Ok(self.get_cloud(cloud_id).await?.msp_id) })
    }

    fn confirm_live<'a>(
        &'a self,
        c: &'a LiveConfirmation,
    ) -> BoxFuture<'a, crate::Result<(LedgerStep, MigrationStatus)>> {
        Box::pin(async move {
            let input = msg::ConfirmMigration {
                migration_id: c.migration_id.clone(),
                observed_hash: c.observed_hash.clone(),
                transfer_key: c.transfer_key.clone(),
                keyed_digest: c.keyed_digest.clone(),
            };
            let committed = self.confirm_migration(&input).await?;
            Ok((LedgerStep::of(&committed), committed.result.status))
        })
    }

    fn decline<'a>(&'a self, id: &'a str, reason: &'a str) -> BoxFuture<'a, crate::Result<LedgerStep>> {
        Box::pin(async move {
            let input = msg::CloseMigration { migration_id: id.to_owned(), reason: Some(reason.to_owned()) };
            Ok(LedgerStep::of(&self.decline_migration(&input).await?))
        })
    }

    fn cancel<'a>(&'a self, id: &'a str, reason: &'a str) -> BoxFuture<'a, crate::Result<MigrationStatus>> {
        Box::pin(async move {
            let input = msg::CloseMigration { migration_id: id.to_owned(), reason: Some(reason.to_owned()) };
            Ok(self.cancel_migration(&input).await?.result.status)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transfer_key_commits_to_itself_only() {
        let key = TransferKey::generate().expect("random");
        let other = TransferKey::generate().expect("random");
        assert_ne!(key, other);
        assert!(key.matches(&key.commitment()));
        assert!(key.matches(&key.commitment().to_uppercase()));
        assert!(!other.matches(&key.commitment()));
        assert_eq!(TransferKey::from_hex(&key.to_hex()), Some(key.clone()));
        assert_eq!(TransferKey::from_hex("abcd"), None);
        assert_eq!(TransferKey::from_hex("not hex"), None);
        assert_eq!(format!("{key:?}"), "TransferKey(…)");
        // SHA-256 of 32 zero bytes.
        assert_eq!(
            TransferKey([0; 32]).commitment(),
            "66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925"
        );
    }
}
