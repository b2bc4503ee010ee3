//! BASICS' integrity rule: the destination accepts a VM only if the SHA-256 of what it received
//! equals the hash the source recorded before sending it.

use crate::error::{ContractError, Result};

/// A SHA-256 digest as 64 hex characters, returned lower-cased.
pub fn parse_hash(field: &str, value: &str) -> Result<String> {
    if value.len() != 64 || !value.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ContractError::invalid(field, format!("`{value}` is not a SHA-256 digest (64 hex characters)")));
    }
    Ok(value.to_ascii_lowercase())
}

/// Whether what arrived is what was sent (both already parsed by [`parse_hash`]).
pub fn image_intact(recorded: &str, observed: &str) -> bool {
    recorded == observed
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    #[test]
    fn digests_are_64_hex_lower_cased() {
        assert_eq!(parse_hash("h", &HASH.to_uppercase()).unwrap(), HASH);
    }

    #[test]
    fn malformed_digests_are_refused() {
        for bad in ["", "abc", &HASH[1..], &format!("{}g", &HASH[1..])] {
            assert_eq!(parse_hash("h", bad).unwrap_err().code(), "INVALID_ARGUMENT", "{bad}");
        }
    }

    #[test]
    fn only_equal_digests_are_intact() {
        assert!(image_intact(HASH, HASH));
        assert!(!image_intact(HASH, &HASH.replace('9', "8")));
    }
}
