//! VM images: streaming SHA-256 (the hash the Indication records and the destination checks) with,
//! in the same pass, the HMAC under the migration's transfer key (the proof that the destination
//! holds what was sent), and the transfer rate cap that emulates a WAN link.
//!
//! Hashing reads with large buffers on one thread while another hashes, so reading and hashing
//! overlap; `sha2` uses the CPU's SHA extensions when it has them.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::str::FromStr;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Size of each read while hashing.
pub const HASH_BUFFER: usize = 4 << 20;

/// A migration's transfer key: 32 random bytes the source draws, records only the SHA-256 of in
/// the Indication, and gives the destination with the image alone. The destination's uploads are
/// authenticated with it, and it reveals it (with its HMAC of what arrived) to confirm.
#[derive(Clone, PartialEq, Eq)]
pub struct TransferKey([u8; 32]);

impl std::fmt::Debug for TransferKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A secret until the Confirmation: never in logs.
        f.write_str("TransferKey(..)")
    }
}

impl TransferKey {
    /// A fresh key from the operating system's random source.
    ///
    /// # Errors
    /// When the system has no randomness to give.
    pub fn generate() -> io::Result<TransferKey> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| io::Error::other(format!("no randomness: {e}")))?;
        Ok(TransferKey(bytes))
    }

    /// The key from its 64 hex characters (as it travels with the image and to the ledger).
    pub fn from_hex(text: &str) -> Option<TransferKey> {
        hex::decode(text.trim()).ok()?.try_into().ok().map(TransferKey)
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// SHA-256 of the key: what the Indication records.
    pub fn hash(&self) -> String {
        hex::encode(Sha256::digest(self.0))
    }

    /// Whether this key is the one `commitment` (an Indication's `transferKeyHash`) commits to,
    /// compared in constant time: a bearer token is checked without telling how much of it matched.
    pub fn matches(&self, commitment: &str) -> bool {
        use subtle::ConstantTimeEq;
        bool::from(self.hash().as_bytes().ct_eq(commitment.to_ascii_lowercase().as_bytes()))
    }
}

/// A hash and what it took.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Hashed {
    /// SHA-256, lower-case hex.
    pub hash: String,
    /// HMAC-SHA256 under the transfer key, when one was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyed_digest: Option<String>,
    pub bytes: u64,
    pub elapsed_ms: u64,
}

impl Hashed {
    /// Throughput in MB/s (10^6 bytes per second).
    pub fn megabytes_per_second(&self) -> f64 {
        if self.elapsed_ms == 0 {
            return 0.0;
        }
        self.bytes as f64 / 1e6 / (self.elapsed_ms as f64 / 1e3)
    }
}

/// Hashes a file of any size (and its HMAC under `key`, in the same pass). `progress` is called with
/// the number of bytes hashed so far.
///
/// # Errors
/// Any I/O error opening or reading the file.
pub fn hash_file(path: &Path, key: Option<&TransferKey>, progress: impl FnMut(u64)) -> io::Result<Hashed> {
    let started = Instant::now();
    let file = File::open(path)?;
    let hasher = hash_reader(file, StreamHasher::new(key), progress)?;
    let bytes = hasher.bytes();
    let (hash, keyed_digest) = hasher.finish_keyed();
    Ok(Hashed { hash, keyed_digest, bytes, elapsed_ms: crate::gateway::millis(started.elapsed()) })
}

/// Feeds everything `reader` yields to `hasher`; a reader thread fills buffers while this thread
/// hashes.
///
/// # Errors
/// Any I/O error from `reader`.
pub fn hash_reader<R: Read + Send + 'static>(
    mut reader: R,
    mut hasher: StreamHasher,
    mut progress: impl FnMut(u64),
) -> io::Result<StreamHasher> {
    // Three buffers circulate: one being read, one being hashed, one spare.
    let (full_tx, full_rx) = mpsc::sync_channel::<io::Result<(Vec<u8>, usize)>>(2);
    let (empty_tx, empty_rx) = mpsc::sync_channel::<Vec<u8>>(3);
    for _ in 0..3 {
        empty_tx.send(vec![0; HASH_BUFFER]).map_err(|_| io::Error::other("buffer pool"))?;
    }
    let reader_thread = std::thread::spawn(move || {
        while let Ok(mut buffer) = empty_rx.recv() {
            let filled = fill(&mut reader, &mut buffer);
            let done = !matches!(filled, Ok(n) if n > 0);
            if full_tx.send(filled.map(|n| (buffer, n))).is_err() || done {
                return;
            }
        }
    });
    let outcome = loop {
        match full_rx.recv() {
            Ok(Ok((buffer, n))) => {
                if n == 0 {
                    break Ok(());
                }
                hasher.update(&buffer[..n]);
                progress(hasher.bytes());
                // The reader may have finished: a closed pool is fine.
                let _ = empty_tx.send(buffer);
            }
            Ok(Err(e)) => break Err(e),
            Err(_) => break Err(io::Error::other("the reader thread stopped")),
        }
    };
    drop(empty_tx);
    drop(full_rx);
    let _ = reader_thread.join();
    outcome.map(|()| hasher)
}

