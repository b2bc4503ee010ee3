//! Placement on the real network with three clouds: the contract's `PlaceVm` ranks every host of the
//! federation by the strategy and names why each other host is left out; a down or draining host
//! is never chosen and refuses an Indication; round robin turns over the eligible hosts as
//! Indications are recorded; `vmledger place`, `migrate run --auto` and `cloud reputation`.
//!
//! Needs three members (`network/vmledger-net up --orgs 3`). The scenario's hosts are managed by
//! organisations named for this run only, and its VM's regulation allows only those: every host
//! other tests registered on the same ledger is left out by policy, so the ranking is the scenario's.

use std::collections::BTreeMap;

use vmledger_client::VmLedger;
use vmledger_contract::ContractError;
use vmledger_contract::model::{Allowed, MigrationStatus, Regulation, Resources};
use vmledger_contract::msg;
use vmledger_contract::placement::{
    Availability, Exclusion, PlaceVm, PlacementReport, SetHostAvailability, Strategy, rendezvous,
};
use vmledger_contract::reputation::{GetReputation, Reputation};
use vmledger_e2e::{Federation, Image, block_on, exit, indication, unique};

/// What the scenario's VM needs: 2 cores.
const NEEDS: Resources = Resources { cpu_cores: 2, memory_mib: 2048, network_mbps: 100, io_mbps: 50 };
const BIG: Resources = Resources { cpu_cores: 16, memory_mib: 65536, network_mbps: 10000, io_mbps: 2000 };
/// Placements per strategy: the 100 by default; `VMLEDGER_E2E_PLACEMENTS` (a multiple of the
/// four eligible hosts) for a shorter run — CI's smoke takes 20, each round of round robin being a
/// query and two transactions.
fn placements() -> usize {
    std::env::var("VMLEDGER_E2E_PLACEMENTS").ok().and_then(|n| n.parse().ok()).unwrap_or(100)
}

/// Three clouds of three members; the VM on cloud A; hosts of B and C each exercising one rule.
struct ThreeClouds {
    federation: Federation,
    orgs: [String; 3],
    clouds: [String; 3],
    /// This run's organisations: the VM may go to hosts managed by these only.
    company_a: String,
    company_b: String,
    vm: String,
    image_hash: String,
    /// Cloud A, JP, company A: where the VM runs.
    home: String,
    /// Eligible: B GB company A (16 cores); B JP company B (16); C GB company B (8); C GB company A
    /// (exactly the VM's needs).
    b_gb: String,
    b_jp: String,
    c_gb: String,
    c_exact: String,
    /// Left out: B DE (country), B GB down, C JP draining, C GB managed by another company
    /// (organisation), C GB with 1 core (capacity).
    b_de: String,
    b_down: String,
    c_draining: String,
    c_other_org: String,
    c_tiny: String,
}

