//! `vmledger hash FILE`: streaming SHA-256 with a progress bar on stderr.

use std::path::Path;

use anyhow::Context;
use vmledger_client::image::{Hashed, hash_file};

use crate::args::HashArgs;
use crate::context::Ctx;
use crate::output::fields;

pub(crate) async fn run(ctx: &Ctx, args: HashArgs) -> anyhow::Result<()> {
    let hashed = hash_with_progress(ctx, &args.file).await?;
    ctx.out.show(&hashed, || {
        if ctx.out.quiet {
            format!("{}  {}", hashed.hash, args.file.display())
        } else {
            fields(&[
                ("sha256", hashed.hash.clone()),
                ("file", args.file.display().to_string()),
                ("bytes", hashed.bytes.to_string()),
                ("time", format!("{} ms", hashed.elapsed_ms)),
                ("rate", format!("{:.0} MB/s", hashed.megabytes_per_second())),
            ])
        }
    })
}

/// Hashes a file on a blocking thread, with a progress bar on stderr.
pub(crate) async fn hash_with_progress(ctx: &Ctx, path: &Path) -> anyhow::Result<Hashed> {
    let size = std::fs::metadata(path).with_context(|| format!("reading {}", path.display()))?.len();
    let bar = ctx.out.bar(size, "sha256");
    let progress = bar.clone();
    let owned = path.to_owned();
    let hashed = tokio::task::spawn_blocking(move || hash_file(&owned, |n| progress.set_position(n)))
        .await
        .context("the hashing thread stopped")?
        .with_context(|| format!("hashing {}", path.display()))?;
    bar.finish_and_clear();
    Ok(hashed)
}
