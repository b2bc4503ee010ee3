//! Where a VM should go (seed 004's load balancer, BlockchainBus' match-making), as a query every
//! member can run and get the same answer from the same ledger state.
//!
//! - **Host availability**: a host is `up`, `draining` (finishes what it has, takes nothing new) or
//!   `down`, set by its own member's manager ([`set_host_availability`]); a change is recorded only
//!   when it changes (no heartbeat into the ledger), with its time, in a time-ordered log that SLA
//!   evidence reads ("when was this host down"). A `draining` or `down` host refuses to be a
//!   `Migrate` destination ([`refuse_unavailable`]). Retiring a host is draining it, moving its VMs
//!   off, then setting it down: its record stays, as the history of every VM that ran on it needs it.
//! - **Placement** ([`place_vm`]): every host of the federation (a page of at most
//!   [`state::MAX_PAGE_SIZE`] at a time) checked with the same rules `Migrate` applies (residency
//!   policy, free capacity, availability, not the VM's own host) and, when asked, the reputation of
//!   its cloud; the eligible ones ranked by the strategy, the others listed with every reason.
//!
//! Strategies (ties broken by host id, so the order is total):
//! - `round-robin`: the host whose last Indication is oldest first (never chosen before: first of
//!   all). The cursor is ledger state: `placed/{hostId}`, advanced by each `Migrate` into the host.
//!   One key per host rather than one federation-wide cursor, so Indications into different hosts
//!   never conflict on it (each already writes its destination's allocation).
//! - `least-loaded`: the host whose most committed resource leaves the largest share free first.
//! - `hash`: the order of SHA-256(`vmId/hostId`): the same VM always prefers the same hosts, and a
//!   host added or removed moves only the VMs that rank it first (rendezvous hashing).
//! - `best-fit`: the host left with the least spare capacity after the VM, summed over the resources
//!   as shares of the host's capacity, first: the closest match of the requirements.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::auth::{require_manager, require_operator};
use crate::capacity::shortfalls;
use crate::chains::{self, forwarded, require_federation};
use crate::clock;
use crate::contract::{Emit, calls, emit, signer};
use crate::error::{ContractError, Denial, Result, Shortfall};
use crate::ledger::Ledger;
use crate::model::{Host, Regulation, Resources, Signer, Timestamp};
use crate::ownership::own;
use crate::policy::residency_denials;
use crate::{reputation, state, validate};

/// A host's availability for new VMs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "schema"), derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub enum Availability {
    /// Takes new VMs (every host is up until its member says otherwise).
    #[default]
    Up,
    /// Keeps what runs there and what is already on its way, takes nothing new.
    Draining,
    /// Not serving.
    Down,
}

impl Availability {
    pub fn wire(self) -> &'static str {
        match self {
            Availability::Up => "up",
            Availability::Draining => "draining",
            Availability::Down => "down",
        }
    }
}

/// The highest utilisation a cloud can report, in percent.
pub const MAX_UTILIZATION_PERCENT: u8 = 100;

/// `SetHostAvailability`: a host's member reports its availability (and, optionally, its utilisation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "schema"), derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetHostAvailability {
    pub host_id: String,
    pub availability: Availability,
    /// What the cloud measures of the host's use, 0–100 (informative: ranking uses the ledger's figures).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utilization_percent: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A host's availability as recorded: the current one at `host-state/{hostId}`, and each change in
/// the log `index/availability-by-host/{hostId}/{at}/{txId}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "schema"), derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct HostState {
    pub host_id: String,
    pub cloud_id: String,
    pub availability: Availability,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utilization_percent: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When it took this availability; absent for a host never reported (up since registered).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<Timestamp>,
    /// The transaction that recorded it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tx_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed_by: Option<Signer>,
}

/// `ListAvailabilityChanges`: the recorded changes of a host's availability in `[from, to)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "schema"), derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListAvailabilityChanges {
    pub host_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_size: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bookmark: Option<String>,
}

/// How the eligible hosts are ranked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "schema"), derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    RoundRobin,
    LeastLoaded,
    Hash,
    BestFit,
}

