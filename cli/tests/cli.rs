//! The `mandate` command end to end: every subcommand, its JSON output, and the bad inputs that
//! must give one clear line and a distinct exit code.
// Helpers outside #[test] functions fail the test by panicking; clippy.toml's *-in-tests
// options cover only #[test] functions, so this file still allows it for its helpers.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod common;

use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::{Value, json};

fn mandate(dir: &Path) -> Command {
    let mut c = Command::cargo_bin("mandate").unwrap();
    c.current_dir(dir)
        .env_remove("MANDATE_REGISTRY")
        .env_remove("MANDATE_LOAD_SECS");
    c
}

/// Runs, expects `code`, and checks stderr is exactly one `error: ...` line containing `needle`.
fn fails(cmd: &mut Command, code: i32, needle: &str) {
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(code), "exit code; stderr: {stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line on stderr, got: {stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    assert!(lines[0].contains(needle), "expected {needle:?} in {stderr}");
    assert!(!stderr.contains("panicked") && !stderr.contains("stack backtrace"));
}

fn json_out(cmd: &mut Command) -> Value {
    let out = cmd.arg("--json").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn keygen(dir: &Path, kid: &str, name: &str) {
    mandate(dir)
        .args(["keygen", "--kid", kid, "--out", &format!("keys/{name}.jwk")])
        .assert()
        .success();
}

/// A project directory made only with the CLI: keys, registry, policy, data, issuers, bundle.
fn project(dir: &Path) {
    for (kid, name) in [
        ("root-1", "root"),
        ("idp-1", "idp"),
        ("tb-1", "booker"),
        ("sum-1", "summarizer"),
    ] {
        keygen(dir, kid, name);
    }
    mandate(dir)
        .args([
            "agent",
            "add",
            "agent:travel-booker",
            "--owner",
            "team:travel",
            "--key",
            "keys/booker.pub.jwk",
        ])
        .args([
            "--delegator-user",
            "alice",
            "--delegator-user",
            "bob",
            "--scope",
            "secrets:read",
            "--scope",
            "trips:*",
        ])
        .args([
            "--may-delegate-to",
            "agent:summarizer",
            "--label",
            "risk=low",
        ])
        .assert()
        .success();
    mandate(dir)
        .args([
            "agent",
            "add",
            "agent:summarizer",
            "--owner",
            "team:travel",
            "--key",
            "keys/summarizer.pub.jwk",
        ])
        .args([
            "--delegator-agent",
            "agent:travel-booker",
            "--scope",
            "trips:read",
        ])
        .assert()
        .success();
    std::fs::write(dir.join("guardrails.rego"), common::GUARDRAILS).unwrap();
    std::fs::write(
        dir.join("data.yaml"),
        "trusted_networks: [10.20.0.0/16]\nsecret_owner: alice\n",
    )
    .unwrap();
    std::fs::write(dir.join("settings.yaml"), "grant_max_ttl: 30\n").unwrap();
    std::fs::write(dir.join("issuers.yaml"), "- iss: https://idp.example.com\n  keys: [keys/idp.pub.jwk]\n  audiences: [https://api.example.com]\n").unwrap();
    mandate(dir)
        .args([
            "bundle",
            "build",
            "--registry",
            "registry.yaml",
            "--policy",
            "guardrails.rego",
            "--data",
            "data.yaml",
        ])
        .args([
            "--settings",
            "settings.yaml",
            "--issuers",
            "issuers.yaml",
            "--revision",
            "r1",
            "--out",
            "bundle.json",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "revision r1, 2 agent(s), 1 policy file(s)",
        ));
    mandate(dir)
        .args([
            "bundle",
            "sign",
            "bundle.json",
            "--key",
            "keys/root.jwk",
            "--out",
            "bundle.jws",
        ])
        .assert()
        .success();
}

fn token(dir: &Path, args: &[&str]) -> String {
    let out = mandate(dir).arg("token").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn delegate(dir: &Path, user: &str, scope: &str) -> String {
    token(
        dir,
        &[
            "delegate",
            "--key",
            "keys/idp.jwk",
            "--iss",
            "https://idp.example.com",
            "--sub",
            user,
            "--agent",
            "agent:travel-booker",
            "--agent-key",
            "keys/booker.pub.jwk",
            "--aud",
            "https://api.example.com",
            "--scope",
            scope,
        ],
    )
}

#[test]
fn every_command_has_help_with_an_example() {
    let dir = tempfile::tempdir().unwrap();
    let cmds: &[&[&str]] = &[
        &["keygen"],
        &["agent"],
        &["bundle"],
        &["token"],
        &["audit"],
        &["agent", "add"],
        &["agent", "list"],
        &["agent", "show"],
        &["agent", "suspend"],
        &["agent", "activate"],
        &["agent", "revoke"],
        &["agent", "rotate-key"],
        &["bundle", "build"],
        &["bundle", "sign"],
        &["bundle", "inspect"],
        &["bundle", "verify"],
        &["token", "delegate"],
        &["token", "subdelegate"],
        &["token", "proof"],
        &["token", "grant"],
        &["token", "inspect"],
        &["decide"],
        &["audit", "verify"],
        &["serve"],
        &["demo"],
        &["bench-serve"],
    ];
    for c in cmds {
        mandate(dir.path())
            .args(*c)
            .arg("--help")
            .assert()
            .success()
            .stdout(predicate::str::contains("Example"));
    }
    mandate(dir.path())
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("mandate demo"));
}

#[test]
fn keygen_writes_a_p256_pair_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let v = json_out(mandate(dir.path()).args(["keygen", "--kid", "k1", "--out", "k/k1.jwk"]));
    assert_eq!(v["kid"], "k1");
    let private: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("k/k1.jwk")).unwrap()).unwrap();
    let public: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("k/k1.pub.jwk")).unwrap()).unwrap();
    assert_eq!(
        (private["crv"].as_str(), private["kid"].as_str()),
        (Some("P-256"), Some("k1"))
    );
    assert!(private["d"].is_string() && public.get("d").is_none());
    assert_eq!(
        policy_core::PublicJwk::from_value(&public)
            .unwrap()
            .thumbprint(),
        v["thumbprint"].as_str().unwrap()
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(dir.path().join("k/k1.jwk"))
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o600
        );
    }
    fails(
        mandate(dir.path()).args(["keygen", "--kid", "k1", "--out", "k/k1.jwk"]),
        5,
        "already exists",
    );
    mandate(dir.path())
        .args(["keygen", "--kid", "k1", "--out", "k/k1.jwk", "--force"])
        .assert()
        .success();
}

