//! Live migration through vmledger: the source QEMU migrates into a unix socket this process
//! reads; the bytes are hashed, paced and sent over a [`link`](crate::link) to the destination,
//! which hashes what it receives and feeds it to a destination QEMU waiting with `-incoming defer`.
//!
//! [`send_live`] returns when the source QEMU has completed the migration (its guest is then
//! paused, `postmigrate`) with the SHA-256 of exactly the bytes QEMU produced. [`receive_live`]
//! returns when the destination QEMU has loaded the stream (or failed to) with the SHA-256 of
//! exactly the bytes that arrived, and an [`Arrived`] guest that stays paused until
//! [`Arrived::resume`] (after the ledger confirmed) or goes with [`Arrived::discard`].

use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{broadcast, mpsc};
use tokio_util::codec::{FramedRead, FramedWrite};

use crate::error::{Error, Side};
use crate::link::Frame;
use crate::pace::Pacer;
use crate::qemu::Qemu;
use crate::qmp::{
    Event, MigrationCapability, MigrationParameters, MigrationStats, MigrationStatus, Qmp, QmpEvent, RunState,
    wire_name,
};

/// The largest chunk read from QEMU and sent as one frame.
const CHUNK: usize = 256 << 10;
/// How long QEMU may take to connect to (or accept) the stream's unix socket.
const SOCKET_WAIT: Duration = Duration::from_secs(10);
/// How long the source waits for the destination's receipt after the end of the stream.
const RECEIPT_WAIT: Duration = Duration::from_secs(60);
/// QEMU's own bandwidth cap, lifted: the link is the limit. QEMU then measures the link's real
/// throughput through back-pressure and plans the switchover on it.
const UNLIMITED: u64 = i64::MAX as u64;

/// How the source sends.
#[derive(Debug, Clone, PartialEq)]
pub struct SendOptions {
    /// The link's rate cap in bytes per second; `None`: as fast as it goes.
    pub rate_bytes_per_second: Option<f64>,
    /// QEMU's `downtime-limit` in ms; `None` keeps QEMU's (300 ms).
    pub downtime_limit_ms: Option<u64>,
    /// Switch to post-copy after the first pass over memory (the destination must agree).
    pub postcopy: bool,
    /// The longest the whole migration may take.
    pub timeout: Duration,
    /// Test hook: flips the byte at this offset of the stream after the source hashed it, as a
    /// corrupting link would. It exists to show that the ledger catches it.
    pub corrupt_byte_at: Option<u64>,
    /// Also compute the stream's keyed digest (HMAC-SHA256) with this key, in the same pass.
    pub digest_key: Option<DigestKey>,
}

impl Default for SendOptions {
    fn default() -> Self {
        SendOptions {
            rate_bytes_per_second: None,
            downtime_limit_ms: None,
            postcopy: false,
            timeout: Duration::from_secs(600),
            corrupt_byte_at: None,
            digest_key: None,
        }
    }
}

/// What the source sent.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveSent {
    /// SHA-256 of the stream exactly as the source QEMU produced it, lower-case hex: the hash the
    /// source records on the ledger.
    pub hash: String,
    /// HMAC-SHA256 of the same bytes with [`SendOptions::digest_key`], lower-case hex.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keyed_digest: Option<String>,
    pub bytes: u64,
    /// From `migrate` to the end of the stream.
    pub elapsed_ms: u64,
    /// What the destination said it received, when it said so in time.
    pub received_bytes: Option<u64>,
    /// Whether the migration switched to post-copy.
    pub postcopy: bool,
    /// QEMU's account of the migration.
    pub qemu: MigrationStats,
    /// When the source guest stopped for the switchover (QEMU's `STOP` event).
    #[serde(skip)]
    pub stopped_at: Option<Instant>,
    /// When the stream ended.
    #[serde(skip)]
    pub ended_at: Instant,
}

