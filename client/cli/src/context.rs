//! Resolving the connection. In order of precedence:
//!
//! 1. flags (`--member`, `--proxy-url`, …);
//! 2. their environment variables (`VMLEDGER_MEMBER`, `VMLEDGER_PROXY_URL`, …) (clap reads both);
//! 3. the selected context of the config file (`--context NAME`, `VMLEDGER_CONTEXT`, else the file's
//!    `current_context`);
//! 4. the config file's top-level keys;
//! 5. the network's members.json (`network_file`, default `network/run/members.json`), for the
//!    member's proxy URL, API key, channel and chaincode.
//!
//! The config file is `--config FILE` (`VMLEDGER_CONFIG`), else `$XDG_CONFIG_HOME/vmledger/
//! config.toml`, else `~/.config/vmledger/config.toml` (the XDG rule, by the `etcetera` crate); a
//! missing default file is an empty one. Its keys are the connection flags' (`proxy_url`,
//! `api_key`, `channel`, `chaincode`, `network_file`, `member`, `as`, `commit_timeout`), at the top
//! level and in each `[contexts.NAME]` table.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use etcetera::BaseStrategy;
use serde::{Deserialize, Serialize};
use vmledger_client::{Chains, Members, Profile, VmLedger};

use crate::args::Connection;
use crate::exit::UsageError;
use crate::output::Output;

/// Where members.json is when only --member is given.
const DEFAULT_NETWORK_FILE: &str = "network/run/members.json";

/// The connection keys of the config file, at the top level and in each context.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Settings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) proxy_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) api_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) channel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) chaincode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) network_file: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) member: Option<String>,
    #[serde(default, rename = "as", skip_serializing_if = "Option::is_none")]
    pub(crate) identity: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) commit_timeout: Option<u64>,
    pub(crate) resolve_timeout: Option<u64>,
}

impl Settings {
    /// These settings, with `under`'s for the keys these leave unset.
    fn or(self, under: Settings) -> Settings {
        Settings {
            proxy_url: self.proxy_url.or(under.proxy_url),
            api_key: self.api_key.or(under.api_key),
            channel: self.channel.or(under.channel),
            chaincode: self.chaincode.or(under.chaincode),
            network_file: self.network_file.or(under.network_file),
            member: self.member.or(under.member),
            identity: self.identity.or(under.identity),
            commit_timeout: self.commit_timeout.or(under.commit_timeout),
            resolve_timeout: self.resolve_timeout.or(under.resolve_timeout),
        }
    }

    /// The settings a command line (or its environment) gives.
    pub(crate) fn of(c: &Connection) -> Settings {
        Settings {
            proxy_url: c.proxy_url.clone(),
            api_key: c.api_key.clone(),
            channel: c.channel.clone(),
            chaincode: c.chaincode.clone(),
            network_file: c.network_file.clone(),
            member: c.member.clone(),
            identity: c.identity.clone(),
            commit_timeout: c.commit_timeout,
            resolve_timeout: c.resolve_timeout,
        }
    }

    /// `(key, value)` of each key set, as in the file.
    pub(crate) fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        let mut push = |k, v: Option<String>| {
            if let Some(v) = v {
                out.push((k, v));
            }
        };
        push("proxy_url", self.proxy_url.clone());
        push("api_key", self.api_key.clone());
        push("channel", self.channel.clone());
        push("chaincode", self.chaincode.clone());
        push("network_file", self.network_file.as_ref().map(|p| p.display().to_string()));
        push("member", self.member.clone());
        push("as", self.identity.clone());
        push("commit_timeout", self.commit_timeout.map(|t| t.to_string()));
        push("resolve_timeout", self.resolve_timeout.map(|t| t.to_string()));
        out
    }
}

/// The whole config file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConfigFile {
    #[serde(default)]
    pub(crate) current_context: Option<String>,
    #[serde(default)]
    pub(crate) contexts: BTreeMap<String, Settings>,
    #[serde(default)]
    proxy_url: Option<String>,
    #[serde(default)]
    api_key: Option<String>,
    #[serde(default)]
    channel: Option<String>,
    #[serde(default)]
    chaincode: Option<String>,
    #[serde(default)]
    network_file: Option<PathBuf>,
    #[serde(default)]
    member: Option<String>,
    #[serde(default, rename = "as")]
    identity: Option<String>,
    #[serde(default)]
    commit_timeout: Option<u64>,
    resolve_timeout: Option<u64>,
}

impl ConfigFile {
    /// The top-level keys.
    pub(crate) fn defaults(&self) -> Settings {
        Settings {
            proxy_url: self.proxy_url.clone(),
            api_key: self.api_key.clone(),
            channel: self.channel.clone(),
            chaincode: self.chaincode.clone(),
            network_file: self.network_file.clone(),
            member: self.member.clone(),
            identity: self.identity.clone(),
            commit_timeout: self.commit_timeout,
            resolve_timeout: self.resolve_timeout,
        }
    }
}

