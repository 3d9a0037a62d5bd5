//! Reading and writing the files the CLI works on, with errors that say which file and how to
//! fix it.

use policy_core::Code;
use std::io::Read as _;
use std::path::Path;

use policy_core::jose::{PrivateJwk, PublicJwk};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{CliError, Kind, Result};

/// The most the CLI reads of a file it was named (a registry, issuers, data, settings, bundle
/// contents, a bundle, a key, a token): everything it reads ends up in a bundle (at most
/// [`policy_core::limits::MAX_BUNDLE_BYTES`]) or is smaller, so a larger file is refused
/// rather than read whole.
pub const MAX_FILE_BYTES: usize = policy_core::limits::MAX_BUNDLE_BYTES + 64 * 1024;

/// Nesting depth allowed in the YAML/JSON files the CLI reads (the core caps bundle payloads
/// itself).
const MAX_DOC_DEPTH: usize = 64;

fn unreadable(path: &Path, e: &std::io::Error) -> CliError {
    let what = match e.kind() {
        std::io::ErrorKind::NotFound => "does not exist".to_string(),
        std::io::ErrorKind::PermissionDenied => "is not readable (permission denied)".to_string(),
        _ => format!("cannot be read ({e})"),
    };
    CliError::new(
        Kind::NotFound,
        Code::FileNotFound,
        format!("{} {what}", path.display()),
    )
    .hint("check the path")
}

/// Reads at most `max + 1` bytes of a file (`-` is stdin), so the caller can tell "over `max`"
/// without ever holding more; a missing or unreadable file is [`Kind::NotFound`].
pub fn read_upto(path: &Path, max: usize) -> Result<Vec<u8>> {
    let cap = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    let mut buf = Vec::new();
    if path.as_os_str() == "-" {
        std::io::stdin()
            .lock()
            .take(cap)
            .read_to_end(&mut buf)
            .map_err(|e| {
                CliError::new(
                    Kind::NotFound,
                    Code::FileUnreadable,
                    format!("cannot read stdin: {e}"),
                )
            })?;
        return Ok(buf);
    }
    let file = std::fs::File::open(path).map_err(|e| unreadable(path, &e))?;
    file.take(cap)
        .read_to_end(&mut buf)
        .map_err(|e| unreadable(path, &e))?;
    Ok(buf)
}

/// Reads a whole file of at most `max` bytes; a larger one is refused (`file.too_large`).
pub fn read_max(path: &Path, max: usize) -> Result<Vec<u8>> {
    let buf = read_upto(path, max)?;
    if buf.len() > max {
        let name = if path.as_os_str() == "-" {
            "stdin".to_string()
        } else {
            path.display().to_string()
        };
        return Err(CliError::invalid(
            Code::FileTooLarge,
            format!("{name} is over the {max}-byte limit"),
        )
        .hint("nothing Mandate reads from a file is this large; check the path"));
    }
    Ok(buf)
}

/// Reads a whole file (at most [`MAX_FILE_BYTES`]). `-` reads stdin.
pub fn read(path: &Path) -> Result<Vec<u8>> {
    read_max(path, MAX_FILE_BYTES)
}

/// Reads a signed bundle file; one over the core's bundle limit is refused as
/// `bundle.too_large` (exit 6), as the engine would refuse it.
pub fn read_bundle(path: &Path) -> Result<String> {
    // A trailing newline (or a little whitespace) is trimmed before the engine sees it.
    let max = policy_core::limits::MAX_BUNDLE_BYTES + 1024;
    let bytes = read_upto(path, max)?;
    if bytes.len() > max {
        return Err(CliError::new(
            Kind::Bundle,
            Code::BundleTooLarge,
            format!(
                "{} is over the {}-byte bundle limit",
                path.display(),
                policy_core::limits::MAX_BUNDLE_BYTES
            ),
        )
        .hint("a bundle holds a registry, policies and data; keep it under the limit"));
    }
    String::from_utf8(bytes).map_err(|_| {
        CliError::invalid(
            Code::FileNotUtf8,
            format!("{} is not UTF-8 text", path.display()),
        )
    })
}

