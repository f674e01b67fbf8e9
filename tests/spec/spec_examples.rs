//! The examples of the five API pages, as `openapi/cce-upgrade.yaml` carries them.
//!
//! - The spec's examples equal the pages' example bodies, kept verbatim under
//!   `tests/data/examples/` (so the spec cannot drift from the pages), and every example of the
//!   spec is one of them (so none goes untested).
//! - Each request example decodes into its typed body and encodes back to the same JSON; the same
//!   request built with the typed constructors encodes to it too.
//! - Each response example decodes into its typed response, and every field of it reads back
//!   through the typed API.
//! - Responses the pages do not show, but the service sends (values added later, extra fields,
//!   `null` collections, the shapes where pages and SDKs disagree), decode too.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use cce_upgrade::parse_go_time;
use cce_upgrade::types::{
    ApiVersionV3, CreateUpgradeWorkFlowRequestBody, LenientBool, NodeTemplate, PointRef,
    PointStatusPhase, PostCheckClusterRequestBody, PostCheckPhase, PostCheckSpec, PostCheckTask,
    PostCheckTaskKind, UpgradeNodePool, UpgradeNodePoolResponse, UpgradeTask, UpgradeTaskKind,
    UpgradeTaskPhase, UpgradeTaskType, UpgradeWorkFlow, UpgradeWorkFlowList,
    UpgradeWorkFlowListKind, WorkFlowPhase, WorkFlowTaskKind,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

static SPEC: LazyLock<Value> = LazyLock::new(|| {
    // The spec as build.rs assembled it from openapi/*.yaml.
    serde_json::from_str(include_str!(concat!(env!("OUT_DIR"), "/openapi.json")))
        .expect("build.rs writes the assembled spec")
});

/// A page's example body, copied verbatim from `/work/shared/seeds` into `tests/data/examples/`.
macro_rules! page_example {
    ($file:literal) => {
        serde_json::from_str::<Value>(include_str!(concat!("../data/examples/", $file)))
            .expect(concat!("tests/data/examples/", $file, " is JSON"))
    };
}

/// Where an example sits in the spec, as a JSON pointer below the operation.
#[derive(Clone, Copy)]
struct ExampleAt {
    operation: &'static str,
    pointer: &'static str,
}

const CREATE_REQUEST: ExampleAt = ExampleAt {
    operation: "CreateUpgradeWorkFlow",
    pointer: "/requestBody/content/application~1json/example",
};
const CREATE_RESPONSE: ExampleAt = ExampleAt {
    operation: "CreateUpgradeWorkFlow",
    pointer: "/responses/201/content/application~1json/example",
};
const SHOW_TASK_RESPONSE: ExampleAt = ExampleAt {
    operation: "ShowUpgradeClusterTask",
    pointer: "/responses/200/content/application~1json/example",
};
const LIST_RESPONSE: ExampleAt = ExampleAt {
    operation: "ListAutopilotUpgradeWorkFlows",
    pointer: "/responses/200/content/application~1json/example",
};
const POST_CHECK_REQUEST: ExampleAt = ExampleAt {
    operation: "CreateAutopilotPostCheck",
    pointer: "/requestBody/content/application~1json/example",
};
const POST_CHECK_RESPONSE: ExampleAt = ExampleAt {
    operation: "CreateAutopilotPostCheck",
    pointer: "/responses/200/content/application~1json/example",
};
const NODE_POOL_SELF_BUILT: ExampleAt = ExampleAt {
    operation: "UpgradeNodePool",
    pointer: "/requestBody/content/application~1json/examples/selfBuiltPool/value",
};
const NODE_POOL_DEFAULT: ExampleAt = ExampleAt {
    operation: "UpgradeNodePool",
    pointer: "/requestBody/content/application~1json/examples/defaultPool/value",
};

/// The operation with this `operationId`.
fn operation(id: &str) -> &'static Value {
    SPEC["paths"]
        .as_object()
        .expect("paths")
        .values()
        .flat_map(|item| item.as_object().into_iter().flat_map(|item| item.values()))
        .find(|op| op["operationId"] == id)
        .unwrap_or_else(|| panic!("no operation {id} in the spec"))
}

fn spec_example(at: ExampleAt) -> Value {
    operation(at.operation)
        .pointer(at.pointer)
        .unwrap_or_else(|| panic!("{}: no example at {}", at.operation, at.pointer))
        .clone()
}

/// Decodes `value` as `T`, naming the example on failure.
fn decode<T: DeserializeOwned>(what: &str, value: &Value) -> T {
    serde_json::from_value(value.clone()).unwrap_or_else(|e| {
        panic!(
            "{what} does not decode as {}: {e}",
            std::any::type_name::<T>()
        )
    })
}

fn encode<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).expect("typed values encode")
}

// ------------------------------------------------------------------ the spec's examples are the pages'

