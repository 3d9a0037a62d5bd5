//! Generates `tests/vectors/replay.json`: the replay-store semantics every store must follow
//! (Rust memory and Redis, JS memory, Redis and Durable Object), as named cases of steps, each
//! a call to the store with the decision's `now` and its `use_once` entries and the outcome it
//! must give. Format and semantics: tests/README.md, "Replay vectors".
//!
//! The expectations are written by hand below; the generator refuses to write a case unless
//! three reference models of the semantics agree with them: the bounded memory store (purge,
//! then all-or-nothing capacity), the lazily-expiring store (the Durable Object) and Redis
//! (relative TTLs on a clock that never goes back). A case whose answer would depend on which
//! store runs it is a bug in the case. `gen-replay --check` fails when the file is stale.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The decisions' time (the conformance vectors' `now`).
const T: i64 = 1_800_000_000;
/// Longest an entry may need remembering (host-rust `replay::MAX_TTL_SECONDS`).
const MAX_TTL: i64 = 3_155_760_000;
/// The memory stores' default capacity.
const DEFAULT_CAPACITY: usize = 1_000_000;
/// The Redis key prefix every host uses by default.
const PREFIX: &str = "mandate:jti:";
/// Two key thumbprints (RFC 7638 style), to scope proof jtis.
const TA: &str = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";
const TB: &str = "kZrUFVsTAZmCf2ZvZS0iR5PfKGn1kVH9pYrf_4U4bbA";

#[derive(Clone)]
struct Entry {
    kind: &'static str,
    jti: String,
    exp: i64,
}

fn proof(jti: &str, exp: i64) -> Entry {
    Entry {
        kind: "proof",
        jti: jti.to_owned(),
        exp,
    }
}

fn grant(jti: &str, exp: i64) -> Entry {
    Entry {
        kind: "grant",
        jti: jti.to_owned(),
        exp,
    }
}

