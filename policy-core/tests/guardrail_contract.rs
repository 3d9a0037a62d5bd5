//! docs/guardrails.md lists exactly the builtins a guardrail may call: the block between its
//! `builtins:begin` and `builtins:end` markers is generated from
//! `policy_core::guardrails::{SUPPORTED_BUILTINS, EXTENSIONS}`. `MANDATE_BLESS=1` rewrites it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use policy_core::guardrails::{EXTENSIONS, SUPPORTED_BUILTINS};

const BEGIN: &str = "<!-- builtins:begin -->\n";
const END: &str = "<!-- builtins:end -->";

fn doc() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/guardrails.md")
}

fn block() -> String {
    let mut out = String::from("| builtin | from |\n| --- | --- |\n");
    let mut all: Vec<(&str, &str)> = SUPPORTED_BUILTINS.iter().map(|b| (*b, "regorus")).collect();
    all.extend(EXTENSIONS.iter().map(|b| {
        let from = match *b {
            "net.cidr_contains" => "Mandate: IPv4 and IPv6 networks and addresses, as OPA",
            _ => "Mandate: as OPA, of the nanoseconds given (`input.now * 1000000000`), UTC only",
        };
        (*b, from)
    }));
    all.push((
        "print",
        "Rego (output shown by `mandate eval` / `mandate test`)",
    ));
    all.sort_unstable();
    for (name, from) in all {
        out.push_str(&format!("| `{name}` | {from} |\n"));
    }
    out
}

#[test]
fn the_doc_lists_exactly_the_supported_builtins() {
    let text = std::fs::read_to_string(doc()).unwrap();
    let start = text.find(BEGIN).expect("begin marker") + BEGIN.len();
    let end = text.find(END).expect("end marker");
    let want = block();
    if std::env::var_os("MANDATE_BLESS").is_some() {
        let updated = format!("{}{want}{}", &text[..start], &text[end..]);
        std::fs::write(doc(), updated).unwrap();
        return;
    }
    assert_eq!(
        &text[start..end],
        want,
        "docs/guardrails.md's builtins are stale: MANDATE_BLESS=1 cargo test -p policy-core --test guardrail_contract"
    );
}