#[test]
fn spec_examples_equal_the_pages() {
    let cases = [
        (
            CREATE_REQUEST,
            page_example!("create_upgrade_workflow.request.json"),
        ),
        (
            CREATE_RESPONSE,
            page_example!("create_upgrade_workflow.response.json"),
        ),
        (
            SHOW_TASK_RESPONSE,
            page_example!("show_upgrade_cluster_task.response.json"),
        ),
        (
            LIST_RESPONSE,
            page_example!("list_autopilot_upgrade_workflows.response.json"),
        ),
        (
            POST_CHECK_REQUEST,
            page_example!("create_autopilot_post_check.request.json"),
        ),
        (
            POST_CHECK_RESPONSE,
            page_example!("create_autopilot_post_check.response.json"),
        ),
        (
            NODE_POOL_SELF_BUILT,
            page_example!("upgrade_node_pool.self_built_pool.request.json"),
        ),
        (
            NODE_POOL_DEFAULT,
            page_example!("upgrade_node_pool.default_pool.request.json"),
        ),
    ];
    for (at, page) in &cases {
        assert_eq!(
            &spec_example(*at),
            page,
            "{}: the spec's example at {} differs from the page's",
            at.operation,
            at.pointer
        );
    }

    // Every example the spec carries is one of those above.
    let checked: BTreeSet<(String, String)> = cases
        .iter()
        .map(|(at, _)| (at.operation.to_owned(), at.pointer.to_owned()))
        .collect();
    let mut found = BTreeSet::new();
    for item in SPEC["paths"].as_object().expect("paths").values() {
        for op in item.as_object().expect("path item").values() {
            let id = op["operationId"].as_str().expect("operationId").to_owned();
            collect_examples(op, String::new(), &id, &mut found);
        }
    }
    let untested: Vec<_> = found.difference(&checked).collect();
    assert!(
        untested.is_empty(),
        "examples in the spec that no page fixture checks: {untested:?}"
    );
}

/// Every media-type example (`example`, or each `examples.*.value`) under an operation.
fn collect_examples(
    value: &Value,
    pointer: String,
    operation: &str,
    found: &mut BTreeSet<(String, String)>,
) {
    let Some(map) = value.as_object() else { return };
    for (key, child) in map {
        let escaped = key.replace('~', "~0").replace('/', "~1");
        let child_pointer = format!("{pointer}/{escaped}");
        if pointer.ends_with("/content/application~1json") && key == "example" {
            found.insert((operation.to_owned(), child_pointer));
        } else if pointer.ends_with("/content/application~1json") && key == "examples" {
            for name in child.as_object().expect("examples is a map").keys() {
                found.insert((
                    operation.to_owned(),
                    format!("{child_pointer}/{name}/value"),
                ));
            }
        } else {
            collect_examples(child, child_pointer, operation, found);
        }
    }
}

/// The spec says which schema each example is an instance of; these are the types the tests
/// below decode them into.
#[test]
fn examples_use_the_schemas_the_typed_api_decodes() {
    for (at, schema) in [
        (CREATE_REQUEST, "CreateUpgradeWorkFlowRequestBody"),
        (CREATE_RESPONSE, "UpgradeWorkFlow"),
        (SHOW_TASK_RESPONSE, "UpgradeTask"),
        (LIST_RESPONSE, "UpgradeWorkFlowList"),
        (POST_CHECK_REQUEST, "PostCheckClusterRequestBody"),
        (POST_CHECK_RESPONSE, "PostCheckTask"),
        (NODE_POOL_SELF_BUILT, "UpgradeNodePool"),
    ] {
        let media = at
            .pointer
            .split("/example")
            .next()
            .expect("pointer to a media type");
        let reference =
            &operation(at.operation).pointer(media).expect("media type")["schema"]["$ref"];
        assert_eq!(
            reference,
            &json!(format!("#/components/schemas/{schema}")),
            "{}: example at {}",
            at.operation,
            at.pointer
        );
    }
    let node_pool_ok = &operation("UpgradeNodePool")["responses"]["200"]["content"]["application/json"]
        ["schema"]["$ref"];
    assert_eq!(node_pool_ok, "#/components/schemas/UpgradeNodePoolResponse");
}

// ------------------------------------------------------------------------------------ requests

#[test]
fn request_examples_round_trip_through_the_typed_bodies() {
    fn round_trip<T: DeserializeOwned + Serialize>(at: ExampleAt) {
        let example = spec_example(at);
        let typed: T = decode(&format!("{} {}", at.operation, at.pointer), &example);
        assert_eq!(
            encode(&typed),
            example,
            "{}: the example at {} does not encode back to itself",
            at.operation,
            at.pointer
        );
    }
    round_trip::<CreateUpgradeWorkFlowRequestBody>(CREATE_REQUEST);
    round_trip::<PostCheckClusterRequestBody>(POST_CHECK_REQUEST);
    round_trip::<UpgradeNodePool>(NODE_POOL_SELF_BUILT);
    round_trip::<UpgradeNodePool>(NODE_POOL_DEFAULT);
}