/// The default config file: `$XDG_CONFIG_HOME/vmledger/config.toml`, else
/// `~/.config/vmledger/config.toml`.
pub(crate) fn default_config_path() -> Option<PathBuf> {
    etcetera::base_strategy::Xdg::new().ok().map(|xdg| xdg.config_dir().join("vmledger").join("config.toml"))
}

/// Everything a command needs: how to reach the ledger and where to print.
#[derive(Debug, Clone)]
pub(crate) struct Ctx {
    /// Flags and environment.
    pub(crate) connection: Connection,
    /// Only what was given as flags on this command line (what `context set` stores).
    pub(crate) given: Connection,
    pub(crate) out: Output,
}

impl Ctx {
    /// The config file in use and whether it was named (a named file must exist).
    pub(crate) fn config_path(&self) -> anyhow::Result<(PathBuf, bool)> {
        match &self.connection.config {
            Some(path) => Ok((path.clone(), true)),
            None => default_config_path()
                .map(|p| (p, false))
                .ok_or_else(|| UsageError("no home directory: give --config FILE".into()).into()),
        }
    }

    /// The config file (empty when the default one does not exist).
    pub(crate) fn config(&self) -> anyhow::Result<ConfigFile> {
        let (path, named) = self.config_path()?;
        if !named && !path.exists() {
            return Ok(ConfigFile::default());
        }
        read_config(&path)
    }

    /// The context in use: `--context`, else the file's `current_context`.
    pub(crate) fn context_name(&self, file: &ConfigFile) -> Option<String> {
        self.connection.context.clone().or_else(|| file.current_context.clone())
    }

    /// Flags and environment over the selected context over the file's top level.
    pub(crate) fn settings(&self) -> anyhow::Result<Settings> {
        let file = self.config()?;
        let context = match self.context_name(&file) {
            Some(name) => file.contexts.get(&name).cloned().ok_or_else(|| {
                UsageError(format!(
                    "no context `{name}` in the config file (contexts: {})",
                    file.contexts.keys().cloned().collect::<Vec<_>>().join(", ")
                ))
            })?,
            None => Settings::default(),
        };
        Ok(Settings::of(&self.connection).or(context).or(file.defaults()))
    }

    /// The connection profile of the configured member and identity.
    ///
    /// # Errors
    /// A [`UsageError`] when no proxy is configured; the members file's errors.
    pub(crate) fn profile(&self) -> anyhow::Result<Profile> {
        let s = self.settings()?;
        let identity = s.identity.clone().unwrap_or_else(|| "manager".into());
        resolve(&s, s.member.as_deref(), &identity, s.proxy_url.clone(), s.api_key.clone())
    }

    /// The profile of another member (the destination of a migration), from the same network file.
    pub(crate) fn profile_of(
        &self,
        member: Option<&str>,
        identity: &str,
        proxy_url: Option<String>,
        api_key: Option<String>,
    ) -> anyhow::Result<Profile> {
        if member.is_none() && proxy_url.is_none() {
            return Err(UsageError(
                "name the destination member: --dest-member ORG, or --dest-proxy-url with --dest-api-key".into(),
            )
            .into());
        }
        resolve(&self.settings()?, member, identity, proxy_url, api_key)
    }

    /// The MSP id of the configured member (`--member`), from the network file; `None` without one.
    ///
    /// # Errors
    /// The members file's errors.
    pub(crate) fn member_msp_id(&self) -> anyhow::Result<Option<String>> {
        let s = self.settings()?;
        let Some(member) = s.member.as_deref() else { return Ok(None) };
        let members = Members::load(&self.network_file()?)?;
        Ok(Some(members.member(member)?.msp_id.clone()))
    }

    /// The members file of the configured network (the default when none is configured).
    pub(crate) fn network_file(&self) -> anyhow::Result<PathBuf> {
        Ok(self.settings()?.network_file.unwrap_or_else(|| PathBuf::from(DEFAULT_NETWORK_FILE)))
    }

    /// The typed contract for `profile`, with the configured timeouts.
    pub(crate) fn ledger_for(&self, profile: &Profile) -> anyhow::Result<VmLedger> {
        let settings = self.settings()?;
        let commit_timeout = settings.commit_timeout.map(Duration::from_secs);
        let resolve_timeout = settings.resolve_timeout.map(Duration::from_secs);
        Ok(profile.ledger_with(|builder| {
            let builder = match commit_timeout {
                Some(timeout) => builder.commit_status_timeout(timeout),
                None => builder,
            };
            match resolve_timeout {
                Some(timeout) => builder.resolve_timeout(timeout),
                None => builder,
            }
        })?)
    }

    /// The typed contract as the configured member and identity.
    pub(crate) fn ledger(&self) -> anyhow::Result<VmLedger> {
        self.ledger_for(&self.profile()?)
    }

