//! `tests/vectors/replace.json` as typed data, the trait a host that reloads bundles implements,
//! and its runner: may a freshly loaded bundle replace the one serving?

use super::corpus::vectors_dir;
use super::report::Report;
use serde::{Deserialize, Serialize};

/// The replacement vectors.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ReplaceCorpus {
    pub about: String,
    pub cases: Vec<ReplaceCase>,
}

/// One case: what serves, what was loaded next, when, and the refusal's code (`None`: it
/// replaces).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ReplaceCase {
    pub name: String,
    pub description: String,
    /// The load config text serving (`None`: nothing serves).
    pub serving: Option<String>,
    /// The load config text loaded next.
    pub next: String,
    pub now: i64,
    pub expect: Option<String>,
}

impl ReplaceCorpus {
    /// `tests/vectors/replace.json`.
    pub fn read() -> ReplaceCorpus {
        let path = vectors_dir().join("replace.json");
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{}: not a replacement corpus: {e}", path.display()))
    }
}

/// A host that reloads bundles.
pub trait ReplaceHost {
    /// Names the host in reports.
    fn name(&self) -> &str;

    /// Starts from `serving` (installed as it is, loaded or not; `None`: nothing loaded), then
    /// offers `next` at `now`. Answers the refusal's code, `None` when `next` now serves. `Err`
    /// says the host itself failed.
    fn replace(
        &mut self,
        serving: Option<&[u8]>,
        next: &[u8],
        now: i64,
    ) -> Result<Option<String>, String>;
}

/// Runs every case on `host` and compares the refusal code with the case's.
pub fn run_replace_corpus(host: &mut impl ReplaceHost, corpus: &ReplaceCorpus) -> Report {
    let mut report = Report::new(host.name(), "replace.json");
    for case in &corpus.cases {
        report.ran += 1;
        let serving = case.serving.as_deref().map(str::as_bytes);
        match host.replace(serving, case.next.as_bytes(), case.now) {
            Ok(got) if got == case.expect => {}
            Ok(got) => report.mismatch(
                &case.name,
                format!("refusal {got:?}, expected {:?}", case.expect),
            ),
            Err(e) => report.mismatch(&case.name, format!("host failed: {e}")),
        }
    }
    report
}
