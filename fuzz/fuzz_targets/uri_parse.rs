//! `TargetUri::parse` on arbitrary text. Normalization is idempotent: the `htu()` of a parsed
//! URI parses again to the same scheme, host, port and path (and the same `htu()`), and a
//! query or fragment appended to it changes nothing. What it accepts is http(s), a lower-case
//! non-empty host, no default port, a path that starts with `/`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use policy_core::limits;
use policy_core::request::TargetUri;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let Some(u) = TargetUri::parse(s) else {
        return;
    };
    let default_port = match u.scheme.as_str() {
        "https" => 443,
        "http" => 80,
        other => panic!("scheme {other:?} accepted from {s:?}"),
    };
    assert!(!u.host.is_empty(), "{s:?}");
    assert_eq!(u.host, u.host.to_ascii_lowercase(), "{s:?}");
    assert_ne!(u.port, Some(default_port), "{s:?}");
    assert!(u.path.starts_with('/'), "{s:?} -> path {:?}", u.path);
    let htu = u.htu();
    assert!(!htu.contains('?') && !htu.contains('#'), "{s:?} -> {htu:?}");
    let again = TargetUri::parse(&htu)
        .unwrap_or_else(|| panic!("htu {htu:?} of {s:?} does not parse again"));
    assert_eq!(
        again.htu(),
        htu,
        "normalization is not idempotent for {s:?}"
    );
    assert_eq!(
        (&again.scheme, &again.host, again.port, &again.path),
        (&u.scheme, &u.host, u.port, &u.path),
        "{s:?} -> {htu:?}"
    );
    assert!(again.query.is_empty());
    let with_query = format!("{htu}?x=1#frag");
    if with_query.len() > limits::MAX_URI_BYTES {
        return;
    }
    let q =
        TargetUri::parse(&with_query).unwrap_or_else(|| panic!("{with_query:?} does not parse"));
    assert_eq!(q.htu(), htu, "a query changed the htu of {htu:?}");
    assert_eq!(q.query, "x=1");
});
