//! Service terms and a violation claim on the real network with three members: org1 proposes terms
//! to org2 with prices only the two of them can read (a private data collection of the pair), org2
//! accepts them; org3 sees that the terms exist, which hash they bind and that both signed, but not
//! the prices, and can act on neither the terms nor the claim; org1 claims a violation, org2
//! disputes then accepts it, `Usage` of org2's cloud shows the credit and the net amount, and its
//! reputation the accepted violation.

use vmledger_client::{Error, Gateway, Signer, VmLedger};
use vmledger_contract::model::MigrationStatus;
use vmledger_contract::model::Prices;
use vmledger_contract::msg;
use vmledger_contract::reputation::{Reputation, Violations, score};
use vmledger_contract::terms::{AcceptTerms, PenaltyRule, ProposeTerms};
use vmledger_contract::vocabulary::{calls, code};
use vmledger_e2e::{Image, Scenario, block_on, exit, unique};

fn exit_of(name: &str) -> u8 {
    code(name).map(|c| c.exit_code).unwrap_or_else(|| panic!("no code {name}"))
}

#[test]
#[ignore = "end-to-end: needs a running network with at least three members"]
fn terms_private_to_two_clouds_and_a_claim_disputed_then_credited() {
    let s = Scenario::given_two_clouds();
    let members = &s.federation.members.members;
    assert!(members.len() >= 3, "this test needs a third member: `network/vmledger-net up --orgs 3`");
    let org_c = members[2].org.clone();
    let third = |identity: &str| s.federation.cli(&org_c, identity);

    // A VM moved from A to B: the migration the terms and the claim are about.
    let tmp = tempfile::tempdir().expect("tmp");
    let image = Image::make(tmp.path(), &unique("image"), 1 << 20);
    let vm = s.given_a_vm(&image);
    s.migrate_through_folder(&vm, &s.host_b, &image, &tmp.path().join("landing"), &s.org_b).run().expect(exit::OK);
    let migrations = block_on(
        s.ledger_a()
            .list_migrations(&msg::ListMigrations { vm_id: Some(vm.clone()), ..msg::ListMigrations::default() }),
    )
    .expect("migrations");
    let migration = migrations.items.iter().find(|m| m.status == MigrationStatus::Confirmed).expect("confirmed");

    // org1 proposes; the prices go to the pair's collection, only their hash into the block.
    let terms_id = s.federation.owned(&s.org_a, "terms");
    let proposed = s
        .cli_a("manager")
        .args(["--json", "terms", "propose", "--id", &terms_id, "--from-cloud", &s.cloud_a, "--to-cloud", &s.cloud_b])
        .args(["--migration", &migration.id, "--availability-bp", "9990", "--max-downtime-ms", "500"])
        .args(["--currency", "EUR", "--cpu-core-hour", "17000", "--memory-gib-hour", "4000"])
        .args(["--network-mbps-hour", "7", "--io-mbps-hour", "1", "--fixed-credit", "10000"])
        .args(["--credit-per-downtime-second", "1000", "--credit-per-basis-point", "500", "--max-credit", "50000"])
        .run()
        .expect(exit::OK)
        .json();
    let private_hash = proposed["result"]["privateHash"].as_str().expect("hash").to_owned();
    let block = proposed.to_string();
    assert!(!block.contains("17000"), "the price is in no public answer: {block}");

    // org3 knows the hash from the public record, and still may not accept terms proposed to org2
    // (straight to the contract: the SDK's workflow would stop earlier, having no prices to read).
    let forged = AcceptTerms { terms_id: terms_id.clone(), private_hash: private_hash.clone() };
    match block_on(s.federation.ledger(&org_c, "manager").submit::<calls::AcceptTerms>(&forged)) {
        Err(Error::Contract { error, .. }) => assert_eq!(error.code(), "UNAUTHORIZED", "{error}"),
        other => panic!("org3 accepting org2's terms: {other:?}"),
    }
    s.cli_b("manager").args(["terms", "accept", &terms_id]).run().expect(exit::OK);

    // org2 reads the prices on its own peer; org3 sees the hash and both signers, not the prices.
    let for_b = s.cli_b("operator").args(["--json", "terms", "show", &terms_id]).run().expect(exit::OK).json();
    assert_eq!(for_b["private"]["prices"]["cpuCoreHour"], 17000, "{for_b}");
    let for_c = third("manager").args(["--json", "terms", "show", &terms_id]).run().expect(exit::OK).json();
    assert!(for_c.get("private").is_none(), "org3 must not read the prices: {for_c}");
    assert!(!for_c.to_string().contains("17000"), "{for_c}");
    assert_eq!(for_c["ledgerHash"], private_hash.as_str(), "org3's own peer holds the prices' hash");
    assert_eq!(for_c["verified"], true);
    assert_eq!(for_c["terms"]["status"], "agreed");
    let msp = |org: &str| members.iter().find(|m| m.org == org).map(|m| m.msp_id.clone()).expect("member");
    assert_eq!(for_c["terms"]["proposedBy"]["mspId"], msp(&s.org_a).as_str());
    assert_eq!(for_c["terms"]["acceptedBy"]["mspId"], msp(&s.org_b).as_str());
    assert_eq!(for_c["terms"]["parties"], serde_json::json!([msp(&s.org_a), msp(&s.org_b)]));

    // org1 claims 2.5 s of downtime against 500 ms agreed: 10 000 + 2 s × 1 000 micro-EUR.
    let claim_id = s.federation.owned(&s.org_a, "claim");
    let claimed = s
        .cli_a("manager")
        .args(["--json", "claim", "file", "--id", &claim_id, "--terms", &terms_id, "--migration", &migration.id])
        .args(["--downtime-ms", "2500", "--evidence", "oracle-report-1"])
        .run()
        .expect(exit::OK)
        .json();
    assert_eq!(claimed["result"]["status"], "claimed");
    assert_eq!(claimed["result"]["credit"], 12_000);
    assert_eq!(claimed["result"]["ledgerEvidence"]["migrationId"], migration.id.as_str());

    // Nobody but the accused answers it: not org3, not the claimant itself; nothing changes.
    third("manager").args(["claim", "accept", &claim_id]).run().expect(exit_of("UNAUTHORIZED"));
    third("manager")
        .args(["claim", "dispute", &claim_id, "--measured", "1", "--reason", "not ours"])
        .run()
        .expect(exit_of("UNAUTHORIZED"));
    s.cli_a("manager").args(["claim", "accept", &claim_id]).run().expect(exit_of("UNAUTHORIZED"));
    let unchanged = third("manager").args(["--json", "claim", "show", &claim_id]).run().expect(exit::OK).json();
    assert_eq!(unchanged["status"], "claimed");

    s.cli_b("manager")
        .args(["claim", "dispute", &claim_id, "--measured", "450", "--reason", "our QMP log shows 450 ms"])
        .args(["--evidence", "qmp-log-7"])
        .run()
        .expect(exit::OK);
    let accepted = s.cli_b("manager").args(["--json", "claim", "accept", &claim_id]).run().expect(exit::OK).json();
    assert_eq!(accepted["result"]["status"], "accepted");
    assert_eq!(accepted["result"]["dispute"]["value"], 450);
    s.cli_b("manager").args(["claim", "accept", &claim_id]).run().expect(exit_of("CONFLICT"));

    // The credit is in B's usage, netted out of what B bills.
    let usage = s
        .cli_a("operator")
        .args(["--json", "usage", "--cloud", &s.cloud_b, "--from", "-1h", "--to", "+1h"])
        .run()
        .expect(exit::OK)
        .json();
    let credits = usage["credits"].as_array().expect("credits");
    let credit = credits.iter().find(|c| c["claimId"] == claim_id.as_str()).expect("the claim's credit");
    assert_eq!((credit["amount"].as_u64(), credit["toCloudId"].as_str()), (Some(12_000), Some(s.cloud_a.as_str())));
    let (total, credited, net) =
        (usage["totalCost"].as_u64(), usage["totalCredits"].as_u64(), usage["netCost"].as_u64());
    assert_eq!(credited, Some(12_000), "{usage}");
    assert_eq!(net, total.map(|t| t.saturating_sub(12_000)), "{usage}");

    // The accepted violation counts against B's reputation, named by its claim; A's has none.
    let reputation_of =
        |cloud: &str| third("operator").args(["--json", "cloud", "reputation", cloud]).run().expect(exit::OK).json();
    let b = reputation_of(&s.cloud_b);
    assert_eq!(b["acceptedViolations"]["claimIds"], serde_json::json!([claim_id]), "{b}");
    let b: Reputation = serde_json::from_value(b).expect("a reputation");
    let without = Reputation { accepted_violations: Violations::default(), ..b.clone() };
    assert!(b.score < score(&without), "the violation lowers the score: {b:?}");
    assert_eq!(reputation_of(&s.cloud_a)["acceptedViolations"]["count"], 0);
    let text = third("operator").args(["cloud", "reputation", &s.cloud_b]).run().expect(exit::OK).stdout;
    assert!(text.contains("violation accepted") && text.contains(&claim_id), "{text}");
}

