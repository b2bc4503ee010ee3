//! The one error type of the contract. Each variant has a stable code (its `code` on the wire) and
//! carries the offending values, so a caller can tell which rule broke on what without parsing text.

use serde::{Deserialize, Serialize};

/// Every way a transaction can be refused. Refused transactions write nothing and emit nothing.
///
/// On the wire (the chaincode error message) an error is one JSON object:
/// `{"code": "POLICY_DENIED", "message": "…", "details": {…}}` — see [`ContractError::to_wire`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "schema"), derive(schemars::JsonSchema))]
#[serde(tag = "code", content = "details", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ContractError {
    /// The input is malformed: bad JSON, a bad id, country code, hash or amount.
    #[error("invalid argument `{field}`: {reason}")]
    #[serde(rename_all = "camelCase")]
    InvalidArgument { field: String, reason: String },

    /// No such record; or one exists but its owner never endorsed its creation (`unanchored` says
    /// so, see [`crate::anchor`]).
    #[error("{kind} `{id}` not found{}", unanchored.as_deref().map(|why| format!(": {why}")).unwrap_or_default())]
    #[serde(rename_all = "camelCase")]
    NotFound {
        kind: Kind,
        id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        unanchored: Option<String>,
    },

    #[error("{kind} `{id}` already exists")]
    #[serde(rename_all = "camelCase")]
    AlreadyExists { kind: Kind, id: String },

    /// The caller's MSP or role does not allow the action.
    #[error("unauthorized: {rule} (caller {caller_msp_id}{role})", role = caller_role.as_deref().map(|r| format!(", role {r}")).unwrap_or_default())]
    #[serde(rename_all = "camelCase")]
    Unauthorized {
        rule: String,
        caller_msp_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        caller_role: Option<String>,
    },

    /// The VM's regulation forbids the destination host (seed 003's deny).
    #[error("residency policy denies VM `{vm_id}` on host `{host_id}`: {}", join(reasons))]
    #[serde(rename_all = "camelCase")]
    PolicyDenied { vm_id: String, host_id: String, reasons: Vec<Denial> },

    /// The host cannot hold what is asked of it.
    #[error("capacity exceeded on host `{host_id}`: {}", join(shortfalls))]
    #[serde(rename_all = "camelCase")]
    CapacityExceeded { host_id: String, shortfalls: Vec<Shortfall> },

    /// The host is down or draining: it takes no new VM (`RegisterVm`, `Migrate` onto it).
    #[error("host `{host_id}` is {}{}: it takes no new VM (host availability rule)", availability.wire(), since.as_ref().map(|t| format!(" since {}", crate::clock::rfc3339(t))).unwrap_or_default())]
    #[serde(rename_all = "camelCase")]
    HostUnavailable {
        host_id: String,
        availability: crate::placement::Availability,
        /// When the host's member reported it so.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        since: Option<crate::model::Timestamp>,
    },

    /// The request does not fit the current state (VM already migrating, migration already closed…).
    #[error("conflict: {reason}")]
    #[serde(rename_all = "camelCase")]
    Conflict { reason: String },

    /// The ledger itself failed (a stub call threw); not the caller's fault.
    #[error("ledger failure: {reason}")]
    #[serde(rename_all = "camelCase")]
    Ledger { reason: String },
}

/// The kinds of records, for `NotFound` and `AlreadyExists`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "schema"), derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub enum Kind {
    Cloud,
    Host,
    Vm,
    Migration,
    /// A Leave or an Arrival on a local chain.
    LocalRecord,
    Function,
    /// Service terms agreed by two clouds.
    Terms,
    /// A violation claim under service terms.
    Claim,
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Kind::Cloud => "cloud",
            Kind::Host => "host",
            Kind::Vm => "VM",
            Kind::Migration => "migration",
            Kind::LocalRecord => "local record (Leave or Arrival) of migration",
            Kind::Function => "function",
            Kind::Terms => "service terms",
            Kind::Claim => "violation claim",
        })
    }
}

