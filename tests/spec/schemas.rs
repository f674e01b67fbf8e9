//! The JSON Schemas of the types (feature `schemars`): what they require, how they name the
//! fields, the constraints the spec states, and that the hand-written types describe the forms
//! they really read.
//!
//! The crate's self dev-dependency in `Cargo.toml` turns the feature on for every test build;
//! the first test fails if it ever stops doing so, so the others cannot silently vanish.

#[test]
#[allow(
    clippy::assertions_on_constants,
    reason = "the constant is the build's configuration, which is what is checked"
)]
fn the_tests_are_built_with_the_schemars_feature() {
    assert!(
        cfg!(feature = "schemars"),
        "the self dev-dependency in Cargo.toml must enable the `schemars` feature, \
         or the schema tests do not run"
    );
}

#[cfg(feature = "schemars")]
mod with_the_feature {
    use cce_upgrade::NodePassword;
    use cce_upgrade::types::{
        LenientBool, ListAddonPrecheckTasksQuery, NodePoolMetadata, NodePoolUpgradeSpec,
        NodeTemplateLifeCycle, NodeTemplateLoginUserPassword, PointRef, UpgradeClusterRequestBody,
        UpgradeTaskPhase, UpgradeWorkFlowList, WorkFlowItems,
    };
    use schemars::{JsonSchema, schema_for};
    use serde_json::{Value, json};

    /// A type's root schema as JSON.
    fn root<T: JsonSchema>() -> Value {
        schema_for!(T).to_value()
    }

    /// `schema`, with a `$ref` to `#/$defs/...` of `root` followed, and an optional value's
    /// `anyOf: [T, null]` read as `T`.
    fn resolve<'a>(root: &'a Value, mut schema: &'a Value) -> &'a Value {
        loop {
            if let Some(target) = schema.get("$ref").and_then(Value::as_str) {
                let pointer = target.strip_prefix('#').expect("a local reference");
                schema = root
                    .pointer(pointer)
                    .unwrap_or_else(|| panic!("dangling reference {target}"));
                continue;
            }
            if let Some(Value::Array(alternatives)) = schema.get("anyOf") {
                let not_null: Vec<&Value> = alternatives
                    .iter()
                    .filter(|a| a.get("type") != Some(&json!("null")))
                    .collect();
                if alternatives.len() == 2 && not_null.len() == 1 {
                    schema = not_null[0];
                    continue;
                }
            }
            return schema;
        }
    }

    /// The schema of property `name` of the object schema `schema`, resolved.
    fn property<'a>(root: &'a Value, schema: &'a Value, name: &str) -> &'a Value {
        let object = resolve(root, schema);
        let property = object
            .pointer(&format!("/properties/{name}"))
            .unwrap_or_else(|| panic!("no property `{name}` in {object:#}"));
        resolve(root, property)
    }

