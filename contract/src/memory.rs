//! An in-memory ledger with Fabric's transaction semantics, for tests without a chain: reads see
//! committed state only; writes, key-level endorsement policies and the event are kept aside and
//! applied when the transaction succeeds, discarded when it fails; every committed write is kept as
//! the key's history. Ledgers of other channels on "the same peer" can be linked, for the
//! contract's read-only cross-channel queries.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use chrono::{Duration, TimeZone, Utc};
use sha2::Digest;

use crate::error::{ContractError, Result};
use crate::ledger::{Caller, Entry, KeyVersion, Ledger, RangePage, Tx};
use crate::model::Timestamp;

/// A chaincode event as committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub tx_id: String,
    pub name: String,
    pub payload: String,
}

/// What one transaction did: its answer, and what it wrote and emitted (applied only on success).
#[derive(Debug)]
pub struct Outcome {
    pub result: Result<String>,
    /// Key → new value (`None` for a delete).
    pub writes: BTreeMap<String, Option<String>>,
    pub event: Option<Event>,
    /// Members whose endorsement Fabric would require of this transaction at commit: every member
    /// of the committed key-level policy of each key it writes, and the owner of each member's
    /// implicit collection it writes.
    pub endorsers: BTreeSet<String>,
    /// Keys it writes that have no key-level policy yet (the chaincode's own policy governs them).
    pub unowned_writes: BTreeSet<String>,
    /// (collection, key) → new private value.
    pub private_writes: BTreeMap<(String, String), String>,
}

/// The world state, its history, and a clock that moves one second per transaction.
#[derive(Debug, Default)]
pub struct MemoryLedger {
    state: RefCell<BTreeMap<String, String>>,
    history: RefCell<BTreeMap<String, Vec<KeyVersion>>>,
    events: RefCell<Vec<Event>>,
    clock: RefCell<i64>,
    tx_count: RefCell<u64>,
    /// Entries read by transactions so far (values got, entries ranged, versions of history).
    reads: RefCell<u64>,
    /// Committed key-level endorsement policies: key → members that must all endorse.
    policies: RefCell<BTreeMap<String, Vec<String>>>,
    /// The channel this ledger is (empty: the federation).
    channel: String,
    /// Ledgers of other channels on the same peer.
    neighbours: RefCell<Vec<Rc<MemoryLedger>>>,
    /// Private data collections of the chaincode definition: name → member MSP ids.
    collections: RefCell<BTreeMap<String, Vec<String>>>,
    /// Committed private data: (collection, key) → value. This stand-in is every member's peer at
    /// once; the collection's membership is enforced on the caller, as `memberOnlyRead` does.
    private: RefCell<BTreeMap<(String, String), String>>,
    /// Members that left the channel: their implicit collections are gone.
    departed: RefCell<BTreeSet<String>>,
}

impl MemoryLedger {
    /// An empty federation ledger whose clock starts at 2026-01-01T00:00:00Z.
    pub fn new() -> Self {
        Self::on_channel(crate::vocabulary::FEDERATION_CHANNEL)
    }

    /// An empty ledger of `channel`, its clock at 2026-01-01T00:00:00Z.
    pub fn on_channel(channel: &str) -> Self {
        let ledger = Self { channel: channel.to_owned(), ..Self::default() };
        *ledger.clock.borrow_mut() =
            Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single().map_or(0, |t| t.timestamp_millis());
        ledger
    }

    /// Makes `other` (another channel) reachable by this ledger's cross-channel queries.
    pub fn link(&self, other: Rc<MemoryLedger>) {
        self.neighbours.borrow_mut().push(other);
    }

    /// The committed key-level endorsement policy of `key`.
    pub fn endorsers_of(&self, key: &str) -> Option<Vec<String>> {
        self.policies.borrow().get(key).cloned()
    }

    /// The time the next transaction will carry.
    pub fn now(&self) -> Timestamp {
        Utc.timestamp_millis_opt(*self.clock.borrow()).single().unwrap_or_default()
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        *self.clock.borrow_mut() += by.num_milliseconds();
    }

