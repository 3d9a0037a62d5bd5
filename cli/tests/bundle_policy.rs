//! `mandate bundle build` refuses guardrails that would fail open at decision time: a call to a
//! function nobody defines — even behind a condition no dry run reaches — or to a builtin that
//! reads a clock, randomness or the network is `bundle.policy_invalid` at build time.
// Helpers outside #[test] functions fail the test by panicking; clippy.toml's *-in-tests
// options cover only #[test] functions, so this file still allows it for its helpers.
#![allow(clippy::unwrap_used)]

use assert_cmd::Command;
use predicates::prelude::*;
use std::path::Path;

fn mandate(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mandate"));
    c.current_dir(dir);
    c
}

fn build_with(policy: &str) -> assert_cmd::assert::Assert {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    mandate(d)
        .args(["keygen", "--kid", "idp", "--out", "idp"])
        .assert()
        .success();
    std::fs::write(d.join("registry.yaml"), "agents: []\n").unwrap();
    std::fs::write(d.join("p.rego"), policy).unwrap();
    std::fs::write(
        d.join("issuers.yaml"),
        "- iss: https://idp.example.com\n  keys: [idp.pub.jwk]\n  audiences: [https://api.example.com]\n",
    )
    .unwrap();
    let assert = mandate(d)
        .args([
            "bundle",
            "build",
            "--registry",
            "registry.yaml",
            "--policy",
            "p.rego",
        ])
        .args([
            "--issuers",
            "issuers.yaml",
            "--revision",
            "r1",
            "--out",
            "b.json",
        ])
        .assert();
    drop(dir);
    assert
}

#[test]
fn unknown_functions_and_forbidden_builtins_fail_the_build() {
    for policy in [
        "package mandate\nallow := true\ndeny contains \"blocked\" if { undefined_helper_fn(input.request.path) }\n",
        "package mandate\nallow := true\ndeny contains \"blocked\" if {\n\tinput.request.method == \"DELETE\"\n\tundefined_helper_fn(input.request.path)\n}\n",
        "package mandate\nallow if time.now_ns() > 0\n",
        "package mandate\nallow if { x := [y | some y in input.a; lib.nope(y)]; count(x) > 0 }\n",
    ] {
        build_with(policy)
            .failure()
            .stderr(predicate::str::contains("bundle.policy_invalid"));
    }
}

#[test]
fn defined_functions_and_supported_builtins_build() {
    build_with(
        "package mandate\nis_trip(a) if startswith(a, \"trips:\")\nallow if is_trip(input.request.action)\n",
    )
    .success();
}
