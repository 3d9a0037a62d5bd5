//! `mandate agent …`: edits the agent registry file (YAML or JSON, by extension) that lives in
//! git and goes into bundles with `mandate bundle build`.

use policy_core::Code;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::{CliError, Kind, Result};
use crate::io;
use crate::out::Out;

/// The registry file: agents and revocations, the shape of the bundle's `agents` and
/// `revocations` members.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryFile {
    #[serde(default)]
    pub agents: Vec<AgentRecord>,
    #[serde(default, skip_serializing_if = "Revocations::is_empty")]
    pub revocations: Revocations,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Revocations {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub jti: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub agents: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<String>,
}

impl Revocations {
    fn is_empty(&self) -> bool {
        self.jti.is_empty() && self.agents.is_empty() && self.keys.is_empty()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Active,
    Suspended,
    Revoked,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Suspended => "suspended",
            Status::Revoked => "revoked",
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Delegators {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub agents: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub patterns: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ceiling {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authorization_details: Vec<Value>,
}

/// One agent, as in `policy-core/src/registry.rs`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentRecord {
    pub id: String,
    pub owner: String,
    pub status: Status,
    pub keys: Vec<Value>,
    #[serde(default)]
    pub delegators: Delegators,
    #[serde(default)]
    pub ceiling: Ceiling,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub may_delegate_to: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_depth: Option<u32>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, Value>,
}

impl RegistryFile {
    /// Reads a registry file; every agent key is checked to be a P-256 public JWK.
    pub fn load(path: &Path) -> Result<RegistryFile> {
        let reg: RegistryFile = io::read_doc(path)?;
        reg.validate(path)?;
        Ok(reg)
    }

    /// Reads the file, or starts an empty registry when it does not exist yet.
    fn load_or_new(path: &Path) -> Result<RegistryFile> {
        if path.exists() {
            Self::load(path)
        } else {
            Ok(RegistryFile::default())
        }
    }

    pub fn validate(&self, path: &Path) -> Result<()> {
        let mut seen = std::collections::BTreeSet::new();
        for a in &self.agents {
            if !seen.insert(a.id.as_str()) {
                return Err(CliError::invalid(
                    Code::RegistryDuplicateAgent,
                    format!("{}: agent {} appears twice", path.display(), a.id),
                )
                .hint("keep one record per agent id"));
            }
            for (i, k) in a.keys.iter().enumerate() {
                policy_core::PublicJwk::from_value(k).map_err(|e| {
                    CliError::invalid(
                        Code::KeyInvalid,
                        format!(
                            "{}: agent {} key {}: {e} (Mandate keys are EC P-256)",
                            path.display(),
                            a.id,
                            i + 1
                        ),
                    )
                    .hint("replace it with a key from `mandate keygen`")
                })?;
            }
        }
        Ok(())
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        io::write(path, &io::render_doc(path, self)?, false)
    }

    fn agent_mut(&mut self, path: &Path, id: &str) -> Result<&mut AgentRecord> {
        let known: Vec<String> = self.agents.iter().map(|a| a.id.clone()).collect();
        self.agents
            .iter_mut()
            .find(|a| a.id == id)
            .ok_or_else(|| unknown_agent(path, id, &known))
    }

    fn agent(&self, path: &Path, id: &str) -> Result<&AgentRecord> {
        let known: Vec<String> = self.agents.iter().map(|a| a.id.clone()).collect();
        self.agents
            .iter()
            .find(|a| a.id == id)
            .ok_or_else(|| unknown_agent(path, id, &known))
    }
}

fn unknown_agent(path: &Path, id: &str, known: &[String]) -> CliError {
    let list = if known.is_empty() {
        "it has no agents".to_string()
    } else {
        format!("it has {}", known.join(", "))
    };
    CliError::new(
        Kind::Invalid,
        Code::AgentUnknown,
        format!("agent {id} is not in {} ({list})", path.display()),
    )
    .hint("check the id with `mandate agent list`, or add it with `mandate agent add`")
}

#[derive(Debug, Args)]
pub struct AgentArgs {
    /// The registry file (YAML if it ends in .yaml/.yml, JSON otherwise).
    #[arg(
        long,
        short = 'r',
        global = true,
        env = "MANDATE_REGISTRY",
        default_value = "registry.yaml"
    )]
    pub registry: PathBuf,
    #[command(subcommand)]
    pub cmd: AgentCmd,
}