/// Live-migrates the guest of the QEMU behind `source` over `link`. The guest keeps running while
/// its memory is copied; QEMU stops it for the switchover and, once the stream is complete, it
/// stays paused (`postmigrate`): [`Qmp::cont`] resumes it (the ledger rejected the stream),
/// [`Qmp::quit`] ends it (the ledger confirmed it).
///
/// # Errors
/// [`Error::WrongState`] when the guest is not running or paused; [`Error::Qmp`];
/// [`Error::MigrationFailed`] when QEMU reports the migration failed (the destination is told, and
/// the source guest keeps or resumes running); [`Error::Io`] when the link breaks (QEMU's
/// migration then fails and its guest goes on); [`Error::Timeout`].
pub async fn send_live<L>(source: &Qmp, link: L, options: &SendOptions) -> Result<LiveSent, Error>
where
    L: AsyncRead + AsyncWrite + Send + 'static,
{
    let state = source.status().await?;
    if !matches!(state, RunState::running | RunState::paused) {
        return Err(Error::WrongState {
            side: Side::Source,
            operation: "migrate",
            reason: format!("it is `{}`", wire_name(&state)),
        });
    }
    let deadline = tokio::time::Instant::now() + options.timeout;
    let dir = crate::private_dir("vmledger-live-")?;
    let socket = dir.path().join("outgoing.sock");
    let listener = UnixListener::bind(&socket).map_err(Error::io("listening for the source QEMU's stream"))?;
    source
        .set_capabilities(&[(MigrationCapability::events, true), (MigrationCapability::postcopy_ram, options.postcopy)])
        .await?;
    source
        .set_parameters(MigrationParameters {
            max_bandwidth: Some(UNLIMITED),
            downtime_limit_ms: options.downtime_limit_ms,
        })
        .await?;
    let mut events = source.subscribe();
    let started = Instant::now();
    source.migrate(&unix_uri(&socket)).await?;
    let (from_qemu, _) = tokio::time::timeout(SOCKET_WAIT, listener.accept())
        .await
        .map_err(|_| Error::Timeout { what: "the source QEMU to connect".to_owned(), after: SOCKET_WAIT })?
        .map_err(Error::io("accepting the source QEMU's stream"))?;
    let (from_qemu, to_qemu) = from_qemu.into_split();
    let (link_in, link_out) = tokio::io::split(link);
    let mut frames = FramedWrite::new(link_out, Frame::codec());
    let mut receipt = Task(tokio::spawn(return_path_into_source(FramedRead::new(link_in, Frame::codec()), to_qemu)));

    let mut pacer = Pacer::new(options.rate_bytes_per_second);
    // The switchover's start, from QEMU's STOP event.
    let mut stopped_at = None;
    let mut went_postcopy = false;
    let (digest, bytes) = {
        let digest = StreamDigest::new(options.digest_key.as_ref());
        let sending = send_stream(from_qemu, &mut frames, &mut pacer, digest, options.corrupt_byte_at);
        tokio::pin!(sending);
        // QEMU may hold its big lock while it writes the stream, and answers QMP only once it has
        // written: a command is therefore never awaited on its own, only beside the stream.
        let mut switch = std::pin::pin!(postcopy_switch(source, options.postcopy));
        let mut switching = options.postcopy;
        let mut events_open = true;
        loop {
            tokio::select! {
                sent = &mut sending => break sent?,
                () = &mut switch, if switching => switching = false,
                event = events.recv(), if events_open => match event {
                    Ok(QmpEvent { event: Event::STOP { .. }, received }) => { stopped_at.get_or_insert(received); }
                    Ok(QmpEvent { event: Event::MIGRATION { data, .. }, .. }) => {
                        went_postcopy |= matches!(data.status, MigrationStatus::postcopy_active);
                    }
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => events_open = false,
                },
                _ = tokio::time::sleep_until(deadline) => {
                    return Err(Error::Timeout { what: "the source QEMU's stream".to_owned(), after: options.timeout });
                }
            }
        }
    };
    let ended_at = Instant::now();
    // QEMU closes the stream after it set the migration's final status.
    let qemu = source.wait_for_migration(SOCKET_WAIT).await?;
    if !qemu.completed() {
        let reason = qemu.error.clone().unwrap_or_else(|| qemu.status.clone());
        // The destination learns the stream is void; if the link is gone it learns by its end.
        let _ = frames.send(Frame::Abort { reason: reason.clone() }.encode()).await;
        return Err(Error::MigrationFailed { side: Side::Source, status: qemu.status, reason });
    }
    frames.send(Frame::End { bytes }.encode()).await.map_err(Error::io("sending the end of the stream"))?;
    let received_bytes = match tokio::time::timeout(RECEIPT_WAIT, &mut receipt.0).await {
        Ok(Ok(received)) => received,
        Ok(Err(_)) | Err(_) => None,
    };
    let _ = SinkExt::<Bytes>::close(&mut frames).await;
    Ok(LiveSent {
        hash: digest.hash,
        keyed_digest: digest.keyed,
        bytes,
        elapsed_ms: millis(ended_at - started),
        received_bytes,
        postcopy: went_postcopy,
        qemu,
        stopped_at,
        ended_at,
    })
}

