//! Compiles `openapi/cce-upgrade.yaml` into the typed client at build time.
//!
//! The spec on disk is a faithful transcription of the API documents. Before handing it to
//! progenitor, this script adapts it to the hand-written layer of the crate:
//!
//! - request header parameters (`Content-Type`, `X-Auth-Token`) are removed: the client sets
//!   them itself (content type from the body, the token from the configured credentials);
//! - every named string enum becomes a forward-compatible Rust enum (known values plus
//!   `Unknown(String)`), generated here from the spec's `enum:` list, so a value the service
//!   adds later never fails a response;
//! - the schemas where the documents and the service disagree (`PointRef`, `LenientBool`,
//!   `UpgradeWorkFlowItems`) and the node password (`NodePassword`) are replaced by
//!   hand-written types in `src/model.rs` and `src/secret.rs`;
//! - collection fields (arrays and maps) read `null` as empty;
//! - value constraints (`minimum`, `maxLength`, ...) and exactly-one-of rules (`oneOf` of
//!   `required`) stay documentation for the generator: the client checks them itself before
//!   sending (`src/validate.rs`), with errors that name the field, instead of the generator's
//!   constrained newtypes (or enums) that would also reject responses.
//!
//! A broken spec stops the build with a message that names the file and what is wrong.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::Value;

const SPEC: &str = "openapi/cce-upgrade.yaml";
const SPEC_DIR: &str = "openapi";

/// Schemas replaced by hand-written types: schema name → Rust path and the traits it implements.
const REPLACEMENTS: &[(&str, &str, &[&str])] = &[
    ("PointRef", "crate::model::PointRef", &[]),
    ("LenientBool", "crate::model::LenientBool", &["Default"]),
    (
        "UpgradeWorkFlowItems",
        "crate::model::WorkFlowItems",
        &["Default"],
    ),
    (
        "NodePassword",
        "crate::secret::SecretString",
        &["FromStr", "Display"],
    ),
];

fn main() {
    println!("cargo:rerun-if-changed={SPEC_DIR}");
    println!("cargo:rerun-if-changed=build.rs");
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    if let Err(message) = generate(Path::new(SPEC), &out_dir) {
        eprintln!("error: {SPEC}: {message}");
        std::process::exit(1);
    }
}

fn generate(spec_path: &Path, out_dir: &Path) -> Result<(), String> {
    let mut doc = assemble(spec_path)?;
    // Parse the assembled document into the OpenAPI model, to reject one that is not OpenAPI 3.0.
    serde_json::from_value::<openapiv3::OpenAPI>(doc.clone())
        .map_err(|e| format!("not a valid OpenAPI 3.0 document: {e}"))?;
    write(
        out_dir,
        "openapi.json",
        &serde_json::to_string(&doc).map_err(|e| e.to_string())?,
    )?;
    let original = doc.clone();

    strip_header_parameters(&mut doc)?;
    strip_value_constraints(&mut doc);
    strip_one_of_required(&mut doc);
    let enums = collect_enums(&doc)?;
    check_no_inline_enums(&doc, "", &enums)?;

    let spec: openapiv3::OpenAPI = serde_json::from_value(doc)
        .map_err(|e| format!("after adapting it for the generator: {e}"))?;

    let mut settings = progenitor::GenerationSettings::new();
    settings
        .with_interface(progenitor::InterfaceStyle::Positional)
        .with_tag(progenitor::TagStyle::Merged)
        .with_hooks(progenitor::HooksMode::Expected)
        .with_inner_type(quote::quote!(crate::client::Runtime))
        .with_derive("PartialEq");
    for (schema, path, impls) in REPLACEMENTS {
        let impls: Vec<progenitor::TypeImpl> = impls.iter().map(|i| i.parse().unwrap()).collect();
        settings.with_replacement(schema, path, impls.into_iter());
    }
    for e in &enums {
        settings.with_replacement(
            &e.name,
            format!("crate::model::{}", e.name),
            [
                progenitor::TypeImpl::FromStr,
                progenitor::TypeImpl::Display,
                progenitor::TypeImpl::FromStringIrrefutable,
            ]
            .into_iter()
            .chain(e.default.as_ref().map(|_| progenitor::TypeImpl::Default)),
        );
    }

    // The generator panics on some malformed input; report that as a spec error, not a backtrace.
    std::panic::set_hook(Box::new(|_| {}));
    let generated = std::panic::catch_unwind(move || {
        progenitor::Generator::new(&settings).generate_tokens(&spec)
    });
    let _ = std::panic::take_hook();
    let tokens = match generated {
        Ok(Ok(tokens)) => tokens,
        Ok(Err(e)) => return Err(format!("the client generator rejected it: {e}")),
        Err(panic) => {
            let what = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("unknown reason");
            return Err(format!("the client generator failed on it: {what}"));
        }
    };
    let mut file: syn::File =
        syn::parse2(tokens).map_err(|e| format!("generated code does not parse: {e}"))?;
    syn::visit_mut::VisitMut::visit_file_mut(&mut NullAsEmpty, &mut file);
    write(out_dir, "codegen.rs", &prettyplease::unparse(&file))?;
    write_operation_docs(&original, out_dir)?;
    write(out_dir, "enums.rs", &render_enums(&enums))
}

