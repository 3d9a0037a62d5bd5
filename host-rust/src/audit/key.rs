//! Audit keys: the key file format and its loader ([`read_key_file`]), and the chain key of a
//! keyed log ([`ChainKey`]).

use std::path::Path;

use hmac::{Hmac, KeyInit as _, Mac as _};
use sha2::Sha256;

use super::{AuditError, GENESIS, hex, line_hash};

/// The `chain` member of every record and of the head of a keyed log.
pub const CHAIN_HMAC_SHA256: &str = "hmac-sha256";

/// The shortest key a key file (or [`ChainKey::new`]) may hold, in bytes.
pub const MIN_KEY_BYTES: usize = 32;

/// A key file is a few dozen bytes; anything much longer is not one.
const MAX_KEY_FILE_BYTES: u64 = 4096;

/// Reads an audit key file: the key's bytes.
///
/// A key file holds the key as hex (upper or lower case), at least 64 digits (32 bytes), with
/// any whitespace around it (a trailing newline) ignored: `openssl rand -hex 32 > chain.key`.
/// The same format and loader serve the chain key ([`ChainKey::from_file`]) and the redaction
/// key ([`super::Redactor::from_key_file`]); they must be two different keys (see
/// [`ChainKey`]). Keep the file readable by the writer (and the verifier) only.
///
/// # Errors
/// [`AuditError::Io`] when the file cannot be read; [`AuditError::KeyInvalid`] when it is not
/// hex of at least [`MIN_KEY_BYTES`] bytes.
pub fn read_key_file(path: impl AsRef<Path>) -> Result<Vec<u8>, AuditError> {
    let path = path.as_ref();
    let invalid = |why: &str| AuditError::KeyInvalid(format!("{}: {why}", path.display()));
    if std::fs::metadata(path)?.len() > MAX_KEY_FILE_BYTES {
        return Err(invalid("too large for a key file"));
    }
    let bytes = std::fs::read(path)?;
    parse_hex_key(&bytes).map_err(invalid)
}

/// The key of a key file's text: hex, whitespace around it ignored, at least 32 bytes.
fn parse_hex_key(text: &[u8]) -> Result<Vec<u8>, &'static str> {
    let text = text.trim_ascii();
    if !text.len().is_multiple_of(2) {
        return Err("not hex (an odd number of digits)");
    }
    let digit = |b: u8| {
        char::from(b)
            .to_digit(16)
            .and_then(|d| u8::try_from(d).ok())
    };
    let key = text
        .chunks_exact(2)
        .map(|pair| match pair {
            [hi, lo] => Some((digit(*hi)? << 4) | digit(*lo)?),
            _ => None,
        })
        .collect::<Option<Vec<u8>>>()
        .ok_or("not hex (the key is written as hex digits, e.g. by `openssl rand -hex 32`)")?;
    if key.len() < MIN_KEY_BYTES {
        return Err("shorter than 32 bytes (64 hex digits)");
    }
    Ok(key)
}

/// The HMAC key of a keyed audit chain ([`super::AuditOptions::chain_key`]). Its `Debug` never
/// shows the key.
///
/// A record's `prev` is [`ChainKey::link`] of the previous line, the first record's
/// [`ChainKey::genesis`]: without the key nobody can compute a link, so nobody can edit a
/// record, or forge a tail, and chain on from it.
///
/// It must not be the redaction key ([`super::Redactor`]; [`super::AuditLog::open`] refuses
/// the same key for both): a redacted field is the HMAC of a value the caller chose, so under a
/// shared key a caller could make the log disclose the chain link of a line of its choosing.
#[derive(Clone, PartialEq, Eq)]
pub struct ChainKey(Vec<u8>);

impl core::fmt::Debug for ChainKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ChainKey").finish_non_exhaustive()
    }
}

impl ChainKey {
    /// A chain key of these bytes (at least [`MIN_KEY_BYTES`] of them, random).
    ///
    /// # Errors
    /// [`AuditError::KeyInvalid`] when the key is shorter.
    pub fn new(key: impl Into<Vec<u8>>) -> Result<ChainKey, AuditError> {
        let key = key.into();
        if key.len() < MIN_KEY_BYTES {
            return Err(AuditError::KeyInvalid(format!(
                "a chain key is at least {MIN_KEY_BYTES} bytes, this one {}",
                key.len()
            )));
        }
        Ok(ChainKey(key))
    }

    /// The chain key in the key file at `path` (see [`read_key_file`]).
    ///
    /// # Errors
    /// As [`read_key_file`].
    pub fn from_file(path: impl AsRef<Path>) -> Result<ChainKey, AuditError> {
        read_key_file(path).map(ChainKey)
    }

    /// The chain link of one line (without its newline): hex HMAC-SHA256 under this key. It is
    /// the next record's `prev` and the line's [`super::Receipt`] hash.
    #[must_use]
    pub fn link(&self, line: &[u8]) -> String {
        // HMAC takes keys of any length; the error arm cannot happen for Hmac<Sha256>.
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.0) else {
            return GENESIS.to_string();
        };
        mac.update(line);
        hex(&mac.finalize().into_bytes())
    }

    /// The first record's `prev` (and an empty log's head): the link of the empty line.
    #[must_use]
    pub fn genesis(&self) -> String {
        self.link(b"")
    }

    pub(super) fn bytes(&self) -> &[u8] {
        &self.0
    }
}

/// The chain link of `line`: SHA-256, or HMAC-SHA256 under `key`.
pub(super) fn link(key: Option<&ChainKey>, line: &[u8]) -> String {
    key.map_or_else(|| line_hash(line), |k| k.link(line))
}

/// The first record's `prev`: [`GENESIS`], or the key's genesis link.
pub(super) fn genesis(key: Option<&ChainKey>) -> String {
    key.map_or_else(|| GENESIS.to_string(), ChainKey::genesis)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn key_files_are_hex_of_32_bytes_or_more() {
        let hex64 = "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF";
        let key = parse_hex_key(format!("  {hex64}\n").as_bytes()).unwrap();
        assert_eq!(key.len(), 32);
        assert_eq!(key.first(), Some(&0x00));
        assert_eq!(key.last(), Some(&0xff));
        assert!(parse_hex_key(hex64.get(..62).unwrap().as_bytes()).is_err());
        assert!(parse_hex_key(format!("{hex64}0").as_bytes()).is_err());
        assert!(parse_hex_key(format!("{hex64}zz").as_bytes()).is_err());
        assert!(parse_hex_key(format!("{hex64} 00").as_bytes()).is_err());
        assert!(parse_hex_key(b"").is_err());
    }

    #[test]
    fn links_are_hmac_sha256() {
        // RFC 4231, test case 6 (a key longer than the block).
        let k = ChainKey::new([0xaa; 131]).unwrap();
        assert_eq!(
            k.link(b"Test Using Larger Than Block-Size Key - Hash Key First"),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
        assert_eq!(k.genesis(), k.link(b""));
        assert!(ChainKey::new([7u8; 31]).is_err());
        assert_eq!(format!("{k:?}"), "ChainKey { .. }");
    }
}
