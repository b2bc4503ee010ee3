//! A QMP client: QEMU's JSON monitor, on a unix socket.
//!
//! The protocol and its types come from the `qapi` crate (commands and events generated from
//! QEMU's own schema). `qapi-qmp` 0.15 carries QEMU 9.1's schema; Debian 12's QEMU is 7.2. Every
//! command and reply used here has the same shape in both (the tests run them against the real
//! 7.2), but an event that the 9.1 schema does not know would fail to decode and end the connection:
//! none of the events a migration emits is such an event.
//!
//! [`Qmp`] owns the connection. A background task reads it: it hands replies to the waiting
//! commands and broadcasts events (with the instant they arrived) to every [`Qmp::subscribe`]r. The
//! task ends when QEMU closes the socket or the [`Qmp`] is dropped.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use qapi::futures::{QapiService, QmpStreamTokio};
use qapi::qmp;
use serde::{Deserialize, Serialize};
use tokio::io::WriteHalf;
use tokio::net::UnixStream;
use tokio::sync::broadcast;

use crate::error::Error;

pub use qapi::qmp::{Event, MigrationCapability, MigrationStatus, RunState};

type Service = QapiService<QmpStreamTokio<WriteHalf<UnixStream>>>;

/// How many events a slow subscriber may fall behind before it misses some.
const EVENT_BACKLOG: usize = 1024;

/// How often [`Qmp::wait_for_migration`] asks QEMU, in case an event was missed.
const MIGRATION_POLL: Duration = Duration::from_millis(100);

/// An event from QEMU and when this process read it.
#[derive(Debug, Clone)]
pub struct QmpEvent {
    pub received: Instant,
    pub event: Event,
}

/// A connection to one QEMU's monitor, capabilities negotiated.
pub struct Qmp {
    service: Service,
    events: broadcast::WeakSender<QmpEvent>,
    path: PathBuf,
}

impl std::fmt::Debug for Qmp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Qmp").field("path", &self.path).finish_non_exhaustive()
    }
}

/// Migration tuning: `migrate-set-parameters`. `None` leaves QEMU's value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MigrationParameters {
    /// Bytes per second QEMU itself may send (its default is 32 MiB/s).
    pub max_bandwidth: Option<u64>,
    /// The longest pause, in milliseconds, QEMU aims for when it stops the guest to send the rest
    /// (its default is 300).
    pub downtime_limit_ms: Option<u64>,
}

/// What `query-migrate` says about a migration, in the units of a report.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MigrationStats {
    /// QEMU's status, as QMP names it (`active`, `completed`, `failed`, …); `none` before any.
    pub status: String,
    /// From `migrate` to the end, as QEMU measured it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_time_ms: Option<u64>,
    /// How long the guest was stopped for the switchover, as QEMU measured it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub downtime_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub setup_time_ms: Option<u64>,
    /// Bytes QEMU wrote into the migration stream (RAM and device state).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transferred_bytes: Option<u64>,
    /// Guest memory size as QEMU counts it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ram_bytes: Option<u64>,
    /// Pages the guest dirtied per second, last measured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dirty_pages_rate: Option<u64>,
    /// Passes over the guest's dirty memory (QEMU's dirty-sync count).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub passes: Option<u64>,
    /// Pages the destination asked for during post-copy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postcopy_requests: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl MigrationStats {
    fn from_info(info: &qmp::MigrationInfo) -> Self {
        let positive = |v: i64| u64::try_from(v).ok();
        let ram = info.ram.as_ref();
        MigrationStats {
            status: info.status.as_ref().map_or_else(|| "none".to_owned(), wire_name),
            total_time_ms: info.total_time.and_then(positive),
            downtime_ms: info.downtime.and_then(positive),
            setup_time_ms: info.setup_time.and_then(positive),
            transferred_bytes: ram.and_then(|r| positive(r.transferred)),
            ram_bytes: ram.and_then(|r| positive(r.total)),
            dirty_pages_rate: ram.and_then(|r| positive(r.dirty_pages_rate)),
            passes: ram.and_then(|r| positive(r.dirty_sync_count)),
            postcopy_requests: ram.and_then(|r| positive(r.postcopy_requests)),
            error: info.error_desc.clone(),
        }
    }

    /// Whether the migration has ended, one way or the other.
    pub fn finished(&self) -> bool {
        matches!(self.status.as_str(), "completed" | "failed" | "cancelled")
    }

    pub fn completed(&self) -> bool {
        self.status == "completed"
    }
}

