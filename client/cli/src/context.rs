//! Resolving the connection: flags, then environment (clap reads both), then the TOML config file,
//! then the network's members.json.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use vmledger_client::{Members, Profile, VmLedger};

use super::args::Connection;
use super::exit::UsageError;
use super::output::Output;

/// Where members.json is when only --member is given.
const DEFAULT_NETWORK_FILE: &str = "network/run/members.json";

/// The TOML config file: the same keys as the connection flags.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    proxy_url: Option<String>,
    api_key: Option<String>,
    channel: Option<String>,
    chaincode: Option<String>,
    network_file: Option<PathBuf>,
    member: Option<String>,
    #[serde(rename = "as")]
    identity: Option<String>,
    commit_timeout: Option<u64>,
}

/// Everything a command needs: how to reach the ledger and where to print.
#[derive(Debug, Clone)]
pub(crate) struct Ctx {
    pub(crate) connection: Connection,
    pub(crate) out: Output,
}

impl Ctx {
    fn merged(&self) -> anyhow::Result<(Connection, Option<Duration>)> {
        let mut c = self.connection.clone();
        let file = match &c.config {
            Some(path) => read_config(path)?,
            None => ConfigFile::default(),
        };
        c.proxy_url = c.proxy_url.or(file.proxy_url);
        c.api_key = c.api_key.or(file.api_key);
        c.channel = c.channel.or(file.channel);
        c.chaincode = c.chaincode.or(file.chaincode);
        c.network_file = c.network_file.or(file.network_file);
        c.member = c.member.or(file.member);
        c.identity = c.identity.or(file.identity);
        let commit_timeout = c.commit_timeout.or(file.commit_timeout).map(Duration::from_secs);
        Ok((c, commit_timeout))
    }

    /// The connection profile of the configured member and identity.
    ///
    /// # Errors
    /// A [`UsageError`] when no proxy is configured; the members file's errors.
    pub(crate) fn profile(&self) -> anyhow::Result<Profile> {
        let (c, _) = self.merged()?;
        let identity = c.identity.as_deref().unwrap_or("admin");
        self.resolve(&c, c.member.as_deref(), identity, c.proxy_url.clone(), c.api_key.clone())
    }

    /// The profile of another member (the destination of a migration), from the same network file.
    pub(crate) fn profile_of(
        &self,
        member: Option<&str>,
        identity: &str,
        proxy_url: Option<String>,
        api_key: Option<String>,
    ) -> anyhow::Result<Profile> {
        let (c, _) = self.merged()?;
        if member.is_none() && proxy_url.is_none() {
            return Err(UsageError(
                "name the destination member: --dest-member ORG, or --dest-proxy-url with --dest-api-key".into(),
            )
            .into());
        }
        self.resolve(&c, member, identity, proxy_url, api_key)
    }

    fn resolve(
        &self,
        c: &Connection,
        member: Option<&str>,
        identity: &str,
        proxy_url: Option<String>,
        api_key: Option<String>,
    ) -> anyhow::Result<Profile> {
        let from_members = match member {
            Some(member) if proxy_url.is_none() || api_key.is_none() => {
                let path = c.network_file.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_NETWORK_FILE));
                let members = Members::load(&path)?;
                Some(Profile::from_members(&members, member, identity)?)
            }
            _ => None,
        };
        let proxy_url = proxy_url.or_else(|| from_members.as_ref().map(|p| p.proxy_url.clone())).ok_or_else(|| {
            UsageError(
                "no proxy configured: give --network-file with --member (and --as), or --proxy-url with --api-key \
                 (or VMLEDGER_PROXY_URL / VMLEDGER_API_KEY, or a --config file)"
                    .into(),
            )
        })?;
        Ok(Profile {
            proxy_url,
            api_key: api_key.or_else(|| from_members.as_ref().and_then(|p| p.api_key.clone())),
            channel: c
                .channel
                .clone()
                .or_else(|| from_members.as_ref().map(|p| p.channel.clone()))
                .unwrap_or_else(|| "federation".into()),
            chaincode: c
                .chaincode
                .clone()
                .or_else(|| from_members.as_ref().map(|p| p.chaincode.clone()))
                .unwrap_or_else(|| "vmledger".into()),
        })
    }

    /// The members file of the configured network (the default when none is configured).
    pub(crate) fn network_file(&self) -> anyhow::Result<PathBuf> {
        let (c, _) = self.merged()?;
        Ok(c.network_file.unwrap_or_else(|| PathBuf::from(DEFAULT_NETWORK_FILE)))
    }

    /// The typed contract for `profile`, with the configured timeouts.
    pub(crate) fn ledger_for(&self, profile: &Profile) -> anyhow::Result<VmLedger> {
        let (_, commit_timeout) = self.merged()?;
        Ok(profile.ledger_with(|builder| match commit_timeout {
            Some(timeout) => builder.commit_status_timeout(timeout),
            None => builder,
        })?)
    }

    /// The typed contract as the configured member and identity.
    pub(crate) fn ledger(&self) -> anyhow::Result<VmLedger> {
        self.ledger_for(&self.profile()?)
    }
}

fn read_config(path: &Path) -> anyhow::Result<ConfigFile> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| UsageError(format!("cannot read the config file {}: {e}", path.display())))?;
    toml::from_str(&text).map_err(|e| UsageError(format!("config file {}: {e}", path.display())).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(connection: Connection) -> Ctx {
        Ctx { connection, out: Output { format: crate::output::Format::Table, quiet: true } }
    }

    fn empty() -> Connection {
        Connection {
            config: None,
            network_file: None,
            member: None,
            identity: None,
            proxy_url: None,
            api_key: None,
            channel: None,
            chaincode: None,
            commit_timeout: None,
        }
    }

    #[test]
    fn flags_win_over_the_config_file() {
        let dir = tempfile::tempdir().expect("tmp");
        let file = dir.path().join("vmledger.toml");
        std::fs::write(&file, "proxy_url = \"http://127.0.0.1:1\"\napi_key = \"from-file\"\nchannel = \"c\"\n")
            .expect("write");
        let mut connection = empty();
        connection.config = Some(file);
        connection.api_key = Some("from-flag".into());
        let profile = ctx(connection).profile().expect("profile");
        assert_eq!(profile.proxy_url, "http://127.0.0.1:1");
        assert_eq!(profile.api_key.as_deref(), Some("from-flag"));
        assert_eq!(profile.channel, "c");
        assert_eq!(profile.chaincode, "vmledger");
    }

    #[test]
    fn nothing_configured_is_a_usage_error() {
        let err = ctx(empty()).profile().expect_err("no proxy");
        assert!(err.is::<UsageError>(), "{err:#}");
    }
}
