//! Points in time on the command line: RFC 3339, a date, `now`, or relative to now (`-2h`, `-1w`,
//! `+30m`, `-1h30m`, `-2 days`), parsed by `jiff` (its friendly duration format); calendar units
//! (days, weeks, months) are counted in UTC.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp, civil};

/// A point in time as written, resolved against the clock when read.
#[derive(Debug, Clone)]
pub(crate) enum When {
    At(Timestamp),
    /// Now plus this (usually negative) span.
    FromNow(Span),
}

impl When {
    /// The point in time, for `now`.
    pub(crate) fn resolve(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let at = match self {
            When::At(at) => *at,
            When::FromNow(span) => {
                let now = Timestamp::new(now.timestamp(), now.timestamp_subsec_nanos().cast_signed())
                    .unwrap_or(Timestamp::UNIX_EPOCH);
                // Saturates at jiff's range (years -9999..9999) rather than failing.
                now.to_zoned_datetime(TimeZone::UTC)
                    .checked_add(*span)
                    .map(|z| z.timestamp())
                    .unwrap_or(if span.is_negative() { Timestamp::MIN } else { Timestamp::MAX })
            }
        };
        DateTime::from_timestamp(at.as_second(), at.subsec_nanosecond().cast_unsigned()).unwrap_or_default()
    }
}

impl FromStr for When {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim();
        if text.eq_ignore_ascii_case("now") {
            return Ok(When::FromNow(Span::new()));
        }
        if let Ok(at) = text.parse::<Timestamp>() {
            return Ok(When::At(at));
        }
        if let Ok(date) = text.parse::<civil::Date>()
            && let Ok(midnight) = date.to_zoned_datetime(TimeZone::UTC)
        {
            return Ok(When::At(midnight.timestamp()));
        }
        if text.starts_with(['-', '+'])
            && let Ok(span) = text.parse::<Span>()
        {
            return Ok(When::FromNow(span));
        }
        Err(format!(
            "`{text}` is not a time: write RFC 3339 (2025-01-31T12:00:00Z), a date (2025-01-31), `now`, \
             or a time from now (-2h, -90m, -1w, +30m)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> String {
        let now = DateTime::parse_from_rfc3339("2025-03-01T12:00:00Z").expect("now").with_timezone(&Utc);
        s.parse::<When>().unwrap_or_else(|e| panic!("{s}: {e}")).resolve(now).to_rfc3339()
    }

    #[test]
    fn every_form_parses() {
        assert_eq!(at("now"), "2025-03-01T12:00:00+00:00");
        assert_eq!(at("NOW"), "2025-03-01T12:00:00+00:00");
        assert_eq!(at("-2h"), "2025-03-01T10:00:00+00:00");
        assert_eq!(at("+30m"), "2025-03-01T12:30:00+00:00");
        assert_eq!(at("-90m"), "2025-03-01T10:30:00+00:00");
        assert_eq!(at("-1w"), "2025-02-22T12:00:00+00:00");
        assert_eq!(at("-1d"), "2025-02-28T12:00:00+00:00");
        assert_eq!(at("-1h30m"), "2025-03-01T10:30:00+00:00");
        assert_eq!(at("2025-01-31"), "2025-01-31T00:00:00+00:00");
        assert_eq!(at("2025-01-31T01:02:03+01:00"), "2025-01-31T00:02:03+00:00");
        assert_eq!(at("2025-01-31T01:02:03.250Z"), "2025-01-31T01:02:03.250+00:00");
    }

    #[test]
    fn other_words_are_refused() {
        for bad in ["yesterday", "2h", "-2 fortnights", "", "2025-13-01"] {
            assert!(bad.parse::<When>().is_err(), "{bad}");
        }
    }
}