/// `PlaceVm`: a VM by id (its requirements, regulation and host), or a shape and a regulation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "schema"), derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlaceVm {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vm_id: Option<String>,
    /// With `regulation`, instead of `vmId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requirements: Option<Resources>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regulation: Option<Regulation>,
    pub strategy: Strategy,
    /// At most this many ranked hosts (1–1000; all by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// Leave out hosts of clouds whose reputation score (per mille, see `GetReputation`) is lower,
    /// or that have none yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_reputation: Option<u32>,
    /// Hosts scanned per call (1–1000, default 1000); `bookmark` continues the scan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_size: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bookmark: Option<String>,
}

/// An eligible host, in rank order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "schema"), derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Candidate {
    /// 1 for the host the strategy picks.
    pub rank: u32,
    pub host_id: String,
    pub cloud_id: String,
    pub country: String,
    pub capacity: Resources,
    /// What the host has free now (capacity less what runs there and unexpired reservations).
    pub free: Resources,
    /// The strategy's key: `round-robin` the Indications recorded into the host; `least-loaded`
    /// the free share, per million, of its most committed resource (higher first); `hash` the first
    /// 48 bits of SHA-256(`vmId/hostId`) (lower first); `best-fit` the spare capacity left after
    /// the VM, per million summed over the resources (lower first).
    pub score: u64,
    /// Indications recorded into the host, and when the last one was (the round-robin cursor).
    pub placements: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_placed_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utilization_percent: Option<u8>,
    /// Its cloud's reputation score, when `minReputation` was asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reputation: Option<u32>,
}

/// Why a host was left out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "schema"), derive(schemars::JsonSchema))]
#[serde(tag = "rule", rename_all = "camelCase")]
pub enum Exclusion {
    /// The VM's regulation forbids the host's country or an organisation managing it.
    #[serde(rename_all = "camelCase")]
    Policy { denials: Vec<Denial> },
    /// The VM does not fit beside what runs there and is reserved.
    #[serde(rename_all = "camelCase")]
    Capacity { shortfalls: Vec<Shortfall> },
    #[serde(rename_all = "camelCase")]
    Down {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        since: Option<Timestamp>,
    },
    #[serde(rename_all = "camelCase")]
    Draining {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        since: Option<Timestamp>,
    },
    /// The VM already runs there.
    SameHost,
    /// Its cloud's member never endorsed its creation (see `crate::anchor`): not a host of the federation.
    Unanchored,
    /// Its cloud's reputation is below the minimum asked, or it has none yet.
    #[serde(rename_all = "camelCase")]
    Reputation {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        score: Option<u32>,
        min: u32,
    },
}

impl std::fmt::Display for Exclusion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Exclusion::Policy { denials } => {
                write!(f, "policy: {}", denials.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))
            }
            Exclusion::Capacity { shortfalls } => {
                write!(f, "capacity: {}", shortfalls.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))
            }
            Exclusion::Down { since } => write!(f, "down{}", since_text(since)),
            Exclusion::Draining { since } => write!(f, "draining{}", since_text(since)),
            Exclusion::SameHost => f.write_str("the VM already runs there"),
            Exclusion::Unanchored => f.write_str("its cloud's member never endorsed its creation"),
            Exclusion::Reputation { score: Some(score), min } => write!(f, "reputation {score} below {min}"),
            Exclusion::Reputation { score: None, min } => write!(f, "no reputation yet (minimum {min})"),
        }
    }
}

fn since_text(since: &Option<Timestamp>) -> String {
    since.as_ref().map(|t| format!(" since {}", clock::rfc3339(t))).unwrap_or_default()
}

/// A host left out, with every reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "schema"), derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Excluded {
    pub host_id: String,
    pub cloud_id: String,
    pub reasons: Vec<Exclusion>,
}

/// `PlaceVm`'s answer: the eligible hosts ranked, and every host left out with its reasons.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "schema"), derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct PlacementReport {
    pub strategy: Strategy,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vm_id: Option<String>,
    pub requirements: Resources,
    /// The ledger time the answer holds at (the evaluation's timestamp).
    pub at: Timestamp,
    pub candidates: Vec<Candidate>,
    pub excluded: Vec<Excluded>,
    /// Hosts examined by this call.
    pub scanned: u32,
    /// More hosts to scan: pass it back to rank the next page (each page is ranked on its own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bookmark: Option<String>,
}

/// The round-robin cursor of a host: Indications recorded into it, and the last one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "schema"), derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Placements {
    pub count: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_migration_id: Option<String>,
}

// ---- availability ---------------------------------------------------------------------------------

