//! `vmledger tx ID`: a transaction by id, wherever it stands.

use vmledger_client::TxState;

use crate::args::TxArgs;
use crate::context::Ctx;
use crate::exit::Verdict;

pub(crate) async fn run(ctx: &Ctx, args: TxArgs) -> anyhow::Result<()> {
    let ledger = ctx.ledger()?;
    let Some(status) = ledger.contract().network().lookup(&args.id).await? else {
        return Err(Verdict::NoTransaction { tx_id: args.id }.into());
    };
    ctx.out.show(&status, || {
        let mut lines = vec![format!("transaction {}", status.tx_id)];
        let state = match status.status {
            TxState::Committed => "committed (valid)",
            TxState::Failed => "committed invalid",
            TxState::Pending => "pending: accepted by the orderer, not committed yet",
            TxState::Unknown => "sent, commit status not seen; not on the member's peer yet",
        };
        lines.push(format!("status           {state}"));
        if let Some(block) = status.block_number {
            lines.push(format!("block            {block}"));
        }
        if let Some(code) = &status.validation_code {
            lines.push(format!("validation code  {code}"));
        }
        for (name, value) in
            [("function", &status.function), ("creator", &status.creator_msp_id), ("time", &status.timestamp)]
        {
            if let Some(value) = value {
                lines.push(format!("{name:<16} {value}"));
            }
        }
        if !status.result.is_null() {
            lines.push(format!("result           {}", status.result));
        }
        lines.join("\n")
    })?;
    match status.status {
        TxState::Committed => Ok(()),
        TxState::Failed => Err(Verdict::CommittedInvalid {
            tx_id: status.tx_id.clone(),
            validation_code: status.validation_code.clone().unwrap_or_default(),
        }
        .into()),
        TxState::Pending | TxState::Unknown => Err(Verdict::NotCommitted { tx_id: status.tx_id.clone() }.into()),
    }
}