fn scoped(thumbprint: &str, jti: &str, exp: i64) -> Entry {
    proof(&format!("{thumbprint}:{jti}"), exp)
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Outcome {
    Inserted,
    Replayed(Vec<String>),
    StoreError,
}

struct Step {
    now: i64,
    entries: Vec<Entry>,
    expect: Outcome,
}

struct Case {
    name: &'static str,
    description: &'static str,
    capacity: Option<usize>,
    steps: Vec<Step>,
}

fn ins(now: i64, entries: &[Entry]) -> Step {
    Step {
        now,
        entries: entries.to_vec(),
        expect: Outcome::Inserted,
    }
}

fn rep(now: i64, entries: &[Entry], replayed: &[&str]) -> Step {
    Step {
        now,
        entries: entries.to_vec(),
        expect: Outcome::Replayed(replayed.iter().map(|s| (*s).to_owned()).collect()),
    }
}

fn err(now: i64, entries: &[Entry]) -> Step {
    Step {
        now,
        entries: entries.to_vec(),
        expect: Outcome::StoreError,
    }
}

fn case(name: &'static str, description: &'static str, steps: Vec<Step>) -> Case {
    Case {
        name,
        description,
        capacity: None,
        steps,
    }
}

fn bounded(
    name: &'static str,
    description: &'static str,
    capacity: usize,
    steps: Vec<Step>,
) -> Case {
    Case {
        name,
        description,
        capacity: Some(capacity),
        steps,
    }
}

#[allow(clippy::too_many_lines)]
fn cases() -> Vec<Case> {
    let a = scoped(TA, "n1", T + 120);
    let a_id = a.jti.clone();
    vec![
        case(
            "same-jti-twice",
            "A recorded entry is a replay on every later call until its exp, inclusive.",
            vec![
                ins(T, core::slice::from_ref(&a)),
                rep(T, core::slice::from_ref(&a), &[&a_id]),
                rep(T + 1, core::slice::from_ref(&a), &[&a_id]),
                rep(T + 120, core::slice::from_ref(&a), &[&a_id]),
            ],
        ),
        case(
            "reused-after-exp",
            "Once the second of exp has passed the entry is forgotten and the jti may be recorded again (the core refuses the expired proof or grant itself); the new record is a replay in turn.",
            vec![
                ins(T, &[proof("x", T + 60)]),
                rep(T + 60, &[proof("x", T + 60)], &["x"]),
                ins(T + 61, &[proof("x", T + 200)]),
                rep(T + 62, &[proof("x", T + 200)], &["x"]),
            ],
        ),
        case(
            "kinds-do-not-collide",
            "The kind is part of the key: a proof and a grant with the same jti string are different entries.",
            vec![
                ins(T, &[proof(&a_id, T + 60)]),
                ins(T, &[grant(&a_id, T + 60)]),
                rep(T + 1, &[proof(&a_id, T + 60)], &[&a_id]),
                rep(T + 1, &[grant(&a_id, T + 60)], &[&a_id]),
                ins(T + 1, &[grant("n2", T + 60)]),
                ins(T + 1, &[proof("n2", T + 60)]),
            ],
        ),
        case(
            "kind-containing-colon-is-refused",
            "A kind containing ':' would make keys ambiguous (proof:x + y vs proof + x:y): the call fails before anything is recorded.",
            vec![
                Step {
                    now: T,
                    entries: vec![Entry {
                        kind: "proof:x",
                        jti: "y".into(),
                        exp: T + 60,
                    }],
                    expect: Outcome::StoreError,
                },
                Step {
                    now: T,
                    entries: vec![
                        proof("ok", T + 60),
                        Entry {
                            kind: "grant:",
                            jti: "z".into(),
                            exp: T + 60,
                        },
                    ],
                    expect: Outcome::StoreError,
                },
                ins(T, &[proof("x:y", T + 60)]),
                ins(T, &[proof("ok", T + 60)]),
            ],
        ),
        case(
            "jti-scoped-by-key-thumbprint",
            "A proof's jti is '<key thumbprint>:<jti>' (data, as the core writes it): two keys may use the same raw jti.",
            vec![
                ins(T, &[scoped(TA, "n1", T + 120)]),
                ins(T, &[scoped(TB, "n1", T + 120)]),
                rep(T + 5, &[scoped(TA, "n1", T + 120)], &[&a_id]),
                rep(T + 5, &[scoped(TB, "n1", T + 120)], &[&format!("{TB}:n1")]),
            ],
        ),
        case(
            "exp-in-the-past-at-insert",
            "An entry whose exp has already passed is still remembered through the current second (never less than a second, as Redis's PX 1000).",
            vec![
                ins(T, &[proof("old", T - 30)]),
                rep(T, &[proof("old", T - 30)], &["old"]),
                ins(T + 1, &[proof("old", T - 30)]),
                ins(T + 1, &[proof("older", i64::MIN)]),
                rep(T + 1, &[proof("older", i64::MIN)], &["older"]),
            ],
        ),
        case(
            "exp-far-in-the-future",
            "No TTL is ever shortened; an entry that would need remembering for more than max_ttl_seconds (exp - now + 1) is refused, and the call records nothing.",
            vec![
                ins(T, &[proof("cap", T + MAX_TTL - 1)]),
                err(T, &[proof("over", T + MAX_TTL)]),
                err(T, &[proof("max", i64::MAX)]),
                err(T, &[proof("with-over", T + 60), proof("over", T + MAX_TTL)]),
                rep(T + 1, &[proof("cap", T + MAX_TTL - 1)], &["cap"]),
                ins(T + 1, &[proof("over", T + MAX_TTL)]),
                ins(T + 1, &[proof("with-over", T + 60)]),
            ],
        ),
        case(
            "skew-zero-boundary-at-exp",
            "With clock_skew 0 the core still accepts a proof or grant at now == exp, so the store remembers the entry through that whole second, on its own clock as on the decision's: at exp a replay, one second later forgotten.",
            vec![
                ins(T, &[proof("b60", T + 60)]),
                ins(T, &[grant("b0", T)]),
                rep(T, &[grant("b0", T)], &["b0"]),
                ins(T + 1, &[grant("b0", T + 1)]),
                rep(T + 1, &[grant("b0", T + 1)], &["b0"]),
                rep(T + 60, &[proof("b60", T + 60)], &["b60"]),
                ins(T + 61, &[proof("b60", T + 61)]),
            ],
        ),
        case(
            "time-going-backwards",
            "A clock stepped back forgets nothing: recorded entries stay replays, and entries recorded at the earlier time are remembered until their own exp.",
            vec![
                ins(T, &[proof("a", T + 10)]),
                rep(T - 100, &[proof("a", T + 10)], &["a"]),
                ins(T - 100, &[proof("b", T - 95)]),
                rep(T - 99, &[proof("b", T - 95)], &["b"]),
                rep(T - 99, &[proof("a", T + 10)], &["a"]),
                rep(T + 10, &[proof("a", T + 10)], &["a"]),
                ins(T + 11, &[proof("a", T + 20)]),
            ],
        ),
        case(
            "several-entries-one-replayed",
            "A call records each entry independently: the replayed ones are reported (in order), the new ones stay recorded (a replay attempt burns the fresh nonces it carried).",
            vec![
                ins(T, &[proof("p", T + 60)]),
                rep(T, &[proof("p", T + 60), grant("g", T + 60)], &["p"]),
                rep(T, &[grant("g", T + 60)], &["g"]),
                rep(
                    T,
                    &[proof("q", T + 60), proof("q", T + 60), grant("r", T + 60)],
                    &["q"],
                ),
                rep(T, &[grant("r", T + 60), proof("q", T + 60)], &["r", "q"]),
                ins(T, &[]),
            ],
        ),
        bounded(
            "capacity-full-of-live-entries",
            "A bounded store full of live entries refuses (store_error, the decision denies) and forgets nothing; a call whose new entries do not all fit records none of them; replays need no room.",
            3,
            vec![
                ins(T, &[proof("a", T + 60)]),
                ins(T, &[proof("b", T + 60)]),
                err(T, &[proof("c", T + 60), proof("d", T + 60)]),
                ins(T, &[proof("c", T + 60)]),
                err(T + 1, &[proof("d", T + 60)]),
                err(T + 1, &[proof("a", T + 60), proof("d", T + 60)]),
                rep(T + 1, &[proof("a", T + 60)], &["a"]),
                rep(T + 60, &[proof("c", T + 60)], &["c"]),
                err(T + 60, &[proof("d", T + 60)]),
            ],
        ),
        bounded(
            "capacity-full-of-expired-entries",
            "Every call first forgets the entries whose second has passed, so a store full of expired entries has room again.",
            2,
            vec![
                ins(T, &[proof("a", T + 10)]),
                ins(T, &[proof("b", T + 20)]),
                err(T + 10, &[proof("c", T + 100)]),
                ins(T + 11, &[proof("c", T + 100)]),
                rep(T + 11, &[proof("b", T + 20)], &["b"]),
                err(T + 11, &[proof("d", T + 100)]),
                ins(T + 21, &[proof("d", T + 100)]),
                ins(T + 200, &[proof("a", T + 300), proof("b", T + 300)]),
            ],
        ),
        bounded(
            "capacity-time-going-backwards",
            "A clock stepped back purges nothing, so a full store stays full.",
            1,
            vec![
                ins(T, &[proof("a", T + 10)]),
                err(T - 100, &[proof("b", T - 90)]),
                rep(T - 100, &[proof("a", T + 10)], &["a"]),
                ins(T + 11, &[proof("b", T + 20)]),
            ],
        ),
    ]
}

/// Exact `SET` arguments for a Redis store with the default prefix.
fn redis_sets() -> Vec<(i64, Entry)> {
    vec![
        (T, scoped(TA, "n1", T + 120)),
        (T, grant("g-1", T + 60)),
        (T, proof("past", T - 30)),
        (T, grant("at-exp", T)),
        (T, proof("cap", T + MAX_TTL - 1)),
    ]
}

// ---- the semantics, three ways -------------------------------------------------------------

fn key(e: &Entry) -> Option<String> {
    (!e.kind.contains(':')).then(|| format!("{}:{}", e.kind, e.jti))
}

fn ttl(e: &Entry, now: i64) -> Option<i64> {
    let t = (i128::from(e.exp) - i128::from(now)).max(0) + 1;
    i64::try_from(t).ok().filter(|t| *t <= MAX_TTL)
}

fn valid(entries: &[Entry], now: i64) -> bool {
    entries
        .iter()
        .all(|e| key(e).is_some() && ttl(e, now).is_some())
}

trait Model {
    fn call(&mut self, now: i64, entries: &[Entry]) -> Outcome;
}

fn outcome(replayed: Vec<String>) -> Outcome {
    if replayed.is_empty() {
        Outcome::Inserted
    } else {
        Outcome::Replayed(replayed)
    }
}

/// The bounded memory stores: purge, then all new entries or none.
struct Memory {
    capacity: usize,
    held: BTreeMap<String, i64>,
}

impl Model for Memory {
    fn call(&mut self, now: i64, entries: &[Entry]) -> Outcome {
        if !valid(entries, now) {
            return Outcome::StoreError;
        }
        self.held.retain(|_, until| *until >= now);
        let mut replayed = Vec::new();
        let mut fresh: Vec<(String, i64)> = Vec::new();
        for e in entries {
            let k = key(e).unwrap();
            if self.held.contains_key(&k) || fresh.iter().any(|(f, _)| *f == k) {
                replayed.push(e.jti.clone());
            } else {
                fresh.push((k, now + ttl(e, now).unwrap() - 1));
            }
        }
        if self.held.len() + fresh.len() > self.capacity {
            return Outcome::StoreError;
        }
        self.held.extend(fresh);
        outcome(replayed)
    }
}

/// The Durable Object: each key checked against `now` when touched, never purged in a case.
#[derive(Default)]
struct Lazy {
    held: BTreeMap<String, i64>,
}

impl Model for Lazy {
    fn call(&mut self, now: i64, entries: &[Entry]) -> Outcome {
        if !valid(entries, now) {
            return Outcome::StoreError;
        }
        let mut replayed = Vec::new();
        for e in entries {
            let k = key(e).unwrap();
            match self.held.get(&k) {
                Some(until) if *until >= now => replayed.push(e.jti.clone()),
                _ => {
                    self.held.insert(k, now + ttl(e, now).unwrap() - 1);
                }
            }
        }
        outcome(replayed)
    }
}

/// Redis: `SET NX PX` with a TTL relative to the decision's `now`, expiring on Redis's own
/// clock, which follows the decisions' time forward but never back.
#[derive(Default)]
struct Redis {
    clock: Option<i64>,
    remaining_ms: BTreeMap<String, i64>,
}

impl Model for Redis {
    fn call(&mut self, now: i64, entries: &[Entry]) -> Outcome {
        let clock = self.clock.get_or_insert(now);
        if now > *clock {
            let elapsed = (now - *clock) * 1000;
            *clock = now;
            self.remaining_ms.retain(|_, ms| {
                *ms -= elapsed;
                *ms > 0
            });
        }
        if !valid(entries, now) {
            return Outcome::StoreError;
        }
        let mut replayed = Vec::new();
        for e in entries {
            let k = key(e).unwrap();
            match self.remaining_ms.entry(k) {
                std::collections::btree_map::Entry::Occupied(_) => replayed.push(e.jti.clone()),
                std::collections::btree_map::Entry::Vacant(v) => {
                    v.insert(ttl(e, now).unwrap() * 1000);
                }
            }
        }
        outcome(replayed)
    }
}

fn run(model: &mut dyn Model, case: &Case, label: &str, failures: &mut Vec<String>) {
    for (i, step) in case.steps.iter().enumerate() {
        let got = model.call(step.now, &step.entries);
        if got != step.expect {
            failures.push(format!(
                "{} step {i} ({label}): expected {:?}, the model gives {got:?}",
                case.name, step.expect
            ));
        }
    }
}

fn entry_json(e: &Entry) -> Value {
    json!({"kind": e.kind, "jti": e.jti, "exp": e.exp})
}

fn main() {
    let check = std::env::args().any(|a| a == "--check");
    let out_path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "..", "vectors", "replay.json"]
        .iter()
        .collect();
    let cases = cases();
    let mut failures = Vec::new();
    let mut names = std::collections::BTreeSet::new();
    for c in &cases {
        assert!(names.insert(c.name), "duplicate case name {}", c.name);
        let mut memory = Memory {
            capacity: c.capacity.unwrap_or(DEFAULT_CAPACITY),
            held: BTreeMap::new(),
        };
        run(&mut memory, c, "memory", &mut failures);
        if c.capacity.is_none() {
            run(&mut Lazy::default(), c, "durable object", &mut failures);
            run(&mut Redis::default(), c, "redis", &mut failures);
        }
    }
    if !failures.is_empty() {
        for f in &failures {
            eprintln!("MISMATCH {f}");
        }
        std::process::exit(1);
    }

    let out_cases: Vec<Value> = cases
        .iter()
        .map(|c| {
            let steps: Vec<Value> = c
                .steps
                .iter()
                .map(|s| {
                    let mut v = json!({
                        "now": s.now,
                        "entries": s.entries.iter().map(entry_json).collect::<Vec<_>>(),
                    });
                    match &s.expect {
                        Outcome::Inserted => v["expect"] = json!("inserted"),
                        Outcome::Replayed(r) => {
                            v["expect"] = json!("replayed");
                            v["replayed"] = json!(r);
                        }
                        Outcome::StoreError => v["expect"] = json!("store_error"),
                    }
                    v
                })
                .collect();
            json!({
                "name": c.name,
                "description": c.description,
                "store": {"capacity": c.capacity},
                "steps": steps,
            })
        })
        .collect();
    let sets: Vec<Value> = redis_sets()
        .iter()
        .map(|(now, e)| {
            json!({
                "now": now,
                "entry": entry_json(e),
                "key": format!("{PREFIX}{}", key(e).unwrap()),
                "px": ttl(e, *now).unwrap() * 1000,
            })
        })
        .collect();
    let file = json!({
        "about": "Mandate replay-store vectors. Generated by `cargo run -p testkit --bin gen-replay`; do not edit. Format and semantics: tests/README.md, \"Replay vectors\".",
        "max_ttl_seconds": MAX_TTL,
        "default_capacity": DEFAULT_CAPACITY,
        "redis": {"prefix": PREFIX, "sets": sets},
        "cases": out_cases,
    });
    let text = serde_json::to_string_pretty(&file).unwrap() + "\n";
    if check {
        let current = std::fs::read_to_string(&out_path).unwrap_or_default();
        if current != text {
            eprintln!(
                "tests/vectors/replay.json is stale: run `cargo run -p testkit --bin gen-replay`"
            );
            std::process::exit(1);
        }
        println!("replay vectors up to date: {} cases", out_cases.len());
    } else {
        std::fs::write(&out_path, text).unwrap();
        println!("wrote {} cases to {}", out_cases.len(), out_path.display());
    }
}
