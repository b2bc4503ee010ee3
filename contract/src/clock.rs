//! Time that cannot be forged. The contract's only clock is the transaction's timestamp, which the
//! client chooses; Fabric 3 refuses a proposal further than its endorsement time window (15 min by
//! default) from the peer's clock. Inside the window the contract keeps the order itself: no record
//! may be given a time earlier than the record it follows (a Confirmation before its Indication, a
//! stay that ends before it starts), so back-dating cannot shorten or erase billed time.

use crate::error::{ContractError, Result};
use crate::model::Timestamp;

/// How long an Indication reserves its destination when the source gives no `ttlSeconds`.
pub const DEFAULT_TTL_SECONDS: u32 = 3600;
/// The longest an Indication may reserve a destination.
pub const MAX_TTL_SECONDS: u32 = 86_400;

/// `now` must not be earlier than `earliest`, the time of `what` it follows.
///
/// # Errors
/// `CONFLICT` naming both times.
pub fn not_before(now: &Timestamp, what: &str, earliest: &Timestamp) -> Result<()> {
    if now < earliest {
        return Err(ContractError::conflict(format!(
            "the transaction's time {} is before {what} at {}: records keep their order",
            rfc3339(now),
            rfc3339(earliest)
        )));
    }
    Ok(())
}

/// When an Indication made at `now` with `ttl_seconds` stops reserving its destination.
///
/// # Errors
/// `INVALID_ARGUMENT` for a ttl of 0 or above [`MAX_TTL_SECONDS`].
pub fn deadline(now: &Timestamp, ttl_seconds: Option<u32>) -> Result<Timestamp> {
    let ttl = ttl_seconds.unwrap_or(DEFAULT_TTL_SECONDS);
    if ttl == 0 || ttl > MAX_TTL_SECONDS {
        return Err(ContractError::invalid("ttlSeconds", format!("{ttl} is outside 1..={MAX_TTL_SECONDS}")));
    }
    Ok(*now + chrono::Duration::seconds(i64::from(ttl)))
}

/// Whether a deadline has passed at `now`.
pub fn passed(deadline: &Timestamp, now: &Timestamp) -> bool {
    now >= deadline
}

pub fn rfc3339(t: &Timestamp) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn at(seconds: i64) -> Timestamp {
        Utc.timestamp_opt(seconds, 0).single().unwrap_or_default()
    }

    #[test]
    fn a_time_before_what_it_follows_is_refused() {
        assert!(not_before(&at(10), "the Indication", &at(10)).is_ok());
        let err = not_before(&at(9), "the Indication", &at(10)).unwrap_err();
        assert_eq!(err.code(), "CONFLICT");
        assert!(err.to_string().contains("1970-01-01T00:00:09"), "{err}");
    }

    #[test]
    fn deadlines_are_bounded() {
        assert_eq!(deadline(&at(0), None).ok(), Some(at(3600)));
        assert_eq!(deadline(&at(0), Some(60)).ok(), Some(at(60)));
        assert_eq!(deadline(&at(0), Some(0)).unwrap_err().code(), "INVALID_ARGUMENT");
        assert_eq!(deadline(&at(0), Some(MAX_TTL_SECONDS + 1)).unwrap_err().code(), "INVALID_ARGUMENT");
        assert!(passed(&at(60), &at(60)) && !passed(&at(60), &at(59)));
    }
}
