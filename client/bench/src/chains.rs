//! BASICS' figures on real Fabric: the migration delay as BASICS defines it — from the migration's
//! arrival at the gateway (its Indication submitted to the member's proxy) until its last
//! transaction is in a block of the local chain — against the offered rate, for local migrations
//! (the Confirmation on the cloud's own chain: BASICS Fig. 6–7) and for inter-cloud ones (the
//! source relay's Leave on the source's local chain: Fig. 8), with the blocks each chain cut.
//!
//! Each round is an open loop ([`crate::round`]): operations due every 1/rate s whatever the
//! answers, each on its own VM and hosts, so a delay that grows shows the system cannot keep up.
//! An inter migration's Leave is seen on the source's local chain's event stream (one stream for
//! the round, opened before it), so the delay ends when the block holding it is delivered.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use vmledger_client::{Chains, Members, Profile, RetryPolicy, StartAt, VmLedger};
use vmledger_contract::model::{Allowed, Regulation, Resources};
use vmledger_contract::msg;

use crate::error::{BenchError, Result};
use crate::results::{ChainRound, Kind};
use crate::round::{Load, NO_IMAGE_HASH, Outcome, no_image_key, run_round};

/// How long an inter migration waits for its Leave before it counts as failed (`NO_LEAVE`).
const LEAVE_TIMEOUT: Duration = Duration::from_secs(60);

/// The clouds, hosts and VMs of the part: slot `i` has VM `l{i}` moving between `a{i}` and
/// `c{i}` (cloud A, local) and VM `x{i}` moving between `a{i}` and `b{i}` (cloud A ↔ cloud B).
struct Fleet {
    tag: String,
    /// The namespaces of the source's and the destination's ids (`org1`, `org2`).
    namespaces: (String, String),
    source: Chains,
    destination: Chains,
    /// Per slot: is the local VM on `c`, is the inter VM on `b`?
    on_c: Vec<std::sync::atomic::AtomicBool>,
    on_b: Vec<std::sync::atomic::AtomicBool>,
}

impl Fleet {
    /// Cloud `a`'s (and its hosts `a`, `c`) or cloud `b`'s (and host `b`) id, in its member's namespace.
    fn id(&self, name: char, slot: Option<usize>) -> String {
        named(&self.namespaces, &self.tag, name, slot)
    }
}

fn named(namespaces: &(String, String), tag: &str, name: char, slot: Option<usize>) -> String {
    let namespace = if name == 'b' { &namespaces.1 } else { &namespaces.0 };
    format!("{namespace}.{tag}-{name}{}", slot.map(|i| i.to_string()).unwrap_or_default())
}

fn chains(members: &Members, member: &str, identity: &str) -> Result<Chains> {
    Profile::from_members(members, member, identity)?
        .chains_with(|b| b.retry(RetryPolicy::none()))
        .map_err(|e| BenchError::ledger("connecting", e))
}

async fn fleet(members: &Members, source: &str, destination: &str, slots: usize) -> Result<Fleet> {
    let tag = format!("basics-{}", chrono::Utc::now().format("%m%d%H%M%S"));
    let manager_a = chains(members, source, "manager")?.federation().clone();
    let manager_b = chains(members, destination, "manager")?.federation().clone();
    let setup = |e| BenchError::ledger("registering the chains part's clouds, hosts and VMs", e);
    let namespaces = (members.member(source)?.namespace(), members.member(destination)?.namespace());
    let id = |name, slot| named(&namespaces, &tag, name, slot);
    for (ledger, side) in [(&manager_a, 'a'), (&manager_b, 'b')] {
        let id = id(side, None);
        ledger.register_cloud(&msg::RegisterCloud { id: id.clone(), name: id, prices: None }).await.map_err(setup)?;
    }
    let capacity = Resources { cpu_cores: 1024, memory_mib: 1 << 20, network_mbps: 100_000, io_mbps: 100_000 };
    for i in 0..slots {
        for (ledger, host, cloud) in [(&manager_a, 'a', 'a'), (&manager_a, 'c', 'a'), (&manager_b, 'b', 'b')] {
            ledger
                .register_host(&msg::RegisterHost {
                    id: id(host, Some(i)),
                    cloud_id: id(cloud, None),
                    country: "JP".into(),
                    organizations: vec!["BenchCo".into()],
                    capacity,
                })
                .await
                .map_err(setup)?;
        }
        for vm in ['l', 'x'] {
            manager_a
                .register_vm(&msg::RegisterVm {
                    id: format!("{tag}-{vm}{i}"),
                    cloud_id: id('a', None),
                    host_id: id('a', Some(i)),
                    requirements: Resources { cpu_cores: 1, memory_mib: 512, network_mbps: 10, io_mbps: 10 },
                    image_hash: NO_IMAGE_HASH.into(),
                    regulation: Regulation { countries: Allowed::All, organizations: Allowed::All },
                })
                .await
                .map_err(setup)?;
        }
    }
    Ok(Fleet {
        tag,
        namespaces,
        source: chains(members, source, "operator")?,
        destination: chains(members, destination, "operator")?,
        on_c: (0..slots).map(|_| Default::default()).collect(),
        on_b: (0..slots).map(|_| Default::default()).collect(),
    })
}

