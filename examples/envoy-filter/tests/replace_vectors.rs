//! The filter's bundle updates on the replacement vectors: each case's serving config installed,
//! its next bundle answered by the bundle source (`200`), and the filter's verdict compared.
#![allow(clippy::indexing_slicing)]

use envoy_filter::bundle_source::{Fetched, on_response};
use envoy_filter::config::FilterConfig;
use policy_core::Pdp;
use serde_json::{Value, json};
use testkit::kit::{ReplaceCorpus, ReplaceHost, run_replace_corpus};

struct Filter;

impl ReplaceHost for Filter {
    fn name(&self) -> &str {
        "envoy filter"
    }

    fn replace(
        &mut self,
        serving: Option<&[u8]>,
        next: &[u8],
        now: i64,
    ) -> Result<Option<String>, String> {
        // The filter is configured with the next config's trust keys; its bundle is the body.
        let next: Value = serde_json::from_slice(next).map_err(|e| e.to_string())?;
        let filter = json!({"trust_keys": next["trust_keys"], "bundle": "unused"});
        let config =
            FilterConfig::parse(filter.to_string().as_bytes()).map_err(|e| format!("{e:?}"))?;
        let serving = Pdp::load_json(serving.unwrap_or(b"{}"));
        let body = next["bundle"].as_str().unwrap_or_default();
        let now = u64::try_from(now).map_err(|e| e.to_string())?;
        match on_response(&config, &serving, now, Some("200"), None, body.as_bytes()) {
            Fetched::Loaded { .. } => Ok(None),
            Fetched::Rejected { code, .. } => Ok(Some(code.as_str().to_owned())),
            Fetched::Unchanged => Err("a 200 was read as unchanged".into()),
        }
    }
}

#[test]
fn replacement_vectors() {
    run_replace_corpus(&mut Filter, &ReplaceCorpus::read()).assert_ok(14);
}
