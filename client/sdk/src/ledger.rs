//! The typed domain API: one method per contract function, taking the contract's own input types
//! ([`vmledger_contract::msg`]) and returning its model types ([`vmledger_contract::model`]).
//!
//! Transactions return [`Committed`] (the record plus where and how fast it committed); queries
//! return the record. Every method fails with the errors of [`Contract::submit`] or
//! [`Contract::evaluate`]; contract refusals arrive as [`Error::Contract`] carrying the typed
//! [`vmledger_contract::ContractError`].

use futures_util::future::BoxFuture;
use serde::Serialize;
use serde::de::DeserializeOwned;
use vmledger_contract::model::{
    Cloud, Host, LocalRecord, LocalRecords, Migration, MigrationCheck, Page, Pong, UsageReport, VirtualMachine,
    VmHistory,
};
use vmledger_contract::msg;
use vmledger_contract::placement::{HostState, ListAvailabilityChanges, PlaceVm, PlacementReport, SetHostAvailability};
use vmledger_contract::reputation::{GetReputation, Reputation};
use vmledger_contract::vocabulary::{Call, calls};

use crate::error::{Error, Result};
use crate::gateway::{Committed, Contract, Pending};

/// The vmledger contract, typed.
#[derive(Debug, Clone)]
pub struct VmLedger {
    contract: Contract,
}

/// An Indication accepted by the orderer, not yet committed: its id is the migration's id.
#[derive(Debug, Clone)]
pub struct PendingMigration {
    pending: Pending,
}

impl PendingMigration {
    /// The migration's id (the `Migrate` transaction's id), known before the commit.
    pub fn migration_id(&self) -> &str {
        self.pending.tx_id()
    }

    /// Time until the orderer accepted the Indication (endorse + submit).
    pub fn accepted_ms(&self) -> u64 {
        self.pending.accepted_ms
    }

    /// Waits for the Indication to commit.
    ///
    /// # Errors
    /// As [`Pending::wait`]; [`Error::Codec`] when the result is not a migration.
    pub async fn wait(&self) -> Result<Committed<Migration>> {
        let committed = self.pending.wait().await?;
        decode_committed(calls::Migrate::NAME, committed)
    }
}

impl VmLedger {
    pub fn new(contract: Contract) -> Self {
        VmLedger { contract }
    }

    /// The untyped contract underneath.
    pub fn contract(&self) -> &Contract {
        &self.contract
    }

    /// Submits the contract's function `C` (a type of [`calls`]: its name, input and output come
    /// from the contract itself) and waits for the commit.
    ///
    /// # Errors
    /// As [`Contract::submit`]; [`Error::Codec`] when the answer is not `C`'s output.
    pub async fn submit<C: Call>(&self, input: &C::Input) -> Result<Committed<C::Output>> {
        let argument = encode(C::NAME, input)?;
        let committed = self.contract.submit(C::NAME, &argument).await?;
        decode_committed(C::NAME, committed)
    }

    /// Evaluates the contract's function `C` on the member's peer.
    ///
    /// # Errors
    /// As [`Contract::evaluate`]; [`Error::Codec`] when the answer is not `C`'s output.
    pub async fn evaluate<C: Call>(&self, input: &C::Input) -> Result<C::Output> {
        let argument = encode(C::NAME, input)?;
        let value = self.contract.evaluate(C::NAME, &argument).await?;
        decode(C::NAME, value)
    }

    // ---- transactions -------------------------------------------------------------------------

    /// `RegisterCloud`: binds a new cloud to the caller's member. Needs the `admin` role.
    ///
    /// # Errors
    /// `ALREADY_EXISTS`, `UNAUTHORIZED`, `INVALID_ARGUMENT`, and the transport errors.
    pub async fn register_cloud(&self, input: &msg::RegisterCloud) -> Result<Committed<Cloud>> {
        self.submit::<calls::RegisterCloud>(input).await
    }

