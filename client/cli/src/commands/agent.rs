//! `vmledger agent`: the SDK's destination agent ([`vmledger_client::agent`]) as this member,
//! logging each migration it closes.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use vmledger_client::Problem;
use vmledger_client::agent::{Agent, AgentObserver};
use vmledger_client::transfer::Receipt;

use crate::args::AgentArgs;
use crate::context::Ctx;
use crate::output::{Output, short, wire};

/// One line per migration closed (a JSON document with `--json`); refusals as notes on stderr.
struct Log(Output);

impl AgentObserver for Log {
    fn received(&self, r: &Receipt) {
        let _ = self.0.show(r, || {
            format!(
                "migration {} of VM {}: {} bytes in {} ms, {} (block {})",
                short(&r.migration_id),
                r.vm_id,
                r.bytes,
                r.receive_ms,
                wire(&r.status),
                r.confirm_block
            )
        });
    }

    fn refused(&self, migration_id: &str, problem: &Problem) {
        self.0.note(&format!("vmledger agent: migration {migration_id}: {problem}"));
    }

    fn accept_failed(&self, error: &std::io::Error) {
        self.0.note(&format!("vmledger agent: accept failed: {error}"));
    }
}

pub(crate) async fn run(ctx: &Ctx, args: AgentArgs) -> anyhow::Result<()> {
    let agent = Agent::new(ctx.ledger()?, &args.dir, Duration::from_secs(args.lookup_timeout), Arc::new(Log(ctx.out)))
        .with_context(|| format!("creating {}", args.dir.display()))?;
    let listener =
        tokio::net::TcpListener::bind(args.listen).await.with_context(|| format!("listening on {}", args.listen))?;
    let url = format!("http://{}", listener.local_addr()?);
    ctx.out.show(&serde_json::json!({"event": "listening", "url": url, "dir": args.dir}), || {
        format!("vmledger agent listening on {url}, images into {}", args.dir.display())
    })?;
    agent
        .serve(listener, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await;
    Ok(())
}
