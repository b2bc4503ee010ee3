//! Who may do what, by the caller's Fabric MSP and role. A cloud is bound to the MSP that registered
//! it; only that MSP acts for the cloud (registers its hosts and VMs, sets regulations, migrates and
//! cancels); only the destination cloud's MSP confirms. Changing hosts or regulations also needs
//! the member's manager role (seed 003: only VM and host managers touch policies).
//!
//! A role is the certificate attribute `vmledger.role` that the member's own CA puts in the
//! certificate (Fabric CA's attribute extension), never a part of the subject: a subject is free
//! text to whoever requests a certificate, so `CN=m,OU=admin` in it proves nothing.

use crate::error::{ContractError, Result};
use crate::ledger::Caller;
use crate::model::Cloud;

/// The certificate attribute holding the caller's vmledger role.
pub const ROLE_ATTRIBUTE: &str = "vmledger.role";
/// The role of a member's managers: they register clouds and hosts and set regulations.
pub const MANAGER_ROLE: &str = "manager";
/// The role of a member's operators: they register and migrate VMs.
pub const OPERATOR_ROLE: &str = "operator";
/// The role of a member's relay: it writes Leave and Arrival on the member's local chain, nothing else.
pub const RELAY_ROLE: &str = "relay";
/// Every role a member's CA gives its application identities.
pub const ROLES: [&str; 3] = [MANAGER_ROLE, OPERATOR_ROLE, RELAY_ROLE];

impl Caller {
    /// The vmledger role its CA gave the certificate, if any.
    pub fn role(&self) -> Option<&str> {
        self.attributes.get(ROLE_ATTRIBUTE).map(String::as_str)
    }

    /// Whether the caller holds the manager role.
    pub fn is_manager(&self) -> bool {
        self.role() == Some(MANAGER_ROLE)
    }

    fn unauthorized(&self, rule: String) -> ContractError {
        ContractError::Unauthorized {
            rule,
            caller_msp_id: self.msp_id.clone(),
            caller_role: self.role().map(str::to_owned),
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

/// Only a member's relay (role `relay`) may `action`.
pub fn require_relay(caller: &Caller, action: &str) -> Result<()> {
    if caller.role() == Some(RELAY_ROLE) {
        Ok(())
    } else {
        Err(caller.unauthorized(format!("only a member's relay (role `{RELAY_ROLE}`) may {action}")))
    }
}

/// Only a member's application identities (any vmledger role) may `action`.
pub fn require_role(caller: &Caller, action: &str) -> Result<()> {
    if caller.role().is_some() {
        Ok(())
    } else {
        Err(caller
            .unauthorized(format!("only a member's application identity (with a `{ROLE_ATTRIBUTE}`) may {action}")))
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

    fn with_role(msp_id: &str, role: &str) -> Caller {
        let mut caller = caller(msp_id, "x509::CN=m::CN=ca");
        caller.attributes.insert(ROLE_ATTRIBUTE.into(), role.into());
        caller
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
    fn the_role_is_the_certificate_attribute() {
        assert!(with_role("Org1MSP", "manager").is_manager());
        assert!(!with_role("Org1MSP", "operator").is_manager());
        assert_eq!(with_role("Org1MSP", "operator").role(), Some("operator"));
    }

    #[test]
    fn an_admin_unit_smuggled_into_the_subject_grants_nothing() {
        for subject in [
            "x509::/C=US/OU=admin/CN=Admin@org1::/C=US/CN=ca.org1",
            "x509::CN=m,OU=admin::CN=ca.org1",
            "x509::L=x/OU=admin,CN=m::CN=ca.org1",
            "x509::CN=OU=manager::CN=ca.org1",
        ] {
            let smuggler = caller("Org1MSP", subject);
            assert!(!smuggler.is_manager(), "{subject}");
            assert_eq!(require_manager(&smuggler, "register a host").unwrap_err().code(), "UNAUTHORIZED");
        }
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
        let err = require_manager(&with_role("Org1MSP", "operator"), "register a host").unwrap_err();
        assert_eq!(err.code(), "UNAUTHORIZED");
    }
}