/// Switches the source to post-copy once its first pass over memory is done.
async fn postcopy_switch(source: &Qmp, postcopy: bool) {
    if !postcopy {
        return;
    }
    let mut events = source.subscribe();
    loop {
        match events.recv().await {
            // Pass 1 copies all memory; from pass 2 on only what the guest dirtied.
            Ok(QmpEvent { event: Event::MIGRATION_PASS { data, .. }, .. }) if data.pass >= 2 => break,
            Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
    // Refused only when the migration is already completing as pre-copy: nothing to switch.
    let _ = source.start_postcopy().await;
}

/// Copies QEMU's stream into DATA frames until QEMU closes it: hashed, paced, maybe corrupted.
async fn send_stream<W>(
    mut from_qemu: OwnedReadHalf,
    frames: &mut FramedWrite<W, tokio_util::codec::LengthDelimitedCodec>,
    pacer: &mut Pacer,
    mut hasher: StreamDigest,
    corrupt_byte_at: Option<u64>,
) -> Result<(Digests, u64), Error>
where
    W: AsyncWrite + Unpin,
{
    let mut sent = 0u64;
    let mut buffer = vec![0u8; CHUNK];
    loop {
        let n = from_qemu.read(&mut buffer).await.map_err(Error::io("reading the source QEMU's stream"))?;
        if n == 0 {
            return Ok((hasher.finish(), sent));
        }
        let mut chunk = buffer[..n].to_vec();
        hasher.update(&chunk);
        let corrupt = corrupt_byte_at.and_then(|at| at.checked_sub(sent)).and_then(|at| usize::try_from(at).ok());
        if let Some(byte) = corrupt.and_then(|at| chunk.get_mut(at)) {
            *byte ^= 0xff;
        }
        sent += n as u64;
        frames
            .send(Frame::Data(Bytes::from(chunk)).encode())
            .await
            .map_err(Error::io("sending the stream to the destination"))?;
        pacer.pace(n).await;
    }
}

/// The destination's side of the link at the source: RETURN frames into the source QEMU, until
/// the RECEIVED frame (its count is the answer) or the link's end (`None`).
async fn return_path_into_source<R>(
    mut frames: FramedRead<R, tokio_util::codec::LengthDelimitedCodec>,
    mut to_qemu: OwnedWriteHalf,
) -> Option<u64>
where
    R: AsyncRead + Unpin,
{
    let mut qemu_listens = true;
    while let Some(Ok(frame)) = frames.next().await {
        match Frame::decode(frame) {
            Ok(Frame::Return(bytes)) if qemu_listens => qemu_listens = to_qemu.write_all(&bytes).await.is_ok(),
            Ok(Frame::Return(_)) => {}
            Ok(Frame::Received { bytes }) => return Some(bytes),
            Ok(_) | Err(_) => return None,
        }
    }
    None
}

/// How the destination receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiveOptions {
    /// Allow the source to switch to post-copy (`postcopy-ram`; needs userfaultfd on this host).
    pub postcopy: bool,
    /// The longest the whole migration may take.
    pub timeout: Duration,
    /// Also compute the keyed digest (HMAC-SHA256) of what arrives with this key, in the same pass.
    pub digest_key: Option<DigestKey>,
}

impl Default for ReceiveOptions {
    fn default() -> Self {
        ReceiveOptions { postcopy: false, timeout: Duration::from_secs(600), digest_key: None }
    }
}

/// How the stream ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "end")]
pub enum StreamEnd {
    /// The source said the stream is complete and every byte it counted arrived.
    Complete,
    /// The link ended without the source's end, or with another count than arrived.
    Truncated { expected: Option<u64> },
    /// The source's migration failed.
    Aborted { reason: String },
}

/// Whether the destination QEMU took the stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "load")]
pub enum Load {
    /// Loaded; the guest is paused.
    Loaded,
    /// QEMU refused the stream or exited.
    Failed { reason: String },
}

/// What the destination received.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveReceived {
    /// SHA-256 of the bytes exactly as they arrived, lower-case hex: the hash the destination
    /// confirms with.
    pub hash: String,
    /// HMAC-SHA256 of the same bytes with [`ReceiveOptions::digest_key`], lower-case hex.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keyed_digest: Option<String>,
    pub bytes: u64,
    #[serde(flatten)]
    pub end: StreamEnd,
    #[serde(flatten)]
    pub load: Load,
    /// From the request to the destination QEMU's verdict.
    pub elapsed_ms: u64,
    /// When the last byte arrived.
    #[serde(skip)]
    pub ended_at: Option<Instant>,
    /// When QEMU had loaded the guest.
    #[serde(skip)]
    pub loaded_at: Option<Instant>,
}

