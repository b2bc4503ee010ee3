//! Points in time on the command line: RFC 3339, a date, `now`, or relative to now (`-2h`).

use std::str::FromStr;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};

/// A point in time as written, resolved against the clock when read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum When {
    At(DateTime<Utc>),
    /// Now plus this (usually negative) offset.
    FromNow(TimeDelta),
}

impl When {
    pub(crate) fn resolve(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            When::At(at) => *at,
            When::FromNow(delta) => now + *delta,
        }
    }
}

impl FromStr for When {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("now") {
            return Ok(When::FromNow(TimeDelta::zero()));
        }
        if let Ok(at) = DateTime::parse_from_rfc3339(s) {
            return Ok(When::At(at.with_timezone(&Utc)));
        }
        if let Ok(date) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
            let midnight = date.and_hms_opt(0, 0, 0).ok_or("bad date")?;
            return Ok(When::At(midnight.and_utc()));
        }
        let relative = s.strip_prefix('-').map(|r| (-1, r)).or_else(|| s.strip_prefix('+').map(|r| (1, r)));
        if let Some((sign, rest)) = relative {
            let split = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
            let (number, unit) = rest.split_at(split);
            if let Ok(n) = number.parse::<i64>() {
                let delta = match unit {
                    "s" => TimeDelta::try_seconds(n),
                    "m" => TimeDelta::try_minutes(n),
                    "h" => TimeDelta::try_hours(n),
                    "d" => TimeDelta::try_days(n),
                    _ => None,
                };
                if let Some(delta) = delta {
                    return Ok(When::FromNow(delta * sign));
                }
            }
        }
        Err(format!(
            "`{s}` is not a time: write RFC 3339 (2025-01-31T12:00:00Z), a date (2025-01-31), `now`, or -2h/-30m/-7d"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_parses() {
        let now = DateTime::parse_from_rfc3339("2025-03-01T12:00:00Z").expect("now").with_timezone(&Utc);
        let at = |s: &str| s.parse::<When>().expect(s).resolve(now).to_rfc3339();
        assert_eq!(at("now"), "2025-03-01T12:00:00+00:00");
        assert_eq!(at("-2h"), "2025-03-01T10:00:00+00:00");
        assert_eq!(at("+30m"), "2025-03-01T12:30:00+00:00");
        assert_eq!(at("2025-01-31"), "2025-01-31T00:00:00+00:00");
        assert_eq!(at("2025-01-31T01:02:03+01:00"), "2025-01-31T00:02:03+00:00");
        assert!("yesterday".parse::<When>().is_err());
    }
}
