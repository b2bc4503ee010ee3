//! The fault suite: one fault at a time on the running network, under load, then every operation
//! reconciled with the ledger.
//!
//! A run of [`writes_under`] sends `RegisterHost` writes through one member's proxy with the SDK,
//! each with its own idempotency key, a number in flight at once; at a moment drawn from the seed
//! it injects the fault (SIGKILL of a process, or SIGSTOP for a while), then recovers
//! (`vmledger-net up` restarts what is down; SIGCONT). When the load is done, every operation is
//! looked up on another member's peer, so what the client was told is compared with what the
//! ledger holds:
//! - **lost**: the client was told committed, the ledger lacks the host;
//! - **duplicated**: more than one valid transaction for one operation (its key and the keys the SDK
//!   derives for a retry, `KEY/2`, `KEY/3` …);
//! - **failed but committed**: the client was told refused or failed, the ledger has the host;
//! - **unknown**: the client was left without an outcome (the SDK's `UNKNOWN_OUTCOME`).
//!
//! [`migrations_under`] does the same for the relays: inter-cloud migrations commit while both
//! members' relays are killed, and every migration must have exactly one Leave and one Arrival on
//! the local chains.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde::Serialize;
use vmledger_client::{Error, StartAt, TxState, VmLedger, identity};
use vmledger_contract::model::Resources;
use vmledger_contract::msg;
use vmledger_contract::vocabulary::calls;

use crate::{Federation, VM_NEEDS, block_on, confirmation, indication, unique};

/// How long a recovered network has to answer a new write, and the load to finish.
const PATIENCE: Duration = Duration::from_secs(180);

/// One fault, as an operator would cause it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// SIGKILL of a process (`peer0.org2`, `orderer0.org3`, `proxy.org2`, `ccaas.org2` …), down for
    /// `down` before `vmledger-net up` restarts it.
    Kill { node: String, down: Duration },
    /// SIGSTOP of a process for `paused`, then SIGCONT.
    Pause { node: String, paused: Duration },
    /// Member `org`'s peer cut off from the federation's orderers for `cut` (`vmledger-net cut`,
    /// then `mend`; a network made with `up --faults`).
    Partition { org: String, cut: Duration },
}

impl Fault {
    /// What the table calls it.
    pub fn name(&self) -> String {
        match self {
            Fault::Kill { node, .. } => format!("SIGKILL {node}"),
            Fault::Pause { node, paused } => format!("SIGSTOP {node} {} s", paused.as_secs()),
            Fault::Partition { org, cut } => format!("{org} cut off from the orderers {} s", cut.as_secs()),
        }
    }

    /// Causes the fault and recovers from it; returns once the network is whole again.
    fn inject_and_recover(&self, f: &Federation) {
        match self {
            Fault::Kill { node, down } => {
                f.net(&["signal", node, "KILL"]);
                std::thread::sleep(*down);
                f.net(&["up"]);
            }
            Fault::Pause { node, paused } => {
                f.net(&["signal", node, "STOP"]);
                std::thread::sleep(*paused);
                f.net(&["signal", node, "CONT"]);
            }
            Fault::Partition { org, cut } => {
                f.net(&["cut", org]);
                std::thread::sleep(*cut);
                f.net(&["mend", org]);
            }
        }
    }
}

/// The writes of a run: how many, and how many in flight at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Load {
    pub writes: usize,
    pub in_flight: usize,
}

/// A deterministic draw in `[0, 1)` from a seed (SplitMix64): the fault's moment must be the same
/// on a rerun with the same seed, and this is all the randomness the suite needs.
pub fn draw(seed: u64) -> f64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// The operation after which the fault is injected: between a fifth and a half of the load.
fn fault_moment(operations: usize, seed: u64) -> usize {
    let share = 0.2 + 0.3 * draw(seed);
    ((operations as f64 * share) as usize).max(1)
}

/// What one fault did to one run, reconciled with the ledger.
#[derive(Debug, Clone, Serialize)]
pub struct Figures {
    pub fault: String,
    /// The member whose proxy the load went through.
    pub through: String,
    pub operations: usize,
    pub in_flight: usize,
    pub seed: u64,
    /// What the client was told.
    pub committed: usize,
    pub refused: usize,
    pub unknown: usize,
    /// What the ledger says of it.
    pub lost: usize,
    pub duplicated: usize,
    pub failed_but_committed: usize,
    /// After how many completed operations the fault was injected.
    pub injected_after: usize,
    /// From the fault's injection to the end of the recovery (`up` returned, SIGCONT sent).
    pub fault_ms: u64,
    /// From the end of the recovery to the first new write committed.
    pub recovered_ms: u64,
    /// From the end of the recovery until every operation had its outcome (0: all before).
    pub resolved_ms: u64,
    /// The refusals the client saw, by code.
    pub refusals: BTreeMap<String, usize>,
}