/// Reads the root document and merges into it every other `*.yaml` of its folder (in name
/// order): their `paths` and `components` maps. A name defined twice is an error naming both files.
fn assemble(root: &Path) -> Result<Value, String> {
    let read = |path: &Path| -> Result<Value, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        serde_yaml::from_str(&text).map_err(|e| format!("{}: not valid YAML: {e}", path.display()))
    };
    let mut doc = read(root)?;
    let dir = root.parent().unwrap_or(Path::new("."));
    let mut parts: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot list {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml") && p != root)
        .collect();
    parts.sort();
    let mut owner: std::collections::BTreeMap<String, String> = Default::default();
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
    Ok(doc)
}

/// Writes `docs/{operationId}.md` for each operation: its summary, description, method and path,
/// and documented statuses, so the hand-written methods carry the documents' text.
fn write_operation_docs(doc: &Value, out_dir: &Path) -> Result<(), String> {
    let dir = out_dir.join("docs");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let Some(paths) = doc.get("paths").and_then(Value::as_object) else {
        return Ok(());
    };
    for (path, item) in paths {
        let Some(item) = item.as_object() else {
            continue;
        };
        for (method, op) in item {
            let Some(id) = op.get("operationId").and_then(Value::as_str) else {
                continue;
            };
            let mut md = String::new();
            if let Some(summary) = op.get("summary").and_then(Value::as_str) {
                let _ = writeln!(md, "{}\n", summary.trim());
            }
            if let Some(description) = op.get("description").and_then(Value::as_str) {
                let _ = writeln!(md, "{}\n", description.trim());
            }
            let _ = writeln!(
                md,
                "`{} {path}` (operation `{id}`).\n",
                method.to_ascii_uppercase()
            );
            if let Some(responses) = op.get("responses").and_then(Value::as_object) {
                let _ = writeln!(md, "Documented answers:");
                for (status, response) in responses {
                    let text = response
                        .get("description")
                        .and_then(Value::as_str)
                        .unwrap_or("an error from the API gateway or CCE");
                    let _ = writeln!(md, "- `{status}`: {}", text.trim().replace('\n', " "));
                }
            }
            write(&dir, &format!("{id}.md"), &md)?;
        }
    }
    Ok(())
}

fn write(out_dir: &Path, name: &str, contents: &str) -> Result<(), String> {
    std::fs::write(out_dir.join(name), contents).map_err(|e| format!("cannot write {name}: {e}"))
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

fn resolve_parameter<'a>(p: &'a Value, shared: &'a Value) -> Result<&'a Value, String> {
    match p.get("$ref").and_then(Value::as_str) {
        None => Ok(p),
        Some(r) => r
            .strip_prefix("#/components/parameters/")
            .and_then(|name| shared.get(name))
            .ok_or_else(|| format!("parameter reference `{r}` points nowhere")),
    }
}

/// Removes value constraints from every schema object (one with a string `type`).
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
            }
            map.values_mut().for_each(strip_value_constraints);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_value_constraints),
        _ => {}
    }
}

/// Removes the "exactly one of these fields" rules (`oneOf` whose alternatives only list
/// `required` fields, see `openapi/README.md`): like the value constraints they are checked by
/// the client before sending, and the generator would otherwise turn the object into an enum of
/// one variant per alternative.
fn strip_one_of_required(value: &mut Value) {
    match value {
        Value::Object(map) => {
            let rule_only = map
                .get("oneOf")
                .and_then(Value::as_array)
                .is_some_and(|alts| {
                    !alts.is_empty()
                        && alts.iter().all(|alt| {
                            alt.as_object()
                                .is_some_and(|o| o.len() == 1 && o.contains_key("required"))
                        })
                });
            if rule_only && map.contains_key("properties") {
                map.remove("oneOf");
            }
            map.values_mut().for_each(strip_one_of_required);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_one_of_required),
        _ => {}
    }
}