#[test]
fn typed_constructors_build_the_page_requests() {
    let create = CreateUpgradeWorkFlowRequestBody::new("v1.23");
    assert_eq!(create.kind, WorkFlowTaskKind::WorkFlowTask);
    assert_eq!(create.api_version, ApiVersionV3::V3);
    assert_eq!(encode(&create), spec_example(CREATE_REQUEST));

    let post_check = PostCheckClusterRequestBody::new(PostCheckSpec {
        cluster_id: Some("8978deaa-1743-11ee-8e46-0255ac10004c".into()),
        cluster_version: Some("v1.15.11-r1".into()),
        target_version: Some("v1.19.16-r80".into()),
    });
    assert_eq!(post_check.kind, PostCheckTaskKind::PostCheckTask);
    assert_eq!(encode(&post_check), spec_example(POST_CHECK_REQUEST));

    let node_ids = [
        "aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa",
        "bbbbbbb-bbbb-bbbb-bbbb-bbbbbbbbbb",
    ];
    let self_built =
        UpgradeNodePool::new("cccccccc-cccc-cccc-cccc-cccccccccccc", 1).node_ids(node_ids);
    assert_eq!(encode(&self_built), spec_example(NODE_POOL_SELF_BUILT));

    let default_pool = UpgradeNodePool::new("DefaultPool", 1)
        .node_ids(node_ids)
        .node_template(
            NodeTemplate::with_password("root", cce_upgrade::NodePassword::presalted("xxxxx"))
                .scripts(Some("ZWNobyAx".into()), Some("ZWNobyAx".into())),
        );
    assert_eq!(encode(&default_pool), spec_example(NODE_POOL_DEFAULT));

    // And the decoded page examples are these very values.
    assert_eq!(
        decode::<CreateUpgradeWorkFlowRequestBody>("create request", &spec_example(CREATE_REQUEST)),
        create
    );
    assert_eq!(
        decode::<PostCheckClusterRequestBody>(
            "post-check request",
            &spec_example(POST_CHECK_REQUEST)
        ),
        post_check
    );
    assert_eq!(
        decode::<UpgradeNodePool>(
            "self-built pool request",
            &spec_example(NODE_POOL_SELF_BUILT)
        ),
        self_built
    );
    assert_eq!(
        decode::<UpgradeNodePool>("default pool request", &spec_example(NODE_POOL_DEFAULT)),
        default_pool
    );
}

#[test]
fn default_pool_request_reads_field_by_field() {
    let body: UpgradeNodePool = decode("default pool", &spec_example(NODE_POOL_DEFAULT));
    let spec = &body.spec;
    assert_eq!(spec.max_unavailable, 1);
    assert_eq!(
        spec.node_ids,
        [
            "aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa",
            "bbbbbbb-bbbb-bbbb-bbbb-bbbbbbbbbb"
        ]
    );
    assert_eq!(spec.node_pool_id, "DefaultPool");
    let template = spec.node_template.as_ref().expect("nodeTemplate");
    assert_eq!(template.life_cycle.pre_install.as_deref(), Some("ZWNobyAx"));
    assert_eq!(
        template.life_cycle.post_install.as_deref(),
        Some("ZWNobyAx")
    );
    assert_eq!(template.login.ssh_key, None);
    let login = template.login.user_password.as_ref().expect("userPassword");
    assert_eq!(login.username, "root");
    assert_eq!(login.password.expose_secret(), "xxxxx");

    // `username` defaults to root when left out (page: 默认取值: root).
    let without_username: UpgradeNodePool = decode(
        "userPassword without username",
        &json!({"spec": {"maxUnavailable": 2, "nodePoolID": "p", "nodeTemplate": {
            "lifeCycle": {}, "login": {"userPassword": {"password": "pw"}}}}}),
    );
    let login = without_username
        .spec
        .node_template
        .unwrap()
        .login
        .user_password
        .unwrap();
    assert_eq!(login.username, "root");

    let self_built: UpgradeNodePool =
        decode("self-built pool", &spec_example(NODE_POOL_SELF_BUILT));
    assert_eq!(self_built.spec.node_template, None);
    assert_eq!(
        self_built.spec.node_pool_id,
        "cccccccc-cccc-cccc-cccc-cccccccccccc"
    );
}

#[test]
fn node_password_never_shows_in_debug() {
    let password = "Pa55-w0rd!only-on-the-wire";
    let body = UpgradeNodePool::new("DefaultPool", 1).node_template(NodeTemplate::with_password(
        "root",
        cce_upgrade::NodePassword::presalted(password),
    ));
    for debug in [format!("{body:?}"), format!("{body:#?}")] {
        assert!(!debug.contains(password), "password in Debug: {debug}");
        assert!(debug.contains("** redacted **"), "{debug}");
    }
    let decoded: UpgradeNodePool = decode(
        "request with a password",
        &json!({"spec": {"maxUnavailable": 1, "nodePoolID": "p", "nodeTemplate": {
            "lifeCycle": {}, "login": {"userPassword": {"username": "root", "password": password}}}}}),
    );
    assert!(!format!("{decoded:?}").contains(password));
    // It still reaches the wire.
    assert_eq!(
        encode(&body)["spec"]["nodeTemplate"]["login"]["userPassword"]["password"],
        password
    );
}

// ----------------------------------------------------------------------------------- responses

