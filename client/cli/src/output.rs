//! Results on stdout in the format asked for (`-o table|json|yaml|csv|ndjson`), progress and notes
//! on stderr.
//!
//! - `table` (the default): text for people, the same information as the others;
//! - `json`: one compact JSON document (a stream: one document per line, like `ndjson`);
//! - `yaml`: the same document as YAML (a stream: one `---` document per item);
//! - `csv`: a header, then one row per item (a single record: one row, nested fields flattened to
//!   dotted columns), quoted by the `csv` crate;
//! - `ndjson`: one JSON document per item of a list or stream (a single record: itself).
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::Write;

use clap::ValueEnum;
use serde::Serialize;
use vmledger_contract::model::{Allowed, Resources, Timestamp};

/// The output formats of `-o`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    #[default]
    Table,
    Json,
    Yaml,
    Csv,
    Ndjson,
}

/// Where a command's results go.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Output {
    pub(crate) format: Format,
    pub(crate) quiet: bool,
}

fn yaml<T: Serialize>(value: &T) -> anyhow::Result<String> {
    Ok(serde_yaml_ng::to_string(value)?)
}

impl Output {
    /// Prints one record or document: `human` builds the table text.
    pub(crate) fn show<T: Serialize>(&self, value: &T, human: impl FnOnce() -> String) -> anyhow::Result<()> {
        match self.format {
            Format::Table => self.text(&with_newline(human())),
            Format::Json | Format::Ndjson => self.json_line(value),
            Format::Yaml => self.text(&yaml(value)?),
            Format::Csv => {
                let mut stream = Stream::new(*self);
                stream.csv_flat(value)?;
                stream.finish()
            }
        }
    }

    /// Prints a listing: `document` whole (json, yaml), its `items` one per line (ndjson), their
    /// `row`s (csv), or `human`'s table.
    pub(crate) fn list<D: Serialize, I: Serialize, R: Serialize>(
        &self,
        document: &D,
        items: &[I],
        row: impl Fn(&I) -> R,
        human: impl FnOnce() -> String,
    ) -> anyhow::Result<()> {
        match self.format {
            Format::Table => self.text(&with_newline(human())),
            Format::Json => self.json_line(document),
            Format::Yaml => self.text(&yaml(document)?),
            Format::Ndjson | Format::Csv => {
                let mut stream = Stream::new(*self);
                for item in items {
                    stream.item(item, || row(item), String::new)?;
                }
                stream.finish()
            }
        }
    }

    /// Starts a stream of items printed as they come (events, pages of a listing).
    pub(crate) fn stream(&self) -> Stream {
        Stream::new(*self)
    }

    /// One compact JSON document on its own line.
    pub(crate) fn json_line<T: Serialize>(&self, value: &T) -> anyhow::Result<()> {
        let mut out = std::io::stdout().lock();
        serde_json::to_writer(&mut out, value)?;
        out.write_all(b"\n")?;
        out.flush()?;
        Ok(())
    }

    /// Raw text on stdout.
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

fn with_newline(mut text: String) -> String {
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text
}

/// Items printed one by one, each flushed at once (so `events` and long listings stream).
pub(crate) struct Stream {
    out: Output,
    csv: Option<csv::Writer<std::io::Stdout>>,
    header: Option<Vec<String>>,
}

impl Stream {
    fn new(out: Output) -> Stream {
        Stream { out, csv: None, header: None }
    }

    fn writer(&mut self) -> &mut csv::Writer<std::io::Stdout> {
        self.csv.get_or_insert_with(|| csv::Writer::from_writer(std::io::stdout()))
    }

    /// One item: `row` is its CSV row (a flat struct), `human` its table line.
    pub(crate) fn item<T: Serialize, R: Serialize>(
        &mut self,
        value: &T,
        row: impl FnOnce() -> R,
        human: impl FnOnce() -> String,
    ) -> anyhow::Result<()> {
        match self.out.format {
            Format::Table => {
                let text = human();
                if !text.is_empty() {
                    self.out.text(&with_newline(text))?;
                }
                Ok(())
            }
            Format::Json | Format::Ndjson => self.out.json_line(value),
            Format::Yaml => self.out.text(&format!("---\n{}", yaml(value)?)),
            Format::Csv => {
                let writer = self.writer();
                writer.serialize(row())?;
                writer.flush()?;
                Ok(())
            }
        }
    }

    /// One item with no row type of its own: in CSV its fields flattened (see [`Stream::csv_flat`]).
    pub(crate) fn record<T: Serialize>(&mut self, value: &T, human: impl FnOnce() -> String) -> anyhow::Result<()> {
        match self.out.format {
            Format::Csv => self.csv_flat(value),
            _ => self.item(value, || (), human),
        }
    }

    /// One item with no row type of its own: its fields flattened into dotted columns (the
    /// header is the first item's).
    pub(crate) fn csv_flat<T: Serialize>(&mut self, value: &T) -> anyhow::Result<()> {
        let mut cells = Vec::new();
        flatten("", &serde_json::to_value(value)?, &mut cells);
        if self.header.is_none() {
            let header: Vec<String> = cells.iter().map(|(k, _)| k.clone()).collect();
            self.writer().write_record(&header)?;
            self.header = Some(header);
        }
        let header = self.header.clone().unwrap_or_default();
        let row: Vec<String> = header
            .iter()
            .map(|k| cells.iter().find(|(c, _)| c == k).map(|(_, v)| v.clone()).unwrap_or_default())
            .collect();
        let writer = self.writer();
        writer.write_record(&row)?;
        writer.flush()?;
        Ok(())
    }

    pub(crate) fn finish(mut self) -> anyhow::Result<()> {
        if let Some(writer) = self.csv.as_mut() {
            writer.flush()?;
        }
        Ok(())
    }
}

/// `value`'s scalars as (dotted key, text): objects nest with `.`, lists of scalars are joined with
/// `;`, other lists are kept as JSON text.
fn flatten(prefix: &str, value: &serde_json::Value, out: &mut Vec<(String, String)>) {
    use serde_json::Value;
    let key = |k: &str| if prefix.is_empty() { k.to_owned() } else { format!("{prefix}.{k}") };
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                flatten(&key(k), v, out);
            }
        }
        Value::Array(items) if items.iter().all(|v| !v.is_object() && !v.is_array()) => {
            let text: Vec<String> = items.iter().map(scalar).collect();
            out.push((prefix.to_owned(), text.join(";")));
        }
        Value::Array(_) | Value::Object(_) => out.push((prefix.to_owned(), value.to_string())),
        _ => out.push((if prefix.is_empty() { "value".to_owned() } else { prefix.to_owned() }, scalar(value))),
    }
}

fn scalar(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
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
    let amount = vmledger_client::rows::amount(micro);
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
    fn nested_records_flatten_to_dotted_columns() {
        let mut cells = Vec::new();
        let value = serde_json::json!({"id": "h", "capacity": {"cpuCores": 4}, "orgs": ["A", "B"], "none": null});
        flatten("", &value, &mut cells);
        let cells: Vec<(&str, &str)> = cells.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(cells, [("capacity.cpuCores", "4"), ("id", "h"), ("none", ""), ("orgs", "A;B")]);
    }

    #[test]
    fn money_is_printed_exactly() {
        assert_eq!(money(1_234_567, Some("EUR")), "1.234567 EUR");
        assert_eq!(money(5, None), "0.000005");
    }
}