#[test]
fn agent_commands_edit_a_yaml_registry() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    project(d);
    let list = json_out(mandate(d).args(["agent", "list"]));
    let ids: Vec<&str> = list["agents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["agent:travel-booker", "agent:summarizer"]);
    mandate(d)
        .args(["agent", "list"])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("agent:summarizer").and(predicate::str::contains("active")),
        );
    let show = json_out(mandate(d).args(["agent", "show", "agent:travel-booker"]));
    assert_eq!(show["delegators"]["users"], json!(["alice", "bob"]));
    assert_eq!(show["labels"]["risk"], "low");
    assert_eq!(show["keys"][0]["kid"], "tb-1");

    mandate(d)
        .args(["agent", "suspend", "agent:summarizer"])
        .assert()
        .success()
        .stdout(predicate::str::contains("active -> suspended"));
    assert_eq!(
        json_out(mandate(d).args(["agent", "show", "agent:summarizer"]))["status"],
        "suspended"
    );
    mandate(d)
        .args(["agent", "activate", "agent:summarizer"])
        .assert()
        .success();
    assert_eq!(
        json_out(mandate(d).args(["agent", "show", "agent:summarizer"]))["status"],
        "active"
    );

    keygen(d, "tb-2", "booker-2");
    let r = json_out(mandate(d).args([
        "agent",
        "rotate-key",
        "agent:travel-booker",
        "--key",
        "keys/booker-2.pub.jwk",
    ]));
    assert_eq!(r["keys"], 2);
    let r = json_out(mandate(d).args([
        "agent",
        "rotate-key",
        "agent:travel-booker",
        "--key",
        "keys/booker-2.pub.jwk",
        "--retire-old",
    ]));
    assert_eq!(
        (r["keys"].as_u64(), r["retired"].as_array().map(Vec::len)),
        (Some(1), Some(1))
    );
    assert_eq!(
        json_out(mandate(d).args(["agent", "show", "agent:travel-booker"]))["keys"][0]["kid"],
        "tb-2"
    );

    mandate(d)
        .args(["agent", "revoke", "agent:summarizer"])
        .assert()
        .success();
    let yaml = std::fs::read_to_string(d.join("registry.yaml")).unwrap();
    assert!(
        yaml.contains("status: revoked") && yaml.contains("revocations:"),
        "{yaml}"
    );
    fails(
        mandate(d).args(["agent", "activate", "agent:summarizer"]),
        5,
        "revoked for good",
    );
    // The edited registry still builds.
    mandate(d)
        .args([
            "bundle",
            "build",
            "--registry",
            "registry.yaml",
            "--issuers",
            "issuers.yaml",
            "--policy",
            "guardrails.rego",
        ])
        .assert()
        .success();
}

#[test]
fn agent_commands_edit_a_json_registry_too() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    keygen(d, "a-1", "a");
    std::fs::write(
        d.join("details.yaml"),
        "- {type: payment_initiation, actions: [initiate], currency: EUR}\n",
    )
    .unwrap();
    mandate(d)
        .args([
            "agent",
            "add",
            "agent:a",
            "--owner",
            "me",
            "--key",
            "keys/a.pub.jwk",
            "--scope",
            "x:read",
            "-r",
            "reg.json",
            "--ceiling-details",
            "details.yaml",
        ])
        .assert()
        .success();
    let v: Value = serde_json::from_slice(&std::fs::read(d.join("reg.json")).unwrap()).unwrap();
    assert_eq!(v["agents"][0]["id"], "agent:a");
    assert_eq!(
        v["agents"][0]["ceiling"]["authorization_details"][0]["type"],
        "payment_initiation"
    );
    assert_eq!(v["agents"][0]["ceiling"]["scopes"], json!(["x:read"]));
    mandate(d)
        .args(["agent", "suspend", "agent:a"])
        .env("MANDATE_REGISTRY", "reg.json")
        .assert()
        .success();
    let v: Value = serde_json::from_slice(&std::fs::read(d.join("reg.json")).unwrap()).unwrap();
    assert_eq!(v["agents"][0]["status"], "suspended");
    fails(
        mandate(d).args([
            "agent",
            "add",
            "agent:a",
            "--owner",
            "me",
            "--key",
            "keys/a.pub.jwk",
            "-r",
            "reg.json",
        ]),
        5,
        "already in reg.json",
    );
}

#[test]
fn agent_errors_are_one_line_with_distinct_codes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    project(d);
    fails(
        mandate(d).args(["agent", "show", "agent:nobody"]),
        5,
        "agent agent:nobody is not in registry.yaml",
    );
    fails(
        mandate(d).args(["agent", "suspend", "agent:nobody"]),
        5,
        "mandate agent list",
    );
    fails(
        mandate(d).args(["agent", "list", "-r", "missing.yaml"]),
        4,
        "missing.yaml does not exist",
    );
    std::fs::write(
        d.join("bad.yaml"),
        "agents:\n  - id: \"unterminated\n    owner: x\n",
    )
    .unwrap();
    fails(
        mandate(d).args(["agent", "list", "-r", "bad.yaml"]),
        5,
        "bad.yaml is not valid YAML",
    );
    std::fs::write(d.join("unknown-field.yaml"), "agents: []\nagentz: []\n").unwrap();
    fails(
        mandate(d).args(["agent", "list", "-r", "unknown-field.yaml"]),
        5,
        "unknown field",
    );
    // A key of the wrong curve, as a file and inside a registry.
    std::fs::write(
        d.join("p384.jwk"),
        r#"{"kty":"EC","crv":"P-384","x":"AAAA","y":"AAAA","kid":"x"}"#,
    )
    .unwrap();
    fails(
        mandate(d).args([
            "agent", "add", "agent:x", "--owner", "o", "--key", "p384.jwk",
        ]),
        5,
        "crv must be P-256",
    );
    std::fs::write(d.join("curve.yaml"), "agents:\n  - {id: agent:x, owner: o, status: active, keys: [{kty: EC, crv: P-384, x: AAAA, y: AAAA}]}\n").unwrap();
    fails(
        mandate(d).args(["agent", "list", "-r", "curve.yaml"]),
        5,
        "crv must be P-256",
    );
    // JSON errors with --json are machine-readable.
    let out = mandate(d)
        .args(["agent", "show", "agent:nobody", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (
            v["error"]["code"].as_str(),
            v["error"]["exit_code"].as_u64()
        ),
        (Some("agent.unknown"), Some(5))
    );
}

#[test]
fn bundle_build_sign_inspect_verify() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    project(d);
    let v = json_out(mandate(d).args([
        "bundle",
        "verify",
        "bundle.jws",
        "--trust",
        "keys/root.pub.jwk",
    ]));
    assert_eq!(
        (v["ok"].as_bool(), v["bundle"]["revision"].as_str()),
        (Some(true), Some("r1"))
    );
    mandate(d)
        .args([
            "bundle",
            "verify",
            "bundle.jws",
            "--trust",
            "keys/root.pub.jwk",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("signature valid"));
    let i = json_out(mandate(d).args(["bundle", "inspect", "bundle.jws"]));
    assert_eq!(i["verified"], false);
    assert_eq!(i["header"]["kid"], "root-1");
    assert_eq!(i["contents"]["agents"].as_array().unwrap().len(), 2);
    assert_eq!(i["contents"]["settings"]["grant_max_ttl"], 30);
    assert_eq!(i["contents"]["data"]["secret_owner"], "alice");
    assert!(
        i["contents"]["policies"]["guardrails.rego"]
            .as_str()
            .unwrap()
            .contains("package mandate")
    );
    mandate(d)
        .args(["bundle", "inspect", "bundle.jws"])
        .assert()
        .success()
        .stdout(predicate::str::contains("NOT VERIFIED"));
    // A directory of policies works too.
    std::fs::create_dir(d.join("policies")).unwrap();
    std::fs::copy(d.join("guardrails.rego"), d.join("policies/a.rego")).unwrap();
    let built = mandate(d)
        .args([
            "bundle",
            "build",
            "--registry",
            "registry.yaml",
            "--issuers",
            "issuers.yaml",
            "--policy",
            "policies",
        ])
        .output()
        .unwrap();
    let contents: Value = serde_json::from_slice(&built.stdout).unwrap();
    assert!(contents["policies"]["a.rego"].is_string());
}