#[derive(Debug, Subcommand)]
pub enum AgentCmd {
    /// Registers an agent (creates the registry file if needed).
    #[command(
        after_help = "Example:\n  mandate agent add agent:travel-booker --owner team:travel --key keys/booker.pub.jwk \\\n    --delegator-user alice --scope secrets:read --scope 'trips:*' \\\n    --may-delegate-to agent:summarizer --label risk=low -r registry.yaml"
    )]
    Add(Box<AddArgs>),
    /// Lists the agents.
    #[command(after_help = "Example:\n  mandate agent list -r registry.yaml")]
    List,
    /// Shows one agent's record (keys with their RFC 7638 thumbprints).
    #[command(
        after_help = "Example:\n  mandate agent show agent:travel-booker -r registry.yaml --json"
    )]
    Show { id: String },
    /// Suspends an agent: it may not act until activated again.
    #[command(
        after_help = "Example:\n  mandate agent suspend agent:travel-booker -r registry.yaml"
    )]
    Suspend { id: String },
    /// Activates a suspended agent.
    #[command(
        after_help = "Example:\n  mandate agent activate agent:travel-booker -r registry.yaml"
    )]
    Activate { id: String },
    /// Revokes an agent for good (status revoked, and its id on the revocation list).
    #[command(after_help = "Example:\n  mandate agent revoke agent:travel-booker -r registry.yaml")]
    Revoke { id: String },
    /// Adds a new key to an agent; with --retire-old, removes the others (after the overlap).
    #[command(
        name = "rotate-key",
        after_help = "Example:\n  mandate keygen --kid tb-2 --out keys/booker-2.jwk\n  mandate agent rotate-key agent:travel-booker --key keys/booker-2.pub.jwk -r registry.yaml\n  # later, once no token names the old key:\n  mandate agent rotate-key agent:travel-booker --key keys/booker-2.pub.jwk --retire-old -r registry.yaml"
    )]
    RotateKey(RotateArgs),
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// The agent id, e.g. agent:travel-booker.
    pub id: String,
    /// The person or team accountable for it.
    #[arg(long)]
    pub owner: String,
    /// Its public key (JWK file); repeat for several.
    #[arg(long = "key", required = true)]
    pub keys: Vec<PathBuf>,
    /// A person who may delegate to it (repeatable).
    #[arg(long = "delegator-user")]
    pub users: Vec<String>,
    /// A group whose members may delegate to it (repeatable).
    #[arg(long = "delegator-group")]
    pub groups: Vec<String>,
    /// An agent that may sub-delegate to it (repeatable).
    #[arg(long = "delegator-agent")]
    pub agents: Vec<String>,
    /// A glob over user and agent ids that may delegate to it (repeatable).
    #[arg(long = "delegator-pattern")]
    pub patterns: Vec<String>,
    /// A scope in its ceiling (repeatable; wildcards like trips:* allowed).
    #[arg(long = "scope")]
    pub scopes: Vec<String>,
    /// RFC 9396 authorization_details in its ceiling: a JSON or YAML file holding a list.
    #[arg(long)]
    pub ceiling_details: Option<PathBuf>,
    /// An agent (or glob) it may sub-delegate to (repeatable).
    #[arg(long = "may-delegate-to")]
    pub may_delegate_to: Vec<String>,
    /// How many hops may hang below it.
    #[arg(long)]
    pub max_depth: Option<u32>,
    /// A label KEY=VALUE for guardrails (repeatable).
    #[arg(long = "label")]
    pub labels: Vec<String>,
    /// Initial status.
    #[arg(long, value_enum, default_value = "active")]
    pub status: Status,
}

#[derive(Debug, Args)]
pub struct RotateArgs {
    pub id: String,
    /// The new public key (JWK file).
    #[arg(long)]
    pub key: PathBuf,
    /// Remove every other key of the agent.
    #[arg(long)]
    pub retire_old: bool,
}

fn summary(a: &AgentRecord) -> Value {
    let keys: Vec<Value> = a
        .keys
        .iter()
        .map(|k| {
            let jkt = policy_core::PublicJwk::from_value(k)
                .map(|p| p.thumbprint())
                .unwrap_or_default();
            json!({"kid": k.get("kid"), "thumbprint": jkt})
        })
        .collect();
    json!({"id": a.id, "owner": a.owner, "status": a.status.as_str(), "keys": keys, "delegators": a.delegators,
           "ceiling": a.ceiling, "may_delegate_to": a.may_delegate_to, "max_depth": a.max_depth, "labels": a.labels})
}

