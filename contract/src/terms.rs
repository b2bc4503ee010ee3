//! Service terms (BlockchainBus): what a source cloud and a destination cloud agree for their
//! migrations — an availability target, a maximum migration downtime, a penalty rule, and prices per
//! resource-hour that only the two of them see.
//!
//! - The source's member proposes (`ProposeTerms`), the destination's member accepts
//!   (`AcceptTerms`); the record carries both signers, and from the proposal on its key can change
//!   only with both members' endorsement (key-level policy, checked by every peer at commit).
//! - The prices travel as transient data (never in the argument, which every member reads in the
//!   block) and are written to the pair's private data collection `terms-<orgA>-<orgB>`
//!   ([`collection`]); every other member's peer holds only their SHA-256, which `GetTerms` shows
//!   so a third member can verify that terms exist, which prices hash they bind, and who signed.
//! - The private part carries a salt the proposer picks: prices are small numbers, and without
//!   it a third member could find them by hashing guesses.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::auth::{require_manager, require_operator};
use crate::chains::require_federation;
use crate::contract::{Emit, emit, signer};
use crate::error::{ContractError, Kind, Result};
use crate::ledger::Ledger;
use crate::model::{Cloud, Migration, Prices, Signer, Timestamp};
use crate::ownership::{namespace, own, require_own_namespace};
use crate::{clock, state, validate};

/// The transient field that carries a proposal's [`PrivateTerms`] (JSON).
pub const PRIVATE_TERMS_FIELD: &str = "terms";
/// The longest downtime terms may allow: a day.
pub const MAX_DOWNTIME_MS: u64 = 86_400_000;
/// Availability is in basis points: 10 000 is 100 %.
pub const FULL_AVAILABILITY_BP: u32 = 10_000;

/// The private data collection of the pair of members `a` and `b` (MSP ids, either order):
/// `terms-<namespace>-<namespace>`, the namespaces sorted. The network tool defines one per pair.
pub fn collection(a: &str, b: &str) -> String {
    let mut pair = [namespace(a), namespace(b)];
    pair.sort();
    format!("terms-{}-{}", pair[0], pair[1])
}

/// How a violation is compensated, in micro-units of `currency` (public: both clouds and any
/// auditor can recompute a claim's credit).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "schema"), derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PenaltyRule {
    pub currency: String,
    /// Credited for any violation.
    pub fixed_credit: u64,
    /// Added per started second of downtime beyond the agreed maximum.
    pub credit_per_downtime_second: u64,
    /// Added per basis point (0.01 %) of availability below the target.
    pub credit_per_basis_point: u64,
    /// No claim is credited more.
    pub max_credit: u64,
}

/// The part of the terms only the two clouds see: the prices, and a salt that makes their hash
/// unguessable. Sent as the transient field [`PRIVATE_TERMS_FIELD`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "schema"), derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PrivateTerms {
    /// What the destination charges the source per resource-hour under these terms.
    pub prices: Prices,
    /// 32 random bytes, hex (64 lower-case characters).
    pub salt: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "schema"), derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub enum TermsStatus {
    /// Proposed by the source, awaiting the destination.
    Proposed,
    /// Accepted by the destination: both signed.
    Agreed,
}

/// The public part of service terms, on every member's ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "schema"), derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Terms {
    pub id: String,
    pub source_cloud_id: String,
    pub destination_cloud_id: String,
    /// The migration these terms govern, when they are for one; else every migration between the pair.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub migration_id: Option<String>,
    /// Basis points (9990 = 99.90 %).
    pub availability_target_bp: u32,
    pub max_downtime_ms: u64,
    pub penalty: PenaltyRule,
    /// The pair's private data collection holding the prices.
    pub collection: String,
    /// SHA-256 (hex) of the private part as written to the collection: what both signed.
    pub private_hash: String,
    pub status: TermsStatus,
    /// The two members whose endorsement any change of these terms needs (sorted MSP ids).
    pub parties: Vec<String>,
    pub proposed_at: Timestamp,
    pub proposed_by: Signer,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted_by: Option<Signer>,
}