impl ThreeClouds {
    fn given() -> ThreeClouds {
        let federation = Federation::connect();
        assert!(
            federation.members.members.len() >= 3,
            "placement's end-to-end test needs three members: `network/vmledger-net up --orgs 3`"
        );
        let orgs: [String; 3] = std::array::from_fn(|i| federation.members.members[i].org.clone());
        let clouds: [String; 3] = std::array::from_fn(|i| federation.owned(&orgs[i], "cloud"));
        let host = |i: usize, name: &str| federation.owned(&orgs[i], name);
        let s = ThreeClouds {
            company_a: unique("CompanyA"),
            company_b: unique("CompanyB"),
            vm: unique("vm-place"),
            image_hash: hex_of(&unique("image")),
            home: host(0, "a-jp"),
            b_gb: host(1, "b-gb"),
            b_jp: host(1, "b-jp"),
            c_gb: host(2, "c-gb"),
            c_exact: host(2, "c-exact"),
            b_de: host(1, "b-de"),
            b_down: host(1, "b-down"),
            c_draining: host(2, "c-drain"),
            c_other_org: host(2, "c-other"),
            c_tiny: host(2, "c-tiny"),
            orgs,
            clouds,
            federation,
        };
        let managers: Vec<VmLedger> = s.orgs.iter().map(|o| s.federation.ledger(o, "manager")).collect();
        let clouds: Vec<msg::RegisterCloud> = (0..3)
            .map(|i| msg::RegisterCloud { id: s.clouds[i].clone(), name: format!("Cloud {i}"), prices: None })
            .collect();
        block_on(futures_util::future::try_join_all(
            clouds.iter().enumerate().map(|(i, c)| managers[i].register_cloud(c)),
        ))
        .expect("register the clouds");
        let (a, b) = (s.company_a.clone(), s.company_b.clone());
        let half = Resources { cpu_cores: 8, ..BIG };
        let tiny = Resources { cpu_cores: 1, ..BIG };
        let hosts = [
            (0, &s.home, "JP", &a, BIG),
            (1, &s.b_gb, "GB", &a, BIG),
            (1, &s.b_jp, "JP", &b, BIG),
            (1, &s.b_de, "DE", &a, BIG),
            (1, &s.b_down, "GB", &a, BIG),
            (2, &s.c_gb, "GB", &b, half),
            (2, &s.c_exact, "GB", &a, NEEDS),
            (2, &s.c_draining, "JP", &a, BIG),
            (2, &s.c_other_org, "GB", &unique("CompanyC"), BIG),
            (2, &s.c_tiny, "GB", &a, tiny),
        ];
        let hosts: Vec<(usize, msg::RegisterHost)> = hosts
            .iter()
            .map(|(i, id, country, org, capacity)| {
                (
                    *i,
                    msg::RegisterHost {
                        id: (*id).clone(),
                        cloud_id: s.clouds[*i].clone(),
                        country: (*country).into(),
                        organizations: vec![(*org).clone()],
                        capacity: *capacity,
                    },
                )
            })
            .collect();
        block_on(futures_util::future::try_join_all(hosts.iter().map(|(i, h)| managers[*i].register_host(h))))
            .expect("register the hosts");
        let availability = |host: &str, availability| SetHostAvailability {
            host_id: host.to_owned(),
            availability,
            utilization_percent: None,
            reason: Some("e2e".into()),
        };
        let (set_down, set_draining) =
            (availability(&s.b_down, Availability::Down), availability(&s.c_draining, Availability::Draining));
        let (down, draining) = block_on(async {
            tokio::join!(managers[1].set_host_availability(&set_down), managers[2].set_host_availability(&set_draining))
        });
        down.expect("set a host down");
        draining.expect("set a host draining");
        block_on(s.operator(0).register_vm(&msg::RegisterVm {
            id: s.vm.clone(),
            cloud_id: s.clouds[0].clone(),
            host_id: s.home.clone(),
            requirements: NEEDS,
            image_hash: s.image_hash.clone(),
            regulation: s.regulation(),
        }))
        .expect("register the VM");
        s
    }

    /// Seed 003's regulation with this run's companies: JP or GB, company A or B.
    fn regulation(&self) -> Regulation {
        Regulation {
            countries: Allowed::Only(vec!["JP".into(), "GB".into()]),
            organizations: Allowed::Only(vec![self.company_a.clone(), self.company_b.clone()]),
        }
    }

    fn operator(&self, i: usize) -> VmLedger {
        self.federation.ledger(&self.orgs[i], "operator")
    }

    fn eligible(&self) -> Vec<String> {
        let mut hosts = vec![self.b_gb.clone(), self.b_jp.clone(), self.c_gb.clone(), self.c_exact.clone()];
        hosts.sort();
        hosts
    }

    fn ours(&self) -> Vec<&String> {
        vec![
            &self.home,
            &self.b_gb,
            &self.b_jp,
            &self.c_gb,
            &self.c_exact,
            &self.b_de,
            &self.b_down,
            &self.c_draining,
            &self.c_other_org,
            &self.c_tiny,
        ]
    }

    /// `PlaceVm` of the scenario's VM, as a third member would ask it (anyone gets the same answer).
    fn place(&self, strategy: Strategy) -> PlacementReport {
        let input = PlaceVm {
            vm_id: Some(self.vm.clone()),
            requirements: None,
            regulation: None,
            strategy,
            limit: None,
            min_reputation: None,
            page_size: None,
            bookmark: None,
        };
        block_on(self.operator(2).place_vm(&input)).expect("PlaceVm")
    }
}

fn hex_of(seed: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(seed.as_bytes()))
}

fn ranked(report: &PlacementReport) -> Vec<String> {
    report.candidates.iter().map(|c| c.host_id.clone()).collect()
}