/// The state recorded for a host, or `up` (never reported).
async fn recorded_state(ledger: &impl Ledger, host: &Host) -> Result<HostState> {
    Ok(state::load(ledger, &state::host_state(&host.id)).await?.unwrap_or_else(|| HostState {
        host_id: host.id.clone(),
        cloud_id: host.cloud_id.clone(),
        availability: Availability::Up,
        utilization_percent: None,
        reason: None,
        since: None,
        tx_id: None,
        changed_by: None,
    }))
}

/// A host's availability as this chain sees it (a local chain reads it from the federation).
pub async fn host_state(ledger: &impl Ledger, host: &Host) -> Result<HostState> {
    let by_id = crate::msg::ById { id: host.id.clone() };
    match forwarded::<calls::GetHostState>(ledger, &by_id).await? {
        Some(state) => Ok(state),
        None => recorded_state(ledger, host).await,
    }
}

/// Records a host's availability, by a manager of the host's member; only a change is recorded.
pub async fn set_host_availability(ledger: &impl Ledger, input: SetHostAvailability) -> Result<HostState> {
    validate::id("hostId", &input.host_id)?;
    require_federation(ledger, "a host's availability")?;
    let (host, cloud) = crate::anchor::host_and_cloud(ledger, &input.host_id).await?;
    let tx = ledger.tx();
    require_operator(&tx.caller, &cloud, "report its hosts' availability")?;
    require_manager(&tx.caller, "report a host's availability")?;
    if let Some(reason) = &input.reason {
        validate::text("reason", reason)?;
    }
    if let Some(percent) = input.utilization_percent
        && percent > MAX_UTILIZATION_PERCENT
    {
        return Err(ContractError::invalid(
            "utilizationPercent",
            format!("{percent} is above {MAX_UTILIZATION_PERCENT}"),
        ));
    }
    let current = recorded_state(ledger, &host).await?;
    if let Some(since) = &current.since {
        clock::not_before(&tx.timestamp, "the host's last availability change", since)?;
    }
    if current.availability == input.availability && current.utilization_percent == input.utilization_percent {
        return Err(ContractError::conflict(format!(
            "host `{}` is already {}{}: only a change is recorded",
            host.id,
            input.availability.wire(),
            since_text(&current.since)
        )));
    }
    let recorded = HostState {
        host_id: host.id.clone(),
        cloud_id: host.cloud_id.clone(),
        availability: input.availability,
        utilization_percent: input.utilization_percent,
        reason: input.reason,
        since: Some(if current.availability == input.availability {
            current.since.unwrap_or(tx.timestamp)
        } else {
            tx.timestamp
        }),
        tx_id: Some(tx.id.clone()),
        changed_by: Some(signer(ledger)),
    };
    let key = state::host_state(&host.id);
    let log = state::availability_by_host(&host.id, &tx.timestamp, &tx.id);
    state::store(ledger, &key, &recorded).await?;
    state::store(ledger, &log, &recorded).await?;
    // The state key's owner never changes: set once (see `ownership::own`); each log entry is new.
    let new_keys: &[&String] = if current.tx_id.is_none() { &[&key, &log] } else { &[&log] };
    for k in new_keys {
        own(ledger, k, &[&cloud.msp_id]).await?;
    }
    emit(ledger, Emit::HostAvailabilityChanged(&recorded))?;
    Ok(recorded)
}

/// A host's current availability.
pub async fn get_host_state(ledger: &impl Ledger, input: crate::msg::ById) -> Result<HostState> {
    validate::id("id", &input.id)?;
    let host = chains::host(ledger, &input.id).await?;
    host_state(ledger, &host).await
}

/// The recorded changes of a host's availability in `[from, to)`, oldest first, a page at a time:
/// the evidence of when it was down.
pub async fn list_availability_changes(
    ledger: &impl Ledger,
    input: ListAvailabilityChanges,
) -> Result<crate::model::Page<HostState>> {
    if let Some(page) = forwarded::<calls::ListAvailabilityChanges>(ledger, &input).await? {
        return Ok(page);
    }
    validate::id("hostId", &input.host_id)?;
    let size = page_size("pageSize", input.page_size)?;
    if let (Some(from), Some(to)) = (&input.from, &input.to)
        && from >= to
    {
        return Err(ContractError::invalid("to", format!("period end {to} is not after its start {from}")));
    }
    crate::anchor::host(ledger, &input.host_id).await?;
    let (start, end) =
        state::time_range(&state::availability_of_host(&input.host_id), input.from.as_ref(), input.to.as_ref());
    let bookmark = checked_bookmark(input.bookmark.as_deref(), &start, &end)?;
    let page = ledger.range(&start, &end, size, bookmark).await?;
    let mut items = Vec::with_capacity(page.entries.len());
    for entry in page.entries {
        items.push(state::decode(&entry.key, &entry.value)?);
    }
    Ok(crate::model::Page { items, bookmark: page.bookmark, unanchored: Vec::new() })
}