#[test]
fn bundle_errors_are_one_line_with_distinct_codes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    project(d);
    fails(
        mandate(d).args([
            "bundle",
            "verify",
            "nope.jws",
            "--trust",
            "keys/root.pub.jwk",
        ]),
        4,
        "nope.jws does not exist",
    );
    fails(
        mandate(d).args([
            "bundle",
            "verify",
            "bundle.jws",
            "--trust",
            "keys/idp.pub.jwk",
        ]),
        6,
        "bundle.untrusted_key",
    );
    // Expired: contents whose exp has passed, signed, then verified.
    let mut c: Value =
        serde_json::from_slice(&std::fs::read(d.join("bundle.json")).unwrap()).unwrap();
    c["iat"] = json!(common::now() - 7200);
    c["exp"] = json!(common::now() - 3600);
    std::fs::write(d.join("old.json"), c.to_string()).unwrap();
    mandate(d)
        .args([
            "bundle",
            "sign",
            "old.json",
            "--key",
            "keys/root.jwk",
            "--out",
            "old.jws",
        ])
        .assert()
        .success();
    fails(
        mandate(d).args([
            "bundle",
            "verify",
            "old.jws",
            "--trust",
            "keys/root.pub.jwk",
        ]),
        6,
        "expired at",
    );
    // A key of the wrong curve.
    std::fs::write(
        d.join("p384.jwk"),
        r#"{"kty":"EC","crv":"P-384","x":"AAAA","y":"AAAA","d":"AAAA","kid":"x"}"#,
    )
    .unwrap();
    fails(
        mandate(d).args(["bundle", "sign", "bundle.json", "--key", "p384.jwk"]),
        5,
        "crv must be P-256",
    );
    fails(
        mandate(d).args(["bundle", "verify", "bundle.jws", "--trust", "p384.jwk"]),
        5,
        "crv must be P-256",
    );
    // A public key where a private one is needed.
    fails(
        mandate(d).args([
            "bundle",
            "sign",
            "bundle.json",
            "--key",
            "keys/root.pub.jwk",
        ]),
        5,
        "is a public key",
    );
    // A policy that does not parse is caught at build time.
    std::fs::write(d.join("broken.rego"), "package mandate\nallow if {\n").unwrap();
    fails(
        mandate(d).args([
            "bundle",
            "build",
            "--registry",
            "registry.yaml",
            "--issuers",
            "issuers.yaml",
            "--policy",
            "broken.rego",
        ]),
        6,
        "bundle.policy_invalid",
    );
    // Malformed YAML data.
    std::fs::write(d.join("data-bad.yaml"), "trusted_networks: [10.0.0.0/8\n").unwrap();
    fails(
        mandate(d).args([
            "bundle",
            "build",
            "--registry",
            "registry.yaml",
            "--issuers",
            "issuers.yaml",
            "--data",
            "data-bad.yaml",
        ]),
        5,
        "data-bad.yaml is not valid YAML",
    );
    // Not a bundle at all.
    std::fs::write(d.join("junk.jws"), "hello").unwrap();
    fails(
        mandate(d).args(["bundle", "inspect", "junk.jws"]),
        6,
        "not a signed bundle",
    );
    // Unknown agent in a registry the build reads? Not applicable; unknown issuer key file:
    std::fs::write(
        d.join("issuers-missing.yaml"),
        "- iss: x\n  keys: [keys/none.pub.jwk]\n  audiences: [a]\n",
    )
    .unwrap();
    fails(
        mandate(d).args([
            "bundle",
            "build",
            "--registry",
            "registry.yaml",
            "--issuers",
            "issuers-missing.yaml",
        ]),
        4,
        "does not exist",
    );
}

#[test]
fn tokens_and_decide_allow_deny_and_audit() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    project(d);
    let alice = delegate(d, "alice", "secrets:read trips:read");
    std::fs::write(d.join("alice.jwt"), &alice).unwrap();
    let ins = json_out(mandate(d).args(["token", "inspect", "@alice.jwt"]));
    assert_eq!(
        (ins["kind"].as_str(), ins["claims"]["sub"].as_str()),
        (Some("delegation"), Some("alice"))
    );
    assert_eq!(ins["claims"]["act"]["sub"], "agent:travel-booker");
    let secret = "https://api.example.com/v1/secrets/db";
    let proof = token(
        d,
        &[
            "proof",
            "--key",
            "keys/booker.jwk",
            "--method",
            "GET",
            "--uri",
            secret,
            "--token",
            "@alice.jwt",
        ],
    );
    let p = json_out(mandate(d).args(["token", "inspect", &proof]));
    assert_eq!(
        (p["kind"].as_str(), p["claims"]["htu"].as_str()),
        (Some("DPoP proof"), Some(secret))
    );

    let decide = |ip: &str, delegation: &[&str], proof: &str| {
        let mut c = mandate(d);
        c.args([
            "decide",
            "--bundle",
            "bundle.jws",
            "--trust",
            "keys/root.pub.jwk",
            "--method",
            "GET",
            "--uri",
            secret,
            "--ip",
            ip,
        ]);
        c.args([
            "--action",
            "secrets:read",
            "--proof",
            proof,
            "--audit",
            "audit.jsonl",
            "--json",
        ]);
        for t in delegation {
            c.args(["--delegation", t]);
        }
        let out = c.output().unwrap();
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        (out.status.code(), v)
    };
    let (code, v) = decide("10.20.0.7", &["@alice.jwt"], &proof);
    assert_eq!(
        (code, v["decision"].as_str()),
        (Some(0), Some("allow")),
        "{v}"
    );
    assert_eq!(v["principal"]["user"], "alice");
    let proof2 = token(
        d,
        &[
            "proof",
            "--key",
            "keys/booker.jwk",
            "--method",
            "GET",
            "--uri",
            secret,
            "--token",
            "@alice.jwt",
        ],
    );
    let (code, v) = decide("203.0.113.9", &["@alice.jwt"], &proof2);
    assert_eq!(
        (
            code,
            v["decision"].as_str(),
            v["reasons"][0]["code"].as_str()
        ),
        (Some(3), Some("deny"), Some("policy.denied"))
    );
    // Wrong agent key: a proof signed by the summarizer for the booker's token.
    let bad = token(
        d,
        &[
            "proof",
            "--key",
            "keys/summarizer.jwk",
            "--method",
            "GET",
            "--uri",
            secret,
            "--token",
            "@alice.jwt",
        ],
    );
    let (code, v) = decide("10.20.0.7", &["@alice.jwt"], &bad);
    assert_eq!(
        (code, v["reasons"][0]["code"].as_str()),
        (Some(3), Some("proof.key_mismatch"))
    );

    // Sub-delegation: narrowed allowed, escalating refused.
    let hop = token(
        d,
        &[
            "subdelegate",
            "--parent",
            "@alice.jwt",
            "--key",
            "keys/booker.jwk",
            "--agent",
            "agent:summarizer",
            "--agent-key",
            "keys/summarizer.pub.jwk",
            "--scope",
            "trips:read",
        ],
    );
    let h = json_out(mandate(d).args(["token", "inspect", &hop]));
    assert_eq!(
        (h["kind"].as_str(), h["claims"]["iss"].as_str()),
        (Some("sub-delegation"), Some("agent:travel-booker"))
    );
    let trip = "https://api.example.com/v1/trips/1";
    let hp = token(
        d,
        &[
            "proof",
            "--key",
            "keys/summarizer.jwk",
            "--method",
            "GET",
            "--uri",
            trip,
            "--token",
            &hop,
        ],
    );
    let out = mandate(d)
        .args([
            "decide",
            "--bundle",
            "bundle.jws",
            "--trust",
            "keys/root.pub.jwk",
            "--method",
            "GET",
            "--uri",
            trip,
            "--action",
            "trips:read",
        ])
        .args([
            "--delegation",
            "@alice.jwt",
            "--delegation",
            &hop,
            "--proof",
            &hp,
            "--json",
        ])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (out.status.code(), v["principal"]["chain"].clone()),
        (Some(0), json!(["agent:travel-booker", "agent:summarizer"]))
    );
    let wide = token(
        d,
        &[
            "subdelegate",
            "--parent",
            "@alice.jwt",
            "--key",
            "keys/booker.jwk",
            "--agent",
            "agent:summarizer",
            "--agent-key",
            "keys/summarizer.pub.jwk",
            "--scope",
            "trips:read trips:book",
        ],
    );
    let wp = token(
        d,
        &[
            "proof",
            "--key",
            "keys/summarizer.jwk",
            "--method",
            "GET",
            "--uri",
            trip,
            "--token",
            &wide,
        ],
    );
    let out = mandate(d)
        .args([
            "decide",
            "--bundle",
            "bundle.jws",
            "--trust",
            "keys/root.pub.jwk",
            "--method",
            "GET",
            "--uri",
            trip,
            "--action",
            "trips:read",
        ])
        .args([
            "--delegation",
            "@alice.jwt",
            "--delegation",
            &wide,
            "--proof",
            &wp,
            "--json",
        ])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (out.status.code(), v["reasons"][0]["code"].as_str()),
        (Some(3), Some("chain.scope_escalation"))
    );

    // A whole decide input from a file, with a grant signed by `token grant`.
    keygen(d, "pdp-1", "pdp");
    let grant = token(
        d,
        &[
            "grant",
            "--key",
            "keys/pdp.jwk",
            "--iss",
            "https://pdp.example.com",
            "--sub",
            "alice",
            "--agent",
            "agent:travel-booker",
            "--agent-key",
            "keys/booker.pub.jwk",
            "--aud",
            "https://api.example.com",
            "--method",
            "GET",
            "--uri",
            trip,
            "--action",
            "trips:read",
        ],
    );
    let g = json_out(mandate(d).args(["token", "inspect", &grant]));
    assert_eq!(
        (g["kind"].as_str(), g["claims"]["action"].as_str()),
        (Some("ephemeral grant"), Some("trips:read"))
    );
    std::fs::write(d.join("input.json"), json!({"request": {"method": "GET", "uri": trip, "action": "trips:read"}, "credentials": {"grant": grant}}).to_string()).unwrap();
    let out = mandate(d)
        .args([
            "decide",
            "--bundle",
            "bundle.jws",
            "--trust",
            "keys/root.pub.jwk",
            "--input",
            "input.json",
            "--json",
        ])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    // This bundle trusts no grant issuer.
    assert_eq!(
        (out.status.code(), v["reasons"][0]["code"].as_str()),
        (Some(3), Some("grant.issuer_unknown"))
    );

    // Every decide with --audit appended one record; the chain verifies.
    let a = json_out(mandate(d).args(["audit", "verify", "audit.jsonl"]));
    assert_eq!(
        (a["ok"].as_bool(), a["records"].as_u64()),
        (Some(true), Some(3))
    );
    mandate(d)
        .args(["audit", "verify", "audit.jsonl"])
        .assert()
        .success()
        .stdout(predicate::str::contains("3 record(s), hash chain intact"));
}

