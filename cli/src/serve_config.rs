//! `mandate serve --config serve.yaml`: every serve flag, in a file.
//!
//! The file is a YAML mapping whose keys are the flags' long names as on the command line
//! (`listen`, `trust`, `grant-key`, `route`, …). A scalar is the flag's value; a list repeats a
//! repeatable flag (`trust`, `route`, `audience`); `true` sets a switch, `false` and `null` leave
//! a setting out. The file's settings are read as if they were written on the command line right
//! after `serve`, so a flag that is also given on the command line wins, and a repeatable one adds
//! to the file's. An unknown key, a nested mapping, a list for a flag that takes one value, or a
//! `config` key is refused (`config.invalid`): a misspelled or ambiguous setting must not be
//! silently ignored or silently resolved.
//!
//! Paths in the file are read like paths on the command line, relative to the working
//! directory: write absolute paths in a deployed file.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::{Args as _, Command};
use policy_core::reason::Code;
use serde_norway::Value;

use crate::error::{CliError, Result};
use crate::serve_cmd::ServeArgs;

/// Largest config file read, in bytes.
const MAX_CONFIG_BYTES: usize = 1024 * 1024;

/// `argv` with the settings of `serve --config FILE` inserted right after `serve`; `argv`
/// itself when the command is not `serve` or names no config file.
///
/// # Errors
/// The file cannot be read, is not YAML, or holds a setting serve does not have.
pub fn expand(argv: &[OsString]) -> Result<Vec<OsString>> {
    // The subcommand is the first argument that is not a flag (`--json` is the only global).
    let sub = argv
        .iter()
        .enumerate()
        .skip(1)
        .find(|(_, a)| !a.to_str().is_some_and(|s| s.starts_with('-')));
    let Some((at, _)) = sub.filter(|(_, a)| *a == "serve") else {
        return Ok(argv.to_vec());
    };
    let Some(path) = config_path(argv.get(at + 1..).unwrap_or_default()) else {
        return Ok(argv.to_vec());
    };
    let settings = read(&path)?;
    let mut out = argv.get(..=at).unwrap_or_default().to_vec();
    out.extend(settings);
    out.extend(argv.get(at + 1..).unwrap_or_default().iter().cloned());
    Ok(out)
}

/// Serve's flags from `argv` (the process's arguments) with its config file read again: what
/// SIGHUP applies.
///
/// # Errors
/// As [`expand`], or the settings are not valid flags (`config.invalid`).
pub fn reparse(argv: &[OsString]) -> Result<ServeArgs> {
    let expanded = expand(argv)?;
    let at = expanded.iter().position(|a| a == "serve").unwrap_or(0);
    let serve_args = expanded
        .get(at..)
        .unwrap_or_default()
        .iter()
        .filter(|a| *a != "--json");
    let matches = ServeArgs::augment_args(Command::new("serve"))
        .try_get_matches_from(serve_args)
        .map_err(|e| CliError::invalid(Code::ConfigInvalid, e.to_string().trim().to_string()))?;
    <ServeArgs as clap::FromArgMatches>::from_arg_matches(&matches)
        .map_err(|e| CliError::invalid(Code::ConfigInvalid, e.to_string().trim().to_string()))
}

/// The value of `--config` among serve's arguments (`--config F` or `--config=F`).
fn config_path(args: &[OsString]) -> Option<PathBuf> {
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--config" {
            return it.next().map(PathBuf::from);
        }
        if let Some(v) = a.to_str().and_then(|s| s.strip_prefix("--config=")) {
            return Some(PathBuf::from(v));
        }
        if a == "--" {
            return None;
        }
    }
    None
}