/// Parses JSON strictly, as the core does ([`policy_core::json::parse_strict`]): a document
/// with a duplicate member name is refused, not read as "the last one wins".
pub fn parse_json_strict(bytes: &[u8]) -> core::result::Result<Value, String> {
    policy_core::json::parse_strict(bytes, bytes.len(), MAX_DOC_DEPTH).map_err(|e| e.to_string())
}

pub fn read_string(path: &Path) -> Result<String> {
    let bytes = read(path)?;
    String::from_utf8(bytes).map_err(|_| {
        CliError::invalid(
            Code::FileNotUtf8,
            format!("{} is not UTF-8 text", path.display()),
        )
    })
}

/// Whether a path names a YAML file (by extension); everything else is JSON.
pub fn is_yaml(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    )
}

/// Parses YAML or JSON (by extension) into `T`, with the parser's line/column in the message.
pub fn parse_doc<T: DeserializeOwned>(path: &Path, bytes: &[u8]) -> Result<T> {
    if is_yaml(path) {
        // YAML keys must be unique; serde_norway's own Value refuses duplicates (a map or struct
        // deserialized directly would keep the last), so check that first.
        serde_norway::from_slice::<serde_norway::Value>(bytes).map_err(|e| {
            CliError::invalid(
                Code::YamlMalformed,
                format!("{} is not valid YAML: {e}", path.display()),
            )
            .hint("fix the file (see cli/README.md for its format)")
        })?;
        serde_norway::from_slice(bytes).map_err(|e| {
            CliError::invalid(
                Code::YamlMalformed,
                format!(
                    "{} is not valid YAML of the expected shape: {e}",
                    path.display()
                ),
            )
            .hint("fix the file (see cli/README.md for its format)")
        })
    } else {
        parse_json_strict(bytes).map_err(|e| {
            CliError::invalid(
                Code::JsonMalformed,
                format!("{} is not valid JSON: {e}", path.display()),
            )
            .hint("fix the file (see cli/README.md for its format)")
        })?;
        serde_json::from_slice(bytes).map_err(|e| {
            CliError::invalid(
                Code::JsonMalformed,
                format!(
                    "{} is not valid JSON of the expected shape: {e}",
                    path.display()
                ),
            )
            .hint("fix the file (see cli/README.md for its format)")
        })
    }
}

/// Reads and parses a YAML or JSON file.
pub fn read_doc<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let bytes = read(path)?;
    parse_doc(path, &bytes)
}

/// Serializes as YAML or JSON (by extension).
pub fn render_doc<T: Serialize>(path: &Path, value: &T) -> Result<Vec<u8>> {
    if is_yaml(path) {
        serde_norway::to_string(value)
            .map(String::into_bytes)
            .map_err(|e| CliError::failure(format!("cannot write YAML: {e}")))
    } else {
        let mut out = serde_json::to_vec_pretty(value)
            .map_err(|e| CliError::failure(format!("cannot write JSON: {e}")))?;
        out.push(b'\n');
        Ok(out)
    }
}

/// Writes a file atomically (temporary file, then rename), creating parent directories.
pub fn write(path: &Path, bytes: &[u8], private: bool) -> Result<()> {
    let fail = |e: std::io::Error| {
        CliError::new(
            Kind::NotFound,
            Code::FileUnwritable,
            format!("cannot write {}: {e}", path.display()),
        )
        .hint("check that the directory exists and is writable")
    };
    if let Some(parent) = path.parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent).map_err(fail)?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        if private {
            use std::os::unix::fs::OpenOptionsExt as _;
            opts.mode(0o600);
        }
        #[cfg(not(unix))]
        let _ = private;
        let mut f = opts.open(&tmp).map_err(fail)?;
        std::io::Write::write_all(&mut f, bytes).map_err(fail)?;
        f.sync_all().map_err(fail)?;
    }
    std::fs::rename(&tmp, path).map_err(fail)
}

fn key_value(path: &Path) -> Result<Value> {
    let bytes = read(path)?;
    parse_json_strict(&bytes).map_err(|e| {
        CliError::invalid(
            Code::KeyMalformed,
            format!("{} is not a JWK (JSON): {e}", path.display()),
        )
        .hint("make one with `mandate keygen`")
    })
}

