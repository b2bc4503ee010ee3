//! `migrate run`: the whole migration of BASICS, timed, for any caller (the CLI, an orchestrator, a
//! billing job, the benchmark).
//!
//! 0. pick the chain: the operator member's local chain when the VM stays in its cloud, the
//!    federation when it leaves it ([`Chains::for_migration`]);
//! 1. hash the image at the source;
//! 2. submit the Indication (`Migrate`) and go on as soon as the orderer has it: its id is the
//!    migration's id;
//! 3. transfer the image while the Indication commits (a failed commit abandons the transfer);
//! 4. the destination hashes what it received and confirms or rejects with its own identity: the
//!    destination agent while receiving ([`Destination::Agent`]), or this workflow with the
//!    destination member's ledger after copying into a folder ([`Destination::Folder`]);
//! 5. for an inter-cloud migration, wait for the relays' **Leave** on the source member's local chain
//!    and **Arrival** on the destination's (when this caller can read it): BASICS finishes an inter
//!    migration only when its Leave is in a block;
//! 6. report where the time went, the ledger's share of it, and BASICS' migration delay: from the
//!    Indication's arrival at the member's gateway until the migration's last transaction is in a
//!    block (the Leave for an inter migration, the Confirmation for a local one) ([`RunReport`]).
//!
//! Progress goes to an [`Observer`] (a progress bar, a log, nothing). A rejected migration (the
//! hashes differ) is not an error: the report says `rejected`, and the ledger holds the evidence.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use vmledger_contract::model::{Crossing, Migration, MigrationStatus, Placement, Scope};
use vmledger_contract::msg;
use vmledger_contract::vocabulary::ContractEvent;

use crate::chains::Chains;
use crate::error::Error;
use crate::events::{EventStream, StartAt};
use crate::gateway::{Committed, Timings, millis};
use crate::image::{Hashed, Rate, TransferKey, hash_file};
use crate::ledger::VmLedger;
use crate::transfer::{self, Delivered, Receipt, TransferError, Transferred};

/// A stage of the workflow, as reported to an [`Observer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Stage {
    /// Hashing the image at the source (moves bytes).
    Hash,
    /// Endorsing and ordering the Indication.
    Indicate,
    /// Sending the image (moves bytes).
    Transfer,
    /// Hashing what arrived in the destination folder (moves bytes).
    DestinationHash,
    /// Waiting for the Indication's commit, then confirming at the destination.
    Confirm,
    /// Waiting for the relays' Leave and Arrival on the local chains (inter-cloud migrations).
    Relay,
}

/// Receives the workflow's progress. Called from the workflow's tasks and threads; every method
/// has a default that does nothing, and `()` is the observer that ignores everything.
pub trait Observer: Send + Sync {
    /// A stage begins; `bytes` is how much it moves, for the stages that move bytes.
    fn started(&self, _stage: Stage, _bytes: Option<u64>) {}
    /// Bytes done so far in a stage that moves bytes.
    fn progress(&self, _stage: Stage, _done: u64) {}
    /// A stage ended (also when it failed).
    fn finished(&self, _stage: Stage) {}
    /// The orderer accepted the Indication: the migration has its id, the transfer starts.
    fn indicated(&self, _migration_id: &str, _accepted_ms: u64) {}
}

impl Observer for () {}

/// Where the image goes, and who confirms.
#[derive(Debug, Clone)]
pub enum Destination {
    /// Copy into this folder (the destination's landing area); the destination member, through
    /// `confirmer` (its chains: the Confirmation goes where the Indication went), hashes the copy
    /// and confirms.
    Folder { dir: PathBuf, confirmer: Box<Chains> },
    /// Upload to this destination agent (`vmledger agent`), which hashes while it receives and
    /// confirms as its own member.
    Agent { url: String },
}

