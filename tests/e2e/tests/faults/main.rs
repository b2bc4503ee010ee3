//! Faults on the real network, one at a time (each test holds [`ONE_AT_A_TIME`]): the relays killed
//! with SIGKILL while inter-cloud migrations commit, and the federation's orderers stopped while a
//! cloud's local chain goes on. `vmledger-net up` restores the network after each.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use vmledger_client::StartAt;
use vmledger_contract::model::{Allowed, Regulation, Resources};
use vmledger_contract::msg;
use vmledger_e2e::{Federation, Image, Scenario, VM_NEEDS, block_on, confirmation, exit, indication, unique};

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Brings the network back (`up` restarts what is not running) when the test ends, passed or not.
struct Restore<'a>(&'a Federation);

impl Drop for Restore<'_> {
    fn drop(&mut self) {
        if let Err(said) = self.0.try_net(&["up"]) {
            // Not a panic inside a panic: say it, the next test will fail to connect.
            #[allow(clippy::print_stderr)]
            {
                eprintln!("restoring the network failed: {said}");
            }
        }
    }
}

const MIGRATIONS: usize = 50;

#[test]
#[ignore = "end-to-end: needs a running network"]
fn relays_killed_while_50_inter_migrations_commit_leave_exactly_50_leave_and_50_arrival_records() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let s = Scenario::given_two_clouds();
    let f = s.federation.clone();
    let _restore = Restore(&f);
    let manager_a = f.ledger(&s.org_a, "manager");
    let manager_b = f.ledger(&s.org_b, "manager");
    let (operator_a, operator_b) = (s.ledger_a(), s.ledger_b());
    // Room for every VM on one host each side.
    let big = Resources { cpu_cores: 1024, memory_mib: 1 << 22, network_mbps: 1 << 20, io_mbps: 1 << 20 };
    let (from, to) = (f.owned(&s.org_a, "a-big"), f.owned(&s.org_b, "b-big"));
    for (ledger, id, cloud, country) in [(&manager_a, &from, &s.cloud_a, "JP"), (&manager_b, &to, &s.cloud_b, "GB")] {
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
    let vms: Vec<String> = (0..MIGRATIONS).map(|i| unique(&format!("vm{i}"))).collect();
    // One after another: each registration writes the host's allocation, so concurrent ones on one
    // host would conflict (MVCC) and prove nothing about the relays.
    for vm in &vms {
        let input = msg::RegisterVm {
            id: vm.clone(),
            cloud_id: s.cloud_a.clone(),
            host_id: from.clone(),
            requirements: VM_NEEDS,
            image_hash: hash.clone(),
            regulation: Regulation { countries: Allowed::All, organizations: Allowed::All },
        };
        block_on(operator_a.register_vm(&input)).expect("VM");
    }
    let (local_a, local_b) = (f.local_channel(&s.org_a), f.local_channel(&s.org_b));
    let relay_a = f.ledger_on(&s.org_a, "relay", &local_a);
    let relay_b = f.ledger_on(&s.org_b, "relay", &local_b);
    let start_a = block_on(relay_a.contract().network().info()).expect("height").height;
    let start_b = block_on(relay_b.contract().network().info()).expect("height").height;

    // The 50 migrations, in flight together; the relays are killed while they commit.
    let migrations = std::thread::scope(|scope| {
        let running = scope.spawn(|| {
            // One after another: they all move between the same two hosts, whose allocations every
            // Indication and Confirmation writes, so concurrent ones would mostly conflict (MVCC) and
            // test the client's retries rather than the relays.
            block_on(
                futures_util::stream::iter(vms.iter().map(|vm| {
                    let (operator_a, operator_b, to, hash) = (&operator_a, &operator_b, &to, &hash);
                    async move {
                        let id = operator_a.migrate(&indication(vm, to, hash)).await.expect("Indication").tx_id;
                        let confirm = confirmation(&id, hash);
                        // The destination's peer may commit the Indication's block a moment later.
                        let deadline = Instant::now() + Duration::from_secs(30);
                        loop {
                            match operator_b.confirm_migration(&confirm).await {
                                Ok(_) => return id,
                                Err(e)
                                    if Instant::now() < deadline
                                        && e.contract_error().is_some_and(|c| c.code() == "NOT_FOUND") =>
                                {
                                    tokio::time::sleep(Duration::from_millis(50)).await;
                                }
                                Err(e) => panic!("Confirmation of {id}: {e}"),
                            }
                        }
                    }
                }))
                .buffer_unordered(1)
                .collect::<Vec<_>>(),
            )
        });
        // Kill both relays once some of the migrations are confirmed, not all.
        let deadline = Instant::now() + Duration::from_secs(60);
        while f.relay(&s.org_a).counts.leaves + f.relay(&s.org_b).counts.arrivals < 10 {
            assert!(Instant::now() < deadline, "the relays wrote nothing");
            std::thread::sleep(Duration::from_millis(50));
        }
        f.net(&["signal", &format!("relay.{}", s.org_a), "KILL"]);
        f.net(&["signal", &format!("relay.{}", s.org_b), "KILL"]);
        running.join().expect("migrations")
    });
    assert_eq!(migrations.len(), MIGRATIONS);
    f.net(&["up"]);

    // Every Leave and Arrival is there, each exactly once: the local chains' own events say so.
    let expected: BTreeSet<String> = migrations.iter().cloned().collect();
    for (ledger, start, event, what) in
        [(&relay_a, start_a, "VmLeft", "Leave"), (&relay_b, start_b, "VmArrived", "Arrival")]
    {
        let mut seen: BTreeMap<String, u32> = BTreeMap::new();
        let mut stream = ledger.contract().events(StartAt::Block(start));
        let deadline = Instant::now() + Duration::from_secs(90);
        // Until every one arrived, then a little longer, to catch a second one.
        let mut settle: Option<Instant> = None;
        while settle.is_none_or(|t| t.elapsed() < Duration::from_secs(3)) {
            assert!(Instant::now() < deadline, "{what}s of {} migrations only", seen.len());
            let next = block_on(async { tokio::time::timeout(Duration::from_secs(1), stream.next()).await });
            if let Ok(Ok(e)) = next {
                let id = e.payload.get("migrationId").and_then(|v| v.as_str()).unwrap_or_default().to_owned();
                if e.event_name == event && expected.contains(&id) {
                    *seen.entry(id).or_default() += 1;
                }
            }
            if settle.is_none() && seen.len() == MIGRATIONS {
                settle = Some(Instant::now());
            }
        }
        assert_eq!(seen.len(), MIGRATIONS, "a {what} for every migration");
        assert!(seen.values().all(|&n| n == 1), "exactly one {what} each: {seen:?}");
        for id in &migrations {
            block_on(ledger.get_local_record(id)).unwrap_or_else(|e| panic!("{what} of {id}: {e}"));
        }
    }
    for org in [&s.org_a, &s.org_b] {
        let status = f.relay(org);
        assert_eq!(status.counts.refused, 0, "{status:?}");
    }
}

