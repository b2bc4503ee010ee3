//! Service terms and violation claims: two clouds agree terms whose prices only they see; a third
//! member sees that they exist and who signed, and can neither read the prices nor act on the terms
//! or on claims under them.

use std::collections::BTreeSet;

use super::*;
use crate::claims::{Claim, ClaimStatus};
use crate::reputation::{Reputation, SCORE_SCALE};
use crate::terms::{Terms, TermsStatus, TermsView, sha256_hex};

const SALT: &str = "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a";

fn org3_admin() -> Caller {
    identity("Org3MSP", "manager", "manager")
}

/// `set_up`'s federation, a third member's cloud, and the collection of each pair of members, as
/// the network tool defines them.
fn three_members() -> MemoryLedger {
    let ledger = set_up();
    ok::<Cloud>(&ledger, &org3_admin(), "RegisterCloud", json!({ "id": "org3.cloud-c", "name": "Cloud C" }));
    for (a, b) in [("Org1MSP", "Org2MSP"), ("Org1MSP", "Org3MSP"), ("Org2MSP", "Org3MSP")] {
        ledger.add_collection(&crate::terms::collection(a, b), &[a, b]);
    }
    ledger
}

fn private_terms() -> Value {
    json!({
        "prices": { "currency": "EUR", "cpuCoreHour": 17_000, "memoryGibHour": 4_000, "networkMbpsHour": 7, "ioMbpsHour": 1 },
        "salt": SALT,
    })
}

fn proposal(id: &str) -> Value {
    json!({
        "id": id, "sourceCloudId": "org1.cloud-a", "destinationCloudId": "org2.cloud-b",
        "availabilityTargetBp": 9990, "maxDowntimeMs": 500,
        "penalty": { "currency": "EUR", "fixedCredit": 10_000, "creditPerDowntimeSecond": 1_000,
                     "creditPerBasisPoint": 500, "maxCredit": 50_000 },
    })
}

/// Runs a transaction with transient data, checked against the vocabulary like `run`.
fn run_private(
    ledger: &MemoryLedger,
    caller: &Caller,
    function: &str,
    argument: Value,
    private: Option<&Value>,
) -> Outcome {
    let text = private.map(Value::to_string);
    let transient: Vec<(&str, &str)> =
        text.as_deref().map(|t| vec![(crate::terms::PRIVATE_TERMS_FIELD, t)]).unwrap_or_default();
    let outcome = block_on(ledger.submit_with_transient(caller, function, &argument.to_string(), &transient));
    let declared = crate::vocabulary::function(function).expect("a declared function");
    if let Err(e) = &outcome.result {
        assert!(declared.refuses.contains(&e.code()), "{function} refused with undeclared {}: {e}", e.code());
    }
    outcome
}

fn propose(ledger: &MemoryLedger, id: &str) -> Terms {
    let outcome = run_private(ledger, &org1_admin(), "ProposeTerms", proposal(id), Some(&private_terms()));
    serde_json::from_str(&outcome.result.expect("ProposeTerms")).expect("terms")
}

/// A proposal refused with `code`: nothing written, public or private, nothing emitted.
fn propose_refused(
    ledger: &MemoryLedger,
    caller: &Caller,
    argument: Value,
    private: Option<&Value>,
    code: &str,
) -> String {
    let before = ledger.snapshot();
    let outcome = run_private(ledger, caller, "ProposeTerms", argument, private);
    let error = outcome.result.expect_err("expected a refusal");
    assert_eq!(error.code(), code, "{error}");
    assert!(outcome.writes.is_empty() && outcome.private_writes.is_empty() && outcome.event.is_none());
    assert_eq!(ledger.snapshot(), before);
    error.to_string()
}

fn accept(ledger: &MemoryLedger, terms: &Terms) -> Terms {
    ok(ledger, &org2_admin(), "AcceptTerms", json!({ "termsId": terms.id, "privateHash": terms.private_hash }))
}

/// vm1 moved from cloud-a to cloud-b (confirmed).
fn moved(ledger: &MemoryLedger) -> Migration {
    let m: Migration = ok(ledger, &org1_user(), "Migrate", migrate_to("org2.b-gb-1"));
    ok(ledger, &org2_user(), "ConfirmMigration", confirmation(&m, HASH, KEYED))
}

