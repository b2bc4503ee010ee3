//! The agent's live route: `POST /migrations/{migrationId}/live` takes a running guest's live
//! stream into a destination QEMU that stays paused until the ledger confirms it;
//! `GET /migrations/{migrationId}/live` answers what became of it (a [`LiveReceipt`], once decided).
//!
//! Before a byte of the guest arrives, the agent checks on its own peer that the migration is
//! live, still `indicated`, bound for a cloud of its own member, and that the bearer token is the
//! transfer key the Indication committed to (SHA-256, compared in constant time): the destination
//! QEMU parses the stream as it arrives, so only the source that made the Indication may feed it.
//! Then it starts its QEMU paused (`-S -incoming defer`) and answers `101`.
//!
//! What crosses the wire and what the agent is configured with: the request carries only the
//! migration id, the key and the mode (pre- or post-copy). The memory and the vCPUs come from the
//! ledger (what the Indication reserved at the destination; a source QEMU of another size fails to
//! load, and the agent declines). The QEMU binary, the machine type, the accelerator and the
//! guest's boot files come from the agent's own configuration ([`LiveConfig`]): a path or a QEMU
//! option taken from the network would let any source make the agent read its files or run QEMU
//! as it likes. Disks are not carried: a live guest's disk is on storage both clouds reach, or
//! moves beforehand as a cold image.
//!
//! After the stream: the agent waits for the source's `RecordStreamHash` on its peer, then confirms
//! with its own hash, the key and its keyed digest. It resumes the guest only when its
//! Confirmation committed `confirmed`; a rejected one is evidence on the ledger and the guest is
//! discarded. A complete stream that its QEMU could not load (another machine, another size) is
//! declined, not rejected: nothing was tampered with. A stream that broke off is confirmed with the
//! hash of what arrived (rejected, evidence) once the source recorded its hash, and discarded when
//! the source cancelled instead.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use vmledger_contract::model::MigrationStatus;
use vmledger_hypervisor::{Load, Qemu, QemuConfig, ReceiveOptions, Side, StreamEnd, link, receive_live};

use super::{Agent, Answer, json, problem, problem_answer};
use crate::error::Problem;
use crate::gateway::millis;
use crate::workflow::live::{LiveConfirmation, LiveLedger, LiveMigration, LiveReceipt, TransferKey, unix_ms};

/// How the agent starts destination QEMUs. The guest's memory and vCPUs are the ledger's (the
/// Indication's reservation); everything else is the agent's own.
#[derive(Debug, Clone)]
pub struct LiveConfig {
    /// The QEMU binary, machine type, accelerator and the guest's boot files; `memory_mib` and
    /// `cpus` are overwritten per migration, `monitor` is set per guest.
    pub qemu: QemuConfig,
    /// The MSP id of this agent's member: it takes only migrations into its own clouds.
    pub member_msp_id: String,
    /// Whether a source may switch to post-copy (needs userfaultfd on this host).
    pub allow_postcopy: bool,
    /// The longest a stream may take.
    pub stream_timeout: Duration,
    /// How long to wait, after the stream, for the source's `RecordStreamHash`.
    pub record_timeout: Duration,
}

impl LiveConfig {
    pub fn new(qemu: QemuConfig, member_msp_id: impl Into<String>) -> Self {
        LiveConfig {
            qemu,
            member_msp_id: member_msp_id.into(),
            allow_postcopy: false,
            stream_timeout: Duration::from_secs(600),
            record_timeout: Duration::from_secs(60),
        }
    }
}

/// The agent's live side: its ledger, its configuration, the guests it runs and what it decided.
pub(crate) struct LiveDestination {
    ledger: Arc<dyn LiveLedger>,
    config: LiveConfig,
    /// Resumed guests, kept running while the agent runs.
    guests: Mutex<HashMap<String, Qemu>>,
    receipts: Mutex<HashMap<String, LiveReceipt>>,
    decided: tokio::sync::watch::Sender<u64>,
}

