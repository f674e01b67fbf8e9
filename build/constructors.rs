//! Constructors that only fill fixed values: `x-new: [spec]` on a request body's schema gives
//! `Type::new(spec)`, taking the named fields as arguments, with the fixed values (`kind`,
//! `apiVersion`: one-value enums with their `default`) and every optional field left at its
//! default. A required field that is neither named nor fixed stops the build.

use std::fmt::Write as _;

use serde_json::Value;

use crate::enums::EnumSchema;
use crate::spec;
use crate::types;

/// The `impl` blocks of the `x-new` constructors. `adapted` is the spec as the type generator
/// saw it (request schemas keep their `required` lists).
pub fn generate(doc: &Value, adapted: &Value, enums: &[EnumSchema]) -> Result<String, String> {
    let mut out = String::new();
    for (name, original) in spec::schemas(doc) {
        let Some(args) = original.get("x-new") else {
            continue;
        };
        let at = format!("components.schemas.{name}.x-new");
        let args: Vec<&str> = args
            .as_array()
            .and_then(|a| a.iter().map(Value::as_str).collect::<Option<Vec<_>>>())
            .ok_or_else(|| format!("{at}: a list of the property names `new` takes"))?;
        let schema = adapted
            .pointer(&format!("/components/schemas/{name}"))
            .ok_or_else(|| format!("{at}: the schema is gone from the adapted spec"))?;
        let properties = schema
            .get("properties")
            .and_then(Value::as_object)
            .ok_or_else(|| format!("{at}: the schema has no properties"))?;
        let required: Vec<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let mut arg_docs = String::new();
        let mut params = Vec::new();
        let mut fields = Vec::new();
        let mut fixed = Vec::new();
        for arg in &args {
            if !properties.contains_key(*arg) {
                return Err(format!("{at}: `{arg}` is not a property of {name}"));
            }
        }
        for (property, prop_schema) in properties {
            let field = heck::ToSnakeCase::to_snake_case(property.as_str());
            let field = if field == "type" {
                "type_".to_owned()
            } else {
                field
            };
            if args.contains(&property.as_str()) {
                let (ty, value) = match spec::ref_name(prop_schema) {
                    Some(r) => (types::rust_type(r, enums), field.clone()),
                    None if prop_schema.get("type").and_then(Value::as_str) == Some("string") => {
                        ("impl Into<String>".to_owned(), format!("{field}.into()"))
                    }
                    None => {
                        return Err(format!(
                            "{at}: `{property}` is neither a `$ref` nor a string"
                        ));
                    }
                };
                let value = if required.contains(&property.as_str()) {
                    value
                } else {
                    format!("Some({value})")
                };
                let description = original
                    .pointer(&format!("/properties/{property}/description"))
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ");
                if !description.is_empty() {
                    let _ = write!(arg_docs, "\n    ///\n    /// `{property}`: {description}");
                }
                params.push(format!("{field}: {ty}"));
                fields.push(format!("{field}: {value}"));
                continue;
            }
            let one_value = spec::ref_name(prop_schema).and_then(|r| {
                enums
                    .iter()
                    .find(|e| e.name == r && e.values.len() == 1 && e.default.is_some())
            });
            if let Some(e) = one_value {
                fixed.push(format!("`{property}: {}`", e.values[0]));
            } else if required.contains(&property.as_str()) {
                return Err(format!(
                    "{at}: `{property}` is required and not a fixed value: name it in `x-new`"
                ));
            }
            fields.push(format!("{field}: ::std::default::Default::default()"));
        }
        let _ = writeln!(
            out,
            "impl {ty} {{\n    /// A `{name}` with {given}; {fixed} and every optional field unset.{arg_docs}\n    \
             pub fn new({params}) -> Self {{\n        Self {{ {fields} }}\n    }}\n}}\n",
            ty = types::rust_type(name, enums),
            given = args
                .iter()
                .map(|a| format!("`{a}`"))
                .collect::<Vec<_>>()
                .join(", "),
            fixed = if fixed.is_empty() {
                "no fixed values".to_owned()
            } else {
                fixed.join(", ")
            },
            params = params.join(", "),
            fields = fields.join(", "),
        );
    }
    Ok(out)
}