/// One migration to run.
#[derive(Debug, Clone)]
pub struct MigrateRun {
    pub vm_id: String,
    pub to_host: String,
    /// The VM's image (raw or qcow2): hashed, then sent.
    pub image: PathBuf,
    pub destination: Destination,
    /// Cap on the transfer rate (e.g. BlockchainBus' 124.8 Mbit/s between clouds).
    pub rate_limit: Option<Rate>,
    /// How long to wait for the relays' Leave and Arrival after an inter-cloud Confirmation.
    pub relay_timeout: Duration,
    /// The Indication's idempotency key (a fresh one when `None`). The migration's id follows from
    /// it: running again with the same key after an outcome not seen finds the same migration.
    pub idempotency_key: Option<String>,
}

/// How long [`MigrateRun::relay_timeout`] is by default.
pub const RELAY_TIMEOUT: Duration = Duration::from_secs(30);

/// A relay's record (Leave or Arrival) as it was seen committed on a local chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RelayRecord {
    pub channel: String,
    pub tx_id: String,
    pub block_number: u64,
    /// From the Confirmation's commit (as the workflow saw it) to this record's block.
    pub after_confirm_ms: u64,
}

/// Ledger time of one transaction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LedgerStep {
    pub tx_id: String,
    pub block_number: u64,
    /// As measured by the proxy.
    pub timings: Timings,
    /// As seen by the caller, HTTP included.
    pub client_ms: u64,
}

impl LedgerStep {
    pub(crate) fn of<T>(c: &Committed<T>) -> Self {
        LedgerStep { tx_id: c.tx_id.clone(), block_number: c.block_number, timings: c.timings, client_ms: c.client_ms }
    }
}

/// How the image travelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum TransferMode {
    Folder,
    Agent,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransferReport {
    pub mode: TransferMode,
    pub destination: String,
    pub bytes: u64,
    pub elapsed_ms: u64,
    pub megabits_per_second: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit_megabits_per_second: Option<f64>,
}

/// What a run did and where the time went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunReport {
    pub migration_id: String,
    pub vm_id: String,
    pub source: Placement,
    pub destination: Placement,
    pub scope: Scope,
    /// `confirmed`, or `rejected` when the destination's hash differed (committed as evidence).
    pub status: MigrationStatus,
    pub image: String,
    pub image_bytes: u64,
    pub recorded_hash: String,
    pub observed_hash: String,
    /// Source hashing.
    pub hash_ms: u64,
    pub hash_megabytes_per_second: f64,
    /// The Indication (`Migrate`): accepted by the orderer after `indicateAcceptedMs`, committed later.
    pub indicate: LedgerStep,
    pub indicate_accepted_ms: u64,
    pub transfer: TransferReport,
    /// Destination hashing after the copy (folder); the agent hashes while receiving (0 here).
    pub destination_hash_ms: u64,
    /// Time the destination waited, after the transfer, for the Indication to be on its ledger.
    pub indication_wait_ms: u64,
    /// The Confirmation (`ConfirmMigration`) by the destination member.
    pub confirm: LedgerStep,
    pub total_ms: u64,
    /// The chain the migration is on: the member's local chain, or the federation.
    pub chain: String,
    /// Inter-cloud: the source relay's Leave on the source member's local chain (absent when not
    /// seen within the relay timeout, or for a local migration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leave: Option<RelayRecord>,
    /// Inter-cloud: the destination relay's Arrival, when this caller can read that chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arrival: Option<RelayRecord>,
    /// BASICS' migration delay: from the Indication's submission to the gateway until the
    /// migration's last transaction is in a block (the Leave for inter, the Confirmation for
    /// local); absent when the Leave was not seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub migration_delay_ms: Option<u64>,
    /// Indication + Confirmation as the client saw them, overlapped with the transfer or not.
    pub ledger_ms: u64,
    /// Ledger time on the critical path: orderer acceptance + waiting for the Indication after
    /// the transfer + the Confirmation.
    pub ledger_critical_ms: u64,
    /// `ledgerCriticalMs / totalMs`, in percent.
    pub ledger_share_percent: f64,
}

