//! `vmledger place VM`: the contract's placement (the SDK's [`placement`] workflow): the eligible
//! hosts ranked by the strategy, then every host left out with its reasons.

use vmledger_client::workflow::placement::{self, Ask};
use vmledger_contract::placement::PlacementReport;

use crate::args::PlaceArgs;
use crate::context::Ctx;
use crate::exit::Verdict;
use crate::output::{Table, resources, time, wire};

/// One host of the answer as a flat row (CSV, NDJSON): ranked or excluded.
#[derive(serde::Serialize)]
struct Row {
    rank: Option<u32>,
    host: String,
    cloud: String,
    score: Option<u64>,
    free: String,
    reasons: String,
}

fn rows(report: &PlacementReport) -> Vec<Row> {
    let ranked = report.candidates.iter().map(|c| Row {
        rank: Some(c.rank),
        host: c.host_id.clone(),
        cloud: c.cloud_id.clone(),
        score: Some(c.score),
        free: resources(&c.free),
        reasons: String::new(),
    });
    let excluded = report.excluded.iter().map(|e| Row {
        rank: None,
        host: e.host_id.clone(),
        cloud: e.cloud_id.clone(),
        score: None,
        free: String::new(),
        reasons: e.reasons.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "),
    });
    ranked.chain(excluded).collect()
}

/// The report for people: the ranking, then the hosts left out.
pub(crate) fn describe(report: &PlacementReport) -> String {
    let mut ranked = Table::new(&["RANK", "HOST", "CLOUD", "COUNTRY", "FREE", "SCORE", "PLACED"]);
    for c in &report.candidates {
        ranked.row(vec![
            c.rank.to_string(),
            c.host_id.clone(),
            c.cloud_id.clone(),
            c.country.clone(),
            resources(&c.free),
            c.score.to_string(),
            c.placements.to_string(),
        ]);
    }
    let mut left_out = Table::new(&["EXCLUDED", "CLOUD", "WHY"]);
    for e in &report.excluded {
        let why = e.reasons.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
        left_out.row(vec![e.host_id.clone(), e.cloud_id.clone(), why]);
    }
    let mut text = format!(
        "placement of {} ({}) by {} at {}\n",
        report.vm_id.as_deref().unwrap_or("a shape"),
        resources(&report.requirements),
        wire(&report.strategy),
        time(&report.at)
    );
    text.push_str(&if ranked.is_empty() { "no eligible host\n".to_owned() } else { ranked.render() });
    if !left_out.is_empty() {
        text.push_str(&left_out.render());
    }
    text.push_str(&format!(
        "{} eligible, {} left out, of {} hosts{}\n",
        report.candidates.len(),
        report.excluded.len(),
        report.scanned,
        if report.bookmark.is_some() { " (more hosts: the scan stopped at a page)" } else { "" }
    ));
    text
}

pub(crate) async fn run(ctx: &Ctx, args: PlaceArgs) -> anyhow::Result<()> {
    let ask = Ask { vm_id: args.vm, strategy: args.strategy, limit: args.limit, min_reputation: args.min_reputation };
    let report = placement::place(ctx.chains()?.federation(), &ask).await?;
    ctx.out.list(&report, &rows(&report), |r| serde_json::json!(r), || describe(&report))?;
    if report.candidates.is_empty() { Err(Verdict::Denied.into()) } else { Ok(()) }
}
