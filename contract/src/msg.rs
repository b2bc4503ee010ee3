//! The inputs of every transaction: each takes exactly one JSON object (camelCase).
//! Unknown fields are refused, so a misspelt option is an error rather than silently ignored.

use serde::{Deserialize, Serialize};

use crate::model::{Prices, Regulation, Resources, Timestamp};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "schema"), derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegisterCloud {
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prices: Option<Prices>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "schema"), derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegisterHost {
    pub id: String,
    pub cloud_id: String,
    pub country: String,
    pub organizations: Vec<String>,
    pub capacity: Resources,
}

/// Changes some attributes of a host; absent fields stay as they are.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "schema"), derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateHost {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organizations: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<Resources>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "schema"), derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegisterVm {
    pub id: String,
    pub cloud_id: String,
    pub host_id: String,
    pub requirements: Resources,
    pub image_hash: String,
    pub regulation: Regulation,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "schema"), derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetRegulation {
    pub vm_id: String,
    pub regulation: Regulation,
}

/// The Indication (`Migrate`), and the question `CheckMigration` asks about it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "schema"), derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Migrate {
    pub vm_id: String,
    pub destination_host_id: String,
    /// SHA-256 of the image as the source sends it. A cold migration's Indication carries it; a live
    /// one's does not (its stream's hash is recorded when the stream ends). Optional for
    /// `CheckMigration`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_hash: Option<String>,
    /// HMAC-SHA256 of the image keyed with the transfer key; with `imageHash`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyed_digest: Option<String>,
    /// SHA-256 of the transfer key (32 random bytes the source gives only to the destination, with
    /// the image). Required by `Migrate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transfer_key_hash: Option<String>,
    /// A live migration of a running guest.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub live: bool,
    /// How long the Indication reserves the destination (default 3600 s, at most 86 400 s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_seconds: Option<u32>,
}

/// A live stream's end, recorded by the source before the destination may confirm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "schema"), derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RecordStreamHash {
    pub migration_id: String,
    /// SHA-256 of exactly the stream's bytes.
    pub stream_hash: String,
    /// HMAC-SHA256 of the stream keyed with the transfer key.
    pub keyed_digest: String,
    /// The stream's length.
    pub bytes: u64,
}

/// The Confirmation: the destination reports the hash of what it received, and proves it received
/// the transfer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "schema"), derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConfirmMigration {
    pub migration_id: String,
    pub observed_hash: String,
    /// The transfer key the source sent with the image (64 hex characters).
    pub transfer_key: String,
    /// HMAC-SHA256 of what arrived, keyed with the transfer key.
    pub keyed_digest: String,
}

/// Withdraws an Indication (`CancelMigration`, by the source) or refuses it (`DeclineMigration`, by
/// the destination).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "schema"), derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CloseMigration {
    pub migration_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `Ping` takes an empty object.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "schema"), derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Ping {}

/// `RecordLeave`, `RecordArrival`, `GetLocalRecord`: one inter-cloud migration, by its id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "schema"), derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MigrationRef {
    pub migration_id: String,
}

/// Ends an Indication past its deadline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "schema"), derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExpireMigration {
    pub migration_id: String,
}

/// `GetCloud`, `GetHost`, `GetVm`, `GetMigration`, `VmHistory`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "schema"), derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ById {
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "schema"), derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListHosts {
    pub cloud_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_size: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bookmark: Option<String>,
}

/// Migrations of one VM or touching one cloud (as source or destination), indicated in `[from, to)`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "schema"), derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListMigrations {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vm_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_size: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bookmark: Option<String>,
}

/// Resource use on a cloud's hosts over `[from, to)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "schema"), derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Usage {
    pub cloud_id: String,
    pub from: Timestamp,
    pub to: Timestamp,
}
