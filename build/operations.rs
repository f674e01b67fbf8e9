//! The operations: for each one of the spec, its method on `Client`, its `Operation`
//! description (method, path, checks) and, when it has query parameters, its `<Id>Query` struct.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde_json::Value;

use crate::checks;
use crate::enums::EnumSchema;
use crate::spec;
use crate::types;

/// A query parameter: wire name, Rust field name and type, description.
struct QueryParam {
    wire: String,
    field: String,
    rust_type: &'static str,
    doc: String,
    /// The checks its schema states (an `enum` of several values included).
    checks: Vec<String>,
}

/// What `generate` emits: the Rust source, and the Markdown table of the operations.
pub struct Generated {
    pub code: String,
    pub table: String,
}

/// One operation as the list, the tables and the twin dispatch see it.
struct Listed {
    id: String,
    fn_name: String,
    op_static: String,
    http_method: &'static str,
    path: String,
    write: bool,
    summary: String,
    /// The spec file that defines it.
    part: String,
    /// `x-cce-twin`: the CCE operation an Autopilot operation is the twin of.
    twin: Option<String>,
    /// The method's arguments after `&self`, as Rust source (`, cluster_id: &str, ...`).
    args: String,
    arg_names: Vec<String>,
    ret: String,
    /// The source of its `<Id>Query` struct (empty without query parameters).
    query_src: String,
    /// Its query parameters, `wire:type` each.
    query_sig: Vec<String>,
}

/// How the success answer reads.
enum AnswerKind {
    Json(String),
    JsonOrEmpty(String),
    Text,
    Empty,
}

