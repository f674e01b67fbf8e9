//! Reading the contract: the root document and its parts, merged; and the adapted copy handed
//! to the type generator.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::SPEC;

/// Reads the root document and merges into it every other `*.yaml` of its folder (in name
/// order): their `paths` and `components` maps. A name defined twice is an error naming both files.
pub fn assemble(root: &Path) -> Result<(Value, BTreeMap<String, String>), String> {
    let read = |path: &Path| -> Result<Value, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        serde_norway::from_str(&text)
            .map_err(|e| format!("{}: not valid YAML: {e}", path.display()))
    };
    let mut doc = read(root)?;
    let dir = root.parent().unwrap_or(Path::new("."));
    let mut parts: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot list {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml") && p != root)
        .collect();
    parts.sort();
    let mut owner: BTreeMap<String, String> = Default::default();
    for part in parts {
        let name = part.display().to_string();
        let value = read(&part)?;
        let Value::Object(map) = value else {
            return Err(format!("{name}: not a mapping"));
        };
        for (key, section) in map {
            let targets: Vec<(String, Value)> = match key.as_str() {
                "paths" => vec![("/paths".to_owned(), section)],
                "components" => match section {
                    Value::Object(kinds) => kinds
                        .into_iter()
                        .map(|(kind, v)| (format!("/components/{kind}"), v))
                        .collect(),
                    _ => return Err(format!("{name}: `components` is not a mapping")),
                },
                other => {
                    return Err(format!(
                        "{name}: top-level `{other}`; a part holds only `paths` and `components`"
                    ));
                }
            };
            for (pointer, section) in targets {
                let Value::Object(entries) = section else {
                    continue;
                };
                if doc.pointer(&pointer).is_none_or(Value::is_null) {
                    let (parent, leaf) = pointer.rsplit_once('/').expect("has a slash");
                    let parent = if parent.is_empty() {
                        Some(&mut doc)
                    } else {
                        if doc.pointer(parent).is_none() {
                            doc["components"] = Value::Object(Default::default());
                        }
                        doc.pointer_mut(parent)
                    };
                    if let Some(Value::Object(p)) = parent {
                        p.insert(leaf.to_owned(), Value::Object(Default::default()));
                    }
                }
                let Some(Value::Object(target)) = doc.pointer_mut(&pointer) else {
                    return Err(format!("{SPEC}: `{pointer}` is not a mapping"));
                };
                for (k, v) in entries {
                    let id = format!("{pointer}/{k}");
                    if let Some(first) = owner
                        .get(&id)
                        .cloned()
                        .or_else(|| target.contains_key(&k).then(|| SPEC.to_owned()))
                    {
                        return Err(format!(
                            "{name}: `{k}` ({pointer}) is already defined in {first}"
                        ));
                    }
                    owner.insert(id, name.clone());
                    target.insert(k, v);
                }
            }
        }
    }
    Ok((doc, owner))
}

/// Each part's title: its first line, when that is a `# ` comment.
pub fn part_titles<'a>(parts: impl Iterator<Item = &'a String>) -> BTreeMap<String, String> {
    let mut titles = BTreeMap::new();
    for part in parts {
        if titles.contains_key(part) {
            continue;
        }
        let first = std::fs::read_to_string(part)
            .ok()
            .and_then(|text| text.lines().next().map(str::to_owned));
        if let Some(title) = first.as_deref().and_then(|l| l.strip_prefix("# ")) {
            // "Choosing the target: upgrade info, ..." reads as "Choosing the target".
            let title = title
                .split(':')
                .next()
                .unwrap_or(title)
                .trim()
                .trim_end_matches('.');
            titles.insert(part.clone(), title.to_owned());
        }
    }
    titles
}

/// The spec as the type generator should see it. The original stays the contract; this copy
/// drops what is the hand-written layer's job:
/// - header parameters (the client sets its headers);
/// - value constraints and the `x-` rules (checked before sending by the generated checks,
///   instead of progenitor's constrained newtypes that would also reject answers);
/// - `oneOf` alternatives that only name required fields (an "exactly one of" rule);
/// - `required` in every schema only answers use, so a field the service leaves out never fails
///   a call. A schema that request bodies use too keeps it: its Rust fields stay plain values,
///   which is what a caller building a request wants.
pub fn adapt_for_types(doc: &Value) -> Result<Value, String> {
    let mut doc = doc.clone();
    strip_header_parameters(&mut doc)?;
    strip_value_constraints(&mut doc);
    let answered = schemas_used_by(&doc, "responses");
    let requested = schemas_used_by(&doc, "requestBody");
    if let Some(Value::Object(schemas)) = doc.pointer_mut("/components/schemas") {
        for name in answered.difference(&requested) {
            if let Some(schema) = schemas.get_mut(name) {
                strip_required(schema);
            }
        }
    }
    Ok(doc)
}

/// The component schemas only answers use: the types a caller reads but never builds.
pub fn answer_only_schemas(doc: &Value) -> BTreeSet<String> {
    let answered = schemas_used_by(doc, "responses");
    let requested = schemas_used_by(doc, "requestBody");
    answered.difference(&requested).cloned().collect()
}

