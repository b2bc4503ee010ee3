//! The domain: what the ledger stores. Every type is JSON in camelCase on the wire and in state.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A point in time on the ledger: always a transaction's timestamp, never a clock.
pub type Timestamp = DateTime<Utc>;

/// A cloud of the federation, run by the member whose Fabric MSP registered it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "schema"), derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Cloud {
    pub id: String,
    pub name: String,
    /// MSP id of the operator; only this member may act for the cloud.
    pub msp_id: String,
    /// What this cloud charges per resource-hour to VMs it hosts for other clouds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prices: Option<Prices>,
    pub registered_at: Timestamp,
}

/// Prices per resource-hour, in micro-units of `currency` (integers: money is never a float).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "schema"), derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Prices {
    pub currency: String,
    pub cpu_core_hour: u64,
    pub memory_gib_hour: u64,
    pub network_mbps_hour: u64,
    pub io_mbps_hour: u64,
}

/// Amounts of the four resources a host offers and a VM needs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "schema"), derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Resources {
    pub cpu_cores: u64,
    pub memory_mib: u64,
    pub network_mbps: u64,
    pub io_mbps: u64,
}

/// A physical host of a cloud: where it stands (the seed's COUNTRY), who manages it (ORGANIZATION),
/// and what it can hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "schema"), derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Host {
    pub id: String,
    pub cloud_id: String,
    /// ISO 3166-1 alpha-2, upper case.
    pub country: String,
    /// Organisations that manage the host; at least one.
    pub organizations: Vec<String>,
    pub capacity: Resources,
    /// When it was registered or last changed.
    pub updated_at: Timestamp,
}

/// What is committed on a host: VMs running there, and VMs on their way there (reserved at `Migrate`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "schema"), derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Allocation {
    pub running: Resources,
    pub reserved: Resources,
    /// On a local chain only, whose allocation of a host records what that chain changed of the
    /// federation's: `running` there is what local migrations moved onto the host, this is what they
    /// moved off it.
    #[serde(default, skip_serializing_if = "Resources::is_zero")]
    pub moved_out: Resources,
}

/// Where a VM's data may go (the seed's REGULATION).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "schema"), derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Regulation {
    pub countries: Allowed,
    pub organizations: Allowed,
}

/// Either every value (`"All"` on the wire) or only those listed (`["JP", "GB"]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Allowed {
    All,
    Only(Vec<String>),
}

impl Serialize for Allowed {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Allowed::All => serializer.serialize_str("All"),
            Allowed::Only(values) => values.serialize(serializer),
        }
    }
}

// Hand-written like its serde impls: either the word "All" or a list of strings.
#[cfg(any(test, feature = "schema"))]
impl schemars::JsonSchema for Allowed {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Allowed".into()
    }

    fn json_schema(_generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "Either every value (the word \"All\") or only those listed.",
            "oneOf": [
                {"const": "All"},
                {"type": "array", "items": {"type": "string"}}
            ]
        })
    }
}

impl<'de> Deserialize<'de> for Allowed {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Wire {
            Word(String),
            List(Vec<String>),
        }
        match Wire::deserialize(deserializer)? {
            Wire::Word(word) if word == "All" => Ok(Allowed::All),
            Wire::Word(word) => Err(serde::de::Error::custom(format!("expected \"All\" or a list, found \"{word}\""))),
            Wire::List(values) => Ok(Allowed::Only(values)),
        }
    }
}

/// A virtual machine, operated by one cloud, running on one host (possibly of another cloud).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "schema"), derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachine {
    pub id: String,
    /// The operator: the only cloud that may move the VM or change its regulation.
    pub cloud_id: String,
    pub host_id: String,
    pub requirements: Resources,
    /// SHA-256 (lower-case hex) of the image as last accepted (the seed's VM_ID).
    pub image_hash: String,
    pub regulation: Regulation,
    pub status: VmStatus,
    /// When the VM arrived on its current host; also the start of its open residency.
    pub since: Timestamp,
    /// The transaction that opened the current residency.
    pub residency_tx_id: String,
    /// The migration in flight, while `status` is `migrating`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_migration_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "schema"), derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub enum VmStatus {
    Running,
    Migrating,
}

