//! `mandate eval` and `mandate test`: the guardrails of a bundle (or of policy files) evaluated
//! on their own, against a raw guardrail `input`, so a policy author sees what the Rego sees and
//! can pin its answers in tests, in the spirit of `opa eval` / `opa test`. The guardrails are
//! compiled exactly as the core loads them (`policy_core::guardrails::Guardrails`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::Args;
use policy_core::Code;
use policy_core::guardrails::{Guardrails, Outcome};
use policy_core::registry::Agent;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::error::{CliError, Kind, Result, exit};
use crate::io;
use crate::out::{Out, outln};

/// Where the guardrails come from: a bundle, or policy files with their data.
#[derive(Debug, Args)]
pub struct Source {
    /// Bundle contents (JSON, from `bundle build`) or a signed bundle (read WITHOUT verifying).
    #[arg(long, conflicts_with_all = ["policies", "data", "registry"])]
    pub bundle: Option<PathBuf>,
    /// A Rego file, or a directory of them (repeatable), instead of a bundle.
    #[arg(long = "policy")]
    pub policies: Vec<PathBuf>,
    /// Policy data (`data.*`) for --policy, a YAML or JSON object.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// The agent registry for --policy, so that cases can name an `agent`.
    #[arg(long)]
    pub registry: Option<PathBuf>,
    /// The decision rule (default: the bundle's settings.decision_rule, else data.mandate).
    #[arg(long)]
    pub decision_rule: Option<String>,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    #[command(flatten)]
    pub source: Source,
    /// The guardrail input (JSON or YAML; `-` for stdin): what the Rego sees as `input`.
    #[arg(long)]
    pub input: PathBuf,
    /// Fill `input.agent` with this agent's registry record, as the core presents it.
    #[arg(long)]
    pub agent: Option<String>,
}

#[derive(Debug, Args)]
pub struct TestArgs {
    #[command(flatten)]
    pub source: Source,
    /// Test files (YAML or JSON): `cases: [{name, agent?, input, expect: allow|deny, deny?, obligations?}]`.
    #[arg(required = true)]
    pub tests: Vec<PathBuf>,
}

/// What guardrails were loaded from, ready to evaluate.
struct Loaded {
    guardrails: Guardrails,
    agents: Vec<Value>,
}

fn load(source: &Source) -> Result<Loaded> {
    let (policies, data, agents, rule) = match &source.bundle {
        Some(path) => {
            let contents = bundle_contents(path)?;
            let get = |k: &str| contents.get(k).cloned().unwrap_or(Value::Null);
            let policies: BTreeMap<String, String> = get("policies")
                .as_object()
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                        .collect()
                })
                .unwrap_or_default();
            let data = get("data").as_object().cloned().unwrap_or_default();
            let agents = get("agents").as_array().cloned().unwrap_or_default();
            let rule = get("settings")
                .get("decision_rule")
                .and_then(Value::as_str)
                .map(str::to_string);
            (policies, data, agents, rule)
        }
        None => {
            if source.policies.is_empty() {
                return Err(CliError::invalid(
                    Code::PolicyNone,
                    "no guardrails: give --bundle, or --policy files",
                ));
            }
            let mut policies = BTreeMap::new();
            for p in &source.policies {
                for f in crate::bundle::rego_files(p)? {
                    let name = f.display().to_string();
                    policies.insert(name, io::read_string(&f)?);
                }
            }
            let data = match &source.data {
                Some(p) => crate::bundle::object_file(p, "data")?,
                None => Map::new(),
            };
            let agents = match &source.registry {
                Some(p) => serde_json::to_value(crate::registry::RegistryFile::load(p)?.agents)
                    .ok()
                    .and_then(|v| v.as_array().cloned())
                    .unwrap_or_default(),
                None => Vec::new(),
            };
            (policies, data, agents, None)
        }
    };
    let rule = source
        .decision_rule
        .clone()
        .or(rule)
        .unwrap_or_else(|| "data.mandate".into());
    let guardrails = Guardrails::compile(&policies, &data, &rule).map_err(|r| {
        CliError::new(
            Kind::Bundle,
            r.code,
            format!("{}: {}", r.code.as_str(), r.message),
        )
        .hint("fix the Rego policy")
    })?;
    Ok(Loaded { guardrails, agents })
}

/// Contents from a file holding either the contents (JSON) or a signed bundle (JWS).
fn bundle_contents(path: &Path) -> Result<Map<String, Value>> {
    let text = io::read_string(path)?;
    if text.trim_start().starts_with('{') {
        return crate::bundle::object_file(path, "bundle contents");
    }
    Ok(crate::bundle::decode(path, &text)?.1)
}

impl Loaded {
    /// `input`, with `input.agent` set to the named agent's record when one is named.
    fn input(&self, mut input: Value, agent: Option<&str>) -> Result<Value> {
        let Some(id) = agent else { return Ok(input) };
        let record = self
            .agents
            .iter()
            .find(|a| a.get("id").and_then(Value::as_str) == Some(id))
            .ok_or_else(|| {
                CliError::invalid(Code::AgentUnknown, format!("no agent {id} in the registry"))
                    .hint("give --registry (or a bundle) that registers it")
            })?;
        let agent = Agent::from_value(record)
            .map_err(|e| CliError::invalid(Code::KeyInvalid, e))?
            .to_policy_value();
        match input.as_object_mut() {
            Some(obj) => {
                obj.insert("agent".into(), agent);
                Ok(input)
            }
            None => Err(CliError::invalid(
                Code::DocNotObject,
                "a guardrail input must be an object",
            )),
        }
    }
}