    /// Moves the clock back: the next transaction carries an earlier time, as a client forging its
    /// proposal's timestamp would give it.
    pub fn rewind(&self, by: Duration) {
        *self.clock.borrow_mut() -= by.num_milliseconds();
    }

    /// How many entries transactions have read so far (to show that work is bounded).
    pub fn reads(&self) -> u64 {
        *self.reads.borrow()
    }

    /// Declares a private data collection of the chaincode definition and its members.
    pub fn add_collection(&self, name: &str, msp_ids: &[&str]) {
        self.collections.borrow_mut().insert(name.to_owned(), msp_ids.iter().map(|m| (*m).to_owned()).collect());
    }

    /// A committed private value, as a member's peer holds it.
    pub fn private_value(&self, collection: &str, key: &str) -> Option<String> {
        self.private.borrow().get(&(collection.to_owned(), key.to_owned())).cloned()
    }

    /// Runs one transaction as `caller`, committing it if it succeeds.
    pub async fn submit(&self, caller: &Caller, function: &str, argument: &str) -> Outcome {
        self.submit_with_transient(caller, function, argument, &[]).await
    }

    /// Runs one transaction as `caller` with the proposal's transient data (name, value).
    pub async fn submit_with_transient(
        &self,
        caller: &Caller,
        function: &str,
        argument: &str,
        transient: &[(&str, &str)],
    ) -> Outcome {
        let tx_number = {
            let mut count = self.tx_count.borrow_mut();
            *count += 1;
            *count
        };
        let tx = Tx {
            id: format!("{tx_number:064x}"),
            timestamp: self.now(),
            caller: caller.clone(),
            channel: self.channel.clone(),
        };
        self.advance(Duration::seconds(1));
        let mut view = TxView::new(self, tx);
        view.transient = transient.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        let result = crate::contract::execute(&view, function, argument).await;
        let private_writes = view.private_writes.into_inner();
        let writes = view.writes.into_inner();
        let event = view.event.into_inner();
        let set_policies = view.policies.into_inner();
        let (mut endorsers, mut unowned_writes) = (BTreeSet::new(), BTreeSet::new());
        {
            let policies = self.policies.borrow();
            for key in writes.keys().chain(set_policies.keys()) {
                match policies.get(key) {
                    Some(members) => endorsers.extend(members.iter().cloned()),
                    None => {
                        unowned_writes.insert(key.clone());
                    }
                }
            }
        }
        // A write into a member's implicit collection needs that member's endorsement (the
        // collection's policy is the member's own), for new keys too.
        endorsers.extend(private_writes.keys().filter_map(|(collection, _)| crate::anchor::implicit_owner(collection)));
        if result.is_ok() {
            self.commit(&view.tx, &writes, event.as_ref());
            self.policies.borrow_mut().extend(set_policies);
            self.private.borrow_mut().extend(private_writes.clone());
        }
        Outcome { result, writes, event, endorsers, unowned_writes, private_writes }
    }

    fn commit(&self, tx: &Tx, writes: &BTreeMap<String, Option<String>>, event: Option<&Event>) {
        let mut state = self.state.borrow_mut();
        let mut history = self.history.borrow_mut();
        for (key, value) in writes {
            match value {
                Some(value) => state.insert(key.clone(), value.clone()),
                None => state.remove(key),
            };
            history.entry(key.clone()).or_default().push(KeyVersion {
                tx_id: tx.id.clone(),
                timestamp: tx.timestamp,
                is_delete: value.is_none(),
                value: value.clone(),
            });
        }
        self.events.borrow_mut().extend(event.cloned());
    }

    /// Every committed event, oldest first.
    pub fn events(&self) -> Vec<Event> {
        self.events.borrow().clone()
    }

    /// A committed value.
    pub fn value(&self, key: &str) -> Option<String> {
        self.state.borrow().get(key).cloned()
    }

    /// A snapshot of the whole committed state.
    pub fn snapshot(&self) -> BTreeMap<String, String> {
        self.state.borrow().clone()
    }

