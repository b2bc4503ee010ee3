//! Violation claims under agreed service terms (BlockchainBus's oracle and compensation).
//!
//! One party claims (`ClaimViolation`) with the value its own oracle measured and references to its
//! evidence; the contract checks the claim against the terms and against what the ledger itself
//! holds (the migration's Indication and Confirmation) and computes the credit from the public
//! penalty rule. The accused may dispute it (`DisputeClaim`) with its own measurement, and accepts
//! it (`AcceptClaim`) — at once or after a dispute. An accepted claim is a credit the accused owes
//! the claimant, which `Usage` of the accused's cloud lists so billing nets it out.
//!
//! Only the two parties act; the claimant can never accept its own claim; every change of a claim
//! needs both members' endorsement (key-level policy).

use serde::{Deserialize, Serialize};

use crate::auth::require_manager;
use crate::chains::require_federation;
use crate::contract::{Emit, emit, signer};
use crate::error::{ContractError, Kind, Result};
use crate::ledger::{Caller, Ledger};
use crate::model::{Cloud, Migration, MigrationStatus, Signer, Timestamp};
use crate::ownership::{own, require_own_namespace};
use crate::terms::{FULL_AVAILABILITY_BP, PenaltyRule, Terms};
use crate::{clock, state, terms, validate};

/// The most evidence references one measurement carries.
pub const MAX_EVIDENCE: usize = 16;

/// What was measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "schema"), derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub enum Metric {
    /// A migration's downtime in milliseconds, against the terms' `maxDowntimeMs`.
    DowntimeMs,
    /// Availability in basis points over the claimant's reporting period, against `availabilityTargetBp`.
    AvailabilityBp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "schema"), derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub enum ClaimStatus {
    Claimed,
    Disputed,
    Accepted,
}

/// One party's oracle report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "schema"), derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Measurement {
    pub value: u64,
    /// References to the evidence (report ids, URLs, hashes of logs), held by the party.
    pub evidence: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub at: Timestamp,
    pub by: Signer,
}

/// What the ledger itself holds about the migration a claim names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "schema"), derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct LedgerEvidence {
    pub migration_id: String,
    pub live: bool,
    pub indicated_at: Timestamp,
    pub confirmed_at: Timestamp,
    /// From the Indication to the Confirmation: a live guest's downtime falls inside it.
    pub window_ms: u64,
}

/// A violation claim and its answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "schema"), derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Claim {
    pub id: String,
    pub terms_id: String,
    pub claimant_cloud_id: String,
    pub accused_cloud_id: String,
    pub metric: Metric,
    /// The terms' limit for the metric (max downtime ms, or availability target bp).
    pub agreed: u64,
    pub claimed: Measurement,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ledger_evidence: Option<LedgerEvidence>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dispute: Option<Measurement>,
    /// What the penalty rule credits for the claimed value, in micro-units of `currency`.
    pub credit: u64,
    pub currency: String,
    pub status: ClaimStatus,
    /// The two members whose endorsement any change needs (sorted MSP ids).
    pub parties: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted_by: Option<Signer>,
}

/// `ClaimViolation`: by one party of agreed terms against the other.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "schema"), derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClaimViolation {
    /// In the claimant's namespace (`org1.<name>`).
    pub id: String,
    pub terms_id: String,
    /// The migration, for a downtime claim (the terms' own when they name one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub migration_id: Option<String>,
    pub metric: Metric,
    pub measured: u64,
    #[serde(default)]
    pub evidence: Vec<String>,
}

/// `DisputeClaim`: the accused's own measurement and why it disagrees.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "schema"), derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DisputeClaim {
    pub claim_id: String,
    pub measured: u64,
    pub reason: String,
    #[serde(default)]
    pub evidence: Vec<String>,
}

/// `AcceptClaim`: the accused concedes; the credit is due.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "schema"), derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AcceptClaim {
    pub claim_id: String,
}

/// An accepted claim as `Usage` lists it: a credit the report's cloud owes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "schema"), derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Credit {
    pub claim_id: String,
    pub terms_id: String,
    /// Who is owed: the claimant.
    pub to_cloud_id: String,
    pub amount: u64,
    pub currency: String,
    pub accepted_at: Timestamp,
}

fn evidence(field: &str, refs: &[String]) -> Result<()> {
    if refs.len() > MAX_EVIDENCE {
        return Err(ContractError::invalid(field, format!("{} references; at most {MAX_EVIDENCE}", refs.len())));
    }
    refs.iter().enumerate().try_for_each(|(i, r)| validate::text(&format!("{field}[{i}]"), r))
}