/// Why a run failed. Each names the step; the SDK or transfer error is its source.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{} is not a file", .0.display())]
    NotAFile(PathBuf),
    #[error("hashing {}", path.display())]
    Hash {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the destination agent at {url} is not ready")]
    AgentNotReady {
        url: String,
        #[source]
        source: TransferError,
    },
    #[error("the Indication (Migrate) was refused")]
    Indicate(#[source] Box<Error>),
    #[error("the Indication {migration_id} did not commit; the transfer was abandoned")]
    IndicationFailed {
        migration_id: String,
        #[source]
        source: Box<Error>,
    },
    #[error("the transfer of migration {migration_id} failed")]
    Transfer {
        migration_id: String,
        #[source]
        source: TransferError,
    },
    #[error("looking migration {migration_id} up at the destination")]
    Lookup {
        migration_id: String,
        #[source]
        source: Box<Error>,
    },
    #[error("the Confirmation (ConfirmMigration) of migration {migration_id} failed")]
    Confirm {
        migration_id: String,
        #[source]
        source: Box<Error>,
    },
    #[error("picking the chain")]
    Route(#[from] crate::chains::RouteError),
    #[error("the destination has no {0:?} chain to confirm on: give the destination member's local channel")]
    NoChain(Scope),
    #[error("a task of the workflow stopped: {0}")]
    Task(String),
}

enum Sent {
    Folder(Transferred),
    Agent(Box<Delivered>),
}

/// Ends the observer's stage when dropped, so a failed stage still ends.
struct StageGuard<'a>(&'a dyn Observer, Stage);

impl Drop for StageGuard<'_> {
    fn drop(&mut self) {
        self.0.finished(self.1);
    }
}

fn stage<'a>(observer: &'a dyn Observer, stage: Stage, bytes: Option<u64>) -> StageGuard<'a> {
    observer.started(stage, bytes);
    StageGuard(observer, stage)
}

/// Hashes a file on a blocking thread, reporting progress as `which`.
///
/// # Errors
/// [`RunError::Hash`].
pub async fn hash_observed(
    path: &Path,
    key: &TransferKey,
    which: Stage,
    observer: &Arc<dyn Observer>,
) -> Result<Hashed, RunError> {
    let size = std::fs::metadata(path).map_err(|source| RunError::Hash { path: path.to_owned(), source })?.len();
    let _stage = stage(observer.as_ref(), which, Some(size));
    let (owned, progress, key) = (path.to_owned(), observer.clone(), key.clone());
    tokio::task::spawn_blocking(move || hash_file(&owned, Some(&key), |n| progress.progress(which, n)))
        .await
        .map_err(|e| RunError::Task(e.to_string()))?
        .map_err(|source| RunError::Hash { path: path.to_owned(), source })
}