fn downtime_claim(id: &str, terms: &str, migration: &str, measured: u64) -> Value {
    json!({ "id": id, "termsId": terms, "migrationId": migration, "metric": "downtimeMs", "measured": measured,
            "evidence": ["oracle-report-17"] })
}

mod propose_terms {
    use super::*;

    #[test]
    fn puts_the_prices_in_the_pairs_collection_and_only_their_hash_on_the_shared_ledger() {
        let ledger = three_members();
        let outcome = run_private(&ledger, &org1_admin(), "ProposeTerms", proposal("org1.t1"), Some(&private_terms()));
        let terms: Terms = serde_json::from_str(&outcome.result.expect("proposed")).expect("terms");
        assert_eq!(terms.status, TermsStatus::Proposed);
        assert_eq!(terms.collection, "terms-org1-org2");
        assert_eq!(terms.parties, ["Org1MSP", "Org2MSP"]);
        let private = ledger.private_value("terms-org1-org2", "terms/org1.t1").expect("the private part");
        assert_eq!(terms.private_hash, sha256_hex(&private), "the hash Fabric keeps of the private value");
        assert!(private.contains("17000"));
        for public in ledger.snapshot().values().chain(ledger.events().iter().map(|e| &e.payload)) {
            assert!(
                !public.contains("17000") && !public.contains(SALT),
                "a price leaked onto the shared ledger: {public}"
            );
        }
        assert_eq!(ledger.endorsers_of("terms/org1.t1"), Some(vec!["Org1MSP".into(), "Org2MSP".into()]));
        assert_eq!(last_event(&ledger).0, "TermsProposed");
    }

    #[test]
    fn refuses_prices_in_the_public_argument_or_missing_or_malformed() {
        let ledger = three_members();
        let mut leaky = proposal("org1.t1");
        leaky["prices"] = private_terms()["prices"].clone();
        propose_refused(&ledger, &org1_admin(), leaky, Some(&private_terms()), "INVALID_ARGUMENT");
        let e = propose_refused(&ledger, &org1_admin(), proposal("org1.t1"), None, "INVALID_ARGUMENT");
        assert!(e.contains("transient"), "{e}");
        let mut unsalted = private_terms();
        unsalted["salt"] = json!("1234");
        propose_refused(&ledger, &org1_admin(), proposal("org1.t1"), Some(&unsalted), "INVALID_ARGUMENT");
        let mut target = proposal("org1.t1");
        target["availabilityTargetBp"] = json!(10_001);
        propose_refused(&ledger, &org1_admin(), target, Some(&private_terms()), "INVALID_ARGUMENT");
    }

    #[test]
    fn only_the_source_clouds_manager_proposes_in_its_own_namespace() {
        let ledger = three_members();
        let e = propose_refused(&ledger, &org3_admin(), proposal("org3.t1"), Some(&private_terms()), "UNAUTHORIZED");
        assert!(e.contains("org1.cloud-a"), "{e}");
        propose_refused(&ledger, &org2_admin(), proposal("org2.t1"), Some(&private_terms()), "UNAUTHORIZED");
        propose_refused(&ledger, &org1_user(), proposal("org1.t1"), Some(&private_terms()), "UNAUTHORIZED");
        propose_refused(&ledger, &org1_admin(), proposal("org2.t1"), Some(&private_terms()), "UNAUTHORIZED");
        propose(&ledger, "org1.t1");
        propose_refused(&ledger, &org1_admin(), proposal("org1.t1"), Some(&private_terms()), "ALREADY_EXISTS");
    }