#[test]
fn decide_bad_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    project(d);
    let base = [
        "decide",
        "--bundle",
        "bundle.jws",
        "--trust",
        "keys/root.pub.jwk",
        "--method",
        "GET",
        "--uri",
        "https://api.example.com/x",
    ];
    fails(
        mandate(d).args(base).args(["--delegation", "@missing.jwt"]),
        4,
        "missing.jwt does not exist",
    );
    fails(
        mandate(d).args(base).args(["--delegation", "not-a-token"]),
        5,
        "compact JWS",
    );
    fails(
        mandate(d).args([
            "decide",
            "--bundle",
            "bundle.jws",
            "--trust",
            "keys/root.pub.jwk",
        ]),
        5,
        "needs a method and a URI",
    );
    std::fs::write(d.join("in.json"), "{not json").unwrap();
    fails(
        mandate(d).args([
            "decide",
            "--bundle",
            "bundle.jws",
            "--trust",
            "keys/root.pub.jwk",
            "--input",
            "in.json",
        ]),
        5,
        "not a JSON decide input",
    );
    // Expired bundle: refused before deciding.
    let mut c: Value =
        serde_json::from_slice(&std::fs::read(d.join("bundle.json")).unwrap()).unwrap();
    c["exp"] = json!(common::now() - 10);
    c["iat"] = json!(common::now() - 100);
    std::fs::write(d.join("old.json"), c.to_string()).unwrap();
    mandate(d)
        .args([
            "bundle",
            "sign",
            "old.json",
            "--key",
            "keys/root.jwk",
            "--out",
            "old.jws",
        ])
        .assert()
        .success();
    fails(
        mandate(d).args([
            "decide",
            "--bundle",
            "old.jws",
            "--trust",
            "keys/root.pub.jwk",
            "--method",
            "GET",
            "--uri",
            "https://a/",
        ]),
        6,
        "expired at",
    );
    // The bundle signed by another key.
    fails(
        mandate(d).args([
            "decide",
            "--bundle",
            "bundle.jws",
            "--trust",
            "keys/idp.pub.jwk",
            "--method",
            "GET",
            "--uri",
            "https://a/",
        ]),
        6,
        "bundle.untrusted_key",
    );
    // Unknown agent: the decision names it (a deny, exit 3).
    keygen(d, "x-1", "stranger");
    let t = token(
        d,
        &[
            "delegate",
            "--key",
            "keys/idp.jwk",
            "--iss",
            "https://idp.example.com",
            "--sub",
            "alice",
            "--agent",
            "agent:stranger",
            "--agent-key",
            "keys/stranger.pub.jwk",
            "--aud",
            "https://api.example.com",
            "--scope",
            "trips:read",
        ],
    );
    let p = token(
        d,
        &[
            "proof",
            "--key",
            "keys/stranger.jwk",
            "--method",
            "GET",
            "--uri",
            "https://api.example.com/x",
            "--token",
            &t,
        ],
    );
    let out = mandate(d)
        .args(base)
        .args(["--delegation", &t, "--proof", &p, "--json"])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (out.status.code(), v["reasons"][0]["code"].as_str()),
        (Some(3), Some("agent.unknown"))
    );
}

#[test]
fn audit_verify_finds_tampering() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fails(
        mandate(d).args(["audit", "verify", "none.jsonl"]),
        4,
        "none.jsonl does not exist",
    );
    let (log, _) = host_rust::audit::AuditLog::open(
        d.join("a.jsonl"),
        host_rust::audit::AuditOptions::default(),
    )
    .unwrap();
    for i in 0..3 {
        log.append(&json!({"decision_id": format!("d{i}"), "outcome": "allow"}))
            .unwrap();
    }
    drop(log);
    mandate(d)
        .args(["audit", "verify", "a.jsonl"])
        .assert()
        .success()
        .stdout(predicate::str::contains("3 record(s)"));
    let text = std::fs::read_to_string(d.join("a.jsonl")).unwrap();
    std::fs::write(d.join("a.jsonl"), text.replacen("\"d1\"", "\"dX\"", 1)).unwrap();
    fails(
        mandate(d).args(["audit", "verify", "a.jsonl"]),
        7,
        "does not verify at record 3",
    );
}