    /// `RegisterHost`: a host of one of the caller's clouds. Needs the `admin` role.
    ///
    /// # Errors
    /// `NOT_FOUND` (cloud), `ALREADY_EXISTS`, `UNAUTHORIZED`, `INVALID_ARGUMENT`.
    pub async fn register_host(&self, input: &msg::RegisterHost) -> Result<Committed<Host>> {
        self.submit::<calls::RegisterHost>(input).await
    }

    /// `UpdateHost`: country, organisations or capacity. Needs the `admin` role.
    ///
    /// # Errors
    /// `NOT_FOUND`, `UNAUTHORIZED`, `CAPACITY_EXCEEDED` (below what is committed), `INVALID_ARGUMENT`.
    pub async fn update_host(&self, input: &msg::UpdateHost) -> Result<Committed<Host>> {
        self.submit::<calls::UpdateHost>(input).await
    }

    /// `RegisterVm`: a VM on a host of its own cloud.
    ///
    /// # Errors
    /// `NOT_FOUND`, `ALREADY_EXISTS`, `UNAUTHORIZED`, `POLICY_DENIED`, `CAPACITY_EXCEEDED`,
    /// `INVALID_ARGUMENT`.
    pub async fn register_vm(&self, input: &msg::RegisterVm) -> Result<Committed<VirtualMachine>> {
        self.submit::<calls::RegisterVm>(input).await
    }

    /// `SetRegulation`: replaces a VM's regulation. Needs the operator's `admin` role.
    ///
    /// # Errors
    /// `NOT_FOUND`, `UNAUTHORIZED`, `INVALID_ARGUMENT`.
    pub async fn set_regulation(&self, input: &msg::SetRegulation) -> Result<Committed<VirtualMachine>> {
        self.submit::<calls::SetRegulation>(input).await
    }

    /// `Migrate`, the Indication, waiting for its commit.
    ///
    /// # Errors
    /// `POLICY_DENIED`, `CAPACITY_EXCEEDED`, `UNAUTHORIZED`, `CONFLICT` (already migrating or already
    /// there), `NOT_FOUND`, `INVALID_ARGUMENT`.
    pub async fn migrate(&self, input: &msg::Migrate) -> Result<Committed<Migration>> {
        self.submit::<calls::Migrate>(input).await
    }

    /// `Migrate`, returning as soon as the orderer accepted the Indication, so that the image can
    /// travel while it commits.
    ///
    /// # Errors
    /// As [`VmLedger::migrate`], for the endorsement; the commit's errors come from
    /// [`PendingMigration::wait`].
    pub async fn migrate_async(&self, input: &msg::Migrate) -> Result<PendingMigration> {
        self.migrate_async_with_key(input, &crate::identity::new_idempotency_key()).await
    }

    /// [`VmLedger::migrate_async`] with the caller's idempotency key: the migration's id (the
    /// transaction id) follows from the key, so a caller that retries with the same key, after an
    /// outcome it did not see, finds its own migration instead of making a second one.
    ///
    /// # Errors
    /// As [`VmLedger::migrate_async`].
    pub async fn migrate_async_with_key(&self, input: &msg::Migrate, key: &str) -> Result<PendingMigration> {
        let argument = encode(calls::Migrate::NAME, input)?;
        let pending =
            self.contract.prepare_with_key(calls::Migrate::NAME, &argument, key).await?.submit_async().await?;
        Ok(PendingMigration { pending })
    }

    /// Submits `C` with the caller's idempotency key (see [`crate::Prepared`]).
    ///
    /// # Errors
    /// As [`VmLedger::submit`].
    pub async fn submit_with_key<C: Call>(&self, input: &C::Input, key: &str) -> Result<Committed<C::Output>> {
        let argument = encode(C::NAME, input)?;
        let committed = self.contract.prepare_with_key(C::NAME, &argument, key).await?.submit().await?;
        decode_committed(C::NAME, committed)
    }

    /// `ConfirmMigration`: the destination's answer. The returned migration's status says whether
    /// the hash matched (`confirmed`) or not (`rejected`, committed as evidence).
    ///
    /// # Errors
    /// `NOT_FOUND`, `UNAUTHORIZED` (not the destination's member), `CONFLICT` (already closed),
    /// `INVALID_ARGUMENT`.
    pub async fn confirm_migration(&self, input: &msg::ConfirmMigration) -> Result<Committed<Migration>> {
        self.submit::<calls::ConfirmMigration>(input).await
    }