/// The file's settings as command-line arguments (`--name=value`).
fn read(path: &Path) -> Result<Vec<OsString>> {
    let bytes = crate::io::read_max(path, MAX_CONFIG_BYTES)?;
    let doc: Value = serde_norway::from_slice(&bytes).map_err(|e| {
        CliError::invalid(
            Code::YamlMalformed,
            format!("{} is not valid YAML: {e}", path.display()),
        )
        .hint("fix the file (cli/README.md, \"serve --config\")")
    })?;
    let invalid = |msg: String| {
        CliError::invalid(Code::ConfigInvalid, format!("{}: {msg}", path.display()))
            .hint("use serve's flag names as keys (`mandate serve --help`)")
    };
    let map = match doc {
        Value::Mapping(m) => m,
        Value::Null => return Ok(Vec::new()),
        _ => {
            return Err(invalid(
                "the file must hold a mapping of serve settings".into(),
            ));
        }
    };
    let flags = flags();
    let mut out = Vec::new();
    for (key, value) in map {
        let Value::String(name) = key else {
            return Err(invalid(format!("a key is not a name: {key:?}")));
        };
        let Some(&(_, repeatable)) = flags.iter().find(|(f, _)| *f == name) else {
            return Err(invalid(format!("`{name}` is not a serve setting")));
        };
        if name == "config" {
            return Err(invalid("`config` cannot name another file".into()));
        }
        let items = match value {
            Value::Sequence(_) if !repeatable => {
                return Err(invalid(format!("`{name}` takes one value, not a list")));
            }
            Value::Sequence(items) => items,
            Value::Mapping(_) | Value::Tagged(_) => {
                return Err(invalid(format!(
                    "`{name}` must be a value or a list of values"
                )));
            }
            single => vec![single],
        };
        for item in items {
            match item {
                Value::String(v) => out.push(OsString::from(format!("--{name}={v}"))),
                Value::Number(n) => out.push(OsString::from(format!("--{name}={n}"))),
                Value::Bool(true) => out.push(OsString::from(format!("--{name}"))),
                Value::Bool(false) | Value::Null => {}
                _ => {
                    return Err(invalid(format!(
                        "`{name}` holds a value that is not a string, number or boolean"
                    )));
                }
            }
        }
    }
    Ok(out)
}

/// Serve's flags: each long name, and whether it may be given more than once.
fn flags() -> Vec<(String, bool)> {
    ServeArgs::augment_args(Command::new("serve"))
        .get_arguments()
        .filter_map(|a| {
            let repeatable = matches!(a.get_action(), clap::ArgAction::Append);
            a.get_long().map(|l| (l.to_string(), repeatable))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(items: &[&str]) -> Vec<OsString> {
        items.iter().map(OsString::from).collect()
    }

    fn file(text: &str) -> tempfile::NamedTempFile {
        let f = tempfile::Builder::new().suffix(".yaml").tempfile().unwrap();
        std::fs::write(f.path(), text).unwrap();
        f
    }

    #[test]
    fn settings_go_right_after_serve_so_the_command_line_wins() {
        let f =
            file("listen: 0.0.0.0:9\ntrust: [a.jwk, b.jwk]\nmax-body: 10\nunrouted: guardrails\n");
        let p = f.path().to_str().unwrap();
        let got = expand(&argv(&[
            "mandate",
            "--json",
            "serve",
            "--config",
            p,
            "--listen",
            "127.0.0.1:1",
        ]))
        .unwrap();
        assert_eq!(
            got,
            argv(&[
                "mandate",
                "--json",
                "serve",
                "--listen=0.0.0.0:9",
                "--trust=a.jwk",
                "--trust=b.jwk",
                "--max-body=10",
                "--unrouted=guardrails",
                "--config",
                p,
                "--listen",
                "127.0.0.1:1"
            ])
        );
    }

    #[test]
    fn unknown_nested_or_recursive_settings_are_refused() {
        for text in [
            "listn: 1\n",
            "config: other.yaml\n",
            "route: {a: 1}\n",
            "- a\n",
            "trust: [[a]]\n",
            // A list for a flag that takes one value would silently keep its last item.
            "listen: [127.0.0.1:1, 0.0.0.0:2]\n",
        ] {
            let f = file(text);
            let p = f.path().to_str().unwrap();
            let e = expand(&argv(&["mandate", "serve", &format!("--config={p}")])).unwrap_err();
            assert_eq!(e.code, Code::ConfigInvalid, "{text}");
        }
        let f = file("listen: [\n");
        let p = f.path().to_str().unwrap();
        let e = expand(&argv(&["mandate", "serve", "--config", p])).unwrap_err();
        assert_eq!(e.code, Code::YamlMalformed);
    }

    #[test]
    fn other_commands_and_no_config_pass_through() {
        let a = argv(&["mandate", "decide", "--config", "x"]);
        assert_eq!(expand(&a).unwrap(), a);
        let a = argv(&["mandate", "serve", "--bundle", "b"]);
        assert_eq!(expand(&a).unwrap(), a);
        // `serve` as another command's value is not the serve command.
        let a = argv(&["mandate", "token", "serve", "--config", "x"]);
        assert_eq!(expand(&a).unwrap(), a);
    }
}