/// A cloud and one of its hosts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "schema"), derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Placement {
    pub cloud_id: String,
    pub host_id: String,
}

/// `local` within one cloud, `inter` across clouds (BASICS' two chains).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "schema"), derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub enum Scope {
    Local,
    Inter,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "schema"), derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub enum MigrationStatus {
    Indicated,
    Confirmed,
    Rejected,
    Cancelled,
    /// The destination refused the Indication (no tamper evidence).
    Declined,
    /// Nobody confirmed before its deadline; its reservation is released.
    Expired,
}

/// Who signed a transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "schema"), derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Signer {
    pub msp_id: String,
    pub id: String,
}

/// One migration, from the Indication (`Migrate`) to its end (confirmed, rejected or cancelled).
/// Its id is the id of the `Migrate` transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "schema"), derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Migration {
    pub id: String,
    pub vm_id: String,
    pub source: Placement,
    pub destination: Placement,
    pub scope: Scope,
    /// A live migration (a running guest's stream) rather than an image copied cold.
    #[serde(default)]
    pub live: bool,
    /// The hash the source recorded before sending the image (cold), or when its stream ended
    /// (live; absent until then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recorded_hash: Option<String>,
    /// HMAC-SHA256, keyed with the transfer key, over the same bytes as `recorded_hash`: what the
    /// destination reproduces to prove it holds them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyed_digest: Option<String>,
    /// Length of a live stream, recorded with its hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_bytes: Option<u64>,
    /// When the source recorded a live stream's hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_recorded_at: Option<Timestamp>,
    /// SHA-256 of the transfer key: the source gives the key to the destination with the image only;
    /// its uploads are authenticated with it, and the destination reveals it to confirm.
    pub transfer_key_hash: String,
    /// The VM's requirements at the time: what was reserved on the destination.
    pub requirements: Resources,
    /// The transaction that opened the VM's stay on the source (its registration or last arrival
    /// in that cloud): the stay this migration ends.
    pub source_stay_tx_id: String,
    pub status: MigrationStatus,
    pub indicated_at: Timestamp,
    /// After this, the Indication no longer reserves the destination, and it can only expire.
    pub expires_at: Timestamp,
    pub requested_by: Signer,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_by: Option<Signer>,
    /// The hash the destination computed; differs from `recorded_hash` on a rejection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_hash: Option<String>,
    /// Why it was cancelled or declined, when the member said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A stay of a VM on a host: the evidence for billing and SLA disputes. Open while `to` is absent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "schema"), derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Residency {
    pub vm_id: String,
    /// The cloud operating the VM: who is billed.
    pub operator_cloud_id: String,
    /// The cloud hosting it: who bills.
    pub cloud_id: String,
    pub host_id: String,
    pub from: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<Timestamp>,
    pub requirements: Resources,
    /// The transaction that opened it (registration or a confirmed migration).
    pub opened_by_tx: String,
}

/// The answer of `CheckMigration`: permitted, or every rule the migration would break.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "schema"), derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct MigrationCheck {
    pub permitted: bool,
    pub violations: Vec<crate::ContractError>,
}

/// One version of a VM's regulation, from the ledger's history of the VM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "schema"), derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct RegulationChange {
    pub tx_id: String,
    pub at: Timestamp,
    pub regulation: Regulation,
}

