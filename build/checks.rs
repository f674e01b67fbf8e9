//! The checks of request bodies and path parameters: every constraint the spec states, as a
//! table of rules (`src/checks.rs` walks a body along them before it is sent).

use std::fmt::Write as _;

use serde_json::Value;

use crate::spec::{self, is_required_only};

/// The constraint keywords a schema may carry; any other one would be silently ignored, so the
/// build refuses it.
const UNSUPPORTED: &[&str] = &[
    "multipleOf",
    "uniqueItems",
    "minProperties",
    "maxProperties",
    "not",
    "anyOf",
];

/// The `x-` extensions `build.rs` understands (see `openapi/README.md`).
pub const EXTENSIONS: &[&str] = &[
    "x-max-total-length",
    "x-same-as-path-parameter",
    "x-empty-body",
    "x-cce-twin",
    "x-accessors",
    "x-new",
];

/// Refuses an `x-` extension the generator does not know (a misspelt one would silently do
/// nothing) and a constraint keyword it cannot check.
pub fn check_vocabulary(value: &Value, at: &str) -> Result<(), String> {
    match value {
        Value::Object(map) => {
            let is_schema = map.contains_key("type") || map.contains_key("properties");
            for (key, child) in map {
                if key.starts_with("x-") && !EXTENSIONS.contains(&key.as_str()) {
                    return Err(format!(
                        "{at}: unknown extension `{key}` (known: {})",
                        EXTENSIONS.join(", ")
                    ));
                }
                if is_schema && UNSUPPORTED.contains(&key.as_str()) {
                    return Err(format!(
                        "{at}: `{key}` is a constraint the client cannot check; state it with \
                         the supported keywords or an `x-` extension (openapi/README.md)"
                    ));
                }
                // `properties` maps names to schemas: a property may be called anything.
                let child_at = if at.is_empty() {
                    key.clone()
                } else {
                    format!("{at}.{key}")
                };
                if key == "properties" || key == "examples" || key == "example" {
                    if key == "properties"
                        && let Value::Object(props) = child
                    {
                        for (name, schema) in props {
                            check_vocabulary(schema, &format!("{child_at}.{name}"))?;
                        }
                    }
                    continue;
                }
                check_vocabulary(child, &child_at)?;
            }
            Ok(())
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, v)| check_vocabulary(v, &format!("{at}[{i}]"))),
        _ => Ok(()),
    }
}

/// One rule, as Rust source.
struct RuleSrc {
    /// The steps to the value, as Rust source and as a JSON path piece each.
    at: Vec<(String, String)>,
    check: String,
    words: String,
}

impl RuleSrc {
    fn path(&self) -> String {
        let mut path = String::new();
        for (_, piece) in &self.at {
            if !piece.starts_with('[') && !path.is_empty() {
                path.push('.');
            }
            path.push_str(piece);
        }
        path
    }
}

