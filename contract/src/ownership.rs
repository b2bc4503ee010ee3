//! Who owns what: the members whose peers must endorse any change of a record, enforced by Fabric
//! itself at commit (key-level endorsement policies, set where each record is written), so no
//! coalition of other members running a modified contract can change it.
//!
//! | record | must be endorsed by |
//! | --- | --- |
//! | a cloud | its member |
//! | a host, its allocation, its reservations, the index of its VMs | the member of its cloud |
//! | a VM | its operator's member and the member hosting it (a VM leaves a host only with the host's consent) |
//! | a migration and its indexes | the source's and the destination's members |
//! | a stay (residency) and its indexes | the operator's and the hosting member |
//! | a ping | the member that pinged |
//!
//! A record not written yet is governed by the chaincode's own policy (a majority of members): its
//! owner's endorsement of its creation is proven by a marker in the owner's implicit collection
//! ([`crate::anchor`]), without which readers ignore it.
//!
//! Ids of clouds and hosts live in their member's namespace (`org2.london`): a member can name
//! only its own, so nobody can squat another member's names.

use crate::error::{ContractError, Result};
use crate::ledger::{Caller, Ledger};

/// A member's namespace: its MSP id, lower-cased, without a trailing `msp` (`Org2MSP` → `org2`).
pub fn namespace(msp_id: &str) -> String {
    let lower = msp_id.to_ascii_lowercase();
    lower.strip_suffix("msp").filter(|s| !s.is_empty()).unwrap_or(&lower).to_owned()
}

/// Whether `id` is in the namespace of the member `msp_id`: `<namespace>.<name>`.
pub fn in_namespace(msp_id: &str, id: &str) -> bool {
    id.split_once('.').is_some_and(|(prefix, name)| prefix == namespace(msp_id) && !name.is_empty())
}

/// `id` must be in the caller's namespace: `<namespace>.<name>`.
///
/// # Errors
/// `UNAUTHORIZED` naming the namespace the caller owns.
pub fn require_own_namespace(caller: &Caller, field: &str, id: &str) -> Result<()> {
    if in_namespace(&caller.msp_id, id) {
        return Ok(());
    }
    let own = namespace(&caller.msp_id);
    Err(ContractError::Unauthorized {
        rule: format!("{field} `{id}` is not in the caller's namespace: a member names its own as `{own}.<name>`"),
        caller_msp_id: caller.msp_id.clone(),
        caller_role: caller.role().map(str::to_owned),
    })
}

/// Makes `owners` (MSP ids; duplicates ignored) the members who must endorse any later change of `key`.
///
/// Call it when a key is created or its owners change, not on every write: Fabric invalidates a
/// transaction that writes a key whose endorsers an earlier transaction of the same block set
/// (ENDORSEMENT_POLICY_FAILURE, which a client does not retry), where the plain write conflict
/// would have been a retryable MVCC_READ_CONFLICT.
pub async fn own(ledger: &impl Ledger, key: &str, owners: &[&str]) -> Result<()> {
    let mut members: Vec<String> = owners.iter().map(|o| (*o).to_owned()).collect();
    members.sort();
    members.dedup();
    ledger.set_endorsers(key, &members).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(msp_id: &str) -> Caller {
        Caller { msp_id: msp_id.into(), id: "x509::CN=m::CN=ca".into(), attributes: Default::default() }
    }

    #[test]
    fn a_namespace_is_the_msp_without_its_suffix() {
        assert_eq!(namespace("Org2MSP"), "org2");
        assert_eq!(namespace("AcmeCloud"), "acmecloud");
        assert_eq!(namespace("MSP"), "msp");
    }

    #[test]
    fn a_member_names_only_its_own() {
        assert!(require_own_namespace(&caller("Org2MSP"), "id", "org2.london-1").is_ok());
        for squat in ["org1.london-1", "org2", "org2.", "london-1", "org22.london-1", "xorg2.london"] {
            let err = require_own_namespace(&caller("Org2MSP"), "id", squat).unwrap_err();
            assert_eq!(err.code(), "UNAUTHORIZED", "{squat}");
        }
    }
}
