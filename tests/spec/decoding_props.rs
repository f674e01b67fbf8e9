//! Property tests for everything that reads input from the network or from callers.
//!
//! - Any JSON fed to any response (or request) type either decodes or is an error, never a
//!   panic; what decodes encodes back to JSON that decodes to the same value, and the typed
//!   accessors (`workflows()`, `progress_percent()`, timestamps, ...) never panic on it. The JSON
//!   is built from the spec's own field names and values: random trees, and the page examples
//!   with random parts replaced, dropped or added.
//! - `parse_go_time` never panics, and reads every valid Go or RFC 3339 timestamp to the fields it
//!   was written from.
//! - `signing::sign` never panics on any request an `http::Request` can represent, and signs the
//!   same request at the same time to the same bytes.
//! - Any list of workflows sent as an array (or one sent as an object) reads back as that list.

use std::collections::BTreeSet;
use std::fmt::Debug;
use std::sync::LazyLock;
use std::time::{Duration, UNIX_EPOCH};

use cce_upgrade::parse_go_time;
use cce_upgrade::signing::{SignableRequest, SigningParams, parse_sdk_date, sign};
use cce_upgrade::types::{
    ApiVersionV3, CreateUpgradeWorkFlowRequestBody, ErrorBody, LenientBool, LineStatus, Metadata,
    Point, PointRef, PointStatus, PointStatusPhase, PostCheckClusterRequestBody, PostCheckPhase,
    PostCheckTask, UpgradeNodePool, UpgradeNodePoolResponse, UpgradeTask, UpgradeTaskPhase,
    UpgradeTaskType, UpgradeWorkFlow, UpgradeWorkFlowList, WorkFlowItems, WorkFlowPhase,
    WorkFlowResponseSpec, WorkFlowStatus, WorkFlowTaskKind,
};
use proptest::prelude::*;
use proptest::sample::select;
use reqwest::header::{HeaderName, HeaderValue};
use reqwest::{Method, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// Cases per property: 256 in `cargo test`; `PROPTEST_CASES=100000` for a long fuzzing run.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

fn config() -> ProptestConfig {
    let cases = cases();
    ProptestConfig {
        cases,
        // Generated header values are filtered to valid ones; allow rejects in proportion to
        // the cases, so a long run does not stop on the default absolute limit.
        max_local_rejects: cases.saturating_mul(4).max(65_536),
        // Keep the shared work tree clean; a failure prints its minimal input.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

static SPEC: LazyLock<Value> = LazyLock::new(|| {
    // The spec as build.rs assembled it from openapi/*.yaml.
    serde_json::from_str(include_str!(concat!(env!("OUT_DIR"), "/openapi.json")))
        .expect("build.rs writes the assembled spec")
});

/// Every property name of every schema in the spec (`clusterID`, `pointStatuses`, ...).
static FIELD_NAMES: LazyLock<Vec<String>> = LazyLock::new(|| {
    fn collect(value: &Value, out: &mut BTreeSet<String>) {
        match value {
            Value::Object(map) => {
                if let Some(properties) = map.get("properties").and_then(Value::as_object) {
                    out.extend(properties.keys().cloned());
                }
                map.values().for_each(|v| collect(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| collect(v, out)),
            _ => {}
        }
    }
    let mut names = BTreeSet::new();
    collect(&SPEC["components"]["schemas"], &mut names);
    assert!(names.contains("pointStatuses") && names.contains("nodeIDs"));
    names.into_iter().collect()
});

/// Strings the service sends: every enum value and example of the spec, timestamps in both
/// formats, numbers in strings, booleans in strings.
static STRING_VALUES: LazyLock<Vec<String>> = LazyLock::new(|| {
    fn collect(value: &Value, out: &mut BTreeSet<String>) {
        match value {
            Value::Object(map) => {
                for key in ["enum", "example", "default"] {
                    match map.get(key) {
                        Some(Value::String(s)) => {
                            out.insert(s.clone());
                        }
                        Some(Value::Array(items)) => {
                            out.extend(items.iter().filter_map(Value::as_str).map(str::to_owned));
                        }
                        _ => {}
                    }
                }
                map.values().for_each(|v| collect(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| collect(v, out)),
            _ => {}
        }
    }
    let mut values = BTreeSet::new();
    collect(&SPEC["components"]["schemas"], &mut values);
    for extra in [
        "",
        "true",
        "false",
        "yes",
        "37.50",
        "100%",
        "NaN",
        "-0",
        "1e309",
        "2022-12-16T05:40:20.75671Z",
        "2022-12-16 13:40:20.75671 +0800 CST m=+0.000123",
        "9999-12-31 23:59:59.999999999 -2359",
        "0000-01-01 00:00:00 +2359",
    ] {
        values.insert(extra.to_owned());
    }
    assert!(values.contains("Rollback") && values.contains("2022-12-16 13:40:20.75671 +0800 CST"));
    values.into_iter().collect()
});

// ------------------------------------------------------------------------------ JSON strategies

fn field_name() -> BoxedStrategy<String> {
    prop_oneof![
        9 => select(FIELD_NAMES.clone()),
        1 => "[a-zA-Z_]{0,8}",
    ]
    .boxed()
}

fn leaf() -> BoxedStrategy<Value> {
    prop_oneof![
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::from),
        1 => any::<i64>().prop_map(Value::from),
        1 => any::<u64>().prop_map(Value::from),
        1 => (-3i64..30).prop_map(Value::from),
        1 => any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f).map(Value::Number)),
        3 => select(STRING_VALUES.clone()).prop_map(Value::String),
        1 => "\\PC{0,12}".prop_map(Value::String),
    ]
    .boxed()
}

/// Any JSON: objects keyed mostly by the spec's field names, random values of random types.
fn any_json() -> BoxedStrategy<Value> {
    leaf()
        .prop_recursive(5, 64, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                prop::collection::btree_map(field_name(), inner, 0..6)
                    .prop_map(|map| Value::Object(map.into_iter().collect())),
            ]
        })
        .boxed()
}

/// `example`, with each part kept, replaced by any JSON, or left out, and unknown fields added.
fn mutated(example: &Value) -> BoxedStrategy<Value> {
    match example {
        Value::Object(map) => {
            let fields: Vec<BoxedStrategy<Option<(String, Value)>>> = map
                .iter()
                .map(|(key, value)| {
                    let (keep, replace) = (key.clone(), key.clone());
                    prop_oneof![
                        6 => mutated(value).prop_map(move |v| Some((keep.clone(), v))),
                        1 => any_json().prop_map(move |v| Some((replace.clone(), v))),
                        1 => Just(None),
                    ]
                    .boxed()
                })
                .collect();
            let extra = prop::collection::vec((field_name(), any_json()), 0..2);
            (fields, extra)
                .prop_map(|(fields, extra)| {
                    let mut out = serde_json::Map::new();
                    out.extend(extra);
                    out.extend(fields.into_iter().flatten());
                    Value::Object(out)
                })
                .boxed()
        }
        Value::Array(items) if !items.is_empty() => {
            let element = prop::strategy::Union::new(items.iter().map(mutated));
            prop_oneof![
                6 => prop::collection::vec(element, 0..5).prop_map(Value::Array),
                1 => any_json(),
            ]
            .boxed()
        }
        other => prop_oneof![3 => Just(other.clone()), 1 => leaf(), 1 => any_json()].boxed(),
    }
}

/// A workflow with every field the pages document, as the service sends a running upgrade.
fn full_workflow() -> Value {
    json!({
        "kind": "WorkFlowTask",
        "apiVersion": "v3",
        "metadata": {
            "uid": "730f5577-38ef-448c-b4a7-c6878fbefdda",
            "name": "upgrade",
            "labels": {"a": "b"},
            "annotations": {"c": "d"},
            "creationTimestamp": "2023-11-24 08:39:15.894417 +0000 UTC",
            "updateTimestamp": "2023-11-25 02:57:25.718567 +0000 UTC"
        },
        "spec": {"clusterID": "c", "clusterVersion": "v1.17.17-r0", "targetVersion": "v1.19.16-r80"},
        "status": {
            "phase": "Running",
            "pointStatuses": [{
                "taskType": "Cluster", "taskID": "t", "status": "Running",
                "startTimeStamp": "2022-12-16 13:40:20.75671 +0800 CST",
                "endTimeStamp": "2022-12-16 13:40:20.75671 +0800 CST",
                "expireTimeStamp": "2022-12-16 13:40:20.75671 +0800 CST"
            }],
            "lineStatuses": [
                {"startPoint": {"taskType": "PreCheck"}, "endPoint": "Cluster", "critical": true},
                {"startPoint": "Cluster", "endPoint": {"taskType": "PostCheck"}, "critical": "false"}
            ]
        }
    })
}

/// The response bodies to mutate: the page examples of the spec, and fuller ones.
static EXAMPLES: LazyLock<Vec<Value>> = LazyLock::new(|| {
    let mut examples = Vec::new();
    for item in SPEC["paths"].as_object().expect("paths").values() {
        for op in item.as_object().expect("path item").values() {
            for response in op["responses"]
                .as_object()
                .into_iter()
                .flat_map(|r| r.values())
            {
                if let Some(example) = response.pointer("/content/application~1json/example") {
                    examples.push(example.clone());
                }
            }
            if let Some(body) = op.pointer("/requestBody/content/application~1json") {
                examples.extend(body.get("example").cloned());
                for example in body
                    .get("examples")
                    .and_then(Value::as_object)
                    .into_iter()
                    .flatten()
                {
                    examples.extend(example.1.get("value").cloned());
                }
            }
        }
    }
    assert_eq!(examples.len(), 8, "the spec's page examples");
    examples.push(full_workflow());
    examples.push(
        json!({"kind": "List", "apiVersion": "v3", "items": [full_workflow(), full_workflow()]}),
    );
    examples.push(json!({
        "kind": "UpgradeTask", "apiVersion": "v3",
        "metadata": {"uid": "u", "creationTimestamp": "2022-12-16 13:40:20.75671 +0800 CST"},
        "spec": {"version": "v1", "targetVersion": "v2", "items": {"k": [1, {"v": null}]}},
        "status": {"phase": "Running", "progress": "37.50", "completionTime": ""}
    }));
    examples.push(json!({"error_code": "APIGW.0301", "error_msg": "bad", "request_id": "r"}));
    examples.push(json!({"jobid": "j"}));
    examples
});

fn response_json() -> BoxedStrategy<Value> {
    prop_oneof![
        1 => any_json(),
        3 => prop::strategy::Union::new(EXAMPLES.iter().map(mutated)),
    ]
    .boxed()
}

// -------------------------------------------------------------------------- decoding properties

/// Decodes `json` as `T`; when it decodes, reads it through `touch` and checks that its encoding
/// decodes to the same value. Decoding the JSON text must not panic either.
fn decode_as<T>(json: &Value, touch: impl Fn(&T)) -> Result<(), TestCaseError>
where
    T: DeserializeOwned + Serialize + PartialEq + Debug,
{
    let text = json.to_string();
    let _ = serde_json::from_str::<T>(&text);
    let _ = serde_json::from_slice::<T>(text.as_bytes());
    if let Ok(value) = serde_json::from_value::<T>(json.clone()) {
        touch(&value);
        let encoded = serde_json::to_value(&value)
            .map_err(|e| TestCaseError::fail(format!("{value:?} does not encode: {e}")))?;
        let again: T = serde_json::from_value(encoded.clone()).map_err(|e| {
            TestCaseError::fail(format!(
                "{} encodes to {encoded}, which does not decode: {e}",
                std::any::type_name::<T>()
            ))
        })?;
        prop_assert_eq!(
            &again,
            &value,
            "{} from {}",
            std::any::type_name::<T>(),
            json
        );
    }
    Ok(())
}

fn touch_workflow(workflow: &UpgradeWorkFlow) {
    let _ = (
        workflow.uid(),
        workflow.created_at(),
        workflow.cluster_task_id(),
    );
    if let Some(phase) = workflow.phase() {
        let _ = (
            phase.is_terminal(),
            phase.as_str(),
            phase.is_unknown(),
            phase.to_string(),
        );
    }
    for task_type in UpgradeTaskType::VALUES {
        let _ = workflow.point(&UpgradeTaskType::from(*task_type));
    }
    if let Some(status) = &workflow.status {
        for point in &status.point_statuses {
            let _ = (point.started_at(), point.ended_at());
            let _ = point.task_type.as_ref().map(UpgradeTaskType::as_str);
            let _ = point.status.as_ref().map(PointStatusPhase::as_str);
        }
        for line in &status.line_statuses {
            let _ = line.start_point.as_ref().map(PointRef::task_type);
            let _ = line.end_point.as_ref().map(PointRef::task_type);
            let _ = line.critical.as_ref().map(LenientBool::as_bool);
        }
    }
}

fn touch_list(list: &UpgradeWorkFlowList) {
    list.workflows().iter().for_each(touch_workflow);
    let _ = list.newest();
}

fn touch_task(task: &UpgradeTask) {
    let _ = (
        task.progress_percent(),
        task.created_at(),
        task.completed_at(),
    );
    let _ = task.phase().map(|p| (p.is_terminal(), p.as_str().len()));
}

fn ignore<T>(_: &T) {}

/// Every type that decodes input, each through `decode_as`.
fn decode_everything(json: &Value) -> Result<(), TestCaseError> {
    decode_as::<UpgradeWorkFlow>(json, touch_workflow)?;
    decode_as::<UpgradeWorkFlowList>(json, touch_list)?;
    decode_as::<UpgradeTask>(json, touch_task)?;
    decode_as::<PostCheckTask>(json, |check| {
        let _ = check.phase().map(PostCheckPhase::as_str);
    })?;
    decode_as::<UpgradeNodePoolResponse>(json, ignore)?;
    decode_as::<ErrorBody>(json, ignore)?;
    decode_as::<CreateUpgradeWorkFlowRequestBody>(json, ignore)?;
    decode_as::<PostCheckClusterRequestBody>(json, ignore)?;
    decode_as::<UpgradeNodePool>(json, |body| {
        let _ = format!("{body:?}");
    })?;
    decode_as::<WorkFlowItems>(json, |items| items.iter().for_each(touch_workflow))?;
    decode_as::<PointRef>(json, |point| {
        let _ = point.task_type();
    })?;
    decode_as::<LenientBool>(json, |flag| {
        let _ = flag.as_bool();
    })?;
    decode_as::<WorkFlowPhase>(json, ignore)?;
    decode_as::<UpgradeTaskType>(json, ignore)?;
    decode_as::<PointStatusPhase>(json, ignore)?;
    decode_as::<UpgradeTaskPhase>(json, ignore)?;
    decode_as::<PostCheckPhase>(json, ignore)?;
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn random_json_never_panics_and_round_trips(json in any_json()) {
        decode_everything(&json)?;
    }

    #[test]
    fn mutated_examples_never_panic_and_round_trip(json in response_json()) {
        decode_everything(&json)?;
        // Each part of a body alone, too: `status`, `items`, a point, a line...
        if let Value::Object(map) = &json {
            for value in map.values() {
                decode_everything(value)?;
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        let _ = serde_json::from_slice::<UpgradeWorkFlowList>(&bytes);
        let _ = serde_json::from_slice::<UpgradeTask>(&bytes);
        let _ = serde_json::from_slice::<UpgradeWorkFlow>(&bytes);
        let _ = serde_json::from_slice::<PostCheckTask>(&bytes);
        let _ = serde_json::from_slice::<UpgradeNodePoolResponse>(&bytes);
        let _ = serde_json::from_slice::<ErrorBody>(&bytes);
    }
}

// ------------------------------------------------------------------------------------ workflows

fn text() -> impl Strategy<Value = String> {
    "\\PC{0,10}"
}

fn opt_text() -> impl Strategy<Value = Option<String>> {
    prop::option::of(prop_oneof![text(), select(STRING_VALUES.clone())])
}

/// A documented value, or one added later; built as decoding builds it.
fn enum_value<E: From<String> + Debug>(
    values: &'static [&'static str],
) -> impl Strategy<Value = E> {
    prop_oneof![
        3 => select(values).prop_map(str::to_owned),
        1 => "[A-Za-z]{0,10}",
    ]
    .prop_map(E::from)
}

/// An answer type with no field set, as `{}` decodes: answer types are `#[non_exhaustive]`, so a
/// value is read (or decoded empty and then filled), never built with a struct literal.
fn empty<T: DeserializeOwned>() -> T {
    serde_json::from_str("{}").expect("an answer type decodes from {}")
}

fn point_ref() -> impl Strategy<Value = PointRef> {
    prop_oneof![
        prop::option::of(enum_value::<UpgradeTaskType>(UpgradeTaskType::VALUES)).prop_map(
            |task_type| {
                let mut point: Point = empty();
                point.task_type = task_type;
                PointRef::Point(point)
            }
        ),
        prop_oneof![
            select(UpgradeTaskType::VALUES).prop_map(str::to_owned),
            text()
        ]
        .prop_map(PointRef::Name),
    ]
}

fn lenient_bool() -> impl Strategy<Value = LenientBool> {
    prop_oneof![
        any::<bool>().prop_map(LenientBool::Bool),
        prop_oneof![Just("true".to_owned()), Just("false".to_owned()), text()]
            .prop_map(LenientBool::Text),
    ]
}

fn point_status() -> impl Strategy<Value = PointStatus> {
    (
        prop::option::of(enum_value::<UpgradeTaskType>(UpgradeTaskType::VALUES)),
        opt_text(),
        prop::option::of(enum_value::<PointStatusPhase>(PointStatusPhase::VALUES)),
        opt_text(),
        opt_text(),
        opt_text(),
    )
        .prop_map(|(task_type, task_id, status, start, end, expire)| {
            let mut point: PointStatus = empty();
            point.task_type = task_type;
            point.task_id = task_id;
            point.status = status;
            point.start_time_stamp = start;
            point.end_time_stamp = end;
            point.expire_time_stamp = expire;
            point
        })
}

fn line_status() -> impl Strategy<Value = LineStatus> {
    (
        prop::option::of(point_ref()),
        prop::option::of(point_ref()),
        prop::option::of(lenient_bool()),
    )
        .prop_map(|(start_point, end_point, critical)| {
            let mut line: LineStatus = empty();
            line.start_point = start_point;
            line.end_point = end_point;
            line.critical = critical;
            line
        })
}

fn string_map() -> impl Strategy<Value = std::collections::HashMap<String, String>> {
    prop::collection::hash_map(text(), text(), 0..3)
}

fn workflow() -> impl Strategy<Value = UpgradeWorkFlow> {
    let metadata = (
        opt_text(),
        opt_text(),
        string_map(),
        string_map(),
        opt_text(),
        opt_text(),
    )
        .prop_map(|(uid, name, labels, annotations, created, updated)| {
            let mut metadata: Metadata = empty();
            metadata.uid = uid;
            metadata.name = name;
            metadata.labels = labels;
            metadata.annotations = annotations;
            metadata.creation_timestamp = created;
            metadata.update_timestamp = updated;
            metadata
        });
    let spec = (opt_text(), opt_text(), opt_text()).prop_map(
        |(cluster_id, cluster_version, target_version)| {
            let mut spec: WorkFlowResponseSpec = empty();
            spec.cluster_id = cluster_id;
            spec.cluster_version = cluster_version;
            spec.target_version = target_version;
            spec
        },
    );
    let status = (
        prop::option::of(enum_value::<WorkFlowPhase>(WorkFlowPhase::VALUES)),
        prop::collection::vec(point_status(), 0..5),
        prop::collection::vec(line_status(), 0..4),
    )
        .prop_map(|(phase, point_statuses, line_statuses)| {
            let mut status: WorkFlowStatus = empty();
            status.phase = phase;
            status.point_statuses = point_statuses;
            status.line_statuses = line_statuses;
            status
        });
    (
        // The fixed `kind` and `apiVersion` are forward-compatible enums: any text decodes.
        opt_text().prop_map(|t| t.map(WorkFlowTaskKind::from)),
        opt_text().prop_map(|t| t.map(ApiVersionV3::from)),
        prop::option::of(metadata),
        prop::option::of(spec),
        prop::option::of(status),
    )
        .prop_map(|(kind, api_version, metadata, spec, status)| {
            let mut workflow: UpgradeWorkFlow = empty();
            workflow.kind = kind;
            workflow.api_version = api_version;
            workflow.metadata = metadata;
            workflow.spec = spec;
            workflow.status = status;
            workflow
        })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn workflows_sent_as_an_array_read_back_as_that_list(
        workflows in prop::collection::vec(workflow(), 0..4),
    ) {
        let body = json!({"kind": "List", "apiVersion": "v3", "items": workflows});
        let list: UpgradeWorkFlowList = serde_json::from_value(body.clone())
            .map_err(|e| TestCaseError::fail(format!("{body} does not decode: {e}")))?;
        prop_assert_eq!(list.workflows(), workflows.as_slice());
        // From the text, as it comes off the wire, too.
        let list: UpgradeWorkFlowList = serde_json::from_str(&body.to_string())
            .map_err(|e| TestCaseError::fail(format!("{body} does not parse: {e}")))?;
        prop_assert_eq!(list.workflows(), workflows.as_slice());
        touch_list(&list);
        // And encoding the list gives the same body back.
        prop_assert_eq!(serde_json::to_value(&list).unwrap(), body);
    }

    #[test]
    fn one_workflow_sent_as_an_object_reads_as_a_list_of_one(workflow in workflow()) {
        let body = json!({"items": workflow});
        let list: UpgradeWorkFlowList = serde_json::from_value(body.clone())
            .map_err(|e| TestCaseError::fail(format!("{body} does not decode: {e}")))?;
        prop_assert_eq!(list.workflows(), std::slice::from_ref(&workflow));
    }
}

// ----------------------------------------------------------------------------------- timestamps

/// A timestamp's parts, as Go or RFC 3339 writes them.
#[derive(Clone, Debug)]
struct Written {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    /// The digits after the point (none: no fraction).
    fraction: String,
    /// Seconds east of UTC.
    offset: i32,
    /// Go's zone name (`CST`, `UTC`, or none).
    zone: &'static str,
    /// Go's monotonic clock reading, as `time.Now().String()` adds it.
    monotonic: bool,
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn month_len(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01, counted year by year (a different method from the library's).
fn days_since_epoch(year: i64, month: u32, day: u32) -> i64 {
    let year_len = |y: i64| if is_leap(y) { 366 } else { 365 };
    let mut days: i64 = if year >= 1970 {
        (1970..year).map(year_len).sum()
    } else {
        -(year..1970).map(year_len).sum::<i64>()
    };
    days += (1..month)
        .map(|m| i64::from(month_len(year, m)))
        .sum::<i64>();
    days + i64::from(day) - 1
}

impl Written {
    fn unix_seconds(&self) -> i64 {
        days_since_epoch(self.year, self.month, self.day) * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second)
            - i64::from(self.offset)
    }

    fn nanos(&self) -> u32 {
        if self.fraction.is_empty() {
            0
        } else {
            format!("{:0<9}", self.fraction).parse().expect("digits")
        }
    }

    fn date_time(&self, separator: char) -> String {
        let fraction = if self.fraction.is_empty() {
            String::new()
        } else {
            format!(".{}", self.fraction)
        };
        format!(
            "{:04}-{:02}-{:02}{separator}{:02}:{:02}:{:02}{fraction}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }

    fn offset_parts(&self) -> (char, i32, i32) {
        let sign = if self.offset < 0 { '-' } else { '+' };
        let offset = self.offset.abs();
        (sign, offset / 3600, offset % 3600 / 60)
    }

    /// `2022-12-16 13:40:20.75671 +0800 CST m=+0.000123`
    fn go(&self) -> String {
        let (sign, hours, minutes) = self.offset_parts();
        let mut s = format!("{} {sign}{hours:02}{minutes:02}", self.date_time(' '));
        if !self.zone.is_empty() {
            s.push(' ');
            s.push_str(self.zone);
        }
        if self.monotonic {
            s.push_str(" m=+0.000123457");
        }
        s
    }

    /// `2022-12-16T13:40:20.75671+08:00`, or `...Z` at UTC.
    fn rfc3339(&self) -> String {
        if self.offset == 0 {
            return format!("{}Z", self.date_time('T'));
        }
        let (sign, hours, minutes) = self.offset_parts();
        format!("{}{sign}{hours:02}:{minutes:02}", self.date_time('T'))
    }
}

fn written() -> impl Strategy<Value = Written> {
    (
        (0i64..=9999, 1u32..=12, 1u32..=31),
        (0u32..24, 0u32..60, 0u32..60),
        "[0-9]{0,9}",
        (-(23 * 3600 + 59 * 60)..=(23 * 3600 + 59 * 60)).prop_map(|s: i32| s / 60 * 60),
        select(&["", "CST", "UTC", "EST", "+08"][..]),
        any::<bool>(),
    )
        .prop_map(
            |((year, month, day), (hour, minute, second), fraction, offset, zone, monotonic)| {
                Written {
                    year,
                    month,
                    day: day.min(month_len(year, month)),
                    hour,
                    minute,
                    second,
                    fraction,
                    offset,
                    zone,
                    monotonic,
                }
            },
        )
}

/// A valid timestamp with one character replaced, inserted or removed.
fn nearly_a_timestamp() -> impl Strategy<Value = String> {
    (
        written(),
        any::<bool>(),
        any::<prop::sample::Index>(),
        any::<char>(),
        0u8..3,
    )
        .prop_map(|(written, go, at, c, edit)| {
            let mut chars: Vec<char> = if go { written.go() } else { written.rfc3339() }
                .chars()
                .collect();
            let i = at.index(chars.len());
            match edit {
                0 => chars[i] = c,
                1 => chars.insert(i, c),
                _ => {
                    chars.remove(i);
                }
            }
            chars.into_iter().collect()
        })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn valid_go_and_rfc3339_timestamps_read_as_written(written in written()) {
        let expected = (written.unix_seconds(), written.nanos(), written.offset);
        for text in [written.go(), written.rfc3339()] {
            let time = parse_go_time(&text)
                .map_err(|e| TestCaseError::fail(format!("{text:?}: {e}")))?;
            prop_assert_eq!(
                (time.unix_seconds(), time.subsec_nanos(), time.offset_seconds()),
                expected,
                "{}", text
            );
            // Surrounding white space is ignored.
            prop_assert_eq!(parse_go_time(&format!(" {text}\n")), Ok(time));
        }
    }

    #[test]
    fn any_string_never_panics(text in prop_oneof![
        any::<String>(),
        "[0-9TZ:. +\\-CSUTm=]{0,40}",
        nearly_a_timestamp(),
    ]) {
        match parse_go_time(&text) {
            Ok(time) => {
                prop_assert!(time.subsec_nanos() < 1_000_000_000);
                prop_assert!(time.offset_seconds().abs() < 24 * 3600);
                let _ = time.to_system_time();
            }
            Err(error) => prop_assert!(error.to_string().contains(&text), "{}", error),
        }
    }
}

// -------------------------------------------------------------------------------------- signing

/// What a caller can put in a request.
#[derive(Clone, Debug)]
struct RequestParts {
    method: Method,
    base: &'static str,
    segments: Vec<String>,
    query: Vec<(String, String)>,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Option<Vec<u8>>,
}

impl RequestParts {
    /// The request, its URL built as a URL builder writes it.
    fn build(&self) -> http::Request<Vec<u8>> {
        let mut url = Url::parse(self.base).expect("base URL");
        url.path_segments_mut()
            .expect("a base URL")
            .extend(self.segments.iter().map(String::as_str));
        if !self.query.is_empty() {
            url.query_pairs_mut().extend_pairs(self.query.iter());
        }
        let mut request = http::Request::builder()
            .method(self.method.clone())
            .uri(url.as_str())
            .body(self.body.clone().unwrap_or_default())
            .expect("a URL is a URI");
        for (name, value) in &self.headers {
            request.headers_mut().append(name.clone(), value.clone());
        }
        request
    }
}

fn header() -> impl Strategy<Value = (HeaderName, HeaderValue)> {
    let name = prop_oneof![
        select(
            &[
                "content-type",
                "x-project-id",
                "x-language",
                "accept",
                "user-agent",
                "x_underscored",
            ][..]
        )
        .prop_map(str::to_owned),
        "[a-z][a-z0-9_-]{0,12}",
    ];
    let value = prop_oneof![
        select(
            &[
                "application/json",
                "application/json;charset=utf-8",
                "application/octet-stream",
                "multipart/form-data",
                " padded ",
                "",
            ][..]
        )
        .prop_map(|v| v.as_bytes().to_vec()),
        prop::collection::vec(any::<u8>(), 0..24),
        "\\PC{0,16}".prop_map(String::into_bytes),
    ];
    (name, value).prop_filter_map("a valid header", |(name, value)| {
        Some((
            HeaderName::from_bytes(name.as_bytes()).ok()?,
            HeaderValue::from_bytes(&value).ok()?,
        ))
    })
}

fn request_parts() -> impl Strategy<Value = RequestParts> {
    (
        select(&["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"][..])
            .prop_map(|m| Method::from_bytes(m.as_bytes()).unwrap()),
        select(
            &[
                "https://cce.cn-north-4.myhuaweicloud.com/",
                "https://cce.ap-southeast-1.myhuaweicloud.com:8443/api/v3",
                "http://127.0.0.1:1234/",
                "http://[::1]/",
            ][..],
        ),
        prop::collection::vec(prop_oneof!["\\PC{0,12}", "[a-z0-9{}:%+ ./-]{0,12}"], 0..5),
        prop::collection::vec(
            (
                prop_oneof!["\\PC{0,8}", "[a-z=&+% ~]{0,6}"],
                prop_oneof!["\\PC{0,8}", "[a-z=&+% ~/]{0,6}"],
            ),
            0..5,
        ),
        prop::collection::vec(header(), 0..5),
        prop::option::of(prop::collection::vec(any::<u8>(), 0..32)),
    )
        .prop_map(
            |(method, base, segments, query, headers, body)| RequestParts {
                method,
                base,
                segments,
                query,
                headers,
                body,
            },
        )
}

/// What signing produced: the result, and the request as it would go on the wire.
#[derive(Debug, PartialEq)]
struct Signed {
    result: Result<(), String>,
    url: String,
    headers: Vec<(String, Vec<u8>)>,
}

fn signed(parts: &RequestParts, params: &SigningParams<'_>) -> Signed {
    let mut request = parts.build();
    let result = sign_request(&mut request, params);
    let headers = request
        .headers()
        .iter()
        .map(|(name, value)| (name.as_str().to_owned(), value.as_bytes().to_vec()))
        .collect();
    Signed {
        result,
        url: request.uri().to_string(),
        headers,
    }
}

/// Signs `request` through the public API and applies what signing adds.
fn sign_request(
    request: &mut http::Request<Vec<u8>>,
    params: &SigningParams<'_>,
) -> Result<(), String> {
    let output =
        sign(&SignableRequest::from_request(request), params).map_err(|e| e.to_string())?;
    output.apply_to(request);
    Ok(())
}

fn url_of(request: &http::Request<Vec<u8>>) -> Url {
    Url::parse(&request.uri().to_string()).expect("a URI is a URL")
}

fn sorted_pairs(url: &Url) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    pairs.sort();
    pairs
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn signing_never_panics_and_is_deterministic(
        parts in request_parts(),
        access_key in "[A-Z0-9]{1,20}",
        secret_key in "\\PC{1,40}",
        security_token in prop::option::of(prop_oneof!["[!-~]{1,20}", "\\PC{0,20}"]),
        seconds in 0u64..253_402_300_799,
    ) {
        let params = SigningParams {
            access_key: &access_key,
            secret_key: &secret_key,
            security_token: security_token.as_deref(),
            time: UNIX_EPOCH + Duration::from_secs(seconds),
        };
        let first = signed(&parts, &params);
        let second = signed(&parts, &params);
        prop_assert_eq!(&first, &second, "the same request at the same time signs the same");

        if first.result.is_ok() {
            let mut request = parts.build();
            sign_request(&mut request, &params).unwrap();
            let authorization = request.headers()["authorization"].to_str().unwrap().to_owned();
            let prefix = format!("SDK-HMAC-SHA256 Access={access_key}, SignedHeaders=");
            prop_assert!(authorization.starts_with(&prefix), "{}", authorization);
            let (signed_headers, signature) = authorization[prefix.len()..]
                .split_once(", Signature=")
                .expect("a signature");
            prop_assert_eq!(signature.len(), 64);
            prop_assert!(signature.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
            let names: Vec<&str> = signed_headers.split(';').collect();
            let mut sorted = names.clone();
            sorted.sort_unstable();
            sorted.dedup();
            prop_assert_eq!(&names, &sorted, "signed headers are sorted and unique");
            prop_assert!(names.contains(&"host") && names.contains(&"x-sdk-date"));
            prop_assert!(names.iter().all(|n| !n.contains('_') && *n == n.to_ascii_lowercase()));
            // Unless the caller set X-Sdk-Date, the signing time is the one given.
            if !parts.headers.iter().any(|(name, _)| name == "x-sdk-date") {
                prop_assert_eq!(
                    parse_sdk_date(request.headers()["x-sdk-date"].to_str().unwrap()),
                    Some(UNIX_EPOCH + Duration::from_secs(seconds))
                );
            }
            // The wire query carries the same pairs, in canonical order.
            prop_assert_eq!(sorted_pairs(&url_of(&request)), sorted_pairs(&url_of(&parts.build())));
        }
    }
}
