//! Field by field, the five API pages against `openapi/cce-upgrade.yaml`.
//!
//! `tests/data/pages.txt` is a transcription of the pages in `/work/shared/seeds/` (not of the
//! spec): for every operation its method and URI as printed, its path and header parameters, its
//! request body fields and its response fields, each with the page's type, whether the page marks
//! it mandatory, and the values and constraints the page states. The tests walk the spec along every
//! row (following `$ref`, `allOf`, and the alternatives of the lenient `oneOf` schemas) and check
//! that the field is there with a compatible type, the same requiredness, every documented enum
//! value and constraint; then the other way round, that every property of every schema the
//! operations use is on some row, so the spec invents nothing.
//!
//! Paths are dotted from the body's root; `[]` steps into the elements of an array.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

use serde_json::Value;

static SPEC: LazyLock<Value> = LazyLock::new(|| {
    // The spec as build.rs assembled it from openapi/*.yaml.
    serde_json::from_str(include_str!(concat!(env!("OUT_DIR"), "/openapi.json")))
        .expect("build.rs writes the assembled spec")
});

/// A type as the pages' type column writes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ty {
    /// `String`
    String,
    /// `Integer`
    Integer,
    /// `Boolean` (no page uses it; the official SDKs type `critical` so)
    Boolean,
    /// `XxxObject object`, or `Object`
    Object,
    /// `Array of ...`
    Array,
    /// `Map<String,String>`
    Map,
}