/// The host availability rule of `Migrate` and `RegisterVm`: a `draining` or `down` host takes no
/// new VM (`HOST_UNAVAILABLE` naming the host, its availability and since when).
pub(crate) async fn refuse_unavailable(ledger: &impl Ledger, destination: &Host) -> Result<Option<ContractError>> {
    let state = host_state(ledger, destination).await?;
    Ok((state.availability != Availability::Up).then(|| ContractError::HostUnavailable {
        host_id: destination.id.clone(),
        availability: state.availability,
        since: state.since,
    }))
}

/// `Migrate` advances the destination's round-robin cursor.
pub(crate) async fn count_indication(
    ledger: &impl Ledger,
    host_id: &str,
    migration_id: &str,
    owner_msp_id: &str,
) -> Result<()> {
    let key = state::placed(host_id);
    let found: Option<Placements> = state::load(ledger, &key).await?;
    let created = found.is_none();
    let mut placed = found.unwrap_or_default();
    placed.count = placed.count.saturating_add(1);
    placed.last_at = Some(ledger.tx().timestamp);
    placed.last_migration_id = Some(migration_id.to_owned());
    state::store(ledger, &key, &placed).await?;
    // Its owner never changes: set once (see `ownership::own`).
    if created { own(ledger, &key, &[owner_msp_id]).await } else { Ok(()) }
}

// ---- placement ------------------------------------------------------------------------------------

fn page_size(field: &str, requested: Option<u32>) -> Result<u32> {
    match requested {
        None => Ok(state::MAX_PAGE_SIZE),
        Some(size) if (1..=state::MAX_PAGE_SIZE).contains(&size) => Ok(size),
        Some(size) => Err(ContractError::invalid(field, format!("{size} is outside 1..={}", state::MAX_PAGE_SIZE))),
    }
}

/// A bookmark must lie in the listing's own range (one from another listing would read other records).
fn checked_bookmark<'a>(bookmark: Option<&'a str>, start: &str, end: &str) -> Result<Option<&'a str>> {
    match bookmark.filter(|b| !b.is_empty()) {
        Some(b) if !(start <= b && b < end) => {
            Err(ContractError::invalid("bookmark", format!("`{b}` is not a bookmark of this listing")))
        }
        other => Ok(other),
    }
}

/// What is placed: the requirements and regulation, and the VM's id and host when it is a VM.
struct Subject {
    vm_id: Option<String>,
    host_id: Option<String>,
    requirements: Resources,
    regulation: Regulation,
}

async fn subject(ledger: &impl Ledger, input: &PlaceVm) -> Result<Subject> {
    match (&input.vm_id, &input.requirements, &input.regulation) {
        (Some(vm_id), None, None) => {
            validate::id("vmId", vm_id)?;
            let vm = chains::vm(ledger, vm_id).await?;
            Ok(Subject {
                vm_id: Some(vm.id),
                host_id: Some(vm.host_id),
                requirements: vm.requirements,
                regulation: vm.regulation,
            })
        }
        (None, Some(requirements), Some(regulation)) => {
            validate::requirements("requirements", requirements)?;
            let regulation = validate::regulation("regulation", regulation)?;
            Ok(Subject { vm_id: None, host_id: None, requirements: *requirements, regulation })
        }
        _ => Err(ContractError::invalid("argument", "give either vmId, or requirements and regulation")),
    }
}

/// Share of `part` in `whole`, per million (0 when the host offers none of the resource).
fn per_million(part: u64, whole: u64) -> u64 {
    if whole == 0 { 0 } else { u64::try_from(u128::from(part) * 1_000_000 / u128::from(whole)).unwrap_or(u64::MAX) }
}