/// What `GetTerms` answers: the public record for anyone; the prices for the two parties only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "schema"), derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct TermsView {
    pub terms: Terms,
    /// The SHA-256 of the private part as this peer's ledger holds it (every member's peer does).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ledger_hash: Option<String>,
    /// Whether `ledgerHash` equals the hash both parties signed.
    pub verified: bool,
    /// The private part: only when the caller is one of the two parties and its peer holds it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private: Option<PrivateTerms>,
}

/// `ProposeTerms`: by the source cloud's member; the prices go in the transient field
/// [`PRIVATE_TERMS_FIELD`], never here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "schema"), derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProposeTerms {
    /// In the proposer's namespace (`org1.<name>`).
    pub id: String,
    pub source_cloud_id: String,
    pub destination_cloud_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub migration_id: Option<String>,
    pub availability_target_bp: u32,
    pub max_downtime_ms: u64,
    pub penalty: PenaltyRule,
}

/// `AcceptTerms`: by the destination cloud's member, naming the hash of the private part it read
/// (so it signs exactly those prices).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "schema"), derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AcceptTerms {
    pub terms_id: String,
    pub private_hash: String,
}

/// Hex SHA-256 of text, as Fabric hashes a private value.
pub fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

fn penalty_rule(p: &PenaltyRule) -> Result<()> {
    if p.currency.len() != 3 || !p.currency.chars().all(|c| c.is_ascii_uppercase()) {
        return Err(ContractError::invalid("penalty.currency", format!("`{}` is not an ISO 4217 code", p.currency)));
    }
    for (name, amount) in [
        ("fixedCredit", p.fixed_credit),
        ("creditPerDowntimeSecond", p.credit_per_downtime_second),
        ("creditPerBasisPoint", p.credit_per_basis_point),
        ("maxCredit", p.max_credit),
    ] {
        if amount > validate::MAX_PRICE {
            return Err(ContractError::invalid(
                &format!("penalty.{name}"),
                format!("{amount} is above {}", validate::MAX_PRICE),
            ));
        }
    }
    Ok(())
}

fn levels(availability_target_bp: u32, max_downtime_ms: u64) -> Result<()> {
    if !(1..=FULL_AVAILABILITY_BP).contains(&availability_target_bp) {
        return Err(ContractError::invalid(
            "availabilityTargetBp",
            format!("{availability_target_bp} is outside 1..={FULL_AVAILABILITY_BP} basis points"),
        ));
    }
    if max_downtime_ms > MAX_DOWNTIME_MS {
        return Err(ContractError::invalid("maxDowntimeMs", format!("{max_downtime_ms} is above {MAX_DOWNTIME_MS}")));
    }
    Ok(())
}

fn hex64(field: &str, value: &str) -> Result<()> {
    if value.len() != 64 || !value.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)) {
        return Err(ContractError::invalid(field, "must be 64 lower-case hex characters"));
    }
    Ok(())
}

/// The private part from the transient data: present, well-formed, with sane prices and a salt.
fn private_part(ledger: &impl Ledger) -> Result<PrivateTerms> {
    let field = format!("transient {PRIVATE_TERMS_FIELD}");
    let text = ledger.transient(PRIVATE_TERMS_FIELD)?.ok_or_else(|| {
        ContractError::invalid(&field, "the prices travel as transient data (the argument is public): none was given")
    })?;
    validate::argument_size(&text)?;
    let private: PrivateTerms =
        serde_json::from_str(&text).map_err(|e| ContractError::invalid(&field, e.to_string()))?;
    validate::prices(&format!("{field}.prices"), &private.prices)?;
    hex64(&format!("{field}.salt"), &private.salt)?;
    Ok(private)
}