impl LiveDestination {
    pub(crate) fn new(ledger: Arc<dyn LiveLedger>, config: LiveConfig) -> Self {
        LiveDestination {
            ledger,
            config,
            guests: Mutex::new(HashMap::new()),
            receipts: Mutex::new(HashMap::new()),
            decided: tokio::sync::watch::channel(0).0,
        }
    }
}

/// How long `GET /migrations/{id}/live` waits for a decision before answering 202.
const RECEIPT_WAIT: Duration = Duration::from_secs(30);
/// How often the agent looks for the source's recorded hash on its peer.
const RECORD_POLL: Duration = Duration::from_millis(10);

/// `POST /migrations/{id}/live`: checks, starts the destination QEMU, answers `101` and goes on
/// receiving on its own task.
pub(crate) async fn offer(agent: Arc<Agent>, mut request: Request<Incoming>) -> Answer {
    let Some(live) = agent.live.as_ref() else {
        return problem_answer(&problem("ROUTE_NOT_FOUND", "this agent takes no live migrations".to_owned()));
    };
    let (offer, presented) = match link::offer(&request) {
        Ok(read) => read,
        Err(refusal) => return refused(refusal.status, refusal.reason),
    };
    let id = offer.migration_id.clone();
    let answer = async {
        let key = presented.as_deref().and_then(TransferKey::from_hex).ok_or_else(|| {
            Box::new(problem(
                "UNAUTHENTICATED",
                format!("migration {id}: the bearer token is not a 32-byte hex transfer key"),
            ))
        })?;
        if offer.postcopy && !live.config.allow_postcopy {
            return Err(Box::new(problem("BAD_REQUEST", "this agent does not take post-copy migrations".to_owned())));
        }
        let claim = LiveClaim::take(&agent, &id)?;
        let migration = indicated(live, &id, agent.lookup_timeout).await?;
        let destination_msp_id = live
            .ledger
            .cloud_msp_id(&migration.destination_cloud_id)
            .await
            .map_err(|e| Box::new(super::from_sdk(&e)))?;
        admit(&migration, &key, &destination_msp_id, &live.config.member_msp_id)?;
        let console = agent.dir.join(format!("{id}.console"));
        let monitor = agent.dir.join(format!("{id}.qmp"));
        let _ = std::fs::remove_file(&monitor);
        let config = QemuConfig {
            memory_mib: u32::try_from(migration.requirements.memory_mib).unwrap_or(u32::MAX),
            cpus: u32::try_from(migration.requirements.cpu_cores.max(1)).unwrap_or(1),
            monitor: Some(monitor.clone()),
            ..live.config.qemu.clone()
        };
        let qemu = Qemu::start(&config, Side::Destination).await.map_err(|e| {
            Box::new(problem("INTERNAL", format!("migration {id}: starting the destination QEMU: {e}")))
        })?;
        tokio::spawn(keep_console(qemu.console().clone(), console.clone()));
        Ok((claim, migration, key, qemu, console, monitor))
    };
    match answer.await {
        Ok((claimed, migration, key, qemu, console, monitor)) => {
            let (response, upgrade) = link::upgrade(&mut request);
            let options = ReceiveOptions {
                postcopy: offer.postcopy,
                timeout: live.config.stream_timeout,
                digest_key: Some(key.digest_key()),
            };
            let agent = agent.clone();
            tokio::spawn(async move {
                let _claim = claimed;
                let receipt = match upgrade.await {
                    Ok(upgraded) => {
                        let arriving = Arriving { migration, key, options, console, monitor };
                        receive(&agent, arriving, TokioIo::new(upgraded), qemu).await
                    }
                    Err(e) => {
                        let _ = qemu.quit().await;
                        failed_receipt(&migration, &console, format!("the upgrade failed: {e}"))
                    }
                };
                agent.observer.live(&receipt);
                if let Some(live) = agent.live.as_ref() {
                    if let Ok(mut receipts) = live.receipts.lock() {
                        receipts.insert(receipt.migration_id.clone(), receipt);
                    }
                    live.decided.send_modify(|n| *n += 1);
                }
            });
            response.map(|_| Full::new(Bytes::new()))
        }
        Err(p) => {
            agent.observer.refused(&id, &p);
            problem_answer(&p)
        }
    }
}