/// What a page states about a field's values.
#[derive(Clone, Copy, Debug)]
enum Check {
    /// The options the page lists: each is in the spec's `enum`.
    Options(&'static [&'static str]),
    /// A fixed value ("固定值", "The value is fixed", or the value the page says it defaults to):
    /// the spec's `enum` is exactly this value, or, for a response field without an `enum`, its
    /// `example` or `default` is.
    Fixed(&'static str),
    /// The smallest value allowed.
    Minimum(i64),
    /// The largest value allowed.
    Maximum(i64),
    /// The most characters allowed.
    MaxLength(u64),
    /// The default value.
    Default(&'static str),
}

/// A parameter or request field: name or dotted path, page type, mandatory, value checks.
/// For `[]` rows (the elements of an array) the mandatory flag means nothing and is `false`.
type Param = (&'static str, Ty, bool, &'static [Check]);
/// A response field: dotted path, page type, value checks. Response fields are not mandatory.
type Field = (&'static str, Ty, &'static [Check]);

struct Page {
    /// The seed file the rows are read from.
    source: &'static str,
    operation: &'static str,
    method: &'static str,
    /// The URI exactly as the page prints it.
    uri: &'static str,
    path_params: &'static [Param],
    headers: &'static [Param],
    body: &'static [Param],
    /// The success status of the page's status-code table.
    status: &'static str,
    response: &'static [Field],
}

/// The pages' rows: `tests/data/pages.txt`, whose head says how it is written.
static PAGES: LazyLock<Vec<Page>> = LazyLock::new(|| {
    read_pages(include_str!("../data/pages.txt"))
        .unwrap_or_else(|e| panic!("tests/data/pages.txt: {e}"))
});

/// The pages of a `pages.txt` text. Its text lives as long as the program (it is included), so
/// the rows borrow it; the lists of rows are leaked, once per run.
fn read_pages(text: &'static str) -> Result<Vec<Page>, String> {
    /// A page being read: its lists still growing.
    struct Reading {
        operation: &'static str,
        facts: BTreeMap<&'static str, &'static str>,
        path_params: Vec<Param>,
        headers: Vec<Param>,
        body: Vec<Param>,
        response: Vec<Field>,
    }

    fn ty(word: &str) -> Result<Ty, String> {
        Ok(match word {
            "String" => Ty::String,
            "Integer" => Ty::Integer,
            "Boolean" => Ty::Boolean,
            "Object" => Ty::Object,
            "Array" => Ty::Array,
            "Map" => Ty::Map,
            _ => return Err(format!("unknown type {word:?}")),
        })
    }

    fn check(word: &'static str) -> Result<Check, String> {
        let (key, value) = word
            .split_once('=')
            .ok_or_else(|| format!("{word:?} is not KEY=VALUE"))?;
        let number = |value: &str| {
            value
                .parse::<i64>()
                .map_err(|e| format!("{key}={value}: {e}"))
        };
        Ok(match key {
            "options" => Check::Options(Vec::leak(value.split('|').collect())),
            "fixed" => Check::Fixed(value),
            "default" => Check::Default(value),
            "minimum" => Check::Minimum(number(value)?),
            "maximum" => Check::Maximum(number(value)?),
            "max_length" => Check::MaxLength(
                number(value)?
                    .try_into()
                    .map_err(|_| format!("{word}: a length is not negative"))?,
            ),
            _ => return Err(format!("unknown check {key:?}")),
        })
    }

    fn checks(words: &[&'static str]) -> Result<&'static [Check], String> {
        let checks = words
            .iter()
            .map(|w| check(w))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Vec::leak(checks))
    }

    fn finish(page: Reading) -> Result<Page, String> {
        let fact = |key: &str| {
            page.facts
                .get(key)
                .copied()
                .ok_or_else(|| format!("page {} has no `{key}` line", page.operation))
        };
        Ok(Page {
            source: fact("source")?,
            operation: page.operation,
            method: fact("method")?,
            uri: fact("uri")?,
            path_params: Vec::leak(page.path_params),
            headers: Vec::leak(page.headers),
            body: Vec::leak(page.body),
            status: fact("status")?,
            response: Vec::leak(page.response),
        })
    }

    let mut pages = Vec::new();
    let mut reading: Option<Reading> = None;
    for (index, line) in text.lines().enumerate() {
        let at = |e: String| format!("line {}: {e}", index + 1);
        let words: Vec<&'static str> = line.split_whitespace().collect();
        let Some((&key, rest)) = words.split_first() else {
            continue;
        };
        if key.starts_with('#') {
            continue;
        }
        if key == "page" {
            let [operation] = rest else {
                return Err(at("`page OPERATION`".into()));
            };
            if let Some(page) = reading.take() {
                pages.push(finish(page)?);
            }
            reading = Some(Reading {
                operation,
                facts: BTreeMap::new(),
                path_params: Vec::new(),
                headers: Vec::new(),
                body: Vec::new(),
                response: Vec::new(),
            });
            continue;
        }
        let page = reading
            .as_mut()
            .ok_or_else(|| at(format!("`{key}` before the first `page`")))?;
        match (key, rest) {
            ("source" | "method" | "uri" | "status", [value]) => {
                if page.facts.insert(key, value).is_some() {
                    return Err(at(format!("a second `{key}` for {}", page.operation)));
                }
            }
            ("path" | "header" | "body", [name, t, required, values @ ..]) => {
                let required = match *required {
                    "mandatory" => true,
                    "optional" => false,
                    other => return Err(at(format!("{other:?} is not mandatory or optional"))),
                };
                let row = (
                    *name,
                    ty(t).map_err(at)?,
                    required,
                    checks(values).map_err(at)?,
                );
                match key {
                    "path" => page.path_params.push(row),
                    "header" => page.headers.push(row),
                    _ => page.body.push(row),
                }
            }
            ("response", [path, t, values @ ..]) => {
                let row = (*path, ty(t).map_err(at)?, checks(values).map_err(at)?);
                page.response.push(row);
            }
            _ => return Err(at(format!("cannot read {line:?}"))),
        }
    }
    if let Some(page) = reading {
        pages.push(finish(page)?);
    }
    Ok(pages)
}

/// What the spec is checked against besides the pages' rows: the error body, the spec's
/// properties that no page shows, and the lenient schemas.
mod pages {
    use super::Ty::*;
    use super::{Page, Param};

    /// The error body of 4XX and 5XX answers. The pages only say "请参见错误码" / "See Error
    /// Codes"; the CCE error-code page and the official SDKs read these three fields.
    pub const ERROR_BODY: &[Param] = &[
        ("error_code", String, true, &[]),
        ("error_msg", String, true, &[]),
        ("request_id", String, false, &[]),
    ];

    /// Spec properties no page row shows, each with where it comes from.
    pub const NOT_ON_THE_PAGES: &[(&str, &str)] = &[
        (
            "#/components/schemas/UpgradeNodePoolResponse/properties/jobid",
            "page 004 documents no response body; the seeds README: the official SDKs read an \
             optional { \"jobid\": ... }",
        ),
        (
            "#/components/schemas/UpgradeNodePool/properties/kind",
            FROM_THE_FAMILY,
        ),
        (
            "#/components/schemas/UpgradeNodePool/properties/apiVersion",
            FROM_THE_FAMILY,
        ),
        (
            "#/components/schemas/UpgradeNodePool/properties/metadata",
            FROM_THE_FAMILY,
        ),
        (
            "#/components/schemas/NodePoolMetadata/properties/name",
            FROM_THE_FAMILY,
        ),
        (
            "#/components/schemas/NodePoolMetadata/properties/uid",
            FROM_THE_FAMILY,
        ),
        (
            "#/components/schemas/NodePoolMetadata/properties/annotations",
            FROM_THE_FAMILY,
        ),
        (
            "#/components/schemas/NodePoolMetadata/properties/updateTimestamp",
            FROM_THE_FAMILY,
        ),
        (
            "#/components/schemas/NodePoolMetadata/properties/creationTimestamp",
            FROM_THE_FAMILY,
        ),
        (
            "#/components/schemas/NodePoolMetadata/properties/resourceVersion",
            FROM_THE_FAMILY,
        ),
        (
            "#/components/schemas/NodePoolUpgradeSpec/properties/force",
            FROM_THE_FAMILY,
        ),
        (
            "#/components/schemas/NodePoolUpgradeSpec/properties/retryTimes",
            FROM_THE_FAMILY,
        ),
        (
            "#/components/schemas/NodePoolUpgradeSpec/properties/skippedNodes",
            FROM_THE_FAMILY,
        ),
        (
            "#/components/schemas/NodeTemplate/properties/volumeConfig",
            FROM_THE_FAMILY,
        ),
        (
            "#/components/schemas/NodeTemplateVolumeConfig/properties/volumeResetPolicy",
            FROM_THE_FAMILY,
        ),
        (
            "#/components/schemas/NodeTemplateLifeCycle/properties/waitPostInstallFinish",
            FROM_THE_FAMILY,
        ),
        (
            "#/components/schemas/NodeTemplateLogin/properties/removeSSHKey",
            FROM_THE_FAMILY,
        ),
        (
            "#/components/schemas/NodeTemplateLogin/properties/removeUserPassword",
            FROM_THE_FAMILY,
        ),
    ];

    /// Why the UpgradeNodePool fields page 004 leaves out are in the spec.
    const FROM_THE_FAMILY: &str = "UpgradeNodePool in /work/shared/api/upgrade-family.json (the \
        official SDK's model); the seeds README: the family adds what page 004 leaves out";

    /// `oneOf` schemas that accept either of the forms the pages and the SDKs disagree on.
    pub const LENIENT: &[&str] = &[
        "LenientBool",
        "PointRef",
        "UpgradePlanItems",
        "UpgradeWorkFlowItems",
    ];

    /// The page's URI with its typo fixed (seeds README: `:projectid` is a typo for
    /// `{project_id}`; the page's own parameter table lists `project_id`).
    pub fn uri(page: &Page) -> std::string::String {
        page.uri.replace(":projectid", "{project_id}")
    }
}

use pages::{ERROR_BODY, LENIENT, NOT_ON_THE_PAGES};

// ----------------------------------------------------------------------------- walking the spec

/// A schema and where it is in the document, as a `#/...` JSON pointer.
#[derive(Clone, Debug)]
struct Node {
    at: String,
    schema: &'static Value,
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

fn resolve(reference: &str) -> Node {
    let pointer = reference
        .strip_prefix('#')
        .unwrap_or_else(|| panic!("only local references are used: {reference}"));
    let schema = SPEC
        .pointer(pointer)
        .unwrap_or_else(|| panic!("`{reference}` points nowhere"));
    Node {
        at: reference.to_owned(),
        schema,
    }
}

/// The concrete schemas `node` stands for: `$ref`s followed, `allOf` members and
/// `oneOf`/`anyOf` alternatives flattened.
fn expand(node: &Node) -> Vec<Node> {
    let mut out = Vec::new();
    let mut stack = vec![node.clone()];
    while let Some(n) = stack.pop() {
        if let Some(reference) = n.schema.get("$ref").and_then(Value::as_str) {
            stack.push(resolve(reference));
            continue;
        }
        let mut composite = false;
        for key in ["allOf", "oneOf", "anyOf"] {
            if let Some(list) = n.schema.get(key).and_then(Value::as_array) {
                if is_required_rule(list) {
                    // "exactly one of these fields" (openapi/README.md): a rule, not a shape.
                    continue;
                }
                composite = true;
                for (i, member) in list.iter().enumerate() {
                    stack.push(Node {
                        at: format!("{}/{key}/{i}", n.at),
                        schema: member,
                    });
                }
            }
        }
        if !composite || n.schema.get("type").is_some() || n.schema.get("properties").is_some() {
            out.push(n);
        }
    }
    out
}

/// Whether `oneOf` alternatives only name required fields: the README's "exactly one of these
/// fields" rule (`oneOf: [{required: [a]}, {required: [b]}]`), not alternative shapes.
fn is_required_rule(alternatives: &[Value]) -> bool {
    !alternatives.is_empty()
        && alternatives.iter().all(|alt| {
            alt.as_object()
                .is_some_and(|o| o.len() == 1 && o.contains_key("required"))
        })
}

fn property(parent: &Node, name: &str) -> Option<Node> {
    let schema = parent.schema.get("properties")?.get(name)?;
    Some(Node {
        at: format!("{}/properties/{}", parent.at, escape(name)),
        schema,
    })
}

fn elements(parent: &Node) -> Option<Node> {
    if parent.schema.get("type").and_then(Value::as_str) != Some("array") {
        return None;
    }
    Some(Node {
        at: format!("{}/items", parent.at),
        schema: parent.schema.get("items")?,
    })
}

/// Whether a concrete schema accepts what the page's type column says.
fn accepts(schema: &Value, ty: Ty) -> bool {
    let t = schema.get("type").and_then(Value::as_str);
    match ty {
        Ty::String => t == Some("string"),
        Ty::Integer => t == Some("integer"),
        Ty::Boolean => t == Some("boolean"),
        Ty::Array => t == Some("array"),
        Ty::Object => t == Some("object") || (t.is_none() && schema.get("properties").is_some()),
        Ty::Map => {
            t == Some("object")
                && schema.get("additionalProperties").is_some_and(|values| {
                    values.get("type").and_then(Value::as_str) == Some("string")
                })
        }
    }
}

/// A field found in the spec by following a row's path.
struct Found {
    /// The field's schema, as written at the field (maybe a `$ref`).
    field: Vec<Node>,
    /// The concrete schemas holding the field (for `required`); empty for `[]` rows.
    parents: Vec<Node>,
    /// The field's name in its parent; `None` for `[]` rows.
    name: Option<String>,
}

/// Follows `path` from `root`, recording every property it passes in `visited`.
fn walk(root: &Node, path: &str, visited: &mut BTreeSet<String>) -> Result<Found, String> {
    let mut current = vec![root.clone()];
    let mut found = Found {
        field: Vec::new(),
        parents: Vec::new(),
        name: None,
    };
    let mut so_far = String::new();
    for segment in path.split('.') {
        let (name, arrays) = match segment.find("[]") {
            Some(i) => (&segment[..i], segment[i..].matches("[]").count()),
            None => (segment, 0),
        };
        let parents: Vec<Node> = current.iter().flat_map(expand).collect();
        let next: Vec<Node> = parents.iter().filter_map(|p| property(p, name)).collect();
        if next.is_empty() {
            let on = if so_far.is_empty() {
                "the body"
            } else {
                &so_far
            };
            return Err(format!("no property `{name}` on {on}"));
        }
        visited.extend(next.iter().map(|n| n.at.clone()));
        so_far = if so_far.is_empty() {
            name.to_owned()
        } else {
            format!("{so_far}.{name}")
        };
        found = Found {
            field: next.clone(),
            parents,
            name: Some(name.to_owned()),
        };
        current = next;
        for _ in 0..arrays {
            let next: Vec<Node> = current
                .iter()
                .flat_map(expand)
                .filter_map(|n| elements(&n))
                .collect();
            if next.is_empty() {
                return Err(format!("`{so_far}` is not an array"));
            }
            so_far.push_str("[]");
            found = Found {
                field: next.clone(),
                parents: Vec::new(),
                name: None,
            };
            current = next;
        }
    }
    Ok(found)
}

/// Checks one row against the spec; returns what is wrong.
fn check_field(
    root: &Node,
    path: &str,
    ty: Ty,
    required: Option<bool>,
    checks: &[Check],
    visited: &mut BTreeSet<String>,
) -> Vec<String> {
    let found = match walk(root, path, visited) {
        Ok(found) => found,
        Err(why) => return vec![format!("not in the spec: {why}")],
    };
    let mut problems = Vec::new();
    let concrete: Vec<Node> = found.field.iter().flat_map(expand).collect();
    if !concrete.iter().any(|n| accepts(n.schema, ty)) {
        let types: Vec<_> = concrete
            .iter()
            .map(|n| {
                format!(
                    "{} ({})",
                    n.schema.get("type").unwrap_or(&Value::Null),
                    n.at
                )
            })
            .collect();
        problems.push(format!(
            "the page types it {ty:?}, the spec {}",
            types.join(" or ")
        ));
    }
    if let Some(name) = &found.name {
        let in_spec = found.parents.iter().any(|p| {
            p.schema
                .get("required")
                .and_then(Value::as_array)
                .is_some_and(|r| r.iter().any(|n| n == name.as_str()))
        });
        let expected = required.unwrap_or(false);
        if in_spec != expected {
            let page = match required {
                Some(true) => "mandatory",
                Some(false) => "optional",
                None => "not required (a response field)",
            };
            problems.push(format!(
                "the page has it {page}, the spec {}",
                if in_spec {
                    "requires it"
                } else {
                    "does not require it"
                }
            ));
        }
    }
    problems.extend(check_values(&concrete, checks));
    problems
}

fn check_values(concrete: &[Node], checks: &[Check]) -> Vec<String> {
    let mut problems = Vec::new();
    let keyword = |key: &str| -> Vec<&'static Value> {
        concrete.iter().filter_map(|n| n.schema.get(key)).collect()
    };
    let enum_values: Vec<&str> = keyword("enum")
        .into_iter()
        .filter_map(Value::as_array)
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    for check in checks {
        match *check {
            Check::Options(options) => {
                for option in options {
                    if !enum_values.contains(option) {
                        problems.push(format!(
                            "documented value `{option}` is not in the spec's enum {enum_values:?}"
                        ));
                    }
                }
            }
            Check::Fixed(value) => {
                let has_enum = !keyword("enum").is_empty();
                if has_enum {
                    if enum_values != [value] {
                        problems.push(format!(
                            "fixed value `{value}`: the spec's enum is {enum_values:?}"
                        ));
                    }
                    for default in keyword("default") {
                        if default != value {
                            problems.push(format!(
                                "fixed value `{value}`: the spec's default is {default}"
                            ));
                        }
                    }
                } else if !keyword("example")
                    .iter()
                    .chain(&keyword("default"))
                    .any(|v| *v == value)
                {
                    problems.push(format!(
                        "fixed value `{value}`: the spec has no enum, and neither example nor default is it"
                    ));
                }
            }
            Check::Minimum(min) => {
                if !keyword("minimum").iter().any(|v| v.as_i64() == Some(min)) {
                    problems.push(format!(
                        "minimum {min}: the spec has {:?}",
                        keyword("minimum")
                    ));
                }
            }
            Check::Maximum(max) => {
                if !keyword("maximum").iter().any(|v| v.as_i64() == Some(max)) {
                    problems.push(format!(
                        "maximum {max}: the spec has {:?}",
                        keyword("maximum")
                    ));
                }
            }
            Check::MaxLength(len) => {
                if !keyword("maxLength").iter().any(|v| v.as_u64() == Some(len)) {
                    problems.push(format!(
                        "maxLength {len}: the spec has {:?}",
                        keyword("maxLength")
                    ));
                }
            }
            Check::Default(default) => {
                if !keyword("default").iter().any(|v| *v == default) {
                    problems.push(format!(
                        "default `{default}`: the spec has {:?}",
                        keyword("default")
                    ));
                }
            }
        }
    }
    problems
}

// -------------------------------------------------------------------------- the spec's operations

struct Operation {
    path: String,
    method: String,
    op: &'static Value,
}

fn operations() -> BTreeMap<String, Operation> {
    let mut out = BTreeMap::new();
    for (path, item) in SPEC["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            let Some(id) = op.get("operationId").and_then(Value::as_str) else {
                continue;
            };
            let previous = out.insert(
                id.to_owned(),
                Operation {
                    path: path.clone(),
                    method: method.clone(),
                    op,
                },
            );
            assert!(previous.is_none(), "operationId {id} twice");
        }
    }
    out
}

