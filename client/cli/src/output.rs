//! Results on stdout (human tables, or JSON with --json), progress on stderr.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::Write;

use serde::Serialize;
use vmledger_contract::model::{Allowed, Resources, Timestamp};

/// Where a command's results go.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Output {
    pub(crate) json: bool,
    pub(crate) quiet: bool,
}

impl Output {
    /// Prints `value` as JSON, or the human text `human` builds.
    pub(crate) fn show<T: Serialize>(&self, value: &T, human: impl FnOnce() -> String) -> anyhow::Result<()> {
        if self.json {
            self.json_line(value)
        } else {
            let text = human();
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())?;
            if !text.ends_with('\n') {
                out.write_all(b"\n")?;
            }
            Ok(())
        }
    }

    /// One compact JSON document on its own line (for streams).
    pub(crate) fn json_line<T: Serialize>(&self, value: &T) -> anyhow::Result<()> {
        let mut out = std::io::stdout().lock();
        serde_json::to_writer(&mut out, value)?;
        out.write_all(b"\n")?;
        out.flush()?;
        Ok(())
    }

    /// Raw text on stdout (CSV, streamed lines).
    pub(crate) fn text(&self, text: &str) -> anyhow::Result<()> {
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes())?;
        out.flush()?;
        Ok(())
    }

    /// A note on stderr (never part of the result).
    pub(crate) fn note(&self, text: &str) {
        if !self.quiet {
            eprintln!("{text}");
        }
    }
}

/// A plain text table with aligned columns.
pub(crate) struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub(crate) fn new(header: &[&str]) -> Self {
        Table { header: header.iter().map(|h| (*h).to_owned()).collect(), rows: Vec::new() }
    }

    pub(crate) fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub(crate) fn render(&self) -> String {
        let columns = self.header.len();
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate().take(columns) {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
        let line = |cells: &[String]| {
            let mut text = String::new();
            for (i, width) in widths.iter().enumerate() {
                let cell = cells.get(i).map(String::as_str).unwrap_or("");
                if i + 1 == columns {
                    text.push_str(cell);
                } else {
                    text.push_str(&format!("{cell:<width$}  "));
                }
            }
            text.trim_end().to_owned() + "\n"
        };
        let mut out = line(&self.header);
        for row in &self.rows {
            out.push_str(&line(row));
        }
        out
    }
}

/// `key: value` lines, aligned.
pub(crate) fn fields(pairs: &[(&str, String)]) -> String {
    let width = pairs.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    pairs.iter().map(|(k, v)| format!("{k:<width$}  {v}\n")).collect()
}

pub(crate) fn time(t: &Timestamp) -> String {
    t.format("%Y-%m-%d %H:%M:%S%.3fZ").to_string()
}

pub(crate) fn opt_time(t: Option<&Timestamp>) -> String {
    t.map(time).unwrap_or_else(|| "-".into())
}

pub(crate) fn resources(r: &Resources) -> String {
    format!("{} cpu, {} MiB, {} Mbps net, {} Mbps io", r.cpu_cores, r.memory_mib, r.network_mbps, r.io_mbps)
}

pub(crate) fn allowed(a: &Allowed) -> String {
    match a {
        Allowed::All => "All".into(),
        Allowed::Only(values) => values.join(", "),
    }
}

/// A hash or id shortened for tables.
pub(crate) fn short(id: &str) -> String {
    if id.len() > 16 { format!("{}…", &id[..12]) } else { id.to_owned() }
}

/// Lower-case camelCase enum names as on the wire (`confirmed`, `inter`).
pub(crate) fn wire<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

/// Micro-units of a currency as a decimal amount.
pub(crate) fn money(micro: u64, currency: Option<&str>) -> String {
    let amount = format!("{}.{:06}", micro / 1_000_000, micro % 1_000_000);
    match currency {
        Some(c) => format!("{amount} {c}"),
        None => amount,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_columns() {
        let mut t = Table::new(&["ID", "COUNTRY"]);
        t.row(vec!["host-long-name".into(), "JP".into()]);
        t.row(vec!["h".into(), "GB".into()]);
        assert_eq!(t.render(), "ID              COUNTRY\nhost-long-name  JP\nh               GB\n");
    }

    #[test]
    fn money_is_printed_exactly() {
        assert_eq!(money(1_234_567, Some("EUR")), "1.234567 EUR");
        assert_eq!(money(5, None), "0.000005");
    }
}
