//! BlockchainBus' reputation points, computed from the ledger: how each cloud's migrations ended,
//! as destination and as source, with the migrations behind every figure.
//!
//! Computed by reading the cloud's migration index over a period (default the last
//! [`DEFAULT_DAYS`] days, at most [`MAX_MIGRATIONS`] migrations, `truncated` says when cut), not
//! kept as a counter: a counter per cloud would be written by every outcome in that cloud, so
//! concurrent Confirmations into one cloud would invalidate each other (MVCC) for a figure that is
//! only ever read.
//!
//! The score (per mille) is the share of closed migrations that ended well for the cloud's side,
//! less the service it conceded it did not deliver:
//! `confirmed (either side) / (confirmed + declined and expired as destination + rejected as
//! source + violations accepted)`. A rejection is tamper evidence against what the source sent; a
//! cancellation is the source's own choice and counts for nobody. A violation counts once its
//! accused cloud accepted the claim (`AcceptClaim`, in the period): an open or disputed claim is
//! one party's word. Claims measure a destination's service (downtime, availability), so this is
//! how the destination pays in reputation as well as in credit. A cloud without any of these has
//! no score.

use serde::{Deserialize, Serialize};

use crate::chains::{self, forwarded};
use crate::contract::calls;
use crate::error::{ContractError, Result};
use crate::ledger::Ledger;
use crate::model::{Migration, MigrationStatus, Timestamp};
use crate::{state, validate};

/// Scores are per mille: 1000 when every closed migration ended well.
pub const SCORE_SCALE: u32 = 1000;
/// The period a reputation covers when none is given.
pub const DEFAULT_DAYS: i64 = 30;
/// The most migrations one reputation reads.
pub const MAX_MIGRATIONS: u32 = state::MAX_PAGE_SIZE;

/// `GetReputation`: a cloud's record over `[from, to)` (default: the last 30 days).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "schema"), derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GetReputation {
    pub cloud_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<Timestamp>,
}

/// The violation claims a cloud accepted as the accused, and their ids.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "schema"), derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Violations {
    pub count: u32,
    pub claim_ids: Vec<String>,
}

/// One figure and the migrations behind it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "schema"), derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Figure {
    pub count: u32,
    pub migration_ids: Vec<String>,
}

impl Figure {
    fn add(&mut self, id: &str) {
        self.count += 1;
        self.migration_ids.push(id.to_owned());
    }
}

/// How the migrations on one side ended.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "schema"), derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Outcomes {
    pub confirmed: Figure,
    pub rejected: Figure,
    pub declined: Figure,
    pub expired: Figure,
    pub cancelled: Figure,
    /// Still indicated.
    pub pending: Figure,
}

impl Outcomes {
    fn add(&mut self, m: &Migration) {
        match m.status {
            MigrationStatus::Confirmed => self.confirmed.add(&m.id),
            MigrationStatus::Rejected => self.rejected.add(&m.id),
            MigrationStatus::Declined => self.declined.add(&m.id),
            MigrationStatus::Expired => self.expired.add(&m.id),
            MigrationStatus::Cancelled => self.cancelled.add(&m.id),
            MigrationStatus::Indicated => self.pending.add(&m.id),
        }
    }
}

/// A cloud's reputation over a period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "schema"), derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Reputation {
    pub cloud_id: String,
    pub from: Timestamp,
    pub to: Timestamp,
    /// Migrations into the cloud's hosts.
    pub as_destination: Outcomes,
    /// Migrations out of them.
    pub as_source: Outcomes,
    /// Violation claims against the cloud that it accepted in the period (oldest first).
    #[serde(default)]
    pub accepted_violations: Violations,
    /// Mean time from Indication to Confirmation of the migrations it confirmed as destination
    /// (`asDestination.confirmed`), in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean_confirm_ms: Option<u64>,
    /// Per mille (see the module's docs); absent without closed migrations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<u32>,
    /// Migrations read.
    pub migrations: u32,
    /// The period held more than [`MAX_MIGRATIONS`] migrations or accepted violations: only the
    /// oldest were read.
    #[serde(default)]
    pub truncated: bool,
}

