//! No import circles in the client: within each crate, the module graph (a module `m` depends on
//! `n` when its code names `crate::n…` or `super::…` that resolves to `n`) has no cycle, and no
//! subcommand module of the CLI names another. (`mod` declarations are not dependencies.)

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Module path (`workflow/migrate`, `` for the crate root) of every `.rs` file under `src`.
fn modules(src: &Path) -> BTreeMap<String, PathBuf> {
    let mut out = BTreeMap::new();
    let mut dirs = vec![src.to_owned()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("read src") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            let relative = path.strip_prefix(src).expect("under src").with_extension("");
            let mut name = relative.to_string_lossy().replace('\\', "/");
            for root in ["lib", "main"] {
                if name == root {
                    name = String::new();
                }
            }
            if let Some(parent) = name.strip_suffix("/mod") {
                name = parent.to_owned();
            }
            out.insert(name, path);
        }
    }
    out
}

/// The paths named after `crate::` and `super::` in `code`, as segment lists relative to `from`.
fn references(code: &str, from: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for (start, _) in code.match_indices("crate::").chain(code.match_indices("super::")) {
        if code[..start].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        let path: String =
            code[start..].chars().take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':').collect();
        let mut segments: Vec<String> = path.split("::").filter(|s| !s.is_empty()).map(str::to_owned).collect();
        if segments.first().map(String::as_str) == Some("super") {
            let mut base: Vec<String> = from.split('/').filter(|s| !s.is_empty()).map(str::to_owned).collect();
            while segments.first().map(String::as_str) == Some("super") {
                segments.remove(0);
                base.pop();
            }
            base.extend(segments);
            segments = base;
        } else {
            segments.remove(0);
        }
        out.push(segments);
    }
    out
}

/// Dependencies between the modules of the crate at `src`.
fn graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let modules = modules(src);
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (name, path) in &modules {
        let code = std::fs::read_to_string(path).expect("read module");
        // Unit tests (`mod tests { use super::*; }`) and comments (doc links) are not dependencies.
        let code = code.split("#[cfg(test)]").next().unwrap_or_default();
        let code: String = code.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n");
        let targets = edges.entry(name.clone()).or_default();
        for segments in references(&code, name) {
            // The longest module path the reference starts with.
            let target = (0..=segments.len())
                .rev()
                .map(|n| segments[..n].join("/"))
                .find(|candidate| modules.contains_key(candidate))
                .unwrap_or_default();
            if target != *name {
                targets.insert(target);
            }
        }
    }
    edges
}

fn cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|n| n == node) {
            let mut found = stack[at..].to_vec();
            found.push(node.to_owned());
            return Some(found);
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.to_owned());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(found) = visit(next, edges, stack, done) {
                return Some(found);
            }
        }
        stack.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    edges.keys().find_map(|node| visit(node, edges, &mut Vec::new(), &mut done))
}

fn client(krate: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(krate).join("src")
}

#[test]
fn no_crate_of_the_client_has_an_import_circle() {
    for krate in ["sdk", "cli", "bench", "testkit"] {
        let edges = graph(&client(krate));
        assert!(edges.len() > 1 || krate == "testkit", "{krate}: modules found");
        assert_eq!(cycle(&edges), None, "import circle in client/{krate}");
    }
}

#[test]
fn no_subcommand_imports_another() {
    let edges = graph(&client("cli"));
    for (module, targets) in edges.iter().filter(|(m, _)| m.starts_with("commands/")) {
        let others: Vec<&String> = targets.iter().filter(|t| t.starts_with("commands")).collect();
        assert!(others.is_empty(), "{module} imports {others:?}");
    }
}

#[test]
fn the_checker_sees_a_circle() {
    let mut edges = BTreeMap::new();
    edges.insert("args".to_owned(), BTreeSet::from(["bench".to_owned()]));
    edges.insert("bench".to_owned(), BTreeSet::from(["context".to_owned()]));
    edges.insert("context".to_owned(), BTreeSet::from(["args".to_owned()]));
    assert_eq!(cycle(&edges).map(|c| c.len()), Some(4));
    assert_eq!(references("use super::host::pages;", "commands/history"), [vec!["commands", "host", "pages"]]);
}
