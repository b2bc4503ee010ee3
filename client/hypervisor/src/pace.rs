//! Pacing a stream at a link's rate.
//!
//! A token bucket with a small bucket (10 ms of the rate): a sender that stalled may not catch up
//! above the rate afterwards, as no real link lets it. A live migration stream stalls often (QEMU
//! syncs its dirty bitmap between passes), so an average from the start, as the image transfer's
//! pacer keeps, would let it burst at full speed after each stall and overstate what the link does.

use std::time::Duration;

use tokio::time::Instant;

/// How much of the rate may go at once after an idle spell.
const BUCKET: Duration = Duration::from_millis(10);
/// The smallest bucket, so that small rates still move whole chunks.
const MIN_BUCKET_BYTES: f64 = 16.0 * 1024.0;

/// Holds a sender to `bytes_per_second`, or lets it go as fast as it can (`None`).
#[derive(Debug)]
pub struct Pacer {
    bytes_per_second: Option<f64>,
    bucket: f64,
    /// Bytes that may go now; negative while the last chunk is still being paid off.
    tokens: f64,
    last: Instant,
}

impl Pacer {
    pub fn new(bytes_per_second: Option<f64>) -> Self {
        let rate = bytes_per_second.filter(|r| r.is_finite() && *r > 0.0);
        let bucket = rate.map_or(0.0, |r| (r * BUCKET.as_secs_f64()).max(MIN_BUCKET_BYTES));
        Pacer { bytes_per_second: rate, bucket, tokens: bucket, last: Instant::now() }
    }

    /// Accounts for `bytes` sent and says how long to wait before sending more.
    pub fn after(&mut self, bytes: usize) -> Duration {
        let Some(rate) = self.bytes_per_second else { return Duration::ZERO };
        let now = Instant::now();
        self.tokens = (self.tokens + now.duration_since(self.last).as_secs_f64() * rate).min(self.bucket);
        self.last = now;
        self.tokens -= bytes as f64;
        if self.tokens >= 0.0 { Duration::ZERO } else { Duration::from_secs_f64(-self.tokens / rate) }
    }

    /// Accounts for `bytes` and waits as long as the rate asks.
    pub async fn pace(&mut self, bytes: usize) {
        let wait = self.after(bytes);
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_stalled_sender_does_not_catch_up_above_the_rate() {
        let about = |wait: Duration, ms: u64| wait.abs_diff(Duration::from_millis(ms)) < Duration::from_micros(100);
        let mut pacer = Pacer::new(Some(10_000_000.0));
        // A bucket (10 ms of the rate) goes at once; the next chunk waits for its own time.
        assert!(about(pacer.after(100_000), 0));
        assert!(about(pacer.after(1_000_000), 100));
        tokio::time::advance(Duration::from_millis(100)).await;
        // Idle for a second: one bucket may go at once, not the ten million bytes of that second.
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(about(pacer.after(100_000), 0));
        let wait = pacer.after(5_000_000);
        assert!(about(wait, 500), "{wait:?}");
    }

    #[test]
    fn no_rate_never_waits() {
        assert_eq!(Pacer::new(None).after(1 << 30), Duration::ZERO);
        assert_eq!(Pacer::new(Some(0.0)).after(1 << 30), Duration::ZERO);
    }
}