#[test]
fn demo_tells_the_story_and_verifies_the_audit_chain() {
    let dir = tempfile::tempdir().unwrap();
    let out = mandate(dir.path()).arg("demo").output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let expected: &[(&str, &str, &str)] = &[
        ("read a secret, office network", "ALLOW (200)", "-"),
        ("same request replayed", "DENY (403)", "replay.detected"),
        (
            "read a secret, untrusted IP",
            "DENY (403)",
            "policy.denied: secrets may only be read from a trusted network",
        ),
        (
            "wrong user (bob's delegation)",
            "DENY (403)",
            "policy.denied: secrets belong to alice",
        ),
        ("expired delegation", "DENY (403)", "token.expired"),
        ("sub-agent, narrowed hop", "ALLOW (200)", "-"),
        (
            "sub-agent, escalating hop",
            "DENY (403)",
            "chain.scope_escalation",
        ),
        ("mint a one-time grant", "ALLOW (200)", "-"),
        ("a stolen grant alone", "DENY (403)", "proof.missing"),
        ("use the grant", "ALLOW (200)", "-"),
        ("use the same grant again", "DENY (403)", "replay.detected"),
    ];
    for (i, (label, decision, reason)) in expected.iter().enumerate() {
        let line = stdout
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{} ", i + 1)) && l.contains(label))
            .unwrap_or_else(|| panic!("row {} ({label}) missing:\n{stdout}", i + 1));
        assert!(line.contains(decision), "row {}: {line}", i + 1);
        let after = &line[line.find(decision).unwrap() + decision.len()..];
        assert!(
            after.trim_start().starts_with(reason),
            "row {} reason: {line}",
            i + 1
        );
        assert!(!line.contains("UNEXPECTED"), "{line}");
    }
    assert!(
        stdout.contains("audit log verified: 11 records, hash chain intact"),
        "{stdout}"
    );
    assert!(stdout.contains("Every decision came out as the story expects"));

    // The JSON form carries the same rows, for machines.
    let v = json_out(mandate(dir.path()).arg("demo"));
    let rows = v["rows"].as_array().unwrap();
    let got: Vec<(String, Option<String>)> = rows
        .iter()
        .map(|r| {
            (
                r["decision"].as_str().unwrap().to_string(),
                r["code"].as_str().map(str::to_string),
            )
        })
        .collect();
    let want: Vec<(String, Option<String>)> = [
        ("allow", None),
        ("deny", Some("replay.detected")),
        ("deny", Some("policy.denied")),
        ("deny", Some("policy.denied")),
        ("deny", Some("token.expired")),
        ("allow", None),
        ("deny", Some("chain.scope_escalation")),
        ("allow", None),
        ("deny", Some("proof.missing")),
        ("allow", None),
        ("deny", Some("replay.detected")),
    ]
    .iter()
    .map(|(d, c)| (d.to_string(), c.map(str::to_string)))
    .collect();
    assert_eq!(got, want);
    assert_eq!(
        (v["audit"]["ok"].as_bool(), v["audit"]["records"].as_u64()),
        (Some(true), Some(11))
    );
    assert_eq!(rows[0]["user"], "alice");
    assert_eq!(rows[3]["user"], "bob");
    assert_eq!(rows[5]["agent"], "agent:travel-booker > agent:summarizer");
}

#[test]
fn serve_refuses_to_start_on_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    project(d);
    let serve = |bundle: &str, trust: &str| {
        let mut c = mandate(d);
        c.args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--bundle",
            bundle,
            "--trust",
            trust,
        ]);
        c
    };
    fails(
        &mut serve("missing.jws", "keys/root.pub.jwk"),
        4,
        "missing.jws does not exist",
    );
    fails(
        &mut serve("bundle.jws", "keys/idp.pub.jwk"),
        6,
        "bundle.untrusted_key",
    );
    // A bundle that verified but expired does not stop serve: it starts denying and polls
    // (cli/tests/service.rs, an_expired_first_bundle_denies_until_a_fresh_one_loads).
    fails(
        serve("bundle.jws", "keys/root.pub.jwk").args(["--redis", "not a url"]),
        5,
        "--redis not a url",
    );
    fails(
        serve("bundle.jws", "keys/root.pub.jwk").args(["--wasm", "missing.wasm"]),
        4,
        "missing.wasm does not exist",
    );
    // A tampered audit log: the service refuses to append to it.
    let (log, _) = host_rust::audit::AuditLog::open(
        d.join("audit.jsonl"),
        host_rust::audit::AuditOptions::default(),
    )
    .unwrap();
    for i in 0..2 {
        log.append(&json!({"decision_id": format!("d{i}")}))
            .unwrap();
    }
    drop(log);
    let text = std::fs::read_to_string(d.join("audit.jsonl")).unwrap();
    std::fs::write(d.join("audit.jsonl"), text.replacen("\"d0\"", "\"dX\"", 1)).unwrap();
    fails(
        serve("bundle.jws", "keys/root.pub.jwk").args(["--audit", "audit.jsonl"]),
        7,
        "audit.tampered",
    );
    std::fs::write(d.join("junk.wasm"), b"\0asm junk").unwrap();
    fails(
        serve("bundle.jws", "keys/root.pub.jwk").args(["--wasm", "junk.wasm"]),
        5,
        "junk.wasm",
    );
}

#[test]
fn bench_serve_reports_rates_and_fails_on_nothing() {
    let dir = tempfile::tempdir().unwrap();
    // A short bounded run (the recorded 60 s run is in docs/bench/cli.md).
    let v = json_out(mandate(dir.path()).args([
        "bench-serve",
        "--duration",
        "2s",
        "--concurrency",
        "2",
        "--max-requests",
        "200",
    ]));
    let decisions = v["decisions"].as_u64().unwrap();
    assert!(decisions > 0, "{v}");
    assert_eq!(v["errors"], 0, "{v}");
    assert_eq!(
        decisions,
        v["allows"].as_u64().unwrap() + v["denies"].as_u64().unwrap()
    );
    assert!(
        v["denies"].as_u64().unwrap() <= decisions / 10 + 1,
        "one in ten is denied: {v}"
    );
    assert_eq!(
        (v["audit"]["ok"].as_bool(), v["audit"]["records"].as_u64()),
        (Some(true), Some(decisions))
    );
    assert!(v["p50_ms"].as_f64().unwrap() <= v["p99_ms"].as_f64().unwrap());
}

/// A delegation and a proof for `GET https://api.example.com/v1/trips/42` (a trips:read allow),
/// written to alice.jwt and proof.jwt.
fn trip_credentials(d: &Path) -> (String, String) {
    let alice = delegate(d, "alice", "secrets:read trips:read");
    std::fs::write(d.join("alice.jwt"), &alice).unwrap();
    let proof = token(
        d,
        &[
            "proof",
            "--key",
            "keys/booker.jwk",
            "--method",
            "GET",
            "--uri",
            common::TRIP,
            "--token",
            "@alice.jwt",
        ],
    );
    std::fs::write(d.join("proof.jwt"), &proof).unwrap();
    (alice, proof)
}

/// Runs `mandate decide --json` with `args`; (exit code, first reason code, decision).
fn decide_json(d: &Path, args: &[&str]) -> (Option<i32>, Option<String>, Value) {
    let out = mandate(d)
        .args([
            "decide",
            "--bundle",
            "bundle.jws",
            "--trust",
            "keys/root.pub.jwk",
        ])
        .args(args)
        .arg("--json")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    let code = v["reasons"][0]["code"].as_str().map(str::to_string);
    (out.status.code(), code, v)
}

