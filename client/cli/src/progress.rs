//! Progress on stderr: indicatif bars for the SDK's workflows (an [`Observer`]) and for hashing.
//! Hidden with `--quiet`; indicatif draws nothing when stderr is not a terminal.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use vmledger_client::image::{Hashed, TransferKey, hash_file};
use vmledger_client::workflow::migrate::{Observer, Stage};

use crate::output::Output;

/// A byte-count progress bar on stderr.
pub(crate) fn bar(out: Output, total: u64, what: &str) -> ProgressBar {
    if out.quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr_with_hz(8));
    if let Ok(style) =
        ProgressStyle::with_template("{prefix:>10} [{bar:32}] {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_prefix(what.to_owned());
    bar
}

/// A spinner on stderr while waiting for the ledger.
pub(crate) fn spinner(out: Output, what: &str) -> ProgressBar {
    if out.quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(8));
    bar.set_message(what.to_owned());
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// Hashes a file on a blocking thread (and its HMAC under `key`, in the same pass), with a progress bar.
pub(crate) async fn hash(out: Output, path: &Path, key: Option<&TransferKey>) -> anyhow::Result<Hashed> {
    let size = std::fs::metadata(path).with_context(|| format!("reading {}", path.display()))?.len();
    let bar = bar(out, size, "sha256");
    let (progress, owned, key) = (bar.clone(), path.to_owned(), key.cloned());
    let hashed = tokio::task::spawn_blocking(move || hash_file(&owned, key.as_ref(), |n| progress.set_position(n)))
        .await
        .context("the hashing thread stopped")?
        .with_context(|| format!("hashing {}", path.display()));
    bar.finish_and_clear();
    hashed
}

/// Shows a workflow's stages: a bar for those that move bytes, a spinner for the ledger's.
pub(crate) struct Bars {
    out: Output,
    current: Mutex<Option<ProgressBar>>,
}

impl Bars {
    pub(crate) fn new(out: Output) -> Arc<Bars> {
        Arc::new(Bars { out, current: Mutex::new(None) })
    }
}

impl Observer for Bars {
    fn started(&self, stage: Stage, bytes: Option<u64>) {
        let label = match stage {
            Stage::Hash => "sha256",
            Stage::Indicate => "indicating the migration",
            Stage::Transfer => "transfer",
            Stage::DestinationHash => "dest sha256",
            Stage::Confirm => "confirming at the destination",
            Stage::Relay => "waiting for the relays' Leave and Arrival",
        };
        let shown = match bytes {
            Some(total) => bar(self.out, total, label),
            None => spinner(self.out, label),
        };
        if let Ok(mut current) = self.current.lock()
            && let Some(previous) = current.replace(shown)
        {
            previous.finish_and_clear();
        }
    }

    fn progress(&self, _stage: Stage, done: u64) {
        if let Ok(current) = self.current.lock()
            && let Some(bar) = current.as_ref()
        {
            bar.set_position(done);
        }
    }

    fn finished(&self, _stage: Stage) {
        if let Ok(mut current) = self.current.lock()
            && let Some(bar) = current.take()
        {
            bar.finish_and_clear();
        }
    }

    fn indicated(&self, migration_id: &str, accepted_ms: u64) {
        self.out.note(&format!("migration {migration_id} accepted by the orderer in {accepted_ms} ms; transferring"));
    }
}
