//! Guardrails: Rego policies (regorus) evaluated after every cryptographic and structural check.
//!
//! Policies are parsed once per bundle. They see only `input` and `data`: regorus is built
//! without its time, random, HTTP and OPA-runtime builtins, so a policy that names one fails to
//! load. `net.cidr_contains` is supplied here because regorus's own needs `std`.

use crate::reason::{Code, Reason, reason};
use alloc::{
    boxed::Box,
    collections::BTreeMap,
    format,
    string::{String, ToString},
    vec::Vec,
};
use core::net::IpAddr;
use serde_json::{Map, Value};

mod calls;
#[cfg(feature = "std")]
pub(crate) mod clock;
mod input;
mod time;

pub use calls::SUPPORTED_BUILTINS;
pub use input::{
    GuardrailInput, PolicyAgent, PolicyCeiling, PolicyDelegation, PolicyHop, PolicyRequest,
    PolicyUser,
};

/// The builtins Mandate adds to regorus's (docs/guardrails.md).
pub const EXTENSIONS: [&str; 4] = [
    "net.cidr_contains",
    "time.clock",
    "time.date",
    "time.weekday",
];

/// What the guardrails said.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    /// `allow` was exactly `true`.
    pub allow: bool,
    /// The `deny` set's messages, sorted.
    pub deny: Vec<String>,
    /// The `obligations` object.
    pub obligations: Map<String, Value>,
}

/// Compiled guardrails, ready to evaluate. Cloning the engine per decision keeps `Pdp` shareable
/// across threads without a lock.
#[derive(Clone)]
pub struct Guardrails {
    engine: regorus::Engine,
    rule: String,
}

impl core::fmt::Debug for Guardrails {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Guardrails")
            .field("rule", &self.rule)
            .finish_non_exhaustive()
    }
}

impl Guardrails {
    /// Parses `policies`, adds `data`, and dry-runs the decision rule once so that a policy
    /// calling an unknown or forbidden builtin is rejected at load, not at the first request.
    ///
    /// # Errors
    /// `bundle.policy_invalid`.
    pub fn compile(
        policies: &BTreeMap<String, String>,
        data: &Map<String, Value>,
        rule: &str,
    ) -> Result<Self, Reason> {
        let invalid = |m: String| reason(Code::BundlePolicyInvalid, m);
        let mut engine = regorus::Engine::new();
        engine.set_strict_builtin_errors(true);
        engine
            .add_extension(
                String::from("net.cidr_contains"),
                2,
                Box::new(cidr_contains),
            )
            .map_err(|e| invalid(format!("{e}")))?;
        for (name, f) in [
            ("time.clock", time::clock as fn(_) -> _),
            ("time.date", time::date),
            ("time.weekday", time::weekday),
        ] {
            engine
                .add_extension(String::from(name), 1, Box::new(f))
                .map_err(|e| invalid(format!("{e}")))?;
        }
        for (name, source) in policies {
            engine
                .add_policy(name.clone(), source.clone())
                .map_err(|e| invalid(format!("{name}: {e}")))?;
        }
        engine
            .add_data(regorus::Value::from(Value::Object(data.clone())))
            .map_err(|e| invalid(format!("data: {e}")))?;
        // Every call must resolve now, not at the first request that happens to reach it.
        calls::check_calls(&mut engine, &EXTENSIONS).map_err(invalid)?;
        #[cfg(feature = "std")]
        clock::install(&mut engine);
        let guardrails = Guardrails {
            engine,
            rule: String::from(rule),
        };
        // Only evaluation errors make a bundle unloadable; outputs of the wrong shape are
        // reported per decision (`policy.output_invalid`), where the input is known.
        match guardrails.evaluate(&Value::Object(Map::new())) {
            Err(r) if r.code == Code::PolicyError => return Err(invalid(r.message)),
            _ => {}
        }
        Ok(guardrails)
    }

