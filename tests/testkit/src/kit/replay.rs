//! `tests/vectors/replay.json` as typed data, the trait every replay store implements for it,
//! and the one runner over it. Format and semantics: tests/README.md, "Replay vectors".

use super::corpus::vectors_dir;
use super::report::Report;
use serde::{Deserialize, Serialize};

/// The replay vector file.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ReplayCorpus {
    pub about: String,
    pub max_ttl_seconds: i64,
    pub default_capacity: usize,
    pub redis: RedisVectors,
    pub cases: Vec<ReplayCase>,
}

/// The exact `SET <key> 1 NX PX <px>` every Redis store sends with the default prefix.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RedisVectors {
    pub prefix: String,
    pub sets: Vec<RedisSet>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RedisSet {
    pub now: i64,
    pub entry: UseOnce,
    pub key: String,
    pub px: i64,
}

/// One `use_once` entry of a decision.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct UseOnce {
    pub kind: String,
    pub jti: String,
    pub exp: i64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ReplayCase {
    pub name: String,
    pub description: String,
    pub store: StoreConfig,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// The bound of a memory store; `None` for the default.
    pub capacity: Option<usize>,
}

/// One store call: the entries of one decision at its `now`, and the outcome it must give.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub now: i64,
    pub entries: Vec<UseOnce>,
    pub expect: Expected,
    /// With [`Expected::Replayed`]: exactly the jtis held, in entry order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replayed: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Expected {
    Inserted,
    Replayed,
    StoreError,
}

impl ReplayCorpus {
    /// `tests/vectors/replay.json`.
    pub fn load() -> ReplayCorpus {
        let path = vectors_dir().join("replay.json");
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{}: not a replay corpus: {e}", path.display()))
    }
}

/// A replay store under test.
pub trait ReplayHost {
    /// Names the store in reports.
    fn name(&self) -> &str;

    /// Opens a fresh, empty store for `case`; `false` skips the case (a store without a
    /// capacity of its own skips the bounded cases).
    fn open(&mut self, case: &ReplayCase) -> bool;

    /// Records the entries of one decision at `now` in the open store: the jtis already held,
    /// in entry order, or the error code of a failed call.
    fn record(&mut self, entries: &[UseOnce], now: i64) -> Result<Vec<String>, String>;
}

/// Runs every case of `corpus` the host opens, step by step, and reports each step whose
/// outcome differs.
pub fn run_replay_corpus(host: &mut impl ReplayHost, corpus: &ReplayCorpus) -> Report {
    let mut report = Report::new(host.name(), "replay.json");
    for case in &corpus.cases {
        if !host.open(case) {
            continue;
        }
        report.ran += 1;
        for (i, step) in case.steps.iter().enumerate() {
            let got = host.record(&step.entries, step.now);
            let ok = match (step.expect, &got) {
                (Expected::Inserted, Ok(r)) => r.is_empty(),
                (Expected::Replayed, Ok(r)) => !r.is_empty() && *r == step.replayed,
                (Expected::StoreError, Err(code)) => code == "replay.store_unavailable",
                _ => false,
            };
            if !ok {
                report.mismatch(
                    &case.name,
                    format!(
                        "step {i} (now {}): expected {:?} {:?}, got {got:?}",
                        step.now, step.expect, step.replayed
                    ),
                );
            }
        }
    }
    report
}
