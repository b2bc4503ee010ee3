//! `vmledger agent`: the SDK's destination agent ([`vmledger_client::agent`]) as this member,
//! logging each migration it closes.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use vmledger_client::Problem;
use vmledger_client::agent::{Agent, AgentLimits, AgentObserver, LiveConfig, LiveReceipt};
use vmledger_client::hypervisor::QemuConfig;
use vmledger_client::transfer::Receipt;

use crate::args::AgentArgs;
use crate::context::Ctx;
use crate::exit::UsageError;
use crate::output::{Format, Output, Stream, short, wire};

/// One line per migration closed, in the output format; refusals as notes on stderr.
struct Log {
    out: Output,
    stream: Mutex<Stream>,
}

impl AgentObserver for Log {
    fn received(&self, r: &Receipt) {
        let Ok(mut stream) = self.stream.lock() else { return };
        let _ = stream.record(r, || {
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
        self.out.note(&format!("vmledger agent: migration {migration_id}: {problem}"));
    }

    fn live(&self, r: &LiveReceipt) {
        let Ok(mut stream) = self.stream.lock() else { return };
        let _ = stream.record(r, || {
            let outcome = if r.resumed { "resumed here".to_owned() } else { "discarded".to_owned() };
            format!(
                "live migration {} of VM {}: {} bytes, {} ({}), {}; gate {} ms{}",
                short(&r.migration_id),
                r.vm_id,
                r.bytes,
                r.stream_end,
                wire(&r.status),
                outcome,
                r.gate_ms,
                r.error.as_ref().map(|e| format!("; {e}")).unwrap_or_default()
            )
        });
    }

    fn accept_failed(&self, error: &std::io::Error) {
        self.out.note(&format!("vmledger agent: accept failed: {error}"));
    }
}

pub(crate) async fn run(ctx: &Ctx, args: AgentArgs) -> anyhow::Result<()> {
    let log = Arc::new(Log { out: ctx.out, stream: Mutex::new(ctx.out.stream()) });
    let msp_id = match args.msp_id.clone() {
        Some(msp_id) => msp_id,
        None => ctx.member_msp_id()?.ok_or_else(|| {
            UsageError("the agent takes only its member's migrations: --member ORG or --msp-id MSPID".into())
        })?,
    };
    let limits = AgentLimits {
        max_connections: args.max_connections,
        max_uploads: args.max_uploads,
        max_image_bytes: args.max_image_bytes,
        idle_timeout: Duration::from_secs(args.idle_timeout),
        upload_timeout: Duration::from_secs(args.upload_timeout),
        header_timeout: Duration::from_secs(args.header_timeout),
        max_header_bytes: args.max_header_bytes,
    };
    let mut agent = Agent::new(ctx.chains()?, &msp_id, &args.dir, Duration::from_secs(args.lookup_timeout), log)
        .with_context(|| format!("creating {}", args.dir.display()))?
        .with_limits(limits);
    if let (Some(kernel), Some(initrd)) = (&args.live_kernel, &args.live_initrd) {
        let mut qemu = QemuConfig::new(kernel, initrd);
        qemu.program.clone_from(&args.qemu);
        qemu.machine.clone_from(&args.live_machine);
        qemu.append.clone_from(&args.live_append);
        let config = LiveConfig { allow_postcopy: args.allow_postcopy, ..LiveConfig::new(qemu, msp_id) };
        // Live migrations cross clouds: the federation's ledger.
        agent = agent.with_live(Arc::new(ctx.ledger()?), config);
    }
    let listener =
        tokio::net::TcpListener::bind(args.listen).await.with_context(|| format!("listening on {}", args.listen))?;
    let url = format!("http://{}", listener.local_addr()?);
    let listening = format!("vmledger agent listening on {url}, images into {}", args.dir.display());
    if ctx.out.format == Format::Csv {
        // The CSV on stdout is the receipts' table.
        ctx.out.note(&listening);
    } else {
        ctx.out.show(&serde_json::json!({"event": "listening", "url": url, "dir": args.dir}), || listening)?;
    }
    // SIGTERM ends the agent like Ctrl-C: it returns, and the destination QEMUs it started (paused
    // or resumed) end with it rather than outliving it.
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    agent
        .serve(listener, async {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminate.recv() => {}
            }
        })
        .await;
    Ok(())
}