    /// Commits `writes` as a transaction of a modified contract would, endorsed by a majority that
    /// does not include the owner: the chaincode's policy lets it create keys that do not exist
    /// yet (Fabric would invalidate a write into an owner's implicit collection, so none here).
    pub fn forge(&self, writes: &[(&str, String)]) {
        let tx = Tx {
            id: format!("{:064x}", u64::MAX - *self.tx_count.borrow()),
            timestamp: self.now(),
            caller: Caller {
                msp_id: "Org2MSP".into(),
                id: "x509::CN=forger::CN=ca".into(),
                attributes: BTreeMap::new(),
            },
            channel: self.channel.clone(),
        };
        let writes: BTreeMap<String, Option<String>> =
            writes.iter().map(|(key, value)| ((*key).to_owned(), Some(value.clone()))).collect();
        self.commit(&tx, &writes, None);
    }

    /// The member `msp_id` leaves the channel: Fabric no longer defines its implicit collection.
    pub fn leave(&self, msp_id: &str) {
        self.departed.borrow_mut().insert(msp_id.to_owned());
    }

    /// Commits a private value as a member's own peers would (for a record that member did create).
    pub fn forge_private(&self, collection: &str, key: &str, value: &str) {
        self.private.borrow_mut().insert((collection.to_owned(), key.to_owned()), value.to_owned());
    }
}

/// One transaction's view of the ledger.
struct TxView<'a> {
    store: &'a MemoryLedger,
    tx: Tx,
    writes: RefCell<BTreeMap<String, Option<String>>>,
    event: RefCell<Option<Event>>,
    policies: RefCell<BTreeMap<String, Vec<String>>>,
    private_writes: RefCell<BTreeMap<(String, String), String>>,
    transient: BTreeMap<String, String>,
}

impl<'a> TxView<'a> {
    fn new(store: &'a MemoryLedger, tx: Tx) -> Self {
        TxView {
            store,
            tx,
            writes: RefCell::default(),
            event: RefCell::default(),
            policies: RefCell::default(),
            private_writes: RefCell::default(),
            transient: BTreeMap::new(),
        }
    }

    /// The collection's members, as Fabric checks them (`memberOnlyRead`, `memberOnlyWrite`): the
    /// caller's member must be one. The messages are Fabric's.
    fn require_member(&self, collection: &str, access: &str) -> Result<()> {
        // A member's implicit collection needs no definition and is neither memberOnlyRead nor
        // memberOnlyWrite: anyone may write it (its owner's peers must endorse, see `submit`); only
        // its owner's peers hold its values, so only the owner reads them here.
        if let Some(owner) = crate::anchor::implicit_owner(collection) {
            return if access == "write" || owner == self.tx.caller.msp_id {
                Ok(())
            } else {
                Err(ContractError::Ledger {
                    reason: format!("private data of {collection} is held by {owner}'s peers only"),
                })
            };
        }
        let collections = self.store.collections.borrow();
        let members = collections
            .get(collection)
            .ok_or_else(|| ContractError::Ledger { reason: format!("collection {collection} could not be found") })?;
        if members.contains(&self.tx.caller.msp_id) {
            Ok(())
        } else {
            Err(ContractError::Ledger {
                reason: format!(
                    "tx creator does not have {access} access permission on privatedata in chaincodeName:vmledger collectionName: {collection}"
                ),
            })
        }
    }
}

