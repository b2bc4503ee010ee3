//! Which exit code an error gets. The codes themselves, and the exit code of every stable error
//! code, are the contract's vocabulary (`vmledger_contract::vocabulary`); documented in
//! `vmledger --help` and client/README.md.

use std::process::ExitCode;

use vmledger_client::transfer::TransferError;
use vmledger_client::{Error, MembersError};
pub(crate) use vmledger_contract::vocabulary::exit::{
    CONFLICT, DENIED, FAILURE, NOT_FOUND, OK, REJECTED, UNKNOWN_OUTCOME, UNREACHABLE, USAGE,
};

/// An outcome that is not a failure of the tool but must show in the exit code. Its details have
/// already been printed as the command's result.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Verdict {
    #[error("the migration is not permitted")]
    Denied,
    #[error(
        "migration {migration_id} was rejected on the ledger: the image's hash {observed} differs from the recorded {recorded}"
    )]
    Rejected { migration_id: String, recorded: String, observed: String },
    #[error("{count} record(s) on the ledger differ from the file in what the contract cannot change")]
    Conflicts { count: usize },
    #[error("transaction {tx_id} was committed invalid ({validation_code})")]
    CommittedInvalid { tx_id: String, validation_code: String },
    #[error("transaction {tx_id} is not committed (yet)")]
    NotCommitted { tx_id: String },
    #[error("no transaction {tx_id} on the member's peer, and none pending at its proxy")]
    NoTransaction { tx_id: String },
}

/// A mistake in the command line or configuration that clap could not see.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct UsageError(pub(crate) String);

/// The exit code for an error: the first cause in its chain that has a meaning decides.
pub(crate) fn code_of(error: &anyhow::Error) -> u8 {
    for cause in error.chain() {
        if let Some(verdict) = cause.downcast_ref::<Verdict>() {
            return match verdict {
                Verdict::Denied => DENIED,
                Verdict::Rejected { .. } => REJECTED,
                Verdict::Conflicts { .. } | Verdict::CommittedInvalid { .. } => CONFLICT,
                Verdict::NotCommitted { .. } => UNKNOWN_OUTCOME,
                Verdict::NoTransaction { .. } => NOT_FOUND,
            };
        }
        if let Some(e) = as_sdk(cause) {
            return of_sdk(e);
        }
        if let Some(e) = cause.downcast_ref::<TransferError>() {
            return match e {
                TransferError::Unreachable { .. } => UNREACHABLE,
                TransferError::Refused { problem } => of_code(&problem.code).unwrap_or(FAILURE),
                TransferError::Io { .. } | TransferError::Protocol { .. } => FAILURE,
            };
        }
        if let Some(vmledger_client::workflow::placement::PickError::NoHost(_)) = cause.downcast_ref() {
            return DENIED;
        }
        if let Some(vmledger_client::workflow::apply::ApplyError::Connection { .. }) = cause.downcast_ref() {
            return USAGE;
        }
        if let Some(vmledger_bench::BenchError::Members(_) | vmledger_bench::BenchError::Options(_)) =
            cause.downcast_ref()
        {
            return USAGE;
        }
        if cause.is::<UsageError>() || cause.is::<MembersError>() || cause.is::<clap::Error>() {
            return USAGE;
        }
    }
    FAILURE
}

