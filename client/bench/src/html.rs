//! `SUMMARY.html`: the summary as one self-contained page, to open or mail as a single file. The
//! text is SUMMARY.md's, rendered by `pulldown-cmark` (so the figures are written once); every plot
//! of the folder is embedded as inline SVG, and the style is inline too: the page loads nothing.

use std::fmt::Write as _;
use std::path::Path;

use pulldown_cmark::{Options, Parser, html};

use crate::error::{BenchError, Result};

const STYLE: &str = "body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}\
table{border-collapse:collapse;margin:1em 0;font-size:13px}th,td{border:1px solid #ccc;padding:3px 7px;text-align:right}\
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}code{background:#f5f5f5;padding:0 3px}\
figure{margin:1.5em 0}figcaption{font-size:12px;color:#555}svg{max-width:100%;height:auto}";

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// The page: `markdown` rendered, then every `*.svg` of `dir` (by name) inline.
///
/// # Errors
/// [`BenchError::Io`] reading the folder or a plot.
pub(crate) fn page(dir: &Path, markdown: &str) -> Result<String> {
    let mut body = String::new();
    html::push_html(&mut body, Parser::new_ext(markdown, Options::ENABLE_TABLES));
    let mut plots: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| BenchError::io(dir, e))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "svg"))
        .collect();
    plots.sort();
    if !plots.is_empty() {
        body.push_str("<h2>Plots</h2>\n");
    }
    for path in plots {
        let svg = std::fs::read_to_string(&path).map_err(|e| BenchError::io(&path, e))?;
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let _ = write!(body, "<figure>\n{}\n<figcaption>{}</figcaption>\n</figure>\n", svg.trim(), escape(&name));
    }
    Ok(format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>vmledger benchmark results</title>\n\
         <style>{STYLE}</style>\n</head>\n<body>\n{body}</body>\n</html>\n"
    ))
}
