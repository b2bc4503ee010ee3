//! `vmledger terms propose|accept|show`.

use vmledger_contract::model::Prices;
use vmledger_contract::terms::{PenaltyRule, ProposeTerms, TermsView};

use crate::args::{TermsCommand, TermsPropose};
use crate::context::Ctx;
use crate::output::{fields, money, time, wire};

pub(crate) async fn run(ctx: &Ctx, command: TermsCommand) -> anyhow::Result<()> {
    let ledger = ctx.ledger()?;
    match command {
        TermsCommand::Propose(args) => {
            let (input, prices) = propose_msg(args);
            let committed = ledger.propose_terms(&input, prices).await?;
            let t = &committed.result;
            ctx.out.show(&committed, || {
                format!(
                    "proposed terms {} in block {} (tx {}); prices private to {} (hash {})",
                    t.id,
                    committed.block_number,
                    committed.tx_id,
                    t.parties.join(" and "),
                    t.private_hash
                )
            })
        }
        TermsCommand::Accept { id } => {
            let (committed, _) = ledger.accept_terms(&id).await?;
            ctx.out.show(&committed, || {
                format!("accepted terms {id} in block {} (tx {})", committed.block_number, committed.tx_id)
            })
        }
        TermsCommand::Show { id } => {
            let view = ledger.get_terms(&id).await?;
            ctx.out.show(&view, || describe(&view))
        }
    }
}

fn propose_msg(args: TermsPropose) -> (ProposeTerms, Prices) {
    let prices = Prices {
        currency: args.currency.clone(),
        cpu_core_hour: args.cpu_core_hour,
        memory_gib_hour: args.memory_gib_hour,
        network_mbps_hour: args.network_mbps_hour,
        io_mbps_hour: args.io_mbps_hour,
    };
    let input = ProposeTerms {
        id: args.id,
        source_cloud_id: args.from_cloud,
        destination_cloud_id: args.to_cloud,
        migration_id: args.migration,
        availability_target_bp: args.availability_bp,
        max_downtime_ms: args.max_downtime_ms,
        penalty: PenaltyRule {
            currency: args.currency,
            fixed_credit: args.fixed_credit,
            credit_per_downtime_second: args.credit_per_downtime_second,
            credit_per_basis_point: args.credit_per_basis_point,
            max_credit: args.max_credit,
        },
    };
    (input, prices)
}

fn describe(view: &TermsView) -> String {
    let t = &view.terms;
    let c = Some(t.penalty.currency.as_str());
    let signer = |s: Option<&vmledger_contract::model::Signer>, at: Option<&vmledger_contract::model::Timestamp>| {
        s.map_or_else(|| "-".to_owned(), |s| format!("{} at {}", s.msp_id, at.map(time).unwrap_or_default()))
    };
    let mut pairs = vec![
        ("terms", t.id.clone()),
        ("between", format!("{} -> {}", t.source_cloud_id, t.destination_cloud_id)),
        ("migration", t.migration_id.clone().unwrap_or_else(|| "every migration of the pair".into())),
        ("status", wire(&t.status)),
        ("availability", format!("{} bp", t.availability_target_bp)),
        ("max downtime", format!("{} ms", t.max_downtime_ms)),
        (
            "penalty",
            format!(
                "{} + {} per second over, {} per bp under, at most {}",
                money(t.penalty.fixed_credit, c),
                money(t.penalty.credit_per_downtime_second, c),
                money(t.penalty.credit_per_basis_point, c),
                money(t.penalty.max_credit, c)
            ),
        ),
        ("proposed by", signer(Some(&t.proposed_by), Some(&t.proposed_at))),
        ("accepted by", signer(t.accepted_by.as_ref(), t.accepted_at.as_ref())),
        ("endorsers", t.parties.join(", ")),
        ("prices hash", t.private_hash.clone()),
        (
            "ledger hash",
            format!(
                "{} ({})",
                view.ledger_hash.as_deref().unwrap_or("-"),
                if view.verified { "verified" } else { "MISMATCH" }
            ),
        ),
    ];
    match &view.private {
        Some(p) => {
            let pc = Some(p.prices.currency.as_str());
            pairs.push((
                "prices/hour",
                format!(
                    "cpu core {}, memory GiB {}, network Mbps {}, io Mbps {}",
                    money(p.prices.cpu_core_hour, pc),
                    money(p.prices.memory_gib_hour, pc),
                    money(p.prices.network_mbps_hour, pc),
                    money(p.prices.io_mbps_hour, pc)
                ),
            ));
        }
        None => pairs.push(("prices/hour", format!("private to {}", t.collection))),
    }
    fields(&pairs)
}
