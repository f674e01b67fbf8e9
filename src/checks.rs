//! The constraints the spec states, checked before anything is sent.
//!
//! `build.rs` turns every constraint of a request body's schema (and of each path parameter)
//! into a table of [`Rule`]s; this module walks a serialized body along them. A broken rule is an
//! [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) naming the field's JSON path
//! (`spec.nodeIDs[2]`) and the rule. Values are checked as they would be sent, so a field left
//! out is only an error when the schema requires it.

use std::fmt::Write as _;

use base64::Engine as _;
use serde_json::{Map, Value};

use crate::error::Error;

/// One step from a schema to a value inside it.
#[derive(Debug)]
pub(crate) enum Step {
    /// The named field of an object.
    Field(&'static str),
    /// Every element of an array.
    Each,
    /// Every value of a map.
    EachValue,
}

/// A constraint on the value found by following `at` from the body's root.
#[derive(Debug)]
pub(crate) struct Rule {
    pub(crate) at: &'static [Step],
    pub(crate) check: Check,
}

/// What a rule checks.
#[derive(Debug)]
pub(crate) enum Check {
    /// The object has this field (`required`).
    Required(&'static str),
    /// A number within bounds (`minimum`, `maximum`, and their exclusive forms).
    Range {
        min: Option<f64>,
        max: Option<f64>,
        exclusive_min: bool,
        exclusive_max: bool,
    },
    /// A string's length in characters (`minLength`, `maxLength`).
    Length {
        min: Option<usize>,
        max: Option<usize>,
    },
    /// A string matching a regular expression (`pattern`), anchored as written.
    Pattern(&'static str),
    /// An array's length (`minItems`, `maxItems`). No schema states one today.
    #[allow(dead_code)]
    Items {
        min: Option<usize>,
        max: Option<usize>,
    },
    /// The one value a one-value enum allows (a fixed `kind` or `apiVersion`).
    Fixed(&'static str),
    /// One of the values an `enum` of a query parameter lists.
    OneOf(&'static [&'static str]),
    /// Standard base64 (`format: byte`). Line breaks, as `base64` wraps its output, are removed
    /// from what is sent before the value is checked.
    Base64,
    /// Exactly one of these fields is present (`oneOf` of `required` alternatives).
    ExactlyOne(&'static [&'static str]),
    /// These string fields have at most `max` characters together (`x-max-total-length`).
    MaxTotalLength {
        fields: &'static [&'static str],
        max: usize,
    },
    /// The value equals the named path parameter (`x-same-as-path-parameter`).
    SameAsPath(&'static str),
    /// A secret (`format: password`): never checked, but redacted from every error.
    Secret,
}

/// The checks every path parameter gets, before those its schema states: an id is one path
/// segment, so it is not empty, not `.` or `..`, and has no `/`.
pub(crate) fn check_id(name: &str, value: &str) -> Result<(), Error> {
    match id_problem(value) {
        Some(why) => Err(Error::invalid_input(name, why)),
        None => Ok(()),
    }
}

/// The project id gets the same checks as every other path id, wherever it comes from
/// (`source`: the builder, `HUAWEICLOUD_SDK_PROJECT_ID`, the profile file, the IAM answer).
pub(crate) fn check_project_id(value: &str, source: &str) -> Result<(), Error> {
    match id_problem(value) {
        Some(why) => Err(Error::configuration(format!(
            "invalid project id from {source}: {why}"
        ))),
        None => Ok(()),
    }
}

/// Why `value` cannot be one path segment, if it cannot.
fn id_problem(value: &str) -> Option<&'static str> {
    let why = if value.trim().is_empty() {
        "it is empty; pass the id from the console or the API"
    } else if value == "." || value == ".." {
        "`.` and `..` are not ids; pass the id from the console or the API"
    } else if value.contains('/') {
        "an id has no `/`; pass the id alone, not a path"
    } else if value.chars().any(char::is_control) {
        "it has a control character; pass the id from the console or the API"
    } else {
        return None;
    };
    Some(why)
}

/// Checks a query parameter's value against the rules its schema states.
pub(crate) fn check_query(
    name: &'static str,
    checks: &'static [Check],
    value: &str,
) -> Result<(), Error> {
    let value = Value::String(value.to_owned());
    for check in checks {
        leaf(check, &value, name, &[])?;
    }
    Ok(())
}

/// Checks a path parameter's value against the rules its schema states.
pub(crate) fn check_param(
    name: &'static str,
    checks: &'static [Check],
    value: &str,
) -> Result<(), Error> {
    check_id(name, value)?;
    let value = Value::String(value.to_owned());
    for check in checks {
        leaf(check, &value, name, &[])?;
    }
    Ok(())
}

/// Normalises a body as the rules say (base64 unwrapped), then checks every rule. Returns the
/// secrets the body carries, to redact from any error.
pub(crate) fn check_body(
    rules: &'static [Rule],
    body: &mut Value,
    path_params: &[(&'static str, &str)],
) -> Result<Vec<String>, Error> {
    for rule in rules.iter().filter(|r| matches!(r.check, Check::Base64)) {
        visit_mut(body, rule.at, &mut |v| {
            if let Value::String(s) = v
                && s.contains(['\n', '\r'])
            {
                s.retain(|c| c != '\n' && c != '\r');
            }
        });
    }
    let mut secrets = Vec::new();
    let mut failure = None;
    for rule in rules {
        visit(body, rule.at, &mut String::new(), &mut |value, path| {
            if failure.is_some() {
                return;
            }
            if let Check::Secret = rule.check {
                if let Value::String(s) = value
                    && !s.is_empty()
                {
                    secrets.push(s.clone());
                }
                return;
            }
            if let Err(e) = leaf(&rule.check, value, path, path_params) {
                failure = Some(e);
            }
        });
        if let Some(e) = failure {
            return Err(e);
        }
    }
    Ok(secrets)
}

fn visit(value: &Value, at: &[Step], path: &mut String, f: &mut dyn FnMut(&Value, &str)) {
    let Some((step, rest)) = at.split_first() else {
        f(value, path);
        return;
    };
    let len = path.len();
    match (step, value) {
        (Step::Field(name), Value::Object(map)) => {
            if let Some(child) = map.get(*name).filter(|v| !v.is_null()) {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(name);
                visit(child, rest, path, f);
            }
        }
        (Step::Each, Value::Array(items)) => {
            for (i, child) in items.iter().enumerate() {
                let _ = write!(path, "[{i}]");
                visit(child, rest, path, f);
                path.truncate(len);
            }
        }
        (Step::EachValue, Value::Object(map)) => {
            for (key, child) in map {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
                visit(child, rest, path, f);
                path.truncate(len);
            }
        }
        _ => {}
    }
    path.truncate(len);
}

fn visit_mut(value: &mut Value, at: &[Step], f: &mut dyn FnMut(&mut Value)) {
    let Some((step, rest)) = at.split_first() else {
        f(value);
        return;
    };
    match (step, value) {
        (Step::Field(name), Value::Object(map)) => {
            if let Some(child) = map.get_mut(*name) {
                visit_mut(child, rest, f);
            }
        }
        (Step::Each, Value::Array(items)) => items.iter_mut().for_each(|c| visit_mut(c, rest, f)),
        (Step::EachValue, Value::Object(map)) => {
            map.values_mut().for_each(|c| visit_mut(c, rest, f));
        }
        _ => {}
    }
}

fn field_path(path: &str, field: &str) -> String {
    if path.is_empty() {
        field.to_owned()
    } else {
        format!("{path}.{field}")
    }
}

fn present<'a>(map: &'a Map<String, Value>, field: &str) -> Option<&'a Value> {
    map.get(field).filter(|v| !v.is_null())
}

fn leaf(
    check: &Check,
    value: &Value,
    path: &str,
    path_params: &[(&'static str, &str)],
) -> Result<(), Error> {
    let fail = |why: String| Err(Error::invalid_input(path, why));
    match check {
        Check::Required(field) => {
            if let Value::Object(map) = value
                && present(map, field).is_none()
            {
                return Err(Error::invalid_input(
                    field_path(path, field),
                    "it is required; set it",
                ));
            }
        }
        Check::Range {
            min,
            max,
            exclusive_min,
            exclusive_max,
        } => {
            let Some(n) = value.as_f64() else {
                return Ok(());
            };
            let low = min.is_some_and(|m| if *exclusive_min { n <= m } else { n < m });
            let high = max.is_some_and(|m| if *exclusive_max { n >= m } else { n > m });
            if low || high {
                return fail(format!("it is {value}; it must be {}", range_text(check)));
            }
        }
        Check::Length { min, max } => {
            let Value::String(s) = value else {
                return Ok(());
            };
            if let Some(why) = out_of_bounds(s.chars().count(), *min, *max, "characters") {
                return fail(why);
            }
        }
        Check::Pattern(pattern) => {
            let Value::String(s) = value else {
                return Ok(());
            };
            // The generator checked that the pattern compiles.
            let matches = regex_lite::Regex::new(pattern).is_ok_and(|re| re.is_match(s));
            if !matches {
                return fail(format!("it does not match the pattern `{pattern}`"));
            }
        }
        Check::Items { min, max } => {
            let Value::Array(items) = value else {
                return Ok(());
            };
            if let Some(why) = out_of_bounds(items.len(), *min, *max, "items") {
                return fail(why);
            }
        }
        Check::Fixed(expected) => {
            if value.as_str() != Some(*expected) {
                return fail(format!(
                    "it is {value} but the API only accepts `{expected}` (leave it at its default)"
                ));
            }
        }
        Check::OneOf(allowed) => {
            if !value.as_str().is_some_and(|v| allowed.contains(&v)) {
                let listed: Vec<String> = allowed.iter().map(|v| format!("`{v}`")).collect();
                return fail(format!(
                    "it is {value}; it must be one of {}",
                    listed.join(", ")
                ));
            }
        }
        Check::Base64 => {
            let Value::String(s) = value else {
                return Ok(());
            };
            if let Err(e) = base64::engine::general_purpose::STANDARD.decode(s) {
                return fail(format!(
                    "it is not base64 ({e}); encode it, e.g. `echo -n \"script\" | base64`"
                ));
            }
        }
        Check::ExactlyOne(fields) => {
            if let Value::Object(map) = value {
                let set: Vec<&str> = fields
                    .iter()
                    .copied()
                    .filter(|f| present(map, f).is_some())
                    .collect();
                if set.len() != 1 {
                    let names = fields
                        .iter()
                        .map(|f| format!("`{f}`"))
                        .collect::<Vec<_>>()
                        .join(" or ");
                    let why = if set.is_empty() {
                        format!("it needs {names}")
                    } else {
                        format!("it has {} set; set only one of {names}", set.join(" and "))
                    };
                    return Err(Error::invalid_input(
                        if path.is_empty() { "body" } else { path },
                        why,
                    ));
                }
            }
        }
        Check::MaxTotalLength { fields, max } => {
            if let Value::Object(map) = value {
                let total: usize = fields
                    .iter()
                    .filter_map(|f| present(map, f)?.as_str())
                    .map(|s| s.chars().count())
                    .sum();
                if total > *max {
                    return Err(Error::invalid_input(
                        if path.is_empty() { "body" } else { path },
                        format!(
                            "{} have {total} characters together; the API allows at most {max}",
                            fields.join(" and ")
                        ),
                    ));
                }
            }
        }
        Check::SameAsPath(param) => {
            let expected = path_params.iter().find(|(name, _)| name == param);
            if let (Some((_, expected)), Some(actual)) = (expected, value.as_str())
                && actual != *expected
            {
                return fail(format!(
                    "it is `{actual}` but the path's {param} is `{expected}`; they must be the same"
                ));
            }
        }
        Check::Secret => {}
    }
    Ok(())
}

/// Why a count (of characters, of items) is outside its bounds, if it is.
fn out_of_bounds(n: usize, min: Option<usize>, max: Option<usize>, unit: &str) -> Option<String> {
    if !(min.is_some_and(|m| n < m) || max.is_some_and(|m| n > m)) {
        return None;
    }
    let bounds = match (min, max) {
        (Some(a), Some(b)) => format!("between {a} and {b} {unit}"),
        (Some(a), None) => format!("at least {a} {unit}"),
        (None, Some(b)) => format!("at most {b} {unit}"),
        (None, None) => return None,
    };
    Some(format!("it has {n} {unit}; it must have {bounds}"))
}

fn range_text(check: &Check) -> String {
    let Check::Range {
        min,
        max,
        exclusive_min,
        exclusive_max,
    } = check
    else {
        return String::new();
    };
    match (min, max) {
        (Some(a), Some(b)) if !exclusive_min && !exclusive_max => format!("between {a} and {b}"),
        _ => {
            let mut parts = Vec::new();
            if let Some(a) = min {
                parts.push(format!(
                    "{} {a}",
                    if *exclusive_min { "above" } else { "at least" }
                ));
            }
            if let Some(b) = max {
                parts.push(format!(
                    "{} {b}",
                    if *exclusive_max { "below" } else { "at most" }
                ));
            }
            parts.join(" and ")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use serde_json::json;

    static RULES: &[Rule] = &[
        Rule {
            at: &[Step::Field("spec")],
            check: Check::Required("maxUnavailable"),
        },
        Rule {
            at: &[Step::Field("spec"), Step::Field("maxUnavailable")],
            check: Check::Range {
                min: Some(1.0),
                max: Some(20.0),
                exclusive_min: false,
                exclusive_max: false,
            },
        },
        Rule {
            at: &[Step::Field("spec"), Step::Field("nodeIDs"), Step::Each],
            check: Check::Length {
                min: Some(1),
                max: None,
            },
        },
        Rule {
            at: &[Step::Field("kind")],
            check: Check::Fixed("UpgradeTask"),
        },
        Rule {
            at: &[Step::Field("script")],
            check: Check::Base64,
        },
        Rule {
            at: &[Step::Field("login")],
            check: Check::ExactlyOne(&["sshKey", "userPassword"]),
        },
        Rule {
            at: &[Step::Field("login"), Step::Field("userPassword")],
            check: Check::Secret,
        },
        Rule {
            at: &[Step::Field("pool")],
            check: Check::SameAsPath("nodepool_id"),
        },
    ];

    fn field_of(body: Value) -> (String, String) {
        let mut body = body;
        let e = check_body(RULES, &mut body, &[("nodepool_id", "p1")]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        (e.field().unwrap().to_owned(), e.to_string())
    }

    fn ok() -> Value {
        json!({"kind": "UpgradeTask", "spec": {"maxUnavailable": 1, "nodeIDs": ["a"]},
               "login": {"sshKey": "k"}, "pool": "p1", "script": "ZWNobyAx"})
    }

    #[test]
    fn a_valid_body_passes_and_gives_its_secrets() {
        let mut body = ok();
        body["login"] = json!({"userPassword": "s3cret"});
        let secrets = check_body(RULES, &mut body, &[("nodepool_id", "p1")]).unwrap();
        assert_eq!(secrets, ["s3cret"]);
    }

    #[test]
    fn each_rule_names_its_field() {
        let mut b = ok();
        b["spec"]["maxUnavailable"] = json!(21);
        let (field, text) = field_of(b);
        assert_eq!(field, "spec.maxUnavailable");
        assert!(text.contains("between 1 and 20"), "{text}");

        let mut b = ok();
        b["spec"].as_object_mut().unwrap().remove("maxUnavailable");
        assert_eq!(field_of(b).0, "spec.maxUnavailable");

        let mut b = ok();
        b["spec"]["nodeIDs"] = json!(["a", "b", ""]);
        assert_eq!(field_of(b).0, "spec.nodeIDs[2]");

        let mut b = ok();
        b["kind"] = json!("Other");
        let (field, text) = field_of(b);
        assert_eq!(field, "kind");
        assert!(text.contains("UpgradeTask"), "{text}");

        let mut b = ok();
        b["script"] = json!("not base64!");
        assert_eq!(field_of(b).0, "script");

        let mut b = ok();
        b["login"] = json!({});
        assert_eq!(field_of(b).0, "login");
        let mut b = ok();
        b["login"] = json!({"sshKey": "k", "userPassword": "p"});
        assert_eq!(field_of(b).0, "login");

        let mut b = ok();
        b["pool"] = json!("p2");
        assert_eq!(field_of(b).0, "pool");
    }

    #[test]
    fn wrapped_base64_is_unwrapped_before_it_is_checked_and_sent() {
        let mut body = ok();
        body["script"] = json!("ZWNo\nbyAx\r\n");
        check_body(RULES, &mut body, &[("nodepool_id", "p1")]).unwrap();
        assert_eq!(body["script"], "ZWNobyAx");
    }

    #[test]
    fn ids_stay_in_their_segment() {
        for bad in ["", " ", ".", "..", "../x", "a/b", "a\nb"] {
            assert!(check_id("cluster_id", bad).is_err(), "{bad:?}");
        }
        for good in [
            "b4b9e60f-8aa2-11ee-af09-0255ac10004f",
            "DefaultPool",
            "..a",
            "a\\b",
        ] {
            check_id("cluster_id", good).unwrap();
        }
    }
}
