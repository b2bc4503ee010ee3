//! Read-only queries: records by id, paged listings, a VM's whole history, and usage reports.
//! They run as evaluations (no commit), so they may read in pages.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;

use crate::chains;
use crate::contract::calls;
use crate::error::{ContractError, Result};
use crate::ledger::Ledger;
use crate::migration::assess;
use crate::model::{
    Allocation, Cloud, Host, Migration, MigrationCheck, Page, Prices, RegulationChange, Residency, Resources,
    Timestamp, UsageReport, VirtualMachine, VmHistory, VmUsage,
};
use crate::{anchor, msg, state, stays, validate};

const MS_PER_HOUR: u128 = 3_600_000;
/// The longest period one `Usage` report covers.
pub const MAX_USAGE_DAYS: i64 = 366;
/// The most stays one `Usage` report reads; a busier period is refused, never counted in part.
pub const MAX_USAGE_STAYS: u32 = 20_000;
/// The most items of each list `VmHistory` answers.
pub const MAX_HISTORY: u32 = state::MAX_PAGE_SIZE;

/// Would this caller's `Migrate` succeed? Permit, or deny with every reason.
pub async fn check_migration(ledger: &impl Ledger, input: msg::Migrate) -> Result<MigrationCheck> {
    let violations = assess(ledger, &input).await?.violations;
    Ok(MigrationCheck { permitted: violations.is_empty(), violations })
}

pub async fn get_cloud(ledger: &impl Ledger, input: msg::ById) -> Result<Cloud> {
    validate::id("id", &input.id)?;
    chains::cloud(ledger, &input.id).await
}

pub async fn get_host(ledger: &impl Ledger, input: msg::ById) -> Result<Host> {
    validate::id("id", &input.id)?;
    chains::host(ledger, &input.id).await
}

/// A VM; on a local chain, with where it moved inside its cloud.
pub async fn get_vm(ledger: &impl Ledger, input: msg::ById) -> Result<VirtualMachine> {
    validate::id("id", &input.id)?;
    chains::vm(ledger, &input.id).await
}

/// What is committed on a host now.
pub async fn get_allocation(ledger: &impl Ledger, input: msg::ById) -> Result<Allocation> {
    validate::id("id", &input.id)?;
    chains::host(ledger, &input.id).await?;
    chains::allocation_at(ledger, &input.id, &ledger.tx().timestamp).await
}

/// A migration, if its VM's operator endorsed its creation.
pub async fn get_migration(ledger: &impl Ledger, input: msg::ById) -> Result<Migration> {
    validate::id("id", &input.id)?;
    anchor::migration(ledger, &input.id).await
}

fn page_size(requested: Option<u32>) -> Result<u32> {
    match requested {
        None => Ok(state::DEFAULT_PAGE_SIZE),
        Some(size) if (1..=state::MAX_PAGE_SIZE).contains(&size) => Ok(size),
        Some(size) => {
            Err(ContractError::invalid("pageSize", format!("{size} is outside 1..={}", state::MAX_PAGE_SIZE)))
        }
    }
}

/// Reads an index range whose values are keys of records, and loads the records.
async fn follow_index<T: DeserializeOwned>(
    ledger: &impl Ledger,
    (start, end): (String, String),
    page_size: u32,
    bookmark: Option<&str>,
) -> Result<Page<T>> {
    // A bookmark is where the next page starts: one from another listing would read other records.
    if let Some(b) = bookmark.filter(|b| !b.is_empty())
        && !(start.as_str() <= b && b < end.as_str())
    {
        return Err(ContractError::invalid("bookmark", format!("`{b}` is not a bookmark of this listing")));
    }
    let page = ledger.range(&start, &end, page_size, bookmark).await?;
    let mut items = Vec::with_capacity(page.entries.len());
    for entry in page.entries {
        let record = state::load(ledger, &entry.value).await?.ok_or_else(|| ContractError::Ledger {
            reason: format!("index entry `{}` points at missing `{}`", entry.key, entry.value),
        })?;
        items.push(record);
    }
    Ok(Page { items, bookmark: page.bookmark, unanchored: Vec::new() })
}

