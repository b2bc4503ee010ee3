//! The live workflow and the agent's live route, with real QEMU on both ends and the ledger in
//! memory (the contract's rules for live migrations, as far as the gate needs them). The same
//! workflow on the real network is in `tests/e2e`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::BoxFuture;
use sha2::{Digest, Sha256};
use vmledger_client::agent::{Agent, LiveConfig, LiveReceipt};
use vmledger_client::contract::model::{MigrationStatus, Resources};
use vmledger_client::workflow::live::{
    IndicatedLive, LiveConfirmation, LiveLedger, LiveMigration, LiveRun, RunningAt, StreamRecord, TransferKey,
};
use vmledger_client::workflow::migrate::LedgerStep;
use vmledger_client::{Error, Step, Timings};
use vmledger_hypervisor::qmp::RunState;
use vmledger_hypervisor::{Error as HvError, Qemu, Qmp, Side, link};

#[path = "../../../hypervisor/tests/it/guest.rs"]
mod guest;

use guest::{Workload, last_tick, test_guest, tick, wait_for_tick};

const MEMBER: &str = "Org2MSP";
const BOOT: Duration = Duration::from_secs(120);

/// One migration as the ledger keeps it.
#[derive(Clone)]
struct Kept {
    migration: LiveMigration,
    keyed_digest: Option<String>,
    observed_hash: Option<String>,
}

/// The contract's live rules, in memory: the key's commitment, the recorded stream before any
/// Confirmation, equal hash and keyed digest for `confirmed`.
#[derive(Default)]
struct MemoryLedger {
    kept: Mutex<HashMap<String, Kept>>,
    next: Mutex<u64>,
}

fn refused(reason: impl Into<String>) -> Error {
    Error::Protocol { step: Step::Endorse, reason: reason.into(), tx_id: None }
}

fn step() -> LedgerStep {
    LedgerStep { tx_id: "tx".to_owned(), block_number: 1, timings: Timings::default(), client_ms: 0 }
}

impl MemoryLedger {
    fn put(&self, migration: LiveMigration) {
        let kept = Kept { migration, keyed_digest: None, observed_hash: None };
        self.kept.lock().expect("ledger lock").insert(kept.migration.id.clone(), kept);
    }

    fn get(&self, id: &str) -> Option<Kept> {
        self.kept.lock().expect("ledger lock").get(id).cloned()
    }

    fn change<T>(&self, id: &str, f: impl FnOnce(&mut Kept) -> Result<T, Error>) -> Result<T, Error> {
        let mut kept = self.kept.lock().expect("ledger lock");
        let m = kept.get_mut(id).ok_or_else(|| refused(format!("NOT_FOUND {id}")))?;
        f(m)
    }
}

fn migration(id: &str, transfer_key_hash: String) -> LiveMigration {
    LiveMigration {
        id: id.to_owned(),
        vm_id: "vm-live".to_owned(),
        live: true,
        status: MigrationStatus::Indicated,
        destination_cloud_id: "cloud-b".to_owned(),
        transfer_key_hash,
        recorded_hash: None,
        observed_hash: None,
        requirements: Resources { cpu_cores: 1, memory_mib: 128, network_mbps: 100, io_mbps: 100 },
    }
}

