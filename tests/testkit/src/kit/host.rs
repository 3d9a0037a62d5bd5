//! The runner trait every decision host implements, and the one runner over it.

use super::corpus::{Case, Corpus, Entry, Expect, Replay};
use super::report::Report;
use serde_json::Value;

/// A decision host under test, bytes in and bytes out, as every binding exposes the core.
pub trait Host {
    /// Names the host in reports (`native`, `wasm`, `ring`, …).
    fn name(&self) -> &str;

    /// Loads a config; the decisions that follow use it until the next load. A config the
    /// core refuses still loads (its decisions carry the bundle code); `Err` says the host
    /// itself failed, or answered the load differently from the core.
    fn load(&mut self, config: &[u8]) -> Result<(), String>;

    /// Decides a decide input. `replay`, when given, is what the host's replay store must
    /// answer for this decision (the jtis it already held, or an outage).
    fn decide(&mut self, input: &[u8], replay: Option<&Replay>) -> Vec<u8>;

    /// Decides an HTTP decide input, with `replay` as for [`Host::decide`].
    fn decide_http(&mut self, input: &[u8], replay: Option<&Replay>) -> Vec<u8>;
}

/// Runs every case of `corpus` on `host`: loads each named config some case uses, once; decides its cases
/// (through [`Host::decide`] or [`Host::decide_http`], as the corpus says) and compares the
/// output bytes with the vector's and the decision and codes with its expectation.
pub fn run_corpus(host: &mut impl Host, corpus: &Corpus) -> Report {
    let mut report = Report::new(host.name(), corpus.file());
    for (load, config) in &corpus.loads {
        let cases: Vec<&Case> = corpus.cases.iter().filter(|c| &c.load == load).collect();
        if cases.is_empty() {
            continue; // a host may keep its previous engine on a failed load
        }
        if let Err(e) = host.load(config.as_bytes()) {
            for c in &cases {
                report.mismatch(&c.name, format!("load {load}: {e}"));
            }
            report.ran += cases.len();
            continue;
        }
        for case in cases {
            let input = case.input.as_bytes();
            let got = match corpus.entry {
                Entry::Decide => host.decide(input, case.replay.as_ref()),
                Entry::Http => host.decide_http(input, case.replay.as_ref()),
            };
            report.ran += 1;
            if let Some(problem) = check(case, &got) {
                report.mismatch(&case.name, problem);
            }
        }
    }
    for c in &corpus.cases {
        if !corpus.loads.contains_key(&c.load) {
            report.mismatch(&c.name, format!("unknown load {}", c.load));
        }
    }
    report
}

/// `None` when `got` is the case's bytes and expectation, else what differs.
fn check(case: &Case, got: &[u8]) -> Option<String> {
    let mut problems = Vec::new();
    match decision_and_codes(got) {
        Some(seen) if seen == case.expect => {}
        Some(seen) => problems.push(format!(
            "expected {} {:?}, got {} {:?}",
            case.expect.decision, case.expect.codes, seen.decision, seen.codes
        )),
        None => problems.push("output is not a decision document".to_owned()),
    }
    if got != case.output.as_bytes() {
        problems.push(format!(
            "output bytes differ\n  want {}\n  got  {}",
            case.output,
            String::from_utf8_lossy(got)
        ));
    }
    (!problems.is_empty()).then(|| problems.join("; "))
}

/// The decision and reason codes of a decision document.
pub(crate) fn decision_and_codes(doc: &[u8]) -> Option<Expect> {
    let v: Value = serde_json::from_slice(doc).ok()?;
    let decision = v.get("decision")?.as_str()?.to_owned();
    let codes = v
        .get("reasons")?
        .as_array()?
        .iter()
        .map(|r| r.get("code").and_then(Value::as_str).map(String::from))
        .collect::<Option<Vec<String>>>()?;
    Some(Expect { decision, codes })
}
