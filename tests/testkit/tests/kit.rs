//! The kit reads the vector files exactly (parse, re-serialize: the same JSON), the reference
//! host passes every corpus, and a wrong byte is reported by the case's name.
// Helpers outside #[test] functions fail the test by panicking; clippy.toml's *-in-tests
// options cover only #[test] functions, so this file still allows it for its helpers.
#![allow(clippy::unwrap_used)]

use serde_json::Value;
use std::collections::BTreeSet;
use testkit::kit::{
    CoreHost, Corpus, Host, Replay, ReplayCase, ReplayCorpus, ReplayHost, UseOnce, World,
    run_corpus, run_replay_corpus, vectors_dir,
};

fn file(name: &str) -> Value {
    serde_json::from_slice(&std::fs::read(vectors_dir().join(name)).unwrap()).unwrap()
}

#[test]
fn corpora_round_trip_exactly() {
    for c in Corpus::all() {
        assert_eq!(
            serde_json::to_value(&c).unwrap(),
            file(c.file()),
            "{}",
            c.file()
        );
    }
    let r = ReplayCorpus::load();
    assert_eq!(serde_json::to_value(&r).unwrap(), file("replay.json"));
}

#[test]
fn the_world_is_the_vectors_world() {
    let world = World::new();
    for c in Corpus::all() {
        let texts: Vec<(String, String)> = world
            .load_texts()
            .into_iter()
            .map(|(n, t)| (n.to_owned(), t))
            .collect();
        assert_eq!(texts, c.loads.clone().into_iter().collect::<Vec<_>>());
    }
}

#[test]
fn the_core_passes_every_corpus() {
    run_corpus(&mut CoreHost::new(), &Corpus::conformance()).assert_ok(140);
    run_corpus(&mut CoreHost::new(), &Corpus::http()).assert_ok(23);
}

/// The core with one case's output flipped.
struct Liar(CoreHost, &'static str);

impl Host for Liar {
    fn name(&self) -> &str {
        "liar"
    }
    fn load(&mut self, config: &[u8]) -> Result<(), String> {
        self.0.load(config)
    }
    fn decide(&mut self, input: &[u8], replay: Option<&Replay>) -> Vec<u8> {
        let out = self.0.decide(input, replay);
        if input == self.1.as_bytes() {
            String::from_utf8(out)
                .unwrap()
                .replace("allow", "deny")
                .into_bytes()
        } else {
            out
        }
    }
    fn decide_http(&mut self, input: &[u8], replay: Option<&Replay>) -> Vec<u8> {
        self.0.decide_http(input, replay)
    }
}

#[test]
fn a_mismatch_is_reported_by_name() {
    let corpus = Corpus::conformance();
    let case = corpus.case("seed/allow-trusted-network");
    let input: &'static str = Box::leak(case.input.clone().into_boxed_str());
    let report = run_corpus(&mut Liar(CoreHost::new(), input), &corpus);
    let names: Vec<&str> = report.mismatches.iter().map(|m| m.case.as_str()).collect();
    assert_eq!(names, ["seed/allow-trusted-network"], "{report}");
    assert_eq!(report.ran, corpus.cases.len());
}

/// A model store for the runner's own test: unbounded, remembers through `max(exp, now)`.
#[derive(Default)]
struct Model(Vec<(String, i64)>);

impl ReplayHost for Model {
    fn name(&self) -> &str {
        "model"
    }
    fn open(&mut self, case: &ReplayCase) -> bool {
        self.0.clear();
        case.store.capacity.is_none()
    }
    fn record(&mut self, entries: &[UseOnce], now: i64) -> Result<Vec<String>, String> {
        self.0.retain(|(_, until)| *until >= now);
        let mut replayed = Vec::new();
        for e in entries {
            let key = format!("{}:{}", e.kind, e.jti);
            if self.0.iter().any(|(k, _)| *k == key) {
                replayed.push(e.jti.clone());
            } else if i128::from(e.exp) - i128::from(now) + 1 > 3_155_760_000
                || e.kind.contains(':')
            {
                return Err("replay.store_unavailable".into());
            } else {
                self.0.push((key, e.exp.max(now)));
            }
        }
        Ok(replayed)
    }
}

#[test]
fn the_replay_runner_runs_the_cases_a_store_opens() {
    let corpus = ReplayCorpus::load();
    let report = run_replay_corpus(&mut Model::default(), &corpus);
    let unbounded = corpus
        .cases
        .iter()
        .filter(|c| c.store.capacity.is_none())
        .count();
    assert_eq!(report.ran, unbounded);
    // The model is naive about some cases; the report names each by its case.
    let names: BTreeSet<&str> = corpus.cases.iter().map(|c| c.name.as_str()).collect();
    assert!(
        report
            .mismatches
            .iter()
            .all(|m| names.contains(m.case.as_str()))
    );
}