impl MigrateRun {
    /// Runs the migration as `ledger`'s identity (the VM's operator), reporting to `observer`.
    ///
    /// # Errors
    /// [`RunError`], naming the step that failed. When the Indication was accepted the error
    /// carries the migration id: the migration stays indicated on the ledger until it is confirmed
    /// or cancelled.
    pub async fn run(self, chains: &Chains, observer: Arc<dyn Observer>) -> Result<RunReport, RunError> {
        let started = Instant::now();
        // Check the destination before anything is recorded, so a dead agent leaves no Indication.
        if let Destination::Agent { url } = &self.destination {
            transfer::agent_health(url).await.map_err(|source| RunError::AgentNotReady { url: url.clone(), source })?;
        }
        if !self.image.is_file() {
            return Err(RunError::NotAFile(self.image));
        }

        // 0. The chain: local inside a cloud, the federation between clouds.
        let route = chains.for_migration(&self.vm_id, &self.to_host).await?;
        let (scope, ledger) = (route.scope, route.ledger);
        if let Destination::Folder { confirmer, .. } = &self.destination {
            confirmer.of(scope).ok_or(RunError::NoChain(scope))?;
        }

        // 1. Hash at the source, with the HMAC under this migration's own transfer key.
        let key = TransferKey::generate().map_err(|source| RunError::Hash { path: self.image.clone(), source })?;
        let hashed = hash_observed(&self.image, &key, Stage::Hash, &observer).await?;

        // The local chains' event streams open before the Indication, so no relay record is missed.
        let watch_leave = match (scope, chains.local()) {
            (Scope::Inter, Some(local)) => Watch::open(local, Crossing::Leave).await,
            _ => None,
        };
        let watch_arrival = match (scope, &self.destination) {
            (Scope::Inter, Destination::Folder { confirmer, .. }) => match confirmer.local() {
                Some(local) => Watch::open(local, Crossing::Arrival).await,
                None => None,
            },
            _ => None,
        };
        let submitted_at = Instant::now();

        // 2. The Indication, up to the orderer's acceptance: it records the key's hash, never the key.
        let input = msg::Migrate {
            vm_id: self.vm_id.clone(),
            destination_host_id: self.to_host.clone(),
            image_hash: Some(hashed.hash.clone()),
            keyed_digest: hashed.keyed_digest.clone(),
            transfer_key_hash: Some(key.hash()),
            ..msg::Migrate::default()
        };
        let pending = {
            let _stage = stage(observer.as_ref(), Stage::Indicate, None);
            let key = self.idempotency_key.clone().unwrap_or_else(crate::identity::new_idempotency_key);
            ledger.migrate_async_with_key(&input, &key).await.map_err(|e| RunError::Indicate(Box::new(e)))?
        };
        let migration_id = pending.migration_id().to_owned();
        let accepted_ms = pending.accepted_ms();
        observer.indicated(&migration_id, accepted_ms);

        // 3. Transfer while the Indication commits; a failed commit abandons the transfer.
        let mut commit = tokio::spawn(async move { pending.wait().await });
        let transfer = self.send(&migration_id, &hashed, &key, &observer);
        tokio::pin!(transfer);
        let mut indicated: Option<Committed<Migration>> = None;
        let sent = loop {
            tokio::select! {
                sent = &mut transfer => break sent?,
                joined = &mut commit, if indicated.is_none() => {
                    let committed = joined.map_err(|e| RunError::Task(e.to_string()))?;
                    indicated = Some(committed.map_err(|source| RunError::IndicationFailed {
                        migration_id: migration_id.clone(),
                        source: Box::new(source),
                    })?);
                }
            }
        };
        let indication = |joined: Result<crate::Result<Committed<Migration>>, tokio::task::JoinError>| {
            joined.map_err(|e| RunError::Task(e.to_string()))?.map_err(|source| RunError::IndicationFailed {
                migration_id: migration_id.clone(),
                source: Box::new(source),
            })
        };

        // 4. The destination hashes what arrived and confirms.
        let closing = match sent {
            Sent::Folder(transferred) => {
                let Destination::Folder { dir, confirmer } = &self.destination else {
                    return Err(RunError::Task("a folder transfer without a folder".into()));
                };
                let landed = transfer::landing_path(dir, &migration_id);
                // The key travelled with the copy: the destination hashes (and HMACs) what landed.
                let observed = hash_observed(&landed, &key, Stage::DestinationHash, &observer).await?;
                let _stage = stage(observer.as_ref(), Stage::Confirm, None);
                let wait_started = Instant::now();
                let indicated_now = match indicated.take() {
                    Some(c) => c,
                    None => indication(commit.await)?,
                };
                let confirmer = confirmer.of(scope).ok_or(RunError::NoChain(scope))?;
                visible(confirmer, &migration_id).await?;
                let indication_wait_ms = millis(wait_started.elapsed());
                let confirmed = confirmer
                    .confirm_migration(&msg::ConfirmMigration {
                        migration_id: migration_id.clone(),
                        observed_hash: observed.hash.clone(),
                        transfer_key: key.to_hex(),
                        keyed_digest: observed.keyed_digest.clone().unwrap_or_default(),
                    })
                    .await
                    .map_err(|source| RunError::Confirm {
                        migration_id: migration_id.clone(),
                        source: Box::new(source),
                    })?;
                Closing {
                    indicated: indicated_now,
                    transfer: self.transfer_report(TransferMode::Folder, &transferred),
                    destination_hash_ms: observed.elapsed_ms,
                    indication_wait_ms,
                    observed_hash: observed.hash,
                    confirm: LedgerStep::of(&confirmed),
                    closed: confirmed.result,
                }
            }
            Sent::Agent(delivered) => {
                let indicated_now = match indicated.take() {
                    Some(c) => c,
                    None => indication(commit.await)?,
                };
                let Delivered { transferred, receipt } = *delivered;
                Closing {
                    transfer: self.transfer_report(TransferMode::Agent, &transferred),
                    destination_hash_ms: 0,
                    indication_wait_ms: receipt.lookup_wait_ms,
                    confirm: LedgerStep {
                        tx_id: receipt.confirm_tx_id.clone(),
                        block_number: receipt.confirm_block,
                        timings: receipt.confirm_timings,
                        client_ms: receipt.confirm_client_ms,
                    },
                    closed: closed_like(&indicated_now.result, &receipt),
                    observed_hash: receipt.observed_hash,
                    indicated: indicated_now,
                }
            }
        };

        // 5. The relays' Leave and Arrival, for a confirmed inter-cloud migration.
        let confirmed_at = Instant::now();
        let (mut leave, mut arrival) = (None, None);
        if scope == Scope::Inter && closing.closed.status == MigrationStatus::Confirmed {
            let _stage = stage(observer.as_ref(), Stage::Relay, None);
            let deadline = confirmed_at + self.relay_timeout;
            let (l, a) = tokio::join!(
                async {
                    match watch_leave {
                        Some(w) => w.until(&migration_id, deadline, confirmed_at).await,
                        None => None,
                    }
                },
                async {
                    match watch_arrival {
                        Some(w) => w.until(&migration_id, deadline, confirmed_at).await,
                        None => None,
                    }
                }
            );
            (leave, arrival) = (l, a);
        }
        // BASICS' delay ends with the migration's last transaction in a block: the Leave, or the
        // Confirmation of a local migration.
        let migration_delay_ms = match scope {
            Scope::Local => Some(millis(confirmed_at.saturating_duration_since(submitted_at))),
            Scope::Inter => leave
                .as_ref()
                .map(|l| millis(confirmed_at.saturating_duration_since(submitted_at)) + l.after_confirm_ms),
        };

        // 6. The report.
        let total_ms = millis(started.elapsed());
        let ledger_ms = closing.indicated.client_ms + closing.confirm.client_ms;
        let ledger_critical_ms = accepted_ms + closing.indication_wait_ms + closing.confirm.client_ms;
        Ok(RunReport {
            migration_id: migration_id.clone(),
            vm_id: self.vm_id.clone(),
            source: closing.closed.source.clone(),
            destination: closing.closed.destination.clone(),
            scope: closing.closed.scope,
            status: closing.closed.status,
            image: self.image.display().to_string(),
            image_bytes: hashed.bytes,
            recorded_hash: hashed.hash.clone(),
            observed_hash: closing.observed_hash,
            hash_ms: hashed.elapsed_ms,
            hash_megabytes_per_second: hashed.megabytes_per_second(),
            indicate: LedgerStep::of(&closing.indicated),
            indicate_accepted_ms: accepted_ms,
            transfer: closing.transfer,
            destination_hash_ms: closing.destination_hash_ms,
            indication_wait_ms: closing.indication_wait_ms,
            confirm: closing.confirm,
            total_ms,
            chain: ledger.contract().network().name().to_owned(),
            leave,
            arrival,
            migration_delay_ms,
            ledger_ms,
            ledger_critical_ms,
            ledger_share_percent: if total_ms > 0 { ledger_critical_ms as f64 * 100.0 / total_ms as f64 } else { 0.0 },
        })
    }

