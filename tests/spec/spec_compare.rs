//! The spec against a file of facts (`tests/data/upgrade-family.json`,
//! `tests/data/cluster-ops.json`), operation by operation and field by field: the comparison
//! `tests/spec_family.rs` and `tests/spec_clusters.rs` share.
//!
//! - the operations: each with the facts' method and path;
//! - path and query parameters by name (`project_id` is filled in by the client, the facts do
//!   not list it), both ways, and a request body exactly where the facts have one;
//! - request and response fields by JSON name at every depth (following `$ref`s, arrays, maps
//!   and the lenient `oneOf` shapes), with their `required` flags (for answers only where
//!   [`Facts::answer_required`] says so), and the facts' validated or documented values being
//!   values of the field's named enum schema;
//! - the documented success status where the facts give one, plain-string answers as
//!   `text/plain`, array answers as arrays, and no answer body where the facts have no fields.
//!
//! Where the spec deliberately differs, the test file's table of [`Deviation`]s says why; every
//! other mismatch fails, and every deviation must still be one, so the table does not outlive its
//! reason. Field paths read `request.spec.maxUnavailable`, `response.items.status.phase`,
//! `response[].metadata.uid` (the elements of an array answer); arrays and maps on the way are
//! stepped through silently.

// Each test file uses its part of this module.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::LazyLock;

use serde_json::Value;

/// The spec as build.rs assembled it from openapi/*.yaml.
pub static SPEC: LazyLock<Value> = LazyLock::new(|| {
    serde_json::from_str(include_str!(concat!(env!("OUT_DIR"), "/openapi.json")))
        .expect("build.rs writes the assembled spec")
});

/// The least share of fields that must match, in per cent.
pub const MIN_MATCH_PERCENT: f64 = 98.0;

/// What can differ about a field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// The field is not in the spec.
    Missing,
    /// The spec's `required` flag is not the facts'.
    Required,
    /// The facts' values are not all values of the field's enum.
    Values,
}