#[test]
fn create_response_reads_field_by_field() {
    let example = spec_example(CREATE_RESPONSE);
    let workflow: UpgradeWorkFlow = decode("CreateUpgradeWorkFlow 201", &example);
    assert_eq!(encode(&workflow), example, "encodes back to the example");

    assert_eq!(workflow.kind, Some(WorkFlowTaskKind::WorkFlowTask));
    assert_eq!(workflow.api_version, Some(ApiVersionV3::V3));
    let metadata = workflow.metadata.as_ref().expect("metadata");
    assert_eq!(
        metadata.uid.as_deref(),
        Some("5ddfddfe-87db-11ec-b5e5-0255ac111914")
    );
    assert_eq!(workflow.uid(), metadata.uid.as_deref());
    assert_eq!(metadata.name, None);
    assert!(metadata.labels.is_empty() && metadata.annotations.is_empty());
    assert_eq!(metadata.creation_timestamp, None);
    assert_eq!(metadata.update_timestamp, None);
    assert_eq!(workflow.created_at(), None);

    let spec = workflow.spec.as_ref().expect("spec");
    assert_eq!(
        spec.cluster_id.as_deref(),
        Some("b4b9e60f-8aa2-11ee-af09-0255ac10004f")
    );
    assert_eq!(spec.cluster_version.as_deref(), Some("v1.17.17-r0"));
    assert_eq!(spec.target_version.as_deref(), Some("v1.19.16-r80"));

    assert_eq!(workflow.phase(), None);
    assert_standard_workflow_lines(&workflow, "CreateUpgradeWorkFlow 201");
}

/// The four points and two lines both workflow examples show.
fn assert_standard_workflow_lines(workflow: &UpgradeWorkFlow, what: &str) {
    let status = workflow.status.as_ref().expect("status");
    let types: Vec<_> = status
        .point_statuses
        .iter()
        .map(|p| p.task_type.clone())
        .collect();
    assert_eq!(
        types,
        [
            Some(UpgradeTaskType::PreCheck),
            Some(UpgradeTaskType::Snapshot),
            Some(UpgradeTaskType::Cluster),
            Some(UpgradeTaskType::PostCheck)
        ],
        "{what}"
    );
    for point in &status.point_statuses {
        assert_eq!(point.task_id, None, "{what}");
        assert_eq!(point.status, None, "{what}");
        assert_eq!(point.start_time_stamp, None, "{what}");
        assert_eq!(point.end_time_stamp, None, "{what}");
        assert_eq!(point.expire_time_stamp, None, "{what}");
        assert_eq!(point.started_at(), None, "{what}");
        assert_eq!(point.ended_at(), None, "{what}");
    }
    assert!(
        workflow.point(&UpgradeTaskType::Cluster).is_some(),
        "{what}"
    );
    assert!(
        workflow.point(&UpgradeTaskType::Rollback).is_none(),
        "{what}"
    );
    assert_eq!(workflow.cluster_task_id(), None, "{what}");

    assert_eq!(status.line_statuses.len(), 2, "{what}");
    let ends = |i: usize| {
        let line = &status.line_statuses[i];
        assert_eq!(line.critical, None, "{what}: line {i} critical");
        for end in [&line.start_point, &line.end_point] {
            assert!(
                matches!(end, Some(PointRef::Point(_))),
                "{what}: line {i} ends are objects"
            );
        }
        (
            line.start_point.as_ref().unwrap().task_type(),
            line.end_point.as_ref().unwrap().task_type(),
        )
    };
    assert_eq!(
        ends(0),
        (
            Some(UpgradeTaskType::PreCheck),
            Some(UpgradeTaskType::Cluster)
        ),
        "{what}"
    );
    assert_eq!(
        ends(1),
        (
            Some(UpgradeTaskType::Cluster),
            Some(UpgradeTaskType::PostCheck)
        ),
        "{what}"
    );
    assert_eq!(
        status.line_statuses[1]
            .end_point
            .as_ref()
            .unwrap()
            .task_type(),
        Some(UpgradeTaskType::PostCheck)
    );
}

