//! A running guest live-migrates from cloud A to cloud B through the destination agent, gated by
//! the ledger: `vmledger migrate run --live --qmp SOCKET` at the source, `vmledger agent
//! --live-kernel … --live-initrd …` at the destination, a real counting guest under QEMU on both.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use vmledger_contract::model::MigrationStatus;
use vmledger_e2e::{Agent, Scenario, block_on, exit, unique};
use vmledger_hypervisor::qmp::RunState;
use vmledger_hypervisor::{Qemu, Qmp, Side};

#[path = "../../../../client/hypervisor/tests/it/guest.rs"]
mod guest;

use guest::{TestGuest, Workload, last_tick, test_guest, tick, wait_for_tick};

/// The guest's memory: what the VM reserves on the ledger, and what both QEMUs run.
const MEMORY_MIB: u32 = 128;
const BOOT: Duration = Duration::from_secs(120);

/// A VM of cloud A sized like the test guest (the destination QEMU takes its size from the ledger).
fn given_a_live_vm(s: &Scenario) -> String {
    let vm = unique("vm-live");
    s.cli_a("operator")
        .args(["vm", "register", "--id", &vm, "--cloud", &s.cloud_a, "--host", &s.host_a])
        .args(["--cpu", "1", "--memory-mib", &MEMORY_MIB.to_string(), "--network-mbps", "100", "--io-mbps", "50"])
        .args(["--image-hash", &"0".repeat(64), "--countries", "JP,GB", "--organizations", "CompanyA,CompanyB"])
        .run()
        .expect(exit::OK);
    vm
}

/// The counting guest running at the source, with a QMP socket for `vmledger migrate run --live`.
fn given_a_counting_guest(guest: &TestGuest, dir: &Path) -> (Qemu, PathBuf) {
    let monitor = dir.join("source.qmp");
    let mut config = guest.config(MEMORY_MIB, Workload::dirtying(4, 16));
    config.monitor = Some(monitor.clone());
    let source = block_on(Qemu::start(&config, Side::Source)).expect("the source QEMU starts");
    block_on(wait_for_tick(source.console(), 3, BOOT)).expect("the source guest counts");
    (source, monitor)
}

/// Cloud B's agent, taking live migrations into QEMUs of the test guest.
fn cloud_b_agent(s: &Scenario, guest: &TestGuest, dir: &Path) -> Agent {
    s.cli_b("operator")
        .args(["--json", "agent", "--listen", "127.0.0.1:0", "--dir", dir.to_str().expect("path")])
        .args(["--live-kernel", guest.kernel.to_str().expect("path")])
        .args(["--live-initrd", guest.initrd.to_str().expect("path")])
        .start_agent()
}

fn migrate_live(s: &Scenario, vm: &str, monitor: &Path, agent: &Agent) -> vmledger_e2e::Cli {
    s.cli_a("operator").args(["--json", "migrate", "run", "--live", "--vm", vm, "--to-host", &s.host_b]).args([
        "--qmp",
        monitor.to_str().expect("path"),
        "--to-agent",
        &agent.url,
    ])
}

/// What the agent says became of the stream.
fn receipt(agent: &Agent, id: &str) -> serde_json::Value {
    let url = format!("{}/migrations/{id}/live", agent.url);
    block_on(async { reqwest_json(&url).await })
}