pub fn run(args: &AgentArgs, out: &Out) -> Result<()> {
    let path = &args.registry;
    match &args.cmd {
        AgentCmd::Add(a) => {
            let mut reg = RegistryFile::load_or_new(path)?;
            if reg.agents.iter().any(|x| x.id == a.id) {
                return Err(CliError::invalid(
                    Code::AgentExists,
                    format!("agent {} is already in {}", a.id, path.display()),
                )
                .hint("use `mandate agent rotate-key` or edit the file to change it"));
            }
            let mut keys = Vec::new();
            for k in &a.keys {
                keys.push(io::read_public_key(k)?.to_json_value());
            }
            let mut labels = BTreeMap::new();
            for l in &a.labels {
                let (k, v) = l.split_once('=').ok_or_else(|| {
                    CliError::invalid(
                        Code::LabelMalformed,
                        format!("label `{l}` is not KEY=VALUE"),
                    )
                    .hint("e.g. --label risk=low")
                })?;
                labels.insert(k.to_string(), Value::String(v.to_string()));
            }
            let record = AgentRecord {
                id: a.id.clone(),
                owner: a.owner.clone(),
                status: a.status,
                keys,
                delegators: Delegators {
                    users: a.users.clone(),
                    groups: a.groups.clone(),
                    agents: a.agents.clone(),
                    patterns: a.patterns.clone(),
                },
                ceiling: Ceiling {
                    scopes: a.scopes.clone(),
                    authorization_details: match &a.ceiling_details {
                        Some(p) => io::read_doc::<Vec<Value>>(p)?,
                        None => Vec::new(),
                    },
                },
                may_delegate_to: a.may_delegate_to.clone(),
                max_depth: a.max_depth,
                labels,
            };
            let s = summary(&record);
            reg.agents.push(record);
            reg.save(path)?;
            out.result(&s, || format!("added {} to {}", a.id, path.display()));
        }
        AgentCmd::List => {
            let reg = RegistryFile::load(path)?;
            let rows: Vec<Value> = reg.agents.iter().map(summary).collect();
            out.result(&json!({"agents": rows}), || {
                let mut s = format!(
                    "{:<28} {:<10} {:<16} {:>4}  {}",
                    "ID", "STATUS", "OWNER", "KEYS", "CEILING"
                );
                for a in &reg.agents {
                    s.push_str(&format!(
                        "\n{:<28} {:<10} {:<16} {:>4}  {}",
                        a.id,
                        a.status.as_str(),
                        a.owner,
                        a.keys.len(),
                        a.ceiling.scopes.join(" ")
                    ));
                }
                s
            });
        }
        AgentCmd::Show { id } => {
            let reg = RegistryFile::load(path)?;
            let s = summary(reg.agent(path, id)?);
            out.result(&s, || {
                // For people: leave out what is empty.
                let mut shown = s.clone();
                if let Some(obj) = shown.as_object_mut() {
                    obj.retain(|_, v| {
                        !(v.is_null()
                            || v.as_array().is_some_and(Vec::is_empty)
                            || v.as_object().is_some_and(serde_json::Map::is_empty))
                    });
                }
                serde_norway::to_string(&shown)
                    .unwrap_or_default()
                    .trim_end()
                    .to_string()
            });
        }
        AgentCmd::Suspend { id } => set_status(path, id, Status::Suspended, out)?,
        AgentCmd::Activate { id } => set_status(path, id, Status::Active, out)?,
        AgentCmd::Revoke { id } => set_status(path, id, Status::Revoked, out)?,
        AgentCmd::RotateKey(r) => {
            let mut reg = RegistryFile::load(path)?;
            let key = io::read_public_key(&r.key)?;
            let agent = reg.agent_mut(path, &r.id)?;
            let jkt = key.thumbprint();
            let has = agent.keys.iter().any(|k| {
                policy_core::PublicJwk::from_value(k).is_ok_and(|p| p.thumbprint() == jkt)
            });
            if !has {
                agent.keys.push(key.to_json_value());
            }
            let mut retired = Vec::new();
            if r.retire_old {
                agent.keys.retain(|k| {
                    let t = policy_core::PublicJwk::from_value(k)
                        .map(|p| p.thumbprint())
                        .unwrap_or_default();
                    if t == jkt {
                        true
                    } else {
                        retired.push(t);
                        false
                    }
                });
            }
            let n = agent.keys.len();
            reg.save(path)?;
            out.result(&json!({"id": r.id, "added": if has { Value::Null } else { json!(jkt) }, "retired": retired, "keys": n}), || {
                let mut s = if has { format!("{} already has key {jkt}", r.id) } else { format!("added key {jkt} to {}", r.id) };
                if !retired.is_empty() {
                    s.push_str(&format!("; retired {}", retired.join(", ")));
                }
                s.push_str(&format!(" ({n} key(s) now); rebuild and sign the bundle to roll it out"));
                s
            });
        }
    }
    Ok(())
}

fn set_status(path: &Path, id: &str, status: Status, out: &Out) -> Result<()> {
    let mut reg = RegistryFile::load(path)?;
    let agent = reg.agent_mut(path, id)?;
    let before = agent.status;
    if before == Status::Revoked && status != Status::Revoked {
        return Err(CliError::invalid(
            Code::AgentRevoked,
            format!(
                "agent {id} is revoked for good and cannot be {}",
                status.as_str()
            ),
        )
        .hint("register the agent again under a new id, with a new key"));
    }
    agent.status = status;
    match status {
        Status::Revoked if !reg.revocations.agents.iter().any(|a| a == id) => {
            reg.revocations.agents.push(id.to_string())
        }
        Status::Active => reg.revocations.agents.retain(|a| a != id),
        _ => {}
    }
    reg.save(path)?;
    out.result(
        &json!({"id": id, "status": status.as_str(), "was": before.as_str()}),
        || {
            format!(
                "{id}: {} -> {}; rebuild and sign the bundle to roll it out",
                before.as_str(),
                status.as_str()
            )
        },
    );
    Ok(())
}