/// Emits `operations.rs`: the operations' methods, descriptions, checks and query structs.
/// `type_names` are the items the type generator defined, to catch a name it spelt otherwise
/// (`None`: checks the operations without that).
pub fn generate(
    doc: &Value,
    enums: &[EnumSchema],
    type_names: Option<&BTreeSet<String>>,
    parts: &BTreeMap<String, String>,
    parts_titles: &BTreeMap<String, String>,
) -> Result<Generated, String> {
    let shared_params = doc
        .pointer("/components/parameters")
        .cloned()
        .unwrap_or(Value::Null);
    let mut out = String::new();
    let mut methods = String::new();
    let mut body_statics: BTreeMap<String, String> = BTreeMap::new();
    let mut seen_ids = BTreeSet::new();
    let mut listed: Vec<Listed> = Vec::new();
    let type_path = |schema: &str| -> Result<String, String> {
        let path = types::rust_type(schema, enums);
        if let Some(name) = path.strip_prefix("crate::types::")
            && type_names.is_some_and(|names| !names.contains(name))
        {
            return Err(format!(
                "components.schemas.{schema}: the type generator did not define `{name}`"
            ));
        }
        Ok(path)
    };

    for (path, method, op) in spec::operations(doc) {
        let id = op["operationId"]
            .as_str()
            .ok_or("an `operationId` is not a string")?;
        let at = format!("paths.{path}.{method} ({id})");
        if !seen_ids.insert(id.to_owned()) {
            return Err(format!("{at}: operationId `{id}` is used twice"));
        }
        let http_method = match method {
            "get" => "GET",
            "post" => "POST",
            "put" => "PUT",
            "patch" => "PATCH",
            "delete" => "DELETE",
            "head" => "HEAD",
            other => return Err(format!("{at}: HTTP method `{other}` is not supported")),
        };
        let write = !matches!(http_method, "GET" | "HEAD");
        let fn_name = snake_case(id);
        let server = operation_server(op).map_err(|e| format!("{at}: {e}"))?;
        let twin = match op.get("x-cce-twin") {
            None => None,
            Some(Value::String(t)) => Some(t.clone()),
            Some(_) => return Err(format!("{at}: `x-cce-twin` names an operationId")),
        };

        // Parameters.
        let mut path_params: Vec<(String, Value, String)> = Vec::new();
        let mut query: Vec<QueryParam> = Vec::new();
        for p in op
            .get("parameters")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let p = spec::resolve_parameter(p, &shared_params).map_err(|e| format!("{at}: {e}"))?;
            let name = p["name"]
                .as_str()
                .ok_or_else(|| format!("{at}: a parameter has no name"))?;
            let description = p
                .get("description")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .trim()
                .to_owned();
            let schema = p.get("schema").cloned().unwrap_or(Value::Null);
            match p.get("in").and_then(Value::as_str) {
                Some("path") => path_params.push((name.to_owned(), schema, description)),
                Some("query") => {
                    let resolved = spec::resolve(doc, &schema).map_err(|e| format!("{at}: {e}"))?;
                    let rust_type = match resolved.get("type").and_then(Value::as_str) {
                        Some("string") | None => "String",
                        Some("integer") => "i64",
                        Some("number") => "f64",
                        Some("boolean") => "bool",
                        Some(other) => {
                            return Err(format!(
                                "{at}: query parameter `{name}` has type `{other}`; only strings, \
                                 numbers and booleans can be sent in a query"
                            ));
                        }
                    };
                    let mut doc_text = description;
                    if let Some(values) = resolved.get("enum").and_then(Value::as_array) {
                        let values: Vec<String> = values
                            .iter()
                            .map(|v| format!("`{}`", v.as_str().unwrap_or_default()))
                            .collect();
                        let _ = write!(doc_text, "\n\nValues: {}.", values.join(", "));
                    }
                    let checks = checks::query_checks(doc, &schema)
                        .map_err(|e| format!("{at}: query parameter `{name}`: {e}"))?;
                    query.push(QueryParam {
                        wire: name.to_owned(),
                        field: field_name(name),
                        rust_type,
                        doc: doc_text,
                        checks,
                    });
                }
                Some("header") | Some("cookie") => {}
                other => return Err(format!("{at}: parameter `{name}` is `in: {other:?}`")),
            }
        }
        // The path's placeholders and the path parameters must be the same set.
        let placeholders: Vec<String> = path
            .split('{')
            .skip(1)
            .filter_map(|s| s.split_once('}').map(|(name, _)| name.to_owned()))
            .collect();
        for name in &placeholders {
            if !path_params.iter().any(|(p, _, _)| p == name) {
                return Err(format!(
                    "{at}: the path has `{{{name}}}` but no path parameter `{name}`"
                ));
            }
        }
        for (name, _, _) in &path_params {
            if !placeholders.contains(name) {
                return Err(format!(
                    "{at}: path parameter `{name}` is missing from the path"
                ));
            }
        }
        if !placeholders.iter().any(|p| p == "project_id") && path.contains("/projects/") {
            return Err(format!(
                "{at}: the path has `/projects/` but no `{{project_id}}`"
            ));
        }
        // In path order, without the project id (the client fills it in).
        let mut ordered: Vec<(String, Value, String)> = Vec::new();
        for name in placeholders.iter().filter(|p| *p != "project_id") {
            let found = path_params
                .iter()
                .find(|(p, _, _)| p == name)
                .expect("checked above");
            ordered.push(found.clone());
        }

        // Body.
        let body = match op.get("requestBody") {
            None => None,
            Some(rb) => {
                let schema = rb
                    .pointer("/content/application~1json/schema")
                    .ok_or_else(|| format!("{at}: the request body is not `application/json`"))?;
                let name = spec::ref_name(schema).ok_or_else(|| {
                    format!("{at}: the request body's schema must be a `$ref` to a named schema")
                })?;
                let static_name = format!("{}_BODY", shouty(name));
                if !body_statics.contains_key(name) {
                    body_statics.insert(
                        name.to_owned(),
                        checks::body_rules(doc, name, &static_name)?,
                    );
                }
                Some((name.to_owned(), type_path(name)?, static_name))
            }
        };

        // Answer.
        let responses = op
            .get("responses")
            .and_then(Value::as_object)
            .ok_or_else(|| format!("{at}: no `responses`"))?;
        let (status, success) = responses
            .iter()
            .find(|(code, _)| code.starts_with('2'))
            .ok_or_else(|| format!("{at}: no success (2xx) answer is documented"))?;
        let content = success.get("content").and_then(Value::as_object);
        let may_be_empty = match success.get("x-empty-body") {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(format!("{at}: `x-empty-body` is true or false")),
        };
        let answer = match content {
            None => AnswerKind::Empty,
            Some(c) if c.contains_key("application/json") => {
                let schema = &c["application/json"]["schema"];
                let rust = if let Some(name) = spec::ref_name(schema) {
                    type_path(name)?
                } else if schema.get("type").and_then(Value::as_str) == Some("array")
                    && let Some(item) = schema.get("items").and_then(spec::ref_name)
                {
                    format!("::std::vec::Vec<{}>", type_path(item)?)
                } else {
                    return Err(format!(
                        "{at}: the {status} answer's schema must be a `$ref` (or an array of one)"
                    ));
                };
                if may_be_empty {
                    AnswerKind::JsonOrEmpty(rust)
                } else {
                    AnswerKind::Json(rust)
                }
            }
            Some(c) if c.contains_key("text/plain") => AnswerKind::Text,
            Some(c) => {
                return Err(format!(
                    "{at}: the {status} answer is {:?}; only application/json, text/plain or no \
                     content are supported",
                    c.keys().collect::<Vec<_>>()
                ));
            }
        };

        // The description.
        let op_static = shouty(id);
        let params_src: Vec<String> = ordered
            .iter()
            .map(|(name, schema, _)| {
                let checks = checks::param_checks(doc, schema)
                    .map_err(|e| format!("{at}: path parameter `{name}`: {e}"))?;
                Ok(format!("({name:?}, &[{}])", checks.join(", ")))
            })
            .collect::<Result<_, String>>()?;
        let _ = writeln!(
            out,
            "pub(crate) static {op_static}: crate::call::Operation<'static> = crate::call::Operation {{\n    \
             id: {id:?},\n    method: ::reqwest::Method::{http_method},\n    path: {path:?},\n    \
             params: &[{}],\n    query: &[{}],\n    body: {},\n    server: {server:?},\n}};\n",
            params_src.join(", "),
            query
                .iter()
                .filter(|q| !q.checks.is_empty())
                .map(|q| format!("({:?}, &[{}])", q.wire, q.checks.join(", ")))
                .collect::<Vec<_>>()
                .join(", "),
            body.as_ref()
                .map_or("None".to_owned(), |(_, _, s)| format!("Some({s})"))
        );

        // The query struct (kept per operation: a twin with the same parameters shares its CCE
        // twin's, see `share_twin_queries`).
        let query_type = format!("{id}Query");
        let mut queries = String::new();
        if !query.is_empty() {
            let _ = writeln!(
                queries,
                "/// The query parameters of [`Client::{fn_name}`](crate::Client::{fn_name}); all optional.\n\
                 #[derive(Clone, Debug, Default, PartialEq)]\n\
                 #[cfg_attr(feature = \"schemars\", derive(::schemars::JsonSchema))]\n\
                 #[non_exhaustive]\npub struct {query_type} {{"
            );
            for q in &query {
                for line in q.doc.lines() {
                    let _ = writeln!(queries, "    /// {line}");
                }
                let _ = writeln!(queries, "    ///\n    /// Sent as `{}`.", q.wire);
                let _ = writeln!(
                    queries,
                    "    #[cfg_attr(feature = \"schemars\", schemars(rename = {:?}))]",
                    q.wire
                );
                let _ = writeln!(queries, "    pub {}: Option<{}>,", q.field, q.rust_type);
            }
            let _ = writeln!(queries, "}}\n\nimpl {query_type} {{");
            for q in &query {
                let _ = writeln!(
                    queries,
                    "    /// Sets `{wire}`.\n    pub fn {field}(mut self, value: impl Into<{ty}>) -> Self {{\n        self.{field} = Some(value.into());\n        self\n    }}",
                    wire = q.wire,
                    field = q.field,
                    ty = q.rust_type
                );
            }
            let _ = writeln!(
                queries,
                "    pub(crate) fn pairs(&self) -> Vec<(&'static str, String)> {{\n        let mut pairs = Vec::new();"
            );
            for q in &query {
                let _ = writeln!(
                    queries,
                    "        if let Some(v) = &self.{} {{\n            pairs.push(({:?}, v.to_string()));\n        }}",
                    q.field, q.wire
                );
            }
            let _ = writeln!(queries, "        pairs\n    }}\n}}\n");
        }

        // The method.
        let mut args = String::from("&self");
        let mut param_values = Vec::new();
        for (name, _, _) in &ordered {
            let _ = write!(args, ", {name}: &str");
            param_values.push(name.clone());
        }
        if let Some((_, rust, _)) = &body {
            let _ = write!(args, ", body: &{rust}");
        }
        if !query.is_empty() {
            let _ = write!(args, ", query: &crate::types::{query_type}");
        }
        let (ret, decode) = match &answer {
            AnswerKind::Json(t) => (t.clone(), "json()"),
            AnswerKind::JsonOrEmpty(t) => (t.clone(), "json_or_empty()"),
            AnswerKind::Text => ("String".to_owned(), "text()"),
            AnswerKind::Empty => ("()".to_owned(), "empty()"),
        };
        let docs = method_docs(
            doc,
            op,
            path,
            http_method,
            id,
            status,
            &answer,
            &ordered,
            body.as_ref().map(|(n, _, _)| n.as_str()),
            write,
        );
        for line in docs.lines() {
            let _ = writeln!(methods, "    #[doc = {line:?}]");
        }
        let _ = writeln!(
            methods,
            "    pub async fn {fn_name}({args}) -> Result<crate::Response<{ret}>, crate::Error> {{\n        \
             self.execute(\n            &{op_static},\n            crate::call::Input {{\n                \
             params: &[{}],\n                query: {},\n                body: {},\n            }},\n        )\n        \
             .await?\n        .{decode}\n    }}\n",
            param_values.join(", "),
            if query.is_empty() {
                "Vec::new()"
            } else {
                "query.pairs()"
            },
            if body.is_some() {
                "Some(::serde_json::to_value(body))"
            } else {
                "None"
            },
        );
        let mut arg_names: Vec<String> = param_values.clone();
        if body.is_some() {
            arg_names.push("body".to_owned());
        }
        if !query.is_empty() {
            arg_names.push("query".to_owned());
        }
        listed.push(Listed {
            query_src: queries,
            query_sig: query
                .iter()
                .map(|q| format!("{}:{}", q.wire, q.rust_type))
                .collect(),
            id: id.to_owned(),
            fn_name,
            op_static,
            http_method,
            path: path.to_owned(),
            write,
            summary: op
                .get("summary")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .trim()
                .to_owned(),
            part: parts
                .get(&format!("/paths/{path}"))
                .map_or_else(|| crate::SPEC.to_owned(), Clone::clone),
            twin,
            args: args.trim_start_matches("&self").to_owned(),
            arg_names,
            ret,
        });
    }
    let twins = resolve_twins(&mut listed)?;
    let queries: String = listed.iter().map(|o| o.query_src.as_str()).collect();

    for rules in body_statics.values() {
        out.push_str(rules);
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "/// The query parameters of the operations that take some.\npub mod queries {{\n{queries}}}\n"
    );
    let _ = writeln!(out, "impl crate::Client {{\n{methods}}}");
    out.push_str(&dispatch(&listed, &twins));
    out.push_str(&catalogue(&listed, &twins));
    Ok(Generated {
        code: out,
        table: table(&listed, &twins, parts_titles),
    })
}