    /// `CancelMigration`: the VM's operator withdraws an Indication.
    ///
    /// # Errors
    /// `NOT_FOUND`, `UNAUTHORIZED`, `CONFLICT` (already closed), `INVALID_ARGUMENT`.
    pub async fn cancel_migration(&self, input: &msg::CloseMigration) -> Result<Committed<Migration>> {
        self.submit::<calls::CancelMigration>(input).await
    }

    /// `DeclineMigration`: the destination refuses an Indication (no tamper evidence).
    ///
    /// # Errors
    /// `NOT_FOUND`, `UNAUTHORIZED` (not the destination's member), `CONFLICT` (already closed).
    pub async fn decline_migration(&self, input: &msg::CloseMigration) -> Result<Committed<Migration>> {
        self.submit::<calls::DeclineMigration>(input).await
    }

    /// `ExpireMigration`: ends an Indication past its deadline (its source or destination).
    ///
    /// # Errors
    /// `NOT_FOUND`, `UNAUTHORIZED`, `CONFLICT` (deadline not passed, or already closed).
    pub async fn expire_migration(&self, input: &msg::ExpireMigration) -> Result<Committed<Migration>> {
        self.submit::<calls::ExpireMigration>(input).await
    }

    /// `RecordLeave` (local chains only, by the member's `relay` identity): the VM of a confirmed
    /// inter-cloud migration left this member's cloud. The local contract checks the federation.
    ///
    /// # Errors
    /// `NOT_FOUND` (no such migration on the federation), `CONFLICT` (not confirmed, or not this
    /// member's), `ALREADY_EXISTS` (recorded before), `UNAUTHORIZED` (not the relay role).
    pub async fn record_leave(&self, migration_id: &str) -> Result<Committed<LocalRecord>> {
        self.submit::<calls::RecordLeave>(&by_migration(migration_id)).await
    }

    /// `RecordArrival`: as [`VmLedger::record_leave`], for the destination's cloud.
    ///
    /// # Errors
    /// As [`VmLedger::record_leave`].
    pub async fn record_arrival(&self, migration_id: &str) -> Result<Committed<LocalRecord>> {
        self.submit::<calls::RecordArrival>(&by_migration(migration_id)).await
    }

    /// `Ping` submitted: the floor transaction (writes one key).
    ///
    /// # Errors
    /// The transport errors.
    pub async fn ping(&self) -> Result<Committed<Pong>> {
        self.submit::<calls::Ping>(&msg::Ping::default()).await
    }

    // ---- queries ------------------------------------------------------------------------------

    /// `Ping` evaluated: does the chaincode answer?
    ///
    /// # Errors
    /// The transport errors.
    pub async fn ping_evaluate(&self) -> Result<Pong> {
        self.evaluate::<calls::Ping>(&msg::Ping::default()).await
    }

    /// `GetLocalRecord` (local chains): the Leave and Arrival of a migration on this chain.
    ///
    /// # Errors
    /// `NOT_FOUND` when this chain holds neither.
    pub async fn get_local_record(&self, migration_id: &str) -> Result<LocalRecords> {
        self.evaluate::<calls::GetLocalRecord>(&by_migration(migration_id)).await
    }

    /// `CheckMigration`: would this caller's `Migrate` pass? Every violated rule is listed.
    ///
    /// # Errors
    /// `NOT_FOUND` (VM, host), `INVALID_ARGUMENT`.
    pub async fn check_migration(&self, input: &msg::Migrate) -> Result<MigrationCheck> {
        self.evaluate::<calls::CheckMigration>(input).await
    }

    /// # Errors
    /// `NOT_FOUND`, `INVALID_ARGUMENT`.
    pub async fn get_cloud(&self, id: &str) -> Result<Cloud> {
        self.evaluate::<calls::GetCloud>(&by_id(id)).await
    }

