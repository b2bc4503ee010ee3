//! The SDK's one error type. Every failure says which step failed and, when the proxy gave one, the
//! transaction id; structured bodies (RFC 9457 problem documents) are parsed into types, never
//! matched as text.

use serde::{Deserialize, Serialize};
use vmledger_contract::vocabulary::{self, Origin};
use vmledger_contract::{ContractError, WireError};

/// The step of a call that failed, in Fabric's vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Step {
    /// A read-only evaluation (`queries/{fn}`).
    Evaluate,
    /// Collecting endorsements (the contract ran here: rejections come from this step).
    Endorse,
    /// Handing the endorsed transaction to the orderer.
    Submit,
    /// Waiting for the transaction's commit status.
    CommitStatus,
    /// A synchronous submit whose failing step the proxy did not report (endorse, submit or commit).
    Transaction,
    /// Reading the event stream.
    Events,
    /// Reading the channel's height.
    Info,
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Step::Evaluate => "evaluate",
            Step::Endorse => "endorse",
            Step::Submit => "submit",
            Step::CommitStatus => "commit status",
            Step::Transaction => "transaction",
            Step::Events => "events",
            Step::Info => "channel info",
        })
    }
}

impl Step {
    /// The step named by a proxy (`step` member of a problem), if it names one.
    fn from_proxy(name: &str) -> Option<Step> {
        match name {
            "evaluate" => Some(Step::Evaluate),
            "endorse" => Some(Step::Endorse),
            "submit" => Some(Step::Submit),
            "commit" | "commitStatus" => Some(Step::CommitStatus),
            "events" => Some(Step::Events),
            "chaininfo" => Some(Step::Info),
            _ => None,
        }
    }
}

/// An `application/problem+json` body as the proxy sends it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    #[serde(default, rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub status: u16,
    #[serde(default)]
    pub detail: String,
    /// Stable machine-readable code: a contract code (`POLICY_DENIED`), a validation code
    /// (`MVCC_READ_CONFLICT`) or a proxy code (`UNAVAILABLE`, `TIMEOUT`, `UNAUTHENTICATED`, …).
    #[serde(default)]
    pub code: String,
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub details: serde_json::Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tx_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retryable: Option<bool>,
    /// The step that failed, when the proxy reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// The `Retry-After` header of the answer that carried the problem (not part of the body).
    #[serde(skip)]
    pub retry_after: Option<std::time::Duration>,
}

impl Problem {
    /// Whether the proxy marked the failure as worth retrying.
    pub fn is_retryable(&self) -> bool {
        self.retryable.unwrap_or(false)
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({} {})", self.detail, self.status, self.code)
    }
}

/// Whether a transaction committed invalid with `validation_code` may be endorsed again: its read
/// set went stale and nothing was written (the vocabulary says which codes).
pub fn is_retryable_validation_code(validation_code: &str) -> bool {
    vocabulary::code(validation_code).is_some_and(|c| c.origin == Origin::Validation && c.retryable)
}

/// Everything a call through the SDK can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The contract refused the call (nothing was written). Carries the contract's typed error.
    #[error("{step}: the contract refused{}: {error}", tx(tx_id))]
    Contract { step: Step, error: ContractError, tx_id: Option<String> },

    /// The transaction was ordered and committed, but marked invalid (e.g. `MVCC_READ_CONFLICT`).
    #[error("transaction {tx_id} was committed invalid ({validation_code}){}", block(block_number))]
    Invalid { tx_id: String, validation_code: String, block_number: Option<u64>, retryable: bool },

    /// The API key was missing or refused (401), or the peer refused the identity (403 `FORBIDDEN`).
    #[error("{step}: not authorised by the proxy: {problem}")]
    Auth { step: Step, problem: Box<Problem> },

    /// The proxy answered, but the network behind it failed a step: peers unavailable (`UNAVAILABLE`),
    /// a proxy-side deadline (`TIMEOUT`), a chaincode crash, or a rejection without a contract code.
    #[error("{step} failed{}: {problem}", tx(tx_id))]
    Network { step: Step, problem: Box<Problem>, tx_id: Option<String> },

    /// The proxy refused the request itself (bad request, body too large, too busy, unknown route).
    #[error("{step}: the proxy refused the request: {problem}")]
    Proxy { step: Step, problem: Box<Problem> },

    /// The proxy could not be reached (connection refused, reset, DNS), or the connection broke.
    #[error("{step}: the proxy at {url} is unreachable{}", tx(tx_id))]
    Unreachable {
        step: Step,
        url: String,
        tx_id: Option<String>,
        #[source]
        source: reqwest::Error,
    },

    /// A client-side timeout for the step ran out (see [`crate::GatewayBuilder`]).
    #[error("{step} timed out after {after_ms} ms{}", tx(tx_id))]
    Timeout { step: Step, after_ms: u64, tx_id: Option<String> },

    /// The proxy's answer did not have the documented shape.
    #[error("{step}: unexpected answer from the proxy{}: {reason}", tx(tx_id))]
    Protocol { step: Step, reason: String, tx_id: Option<String> },

    /// An argument could not be encoded, or a result decoded, as the contract's JSON.
    #[error("{function}: {reason}")]
    Codec { function: String, reason: String },

    /// The transaction was sent, and whether it committed could not be seen within the gateway's
    /// resolve timeout (the SDK looked it up and sent it again, with the same idempotency key, until
    /// then). It may still commit, once. Look it up by `tx_id`, or submit again with the same key:
    /// neither can apply it twice.
    #[error("transaction {tx_id} was sent, its outcome is unknown after {waited_ms} ms: {source}")]
    UnknownOutcome {
        tx_id: String,
        idempotency_key: String,
        waited_ms: u64,
        #[source]
        source: Box<Error>,
    },

    /// The proxy built a message for this identity to sign that is not the call asked for: not
    /// signed, not sent.
    #[error("{step}: {source}")]
    Mismatch {
        step: Step,
        #[source]
        source: crate::identity::Mismatch,
    },

    /// The member's key could not sign.
    #[error("signing: {0}")]
    Signer(#[from] crate::identity::SignerError),
}

