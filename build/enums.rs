//! Forward-compatible enums: every named string `enum` of the spec becomes a Rust enum with its
//! documented values and `Unknown(String)`, so a value the service adds later never fails a call.

use std::fmt::Write as _;

use serde_json::Value;

use crate::spec;

/// A named string enum of `components/schemas`.
pub struct EnumSchema {
    pub name: String,
    pub description: Option<String>,
    pub values: Vec<String>,
    pub default: Option<String>,
}

pub fn collect_enums(doc: &Value) -> Result<Vec<EnumSchema>, String> {
    let mut out = Vec::new();
    for (name, schema) in spec::schemas(doc) {
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
pub fn check_no_inline_enums(value: &Value, at: &str, named: &[EnumSchema]) -> Result<(), String> {
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
pub fn render_enums(enums: &[EnumSchema]) -> String {
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
        // A string schema that lists the documented values and, like the type, takes any other.
        let _ = writeln!(
            s,
            "#[cfg(feature = \"schemars\")]\n#[cfg_attr(docsrs, doc(cfg(feature = \"schemars\")))]\nimpl ::schemars::JsonSchema for {name} {{\n    \
             fn schema_name() -> ::std::borrow::Cow<'static, str> {{\n        {name:?}.into()\n    }}\n\n    \
             fn schema_id() -> ::std::borrow::Cow<'static, str> {{\n        \"cce_upgrade::types::{name}\".into()\n    }}\n\n    \
             fn json_schema(_: &mut ::schemars::SchemaGenerator) -> ::schemars::Schema {{\n        \
             ::schemars::json_schema!({{\n            \"description\": {description:?},\n            \
             \"type\": \"string\",\n            \
             \"anyOf\": [{{ \"enum\": Self::VALUES }}, {{ \"description\": \"A value added after this SDK was built.\" }}]\n        \
             }})\n    }}\n}}\n",
            name = e.name,
            description = e.description.as_deref().unwrap_or("A value of the API."),
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