/// `GET /migrations/{id}/live`: the [`LiveReceipt`] once decided (waits a little for it); 202
/// while undecided, 404 for a migration this agent never received.
pub(crate) async fn receipt(agent: &Agent, id: &str) -> Answer {
    let Some(live) = agent.live.as_ref() else {
        return problem_answer(&problem("ROUTE_NOT_FOUND", "this agent takes no live migrations".to_owned()));
    };
    let mut decided = live.decided.subscribe();
    let deadline = tokio::time::Instant::now() + RECEIPT_WAIT;
    loop {
        if let Some(receipt) = live.receipts.lock().ok().and_then(|r| r.get(id).cloned()) {
            return json(StatusCode::OK, &receipt);
        }
        let receiving = agent.receiving.lock().map(|r| r.contains(id)).unwrap_or(false);
        if !receiving {
            return problem_answer(&problem("NOT_FOUND", format!("no live stream of migration {id} here")));
        }
        if tokio::time::timeout_at(deadline, decided.changed()).await.is_err() {
            return json(StatusCode::ACCEPTED, &serde_json::json!({"migrationId": id, "status": "receiving"}));
        }
    }
}

/// A migration id this agent is receiving: one stream per migration at a time, image or live.
/// Released when the stream's task ends.
struct LiveClaim {
    agent: Arc<Agent>,
    id: String,
}

impl LiveClaim {
    fn take(agent: &Arc<Agent>, id: &str) -> Result<LiveClaim, Box<Problem>> {
        let claimed = agent.receiving.lock().map(|mut r| r.insert(id.to_owned())).unwrap_or(false);
        if !claimed {
            return Err(Box::new(problem("CONFLICT", format!("migration {id} is already being received"))));
        }
        Ok(LiveClaim { agent: agent.clone(), id: id.to_owned() })
    }
}

impl Drop for LiveClaim {
    fn drop(&mut self) {
        if let Ok(mut receiving) = self.agent.receiving.lock() {
            receiving.remove(&self.id);
        }
    }
}

/// The migration, once indicated on this member's peer (waits up to `timeout` for it).
async fn indicated(live: &LiveDestination, id: &str, timeout: Duration) -> Result<LiveMigration, Box<Problem>> {
    let deadline = Instant::now() + timeout;
    loop {
        match live.ledger.live_migration(id).await {
            Ok(Some(m)) => return Ok(m),
            Ok(None) if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(20)).await,
            Ok(None) => {
                return Err(Box::new(problem(
                    "NOT_FOUND",
                    format!("migration {id} was not indicated on the ledger within {} s", timeout.as_secs()),
                )));
            }
            Err(e) => return Err(Box::new(super::from_sdk(&e))),
        }
    }
}

/// Whether this agent may take `migration`'s stream, with `key`. Each refusal names the rule.
fn admit(
    migration: &LiveMigration,
    key: &TransferKey,
    destination_msp_id: &str,
    member_msp_id: &str,
) -> Result<(), Box<Problem>> {
    let id = &migration.id;
    if !migration.live {
        return Err(Box::new(problem("CONFLICT", format!("migration {id} is not live: send its image instead"))));
    }
    if migration.status != MigrationStatus::Indicated {
        return Err(Box::new(problem(
            "CONFLICT",
            format!("migration {id} is already {}; nothing to receive", super::status_name(migration.status)),
        )));
    }
    if destination_msp_id != member_msp_id {
        return Err(Box::new(problem(
            "UNAUTHORIZED",
            format!(
                "migration {id} goes to cloud {} of {}, not to this agent's member {member_msp_id}",
                migration.destination_cloud_id, destination_msp_id
            ),
        )));
    }
    if !key.matches(&migration.transfer_key_hash) {
        return Err(Box::new(problem(
            "UNAUTHENTICATED",
            format!("migration {id}: the bearer token is not its transfer key"),
        )));
    }
    Ok(())
}

