//! An in-memory ledger with Fabric's transaction semantics, for tests without a chain: reads see
//! committed state only; writes and the event are kept aside and applied when the transaction
//! succeeds, discarded when it fails; every committed write is kept as the key's history.

use std::cell::RefCell;
use std::collections::BTreeMap;

use chrono::{Duration, TimeZone, Utc};

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
}

/// The world state, its history, and a clock that moves one second per transaction.
#[derive(Debug, Default)]
pub struct MemoryLedger {
    state: RefCell<BTreeMap<String, String>>,
    history: RefCell<BTreeMap<String, Vec<KeyVersion>>>,
    events: RefCell<Vec<Event>>,
    clock: RefCell<i64>,
    tx_count: RefCell<u64>,
}

impl MemoryLedger {
    /// An empty ledger whose clock starts at 2026-01-01T00:00:00Z.
    pub fn new() -> Self {
        let ledger = Self::default();
        *ledger.clock.borrow_mut() =
            Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single().map_or(0, |t| t.timestamp_millis());
        ledger
    }

    /// The time the next transaction will carry.
    pub fn now(&self) -> Timestamp {
        Utc.timestamp_millis_opt(*self.clock.borrow()).single().unwrap_or_default()
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        *self.clock.borrow_mut() += by.num_milliseconds();
    }

    /// Runs one transaction as `caller`, committing it if it succeeds.
    pub async fn submit(&self, caller: &Caller, function: &str, argument: &str) -> Outcome {
        let tx_number = {
            let mut count = self.tx_count.borrow_mut();
            *count += 1;
            *count
        };
        let tx = Tx { id: format!("{tx_number:064x}"), timestamp: self.now(), caller: caller.clone() };
        self.advance(Duration::seconds(1));
        let view = TxView { store: self, tx, writes: RefCell::default(), event: RefCell::default() };
        let result = crate::contract::execute(&view, function, argument).await;
        let writes = view.writes.into_inner();
        let event = view.event.into_inner();
        if result.is_ok() {
            self.commit(&view.tx, &writes, event.as_ref());
        }
        Outcome { result, writes, event }
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
}

/// One transaction's view of the ledger.
struct TxView<'a> {
    store: &'a MemoryLedger,
    tx: Tx,
    writes: RefCell<BTreeMap<String, Option<String>>>,
    event: RefCell<Option<Event>>,
}

impl Ledger for TxView<'_> {
    fn tx(&self) -> &Tx {
        &self.tx
    }

    async fn get(&self, key: &str) -> Result<Option<String>> {
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
        Ok(RangePage { entries: page, bookmark })
    }

    async fn history(&self, key: &str) -> Result<Vec<KeyVersion>> {
        Ok(self.store.history.borrow().get(key).cloned().unwrap_or_default())
    }

    fn set_event(&self, name: &str, payload: &str) -> Result<()> {
        *self.event.borrow_mut() =
            Some(Event { tx_id: self.tx.id.clone(), name: name.to_owned(), payload: payload.to_owned() });
        Ok(())
    }
}