impl Ledger for TxView<'_> {
    fn tx(&self) -> &Tx {
        &self.tx
    }

    async fn get(&self, key: &str) -> Result<Option<String>> {
        *self.store.reads.borrow_mut() += 1;
        Ok(self.store.state.borrow().get(key).cloned())
    }

    async fn put(&self, key: &str, value: &str) -> Result<()> {
        if value.is_empty() {
            // Fabric treats an empty value as a delete; the contract never means that.
            return Err(ContractError::Ledger { reason: format!("empty value for `{key}`") });
        }
        self.writes.borrow_mut().insert(key.to_owned(), Some(value.to_owned()));
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<()> {
        self.writes.borrow_mut().insert(key.to_owned(), None);
        Ok(())
    }

    async fn range(&self, start: &str, end: &str, page_size: u32, bookmark: Option<&str>) -> Result<RangePage> {
        let state = self.store.state.borrow();
        let from = bookmark.filter(|b| !b.is_empty()).unwrap_or(start).to_owned();
        if from.as_str() >= end {
            return Ok(RangePage::default());
        }
        let mut entries =
            state.range(from..end.to_owned()).map(|(key, value)| Entry { key: key.clone(), value: value.clone() });
        let limit = if page_size == 0 { usize::MAX } else { page_size as usize };
        let page: Vec<Entry> = entries.by_ref().take(limit).collect();
        let bookmark = entries.next().map(|next| next.key);
        *self.store.reads.borrow_mut() += page.len() as u64;
        Ok(RangePage { entries: page, bookmark })
    }

    async fn history(&self, key: &str, limit: u32) -> Result<Vec<KeyVersion>> {
        let all = self.store.history.borrow().get(key).cloned().unwrap_or_default();
        Ok(all[all.len().saturating_sub(limit as usize)..].to_vec())
    }

    fn set_event(&self, name: &str, payload: &str) -> Result<()> {
        *self.event.borrow_mut() =
            Some(Event { tx_id: self.tx.id.clone(), name: name.to_owned(), payload: payload.to_owned() });
        Ok(())
    }

    async fn set_endorsers(&self, key: &str, msp_ids: &[String]) -> Result<()> {
        if msp_ids.is_empty() {
            return Err(ContractError::Ledger { reason: format!("an endorsement policy for `{key}` names nobody") });
        }
        self.policies.borrow_mut().insert(key.to_owned(), msp_ids.to_vec());
        Ok(())
    }

    async fn query_channel(&self, channel: &str, function: &str, argument: &str) -> Result<String> {
        let linked = self.store.neighbours.borrow().iter().find(|l| l.channel == channel).cloned();
        let other = linked
            .ok_or_else(|| ContractError::Ledger { reason: format!("this peer has not joined channel `{channel}`") })?;
        // Same transaction id, time and signer, on the other channel's committed state; what it
        // would write is discarded, as Fabric does.
        let tx = Tx { channel: channel.to_owned(), ..self.tx.clone() };
        let view = TxView::new(&other, tx);
        Box::pin(crate::contract::execute(&view, function, argument)).await
    }

    async fn get_private(&self, collection: &str, key: &str) -> Result<Option<String>> {
        self.require_member(collection, "read")?;
        *self.store.reads.borrow_mut() += 1;
        Ok(self.store.private_value(collection, key))
    }

    async fn put_private(&self, collection: &str, key: &str, value: &str) -> Result<()> {
        self.require_member(collection, "write")?;
        if value.is_empty() {
            return Err(ContractError::Ledger { reason: format!("empty private value for `{key}`") });
        }
        self.private_writes.borrow_mut().insert((collection.to_owned(), key.to_owned()), value.to_owned());
        Ok(())
    }

    async fn private_hash(&self, collection: &str, key: &str) -> Result<Option<String>> {
        if let Some(owner) = crate::anchor::implicit_owner(collection)
            && self.store.departed.borrow().contains(&owner)
        {
            // Fabric's words.
            return Err(ContractError::Ledger {
                reason: format!(
                    "collection [{collection}] not defined in the collection config for chaincode [vmledger]"
                ),
            });
        }
        if crate::anchor::implicit_owner(collection).is_none()
            && !self.store.collections.borrow().contains_key(collection)
        {
            return Err(ContractError::Ledger { reason: format!("collection {collection} could not be found") });
        }
        Ok(self.store.private_value(collection, key).map(|v| hex::encode(sha2::Sha256::digest(v.as_bytes()))))
    }

    fn transient(&self, name: &str) -> Result<Option<String>> {
        Ok(self.transient.get(name).cloned())
    }
}