/// A deliberate difference: operation, field path, what differs, why.
pub type Deviation = (&'static str, &'static str, Kind, &'static str);

/// A file of facts, one object per operation (see `tests/data/README.md`), with the spec's
/// deliberate differences from it.
pub struct Facts {
    /// The file's name, for messages.
    pub file: &'static str,
    /// One object per operation.
    pub operations: Vec<Value>,
    /// Where the spec deliberately differs.
    pub deviations: &'static [Deviation],
    /// Whether answer fields' `required` flags are compared: not where the facts' flags are
    /// those of a request model the answer shares (cluster-ops.json: "a field's `required`
    /// flag is the SDK's for creating a cluster: in an answer, every field may be absent").
    pub answer_required: bool,
    comparison: std::sync::OnceLock<Comparison>,
}

impl Facts {
    /// The facts of `json` (a file's text).
    pub fn new(
        file: &'static str,
        json: &str,
        deviations: &'static [Deviation],
        answer_required: bool,
    ) -> Facts {
        let operations: Vec<Value> =
            serde_json::from_str(json).unwrap_or_else(|e| panic!("{file} is not a JSON list: {e}"));
        Facts {
            file,
            operations,
            deviations,
            answer_required,
            comparison: std::sync::OnceLock::new(),
        }
    }

    /// The operation names of the facts.
    pub fn names(&self) -> BTreeSet<&str> {
        self.operations
            .iter()
            .map(|o| o["operation"].as_str().expect("operation name"))
            .collect()
    }

    /// The comparison of the spec with these facts (computed once).
    pub fn comparison(&'static self) -> &'static Comparison {
        self.comparison.get_or_init(|| {
            let spec = spec_operations();
            let mut comparison = Comparison {
                answer_required: self.answer_required,
                ..Comparison::default()
            };
            for fact in &self.operations {
                let name = fact["operation"].as_str().expect("operation name");
                match spec.get(name) {
                    Some(operation) => comparison.operation(fact, operation),
                    None => {
                        comparison.total += 1;
                        comparison
                            .operations
                            .push(format!("{name}: not in the spec"));
                    }
                }
            }
            comparison
        })
    }

    /// The listed deviation a mismatch is, if any.
    pub fn deviation(&self, mismatch: &Mismatch) -> Option<&'static Deviation> {
        self.deviations.iter().find(|(operation, path, kind, _)| {
            *operation == mismatch.operation && *path == mismatch.path && *kind == mismatch.kind
        })
    }

    /// Fails on an operation, method, path, parameter, body, status or answer shape that differs.
    pub fn check_operations(&'static self) {
        fail_if_any(self.comparison().operations.clone());
    }

    /// Fails on a field mismatch that is not a listed deviation, and below
    /// [`MIN_MATCH_PERCENT`].
    pub fn check_fields(&'static self) {
        let comparison = self.comparison();
        eprintln!(
            "{}: {}/{} fields match ({:.1}%), {} deviation(s)",
            self.file,
            comparison.matched,
            comparison.total,
            comparison.percent(),
            comparison.fields.len()
        );
        let mut problems: Vec<String> = comparison
            .fields
            .iter()
            .filter(|m| self.deviation(m).is_none())
            .map(|m| format!("{m} ({:?}; not a listed deviation)", m.kind))
            .collect();
        if comparison.percent() < MIN_MATCH_PERCENT {
            problems.push(format!(
                "only {}/{} fields match ({:.1}%), at least {MIN_MATCH_PERCENT}% must",
                comparison.matched,
                comparison.total,
                comparison.percent()
            ));
        }
        fail_if_any(problems);
    }

    /// The deviations listed twice or no longer differing, as problems; and each listed
    /// deviation with the mismatch it still is.
    pub fn stale_deviations(
        &'static self,
    ) -> (Vec<String>, Vec<(&'static Deviation, &'static Mismatch)>) {
        let comparison = self.comparison();
        let mut problems = Vec::new();
        let mut current = Vec::new();
        let mut seen = BTreeSet::new();
        for deviation in self.deviations {
            let &(operation, path, kind, why) = deviation;
            if !seen.insert((operation, path, kind)) {
                problems.push(format!("{operation} {path}: listed twice"));
            }
            match comparison
                .fields
                .iter()
                .find(|m| m.operation == operation && m.path == path && m.kind == kind)
            {
                Some(mismatch) => current.push((deviation, mismatch)),
                None => problems.push(format!(
                    "{operation} {path}: listed as a deviation ({kind:?}: {why}) but the spec \
                     now matches {} there (or the field is gone): remove it from the table",
                    self.file
                )),
            }
        }
        (problems, current)
    }

    /// The fact for `path` (`request.a.b`, `response.a.b`) of `operation`.
    pub fn field(&'static self, operation: &str, path: &str) -> &'static Value {
        let fact = self
            .operations
            .iter()
            .find(|o| o["operation"] == operation)
            .unwrap_or_else(|| panic!("{operation}: not in the facts"));
        let (side, rest) = path.split_once('.').expect("a side and a field");
        let mut fields: &'static [Value] = match side {
            "request" => {
                let request = &fact["request_body"];
                let root = request["type"].as_str().expect("request model name");
                request["models"][root]["fields"]
                    .as_array()
                    .expect("fields")
            }
            "response" => fact["response_fields"].as_array().expect("fields"),
            _ => panic!("{operation} {path}: only request and response fields are looked up"),
        };
        let mut found = None;
        for name in rest.split('.') {
            let field = fields
                .iter()
                .find(|f| f["json"] == name)
                .unwrap_or_else(|| panic!("{operation} {path}: no `{name}` in the facts"));
            fields = models(field).next().unwrap_or(&[]);
            found = Some(field);
        }
        found.expect("a non-empty path")
    }

    /// How many fields lie below a missing field (0 for a parameter).
    fn nested(&'static self, operation: &str, path: &str) -> usize {
        if path.contains(" parameter ") || path.starts_with("response[]") {
            return 0;
        }
        fn count(fields: &[Value]) -> usize {
            fields
                .iter()
                .map(|f| 1 + models(f).map(count).sum::<usize>())
                .sum()
        }
        models(self.field(operation, path)).map(count).sum()
    }

    /// Fails unless the comparison looked at every parameter and field of the facts.
    pub fn check_every_fact_is_compared(&'static self) {
        let comparison = self.comparison();
        // Counted on the facts alone: every parameter and every field at every depth (a recursive
        // model, listed without fields, was counted where it first appeared).
        fn count(fields: &[Value], depth: usize) -> usize {
            fields
                .iter()
                .map(|f| {
                    1 + if depth < 12 {
                        models(f).map(|m| count(m, depth + 1)).sum()
                    } else {
                        0
                    }
                })
                .sum()
        }
        let mut facts = 0;
        for fact in self.operations.iter() {
            facts += fact["path_params"].as_array().map_or(0, Vec::len);
            facts += fact["query_params"].as_array().map_or(0, Vec::len);
            if let Some(root) = fact["request_body"]["type"].as_str() {
                facts += count(
                    fact["request_body"]["models"][root]["fields"]
                        .as_array()
                        .expect("fields"),
                    0,
                );
            }
            let answer = fact["response_fields"].as_array().expect("fields");
            if fact["response_body_is_non_object"] == true {
                // The one `body` field is the answer itself; its elements' fields are compared.
                facts += answer
                    .iter()
                    .flat_map(models)
                    .map(|m| count(m, 0))
                    .sum::<usize>();
            } else {
                facts += count(answer, 0);
            }
        }
        // A field missing from the spec is counted but its nested fields are not walked.
        let unwalked: usize = comparison
            .fields
            .iter()
            .filter(|m| m.kind == Kind::Missing)
            .map(|m| self.nested(&m.operation, &m.path))
            .sum();
        assert_eq!(
            comparison.total + unwalked,
            facts,
            "the comparison did not look at every fact of {}",
            self.file
        );
    }
}

/// The spec's property for `path` (`request.a.b`, `response.a.b`) of `operation`.
pub fn spec_field(operation: &str, path: &str) -> &'static Value {
    let spec = spec_operations();
    let op = spec
        .get(operation)
        .unwrap_or_else(|| panic!("{operation}: not in the spec"))
        .op;
    let (side, rest) = path.split_once('.').expect("a side and a field");
    let mut schema = match side {
        "request" => &op["requestBody"]["content"]["application/json"]["schema"],
        "response" => {
            let responses = op["responses"].as_object().expect("responses");
            let first = responses
                .keys()
                .filter(|c| c.starts_with('2'))
                .min()
                .expect("a success answer");
            &responses[first]["content"]["application/json"]["schema"]
        }
        _ => panic!("{operation} {path}: only request and response fields are looked up"),
    };
    for name in rest.split('.') {
        schema = model_holder(schema)
            .get("properties")
            .and_then(|p| p.get(name))
            .unwrap_or_else(|| panic!("{operation} {path}: no `{name}` in the spec"));
    }
    schema
}