#[test]
#[ignore = "end-to-end: needs a running network"]
fn a_local_chain_keeps_recording_local_migrations_while_the_federations_orderers_are_stopped() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let s = Scenario::given_two_clouds();
    let f = s.federation.clone();
    let tmp = tempfile::tempdir().expect("tmp");
    let image = Image::make(tmp.path(), &unique("image"), 1 << 20);
    let vm = s.given_a_vm(&image);
    let other = s.given_a_vm(&image);
    let _restore = Restore(&f);
    for member in &f.members.members {
        for k in 0..3 {
            // A member runs one to three federation orderers.
            let _ = f.try_net(&["signal", &format!("orderer{k}.{}", member.org), "TERM"]);
        }
    }
    std::thread::sleep(Duration::from_secs(2));

    let report = s
        .migrate_through_folder(&vm, &s.host_a2, &image, &tmp.path().join("landing"), &s.org_a)
        .arg("--json")
        .run()
        .expect(exit::OK)
        .json();
    assert_eq!(report["status"], "confirmed");
    assert_eq!(report["chain"], f.local_channel(&s.org_a).as_str());
    // And the federation really is down: an inter-cloud Indication cannot be ordered.
    let inter = block_on(async {
        tokio::time::timeout(Duration::from_secs(20), s.ledger_a().migrate(&indication(&other, &s.host_b, &image.hash)))
            .await
    });
    assert!(!matches!(inter, Ok(Ok(_))), "the federation ordered a transaction without its orderers");
}
