//! Writing a suite's report (JSON, CSV, SVG), checking its figures, and `SUMMARY.md`.

use std::fmt::Write as _;
use std::path::Path;

use crate::error::{BenchError, Result};
use crate::results::SuiteReport;
use crate::round::RoundResult;
use crate::stats::Summary;
use crate::svg::{Series, five_figures, line_chart};

/// Whether an open-loop round could not keep up: the offered rate was not met, operations could
/// not start or finish, or the delay of the round's second half grew to over twice the first's.
pub fn unstable(r: &RoundResult) -> bool {
    let offered = r.offered_per_s.unwrap_or(0.0);
    r.not_started > 0
        || r.unfinished > 0
        || (offered > 0.0 && r.throughput_per_s < 0.9 * offered)
        || (r.latency_early_ms.count > 0 && r.latency_late_ms.p50 > 2.0 * r.latency_early_ms.p50)
}

/// Checks that numbers were produced and are sane; returns what is wrong.
pub fn check(r: &SuiteReport) -> Vec<String> {
    let mut problems = Vec::new();
    if let Some(l) = &r.latency {
        for round in [&l.ping, &l.migration] {
            if round.failed > 0 {
                problems.push(format!("{}: {} failed ({:?})", round.name, round.failed, round.failures));
            }
            if round.succeeded == 0 || !round.latency_ms.is_sane() {
                problems.push(format!("{}: latency figures not sane: {:?}", round.name, round.latency_ms));
            }
            for (step, s) in &round.steps_ms {
                if step.ends_with(".proxy") && !s.is_sane() {
                    problems.push(format!("{}: step {step} not sane: {s:?}", round.name));
                }
            }
        }
        if !(l.ratio_p50 > 1.0 && l.ratio_p50 < 100.0) {
            problems.push(format!("migration/Ping ratio {:.2} is not plausible", l.ratio_p50));
        }
    }
    for h in &r.hash {
        if !h.megabytes_per_second.is_sane() || h.hash.len() != 64 {
            problems.push(format!("hashing with {}: {:?}", h.tool, h.megabytes_per_second));
        }
    }
    for t in &r.transfer {
        if t.reports.is_empty() || !t.total_ms.is_sane() {
            problems.push(format!("migrate run of {} at {}: no sane run ({:?})", t.image, t.rate_limit, t.failures));
        }
    }
    for c in &r.chains {
        if c.round.succeeded == 0 {
            problems.push(format!(
                "{} migrations at {}/s: none reached its last block ({:?})",
                match c.kind {
                    crate::results::Kind::Local => "local",
                    crate::results::Kind::Inter => "inter",
                },
                c.rate,
                c.round.failures
            ));
        }
    }
    for c in r.closed.iter().chain(&r.closed_ping) {
        if c.succeeded == 0 {
            problems.push(format!("{}: nothing succeeded ({:?})", c.name, c.failures));
        }
    }
    problems
}

/// The few figures printed at the end (JSON with --json).
pub fn headline(r: &SuiteReport) -> serde_json::Value {
    let l = r.latency.as_ref();
    serde_json::json!({
        "tag": r.tag,
        "pingMs": l.map(|l| l.ping.latency_ms),
        "migrationMs": l.map(|l| l.migration.latency_ms),
        "ratioP50": l.map(|l| l.ratio_p50),
        "hashMegabytesPerSecond": r.hash.iter().map(|h| (h.tool.clone(), h.megabytes_per_second.p50)).collect::<Vec<_>>(),
        "closedMaxPerSecond": r.closed.iter().map(|c| c.throughput_per_s).fold(0.0, f64::max),
        "problems": r.problems,
    })
}

