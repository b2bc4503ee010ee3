//! The wire vocabulary of vmledger, declared once: the functions the contract answers, the events it
//! emits, every error code any layer answers (with its HTTP status and the CLI's exit code), and
//! the CLI's exit codes.
//!
//! Functions and events are declared in one table each in [`crate::contract`] (the `transactions!`
//! and `events!` invocations there generate the dispatch, the typed event emission and the tables
//! below); codes and exit codes are declared here. The chaincode host defines its Fabric methods
//! from [`FUNCTIONS`] (through the wasm), `scripts/build-wasm` writes everything, with the JSON
//! Schema of every input, output and event payload, to `contract/chaincode/wasm/vocabulary.json`,
//! which the REST proxy loads; the SDK and the CLI use these tables directly.

use serde::Serialize;

pub use crate::contract::{ContractEvent, EVENTS, FUNCTIONS, calls};

/// The chaincode's name, on every channel it runs on.
pub const CHAINCODE: &str = "vmledger";
/// The channel every member keeps (BASICS' consortium chain); any other channel the contract runs
/// on is one member's local chain.
pub const FEDERATION_CHANNEL: &str = "federation";
/// Member `org1`'s local chain is the channel `local-org1` (the member's namespace, see
/// [`crate::ownership::namespace`]).
pub const LOCAL_CHANNEL_PREFIX: &str = "local-";

/// The local chain of the member whose namespace is `namespace`.
pub fn local_channel(namespace: &str) -> String {
    format!("{LOCAL_CHANNEL_PREFIX}{namespace}")
}

/// Whether a function changes the ledger (submitted: endorsed, ordered, committed) or only reads it
/// (evaluated on one peer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Access {
    Submit,
    Evaluate,
}

/// One function of the contract. It takes one JSON object (`input`) and answers one (`output`);
/// the names are those of the types' JSON Schemas in `vocabulary.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Function {
    pub name: &'static str,
    pub access: Access,
    pub input: &'static str,
    pub output: &'static str,
    /// Events a successful call may emit (names in [`EVENTS`]).
    pub emits: &'static [&'static str],
    /// Codes (of origin [`Origin::Contract`]) its refusals may carry.
    pub refuses: &'static [&'static str],
    pub summary: &'static str,
}

/// A function of the contract as a type (one per entry of [`FUNCTIONS`], in [`calls`]): its name,
/// access, and the Rust types of its input and output, so a typed client cannot pair a name with
/// the wrong types: `ledger.submit::<calls::Migrate>(&input)` answers a `Migration`.
pub trait Call {
    const NAME: &'static str;
    const ACCESS: Access;
    type Input: Serialize + serde::de::DeserializeOwned;
    type Output: Serialize + serde::de::DeserializeOwned;
}

/// One chaincode event: its name and the type of its JSON payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    pub name: &'static str,
    pub payload: &'static str,
    pub summary: &'static str,
}

/// Which layer produces a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Origin {
    /// The contract's refusal ([`crate::ContractError::code`]); the REST proxy passes it through.
    Contract,
    /// Fabric's validation code of a transaction committed invalid, as the proxy reports it.
    Validation,
    /// The REST proxy itself (and the destination agent, which answers the same problem documents).
    Proxy,
    /// The Rust SDK, for failures that never reached a server.
    Client,
}

/// One stable error code: who produces it, the HTTP status a problem document with it carries, the
/// exit code of the CLI, and whether the same call may succeed when made again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Code {
    pub code: &'static str,
    pub origin: Origin,
    pub http_status: u16,
    pub exit_code: u8,
    pub retryable: bool,
    pub summary: &'static str,
}

/// The CLI's exit codes (`vmledger`; documented in client/README.md).
pub mod exit {
    use serde::Serialize;

    /// One exit code of the CLI.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
    pub struct ExitCode {
        pub code: u8,
        pub name: &'static str,
        pub summary: &'static str,
    }