impl LiveLedger for MemoryLedger {
    fn indicate_live<'a>(
        &'a self,
        _vm_id: &'a str,
        _to_host: &'a str,
        transfer_key_hash: &'a str,
    ) -> BoxFuture<'a, vmledger_client::Result<IndicatedLive>> {
        Box::pin(async move {
            let id = {
                let mut next = self.next.lock().expect("ledger lock");
                *next += 1;
                format!("m{next}")
            };
            self.put(migration(&id, transfer_key_hash.to_owned()));
            Ok(IndicatedLive { migration_id: id, accepted_ms: 0, commit: Box::pin(async { Ok(step()) }) })
        })
    }

    fn record_stream<'a>(&'a self, record: &'a StreamRecord) -> BoxFuture<'a, vmledger_client::Result<LedgerStep>> {
        Box::pin(async move {
            self.change(&record.migration_id, |k| {
                if k.migration.status != MigrationStatus::Indicated || k.migration.recorded_hash.is_some() {
                    return Err(refused("CONFLICT: recorded or closed"));
                }
                k.migration.recorded_hash = Some(record.stream_hash.clone());
                k.keyed_digest = Some(record.keyed_digest.clone());
                Ok(step())
            })
        })
    }

    fn live_migration<'a>(&'a self, id: &'a str) -> BoxFuture<'a, vmledger_client::Result<Option<LiveMigration>>> {
        Box::pin(async move { Ok(self.get(id).map(|k| k.migration)) })
    }

    fn cloud_msp_id<'a>(&'a self, cloud_id: &'a str) -> BoxFuture<'a, vmledger_client::Result<String>> {
        Box::pin(async move { Ok(if cloud_id == "cloud-b" { MEMBER } else { "Org3MSP" }.to_owned()) })
    }

    fn confirm_live<'a>(
        &'a self,
        c: &'a LiveConfirmation,
    ) -> BoxFuture<'a, vmledger_client::Result<(LedgerStep, MigrationStatus)>> {
        Box::pin(async move {
            self.change(&c.migration_id, |k| {
                let key = hex::decode(&c.transfer_key).map_err(|_| refused("INVALID_ARGUMENT"))?;
                if hex::encode(Sha256::digest(key)) != k.migration.transfer_key_hash {
                    return Err(refused("UNAUTHORIZED: not the transfer key"));
                }
                let Some(recorded) = k.migration.recorded_hash.clone() else {
                    return Err(refused("CONFLICT: no stream hash recorded"));
                };
                if k.migration.status != MigrationStatus::Indicated {
                    return Err(refused("CONFLICT: closed"));
                }
                let equal = recorded == c.observed_hash && k.keyed_digest.as_deref() == Some(&*c.keyed_digest);
                k.migration.status = if equal { MigrationStatus::Confirmed } else { MigrationStatus::Rejected };
                k.observed_hash = Some(c.observed_hash.clone());
                k.migration.observed_hash = Some(c.observed_hash.clone());
                Ok((step(), k.migration.status))
            })
        })
    }

    fn decline<'a>(&'a self, id: &'a str, _reason: &'a str) -> BoxFuture<'a, vmledger_client::Result<LedgerStep>> {
        Box::pin(async move {
            self.change(id, |k| {
                k.migration.status = MigrationStatus::Cancelled;
                Ok(step())
            })
        })
    }

    fn cancel<'a>(&'a self, id: &'a str, _reason: &'a str) -> BoxFuture<'a, vmledger_client::Result<MigrationStatus>> {
        Box::pin(async move {
            self.change(id, |k| {
                if k.migration.status != MigrationStatus::Indicated {
                    return Err(refused("CONFLICT: closed"));
                }
                k.migration.status = MigrationStatus::Cancelled;
                Ok(k.migration.status)
            })
        })
    }
}