pub fn human(r: &SuiteReport) -> String {
    let mut s = String::new();
    for c in &r.chains {
        let kind = match c.kind {
            crate::results::Kind::Local => "local",
            crate::results::Kind::Inter => "inter",
        };
        let blocks: Vec<String> = c.blocks.iter().map(|(chain, n)| format!("{chain} {n}")).collect();
        let _ = writeln!(
            s,
            "{kind} {}/s, {} clouds: delay (ms) {}; {} ok, {} failed; blocks: {}",
            c.rate,
            c.clouds,
            c.round.latency_ms.five(1),
            c.round.succeeded,
            c.round.failed,
            blocks.join(", ")
        );
    }
    if let Some(l) = &r.latency {
        let _ = writeln!(s, "Ping (ms, min/p50/p95/p99/max):      {}", l.ping.latency_ms.five(1));
        let _ = writeln!(s, "Migrate+Confirm (ms):                {}", l.migration.latency_ms.five(1));
        let _ = writeln!(s, "ratio to the floor: p50 {:.2}x, p95 {:.2}x", l.ratio_p50, l.ratio_p95);
    }
    for h in &r.hash {
        let _ = writeln!(s, "hash {:<10} MB/s: {}", h.tool, h.megabytes_per_second.five(0));
    }
    for t in &r.transfer {
        let _ = writeln!(
            s,
            "migrate run {} B at {}: total p50 {:.0} ms, ledger share p50 {:.2} %",
            t.image_bytes, t.rate_limit, t.total_ms.p50, t.ledger_share_percent.p50
        );
    }
    for c in r.closed_ping.iter().chain(&r.closed).chain(&r.open) {
        let _ = writeln!(
            s,
            "{:<18} {:>7.1}/s  p50 {:>7.1} ms  p95 {:>7.1} ms  failed {} (conflicts {})  blocks/s {:.1}",
            c.name, c.throughput_per_s, c.latency_ms.p50, c.latency_ms.p95, c.failed, c.conflicts, c.blocks_per_s
        );
    }
    if r.problems.is_empty() {
        s.push_str("all figures sane\n");
    }
    s
}

fn write_file(dir: &Path, name: &str, text: &str) -> Result<()> {
    let path = dir.join(name);
    std::fs::write(&path, text).map_err(|e| BenchError::io(&path, e))
}

