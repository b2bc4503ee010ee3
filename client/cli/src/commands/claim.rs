//! `vmledger claim file|dispute|accept|show`.

use vmledger_contract::claims::{Claim, ClaimViolation, DisputeClaim, Metric};

use crate::args::ClaimCommand;
use crate::context::Ctx;
use crate::output::{fields, money, time, wire};

pub(crate) async fn run(ctx: &Ctx, command: ClaimCommand) -> anyhow::Result<()> {
    let ledger = ctx.ledger()?;
    let committed = match command {
        ClaimCommand::File(args) => {
            // clap requires exactly one of the two measurements.
            let (metric, measured) = match (args.downtime_ms, args.availability_bp) {
                (Some(ms), _) => (Metric::DowntimeMs, ms),
                (None, bp) => (Metric::AvailabilityBp, bp.unwrap_or_default()),
            };
            let input = ClaimViolation {
                id: args.id,
                terms_id: args.terms,
                migration_id: args.migration,
                metric,
                measured,
                evidence: args.evidence,
            };
            ledger.claim_violation(&input).await?
        }
        ClaimCommand::Dispute(args) => {
            let input = DisputeClaim {
                claim_id: args.id,
                measured: args.measured,
                reason: args.reason,
                evidence: args.evidence,
            };
            ledger.dispute_claim(&input).await?
        }
        ClaimCommand::Accept { id } => ledger.accept_claim(&id).await?,
        ClaimCommand::Show { id } => {
            let claim = ledger.get_claim(&id).await?;
            return ctx.out.show(&claim, || describe(&claim));
        }
    };
    ctx.out.show(&committed, || {
        format!("block {} (tx {})\n{}", committed.block_number, committed.tx_id, describe(&committed.result))
    })
}

fn describe(c: &Claim) -> String {
    let unit = match c.metric {
        Metric::DowntimeMs => "ms downtime",
        Metric::AvailabilityBp => "bp availability",
    };
    let mut pairs = vec![
        ("claim", c.id.clone()),
        ("terms", c.terms_id.clone()),
        ("by", format!("{} against {}", c.claimant_cloud_id, c.accused_cloud_id)),
        ("status", wire(&c.status)),
        ("agreed", format!("{} {unit}", c.agreed)),
        (
            "claimed",
            format!("{} {unit} at {} [{}]", c.claimed.value, time(&c.claimed.at), c.claimed.evidence.join(", ")),
        ),
        ("credit", money(c.credit, Some(&c.currency))),
    ];
    if let Some(e) = &c.ledger_evidence {
        pairs.push((
            "ledger",
            format!(
                "migration {} indicated {} confirmed {} ({} ms)",
                e.migration_id,
                time(&e.indicated_at),
                time(&e.confirmed_at),
                e.window_ms
            ),
        ));
    }
    if let Some(d) = &c.dispute {
        pairs.push((
            "disputed",
            format!("{} {unit} at {}: {}", d.value, time(&d.at), d.reason.as_deref().unwrap_or_default()),
        ));
    }
    if let (Some(at), Some(by)) = (&c.accepted_at, &c.accepted_by) {
        pairs.push(("accepted", format!("by {} at {}", by.msp_id, time(at))));
    }
    fields(&pairs)
}
