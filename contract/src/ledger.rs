//! The contract's only door to the world: one small async trait over Fabric's chaincode stub.
//! The wasm glue implements it over the real stub; tests use [`crate::memory::MemoryLedger`].
//!
//! Fabric semantics the contract relies on: reads see committed state, not this transaction's own
//! writes; a transaction that fails writes nothing; one event per transaction (the last set wins);
//! a key's endorsement policy, once set, governs every later change of it (state-based endorsement,
//! checked by every peer at commit); a query of another channel is read-only and unrecorded.

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::model::Timestamp;

/// The transaction being executed: its id, its timestamp (the only clock) and who signed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tx {
    pub id: String,
    pub timestamp: Timestamp,
    pub caller: Caller,
    /// The channel the transaction runs on.
    pub channel: String,
}

/// The signer of a transaction as Fabric's client identity describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Caller {
    pub msp_id: String,
    /// Fabric's identity string: `x509::<subject DN>::<issuer DN>`.
    pub id: String,
    /// Attributes embedded in the certificate (Fabric CA), if any.
    #[serde(default)]
    pub attributes: std::collections::BTreeMap<String, String>,
}

/// A key and its value, from a range read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub key: String,
    pub value: String,
}

/// A page of a range read; `bookmark` is where the next page starts, absent after the last one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RangePage {
    pub entries: Vec<Entry>,
    #[serde(default)]
    pub bookmark: Option<String>,
}

/// One committed version of a key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyVersion {
    pub tx_id: String,
    pub timestamp: Timestamp,
    pub is_delete: bool,
    /// The value written (absent when deleted).
    #[serde(default)]
    pub value: Option<String>,
}

/// Ledger access. Values are JSON text.
#[allow(async_fn_in_trait)] // single-threaded (wasm and tests): no `Send` bound wanted
pub trait Ledger {
    fn tx(&self) -> &Tx;
    async fn get(&self, key: &str) -> Result<Option<String>>;
    async fn put(&self, key: &str, value: &str) -> Result<()>;
    async fn delete(&self, key: &str) -> Result<()>;
    /// Keys in `[start, end)`, at most `page_size` of them (all when 0), starting at `bookmark`.
    /// Paged reads are for queries only (Fabric refuses them in submitted transactions).
    async fn range(&self, start: &str, end: &str, page_size: u32, bookmark: Option<&str>) -> Result<RangePage>;
    /// The newest `limit` committed versions of `key`, oldest of them first.
    async fn history(&self, key: &str, limit: u32) -> Result<Vec<KeyVersion>>;
    /// The transaction's event; Fabric keeps one per transaction.
    fn set_event(&self, name: &str, payload: &str) -> Result<()>;
    /// From now on, a change of `key` is valid only if endorsed by a peer of every member listed
    /// (Fabric's key-level endorsement policy; the chaincode's own policy no longer applies to it).
    async fn set_endorsers(&self, key: &str, msp_ids: &[String]) -> Result<()>;
    /// Evaluates `function` of this chaincode on `channel`, on this same peer: read-only, its
    /// answer's JSON text; a refusal there comes back as the contract's own error.
    async fn query_channel(&self, channel: &str, function: &str, argument: &str) -> Result<String>;
    /// The committed value of `key` in the private data collection `collection`, if this peer holds
    /// it. Fabric refuses a caller whose member is not in the collection (`memberOnlyRead`).
    async fn get_private(&self, collection: &str, key: &str) -> Result<Option<String>>;
    /// Writes `key` in `collection`: the value reaches the collection's members' peers only (gossip),
    /// its SHA-256 goes on every peer's ledger.
    async fn put_private(&self, collection: &str, key: &str, value: &str) -> Result<()>;
    /// Hex SHA-256 of the committed private value of `key`: readable on every peer of the channel,
    /// so a member outside the collection can verify what exists without reading it.
    async fn private_hash(&self, collection: &str, key: &str) -> Result<Option<String>>;
    /// A field of the proposal's transient data: it reaches the endorsing peers and is never
    /// recorded on the ledger (unlike the argument, which every member reads in the block).
    fn transient(&self, name: &str) -> Result<Option<String>>;
}