#[test]
fn show_task_response_reads_field_by_field() {
    let example = spec_example(SHOW_TASK_RESPONSE);
    let task: UpgradeTask = decode("ShowUpgradeClusterTask 200", &example);
    assert_eq!(encode(&task), example, "encodes back to the example");

    assert_eq!(task.kind, Some(UpgradeTaskKind::UpgradeTask));
    assert_eq!(task.api_version, Some(ApiVersionV3::V3));

    let metadata = task.metadata.as_ref().expect("metadata");
    assert_eq!(
        metadata.uid.as_deref(),
        Some("xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx")
    );
    let created = metadata
        .creation_timestamp
        .as_deref()
        .expect("creationTimestamp");
    assert_eq!(created, "2022-12-16 13:40:20.75671 +0800 CST");
    let created = parse_go_time(created).unwrap();
    assert_eq!(created.unix_seconds(), 1_671_169_220);
    assert_eq!(created.subsec_nanos(), 756_710_000);
    assert_eq!(created.offset_seconds(), 8 * 3600);
    assert_eq!(task.created_at(), Some(created));
    let updated = metadata
        .update_timestamp
        .as_deref()
        .expect("updateTimestamp");
    assert_eq!(updated, "2022-12-16 13:40:20.756712 +0800 CST");
    let updated = parse_go_time(updated).unwrap();
    assert_eq!(updated.unix_seconds(), 1_671_169_220);
    assert_eq!(updated.subsec_nanos(), 756_712_000);
    assert_eq!(
        updated.duration_since(&created),
        Some(std::time::Duration::from_nanos(2_000))
    );

    let spec = task.spec.as_ref().expect("spec");
    assert_eq!(spec.version.as_deref(), Some("v1.19.16-r4"));
    assert_eq!(spec.target_version.as_deref(), Some("v1.23.5-r0"));
    assert!(spec.items.is_empty());

    let status = task.status.as_ref().expect("status");
    assert_eq!(status.phase, Some(UpgradeTaskPhase::Init));
    assert_eq!(task.phase(), Some(&UpgradeTaskPhase::Init));
    assert!(!UpgradeTaskPhase::Init.is_terminal());
    assert_eq!(status.progress.as_deref(), Some("0.00"));
    assert_eq!(task.progress_percent(), Some(0.0));
    let completion = status.completion_time.as_deref().expect("completionTime");
    assert_eq!(completion, "2022-12-16 13:40:20.756712 +0800 CST");
    assert_eq!(task.completed_at(), Some(updated));
}

#[test]
fn list_response_reads_field_by_field() {
    let example = spec_example(LIST_RESPONSE);
    let list: UpgradeWorkFlowList = decode("ListAutopilotUpgradeWorkFlows 200", &example);
    // `items` is sent as one object (as the page shows) and encoded as a list (as the SDKs send).
    let mut as_array = example.clone();
    as_array["items"] = json!([example["items"]]);
    assert_eq!(encode(&list), as_array, "encodes back to the example");

    assert_eq!(list.kind, Some(UpgradeWorkFlowListKind::List));
    assert_eq!(list.api_version, Some(ApiVersionV3::V3));
    assert_eq!(list.workflows().len(), 1);
    let workflow = &list.workflows()[0];
    assert_eq!(list.newest(), Some(workflow));

    assert_eq!(workflow.kind, Some(WorkFlowTaskKind::WorkFlowTask));
    assert_eq!(workflow.api_version, Some(ApiVersionV3::V3));
    let metadata = workflow.metadata.as_ref().expect("metadata");
    assert_eq!(
        metadata.uid.as_deref(),
        Some("730f5577-38ef-448c-b4a7-c6878fbefdda")
    );
    assert_eq!(metadata.name, None);
    assert!(metadata.labels.is_empty() && metadata.annotations.is_empty());
    let created = metadata
        .creation_timestamp
        .as_deref()
        .expect("creationTimestamp");
    assert_eq!(created, "2023-11-24 08:39:15.894417 +0000 UTC");
    let created = parse_go_time(created).unwrap();
    assert_eq!(created.unix_seconds(), 1_700_815_155);
    assert_eq!(created.subsec_nanos(), 894_417_000);
    assert_eq!(created.offset_seconds(), 0);
    assert_eq!(workflow.created_at(), Some(created));
    let updated = metadata
        .update_timestamp
        .as_deref()
        .expect("updateTimestamp");
    assert_eq!(updated, "2023-11-25 02:57:25.718567 +0000 UTC");
    let updated = parse_go_time(updated).unwrap();
    assert_eq!(updated.unix_seconds(), 1_700_881_045);
    assert_eq!(updated.subsec_nanos(), 718_567_000);

    let spec = workflow.spec.as_ref().expect("spec");
    assert_eq!(
        spec.cluster_id.as_deref(),
        Some("b4b9e60f-8aa2-11ee-af09-0255ac10004f")
    );
    assert_eq!(spec.cluster_version.as_deref(), Some("v1.17.17-r0"));
    assert_eq!(spec.target_version.as_deref(), Some("v1.19.16-r80"));

    let status = workflow.status.as_ref().expect("status");
    assert_eq!(status.phase, Some(WorkFlowPhase::Cancel));
    assert_eq!(workflow.phase(), Some(&WorkFlowPhase::Cancel));
    assert!(WorkFlowPhase::Cancel.is_terminal());
    assert_standard_workflow_lines(workflow, "ListAutopilotUpgradeWorkFlows 200 items");
    assert_eq!(
        list.workflows()[0].status.as_ref().unwrap().line_statuses[1]
            .end_point
            .as_ref()
            .unwrap()
            .task_type(),
        Some(UpgradeTaskType::PostCheck)
    );
}