type Evaluated = core::result::Result<Outcome, policy_core::Reason>;

/// Whether the guardrails allow, by the core's rule (an error is a deny).
fn allowed(result: &Evaluated) -> bool {
    matches!(result, Ok(o) if o.allows())
}

/// The outcome as `eval` prints it (a policy error is a deny with its code, as in a decision).
fn outcome_json(result: &Evaluated) -> Value {
    match result {
        Ok(o) => json!({
            "decision": if allowed(result) { "allow" } else { "deny" },
            "allow": o.allow,
            "deny": o.deny,
            "obligations": o.obligations,
        }),
        Err(r) => json!({
            "decision": "deny",
            "error": {"code": r.code, "message": r.message},
        }),
    }
}

pub fn eval(args: &EvalArgs, out: &Out) -> Result<u8> {
    let loaded = load(&args.source)?;
    let input: Value = io::read_doc(&args.input)?;
    let input = loaded.input(input, args.agent.as_deref())?;
    let (result, prints) = loaded.guardrails.evaluate_with_prints(&input);
    let mut doc = outcome_json(&result);
    if let Some(obj) = doc.as_object_mut() {
        obj.insert("prints".into(), json!(prints));
    }
    let allow = allowed(&result);
    out.result(&doc, || {
        let mut s: String = prints.iter().map(|p| format!("print: {p}\n")).collect();
        s.push_str(if allow { "allow" } else { "deny" });
        match &result {
            Ok(o) => {
                s.push_str(&format!(" (allow: {}", o.allow));
                for d in &o.deny {
                    s.push_str(&format!("; deny: {d}"));
                }
                if !o.obligations.is_empty() {
                    s.push_str(&format!(
                        "; obligations: {}",
                        Value::Object(o.obligations.clone())
                    ));
                }
                s.push(')');
            }
            Err(r) => s.push_str(&format!(" ({}: {})", r.code.as_str(), r.message)),
        }
        s
    });
    Ok(if allow { exit::OK } else { exit::DENY })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestFile {
    cases: Vec<Case>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    #[serde(default)]
    agent: Option<String>,
    input: Value,
    expect: Expect,
    /// The deny messages, exactly (any order).
    #[serde(default)]
    deny: Option<Vec<String>>,
    /// The obligations, exactly.
    #[serde(default)]
    obligations: Option<Map<String, Value>>,
    /// The policy error's code, for a case that must fail to evaluate (e.g. policy.error).
    #[serde(default)]
    error: Option<String>,
}

#[derive(Debug, Deserialize, PartialEq, Eq, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum Expect {
    Allow,
    Deny,
}

/// Why a case failed, for people; `None` when it passed.
fn check(case: &Case, result: &Evaluated) -> Option<String> {
    let got = if allowed(result) {
        Expect::Allow
    } else {
        Expect::Deny
    };
    let mut problems = Vec::new();
    if got != case.expect {
        problems.push(format!("want {:?}, got {:?}", case.expect, got).to_lowercase());
    }
    match (result, &case.error) {
        (Err(r), Some(code)) if r.code.as_str() != code => {
            problems.push(format!("want error {code}, got {}", r.code.as_str()));
        }
        (Err(r), None) => problems.push(format!("{}: {}", r.code.as_str(), r.message)),
        (Ok(_), Some(code)) => problems.push(format!("want error {code}, it evaluated")),
        _ => {}
    }
    if let (Ok(o), Some(want)) = (result, &case.deny) {
        let mut want = want.clone();
        want.sort();
        if o.deny != want {
            problems.push(format!("deny {:?}, want {:?}", o.deny, want));
        }
    }
    if let (Ok(o), Some(want)) = (result, &case.obligations)
        && &o.obligations != want
    {
        problems.push(format!(
            "obligations {}, want {}",
            Value::Object(o.obligations.clone()),
            Value::Object(want.clone())
        ));
    }
    if problems.is_empty() {
        return None;
    }
    if let Ok(o) = result {
        problems.push(format!("(allow: {}, deny: {:?})", o.allow, o.deny));
    }
    Some(problems.join("; "))
}

pub fn test(args: &TestArgs, out: &Out) -> Result<u8> {
    let loaded = load(&args.source)?;
    let mut rows = Vec::new();
    let (mut passed, mut failed) = (0usize, 0usize);
    for path in &args.tests {
        let file: TestFile = io::read_doc(path)?;
        for case in &file.cases {
            let input = loaded.input(case.input.clone(), case.agent.as_deref())?;
            let (result, prints) = loaded.guardrails.evaluate_with_prints(&input);
            let problem = check(case, &result);
            if problem.is_some() {
                failed += 1;
            } else {
                passed += 1;
            }
            if !out.json {
                match &problem {
                    None => outln!("ok   {}", case.name),
                    Some(p) => {
                        outln!("FAIL {}: {p}", case.name);
                        for line in &prints {
                            outln!("       print: {line}");
                        }
                    }
                }
            }
            rows.push(json!({"file": path, "name": case.name, "ok": problem.is_none(), "problem": problem, "prints": prints}));
        }
    }
    if out.json {
        outln!(
            "{}",
            json!({"passed": passed, "failed": failed, "cases": rows})
        );
    } else {
        outln!("{passed} passed, {failed} failed");
    }
    Ok(if failed == 0 {
        exit::OK
    } else {
        exit::TEST_FAILED
    })
}