/// Fails listing `problems`, if any.
pub fn fail_if_any(problems: Vec<String>) {
    assert!(
        problems.is_empty(),
        "{} problem(s):\n  {}",
        problems.len(),
        problems.join("\n  ")
    );
}

// ----------------------------------------------------------------------------- walking the spec

static NOTHING: Value = Value::Null;

pub fn by_pointer(reference: &str) -> &'static Value {
    let pointer = reference
        .strip_prefix('#')
        .unwrap_or_else(|| panic!("only local references are used: {reference}"));
    SPEC.pointer(pointer)
        .unwrap_or_else(|| panic!("`{reference}` points nowhere"))
}

/// Whether `oneOf` alternatives only name required fields: the README's "exactly one of these
/// fields" rule, not alternative shapes.
pub fn is_required_rule(alternatives: &[Value]) -> bool {
    !alternatives.is_empty()
        && alternatives.iter().all(|alt| {
            alt.as_object()
                .is_some_and(|o| o.len() == 1 && o.contains_key("required"))
        })
}

/// The schema `schema` stands for: `$ref`s followed; of a lenient `oneOf` (object or string,
/// array or object, boolean or string) the richest form: the array, else the object.
pub fn resolve(mut schema: &'static Value) -> &'static Value {
    for _ in 0..20 {
        if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
            schema = by_pointer(reference);
            continue;
        }
        let alternatives = schema
            .get("oneOf")
            .and_then(Value::as_array)
            .filter(|a| !is_required_rule(a) && schema.get("properties").is_none());
        if let Some(alternatives) = alternatives {
            let forms: Vec<&Value> = alternatives.iter().map(resolve).collect();
            schema = forms
                .iter()
                .find(|f| type_of(f) == Some("array"))
                .or_else(|| forms.iter().find(|f| f.get("properties").is_some()))
                .or(forms.first())
                .copied()
                .unwrap_or(&NOTHING);
            continue;
        }
        break;
    }
    schema
}