    #[test]
    fn refuses_terms_within_one_member_and_a_migration_of_other_clouds() {
        let ledger = three_members();
        ok::<Cloud>(&ledger, &org1_admin(), "RegisterCloud", json!({ "id": "org1.cloud-a2", "name": "A2" }));
        let mut own = proposal("org1.t1");
        own["destinationCloudId"] = json!("org1.cloud-a2");
        propose_refused(&ledger, &org1_admin(), own, Some(&private_terms()), "CONFLICT");
        let m = moved(&ledger);
        let mut wrong = proposal("org1.t1");
        wrong["destinationCloudId"] = json!("org3.cloud-c");
        wrong["migrationId"] = json!(m.id);
        let e = propose_refused(&ledger, &org1_admin(), wrong, Some(&private_terms()), "CONFLICT");
        assert!(e.contains("org2.cloud-b"), "{e}");
    }
}

mod accept_terms {
    use super::*;

    #[test]
    fn the_destination_accepts_the_prices_it_read_and_both_members_endorse() {
        let ledger = three_members();
        let terms = propose(&ledger, "org1.t1");
        let seen: TermsView = ok(&ledger, &org2_admin(), "GetTerms", json!({ "id": "org1.t1" }));
        let private = seen.private.expect("the destination reads the prices");
        assert_eq!(private.prices.cpu_core_hour, 17_000);
        let outcome = run(
            &ledger,
            &org2_admin(),
            "AcceptTerms",
            json!({ "termsId": "org1.t1", "privateHash": terms.private_hash }),
        );
        let agreed: Terms = serde_json::from_str(&outcome.result.expect("accepted")).expect("terms");
        assert_eq!(outcome.endorsers, BTreeSet::from(["Org1MSP".to_owned(), "Org2MSP".to_owned()]));
        assert_eq!(agreed.status, TermsStatus::Agreed);
        assert_eq!(agreed.proposed_by.msp_id, "Org1MSP");
        assert_eq!(agreed.accepted_by.as_ref().map(|s| s.msp_id.as_str()), Some("Org2MSP"));
        assert_eq!(last_event(&ledger).0, "TermsAgreed");
        refused(
            &ledger,
            &org2_admin(),
            "AcceptTerms",
            json!({ "termsId": "org1.t1", "privateHash": terms.private_hash }),
            "CONFLICT",
        );
    }

    #[test]
    fn nobody_else_accepts_and_not_other_prices() {
        let ledger = three_members();
        let terms = propose(&ledger, "org1.t1");
        let accept = |hash: &str| json!({ "termsId": "org1.t1", "privateHash": hash });
        let e = refused(&ledger, &org3_admin(), "AcceptTerms", accept(&terms.private_hash), "UNAUTHORIZED");
        assert!(e.to_string().contains("Org2MSP"), "{e}");
        refused(&ledger, &org1_admin(), "AcceptTerms", accept(&terms.private_hash), "UNAUTHORIZED");
        refused(&ledger, &org2_user(), "AcceptTerms", accept(&terms.private_hash), "UNAUTHORIZED");
        let e = refused(&ledger, &org2_admin(), "AcceptTerms", accept(OTHER_HASH), "CONFLICT");
        assert!(e.to_string().contains(OTHER_HASH) && e.to_string().contains(&terms.private_hash), "{e}");
        refused(
            &ledger,
            &org2_admin(),
            "AcceptTerms",
            json!({ "termsId": "org1.none", "privateHash": OTHER_HASH }),
            "NOT_FOUND",
        );
    }

    #[test]
    fn a_third_member_sees_the_hash_and_both_signers_but_not_the_prices() {
        let ledger = three_members();
        let terms = propose(&ledger, "org1.t1");
        accept(&ledger, &terms);
        let view: TermsView = ok(&ledger, &org3_admin(), "GetTerms", json!({ "id": "org1.t1" }));
        assert_eq!(view.private, None);
        assert_eq!(view.ledger_hash.as_deref(), Some(terms.private_hash.as_str()));
        assert!(view.verified);
        assert_eq!(view.terms.proposed_by.msp_id, "Org1MSP");
        assert_eq!(view.terms.accepted_by.map(|s| s.msp_id), Some("Org2MSP".to_owned()));
        let own: TermsView = ok(&ledger, &org1_user(), "GetTerms", json!({ "id": "org1.t1" }));
        assert!(own.private.is_some(), "a party's own operator reads them");
    }
}

mod claims {
    use super::*;

