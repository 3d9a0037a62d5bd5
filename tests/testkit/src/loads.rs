//! The named load configs of the vectors (`loads` in conformance.json and http.json): the
//! good bundle under several trust and grant settings, and every way a bundle can be refused.

use crate::security_cases;
use crate::world::{self, Keys, NOW, key, load_config, signed_bundle};
use policy_core::{b64, json};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// Every load config by name.
pub fn loads(k: &Keys) -> BTreeMap<&'static str, Value> {
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
            Some(&policy_core::mint::bundle(
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
    // time.weekday / time.date / time.clock of input.now (NOW is Friday 2027-01-15, 08:00 UTC).
    m.insert(
        "weekdays-only",
        load_config(
            Some(&with_policy(
                "package mandate\n\nallow if {\n\tstartswith(input.request.action, \"trips:\")\n\tnot time.weekday(input.now * 1000000000) in {\"Saturday\", \"Sunday\"}\n\t[h, _, _] := time.clock(input.now * 1000000000)\n\th >= 8\n\t[y, _, _] := time.date([input.now * 1000000000, \"UTC\"])\n\ty >= 2027\n}\n",
            )),
            &[&k.root],
            None,
        ),
    );
    m.insert(
        "no-fridays",
        load_config(
            Some(&with_policy(
                "package mandate\n\nallow if startswith(input.request.action, \"trips:\")\n\ndeny contains \"not on Fridays\" if time.weekday(input.now * 1000000000) == \"Friday\"\n",
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
            Some(&policy_core::mint::bundle(
                &world::bundle_contents(k, |_| {}),
                &root2,
            )),
            &[&k.root, &root2],
            None,
        ),
    );
    m
}