/// Everything the ledger knows about one VM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "schema"), derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct VmHistory {
    pub vm: VirtualMachine,
    /// Its migrations, oldest first (at most [`crate::query::MAX_HISTORY`]; `ListMigrations` pages
    /// through all of them).
    pub migrations: Vec<Migration>,
    /// Its stays, oldest first (at most [`crate::query::MAX_HISTORY`]).
    pub residencies: Vec<Residency>,
    /// The changes of its regulation, from its newest [`crate::query::MAX_HISTORY`] versions.
    pub regulation_changes: Vec<RegulationChange>,
    /// Whether a list was cut at [`crate::query::MAX_HISTORY`] (never silently).
    #[serde(default)]
    pub truncated: bool,
    /// Keys of migrations and stays left out because the VM's operator never endorsed their
    /// creation (see `crate::anchor`).
    #[serde(default)]
    pub unanchored: Vec<String>,
}

/// One page of a listing; pass `bookmark` back to get the next, absent on the last page.
// Its schema is named after the item, `HostPage`, `MigrationPage`, as `vocabulary::FUNCTIONS` names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "schema"), derive(schemars::JsonSchema))]
#[cfg_attr(any(test, feature = "schema"), schemars(rename = "{T}Page"))]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    pub items: Vec<T>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bookmark: Option<String>,
    /// Keys of records of this page left out because their owner never endorsed their creation
    /// (see `crate::anchor`); absent when none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unanchored: Vec<String>,
}

/// Resource use of one VM on one cloud's hosts over a period: the billing evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "schema"), derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct VmUsage {
    pub vm_id: String,
    pub operator_cloud_id: String,
    /// Milliseconds the VM spent on the cloud's hosts within the period.
    pub duration_ms: u64,
    pub cpu_core_hours: f64,
    pub memory_gib_hours: f64,
    pub network_mbps_hours: f64,
    pub io_mbps_hours: f64,
    /// In micro-units of the report's currency; absent when the cloud set no prices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<u64>,
    pub residencies: Vec<Residency>,
}

/// `Usage`: what a cloud hosted over a period, per VM, with cost where the cloud set prices.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "schema"), derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct UsageReport {
    pub cloud_id: String,
    pub from: Timestamp,
    pub to: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    pub vms: Vec<VmUsage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_cost: Option<u64>,
    /// Accepted violation claims against this cloud in the period: credits it owes the claimants.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub credits: Vec<crate::claims::Credit>,
    /// The credits in the report's currency, summed (absent without prices).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_credits: Option<u64>,
    /// `totalCost` less `totalCredits` (never below 0): what billing charges.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub net_cost: Option<u64>,
    /// Keys of stays left out, never billed, because the member they would bill (the VM's
    /// operator) never endorsed their creation, or they are not this cloud's; and of credit index
    /// entries this cloud's member never accepted (see `crate::anchor`).
    #[serde(default)]
    pub unanchored: Vec<String>,
}

/// What `Ping` answers: the floor transaction that benchmarks compare against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "schema"), derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Pong {
    pub tx_id: String,
    pub at: Timestamp,
}

/// Which end of an inter-cloud migration a local chain records (BASICS): the VM left this member's
/// cloud, or arrived in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "schema"), derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub enum Crossing {
    Leave,
    Arrival,
}

/// A Leave or an Arrival on a member's local chain, written by its relay once the federation holds
/// the migration's Confirmation (checked there by the contract, never taken on the relay's word).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "schema"), derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct LocalRecord {
    pub migration_id: String,
    pub crossing: Crossing,
    pub vm_id: String,
    /// This member's cloud, which the VM left or entered.
    pub cloud_id: String,
    /// The host it left (where it really was, after any moves inside the cloud) or arrived on.
    pub host_id: String,
    pub requirements: Resources,
    /// The Confirmation's time on the federation.
    pub confirmed_at: Timestamp,
    pub recorded_at: Timestamp,
    pub recorded_by: Signer,
}

/// What a local chain holds of one inter-cloud migration: its Leave, its Arrival, or both (a move
/// between two clouds of one member).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "schema"), derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct LocalRecords {
    pub migration_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leave: Option<LocalRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arrival: Option<LocalRecord>,
}