/// QMP's name of an enum value (`postcopy-active`, not `postcopy_active`).
pub fn wire_name<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => "?".to_owned(),
    }
}

impl Qmp {
    /// Connects to the QMP socket at `path` and negotiates capabilities.
    ///
    /// # Errors
    /// [`Error::QmpConnect`] when the socket does not answer with a QMP greeting.
    pub async fn connect(path: impl AsRef<Path>) -> Result<Qmp, Error> {
        let path = path.as_ref().to_owned();
        let refused = |source| Error::QmpConnect { path: path.clone(), source };
        let negotiation = QmpStreamTokio::open_uds(&path).await.map_err(refused)?;
        let stream = negotiation.negotiate().await.map_err(refused)?;
        let (service, mut replies_and_events) = stream.into_parts();
        // Released, the reader stops when `service` is dropped instead of waiting for QEMU's EOF.
        let _ = replies_and_events.release();
        let (sender, _) = broadcast::channel(EVENT_BACKLOG);
        let events = sender.downgrade();
        tokio::spawn(async move {
            while let Some(Ok(event)) = replies_and_events.next().await {
                // No subscriber is not an error.
                let _ = sender.send(QmpEvent { received: Instant::now(), event });
            }
        });
        Ok(Qmp { service, events, path })
    }