/// Writes `<tag>.json` and the CSV and SVG files of one report.
///
/// # Errors
/// [`BenchError::Io`] when a file cannot be written.
pub fn write(dir: &Path, r: &SuiteReport) -> Result<()> {
    let tag = &r.tag;
    let json = serde_json::to_string_pretty(r).map_err(|e| BenchError::Tool(format!("encoding the report: {e}")))?;
    write_file(dir, &format!("{tag}.json"), &json)?;

    crate::csv_files::write_all(dir, r)?;

    if let Some(l) = &r.latency {
        let mut rows = vec![("Ping (client)".to_owned(), l.ping.latency_ms)];
        for step in ["endorse", "submit", "commit", "proxy"] {
            if let Some(s) = l.ping.steps_ms.get(&format!("ping.{step}")) {
                rows.push((format!("Ping {step}"), *s));
            }
        }
        rows.push(("Migrate+Confirm (client)".to_owned(), l.migration.latency_ms));
        for tx in ["migrate", "confirm"] {
            for step in ["client", "endorse", "submit", "commit"] {
                if let Some(s) = l.migration.steps_ms.get(&format!("{tx}.{step}")) {
                    rows.push((format!("{tx} {step}"), *s));
                }
            }
        }
        write_file(
            dir,
            &format!("{tag}-latency.svg"),
            &five_figures(&format!("Sequential latency: Ping (floor) vs migration [{tag}]"), "ms", &rows),
        )?;
    }

    if !r.hash.is_empty() {
        let rows: Vec<(String, Summary)> = r.hash.iter().map(|h| (h.tool.clone(), h.megabytes_per_second)).collect();
        write_file(dir, &format!("{tag}-hash.svg"), &five_figures("SHA-256 throughput, same file", "MB/s", &rows))?;
    }

    if !r.transfer.is_empty() {
        let mut series: Vec<Series> = Vec::new();
        for t in &r.transfer {
            let name = format!("ledger share, {}", t.rate_limit);
            let point = (t.image_bytes as f64 / (1 << 20) as f64, t.ledger_share_percent.p50);
            match series.iter_mut().find(|s| s.name == name) {
                Some(s) => s.points.push(point),
                None => series.push(Series { name, points: vec![point] }),
            }
        }
        write_file(
            dir,
            &format!("{tag}-transfer.svg"),
            &line_chart(
                "Ledger share of a whole migration (p50)",
                "image size (MiB)",
                "ledger on the critical path (%)",
                &series,
                true,
            ),
        )?;
        let rows: Vec<(String, Summary)> = r
            .transfer
            .iter()
            .map(|t| (format!("{} MiB @ {}", t.image_bytes >> 20, t.rate_limit), t.total_ms))
            .collect();
        write_file(dir, &format!("{tag}-transfer-total.svg"), &five_figures("Whole migration time", "ms", &rows))?;
    }

    if !r.closed.is_empty() || !r.closed_ping.is_empty() {
        let points = |rounds: &[RoundResult], f: &dyn Fn(&RoundResult) -> f64| -> Vec<(f64, f64)> {
            rounds.iter().map(|c| (c.load.slots() as f64, f(c))).collect()
        };
        let series = vec![
            Series { name: "Ping tx/s".into(), points: points(&r.closed_ping, &|c| c.throughput_per_s) },
            Series { name: "migrations/s".into(), points: points(&r.closed, &|c| c.throughput_per_s) },
            Series { name: "migration tx/s".into(), points: points(&r.closed, &|c| 2.0 * c.throughput_per_s) },
        ];
        write_file(
            dir,
            &format!("{tag}-throughput.svg"),
            &line_chart("Closed loop: throughput vs operations in flight", "in flight", "per second", &series, true),
        )?;
        let series = vec![
            Series { name: "Ping p50".into(), points: points(&r.closed_ping, &|c| c.latency_ms.p50) },
            Series { name: "Ping p95".into(), points: points(&r.closed_ping, &|c| c.latency_ms.p95) },
            Series { name: "migration p50".into(), points: points(&r.closed, &|c| c.latency_ms.p50) },
            Series { name: "migration p95".into(), points: points(&r.closed, &|c| c.latency_ms.p95) },
        ];
        write_file(
            dir,
            &format!("{tag}-closed-latency.svg"),
            &line_chart("Closed loop: latency vs operations in flight", "in flight", "ms", &series, true),
        )?;
    }

    if !r.open.is_empty() {
        let pts = |f: &dyn Fn(&RoundResult) -> f64| -> Vec<(f64, f64)> {
            r.open.iter().map(|c| (c.offered_per_s.unwrap_or(0.0), f(c))).collect()
        };
        let series = vec![
            Series { name: "delay p50".into(), points: pts(&|c| c.latency_ms.p50) },
            Series { name: "delay p95".into(), points: pts(&|c| c.latency_ms.p95) },
            Series { name: "delay p99".into(), points: pts(&|c| c.latency_ms.p99) },
        ];
        write_file(
            dir,
            &format!("{tag}-open.svg"),
            &line_chart("Open loop: migration delay vs offered rate", "migrations/s offered", "ms", &series, false),
        )?;
        let series = vec![
            Series { name: "achieved/s".into(), points: pts(&|c| c.throughput_per_s) },
            Series { name: "blocks/s".into(), points: pts(&|c| c.blocks_per_s) },
        ];
        write_file(
            dir,
            &format!("{tag}-open-rate.svg"),
            &line_chart("Open loop: achieved rate and blocks/s", "migrations/s offered", "per second", &series, false),
        )?;
    }

    if !r.resources.is_empty() {
        let rows: Vec<(String, Summary)> = r
            .resources
            .iter()
            .flat_map(|(part, u)| u.processes.iter().map(move |(name, p)| (format!("{part}: {name}"), p.rss_mib)))
            .collect();
        write_file(dir, &format!("{tag}-rss.svg"), &five_figures("RSS of each process, per part", "MiB", &rows))?;
    }
    Ok(())
}

// ---- SUMMARY.md ----------------------------------------------------------------------------------