fn code(e: &vmledger_client::Error) -> String {
    e.contract_error().map(|c| c.code().to_owned()).unwrap_or_else(|| e.code().to_owned())
}

/// Confirms as `confirmer`, re-endorsing while its peer has not seen the Indication yet.
async fn confirm(confirmer: &VmLedger, id: &str) -> std::result::Result<(), String> {
    // No image travels in this part: a fixed key and digest stand for the transfer's.
    let input = msg::ConfirmMigration {
        migration_id: id.to_owned(),
        observed_hash: NO_IMAGE_HASH.into(),
        transfer_key: no_image_key().to_hex(),
        keyed_digest: NO_IMAGE_HASH.into(),
    };
    for _ in 0..200 {
        match confirmer.confirm_migration(&input).await {
            Err(e) if e.contract_error().is_some_and(|c| c.code() == "NOT_FOUND") => {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(e) => return Err(format!("confirm:{}", code(&e))),
            Ok(_) => return Ok(()),
        }
    }
    Err("confirm:NOT_VISIBLE".into())
}

/// Indicates (re-endorsing while the previous move's Confirmation is not yet on this peer).
async fn indicate(ledger: &VmLedger, vm: String, to: String) -> std::result::Result<String, String> {
    let input = msg::Migrate {
        vm_id: vm,
        destination_host_id: to,
        image_hash: Some(NO_IMAGE_HASH.into()),
        keyed_digest: Some(NO_IMAGE_HASH.into()),
        transfer_key_hash: Some(no_image_key().hash()),
        ..msg::Migrate::default()
    };
    for _ in 0..200 {
        match ledger.migrate(&input).await {
            Err(e) if e.contract_error().is_some_and(|c| c.code() == "CONFLICT") => {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(e) => return Err(format!("migrate:{}", code(&e))),
            Ok(c) => return Ok(c.tx_id),
        }
    }
    Err("migrate:STILL_MIGRATING".into())
}

async fn local_migration(fleet: Arc<Fleet>, slot: usize) -> Outcome {
    use std::sync::atomic::Ordering;
    let Some(local) = fleet.source.local() else { return Outcome::failed("NO_LOCAL_CHAIN") };
    let to_c = !fleet.on_c[slot].load(Ordering::Relaxed);
    let target = fleet.id(if to_c { 'c' } else { 'a' }, Some(slot));
    let id = match indicate(local, format!("{}-l{slot}", fleet.tag), target).await {
        Ok(id) => id,
        Err(code) => return Outcome::failed(code),
    };
    // The cloud's own operator confirms on its own chain: the Confirmation ends a local migration.
    match confirm(local, &id).await {
        Ok(()) => {
            fleet.on_c[slot].store(to_c, Ordering::Relaxed);
            Outcome::ok()
        }
        Err(code) => Outcome::failed(code),
    }
}

/// Leaves seen on the source's local chain: migration id → when.
#[derive(Default)]
struct Leaves {
    seen: Mutex<HashMap<String, Instant>>,
    arrived: Notify,
}

impl Leaves {
    async fn wait(&self, id: &str, since: Instant) -> Option<Duration> {
        let deadline = Instant::now() + LEAVE_TIMEOUT;
        loop {
            let notified = self.arrived.notified();
            if let Some(at) = self.seen.lock().ok().and_then(|s| s.get(id).copied()) {
                return Some(at.saturating_duration_since(since));
            }
            if tokio::time::timeout_at(deadline.into(), notified).await.is_err() {
                return None;
            }
        }
    }
}

async fn inter_migration(fleet: Arc<Fleet>, leaves: Arc<Leaves>, slot: usize) -> Outcome {
    use std::sync::atomic::Ordering;
    let to_b = !fleet.on_b[slot].load(Ordering::Relaxed);
    let target = fleet.id(if to_b { 'b' } else { 'a' }, Some(slot));
    // Cloud A operates the VM wherever it is: A indicates both ways; the destination confirms.
    let confirmer = if to_b { &fleet.destination } else { &fleet.source };
    let started = Instant::now();
    let id = match indicate(fleet.source.federation(), format!("{}-x{slot}", fleet.tag), target).await {
        Ok(id) => id,
        Err(code) => return Outcome::failed(code),
    };
    if let Err(code) = confirm(confirmer.federation(), &id).await {
        return Outcome::failed(code);
    }
    fleet.on_b[slot].store(to_b, Ordering::Relaxed);
    let mut outcome = Outcome::ok();
    outcome.step("confirmed", started.elapsed().as_secs_f64() * 1e3);
    // The source's relay writes the Leave on the source's chain (A's, or B's on the way back).
    match leaves.wait(&id, started).await {
        Some(after) => outcome.step("leave", after.as_secs_f64() * 1e3),
        None => return Outcome::failed("NO_LEAVE"),
    }
    outcome
}

/// Heights of the federation and of each member's local chain (as the source member reads them;
/// another member's local chain is read through that member's proxy).
async fn heights(members: &Members) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for member in &members.members {
        let Ok(profile) = Profile::from_members(members, &member.org, "operator") else { continue };
        let Ok(chains) = profile.chains_with(|b| b) else { continue };
        if !out.contains_key(&members.channel)
            && let Ok(info) = chains.federation().contract().network().info().await
        {
            out.insert(members.channel.clone(), info.height);
        }
        if let Some(local) = chains.local()
            && let Ok(info) = local.contract().network().info().await
        {
            out.insert(local.contract().network().name().to_owned(), info.height);
        }
    }
    out
}

/// Runs the local rounds, then the inter rounds, each at its rates, for `seconds` each; stops a
/// kind at its first unstable rate.
///
/// # Errors
/// Setup failures (the rounds themselves count their failures).
pub async fn run(
    members: &Members,
    source: &str,
    destination: &str,
    local_rates: &[f64],
    inter_rates: &[f64],
    seconds: u64,
    note: &(dyn Fn(&str) + Sync),
) -> Result<Vec<ChainRound>> {
    let top = local_rates.iter().chain(inter_rates).copied().fold(1.0, f64::max);
    // Enough slots that a slot is free again long before it is due (a migration takes well under 4 s).
    let slots = ((top * 4.0).ceil() as usize).clamp(8, 256);
    note(&format!("bench: chains: registering {slots} slot(s) (2 VMs, 3 hosts each)"));
    let fleet = Arc::new(fleet(members, source, destination, slots).await?);
    let duration = Duration::from_secs(seconds);
    let clouds = members.members.len();
    let mut out = Vec::new();
    for &rate in local_rates {
        note(&format!("bench: chains: local migrations at {rate}/s for {seconds} s"));
        let before = heights(members).await;
        let f = fleet.clone();
        let round = run_round(&format!("local {rate}/s"), Load::Open { rate, duration, slots }, None, move |s, _| {
            local_migration(f.clone(), s)
        })
        .await;
        let unstable = crate::report::unstable(&round);
        out.push(ChainRound {
            kind: Kind::Local,
            rate,
            clouds,
            blocks: grown(&before, &heights(members).await),
            round,
        });
        if unstable {
            note("bench: chains: unstable at this rate; no higher local rate");
            break;
        }
    }
    for &rate in inter_rates {
        note(&format!("bench: chains: inter-cloud migrations at {rate}/s for {seconds} s (delay up to the Leave)"));
        let before = heights(members).await;
        let leaves = Arc::new(Leaves::default());
        // Both members' local chains: a move A → B leaves A, the way back leaves B.
        let mut watchers = Vec::new();
        for side in [&fleet.source, &fleet.destination] {
            let Some(local) = side.local() else {
                return Err(BenchError::Options("a member has no local chain in the members file".into()));
            };
            let start =
                local.contract().network().info().await.map_err(|e| BenchError::ledger("reading a local chain", e))?;
            let mut stream = local.contract().events(StartAt::Block(start.height)).max_reconnects(10);
            let watching = leaves.clone();
            watchers.push(tokio::spawn(async move {
                while let Ok(e) = stream.next().await {
                    if e.event_name == "VmLeft"
                        && let Some(id) = e.payload.get("migrationId").and_then(|v| v.as_str())
                    {
                        if let Ok(mut seen) = watching.seen.lock() {
                            seen.insert(id.to_owned(), Instant::now());
                        }
                        watching.arrived.notify_waiters();
                    }
                }
            }));
        }
        let (f, l) = (fleet.clone(), leaves.clone());
        let round = run_round(&format!("inter {rate}/s"), Load::Open { rate, duration, slots }, None, move |s, _| {
            inter_migration(f.clone(), l.clone(), s)
        })
        .await;
        for watcher in watchers {
            watcher.abort();
        }
        let unstable = crate::report::unstable(&round);
        out.push(ChainRound {
            kind: Kind::Inter,
            rate,
            clouds,
            blocks: grown(&before, &heights(members).await),
            round,
        });
        if unstable {
            note("bench: chains: unstable at this rate; no higher inter rate");
            break;
        }
    }
    Ok(out)
}

fn grown(before: &BTreeMap<String, u64>, after: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    after.iter().map(|(chain, h)| (chain.clone(), h.saturating_sub(before.get(chain).copied().unwrap_or(*h)))).collect()
}