/// One reason the residency policy denies a host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "schema"), derive(schemars::JsonSchema))]
#[serde(tag = "rule", rename_all = "camelCase")]
pub enum Denial {
    #[serde(rename_all = "camelCase")]
    Country { country: String, allowed: Vec<String> },
    #[serde(rename_all = "camelCase")]
    Organization { organization: String, allowed: Vec<String> },
}

impl std::fmt::Display for Denial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Denial::Country { country, allowed } => {
                write!(f, "country {country} not in allowed countries [{}]", allowed.join(", "))
            }
            Denial::Organization { organization, allowed } => {
                write!(f, "managing organisation {organization} not in allowed organisations [{}]", allowed.join(", "))
            }
        }
    }
}

/// One resource of a host that would be over-committed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "schema"), derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Shortfall {
    /// Field name as in [`Resources`]: `cpuCores`, `memoryMib`, `networkMbps`, `ioMbps`.
    pub resource: String,
    pub requested: u64,
    pub free: u64,
    pub capacity: u64,
}

impl std::fmt::Display for Shortfall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} requested {} but {} free of {}", self.resource, self.requested, self.free, self.capacity)
    }
}

fn join<T: std::fmt::Display>(items: &[T]) -> String {
    items.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

/// The error as it crosses the wire: code, human message, structured details.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "schema"), derive(schemars::JsonSchema))]
pub struct WireError {
    pub code: String,
    pub message: String,
    #[serde(default)]
    pub details: serde_json::Value,
}

impl ContractError {
    /// Every code [`ContractError::code`] answers.
    pub const CODES: [&'static str; 9] = [
        "INVALID_ARGUMENT",
        "NOT_FOUND",
        "ALREADY_EXISTS",
        "UNAUTHORIZED",
        "POLICY_DENIED",
        "CAPACITY_EXCEEDED",
        "HOST_UNAVAILABLE",
        "CONFLICT",
        "LEDGER",
    ];

    /// The stable machine-readable code, e.g. `POLICY_DENIED`.
    pub fn code(&self) -> &'static str {
        match self {
            ContractError::InvalidArgument { .. } => "INVALID_ARGUMENT",
            ContractError::NotFound { .. } => "NOT_FOUND",
            ContractError::AlreadyExists { .. } => "ALREADY_EXISTS",
            ContractError::Unauthorized { .. } => "UNAUTHORIZED",
            ContractError::PolicyDenied { .. } => "POLICY_DENIED",
            ContractError::CapacityExceeded { .. } => "CAPACITY_EXCEEDED",
            ContractError::HostUnavailable { .. } => "HOST_UNAVAILABLE",
            ContractError::Conflict { .. } => "CONFLICT",
            ContractError::Ledger { .. } => "LEDGER",
        }
    }

    /// The wire form: what the chaincode returns as its error message.
    pub fn to_wire(&self) -> WireError {
        let details = serde_json::to_value(self)
            .ok()
            .and_then(|mut tagged| tagged.get_mut("details").map(serde_json::Value::take))
            .unwrap_or_default();
        WireError { code: self.code().to_owned(), message: self.to_string(), details }
    }

    /// The wire form as JSON text.
    pub fn to_wire_json(&self) -> String {
        serde_json::to_string(&self.to_wire()).unwrap_or_else(|_| format!("{{\"code\":\"{}\"}}", self.code()))
    }

    /// Reads an error back from its wire form (code + details); `None` for an unknown code.
    pub fn from_wire(wire: &WireError) -> Option<ContractError> {
        serde_json::from_value(serde_json::json!({ "code": wire.code, "details": wire.details })).ok()
    }

    pub(crate) fn invalid(field: &str, reason: impl Into<String>) -> Self {
        ContractError::InvalidArgument { field: field.to_owned(), reason: reason.into() }
    }

    pub(crate) fn not_found(kind: Kind, id: &str) -> Self {
        ContractError::NotFound { kind, id: id.to_owned(), unanchored: None }
    }

    pub(crate) fn conflict(reason: impl Into<String>) -> Self {
        ContractError::Conflict { reason: reason.into() }
    }
}

/// Shorthand used throughout the contract.
pub type Result<T, E = ContractError> = std::result::Result<T, E>;
