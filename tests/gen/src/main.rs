//! Generates `tests/vectors/conformance.json`: every case's exact input bytes, the decision and
//! reason codes it must produce, and the exact output bytes the native engine produced.
//! `gen-vectors --check` regenerates in memory and fails when the checked-in file differs.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use mandate_vectors::{cases, http_cases, security_cases, world};

use mandate_core::{Pdp, b64, json};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::PathBuf;
use world::{Keys, NOW, key, load_config, signed_bundle};

fn loads(k: &Keys) -> BTreeMap<&'static str, Value> {
    let good = signed_bundle(k, |_| {});
    let tampered = {
        let parts: Vec<&str> = good.split('.').collect();
        let mut payload: Value = serde_json::from_slice(&b64::decode(parts[1]).unwrap()).unwrap();
        payload["revision"] = json!("vectors-2");
        format!(
            "{}.{}.{}",
            parts[0],
            b64::encode(json::canonical(&payload).as_bytes()),
            parts[2]
        )
    };
    let root2 = key("bundle-root-2", Some("root-2"));
    let with_policy =
        |src: &str| signed_bundle(k, |b| b["policies"] = json!({"guardrails.rego": src}));
    let mut m = BTreeMap::new();
    m.insert(
        "default",
        load_config(Some(&good), &[&k.root], Some(&k.pdp)),
    );
    m.insert("no-grant-key", load_config(Some(&good), &[&k.root], None));
    m.insert("missing", load_config(None, &[&k.root], None));
    m.insert("no-trust-keys", load_config(Some(&good), &[], None));
    m.insert(
        "malformed",
        load_config(Some("not-a-jws"), &[&k.root], None),
    );
    m.insert("tampered", load_config(Some(&tampered), &[&k.root], None));
    m.insert(
        "untrusted",
        load_config(
            Some(&mandate_core::mint::bundle(
                &world::bundle_contents(k, |_| {}),
                &k.rogue,
            )),
            &[&k.root],
            None,
        ),
    );
    m.insert(
        "expired",
        load_config(
            Some(&signed_bundle(k, |b| b["exp"] = json!(NOW - 1))),
            &[&k.root],
            None,
        ),
    );
    m.insert(
        "not-yet-valid",
        load_config(
            Some(&signed_bundle(k, |b| b["nbf"] = json!(NOW + 600))),
            &[&k.root],
            None,
        ),
    );
    m.insert(
        "bad-policy",
        load_config(
            Some(&with_policy("package mandate\nallow if {")),
            &[&k.root],
            None,
        ),
    );
    m.insert(
        "clock-policy",
        load_config(
            Some(&with_policy(
                "package mandate\nallow if time.now_ns() > 0\n",
            )),
            &[&k.root],
            None,
        ),
    );
    m.insert(
        "bad-output",
        load_config(
            Some(&with_policy("package mandate\nallow := \"yes\"\n")),
            &[&k.root],
            None,
        ),
    );
    m.insert(
        "unknown-function",
        load_config(
            Some(&with_policy(
                "package mandate\nallow := true\ndeny contains \"blocked\" if { undefined_helper_fn(input.request.path) }\n",
            )),
            &[&k.root],
            None,
        ),
    );
    m.insert(
        "unknown-function-unreached",
        load_config(
            Some(&with_policy(
                "package mandate\nallow := true\ndeny contains \"blocked\" if {\n\tinput.request.method == \"DELETE\"\n\tundefined_helper_fn(input.request.path)\n}\n",
            )),
            &[&k.root],
            None,
        ),
    );
    let two_apis = signed_bundle(k, |b| {
        b["issuers"][0]["audiences"] = json!([
            world::API,
            security_cases::OTHER_API,
            security_cases::TRIPS_RESOURCE
        ]);
    });
    m.insert(
        "two-apis",
        load_config(Some(&two_apis), &[&k.root], Some(&k.pdp)),
    );
    let mut named = load_config(Some(&good), &[&k.root], Some(&k.pdp));
    named["audiences"] = json!(["urn:mandate:trips-api"]);
    m.insert("named-audience", named);
    m.insert(
        "bearer-grants",
        load_config(
            Some(&signed_bundle(k, |b| {
                b["settings"]["grant_requires_proof"] = json!(false);
            })),
            &[&k.root],
            Some(&k.pdp),
        ),
    );
    m.insert(
        "rotated",
        load_config(
            Some(&mandate_core::mint::bundle(
                &world::bundle_contents(k, |_| {}),
                &root2,
            )),
            &[&k.root, &root2],
            None,
        ),
    );
    m
}

