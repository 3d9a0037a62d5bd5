//! Strict base64url (RFC 7515 §2): no padding, no whitespace, canonical trailing bits.
//!
//! A lenient decoder lets one signature have many encodings, which breaks replay caches keyed
//! by token bytes and the byte-for-byte determinism every host relies on.

use alloc::{string::String, vec::Vec};
use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

const STRICT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(false),
);

/// Encodes without padding.
#[must_use]
pub fn encode(bytes: &[u8]) -> String {
    STRICT.encode(bytes)
}

/// Decodes strictly; `None` on any deviation.
#[must_use]
pub fn decode(s: &str) -> Option<Vec<u8>> {
    STRICT.decode(s.as_bytes()).ok()
}

/// Decodes into exactly `N` bytes.
#[must_use]
pub fn decode_array<const N: usize>(s: &str) -> Option<[u8; N]> {
    decode(s)?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_padding_whitespace_and_noncanonical_bits() {
        assert_eq!(decode("AQ").as_deref(), Some(&[1u8][..]));
        assert!(decode("AQ==").is_none());
        assert!(decode("A Q").is_none());
        assert!(decode("AQ\n").is_none());
        assert!(decode("AR").is_none(), "trailing bits set");
        assert!(decode("+/").is_none(), "standard alphabet");
        assert!(decode("A").is_none(), "impossible length");
    }
}
