//! `vmledger bench run|summary`: the benchmark suite of `vmledger_bench` on the running network.

use anyhow::Context;
use vmledger_bench::report;
use vmledger_bench::suite::{self, Options, Part};

use crate::args::{BenchCommand, BenchPart, BenchRun};
use crate::context::Ctx;

pub(crate) async fn run(ctx: &Ctx, command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Run(args) => {
            let options = options(ctx, *args)?;
            let note = |text: &str| ctx.out.note(text);
            let report = suite::run(&options, &note).await?;
            ctx.out.show(&report::headline(&report), || report::human(&report))?;
            if !report.problems.is_empty() {
                return Err(vmledger_bench::BenchError::NotSane(report.problems).into());
            }
            Ok(())
        }
        BenchCommand::Summary { out } => {
            let written = report::summary(&out)?;
            ctx.out.note(&format!("wrote {}", written.display()));
            Ok(())
        }
    }
}

fn options(ctx: &Ctx, args: BenchRun) -> anyhow::Result<Options> {
    Ok(Options {
        smoke: args.smoke,
        parts: args.suite.into_iter().map(part).collect(),
        out: args.out,
        tag: args.tag,
        network_file: ctx.network_file()?,
        source: args.source,
        destination: args.destination,
        latency_count: args.latency_count,
        in_flight: args.in_flight,
        rates: args.rates,
        local_rates: args.local_rates,
        inter_rates: args.inter_rates,
        round_seconds: args.round_seconds,
        images: args.images,
        transfer_rates: args.transfer_rates,
        transfer_reps: args.transfer_reps,
        hash_file: args.hash_file,
        hash_reps: args.hash_reps,
        pids: args.pids,
        net_env: args.net_env,
        vmledger: std::env::current_exe().context("locating the vmledger binary for the agent")?,
    })
}

fn part(p: BenchPart) -> Part {
    match p {
        BenchPart::Latency => Part::Latency,
        BenchPart::Hash => Part::Hash,
        BenchPart::Transfer => Part::Transfer,
        BenchPart::Throughput => Part::Throughput,
        BenchPart::Basics => Part::Basics,
        BenchPart::Chains => Part::Chains,
    }
}
