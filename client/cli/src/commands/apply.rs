//! `vmledger apply -f FILE`: the SDK's apply workflow ([`vmledger_client::workflow::apply`]): each
//! cloud's records are written by the member its `operators` entry names (from the same network
//! file), as `--as` (default manager); clouds without an entry by the configured member.

use anyhow::Context;
use vmledger_client::workflow::apply::{self, Action, Change, FederationSpec};

use crate::args::ApplyArgs;
use crate::context::Ctx;
use crate::exit::Verdict;
use crate::output::{Table, wire};

pub(crate) async fn run(ctx: &Ctx, args: ApplyArgs) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let spec: FederationSpec =
        serde_json::from_str(&text).with_context(|| format!("{} is not a federation file", args.file.display()))?;
    let identity = ctx.settings()?.identity.unwrap_or_else(|| "manager".into());
    let ledger_for = |cloud_id: &str| {
        let ledger = match spec.operators.get(cloud_id) {
            Some(operator) => {
                ctx.profile_of(Some(&operator.org), &identity, None, None).and_then(|p| ctx.ledger_for(&p))
            }
            None => ctx.ledger(),
        };
        ledger.map_err(|e| format!("{e:#}"))
    };
    let changes = apply::apply(&spec, ledger_for, args.dry_run, |c| ctx.out.note(&line(c, args.dry_run))).await?;
    ctx.out.list(&changes, &changes, |c| Row::from(c), || table(&changes, args.dry_run))?;
    let conflicts = changes.iter().filter(|c| c.action == Action::Conflict).count();
    if conflicts > 0 {
        return Err(Verdict::Conflicts { count: conflicts }.into());
    }
    Ok(())
}

/// A change as a CSV row.
#[derive(serde::Serialize)]
struct Row {
    kind: String,
    id: String,
    cloud_id: String,
    action: String,
    fields: String,
    note: String,
    tx_id: String,
}

impl From<&Change> for Row {
    fn from(c: &Change) -> Row {
        Row {
            kind: wire(&c.kind),
            id: c.id.clone(),
            cloud_id: c.cloud_id.clone(),
            action: wire(&c.action),
            fields: c.fields.join(";"),
            note: c.note.clone(),
            tx_id: c.tx_id.clone().unwrap_or_default(),
        }
    }
}

/// The progress line on stderr.
fn line(c: &Change, dry_run: bool) -> String {
    let done = match (c.action, dry_run) {
        (Action::Create, false) => "registered",
        (Action::Create, true) => "would register",
        (Action::Update, false) => "updated",
        (Action::Update, true) => "would update",
        (Action::Unchanged, _) => "unchanged",
        (Action::Conflict, _) => "CONFLICT",
    };
    format!("  {} {}: {done}", wire(&c.kind), c.id)
}

fn table(changes: &[Change], dry_run: bool) -> String {
    let mut t = Table::new(&["KIND", "ID", "ACTION", "FIELDS", "NOTE"]);
    for c in changes {
        t.row(vec![wire(&c.kind), c.id.clone(), wire(&c.action), c.fields.join(","), c.note.clone()]);
    }
    let count = |a: Action| changes.iter().filter(|c| c.action == a).count();
    let verb = if dry_run { "to register" } else { "registered" };
    format!(
        "{}{} {verb}, {} {}, {} unchanged, {} in conflict\n",
        t.render(),
        count(Action::Create),
        count(Action::Update),
        if dry_run { "to update" } else { "updated" },
        count(Action::Unchanged),
        count(Action::Conflict)
    )
}