    fn required(root: &Value, schema: &Value) -> Vec<String> {
        resolve(root, schema)
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().map(|v| v.as_str().unwrap().to_owned()).collect())
            .unwrap_or_default()
    }

    /// Every `$ref` anywhere in `value` points into `root`.
    fn assert_references_resolve(root: &Value, value: &Value) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(target)) = map.get("$ref") {
                    let pointer = target.strip_prefix('#').expect("a local reference");
                    assert!(root.pointer(pointer).is_some(), "dangling {target}");
                }
                map.values()
                    .for_each(|v| assert_references_resolve(root, v));
            }
            Value::Array(items) => items
                .iter()
                .for_each(|v| assert_references_resolve(root, v)),
            _ => {}
        }
    }

    #[test]
    fn the_upgrade_request_requires_spec_and_the_batch_size_under_its_wire_names() {
        let root = root::<UpgradeClusterRequestBody>();
        assert_references_resolve(&root, &root);
        let mut top = required(&root, &root);
        top.sort();
        assert_eq!(top, ["metadata", "spec"]);

        let action = property(&root, &root, "spec");
        let action = property(&root, action, "clusterUpgradeAction");
        assert!(required(&root, action).contains(&"targetVersion".to_owned()));
        let strategy = property(&root, action, "strategy");
        let rolling = property(&root, strategy, "inPlaceRollingUpdate");
        assert_eq!(required(&root, rolling), ["userDefinedStep"]);
        let step = property(&root, rolling, "userDefinedStep");
        assert_eq!(step["type"], "integer", "{step:#}");
        // The spec's bounds, which the Rust type (`i32`) does not carry.
        assert_eq!(
            (&step["minimum"], &step["maximum"]),
            (&json!(1), &json!(120))
        );
        // No Rust field name leaks into the schema.
        assert!(!root.to_string().contains("user_defined_step"));
    }

    #[test]
    fn the_spec_constraints_are_in_the_schemas() {
        let sync = root::<NodePoolUpgradeSpec>();
        let batch = property(&sync, &sync, "maxUnavailable");
        assert_eq!(
            (&batch["minimum"], &batch["maximum"]),
            (&json!(1), &json!(20))
        );

        let pool = root::<NodePoolMetadata>();
        let name = property(&pool, &pool, "name");
        assert_eq!(
            (&name["minLength"], &name["maxLength"]),
            (&json!(1), &json!(50))
        );
        assert_eq!(name["pattern"], "^[a-z]([a-z0-9-]*[a-z0-9])?$");

        let scripts = root::<NodeTemplateLifeCycle>();
        let pre = property(&scripts, &scripts, "preInstall");
        assert_eq!(pre["maxLength"], 10240, "{pre:#}");
    }

    #[test]
    fn a_node_password_is_a_string_and_the_username_defaults_to_root() {
        let password = root::<NodePassword>();
        assert_eq!(password["type"], "string", "{password:#}");

        let login = root::<NodeTemplateLoginUserPassword>();
        assert_eq!(required(&login, &login), ["password"]);
        let field = property(&login, &login, "password");
        assert_eq!(field["type"], "string", "{field:#}");
        let username = property(&login, &login, "username");
        assert_eq!(username["type"], "string", "{username:#}");
        assert_eq!(username["default"], "root", "{username:#}");
    }

    #[test]
    fn an_enum_lists_its_documented_values_and_takes_any_other_string() {
        let phase = root::<UpgradeTaskPhase>();
        assert_eq!(phase["type"], "string", "{phase:#}");
        let alternatives = phase["anyOf"].as_array().expect("anyOf");
        let listed: Vec<&str> = alternatives
            .iter()
            .find_map(|a| a.get("enum"))
            .and_then(Value::as_array)
            .expect("the documented values")
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(listed, UpgradeTaskPhase::VALUES);
        assert!(listed.contains(&"Success"), "{listed:?}");
        // One alternative has no `enum`: a value added later still matches.
        assert!(
            alternatives
                .iter()
                .any(|a| a.get("enum").is_none() && a.get("const").is_none()),
            "{phase:#}"
        );
        // The spec's description comes along.
        assert!(phase["description"].as_str().is_some_and(|d| !d.is_empty()));
    }

    #[test]
    fn the_lenient_types_describe_every_form_they_read() {
        let flag = root::<LenientBool>();
        assert_eq!(flag["type"], json!(["boolean", "string"]), "{flag:#}");

        let point = root::<PointRef>();
        let forms = point["anyOf"].as_array().expect("anyOf");
        assert_eq!(forms.len(), 2, "{point:#}");
        let object = resolve(&point, &forms[0]);
        assert!(
            object.pointer("/properties/taskType").is_some(),
            "{point:#}"
        );
        assert_eq!(forms[1], json!({ "type": "string" }));

        let items = root::<WorkFlowItems>();
        assert_references_resolve(&items, &items);
        let forms = items["anyOf"].as_array().expect("anyOf");
        let types: Vec<Value> = forms
            .iter()
            .map(|f| resolve(&items, f)["type"].clone())
            .collect();
        assert_eq!(types, [json!("array"), json!("object"), json!("null")]);
    }

    #[test]
    fn a_list_answer_and_a_query_are_described_under_their_wire_names() {
        let list = root::<UpgradeWorkFlowList>();
        assert_references_resolve(&list, &list);
        let items = property(&list, &list, "items");
        assert!(items.get("anyOf").is_some(), "{items:#}");

        let query = root::<ListAddonPrecheckTasksQuery>();
        let mut names: Vec<&String> = query["properties"]
            .as_object()
            .expect("properties")
            .keys()
            .collect();
        names.sort();
        assert_eq!(names, ["addon_instance_id", "task_id", "type"]);
        assert_eq!(required(&query, &query), Vec::<String>::new());
    }
}