    fn agreed(ledger: &MemoryLedger) -> (Terms, Migration) {
        let m = moved(ledger);
        let mut argument = proposal("org1.t1");
        argument["migrationId"] = json!(m.id);
        let outcome = run_private(ledger, &org1_admin(), "ProposeTerms", argument, Some(&private_terms()));
        let terms: Terms = serde_json::from_str(&outcome.result.expect("proposed")).expect("terms");
        (accept(ledger, &terms), m)
    }

    #[test]
    fn claimed_disputed_then_accepted_becomes_a_credit_in_usage() {
        let ledger = three_members();
        let (terms, m) = agreed(&ledger);
        let claim: Claim =
            ok(&ledger, &org1_admin(), "ClaimViolation", downtime_claim("org1.c1", &terms.id, &m.id, 2_500));
        assert_eq!(
            (claim.status, claim.accused_cloud_id.as_str(), claim.agreed),
            (ClaimStatus::Claimed, "org2.cloud-b", 500)
        );
        // 10 000 fixed + 2 started seconds beyond 500 ms × 1 000
        assert_eq!(claim.credit, 12_000);
        assert_eq!(claim.ledger_evidence.as_ref().map(|e| e.migration_id.as_str()), Some(m.id.as_str()));
        assert_eq!(ledger.endorsers_of("claim/org1.c1"), Some(vec!["Org1MSP".into(), "Org2MSP".into()]));

        let disputed: Claim = ok(
            &ledger,
            &org2_admin(),
            "DisputeClaim",
            json!({ "claimId": "org1.c1", "measured": 450, "reason": "our hypervisor saw 450 ms", "evidence": ["qmp-log-9"] }),
        );
        assert_eq!(disputed.status, ClaimStatus::Disputed);
        assert_eq!(disputed.dispute.as_ref().map(|d| d.value), Some(450));
        refused(
            &ledger,
            &org2_admin(),
            "DisputeClaim",
            json!({ "claimId": "org1.c1", "measured": 1, "reason": "again" }),
            "CONFLICT",
        );

        let outcome = run(&ledger, &org2_admin(), "AcceptClaim", json!({ "claimId": "org1.c1" }));
        let accepted: Claim = serde_json::from_str(&outcome.result.expect("accepted")).expect("claim");
        assert_eq!(accepted.status, ClaimStatus::Accepted);
        assert_eq!(outcome.endorsers, BTreeSet::from(["Org1MSP".to_owned(), "Org2MSP".to_owned()]));
        assert_eq!(last_event(&ledger).0, "ClaimAccepted");
        refused(&ledger, &org2_admin(), "AcceptClaim", json!({ "claimId": "org1.c1" }), "CONFLICT");

        ledger.advance(Duration::hours(2));
        let arrival = m.closed_at.expect("confirmed");
        let report: UsageReport = ok(
            &ledger,
            &org3_admin(),
            "Usage",
            json!({ "cloudId": "org2.cloud-b", "from": arrival, "to": arrival + Duration::hours(2) }),
        );
        let [credit] = &report.credits[..] else { panic!("one credit: {report:?}") };
        assert_eq!(
            (credit.claim_id.as_str(), credit.to_cloud_id.as_str(), credit.amount),
            ("org1.c1", "org1.cloud-a", 12_000)
        );
        assert_eq!(report.total_credits, Some(12_000));
        assert_eq!(report.net_cost, report.total_cost.map(|c| c.saturating_sub(12_000)));
        let creditor: UsageReport = ok(
            &ledger,
            &org1_admin(),
            "Usage",
            json!({ "cloudId": "org1.cloud-a", "from": arrival, "to": arrival + Duration::hours(2) }),
        );
        assert!(creditor.credits.is_empty(), "the claimant owes nothing: {creditor:?}");
    }