/// A checked migration whose stream is about to arrive.
struct Arriving {
    migration: LiveMigration,
    key: TransferKey,
    options: ReceiveOptions,
    console: PathBuf,
    monitor: PathBuf,
}

/// Receives the stream, waits for the source's hash, confirms, and resumes or discards.
async fn receive<L>(agent: &Agent, arriving: Arriving, link: L, qemu: Qemu) -> LiveReceipt
where
    L: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static,
{
    let Arriving { migration, key, options, console, monitor } = arriving;
    let Some(live) = agent.live.as_ref() else {
        return failed_receipt(&migration, &console, "no live configuration".to_owned());
    };
    let id = migration.id.clone();
    let (received, arrived) = match receive_live(link, qemu, &options).await {
        Ok(done) => done,
        Err(e) => return failed_receipt(&migration, &console, format!("receiving: {e}")),
    };
    let ended_at = received.ended_at.unwrap_or_else(Instant::now);
    let stream_end = match &received.end {
        StreamEnd::Complete => "complete",
        StreamEnd::Truncated { .. } => "truncated",
        StreamEnd::Aborted { .. } => "aborted",
    };
    let load_failed = match &received.load {
        Load::Loaded => None,
        Load::Failed { reason } => Some(reason.clone()),
    };
    let mut receipt = LiveReceipt {
        migration_id: id.clone(),
        vm_id: migration.vm_id.clone(),
        status: MigrationStatus::Indicated,
        resumed: false,
        observed_hash: received.hash.clone(),
        bytes: received.bytes,
        stream_end: stream_end.to_owned(),
        load_failed: load_failed.clone(),
        receive_ms: received.elapsed_ms,
        record_wait_ms: 0,
        confirm: None,
        gate_ms: 0,
        resumed_at_unix_ms: None,
        console: console.display().to_string(),
        monitor: None,
        error: None,
    };

    // A complete stream QEMU could not load: not tampering, a misfit. Decline it.
    if let (StreamEnd::Complete, Some(reason)) = (&received.end, &load_failed) {
        let _ = arrived.discard().await;
        match live.ledger.decline(&id, &format!("the destination QEMU did not load the stream: {reason}")).await {
            Ok(step) => {
                receipt.status = status_now(live, &id).await.unwrap_or(MigrationStatus::Indicated);
                receipt.confirm = Some(step);
            }
            Err(e) => receipt.error = Some(format!("declining: {e}")),
        }
        receipt.gate_ms = millis(ended_at.elapsed());
        return receipt;
    }

    // The source's hash, then this side's Confirmation: the contract compares.
    let waited = Instant::now();
    let recorded = recorded(live, &id).await;
    receipt.record_wait_ms = millis(waited.elapsed());
    match recorded {
        Ok(true) => {}
        Ok(false) => {
            // Closed without a recorded hash (cancelled, expired): nothing to confirm.
            let _ = arrived.discard().await;
            receipt.status = status_now(live, &id).await.unwrap_or(MigrationStatus::Indicated);
            receipt.gate_ms = millis(ended_at.elapsed());
            return receipt;
        }
        Err(reason) => {
            let _ = arrived.discard().await;
            receipt.error = Some(reason);
            receipt.gate_ms = millis(ended_at.elapsed());
            return receipt;
        }
    }
    let confirmation = LiveConfirmation {
        migration_id: id.clone(),
        observed_hash: received.hash.clone(),
        transfer_key: key.to_hex(),
        keyed_digest: received.keyed_digest.clone().unwrap_or_default(),
    };
    match live.ledger.confirm_live(&confirmation).await {
        Ok((step, status)) => {
            receipt.status = status;
            receipt.confirm = Some(step);
        }
        Err(e) => {
            receipt.error = Some(format!("confirming: {e}"));
            receipt.status = status_now(live, &id).await.unwrap_or(MigrationStatus::Indicated);
        }
    }

    // The gate: run only what the ledger confirmed.
    if receipt.status == MigrationStatus::Confirmed {
        match arrived.resume().await {
            Ok(qemu) => {
                receipt.resumed = true;
                receipt.resumed_at_unix_ms = Some(unix_ms(SystemTime::now()));
                receipt.monitor = Some(monitor.display().to_string());
                if let Ok(mut guests) = live.guests.lock() {
                    guests.insert(id.clone(), qemu);
                }
            }
            Err(e) => receipt.error = Some(format!("resuming: {e}")),
        }
    } else {
        let _ = arrived.discard().await;
    }
    receipt.gate_ms = millis(ended_at.elapsed());
    receipt
}