async fn cloud(ledger: &impl Ledger, id: &str) -> Result<Cloud> {
    state::require(ledger, Kind::Cloud, id, &state::cloud(id)).await
}

/// Proposes terms between the caller's cloud (the source) and another member's cloud.
pub async fn propose_terms(ledger: &impl Ledger, input: ProposeTerms) -> Result<Terms> {
    validate::id("id", &input.id)?;
    validate::id("sourceCloudId", &input.source_cloud_id)?;
    validate::id("destinationCloudId", &input.destination_cloud_id)?;
    if let Some(m) = &input.migration_id {
        validate::id("migrationId", m)?;
    }
    require_federation(ledger, "service terms")?;
    let tx = ledger.tx();
    let source = cloud(ledger, &input.source_cloud_id).await?;
    require_operator(&tx.caller, &source, "propose service terms for it")?;
    require_manager(&tx.caller, "propose service terms")?;
    require_own_namespace(&tx.caller, "terms id", &input.id)?;
    let destination = cloud(ledger, &input.destination_cloud_id).await?;
    if destination.msp_id == source.msp_id {
        return Err(ContractError::conflict(format!(
            "clouds `{}` and `{}` are both run by {}: terms are between two members",
            source.id, destination.id, source.msp_id
        )));
    }
    levels(input.availability_target_bp, input.max_downtime_ms)?;
    penalty_rule(&input.penalty)?;
    if let Some(migration_id) = &input.migration_id {
        let migration: Migration =
            state::require(ledger, Kind::Migration, migration_id, &state::migration(migration_id)).await?;
        if migration.source.cloud_id != source.id || migration.destination.cloud_id != destination.id {
            return Err(ContractError::conflict(format!(
                "migration `{migration_id}` goes from `{}` to `{}`, not from `{}` to `{}`",
                migration.source.cloud_id, migration.destination.cloud_id, source.id, destination.id
            )));
        }
    }
    let private = private_part(ledger)?;
    let key = state::terms(&input.id);
    if ledger.get(&key).await?.is_some() {
        return Err(ContractError::AlreadyExists { kind: Kind::Terms, id: input.id });
    }
    let private_json = state::to_json(&private)?;
    let collection = collection(&source.msp_id, &destination.msp_id);
    let mut parties = vec![source.msp_id.clone(), destination.msp_id.clone()];
    parties.sort();
    let terms = Terms {
        id: input.id,
        source_cloud_id: source.id,
        destination_cloud_id: destination.id,
        migration_id: input.migration_id,
        availability_target_bp: input.availability_target_bp,
        max_downtime_ms: input.max_downtime_ms,
        penalty: input.penalty,
        collection,
        private_hash: sha256_hex(&private_json),
        status: TermsStatus::Proposed,
        parties,
        proposed_at: tx.timestamp,
        proposed_by: signer(ledger),
        accepted_at: None,
        accepted_by: None,
    };
    ledger.put_private(&terms.collection, &key, &private_json).await?;
    state::store(ledger, &key, &terms).await?;
    own(ledger, &key, &[&source.msp_id, &destination.msp_id]).await?;
    emit(ledger, Emit::TermsProposed(&terms))?;
    Ok(terms)
}