/// The rules of a request body whose schema is the component `name`, as a Rust static named
/// `static_name`.
pub fn body_rules(doc: &Value, name: &str, static_name: &str) -> Result<String, String> {
    let schema = doc
        .pointer(&format!("/components/schemas/{name}"))
        .ok_or_else(|| format!("components.schemas.{name}: missing"))?;
    let mut rules = Vec::new();
    let mut stack = vec![name.to_owned()];
    walk(doc, schema, &mut Vec::new(), &mut stack, &mut rules)
        .map_err(|e| format!("components.schemas.{name}: {e}"))?;
    let mut s = format!("pub(crate) static {static_name}: &[crate::checks::Rule] = &[\n");
    for rule in rules {
        let _ = writeln!(
            s,
            "    crate::checks::Rule {{ at: &[{}], check: {} }},",
            rule.at
                .iter()
                .map(|(rust, _)| rust.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            rule.check
        );
    }
    s.push_str("];\n");
    Ok(s)
}

/// The checks a path parameter's schema states (besides those every id gets).
pub fn param_checks(doc: &Value, schema: &Value) -> Result<Vec<String>, String> {
    let mut rules = Vec::new();
    walk(doc, schema, &mut Vec::new(), &mut Vec::new(), &mut rules)?;
    Ok(rules.into_iter().map(|r| r.check).collect())
}

/// The checks a query parameter's schema states: those of a path parameter, and its `enum`
/// when it has several values (a query value outside it is refused, by the client before
/// sending and by the emulator).
pub fn query_checks(doc: &Value, schema: &Value) -> Result<Vec<String>, String> {
    let mut checks = param_checks(doc, schema)?;
    let resolved = spec::resolve(doc, schema)?;
    if let Some(values) = resolved.get("enum").and_then(Value::as_array)
        && values.len() > 1
    {
        let values = values
            .iter()
            .map(|v| {
                v.as_str()
                    .map(|v| format!("{v:?}"))
                    .ok_or_else(|| format!("enum value {v} is not a string"))
            })
            .collect::<Result<Vec<_>, String>>()?;
        checks.push(format!(
            "crate::checks::Check::OneOf(&[{}])",
            values.join(", ")
        ));
    }
    Ok(checks)
}

fn walk(
    doc: &Value,
    schema: &Value,
    at: &mut Vec<(String, String)>,
    stack: &mut Vec<String>,
    out: &mut Vec<RuleSrc>,
) -> Result<(), String> {
    let here = |check: String, words: String| RuleSrc {
        at: at.clone(),
        check,
        words,
    };
    if let Some(name) = spec::ref_name(schema) {
        // A recursive schema is checked once, at its first level.
        if stack.iter().any(|s| s == name) {
            return Ok(());
        }
        let resolved = spec::resolve(doc, schema)?;
        stack.push(name.to_owned());
        let result = walk(doc, resolved, at, stack, out);
        stack.pop();
        return result.map_err(|e| format!("{name}: {e}"));
    }
    let Some(map) = schema.as_object() else {
        return Ok(());
    };
    if let Some(values) = map.get("enum").and_then(Value::as_array)
        && let [only] = values.as_slice()
    {
        let value = only
            .as_str()
            .ok_or_else(|| format!("enum value {only} is not a string"))?;
        out.push(here(
            format!("crate::checks::Check::Fixed({value:?})"),
            format!("fixed at `{value}`"),
        ));
    }
    let num = |key: &str| -> Result<Option<f64>, String> {
        match map.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_f64()
                .map(Some)
                .ok_or_else(|| format!("`{key}` is not a number")),
        }
    };
    let count = |key: &str| -> Result<Option<u64>, String> {
        match map.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .map(Some)
                .ok_or_else(|| format!("`{key}` is not a whole number")),
        }
    };
    let flag = |key: &str| map.get(key).and_then(Value::as_bool).unwrap_or(false);
    let opt_f = |v: Option<f64>| v.map_or("None".to_owned(), |v| format!("Some({v:?})"));
    let opt_u = |v: Option<u64>| v.map_or("None".to_owned(), |v| format!("Some({v})"));

    let (min, max) = (num("minimum")?, num("maximum")?);
    // OpenAPI 3.0: exclusiveMinimum/exclusiveMaximum are flags on minimum/maximum.
    if min.is_some() || max.is_some() {
        let words = [
            min.map(|m| {
                format!(
                    "{} {m}",
                    if flag("exclusiveMinimum") {
                        "above"
                    } else {
                        "at least"
                    }
                )
            }),
            max.map(|m| {
                format!(
                    "{} {m}",
                    if flag("exclusiveMaximum") {
                        "below"
                    } else {
                        "at most"
                    }
                )
            }),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" and ");
        out.push(here(
            format!(
                "crate::checks::Check::Range {{ min: {}, max: {}, exclusive_min: {}, exclusive_max: {} }}",
                opt_f(min),
                opt_f(max),
                flag("exclusiveMinimum"),
                flag("exclusiveMaximum")
            ),
            words,
        ));
    }
    let (min_len, max_len) = (count("minLength")?, count("maxLength")?);
    if min_len.is_some() || max_len.is_some() {
        out.push(here(
            format!(
                "crate::checks::Check::Length {{ min: {}, max: {} }}",
                opt_u(min_len),
                opt_u(max_len)
            ),
            bounds(min_len, max_len, "characters"),
        ));
    }
    if let Some(pattern) = map.get("pattern") {
        let pattern = pattern.as_str().ok_or("`pattern` is not a string")?;
        regex_lite::Regex::new(pattern)
            .map_err(|e| format!("`pattern` {pattern:?} is not a regular expression: {e}"))?;
        out.push(here(
            format!("crate::checks::Check::Pattern({pattern:?})"),
            format!("matches `{pattern}`"),
        ));
    }
    let (min_items, max_items) = (count("minItems")?, count("maxItems")?);
    if min_items.is_some() || max_items.is_some() {
        out.push(here(
            format!(
                "crate::checks::Check::Items {{ min: {}, max: {} }}",
                opt_u(min_items),
                opt_u(max_items)
            ),
            bounds(min_items, max_items, "items"),
        ));
    }
    match map.get("format").and_then(Value::as_str) {
        Some("byte") => out.push(here(
            "crate::checks::Check::Base64".into(),
            "standard base64 (line breaks are removed before sending)".into(),
        )),
        Some("password") => out.push(here("crate::checks::Check::Secret".into(), String::new())),
        _ => {}
    }
    if let Some(param) = map.get("x-same-as-path-parameter") {
        let param = param
            .as_str()
            .ok_or("`x-same-as-path-parameter` names a path parameter")?;
        out.push(here(
            format!("crate::checks::Check::SameAsPath({param:?})"),
            format!("the same as the path parameter `{param}`"),
        ));
    }

    // Objects.
    let properties = map.get("properties").and_then(Value::as_object);
    if let Some(required) = map.get("required") {
        let required = required.as_array().ok_or("`required` is not a list")?;
        for field in required {
            let field = field.as_str().ok_or("`required` lists a non-string")?;
            if !properties.is_some_and(|p| p.contains_key(field)) {
                return Err(format!(
                    "`required` names `{field}`, which is not a property"
                ));
            }
            out.push(here(
                format!("crate::checks::Check::Required({field:?})"),
                format!("requires `{field}`"),
            ));
        }
    }
    if let Some(alternatives) = map.get("oneOf").and_then(Value::as_array)
        && alternatives.iter().all(is_required_only)
    {
        let mut fields = Vec::new();
        for alternative in alternatives {
            for field in alternative["required"].as_array().into_iter().flatten() {
                let field = field
                    .as_str()
                    .ok_or("`oneOf` `required` lists a non-string")?;
                if !properties.is_some_and(|p| p.contains_key(field)) {
                    return Err(format!("`oneOf` names `{field}`, which is not a property"));
                }
                fields.push(format!("{field:?}"));
            }
        }
        out.push(here(
            format!("crate::checks::Check::ExactlyOne(&[{}])", fields.join(", ")),
            format!("exactly one of {}", fields.join(", ").replace('"', "`")),
        ));
    }
    if let Some(total) = map.get("x-max-total-length") {
        let max = total
            .get("max")
            .and_then(Value::as_u64)
            .ok_or("`x-max-total-length` needs `max`, a whole number")?;
        let fields = total
            .get("fields")
            .and_then(Value::as_array)
            .ok_or("`x-max-total-length` needs `fields`, a list of property names")?;
        let mut names = Vec::new();
        for field in fields {
            let field = field
                .as_str()
                .filter(|f| properties.is_some_and(|p| p.contains_key(*f)))
                .ok_or_else(|| {
                    format!("`x-max-total-length` names {field}, which is not a property")
                })?;
            names.push(format!("{field:?}"));
        }
        out.push(here(
            format!(
                "crate::checks::Check::MaxTotalLength {{ fields: &[{}], max: {max} }}",
                names.join(", ")
            ),
            format!(
                "{} together at most {max} characters",
                names.join(" and ").replace('"', "`")
            ),
        ));
    }
    if let Some(properties) = properties {
        for (name, child) in properties {
            at.push((
                format!("crate::checks::Step::Field({name:?})"),
                name.clone(),
            ));
            walk(doc, child, at, stack, out)?;
            at.pop();
        }
    }
    if let Some(extra) = map.get("additionalProperties").filter(|v| v.is_object()) {
        at.push(("crate::checks::Step::EachValue".into(), "*".into()));
        walk(doc, extra, at, stack, out)?;
        at.pop();
    }
    // Arrays.
    if let Some(items) = map.get("items") {
        at.push(("crate::checks::Step::Each".into(), "[]".into()));
        walk(doc, items, at, stack, out)?;
        at.pop();
    }
    if let Some(all) = map.get("allOf").and_then(Value::as_array) {
        for part in all {
            walk(doc, part, at, stack, out)?;
        }
    }
    Ok(())
}