/// A destination guest after [`receive_live`]: paused until [`Arrived::resume`].
#[derive(Debug)]
pub struct Arrived {
    qemu: Qemu,
    /// Why it may not run, if it may not.
    unfit: Option<String>,
}

impl Arrived {
    /// The destination QEMU (its console, its QMP), still paused.
    pub fn qemu(&self) -> &Qemu {
        &self.qemu
    }

    /// Runs the guest (`cont`) and hands its QEMU over. Call it only once the ledger confirmed
    /// that this stream's hash equals the one the source recorded.
    ///
    /// # Errors
    /// [`Error::WrongState`] when the stream was not complete and loaded (the guest is then
    /// discarded); [`Error::Qmp`].
    pub async fn resume(self) -> Result<Qemu, Error> {
        if let Some(reason) = self.unfit {
            let _ = self.qemu.quit().await;
            return Err(Error::WrongState { side: Side::Destination, operation: "resume", reason });
        }
        self.qemu.qmp().cont().await?;
        Ok(self.qemu)
    }

    /// Throws the received guest away: QEMU exits (killed if it must be), its memory and its
    /// private folder go with it.
    ///
    /// # Errors
    /// [`Error::Io`] when the process cannot be waited for.
    pub async fn discard(self) -> Result<(), Error> {
        self.qemu.quit().await
    }
}