fn reasons<'a>(report: &'a PlacementReport, host: &str) -> &'a [Exclusion] {
    &report.excluded.iter().find(|e| e.host_id == host).unwrap_or_else(|| panic!("{host} is not excluded")).reasons
}

/// Every one of the scenario's hosts is ranked or left out naming its rule; the ranking is exactly
/// the eligible hosts; a down or draining host is never among them.
fn accounts_for_every_host(s: &ThreeClouds, report: &PlacementReport) {
    let mut got = ranked(report);
    got.sort();
    assert_eq!(got, s.eligible(), "exactly the eligible hosts are ranked");
    assert_eq!(reasons(report, &s.home), [Exclusion::SameHost]);
    assert!(matches!(reasons(report, &s.b_down), [Exclusion::Down { since: Some(_) }]), "{report:?}");
    assert!(matches!(reasons(report, &s.c_draining), [Exclusion::Draining { since: Some(_) }]));
    assert!(matches!(reasons(report, &s.b_de), [Exclusion::Policy { .. }]));
    assert!(matches!(reasons(report, &s.c_other_org), [Exclusion::Policy { .. }]));
    assert!(
        matches!(reasons(report, &s.c_tiny), [Exclusion::Capacity { shortfalls }] if shortfalls[0].resource == "cpuCores")
    );
    for excluded in &report.excluded {
        assert!(!excluded.reasons.is_empty(), "{} is left out without a reason", excluded.host_id);
    }
    assert!(report.scanned as usize >= s.ours().len());
}

#[test]
#[ignore = "end-to-end: needs a running network with three members"]
fn round_robin_turns_over_the_eligible_hosts_evenly_as_indications_are_recorded() {
    let s = ThreeClouds::given();
    let operator = s.operator(0);
    let mut picks: BTreeMap<String, usize> = BTreeMap::new();
    let mut previous: Option<String> = None;
    for n in 0..placements() {
        let report = s.place(Strategy::RoundRobin);
        if n == 0 {
            accounts_for_every_host(&s, &report);
        }
        let first = report.candidates.first().expect("an eligible host").host_id.clone();
        assert_ne!(Some(&first), previous.as_ref(), "round robin never picks the same host twice in a row");
        // The Indication advances the host's cursor (placed/{hostId}); withdrawn at once, the VM stays.
        let indicated = block_on(operator.migrate(&indication(&s.vm, &first, &s.image_hash))).expect("Migrate");
        let cancel = msg::CloseMigration { migration_id: indicated.tx_id, reason: None };
        // The Migrate committed on our peer; the destination's peer, which must endorse the
        // cancellation too, may still be a block behind (NOT_FOUND there): a bounded wait for it.
        let mut tries = 0;
        loop {
            match block_on(operator.cancel_migration(&cancel)) {
                Err(e) if e.code() == "NOT_FOUND" && tries < 20 => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                done => {
                    done.expect("CancelMigration");
                    break;
                }
            }
        }
        *picks.entry(first.clone()).or_default() += 1;
        previous = Some(first);
    }
    let expected: BTreeMap<String, usize> =
        s.eligible().into_iter().map(|h| (h, placements() / s.eligible().len())).collect();
    assert_eq!(picks, expected, "{} placements spread evenly over the four eligible hosts", placements());
}

#[test]
#[ignore = "end-to-end: needs a running network with three members"]
fn least_loaded_hash_and_best_fit_place_as_they_say_every_time() {
    let s = ThreeClouds::given();
    // Load B's GB host by half and C's GB host by a quarter, with VMs of their own clouds.
    let guest = |i: usize, host: &str, cores: u64| msg::RegisterVm {
        id: unique("vm-load"),
        cloud_id: s.clouds[i].clone(),
        host_id: host.to_owned(),
        requirements: Resources { cpu_cores: cores, ..NEEDS },
        image_hash: s.image_hash.clone(),
        regulation: s.regulation(),
    };
    block_on(s.operator(1).register_vm(&guest(1, &s.b_gb, 8))).expect("load B");
    block_on(s.operator(2).register_vm(&guest(2, &s.c_gb, 2))).expect("load C");

    let emptiest = [s.b_jp.clone(), s.c_exact.clone(), s.c_gb.clone(), s.b_gb.clone()];
    let mut by_hash = s.eligible();
    by_hash.sort_by_key(|h| rendezvous(&s.vm, h));
    for n in 0..placements() {
        let least = s.place(Strategy::LeastLoaded);
        let hash = s.place(Strategy::Hash);
        let best = s.place(Strategy::BestFit);
        if n == 0 {
            for report in [&least, &hash, &best] {
                accounts_for_every_host(&s, report);
            }
            let scores: Vec<u64> = least.candidates.iter().map(|c| c.score).collect();
            assert_eq!(scores, [1_000_000, 1_000_000, 750_000, 500_000], "free share of the most used resource");
        }
        assert_eq!(ranked(&least), emptiest, "least-loaded: the emptiest first (ties by id)");
        assert_eq!(ranked(&hash), by_hash, "hash: SHA-256(vm/host) order, the same every time");
        assert_eq!(best.candidates[0].host_id, s.c_exact, "best-fit: the host the VM fills exactly");
        assert_eq!(best.candidates[0].score, 0);
    }
}