    macro_rules! exit_codes {
        ($($name:ident = $value:literal, $summary:literal;)+) => {
            $(#[doc = $summary] pub const $name: u8 = $value;)+
            /// Every exit code, in order.
            pub const EXIT_CODES: &[ExitCode] = &[$(ExitCode { code: $value, name: stringify!($name), summary: $summary },)+];
        };
    }

    exit_codes! {
        OK = 0, "Done.";
        FAILURE = 1, "Anything else: I/O, unexpected answers, a proxy refusal of the request itself.";
        USAGE = 2, "Bad command line or configuration; the contract's INVALID_ARGUMENT.";
        DENIED = 3, "POLICY_DENIED, CAPACITY_EXCEEDED, UNAUTHORIZED, or `migrate check` not permitted.";
        REJECTED = 4, "The destination's hash differs: committed as a rejected migration, the VM stays.";
        UNREACHABLE = 5, "The proxy or the network behind it cannot be reached, is unavailable, busy, or timed out.";
        UNAUTHENTICATED = 6, "The API key, or the identity behind it, was refused.";
        NOT_FOUND = 7, "A record (or a route) that does not exist.";
        CONFLICT = 8, "ALREADY_EXISTS, CONFLICT, HOST_UNAVAILABLE, or a transaction committed invalid.";
        UNKNOWN_OUTCOME = 9, "Sent, but whether it committed is not known yet: look it up by its transaction id, or retry with the same idempotency key.";
    }
}

const fn entry(
    code: &'static str,
    origin: Origin,
    http_status: u16,
    exit_code: u8,
    retryable: bool,
    summary: &'static str,
) -> Code {
    Code { code, origin, http_status, exit_code, retryable, summary }
}

use Origin::{Client, Contract, Proxy, Validation};

/// Every code any layer of vmledger answers. A code is unique: the proxy's own `NOT_FOUND` (an
/// unknown async record, an unknown function) is the contract's, with the same meaning and status.
pub const CODES: &[Code] = &[
    // The contract's (ContractError::CODES).
    entry(
        "INVALID_ARGUMENT",
        Contract,
        400,
        exit::USAGE,
        false,
        "The input is malformed: bad JSON, id, country, hash or amount.",
    ),
    entry(
        "NOT_FOUND",
        Contract,
        404,
        exit::NOT_FOUND,
        false,
        "No such record (cloud, host, VM, migration) or function.",
    ),
    entry("ALREADY_EXISTS", Contract, 409, exit::CONFLICT, false, "A record with this id exists."),
    entry("UNAUTHORIZED", Contract, 403, exit::DENIED, false, "The caller's MSP or role does not allow the action."),
    entry("POLICY_DENIED", Contract, 422, exit::DENIED, false, "The VM's regulation forbids the destination host."),
    entry("CAPACITY_EXCEEDED", Contract, 422, exit::DENIED, false, "The host cannot hold what is asked of it."),
    entry(
        "HOST_UNAVAILABLE",
        Contract,
        409,
        exit::CONFLICT,
        false,
        "The host is down or draining: it takes no new VM (registered or migrated onto it).",
    ),
    entry(
        "CONFLICT",
        Contract,
        409,
        exit::CONFLICT,
        false,
        "The request does not fit the current state (VM already migrating, migration closed…).",
    ),
    entry(
        "LEDGER",
        Contract,
        500,
        exit::FAILURE,
        false,
        "The ledger itself failed under the contract; not the caller's fault.",
    ),
    // Fabric's validation codes (TxValidationCode) of a transaction ordered and committed invalid:
    // every one is a 409; a stale read set is worth endorsing again.
    entry(
        "MVCC_READ_CONFLICT",
        Validation,
        409,
        exit::CONFLICT,
        true,
        "A key read was changed by an earlier transaction of the block; endorse again.",
    ),
    entry(
        "PHANTOM_READ_CONFLICT",
        Validation,
        409,
        exit::CONFLICT,
        true,
        "A range read changed before commit; endorse again.",
    ),
    entry(
        "ENDORSEMENT_POLICY_FAILURE",
        Validation,
        409,
        exit::CONFLICT,
        false,
        "The endorsements do not satisfy the endorsement policy.",
    ),
    entry(
        "DUPLICATE_TXID",
        Validation,
        409,
        exit::CONFLICT,
        false,
        "A transaction with this id was already committed.",
    ),
    entry("NIL_ENVELOPE", Validation, 409, exit::CONFLICT, false, "Fabric validation: empty envelope."),
    entry("BAD_PAYLOAD", Validation, 409, exit::CONFLICT, false, "Fabric validation: malformed payload."),
    entry("BAD_COMMON_HEADER", Validation, 409, exit::CONFLICT, false, "Fabric validation: malformed common header."),
    entry(
        "BAD_CREATOR_SIGNATURE",
        Validation,
        409,
        exit::CONFLICT,
        false,
        "Fabric validation: the creator's signature is invalid.",
    ),
    entry(
        "INVALID_ENDORSER_TRANSACTION",
        Validation,
        409,
        exit::CONFLICT,
        false,
        "Fabric validation: malformed endorser transaction.",
    ),
    entry(
        "INVALID_CONFIG_TRANSACTION",
        Validation,
        409,
        exit::CONFLICT,
        false,
        "Fabric validation: invalid configuration transaction.",
    ),
    entry(
        "UNSUPPORTED_TX_PAYLOAD",
        Validation,
        409,
        exit::CONFLICT,
        false,
        "Fabric validation: unsupported payload type.",
    ),
    entry(
        "BAD_PROPOSAL_TXID",
        Validation,
        409,
        exit::CONFLICT,
        false,
        "Fabric validation: the transaction id does not match the proposal.",
    ),
    entry("UNKNOWN_TX_TYPE", Validation, 409, exit::CONFLICT, false, "Fabric validation: unknown transaction type."),
    entry(
        "TARGET_CHAIN_NOT_FOUND",
        Validation,
        409,
        exit::CONFLICT,
        false,
        "Fabric validation: the channel does not exist.",
    ),
    entry(
        "MARSHAL_TX_ERROR",
        Validation,
        409,
        exit::CONFLICT,
        false,
        "Fabric validation: the transaction cannot be marshalled.",
    ),
    entry("NIL_TXACTION", Validation, 409, exit::CONFLICT, false, "Fabric validation: the transaction has no action."),
    entry(
        "EXPIRED_CHAINCODE",
        Validation,
        409,
        exit::CONFLICT,
        false,
        "Fabric validation: the chaincode definition expired.",
    ),
    entry(
        "CHAINCODE_VERSION_CONFLICT",
        Validation,
        409,
        exit::CONFLICT,
        false,
        "Fabric validation: endorsed by another chaincode version.",
    ),
    entry(
        "BAD_HEADER_EXTENSION",
        Validation,
        409,
        exit::CONFLICT,
        false,
        "Fabric validation: malformed header extension.",
    ),
    entry("BAD_CHANNEL_HEADER", Validation, 409, exit::CONFLICT, false, "Fabric validation: malformed channel header."),
    entry(
        "BAD_RESPONSE_PAYLOAD",
        Validation,
        409,
        exit::CONFLICT,
        false,
        "Fabric validation: malformed response payload.",
    ),
    entry("BAD_RWSET", Validation, 409, exit::CONFLICT, false, "Fabric validation: malformed read-write set."),
    entry("ILLEGAL_WRITESET", Validation, 409, exit::CONFLICT, false, "Fabric validation: the write set is illegal."),
    entry("INVALID_WRITESET", Validation, 409, exit::CONFLICT, false, "Fabric validation: the write set is invalid."),
    entry("INVALID_CHAINCODE", Validation, 409, exit::CONFLICT, false, "Fabric validation: the chaincode is invalid."),
    entry("NOT_VALIDATED", Validation, 409, exit::CONFLICT, false, "Fabric validation: not validated (yet)."),
    entry(
        "INVALID_OTHER_REASON",
        Validation,
        409,
        exit::CONFLICT,
        false,
        "Fabric validation: invalid for another reason; also any validation code this table lacks.",
    ),
    // The REST proxy's own (and the destination agent's).
    entry(
        "BAD_REQUEST",
        Proxy,
        400,
        exit::FAILURE,
        false,
        "Malformed request: JSON, names, arity, query parameters, resume position.",
    ),
    entry(
        "UNAUTHENTICATED",
        Proxy,
        401,
        exit::UNAUTHENTICATED,
        false,
        "Missing or unknown API key; Fabric was not touched.",
    ),
    entry("FORBIDDEN", Proxy, 403, exit::UNAUTHENTICATED, false, "The peer denied the identity behind the key."),
    entry(
        "ROUTE_NOT_FOUND",
        Proxy,
        404,
        exit::NOT_FOUND,
        false,
        "No such route, or a chaincode this proxy does not serve.",
    ),
    entry("METHOD_NOT_ALLOWED", Proxy, 405, exit::FAILURE, false, "The route exists with other methods (see Allow)."),
    entry("PAYLOAD_TOO_LARGE", Proxy, 413, exit::FAILURE, false, "The request body is over the proxy's limit."),
    entry(
        "TOO_MANY_REQUESTS",
        Proxy,
        429,
        exit::UNREACHABLE,
        true,
        "Too many requests or event streams in flight; retry after Retry-After.",
    ),
    entry(
        "INTERNAL",
        Proxy,
        500,
        exit::UNREACHABLE,
        false,
        "A fault in the proxy (or agent) itself; details are in its log.",
    ),
    entry("CHAINCODE_ERROR", Proxy, 502, exit::UNREACHABLE, false, "The chaincode failed without a contract error."),
    entry("GATEWAY_ERROR", Proxy, 502, exit::UNREACHABLE, false, "The Fabric Gateway failed in an unclassified way."),
    entry(
        "UNAVAILABLE",
        Proxy,
        503,
        exit::UNREACHABLE,
        true,
        "Peer, orderer, endorsers or chaincode unavailable, or the proxy is shutting down.",
    ),
    entry("TIMEOUT", Proxy, 503, exit::UNREACHABLE, true, "A step went over its deadline (the proxy's or the SDK's)."),
    entry(
        "IDEMPOTENCY_KEY_REUSED",
        Proxy,
        422,
        exit::CONFLICT,
        false,
        "The Idempotency-Key was already used for another call; nothing was sent.",
    ),
    // The SDK's, for failures that never produced a problem document; the status is what a server
    // relaying one (the agent) answers.
    entry(
        "UNREACHABLE",
        Client,
        503,
        exit::UNREACHABLE,
        true,
        "The proxy could not be reached, or the connection broke.",
    ),
    entry(
        "UNKNOWN_OUTCOME",
        Client,
        503,
        exit::UNKNOWN_OUTCOME,
        true,
        "The transaction was sent and its outcome could not be seen in time; it carries the transaction id. \
         Retrying with the same idempotency key is safe: it never applies twice.",
    ),
    entry("PROTOCOL", Client, 502, exit::FAILURE, false, "The proxy's answer did not have the documented shape."),
    entry("CODEC", Client, 502, exit::FAILURE, false, "An argument could not be encoded, or a result decoded."),
    entry(
        "STREAM_PROBLEM",
        Client,
        502,
        exit::UNREACHABLE,
        false,
        "The event stream ended with a problem that was not a problem document.",
    ),
];

/// The entry of a code, if any layer answers it.
pub fn code(name: &str) -> Option<&'static Code> {
    CODES.iter().find(|c| c.code == name)
}