#[test]
fn decide_input_with_duplicate_members_is_a_deny_input_malformed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    project(d);
    let (alice, proof) = trip_credentials(d);
    let now = common::now();
    let request =
        json!({"method": "GET", "uri": common::TRIP, "ip": "10.20.0.7", "action": "trips:read"});
    let good = json!({"delegation": [alice], "proof": proof});
    let bogus = json!({"delegation": ["x.y.z"]});
    // The same document without duplicates allows: every deny below is the duplicate's.
    let clean = format!(r#"{{"now": {now}, "request": {request}, "credentials": {good}}}"#);
    std::fs::write(d.join("clean.json"), &clean).unwrap();
    let (code, reason, v) = decide_json(d, &["--input", "clean.json"]);
    assert_eq!((code, reason), (Some(0), None), "{v}");

    let cases = [
        (
            "context",
            format!(
                r#"{{"now": {now}, "request": {request}, "credentials": {good}, "context": {{"block": true, "block": false}}}}"#
            ),
        ),
        (
            "credentials",
            format!(
                r#"{{"now": {now}, "request": {request}, "credentials": {bogus}, "credentials": {good}}}"#
            ),
        ),
        (
            "now",
            format!(r#"{{"now": 1, "now": {now}, "request": {request}, "credentials": {good}}}"#),
        ),
        (
            "nested",
            format!(
                r#"{{"now": {now}, "request": {{"method": "DELETE", "method": "GET", "uri": "{}", "ip": "10.20.0.7", "action": "trips:read"}}, "credentials": {good}}}"#,
                common::TRIP
            ),
        ),
    ];
    for (name, text) in &cases {
        std::fs::write(d.join("dup.json"), text).unwrap();
        let (code, reason, v) = decide_json(d, &["--input", "dup.json"]);
        assert_eq!(
            (code, reason.as_deref()),
            (Some(3), Some("input.malformed")),
            "duplicate {name}: {v}"
        );
        // Flags that add to the input do not make the CLI rewrite (and so lose) the duplicate.
        let (code, reason, v) = decide_json(
            d,
            &[
                "--input",
                "dup.json",
                "--ip",
                "10.20.0.7",
                "--now",
                &now.to_string(),
            ],
        );
        assert_eq!(
            (code, reason.as_deref()),
            (Some(3), Some("input.malformed")),
            "duplicate {name} with flags: {v}"
        );
        // From stdin too.
        let out = mandate(d)
            .args([
                "decide",
                "--bundle",
                "bundle.jws",
                "--trust",
                "keys/root.pub.jwk",
            ])
            .args(["--input", "-", "--json"])
            .write_stdin(text.clone())
            .output()
            .unwrap();
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        assert_eq!(
            (out.status.code(), v["reasons"][0]["code"].as_str()),
            (Some(3), Some("input.malformed")),
            "duplicate {name} on stdin: {v}"
        );
    }

    // --context with a duplicate member reaches the core as written.
    let (code, reason, v) = decide_json(
        d,
        &[
            "--method",
            "GET",
            "--uri",
            common::TRIP,
            "--ip",
            "10.20.0.7",
            "--action",
            "trips:read",
            "--delegation",
            "@alice.jwt",
            "--proof",
            "@proof.jwt",
            "--context",
            r#"{"block": true, "block": false}"#,
        ],
    );
    assert_eq!(
        (code, reason.as_deref()),
        (Some(3), Some("input.malformed")),
        "{v}"
    );
    // Not JSON at all is still a usage error (exit 5), as before.
    fails(
        mandate(d).args([
            "decide",
            "--bundle",
            "bundle.jws",
            "--trust",
            "keys/root.pub.jwk",
            "--method",
            "GET",
            "--uri",
            common::TRIP,
            "--context",
            "{nope",
        ]),
        5,
        "--context is not JSON",
    );
    // The input's own `now` is the core's to judge, not replaced by the clock.
    let text = format!(r#"{{"now": "soon", "request": {request}, "credentials": {good}}}"#);
    std::fs::write(d.join("badnow.json"), text).unwrap();
    let (code, reason, v) = decide_json(d, &["--input", "badnow.json"]);
    assert_eq!(
        (code, reason.as_deref()),
        (Some(3), Some("input.malformed")),
        "{v}"
    );
    // An input over the core's size limit gets the core's own deny.
    let pad = "x".repeat(70 * 1024);
    let text = format!(
        r#"{{"now": {now}, "request": {request}, "credentials": {good}, "context": {{"pad": "{pad}"}}}}"#
    );
    std::fs::write(d.join("big.json"), text).unwrap();
    let (code, reason, v) = decide_json(d, &["--input", "big.json"]);
    assert_eq!(
        (code, reason.as_deref()),
        (Some(3), Some("input.too_large")),
        "{v}"
    );
}

#[test]
fn files_with_duplicate_keys_are_refused_not_read_last_wins() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    project(d);
    // Bundle contents: signing them would sign whichever duplicate the parser kept.
    let contents = std::fs::read_to_string(d.join("bundle.json")).unwrap();
    let dup = contents.replacen('{', r#"{"revision": "evil", "#, 1);
    std::fs::write(d.join("dup-contents.json"), dup).unwrap();
    fails(
        mandate(d).args([
            "bundle",
            "sign",
            "dup-contents.json",
            "--key",
            "keys/root.jwk",
            "--out",
            "dup.jws",
        ]),
        5,
        "duplicate member name \"revision\"",
    );
    assert!(!d.join("dup.jws").exists());
    // A YAML registry with a duplicate key (inside a map the CLI does not model field by field).
    let reg = std::fs::read_to_string(d.join("registry.yaml")).unwrap();
    assert!(reg.contains("\n    risk: low"), "{reg}");
    std::fs::write(
        d.join("dup-registry.yaml"),
        reg.replacen("    risk: low", "    risk: low\n    risk: high", 1),
    )
    .unwrap();
    fails(
        mandate(d).args(["agent", "list", "-r", "dup-registry.yaml"]),
        5,
        "duplicate entry with key \"risk\"",
    );
    // The same in a JSON registry.
    std::fs::write(
        d.join("dup-registry.json"),
        r#"{"agents": [], "agents": [{"id": "agent:x", "owner": "o", "status": "active", "keys": []}]}"#,
    )
    .unwrap();
    fails(
        mandate(d).args(["agent", "list", "-r", "dup-registry.json"]),
        5,
        "duplicate member name \"agents\"",
    );
    // A data file for the bundle.
    std::fs::write(
        d.join("dup-data.json"),
        r#"{"secret_owner": "alice", "secret_owner": "mallory"}"#,
    )
    .unwrap();
    fails(
        mandate(d).args([
            "bundle",
            "build",
            "--registry",
            "registry.yaml",
            "--issuers",
            "issuers.yaml",
            "--data",
            "dup-data.json",
        ]),
        5,
        "duplicate member name \"secret_owner\"",
    );
    // A trust key with two `x`.
    let key: Value =
        serde_json::from_slice(&std::fs::read(d.join("keys/root.pub.jwk")).unwrap()).unwrap();
    let text = key.to_string();
    let dup_key = text.replacen('{', r#"{"x": "AAAA", "#, 1);
    std::fs::write(d.join("dup.pub.jwk"), dup_key).unwrap();
    fails(
        mandate(d).args(["bundle", "verify", "bundle.jws", "--trust", "dup.pub.jwk"]),
        5,
        "duplicate member name \"x\"",
    );
}

/// Decodes a compact JWS's payload (no verification).
fn payload(token: &str) -> Value {
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&policy_core::b64::decode(part).unwrap()).unwrap()
}

#[test]
fn token_proof_htu_is_the_uri_without_query_and_fragment() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    project(d);
    let (alice, _) = trip_credentials(d);
    for (uri, htu) in [
        (
            "https://api.example.com/v1/trips/42?x=1&y=2#frag",
            "https://api.example.com/v1/trips/42",
        ),
        (
            "https://api.example.com/v1/trips/42?x=1",
            "https://api.example.com/v1/trips/42",
        ),
        (
            "https://api.example.com/v1/trips/42#frag?not-a-query",
            "https://api.example.com/v1/trips/42",
        ),
        (
            "https://api.example.com/v1/trips/42",
            "https://api.example.com/v1/trips/42",
        ),
    ] {
        let proof = token(
            d,
            &[
                "proof",
                "--key",
                "keys/booker.jwk",
                "--method",
                "GET",
                "--uri",
                uri,
                "--token",
                "@alice.jwt",
            ],
        );
        let claims = payload(&proof);
        assert_eq!(claims["htu"], htu, "{uri}: {claims}");
        assert_eq!(claims["htm"], "GET");
        // And it still proves the request with the query.
        let (code, reason, v) = decide_json(
            d,
            &[
                "--method",
                "GET",
                "--uri",
                uri,
                "--ip",
                "10.20.0.7",
                "--action",
                "trips:read",
                "--delegation",
                &alice,
                "--proof",
                &proof,
            ],
        );
        assert_eq!((code, reason), (Some(0), None), "{uri}: {v}");
    }
}

/// Runs a mandate command with stdout (or stderr) a pipe whose reader is already gone.
fn with_closed(d: &Path, args: &[&str], close_stderr: bool) -> (Option<i32>, String) {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let mut cmd = common::mandate();
    cmd.current_dir(d)
        .env_remove("MANDATE_REGISTRY")
        .args(args)
        .stdin(std::process::Stdio::null());
    let log = d.join("stderr.log");
    if close_stderr {
        cmd.stderr(writer).stdout(std::process::Stdio::null());
    } else {
        cmd.stdout(writer)
            .stderr(std::fs::File::create(&log).unwrap());
    }
    let status = cmd.status().unwrap();
    let stderr = std::fs::read_to_string(&log).unwrap_or_default();
    (status.code(), stderr)
}

#[test]
fn no_command_panics_when_stdout_or_stderr_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    project(d);
    trip_credentials(d);
    let decide = [
        "decide",
        "--bundle",
        "bundle.jws",
        "--trust",
        "keys/root.pub.jwk",
        "--method",
        "GET",
        "--uri",
        common::TRIP,
        "--delegation",
        "@alice.jwt",
        "--proof",
        "@proof.jwt",
    ];
    let allow = ["--action", "trips:read", "--ip", "10.20.0.7"];
    let cases: Vec<(Vec<&str>, i32)> = vec![
        // allow and deny keep their documented exit codes: `mandate decide … | head`.
        ([&decide[..], &allow].concat(), 0),
        ([&decide[..], &allow, &["--json"]].concat(), 0),
        (
            [
                &decide[..],
                &["--action", "secrets:read", "--ip", "192.0.2.1"],
            ]
            .concat(),
            3,
        ),
        (vec!["agent", "list"], 0),
        (vec!["agent", "show", "agent:travel-booker", "--json"], 0),
        (vec!["bundle", "inspect", "bundle.jws"], 0),
        (
            vec![
                "bundle",
                "verify",
                "bundle.jws",
                "--trust",
                "keys/root.pub.jwk",
            ],
            0,
        ),
        (vec!["token", "inspect", "@alice.jwt"], 0),
        (
            vec!["bundle", "sign", "bundle.json", "--key", "keys/root.jwk"],
            0,
        ),
        // An error printed as JSON on stdout keeps its exit code too.
        (vec!["bundle", "inspect", "missing.jws", "--json"], 4),
    ];
    for (args, expect) in &cases {
        let (code, stderr) = with_closed(d, args, false);
        assert_eq!(code, Some(*expect), "{args:?} with stdout closed: {stderr}");
        assert!(
            !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
            "{args:?}: {stderr}"
        );
    }
    // stderr closed: the one-line error (or decide's allow/deny line) is dropped, the code stays.
    for (args, expect) in [
        (vec!["bundle", "inspect", "missing.jws"], 4),
        ([&decide[..], &allow].concat(), 0),
    ] {
        let (code, _) = with_closed(d, &args, true);
        assert_eq!(code, Some(expect), "{args:?} with stderr closed");
    }
}

