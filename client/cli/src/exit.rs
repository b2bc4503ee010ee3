//! Exit codes, in one place. Documented in `vmledger --help` and client/README.md.

use std::process::ExitCode;

use vmledger_client::transfer::TransferError;
use vmledger_client::{Error, MembersError};
use vmledger_contract::ContractError;

pub(crate) const OK: u8 = 0;
pub(crate) const FAILURE: u8 = 1;
/// Bad command line or configuration; also the contract's `INVALID_ARGUMENT`.
pub(crate) const USAGE: u8 = 2;
/// `POLICY_DENIED`, `CAPACITY_EXCEEDED`, `UNAUTHORIZED`, or `migrate check` not permitted.
pub(crate) const DENIED: u8 = 3;
/// The destination's hash did not match: committed as a rejected migration.
pub(crate) const REJECTED: u8 = 4;
/// The proxy or the network behind it cannot be reached, is unavailable, or timed out.
pub(crate) const UNREACHABLE: u8 = 5;
/// The API key (or the identity behind it) was refused.
pub(crate) const UNAUTHENTICATED: u8 = 6;
pub(crate) const NOT_FOUND: u8 = 7;
/// `ALREADY_EXISTS`, `CONFLICT`, or a transaction committed invalid.
pub(crate) const CONFLICT: u8 = 8;

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
                Verdict::Conflicts { .. } => CONFLICT,
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
    match e {
        Error::Contract { error, .. } => of_contract(error),
        Error::Invalid { .. } => CONFLICT,
        Error::Auth { .. } => UNAUTHENTICATED,
        Error::Unreachable { .. } | Error::Timeout { .. } | Error::Network { .. } => UNREACHABLE,
        Error::Proxy { problem, .. } if problem.status == 429 => UNREACHABLE,
        Error::Proxy { problem, .. } if problem.status == 404 => NOT_FOUND,
        Error::Proxy { .. } | Error::Protocol { .. } | Error::Codec { .. } => FAILURE,
    }
}

fn of_contract(error: &ContractError) -> u8 {
    of_code(error.code()).unwrap_or(FAILURE)
}

/// The exit code for a stable error code (contract, validation or proxy code).
fn of_code(code: &str) -> Option<u8> {
    Some(match code {
        "POLICY_DENIED" | "CAPACITY_EXCEEDED" | "UNAUTHORIZED" => DENIED,
        "INVALID_ARGUMENT" => USAGE,
        "NOT_FOUND" => NOT_FOUND,
        "ALREADY_EXISTS" | "CONFLICT" | "MVCC_READ_CONFLICT" | "PHANTOM_READ_CONFLICT" => CONFLICT,
        "UNAVAILABLE" | "TIMEOUT" | "UNREACHABLE" => UNREACHABLE,
        "UNAUTHENTICATED" | "FORBIDDEN" => UNAUTHENTICATED,
        _ => return None,
    })
}

pub(crate) fn exit(code: u8) -> ExitCode {
    ExitCode::from(code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use vmledger_contract::Kind;

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
        assert_eq!(code_of(&contract(ContractError::NotFound { kind: Kind::Vm, id: "v".into() })), NOT_FOUND);
        assert_eq!(code_of(&contract(ContractError::Conflict { reason: "r".into() })), CONFLICT);
        let invalid = ContractError::InvalidArgument { field: "f".into(), reason: "r".into() };
        assert_eq!(code_of(&contract(invalid)), USAGE);
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