impl Figures {
    /// Nothing lost, nothing duplicated, nothing answered failed that committed, nothing unknown.
    pub fn clean(&self) -> bool {
        self.lost == 0 && self.duplicated == 0 && self.failed_but_committed == 0 && self.unknown == 0
    }
}

/// What the client was told about one operation.
#[derive(Debug)]
enum Told {
    Committed,
    Refused(String),
    Unknown,
}

impl Told {
    fn of<T>(outcome: &Result<T, Error>) -> Told {
        match outcome {
            Ok(_) => Told::Committed,
            Err(Error::UnknownOutcome { .. }) => Told::Unknown,
            Err(e) => Told::Refused(e.code().to_owned()),
        }
    }
}

struct Operation {
    key: String,
    told: Told,
    done: Instant,
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn host(id: &str, cloud: &str) -> msg::RegisterHost {
    msg::RegisterHost {
        id: id.to_owned(),
        cloud_id: cloud.to_owned(),
        country: "JP".into(),
        organizations: vec!["CompanyA".into()],
        capacity: Resources { cpu_cores: 8, memory_mib: 8192, network_mbps: 1000, io_mbps: 500 },
    }
}

/// `load` writes through `through`'s proxy while `fault` happens at the seed's moment, then every
/// one reconciled on the first other member's peer.
///
/// # Panics
/// When the network does not recover within [`PATIENCE`], or the ledger cannot be read.
pub fn writes_under(f: &Federation, fault: &Fault, through: &str, load: Load, seed: u64) -> Figures {
    let manager = f.ledger(through, "manager");
    let cloud = f.owned(through, "faults");
    block_on(manager.register_cloud(&msg::RegisterCloud { id: cloud.clone(), name: "Faults".into(), prices: None }))
        .expect("the load's cloud");
    let hosts: Vec<String> = (0..load.writes).map(|_| f.owned(through, "h")).collect();
    let injected_after = fault_moment(load.writes, seed);
    let completed = AtomicUsize::new(0);

    let (operations, fault_started, recovered_at, recovered_ms) = std::thread::scope(|scope| {
        let running = scope.spawn(|| {
            block_on(
                futures_util::stream::iter(hosts.iter().map(|id| {
                    let (manager, cloud, completed) = (&manager, &cloud, &completed);
                    async move {
                        let key = unique("fault-op");
                        let outcome = manager.submit_with_key::<calls::RegisterHost>(&host(id, cloud), &key).await;
                        completed.fetch_add(1, Ordering::SeqCst);
                        Operation { key, told: Told::of(&outcome), done: Instant::now() }
                    }
                }))
                .buffered(load.in_flight)
                .collect::<Vec<_>>(),
            )
        });
        let deadline = Instant::now() + PATIENCE;
        while completed.load(Ordering::SeqCst) < injected_after {
            assert!(Instant::now() < deadline, "the load made no progress before the fault");
            std::thread::sleep(Duration::from_millis(5));
        }
        let fault_started = Instant::now();
        fault.inject_and_recover(f);
        let recovered_at = Instant::now();
        let recovered_ms = first_write_after(f, &manager, &cloud, recovered_at);
        let operations = running.join().expect("the load");
        (operations, fault_started, recovered_at, recovered_ms)
    });

    let mut figures = Figures {
        fault: fault.name(),
        through: through.to_owned(),
        operations: operations.len(),
        in_flight: load.in_flight,
        seed,
        committed: 0,
        refused: 0,
        unknown: 0,
        lost: 0,
        duplicated: 0,
        failed_but_committed: 0,
        injected_after,
        fault_ms: millis(recovered_at - fault_started),
        recovered_ms,
        resolved_ms: operations
            .iter()
            .map(|o| millis(o.done.saturating_duration_since(recovered_at)))
            .max()
            .unwrap_or(0),
        refusals: BTreeMap::new(),
    };
    let creator = block_on(manager.contract().network().gateway().creator()).expect("creator");
    let reader = f.ledger(other_than(f, through), "manager");
    // The reader's peer has every block up to one it commits now: every transaction ordered before.
    block_on(reader.ping()).expect("a write through the reader, after the load");
    let max_attempts = 4;
    let ledger: Vec<(bool, usize)> = block_on(
        futures_util::stream::iter(operations.iter().zip(&hosts).map(|(op, id)| {
            let (reader, creator) = (&reader, &creator);
            async move { on_ledger(reader, id, &op.key, creator, max_attempts).await }
        }))
        .buffered(16)
        .collect(),
    );
    for (op, (exists, valid)) in operations.iter().zip(ledger) {
        match &op.told {
            Told::Committed => {
                figures.committed += 1;
                figures.lost += usize::from(!exists);
            }
            Told::Refused(code) => {
                figures.refused += 1;
                figures.failed_but_committed += usize::from(exists);
                *figures.refusals.entry(code.clone()).or_default() += 1;
            }
            Told::Unknown => figures.unknown += 1,
        }
        figures.duplicated += usize::from(valid > 1);
    }
    figures
}

/// Whether host `id` exists, and how many valid transactions its operation (key `key` and the
/// SDK's retry keys) left.
async fn on_ledger(reader: &VmLedger, id: &str, key: &str, creator: &[u8], max_attempts: u32) -> (bool, usize) {
    let exists = match reader.get_host(id).await {
        Ok(_) => true,
        Err(e) if e.code() == "NOT_FOUND" => false,
        Err(e) => panic!("reading host {id}: {e}"),
    };
    let mut valid = 0;
    for attempt in 1..=max_attempts {
        let key = if attempt == 1 { key.to_owned() } else { format!("{key}/{attempt}") };
        let tx_id = identity::tx_id(&key, creator);
        let found = reader.contract().network().lookup(&tx_id).await.unwrap_or_else(|e| panic!("lookup {tx_id}: {e}"));
        if found.is_some_and(|s| s.status == TxState::Committed) {
            valid += 1;
        }
    }
    (exists, valid)
}

/// A member other than `org`: who reads the ledger when `org`'s processes were the ones hurt.
fn other_than<'a>(f: &'a Federation, org: &str) -> &'a str {
    f.members.members.iter().map(|m| m.org.as_str()).find(|o| *o != org).expect("a second member")
}