/// `least-loaded`: the free share, per million, of the host's most committed resource.
pub fn free_share(capacity: &Resources, free: &Resources) -> u64 {
    capacity
        .by_name()
        .into_iter()
        .zip(free.by_name())
        .filter(|((_, cap), _)| *cap > 0)
        .map(|((_, cap), (_, free))| per_million(free, cap))
        .min()
        .unwrap_or(0)
}

/// `best-fit`: what the host would have spare after the VM, per million of each resource, summed.
pub fn leftover(capacity: &Resources, free: &Resources, needs: &Resources) -> u64 {
    let after = free.minus(needs);
    capacity.by_name().into_iter().zip(after.by_name()).map(|((_, cap), (_, left))| per_million(left, cap)).sum()
}

/// `hash`: the first 48 bits of SHA-256(`vmId/hostId`) (48 so that JSON readers keep it exact).
pub fn rendezvous(vm_id: &str, host_id: &str) -> u64 {
    let digest = Sha256::digest(format!("{vm_id}/{host_id}").as_bytes());
    digest.iter().take(6).fold(0u64, |acc, byte| (acc << 8) | u64::from(*byte))
}

/// Ranks the eligible hosts for a VM (by id) or a shape, across the federation; lists every host
/// left out with its reasons. Read-only: the same ledger state gives every member the same answer.
pub async fn place_vm(ledger: &impl Ledger, input: PlaceVm) -> Result<PlacementReport> {
    if let Some(report) = forwarded::<calls::PlaceVm>(ledger, &input).await? {
        return Ok(report);
    }
    let size = page_size("pageSize", input.page_size)?;
    let limit = match input.limit {
        None => None,
        Some(limit) => Some(page_size("limit", Some(limit))?),
    };
    if let Some(min) = input.min_reputation
        && min > reputation::SCORE_SCALE
    {
        return Err(ContractError::invalid(
            "minReputation",
            format!("{min} is above {} (scores are per mille)", reputation::SCORE_SCALE),
        ));
    }
    let subject = subject(ledger, &input).await?;
    if input.strategy == Strategy::Hash && subject.vm_id.is_none() {
        return Err(ContractError::invalid("strategy", "hash places a VM by its id: give vmId"));
    }
    let now = ledger.tx().timestamp;
    let (start, end) = state::prefix_range(state::HOSTS);
    let bookmark = checked_bookmark(input.bookmark.as_deref(), &start, &end)?;
    let page = ledger.range(&start, &end, size, bookmark).await?;

    let mut reputations: BTreeMap<String, Option<u32>> = BTreeMap::new();
    let mut ranked: Vec<(Candidate, Option<Timestamp>)> = Vec::new();
    let mut excluded = Vec::new();
    let mut checker = crate::anchor::Checker::default();
    let scanned = u32::try_from(page.entries.len()).unwrap_or(u32::MAX);
    for entry in page.entries {
        let host: Host = state::decode(&entry.key, &entry.value)?;
        if !checker.host(ledger, &host, &host.cloud_id).await? {
            excluded.push(Excluded { host_id: host.id, cloud_id: host.cloud_id, reasons: vec![Exclusion::Unanchored] });
            continue;
        }
        let mut reasons = Vec::new();
        if subject.host_id.as_deref() == Some(host.id.as_str()) {
            reasons.push(Exclusion::SameHost);
        }
        let availability = recorded_state(ledger, &host).await?;
        match availability.availability {
            Availability::Up => {}
            Availability::Draining => reasons.push(Exclusion::Draining { since: availability.since }),
            Availability::Down => reasons.push(Exclusion::Down { since: availability.since }),
        }
        let denials = residency_denials(&subject.regulation, &host);
        if !denials.is_empty() {
            reasons.push(Exclusion::Policy { denials });
        }
        let allocation = chains::allocation_at(ledger, &host.id, &now).await?;
        let short = shortfalls(&host.capacity, &allocation, &subject.requirements);
        if !short.is_empty() {
            reasons.push(Exclusion::Capacity { shortfalls: short });
        }
        let mut score_of_cloud = None;
        if let Some(min) = input.min_reputation {
            let score = match reputations.get(&host.cloud_id) {
                Some(score) => *score,
                None => {
                    let score = reputation::score_of(ledger, &host.cloud_id).await?;
                    reputations.insert(host.cloud_id.clone(), score);
                    score
                }
            };
            score_of_cloud = score;
            if score.is_none_or(|s| s < min) {
                reasons.push(Exclusion::Reputation { score, min });
            }
        }
        if !reasons.is_empty() {
            excluded.push(Excluded { host_id: host.id, cloud_id: host.cloud_id, reasons });
            continue;
        }
        let placed: Placements = state::load(ledger, &state::placed(&host.id)).await?.unwrap_or_default();
        let free = host.capacity.minus(&allocation.committed());
        let score = match input.strategy {
            Strategy::RoundRobin => placed.count,
            Strategy::LeastLoaded => free_share(&host.capacity, &free),
            Strategy::Hash => rendezvous(subject.vm_id.as_deref().unwrap_or_default(), &host.id),
            Strategy::BestFit => leftover(&host.capacity, &free, &subject.requirements),
        };
        let last = placed.last_at;
        ranked.push((
            Candidate {
                rank: 0,
                host_id: host.id,
                cloud_id: host.cloud_id,
                country: host.country,
                capacity: host.capacity,
                free,
                score,
                placements: placed.count,
                last_placed_at: placed.last_at,
                utilization_percent: availability.utilization_percent,
                reputation: score_of_cloud,
            },
            last,
        ));
    }
    // Hosts come in id order, and every sort below is stable: ties stay in id order.
    match input.strategy {
        // Never placed (None) sorts before any time: a new host gets the next turn.
        Strategy::RoundRobin => ranked.sort_by_key(|(_, last)| *last),
        Strategy::LeastLoaded => ranked.sort_by_key(|(c, _)| std::cmp::Reverse(c.score)),
        Strategy::Hash | Strategy::BestFit => ranked.sort_by_key(|(c, _)| c.score),
    }
    let mut candidates: Vec<Candidate> = ranked.into_iter().map(|(c, _)| c).collect();
    if let Some(limit) = limit {
        candidates.truncate(limit as usize);
    }
    for (i, candidate) in candidates.iter_mut().enumerate() {
        candidate.rank = u32::try_from(i + 1).unwrap_or(u32::MAX);
    }
    Ok(PlacementReport {
        strategy: input.strategy,
        vm_id: subject.vm_id,
        requirements: subject.requirements,
        at: now,
        candidates,
        excluded,
        scanned,
        bookmark: page.bookmark,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(cpu_cores: u64, memory_mib: u64, network_mbps: u64, io_mbps: u64) -> Resources {
        Resources { cpu_cores, memory_mib, network_mbps, io_mbps }
    }

    #[test]
    fn the_free_share_is_that_of_the_most_committed_resource() {
        assert_eq!(free_share(&r(4, 1000, 100, 100), &r(4, 1000, 100, 100)), 1_000_000);
        assert_eq!(free_share(&r(4, 1000, 100, 100), &r(1, 1000, 100, 100)), 250_000);
        // A resource the host does not offer says nothing of its load.
        assert_eq!(free_share(&r(4, 1000, 0, 100), &r(2, 1000, 0, 100)), 500_000);
    }

    #[test]
    fn an_exact_fit_leaves_nothing() {
        assert_eq!(leftover(&r(4, 1000, 100, 100), &r(2, 500, 50, 50), &r(2, 500, 50, 50)), 0);
        assert!(
            leftover(&r(4, 1000, 100, 100), &r(3, 500, 50, 50), &r(2, 500, 50, 50))
                < leftover(&r(4, 1000, 100, 100), &r(4, 1000, 100, 100), &r(2, 500, 50, 50))
        );
    }

    #[test]
    fn the_hash_is_stable_and_depends_on_both_ids() {
        assert_eq!(rendezvous("vm1", "h1"), rendezvous("vm1", "h1"));
        assert_ne!(rendezvous("vm1", "h1"), rendezvous("vm2", "h1"));
        assert_ne!(rendezvous("vm1", "h1"), rendezvous("vm1", "h2"));
        assert!(rendezvous("vm1", "h1") < 1 << 48);
    }

    #[test]
    fn strategies_have_their_wire_names() {
        let names: Vec<String> = [Strategy::RoundRobin, Strategy::LeastLoaded, Strategy::Hash, Strategy::BestFit]
            .iter()
            .map(|s| serde_json::to_value(s).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default())
            .collect();
        assert_eq!(names, ["round-robin", "least-loaded", "hash", "best-fit"]);
    }
}