#[test]
#[ignore = "end-to-end: needs a running network with at least three members"]
fn a_member_held_key_signs_terms_whose_prices_travel_as_transient_data() {
    let s = Scenario::given_two_clouds();
    let (_, msp) = crate::outcomes::new_identity(&s.federation, &s.org_a, "manager");
    let member = s.federation.members.member(&s.org_a).expect("member");
    let signer = Signer::from_files(&member.msp_id, &msp.join("signcerts/cert.pem"), &msp.join("keystore"))
        .expect("the member's own key");
    let gateway = Gateway::builder(&member.proxy.url)
        .api_key(member.api_key("manager").expect("key"))
        .signer(signer)
        .connect()
        .expect("gateway");
    let ledger =
        VmLedger::new(gateway.network(&s.federation.members.channel).contract(&s.federation.members.chaincode));
    let terms_id = s.federation.owned(&s.org_a, "signed-terms");
    let input = ProposeTerms {
        id: terms_id.clone(),
        source_cloud_id: s.cloud_a.clone(),
        destination_cloud_id: s.cloud_b.clone(),
        migration_id: None,
        availability_target_bp: 9990,
        max_downtime_ms: 500,
        penalty: PenaltyRule {
            currency: "EUR".into(),
            fixed_credit: 1,
            credit_per_downtime_second: 1,
            credit_per_basis_point: 1,
            max_credit: 10,
        },
    };
    let prices = Prices {
        currency: "EUR".into(),
        cpu_core_hour: 23_000,
        memory_gib_hour: 1,
        network_mbps_hour: 1,
        io_mbps_hour: 1,
    };
    let proposed =
        block_on(ledger.propose_terms(&input, prices)).expect("signed here, with the prices as transient data");
    // The destination's member reads on its own peer exactly the prices the member signed for.
    let seen = block_on(s.federation.ledger(&s.org_b, "manager").get_terms(&terms_id)).expect("GetTerms");
    assert_eq!(seen.private.map(|p| p.prices.cpu_core_hour), Some(23_000));
    assert_eq!(seen.ledger_hash.as_deref(), Some(proposed.result.private_hash.as_str()));
    assert!(seen.verified);
}
