//! Arguments turned into the contract's inputs: resources, regulations, image hashes. Shared by
//! the subcommands, so that none imports another.

use vmledger_contract::model::{Allowed, Regulation, Resources};

use vmledger_client::image::TransferKey;

use crate::args::{ImageRef, KeyArg, RegulationArgs, ResourceArgs};
use crate::exit::UsageError;
use crate::output::Output;

impl ResourceArgs {
    pub(crate) fn any(&self) -> bool {
        self.cpu.is_some() || self.memory_mib.is_some() || self.network_mbps.is_some() || self.io_mbps.is_some()
    }

    /// These values over `current` for the resources not given.
    pub(crate) fn over(&self, current: Resources) -> Resources {
        Resources {
            cpu_cores: self.cpu.unwrap_or(current.cpu_cores),
            memory_mib: self.memory_mib.unwrap_or(current.memory_mib),
            network_mbps: self.network_mbps.unwrap_or(current.network_mbps),
            io_mbps: self.io_mbps.unwrap_or(current.io_mbps),
        }
    }

    /// All four resources, each given.
    pub(crate) fn required(&self, what: &str) -> Result<Resources, UsageError> {
        match (self.cpu, self.memory_mib, self.network_mbps, self.io_mbps) {
            (Some(cpu_cores), Some(memory_mib), Some(network_mbps), Some(io_mbps)) => {
                Ok(Resources { cpu_cores, memory_mib, network_mbps, io_mbps })
            }
            _ => Err(UsageError(format!("give the whole {what}: --cpu, --memory-mib, --network-mbps and --io-mbps"))),
        }
    }
}

impl RegulationArgs {
    pub(crate) fn regulation(&self) -> Regulation {
        Regulation { countries: allowed_list(&self.countries), organizations: allowed_list(&self.organizations) }
    }
}

/// `All`, or values separated by commas.
fn allowed_list(text: &str) -> Allowed {
    if text.trim().eq_ignore_ascii_case("all") {
        Allowed::All
    } else {
        Allowed::Only(text.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect())
    }
}

impl ImageRef {
    /// The hash given, or the image's hash computed here (with a progress bar).
    pub(crate) async fn hash(&self, out: Output) -> anyhow::Result<String> {
        Ok(self.digests(out, None, None).await?.0)
    }

    /// The hash and HMAC under `key` given (`keyed_digest`), or computed here in one pass.
    pub(crate) async fn digests(
        &self,
        out: Output,
        key: Option<&TransferKey>,
        keyed_digest: Option<String>,
    ) -> anyhow::Result<(String, Option<String>)> {
        match (&self.image, &self.image_hash) {
            (_, Some(hash)) => Ok((hash.clone(), keyed_digest)),
            (Some(path), None) => {
                let hashed = crate::progress::hash(out, path, key).await?;
                Ok((hashed.hash, hashed.keyed_digest))
            }
            (None, None) => Err(UsageError("give --image FILE or --image-hash HEX".into()).into()),
        }
    }
}

impl KeyArg {
    /// The transfer key given.
    pub(crate) fn given(&self) -> anyhow::Result<Option<TransferKey>> {
        match &self.transfer_key {
            None => Ok(None),
            Some(hex) => TransferKey::from_hex(hex)
                .map(Some)
                .ok_or_else(|| UsageError("--transfer-key takes 64 hex characters".into()).into()),
        }
    }

    /// The transfer key given, which this command needs.
    pub(crate) fn required(&self) -> anyhow::Result<TransferKey> {
        self.given()?.ok_or_else(|| {
            UsageError("give the migration's --transfer-key (as `migrate start` printed it)".into()).into()
        })
    }
}
