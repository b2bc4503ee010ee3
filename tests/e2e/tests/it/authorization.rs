//! Only a VM's operator moves it; only the destination's member confirms; only managers change hosts.

use vmledger_e2e::{Image, Scenario, exit, unique};

fn code(ran: vmledger_e2e::Ran) -> String {
    ran.json()["code"].as_str().unwrap_or_default().to_owned()
}

#[test]
#[ignore = "end-to-end: needs a running network"]
fn another_member_cannot_move_cancel_or_confirm_for_the_operator() {
    let s = Scenario::given_two_clouds();
    let tmp = tempfile::tempdir().expect("tmp");
    let image = Image::make(tmp.path(), &unique("image"), 1 << 20);
    let vm = s.given_a_vm(&image);

    // Member B tries to move member A's VM (to B's own host, which the regulation allows).
    let moved = s
        .cli_b("manager")
        .args(["--json", "migrate", "start", "--vm", &vm, "--to-host", &s.host_b, "--image", image.path_str()])
        .run();
    assert_eq!(code(moved.expect(exit::DENIED)), "UNAUTHORIZED");

    // A starts it; B may not cancel it, A may not confirm it (B is the destination).
    let (id, key) = s.indicate(&vm, &s.host_b, &image);
    assert_eq!(
        code(s.cli_b("manager").args(["--json", "migrate", "cancel", &id]).run().expect(exit::DENIED)),
        "UNAUTHORIZED"
    );
    assert_eq!(
        code(
            s.cli_a("manager")
                .args(["--json", "migrate", "confirm", &id, "--image", image.path_str(), "--transfer-key", &key])
                .run()
                .expect(exit::DENIED)
        ),
        "UNAUTHORIZED"
    );

    // The operator may cancel.
    let cancelled = s
        .cli_a("operator")
        .args(["--json", "migrate", "cancel", &id, "--reason", "test over"])
        .run()
        .expect(exit::OK)
        .json();
    assert_eq!(cancelled["result"]["status"], "cancelled");
}

#[test]
#[ignore = "end-to-end: needs a running network"]
fn only_a_manager_registers_hosts() {
    let s = Scenario::given_two_clouds();
    let host = s.federation.owned(&s.org_a, "h");
    let ran = s
        .cli_a("operator")
        .args([
            "--json",
            "host",
            "register",
            "--id",
            &host,
            "--cloud",
            &s.cloud_a,
            "--country",
            "JP",
            "--org",
            "CompanyA",
        ])
        .args(["--cpu", "1", "--memory-mib", "1024", "--network-mbps", "10", "--io-mbps", "10"])
        .run()
        .expect(exit::DENIED);
    assert_eq!(code(ran), "UNAUTHORIZED");
}