    /// Evaluates `allow`, `deny` and `obligations` under the decision rule.
    ///
    /// # Errors
    /// `policy.error`, `policy.limit_exceeded` or `policy.output_invalid`.
    pub fn evaluate(&self, input: &Value) -> Result<Outcome, Reason> {
        self.evaluate_owned(input.clone())
    }

    /// [`Guardrails::evaluate`] for an input the caller no longer needs (saves a copy).
    ///
    /// One query evaluates the decision package as a whole, so a rule the package does not
    /// define is simply absent from the result — never inferred from an error message. Any
    /// error raised while evaluating any rule of the package is a deny: a limit (regorus's
    /// typed [`regorus::LimitError`]) is `policy.limit_exceeded`, anything else `policy.error`.
    ///
    /// # Errors
    /// As [`Guardrails::evaluate`].
    pub fn evaluate_owned(&self, input: Value) -> Result<Outcome, Reason> {
        self.run(&mut self.engine.clone(), input)
    }

    /// [`Guardrails::evaluate`], with what the policy's `print()` calls wrote, in order: for
    /// policy authors (`mandate eval`, `mandate test`). Decisions never gather prints.
    pub fn evaluate_with_prints(&self, input: &Value) -> (Result<Outcome, Reason>, Vec<String>) {
        self.evaluate_owned_with_prints(input.clone())
    }

    /// [`Guardrails::evaluate_with_prints`] for an input the caller no longer needs.
    pub fn evaluate_owned_with_prints(
        &self,
        input: Value,
    ) -> (Result<Outcome, Reason>, Vec<String>) {
        let mut engine = self.engine.clone();
        engine.set_gather_prints(true);
        let result = self.run(&mut engine, input);
        let prints = engine.take_prints().unwrap_or_default();
        (result, prints)
    }

    fn run(&self, engine: &mut regorus::Engine, input: Value) -> Result<Outcome, Reason> {
        engine.set_input(regorus::Value::from(input));
        let results = engine
            .eval_query(self.rule.clone(), false)
            .map_err(|e| classify(&e))?;
        let package = match results.result.as_slice() {
            [] => regorus::Value::Undefined,
            [one] => match one.expressions.as_slice() {
                [e] => e.value.clone(),
                _ => {
                    return Err(reason(
                        Code::PolicyError,
                        "the decision query gave no value",
                    ));
                }
            },
            _ => {
                return Err(reason(
                    Code::PolicyOutputInvalid,
                    "the decision package gave more than one result",
                ));
            }
        };
        let field = |name: &str| match &package {
            regorus::Value::Object(fields) => fields
                .get(&regorus::Value::from(name))
                .cloned()
                .unwrap_or(regorus::Value::Undefined),
            _ => regorus::Value::Undefined,
        };
        if !matches!(
            package,
            regorus::Value::Object(_) | regorus::Value::Undefined
        ) {
            return Err(reason(
                Code::PolicyOutputInvalid,
                "the decision rule must name a package",
            ));
        }
        let allow = match field("allow") {
            regorus::Value::Bool(b) => b,
            regorus::Value::Undefined => false,
            _ => return Err(reason(Code::PolicyOutputInvalid, "allow must be a boolean")),
        };
        let deny = match field("deny") {
            regorus::Value::Undefined => Vec::new(),
            regorus::Value::Set(items) => strings(items.iter())?,
            regorus::Value::Array(items) => strings(items.iter())?,
            _ => {
                return Err(reason(
                    Code::PolicyOutputInvalid,
                    "deny must be a set of strings",
                ));
            }
        };
        let obligations = match field("obligations") {
            regorus::Value::Undefined => Map::new(),
            v @ regorus::Value::Object(_) => match to_json(&v)? {
                Value::Object(map) => map,
                _ => {
                    return Err(reason(
                        Code::PolicyOutputInvalid,
                        "obligations must be an object",
                    ));
                }
            },
            _ => {
                return Err(reason(
                    Code::PolicyOutputInvalid,
                    "obligations must be an object",
                ));
            }
        };
        Ok(Outcome {
            allow,
            deny,
            obligations,
        })
    }
}