fn load_reports(dir: &Path) -> Result<Vec<SuiteReport>> {
    let mut reports = Vec::new();
    let entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| BenchError::io(dir, e))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    for path in entries {
        let text = std::fs::read_to_string(&path).map_err(|e| BenchError::io(&path, e))?;
        if let Ok(report) = serde_json::from_str::<SuiteReport>(&text) {
            reports.push(report);
        }
    }
    // The main suite first, then the BASICS reports by block size.
    let mmc = |r: &SuiteReport| r.network.get("MAX_MESSAGE_COUNT").and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    reports.sort_by(|a, b| (a.latency.is_none(), mmc(a), &a.tag).cmp(&(b.latency.is_none(), mmc(b), &b.tag)));
    Ok(reports)
}

/// The few figures worth a README table, from every report.
fn headlines(md: &mut String, reports: &[SuiteReport]) {
    md.push_str("## Headline figures\n\n| figure | value |\n| --- | --- |\n");
    for r in reports {
        if let Some(l) = &r.latency {
            let _ = writeln!(
                md,
                "| Ping, the floor (p50 / p95) | {:.0} / {:.0} ms |\n| Migrate + ConfirmMigration (p50 / p95) | {:.0} / {:.0} ms |\n| ratio to the floor (p50 / p95) | {:.2}× / {:.2}× |",
                l.ping.latency_ms.p50,
                l.ping.latency_ms.p95,
                l.migration.latency_ms.p50,
                l.migration.latency_ms.p95,
                l.ratio_p50,
                l.ratio_p95
            );
        }
        if let Some(best) = r.closed.iter().max_by(|a, b| a.throughput_per_s.total_cmp(&b.throughput_per_s)) {
            let ping = r.closed_ping.iter().map(|c| c.throughput_per_s).fold(0.0, f64::max);
            let _ = writeln!(
                md,
                "| closed-loop saturation | {:.1} migrations/s ({:.0} tx/s) at {} in flight; Ping {:.0} tx/s |",
                best.throughput_per_s,
                2.0 * best.throughput_per_s,
                best.load.slots(),
                ping
            );
        }
        if !r.open.is_empty() {
            let stable = r.open.iter().filter(|c| !unstable(c)).filter_map(|c| c.offered_per_s).fold(0.0, f64::max);
            let first = r.open.iter().find(|c| unstable(c)).and_then(|c| c.offered_per_s);
            let _ = writeln!(
                md,
                "| open loop, MaxMessageCount {} | stable to {stable} migrations/s{} |",
                r.network.get("MAX_MESSAGE_COUNT").map(String::as_str).unwrap_or("?"),
                first.map(|f| format!(", unstable at {f}/s")).unwrap_or_default()
            );
        }
        for t in &r.transfer {
            let _ = writeln!(
                md,
                "| ledger share, {} MiB at {} | {:.2} % of {:.1} s |",
                t.image_bytes >> 20,
                t.rate_limit,
                t.ledger_share_percent.p50,
                t.total_ms.p50 / 1e3
            );
        }
        if let [ours, theirs] = r.hash.as_slice() {
            let _ = writeln!(
                md,
                "| SHA-256 of {} MiB (p50) | {} {:.0} MB/s, {} {:.0} MB/s |",
                ours.bytes >> 20,
                ours.tool,
                ours.megabytes_per_second.p50,
                theirs.tool,
                theirs.megabytes_per_second.p50
            );
        }
    }
    md.push('\n');
}

fn five_row(label: &str, s: &Summary) -> String {
    format!("| {label} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} |\n", s.count, s.min, s.p50, s.p95, s.p99, s.max)
}