/// Reads until the buffer is full or the input ends.
fn fill(reader: &mut impl Read, buffer: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buffer.len() {
        match reader.read(&mut buffer[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Hashes bytes as they stream past (the destination agent hashes while it receives): SHA-256,
/// and the HMAC under a transfer key when it has one.
#[derive(Clone, Default)]
pub struct StreamHasher {
    hasher: Sha256,
    keyed: Option<Hmac<Sha256>>,
    bytes: u64,
}

impl std::fmt::Debug for StreamHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamHasher").field("bytes", &self.bytes).field("keyed", &self.keyed.is_some()).finish()
    }
}

impl StreamHasher {
    /// A hasher computing the HMAC under `key` too, when given.
    pub fn new(key: Option<&TransferKey>) -> StreamHasher {
        let keyed = key.map(|k| Hmac::<Sha256>::new_from_slice(&k.0).expect("HMAC takes a key of any length"));
        StreamHasher { keyed, ..StreamHasher::default() }
    }

    pub fn update(&mut self, chunk: &[u8]) {
        self.hasher.update(chunk);
        if let Some(keyed) = &mut self.keyed {
            keyed.update(chunk);
        }
        self.bytes += chunk.len() as u64;
    }

    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The hash, lower-case hex.
    pub fn finish(self) -> String {
        self.finish_keyed().0
    }

    /// The hash and the HMAC (when keyed), lower-case hex.
    pub fn finish_keyed(self) -> (String, Option<String>) {
        let keyed = self.keyed.map(|k| hex::encode(k.finalize().into_bytes()));
        (hex::encode(self.hasher.finalize()), keyed)
    }
}

/// A transfer rate in bytes per second, written like `124.8Mbit`, `100Mbit/s`, `10MB/s`, `1Gbps`
/// or `512KiB/s` (bit units are decimal; `B`-units decimal unless `KiB`/`MiB`/`GiB`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Rate {
    pub bytes_per_second: f64,
}

impl Rate {
    pub fn megabits_per_second(&self) -> f64 {
        self.bytes_per_second * 8.0 / 1e6
    }

    /// The rate of `bytes` moved in `elapsed`.
    pub fn observed(bytes: u64, elapsed: Duration) -> Rate {
        let secs = elapsed.as_secs_f64();
        Rate { bytes_per_second: if secs > 0.0 { bytes as f64 / secs } else { 0.0 } }
    }
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.1} Mbit/s", self.megabits_per_second())
    }
}

/// Why a rate did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad rate `{0}`: write e.g. 124.8Mbit, 100Mbit/s, 10MB/s or 512KiB/s")]
pub struct BadRate(pub String);

impl FromStr for Rate {
    type Err = BadRate;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadRate(s.to_owned());
        let text = s.trim();
        let text = text.strip_suffix("/s").or_else(|| text.strip_suffix("ps")).unwrap_or(text);
        let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
        let (number, unit) = text.split_at(split);
        let number: f64 = number.parse().map_err(|_| bad())?;
        let multiplier = match unit.trim() {
            "" | "B" => 1.0,
            "bit" | "b" => 1.0 / 8.0,
            "kbit" | "Kbit" | "kb" | "Kb" => 1e3 / 8.0,
            "Mbit" | "mbit" | "Mb" => 1e6 / 8.0,
            "Gbit" | "gbit" | "Gb" => 1e9 / 8.0,
            "kB" | "KB" => 1e3,
            "MB" => 1e6,
            "GB" => 1e9,
            "KiB" => 1024.0,
            "MiB" => 1024.0 * 1024.0,
            "GiB" => 1024.0 * 1024.0 * 1024.0,
            _ => return Err(bad()),
        };
        let bytes_per_second = number * multiplier;
        if !(bytes_per_second.is_finite() && bytes_per_second > 0.0) {
            return Err(bad());
        }
        Ok(Rate { bytes_per_second })
    }
}