#[allow(clippy::too_many_arguments)]
fn method_docs(
    doc: &Value,
    op: &serde_json::Map<String, Value>,
    path: &str,
    method: &str,
    id: &str,
    status: &str,
    answer: &AnswerKind,
    params: &[(String, Value, String)],
    body: Option<&str>,
    write: bool,
) -> String {
    let mut md = String::new();
    if let Some(summary) = op.get("summary").and_then(Value::as_str) {
        let _ = writeln!(md, "{}\n", summary.trim());
    }
    if let Some(description) = op.get("description").and_then(Value::as_str) {
        let _ = writeln!(md, "{}\n", description.trim());
    }
    let _ = writeln!(md, "`{method} {path}` (operation `{id}`).\n");
    if !params.is_empty() {
        let _ = writeln!(md, "# Parameters\n");
        for (name, _, description) in params {
            let _ = writeln!(md, "- `{name}`: {}", description.replace('\n', " "));
        }
        let _ = writeln!(md);
    }
    let checks = checks::describe(
        doc,
        body,
        &params
            .iter()
            .map(|(n, s, _)| (n.clone(), s.clone()))
            .collect::<Vec<_>>(),
    );
    let _ = writeln!(md, "# Checked before sending\n");
    let _ = writeln!(
        md,
        "Every id is one path segment: not empty, not `.` or `..`, without `/`; it is percent-encoded."
    );
    if !checks.is_empty() {
        let _ = writeln!(md, "The constraints the API documents:\n");
        for line in checks {
            let _ = writeln!(md, "- {line}");
        }
    }
    let _ = writeln!(md);
    let _ = writeln!(md, "# Answers\n");
    let what = match answer {
        AnswerKind::Json(_) => "the documented JSON body",
        AnswerKind::JsonOrEmpty(_) => "the documented JSON body, or an empty one (read as `{}`)",
        AnswerKind::Text => "a plain-text body",
        AnswerKind::Empty => "no body",
    };
    let _ = writeln!(
        md,
        "Success is documented as `{status}`, with {what}; any 2xx is accepted as success."
    );
    if let Some(responses) = op.get("responses").and_then(Value::as_object) {
        for (code, response) in responses {
            let text = response
                .get("description")
                .and_then(Value::as_str)
                .unwrap_or("an error from the API gateway or CCE: an [`Error`](crate::Error) with the status, `error_code`, `error_msg` and request id");
            let _ = writeln!(md, "- `{code}`: {}", text.trim().replace('\n', " "));
        }
    }
    let _ = writeln!(md);
    if write {
        let _ = writeln!(
            md,
            "A write: it is retried only when it surely never reached the service (no connection, \
             or the gateway says it did not pass it on: throttled, backend unavailable; see \
             [`retry`](crate::retry)). If the answer is lost after sending, or the gateway timed \
             out (504), the error is [`ErrorKind::OutcomeUnknown`](crate::ErrorKind::OutcomeUnknown) \
             and nothing is sent again: read the state back before retrying."
        );
    } else {
        let _ = writeln!(
            md,
            "A read: retried on 429, 502, 503, 504 and lost connections, as the client's \
             [`RetryConfig`](crate::RetryConfig) allows."
        );
    }
    md
}