async fn reqwest_json(url: &str) -> serde_json::Value {
    let (host, path) = url.trim_start_matches("http://").split_once('/').expect("url");
    let mut stream = tokio::net::TcpStream::connect(host).await.expect("the agent answers");
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let request = format!("GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("request");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.expect("answer");
    let body = answer.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or_default();
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {answer}"))
}

fn console_ticks(path: &str) -> Vec<u64> {
    std::fs::read_to_string(path).unwrap_or_default().lines().filter_map(tick).collect()
}

#[test]
#[ignore = "end-to-end: needs a running network and QEMU"]
fn a_running_guest_moves_to_cloud_b_once_the_ledger_confirms_and_keeps_counting() {
    let s = Scenario::given_two_clouds();
    let guest = test_guest().expect("fixtures/make-guest");
    let tmp = tempfile::tempdir().expect("tmp");
    let vm = given_a_live_vm(&s);
    let agent = cloud_b_agent(&s, &guest, &tmp.path().join("agent"));
    let (mut source, monitor) = given_a_counting_guest(&guest, tmp.path());

    let report = migrate_live(&s, &vm, &monitor, &agent).run().expect(exit::OK).json();

    assert_eq!(report["status"], "confirmed", "{report}");
    assert_eq!(report["runningAt"], "destination");
    let id = report["migrationId"].as_str().expect("id").to_owned();
    // The ledger: the stream's hash recorded by the source, confirmed by the destination.
    let migration = block_on(s.ledger_b().get_migration(&id)).expect("the migration");
    assert_eq!(migration.status, MigrationStatus::Confirmed);
    assert_eq!(migration.recorded_hash.as_deref(), report["streamHash"].as_str());
    assert_eq!(migration.observed_hash, migration.recorded_hash);
    let moved = block_on(s.ledger_a().get_vm(&vm)).expect("the VM");
    assert_eq!(moved.host_id, s.host_b);

    // The source QEMU quit; the destination's guest counts on past the source's last tick.
    let last = last_tick(source.console()).expect("the source ticked");
    let deadline = Instant::now() + Duration::from_secs(20);
    while source.exit_status().ok().flatten().is_none() {
        assert!(Instant::now() < deadline, "the source QEMU did not quit");
        std::thread::sleep(Duration::from_millis(50));
    }
    let landed = receipt(&agent, &id);
    assert_eq!(landed["resumed"], true, "{landed}");
    let console = landed["console"].as_str().expect("console").to_owned();
    let deadline = Instant::now() + Duration::from_secs(30);
    while console_ticks(&console).last().is_none_or(|&n| n < last + 5) {
        assert!(Instant::now() < deadline, "the destination stopped counting: {:?}", console_ticks(&console));
        std::thread::sleep(Duration::from_millis(100));
    }
    let first = console_ticks(&console)[0];
    assert!(first > last && first <= last + 3, "source ended at {last}, destination began at {first}");
    block_on(async {
        let destination = Qmp::connect(landed["monitor"].as_str().expect("monitor")).await.expect("QMP");
        assert_eq!(destination.status().await.expect("status"), RunState::running);
        let _ = destination.quit().await;
    });
}

#[test]
#[ignore = "end-to-end: needs a running network and QEMU"]
fn a_byte_flipped_in_the_live_stream_is_rejected_on_the_ledger_and_the_source_runs_on() {
    let s = Scenario::given_two_clouds();
    let guest = test_guest().expect("fixtures/make-guest");
    let tmp = tempfile::tempdir().expect("tmp");
    let vm = given_a_live_vm(&s);
    let agent = cloud_b_agent(&s, &guest, &tmp.path().join("agent"));
    let (source, monitor) = given_a_counting_guest(&guest, tmp.path());

    let report = migrate_live(&s, &vm, &monitor, &agent)
        .args(["--test-corrupt-byte-at", "1048576"])
        .run()
        .expect(exit::REJECTED)
        .json();

    // The CLI prints the report before it exits 4.
    assert_eq!(report["status"], "rejected", "{report}");
    assert_eq!(report["runningAt"], "source");
    let id = report["migrationId"].as_str().expect("id").to_owned();
    let migration = block_on(s.ledger_a().get_migration(&id)).expect("the migration");
    assert_eq!(migration.status, MigrationStatus::Rejected, "the rejection is committed as evidence");
    let observed = migration.observed_hash.clone().expect("the destination's hash");
    assert_ne!(Some(observed), migration.recorded_hash);
    let stayed = block_on(s.ledger_a().get_vm(&vm)).expect("the VM");
    assert_eq!(stayed.host_id, s.host_a, "the VM stays in cloud A");

    let landed = receipt(&agent, &id);
    assert_eq!(landed["resumed"], false, "{landed}");
    assert!(console_ticks(landed["console"].as_str().expect("console")).is_empty(), "the discarded guest ran");

    block_on(async {
        assert_eq!(source.qmp().status().await.expect("status"), RunState::running);
        let now = last_tick(source.console()).expect("ticked");
        wait_for_tick(source.console(), now + 5, Duration::from_secs(30)).await.expect("the source counts on");
    });
    block_on(source.quit()).expect("quit");
}