    /// # Errors
    /// `NOT_FOUND`, `INVALID_ARGUMENT`.
    pub async fn get_host(&self, id: &str) -> Result<Host> {
        self.evaluate::<calls::GetHost>(&by_id(id)).await
    }

    /// # Errors
    /// `NOT_FOUND` (cloud), `INVALID_ARGUMENT`.
    pub async fn list_hosts(&self, input: &msg::ListHosts) -> Result<Page<Host>> {
        self.evaluate::<calls::ListHosts>(input).await
    }

    /// # Errors
    /// `NOT_FOUND`, `INVALID_ARGUMENT`.
    pub async fn get_vm(&self, id: &str) -> Result<VirtualMachine> {
        self.evaluate::<calls::GetVm>(&by_id(id)).await
    }

    /// # Errors
    /// `NOT_FOUND`, `INVALID_ARGUMENT`.
    pub async fn get_migration(&self, id: &str) -> Result<Migration> {
        self.evaluate::<calls::GetMigration>(&by_id(id)).await
    }

    /// One page of migrations of a VM or touching a cloud, oldest first.
    ///
    /// # Errors
    /// `NOT_FOUND`, `INVALID_ARGUMENT` (neither or both of VM and cloud, bad period or page size).
    pub async fn list_migrations(&self, input: &msg::ListMigrations) -> Result<Page<Migration>> {
        self.evaluate::<calls::ListMigrations>(input).await
    }

    /// Every migration of the listing, following bookmarks.
    ///
    /// # Errors
    /// As [`VmLedger::list_migrations`].
    pub async fn all_migrations(&self, input: &msg::ListMigrations) -> Result<Vec<Migration>> {
        let mut pages = self.migration_pages(input);
        let mut all = Vec::new();
        while let Some(page) = pages.next_page().await {
            all.extend(page?.items);
        }
        Ok(all)
    }

    /// The listing page by page from `input.bookmark` on, following bookmarks: a caller can print
    /// each page as it comes (streams) or stop after the first.
    pub fn migration_pages(&self, input: &msg::ListMigrations) -> Pages<Migration> {
        let (ledger, input) = (self.clone(), input.clone());
        Pages::new(input.bookmark.clone(), move |bookmark| {
            let (ledger, mut input) = (ledger.clone(), input.clone());
            input.bookmark = bookmark;
            Box::pin(async move { ledger.list_migrations(&input).await })
        })
    }

    /// The hosts of a cloud page by page, following bookmarks (see [`VmLedger::migration_pages`]).
    pub fn host_pages(&self, input: &msg::ListHosts) -> Pages<Host> {
        let (ledger, input) = (self.clone(), input.clone());
        Pages::new(input.bookmark.clone(), move |bookmark| {
            let (ledger, mut input) = (ledger.clone(), input.clone());
            input.bookmark = bookmark;
            Box::pin(async move { ledger.list_hosts(&input).await })
        })
    }

    /// `VmHistory`: the VM, its migrations, residencies and regulation changes.
    ///
    /// # Errors
    /// `NOT_FOUND`, `INVALID_ARGUMENT`.
    pub async fn vm_history(&self, id: &str) -> Result<VmHistory> {
        self.evaluate::<calls::VmHistory>(&by_id(id)).await
    }

    /// `Usage`: what a cloud hosted over `[from, to)`: the billing evidence.
    ///
    /// # Errors
    /// `NOT_FOUND` (cloud), `INVALID_ARGUMENT` (period).
    pub async fn usage(&self, input: &msg::Usage) -> Result<UsageReport> {
        self.evaluate::<calls::Usage>(input).await
    }

    // ---- placement and reputation ---------------------------------------------------------------

    /// `SetHostAvailability`: the host's member reports it up, draining or down. Needs the manager role.
    ///
    /// # Errors
    /// `UNAUTHORIZED` (another member's host, or not a manager), `CONFLICT` (no change, or a time
    /// before the last change), `NOT_FOUND`, `INVALID_ARGUMENT`.
    pub async fn set_host_availability(&self, input: &SetHostAvailability) -> Result<Committed<HostState>> {
        self.submit::<calls::SetHostAvailability>(input).await
    }