/// The hosts of a cloud, by id.
pub async fn list_hosts(ledger: &impl Ledger, input: msg::ListHosts) -> Result<Page<Host>> {
    if let Some(hosts) = chains::forwarded::<calls::ListHosts>(ledger, &input).await? {
        return Ok(hosts);
    }
    validate::id("cloudId", &input.cloud_id)?;
    let size = page_size(input.page_size)?;
    anchor::cloud(ledger, &input.cloud_id).await?;
    let range = state::prefix_range(&state::hosts_of_cloud(&input.cloud_id));
    let page: Page<Host> = follow_index(ledger, range, size, input.bookmark.as_deref()).await?;
    let mut checker = anchor::Checker::default();
    let mut hosts = Vec::with_capacity(page.items.len());
    for host in page.items {
        if checker.host(ledger, &host, &input.cloud_id).await? {
            hosts.push(host);
        }
    }
    Ok(Page { items: hosts, bookmark: page.bookmark, unanchored: checker.unanchored })
}

/// The migrations of a page that their VMs' operators endorsed; the page says which it left out.
async fn anchored_migrations(
    ledger: &impl Ledger,
    page: Page<Migration>,
    vm_id: Option<&str>,
    cloud_id: Option<&str>,
) -> Result<Page<Migration>> {
    let mut checker = anchor::Checker::default();
    let mut migrations = Vec::with_capacity(page.items.len());
    for migration in page.items {
        if checker.migration(ledger, &migration, vm_id, cloud_id).await? {
            migrations.push(migration);
        }
    }
    Ok(Page { items: migrations, bookmark: page.bookmark, unanchored: checker.unanchored })
}

/// Migrations of a VM, or touching a cloud, indicated in `[from, to)`, oldest first.
pub async fn list_migrations(ledger: &impl Ledger, input: msg::ListMigrations) -> Result<Page<Migration>> {
    let size = page_size(input.page_size)?;
    check_period(input.from.as_ref(), input.to.as_ref())?;
    let prefix = match (input.vm_id.as_deref(), input.cloud_id.as_deref()) {
        (Some(vm_id), None) => {
            validate::id("vmId", vm_id)?;
            chains::vm(ledger, vm_id).await?;
            state::migrations_of_vm(vm_id)
        }
        (None, Some(cloud_id)) => {
            validate::id("cloudId", cloud_id)?;
            chains::cloud(ledger, cloud_id).await?;
            state::migrations_of_cloud(cloud_id)
        }
        _ => return Err(ContractError::invalid("argument", "give exactly one of vmId and cloudId")),
    };
    let range = state::time_range(&prefix, input.from.as_ref(), input.to.as_ref());
    let page = follow_index(ledger, range, size, input.bookmark.as_deref()).await?;
    anchored_migrations(ledger, page, input.vm_id.as_deref(), input.cloud_id.as_deref()).await
}

fn check_period(from: Option<&Timestamp>, to: Option<&Timestamp>) -> Result<()> {
    match (from, to) {
        (Some(from), Some(to)) if from >= to => {
            Err(ContractError::invalid("to", format!("period end {to} is not after its start {from}")))
        }
        _ => Ok(()),
    }
}

