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

    let first =
        s.cli_a("operator").args(["--json", "history", "vm", &vm, "--page-size", "1"]).run().expect(exit::OK).json();
    assert_eq!(first["items"].as_array().expect("items").len(), 1);
    assert_eq!(first["items"][0]["destination"]["hostId"], s.host_b.as_str());
    let bookmark = first["bookmark"].as_str().expect("a second page").to_owned();
    let second = s
        .cli_a("operator")
        .args(["--json", "history", "vm", &vm, "--page-size", "1", "--bookmark", &bookmark])
        .run()
        .expect(exit::OK)
        .json();
    assert_eq!(second["items"][0]["destination"]["hostId"], s.host_a.as_str());

    let all = s
        .cli_a("operator")
        .args(["--json", "history", "vm", &vm, "--page-size", "1", "--all", "--residencies"])
        .run()
        .expect(exit::OK)
        .json();
    assert_eq!(all["migrations"]["items"].as_array().expect("items").len(), 2);
    assert_eq!(all["history"]["residencies"].as_array().expect("stays").len(), 3);

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