/// Every concrete form of `schema` (all alternatives of a `oneOf`), `$ref`s followed.
pub fn forms(schema: &'static Value) -> Vec<&'static Value> {
    let schema = match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => by_pointer(reference),
        None => schema,
    };
    match schema.get("oneOf").and_then(Value::as_array) {
        Some(alternatives) if !is_required_rule(alternatives) => {
            alternatives.iter().flat_map(forms).collect()
        }
        _ => vec![schema],
    }
}

pub fn type_of(schema: &Value) -> Option<&str> {
    schema.get("type").and_then(Value::as_str)
}

/// The elements of an array schema, else the schema itself.
pub fn through_array(schema: &'static Value) -> &'static Value {
    let schema = resolve(schema);
    let is_array = type_of(schema) == Some("array")
        || (schema.get("items").is_some() && schema.get("properties").is_none());
    if is_array {
        resolve(schema.get("items").unwrap_or(&NOTHING))
    } else {
        schema
    }
}

/// The object a nested model lives in: the field's schema, through an array, or through the
/// values of a map (and an array there).
pub fn model_holder(field: &'static Value) -> &'static Value {
    let schema = resolve(field);
    if type_of(schema) == Some("array") {
        return resolve(schema.get("items").unwrap_or(&NOTHING));
    }
    match schema.get("additionalProperties") {
        Some(values) if values.is_object() && schema.get("properties").is_none() => {
            through_array(values)
        }
        _ => schema,
    }
}

/// The values of the field's enum (of its elements' enum for an array), if it has one.
pub fn enum_values(field: &'static Value) -> Option<BTreeSet<&'static str>> {
    let values = |s: &'static Value| {
        s.get("enum")
            .and_then(Value::as_array)
            .map(|e| e.iter().filter_map(Value::as_str).collect())
    };
    let schema = resolve(field);
    values(schema).or_else(|| {
        (type_of(schema) == Some("array"))
            .then(|| values(resolve(schema.get("items")?)))
            .flatten()
    })
}

// ---------------------------------------------------------------------------- the comparison

/// An operation of the spec.
pub struct Operation {
    pub method: String,
    pub path: String,
    pub op: &'static Value,
}

/// The spec's operations by operationId.
pub fn spec_operations() -> BTreeMap<&'static str, Operation> {
    let mut out = BTreeMap::new();
    for (path, item) in SPEC["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            let Some(id) = op.get("operationId").and_then(Value::as_str) else {
                continue;
            };
            let operation = Operation {
                method: method.to_uppercase(),
                path: path.clone(),
                op,
            };
            assert!(
                out.insert(id, operation).is_none(),
                "{id}: operationId twice"
            );
        }
    }
    out
}

/// One field that does not match.
#[derive(Debug)]
pub struct Mismatch {
    pub operation: String,
    pub path: String,
    pub kind: Kind,
    pub detail: String,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.operation, self.path, self.detail)
    }
}

#[derive(Default)]
pub struct Comparison {
    /// Fields (and path and query parameters) compared.
    pub total: usize,
    /// Those that match in every respect.
    pub matched: usize,
    /// Fields that differ.
    pub fields: Vec<Mismatch>,
    /// Operations, methods, paths, parameters, bodies, statuses and answer shapes that differ:
    /// never deliberate.
    pub operations: Vec<String>,
    /// Whether the `required` flags of answer fields are compared (those of request fields
    /// always are).
    pub answer_required: bool,
}