/// Everything about one VM: its migrations, its stays and the changes of its regulation, each list
/// bounded (and `truncated` says when one was cut). On a local chain: the VM as it sees it and its
/// migrations inside the cloud (its stays and regulations are on the federation).
pub async fn vm_history(ledger: &impl Ledger, input: msg::ById) -> Result<VmHistory> {
    validate::id("id", &input.id)?;
    let vm_key = state::vm(&input.id);
    let vm = chains::vm(ledger, &input.id).await?;
    let migrations: Page<Migration> =
        follow_index(ledger, state::prefix_range(&state::migrations_of_vm(&vm.id)), MAX_HISTORY, None).await?;
    let migrations = anchored_migrations(ledger, migrations, Some(&vm.id), None).await?;
    let mut unanchored = migrations.unanchored;
    if chains::Chain::of(ledger.tx())? != chains::Chain::Federation {
        let truncated = migrations.bookmark.is_some();
        return Ok(VmHistory {
            vm,
            migrations: migrations.items,
            residencies: vec![],
            regulation_changes: vec![],
            truncated,
            unanchored,
        });
    }
    let (start, end) = state::prefix_range(&state::residencies_of_vm(&vm.id));
    let stays = ledger.range(&start, &end, MAX_HISTORY, None).await?;
    let mut residencies = Vec::with_capacity(stays.entries.len());
    let mut checker = anchor::Checker::default();
    for entry in stays.entries {
        let stay = state::decode::<Residency>(&entry.key, &entry.value)?;
        if checker.stay(ledger, &entry.key, &stay, Some(&vm.id), None).await? {
            residencies.push(stay);
        }
    }
    unanchored.append(&mut checker.unanchored);
    let versions = ledger.history(&vm_key, MAX_HISTORY).await?;
    let truncated = migrations.bookmark.is_some() || stays.bookmark.is_some() || versions.len() >= MAX_HISTORY as usize;
    let mut regulation_changes: Vec<RegulationChange> = Vec::new();
    for version in versions {
        let Some(value) = version.value.filter(|_| !version.is_delete) else { continue };
        let regulation = state::decode::<VirtualMachine>(&vm_key, &value)?.regulation;
        if regulation_changes.last().is_none_or(|last| last.regulation != regulation) {
            regulation_changes.push(RegulationChange { tx_id: version.tx_id, at: version.timestamp, regulation });
        }
    }
    Ok(VmHistory { vm, migrations: migrations.items, residencies, regulation_changes, truncated, unanchored })
}

/// The keys of the stays a cloud hosted during `[from, to)`: those still open, and those closed
/// that overlap one of the period's months (each once). At most [`MAX_USAGE_STAYS`].
async fn stays_in_period(
    ledger: &impl Ledger,
    cloud_id: &str,
    from: &Timestamp,
    to: &Timestamp,
) -> Result<Vec<String>> {
    let mut prefixes = vec![state::open_residencies_of_cloud(cloud_id)];
    let last = *to - chrono::Duration::nanoseconds(1);
    prefixes.extend(stays::months(from, &last).iter().map(|month| state::residencies_of_cloud_month(cloud_id, month)));
    let mut keys = std::collections::BTreeSet::new();
    for prefix in prefixes {
        let (start, end) = state::prefix_range(&prefix);
        let page = ledger.range(&start, &end, MAX_USAGE_STAYS + 1, None).await?;
        keys.extend(page.entries.into_iter().map(|e| e.value));
        if page.bookmark.is_some() || keys.len() > MAX_USAGE_STAYS as usize {
            return Err(ContractError::invalid(
                "to",
                format!("the period holds more than {MAX_USAGE_STAYS} stays of `{cloud_id}`: ask for a shorter one"),
            ));
        }
    }
    Ok(keys.into_iter().collect())
}

