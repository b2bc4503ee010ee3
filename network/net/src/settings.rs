//! The network's settings and its members, as created by the first `up` and changed by `join` and
//! `leave`: `network/run/net.json`. Options given later may only repeat what the file says.

use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::layout::{MAX_MEMBERS, MAX_ORDERERS_PER_MEMBER, Ports};

/// How the federation channel is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Consensus {
    /// etcdraft: crash fault tolerant (a majority of consenters must run).
    Raft,
    /// SmartBFT (Fabric 3): tolerates f faulty consenters out of 3f + 1.
    Bft,
}

/// Whether a member is part of the federation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Standing {
    /// Standing up on its own (CA, nodes, local chain); not yet in the federation channel.
    Joining,
    Active,
    /// Removed from the channels by a signed update; its history stays on the ledger.
    Left,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Member {
    /// 1-based: the member's port block and names (`org1`, `Org1MSP`).
    pub n: u8,
    /// The address its nodes listen on and advertise (127.0.0.1 here; its own machine's address
    /// when the member runs elsewhere).
    pub host: String,
    pub standing: Standing,
}

impl Member {
    pub fn org(&self) -> String {
        format!("org{}", self.n)
    }
    pub fn msp_id(&self) -> String {
        format!("Org{}MSP", self.n)
    }
    pub fn is_active(&self) -> bool {
        self.standing == Standing::Active
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Settings {
    /// The Fabric release the network was created with (`.tools/fabric.version`).
    pub fabric: String,
    pub consensus: Consensus,
    pub orderers_per_member: u8,
    pub batch_timeout: String,
    pub max_message_count: u32,
    pub base_port: u16,
    pub members: Vec<Member>,
    /// Each member's peer reaches the federation's orderers through the member's own toxiproxy, so a
    /// fault can cut it off (`vmledger-net cut`); `up --faults`.
    #[serde(default)]
    pub faults: bool,
}

impl Settings {
    pub fn load(path: &Path) -> Result<Option<Settings>> {
        match std::fs::read(path) {
            Ok(bytes) => {
                Ok(Some(serde_json::from_slice(&bytes).with_context(|| format!("{} is corrupt", path.display()))?))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        crate::files::write_json(path, self)
    }

    pub fn check(&self) -> Result<()> {
        if !(1..=MAX_ORDERERS_PER_MEMBER).contains(&self.orderers_per_member) {
            bail!("--orderers-per-member must be 1..={MAX_ORDERERS_PER_MEMBER}");
        }
        if self.members.is_empty() || self.members.len() > usize::from(MAX_MEMBERS) {
            bail!("a network has 1..={MAX_MEMBERS} members");
        }
        let last = Ports::of(self.base_port, MAX_MEMBERS).relay();
        if self.base_port < 1024 || u32::from(last) >= 65536 - 100 {
            bail!("--base-port {} leaves no room for {MAX_MEMBERS} members", self.base_port);
        }
        if self.consensus == Consensus::Bft {
            if !self.fabric.starts_with('3') {
                bail!("--consensus bft needs Fabric 3 (this machine has Fabric {})", self.fabric);
            }
            let consenters = self.active().count() * usize::from(self.orderers_per_member);
            if consenters < 4 {
                bail!(
                    "--consensus bft needs at least 4 consenters (3f + 1 with f = 1): {} member(s) x {} orderer(s) = {consenters}; raise --orderers-per-member or --orgs",
                    self.active().count(),
                    self.orderers_per_member
                );
            }
        }
        Ok(())
    }

    pub fn active(&self) -> impl Iterator<Item = &Member> {
        self.members.iter().filter(|m| m.is_active())
    }

    /// Members whose processes run: active ones, and those standing up to join.
    pub fn present(&self) -> impl Iterator<Item = &Member> {
        self.members.iter().filter(|m| m.standing != Standing::Left)
    }

    pub fn member(&self, n: u8) -> Option<&Member> {
        self.members.iter().find(|m| m.n == n)
    }

    /// The member named `org1` or `Org1MSP` (active or not).
    pub fn find(&self, name: &str) -> Result<&Member> {
        self.members.iter().find(|m| m.org() == name || m.msp_id() == name).with_context(|| {
            let known: Vec<String> = self.members.iter().map(Member::org).collect();
            format!("no member `{name}` (members: {})", known.join(", "))
        })
    }

    /// The number the next member gets.
    pub fn next_member(&self) -> Result<u8> {
        let next = self.members.iter().map(|m| m.n).max().unwrap_or(0) + 1;
        if next > MAX_MEMBERS {
            bail!("a network holds at most {MAX_MEMBERS} members (members who left keep their number)");
        }
        Ok(next)
    }

    pub fn ports(&self, n: u8) -> Ports {
        Ports::of(self.base_port, n)
    }

    /// The address of member `n`'s nodes.
    pub fn host(&self, n: u8) -> &str {
        self.member(n).map_or("127.0.0.1", |m| m.host.as_str())
    }

    pub fn is_raft(&self) -> bool {
        self.consensus == Consensus::Raft
    }
}

/// `50ms`, `2s`: what Fabric's configuration accepts for BatchTimeout.
pub fn check_duration(value: &str) -> Result<()> {
    let digits = value.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &value[digits.len()..];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || !matches!(unit, "ms" | "s") {
        bail!("`{value}` is not a duration such as 50ms or 2s");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(members: u8, orderers: u8, consensus: Consensus) -> Settings {
        Settings {
            fabric: "3.1.1".into(),
            consensus,
            orderers_per_member: orderers,
            batch_timeout: "50ms".into(),
            max_message_count: 500,
            base_port: 7000,
            members: (1..=members)
                .map(|n| Member { n, host: "127.0.0.1".into(), standing: Standing::Active })
                .collect(),
            faults: false,
        }
    }

    #[test]
    fn bft_needs_four_consenters() {
        assert!(settings(2, 1, Consensus::Bft).check().is_err());
        assert!(settings(2, 2, Consensus::Bft).check().is_ok());
        assert!(settings(4, 1, Consensus::Bft).check().is_ok());
        let mut old = settings(4, 1, Consensus::Bft);
        old.fabric = "2.5.0".into();
        assert!(old.check().is_err());
    }

    #[test]
    fn durations_are_fabric_durations() {
        for good in ["50ms", "2s", "10ms"] {
            assert!(check_duration(good).is_ok(), "{good}");
        }
        for bad in ["", "ms", "50", "5m", "1.5s", "-1s"] {
            assert!(check_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn members_are_found_by_org_or_msp() {
        let s = settings(3, 1, Consensus::Raft);
        assert_eq!(s.find("org2").map(|m| m.n).ok(), Some(2));
        assert_eq!(s.find("Org3MSP").map(|m| m.n).ok(), Some(3));
        assert!(s.find("org4").is_err());
    }
}