fn tx(tx_id: &Option<String>) -> String {
    tx_id.as_deref().map(|id| format!(" (tx {id})")).unwrap_or_default()
}

fn block(block_number: &Option<u64>) -> String {
    block_number.map(|b| format!(" in block {b}")).unwrap_or_default()
}

impl Error {
    /// The transaction id, when the failure concerns a known transaction.
    pub fn tx_id(&self) -> Option<&str> {
        match self {
            Error::Contract { tx_id, .. }
            | Error::Network { tx_id, .. }
            | Error::Unreachable { tx_id, .. }
            | Error::Timeout { tx_id, .. }
            | Error::Protocol { tx_id, .. } => tx_id.as_deref(),
            Error::Invalid { tx_id, .. } | Error::UnknownOutcome { tx_id, .. } => Some(tx_id),
            Error::Auth { problem, .. } | Error::Proxy { problem, .. } => problem.tx_id.as_deref(),
            Error::Codec { .. } | Error::Mismatch { .. } | Error::Signer(_) => None,
        }
    }

    /// How long the proxy asked to wait before trying again (`Retry-After`), when it did.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            Error::Auth { problem, .. } | Error::Network { problem, .. } | Error::Proxy { problem, .. } => {
                problem.retry_after
            }
            _ => None,
        }
    }

    /// The contract's error, when the contract refused.
    pub fn contract_error(&self) -> Option<&ContractError> {
        match self {
            Error::Contract { error, .. } => Some(error),
            _ => None,
        }
    }

    /// The stable code of the failure: the contract's, the validation code, or the proxy's.
    pub fn code(&self) -> &str {
        match self {
            Error::Contract { error, .. } => error.code(),
            Error::Invalid { validation_code, .. } => validation_code,
            Error::Auth { problem, .. } | Error::Network { problem, .. } | Error::Proxy { problem, .. } => {
                &problem.code
            }
            Error::Unreachable { .. } => "UNREACHABLE",
            Error::Timeout { .. } => "TIMEOUT",
            Error::Protocol { .. } | Error::Mismatch { .. } => "PROTOCOL",
            Error::Codec { .. } | Error::Signer(_) => "CODEC",
            Error::UnknownOutcome { .. } => "UNKNOWN_OUTCOME",
        }
    }

    /// Whether doing the same call again may succeed and cannot do harm twice: a stale read set
    /// (nothing was written), a busy proxy, or (for evaluations only) an unavailable network.
    pub fn is_safe_to_retry(&self) -> bool {
        match self {
            Error::Invalid { validation_code, .. } => is_retryable_validation_code(validation_code),
            Error::Proxy { problem, .. } => problem.status == 429,
            Error::Network { step: Step::Evaluate | Step::Info, problem, .. } => problem.is_retryable(),
            Error::Unreachable { step: Step::Evaluate | Step::Info, .. } => true,
            _ => false,
        }
    }

    /// Whether this failure of a submission leaves its outcome unknown: the transaction may have
    /// reached the orderer (it failed after endorsement, or the answer was lost on the way back).
    /// Everything else is a definite refusal: not committed, or committed invalid, with the reason.
    pub fn outcome_unknown(&self) -> bool {
        match self {
            Error::Network { step, .. } => !matches!(step, Step::Endorse | Step::Evaluate | Step::Info),
            Error::Unreachable { .. }
            | Error::Timeout { .. }
            | Error::Protocol { .. }
            | Error::UnknownOutcome { .. } => true,
            _ => false,
        }
    }

    /// Classifies a problem document answered for a call made at `step` (by a proxy, or by a
    /// destination agent, which answers the same documents).
    pub fn from_problem(step: Step, problem: Problem) -> Error {
        let step = problem.step.as_deref().and_then(Step::from_proxy).unwrap_or(step);
        let tx_id = problem.tx_id.clone();
        if vocabulary::code(&problem.code).is_some_and(|c| c.origin == Origin::Contract) {
            let wire = WireError {
                code: problem.code.clone(),
                message: problem.detail.clone(),
                details: problem.details.clone(),
            };
            if let Some(error) = ContractError::from_wire(&wire) {
                // A contract rejection happens while endorsing (or evaluating).
                let step = if step == Step::Transaction { Step::Endorse } else { step };
                return Error::Contract { step, error, tx_id };
            }
            // A proxy-level NOT_FOUND (e.g. an unknown async record) has no contract details.
            return if problem.status == 404 {
                Error::Proxy { step, problem: Box::new(problem) }
            } else {
                Error::Protocol { step, reason: format!("unreadable contract error: {problem}"), tx_id }
            };
        }
        if let (409, Some(tx_id)) = (problem.status, tx_id.clone()) {
            let block_number = problem.details.get("blockNumber").and_then(serde_json::Value::as_u64);
            let retryable = problem.is_retryable();
            return Error::Invalid { tx_id, validation_code: problem.code, block_number, retryable };
        }
        let problem = Box::new(problem);
        match problem.status {
            401 => Error::Auth { step, problem },
            403 if problem.code == "FORBIDDEN" || problem.code == "UNAUTHENTICATED" => Error::Auth { step, problem },
            // The proxy refused the request itself: nothing was sent (IDEMPOTENCY_KEY_REUSED is 422).
            400..=499 => Error::Proxy { step, problem },
            _ => Error::Network { step, problem, tx_id },
        }
    }
}