/// Receives a live stream from `link` into `destination`, a QEMU started as
/// [`Side::Destination`] (paused, `-incoming defer`). Returns once the stream ended and QEMU has
/// loaded it or failed to; the guest does not run either way.
///
/// A stream that breaks off is not an error: its hash (of what arrived) is evidence for the ledger.
///
/// # Errors
/// [`Error::WrongState`] for a QEMU that is not a waiting destination; [`Error::Qmp`] setting it
/// up; [`Error::Timeout`]. On an error the destination QEMU is discarded.
pub async fn receive_live<L>(
    link: L,
    destination: Qemu,
    options: &ReceiveOptions,
) -> Result<(LiveReceived, Arrived), Error>
where
    L: AsyncRead + AsyncWrite + Send + 'static,
{
    if destination.role() != Side::Destination {
        return Err(Error::WrongState {
            side: Side::Destination,
            operation: "receive a migration",
            reason: "it was started as a source".to_owned(),
        });
    }
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + options.timeout;
    let dir = crate::private_dir("vmledger-live-")?;
    let socket = dir.path().join("incoming.sock");
    let qmp = destination.qmp();
    qmp.set_capabilities(&[(MigrationCapability::events, true), (MigrationCapability::postcopy_ram, options.postcopy)])
        .await?;
    qmp.migrate_incoming(&unix_uri(&socket)).await?;
    let to_qemu = tokio::time::timeout(SOCKET_WAIT, connect_when_listening(&socket))
        .await
        .map_err(|_| Error::Timeout { what: "the destination QEMU to listen".to_owned(), after: SOCKET_WAIT })??;
    let (from_qemu, to_qemu) = to_qemu.into_split();
    let (link_in, link_out) = tokio::io::split(link);

    // One writer owns the link's way back; the return path and the receipt queue up for it, so
    // that nothing on the way in ever waits for the way out.
    let (outgoing, queued) = mpsc::unbounded_channel::<Frame>();
    let mut writer = Task(tokio::spawn(write_frames(FramedWrite::new(link_out, Frame::codec()), queued)));
    let return_path = Task(tokio::spawn(return_path_from_destination(from_qemu, outgoing.clone())));

    let digest = StreamDigest::new(options.digest_key.as_ref());
    let receiving = receive_stream(FramedRead::new(link_in, Frame::codec()), to_qemu, digest);
    let (digest, bytes, end) = match tokio::time::timeout_at(deadline, receiving).await {
        Ok(received) => received,
        Err(_) => return Err(Error::Timeout { what: "the live stream".to_owned(), after: options.timeout }),
    };
    let ended_at = Instant::now();
    let load = match &end {
        StreamEnd::Complete => loaded(&destination, deadline).await,
        StreamEnd::Truncated { .. } => Load::Failed { reason: "the stream broke off".to_owned() },
        StreamEnd::Aborted { reason } => Load::Failed { reason: format!("the source aborted: {reason}") },
    };
    let loaded_at = (load == Load::Loaded).then(Instant::now);
    drop(return_path);
    let _ = outgoing.send(Frame::Received { bytes });
    drop(outgoing);
    let _ = tokio::time::timeout(SOCKET_WAIT, &mut writer.0).await;
    let unfit = match (&end, &load) {
        (StreamEnd::Complete, Load::Loaded) => None,
        (StreamEnd::Complete, Load::Failed { reason }) => Some(reason.clone()),
        (_, _) => Some("the stream is incomplete".to_owned()),
    };
    let received = LiveReceived {
        hash: digest.hash,
        keyed_digest: digest.keyed,
        bytes,
        end,
        load,
        elapsed_ms: millis(started.elapsed()),
        ended_at: Some(ended_at),
        loaded_at,
    };
    Ok((received, Arrived { qemu: destination, unfit }))
}

/// Hashes DATA frames and feeds them to QEMU until the source's END or ABORT, or the link's end.
/// Goes on hashing when QEMU stops reading (it refused the stream): the hash is the evidence.
async fn receive_stream<R>(
    mut frames: FramedRead<R, tokio_util::codec::LengthDelimitedCodec>,
    mut to_qemu: OwnedWriteHalf,
    mut hasher: StreamDigest,
) -> (Digests, u64, StreamEnd)
where
    R: AsyncRead + Unpin,
{
    let mut received = 0u64;
    let mut qemu_reads = true;
    let end = loop {
        let frame = match frames.next().await {
            Some(Ok(frame)) => Frame::decode(frame),
            Some(Err(_)) | None => break StreamEnd::Truncated { expected: None },
        };
        match frame {
            Ok(Frame::Data(bytes)) => {
                hasher.update(&bytes);
                received += bytes.len() as u64;
                if qemu_reads {
                    qemu_reads = to_qemu.write_all(&bytes).await.is_ok();
                }
            }
            Ok(Frame::End { bytes }) if bytes == received => break StreamEnd::Complete,
            Ok(Frame::End { bytes }) => break StreamEnd::Truncated { expected: Some(bytes) },
            Ok(Frame::Abort { reason }) => break StreamEnd::Aborted { reason },
            Ok(_) | Err(_) => break StreamEnd::Truncated { expected: None },
        }
    };
    // QEMU reads the stream's own end marker; closing our side only matters to a QEMU still waiting.
    let _ = to_qemu.shutdown().await;
    (hasher.finish(), received, end)
}

/// A key for a stream's keyed digest (the migration's transfer key). Its `Debug` does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct DigestKey(Vec<u8>);

impl DigestKey {
    pub fn new(key: impl Into<Vec<u8>>) -> Self {
        DigestKey(key.into())
    }
}

impl std::fmt::Debug for DigestKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DigestKey(…)")
    }
}

/// The SHA-256 of a stream and, with a key, its HMAC-SHA256, fed by the same pass over the bytes.
struct StreamDigest {
    hash: Sha256,
    keyed: Option<Hmac<Sha256>>,
}

