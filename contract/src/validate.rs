//! Well-formedness of inputs: ids, country codes, organisation names, amounts, regulations.
//! Each function names the field and the value it refused.

use crate::error::{ContractError, Result};
use crate::model::{Allowed, Prices, Regulation, Resources};

/// Longest id accepted; ids appear inside ledger keys, so they are short and printable.
pub const MAX_ID_LEN: usize = 64;

/// Ids: 1–64 of `A-Z a-z 0-9 . _ : -`, starting with a letter or digit (no `/`: it separates key parts).
pub fn id(field: &str, value: &str) -> Result<()> {
    let mut chars = value.chars();
    let starts_well = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-'));
    if !starts_well || !rest_ok || value.len() > MAX_ID_LEN {
        return Err(ContractError::invalid(
            field,
            format!("`{value}` is not an id (1-{MAX_ID_LEN} of A-Z a-z 0-9 . _ : -, starting with a letter or digit)"),
        ));
    }
    Ok(())
}

/// Free text such as a cloud's name: non-empty, at most 256 characters, no control characters.
pub fn text(field: &str, value: &str) -> Result<()> {
    if value.trim().is_empty() || value.chars().count() > 256 || value.chars().any(char::is_control) {
        return Err(ContractError::invalid(field, format!("`{value}` must be 1-256 printable characters")));
    }
    Ok(())
}

/// ISO 3166-1 alpha-2 codes (249, as assigned).
const ISO_3166_ALPHA_2: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW";

/// A country code, upper-cased; refused unless it is an assigned ISO 3166-1 alpha-2 code.
pub fn country(field: &str, value: &str) -> Result<String> {
    let code = value.to_ascii_uppercase();
    if code.len() != 2 || !ISO_3166_ALPHA_2.split(' ').any(|known| known == code) {
        return Err(ContractError::invalid(field, format!("`{value}` is not an ISO 3166-1 alpha-2 country code")));
    }
    Ok(code)
}

/// A non-empty list of distinct organisation names.
pub fn organizations(field: &str, values: &[String]) -> Result<()> {
    if values.is_empty() {
        return Err(ContractError::invalid(field, "at least one organisation is required"));
    }
    for (i, name) in values.iter().enumerate() {
        text(field, name)?;
        if values[..i].contains(name) {
            return Err(ContractError::invalid(field, format!("`{name}` is listed twice")));
        }
    }
    Ok(())
}

/// A VM's requirements: at least one core and some memory.
pub fn requirements(field: &str, r: &Resources) -> Result<()> {
    if r.cpu_cores == 0 || r.memory_mib == 0 {
        return Err(ContractError::invalid(field, "a VM needs at least 1 CPU core and 1 MiB of memory"));
    }
    Ok(())
}

/// Prices: a three-letter currency code.
pub fn prices(field: &str, p: &Prices) -> Result<()> {
    if p.currency.len() != 3 || !p.currency.chars().all(|c| c.is_ascii_uppercase()) {
        return Err(ContractError::invalid(field, format!("`{}` is not an ISO 4217 currency code", p.currency)));
    }
    Ok(())
}

/// A regulation, with its country codes upper-cased. A list must name at least one value:
/// "nowhere" is not a regulation a VM can live under.
pub fn regulation(field: &str, r: &Regulation) -> Result<Regulation> {
    let countries = match &r.countries {
        Allowed::All => Allowed::All,
        Allowed::Only(list) if list.is_empty() => {
            return Err(ContractError::invalid(field, "countries: use \"All\" or list at least one country"));
        }
        Allowed::Only(list) => {
            Allowed::Only(list.iter().map(|c| country(&format!("{field}.countries"), c)).collect::<Result<_>>()?)
        }
    };
    if let Allowed::Only(list) = &r.organizations {
        organizations(&format!("{field}.organizations"), list)?;
    }
    Ok(Regulation { countries, organizations: r.organizations.clone() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_accept_letters_digits_and_separators() {
        assert!(id("id", "vm-01.a_b:c").is_ok());
    }

    #[test]
    fn ids_refuse_slashes_empty_and_long() {
        for bad in ["", "a/b", "-a", &"x".repeat(65)] {
            assert_eq!(id("id", bad).unwrap_err().code(), "INVALID_ARGUMENT", "{bad}");
        }
    }

    #[test]
    fn countries_are_iso_codes_upper_cased() {
        assert_eq!(country("c", "jp").unwrap(), "JP");
        assert_eq!(country("c", "XX").unwrap_err().code(), "INVALID_ARGUMENT");
        assert_eq!(country("c", "JPN").unwrap_err().code(), "INVALID_ARGUMENT");
    }

    #[test]
    fn organizations_must_be_listed_once() {
        assert!(organizations("o", &["A".into(), "B".into()]).is_ok());
        assert!(organizations("o", &[]).is_err());
        assert!(organizations("o", &["A".into(), "A".into()]).is_err());
    }

    #[test]
    fn regulations_refuse_empty_lists() {
        let empty = Regulation { countries: Allowed::Only(vec![]), organizations: Allowed::All };
        assert_eq!(regulation("r", &empty).unwrap_err().code(), "INVALID_ARGUMENT");
    }
}
