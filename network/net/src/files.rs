//! Writing generated files: always whole (write aside, then rename), JSON by serde_json.
//! Fabric's YAML inputs (configtx.yaml, MSP config.yaml) are written as JSON, which YAML 1.2 reads
//! as it is: one well-kept writer for both, and nothing assembled by hand.

use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;

/// Writes `value` as pretty JSON, readable by the owner only (members.json carries API keys).
pub fn write_json<T: Serialize + ?Sized>(path: &Path, value: &T) -> Result<()> {
    let mut text = serde_json::to_vec_pretty(value).context("encoding JSON")?;
    text.push(b'\n');
    write(path, &text)
}

/// Writes bytes atomically (readers never see half a file), mode 0600.
pub fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let part = path.with_extension("part");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&part)
        .with_context(|| format!("writing {}", part.display()))?;
    file.write_all(bytes).with_context(|| format!("writing {}", part.display()))?;
    std::fs::rename(&part, path).with_context(|| format!("writing {}", path.display()))
}

/// Copies a file, creating the destination's folder.
pub fn copy(from: &Path, to: &Path) -> Result<()> {
    if let Some(dir) = to.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::copy(from, to).with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
    Ok(())
}

/// The only file in a folder (fabric-ca-client names keys after their SKI).
pub fn only_file(dir: &Path) -> Result<std::path::PathBuf> {
    let mut files = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file());
    let first = files.next().with_context(|| format!("{} is empty", dir.display()))?;
    anyhow::ensure!(files.next().is_none(), "{} holds more than one file", dir.display());
    Ok(first)
}