    #[test]
    fn an_accepted_violation_lowers_the_accused_clouds_reputation_an_open_one_does_not() {
        let ledger = three_members();
        let (terms, m) = agreed(&ledger);
        let reputation =
            |cloud: &str| -> Reputation { ok(&ledger, &org3_admin(), "GetReputation", json!({ "cloudId": cloud })) };
        assert_eq!(reputation("org2.cloud-b").score, Some(SCORE_SCALE), "one confirmed migration");

        ok::<Claim>(&ledger, &org1_admin(), "ClaimViolation", downtime_claim("org1.c1", &terms.id, &m.id, 2_500));
        ok::<Claim>(
            &ledger,
            &org2_admin(),
            "DisputeClaim",
            json!({ "claimId": "org1.c1", "measured": 450, "reason": "our hypervisor saw 450 ms" }),
        );
        let open = reputation("org2.cloud-b");
        assert_eq!((open.accepted_violations.count, open.score), (0, Some(SCORE_SCALE)), "claimed is one party's word");

        ok::<Claim>(&ledger, &org2_admin(), "AcceptClaim", json!({ "claimId": "org1.c1" }));
        let b = reputation("org2.cloud-b");
        assert_eq!(b.accepted_violations.claim_ids, ["org1.c1"]);
        assert_eq!(b.score, Some(SCORE_SCALE / 2), "1 confirmed, 1 accepted violation");
        let a = reputation("org1.cloud-a");
        assert_eq!((a.accepted_violations.count, a.score), (0, Some(SCORE_SCALE)), "the claimant loses nothing");

        ledger.advance(Duration::days(31));
        let later = reputation("org2.cloud-b");
        assert_eq!((later.accepted_violations.count, later.score), (0, None), "outside the default 30 days");
    }

    #[test]
    fn a_credit_the_accused_never_accepted_is_not_owed_and_costs_no_reputation() {
        let ledger = three_members();
        let (terms, m) = agreed(&ledger);
        let mut claim: Claim =
            ok(&ledger, &org1_admin(), "ClaimViolation", downtime_claim("org1.c1", &terms.id, &m.id, 2_500));
        // A coalition of org1 and org3 running a modified contract writes the claim as accepted, and
        // its credit into org2's index: new keys, so their majority can commit them.
        let now = ledger.now();
        let index = crate::state::credit_by_cloud("org2.cloud-b", &now, "org1.c1");
        claim.status = ClaimStatus::Accepted;
        claim.accepted_at = Some(now);
        ledger.forge(&[
            ("claim/org1.c1", serde_json::to_string(&claim).expect("claim")),
            (&index, crate::state::claim("org1.c1")),
        ]);
        ledger.advance(Duration::hours(2));
        let arrival = m.closed_at.expect("confirmed");
        let period = json!({ "cloudId": "org2.cloud-b", "from": arrival, "to": arrival + Duration::hours(2) });
        let report: UsageReport = ok(&ledger, &org3_admin(), "Usage", period.clone());
        assert!(report.credits.is_empty(), "no credit org2 never accepted: {report:?}");
        assert_eq!(report.unanchored, std::slice::from_ref(&index), "and the forged entry is named");
        let reputation: Reputation = ok(&ledger, &org3_admin(), "GetReputation", json!({ "cloudId": "org2.cloud-b" }));
        assert_eq!((reputation.accepted_violations.count, reputation.score), (0, Some(SCORE_SCALE)));

        // The honest acceptance carries org2's own marker on its index entry.
        let ledger = three_members();
        let (terms, m) = agreed(&ledger);
        ok::<Claim>(&ledger, &org1_admin(), "ClaimViolation", downtime_claim("org1.c1", &terms.id, &m.id, 2_500));
        let outcome = run(&ledger, &org2_admin(), "AcceptClaim", json!({ "claimId": "org1.c1" }));
        let prefix = crate::state::credits_of_cloud("org2.cloud-b");
        let marked: Vec<&(String, String)> = outcome.private_writes.keys().collect();
        assert!(
            marked.iter().any(|(c, k)| *c == crate::anchor::collection("Org2MSP") && k.starts_with(&prefix)),
            "{marked:?}"
        );
    }