    /// Step 3: the image to the folder or the agent.
    async fn send(
        &self,
        migration_id: &str,
        hashed: &Hashed,
        key: &TransferKey,
        observer: &Arc<dyn Observer>,
    ) -> Result<Sent, RunError> {
        let _stage = stage(observer.as_ref(), Stage::Transfer, Some(hashed.bytes));
        let progress = observer.clone();
        let on_progress = move |n| progress.progress(Stage::Transfer, n);
        let failed = |source| RunError::Transfer { migration_id: migration_id.to_owned(), source };
        match &self.destination {
            Destination::Folder { dir, .. } => {
                transfer::copy_to_folder(&self.image, dir, migration_id, self.rate_limit, on_progress)
                    .await
                    .map(Sent::Folder)
                    .map_err(failed)
            }
            Destination::Agent { url } => {
                transfer::upload(url, migration_id, key, &self.image, self.rate_limit, on_progress)
                    .await
                    .map(|d| Sent::Agent(Box::new(d)))
                    .map_err(failed)
            }
        }
    }

    fn transfer_report(&self, mode: TransferMode, t: &Transferred) -> TransferReport {
        TransferReport {
            mode,
            destination: t.destination.clone(),
            bytes: t.bytes,
            elapsed_ms: t.elapsed_ms,
            megabits_per_second: t.rate().megabits_per_second(),
            rate_limit_megabits_per_second: self.rate_limit.map(|r| r.megabits_per_second()),
        }
    }
}

