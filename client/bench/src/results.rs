//! What a suite measured: the report's types, written by [`crate::report`] as `<tag>.json` and read
//! back by `bench summary`. Kept apart from [`crate::suite`] (which fills them) and
//! [`crate::report`] (which writes them), so that neither depends on the other for its data.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use vmledger_client::workflow::migrate::RunReport;

use crate::procfs::Usage;
use crate::round::RoundResult;
use crate::stats::Summary;

/// Everything one `bench run` measured.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SuiteReport {
    pub tag: String,
    pub smoke: bool,
    pub started_at: String,
    pub machine: Machine,
    /// The network's settings (net.env).
    pub network: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<LatencyPart>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hash: Vec<HashRun>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transfer: Vec<TransferRun>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub closed: Vec<RoundResult>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub closed_ping: Vec<RoundResult>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub open: Vec<RoundResult>,
    /// BASICS on two kinds of chain: local and inter-cloud delay against the rate.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chains: Vec<ChainRound>,
    /// RSS and CPU per part.
    pub resources: BTreeMap<String, Usage>,
    /// Checks of the figures that failed (empty when every number is sane).
    pub problems: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Machine {
    pub cpus: usize,
    pub cpu_model: String,
    pub mem_total_gib: f64,
    pub kernel: String,
    pub load_average: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LatencyPart {
    pub ping: RoundResult,
    pub migration: RoundResult,
    /// Migration (both transactions) p50 / Ping p50, and the same at p95.
    pub ratio_p50: f64,
    pub ratio_p95: f64,
    /// One migration transaction (`Migrate`, client side) p50 / Ping p50.
    pub migrate_tx_ratio_p50: f64,
    pub confirm_tx_ratio_p50: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HashRun {
    pub tool: String,
    pub file: String,
    pub bytes: u64,
    pub megabytes_per_second: Summary,
    pub seconds: Summary,
    pub hash: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransferRun {
    pub image: String,
    pub image_bytes: u64,
    pub rate_limit: String,
    pub rate_limit_mbit: f64,
    pub runs: u32,
    pub failures: BTreeMap<String, u64>,
    pub total_ms: Summary,
    pub transfer_ms: Summary,
    pub hash_ms: Summary,
    pub ledger_critical_ms: Summary,
    pub ledger_ms: Summary,
    pub indicate_client_ms: Summary,
    pub confirm_client_ms: Summary,
    pub ledger_share_percent: Summary,
    /// The workflow's reports (what `vmledger migrate run --json` prints).
    pub reports: Vec<RunReport>,
}

/// Local migrations (inside a cloud, on its chain) or inter-cloud ones (the federation, then the
/// relays' Leave and Arrival).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Kind {
    Local,
    Inter,
}

/// One open-loop round at one rate.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChainRound {
    pub kind: Kind,
    /// Offered migrations per second.
    pub rate: f64,
    /// Members (clouds) of the network.
    pub clouds: usize,
    /// The delay of each migration as BASICS defines it is the round's latency.
    pub round: RoundResult,
    /// Blocks each chain grew by during the round (`federation`, `local-org1`, …).
    pub blocks: BTreeMap<String, u64>,
}