#[test]
fn post_check_response_reads_field_by_field() {
    let example = spec_example(POST_CHECK_RESPONSE);
    let check: PostCheckTask = decode("CreateAutopilotPostCheck 200", &example);
    assert_eq!(encode(&check), example, "encodes back to the example");

    assert_eq!(check.kind.as_deref(), Some("PostCheckTask"));
    assert_eq!(check.api_version.as_deref(), Some("v3"));
    assert_eq!(
        check.metadata.as_ref().and_then(|m| m.uid.as_deref()),
        Some("e99fedf8-348c-4084-b0fd-81bf187df4e0")
    );
    let spec = check.spec.as_ref().expect("spec");
    assert_eq!(
        spec.cluster_id.as_deref(),
        Some("8978deaa-1743-11ee-8e46-0255ac10004c")
    );
    assert_eq!(spec.cluster_version.as_deref(), Some("v1.15.11-r1"));
    assert_eq!(spec.target_version.as_deref(), Some("v1.19.16-r80"));
    assert_eq!(
        check.status.as_ref().and_then(|s| s.phase.clone()),
        Some(PostCheckPhase::Success)
    );
    assert_eq!(check.phase(), Some(&PostCheckPhase::Success));
}

#[test]
fn node_pool_response_is_empty_or_a_job_id() {
    let empty: UpgradeNodePoolResponse = decode("node pool 200 {}", &json!({}));
    assert_eq!(empty.jobid, None);
    assert_eq!(encode(&empty), json!({}));
    let job: UpgradeNodePoolResponse = decode("node pool 200 with jobid", &json!({"jobid": "x"}));
    assert_eq!(job.jobid.as_deref(), Some("x"));
    assert_eq!(encode(&job), json!({"jobid": "x"}));
    let extra: UpgradeNodePoolResponse = decode(
        "node pool 200 with more",
        &json!({"jobid": "x", "status": {"phase": "Running"}}),
    );
    assert_eq!(extra, job);
}

// ------------------------------------------------------------------------- forward compatibility

#[test]
fn unknown_enum_values_decode_keep_their_text_and_encode_back() {
    let mut example = spec_example(CREATE_RESPONSE);
    example["status"]["phase"] = json!("Rollbacking");
    example["status"]["pointStatuses"][0]["taskType"] = json!("NodePoolUpgrade");
    example["status"]["pointStatuses"][0]["status"] = json!("Paused");
    example["status"]["lineStatuses"][0]["startPoint"]["taskType"] = json!("NodePoolUpgrade");
    let workflow: UpgradeWorkFlow = decode("workflow with new values", &example);

    let phase = workflow.phase().expect("phase");
    assert_eq!(phase, &WorkFlowPhase::Unknown("Rollbacking".into()));
    assert!(phase.is_unknown());
    assert_eq!(phase.as_str(), "Rollbacking");
    assert_eq!(phase.to_string(), "Rollbacking");
    assert!(!phase.is_terminal());

    let status = workflow.status.as_ref().unwrap();
    let point = &status.point_statuses[0];
    let task_type = point.task_type.as_ref().unwrap();
    assert!(task_type.is_unknown());
    assert_eq!(task_type.as_str(), "NodePoolUpgrade");
    assert_eq!(
        point.status,
        Some(PointStatusPhase::Unknown("Paused".into()))
    );
    assert_eq!(
        status.line_statuses[0]
            .start_point
            .as_ref()
            .unwrap()
            .task_type(),
        Some(UpgradeTaskType::Unknown("NodePoolUpgrade".into()))
    );
    // Known values are not unknown.
    assert!(
        !status.point_statuses[1]
            .task_type
            .as_ref()
            .unwrap()
            .is_unknown()
    );
    assert_eq!(
        encode(&workflow),
        example,
        "new values survive a round trip"
    );

    let mut task = spec_example(SHOW_TASK_RESPONSE);
    task["status"]["phase"] = json!("Rollbacking");
    let task: UpgradeTask = decode("task with a new phase", &task);
    let phase = task.phase().unwrap();
    assert_eq!(phase, &UpgradeTaskPhase::Unknown("Rollbacking".into()));
    assert!(phase.is_unknown() && !phase.is_terminal());
    assert_eq!(encode(&task)["status"]["phase"], "Rollbacking");

    let mut check = spec_example(POST_CHECK_RESPONSE);
    check["status"]["phase"] = json!("Warning");
    let check: PostCheckTask = decode("post-check with a new phase", &check);
    assert_eq!(check.phase().unwrap().as_str(), "Warning");
    assert!(check.phase().unwrap().is_unknown());
    assert_eq!(encode(&check)["status"]["phase"], "Warning");

    // A value of another JSON type where a string enum is documented is kept as its text.
    let odd: UpgradeWorkFlow = decode(
        "workflow with a numeric phase",
        &json!({"status": {"phase": 3}}),
    );
    assert_eq!(odd.phase(), Some(&WorkFlowPhase::Unknown("3".into())));

    // Every documented value reads as its own, known variant.
    for value in WorkFlowPhase::VALUES {
        let phase: WorkFlowPhase = serde_json::from_value(json!(value)).unwrap();
        assert!(!phase.is_unknown() && phase.as_str() == *value, "{value}");
    }
    for value in UpgradeTaskType::VALUES {
        let task_type: UpgradeTaskType = serde_json::from_value(json!(value)).unwrap();
        assert!(
            !task_type.is_unknown() && task_type.as_str() == *value,
            "{value}"
        );
    }
}