/// A local chain's event stream, opened before the Indication, waiting for a relay's record.
struct Watch {
    stream: EventStream,
    channel: String,
    crossing: Crossing,
}

impl Watch {
    /// Opens `local`'s events from its current height; `None` when the chain cannot be read (the
    /// report then says nothing of that record).
    async fn open(local: &VmLedger, crossing: Crossing) -> Option<Watch> {
        let contract = local.contract();
        let height = contract.network().info().await.ok()?.height;
        Some(Watch {
            stream: contract.events(StartAt::Block(height)),
            channel: contract.network().name().to_owned(),
            crossing,
        })
    }

    /// The record of `migration_id`, when it comes before `deadline`.
    async fn until(mut self, migration_id: &str, deadline: Instant, since: Instant) -> Option<RelayRecord> {
        let find = async {
            loop {
                let e = self.stream.next().await.ok()?;
                let ours = match e.decode() {
                    Some(ContractEvent::VmLeft(r) | ContractEvent::VmArrived(r)) => {
                        r.crossing == self.crossing && r.migration_id == migration_id
                    }
                    _ => false,
                };
                if ours {
                    return Some(RelayRecord {
                        channel: self.channel.clone(),
                        tx_id: e.tx_id,
                        block_number: e.block_number,
                        after_confirm_ms: millis(since.elapsed()),
                    });
                }
            }
        };
        tokio::time::timeout_at(deadline.into(), find).await.ok().flatten()
    }
}

/// How the migration closed, whoever closed it.
struct Closing {
    indicated: Committed<Migration>,
    transfer: TransferReport,
    destination_hash_ms: u64,
    indication_wait_ms: u64,
    observed_hash: String,
    confirm: LedgerStep,
    closed: Migration,
}

/// The migration as the agent's receipt says it closed.
fn closed_like(indicated: &Migration, receipt: &Receipt) -> Migration {
    let mut m = indicated.clone();
    m.status = receipt.status;
    m.observed_hash = Some(receipt.observed_hash.clone());
    m
}

/// Waits until the destination's peer has the Indication too (peers commit blocks independently).
async fn visible(ledger: &VmLedger, migration_id: &str) -> Result<(), RunError> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match ledger.get_migration(migration_id).await {
            Ok(_) => return Ok(()),
            Err(e) if e.contract_error().is_some_and(|c| c.code() == "NOT_FOUND") && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(source) => {
                return Err(RunError::Lookup { migration_id: migration_id.to_owned(), source: Box::new(source) });
            }
        }
    }
}