fn measured(metric: Metric, value: u64) -> Result<()> {
    match metric {
        Metric::DowntimeMs if value > terms::MAX_DOWNTIME_MS * 365 => {
            Err(ContractError::invalid("measured", format!("{value} ms is more than a year")))
        }
        Metric::AvailabilityBp if value > u64::from(FULL_AVAILABILITY_BP) => Err(ContractError::invalid(
            "measured",
            format!("{value} is above {FULL_AVAILABILITY_BP} basis points (100 %)"),
        )),
        _ => Ok(()),
    }
}

/// The credit the penalty rule gives for `value` of `metric` against `agreed`, capped; `None` when
/// `value` does not break the terms.
pub fn credit(rule: &PenaltyRule, metric: Metric, agreed: u64, value: u64) -> Option<u64> {
    let variable = match metric {
        Metric::DowntimeMs if value > agreed => {
            (value - agreed).div_ceil(1000).saturating_mul(rule.credit_per_downtime_second)
        }
        Metric::AvailabilityBp if value < agreed => (agreed - value).saturating_mul(rule.credit_per_basis_point),
        _ => return None,
    };
    Some(rule.fixed_credit.saturating_add(variable).min(rule.max_credit))
}

fn not_a_violation(metric: Metric, agreed: u64, value: u64) -> ContractError {
    ContractError::conflict(match metric {
        Metric::DowntimeMs => {
            format!("a downtime of {value} ms is within the agreed maximum of {agreed} ms: no violation")
        }
        Metric::AvailabilityBp => {
            format!("an availability of {value} bp meets the agreed target of {agreed} bp: no violation")
        }
    })
}

fn party_error(caller: &Caller, rule: String) -> ContractError {
    ContractError::Unauthorized {
        rule,
        caller_msp_id: caller.msp_id.clone(),
        caller_role: caller.role().map(str::to_owned),
    }
}

/// The migration a downtime claim rests on: the pair's, confirmed; what the ledger says of it.
async fn migration_evidence(ledger: &impl Ledger, terms: &Terms, migration_id: &str) -> Result<LedgerEvidence> {
    let migration: Migration =
        state::require(ledger, Kind::Migration, migration_id, &state::migration(migration_id)).await?;
    if migration.source.cloud_id != terms.source_cloud_id
        || migration.destination.cloud_id != terms.destination_cloud_id
    {
        return Err(ContractError::conflict(format!(
            "migration `{migration_id}` goes from `{}` to `{}`, not between the terms' clouds `{}` and `{}`",
            migration.source.cloud_id,
            migration.destination.cloud_id,
            terms.source_cloud_id,
            terms.destination_cloud_id
        )));
    }
    let confirmed_at = match (migration.status, migration.closed_at) {
        (MigrationStatus::Confirmed, Some(at)) => at,
        (status, _) => {
            return Err(ContractError::conflict(format!(
                "migration `{migration_id}` is {}, not confirmed: the VM did not move, so it had no migration downtime",
                serde_json::to_value(status).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
            )));
        }
    };
    let window_ms = u64::try_from((confirmed_at - migration.indicated_at).num_milliseconds()).unwrap_or(0);
    Ok(LedgerEvidence {
        migration_id: migration.id,
        live: migration.live,
        indicated_at: migration.indicated_at,
        confirmed_at,
        window_ms,
    })
}