#[test]
#[ignore = "end-to-end: needs a running network with three members"]
fn a_down_host_refuses_an_indication_and_another_member_cannot_change_it() {
    let s = ThreeClouds::given();
    let refused = block_on(s.operator(0).migrate(&indication(&s.vm, &s.b_down, &s.image_hash)))
        .expect_err("a down host takes no VM");
    let error = refused.contract_error().expect("a contract refusal").clone();
    assert_eq!(error.code(), "HOST_UNAVAILABLE");
    assert!(error.to_string().contains("down") && error.to_string().contains("host availability rule"), "{error}");

    // Nor may its own cloud register a new VM there: typed, naming the host and its availability.
    let onto_down = msg::RegisterVm {
        id: unique("vm-on-down"),
        cloud_id: s.clouds[1].clone(),
        host_id: s.b_down.clone(),
        requirements: NEEDS,
        image_hash: s.image_hash.clone(),
        regulation: s.regulation(),
    };
    let refused = block_on(s.operator(1).register_vm(&onto_down)).expect_err("a down host takes no new VM");
    match refused.contract_error() {
        Some(ContractError::HostUnavailable { host_id, availability: Availability::Down, since: Some(_) }) => {
            assert_eq!(host_id, &s.b_down);
        }
        other => panic!("RegisterVm onto a down host: {other:?} ({refused})"),
    }

    // Cloud A's manager tries to bring B's host up: refused, and it stays down.
    let hostile = SetHostAvailability {
        host_id: s.b_down.clone(),
        availability: Availability::Up,
        utilization_percent: None,
        reason: None,
    };
    let refused = block_on(s.federation.ledger(&s.orgs[0], "manager").set_host_availability(&hostile))
        .expect_err("another member's host");
    assert_eq!(refused.contract_error().map(|e| e.code()), Some("UNAUTHORIZED"));
    let state = block_on(s.operator(2).get_host_state(&s.b_down)).expect("GetHostState");
    assert_eq!(state.availability, Availability::Down);
    // A second report of the same state records nothing.
    let again = SetHostAvailability { availability: Availability::Down, ..hostile };
    let refused =
        block_on(s.federation.ledger(&s.orgs[1], "manager").set_host_availability(&again)).expect_err("no change");
    assert_eq!(refused.contract_error().map(|e| e.code()), Some("CONFLICT"));
    let changes =
        block_on(s.operator(2).list_availability_changes(&vmledger_contract::placement::ListAvailabilityChanges {
            host_id: s.b_down.clone(),
            from: None,
            to: None,
            page_size: None,
            bookmark: None,
        }))
        .expect("ListAvailabilityChanges");
    assert_eq!(changes.items.len(), 1, "one change recorded: {changes:?}");
}

#[test]
#[ignore = "end-to-end: needs a running network with three members"]
fn seed_003s_regulation_places_a_shape_only_where_it_is_allowed() {
    let s = ThreeClouds::given();
    let only_jp_a = Regulation {
        countries: Allowed::Only(vec!["JP".into()]),
        organizations: Allowed::Only(vec![s.company_a.clone()]),
    };
    let input = PlaceVm {
        vm_id: None,
        requirements: Some(NEEDS),
        regulation: Some(only_jp_a),
        strategy: Strategy::LeastLoaded,
        limit: None,
        min_reputation: None,
        page_size: None,
        bookmark: None,
    };
    let report = block_on(s.operator(1).place_vm(&input)).expect("PlaceVm");
    // JP and company A: the VM's home host (a shape has no host) and C's JP host, which is draining.
    assert_eq!(ranked(&report), std::slice::from_ref(&s.home));
    assert!(matches!(reasons(&report, &s.c_draining), [Exclusion::Draining { .. }]));
    for host in [&s.b_gb, &s.b_de, &s.b_jp, &s.c_gb, &s.c_exact, &s.c_other_org] {
        assert!(
            reasons(&report, host).iter().any(|r| matches!(r, Exclusion::Policy { .. })),
            "{host}: {:?}",
            reasons(&report, host)
        );
    }
}

