//! `network/run/members.json`: the file a running network writes for its clients. It names the
//! channel and chaincode and, for each member, its proxy's URL and the API keys of its identities.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::chains::Chains;
use crate::error::{Error, Result};
use crate::gateway::{Gateway, GatewayBuilder};
use crate::ledger::VmLedger;

/// The whole file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Members {
    pub channel: String,
    pub chaincode: String,
    pub members: Vec<Member>,
}

/// One federation member (one org, one peer, one proxy).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Member {
    pub org: String,
    pub msp_id: String,
    #[serde(default)]
    pub cloud_hint: Option<String>,
    pub proxy: ProxyRef,
    /// The member's local chain (BASICS: its own chain, for migrations inside its clouds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_channel: Option<String>,
    /// Its relay's status endpoint (Leave and Arrival on the local chain).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relay: Option<ProxyRef>,
    /// API key per identity name (`manager`, `operator`, `relay`).
    pub api_keys: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProxyRef {
    pub url: String,
}

/// Why a members file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum MembersError {
    #[error("cannot read {path} (is the network up? `network/vmledger-net up` writes it)")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a members file")]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("no member `{org}` in the members file (members: {known})")]
    NoMember { org: String, known: String },
    #[error("member `{org}` has no identity `{identity}` (identities: {known})")]
    NoIdentity { org: String, identity: String, known: String },
}

impl Members {
    /// Reads and parses the file.
    ///
    /// # Errors
    /// [`MembersError::Read`] or [`MembersError::Parse`].
    pub fn load(path: impl AsRef<Path>) -> Result<Members, MembersError> {
        let path = path.as_ref();
        let text = std::fs::read(path).map_err(|source| MembersError::Read { path: path.to_owned(), source })?;
        serde_json::from_slice(&text).map_err(|source| MembersError::Parse { path: path.to_owned(), source })
    }

    /// The member by org name (`org1`) or MSP id (`Org1MSP`).
    ///
    /// # Errors
    /// [`MembersError::NoMember`].
    pub fn member(&self, org: &str) -> Result<&Member, MembersError> {
        self.members.iter().find(|m| m.org == org || m.msp_id == org).ok_or_else(|| MembersError::NoMember {
            org: org.to_owned(),
            known: self.members.iter().map(|m| m.org.as_str()).collect::<Vec<_>>().join(", "),
        })
    }
}

impl Member {
    /// The namespace of this member's cloud and host ids (`org1` in `org1.tokyo-1`).
    pub fn namespace(&self) -> String {
        vmledger_contract::ownership::namespace(&self.msp_id)
    }

    /// The API key of `identity` (`manager`, `operator`, `relay`).
    ///
    /// # Errors
    /// [`MembersError::NoIdentity`].
    pub fn api_key(&self, identity: &str) -> Result<&str, MembersError> {
        self.api_keys.get(identity).map(String::as_str).ok_or_else(|| MembersError::NoIdentity {
            org: self.org.clone(),
            identity: identity.to_owned(),
            known: self.api_keys.keys().map(String::as_str).collect::<Vec<_>>().join(", "),
        })
    }

    /// A gateway builder for this member's proxy acting as `identity`.
    ///
    /// # Errors
    /// [`MembersError::NoIdentity`].
    pub fn gateway(&self, identity: &str) -> Result<GatewayBuilder, MembersError> {
        Ok(Gateway::builder(&self.proxy.url).api_key(self.api_key(identity)?))
    }
}

/// Everything needed to reach the contract as one identity of one member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    pub proxy_url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    pub channel: String,
    pub chaincode: String,
    /// The member's local chain (migrations inside its clouds), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_channel: Option<String>,
}

impl Profile {
    /// The profile of `identity` of member `org` in a members file.
    ///
    /// # Errors
    /// [`MembersError::NoMember`], [`MembersError::NoIdentity`].
    pub fn from_members(members: &Members, org: &str, identity: &str) -> Result<Profile, MembersError> {
        let member = members.member(org)?;
        Ok(Profile {
            proxy_url: member.proxy.url.clone(),
            api_key: Some(member.api_key(identity)?.to_owned()),
            channel: members.channel.clone(),
            chaincode: members.chaincode.clone(),
            local_channel: member.local_channel.clone(),
        })
    }

    /// A gateway builder for this profile.
    pub fn gateway(&self) -> GatewayBuilder {
        let builder = Gateway::builder(&self.proxy_url);
        match &self.api_key {
            Some(key) => builder.api_key(key),
            None => builder,
        }
    }

    /// The typed contract, through a gateway built with `configure`.
    ///
    /// # Errors
    /// As [`GatewayBuilder::connect`].
    pub fn ledger_with(&self, configure: impl FnOnce(GatewayBuilder) -> GatewayBuilder) -> Result<VmLedger, Error> {
        let gateway = configure(self.gateway()).connect()?;
        Ok(VmLedger::new(gateway.network(&self.channel).contract(&self.chaincode)))
    }

    /// The federation and the member's local chain (when known), through one gateway built with
    /// `configure`: what the routing workflows take.
    ///
    /// # Errors
    /// As [`GatewayBuilder::connect`].
    pub fn chains_with(&self, configure: impl FnOnce(GatewayBuilder) -> GatewayBuilder) -> Result<Chains, Error> {
        let gateway = configure(self.gateway()).connect()?;
        let local = self.local_channel.as_ref().map(|c| VmLedger::new(gateway.network(c).contract(&self.chaincode)));
        Ok(Chains::new(VmLedger::new(gateway.network(&self.channel).contract(&self.chaincode)), local))
    }

    /// The typed contract with default options.
    ///
    /// # Errors
    /// As [`GatewayBuilder::connect`].
    pub fn ledger(&self) -> Result<VmLedger, Error> {
        self.ledger_with(|b| b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"{
      "channel": "federation", "chaincode": "vmledger",
      "members": [
        {"org": "org1", "mspId": "Org1MSP", "cloudHint": "cloud-a",
         "peer": {"endpoint": "127.0.0.1:7051", "hostAlias": "peer0", "tlsRootCert": "/x"},
         "proxy": {"url": "http://127.0.0.1:7101"},
         "apiKeys": {"manager": "k1", "operator": "k2"},
         "identities": {"manager": {"cert": "/c", "key": "/k"}}}
      ]
    }"#;

    #[test]
    fn a_member_is_found_by_org_or_msp() {
        let members: Members = serde_json::from_str(FILE).expect("parse");
        let by_org = Profile::from_members(&members, "org1", "operator").expect("org1");
        assert_eq!(by_org.api_key.as_deref(), Some("k2"));
        assert_eq!(by_org.proxy_url, "http://127.0.0.1:7101");
        assert_eq!(members.member("Org1MSP").expect("msp").org, "org1");
        assert!(matches!(members.member("org9"), Err(MembersError::NoMember { .. })));
        assert!(matches!(Profile::from_members(&members, "org1", "root"), Err(MembersError::NoIdentity { .. })));
    }
}