/// `CreateUpgradeWorkFlow` → `create_upgrade_work_flow`; `ListAddonPrecheckTasks` →
/// `list_addon_precheck_tasks`.
pub fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() {
            let prev_lower =
                i > 0 && (chars[i - 1].is_ascii_lowercase() || chars[i - 1].is_ascii_digit());
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            let prev_upper = i > 0 && chars[i - 1].is_ascii_uppercase();
            if i > 0 && (prev_lower || (prev_upper && next_lower)) {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn shouty(name: &str) -> String {
    snake_case(name).to_ascii_uppercase()
}

/// A query parameter's Rust field name: snake case, and not a keyword.
fn field_name(wire: &str) -> String {
    let mut name = snake_case(wire).replace(['-', '.'], "_");
    if matches!(
        name.as_str(),
        "type"
            | "match"
            | "ref"
            | "self"
            | "mod"
            | "use"
            | "fn"
            | "in"
            | "impl"
            | "where"
            | "async"
            | "await"
            | "move"
            | "loop"
    ) {
        name.push('_');
    }
    name
}

/// An operation-level `servers` entry: the server it is sent to instead of the root's.
fn operation_server(op: &serde_json::Map<String, Value>) -> Result<Option<String>, String> {
    let Some(servers) = op.get("servers") else {
        return Ok(None);
    };
    match servers.as_array().map(Vec::as_slice) {
        Some([one]) => {
            let url = one
                .get("url")
                .and_then(Value::as_str)
                .ok_or("`servers[0].url` is not a string")?;
            if !url.starts_with("https://") || url.trim_end_matches('/') != url {
                return Err(format!(
                    "`servers[0].url` `{url}` must be an `https://` URL without a trailing `/`"
                ));
            }
            let vars: Vec<&str> = url
                .split('{')
                .skip(1)
                .filter_map(|s| s.split_once('}').map(|(v, _)| v))
                .collect();
            if vars.iter().any(|v| *v != "region") {
                return Err(format!(
                    "`servers[0].url` `{url}`: the only variable the client fills in is `{{region}}`"
                ));
            }
            Ok(Some(url.to_owned()))
        }
        _ => Err("an operation's `servers` lists exactly one server".into()),
    }
}

/// Pairs each Autopilot operation that names its CCE twin (`x-cce-twin`) with it: (CCE index,
/// Autopilot index). The twin must exist, be a CCE operation named by one Autopilot operation
/// only, and take and answer the same Rust types, so that one call can pick either.
///
/// An Autopilot operation whose query parameters are its twin's (names and types) shares its
/// twin's query struct: its `<Id>Query` becomes an alias of the CCE one.
fn resolve_twins(listed: &mut [Listed]) -> Result<Vec<(usize, usize)>, String> {
    let mut pairs: Vec<(usize, usize)> = Vec::new();
    let mut aliases: Vec<(usize, String)> = Vec::new();
    for (a, autopilot) in listed.iter().enumerate() {
        let Some(twin) = &autopilot.twin else {
            continue;
        };
        let at = format!(
            "paths.{}.{} ({})",
            autopilot.path,
            autopilot.http_method.to_ascii_lowercase(),
            autopilot.id
        );
        if !autopilot.path.starts_with("/autopilot/") {
            return Err(format!(
                "{at}: `x-cce-twin` belongs on an Autopilot operation (a path under `/autopilot/`)"
            ));
        }
        let c = listed
            .iter()
            .position(|o| &o.id == twin)
            .ok_or_else(|| format!("{at}: `x-cce-twin: {twin}` names no operation of the spec"))?;
        let cce = &listed[c];
        if !cce.path.starts_with("/api/") {
            return Err(format!(
                "{at}: `x-cce-twin: {twin}` is not a CCE operation (a path under `/api/`)"
            ));
        }
        if let Some((_, other)) = pairs.iter().find(|(cc, _)| *cc == c) {
            return Err(format!(
                "{at}: `{twin}` is already the twin of `{}`",
                listed[*other].id
            ));
        }
        let shares_query = !cce.query_sig.is_empty() && cce.query_sig == autopilot.query_sig;
        let autopilot_args = if shares_query {
            autopilot.args.replace(
                &format!("crate::types::{}Query", autopilot.id),
                &format!("crate::types::{}Query", cce.id),
            )
        } else {
            autopilot.args.clone()
        };
        if cce.args != autopilot_args || cce.ret != autopilot.ret {
            return Err(format!(
                "{at}: `x-cce-twin: {twin}`, but the two differ: `{}({}) -> {}` and \
                 `{}({}) -> {}`; twins take the same parameters and body and answer the same schema",
                cce.fn_name,
                cce.args.trim_start_matches(", "),
                cce.ret,
                autopilot.fn_name,
                autopilot.args.trim_start_matches(", "),
                autopilot.ret
            ));
        }
        if cce.http_method != autopilot.http_method {
            return Err(format!(
                "{at}: `x-cce-twin: {twin}` is a {}, this a {}",
                cce.http_method, autopilot.http_method
            ));
        }
        if shares_query {
            aliases.push((
                a,
                format!(
                    "/// The query parameters of [`Client::{a_fn}`](crate::Client::{a_fn}): \
                     those of its CCE twin [`Client::{c_fn}`](crate::Client::{c_fn}).\n\
                     pub type {a_id}Query = {c_id}Query;\n\n",
                    a_fn = autopilot.fn_name,
                    c_fn = cce.fn_name,
                    a_id = autopilot.id,
                    c_id = cce.id,
                ),
            ));
        }
        pairs.push((c, a));
    }
    for (a, alias) in aliases {
        listed[a].query_src = alias;
    }
    Ok(pairs)
}

/// For each CCE operation with an Autopilot twin, `<method>_for(flavour, ...)`, which calls
/// the one of the cluster's flavour.
fn dispatch(listed: &[Listed], twins: &[(usize, usize)]) -> String {
    let mut out = String::from("impl crate::Client {\n");
    for &(c, a) in twins {
        let (cce, autopilot) = (&listed[c], &listed[a]);
        let names = cce.arg_names.join(", ");
        let _ = writeln!(
            out,
            "    /// [`{cce_fn}`](Self::{cce_fn}) for a CCE cluster, \
             [`{ap_fn}`](Self::{ap_fn}) for an Autopilot cluster.\n    \
             pub(crate) async fn {cce_fn}_for(&self, flavour: crate::Flavour{args}) -> \
             Result<crate::Response<{ret}>, crate::Error> {{\n        match flavour {{\n            \
             crate::Flavour::Cce => self.{cce_fn}({names}).await,\n            \
             crate::Flavour::Autopilot => self.{ap_fn}({names}).await,\n        }}\n    }}\n",
            cce_fn = cce.fn_name,
            ap_fn = autopilot.fn_name,
            args = cce.args,
            ret = cce.ret,
        );
    }
    out.push_str("}\n");
    out
}

/// The twin of operation `i`, either way.
fn twin_of<'a>(listed: &'a [Listed], twins: &[(usize, usize)], i: usize) -> Option<&'a Listed> {
    twins.iter().find_map(|&(c, a)| {
        if c == i {
            Some(&listed[a])
        } else if a == i {
            Some(&listed[c])
        } else {
            None
        }
    })
}

