//! Who may do what, by the caller's Fabric MSP and role. A cloud is bound to the MSP that registered
//! it; only that MSP acts for the cloud (registers its hosts and VMs, sets regulations, migrates and
//! cancels); only the destination cloud's MSP confirms. Changing hosts or regulations also needs
//! the member's manager role (seed 003: only VM and host managers touch policies).

use crate::error::{ContractError, Result};
use crate::ledger::Caller;
use crate::model::Cloud;

/// The organisational unit that marks a member's managers (Fabric NodeOUs: `admin`).
pub const MANAGER_ROLE: &str = "admin";

impl Caller {
    /// Organisational units of the certificate's subject, read from Fabric's identity string
    /// (`x509::<subject>::<issuer>`, subject as `/C=../OU=admin/CN=..` or `CN=..,OU=admin,..`).
    pub fn roles(&self) -> Vec<&str> {
        let subject = self.id.strip_prefix("x509::").unwrap_or(&self.id);
        let subject = subject.split("::").next().unwrap_or_default();
        subject.split(['/', ',']).filter_map(|part| part.trim().strip_prefix("OU=")).collect()
    }

    /// Whether the caller holds the manager role.
    pub fn is_manager(&self) -> bool {
        self.roles().contains(&MANAGER_ROLE)
    }

    fn unauthorized(&self, rule: String) -> ContractError {
        ContractError::Unauthorized {
            rule,
            caller_msp_id: self.msp_id.clone(),
            caller_role: self.roles().first().map(|r| (*r).to_owned()),
        }
    }
}

/// Only the member bound to `cloud` may `action` for it.
pub fn require_operator(caller: &Caller, cloud: &Cloud, action: &str) -> Result<()> {
    if caller.msp_id == cloud.msp_id {
        Ok(())
    } else {
        Err(caller.unauthorized(format!("only the operator of cloud `{}` ({}) may {action}", cloud.id, cloud.msp_id)))
    }
}

/// Only a member's managers (role `admin`) may `action`.
pub fn require_manager(caller: &Caller, action: &str) -> Result<()> {
    if caller.is_manager() {
        Ok(())
    } else {
        Err(caller.unauthorized(format!("only a manager (role `{MANAGER_ROLE}`) may {action}")))
    }
}

/// Only the operator of the destination cloud may confirm or reject an arrival.
pub fn require_destination(caller: &Caller, destination: &Cloud) -> Result<()> {
    require_operator(caller, destination, "confirm a migration into it")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;

    fn caller(msp_id: &str, id: &str) -> Caller {
        Caller { msp_id: msp_id.into(), id: id.into(), attributes: Default::default() }
    }

    fn cloud(msp_id: &str) -> Cloud {
        Cloud {
            id: "a".into(),
            name: "A".into(),
            msp_id: msp_id.into(),
            prices: None,
            registered_at: DateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn roles_are_read_from_either_subject_format() {
        let slashes = caller("Org1MSP", "x509::/C=US/OU=admin/CN=Admin@org1::/C=US/CN=ca.org1");
        let commas = caller("Org1MSP", "x509::CN=User1@org1,OU=client,L=SF::CN=ca.org1");
        assert_eq!(slashes.roles(), ["admin"]);
        assert!(slashes.is_manager());
        assert_eq!(commas.roles(), ["client"]);
        assert!(!commas.is_manager());
    }

    #[test]
    fn the_bound_member_is_the_operator() {
        assert!(require_operator(&caller("Org1MSP", ""), &cloud("Org1MSP"), "act").is_ok());
    }

    #[test]
    fn another_member_is_refused() {
        let err = require_operator(&caller("Org2MSP", ""), &cloud("Org1MSP"), "act").unwrap_err();
        assert_eq!(err.code(), "UNAUTHORIZED");
        assert!(err.to_string().contains("Org2MSP"), "{err}");
    }

    #[test]
    fn clients_are_not_managers() {
        let err = require_manager(&caller("Org1MSP", "x509::CN=u,OU=client::CN=ca"), "register a host").unwrap_err();
        assert_eq!(err.code(), "UNAUTHORIZED");
    }
}