/// The entry of a function, if the contract answers it.
pub fn function(name: &str) -> Option<&'static Function> {
    FUNCTIONS.iter().find(|f| f.name == name)
}

/// The entry of an event, if the contract emits it.
pub fn event(name: &str) -> Option<&'static Event> {
    EVENTS.iter().find(|e| e.name == name)
}

/// Declares the contract's functions: one entry each (name, access, handler, input type, output
/// type, events emitted, codes refused with, summary) generates `execute`'s dispatch, [`FUNCTIONS`]
/// and, with the `schema` feature, the functions' JSON Schemas.
macro_rules! transactions {
    ($(
        $name:ident: $access:ident $($handler:ident)::+ ($input:ident) -> $output:ident $(<$item:ident>)?,
        emits [$($event:ident),*], refuses [$($code:ident),*],
        $summary:literal;
    )+) => {
        /// Runs `function` with its one JSON `argument`; answers JSON text.
        ///
        /// # Errors
        /// Whatever the function refuses with; `NOT_FOUND` (kind `function`) for an unknown function;
        /// `INVALID_ARGUMENT` when the argument does not decode.
        pub async fn execute(ledger: &impl Ledger, function: &str, argument: &str) -> Result<String> {
            match function {
                $(stringify!($name) => answer::<$output $(<$item>)?>($($handler)::+(ledger, decode::<$input>(argument)?).await),)+
                other => Err(ContractError::not_found(Kind::Function, other)),
            }
        }

        /// Every function of the contract, in declaration order.
        pub const FUNCTIONS: &[$crate::vocabulary::Function] = &[$(
            $crate::vocabulary::Function {
                name: stringify!($name),
                access: $crate::vocabulary::Access::$access,
                input: stringify!($input),
                // `Page<Host>` is named `HostPage` (its schema name: see model::Page).
                output: concat!($(stringify!($item),)? stringify!($output)),
                emits: &[$(stringify!($event)),*],
                refuses: &[$(stringify!($code)),*],
                summary: $summary,
            },
        )+];

        /// One type per function of the contract, carrying its name, access, input and output types.
        pub mod calls {
            $(
                #[doc = $summary]
                #[derive(Debug, Clone, Copy, PartialEq, Eq)]
                pub struct $name;

                impl $crate::vocabulary::Call for $name {
                    const NAME: &'static str = stringify!($name);
                    const ACCESS: $crate::vocabulary::Access = $crate::vocabulary::Access::$access;
                    type Input = super::$input;
                    type Output = super::$output $(<super::$item>)?;
                }
            )+
        }

        /// Each function's name with the JSON Schemas of its input and output.
        #[cfg(any(test, feature = "schema"))]
        pub(crate) fn function_schemas(
            generator: &mut schemars::SchemaGenerator,
        ) -> Vec<(&'static str, schemars::Schema, schemars::Schema)> {
            vec![$((
                stringify!($name),
                generator.subschema_for::<$input>(),
                generator.subschema_for::<$output $(<$item>)?>(),
            ),)+]
        }
    };
}
pub(crate) use transactions;