/// One party of agreed terms claims a violation against the other.
pub async fn claim_violation(ledger: &impl Ledger, input: ClaimViolation) -> Result<Claim> {
    validate::id("id", &input.id)?;
    validate::id("termsId", &input.terms_id)?;
    if let Some(m) = &input.migration_id {
        validate::id("migrationId", m)?;
    }
    measured(input.metric, input.measured)?;
    evidence("evidence", &input.evidence)?;
    require_federation(ledger, "a violation claim")?;
    let terms = terms::agreed(ledger, &input.terms_id).await?;
    let tx = ledger.tx();
    let source: Cloud =
        state::require(ledger, Kind::Cloud, &terms.source_cloud_id, &state::cloud(&terms.source_cloud_id)).await?;
    let (claimant, accused) = if tx.caller.msp_id == source.msp_id {
        (terms.source_cloud_id.clone(), terms.destination_cloud_id.clone())
    } else if terms.parties.contains(&tx.caller.msp_id) {
        (terms.destination_cloud_id.clone(), terms.source_cloud_id.clone())
    } else {
        return Err(party_error(
            &tx.caller,
            format!("only the parties of terms `{}` ({}) may claim under them", terms.id, terms.parties.join(", ")),
        ));
    };
    require_manager(&tx.caller, "claim a violation")?;
    require_own_namespace(&tx.caller, "claim id", &input.id)?;
    if let Some(agreed_at) = &terms.accepted_at {
        clock::not_before(&tx.timestamp, "the terms' acceptance", agreed_at)?;
    }
    let migration_id = match (&terms.migration_id, &input.migration_id) {
        (Some(theirs), Some(given)) if theirs != given => {
            return Err(ContractError::conflict(format!(
                "terms `{}` govern migration `{theirs}` only, not `{given}`",
                terms.id
            )));
        }
        (theirs, given) => given.clone().or_else(|| theirs.clone()),
    };
    let ledger_evidence = match (&migration_id, input.metric) {
        (Some(id), _) => Some(migration_evidence(ledger, &terms, id).await?),
        (None, Metric::DowntimeMs) => {
            return Err(ContractError::invalid("migrationId", "a downtime claim names the migration it measured"));
        }
        (None, Metric::AvailabilityBp) => None,
    };
    if let Some(evidence) = &ledger_evidence {
        clock::not_before(&tx.timestamp, "the migration's Confirmation", &evidence.confirmed_at)?;
        // A live guest pauses only between its Indication and its Confirmation: the ledger bounds it.
        if input.metric == Metric::DowntimeMs && evidence.live && input.measured > evidence.window_ms {
            return Err(ContractError::invalid(
                "measured",
                format!(
                    "a downtime of {} ms is longer than the {} ms the ledger shows between live migration `{}`'s Indication and Confirmation",
                    input.measured, evidence.window_ms, evidence.migration_id
                ),
            ));
        }
    }
    let agreed = match input.metric {
        Metric::DowntimeMs => terms.max_downtime_ms,
        Metric::AvailabilityBp => u64::from(terms.availability_target_bp),
    };
    let credit = credit(&terms.penalty, input.metric, agreed, input.measured)
        .ok_or_else(|| not_a_violation(input.metric, agreed, input.measured))?;
    let key = state::claim(&input.id);
    if ledger.get(&key).await?.is_some() {
        return Err(ContractError::AlreadyExists { kind: Kind::Claim, id: input.id });
    }
    let claim = Claim {
        id: input.id,
        terms_id: terms.id.clone(),
        claimant_cloud_id: claimant,
        accused_cloud_id: accused,
        metric: input.metric,
        agreed,
        claimed: Measurement {
            value: input.measured,
            evidence: input.evidence,
            reason: None,
            at: tx.timestamp,
            by: signer(ledger),
        },
        ledger_evidence,
        dispute: None,
        credit,
        currency: terms.penalty.currency.clone(),
        status: ClaimStatus::Claimed,
        parties: terms.parties.clone(),
        accepted_at: None,
        accepted_by: None,
    };
    state::store(ledger, &key, &claim).await?;
    let owners: Vec<&str> = terms.parties.iter().map(String::as_str).collect();
    own(ledger, &key, &owners).await?;
    emit(ledger, Emit::ViolationClaimed(&claim))?;
    Ok(claim)
}

/// A claim the caller answers as the accused: it exists, the caller's member runs the accused cloud.
async fn as_accused(ledger: &impl Ledger, claim_id: &str, action: &str) -> Result<Claim> {
    let claim: Claim = state::require(ledger, Kind::Claim, claim_id, &state::claim(claim_id)).await?;
    let caller = &ledger.tx().caller;
    let accused: Cloud =
        state::require(ledger, Kind::Cloud, &claim.accused_cloud_id, &state::cloud(&claim.accused_cloud_id)).await?;
    if caller.msp_id != accused.msp_id {
        return Err(party_error(
            caller,
            format!("only the accused cloud `{}` ({}) may {action} claim `{}`", accused.id, accused.msp_id, claim.id),
        ));
    }
    require_manager(caller, &format!("{action} a claim"))?;
    clock::not_before(&ledger.tx().timestamp, "the claim", &claim.claimed.at)?;
    Ok(claim)
}

/// The accused disputes a claim with its own measurement.
pub async fn dispute_claim(ledger: &impl Ledger, input: DisputeClaim) -> Result<Claim> {
    validate::id("claimId", &input.claim_id)?;
    validate::text("reason", &input.reason)?;
    evidence("evidence", &input.evidence)?;
    require_federation(ledger, "a violation claim")?;
    let mut claim = as_accused(ledger, &input.claim_id, "dispute").await?;
    measured(claim.metric, input.measured)?;
    if claim.status != ClaimStatus::Claimed {
        let status = serde_json::to_value(claim.status).ok().and_then(|v| v.as_str().map(str::to_owned));
        return Err(ContractError::conflict(format!(
            "claim `{}` is {}, not claimed: it may be disputed once",
            claim.id,
            status.unwrap_or_default()
        )));
    }
    claim.dispute = Some(Measurement {
        value: input.measured,
        evidence: input.evidence,
        reason: Some(input.reason),
        at: ledger.tx().timestamp,
        by: signer(ledger),
    });
    claim.status = ClaimStatus::Disputed;
    state::store(ledger, &state::claim(&claim.id), &claim).await?;
    emit(ledger, Emit::ClaimDisputed(&claim))?;
    Ok(claim)
}