/// What a cloud hosted over `[from, to)` (at most [`MAX_USAGE_DAYS`]): per VM, the time spent on its
/// hosts, resource-hours, and the cost at the cloud's prices. Stays still open are counted up to the
/// transaction's time. Reads only the stays of the period, however long the history.
pub async fn usage(ledger: &impl Ledger, input: msg::Usage) -> Result<UsageReport> {
    if let Some(report) = chains::forwarded::<calls::Usage>(ledger, &input).await? {
        return Ok(report);
    }
    validate::id("cloudId", &input.cloud_id)?;
    check_period(Some(&input.from), Some(&input.to))?;
    if input.to - input.from > chrono::Duration::days(MAX_USAGE_DAYS) {
        return Err(ContractError::invalid("to", format!("a report covers at most {MAX_USAGE_DAYS} days")));
    }
    let cloud = anchor::cloud(ledger, &input.cloud_id).await?;
    let now = ledger.tx().timestamp;

    let mut per_vm: BTreeMap<String, (Vec<Residency>, u128, ResourceMs)> = BTreeMap::new();
    let mut checker = anchor::Checker::default();
    for key in stays_in_period(ledger, &cloud.id, &input.from, &input.to).await? {
        let stay: Residency = state::load(ledger, &key)
            .await?
            .ok_or_else(|| ContractError::Ledger { reason: format!("a usage index points at missing `{key}`") })?;
        // Billed only if the member it bills endorsed its creation, and only to the cloud that hosted it.
        if !checker.stay(ledger, &key, &stay, None, Some(&cloud.id)).await? {
            continue;
        }
        let start = stay.from.max(input.from);
        let end = stay.to.unwrap_or(now).min(input.to);
        let Ok(ms) = u128::try_from((end - start).num_milliseconds()) else { continue };
        if ms == 0 {
            continue;
        }
        let entry = per_vm.entry(stay.vm_id.clone()).or_default();
        entry.1 += ms;
        entry.2.add(&stay.requirements, ms);
        entry.0.push(stay);
    }

    let prices = cloud.prices.as_ref();
    let mut vms = Vec::with_capacity(per_vm.len());
    for (vm_id, (residencies, ms, used)) in per_vm {
        vms.push(VmUsage {
            operator_cloud_id: residencies.first().map(|r| r.operator_cloud_id.clone()).unwrap_or_default(),
            vm_id,
            duration_ms: u64::try_from(ms).unwrap_or(u64::MAX),
            cpu_core_hours: hours(used.cpu_cores),
            memory_gib_hours: hours(used.memory_mib) / 1024.0,
            network_mbps_hours: hours(used.network_mbps),
            io_mbps_hours: hours(used.io_mbps),
            cost: prices.map(|p| used.cost(p)).transpose()?,
            residencies,
        });
    }
    let total_cost = match prices {
        None => None,
        Some(_) => Some(vms.iter().filter_map(|vm| vm.cost).try_fold(0u64, u64::checked_add).ok_or_else(|| {
            ContractError::invalid(
                "to",
                "the period's total cost does not fit 64 bits of micro-units: ask for a shorter one",
            )
        })?),
    };
    let credits = crate::claims::credits_in_period(ledger, &cloud, &input.from, &input.to, &mut checker).await?;
    let total_credits = prices
        .map(|p| credits.iter().filter(|c| c.currency == p.currency).fold(0u64, |sum, c| sum.saturating_add(c.amount)));
    let net_cost = total_cost.zip(total_credits).map(|(cost, credit)| cost.saturating_sub(credit));
    Ok(UsageReport {
        cloud_id: cloud.id,
        from: input.from,
        to: input.to,
        currency: prices.map(|p| p.currency.clone()),
        vms,
        total_cost,
        credits,
        total_credits,
        net_cost,
        unanchored: checker.unanchored,
    })
}

/// Resource-milliseconds: amount × time, summed exactly in integers.
#[derive(Default)]
struct ResourceMs {
    cpu_cores: u128,
    memory_mib: u128,
    network_mbps: u128,
    io_mbps: u128,
}

impl ResourceMs {
    fn add(&mut self, r: &Resources, ms: u128) {
        self.cpu_cores += u128::from(r.cpu_cores) * ms;
        self.memory_mib += u128::from(r.memory_mib) * ms;
        self.network_mbps += u128::from(r.network_mbps) * ms;
        self.io_mbps += u128::from(r.io_mbps) * ms;
    }

    /// Cost in micro-units, rounded down once at the end; checked, never wrapped (the caps on
    /// amounts, prices and periods keep it far inside 128 bits; a cost beyond 64 bits is refused).
    fn cost(&self, p: &Prices) -> Result<u64> {
        let part = |amount: u128, price: u64| amount.checked_mul(u128::from(price));
        let micro_ms = [
            part(self.cpu_cores, p.cpu_core_hour),
            part(self.memory_mib, p.memory_gib_hour).map(|m| m / 1024),
            part(self.network_mbps, p.network_mbps_hour),
            part(self.io_mbps, p.io_mbps_hour),
        ]
        .into_iter()
        .try_fold(0u128, |sum, part| sum.checked_add(part?));
        micro_ms.and_then(|m| u64::try_from(m / MS_PER_HOUR).ok()).ok_or_else(|| {
            ContractError::invalid("to", "a VM's cost over the period does not fit 64 bits of micro-units")
        })
    }
}

fn hours(resource_ms: u128) -> f64 {
    // Exact below 2^53 resource-ms (about 285 000 core-years); plenty for a report.
    resource_ms as f64 / MS_PER_HOUR as f64
}