/// Shorthand for results of the SDK.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;
    use vmledger_contract::{Denial, Kind};

    fn problem(json: serde_json::Value) -> Problem {
        serde_json::from_value(json).expect("problem")
    }

    #[test]
    fn contract_codes_become_contract_errors_at_the_endorse_step() {
        let p = problem(serde_json::json!({
            "status": 422, "code": "POLICY_DENIED", "detail": "denied", "txId": "ab",
            "details": {"vmId": "vm1", "hostId": "h1",
                        "reasons": [{"rule": "country", "country": "US", "allowed": ["JP"]}]}
        }));
        let err = Error::from_problem(Step::Transaction, p);
        let Error::Contract { step, error, tx_id } = &err else { panic!("{err:?}") };
        assert_eq!(*step, Step::Endorse);
        assert_eq!(tx_id.as_deref(), Some("ab"));
        assert_eq!(
            *error,
            ContractError::PolicyDenied {
                vm_id: "vm1".into(),
                host_id: "h1".into(),
                reasons: vec![Denial::Country { country: "US".into(), allowed: vec!["JP".into()] }],
            }
        );
    }

    #[test]
    fn a_proxy_not_found_without_details_is_not_a_contract_error() {
        let err =
            Error::from_problem(Step::CommitStatus, problem(serde_json::json!({"status": 404, "code": "NOT_FOUND"})));
        assert!(matches!(err, Error::Proxy { step: Step::CommitStatus, .. }), "{err:?}");
        let found = Error::from_problem(
            Step::Evaluate,
            problem(serde_json::json!({"status": 404, "code": "NOT_FOUND", "details": {"kind": "vm", "id": "x"}})),
        );
        assert_eq!(
            found.contract_error(),
            Some(&ContractError::NotFound { kind: Kind::Vm, id: "x".into(), unanchored: None })
        );
    }

    #[test]
    fn the_proxy_step_wins_over_the_guess() {
        let p = problem(serde_json::json!({"status": 503, "code": "TIMEOUT", "step": "commit", "txId": "t"}));
        let err = Error::from_problem(Step::Transaction, p);
        assert!(matches!(err, Error::Network { step: Step::CommitStatus, .. }), "{err:?}");
    }
}