/// An agent of `MEMBER` with live migrations on, in `dir`; its URL.
async fn live_agent(ledger: Arc<MemoryLedger>, dir: &std::path::Path) -> anyhow::Result<String> {
    let guest = test_guest()?;
    let unused = vmledger_client::Chains::new(
        vmledger_client::VmLedger::new(
            vmledger_client::Gateway::builder(vmledger_testkit::nowhere()).connect()?.network("n").contract("c"),
        ),
        None,
    );
    let config = LiveConfig::new(guest.config(128, Workload::IDLE), MEMBER);
    let agent = Agent::new(unused, MEMBER, dir, Duration::from_secs(5), Arc::new(()))?.with_live(ledger, config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(agent.serve(listener, std::future::pending()));
    Ok(url)
}

/// A counting source guest with a second QMP socket for the workflow; it has ticked.
async fn counting_source(dir: &std::path::Path) -> anyhow::Result<(Qemu, std::path::PathBuf)> {
    let monitor = dir.join("source.qmp");
    let mut config = test_guest()?.config(128, Workload::dirtying(4, 16));
    config.monitor = Some(monitor.clone());
    let source = Qemu::start(&config, Side::Source).await?;
    wait_for_tick(source.console(), 3, BOOT).await?;
    Ok((source, monitor))
}

async fn receipt(agent: &str, id: &str) -> anyhow::Result<LiveReceipt> {
    let url = format!("{agent}/migrations/{id}/live");
    Ok(reqwest::get(url).await?.error_for_status()?.json().await?)
}

/// The ticks in a console file.
fn file_ticks(path: &str) -> Vec<u64> {
    std::fs::read_to_string(path).unwrap_or_default().lines().filter_map(tick).collect()
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "starts QEMU: cargo test -p vmledger-client --test it -- --ignored"]
async fn a_confirmed_live_migration_runs_the_guest_at_the_destination_only() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let ledger = Arc::new(MemoryLedger::default());
    let agent = live_agent(ledger.clone(), dir.path()).await?;
    let (mut source, monitor) = counting_source(dir.path()).await?;

    let report = LiveRun::new("vm-live", "host-b", &monitor, &agent).run(ledger.as_ref(), Arc::new(())).await?;

    assert_eq!(report.status, MigrationStatus::Confirmed);
    assert_eq!(report.running_at, RunningAt::Destination);
    let kept = ledger.get(&report.migration_id).expect("on the ledger");
    assert_eq!(kept.migration.recorded_hash.as_deref(), Some(&*report.stream_hash));
    assert_eq!(kept.observed_hash.as_deref(), Some(&*report.stream_hash));
    assert!(report.gated_pause_ms.is_some_and(|p| p >= report.ledger_pause_ms));
    let destination = report.destination.as_ref().expect("the agent's receipt");
    assert!(destination.resumed);
    assert_eq!(destination.observed_hash, report.stream_hash);
    assert!(report.host_pause_ms.is_some_and(|p| p >= report.qemu_downtime_ms.unwrap_or(0)), "{report:?}");

    // The source QEMU quit; the destination goes on counting past the source's last tick.
    let last = last_tick(source.console()).expect("the source ticked");
    tokio::time::timeout(Duration::from_secs(20), async {
        while source.exit_status().ok().flatten().is_none() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await?;
    let landed = receipt(&agent, &report.migration_id).await?;
    assert!(landed.resumed, "{landed:?}");
    assert_eq!(landed.status, MigrationStatus::Confirmed);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while file_ticks(&landed.console).last().is_none_or(|&n| n < last + 5) {
        assert!(tokio::time::Instant::now() < deadline, "the destination stopped: {:?}", file_ticks(&landed.console));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let first = file_ticks(&landed.console)[0];
    assert!(first > last && first <= last + 3, "source ended at {last}, destination began at {first}");

    let destination = Qmp::connect(landed.monitor.as_deref().expect("a monitor")).await?;
    assert_eq!(destination.status().await?, RunState::running);
    let _ = destination.quit().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "starts QEMU: cargo test -p vmledger-client --test it -- --ignored"]
async fn a_byte_flipped_on_its_way_is_rejected_and_the_source_goes_on() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let ledger = Arc::new(MemoryLedger::default());
    let agent = live_agent(ledger.clone(), dir.path()).await?;
    let (source, monitor) = counting_source(dir.path()).await?;

    let run = LiveRun { corrupt_byte_at: Some(1 << 20), ..LiveRun::new("vm-live", "host-b", &monitor, &agent) };
    let report = run.run(ledger.as_ref(), Arc::new(())).await?;

    assert_eq!(report.status, MigrationStatus::Rejected);
    assert_eq!(report.running_at, RunningAt::Source);
    assert_eq!(report.host_pause_ms, None, "the destination never resumed");
    let kept = ledger.get(&report.migration_id).expect("on the ledger");
    assert_ne!(kept.observed_hash.as_deref(), Some(&*report.stream_hash), "the evidence differs");
    let landed = receipt(&agent, &report.migration_id).await?;
    assert!(!landed.resumed);
    assert_eq!(landed.status, MigrationStatus::Rejected);
    assert!(file_ticks(&landed.console).is_empty(), "the discarded guest never ran");

    assert_eq!(source.qmp().status().await?, RunState::running);
    let now = last_tick(source.console()).expect("ticked");
    wait_for_tick(source.console(), now + 5, Duration::from_secs(30)).await?;
    source.quit().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_live_route_takes_only_the_indicated_key_for_its_own_member() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let ledger = Arc::new(MemoryLedger::default());
    // No QEMU starts: every request is refused before.
    let unused = vmledger_client::Chains::new(
        vmledger_client::VmLedger::new(
            vmledger_client::Gateway::builder(vmledger_testkit::nowhere()).connect()?.network("n").contract("c"),
        ),
        None,
    );
    let config = LiveConfig::new(vmledger_hypervisor::QemuConfig::new("/nonexistent", "/nonexistent"), MEMBER);
    let agent = Agent::new(unused, MEMBER, dir.path(), Duration::from_millis(200), Arc::new(()))?
        .with_live(ledger.clone(), config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(agent.serve(listener, std::future::pending()));

    let key = TransferKey::generate()?;
    let stranger = TransferKey::generate()?;
    ledger.put(migration("ours", key.commitment()));
    ledger.put(LiveMigration { destination_cloud_id: "cloud-c".to_owned(), ..migration("theirs", key.commitment()) });
    ledger.put(LiveMigration { live: false, ..migration("cold", key.commitment()) });
    ledger.put(LiveMigration { status: MigrationStatus::Confirmed, ..migration("closed", key.commitment()) });

    let status = |id: &'static str, token: String| {
        let url = url.clone();
        async move {
            let offer = link::Offer { migration_id: id.to_owned(), postcopy: false };
            match link::connect(&url, &offer, &token).await {
                Err(HvError::Refused { status, body }) => (status, body),
                Ok(_) => (101, String::new()),
                Err(e) => panic!("{e}"),
            }
        }
    };
    let (code, body) = status("ours", stranger.to_hex()).await;
    assert_eq!(code, 401, "{body}");
    assert!(body.contains("not its transfer key"), "{body}");
    assert_eq!(status("ours", "not-a-key".to_owned()).await.0, 401);
    let (code, body) = status("theirs", key.to_hex()).await;
    assert_eq!(code, 403, "{body}");
    assert!(body.contains("Org3MSP"), "{body}");
    assert_eq!(status("cold", key.to_hex()).await.0, 409);
    assert_eq!(status("closed", key.to_hex()).await.0, 409);
    assert_eq!(status("unknown", key.to_hex()).await.0, 404);
    // Nothing changed on the ledger.
    assert_eq!(ledger.get("ours").map(|k| k.migration.status), Some(MigrationStatus::Indicated));
    assert!(std::fs::read_dir(dir.path())?.next().is_none(), "no console, no guest");
    Ok(())
}