/// Paces a sender so that on average it does not exceed a rate.
#[derive(Debug, Clone)]
pub struct Pacer {
    rate: Option<Rate>,
    started: Instant,
    sent: u64,
}

impl Pacer {
    pub fn new(rate: Option<Rate>) -> Self {
        Pacer { rate, started: Instant::now(), sent: 0 }
    }

    /// Counts `bytes` as sent and returns how long to wait before sending more.
    pub fn after(&mut self, bytes: usize) -> Duration {
        self.sent += bytes as u64;
        let Some(rate) = self.rate else { return Duration::ZERO };
        let due = Duration::from_secs_f64(self.sent as f64 / rate.bytes_per_second);
        due.saturating_sub(self.started.elapsed())
    }

    /// The chunk size that keeps pacing smooth (about 10 ms of data at the rate, 16 KiB..1 MiB).
    pub fn chunk_size(&self) -> usize {
        match self.rate {
            None => 1 << 20,
            Some(rate) => ((rate.bytes_per_second / 100.0) as usize).clamp(16 << 10, 1 << 20),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_in_bits_and_bytes() {
        let rate = |s: &str| s.parse::<Rate>().expect(s).bytes_per_second;
        assert!((rate("124.8Mbit") - 15.6e6).abs() < 1.0);
        assert!((rate("124.8Mbit/s") - 15.6e6).abs() < 1.0);
        assert!((rate("1Gbps") - 125e6).abs() < 1.0);
        assert_eq!(rate("10MB/s"), 10e6);
        assert_eq!(rate("2MiB"), 2.0 * 1024.0 * 1024.0);
        assert!("fast".parse::<Rate>().is_err());
        assert!("0Mbit".parse::<Rate>().is_err());
        assert!("12 parsecs".parse::<Rate>().is_err());
    }

    #[test]
    fn hashing_matches_the_known_digest_across_buffer_boundaries() {
        let data = vec![b'a'; HASH_BUFFER * 2 + 17];
        let expected = hex::encode(Sha256::digest(&data));
        let mut last = 0;
        let hashed = hash_reader(io::Cursor::new(data), StreamHasher::default(), |n| last = n).expect("hash");
        let bytes = hashed.bytes();
        assert_eq!(hashed.finish(), expected);
        assert_eq!(bytes, (HASH_BUFFER * 2 + 17) as u64);
        assert_eq!(last, bytes);
        let empty = hash_reader(io::Cursor::new(Vec::new()), StreamHasher::default(), |_| {}).expect("empty");
        assert_eq!(empty.bytes(), 0);
        assert_eq!(empty.finish(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }

    /// RFC 4231, test case 2 ("Jefe"), and the key's hash as the Indication records it.
    #[test]
    fn the_keyed_digest_is_hmac_sha256_in_the_same_pass() {
        let mut hasher = StreamHasher {
            keyed: Some(Hmac::<Sha256>::new_from_slice(b"Jefe").expect("key")),
            ..StreamHasher::default()
        };
        hasher.update(b"what do ya want ");
        hasher.update(b"for nothing?");
        let (hash, keyed) = hasher.finish_keyed();
        assert_eq!(hash, hex::encode(Sha256::digest(b"what do ya want for nothing?")));
        assert_eq!(keyed.as_deref(), Some("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"));
        let key = TransferKey::from_hex(&"11".repeat(32)).expect("key");
        assert_eq!(key.hash(), hex::encode(Sha256::digest([0x11u8; 32])));
        assert_eq!(TransferKey::from_hex(&key.to_hex()), Some(key.clone()));
        assert!(TransferKey::from_hex("11").is_none());
        assert_ne!(TransferKey::generate().expect("random"), TransferKey::generate().expect("random"));
        assert_eq!(format!("{key:?}"), "TransferKey(..)");
    }

    #[test]
    fn the_pacer_holds_back_a_fast_sender() {
        let mut pacer = Pacer::new(Some(Rate { bytes_per_second: 1000.0 }));
        let wait = pacer.after(500);
        assert!(wait > Duration::from_millis(400) && wait <= Duration::from_millis(500), "{wait:?}");
        assert_eq!(Pacer::new(None).after(1 << 30), Duration::ZERO);
    }
}
