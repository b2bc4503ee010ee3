//! `vmledger context list|show|use|set`: named connection settings in the config file. Writes keep
//! the file's comments and layout (`toml_edit`).

use std::path::Path;

use anyhow::Context as _;
use serde::Serialize;

use crate::args::ContextCommand;
use crate::context::{Ctx, Settings};
use crate::exit::UsageError;
use crate::output::{Table, fields};

/// One context, as listed.
#[derive(Debug, Serialize)]
struct Listed {
    name: String,
    current: bool,
    #[serde(flatten)]
    settings: Settings,
}

/// A context row for CSV: the settings as columns.
#[derive(Debug, Serialize)]
struct Row {
    name: String,
    current: bool,
    member: String,
    identity: String,
    network_file: String,
    proxy_url: String,
}

pub(crate) fn run(ctx: &Ctx, command: ContextCommand) -> anyhow::Result<()> {
    let (path, _) = ctx.config_path()?;
    match command {
        ContextCommand::List => {
            let file = ctx.config()?;
            let current = ctx.context_name(&file);
            let listed: Vec<Listed> = file
                .contexts
                .iter()
                .map(|(name, s)| Listed {
                    name: name.clone(),
                    current: current.as_deref() == Some(name),
                    settings: s.clone(),
                })
                .collect();
            let row = |l: &Listed| Row {
                name: l.name.clone(),
                current: l.current,
                member: l.settings.member.clone().unwrap_or_default(),
                identity: l.settings.identity.clone().unwrap_or_default(),
                network_file: l.settings.network_file.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
                proxy_url: l.settings.proxy_url.clone().unwrap_or_default(),
            };
            ctx.out.list(&listed, &listed, row, || {
                if listed.is_empty() {
                    return format!("no contexts in {} (`vmledger context set NAME --member …`)", path.display());
                }
                let mut table = Table::new(&["", "NAME", "MEMBER", "AS", "NETWORK FILE", "PROXY URL"]);
                for l in &listed {
                    let r = row(l);
                    let mark = if r.current { "*" } else { "" };
                    table.row(vec![mark.into(), r.name, r.member, r.identity, r.network_file, r.proxy_url]);
                }
                table.render()
            })
        }
        ContextCommand::Show { name } => {
            let file = ctx.config()?;
            let name = name
                .or_else(|| ctx.context_name(&file))
                .ok_or_else(|| UsageError(format!("no context in use: name one (contexts in {})", path.display())))?;
            let settings = file
                .contexts
                .get(&name)
                .cloned()
                .ok_or_else(|| UsageError(format!("no context `{name}` in {}", path.display())))?;
            let mut shown = settings.clone();
            if shown.api_key.is_some() {
                shown.api_key = Some("(set)".into());
            }
            let listed = Listed { current: ctx.context_name(&file).as_deref() == Some(&name), name, settings: shown };
            ctx.out.show(&listed, || {
                let mut pairs = vec![("context", listed.name.clone()), ("file", path.display().to_string())];
                pairs.extend(listed.settings.pairs());
                fields(&pairs)
            })
        }
        ContextCommand::Use { name } => {
            let file = ctx.config()?;
            if !file.contexts.contains_key(&name) {
                return Err(UsageError(format!(
                    "no context `{name}` in {} (contexts: {})",
                    path.display(),
                    file.contexts.keys().cloned().collect::<Vec<_>>().join(", ")
                ))
                .into());
            }
            edit(&path, |doc| {
                doc["current_context"] = toml_edit::value(name.as_str());
            })?;
            ctx.out.note(&format!("now using context `{name}` ({})", path.display()));
            Ok(())
        }
        ContextCommand::Set { name, make_current } => {
            let given = Settings::of(&ctx.given).pairs();
            if given.is_empty() {
                return Err(UsageError(
                    "give the settings as flags: --member, --as, --network-file, --proxy-url, --api-key, \
                     --channel, --chaincode, --commit-timeout"
                        .into(),
                )
                .into());
            }
            edit(&path, |doc| {
                if !doc.contains_key("contexts") {
                    let mut contexts = toml_edit::Table::new();
                    contexts.set_implicit(true);
                    doc["contexts"] = toml_edit::Item::Table(contexts);
                }
                let contexts = &mut doc["contexts"];
                if contexts.get(&name).is_none() {
                    contexts[&name] = toml_edit::table();
                }
                for (key, value) in &given {
                    contexts[&name][key] = match *key {
                        "commit_timeout" => toml_edit::value(value.parse::<i64>().unwrap_or_default()),
                        _ => toml_edit::value(value.as_str()),
                    };
                }
                if make_current {
                    doc["current_context"] = toml_edit::value(name.as_str());
                }
            })?;
            ctx.out.note(&format!("context `{name}` saved in {}", path.display()));
            Ok(())
        }
    }
}

/// Changes the config file in place (created with its folder when missing).
fn edit(path: &Path, change: impl FnOnce(&mut toml_edit::DocumentMut)) -> anyhow::Result<()> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let mut doc: toml_edit::DocumentMut =
        text.parse().map_err(|e| UsageError(format!("config file {}: {e}", path.display())))?;
    change(&mut doc);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(path, doc.to_string()).with_context(|| format!("writing {}", path.display()))
}