/// Removes `required` lists from an object schema and the inline schemas inside it.
fn strip_required(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if map.get("required").is_some_and(Value::is_array) {
                map.remove("required");
            }
            for (key, v) in map.iter_mut() {
                if key == "properties" {
                    if let Value::Object(props) = v {
                        props.values_mut().for_each(strip_required);
                    }
                } else {
                    strip_required(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(strip_required),
        _ => {}
    }
}

/// Names of the component schemas reachable from the operations' `part` (`responses` or
/// `requestBody`).
fn schemas_used_by(doc: &Value, part: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut todo: Vec<String> = Vec::new();
    for (_, _, op) in operations(doc) {
        if let Some(responses) = op.get(part) {
            collect_refs(responses, &mut todo);
        }
    }
    while let Some(name) = todo.pop() {
        if found.insert(name.clone())
            && let Some(schema) = doc.pointer(&format!("/components/schemas/{name}"))
        {
            collect_refs(schema, &mut todo);
        }
    }
    found
}

fn collect_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(name) = map
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix("#/components/schemas/"))
            {
                out.push(name.to_owned());
            }
            map.values().for_each(|v| collect_refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

/// Every component schema: (name, schema), in name order (none when the spec has none).
pub fn schemas(doc: &Value) -> impl Iterator<Item = (&String, &Value)> {
    doc.pointer("/components/schemas")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
}

/// Every operation: (path, method, operation object), in path then method order.
pub fn operations(doc: &Value) -> Vec<(&str, &str, &Map<String, Value>)> {
    let mut out = Vec::new();
    if let Some(paths) = doc.get("paths").and_then(Value::as_object) {
        for (path, item) in paths {
            let Some(item) = item.as_object() else {
                continue;
            };
            for (method, op) in item {
                if let Some(op) = op.as_object().filter(|op| op.contains_key("operationId")) {
                    out.push((path.as_str(), method.as_str(), op));
                }
            }
        }
    }
    out
}

/// Follows `$ref`s to component schemas.
pub fn resolve<'a>(doc: &'a Value, mut schema: &'a Value) -> Result<&'a Value, String> {
    for _ in 0..32 {
        let Some(r) = schema.get("$ref").and_then(Value::as_str) else {
            return Ok(schema);
        };
        schema = r
            .strip_prefix("#/components/schemas/")
            .and_then(|name| doc.pointer(&format!("/components/schemas/{name}")))
            .ok_or_else(|| format!("schema reference `{r}` points nowhere"))?;
    }
    Err("a chain of more than 32 `$ref`s".into())
}

/// The component name a `$ref` names, if it is one.
pub fn ref_name(schema: &Value) -> Option<&str> {
    schema
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("#/components/schemas/"))
}

/// Removes `in: header` parameters from every operation (after resolving `$ref`s).
fn strip_header_parameters(doc: &mut Value) -> Result<(), String> {
    let shared = doc
        .pointer("/components/parameters")
        .cloned()
        .unwrap_or(Value::Null);
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return Err("no `paths`".into());
    };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for (method, op) in item.iter_mut() {
            let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) else {
                continue;
            };
            let mut error = None;
            params.retain(|p| match resolve_parameter(p, &shared) {
                Ok(p) => p.get("in").and_then(Value::as_str) != Some("header"),
                Err(e) => {
                    error = Some(format!("paths.{path}.{method}: {e}"));
                    true
                }
            });
            if let Some(e) = error {
                return Err(e);
            }
        }
    }
    Ok(())
}

pub fn resolve_parameter<'a>(p: &'a Value, shared: &'a Value) -> Result<&'a Value, String> {
    match p.get("$ref").and_then(Value::as_str) {
        None => Ok(p),
        Some(r) => r
            .strip_prefix("#/components/parameters/")
            .and_then(|name| shared.get(name))
            .ok_or_else(|| format!("parameter reference `{r}` points nowhere")),
    }
}

/// Removes value constraints and the `x-` rules from every schema object (one with a string
/// `type`), and `oneOf` lists that only say which fields are required.
fn strip_value_constraints(value: &mut Value) {
    const CONSTRAINTS: &[&str] = &[
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "minLength",
        "maxLength",
        "pattern",
        "minItems",
        "maxItems",
    ];
    match value {
        Value::Object(map) => {
            if map.get("type").is_some_and(Value::is_string) {
                for key in CONSTRAINTS {
                    if map
                        .get(*key)
                        .is_some_and(|v| v.is_number() || v.is_string() || v.is_boolean())
                    {
                        map.remove(*key);
                    }
                }
                map.remove("x-max-total-length");
                map.remove("x-same-as-path-parameter");
                map.remove("x-accessors");
                map.remove("x-new");
                if map
                    .get("oneOf")
                    .and_then(Value::as_array)
                    .is_some_and(|alternatives| alternatives.iter().all(is_required_only))
                {
                    map.remove("oneOf");
                }
            }
            map.values_mut().for_each(strip_value_constraints);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_value_constraints),
        _ => {}
    }
}
/// `{required: [...]}` and nothing else: one alternative of an "exactly one of" rule.
pub fn is_required_only(schema: &Value) -> bool {
    schema
        .as_object()
        .is_some_and(|m| m.len() == 1 && m.get("required").is_some_and(Value::is_array))
}