/// `ALL`, the public list of the operations, and `CALLS`, their call descriptions (in the
/// same order).
fn catalogue(listed: &[Listed], twins: &[(usize, usize)]) -> String {
    let mut out = String::from(
        "/// Every operation of the spec, in path then method order.\n\
         pub static ALL: &[crate::operations::Operation] = &[\n",
    );
    for (i, op) in listed.iter().enumerate() {
        let flavour = if op.path.starts_with("/autopilot/") {
            "Some(crate::Flavour::Autopilot)"
        } else if op.path.starts_with("/api/") {
            "Some(crate::Flavour::Cce)"
        } else {
            "None"
        };
        let _ = writeln!(
            out,
            "    crate::operations::Operation {{ id: {:?}, method_name: {:?}, twin: {:?}, flavour: {flavour}, \
             write: {}, method: {:?}, path: {:?}, summary: {:?}, part: {:?} }},",
            op.id,
            op.fn_name,
            twin_of(listed, twins, i).map(|t| t.id.as_str()),
            op.write,
            op.http_method,
            op.path,
            op.summary,
            op.part,
        );
    }
    out.push_str("];\n\n/// The call description of every operation, in the order of [`ALL`].\n");
    out.push_str("pub(crate) static CALLS: &[&crate::call::Operation<'static>] = &[\n");
    for op in listed {
        let _ = writeln!(out, "    &{},", op.op_static);
    }
    out.push_str("];\n");
    out
}

