//! Migration history of a VM and of a cloud, by page and by time range.

use vmledger_e2e::{Image, Scenario, exit, unique};

#[test]
#[ignore = "end-to-end: needs a running network"]
fn a_vm_that_went_and_came_back_has_two_migrations_page_by_page() {
    let s = Scenario::given_two_clouds();
    let tmp = tempfile::tempdir().expect("tmp");
    let image = Image::make(tmp.path(), &unique("image"), 1 << 20);
    let vm = s.given_a_vm(&image);
    let landing = tmp.path().join("landing");
    s.migrate_through_folder(&vm, &s.host_b, &image, &landing, &s.org_b).run().expect(exit::OK);
    s.migrate_through_folder(&vm, &s.host_a, &image, &landing, &s.org_a).run().expect(exit::OK);

    // A VM's trail: every move on both chains, oldest first, with the federation's stays.
    let trail =
        s.cli_a("operator").args(["--json", "history", "vm", &vm, "--residencies"]).run().expect(exit::OK).json();
    let moves = trail["moves"].as_array().expect("moves");
    assert_eq!(moves.len(), 2, "{trail}");
    assert_eq!(moves[0]["migration"]["destination"]["hostId"], s.host_b.as_str());
    assert_eq!(moves[1]["migration"]["destination"]["hostId"], s.host_a.as_str());
    assert!(moves.iter().all(|m| m["chain"] == "federation"), "between clouds: the federation's");
    assert_eq!(trail["residencies"].as_array().expect("stays").len(), 3);

    // A cloud's migrations, page by page.
    let first = s
        .cli_b("operator")
        .args(["--json", "history", "cloud", &s.cloud_b, "--from", "-1h", "--page-size", "1"])
        .run()
        .expect(exit::OK)
        .json();
    let items = first["items"].as_array().expect("items");
    assert_eq!(items.len(), 1);
    let bookmark = first["bookmark"].as_str().expect("a second page").to_owned();
    let second = s
        .cli_b("operator")
        .args(["--json", "history", "cloud", &s.cloud_b, "--from", "-1h", "--page-size", "1", "--bookmark", &bookmark])
        .run()
        .expect(exit::OK)
        .json();
    assert_eq!(second["items"].as_array().expect("items").len(), 1);
    assert_ne!(second["items"][0]["id"], items[0]["id"], "the second page goes on");

    let of_b = s
        .cli_b("operator")
        .args(["--json", "history", "cloud", &s.cloud_b, "--from", "-1h", "--all"])
        .run()
        .expect(exit::OK)
        .json();
    assert_eq!(of_b["items"].as_array().expect("items").len(), 2, "both migrations touched cloud B");
    let none = s
        .cli_b("operator")
        .args(["--json", "history", "cloud", &s.cloud_b, "--to", "2000-01-01"])
        .run()
        .expect(exit::OK)
        .json();
    assert_eq!(none["items"].as_array().expect("items").len(), 0);

    let table = s.cli_a("operator").args(["history", "vm", &vm, "--all"]).run().expect(exit::OK).stdout;
    assert!(table.contains("confirmed") && table.contains(&s.host_b), "{table}");
}
