//! Bundle updates from an HTTP source, without restarting Envoy.
//!
//! Each worker's root context polls the configured cluster with `If-None-Match`. A `200` body is
//! loaded into a fresh engine; it replaces the serving one only when it loaded and the core's
//! replacement rule (`policy_core::may_replace`: not expired, valid now, not a rollback) lets
//! it, so a bad, tampered, expired or older bundle leaves the last good one serving. The rule is
//! held to `tests/vectors/replace.json` (`tests/replace_vectors.rs`).

use policy_core::{Code, Pdp};

use crate::config::{BundleSource, FilterConfig};

/// What to do with the answer to one poll.
#[derive(Debug)]
pub enum Fetched {
    /// A bundle that loaded: serve it. `etag` is sent on the next poll.
    Loaded {
        /// The new engine (boxed: it is large, and the other answers are not).
        pdp: Box<Pdp>,
        /// The response's `ETag`, if any.
        etag: Option<String>,
        /// The core's load status (revision, digest), for the log.
        status: String,
    },
    /// `304 Not Modified`.
    Unchanged,
    /// Anything else; the serving bundle stays.
    Rejected {
        /// The stable code of the refusal.
        code: Code,
        /// Why, for the log.
        why: String,
        /// The `ETag` of a bundle that arrived but was refused, so the next poll does not fetch
        /// and verify the same bytes again.
        etag: Option<String>,
    },
}

/// The request headers of one poll.
pub fn poll_headers<'a>(
    source: &'a BundleSource,
    etag: Option<&'a str>,
) -> Vec<(&'a str, &'a str)> {
    let authority = source.authority.as_deref().unwrap_or(&source.cluster);
    let mut headers = vec![
        (":method", "GET"),
        (":path", source.path.as_str()),
        (":authority", authority),
    ];
    if let Some(etag) = etag {
        headers.push(("if-none-match", etag));
    }
    headers
}

/// Loads a polled response into an engine, or says why it is not served.
pub fn on_response(
    config: &FilterConfig,
    serving: &Pdp,
    now: u64,
    status: Option<&str>,
    etag: Option<String>,
    body: &[u8],
) -> Fetched {
    match status {
        Some("304") => return Fetched::Unchanged,
        Some("200") => {}
        other => {
            let why = format!("bundle source answered {}", other.unwrap_or("nothing"));
            return Fetched::Rejected {
                code: Code::BundleFetchFailed,
                why,
                etag: None,
            };
        }
    }
    let Ok(bundle) = core::str::from_utf8(body) else {
        return Fetched::Rejected {
            code: Code::BundleMalformed,
            why: "bundle source sent a non-UTF-8 body".into(),
            etag,
        };
    };
    let pdp = Pdp::load_json(&config.load_config(Some(bundle.trim())));
    let status = String::from_utf8_lossy(&pdp.status_json()).into_owned();
    // The core's one replacement rule: loaded, not expired, valid now, not a rollback.
    let Ok(now) = i64::try_from(now) else {
        return Fetched::Rejected {
            code: Code::InternalError,
            why: "proxy clock out of range".into(),
            etag,
        };
    };
    let serving = serving
        .status()
        .ok()
        .map(policy_core::bundle::Bundle::facts);
    if let Err(r) = pdp.may_replace(serving.as_ref(), now) {
        return Fetched::Rejected {
            code: r.code,
            why: format!(
                "fetched bundle refused ({}): {}",
                r.code.as_str(),
                r.message
            ),
            etag,
        };
    }
    Fetched::Loaded {
        pdp: Box::new(pdp),
        etag,
        status,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use policy_core::{PrivateJwk, mint};
    use serde_json::json;

    fn key(byte: u8, kid: &str) -> Option<PrivateJwk> {
        PrivateJwk::from_scalar_bytes(&[byte; 32])
            .ok()
            .map(|k| k.with_kid(Some(kid.into())))
    }

    fn bundle(signer: &PrivateJwk, iat: u64) -> String {
        let contents =
            json!({"revision": format!("r{iat}"), "iat": iat, "exp": iat + 1000, "issuers": []});
        mint::bundle(&contents, signer)
    }

    fn config(root: &PrivateJwk) -> Option<FilterConfig> {
        let json = json!({"trust_keys": [root.public().to_json_value()], "bundle": "unused"});
        FilterConfig::parse(json.to_string().as_bytes()).ok()
    }

    #[test]
    fn serves_good_bundles_and_refuses_bad_old_or_expired_ones() {
        let (Some(root), Some(rogue)) = (key(1, "root-1"), key(2, "root-1")) else {
            unreachable!("fixed test keys are valid scalars");
        };
        let Some(config) = config(&root) else {
            unreachable!("the test configuration parses");
        };
        let serving = Pdp::load_json(&config.load_config(Some(&bundle(&root, 500))));
        assert!(
            serving
                .status()
                .is_ok_and(|b| b.nbf == 500 && b.exp == 1500)
        );

        let newer = bundle(&root, 600);
        let fetched = on_response(
            &config,
            &serving,
            700,
            Some("200"),
            Some("\"e1\"".into()),
            newer.as_bytes(),
        );
        assert!(
            matches!(fetched, Fetched::Loaded { ref etag, .. } if etag.as_deref() == Some("\"e1\""))
        );

        let tampered = bundle(&rogue, 600);
        let fetched = on_response(
            &config,
            &serving,
            700,
            Some("200"),
            Some("\"e2\"".into()),
            tampered.as_bytes(),
        );
        assert!(
            matches!(fetched, Fetched::Rejected { ref etag, .. } if etag.as_deref() == Some("\"e2\""))
        );

        let refused = |now: u64, body: &str| match on_response(
            &config,
            &serving,
            now,
            Some("200"),
            None,
            body.as_bytes(),
        ) {
            Fetched::Rejected { why, .. } => why,
            other => format!("not refused: {other:?}"),
        };
        let older = bundle(&root, 400);
        assert!(refused(700, &older).contains("bundle.rollback"));
        assert!(refused(1700, &newer).contains("bundle.expired"));
        assert!(refused(550, &newer).contains("bundle.not_yet_valid"));
        assert!(matches!(
            on_response(&config, &serving, 700, Some("304"), None, b""),
            Fetched::Unchanged
        ));
        assert!(matches!(
            on_response(&config, &serving, 700, Some("500"), Some("x".into()), b""),
            Fetched::Rejected { etag: None, .. }
        ));
    }

    #[test]
    fn polls_conditionally() {
        let source = BundleSource {
            cluster: "bundles".into(),
            path: "/b.jws".into(),
            authority: None,
            refresh_seconds: 30,
            timeout_ms: 1000,
        };
        assert_eq!(
            poll_headers(&source, Some("\"e\"")),
            vec![
                (":method", "GET"),
                (":path", "/b.jws"),
                (":authority", "bundles"),
                ("if-none-match", "\"e\"")
            ]
        );
    }
}
