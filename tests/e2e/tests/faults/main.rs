//! Faults on the real network, one at a time (each test holds [`ONE_AT_A_TIME`]): a smoke of the fault
//! suite (`scripts/faults`, [`vmledger_e2e::faults`]) with small loads — a peer killed under writes,
//! the relays killed while inter-cloud migrations commit — and the federation's orderers stopped
//! while a cloud's local chain goes on. `vmledger-net up` restores the network after each.

use std::sync::Mutex;
use std::time::Duration;

use vmledger_e2e::faults::{self, Fault, Figures, Load};
use vmledger_e2e::{Federation, Image, Scenario, block_on, exit, indication, unique};

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

/// Asserts what the suite promises: every operation's outcome known, and true.
fn assert_clean(figures: &Figures) {
    assert!(figures.clean(), "{}{figures:?}", faults::table(std::slice::from_ref(figures)));
}

#[test]
#[ignore = "end-to-end: needs a running network"]
fn a_peer_killed_under_40_writes_loses_duplicates_and_miscounts_nothing() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let f = Federation::connect();
    let _restore = Restore(&f);
    let (_, org_b) = f.orgs();
    let fault = Fault::Kill { node: format!("peer0.{org_b}"), down: Duration::from_secs(1) };
    let figures = faults::writes_under(&f, &fault, &org_b, Load { writes: 40, in_flight: 12 }, 14);
    assert_clean(&figures);
    assert_eq!(figures.committed + figures.refused, 40, "{figures:?}");
}

#[test]
#[ignore = "end-to-end: needs a running network"]
fn relays_killed_while_10_inter_migrations_commit_leave_exactly_one_leave_and_one_arrival_each() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let f = Federation::connect();
    let _restore = Restore(&f);
    let figures = faults::migrations_under_relay_kill(&f, 10, 14);
    assert_clean(&figures);
    assert_eq!(figures.committed, 10, "every migration confirmed: {figures:?}");
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
