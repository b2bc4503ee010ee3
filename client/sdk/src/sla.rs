//! Service terms and violation claims (the contract's `terms` and `claims`), as two clouds use them:
//! the source proposes terms with its prices (sent as transient data, salted, so they reach the two
//! members' peers only); the destination reads them on its own peer, checks that what it read is
//! what the ledger's hash binds, and accepts exactly that; either party claims a violation, the
//! accused disputes or accepts it.

use std::collections::BTreeMap;

use vmledger_contract::claims::{AcceptClaim, Claim, ClaimViolation, DisputeClaim};
use vmledger_contract::model::Prices;
use vmledger_contract::msg;
use vmledger_contract::terms::{
    AcceptTerms, PRIVATE_TERMS_FIELD, PrivateTerms, ProposeTerms, Terms, TermsView, sha256_hex,
};
use vmledger_contract::vocabulary::{Call, calls};

use crate::error::{Error, Result, Step};
use crate::gateway::Committed;
use crate::ledger::VmLedger;

/// 32 fresh random bytes, hex: the salt that keeps a third member from guessing prices by their hash.
fn salt() -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| Error::Codec {
        function: calls::ProposeTerms::NAME.to_owned(),
        reason: format!("no randomness for the prices' salt: {e}"),
    })?;
    Ok(hex::encode(bytes))
}

fn codec(function: &str, e: &serde_json::Error) -> Error {
    Error::Codec { function: function.to_owned(), reason: e.to_string() }
}

impl VmLedger {
    /// `ProposeTerms`: the caller's cloud (the source) proposes terms to another member's cloud;
    /// `prices` go salted in transient data to the pair's private collection, never into the block.
    ///
    /// # Errors
    /// `UNAUTHORIZED` (not the source's manager), `CONFLICT` (one member's clouds, another
    /// migration), `ALREADY_EXISTS`, `INVALID_ARGUMENT`, and the transport errors.
    pub async fn propose_terms(&self, input: &ProposeTerms, prices: Prices) -> Result<Committed<Terms>> {
        let name = calls::ProposeTerms::NAME;
        let private = PrivateTerms { prices, salt: salt()? };
        let transient = BTreeMap::from([(
            PRIVATE_TERMS_FIELD.to_owned(),
            serde_json::to_string(&private).map_err(|e| codec(name, &e))?,
        )]);
        let argument = serde_json::to_string(input).map_err(|e| codec(name, &e))?;
        let committed = self.contract().submit_with_transient(name, &argument, transient).await?;
        let Committed { tx_id, block_number, validation_code, result, timings, client_ms, attempts } = committed;
        let result = serde_json::from_value(result).map_err(|e| codec(name, &e))?;
        Ok(Committed { tx_id, block_number, validation_code, result, timings, client_ms, attempts })
    }

    /// `GetTerms`: the public part and the ledger's hash for any member; the prices for the parties.
    ///
    /// # Errors
    /// `NOT_FOUND`, `INVALID_ARGUMENT`, and the transport errors.
    pub async fn get_terms(&self, id: &str) -> Result<TermsView> {
        self.evaluate::<calls::GetTerms>(&msg::ById { id: id.to_owned() }).await
    }

    /// The destination accepts terms: reads them on its own peer, checks that the prices it read
    /// hash to what the proposal recorded, and signs that hash (`AcceptTerms`). Returns the prices
    /// accepted with the agreed terms.
    ///
    /// # Errors
    /// [`Error::Protocol`] when this member's peer holds no prices for the terms, or prices that do
    /// not hash to the record's; the contract's refusals (`UNAUTHORIZED`, `CONFLICT`…).
    pub async fn accept_terms(&self, terms_id: &str) -> Result<(Committed<Terms>, PrivateTerms)> {
        let view = self.get_terms(terms_id).await?;
        let Some(private) = view.private else {
            return Err(Error::Protocol {
                step: Step::Evaluate,
                reason: format!(
                    "this member's peer holds no prices for terms `{terms_id}`: is it one of the two parties?"
                ),
                tx_id: None,
            });
        };
        let read = serde_json::to_string(&private).map_err(|e| codec(calls::AcceptTerms::NAME, &e))?;
        if sha256_hex(&read) != view.terms.private_hash {
            return Err(Error::Protocol {
                step: Step::Evaluate,
                reason: format!(
                    "the prices read for terms `{terms_id}` hash to {}, not to the proposed {}",
                    sha256_hex(&read),
                    view.terms.private_hash
                ),
                tx_id: None,
            });
        }
        let input = AcceptTerms { terms_id: terms_id.to_owned(), private_hash: view.terms.private_hash };
        Ok((self.submit::<calls::AcceptTerms>(&input).await?, private))
    }

    /// `ClaimViolation`: one party's oracle measured a violation of agreed terms.
    ///
    /// # Errors
    /// `UNAUTHORIZED` (not a party), `CONFLICT` (terms not agreed, no violation, migration not
    /// confirmed or of other clouds), `ALREADY_EXISTS`, `INVALID_ARGUMENT`.
    pub async fn claim_violation(&self, input: &ClaimViolation) -> Result<Committed<Claim>> {
        self.submit::<calls::ClaimViolation>(input).await
    }

    /// `DisputeClaim`: the accused answers with its own measurement.
    ///
    /// # Errors
    /// `UNAUTHORIZED` (not the accused), `CONFLICT` (not claimed), `NOT_FOUND`, `INVALID_ARGUMENT`.
    pub async fn dispute_claim(&self, input: &DisputeClaim) -> Result<Committed<Claim>> {
        self.submit::<calls::DisputeClaim>(input).await
    }

    /// `AcceptClaim`: the accused concedes; the credit appears in its cloud's `Usage`.
    ///
    /// # Errors
    /// `UNAUTHORIZED` (not the accused), `CONFLICT` (already accepted), `NOT_FOUND`.
    pub async fn accept_claim(&self, claim_id: &str) -> Result<Committed<Claim>> {
        self.submit::<calls::AcceptClaim>(&AcceptClaim { claim_id: claim_id.to_owned() }).await
    }

    /// `GetClaim`.
    ///
    /// # Errors
    /// `NOT_FOUND`, `INVALID_ARGUMENT`.
    pub async fn get_claim(&self, id: &str) -> Result<Claim> {
        self.evaluate::<calls::GetClaim>(&msg::ById { id: id.to_owned() }).await
    }
}