/// The accused accepts a claim (claimed or disputed): its credit becomes due.
pub async fn accept_claim(ledger: &impl Ledger, input: AcceptClaim) -> Result<Claim> {
    validate::id("claimId", &input.claim_id)?;
    require_federation(ledger, "a violation claim")?;
    let mut claim = as_accused(ledger, &input.claim_id, "accept").await?;
    if claim.status == ClaimStatus::Accepted {
        return Err(ContractError::conflict(format!("claim `{}` is already accepted", claim.id)));
    }
    let now = ledger.tx().timestamp;
    if let Some(dispute) = &claim.dispute {
        clock::not_before(&now, "the dispute", &dispute.at)?;
    }
    claim.status = ClaimStatus::Accepted;
    claim.accepted_at = Some(now);
    claim.accepted_by = Some(signer(ledger));
    let key = state::claim(&claim.id);
    let index = state::credit_by_cloud(&claim.accused_cloud_id, &now, &claim.id);
    state::store(ledger, &key, &claim).await?;
    ledger.put(&index, &key).await?;
    let owners: Vec<&str> = claim.parties.iter().map(String::as_str).collect();
    own(ledger, &index, &owners).await?;
    // The accused's own marker: only what it accepted is owed (see `crate::anchor`).
    crate::anchor::mark(ledger, &index, &ledger.tx().caller.msp_id).await?;
    emit(ledger, Emit::ClaimAccepted(&claim))?;
    Ok(claim)
}

/// A claim by id.
pub async fn get_claim(ledger: &impl Ledger, input: crate::msg::ById) -> Result<Claim> {
    validate::id("id", &input.id)?;
    state::require(ledger, Kind::Claim, &input.id, &state::claim(&input.id)).await
}

/// The most credits one `Usage` report lists; a busier period is refused, never counted in part.
pub const MAX_USAGE_CREDITS: u32 = 1000;

/// The credits `cloud` owes for claims it accepted in `[from, to)`; an index entry its member never
/// endorsed is left out and noted in `checker`.
pub async fn credits_in_period(
    ledger: &impl Ledger,
    cloud: &Cloud,
    from: &Timestamp,
    to: &Timestamp,
    checker: &mut crate::anchor::Checker,
) -> Result<Vec<Credit>> {
    let cloud_id = &cloud.id;
    let (start, end) = state::time_range(&state::credits_of_cloud(cloud_id), Some(from), Some(to));
    let page = ledger.range(&start, &end, MAX_USAGE_CREDITS + 1, None).await?;
    if page.entries.len() > MAX_USAGE_CREDITS as usize || page.bookmark.is_some() {
        return Err(ContractError::invalid(
            "to",
            format!("the period holds more than {MAX_USAGE_CREDITS} credits of `{cloud_id}`: ask for a shorter one"),
        ));
    }
    let mut credits = Vec::with_capacity(page.entries.len());
    for entry in page.entries {
        if !checker.credit(ledger, &entry.key, &cloud.msp_id).await? {
            continue;
        }
        let claim: Claim = state::load(ledger, &entry.value).await?.ok_or_else(|| ContractError::Ledger {
            reason: format!("credit index entry `{}` points at missing `{}`", entry.key, entry.value),
        })?;
        credits.push(Credit {
            claim_id: claim.id,
            terms_id: claim.terms_id,
            to_cloud_id: claim.claimant_cloud_id,
            amount: claim.credit,
            currency: claim.currency,
            accepted_at: claim.accepted_at.unwrap_or(claim.claimed.at),
        });
    }
    Ok(credits)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule() -> PenaltyRule {
        PenaltyRule {
            currency: "EUR".into(),
            fixed_credit: 1_000_000,
            credit_per_downtime_second: 100_000,
            credit_per_basis_point: 50_000,
            max_credit: 5_000_000,
        }
    }

    #[test]
    fn downtime_credits_each_started_second_beyond_the_maximum() {
        assert_eq!(credit(&rule(), Metric::DowntimeMs, 500, 500), None);
        assert_eq!(credit(&rule(), Metric::DowntimeMs, 500, 501), Some(1_100_000));
        assert_eq!(credit(&rule(), Metric::DowntimeMs, 500, 2_500), Some(1_200_000));
        assert_eq!(credit(&rule(), Metric::DowntimeMs, 500, u64::MAX), Some(5_000_000), "capped");
    }

    #[test]
    fn availability_credits_each_basis_point_below_the_target() {
        assert_eq!(credit(&rule(), Metric::AvailabilityBp, 9990, 9990), None);
        assert_eq!(credit(&rule(), Metric::AvailabilityBp, 9990, 9980), Some(1_500_000));
        assert_eq!(credit(&rule(), Metric::AvailabilityBp, 9990, 0), Some(5_000_000), "capped");
    }
}