/// Adds an unknown field of each JSON type to every object of `value`.
fn with_extra_fields(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut out: serde_json::Map<String, Value> = map
                .iter()
                .map(|(k, v)| (k.clone(), with_extra_fields(v)))
                .collect();
            out.insert("x-new-string".into(), json!("added later"));
            out.insert("xNewNumber".into(), json!(1.5));
            out.insert("xNewObject".into(), json!({"nested": [1, {"deep": null}]}));
            out.insert("xNewArray".into(), json!([true, "two", 3]));
            out.insert("xNewNull".into(), Value::Null);
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(with_extra_fields).collect()),
        other => other.clone(),
    }
}

#[test]
fn unknown_fields_at_every_level_are_ignored() {
    fn check<T: DeserializeOwned + PartialEq + std::fmt::Debug>(at: ExampleAt) {
        let example = spec_example(at);
        let plain: T = decode(at.operation, &example);
        let extended: T = decode(
            &format!("{} with extra fields", at.operation),
            &with_extra_fields(&example),
        );
        assert_eq!(
            extended, plain,
            "{}: extra fields changed the result",
            at.operation
        );
    }
    check::<UpgradeWorkFlow>(CREATE_RESPONSE);
    check::<UpgradeTask>(SHOW_TASK_RESPONSE);
    check::<UpgradeWorkFlowList>(LIST_RESPONSE);
    check::<PostCheckTask>(POST_CHECK_RESPONSE);

    let mut list = spec_example(LIST_RESPONSE);
    list["items"] = json!([list["items"]]);
    let plain: UpgradeWorkFlowList = decode("list as array", &list);
    let extended: UpgradeWorkFlowList =
        decode("list as array with extra fields", &with_extra_fields(&list));
    assert_eq!(extended, plain);
}

#[test]
fn items_as_object_array_null_or_missing() {
    let example = spec_example(LIST_RESPONSE);
    let workflow: UpgradeWorkFlow = decode("items", &example["items"]);
    let other: UpgradeWorkFlow = decode(
        "another workflow",
        &json!({"kind": "WorkFlowTask", "metadata": {"uid": "second",
            "creationTimestamp": "2023-11-26 00:00:00 +0000 UTC"}, "status": {"phase": "Running"}}),
    );

    let read = |items: Option<Value>| -> Vec<UpgradeWorkFlow> {
        let mut body = json!({"kind": "List", "apiVersion": "v3"});
        if let Some(items) = items {
            body["items"] = items;
        }
        decode::<UpgradeWorkFlowList>(&format!("list {body}"), &body)
            .workflows()
            .to_vec()
    };
    let just_it = std::slice::from_ref(&workflow);
    assert_eq!(read(Some(example["items"].clone())), just_it);
    assert_eq!(read(Some(json!([example["items"]]))), just_it);
    assert_eq!(
        read(Some(json!([example["items"], encode(&other)]))),
        [workflow.clone(), other.clone()]
    );
    assert_eq!(read(Some(json!([]))), []);
    assert_eq!(read(Some(Value::Null)), []);
    assert_eq!(read(None), []);

    let both: UpgradeWorkFlowList = decode(
        "two workflows",
        &json!({"items": [example["items"], encode(&other)]}),
    );
    assert_eq!(
        both.newest().and_then(UpgradeWorkFlow::uid),
        Some("second"),
        "newest by creationTimestamp"
    );
}

#[test]
fn null_collections_read_as_empty() {
    let workflow: UpgradeWorkFlow = decode(
        "nulls in a workflow",
        &json!({
            "metadata": {"uid": "u", "labels": null, "annotations": null},
            "status": {"phase": "Init", "pointStatuses": null, "lineStatuses": null}
        }),
    );
    let metadata = workflow.metadata.as_ref().unwrap();
    assert!(metadata.labels.is_empty());
    assert!(metadata.annotations.is_empty());
    let status = workflow.status.as_ref().unwrap();
    assert!(status.point_statuses.is_empty());
    assert!(status.line_statuses.is_empty());
    assert_eq!(status.phase, Some(WorkFlowPhase::Init));
    assert_eq!(workflow.cluster_task_id(), None);

    let with_maps: UpgradeWorkFlow = decode(
        "labels and annotations",
        &json!({"metadata": {"labels": {"a": "1"}, "annotations": {"b": "2"}}}),
    );
    let metadata = with_maps.metadata.unwrap();
    assert_eq!(metadata.labels.get("a").map(String::as_str), Some("1"));
    assert_eq!(metadata.annotations.get("b").map(String::as_str), Some("2"));

    let task: UpgradeTask = decode(
        "null spec.items",
        &json!({"spec": {"version": "v1", "items": null}}),
    );
    assert!(task.spec.as_ref().unwrap().items.is_empty());
    let task: UpgradeTask = decode(
        "spec.items with content",
        &json!({"spec": {"items": {"anything": [1, 2]}}}),
    );
    assert_eq!(task.spec.unwrap().items["anything"], json!([1, 2]));

    let body: UpgradeNodePool = decode(
        "null nodeIDs",
        &json!({"spec": {"maxUnavailable": 1, "nodeIDs": null, "nodePoolID": "p"}}),
    );
    assert!(body.spec.node_ids.is_empty());
    let body: UpgradeNodePool = decode(
        "no nodeIDs",
        &json!({"spec": {"maxUnavailable": 1, "nodePoolID": "p"}}),
    );
    assert!(body.spec.node_ids.is_empty());
    // An empty list is left out of the request, as the self-built example leaves out nothing.
    assert_eq!(
        encode(&body),
        json!({"spec": {"maxUnavailable": 1, "nodePoolID": "p"}})
    );
}