/// Classifies an evaluation error by its type, never by its message text.
fn classify(e: &anyhow::Error) -> Reason {
    if e.downcast_ref::<regorus::LimitError>().is_some() {
        reason(Code::PolicyLimitExceeded, format!("{e}"))
    } else {
        reason(Code::PolicyError, format!("{e}"))
    }
}

/// `input` for guardrails: the agent's registry record, the person, the delegation, the
/// request, the host's context and the decision time, serialized once from the borrowed types.
///
/// # Errors
/// `internal.error` if it did not serialize (it always does): never evaluate a policy on a
/// stand-in input.
pub(crate) fn input(
    agent: Option<&PolicyAgent>,
    principal: &crate::principal::Principal,
    request: &crate::request::Request,
    context: &Map<String, Value>,
    now: i64,
) -> Result<Value, Reason> {
    GuardrailInput {
        agent,
        user: principal.policy_user(),
        delegation: principal.policy_delegation(),
        request: request.policy_request(),
        context,
        now,
    }
    .to_value()
    .map_err(|e| reason(Code::InternalError, format!("guardrail input: {e}")))
}

impl Outcome {
    /// Whether the guardrails let the request through: `allow` is `true` and no `deny`
    /// message (what [`Outcome::decide`]'s `Ok` means).
    #[must_use]
    pub fn allows(&self) -> bool {
        self.allow && self.deny.is_empty()
    }

    /// Records what the guardrails said on the decision (its obligations and the rules that
    /// decided) and fails unless they allowed: any `deny` message is a `policy.denied` reason,
    /// an `allow` that is not `true` is `policy.not_allowed`.
    ///
    /// # Errors
    /// `policy.denied` or `policy.not_allowed`.
    pub(crate) fn decide(
        self,
        rule: &str,
        decision: &mut crate::decision::Decision,
    ) -> Result<(), Reason> {
        decision.obligations = self.obligations;
        if !self.deny.is_empty() {
            decision.rules = self
                .deny
                .iter()
                .map(|m| format!("{rule}.deny: {m}"))
                .collect();
            decision.reasons = self
                .deny
                .into_iter()
                .map(|m| reason(Code::PolicyDenied, m))
                .collect();
            return Err(reason(Code::PolicyDenied, "denied by guardrails"));
        }
        decision.rules = alloc::vec![format!("{rule}.allow")];
        if self.allow {
            Ok(())
        } else {
            Err(reason(
                Code::PolicyNotAllowed,
                "no guardrail allowed the request",
            ))
        }
    }
}

fn strings<'a>(items: impl Iterator<Item = &'a regorus::Value>) -> Result<Vec<String>, Reason> {
    let mut out = Vec::new();
    for item in items {
        match item {
            regorus::Value::String(s) => out.push(s.to_string()),
            _ => {
                return Err(reason(
                    Code::PolicyOutputInvalid,
                    "deny must be a set of strings",
                ));
            }
        }
    }
    out.sort_unstable();
    Ok(out)
}

fn to_json(v: &regorus::Value) -> Result<Value, Reason> {
    let text = v
        .to_json_str()
        .map_err(|e| reason(Code::PolicyOutputInvalid, format!("{e}")))?;
    serde_json::from_str(&text).map_err(|e| reason(Code::PolicyOutputInvalid, format!("{e}")))
}

/// `net.cidr_contains(cidr, cidr_or_ip)`, as OPA defines it for addresses and networks.
fn cidr_contains(args: Vec<regorus::Value>) -> anyhow::Result<regorus::Value> {
    let (Some(regorus::Value::String(net)), Some(regorus::Value::String(inner))) =
        (args.first(), args.get(1))
    else {
        anyhow::bail!("net.cidr_contains: expects two strings");
    };
    let (base, bits) =
        parse_cidr(net).ok_or_else(|| anyhow::anyhow!("net.cidr_contains: invalid CIDR {net}"))?;
    let (addr, inner_bits) = match parse_cidr(inner) {
        Some(c) => c,
        None => {
            let ip: IpAddr = inner
                .parse()
                .map_err(|_| anyhow::anyhow!("net.cidr_contains: invalid address {inner}"))?;
            (ip, if ip.is_ipv4() { 32 } else { 128 })
        }
    };
    Ok(regorus::Value::Bool(
        inner_bits >= bits && prefix_eq(base, addr, bits),
    ))
}