/// Waits until the source's hash is on this peer (`true`) or the migration closed without it
/// (`false`); an error after the agent's record timeout.
async fn recorded(live: &LiveDestination, id: &str) -> Result<bool, String> {
    let deadline = Instant::now() + live.config.record_timeout;
    loop {
        match live.ledger.live_migration(id).await {
            Ok(Some(m)) if m.recorded_hash.is_some() => return Ok(true),
            Ok(Some(m)) if m.status != MigrationStatus::Indicated => return Ok(false),
            Ok(_) | Err(_) if Instant::now() < deadline => tokio::time::sleep(RECORD_POLL).await,
            Ok(_) => {
                return Err(format!(
                    "the source recorded no stream hash within {} s",
                    live.config.record_timeout.as_secs()
                ));
            }
            Err(e) => return Err(format!("reading migration {id}: {e}")),
        }
    }
}

async fn status_now(live: &LiveDestination, id: &str) -> Option<MigrationStatus> {
    live.ledger.live_migration(id).await.ok().flatten().map(|m| m.status)
}

fn failed_receipt(migration: &LiveMigration, console: &std::path::Path, error: String) -> LiveReceipt {
    LiveReceipt {
        migration_id: migration.id.clone(),
        vm_id: migration.vm_id.clone(),
        status: MigrationStatus::Indicated,
        resumed: false,
        observed_hash: String::new(),
        bytes: 0,
        stream_end: "truncated".to_owned(),
        load_failed: None,
        receive_ms: 0,
        record_wait_ms: 0,
        confirm: None,
        gate_ms: 0,
        resumed_at_unix_ms: None,
        console: console.display().to_string(),
        monitor: None,
        error: Some(error),
    }
}

/// Appends the guest's console lines to `path` as they come, until QEMU exits.
async fn keep_console(console: vmledger_hypervisor::Console, path: PathBuf) {
    use tokio::io::AsyncWriteExt;
    let Ok(mut file) = tokio::fs::File::create(&path).await else { return };
    let mut next = 0;
    loop {
        let waited = console.wait_for(next, Duration::from_secs(3600), |_| Some(())).await;
        if waited.is_err() {
            break;
        }
        let lines = console.lines();
        for line in lines.iter().skip(next) {
            let _ = file.write_all(format!("{}\n", line.text).as_bytes()).await;
        }
        let _ = file.flush().await;
        next = lines.len();
    }
}

fn refused(status: StatusCode, reason: String) -> Answer {
    let code = match status {
        StatusCode::NOT_FOUND => "ROUTE_NOT_FOUND",
        StatusCode::METHOD_NOT_ALLOWED => "METHOD_NOT_ALLOWED",
        _ => "BAD_REQUEST",
    };
    let mut p = problem(code, reason);
    p.status = status.as_u16();
    let mut answer: Response<Full<Bytes>> = problem_answer(&p);
    *answer.status_mut() = status;
    answer
}
