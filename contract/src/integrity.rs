//! BASICS' integrity rule: the destination accepts a VM only if the SHA-256 of what it received
//! equals the hash the source recorded before sending it.
//!
//! And proof of possession: a recorded hash is public, so equal hashes alone do not show that the
//! destination received anything. The source draws a random transfer key per migration, records only
//! its SHA-256 in the Indication with the image's HMAC under that key, and gives the key to the
//! destination with the image alone. To confirm (or to reject), the destination reveals the key and
//! the HMAC it computed over what arrived: the key shows it received the transfer, the HMAC that it
//! holds the bytes. The key also authenticates the uploads to the destination's agent.

use sha2::{Digest, Sha256};

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

/// `key` (64 hex characters) is the transfer key whose SHA-256 the Indication recorded.
///
/// # Errors
/// `INVALID_ARGUMENT` for a malformed key; `UNAUTHORIZED` for another key.
pub fn check_transfer_key(key: &str, recorded_hash: &str, caller_msp_id: &str) -> Result<()> {
    let bytes = hex::decode(key)
        .ok()
        .filter(|b| b.len() == 32)
        .ok_or_else(|| ContractError::invalid("transferKey", "must be 32 bytes as 64 hex characters"))?;
    if hex::encode(Sha256::digest(bytes)) != recorded_hash {
        return Err(ContractError::Unauthorized {
            rule: "the transfer key does not match the one the source recorded: only the receiver of the transfer confirms it".into(),
            caller_msp_id: caller_msp_id.to_owned(),
            caller_role: None,
        });
    }
    Ok(())
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
    fn only_the_recorded_transfer_key_opens_a_migration() {
        let key = "11".repeat(32);
        let recorded = hex::encode(Sha256::digest([0x11u8; 32]));
        assert!(check_transfer_key(&key, &recorded, "Org2MSP").is_ok());
        assert_eq!(check_transfer_key(&"12".repeat(32), &recorded, "Org2MSP").unwrap_err().code(), "UNAUTHORIZED");
        for malformed in ["", "11", &"zz".repeat(32), &"11".repeat(33)] {
            assert_eq!(check_transfer_key(malformed, &recorded, "Org2MSP").unwrap_err().code(), "INVALID_ARGUMENT");
        }
    }

    #[test]
    fn only_equal_digests_are_intact() {
        assert!(image_intact(HASH, HASH));
        assert!(!image_intact(HASH, &HASH.replace('9', "8")));
    }
}