fn bounds(min: Option<u64>, max: Option<u64>, unit: &str) -> String {
    match (min, max) {
        (Some(a), Some(b)) => format!("{a} to {b} {unit}"),
        (Some(a), None) => format!("at least {a} {unit}"),
        (None, Some(b)) => format!("at most {b} {unit}"),
        (None, None) => String::new(),
    }
}

/// The rules as prose, for the method docs: "`spec.maxUnavailable`: at least 1 and at most 20".
pub fn describe(doc: &Value, body: Option<&str>, params: &[(String, Value)]) -> Vec<String> {
    let mut lines = Vec::new();
    for (name, schema) in params {
        let mut rules = Vec::new();
        if walk(doc, schema, &mut Vec::new(), &mut Vec::new(), &mut rules).is_ok() {
            lines.extend(
                rules
                    .iter()
                    .filter(|r| !r.words.is_empty())
                    .map(|r| format!("`{name}`: {}", r.words)),
            );
        }
    }
    if let Some(name) = body
        && let Some(schema) = doc.pointer(&format!("/components/schemas/{name}"))
    {
        let mut rules = Vec::new();
        let mut stack = vec![name.to_owned()];
        if walk(doc, schema, &mut Vec::new(), &mut stack, &mut rules).is_ok() {
            for r in rules.iter().filter(|r| !r.words.is_empty()) {
                let path = r.path();
                if path.is_empty() {
                    lines.push(format!("the body: {}", r.words));
                } else {
                    lines.push(format!("`{path}`: {}", r.words));
                }
            }
        }
    }
    lines
}