#[test]
fn critical_as_boolean_or_string() {
    let line = |critical: Value| {
        let workflow: UpgradeWorkFlow = decode(
            &format!("critical {critical}"),
            &json!({"status": {"lineStatuses": [{"critical": critical}]}}),
        );
        let critical = workflow.status.unwrap().line_statuses[0].critical.clone();
        critical.expect("critical")
    };
    assert_eq!(line(json!(true)), LenientBool::Bool(true));
    assert_eq!(line(json!(true)).as_bool(), Some(true));
    assert_eq!(line(json!(false)).as_bool(), Some(false));
    assert_eq!(line(json!("true")), LenientBool::Text("true".into()));
    assert_eq!(line(json!("true")).as_bool(), Some(true));
    assert_eq!(line(json!("false")).as_bool(), Some(false));
    assert_eq!(line(json!("TRUE")).as_bool(), Some(true));
    assert_eq!(line(json!("yes")), LenientBool::Text("yes".into()));
    assert_eq!(line(json!("yes")).as_bool(), None);
    // Each form encodes back as it came.
    for critical in [json!(true), json!(false), json!("true"), json!("yes")] {
        assert_eq!(encode(&line(critical.clone())), critical);
    }
}

#[test]
fn start_and_end_points_as_object_or_string() {
    let workflow: UpgradeWorkFlow = decode(
        "points as strings and objects",
        &json!({"status": {"lineStatuses": [
            {"startPoint": "PreCheck", "endPoint": {"taskType": "Cluster"}, "critical": "true"},
            {"startPoint": {"taskType": "Cluster"}, "endPoint": "Upgrade2"},
            {"startPoint": {}, "endPoint": {"taskType": "PostCheck", "taskID": "t"}}
        ]}}),
    );
    let lines = &workflow.status.as_ref().unwrap().line_statuses;
    let start = lines[0].start_point.as_ref().unwrap();
    assert_eq!(start, &PointRef::Name("PreCheck".into()));
    assert_eq!(start.task_type(), Some(UpgradeTaskType::PreCheck));
    let end = lines[0].end_point.as_ref().unwrap();
    assert!(
        matches!(end, PointRef::Point(point) if point.task_type == Some(UpgradeTaskType::Cluster)),
        "{end:?}"
    );
    assert_eq!(end.task_type(), Some(UpgradeTaskType::Cluster));
    assert_eq!(lines[0].critical.as_ref().unwrap().as_bool(), Some(true));
    assert_eq!(
        lines[1].end_point.as_ref().unwrap().task_type(),
        Some(UpgradeTaskType::Unknown("Upgrade2".into()))
    );
    assert_eq!(lines[2].start_point.as_ref().unwrap().task_type(), None);
    assert_eq!(
        lines[2].end_point.as_ref().unwrap().task_type(),
        Some(UpgradeTaskType::PostCheck)
    );
    assert!(matches!(
        PointRef::from(UpgradeTaskType::Snapshot),
        PointRef::Point(point) if point.task_type == Some(UpgradeTaskType::Snapshot)
    ));
    // The string form encodes back as a string, the object form as an object.
    let encoded = encode(&workflow);
    assert_eq!(
        encoded["status"]["lineStatuses"][0]["startPoint"],
        "PreCheck"
    );
    assert_eq!(
        encoded["status"]["lineStatuses"][0]["endPoint"],
        json!({"taskType": "Cluster"})
    );
    assert_eq!(encoded["status"]["lineStatuses"][1]["endPoint"], "Upgrade2");
}

#[test]
fn point_status_timestamps_and_task_id() {
    let workflow: UpgradeWorkFlow = decode(
        "a running workflow",
        &json!({"status": {"phase": "Running", "pointStatuses": [{
            "taskType": "Cluster", "taskID": "task-1", "status": "Running",
            "startTimeStamp": "2024-03-12 08:15:00.5 +0000 UTC",
            "endTimeStamp": "2024-03-12 16:20:00 +0800 CST",
            "expireTimeStamp": "not a time"
        }]}}),
    );
    assert_eq!(workflow.cluster_task_id(), Some("task-1"));
    let point = workflow.point(&UpgradeTaskType::Cluster).unwrap();
    assert_eq!(point.status, Some(PointStatusPhase::Running));
    let started = point.started_at().unwrap();
    assert_eq!(started, parse_go_time("2024-03-12T08:15:00.5Z").unwrap());
    let ended = point.ended_at().unwrap();
    assert_eq!(
        ended.duration_since(&started),
        Some(std::time::Duration::from_millis(300_000 - 500))
    );
    assert_eq!(point.expire_time_stamp.as_deref(), Some("not a time"));
    assert!(parse_go_time("not a time").is_err());
}
