//! Seed 003's residency rule: a VM's REGULATION against the destination host's COUNTRY and
//! ORGANIZATION. A host is permitted when its country is allowed (or the regulation allows All)
//! and every organisation managing it is allowed (or All).

use crate::error::Denial;
use crate::model::{Allowed, Host, Regulation};

/// Every reason `regulation` forbids `host`; empty when the host is permitted.
pub fn residency_denials(regulation: &Regulation, host: &Host) -> Vec<Denial> {
    let mut denials = Vec::new();
    if let Allowed::Only(countries) = &regulation.countries
        && !countries.contains(&host.country)
    {
        denials.push(Denial::Country { country: host.country.clone(), allowed: countries.clone() });
    }
    if let Allowed::Only(organizations) = &regulation.organizations {
        for organization in &host.organizations {
            if !organizations.contains(organization) {
                denials
                    .push(Denial::Organization { organization: organization.clone(), allowed: organizations.clone() });
            }
        }
    }
    denials
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Resources;

    fn host(country: &str, organizations: &[&str]) -> Host {
        Host {
            id: "h".into(),
            cloud_id: "c".into(),
            country: country.into(),
            organizations: organizations.iter().map(|o| o.to_string()).collect(),
            capacity: Resources::default(),
            updated_at: chrono::DateTime::UNIX_EPOCH,
        }
    }

    fn jp_gb_for_a_and_b() -> Regulation {
        Regulation {
            countries: Allowed::Only(vec!["JP".into(), "GB".into()]),
            organizations: Allowed::Only(vec!["CompanyA".into(), "CompanyB".into()]),
        }
    }

    #[test]
    fn allowed_country_and_organisations_are_permitted() {
        assert!(residency_denials(&jp_gb_for_a_and_b(), &host("GB", &["CompanyA", "CompanyB"])).is_empty());
    }

    #[test]
    fn a_country_outside_the_list_is_denied() {
        assert_eq!(
            residency_denials(&jp_gb_for_a_and_b(), &host("DE", &["CompanyA"])),
            vec![Denial::Country { country: "DE".into(), allowed: vec!["JP".into(), "GB".into()] }]
        );
    }

    #[test]
    fn every_managing_organisation_must_be_allowed() {
        let denials = residency_denials(&jp_gb_for_a_and_b(), &host("JP", &["CompanyA", "CompanyC"]));
        assert_eq!(
            denials,
            vec![Denial::Organization {
                organization: "CompanyC".into(),
                allowed: vec!["CompanyA".into(), "CompanyB".into()]
            }]
        );
    }

    #[test]
    fn all_allows_anything_and_every_reason_is_reported() {
        let all = Regulation { countries: Allowed::All, organizations: Allowed::All };
        assert!(residency_denials(&all, &host("US", &["Anyone"])).is_empty());
        assert_eq!(residency_denials(&jp_gb_for_a_and_b(), &host("US", &["X", "Y"])).len(), 3);
    }
}