/// A cloud's reputation over `[from, to)` (default the last [`DEFAULT_DAYS`] days).
pub async fn get_reputation(ledger: &impl Ledger, input: GetReputation) -> Result<Reputation> {
    if let Some(answer) = forwarded::<calls::GetReputation>(ledger, &input).await? {
        return Ok(answer);
    }
    validate::id("cloudId", &input.cloud_id)?;
    let to = input.to.unwrap_or(ledger.tx().timestamp);
    let from = input.from.unwrap_or(to - chrono::Duration::days(DEFAULT_DAYS));
    if from >= to {
        return Err(ContractError::invalid("to", format!("period end {to} is not after its start {from}")));
    }
    let cloud = chains::cloud(ledger, &input.cloud_id).await?;
    let cloud_msp_id = cloud.msp_id.clone();
    let (start, end) = state::time_range(&state::migrations_of_cloud(&cloud.id), Some(&from), Some(&to));
    let page = ledger.range(&start, &end, MAX_MIGRATIONS, None).await?;
    let mut reputation = Reputation {
        cloud_id: cloud.id,
        from,
        to,
        as_destination: Outcomes::default(),
        as_source: Outcomes::default(),
        accepted_violations: Violations::default(),
        mean_confirm_ms: None,
        score: None,
        migrations: 0,
        truncated: page.bookmark.is_some(),
    };
    let mut confirm_ms: u128 = 0;
    let mut checker = crate::anchor::Checker::default();
    for entry in page.entries {
        let migration: Migration = state::load(ledger, &entry.value).await?.ok_or_else(|| ContractError::Ledger {
            reason: format!("index entry `{}` points at missing `{}`", entry.key, entry.value),
        })?;
        // Only migrations their VMs' operators asked for count (see `crate::anchor`).
        if !checker.migration(ledger, &migration, None, Some(&reputation.cloud_id)).await? {
            continue;
        }
        reputation.migrations += 1;
        if migration.destination.cloud_id == reputation.cloud_id {
            reputation.as_destination.add(&migration);
            if migration.status == MigrationStatus::Confirmed
                && let Some(closed) = migration.closed_at
            {
                confirm_ms += u128::try_from((closed - migration.indicated_at).num_milliseconds()).unwrap_or(0);
            }
        }
        if migration.source.cloud_id == reputation.cloud_id {
            reputation.as_source.add(&migration);
        }
    }
    // The accepted-credit index (written by AcceptClaim) is this cloud's accepted violations by time.
    let (start, end) = state::time_range(&state::credits_of_cloud(&reputation.cloud_id), Some(&from), Some(&to));
    let credits = ledger.range(&start, &end, MAX_MIGRATIONS, None).await?;
    reputation.truncated |= credits.bookmark.is_some();
    for entry in credits.entries {
        // Only violations the cloud's member itself accepted count (see `crate::anchor`).
        if !checker.credit(ledger, &entry.key, &cloud_msp_id).await? {
            continue;
        }
        let claim_id = entry.key.rsplit('/').next().unwrap_or_default().to_owned();
        reputation.accepted_violations.count += 1;
        reputation.accepted_violations.claim_ids.push(claim_id);
    }
    let confirmed_in = reputation.as_destination.confirmed.count;
    if confirmed_in > 0 {
        reputation.mean_confirm_ms = u64::try_from(confirm_ms / u128::from(confirmed_in)).ok();
    }
    reputation.score = score(&reputation);
    Ok(reputation)
}

/// The score of a record, per mille; `None` without closed migrations.
pub fn score(r: &Reputation) -> Option<u32> {
    let (d, s) = (&r.as_destination, &r.as_source);
    // A migration inside the cloud is on both sides: counted once.
    let both = |f: fn(&Outcomes) -> &Figure| {
        let mut ids: Vec<&String> = f(d).migration_ids.iter().chain(&f(s).migration_ids).collect();
        ids.sort();
        ids.dedup();
        u64::try_from(ids.len()).unwrap_or(u64::MAX)
    };
    let good = both(|o| &o.confirmed);
    let bad = u64::from(d.declined.count)
        + u64::from(d.expired.count)
        + u64::from(s.rejected.count)
        + u64::from(r.accepted_violations.count);
    let total = good + bad;
    (total > 0).then(|| u32::try_from(good * u64::from(SCORE_SCALE) / total).unwrap_or(SCORE_SCALE))
}

/// A cloud's score over the default period, for placement's `minReputation`.
pub(crate) async fn score_of(ledger: &impl Ledger, cloud_id: &str) -> Result<Option<u32>> {
    let input = GetReputation { cloud_id: cloud_id.to_owned(), from: None, to: None };
    Ok(get_reputation(ledger, input).await?.score)
}