    /// `GetHostState`: a host's availability now.
    ///
    /// # Errors
    /// `NOT_FOUND`, `INVALID_ARGUMENT`.
    pub async fn get_host_state(&self, id: &str) -> Result<HostState> {
        self.evaluate::<calls::GetHostState>(&by_id(id)).await
    }

    /// `ListAvailabilityChanges`: one page of a host's recorded availability changes.
    ///
    /// # Errors
    /// `NOT_FOUND`, `INVALID_ARGUMENT`.
    pub async fn list_availability_changes(&self, input: &ListAvailabilityChanges) -> Result<Page<HostState>> {
        self.evaluate::<calls::ListAvailabilityChanges>(input).await
    }

    /// `PlaceVm`: the eligible hosts ranked by a strategy, and every other host with its reasons.
    ///
    /// # Errors
    /// `NOT_FOUND` (VM), `INVALID_ARGUMENT`.
    pub async fn place_vm(&self, input: &PlaceVm) -> Result<PlacementReport> {
        self.evaluate::<calls::PlaceVm>(input).await
    }

    /// `GetReputation`: how a cloud's migrations ended over a period, with the records behind it.
    ///
    /// # Errors
    /// `NOT_FOUND` (cloud), `INVALID_ARGUMENT` (period).
    pub async fn get_reputation(&self, input: &GetReputation) -> Result<Reputation> {
        self.evaluate::<calls::GetReputation>(input).await
    }
}

type FetchPage<T> = Box<dyn FnMut(Option<String>) -> BoxFuture<'static, Result<Page<T>>> + Send>;

/// A paged listing read one page at a time; ends after the page without a bookmark.
pub struct Pages<T> {
    fetch: FetchPage<T>,
    /// The bookmark of the next page to read; `None` once the last page was read.
    next: Option<Option<String>>,
}

impl<T> std::fmt::Debug for Pages<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pages").field("next", &self.next).finish()
    }
}

impl<T> Pages<T> {
    fn new(
        start: Option<String>,
        fetch: impl FnMut(Option<String>) -> BoxFuture<'static, Result<Page<T>>> + Send + 'static,
    ) -> Self {
        Pages { fetch: Box::new(fetch), next: Some(start) }
    }

    /// The next page, or `None` after the last one. An empty bookmark counts as none.
    ///
    /// # Errors
    /// The listing's errors; the listing can be resumed from [`Pages::bookmark`].
    pub async fn next_page(&mut self) -> Option<Result<Page<T>>> {
        let bookmark = self.next.take()?;
        let page = (self.fetch)(bookmark.clone()).await;
        match &page {
            Ok(p) => self.next = p.bookmark.clone().filter(|b| !b.is_empty()).map(Some),
            Err(_) => self.next = Some(bookmark),
        }
        Some(page)
    }

    /// The bookmark the next page starts from (`None` when no page is left or at the start).
    pub fn bookmark(&self) -> Option<&str> {
        self.next.as_ref().and_then(|b| b.as_deref())
    }
}

fn by_id(id: &str) -> msg::ById {
    msg::ById { id: id.to_owned() }
}

fn by_migration(id: &str) -> msg::MigrationRef {
    msg::MigrationRef { migration_id: id.to_owned() }
}

fn encode<I: Serialize>(function: &str, input: &I) -> Result<String> {
    serde_json::to_string(input).map_err(|e| Error::Codec { function: function.to_owned(), reason: e.to_string() })
}

fn decode<O: DeserializeOwned>(function: &str, value: serde_json::Value) -> Result<O> {
    serde_json::from_value(value)
        .map_err(|e| Error::Codec { function: function.to_owned(), reason: format!("unexpected result: {e}") })
}

fn decode_committed<O: DeserializeOwned>(function: &str, committed: Committed) -> Result<Committed<O>> {
    let Committed { tx_id, block_number, validation_code, result, timings, client_ms, attempts } = committed;
    let result = decode(function, result)?;
    Ok(Committed { tx_id, block_number, validation_code, result, timings, client_ms, attempts })
}