fn parse_cidr(s: &str) -> Option<(IpAddr, u8)> {
    let (ip, bits) = s.split_once('/')?;
    let ip: IpAddr = ip.parse().ok()?;
    let bits: u8 = bits.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    (bits <= max).then_some((ip, bits))
}

fn prefix_eq(a: IpAddr, b: IpAddr, bits: u8) -> bool {
    let mask = |len: u32| {
        if bits == 0 {
            0u128
        } else {
            u128::MAX << (len - u32::from(bits))
        }
    };
    match (a, b) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            let m = mask(32);
            (u128::from(u32::from(a)) & m) == (u128::from(u32::from(b)) & m)
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            let m = mask(128);
            (u128::from(a) & m) == (u128::from(b) & m)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SEED: &str = r#"
package mandate

default allow := false

allow if {
    "secrets:read" in input.delegation.scopes
    input.user.id == data.secret_readers[_]
    net.cidr_contains("10.20.0.0/16", input.request.ip)
}

deny contains "untrusted network" if not net.cidr_contains("10.20.0.0/16", input.request.ip)
"#;

    fn guardrails() -> Guardrails {
        let mut p = BTreeMap::new();
        p.insert(String::from("seed.rego"), String::from(SEED));
        let data = json!({"secret_readers": ["alice"]});
        Guardrails::compile(&p, data.as_object().unwrap_or(&Map::new()), "data.mandate")
            .unwrap_or_else(|e| unreachable!("{e}"))
    }

    #[test]
    fn seed_guardrail_in_a_few_lines() {
        let g = guardrails();
        let ok = json!({"delegation": {"scopes": ["secrets:read"]}, "user": {"id": "alice"}, "request": {"ip": "10.20.3.4"}});
        let out = g.evaluate(&ok).unwrap_or_else(|e| unreachable!("{e}"));
        assert!(out.allow);
        assert!(out.deny.is_empty());
        let outside = json!({"delegation": {"scopes": ["secrets:read"]}, "user": {"id": "alice"}, "request": {"ip": "192.168.1.1"}});
        let out = g.evaluate(&outside).unwrap_or_else(|e| unreachable!("{e}"));
        assert!(!out.allow);
        assert_eq!(out.deny, ["untrusted network"]);
    }

    #[test]
    fn clock_network_and_randomness_builtins_do_not_load() {
        for body in [
            "allow if time.now_ns() > 0",
            "allow if rand.intn(\"x\", 10) > 0",
            "allow if http.send({\"method\": \"get\", \"url\": \"http://127.0.0.1/\"}).status_code == 200",
            "allow if opa.runtime().env.HOME != \"\"",
            "allow if uuid.rfc4122(\"x\") != \"\"",
        ] {
            let mut p = BTreeMap::new();
            p.insert(
                String::from("t.rego"),
                alloc::format!("package mandate\n{body}\n"),
            );
            let err = Guardrails::compile(&p, &Map::new(), "data.mandate").err();
            assert_eq!(
                err.map(|r| r.code),
                Some(Code::BundlePolicyInvalid),
                "{body}"
            );
        }
    }

    fn compile_one(body: &str) -> Result<Guardrails, Reason> {
        let mut p = BTreeMap::new();
        p.insert(
            String::from("t.rego"),
            alloc::format!("package mandate\n{body}\n"),
        );
        Guardrails::compile(&p, &Map::new(), "data.mandate")
    }

    fn outcome(body: &str, input: &Value) -> Result<Outcome, Code> {
        let g = compile_one(body).map_err(|r| r.code)?;
        g.evaluate(input).map_err(|r| r.code)
    }

    #[test]
    fn every_evaluation_error_is_a_deny_code_never_undefined() {
        let input = json!({"request": {"path": "/v1/x", "n": "7"}, "flag": true});
        // (policy, expected code): each error kind, reached only with a real input.
        let cases: &[(&str, Code)] = &[
            // type error: a strict builtin given the wrong type
            (
                "allow := true\ndeny contains \"x\" if { count(input.flag) > 0 }",
                Code::PolicyError,
            ),
            // conflict: a complete rule with two values
            (
                "allow := true\nx := 1 if input.flag\nx := 2 if input.flag\ndeny contains \"x\" if x == 3",
                Code::PolicyError,
            ),
            // conflict in allow itself
            (
                "allow := true if input.flag\nallow := false if input.flag",
                Code::PolicyError,
            ),
            // wrong output types
            ("allow := \"yes\"", Code::PolicyOutputInvalid),
            ("allow := true\ndeny := \"no\"", Code::PolicyOutputInvalid),
            (
                "allow := true\ndeny contains 7 if input.flag",
                Code::PolicyOutputInvalid,
            ),
            (
                "allow := true\nobligations := [1]",
                Code::PolicyOutputInvalid,
            ),
        ];
        for (body, code) in cases {
            assert_eq!(outcome(body, &input).err(), Some(*code), "{body}");
        }
    }

    #[test]
    fn an_error_in_any_rule_of_the_package_denies() {
        // A helper rule nobody reads still fails the decision: the package is evaluated whole.
        let input = json!({"flag": true});
        assert_eq!(
            outcome(
                "allow := true\nhelper := count(input.flag) if input.flag",
                &input
            )
            .err(),
            Some(Code::PolicyError)
        );
    }

    #[test]
    fn absent_rules_are_absent_not_errors() {
        let out = outcome("allow := true", &json!({})).unwrap_or_else(|c| unreachable!("{c}"));
        assert!(out.allow && out.deny.is_empty() && out.obligations.is_empty());
        let out = outcome("deny contains \"no\" if true", &json!({}))
            .unwrap_or_else(|c| unreachable!("{c}"));
        assert!(!out.allow);
        assert_eq!(out.deny, ["no"]);
    }

    #[test]
    fn unknown_functions_do_not_load() {
        for body in [
            "allow := true\ndeny contains \"blocked\" if { undefined_helper_fn(input.request.path) }",
            "allow := true\ndeny contains \"blocked\" if { input.never; lib.missing(1) }",
            "allow if { x := [y | some y in input.a; nope(y)]; count(x) > 0 }",
        ] {
            assert_eq!(
                compile_one(body).err().map(|r| r.code),
                Some(Code::BundlePolicyInvalid),
                "{body}"
            );
        }
    }

    #[test]
    fn a_runaway_guardrail_hits_the_limit_by_type() {
        let body = "allow := true\ndeny contains \"x\" if { some i in numbers.range(1, 100000000); i < 0 }";
        assert_eq!(
            outcome(body, &json!({"flag": true})).err(),
            Some(Code::PolicyLimitExceeded)
        );
    }

    #[test]
    fn cidr() {
        let v = |a: &str, b: &str| {
            cidr_contains(alloc::vec![
                regorus::Value::from(a),
                regorus::Value::from(b)
            ])
            .ok()
        };
        assert_eq!(
            v("10.0.0.0/8", "10.1.2.3"),
            Some(regorus::Value::Bool(true))
        );
        assert_eq!(
            v("10.0.0.0/8", "11.1.2.3"),
            Some(regorus::Value::Bool(false))
        );
        assert_eq!(
            v("10.0.0.0/8", "10.1.0.0/16"),
            Some(regorus::Value::Bool(true))
        );
        assert_eq!(
            v("10.1.0.0/16", "10.0.0.0/8"),
            Some(regorus::Value::Bool(false))
        );
        assert_eq!(v("::/0", "::1"), Some(regorus::Value::Bool(true)));
        assert_eq!(v("0.0.0.0/0", "::1"), Some(regorus::Value::Bool(false)));
        assert!(v("bogus", "10.0.0.1").is_none());
    }
}
