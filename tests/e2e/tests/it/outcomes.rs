//! Knowable outcomes on the real network: a write's id is known before it is sent and found by id
//! afterwards on any member's peer; a write retried with its key never applies twice and answers the
//! first outcome (a `Migrate` retried finds its own migration); a member signs with a key the proxy
//! never sees.

use std::path::Path;

use vmledger_client::identity;
use vmledger_client::{Gateway, Signer, TxState, VmLedger};
use vmledger_contract::model::Resources;
use vmledger_contract::msg;
use vmledger_contract::vocabulary::calls;
use vmledger_e2e::{Federation, Image, Scenario, VM_NEEDS, block_on, exit, unique};

fn host(id: &str, cloud: &str) -> msg::RegisterHost {
    msg::RegisterHost {
        id: id.into(),
        cloud_id: cloud.into(),
        country: "JP".into(),
        organizations: vec!["CompanyA".into()],
        capacity: Resources { cpu_cores: 8, memory_mib: 8192, network_mbps: 1000, io_mbps: 500 },
    }
}

#[test]
#[ignore = "end-to-end: needs a running network"]
fn a_write_is_known_by_its_id_before_it_is_sent_and_found_by_it_on_every_member() {
    let s = Scenario::given_two_clouds();
    let manager = s.federation.ledger(&s.org_a, "manager");
    let input = serde_json::to_string(&host(&s.federation.owned(&s.org_a, "h"), &s.cloud_a)).expect("json");
    let prepared = block_on(
        manager.contract().prepare(<calls::RegisterHost as vmledger_contract::vocabulary::Call>::NAME, &input),
    )
    .expect("prepared");
    let tx_id = prepared.tx_id().to_owned();
    let creator = block_on(manager.contract().network().gateway().creator()).expect("creator");
    assert_eq!(tx_id, identity::tx_id(prepared.idempotency_key(), &creator), "computed before sending");
    assert!(block_on(manager.contract().network().lookup(&tx_id)).expect("lookup").is_none(), "not sent yet");

    let committed = block_on(prepared.submit()).expect("committed");
    assert_eq!(committed.tx_id, tx_id);

    // The other member's proxy never saw it: its peer's copy answers.
    let other = s.federation.ledger(&s.org_b, "operator");
    let found = block_on(async {
        for _ in 0..100 {
            if let Some(found) = other.contract().network().lookup(&tx_id).await.expect("lookup") {
                return found;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("{tx_id} never reached the other member's peer");
    });
    assert_eq!(found.status, TxState::Committed);
    assert_eq!(found.block_number, Some(committed.block_number));
    assert_eq!(found.source.as_deref(), Some("ledger"));
    assert_eq!(found.function.as_deref(), Some("RegisterHost"));
    assert_eq!(
        found.creator_msp_id.as_deref(),
        Some(s.federation.members.member(&s.org_a).expect("a").msp_id.as_str())
    );

    let shown = s.cli_b("operator").args(["tx", &tx_id, "-o", "json"]).run().expect(exit::OK);
    assert_eq!(shown.json()["status"], "committed");
    assert_eq!(shown.json()["validationCode"], "VALID");
    s.cli_b("operator").args(["tx", &"0".repeat(64)]).run().expect(exit::NOT_FOUND);
}

#[test]
#[ignore = "end-to-end: needs a running network"]
fn a_write_retried_with_its_key_never_applies_twice_and_answers_the_first_outcome() {
    let s = Scenario::given_two_clouds();
    let manager = s.federation.ledger(&s.org_a, "manager");
    let input = host(&s.federation.owned(&s.org_a, "h"), &s.cloud_a);
    let key = unique("key");
    let first = block_on(manager.submit_with_key::<calls::RegisterHost>(&input, &key)).expect("first");
    // Without the key, registering it again is ALREADY_EXISTS: the answer a naive retry would get.
    let again = block_on(manager.submit_with_key::<calls::RegisterHost>(&input, &key)).expect("the first outcome");
    assert_eq!((again.tx_id.as_str(), again.block_number), (first.tx_id.as_str(), first.block_number));
    assert_eq!(again.result, first.result);
    // From another process too: the CLI, with the same key, on a Migrate.
    let image = Image::make(&tempfile::tempdir().expect("tmp").keep(), &unique("img"), 4096);
    let vm = s.given_a_vm(&image);
    let key = unique("migrate-key");
    // A retry sends the same Indication: the same image and the same transfer key.
    let transfer_key = "6b".repeat(32);
    let start = |extra: &[&str]| {
        s.cli_a("operator")
            .args(["migrate", "start", "--vm", &vm, "--to-host", &s.host_b, "--image", image.path_str()])
            .args(["--transfer-key", &transfer_key, "--idempotency-key", &key, "-o", "json"])
            .args(extra.iter().copied())
            .run()
            .expect(exit::OK)
            .json()
    };
    let indicated = start(&["--no-wait"]);
    let retried = start(&[]);
    assert_eq!(retried["indicated"]["txId"], indicated["migrationId"], "the retry finds its own migration");
    let migrations =
        block_on(s.ledger_a().list_migrations(&msg::ListMigrations { vm_id: Some(vm.clone()), ..Default::default() }))
            .expect("listing");
    assert_eq!(migrations.items.len(), 1, "one migration, not two");
    // The same key for another call is refused, and sends nothing.
    let other = vmledger_e2e::indication(&vm, &s.host_b_us, &image.hash);
    let err = block_on(s.ledger_a().submit_with_key::<calls::Migrate>(&other, &key)).expect_err("key reused");
    assert_eq!(err.code(), "IDEMPOTENCY_KEY_REUSED");
}

/// Enrolls a new identity of `org` with `role` from its member's CA; the proxy's configuration never
/// names it.
pub(crate) fn new_identity(fed: &Federation, org: &str, role: &str) -> (String, std::path::PathBuf) {
    let name = unique("signer");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let output = std::process::Command::new(root.join("network/vmledger-net"))
        .args(["identity", org, &name, "--role", role])
        .output()
        .expect("vmledger-net identity");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let msp = std::path::PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    let proxy_config =
        std::fs::read_to_string(fed.members_file.parent().expect("run").join(format!("proxy/{org}.json")))
            .expect("proxy config");
    assert!(!proxy_config.contains(&name), "the proxy holds no key of {name}");
    (name, msp)
}

#[test]
#[ignore = "end-to-end: needs a running network"]
fn a_member_signs_with_a_key_the_proxy_never_sees() {
    let s = Scenario::given_two_clouds();
    let (_, msp) = new_identity(&s.federation, &s.org_a, "operator");
    let member = s.federation.members.member(&s.org_a).expect("member");
    let signer = Signer::from_files(&member.msp_id, &msp.join("signcerts/cert.pem"), &msp.join("keystore"))
        .expect("the member's own key");
    let creator = signer.creator();
    let gateway = Gateway::builder(&member.proxy.url)
        .api_key(member.api_key("operator").expect("key"))
        .signer(signer)
        .connect()
        .expect("gateway");
    let ledger =
        VmLedger::new(gateway.network(&s.federation.members.channel).contract(&s.federation.members.chaincode));
    let vm = s.federation.owned(&s.org_a, "vm");
    let input = msg::RegisterVm {
        id: vm.clone(),
        cloud_id: s.cloud_a.clone(),
        host_id: s.host_a.clone(),
        requirements: VM_NEEDS,
        image_hash: "ab".repeat(32),
        regulation: Scenario::regulation(),
    };
    let key = unique("signed");
    let committed =
        block_on(ledger.submit_with_key::<calls::RegisterVm>(&input, &key)).expect("signed here, committed");
    assert_eq!(committed.tx_id, identity::tx_id(&key, &creator), "signed by the new identity");
    let again = block_on(ledger.submit_with_key::<calls::RegisterVm>(&input, &key)).expect("the first outcome");
    assert_eq!(again.block_number, committed.block_number);
    let registered = block_on(s.ledger_a().get_vm(&vm)).expect("on the ledger");
    assert_eq!(registered.cloud_id, s.cloud_a);
}
