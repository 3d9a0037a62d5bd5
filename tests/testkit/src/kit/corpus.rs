//! `tests/vectors/conformance.json` and `http.json` as typed data; the format is in
//! tests/README.md. Unknown fields are refused, so a format change cannot pass unnoticed.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// `tests/vectors/`.
pub fn vectors_dir() -> PathBuf {
    [env!("CARGO_MANIFEST_DIR"), "..", "vectors"]
        .iter()
        .collect()
}

/// Which decide path a corpus goes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Entry {
    /// conformance.json: decide inputs (`decide`).
    #[default]
    Decide,
    /// http.json: HTTP decide inputs (`decide_http`).
    Http,
}

/// One vector file.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Corpus {
    pub about: String,
    pub now: i64,
    /// Load config texts by name, exactly as a host must load them.
    pub loads: BTreeMap<String, String>,
    pub cases: Vec<Case>,
    /// Which decide path the cases go through (not in the file: which file it is).
    #[serde(skip)]
    pub entry: Entry,
}

/// One case: exact input bytes, the expectation written by hand and the bytes the engine gave.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    pub name: String,
    pub description: String,
    /// A key of [`Corpus::loads`].
    pub load: String,
    /// The decide input, as given (some are deliberately not JSON).
    pub input: String,
    /// What the host's replay store answers for this decision, when it matters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay: Option<Replay>,
    pub expect: Expect,
    /// The exact canonical decision bytes.
    pub output: String,
}

/// A replay store's answer: the jtis it already held, or that it could not be reached.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Replay {
    pub replayed: Vec<String>,
    #[serde(default, skip_serializing_if = "core::ops::Not::not")]
    pub store_error: bool,
}

/// The decision and reason codes a case must give.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    pub decision: String,
    pub codes: Vec<String>,
}

impl Corpus {
    /// `tests/vectors/conformance.json`.
    pub fn conformance() -> Corpus {
        Self::read("conformance.json", Entry::Decide)
    }

    /// `tests/vectors/http.json`.
    pub fn http() -> Corpus {
        Self::read("http.json", Entry::Http)
    }

    /// Both corpora.
    pub fn all() -> [Corpus; 2] {
        [Self::conformance(), Self::http()]
    }

    fn read(file: &str, entry: Entry) -> Corpus {
        let path = vectors_dir().join(file);
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut c: Corpus = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{}: not a corpus: {e}", path.display()));
        c.entry = entry;
        c
    }

    /// The file's name.
    pub fn file(&self) -> &'static str {
        match self.entry {
            Entry::Decide => "conformance.json",
            Entry::Http => "http.json",
        }
    }

    /// The case called `name`.
    pub fn case(&self, name: &str) -> &Case {
        self.cases
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("{}: no case {name}", self.file()))
    }

    /// The load config text called `name`.
    pub fn load(&self, name: &str) -> &str {
        self.loads
            .get(name)
            .unwrap_or_else(|| panic!("{}: no load {name}", self.file()))
    }
}