    /// The federation and the member's local chain for `profile`, with the configured timeouts.
    pub(crate) fn chains_for(&self, profile: &Profile) -> anyhow::Result<Chains> {
        let commit_timeout = self.settings()?.commit_timeout.map(Duration::from_secs);
        Ok(profile.chains_with(|builder| match commit_timeout {
            Some(timeout) => builder.commit_status_timeout(timeout),
            None => builder,
        })?)
    }

    /// The chains of the configured member and identity: what routes migrations.
    pub(crate) fn chains(&self) -> anyhow::Result<Chains> {
        self.chains_for(&self.profile()?)
    }
}

fn resolve(
    s: &Settings,
    member: Option<&str>,
    identity: &str,
    proxy_url: Option<String>,
    api_key: Option<String>,
) -> anyhow::Result<Profile> {
    let from_members = match member {
        Some(member) if proxy_url.is_none() || api_key.is_none() => {
            let path = s.network_file.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_NETWORK_FILE));
            let members = Members::load(&path)?;
            Some(Profile::from_members(&members, member, identity)?)
        }
        _ => None,
    };
    let proxy_url = proxy_url.or_else(|| from_members.as_ref().map(|p| p.proxy_url.clone())).ok_or_else(|| {
        UsageError(
            "no proxy configured: give --network-file with --member (and --as), or --proxy-url with --api-key \
             (or VMLEDGER_PROXY_URL / VMLEDGER_API_KEY, or a context: `vmledger context set`)"
                .into(),
        )
    })?;
    Ok(Profile {
        proxy_url,
        api_key: api_key.or_else(|| from_members.as_ref().and_then(|p| p.api_key.clone())),
        channel: s
            .channel
            .clone()
            .or_else(|| from_members.as_ref().map(|p| p.channel.clone()))
            .unwrap_or_else(|| "federation".into()),
        chaincode: s
            .chaincode
            .clone()
            .or_else(|| from_members.as_ref().map(|p| p.chaincode.clone()))
            .unwrap_or_else(|| "vmledger".into()),
        local_channel: from_members.as_ref().and_then(|p| p.local_channel.clone()),
    })
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
        Ctx { given: connection.clone(), connection, out: Output { format: crate::output::Format::Table, quiet: true } }
    }

    fn with_file(text: &str) -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().expect("tmp");
        let file = dir.path().join("config.toml");
        std::fs::write(&file, text).expect("write");
        (dir, Connection { config: Some(file), ..Connection::default() })
    }

    #[test]
    fn flags_win_over_the_config_file() {
        let (_dir, mut connection) =
            with_file("proxy_url = \"http://127.0.0.1:1\"\napi_key = \"from-file\"\nchannel = \"c\"\n");
        connection.api_key = Some("from-flag".into());
        let profile = ctx(connection).profile().expect("profile");
        assert_eq!(profile.proxy_url, "http://127.0.0.1:1");
        assert_eq!(profile.api_key.as_deref(), Some("from-flag"));
        assert_eq!(profile.channel, "c");
        assert_eq!(profile.chaincode, "vmledger");
    }

    #[test]
    fn the_context_wins_over_the_top_level_and_flags_over_the_context() {
        let (_dir, connection) = with_file(
            "proxy_url = \"http://127.0.0.1:1\"\napi_key = \"top\"\nchannel = \"top\"\ncurrent_context = \"b\"\n\
             [contexts.a]\napi_key = \"a\"\n[contexts.b]\napi_key = \"b\"\nproxy_url = \"http://127.0.0.1:2\"\n",
        );
        let current = ctx(connection.clone()).profile().expect("profile");
        assert_eq!((current.proxy_url.as_str(), current.api_key.as_deref()), ("http://127.0.0.1:2", Some("b")));
        assert_eq!(current.channel, "top", "what the context leaves unset comes from the top level");
        let chosen = ctx(Connection { context: Some("a".into()), ..connection.clone() }).profile().expect("a");
        assert_eq!((chosen.proxy_url.as_str(), chosen.api_key.as_deref()), ("http://127.0.0.1:1", Some("a")));
        let flagged = ctx(Connection { api_key: Some("flag".into()), ..connection.clone() }).profile().expect("flag");
        assert_eq!(flagged.api_key.as_deref(), Some("flag"));
        let unknown = ctx(Connection { context: Some("zz".into()), ..connection }).profile().expect_err("no zz");
        assert!(unknown.is::<UsageError>() && unknown.to_string().contains("a, b"), "{unknown:#}");
    }

    #[test]
    fn nothing_configured_is_a_usage_error() {
        let (_dir, connection) = with_file("");
        let err = ctx(connection).profile().expect_err("no proxy");
        assert!(err.is::<UsageError>(), "{err:#}");
    }

    #[test]
    fn unknown_keys_are_refused() {
        let (_dir, connection) = with_file("proxy = \"http://x\"\n");
        assert!(ctx(connection).profile().expect_err("typo").to_string().contains("proxy"));
    }
}