    /// Connects once QEMU has created its socket, for up to `timeout`.
    ///
    /// # Errors
    /// [`Error::Timeout`], with the last connection error.
    pub async fn connect_within(path: impl AsRef<Path>, timeout: Duration) -> Result<Qmp, Error> {
        let deadline = Instant::now() + timeout;
        loop {
            match Qmp::connect(path.as_ref()).await {
                Ok(qmp) => return Ok(qmp),
                Err(e) if Instant::now() >= deadline => {
                    return Err(Error::Timeout {
                        what: format!("QMP on {} ({e})", path.as_ref().display()),
                        after: timeout,
                    });
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    }

    /// The socket this connection uses.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Events from now on. After QEMU closed the connection the receiver reports `Closed`.
    pub fn subscribe(&self) -> broadcast::Receiver<QmpEvent> {
        match self.events.upgrade() {
            Some(sender) => sender.subscribe(),
            None => broadcast::channel(1).1,
        }
    }

    async fn execute<C: qapi::Command + qmp::QmpCommand>(&self, command: C) -> Result<C::Ok, Error> {
        self.service.execute(command).await.map_err(|source| Error::Qmp { command: C::NAME, source })
    }

    /// `query-status`: the guest's run state.
    ///
    /// # Errors
    /// [`Error::Qmp`].
    pub async fn status(&self) -> Result<RunState, Error> {
        Ok(self.execute(qmp::query_status {}).await?.status)
    }

    /// `stop`: pauses the guest.
    ///
    /// # Errors
    /// [`Error::Qmp`].
    pub async fn stop(&self) -> Result<(), Error> {
        self.execute(qmp::stop {}).await.map(drop)
    }

    /// `cont`: runs the guest (also a source whose migration completed, or a destination that
    /// received one).
    ///
    /// # Errors
    /// [`Error::Qmp`].
    pub async fn cont(&self) -> Result<(), Error> {
        self.execute(qmp::cont {}).await.map(drop)
    }

    /// `quit`: QEMU exits. The reply may be lost as QEMU closes the socket: that is success too.
    ///
    /// # Errors
    /// [`Error::Qmp`] when QEMU refused.
    pub async fn quit(&self) -> Result<(), Error> {
        match self.execute(qmp::quit {}).await {
            Ok(_) | Err(Error::Qmp { source: qapi::ExecuteError::Io(_), .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// `migrate-set-capabilities`.
    ///
    /// # Errors
    /// [`Error::Qmp`], e.g. `postcopy-ram` where the host lacks userfaultfd.
    pub async fn set_capabilities(&self, capabilities: &[(MigrationCapability, bool)]) -> Result<(), Error> {
        let capabilities = capabilities
            .iter()
            .map(|&(capability, state)| qmp::MigrationCapabilityStatus { capability, state })
            .collect();
        self.execute(qmp::migrate_set_capabilities { capabilities }).await.map(drop)
    }

    /// `migrate-set-parameters`.
    ///
    /// # Errors
    /// [`Error::Qmp`].
    pub async fn set_parameters(&self, parameters: MigrationParameters) -> Result<(), Error> {
        let set = qmp::MigrateSetParameters {
            max_bandwidth: parameters.max_bandwidth,
            downtime_limit: parameters.downtime_limit_ms,
            ..Default::default()
        };
        self.execute(qmp::migrate_set_parameters(set)).await.map(drop)
    }

    /// `migrate`: starts sending the guest to `uri` (`unix:PATH`, `tcp:HOST:PORT`, `fd:NAME`).
    /// Returns once QEMU has started; [`Qmp::wait_for_migration`] waits for the end.
    ///
    /// # Errors
    /// [`Error::Qmp`].
    pub async fn migrate(&self, uri: &str) -> Result<(), Error> {
        self.execute(qmp::migrate { uri: Some(uri.to_owned()), channels: None, detach: None, resume: None })
            .await
            .map(drop)
    }

    /// `migrate-incoming`: a QEMU started with `-incoming defer` listens on `uri` for the stream.
    ///
    /// # Errors
    /// [`Error::Qmp`].
    pub async fn migrate_incoming(&self, uri: &str) -> Result<(), Error> {
        self.execute(qmp::migrate_incoming { uri: Some(uri.to_owned()), channels: None, exit_on_error: None })
            .await
            .map(drop)
    }

    /// `migrate-start-postcopy`: the source stops the guest, sends its device state, and the
    /// destination runs it while the remaining pages follow (needs `postcopy-ram` on both sides).
    ///
    /// # Errors
    /// [`Error::Qmp`].
    pub async fn start_postcopy(&self) -> Result<(), Error> {
        self.execute(qmp::migrate_start_postcopy {}).await.map(drop)
    }

    /// `query-migrate`: on a source its outgoing migration, on a destination its incoming one.
    ///
    /// # Errors
    /// [`Error::Qmp`].
    pub async fn query_migrate(&self) -> Result<MigrationStats, Error> {
        Ok(MigrationStats::from_info(&self.execute(qmp::query_migrate {}).await?))
    }

    /// Waits until the migration has ended (completed, failed or cancelled) and returns QEMU's
    /// figures. Listens for `MIGRATION` events (the `events` capability) and asks QEMU now and then.
    ///
    /// # Errors
    /// [`Error::Timeout`]; [`Error::Qmp`].
    pub async fn wait_for_migration(&self, timeout: Duration) -> Result<MigrationStats, Error> {
        let mut events = self.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let stats = self.query_migrate().await?;
            if stats.finished() {
                return Ok(stats);
            }
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => {
                    return Err(Error::Timeout { what: "the migration to end".to_owned(), after: timeout });
                }
                _ = tokio::time::sleep(MIGRATION_POLL) => {}
                event = events.recv() => {
                    if let Err(broadcast::error::RecvError::Closed) = event {
                        return Err(Error::QmpClosed { path: self.path.clone() });
                    }
                }
            }
        }
    }
}