fn main() {
    let check = std::env::args().any(|a| a == "--check");
    let out_path: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "..",
        "vectors",
        "conformance.json",
    ]
    .iter()
    .collect();
    let k = Keys::new();
    let loads = loads(&k);
    let load_texts: BTreeMap<&str, String> = loads
        .iter()
        .map(|(n, v)| (*n, json::canonical(v)))
        .collect();
    let pdps: BTreeMap<&str, Pdp> = load_texts
        .iter()
        .map(|(n, t)| (*n, Pdp::load_json(t.as_bytes())))
        .collect();
    let (out_cases, mut failures) = render(cases::all(&k), &pdps, Pdp::decide_json);
    let (http_cases, http_failures) = render(http_cases::all(&k), &pdps, Pdp::decide_http_json);
    failures.extend(http_failures);
    if !failures.is_empty() {
        for f in &failures {
            eprintln!("MISMATCH {f}");
        }
        eprintln!(
            "{} of {} cases disagree with their expectation",
            failures.len(),
            out_cases.len() + http_cases.len()
        );
        std::process::exit(1);
    }
    let http_file = json!({
        "about": "Mandate HTTP binding vectors: HTTP requests as a host received them, decided through the shared binding (`decide_http`). Generated by `cargo run -p mandate-vectors --bin gen-vectors`; do not edit. Format: tests/README.md.",
        "now": NOW,
        "loads": load_texts,
        "cases": http_cases,
    });
    write_or_check(
        &out_path.with_file_name("http.json"),
        &http_file,
        check,
        http_cases.len(),
    );
    let file = json!({
        "about": "Mandate conformance vectors. Generated by `cargo run -p mandate-vectors --bin gen-vectors`; do not edit. Format: tests/README.md.",
        "now": NOW,
        "loads": load_texts,
        "cases": out_cases,
    });
    write_or_check(&out_path, &file, check, out_cases.len());
}

fn write_or_check(path: &std::path::Path, file: &Value, check: bool, count: usize) {
    let text = serde_json::to_string_pretty(file).unwrap() + "\n";
    let name = path.file_name().unwrap().to_string_lossy();
    if check {
        let current = std::fs::read_to_string(path).unwrap_or_default();
        if current != text {
            eprintln!(
                "tests/vectors/{name} is stale: run `cargo run -p mandate-vectors --bin gen-vectors`"
            );
            std::process::exit(1);
        }
        println!("vectors up to date: {count} cases in {name}");
    } else {
        std::fs::write(path, text).unwrap();
        println!("wrote {count} cases to {}", path.display());
    }
}

/// Decides every case with `decide` and renders it, collecting disagreements with the case's
/// expectation.
fn render(
    cases: Vec<cases::Case>,
    pdps: &BTreeMap<&str, Pdp>,
    decide: fn(&Pdp, &[u8]) -> Vec<u8>,
) -> (Vec<Value>, Vec<String>) {
    let mut out_cases = Vec::new();
    let mut failures = Vec::new();
    let mut names = std::collections::BTreeSet::new();
    for case in cases {
        assert!(
            names.insert(case.name.clone()),
            "duplicate case name {}",
            case.name
        );
        let pdp = &pdps[case.load];
        let mut output = decide(pdp, case.input.as_bytes());
        if let Some(replay) = &case.replay {
            let mut req = replay.clone();
            req["decision"] = serde_json::from_slice(&output).unwrap();
            output = pdp.apply_replay_json(json::canonical(&req).as_bytes());
        }
        let doc: Value = serde_json::from_slice(&output).unwrap();
        let decision = doc["decision"].as_str().unwrap_or("").to_string();
        let codes: Vec<String> = doc["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["code"].as_str().unwrap().to_string())
            .collect();
        if decision != case.decision || codes != case.codes {
            failures.push(format!(
                "{}: expected {} {:?}, got {} {:?}: {}",
                case.name, case.decision, case.codes, decision, codes, doc["reasons"]
            ));
        }
        let mut v = json!({
            "name": case.name, "description": case.description, "load": case.load, "input": case.input,
            "expect": {"decision": case.decision, "codes": case.codes},
            "output": String::from_utf8(output).unwrap(),
        });
        if let Some(r) = case.replay {
            v["replay"] = r;
        }
        out_cases.push(v);
    }
    (out_cases, failures)
}