fn operation(page: &Page) -> Operation {
    operations().remove(page.operation).unwrap_or_else(|| {
        panic!(
            "{} ({}): no such operation in the spec",
            page.operation, page.source
        )
    })
}

/// The operation's parameters, `$ref`s resolved.
fn parameters(op: &'static Value) -> Vec<&'static Value> {
    op.get("parameters")
        .and_then(Value::as_array)
        .map(|params| {
            params
                .iter()
                .map(|p| match p.get("$ref").and_then(Value::as_str) {
                    Some(reference) => resolve(reference).schema,
                    None => p,
                })
                .collect()
        })
        .unwrap_or_default()
}

fn media_schema(content_holder: &'static Value, at: String) -> Option<Node> {
    let holder = match content_holder.get("$ref").and_then(Value::as_str) {
        Some(reference) => resolve(reference).schema,
        None => content_holder,
    };
    let schema = holder
        .get("content")?
        .get("application/json")?
        .get("schema")?;
    Some(Node {
        at: format!("{at}/content/application~1json/schema"),
        schema,
    })
}

fn request_schema(operation: &Operation) -> Option<Node> {
    let at = format!(
        "#/paths/{}/{}/requestBody",
        escape(&operation.path),
        operation.method
    );
    media_schema(operation.op.get("requestBody")?, at)
}

fn response_schema(operation: &Operation, status: &str) -> Option<Node> {
    let at = format!(
        "#/paths/{}/{}/responses/{status}",
        escape(&operation.path),
        operation.method
    );
    media_schema(operation.op.get("responses")?.get(status)?, at)
}

fn fail_if_any(problems: Vec<String>) {
    assert!(
        problems.is_empty(),
        "{} problem(s):\n  {}",
        problems.len(),
        problems.join("\n  ")
    );
}

// ----------------------------------------------------------------------------------------- tests

#[test]
fn every_page_is_an_operation_at_its_uri() {
    let mut problems = Vec::new();
    for page in PAGES.iter() {
        let operation = operation(page);
        if operation.method != page.method || operation.path != pages::uri(page) {
            problems.push(format!(
                "{} ({}): the page says {} {}, the spec has {} {}",
                page.operation,
                page.source,
                page.method.to_uppercase(),
                pages::uri(page),
                operation.method.to_uppercase(),
                operation.path
            ));
        }
    }
    // The other operations come from the family's facts (`tests/spec/spec_family.rs` checks them)
    // and the cluster operations' facts (`tests/spec/spec_clusters.rs`).
    let family: Value =
        serde_json::from_str(include_str!("../data/upgrade-family.json")).expect("family facts");
    let clusters: Value =
        serde_json::from_str(include_str!("../data/cluster-ops.json")).expect("cluster facts");
    let documented: BTreeSet<&str> = PAGES
        .iter()
        .map(|p| p.operation)
        .chain(
            [&family, &clusters]
                .into_iter()
                .flat_map(|facts| facts.as_array().expect("a list"))
                .filter_map(|o| o["operation"].as_str()),
        )
        .collect();
    // IAM and cluster discovery are other families, with checks of their own.
    let other_family = |id: &str| {
        cce_upgrade::operations::find(id)
            .is_some_and(|op| ["openapi/iam.yaml", "openapi/clusters.yaml"].contains(&op.part))
    };
    for id in operations().keys() {
        if !documented.contains(id.as_str()) && !other_family(id) {
            problems.push(format!(
                "{id}: an operation in the spec that no page and no family fact documents"
            ));
        }
    }
    fail_if_any(problems);
}

#[test]
fn path_and_header_parameters_match_the_pages() {
    let mut problems = Vec::new();
    for page in PAGES.iter() {
        let operation = operation(page);
        let params = parameters(operation.op);
        let lookup = |name: &str, place: &str| {
            params
                .iter()
                .find(|p| p["name"] == name && p["in"] == place)
                .copied()
        };
        for (place, rows) in [("path", page.path_params), ("header", page.headers)] {
            for &(name, ty, required, checks) in rows {
                let what = format!(
                    "{} ({}): {place} parameter `{name}`",
                    page.operation, page.source
                );
                let Some(param) = lookup(name, place) else {
                    problems.push(format!("{what}: not in the spec"));
                    continue;
                };
                if param
                    .get("required")
                    .and_then(Value::as_bool)
                    .unwrap_or(false)
                    != required
                {
                    problems.push(format!(
                        "{what}: the page has it {}, the spec {}",
                        if required { "mandatory" } else { "optional" },
                        param.get("required").unwrap_or(&Value::Null)
                    ));
                }
                let schema = Node {
                    at: format!("{what} schema"),
                    schema: &param["schema"],
                };
                let concrete = expand(&schema);
                if !concrete.iter().any(|n| accepts(n.schema, ty)) {
                    problems.push(format!(
                        "{what}: the page types it {ty:?}, the spec {}",
                        param["schema"]
                    ));
                }
                problems.extend(
                    check_values(&concrete, checks)
                        .into_iter()
                        .map(|p| format!("{what}: {p}")),
                );
            }
        }
        // The other way round: the spec has no parameter the page does not list.
        for param in &params {
            let (name, place) = (
                param["name"].as_str().unwrap_or("?"),
                param["in"].as_str().unwrap_or("?"),
            );
            let listed = match place {
                "path" => page.path_params,
                "header" => page.headers,
                _ => &[],
            };
            if !listed.iter().any(|row| row.0 == name) {
                problems.push(format!(
                    "{} ({}): {place} parameter `{name}` is in the spec but not on the page",
                    page.operation, page.source
                ));
            }
        }
        // The URI template names exactly the path parameters.
        let in_uri: BTreeSet<&str> = operation
            .path
            .split('{')
            .skip(1)
            .filter_map(|s| s.split('}').next())
            .collect();
        let listed: BTreeSet<&str> = page.path_params.iter().map(|row| row.0).collect();
        if in_uri != listed {
            problems.push(format!(
                "{} ({}): the URI names {in_uri:?}, the page's path parameters are {listed:?}",
                page.operation, page.source
            ));
        }
    }
    fail_if_any(problems);
}

#[test]
fn request_fields_match_the_pages() {
    let mut problems = Vec::new();
    let mut visited = BTreeSet::new();
    for page in PAGES.iter() {
        let operation = operation(page);
        let root = request_schema(&operation);
        match (&root, page.body.is_empty()) {
            (None, true) => continue,
            (None, false) => {
                problems.push(format!(
                    "{} ({}): the page has a request body, the spec none",
                    page.operation, page.source
                ));
                continue;
            }
            (Some(_), true) => {
                problems.push(format!(
                    "{} ({}): the spec has a request body, the page none",
                    page.operation, page.source
                ));
                continue;
            }
            (Some(_), false) => {}
        }
        let root = root.unwrap();
        if operation.op["requestBody"]["required"] != true {
            problems.push(format!(
                "{}: the request body is not required",
                page.operation
            ));
        }
        for &(path, ty, required, checks) in page.body {
            let required = (!path.ends_with("[]")).then_some(required);
            for problem in check_field(&root, path, ty, required, checks, &mut visited) {
                problems.push(format!(
                    "{} ({}): request field `{path}`: {problem}",
                    page.operation, page.source
                ));
            }
        }
    }
    fail_if_any(problems);
}

#[test]
fn response_fields_match_the_pages() {
    let mut problems = Vec::new();
    let mut visited = BTreeSet::new();
    for page in PAGES.iter() {
        let operation = operation(page);
        let Some(root) = response_schema(&operation, page.status) else {
            problems.push(format!(
                "{} ({}): no {} response with a JSON body in the spec",
                page.operation, page.source, page.status
            ));
            continue;
        };
        for &(path, ty, checks) in page.response {
            for problem in check_field(&root, path, ty, None, checks, &mut visited) {
                problems.push(format!(
                    "{} ({}): response field `{path}`: {problem}",
                    page.operation, page.source
                ));
            }
        }
    }
    fail_if_any(problems);
}

#[test]
fn status_codes_and_error_bodies_match_the_pages() {
    let mut problems = Vec::new();
    let mut visited = BTreeSet::new();
    for page in PAGES.iter() {
        let operation = operation(page);
        let statuses: BTreeSet<&str> = operation.op["responses"]
            .as_object()
            .expect("responses")
            .keys()
            .map(String::as_str)
            .collect();
        let expected = BTreeSet::from([page.status, "4XX", "5XX"]);
        if statuses != expected {
            problems.push(format!(
                "{} ({}): the spec answers {statuses:?}, expected {expected:?}",
                page.operation, page.source
            ));
        }
        for status in ["4XX", "5XX"] {
            let Some(root) = response_schema(&operation, status) else {
                problems.push(format!(
                    "{}: {status} has no JSON error body",
                    page.operation
                ));
                continue;
            };
            if expand(&root)
                .iter()
                .all(|n| n.at != "#/components/schemas/ErrorBody")
            {
                problems.push(format!("{}: {status} is not an ErrorBody", page.operation));
            }
            for &(path, ty, required, checks) in ERROR_BODY {
                for problem in check_field(&root, path, ty, Some(required), checks, &mut visited) {
                    problems.push(format!(
                        "{}: {status} error field `{path}`: {problem}",
                        page.operation
                    ));
                }
            }
        }
    }
    fail_if_any(problems);
}

/// Every property of every schema an operation uses, by where it is defined, with the first path
/// it is reached by.
fn properties_of(
    root: &Node,
    path: &str,
    out: &mut BTreeMap<String, String>,
    seen: &mut BTreeSet<String>,
) {
    for node in expand(root) {
        if !seen.insert(node.at.clone()) {
            continue;
        }
        if let Some(properties) = node.schema.get("properties").and_then(Value::as_object) {
            for name in properties.keys() {
                let child = property(&node, name).expect("listed property");
                let child_path = if path.is_empty() {
                    name.clone()
                } else {
                    format!("{path}.{name}")
                };
                out.entry(child.at.clone())
                    .or_insert_with(|| child_path.clone());
                properties_of(&child, &child_path, out, seen);
            }
        }
        if let Some(items) = elements(&node) {
            properties_of(&items, &format!("{path}[]"), out, seen);
        }
        if let Some(values) = node
            .schema
            .get("additionalProperties")
            .filter(|v| v.is_object())
        {
            let values = Node {
                at: format!("{}/additionalProperties", node.at),
                schema: values,
            };
            properties_of(&values, &format!("{path}{{}}"), out, seen);
        }
    }
}

#[test]
fn every_spec_property_is_on_a_page() {
    // Every row of every table, walked once, marks the properties it passes.
    let mut visited = BTreeSet::new();
    for page in PAGES.iter() {
        let operation = operation(page);
        if let Some(root) = request_schema(&operation) {
            for &(path, ..) in page.body {
                let _ = walk(&root, path, &mut visited);
            }
        }
        if let Some(root) = response_schema(&operation, page.status) {
            for &(path, ..) in page.response {
                let _ = walk(&root, path, &mut visited);
            }
        }
        for status in ["4XX", "5XX"] {
            if let Some(root) = response_schema(&operation, status) {
                for &(path, ..) in ERROR_BODY {
                    let _ = walk(&root, path, &mut visited);
                }
            }
        }
    }
    let allowed: BTreeMap<&str, &str> = NOT_ON_THE_PAGES.iter().copied().collect();

    let mut problems = Vec::new();
    for page in PAGES.iter() {
        let operation = operation(page);
        let statuses: Vec<String> = operation.op["responses"]
            .as_object()
            .expect("responses")
            .keys()
            .cloned()
            .collect();
        let roots =
            request_schema(&operation)
                .map(|root| ("request".to_owned(), root))
                .into_iter()
                .chain(statuses.iter().filter_map(|s| {
                    Some((format!("{s} response"), response_schema(&operation, s)?))
                }));
        for (side, root) in roots {
            let mut properties = BTreeMap::new();
            properties_of(&root, "", &mut properties, &mut BTreeSet::new());
            for (at, path) in properties {
                if !visited.contains(&at) && !allowed.contains_key(at.as_str()) {
                    problems.push(format!(
                        "{} ({}): {side} field `{path}` ({at}) is in the spec but on no page",
                        page.operation, page.source
                    ));
                }
            }
        }
    }
    // And each exception still exists, so the list does not rot.
    for (at, why) in NOT_ON_THE_PAGES {
        if SPEC.pointer(at.trim_start_matches('#')).is_none() {
            problems.push(format!(
                "{at} is listed as not on the pages ({why}) but is not in the spec"
            ));
        }
    }
    fail_if_any(problems);
}

#[test]
fn lenient_one_of_schemas_are_the_documented_disagreements() {
    let schemas = SPEC["components"]["schemas"].as_object().expect("schemas");
    let with_alternatives: BTreeSet<&str> = schemas
        .iter()
        .filter(|(_, s)| {
            let rule = s
                .get("oneOf")
                .and_then(Value::as_array)
                .is_some_and(|alts| is_required_rule(alts));
            (s.get("oneOf").is_some() && !rule) || s.get("anyOf").is_some()
        })
        .map(|(name, _)| name.as_str())
        .collect();
    assert_eq!(
        with_alternatives,
        LENIENT.iter().copied().collect::<BTreeSet<_>>(),
        "a schema with alternatives that is not one of the documented disagreements"
    );
    // Each accepts the page's form and the SDKs' form.
    let accepts_all = |name: &str, forms: &[Ty]| {
        let concrete = expand(&resolve(&format!("#/components/schemas/{name}")));
        for ty in forms {
            assert!(
                concrete.iter().any(|n| accepts(n.schema, *ty)),
                "{name} does not accept {ty:?}"
            );
        }
    };
    accepts_all("PointRef", &[Ty::String, Ty::Object]);
    accepts_all("LenientBool", &[Ty::String, Ty::Boolean]);
    accepts_all("UpgradeWorkFlowItems", &[Ty::Object, Ty::Array]);
    accepts_all("UpgradePlanItems", &[Ty::Object, Ty::Array]);
}

#[test]
fn node_login_is_exactly_one_of_key_pair_and_password() {
    // Page 004, Login: "密钥对和密码登录方式二者必选其一" (one of the two login methods is required),
    // while each of sshKey and userPassword is optional on its own.
    let login = &SPEC["components"]["schemas"]["NodeTemplateLogin"];
    assert_eq!(
        login["oneOf"],
        serde_json::json!([{"required": ["sshKey"]}, {"required": ["userPassword"]}]),
        "NodeTemplateLogin must state the exactly-one rule as openapi/README.md writes it"
    );
    let required = login.get("required").and_then(Value::as_array);
    assert!(
        required.is_none_or(|r| !r.iter().any(|f| f == "sshKey" || f == "userPassword")),
        "neither login method is required on its own"
    );
}