/// What a [`StreamDigest`] gives: lower-case hex.
struct Digests {
    hash: String,
    keyed: Option<String>,
}

impl StreamDigest {
    fn new(key: Option<&DigestKey>) -> Self {
        // HMAC takes a key of any length.
        let keyed = key.and_then(|k| Hmac::<Sha256>::new_from_slice(&k.0).ok());
        StreamDigest { hash: Sha256::new(), keyed }
    }

    fn update(&mut self, bytes: &[u8]) {
        self.hash.update(bytes);
        if let Some(keyed) = &mut self.keyed {
            keyed.update(bytes);
        }
    }

    fn finish(self) -> Digests {
        Digests {
            hash: hex::encode(self.hash.finalize()),
            keyed: self.keyed.map(|k| hex::encode(k.finalize().into_bytes())),
        }
    }
}

/// The destination QEMU's return path, as RETURN frames.
async fn return_path_from_destination(mut from_qemu: OwnedReadHalf, outgoing: mpsc::UnboundedSender<Frame>) {
    let mut buffer = vec![0u8; 64 << 10];
    while let Ok(n) = from_qemu.read(&mut buffer).await {
        if n == 0 || outgoing.send(Frame::Return(Bytes::copy_from_slice(&buffer[..n]))).is_err() {
            break;
        }
    }
}

async fn write_frames<W>(
    mut frames: FramedWrite<W, tokio_util::codec::LengthDelimitedCodec>,
    mut queued: mpsc::UnboundedReceiver<Frame>,
) where
    W: AsyncWrite + Unpin,
{
    while let Some(frame) = queued.recv().await {
        if frames.send(frame.encode()).await.is_err() {
            return;
        }
    }
    let _ = SinkExt::<Bytes>::close(&mut frames).await;
}

/// Waits until the destination QEMU has the guest (paused) or has given up on it.
async fn loaded(destination: &Qemu, deadline: tokio::time::Instant) -> Load {
    loop {
        match destination.qmp().status().await {
            Ok(RunState::paused) => return Load::Loaded,
            Ok(RunState::inmigrate) => {}
            Ok(other) => return Load::Failed { reason: format!("the destination QEMU is `{}`", wire_name(&other)) },
            // QEMU 7.2 exits when an incoming migration fails.
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                return Load::Failed { reason: format!("the destination QEMU exited: {}", destination.stderr()) };
            }
        }
        if let Ok(stats) = destination.qmp().query_migrate().await
            && matches!(stats.status.as_str(), "failed" | "cancelled")
        {
            return Load::Failed { reason: stats.error.unwrap_or(stats.status) };
        }
        if tokio::time::Instant::now() >= deadline {
            return Load::Failed { reason: "the destination QEMU did not finish loading in time".to_owned() };
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// `migrate-incoming` returns once QEMU listens, but connect with a few retries all the same.
async fn connect_when_listening(socket: &Path) -> Result<UnixStream, Error> {
    let mut tries = 0;
    loop {
        match UnixStream::connect(socket).await {
            Ok(stream) => return Ok(stream),
            Err(e) if tries >= 100 => return Err(Error::io("connecting to the destination QEMU")(e)),
            Err(_) => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
}

/// A spawned task that ends with its owner, however the owner's function returns.
struct Task<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for Task<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn unix_uri(socket: &Path) -> String {
    format!("unix:{}", socket.display())
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_keyed_digest_is_hmac_sha256_of_the_same_bytes() {
        // RFC 4231, test case 2.
        let mut digest = StreamDigest::new(Some(&DigestKey::new(*b"Jefe")));
        for part in [&b"what do ya want "[..], b"for nothing?"] {
            digest.update(part);
        }
        let digests = digest.finish();
        assert_eq!(digests.keyed.as_deref(), Some("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"));
        assert_eq!(digests.hash, hex::encode(Sha256::digest(b"what do ya want for nothing?")));
        assert_eq!(StreamDigest::new(None).finish().keyed, None);
        assert_eq!(format!("{:?}", DigestKey::new(*b"Jefe")), "DigestKey(…)");
    }
}