#[test]
#[ignore = "end-to-end: needs a running network with three members"]
fn the_cli_places_migrates_to_the_first_host_and_shows_reputation() {
    let s = ThreeClouds::given();
    let cli = |i: usize, identity: &str| s.federation.cli(&s.orgs[i], identity);
    let placed = cli(0, "operator")
        .args(["--json", "place", &s.vm, "--strategy", "best-fit", "--limit", "2"])
        .run()
        .expect(exit::OK)
        .json();
    assert_eq!(placed["candidates"][0]["hostId"], s.c_exact.as_str(), "{placed}");
    assert_eq!(placed["candidates"].as_array().map(Vec::len), Some(2));
    let table = cli(0, "operator").args(["place", &s.vm]).run().expect(exit::OK).stdout;
    assert!(table.contains(&s.b_down) && table.contains("down since"), "{table}");

    // The whole migration to the host best-fit picks: C confirms from its landing folder.
    let tmp = tempfile::tempdir().expect("tmp");
    let image = Image::make(tmp.path(), &unique("image"), 1 << 20);
    block_on(s.operator(0).register_vm(&msg::RegisterVm {
        id: format!("{}-2", s.vm),
        cloud_id: s.clouds[0].clone(),
        host_id: s.home.clone(),
        requirements: NEEDS,
        image_hash: image.hash.clone(),
        regulation: s.regulation(),
    }))
    .expect("register the VM to move");
    let landing = tmp.path().join("landing");
    let report = cli(0, "operator")
        .args(["--json", "migrate", "run", "--vm", &format!("{}-2", s.vm), "--auto", "--strategy", "best-fit"])
        .args(["--image", image.path_str(), "--to-dir", landing.to_str().expect("path"), "--dest-member", &s.orgs[2]])
        .run()
        .expect(exit::OK)
        .json();
    assert_eq!(report["destination"]["hostId"], s.c_exact.as_str(), "{report}");
    assert_eq!(report["status"], "confirmed");
    let migration_id = report["migrationId"].as_str().expect("id").to_owned();

    // C's record: the confirmed migration behind its figure, as any member reads it.
    let reputation =
        cli(1, "operator").args(["--json", "cloud", "reputation", &s.clouds[2]]).run().expect(exit::OK).json();
    let reputation: Reputation = serde_json::from_value(reputation).expect("a reputation");
    assert_eq!(reputation.as_destination.confirmed.migration_ids, std::slice::from_ref(&migration_id));
    assert_eq!(reputation.score, Some(1000));
    assert!(reputation.mean_confirm_ms.is_some());
    let same = block_on(s.operator(0).get_reputation(&GetReputation {
        cloud_id: s.clouds[2].clone(),
        from: Some(reputation.from),
        to: Some(reputation.to),
    }))
    .expect("GetReputation");
    assert_eq!(same, reputation, "every member reads the same record");
    let migration = block_on(s.operator(2).get_migration(&migration_id)).expect("the migration");
    assert_eq!(migration.status, MigrationStatus::Confirmed);

    // Only clouds with a record of 1000: C (its exact host now full) and A (the VM's own host).
    let proven =
        cli(0, "operator").args(["--json", "place", &s.vm, "--min-reputation", "1000"]).run().expect(exit::OK).json();
    let report: PlacementReport = serde_json::from_value(proven).expect("a placement");
    assert_eq!(ranked(&report), std::slice::from_ref(&s.c_gb));
    assert!(matches!(reasons(&report, &s.b_gb), [Exclusion::Reputation { score: None, min: 1000 }]));
    assert!(matches!(reasons(&report, &s.c_exact), [Exclusion::Capacity { .. }]));
}
