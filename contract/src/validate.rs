//! Well-formedness of inputs: ids, country codes, organisation names, amounts, regulations.
//! Each function names the field and the value it refused, and every check is linear in its input
//! and bounded: no request can make the contract work long (the worst cases are in the README).

use std::collections::BTreeSet;

use crate::error::{ContractError, Result};
use crate::model::{Allowed, Prices, Regulation, Resources};

/// Longest id accepted; ids appear inside ledger keys, so they are short and printable.
pub const MAX_ID_LEN: usize = 64;
/// Longest free text (names, reasons), in characters.
pub const MAX_TEXT_CHARS: usize = 256;
/// Most organisations a host or a regulation lists.
pub const MAX_ORGANIZATIONS: usize = 32;
/// The largest argument the contract decodes, in bytes (the largest legitimate one is a few KiB).
pub const MAX_ARGUMENT_BYTES: usize = 64 * 1024;
/// The largest price per resource-hour, in micro-units (one million units of the currency): with
/// [`MAX_RESOURCE`] and a year's period, costs stay far inside the integers they are computed in.
/// Like every amount, below 2^53, so no JavaScript layer in between can round it.
pub const MAX_PRICE: u64 = 1_000_000_000_000;
/// The largest amount of one resource a host offers or a VM needs (below 2^53, as above).
pub const MAX_RESOURCE: u64 = 1 << 32;

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

/// Characters that print nothing or reverse what follows (Unicode format characters: zero-width
/// spaces and joiners, bidirectional overrides and isolates, the byte-order mark, tags): a name
/// holding them can look like another.
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}' | '\u{180B}'..='\u{180F}'
        | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}'
        | '\u{FEFF}' | '\u{FFA0}' | '\u{FFF0}'..='\u{FFFB}' | '\u{1D173}'..='\u{1D17A}' | '\u{E0000}'..='\u{E0FFF}')
}

/// Free text such as a cloud's name: non-empty, at most 256 characters, nothing that does not print
/// (control characters, invisible and direction-changing characters).
pub fn text(field: &str, value: &str) -> Result<()> {
    // Bounded before anything is counted: a length in bytes is at most four per character.
    if value.len() > 4 * MAX_TEXT_CHARS || value.chars().count() > MAX_TEXT_CHARS {
        return Err(ContractError::invalid(field, format!("longer than {MAX_TEXT_CHARS} characters")));
    }
    if let Some(bad) = value.chars().find(|&c| c.is_control() || is_invisible(c)) {
        return Err(ContractError::invalid(
            field,
            format!("holds the invisible or control character U+{:04X}", u32::from(bad)),
        ));
    }
    if value.trim().is_empty() {
        return Err(ContractError::invalid(field, "must not be empty"));
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

/// Every value listed once: linear (a set), not a comparison of each with all the others.
fn distinct<'a>(field: &str, values: impl IntoIterator<Item = &'a String>) -> Result<()> {
    let mut seen = BTreeSet::new();
    for value in values {
        if !seen.insert(value) {
            return Err(ContractError::invalid(field, format!("`{value}` is listed twice")));
        }
    }
    Ok(())
}

/// A non-empty list of at most [`MAX_ORGANIZATIONS`] distinct organisation names.
pub fn organizations(field: &str, values: &[String]) -> Result<()> {
    if values.is_empty() {
        return Err(ContractError::invalid(field, "at least one organisation is required"));
    }
    if values.len() > MAX_ORGANIZATIONS {
        return Err(ContractError::invalid(
            field,
            format!("{} organisations; at most {MAX_ORGANIZATIONS}", values.len()),
        ));
    }
    for name in values {
        text(field, name)?;
    }
    distinct(field, values)
}

/// Resources a host offers: each at most [`MAX_RESOURCE`].
pub fn capacity(field: &str, r: &Resources) -> Result<()> {
    for (name, amount) in r.by_name() {
        if amount > MAX_RESOURCE {
            return Err(ContractError::invalid(
                &format!("{field}.{name}"),
                format!("{amount} is above {MAX_RESOURCE}"),
            ));
        }
    }
    Ok(())
}

/// A VM's requirements: at least one core and some memory, each at most [`MAX_RESOURCE`].
pub fn requirements(field: &str, r: &Resources) -> Result<()> {
    capacity(field, r)?;
    if r.cpu_cores == 0 || r.memory_mib == 0 {
        return Err(ContractError::invalid(field, "a VM needs at least 1 CPU core and 1 MiB of memory"));
    }
    Ok(())
}

/// Prices: a three-letter currency code, and each price at most [`MAX_PRICE`].
pub fn prices(field: &str, p: &Prices) -> Result<()> {
    if p.currency.len() != 3 || !p.currency.chars().all(|c| c.is_ascii_uppercase()) {
        return Err(ContractError::invalid(field, format!("`{}` is not an ISO 4217 currency code", p.currency)));
    }
    for (name, price) in [
        ("cpuCoreHour", p.cpu_core_hour),
        ("memoryGibHour", p.memory_gib_hour),
        ("networkMbpsHour", p.network_mbps_hour),
        ("ioMbpsHour", p.io_mbps_hour),
    ] {
        if price > MAX_PRICE {
            return Err(ContractError::invalid(&format!("{field}.{name}"), format!("{price} is above {MAX_PRICE}")));
        }
    }
    Ok(())
}

/// An argument small enough to decode (checked before anything is parsed).
pub fn argument_size(argument: &str) -> Result<()> {
    if argument.len() > MAX_ARGUMENT_BYTES {
        return Err(ContractError::invalid(
            "argument",
            format!("{} bytes; at most {MAX_ARGUMENT_BYTES}", argument.len()),
        ));
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
            let field = format!("{field}.countries");
            // There are 249 codes: a longer list repeats one.
            if list.len() > 249 {
                return Err(ContractError::invalid(&field, format!("{} countries; there are 249", list.len())));
            }
            let codes: Vec<String> = list.iter().map(|c| country(&field, c)).collect::<Result<_>>()?;
            distinct(&field, &codes)?;
            Allowed::Only(codes)
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