/// A named string enum of `components/schemas`.
struct EnumSchema {
    name: String,
    description: Option<String>,
    values: Vec<String>,
    default: Option<String>,
}

fn collect_enums(doc: &Value) -> Result<Vec<EnumSchema>, String> {
    let mut out = Vec::new();
    let Some(schemas) = doc
        .pointer("/components/schemas")
        .and_then(Value::as_object)
    else {
        return Ok(out);
    };
    for (name, schema) in schemas {
        let Some(values) = schema.get("enum").and_then(Value::as_array) else {
            continue;
        };
        if schema.get("type").and_then(Value::as_str) != Some("string") {
            return Err(format!(
                "components.schemas.{name}: only string enums are supported"
            ));
        }
        let values = values
            .iter()
            .map(|v| {
                v.as_str().map(str::to_owned).ok_or_else(|| {
                    format!("components.schemas.{name}: enum value {v} is not a string")
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let default = schema
            .get("default")
            .and_then(Value::as_str)
            .map(str::to_owned);
        if let Some(d) = default.as_ref().filter(|d| !values.contains(d)) {
            return Err(format!(
                "components.schemas.{name}: default `{d}` is not one of its enum values"
            ));
        }
        out.push(EnumSchema {
            name: name.clone(),
            description: schema
                .get("description")
                .and_then(Value::as_str)
                .map(str::to_owned),
            values,
            default,
        });
    }
    Ok(out)
}

/// Inline enums would be generated as strict Rust enums that fail on a new value; require them to
/// be named so they become forward compatible. Parameter enums (request side) are allowed.
fn check_no_inline_enums(value: &Value, at: &str, named: &[EnumSchema]) -> Result<(), String> {
    match value {
        Value::Object(map) => {
            let top_level_enum = named
                .iter()
                .any(|e| at == format!("components.schemas.{}", e.name));
            if map.contains_key("enum") && !top_level_enum && !at.contains(".parameters") {
                return Err(format!(
                    "{at}: inline `enum`; declare it under components/schemas and `$ref` it, \
                     so the client can accept values added later"
                ));
            }
            for (k, v) in map {
                let child = if at.is_empty() {
                    k.clone()
                } else {
                    format!("{at}.{k}")
                };
                check_no_inline_enums(v, &child, named)?;
            }
            Ok(())
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, v)| check_no_inline_enums(v, &format!("{at}[{i}]"), named)),
        _ => Ok(()),
    }
}

/// Rust source for the forward-compatible enums, included by `src/model.rs`.
fn render_enums(enums: &[EnumSchema]) -> String {
    let mut s = String::new();
    for e in enums {
        let variants: Vec<(String, &str)> = e
            .values
            .iter()
            .map(|v| (variant_name(v), v.as_str()))
            .collect();
        let doc = e.description.as_deref().unwrap_or("A value of the API.");
        for line in doc.lines() {
            let _ = writeln!(s, "/// {line}");
        }
        let _ = writeln!(
            s,
            "///\n/// Forward compatible: a value this version of the SDK does not know is kept in\n\
             /// [`{name}::Unknown`] instead of failing the response.\n\
             #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]\n#[non_exhaustive]\npub enum {name} {{",
            name = e.name
        );
        for (variant, value) in &variants {
            let _ = writeln!(s, "    /// `{value}`\n    {variant},");
        }
        let _ = writeln!(
            s,
            "    /// A value not documented when this SDK was built, as the service sent it.\n    Unknown(String),\n}}\n"
        );
        let _ = writeln!(s, "impl {} {{", e.name);
        let _ = writeln!(
            s,
            "    /// Every documented value, in the order of the API documents."
        );
        let _ = writeln!(
            s,
            "    pub const VALUES: &'static [&'static str] = &[{}];",
            e.values
                .iter()
                .map(|v| format!("{v:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let _ = writeln!(
            s,
            "    /// The value as sent on the wire.\n    pub fn as_str(&self) -> &str {{\n        match self {{"
        );
        for (variant, value) in &variants {
            let _ = writeln!(s, "            Self::{variant} => {value:?},");
        }
        let _ = writeln!(
            s,
            "            Self::Unknown(other) => other,\n        }}\n    }}"
        );
        let _ = writeln!(
            s,
            "    /// Whether this value is one the SDK does not know.\n    pub fn is_unknown(&self) -> bool {{\n        matches!(self, Self::Unknown(_))\n    }}\n}}\n"
        );
        let _ = writeln!(
            s,
            "impl From<&str> for {} {{\n    fn from(value: &str) -> Self {{\n        match value {{",
            e.name
        );
        for (variant, value) in &variants {
            let _ = writeln!(s, "            {value:?} => Self::{variant},");
        }
        let _ = writeln!(
            s,
            "            other => Self::Unknown(other.to_owned()),\n        }}\n    }}\n}}\n"
        );
        let _ = writeln!(
            s,
            "impl From<String> for {name} {{\n    fn from(value: String) -> Self {{\n        match Self::from(value.as_str()) {{\n            Self::Unknown(_) => Self::Unknown(value),\n            known => known,\n        }}\n    }}\n}}\n",
            name = e.name
        );
        let _ = writeln!(
            s,
            "impl std::str::FromStr for {} {{\n    type Err = std::convert::Infallible;\n    fn from_str(value: &str) -> Result<Self, Self::Err> {{\n        Ok(Self::from(value))\n    }}\n}}\n",
            e.name
        );
        let _ = writeln!(
            s,
            "impl std::fmt::Display for {} {{\n    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {{\n        f.write_str(self.as_str())\n    }}\n}}\n",
            e.name
        );
        let _ = writeln!(
            s,
            "impl serde::Serialize for {} {{\n    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {{\n        serializer.serialize_str(self.as_str())\n    }}\n}}\n",
            e.name
        );
        let _ = writeln!(
            s,
            "impl<'de> serde::Deserialize<'de> for {} {{\n    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {{\n        crate::model::deserialize_enum_string(deserializer).map(Self::from)\n    }}\n}}\n",
            e.name
        );
        if let Some(d) = &e.default {
            let _ = writeln!(
                s,
                "impl Default for {} {{\n    /// `{d}`, the value the API documents as the default.\n    fn default() -> Self {{\n        Self::{}\n    }}\n}}\n",
                e.name,
                variant_name(d)
            );
        }
    }
    s
}

/// `Init` → `Init`, `v3` → `V3`, `in-progress` → `InProgress`.
fn variant_name(value: &str) -> String {
    let mut out = String::new();
    let mut upper = true;
    for c in value.chars() {
        if c.is_ascii_alphanumeric() {
            if upper {
                out.extend(c.to_uppercase());
            } else {
                out.push(c);
            }
            upper = false;
        } else {
            upper = true;
        }
    }
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'V');
    }
    out
}

/// Renames `node_i_ds` to `node_ids`, and adds `deserialize_with = "crate::model::null_as_default"` to every generated field that
/// serde defaults when missing and that holds a collection, so `null` reads as empty too.
struct NullAsEmpty;

impl syn::visit_mut::VisitMut for NullAsEmpty {
    fn visit_field_mut(&mut self, field: &mut syn::Field) {
        // typify splits `nodeIDs` into `node_i_ds`; the serde rename keeps the wire name.
        if let Some(ident) = &mut field.ident {
            let name = ident.to_string();
            if name.contains("_i_ds") {
                *ident = syn::Ident::new(&name.replace("_i_ds", "_ids"), ident.span());
            }
        }
        let is_collection = match &field.ty {
            syn::Type::Path(p) => p.path.segments.last().is_some_and(|s| {
                let name = s.ident.to_string();
                matches!(name.as_str(), "Vec" | "HashMap" | "BTreeMap" | "Map")
            }),
            _ => false,
        };
        if !is_collection {
            return;
        }
        for attr in &mut field.attrs {
            if !attr.path().is_ident("serde") {
                continue;
            }
            let syn::Meta::List(list) = &mut attr.meta else {
                continue;
            };
            let text = list.tokens.to_string();
            let has_default = text.split(',').any(|part| part.trim() == "default");
            if has_default && !text.contains("deserialize_with") {
                let tokens = &list.tokens;
                list.tokens =
                    quote::quote!(#tokens, deserialize_with = "crate::model::null_as_default");
            }
        }
    }
}
