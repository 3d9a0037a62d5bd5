//! `mandate decide --explain`: how the guardrails decided — the rules that decided, what
//! `print()` wrote, and the `input` they evaluated — beside the decision itself, unchanged.
// Helpers outside #[test] functions fail the test by panicking; clippy.toml's *-in-tests
// options cover only #[test] functions, so this file still allows it for its helpers.
#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use common::{GUARDRAILS, SECRET, TRIP, World};
use host_rust::issuer;
use serde_json::Value;

/// The world's guardrails with a `print()` on every secret read.
fn world_with_prints(dir: &std::path::Path) -> World {
    let w = World::new(dir);
    let mut contents = w.contents("r-print", "active");
    let traced = format!(
        "{GUARDRAILS}\nallow if {{\n\tinput.request.action == \"secrets:read\"\n\tprint(\"secret read by\", input.user.id, \"from\", input.request.ip)\n\tfalse\n}}\n"
    );
    contents["policies"]["guardrails.rego"] = Value::String(traced);
    w.write_raw_bundle(&issuer::sign_bundle(&contents, &w.root));
    w
}

fn decide(w: &World, input: &Value, extra: &[&str]) -> (Option<i32>, Value, String) {
    let path = w.path(&format!("input-{}.json", common::rid()));
    std::fs::write(&path, input.to_string()).unwrap();
    let bundle = w.path("bundle.jws");
    let trust = w.path("root.pub.jwk");
    let out = common::mandate()
        .args([
            "decide",
            "--bundle",
            bundle.to_str().unwrap(),
            "--trust",
            trust.to_str().unwrap(),
        ])
        .args(["--input", path.to_str().unwrap()])
        .args(extra)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let v = serde_json::from_str(&stdout).unwrap_or(Value::Null);
    (
        out.status.code(),
        v,
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[test]
fn explain_shows_the_rules_the_prints_and_the_input_and_changes_no_decision() {
    let dir = tempfile::tempdir().unwrap();
    let w = world_with_prints(dir.path());
    let alice = w.alice();
    // A policy deny: the deny rule's message is what decided; print() ran on the way.
    let outside = w.input("GET", SECRET, "secrets:read", "192.0.2.1", &alice);
    let (status, plain, _) = decide(&w, &outside, &["--json"]);
    assert_eq!(status, Some(3));
    let (status, v, _) = decide(&w, &outside, &["--json", "--explain"]);
    assert_eq!(status, Some(3));
    let mut decision = v["decision"].clone();
    let mut plain = plain;
    // Decision ids and audit times are per run; everything else is the same decision.
    for d in [&mut decision, &mut plain] {
        d["decision_id"] = Value::Null;
        d["audit"]["decision_id"] = Value::Null;
        d["audit"]["time"] = Value::Null;
    }
    assert_eq!(decision, plain, "--explain changes no decision");
    assert_eq!(v["decision"]["reasons"][0]["code"], "policy.denied");
    let e = &v["explain"];
    assert_eq!(e["reached"], true, "{e}");
    assert_eq!(
        e["rules"],
        serde_json::json!(["data.mandate.deny: secrets may only be read from a trusted network"]),
        "{e}"
    );
    let prints: Vec<&str> = e["prints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert_eq!(prints.len(), 1, "{e}");
    assert!(
        prints[0].ends_with("secret read by alice from 192.0.2.1"),
        "{prints:?}"
    );
    assert_eq!(e["input"]["user"]["id"], "alice");
    assert_eq!(e["input"]["request"]["ip"], "192.0.2.1");
    assert_eq!(e["input"]["agent"]["id"], "agent:travel-booker");

    // The same, for people: on stderr, the decision JSON on stdout as without --explain.
    let (status, v, stderr) = decide(&w, &outside, &["--explain"]);
    assert_eq!(
        (status, v["reasons"][0]["code"].as_str()),
        (Some(3), Some("policy.denied"))
    );
    assert!(
        stderr.contains("explain: decided by data.mandate.deny: secrets may only be read"),
        "{stderr}"
    );
    assert!(
        stderr.contains("explain: print: ") && stderr.contains("secret read by alice"),
        "{stderr}"
    );

    // An allow: the allow rule decided.
    let trip = w.input("GET", TRIP, "trips:read", "10.20.0.7", &alice);
    let (status, v, _) = decide(&w, &trip, &["--json", "--explain"]);
    assert_eq!(
        (status, v["decision"]["decision"].as_str()),
        (Some(0), Some("allow")),
        "{v}"
    );
    assert_eq!(
        v["explain"]["rules"],
        serde_json::json!(["data.mandate.allow"])
    );
    assert_eq!(v["explain"]["prints"], serde_json::json!([]));

    // Denied before the guardrails (a tampered delegation): nothing to explain but that.
    let mut tampered = trip.clone();
    tampered["credentials"]["delegation"][0] = Value::String(format!("{alice}x"));
    let (status, v, _) = decide(&w, &tampered, &["--json", "--explain"]);
    assert_eq!(status, Some(3));
    assert_eq!(v["explain"]["reached"], false, "{v}");
    assert_eq!(v["explain"]["input"], Value::Null);
}