/// Milliseconds from `since` until a new write through `manager` commits (retried with its key).
fn first_write_after(f: &Federation, manager: &VmLedger, cloud: &str, since: Instant) -> u64 {
    let probe = host(&f.owned(manager_org(f, manager), "probe"), cloud);
    let key = unique("probe");
    loop {
        if block_on(manager.submit_with_key::<calls::RegisterHost>(&probe, &key)).is_ok() {
            return millis(since.elapsed());
        }
        assert!(since.elapsed() < PATIENCE, "no write committed {} s after the recovery", PATIENCE.as_secs());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The member whose proxy `manager` talks to.
fn manager_org<'a>(f: &'a Federation, manager: &VmLedger) -> &'a str {
    let url = manager.contract().network().gateway().url();
    f.members
        .members
        .iter()
        .find(|m| url.starts_with(m.proxy.url.trim_end_matches('/')))
        .map(|m| m.org.as_str())
        .expect("a member's proxy")
}

/// `migrations` inter-cloud migrations from the first member to the second, one after another,
/// while both members' relays are killed at the seed's moment (then `vmledger-net up`); each
/// confirmed migration must have exactly one Leave on the source's local chain and one Arrival on
/// the destination's.
///
/// # Panics
/// When the relays do not catch up within [`PATIENCE`], or the ledger cannot be read.
pub fn migrations_under_relay_kill(f: &Federation, migrations: usize, seed: u64) -> Figures {
    let (org_a, org_b) = f.orgs();
    let manager_a = f.ledger(&org_a, "manager");
    let manager_b = f.ledger(&org_b, "manager");
    let (operator_a, operator_b) = (f.ledger(&org_a, "operator"), f.ledger(&org_b, "operator"));
    let (cloud_a, cloud_b) = (f.owned(&org_a, "cloud-a"), f.owned(&org_b, "cloud-b"));
    for (ledger, cloud) in [(&manager_a, &cloud_a), (&manager_b, &cloud_b)] {
        block_on(ledger.register_cloud(&msg::RegisterCloud { id: cloud.clone(), name: "Faults".into(), prices: None }))
            .expect("cloud");
    }
    // Room for every VM on one host each side.
    let big = Resources { cpu_cores: 1024, memory_mib: 1 << 22, network_mbps: 1 << 20, io_mbps: 1 << 20 };
    let (from, to) = (f.owned(&org_a, "a-big"), f.owned(&org_b, "b-big"));
    for (ledger, id, cloud, country) in [(&manager_a, &from, &cloud_a, "JP"), (&manager_b, &to, &cloud_b, "GB")] {
        block_on(ledger.register_host(&msg::RegisterHost {
            id: id.clone(),
            cloud_id: cloud.clone(),
            country: country.into(),
            organizations: vec!["CompanyA".into()],
            capacity: big,
        }))
        .expect("host");
    }
    let hash = "ab".repeat(32);
    let vms: Vec<String> = (0..migrations).map(|_| f.owned(&org_a, "vm")).collect();
    // One after another: each registration writes the host's allocation.
    for vm in &vms {
        let input = msg::RegisterVm {
            id: vm.clone(),
            cloud_id: cloud_a.clone(),
            host_id: from.clone(),
            requirements: VM_NEEDS,
            image_hash: hash.clone(),
            regulation: crate::Scenario::regulation(),
        };
        block_on(operator_a.register_vm(&input)).expect("VM");
    }
    let (local_a, local_b) = (f.local_channel(&org_a), f.local_channel(&org_b));
    let relay_a = f.ledger_on(&org_a, "relay", &local_a);
    let relay_b = f.ledger_on(&org_b, "relay", &local_b);
    let start_a = block_on(relay_a.contract().network().info()).expect("height").height;
    let start_b = block_on(relay_b.contract().network().info()).expect("height").height;
    let injected_after = fault_moment(migrations, seed);
    let records = |f: &Federation| f.relay(&org_a).counts.leaves + f.relay(&org_b).counts.arrivals;
    let before = records(f);

    let (outcomes, fault_started, recovered_at) = std::thread::scope(|scope| {
        let running = scope.spawn(|| {
            // One after another: they all move between the same two hosts, whose allocations every
            // Indication and Confirmation writes, so concurrent ones would mostly conflict (MVCC).
            block_on(
                futures_util::stream::iter(vms.iter().map(|vm| {
                    let (operator_a, operator_b, to, hash) = (&operator_a, &operator_b, &to, &hash);
                    async move {
                        let id = match operator_a.migrate(&indication(vm, to, hash)).await {
                            Ok(indicated) => indicated.tx_id,
                            Err(e) => return (vm.clone(), None, Told::of::<()>(&Err(e)), Instant::now()),
                        };
                        let confirm = confirmation(&id, hash);
                        // The destination's peer may commit the Indication's block a moment later.
                        let deadline = Instant::now() + Duration::from_secs(30);
                        loop {
                            match operator_b.confirm_migration(&confirm).await {
                                Err(e)
                                    if Instant::now() < deadline
                                        && e.contract_error().is_some_and(|c| c.code() == "NOT_FOUND") =>
                                {
                                    tokio::time::sleep(Duration::from_millis(50)).await;
                                }
                                outcome => return (vm.clone(), Some(id), Told::of(&outcome), Instant::now()),
                            }
                        }
                    }
                }))
                .buffered(1)
                .collect::<Vec<_>>(),
            )
        });
        // Kill both relays once some of the migrations have their records, not all.
        let deadline = Instant::now() + PATIENCE;
        while records(f) < before + 2 * injected_after as u64 {
            assert!(Instant::now() < deadline, "the relays wrote nothing");
            std::thread::sleep(Duration::from_millis(20));
        }
        let fault_started = Instant::now();
        f.net(&["signal", &format!("relay.{org_a}"), "KILL"]);
        f.net(&["signal", &format!("relay.{org_b}"), "KILL"]);
        std::thread::sleep(Duration::from_secs(1));
        f.net(&["up"]);
        let recovered_at = Instant::now();
        (running.join().expect("migrations"), fault_started, recovered_at)
    });

    let confirmed: BTreeSet<String> = outcomes
        .iter()
        .filter(|(_, _, told, _)| matches!(told, Told::Committed))
        .filter_map(|(_, id, _, _)| id.clone())
        .collect();
    // Every Leave and Arrival, counted from the local chains' own events.
    let mut seen = [BTreeMap::<String, u32>::new(), BTreeMap::new()];
    let mut caught_up_at = recovered_at;
    for (seen, (ledger, start, event)) in
        seen.iter_mut().zip([(&relay_a, start_a, "VmLeft"), (&relay_b, start_b, "VmArrived")])
    {
        let mut stream = ledger.contract().events(StartAt::Block(start));
        let deadline = Instant::now() + PATIENCE;
        // Until every one arrived, then a little longer, to catch a second one.
        let mut settle: Option<Instant> = None;
        while settle.is_none_or(|t| t.elapsed() < Duration::from_secs(3)) && Instant::now() < deadline {
            let next = block_on(async { tokio::time::timeout(Duration::from_secs(1), stream.next()).await });
            if let Ok(Ok(e)) = next {
                let id = e.payload.get("migrationId").and_then(|v| v.as_str()).unwrap_or_default().to_owned();
                if e.event_name == event && confirmed.contains(&id) {
                    *seen.entry(id).or_default() += 1;
                }
            }
            if settle.is_none() && confirmed.iter().all(|id| seen.contains_key(id)) {
                let now = Instant::now();
                settle = Some(now);
                caught_up_at = caught_up_at.max(now);
            }
        }
    }
    let mut figures = Figures {
        fault: format!("SIGKILL relay.{org_a} and relay.{org_b}"),
        through: org_a.clone(),
        operations: outcomes.len(),
        in_flight: 1,
        seed,
        committed: confirmed.len(),
        refused: 0,
        unknown: 0,
        lost: 0,
        duplicated: 0,
        failed_but_committed: 0,
        injected_after,
        fault_ms: millis(recovered_at - fault_started),
        // The relays' work is the outcome here: recovered once every record is on the local chains.
        recovered_ms: millis(caught_up_at - recovered_at),
        resolved_ms: millis(caught_up_at - recovered_at),
        refusals: BTreeMap::new(),
    };
    for (_, id, told, _) in &outcomes {
        match told {
            Told::Committed => {
                let id = id.as_deref().unwrap_or_default();
                let (leaves, arrivals) = (seen[0].get(id).copied().unwrap_or(0), seen[1].get(id).copied().unwrap_or(0));
                figures.lost += usize::from(leaves == 0 || arrivals == 0);
                figures.duplicated += usize::from(leaves > 1 || arrivals > 1);
            }
            Told::Refused(code) => {
                figures.refused += 1;
                *figures.refusals.entry(code.clone()).or_default() += 1;
                if let Some(id) = id
                    && block_on(operator_a.get_migration(id))
                        .is_ok_and(|m| m.status == vmledger_contract::model::MigrationStatus::Confirmed)
                {
                    figures.failed_but_committed += 1;
                }
            }
            Told::Unknown => figures.unknown += 1,
        }
    }
    figures
}