/// The Markdown tables of the operations, one per part of the spec, for the docs.
fn table(listed: &[Listed], twins: &[(usize, usize)], titles: &BTreeMap<String, String>) -> String {
    let mut parts: Vec<&str> = listed.iter().map(|o| o.part.as_str()).collect();
    parts.sort_unstable();
    parts.dedup();
    let mut md = format!(
        "{} operations, generated from the spec in `openapi/`. Each is a method on \
         [`Client`](crate::Client); a write (W) is never sent twice, a read (R) is retried. \
         An Autopilot operation names its CCE twin.\n\n",
        listed.len()
    );
    for part in parts {
        let file = part.rsplit('/').next().unwrap_or(part);
        match titles.get(part) {
            Some(title) => {
                let _ = writeln!(md, "**{title}** (`{part}`)\n");
            }
            None => {
                let _ = writeln!(md, "**`{file}`**\n");
            }
        }
        let _ = writeln!(
            md,
            "| method | operation | HTTP | R/W | twin |\n|---|---|---|---|---|"
        );
        for (i, op) in listed.iter().enumerate().filter(|(_, o)| o.part == part) {
            let twin = twin_of(listed, twins, i).map_or(String::new(), |t| format!("`{}`", t.id));
            let _ = writeln!(
                md,
                "| [`{f}`](crate::Client::{f}) | `{id}` | `{m} {p}` | {rw} | {twin} |",
                f = op.fn_name,
                id = op.id,
                m = op.http_method,
                p = op.path,
                rw = if op.write { "W" } else { "R" },
            );
        }
        md.push('\n');
    }
    md
}