/// Writes `SUMMARY.md` of every report in `dir`, the BASICS plots across block sizes, and
/// `SUMMARY.html` (the same with every plot inline, one self-contained page); returns the path of
/// SUMMARY.md.
///
/// # Errors
/// [`BenchError::NoReports`] when `dir` holds no report; [`BenchError::Io`].
pub fn summary(dir: &Path) -> Result<std::path::PathBuf> {
    let reports = load_reports(dir)?;
    if reports.is_empty() {
        return Err(BenchError::NoReports(dir.to_owned()));
    }
    let mut md = String::from("# vmledger benchmark results\n\n");
    let m = &reports[0].machine;
    let _ = writeln!(
        md,
        "Machine: {} CPUs ({}), {:.1} GiB RAM, Linux {}; client, proxies and the whole Fabric network on it.\n",
        m.cpus, m.cpu_model, m.mem_total_gib, m.kernel
    );
    headlines(&mut md, &reports);
    for r in &reports {
        let net = |k: &str| r.network.get(k).cloned().unwrap_or_else(|| "?".into());
        let _ = writeln!(
            md,
            "## `{}`{} — {}\n\nNetwork: {} orgs, {} orderer(s), BatchTimeout {}, MaxMessageCount {}, Fabric {}. Load average at start {:.2}.\n",
            r.tag,
            if r.smoke { " (smoke)" } else { "" },
            r.started_at,
            net("ORGS"),
            net("ORDERERS"),
            net("BATCH_TIMEOUT"),
            net("MAX_MESSAGE_COUNT"),
            net("FABRIC_RELEASE"),
            r.machine.load_average
        );
        if let Some(l) = &r.latency {
            md.push_str("### Sequential latency (ms), one transaction at a time\n\n| what | n | min | p50 | p95 | p99 | max |\n| --- | --- | --- | --- | --- | --- | --- |\n");
            md.push_str(&five_row("Ping, client (the floor)", &l.ping.latency_ms));
            for step in ["endorse", "submit", "commit", "proxy"] {
                if let Some(s) = l.ping.steps_ms.get(&format!("ping.{step}")) {
                    md.push_str(&five_row(&format!("Ping {step} (proxy)"), s));
                }
            }
            md.push_str(&five_row("**Migrate + ConfirmMigration**, client", &l.migration.latency_ms));
            for tx in ["migrate", "confirm"] {
                for step in ["client", "endorse", "submit", "commit", "proxy", "wait", "retries"] {
                    if let Some(s) = l.migration.steps_ms.get(&format!("{tx}.{step}")) {
                        md.push_str(&five_row(&format!("{tx} {step}"), s));
                    }
                }
            }
            let _ = writeln!(
                md,
                "\nOur cost against the floor: a whole migration (two transactions) is **{:.2}×** a Ping at p50, {:.2}× at p95; `Migrate` alone {:.2}×, `ConfirmMigration` alone {:.2}× (p50). Failures: Ping {}, migration {}. BlockchainBus: 2.36 s per migration.\n",
                l.ratio_p50,
                l.ratio_p95,
                l.migrate_tx_ratio_p50,
                l.confirm_tx_ratio_p50,
                l.ping.failed,
                l.migration.failed
            );
        }
        if !r.hash.is_empty() {
            md.push_str("### Hashing (MB/s, file in the page cache)\n\n| tool | bytes | n | min | p50 | p95 | p99 | max |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n");
            for h in &r.hash {
                let s = &h.megabytes_per_second;
                let _ = writeln!(
                    md,
                    "| {} | {} | {} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} |",
                    h.tool, h.bytes, s.count, s.min, s.p50, s.p95, s.p99, s.max
                );
            }
            md.push('\n');
        }
        if !r.transfer.is_empty() {
            md.push_str("### Whole migration (`migrate run` to an agent) vs transfer time\n\n| image | rate cap | runs | total p50 (ms) | transfer p50 | Migrate p50 | Confirm p50 | ledger on critical path p50 | **ledger share** min / p50 / max | failed |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
            for t in &r.transfer {
                let _ = writeln!(
                    md,
                    "| {} MiB | {} | {} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {:.2} / {:.2} / {:.2} % | {} |",
                    t.image_bytes >> 20,
                    t.rate_limit,
                    t.reports.len(),
                    t.total_ms.p50,
                    t.transfer_ms.p50,
                    t.indicate_client_ms.p50,
                    t.confirm_client_ms.p50,
                    t.ledger_critical_ms.p50,
                    t.ledger_share_percent.min,
                    t.ledger_share_percent.p50,
                    t.ledger_share_percent.max,
                    t.failures.values().sum::<u64>()
                );
            }
            md.push_str("\nFor comparison: BlockchainBus 2.36 s of a 5 s target (47 %); seed 003 91 ms of 15 542 ms (0.58 %).\n\n");
        }
        let table = |md: &mut String, title: &str, rounds: &[RoundResult]| {
            if rounds.is_empty() {
                return;
            }
            let _ = writeln!(
                md,
                "### {title}\n\n| round | started | ok/s | failed (conflicts) | min | p50 | p95 | p99 | max (ms) | blocks/s | failures |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
            );
            for c in rounds {
                let s = &c.latency_ms;
                let _ = writeln!(
                    md,
                    "| {} | {} | {:.1} | {} ({}) | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {:.1} | {} |",
                    c.name,
                    c.started,
                    c.throughput_per_s,
                    c.failed,
                    c.conflicts,
                    s.min,
                    s.p50,
                    s.p95,
                    s.p99,
                    s.max,
                    c.blocks_per_s,
                    if c.failures.is_empty() { "-".into() } else { format!("{:?}", c.failures) }
                );
            }
            md.push('\n');
        };
        table(&mut md, "Closed loop: Ping", &r.closed_ping);
        table(&mut md, "Closed loop: migrations (Migrate + Confirm, distinct VMs and hosts)", &r.closed);
        if let Some(best) = r.closed.iter().max_by(|a, b| a.throughput_per_s.total_cmp(&b.throughput_per_s)) {
            let knee = r.closed.iter().find(|c| c.throughput_per_s >= 0.9 * best.throughput_per_s).unwrap_or(best);
            let _ = writeln!(
                md,
                "Saturation: at most {:.1} migrations/s ({:.1} tx/s) with {} in flight; 90 % of it already at {} in flight (the knee).\n",
                best.throughput_per_s,
                2.0 * best.throughput_per_s,
                best.load.slots(),
                knee.load.slots()
            );
        }
        table(&mut md, "Open loop: migrations at offered rates (delay from when due)", &r.open);
        if !r.open.is_empty() {
            let stable: Vec<&RoundResult> = r.open.iter().filter(|c| !unstable(c)).collect();
            let first_unstable = r.open.iter().find(|c| unstable(c));
            let _ = writeln!(
                md,
                "Stable up to {} migrations/s offered{}.\n",
                stable.iter().filter_map(|c| c.offered_per_s).fold(0.0, f64::max),
                first_unstable
                    .map(|c| format!(
                        "; unstable at {}/s (achieved {:.1}/s, delay p50 first half {:.0} ms → second half {:.0} ms)",
                        c.offered_per_s.unwrap_or(0.0),
                        c.throughput_per_s,
                        c.latency_early_ms.p50,
                        c.latency_late_ms.p50
                    ))
                    .unwrap_or_else(|| "; no offered rate made it unstable".into())
            );
        }
        if !r.resources.is_empty() {
            md.push_str("### Resources (RSS MiB min / p50 / max, CPU % of one core, averaged over the part)\n\n| part | process | RSS | CPU % |\n| --- | --- | --- | --- |\n");
            for (part, u) in &r.resources {
                for (name, p) in &u.processes {
                    let _ = writeln!(
                        md,
                        "| {part} | {name} | {:.0} / {:.0} / {:.0} | {:.0} |",
                        p.rss_mib.min, p.rss_mib.p50, p.rss_mib.max, p.cpu_percent
                    );
                }
                let _ = writeln!(
                    md,
                    "| {part} | **machine** ({} CPUs, load {:.1} → {:.1}) | | {:.0} % of all CPUs |",
                    u.cpus, u.load_average_start, u.load_average_end, u.machine_cpu_percent
                );
            }
            md.push('\n');
        }
        if !r.problems.is_empty() {
            let _ = writeln!(md, "**Problems:** {}\n", r.problems.join("; "));
        }
    }
    // BASICS across block sizes: every report with open-loop rounds is one series.
    let basics: Vec<&SuiteReport> = reports.iter().filter(|r| !r.open.is_empty()).collect();
    if !basics.is_empty() {
        let label = |r: &SuiteReport| {
            format!("MaxMessageCount {}", r.network.get("MAX_MESSAGE_COUNT").map(String::as_str).unwrap_or("?"))
        };
        let delay: Vec<Series> = basics
            .iter()
            .map(|r| Series {
                name: label(r),
                points: r.open.iter().map(|c| (c.offered_per_s.unwrap_or(0.0), c.latency_ms.p50)).collect(),
            })
            .collect();
        let blocks: Vec<Series> = basics
            .iter()
            .map(|r| Series {
                name: label(r),
                points: r.open.iter().map(|c| (c.offered_per_s.unwrap_or(0.0), c.blocks_per_s)).collect(),
            })
            .collect();
        write_file(
            dir,
            "basics-delay.svg",
            &line_chart("BASICS on Fabric: migration delay (p50) vs rate", "migrations/s offered", "ms", &delay, false),
        )?;
        write_file(
            dir,
            "basics-blocks.svg",
            &line_chart(
                "BASICS on Fabric: blocks per second vs rate",
                "migrations/s offered",
                "blocks/s",
                &blocks,
                false,
            ),
        )?;
        md.push_str("## BASICS on real Fabric\n\n`basics-delay.svg`, `basics-blocks.svg`: one line per block size (MaxMessageCount). BASICS (a simulation) found its local chain unstable between 128 and 256 migrations/s.\n\n");
    }
    md.push_str("Files: `<tag>.json` (everything), `<tag>-rounds.csv`, `<tag>-samples.csv`, `<tag>-hash.csv`, `<tag>-transfer.csv`, `<tag>-resources.csv`, `*.svg`; `SUMMARY.html` is this page with every plot inline.\n");
    write_file(dir, "SUMMARY.md", &md)?;
    write_file(dir, "SUMMARY.html", &crate::html::page(dir, &md)?)?;
    Ok(dir.join("SUMMARY.md"))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use super::*;
    use crate::round::Load;

    fn open_round(offered: f64, achieved: f64, early_p50: f64, late_p50: f64) -> RoundResult {
        let five = |p50: f64| Summary { count: 10, min: p50, p50, p95: p50, p99: p50, max: p50, mean: p50 };
        RoundResult {
            name: format!("open {offered}/s"),
            load: Load::Open { rate: offered, duration: Duration::from_secs(10), slots: 64 },
            elapsed_s: 10.0,
            started: 100,
            succeeded: 100,
            failed: 0,
            failures: BTreeMap::new(),
            conflicts: 0,
            not_started: 0,
            unfinished: 0,
            offered_per_s: Some(offered),
            throughput_per_s: achieved,
            latency_ms: five(early_p50),
            latency_early_ms: five(early_p50),
            latency_late_ms: five(late_p50),
            steps_ms: BTreeMap::new(),
            blocks: 100,
            blocks_per_s: 10.0,
            samples: Vec::new(),
        }
    }

    #[test]
    fn a_round_is_unstable_when_it_misses_the_rate_or_its_delay_grows() {
        assert!(!unstable(&open_round(20.0, 19.8, 200.0, 210.0)));
        assert!(unstable(&open_round(40.0, 25.0, 200.0, 210.0)), "offered rate not met");
        assert!(unstable(&open_round(25.0, 24.5, 200.0, 610.0)), "delay grows");
        let mut late = open_round(20.0, 19.8, 200.0, 210.0);
        late.not_started = 1;
        assert!(unstable(&late), "operations could not start");
    }

    #[test]
    fn a_report_with_failures_or_no_figures_has_problems() {
        let mut report = SuiteReport::default();
        let mut failed = open_round(10.0, 0.0, 0.0, 0.0);
        failed.succeeded = 0;
        report.closed.push(failed);
        assert_eq!(check(&report).len(), 1);
        assert!(check(&SuiteReport::default()).is_empty());
    }
}