/// The destination's member accepts proposed terms, naming the hash of the prices it agrees to.
pub async fn accept_terms(ledger: &impl Ledger, input: AcceptTerms) -> Result<Terms> {
    validate::id("termsId", &input.terms_id)?;
    hex64("privateHash", &input.private_hash)?;
    require_federation(ledger, "service terms")?;
    let key = state::terms(&input.terms_id);
    let mut terms: Terms = state::require(ledger, Kind::Terms, &input.terms_id, &key).await?;
    let tx = ledger.tx();
    let destination = cloud(ledger, &terms.destination_cloud_id).await?;
    require_operator(&tx.caller, &destination, "accept terms proposed to it")?;
    require_manager(&tx.caller, "accept service terms")?;
    if terms.status != TermsStatus::Proposed {
        return Err(ContractError::conflict(format!("terms `{}` are already agreed", terms.id)));
    }
    clock::not_before(&tx.timestamp, "the terms' proposal", &terms.proposed_at)?;
    let held = ledger.private_hash(&terms.collection, &key).await?;
    if held.as_deref() != Some(terms.private_hash.as_str()) {
        return Err(ContractError::conflict(format!(
            "the ledger holds private hash {} for terms `{}`, not the proposed {}",
            held.as_deref().unwrap_or("none"),
            terms.id,
            terms.private_hash
        )));
    }
    if input.private_hash != terms.private_hash {
        return Err(ContractError::conflict(format!(
            "the prices accepted (hash {}) are not those proposed (hash {})",
            input.private_hash, terms.private_hash
        )));
    }
    terms.status = TermsStatus::Agreed;
    terms.accepted_at = Some(tx.timestamp);
    terms.accepted_by = Some(signer(ledger));
    state::store(ledger, &key, &terms).await?;
    emit(ledger, Emit::TermsAgreed(&terms))?;
    Ok(terms)
}

/// Terms by id: the public part and the ledger's hash for anyone; the prices for the two parties.
pub async fn get_terms(ledger: &impl Ledger, input: crate::msg::ById) -> Result<TermsView> {
    validate::id("id", &input.id)?;
    let key = state::terms(&input.id);
    let terms: Terms = state::require(ledger, Kind::Terms, &input.id, &key).await?;
    let ledger_hash = ledger.private_hash(&terms.collection, &key).await?;
    let private = if terms.parties.contains(&ledger.tx().caller.msp_id) {
        match ledger.get_private(&terms.collection, &key).await? {
            Some(json) => Some(state::decode::<PrivateTerms>(&key, &json)?),
            None => None,
        }
    } else {
        None
    };
    let verified = ledger_hash.as_deref() == Some(terms.private_hash.as_str());
    Ok(TermsView { terms, ledger_hash, verified, private })
}

/// Terms a claim may be made under: agreed, with the caller one of the two parties.
pub(crate) async fn agreed(ledger: &impl Ledger, terms_id: &str) -> Result<Terms> {
    let terms: Terms = state::require(ledger, Kind::Terms, terms_id, &state::terms(terms_id)).await?;
    if terms.status != TermsStatus::Agreed {
        return Err(ContractError::conflict(format!(
            "terms `{terms_id}` are proposed, not agreed: nothing was promised yet"
        )));
    }
    Ok(terms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pair_has_one_collection_whichever_proposes() {
        assert_eq!(collection("Org2MSP", "Org1MSP"), "terms-org1-org2");
        assert_eq!(collection("Org1MSP", "Org2MSP"), "terms-org1-org2");
    }

    #[test]
    fn levels_and_penalties_are_bounded() {
        assert!(levels(9990, 500).is_ok());
        assert_eq!(levels(0, 500).unwrap_err().code(), "INVALID_ARGUMENT");
        assert_eq!(levels(10_001, 500).unwrap_err().code(), "INVALID_ARGUMENT");
        assert_eq!(levels(9990, MAX_DOWNTIME_MS + 1).unwrap_err().code(), "INVALID_ARGUMENT");
        let mut rule = PenaltyRule {
            currency: "EUR".into(),
            fixed_credit: 1,
            credit_per_downtime_second: 1,
            credit_per_basis_point: 1,
            max_credit: 10,
        };
        assert!(penalty_rule(&rule).is_ok());
        rule.max_credit = validate::MAX_PRICE + 1;
        assert_eq!(penalty_rule(&rule).unwrap_err().code(), "INVALID_ARGUMENT");
        rule.max_credit = 1;
        rule.currency = "eur".into();
        assert_eq!(penalty_rule(&rule).unwrap_err().code(), "INVALID_ARGUMENT");
    }
}