    #[test]
    fn only_the_parties_claim_and_only_the_accused_answers() {
        let ledger = three_members();
        let (terms, m) = agreed(&ledger);
        let e = refused(
            &ledger,
            &org3_admin(),
            "ClaimViolation",
            downtime_claim("org3.c1", &terms.id, &m.id, 2_500),
            "UNAUTHORIZED",
        );
        assert!(e.to_string().contains("Org1MSP, Org2MSP"), "{e}");
        refused(
            &ledger,
            &org1_admin(),
            "ClaimViolation",
            downtime_claim("org2.c1", &terms.id, &m.id, 2_500),
            "UNAUTHORIZED",
        );
        ok::<Claim>(&ledger, &org1_admin(), "ClaimViolation", downtime_claim("org1.c1", &terms.id, &m.id, 2_500));
        let e = refused(&ledger, &org1_admin(), "AcceptClaim", json!({ "claimId": "org1.c1" }), "UNAUTHORIZED");
        assert!(e.to_string().contains("accused cloud `org2.cloud-b`"), "{e}");
        refused(&ledger, &org3_admin(), "AcceptClaim", json!({ "claimId": "org1.c1" }), "UNAUTHORIZED");
        refused(
            &ledger,
            &org3_admin(),
            "DisputeClaim",
            json!({ "claimId": "org1.c1", "measured": 1, "reason": "r" }),
            "UNAUTHORIZED",
        );
        refused(
            &ledger,
            &org1_admin(),
            "DisputeClaim",
            json!({ "claimId": "org1.c1", "measured": 1, "reason": "r" }),
            "UNAUTHORIZED",
        );
        refused(&ledger, &org2_user(), "AcceptClaim", json!({ "claimId": "org1.c1" }), "UNAUTHORIZED");
        refused(
            &ledger,
            &org1_admin(),
            "ClaimViolation",
            downtime_claim("org1.c1", &terms.id, &m.id, 2_500),
            "ALREADY_EXISTS",
        );
    }

    #[test]
    fn a_claim_must_break_agreed_terms_and_rest_on_the_ledgers_evidence() {
        let ledger = three_members();
        let proposed = propose(&ledger, "org1.t0");
        let pending: Migration = ok(&ledger, &org1_user(), "Migrate", migrate_to("org2.b-gb-1"));
        let e = refused(
            &ledger,
            &org1_admin(),
            "ClaimViolation",
            downtime_claim("org1.c0", &proposed.id, &pending.id, 2_500),
            "CONFLICT",
        );
        assert!(e.to_string().contains("not agreed"), "{e}");
        let terms = accept(&ledger, &proposed);
        // An unconfirmed migration: the VM did not move, there is no migration downtime to claim.
        let e = refused(
            &ledger,
            &org1_admin(),
            "ClaimViolation",
            downtime_claim("org1.c0", &terms.id, &pending.id, 2_500),
            "CONFLICT",
        );
        assert!(e.to_string().contains(&pending.id) && e.to_string().contains("indicated"), "{e}");
        let m: Migration = ok(&ledger, &org2_user(), "ConfirmMigration", confirmation(&pending, HASH, KEYED));
        let e = refused(
            &ledger,
            &org1_admin(),
            "ClaimViolation",
            downtime_claim("org1.c1", &terms.id, &m.id, 400),
            "CONFLICT",
        );
        assert!(e.to_string().contains("400 ms") && e.to_string().contains("500 ms"), "{e}");
        let mut no_migration = downtime_claim("org1.c1", &terms.id, &m.id, 2_500);
        no_migration.as_object_mut().expect("object").remove("migrationId");
        refused(&ledger, &org1_admin(), "ClaimViolation", no_migration, "INVALID_ARGUMENT");
        let availability =
            json!({ "id": "org1.c2", "termsId": terms.id, "metric": "availabilityBp", "measured": 9995 });
        refused(&ledger, &org1_admin(), "ClaimViolation", availability, "CONFLICT");
        let over = json!({ "id": "org1.c2", "termsId": terms.id, "metric": "availabilityBp", "measured": 10_001 });
        refused(&ledger, &org1_admin(), "ClaimViolation", over, "INVALID_ARGUMENT");
        let shortfall = json!({ "id": "org1.c4", "termsId": terms.id, "metric": "availabilityBp", "measured": 9980 });
        let claim: Claim = ok(&ledger, &org1_admin(), "ClaimViolation", shortfall);
        assert_eq!(claim.credit, 10_000 + 10 * 500);
    }
}
