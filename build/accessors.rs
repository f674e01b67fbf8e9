//! Accessors: `x-accessors` on a component schema names, for each accessor, the field it reads
//! (a dotted path of JSON names, e.g. `metadata.uid`), and the generator writes the method that
//! walks there. A `{version: [release, patch]}` entry joins a release and a patch field into one
//! version string (`v1.28.15` and `r0` → `v1.28.15-r0`).

use std::fmt::Write as _;

use serde_json::Value;

use crate::enums::EnumSchema;
use crate::spec;
use crate::types;

/// The `impl` blocks of every schema's accessors. `adapted` is the spec as the type generator
/// saw it, whose `required` lists say which fields are `Option`s.
pub fn generate(doc: &Value, adapted: &Value, enums: &[EnumSchema]) -> Result<String, String> {
    let mut out = String::new();
    for (name, schema) in spec::schemas(doc) {
        let Some(accessors) = schema.get("x-accessors") else {
            continue;
        };
        let at = format!("components.schemas.{name}.x-accessors");
        let schema = adapted
            .pointer(&format!("/components/schemas/{name}"))
            .ok_or_else(|| format!("{at}: the schema is gone from the adapted spec"))?;
        let accessors = accessors
            .as_object()
            .ok_or_else(|| format!("{at}: a mapping of method names to field paths"))?;
        let _ = writeln!(out, "impl {} {{", types::rust_type(name, enums));
        for (method, target) in accessors {
            if !method
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            {
                return Err(format!("{at}.{method}: a method name is snake_case"));
            }
            let at = format!("{at}.{method}");
            match target {
                Value::String(path) => {
                    let (walk, leaf) =
                        walk(adapted, schema, path, enums).map_err(|e| format!("{at}: {e}"))?;
                    let (ret, value) = leaf;
                    let _ = writeln!(
                        out,
                        "    /// `{path}`, if the answer has it.\n    pub fn {method}(&self) -> Option<{ret}> {{\n        let v = self;\n{walk}        Some({value})\n    }}"
                    );
                }
                Value::Object(map) if map.len() == 1 && map.contains_key("version") => {
                    let parts = map["version"]
                        .as_array()
                        .filter(|a| a.len() == 2)
                        .ok_or_else(|| {
                            format!("{at}: `version` lists a release and a patch field")
                        })?;
                    let mut reads = Vec::new();
                    for part in parts {
                        let path = part
                            .as_str()
                            .ok_or_else(|| format!("{at}: a field path is a string"))?;
                        let (walk, (ret, value)) =
                            walk(adapted, schema, path, enums).map_err(|e| format!("{at}: {e}"))?;
                        if ret != "&str" {
                            return Err(format!("{at}: `{path}` is not a string"));
                        }
                        reads.push(format!("(|| -> Option<&str> {{\n        let v = self;\n{walk}        Some({value})\n    }})()"));
                    }
                    let _ = writeln!(
                        out,
                        "    /// The version `{}` and `{}` make together (`v1.28.15` and `r0`: \
                         `v1.28.15-r0`; a patch that is a whole version itself is that version).\n    \
                         pub fn {method}(&self) -> Option<String> {{\n        \
                         crate::version::join_release_and_patch({}, {})\n    }}",
                        parts[0].as_str().unwrap_or_default(),
                        parts[1].as_str().unwrap_or_default(),
                        reads[0],
                        reads[1]
                    );
                }
                _ => {
                    return Err(format!(
                        "{at}: a field path (`metadata.uid`) or `{{version: [release, patch]}}`"
                    ));
                }
            }
        }
        out.push_str("}\n\n");
    }
    Ok(out)
}

/// The statements that walk `path` from `let v = self;` (returning `None` where an optional
/// field is missing), and the leaf's return type and value.
fn walk(
    doc: &Value,
    schema: &Value,
    path: &str,
    enums: &[EnumSchema],
) -> Result<(String, (String, String)), String> {
    let mut code = String::new();
    let mut current = spec::resolve(doc, schema)?;
    let steps: Vec<&str> = path.split('.').collect();
    for (i, step) in steps.iter().enumerate() {
        let property = current
            .pointer(&format!(
                "/properties/{}",
                step.replace('~', "~0").replace('/', "~1")
            ))
            .ok_or_else(|| format!("`{path}`: no property `{step}`"))?;
        let required = current
            .get("required")
            .and_then(Value::as_array)
            .is_some_and(|r| r.iter().any(|n| n == step));
        let nullable = property.get("nullable").and_then(Value::as_bool) == Some(true);
        let field = heck::ToSnakeCase::to_snake_case(*step);
        let field = if field == "type" {
            "type_".to_owned()
        } else {
            field
        };
        if !required || nullable {
            let _ = writeln!(code, "        let v = v.{field}.as_ref()?;");
        } else {
            let _ = writeln!(code, "        let v = &v.{field};");
        }
        let resolved = spec::resolve(doc, property)?;
        if i + 1 == steps.len() {
            let leaf = if let Some(name) = spec::ref_name(property) {
                if resolved.get("type").and_then(Value::as_str) == Some("string")
                    && !enums.iter().any(|e| e.name == name)
                {
                    ("&str".to_owned(), "v.as_str()".to_owned())
                } else {
                    (
                        format!("&{}", types::rust_type(name, enums)),
                        "v".to_owned(),
                    )
                }
            } else if resolved.get("type").and_then(Value::as_str) == Some("string") {
                ("&str".to_owned(), "v.as_str()".to_owned())
            } else {
                return Err(format!(
                    "`{path}` ends at a field that is neither a string nor a `$ref`"
                ));
            };
            return Ok((code, leaf));
        }
        if resolved.get("type").and_then(Value::as_str) == Some("array") {
            return Err(format!(
                "`{path}`: `{step}` is a list; an accessor reads one value"
            ));
        }
        current = resolved;
    }
    Err(format!("`{path}` is empty"))
}