/// `bundle build` warns (on stderr, with `lint.*` codes, and in `--json`) about contents that
/// load but break production, and `--deny-warnings` refuses to write them; the project's own
/// bundle has none.
#[test]
fn bundle_build_warns_about_what_breaks_production() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    project(d);
    let build = |registry: &str, policy: Option<&str>, settings: &str, issuers: &str| {
        let mut cmd = mandate(d);
        cmd.args([
            "bundle",
            "build",
            "--registry",
            registry,
            "--issuers",
            issuers,
        ]);
        cmd.args(["--settings", settings, "--out", "lint.json"]);
        if let Some(p) = policy {
            cmd.args(["--policy", p]);
        }
        cmd
    };
    let clean = build(
        "registry.yaml",
        Some("guardrails.rego"),
        "settings.yaml",
        "issuers.yaml",
    )
    .output()
    .unwrap();
    assert!(
        clean.status.success(),
        "{}",
        String::from_utf8_lossy(&clean.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&clean.stderr), "", "no warnings");

    // A misspelled sub-delegate, and a second agent registered with the booker's key.
    std::fs::copy(d.join("registry.yaml"), d.join("lint-registry.yaml")).unwrap();
    mandate(d)
        .args(["agent", "add", "agent:copycat", "--owner", "team:travel"])
        .args(["--key", "keys/booker.pub.jwk", "--delegator-user", "alice"])
        .args([
            "--scope",
            "trips:read",
            "--may-delegate-to",
            "agent:sumarizer",
        ])
        .args(["--registry", "lint-registry.yaml"])
        .assert()
        .success();
    // Grants accepted from an issuer, but no grant_issuer; a policy of another package.
    std::fs::write(
        d.join("lint-issuers.yaml"),
        "- iss: https://idp.example.com\n  keys: [keys/idp.pub.jwk]\n  audiences: [https://api.example.com]\n\
         - iss: https://pdp.example.com\n  keys: [keys/root.pub.jwk]\n  audiences: [https://api.example.com]\n  typ: [mandate-grant+jwt]\n",
    )
    .unwrap();
    std::fs::write(d.join("other.rego"), "package authz\n\nallow := true\n").unwrap();
    let out = build(
        "lint-registry.yaml",
        Some("other.rego"),
        "settings.yaml",
        "lint-issuers.yaml",
    )
    .arg("--json")
    .output()
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{stderr}");
    let codes: Vec<&str> = stderr
        .lines()
        .map(|l| {
            l.strip_prefix("warning: ")
                .unwrap()
                .split(':')
                .next()
                .unwrap()
        })
        .collect();
    assert_eq!(
        codes,
        [
            "lint.decision_rule_undefined",
            "lint.unknown_agent",
            "lint.shared_key",
            "lint.grant_issuer"
        ],
        "{stderr}"
    );
    assert!(
        stderr.contains("`agent:sumarizer` matches no agent"),
        "{stderr}"
    );
    assert!(
        stderr.contains("agent:travel-booker and agent:copycat"),
        "{stderr}"
    );
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        summary["warnings"].as_array().unwrap().len(),
        4,
        "{summary}"
    );
    assert_eq!(
        summary["warnings"][0]["code"],
        "lint.decision_rule_undefined"
    );

    // No policies at all; and a grant_issuer that no issuer accepts grants from.
    std::fs::write(
        d.join("lint-settings.yaml"),
        "grant_issuer: https://nobody.example.com\n",
    )
    .unwrap();
    let out = build("registry.yaml", None, "lint-settings.yaml", "issuers.yaml")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.starts_with("warning: lint.no_policies: "),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "warning: lint.grant_issuer: settings.grant_issuer https://nobody.example.com"
        ),
        "{stderr}"
    );

    // --deny-warnings: refused with lint.failed (exit 5), nothing written.
    std::fs::remove_file(d.join("lint.json")).unwrap();
    let out = build("registry.yaml", None, "lint-settings.yaml", "issuers.yaml")
        .args(["--deny-warnings", "--json"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(5), "{stderr}");
    let error: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(error["error"]["code"], "lint.failed", "{stderr}");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("2 warning(s), the first lint.no_policies")
    );
    assert!(!d.join("lint.json").exists());
}

