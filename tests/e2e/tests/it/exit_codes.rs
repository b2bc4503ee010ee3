//! The CLI's exit codes against the real network (denied and rejected are in `denial` and `integrity`).

use vmledger_e2e::{Federation, Scenario, exit, unique};

#[test]
#[ignore = "end-to-end: needs a running network"]
fn each_kind_of_outcome_has_its_exit_code() {
    let s = Scenario::given_two_clouds();
    let fed = Federation::connect();
    s.cli_a("operator").args(["cloud", "show", &s.cloud_a]).run().expect(exit::OK);
    s.cli_a("operator").args(["vm", "show", &unique("no-such-vm")]).run().expect(exit::NOT_FOUND);
    s.cli_a("manager").args(["cloud", "register", "--id", &s.cloud_a, "--name", "again"]).run().expect(exit::CONFLICT);
    s.cli_a("manager")
        .args([
            "host",
            "register",
            "--id",
            &s.federation.owned(&s.org_a, "h"),
            "--cloud",
            &s.cloud_a,
            "--country",
            "Japan",
            "--org",
            "CompanyA",
        ])
        .args(["--cpu", "1", "--memory-mib", "1", "--network-mbps", "1", "--io-mbps", "1"])
        .run()
        .expect(exit::USAGE);

    let proxy = fed.members.member(&s.org_a).expect("member").proxy.url.clone();
    vmledger_e2e::Cli::new()
        .args(["--proxy-url", &proxy, "--api-key", "not-a-key", "cloud", "show", &s.cloud_a])
        .run()
        .expect(exit::UNAUTHENTICATED);
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    vmledger_e2e::Cli::new()
        .args(["--proxy-url", &format!("http://127.0.0.1:{closed}"), "--api-key", "k", "cloud", "show", &s.cloud_a])
        .run()
        .expect(exit::UNREACHABLE);
    vmledger_e2e::Cli::new().args(["cloud", "show", &s.cloud_a]).run().expect(exit::USAGE);
}