/// The figures as a markdown table.
pub fn table(rows: &[Figures]) -> String {
    let mut out = String::from(
        "| fault | operations (in flight) | committed | refused | lost | duplicated | failed but committed | unknown | fault lasted | first write after | all resolved after |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    for r in rows {
        let refusals = if r.refusals.is_empty() {
            String::new()
        } else {
            format!(" ({})", r.refusals.iter().map(|(c, n)| format!("{n} {c}")).collect::<Vec<_>>().join(", "))
        };
        out.push_str(&format!(
            "| {} | {} ({}) | {} | {}{} | {} | {} | {} | {} | {:.1} s | {:.2} s | {:.2} s |\n",
            r.fault,
            r.operations,
            r.in_flight,
            r.committed,
            r.refused,
            refusals,
            r.lost,
            r.duplicated,
            r.failed_but_committed,
            r.unknown,
            r.fault_ms as f64 / 1000.0,
            r.recovered_ms as f64 / 1000.0,
            r.resolved_ms as f64 / 1000.0,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_faults_moment_is_the_seeds_and_inside_the_load() {
        assert_eq!(fault_moment(400, 7), fault_moment(400, 7));
        for seed in 0..200 {
            let at = fault_moment(400, seed);
            assert!((80..200).contains(&at), "seed {seed}: {at}");
            assert!((0.0..1.0).contains(&draw(seed)));
        }
        assert_ne!(fault_moment(400, 1), fault_moment(400, 2));
    }
}
