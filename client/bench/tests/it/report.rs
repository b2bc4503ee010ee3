//! A report written to a folder and read back: CSV that other tools can parse, SVG plots.

use std::collections::BTreeMap;

use vmledger_bench::report;
use vmledger_bench::results::{HashRun, SuiteReport};
use vmledger_bench::stats::Summary;

/// A file name a user may well have: a comma and a double quote in it.
const AWKWARD: &str = "/tmp/images/vm, \"golden\" copy.raw";

fn report_with_a_hash_run() -> SuiteReport {
    let five = Summary::of(&[250.0, 260.0, 255.0]);
    SuiteReport {
        tag: "t".into(),
        hash: vec![HashRun {
            tool: "vmledger".into(),
            file: AWKWARD.into(),
            bytes: 1 << 30,
            megabytes_per_second: five,
            seconds: Summary::of(&[4.1, 4.2]),
            hash: "a".repeat(64),
        }],
        resources: BTreeMap::new(),
        ..SuiteReport::default()
    }
}

#[test]
fn a_file_path_with_a_comma_and_a_quote_stays_one_csv_field() {
    let dir = tempfile::tempdir().expect("tmp");
    report::write(dir.path(), &report_with_a_hash_run()).expect("write");

    let mut reader = csv::Reader::from_path(dir.path().join("t-hash.csv")).expect("hash csv");
    let header = reader.headers().expect("header").clone();
    assert_eq!(header.iter().take(4).collect::<Vec<_>>(), ["tool", "file", "bytes", "metric"]);
    assert_eq!(header.len(), 11, "{header:?}");
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
    assert_eq!(rows.len(), 2, "MB/s and seconds");
    for row in &rows {
        assert_eq!(row.len(), header.len(), "{row:?}");
        assert_eq!(&row[1], AWKWARD);
        assert_eq!(&row[2], "1073741824");
    }
    assert_eq!(&rows[0][3], "mb_per_s");
    assert_eq!(rows[0][5].parse::<f64>().expect("min"), 250.0);
}

#[test]
fn the_summary_is_also_one_self_contained_html_page_with_its_plots() {
    let dir = tempfile::tempdir().expect("tmp");
    report::write(dir.path(), &report_with_a_hash_run()).expect("write");
    let written = report::summary(dir.path()).expect("summary");
    assert_eq!(written, dir.path().join("SUMMARY.md"));

    let page = std::fs::read_to_string(dir.path().join("SUMMARY.html")).expect("SUMMARY.html beside SUMMARY.md");
    let plots = std::fs::read_dir(dir.path())
        .expect("dir")
        .filter(|e| e.as_ref().expect("entry").path().extension().is_some_and(|x| x == "svg"))
        .count();
    assert!(plots >= 1, "the report has plots");
    assert_eq!(page.matches("<svg").count(), plots, "every plot inline");
    assert!(page.contains("<table>"), "the markdown tables are HTML tables");
    assert!(page.contains("SHA-256"), "the summary's text");
    for external in ["src=", "<link", "href=\"http", "<script"] {
        assert!(!page.contains(external), "the page loads nothing ({external})");
    }
}