fn key_error(path: &Path, e: &policy_core::jose::JoseError) -> CliError {
    CliError::invalid(
        Code::KeyInvalid,
        format!(
            "{}: {e} (Mandate keys are EC P-256, for ES256)",
            path.display()
        ),
    )
    .hint("make one with `mandate keygen`")
}

/// Reads a private P-256 JWK.
pub fn read_private_key(path: &Path) -> Result<PrivateJwk> {
    let v = key_value(path)?;
    if v.get("d").is_none() && v.get("kty").and_then(Value::as_str) == Some("EC") {
        return Err(CliError::invalid(
            Code::KeyNotPrivate,
            format!(
                "{} is a public key, but a private key (with \"d\") is needed here",
                path.display()
            ),
        )
        .hint("pass the private half written by `mandate keygen`"));
    }
    PrivateJwk::from_value(&v).map_err(|e| key_error(path, &e))
}

/// Reads a public P-256 JWK; a private JWK is accepted and its public half used.
pub fn read_public_key(path: &Path) -> Result<PublicJwk> {
    let v = key_value(path)?;
    if v.get("d").is_some() {
        return PrivateJwk::from_value(&v)
            .map(|k| k.public().clone())
            .map_err(|e| key_error(path, &e));
    }
    PublicJwk::from_value(&v).map_err(|e| key_error(path, &e))
}

/// The base64url SHA-256 of a file (`-`: stdin), read in pieces: a body of any size is hashed
/// without being held in memory.
pub fn sha256_file(path: &Path) -> Result<String> {
    use sha2::Digest as _;
    let mut hasher = sha2::Sha256::new();
    let mut buf = vec![0_u8; 64 * 1024];
    let mut reader: Box<dyn std::io::Read> = if path.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::fs::File::open(path).map_err(|e| unreadable(path, &e))?)
    };
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(unreadable(path, &e)),
        };
        hasher.update(buf.get(..n).unwrap_or(&[]));
    }
    Ok(policy_core::b64::encode(&hasher.finalize()))
}

/// A token argument: the token itself, `@file`, or `-` for stdin.
pub fn token_arg(arg: &str) -> Result<String> {
    let raw = if arg == "-" {
        String::from_utf8(read(Path::new("-"))?)
            .map_err(|_| CliError::invalid(Code::TokenMalformed, "stdin is not UTF-8"))?
    } else if let Some(path) = arg.strip_prefix('@') {
        read_string(Path::new(path))?
    } else {
        arg.to_string()
    };
    let t = raw.trim().to_string();
    if t.split('.').count() != 3 {
        return Err(CliError::invalid(
            Code::TokenMalformed,
            "a token must be a compact JWS (three base64url parts separated by dots)",
        )
        .hint("pass the token itself, @FILE, or - for stdin"));
    }
    Ok(t)
}

/// The system clock in Unix seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A Unix time for people: `2026-11-29T06:30:00Z`.
pub fn fmt_time(t: i64) -> String {
    // Civil-from-days (Howard Hinnant's algorithm), to avoid a date crate for one format.
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        (secs % 3600) / 60,
        secs % 60
    )
}

/// Parses a duration: `90`, `90s`, `15m`, `24h`, `7d`.
pub fn parse_duration(s: &str) -> core::result::Result<i64, String> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().last() {
        Some((i, 's')) => (s.get(..i), 1),
        Some((i, 'm')) => (s.get(..i), 60),
        Some((i, 'h')) => (s.get(..i), 3600),
        Some((i, 'd')) => (s.get(..i), 86_400),
        _ => (Some(s), 1),
    };
    let n: i64 = num
        .unwrap_or("")
        .parse()
        .map_err(|_| format!("`{s}` is not a duration (e.g. 90s, 15m, 24h, 7d)"))?;
    if n <= 0 {
        return Err(format!("`{s}` must be positive"));
    }
    Ok(n.saturating_mul(mult))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_times() {
        assert_eq!(fmt_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(fmt_time(1_800_000_000), "2027-01-15T08:00:00Z");
    }

    #[test]
    fn parses_durations() {
        assert_eq!(parse_duration("15m"), Ok(900));
        assert_eq!(parse_duration("90"), Ok(90));
        assert!(parse_duration("x").is_err());
    }
}