/// `mandate test` runs policy unit tests (the demo's own pass; a wrong expectation fails with
/// what the guardrails said, exit 8), and `mandate eval` shows what the guardrails answer for a
/// raw input (exit 0 allow / 3 deny), with `input.agent` filled from the registry.
#[test]
fn policy_tests_and_eval_show_what_the_guardrails_answer() {
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("demo");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let source = |cmd: &mut Command| {
        cmd.arg("--policy").arg(demo.join("guardrails.rego"));
        cmd.arg("--data").arg(demo.join("data.yaml"));
        cmd.arg("--registry").arg(demo.join("registry.yaml"));
    };
    let mut cmd = mandate(d);
    cmd.arg("test");
    source(&mut cmd);
    cmd.arg(demo.join("guardrails_test.yaml"));
    cmd.assert()
        .success()
        .stdout(predicate::str::contains(
            "ok   alice reads her secret from the office network",
        ))
        .stdout(predicate::str::contains("5 passed, 0 failed"));

    std::fs::write(
        d.join("wrong_test.yaml"),
        "cases:\n  - name: bob reads alice's secret\n    input: {user: {id: bob}, request: {action: \"secrets:read\", ip: 10.20.0.7}}\n    expect: allow\n\
         \x20 - name: the office network is trusted\n    input: {user: {id: alice}, request: {action: \"secrets:read\", ip: 10.20.0.7}}\n    expect: allow\n    obligations: {watermark: true}\n\
         \x20 - name: a bad address is a policy error\n    input: {user: {id: alice}, request: {action: \"secrets:read\", ip: \"not an ip\"}}\n    expect: deny\n    error: policy.error\n",
    )
    .unwrap();
    let mut cmd = mandate(d);
    cmd.arg("test");
    source(&mut cmd);
    let out = cmd.arg("wrong_test.yaml").output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(8), "{stdout}");
    assert!(
        stdout.contains("FAIL bob reads alice's secret: want allow, got deny; (allow: false, deny: [\"secrets belong to alice\"])"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "FAIL the office network is trusted: obligations {}, want {\"watermark\":true}"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("ok   a bad address is a policy error"),
        "{stdout}"
    );
    assert!(stdout.contains("1 passed, 2 failed"), "{stdout}");

    // A failing case shows what the policy print()ed.
    std::fs::write(d.join("printing.rego"), "package mandate\n\nallow if {\n\tprint(\"user is\", input.user.id)\n\tinput.user.id == \"alice\"\n}\n").unwrap();
    std::fs::write(
        d.join("printing_test.yaml"),
        "cases:\n  - name: bob is allowed\n    input: {user: {id: bob}}\n    expect: allow\n",
    )
    .unwrap();
    let out = mandate(d)
        .args(["test", "--policy", "printing.rego", "printing_test.yaml"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(8), "{stdout}");
    assert!(
        stdout.contains("FAIL bob is allowed: want allow, got deny"),
        "{stdout}"
    );
    assert!(
        stdout.contains("print: ") && stdout.contains("user is bob"),
        "{stdout}"
    );
    let mut cmd = mandate(d);
    cmd.arg("test");
    source(&mut cmd);
    let out = cmd.args(["wrong_test.yaml", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(8));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (report["passed"].as_u64(), report["failed"].as_u64()),
        (Some(1), Some(2))
    );
    assert_eq!(report["cases"][2]["ok"], true);

    // eval: the answer for one input, from stdin, with the agent's record as the core shows it.
    let eval = |input: &str, agent: Option<&str>| {
        let mut cmd = mandate(d);
        cmd.arg("eval");
        source(&mut cmd);
        cmd.args(["--input", "-", "--json"]);
        if let Some(a) = agent {
            cmd.args(["--agent", a]);
        }
        cmd.write_stdin(input.to_string()).output().unwrap()
    };
    let out = eval(
        r#"{"user": {"id": "alice"}, "request": {"action": "secrets:read", "ip": "10.20.0.7"}}"#,
        Some("agent:travel-booker"),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (doc["decision"].as_str(), doc["allow"].as_bool()),
        (Some("allow"), Some(true))
    );
    let out = eval(
        r#"{"user": {"id": "alice"}, "request": {"action": "secrets:read", "ip": "203.0.113.9"}}"#,
        None,
    );
    assert_eq!(out.status.code(), Some(3));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        doc["deny"],
        json!(["secrets may only be read from a trusted network"])
    );
    let out = eval(
        r#"{"user": {"id": "alice"}, "request": {"action": "secrets:read", "ip": "x"}}"#,
        None,
    );
    assert_eq!(out.status.code(), Some(3));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["error"]["code"], "policy.error", "{doc}");
    let out = eval("{}", Some("agent:nobody"));
    assert_eq!(out.status.code(), Some(5));
    let err: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(err["error"]["code"], "agent.unknown");
}

/// Token minting takes `--now` (alias `--iat`): `iat` is that time and `exp` counts from it.
#[test]
fn tokens_are_minted_at_the_time_given() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    project(d);
    let alice = token(
        d,
        &[
            "delegate",
            "--key",
            "keys/idp.jwk",
            "--iss",
            "https://idp.example.com",
            "--sub",
            "alice",
            "--agent",
            "agent:travel-booker",
            "--agent-key",
            "keys/booker.pub.jwk",
            "--aud",
            "https://api.example.com",
            "--scope",
            "trips:read",
            "--ttl",
            "1h",
            "--now",
            "1800000000",
        ],
    );
    std::fs::write(d.join("at.jwt"), &alice).unwrap();
    let claims = json_out(mandate(d).args(["token", "inspect", "@at.jwt"]))["claims"].clone();
    assert_eq!(
        (claims["iat"].as_i64(), claims["exp"].as_i64()),
        (Some(1_800_000_000), Some(1_800_003_600))
    );
    let proof = token(
        d,
        &[
            "proof",
            "--key",
            "keys/booker.jwk",
            "--method",
            "GET",
            "--uri",
            "https://api.example.com/v1/trips",
            "--iat",
            "1800000005",
        ],
    );
    std::fs::write(d.join("proof.jwt"), &proof).unwrap();
    let claims = json_out(mandate(d).args(["token", "inspect", "@proof.jwt"]))["claims"].clone();
    assert_eq!(claims["iat"].as_i64(), Some(1_800_000_005));
}

/// A settings file may give the time settings as durations; the bundle holds seconds.
#[test]
fn settings_take_durations() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    project(d);
    std::fs::write(
        d.join("s.yaml"),
        "proof_max_age: 2m\ngrant_max_ttl: 30s\nclock_skew: 45\n",
    )
    .unwrap();
    let build = |settings: &str| {
        let mut cmd = mandate(d);
        cmd.args([
            "bundle",
            "build",
            "--registry",
            "registry.yaml",
            "--issuers",
            "issuers.yaml",
        ]);
        cmd.args(["--policy", "guardrails.rego", "--settings", settings]);
        cmd
    };
    let out = build("s.yaml").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let contents: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        contents["settings"],
        json!({"proof_max_age": 120, "grant_max_ttl": 30, "clock_skew": 45})
    );
    std::fs::write(d.join("bad.yaml"), "proof_max_age: soon\n").unwrap();
    fails(
        build("bad.yaml").arg("--out").arg("x.json"),
        5,
        "proof_max_age: `soon` is not a duration",
    );
}
