//! A small JSON Schema to TypeScript converter for exactly the subset schemars emits for the
//! wire types: objects (closed or open), arrays and tuples, string enums and constants, unions
//! (`anyOf`, `oneOf`, a `type` list), `$ref` into `$defs`, and `null`. Any other keyword is an
//! error, so a schema the converter cannot render faithfully never becomes a wrong type.

use super::Named;
use core::fmt::Write as _;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Keywords that only annotate or constrain values, and have no TypeScript counterpart.
const ANNOTATIONS: [&str; 7] = [
    "$schema",
    "title",
    "description",
    "format",
    "minimum",
    "maximum",
    "default",
];

/// Renders every schema's root type and its definitions as one `.d.ts` file.
///
/// # Errors
/// A schema uses a keyword outside the subset, or two schemas define one name differently.
pub fn typescript(schemas: &[Named]) -> Result<String, String> {
    let mut defs: BTreeMap<String, Value> = BTreeMap::new();
    let mut roots: Vec<(String, Value)> = Vec::new();
    for named in schemas {
        let obj = named
            .schema
            .as_object()
            .ok_or_else(|| format!("{}: the schema is not an object", named.file))?;
        if let Some(Value::Object(d)) = obj.get("$defs") {
            for (name, def) in d {
                merge(&mut defs, name, def)?;
            }
        }
        let mut root = obj.clone();
        root.remove("$defs");
        root.remove("$schema");
        roots.push((named.title.to_owned(), Value::Object(root)));
    }
    let mut out = String::from(
        "// The wire documents of docs/formats.md, exactly as the core parses and emits them.\n\
         // Generated from docs/schemas/*.schema.json by\n\
         // `cargo run -p testkit --bin gen-schemas`; do not edit.\n",
    );
    let mut emitted: BTreeMap<String, Value> = BTreeMap::new();
    let all = roots.into_iter().chain(defs);
    for (name, schema) in all {
        let key = strip_title(&schema);
        if let Some(previous) = emitted.get(&name) {
            if *previous != key {
                return Err(format!("{name}: defined twice, differently"));
            }
            continue;
        }
        emitted.insert(name.clone(), key);
        out.push('\n');
        out.push_str(&declaration(&name, &schema)?);
    }
    Ok(out)
}

fn strip_title(schema: &Value) -> Value {
    let mut s = schema.clone();
    if let Some(obj) = s.as_object_mut() {
        obj.remove("title");
    }
    s
}

fn merge(defs: &mut BTreeMap<String, Value>, name: &str, def: &Value) -> Result<(), String> {
    match defs.get(name) {
        Some(existing) if existing != def => Err(format!("{name}: defined twice, differently")),
        Some(_) => Ok(()),
        None => {
            defs.insert(name.to_owned(), def.clone());
            Ok(())
        }
    }
}

fn declaration(name: &str, schema: &Value) -> Result<String, String> {
    let mut out = doc(schema, "");
    let is_object = schema.get("type") == Some(&Value::String("object".into()))
        && schema.get("properties").is_some();
    if is_object {
        let _ = writeln!(out, "export interface {name} {}", object(schema, "", name)?);
    } else {
        let _ = writeln!(out, "export type {name} = {};", ty(schema, "", name)?);
    }
    Ok(out)
}

/// A JSDoc comment from `description` and `default`.
fn doc(schema: &Value, indent: &str) -> String {
    let mut lines: Vec<String> = Vec::new();
    if let Some(d) = schema.get("description").and_then(Value::as_str) {
        lines.extend(d.lines().map(str::to_owned));
    }
    if let Some(default) = schema.get("default") {
        lines.push(format!("@default {default}"));
    }
    if lines.is_empty() {
        return String::new();
    }
    let mut out = format!("{indent}/**\n");
    for line in lines {
        let line = line.replace("*/", "*\\/");
        if line.is_empty() {
            let _ = writeln!(out, "{indent} *");
        } else {
            let _ = writeln!(out, "{indent} * {line}");
        }
    }
    let _ = writeln!(out, "{indent} */");
    out
}

fn check_keys(obj: &Map<String, Value>, allowed: &[&str], at: &str) -> Result<(), String> {
    for key in obj.keys() {
        if !allowed.contains(&key.as_str()) && !ANNOTATIONS.contains(&key.as_str()) {
            return Err(format!(
                "{at}: keyword `{key}` is outside the converter's subset"
            ));
        }
    }
    Ok(())
}