/// Declares the contract's events: one entry each (name, payload type, summary) generates the
/// emission type (so a place that emits names the event and its payload type is checked),
/// [`EVENTS`], [`ContractEvent`] for clients and, with the `schema` feature, the payloads' schemas.
macro_rules! events {
    ($($name:ident($payload:ident), $summary:literal;)+) => {
        /// An event as the contract emits it, borrowing the record whose change it announces.
        #[derive(Debug, Clone, Copy)]
        pub(crate) enum Emit<'a> {
            $($name(&'a $payload),)+
        }

        impl Emit<'_> {
            pub(crate) fn name(&self) -> &'static str {
                match self {
                    $(Emit::$name(_) => stringify!($name),)+
                }
            }

            pub(crate) fn payload(&self) -> Result<String> {
                match self {
                    $(Emit::$name(record) => state::to_json(record),)+
                }
            }
        }

        /// Every event of the contract, in declaration order.
        pub const EVENTS: &[$crate::vocabulary::Event] = &[$(
            $crate::vocabulary::Event { name: stringify!($name), payload: stringify!($payload), summary: $summary },
        )+];

        /// A chaincode event read back by a client, typed by its name.
        #[derive(Debug, Clone, PartialEq)]
        pub enum ContractEvent {
            $($name($payload),)+
        }

        impl ContractEvent {
            /// The event's name, as on the wire.
            pub fn name(&self) -> &'static str {
                match self {
                    $(ContractEvent::$name(_) => stringify!($name),)+
                }
            }

            /// Decodes an event from its name and JSON payload: `None` for a name the contract does
            /// not emit.
            ///
            /// # Errors
            /// `Some(Err)` when the payload does not decode as the event's payload type.
            pub fn decode(name: &str, payload: &str) -> Option<serde_json::Result<ContractEvent>> {
                match name {
                    $(stringify!($name) => Some(serde_json::from_str(payload).map(ContractEvent::$name)),)+
                    _ => None,
                }
            }
        }

        /// Each event's name with the JSON Schema of its payload.
        #[cfg(any(test, feature = "schema"))]
        pub(crate) fn event_schemas(generator: &mut schemars::SchemaGenerator) -> Vec<(&'static str, schemars::Schema)> {
            vec![$((stringify!($name), generator.subschema_for::<$payload>()),)+]
        }
    };
}
pub(crate) use events;

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::error::{ContractError, Denial, Kind, Shortfall};

    /// One error of every variant. The match makes a new variant a compile error here.
    fn one_of_each() -> Vec<ContractError> {
        let all = vec![
            ContractError::InvalidArgument { field: "f".into(), reason: "r".into() },
            ContractError::NotFound { kind: Kind::Vm, id: "v".into(), unanchored: None },
            ContractError::AlreadyExists { kind: Kind::Cloud, id: "c".into() },
            ContractError::Unauthorized { rule: "r".into(), caller_msp_id: "Org2MSP".into(), caller_role: None },
            ContractError::PolicyDenied {
                vm_id: "v".into(),
                host_id: "h".into(),
                reasons: vec![Denial::Country { country: "DE".into(), allowed: vec!["JP".into()] }],
            },
            ContractError::CapacityExceeded {
                host_id: "h".into(),
                shortfalls: vec![Shortfall { resource: "cpuCores".into(), requested: 2, free: 1, capacity: 1 }],
            },
            ContractError::HostUnavailable {
                host_id: "h".into(),
                availability: crate::placement::Availability::Draining,
                since: Some(chrono::DateTime::UNIX_EPOCH),
            },
            ContractError::Conflict { reason: "r".into() },
            ContractError::Ledger { reason: "r".into() },
        ];
        for e in &all {
            match e {
                ContractError::InvalidArgument { .. }
                | ContractError::NotFound { .. }
                | ContractError::AlreadyExists { .. }
                | ContractError::Unauthorized { .. }
                | ContractError::PolicyDenied { .. }
                | ContractError::CapacityExceeded { .. }
                | ContractError::HostUnavailable { .. }
                | ContractError::Conflict { .. }
                | ContractError::Ledger { .. } => {}
            }
        }
        all
    }

    #[test]
    fn the_contract_codes_are_the_error_variants_codes_and_their_wire_tags() {
        let errors = one_of_each();
        let codes: Vec<&str> = errors.iter().map(ContractError::code).collect();
        assert_eq!(codes, ContractError::CODES, "ContractError::CODES lists code() of every variant, in order");
        for e in &errors {
            assert_eq!(e.to_wire().code, e.code());
            assert_eq!(serde_json::to_value(e).expect("json")["code"], e.code(), "serde's tag is the code");
            assert_eq!(ContractError::from_wire(&e.to_wire()).as_ref(), Some(e), "round trip");
        }
        let contract: Vec<&str> = CODES.iter().filter(|c| c.origin == Origin::Contract).map(|c| c.code).collect();
        assert_eq!(contract, ContractError::CODES, "the vocabulary's contract codes are ContractError::CODES");
    }

    #[test]
    fn codes_are_unique_with_a_known_exit_code_and_an_error_status() {
        let mut seen = BTreeSet::new();
        let exits: BTreeSet<u8> = exit::EXIT_CODES.iter().map(|e| e.code).collect();
        for c in CODES {
            assert!(seen.insert(c.code), "{} declared twice", c.code);
            assert!(exits.contains(&c.exit_code), "{}: exit code {} is not an exit code", c.code, c.exit_code);
            assert_ne!(c.exit_code, exit::OK, "{} is an error: not exit 0", c.code);
            assert!((400..600).contains(&c.http_status), "{}: {} is not an error status", c.code, c.http_status);
            assert!(c.code.chars().all(|ch| ch.is_ascii_uppercase() || ch == '_'), "{}", c.code);
            assert_eq!(code(c.code), Some(c));
        }
        assert_eq!(code("NO_SUCH_CODE"), None);
    }

    #[test]
    fn exit_codes_are_numbered_from_zero_without_gaps() {
        for (i, e) in exit::EXIT_CODES.iter().enumerate() {
            assert_eq!(usize::from(e.code), i, "{}", e.name);
        }
        assert_eq!((exit::OK, exit::USAGE, exit::DENIED, exit::CONFLICT), (0, 2, 3, 8));
    }

    #[test]
    fn functions_are_unique_and_name_declared_events_and_contract_codes() {
        let mut seen = BTreeSet::new();
        for f in FUNCTIONS {
            assert!(seen.insert(f.name), "{} declared twice", f.name);
            assert_eq!(function(f.name), Some(f));
            for e in f.emits {
                assert!(event(e).is_some(), "{} emits undeclared event {e}", f.name);
            }
            assert!(f.refuses.contains(&"INVALID_ARGUMENT"), "{}: every input can be malformed", f.name);
            for c in f.refuses {
                assert_eq!(code(c).map(|c| c.origin), Some(Origin::Contract), "{} refuses with {c}", f.name);
            }
            if f.access == Access::Evaluate {
                assert!(f.emits.is_empty(), "{} is evaluated: its events would never be committed", f.name);
            }
        }
        assert_eq!(function("Teleport"), None);
    }

    #[test]
    fn each_function_is_a_type_with_its_entrys_name_access_and_types() {
        fn entry<C: Call>() -> (&'static str, Access) {
            (C::NAME, C::ACCESS)
        }
        assert_eq!(entry::<calls::Migrate>(), ("Migrate", Access::Submit));
        assert_eq!(entry::<calls::ListHosts>(), ("ListHosts", Access::Evaluate));
        let input: <calls::Migrate as Call>::Input = serde_json::from_str(r#"{"vmId":"v","destinationHostId":"h"}"#)
            .expect("Migrate's input type is msg::Migrate");
        assert_eq!(input.vm_id, "v");
        let page: <calls::ListHosts as Call>::Output =
            serde_json::from_str(r#"{"items":[]}"#).expect("a page of hosts");
        assert!(page.items.is_empty());
        for f in FUNCTIONS {
            assert_eq!(function(f.name).map(|g| g.access), Some(f.access));
        }
    }

    #[test]
    fn every_event_is_emitted_by_some_function_and_decodes_its_payload_type() {
        for e in EVENTS {
            assert!(FUNCTIONS.iter().any(|f| f.emits.contains(&e.name)), "no function emits {}", e.name);
        }
        let decoded = ContractEvent::decode(
            "CloudRegistered",
            r#"{"id":"c","name":"C","mspId":"Org1MSP","registeredAt":"2026-01-01T00:00:00Z"}"#,
        );
        assert_eq!(decoded.expect("a contract event").expect("payload decodes").name(), "CloudRegistered");
        assert!(ContractEvent::decode("MigrationIndicated", "{}").expect("a contract event").is_err());
        assert!(ContractEvent::decode("Teleported", "{}").is_none());
    }
}
