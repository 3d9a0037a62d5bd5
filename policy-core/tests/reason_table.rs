//! docs/reason-codes.md is the reason-code table, generated from `Code`. Regenerate with
//! `MANDATE_BLESS=1 cargo test -p policy-core --test reason_table`.

use policy_core::Code;
use policy_core::reason::Origin;
use testkit::kit::{Case, Corpus};

/// Where the code comes from, and an example: the first conformance vector that yields it, or
/// the test that covers a code no vector can carry.
fn example(code: Code, cases: &[Case]) -> String {
    let case = cases
        .iter()
        .find(|c| c.expect.codes.iter().any(|x| x == code.as_str()));
    match (case, code) {
        (Some(c), _) => format!("vector `{}`: {}", c.name, c.description),
        (None, Code::BundleTooLarge) => "`policy-core/tests/limits.rs`: a bundle over 1 MiB".into(),
        (None, Code::PolicyLimitExceeded) => {
            "`policy-core/tests/limits.rs`: a runaway guardrail (native wall-clock bound)".into()
        }
        (None, Code::HostLimitExceeded) => {
            "host-raised: `host-rust/tests/decider.rs` (wasmtime fuel and memory)".into()
        }
        (None, _) => "host-raised or an invariant failure; no input reaches it".into(),
    }
}

fn render() -> String {
    // Examples come from the decide corpus first, then the HTTP binding corpus.
    let vectors: Vec<Case> = Corpus::all().into_iter().flat_map(|c| c.cases).collect();
    let mut s = String::from(
        "# Reason codes\n\nGenerated from `policy-core/src/reason.rs` by `policy-core/tests/reason_table.rs`; do not edit.\n\
         A code never changes meaning. Every code a decision can carry has at least one conformance vector\n\
         (`tests/vectors/conformance.json`); the example column names the first one, or the test that covers the code.\n\n\
         | code | meaning | example |\n| --- | --- | --- |\n",
    );
    for c in Code::ALL.iter().filter(|c| c.origin() == Origin::Decision) {
        s.push_str(&format!(
            "| `{}` | {} | {} |\n",
            c.as_str(),
            c.meaning(),
            example(*c, &vectors)
        ));
    }
    s.push_str(
        "\n## Errors outside decisions\n\nAnswered when a call cannot produce a decision at all \
         (they are errors, not deny reasons):\n\n| code | raised by | meaning |\n| --- | --- | --- |\n",
    );
    for c in Code::ALL.iter().filter(|c| c.origin() != Origin::Decision) {
        s.push_str(&format!(
            "| `{}` | {} | {} |\n",
            c.as_str(),
            c.origin().as_str(),
            c.meaning()
        ));
    }
    s
}

#[test]
fn reason_table_is_current() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/reason-codes.md");
    let want = render();
    if std::env::var_os("MANDATE_BLESS").is_some() {
        std::fs::write(path, &want).unwrap();
    }
    let have = std::fs::read_to_string(path).unwrap_or_default();
    assert_eq!(
        have, want,
        "docs/reason-codes.md is stale: MANDATE_BLESS=1 cargo test -p policy-core --test reason_table"
    );
    for c in Code::ALL {
        assert_eq!(Code::parse(c.as_str()), Some(*c));
    }
}