/// The SDK error a cause is, also when a workflow error holds it boxed (it is large).
fn as_sdk<'a>(cause: &'a (dyn std::error::Error + 'static)) -> Option<&'a Error> {
    cause.downcast_ref::<Error>().or_else(|| cause.downcast_ref::<Box<Error>>().map(|b| &**b))
}

/// The first SDK error in the chain of `error`, for the JSON error document.
pub(crate) fn sdk_error(error: &anyhow::Error) -> Option<&Error> {
    error.chain().find_map(as_sdk)
}

fn of_sdk(e: &Error) -> u8 {
    // A committed-invalid transaction is a conflict whatever its validation code.
    let fallback = if matches!(e, Error::Invalid { .. }) { CONFLICT } else { FAILURE };
    of_code(e.code()).unwrap_or(fallback)
}

/// The exit code the vocabulary gives a stable error code (contract, validation, proxy or client).
fn of_code(code: &str) -> Option<u8> {
    vmledger_contract::vocabulary::code(code).map(|c| c.exit_code)
}

pub(crate) fn exit(code: u8) -> ExitCode {
    ExitCode::from(code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use vmledger_client::{Problem, Step};
    use vmledger_contract::vocabulary::{CODES, Origin};
    use vmledger_contract::{ContractError, Kind};

    fn contract(error: ContractError) -> anyhow::Error {
        anyhow::Error::new(Error::Contract { step: vmledger_client::Step::Endorse, error, tx_id: None })
    }

    #[test]
    fn contract_codes_map_to_their_exit_codes() {
        let denied = ContractError::PolicyDenied { vm_id: "v".into(), host_id: "h".into(), reasons: vec![] };
        assert_eq!(code_of(&contract(denied)), DENIED);
        let unauthorized =
            ContractError::Unauthorized { rule: "r".into(), caller_msp_id: "Org2MSP".into(), caller_role: None };
        assert_eq!(code_of(&contract(unauthorized)), DENIED);
        assert_eq!(
            code_of(&contract(ContractError::NotFound { kind: Kind::Vm, id: "v".into(), unanchored: None })),
            NOT_FOUND
        );
        assert_eq!(code_of(&contract(ContractError::Conflict { reason: "r".into() })), CONFLICT);
        let invalid = ContractError::InvalidArgument { field: "f".into(), reason: "r".into() };
        assert_eq!(code_of(&contract(invalid)), USAGE);
    }

    /// Every code of the vocabulary, arriving from the proxy as a problem document, exits with the
    /// exit code the vocabulary gives it (contract codes with their details: they then parse).
    #[test]
    fn every_code_exits_as_the_vocabulary_says() {
        for code in CODES.iter().filter(|c| c.origin != Origin::Client) {
            let details = match code.code {
                "NOT_FOUND" => serde_json::json!({"kind": "vm", "id": "v"}),
                "INVALID_ARGUMENT" => serde_json::json!({"field": "f", "reason": "r"}),
                "ALREADY_EXISTS" => serde_json::json!({"kind": "vm", "id": "v"}),
                "UNAUTHORIZED" => serde_json::json!({"rule": "r", "callerMspId": "M"}),
                "POLICY_DENIED" => serde_json::json!({"vmId": "v", "hostId": "h", "reasons": []}),
                "CAPACITY_EXCEEDED" => serde_json::json!({"hostId": "h", "shortfalls": []}),
                "HOST_UNAVAILABLE" => serde_json::json!({"hostId": "h", "availability": "down"}),
                "CONFLICT" | "LEDGER" => serde_json::json!({"reason": "r"}),
                _ => serde_json::Value::Null,
            };
            let problem = Problem {
                status: code.http_status,
                code: code.code.to_owned(),
                details,
                tx_id: Some("t".into()),
                ..Problem::default()
            };
            let error = anyhow::Error::new(Error::from_problem(Step::Transaction, problem));
            assert_eq!(code_of(&error), code.exit_code, "{}", code.code);
        }
    }

    #[test]
    fn verdicts_and_context_keep_their_codes() {
        let rejected = anyhow::Error::new(Verdict::Rejected {
            migration_id: "m".into(),
            recorded: "a".into(),
            observed: "b".into(),
        })
        .context("migrate run");
        assert_eq!(code_of(&rejected), REJECTED);
        assert_eq!(code_of(&anyhow::Error::new(UsageError("x".into()))), USAGE);
        assert_eq!(code_of(&anyhow::anyhow!("anything else")), FAILURE);
    }
}