/// The TypeScript type of `schema`.
fn ty(schema: &Value, indent: &str, at: &str) -> Result<String, String> {
    let obj = match schema {
        Value::Bool(true) => return Ok("unknown".into()),
        Value::Bool(false) => return Ok("never".into()),
        Value::Object(o) => o,
        _ => return Err(format!("{at}: a schema must be an object or a boolean")),
    };
    if let Some(r) = obj.get("$ref") {
        check_keys(obj, &["$ref"], at)?;
        let r = r.as_str().unwrap_or_default();
        return r
            .strip_prefix("#/$defs/")
            .map(str::to_owned)
            .ok_or_else(|| format!("{at}: $ref `{r}` is not into #/$defs"));
    }
    for union in ["anyOf", "oneOf"] {
        if let Some(arms) = obj.get(union) {
            check_keys(obj, &[union], at)?;
            let arms = arms
                .as_array()
                .ok_or_else(|| format!("{at}: {union} is not an array"))?;
            let parts = arms
                .iter()
                .map(|a| ty(a, indent, at))
                .collect::<Result<Vec<_>, _>>()?;
            return Ok(parts.join(" | "));
        }
    }
    if let Some(c) = obj.get("const") {
        check_keys(obj, &["const", "type"], at)?;
        return literal(c, at);
    }
    if let Some(e) = obj.get("enum") {
        check_keys(obj, &["enum", "type"], at)?;
        let parts = e
            .as_array()
            .ok_or_else(|| format!("{at}: enum is not an array"))?
            .iter()
            .map(|v| literal(v, at))
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(parts.join(" | "));
    }
    if obj.is_empty() || obj.keys().all(|k| ANNOTATIONS.contains(&k.as_str())) {
        return Ok("unknown".into());
    }
    let types: Vec<&str> = match obj.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => return Err(format!("{at}: no `type`, `$ref`, union, `enum` or `const`")),
    };
    let mut parts = Vec::new();
    for t in types {
        parts.push(match t {
            "string" => {
                check_keys(obj, &["type"], at)?;
                "string".to_owned()
            }
            "integer" | "number" => {
                check_keys(obj, &["type"], at)?;
                "number".to_owned()
            }
            "boolean" => {
                check_keys(obj, &["type"], at)?;
                "boolean".to_owned()
            }
            "null" => "null".to_owned(),
            "array" => array(obj, indent, at)?,
            "object" => object(schema, indent, at)?,
            other => return Err(format!("{at}: type `{other}` is outside the subset")),
        });
    }
    Ok(parts.join(" | "))
}

fn literal(v: &Value, at: &str) -> Result<String, String> {
    match v {
        Value::String(_) | Value::Number(_) | Value::Bool(_) | Value::Null => Ok(v.to_string()),
        _ => Err(format!("{at}: a non-scalar literal")),
    }
}

fn array(obj: &Map<String, Value>, indent: &str, at: &str) -> Result<String, String> {
    if let Some(prefix) = obj.get("prefixItems") {
        check_keys(
            obj,
            &["type", "prefixItems", "minItems", "maxItems", "items"],
            at,
        )?;
        let prefix = prefix
            .as_array()
            .ok_or_else(|| format!("{at}: prefixItems is not an array"))?;
        let n = prefix.len() as u64;
        let closed = obj.get("items") == Some(&Value::Bool(false))
            || obj.get("maxItems").and_then(Value::as_u64) == Some(n);
        if obj.get("minItems").and_then(Value::as_u64) != Some(n) || !closed {
            return Err(format!("{at}: only fixed-length tuples are in the subset"));
        }
        let parts = prefix
            .iter()
            .map(|p| ty(p, indent, at))
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(format!("[{}]", parts.join(", ")));
    }
    check_keys(obj, &["type", "items"], at)?;
    let item = match obj.get("items") {
        Some(items) => ty(items, indent, at)?,
        None => "unknown".to_owned(),
    };
    Ok(if item.contains(' ') {
        format!("({item})[]")
    } else {
        format!("{item}[]")
    })
}

fn object(schema: &Value, indent: &str, at: &str) -> Result<String, String> {
    let obj = schema
        .as_object()
        .ok_or_else(|| format!("{at}: not an object schema"))?;
    check_keys(
        obj,
        &["type", "properties", "required", "additionalProperties"],
        at,
    )?;
    let required: Vec<&str> = obj
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let inner = format!("{indent}  ");
    let mut out = String::from("{\n");
    if let Some(Value::Object(props)) = obj.get("properties") {
        for (name, prop) in props {
            out.push_str(&doc(prop, &inner));
            let optional = if required.contains(&name.as_str()) {
                ""
            } else {
                "?"
            };
            let _ = writeln!(
                out,
                "{inner}{}{optional}: {};",
                key(name),
                ty(prop, &inner, &format!("{at}.{name}"))?
            );
        }
    }
    match obj.get("additionalProperties") {
        Some(Value::Bool(false)) => {}
        None | Some(Value::Bool(true)) => {
            let _ = writeln!(out, "{inner}[member: string]: unknown;");
        }
        Some(extra) => {
            if obj.get("properties").is_none() {
                return Ok(format!(
                    "Record<string, {}>",
                    ty(extra, indent, &format!("{at}.*"))?
                ));
            }
            return Err(format!("{at}: properties with typed additionalProperties"));
        }
    }
    if out == "{\n" {
        return Ok("Record<string, unknown>".into());
    }
    out.push_str(indent);
    out.push('}');
    Ok(out)
}

fn key(name: &str) -> String {
    let ident = name.chars().enumerate().all(|(i, c)| {
        c == '_' || c == '$' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit())
    });
    if ident {
        name.to_owned()
    } else {
        Value::String(name.into()).to_string()
    }
}