impl Comparison {
    fn mismatch(&mut self, operation: &str, path: &str, kind: Kind, detail: String) {
        self.fields.push(Mismatch {
            operation: operation.to_owned(),
            path: path.to_owned(),
            kind,
            detail,
        });
    }

    /// Compares the family's `fields` with the properties of `schema`, at every depth.
    pub fn fields(
        &mut self,
        operation: &str,
        at: &str,
        fields: &'static [Value],
        schema: &'static Value,
        depth: usize,
    ) {
        let schema = through_array(schema);
        let properties = schema.get("properties").and_then(Value::as_object);
        let required: BTreeSet<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        for fact in fields {
            self.total += 1;
            let name = fact["json"].as_str().expect("every field has a JSON name");
            let here = format!("{at}.{name}");
            let Some(property) = properties.and_then(|p| p.get(name)) else {
                self.mismatch(operation, &here, Kind::Missing, "not in the spec".into());
                continue;
            };
            let mut good = true;
            let family_required = fact["required"].as_bool().unwrap_or(false);
            let compare_required = self.answer_required || !at.starts_with("response");
            if compare_required && family_required != required.contains(name) {
                let flag = |r: bool| if r { "required" } else { "optional" };
                self.mismatch(
                    operation,
                    &here,
                    Kind::Required,
                    format!(
                        "the family has it {}, the spec {}",
                        flag(family_required),
                        flag(!family_required)
                    ),
                );
                good = false;
            }
            if let Some(values) = family_values(fact) {
                let have = enum_values(property);
                if !have.as_ref().is_some_and(|h| values.is_subset(h)) {
                    self.mismatch(
                        operation,
                        &here,
                        Kind::Values,
                        format!(
                            "the family's values {values:?} are not in the spec's enum {have:?}"
                        ),
                    );
                    good = false;
                }
            }
            if good {
                self.matched += 1;
            }
            if depth < 12 {
                for model in models(fact) {
                    self.fields(operation, &here, model, model_holder(property), depth + 1);
                }
            }
        }
    }

    pub fn operation(&mut self, fact: &'static Value, spec: &Operation) {
        let name = fact["operation"].as_str().expect("operation name");
        if spec.method != fact["http_method"] || spec.path != fact["path"] {
            self.operations.push(format!(
                "{name}: the spec has {} {}, the family {} {}",
                spec.method,
                spec.path,
                fact["http_method"].as_str().unwrap_or("?"),
                fact["path"].as_str().unwrap_or("?")
            ));
        }
        self.parameters(name, fact, spec.op);

        let body = spec.op.get("requestBody");
        match (&fact["request_body"], body) {
            (Value::Null, None) => {}
            (Value::Null, Some(_)) => self.operations.push(format!(
                "{name}: the spec has a request body, the family none"
            )),
            (request, body) => {
                match body.and_then(|b| b.pointer("/content/application~1json/schema")) {
                    None => self.operations.push(format!(
                        "{name}: the family has a JSON request body, the spec none"
                    )),
                    Some(schema) => {
                        let root = request["type"].as_str().expect("request model name");
                        let top = request["models"][root]["fields"]
                            .as_array()
                            .expect("request model fields");
                        self.fields(name, "request", top, schema, 0);
                    }
                }
            }
        }
        self.answer(name, fact, spec.op);
    }

