//! Arguments turned into the contract's inputs: resources, regulations, image hashes. Shared by
//! the subcommands, so that none imports another.

use vmledger_contract::model::{Allowed, Regulation, Resources};

use crate::args::{ImageRef, RegulationArgs, ResourceArgs};
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
        match (&self.image, &self.image_hash) {
            (_, Some(hash)) => Ok(hash.clone()),
            (Some(path), None) => Ok(crate::progress::hash(out, path).await?.hash),
            (None, None) => Err(UsageError("give --image FILE or --image-hash HEX".into()).into()),
        }
    }
}