    fn parameters(&mut self, name: &str, fact: &'static Value, op: &'static Value) {
        let spec: Vec<&Value> = op
            .get("parameters")
            .and_then(Value::as_array)
            .map(|ps| {
                ps.iter()
                    .map(|p| match p.get("$ref").and_then(Value::as_str) {
                        Some(reference) => by_pointer(reference),
                        None => p,
                    })
                    .collect()
            })
            .unwrap_or_default();
        for (place, key) in [("path", "path_params"), ("query", "query_params")] {
            let in_spec: BTreeSet<&str> = spec
                .iter()
                .filter(|p| p["in"] == place)
                .filter_map(|p| p["name"].as_str())
                // The client fills in the project; the family does not list it.
                .filter(|&n| !(place == "path" && n == "project_id"))
                .collect();
            let in_family: BTreeSet<&str> = fact[key]
                .as_array()
                .expect("parameter list")
                .iter()
                .filter_map(|p| p["name"].as_str())
                .collect();
            for parameter in &in_family {
                self.total += 1;
                if in_spec.contains(parameter) {
                    self.matched += 1;
                } else {
                    self.mismatch(
                        name,
                        &format!("{place} parameter {parameter}"),
                        Kind::Missing,
                        "not in the spec".into(),
                    );
                }
            }
            for parameter in in_spec.difference(&in_family) {
                self.operations.push(format!(
                    "{name}: {place} parameter {parameter} is in the spec, not in the family"
                ));
            }
        }
    }

    fn answer(&mut self, name: &str, fact: &'static Value, op: &'static Value) {
        let responses = op["responses"].as_object().expect("responses");
        let success: Vec<&str> = responses
            .keys()
            .map(String::as_str)
            .filter(|c| c.starts_with('2'))
            .collect();
        let documented = fact["success_status"].as_u64();
        if let Some(status) = documented.filter(|s| !success.contains(&s.to_string().as_str())) {
            self.operations.push(format!(
                "{name}: the spec answers {success:?}, the family documents {status}"
            ));
        }
        let Some(&first) = success.iter().min() else {
            self.operations
                .push(format!("{name}: no success answer in the spec"));
            return;
        };
        let content = responses[first].get("content");
        let media = |m: &str| content.and_then(|c| c.get(m)).map(|c| &c["schema"]);
        let fields = fact["response_fields"]
            .as_array()
            .expect("response field list");

        if fields.is_empty() {
            if content.is_some_and(|c| c.as_object().is_some_and(|o| !o.is_empty())) {
                self.operations.push(format!(
                    "{name}: the family has no answer fields, the spec a {first} body"
                ));
            }
            return;
        }
        if fact["response_body_is_non_object"] == true {
            // The answer is the one `body` field: a plain string, or an array.
            let body = &fields[0];
            let ty = body["type"].as_str().unwrap_or("");
            if ty == "string" {
                let is_text =
                    media("text/plain").is_some_and(|s| type_of(resolve(s)) == Some("string"));
                if !is_text || media("application/json").is_some() {
                    self.operations.push(format!(
                        "{name}: the answer is a plain string, the spec's {first} answer is not \
                         (only) text/plain with a string schema"
                    ));
                }
            } else if ty.starts_with("array") {
                match media("application/json").filter(|s| type_of(resolve(s)) == Some("array")) {
                    None => self.operations.push(format!(
                        "{name}: the answer is an array, the spec's {first} answer is not"
                    )),
                    Some(schema) => {
                        for model in models(body) {
                            self.fields(name, "response[]", model, schema, 0);
                        }
                    }
                }
            } else {
                panic!("{name}: a non-object answer of type `{ty}` this test does not know");
            }
            return;
        }
        match media("application/json") {
            None => self.operations.push(format!(
                "{name}: the family has answer fields, the spec's {first} answer no JSON body"
            )),
            Some(schema) => self.fields(name, "response", fields, schema, 0),
        }
    }

    pub fn percent(&self) -> f64 {
        100.0 * self.matched as f64 / self.total.max(1) as f64
    }
}

/// The values the family gives for a field: validated by the SDK, else listed in its description.
pub fn family_values(fact: &Value) -> Option<BTreeSet<&str>> {
    ["enum_validated", "documented_values"]
        .iter()
        .filter_map(|key| fact[key].as_array())
        .find(|values| !values.is_empty())
        .map(|values| values.iter().filter_map(Value::as_str).collect())
}

/// The field lists of a field's nested models (a recursive model has none: it was walked).
pub fn models(fact: &Value) -> impl Iterator<Item = &[Value]> {
    fact.get("models")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|m| m.values())
        .filter_map(|m| m.get("fields").and_then(Value::as_array))
        .map(Vec::as_slice)
}
