//! The spec against the family's facts, operation by operation and field by field.
//!
//! `tests/data/upgrade-family.json` holds the facts of the cluster-upgrade operations as the
//! official SDK's models state them (see `tests/data/README.md`). The tests compare the spec as
//! `build.rs` assembled it with those facts, the way the acceptance check does, with the
//! comparison of `spec_compare` (shared with `tests/spec_clusters.rs`, which compares the cluster
//! operations with `tests/data/cluster-ops.json`): the spec has exactly the operations of the two
//! files, each with its method, path, parameters, body and answer, and its fields by JSON name
//! at every depth with their `required` flags and values.
//!
//! Where the spec deliberately differs, [`DEVIATIONS`] says why; every other mismatch fails, and
//! every deviation must still be one, so the table does not outlive its reason.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use serde_json::{Value, json};

use crate::spec_compare::{
    Comparison, Deviation, Facts, Kind, fail_if_any, family_values, forms, spec_field,
    spec_operations, type_of,
};

static FAMILY: LazyLock<Facts> = LazyLock::new(|| {
    Facts::new(
        "upgrade-family.json",
        include_str!("../data/upgrade-family.json"),
        DEVIATIONS,
        true,
    )
});

/// The cluster operations' facts: the spec's other operations.
static CLUSTERS: LazyLock<Facts> = LazyLock::new(|| {
    Facts::new(
        "cluster-ops.json",
        include_str!("../data/cluster-ops.json"),
        &[],
        false,
    )
});

/// Seed pages win over the family for what they document (`/work/shared/api/README.md`).
const SEED_TARGET_VERSION: &str = "the official SDK shares WorkFlowSpec between request and \
     answer and so requires targetVersion in the answer; pages 000 and 002 mark no answer field \
     mandatory, and a workflow without it must still decode (one schema for all workflow answers)";
const SEED_MAX_UNAVAILABLE: &str =
    "page 004 marks maxUnavailable mandatory, the SDK model optional; the page wins";
/// The family lists the description's "true"/"false" for a field the SDK types boolean.
const BOOLEAN: &str = "a boolean: the family lists \"true\"/\"false\" from the description; \
     the spec types it boolean";
const LENIENT_BOOLEAN: &str = "a boolean (typed String on the pages): the family lists \
     \"true\"/\"false\" from the description; the spec's LenientBool takes either form";

#[rustfmt::skip]
const DEVIATIONS: &[Deviation] = &[
    ("CreateUpgradeWorkFlow",           "response.spec.targetVersion",                               Kind::Required, SEED_TARGET_VERSION),
    ("ListUpgradeWorkFlows",            "response.items.spec.targetVersion",                         Kind::Required, SEED_TARGET_VERSION),
    ("ShowUpgradeWorkFlow",             "response.spec.targetVersion",                               Kind::Required, SEED_TARGET_VERSION),
    ("UpgradeWorkFlowUpdate",           "response.spec.targetVersion",                               Kind::Required, SEED_TARGET_VERSION),
    ("CreateAutopilotUpgradeWorkFlow",  "response.spec.targetVersion",                               Kind::Required, SEED_TARGET_VERSION),
    ("ListAutopilotUpgradeWorkFlows",   "response.items.spec.targetVersion",                         Kind::Required, SEED_TARGET_VERSION),
    ("ShowAutopilotUpgradeWorkFlow",    "response.spec.targetVersion",                               Kind::Required, SEED_TARGET_VERSION),
    ("UpgradeAutopilotWorkFlowUpdate",  "response.spec.targetVersion",                               Kind::Required, SEED_TARGET_VERSION),
    ("UpgradeNodePool",                 "request.spec.maxUnavailable",                               Kind::Required, SEED_MAX_UNAVAILABLE),
    ("CreateUpgradeWorkFlow",           "response.status.lineStatuses.critical",                     Kind::Values,   LENIENT_BOOLEAN),
    ("ListUpgradeWorkFlows",            "response.items.status.lineStatuses.critical",               Kind::Values,   LENIENT_BOOLEAN),
    ("ShowUpgradeWorkFlow",             "response.status.lineStatuses.critical",                     Kind::Values,   LENIENT_BOOLEAN),
    ("UpgradeWorkFlowUpdate",           "response.status.lineStatuses.critical",                     Kind::Values,   LENIENT_BOOLEAN),
    ("CreateAutopilotUpgradeWorkFlow",  "response.status.lineStatuses.critical",                     Kind::Values,   LENIENT_BOOLEAN),
    ("ListAutopilotUpgradeWorkFlows",   "response.items.status.lineStatuses.critical",               Kind::Values,   LENIENT_BOOLEAN),
    ("ShowAutopilotUpgradeWorkFlow",    "response.status.lineStatuses.critical",                     Kind::Values,   LENIENT_BOOLEAN),
    ("UpgradeAutopilotWorkFlowUpdate",  "response.status.lineStatuses.critical",                     Kind::Values,   LENIENT_BOOLEAN),
    ("ShowClusterUpgradeInfo",          "response.spec.upgradeFeatureGates.supportUpgradePageV4",    Kind::Values,   BOOLEAN),
    ("ShowAutopilotClusterUpgradeInfo", "response.spec.upgradeFeatureGates.supportUpgradePageV4",    Kind::Values,   BOOLEAN),
    ("UpgradeCluster",                  "request.spec.clusterUpgradeAction.isOnlyUpgrade",           Kind::Values,   BOOLEAN),
    ("UpgradeAutopilotCluster",         "request.spec.clusterUpgradeAction.isOnlyUpgrade",           Kind::Values,   BOOLEAN),
    ("UpgradeNodePool",                 "request.spec.nodeTemplate.lifeCycle.waitPostInstallFinish", Kind::Values,   BOOLEAN),
];

// ----------------------------------------------------------------------------------------- tests

/// The parts of the spec whose operations belong to no fact file here: IAM (the project
/// lookup, checked by its own socket tests).
const OTHER_FAMILIES: &[&str] = &["openapi/iam.yaml"];

#[test]
fn the_spec_has_exactly_the_operations_of_the_family_and_the_cluster_facts() {
    let spec: BTreeSet<&str> = spec_operations().into_keys().collect();
    let listed: BTreeSet<&str> = cce_upgrade::operations::ALL
        .iter()
        .map(|op| op.id)
        .collect();
    assert_eq!(spec, listed, "the generated list has the spec's operations");
    let spec: BTreeSet<&str> = cce_upgrade::operations::ALL
        .iter()
        .filter(|op| !OTHER_FAMILIES.contains(&op.part))
        .map(|op| op.id)
        .collect();
    let family = FAMILY.names();
    assert_eq!(
        family.len(),
        FAMILY.operations.len(),
        "each operation once in the family file"
    );
    let facts: BTreeSet<&str> = family.union(&CLUSTERS.names()).copied().collect();
    let mut problems = Vec::new();
    for name in facts.difference(&spec) {
        problems.push(format!("{name}: in the facts, not in the spec"));
    }
    for name in spec.difference(&facts) {
        problems.push(format!("{name}: in the spec, not in the facts"));
    }
    fail_if_any(problems);
}

#[test]
fn methods_paths_parameters_bodies_and_answers_match() {
    FAMILY.check_operations();
}

#[test]
fn fields_match_but_for_the_deliberate_deviations() {
    FAMILY.check_fields();
}

#[test]
fn every_deviation_is_still_one_and_for_its_reason() {
    let (mut problems, current) = FAMILY.stale_deviations();
    for (&(operation, path, _, why), mismatch) in current {
        if why == BOOLEAN || why == LENIENT_BOOLEAN {
            // The family types it boolean with a boolean's values; the spec's field takes a boolean.
            let fact = FAMILY.field(operation, path);
            let values = family_values(fact).unwrap_or_default();
            if values != BTreeSet::from(["false", "true"]) || fact["type"] != "boolean" {
                problems.push(format!(
                    "{mismatch}: listed as a boolean, but the family types it {} with values \
                     {values:?}",
                    fact["type"]
                ));
            }
            let property = spec_field(operation, path);
            let types: BTreeSet<&str> = forms(property).into_iter().filter_map(type_of).collect();
            let expected = if why == BOOLEAN {
                BTreeSet::from(["boolean"])
            } else {
                BTreeSet::from(["boolean", "string"])
            };
            if types != expected {
                problems.push(format!(
                    "{operation} {path}: listed as {why:?}, but the spec types it {types:?}"
                ));
            }
        }
    }
    fail_if_any(problems);
}

#[test]
fn every_fact_of_the_family_is_compared() {
    FAMILY.check_every_fact_is_compared();
}

#[test]
fn the_comparison_catches_each_kind_of_difference() {
    // A small spec and family, differing in every way the comparison knows, two levels down.
    let leak = |v: Value| -> &'static Value { Box::leak(Box::new(v)) };
    let schema = leak(json!({
        "type": "object",
        "required": ["a"],
        "properties": {
            "a": {"type": "string"},
            "b": {"type": "array", "items": {"type": "object", "properties": {
                "c": {"type": "string", "enum": ["x"]},
                "e": {"type": "string", "enum": ["x", "y", "z"]},
            }}},
        },
    }));
    let family = leak(json!([
        {"json": "a", "required": false},
        {"json": "b", "required": false, "models": {"B": {"fields": [
            {"json": "c", "required": false, "enum_validated": ["x", "y"]},
            {"json": "e", "required": false, "documented_values": ["x", "y"]},
        ]}}},
        {"json": "d", "required": false},
    ]));
    let mut comparison = Comparison::default();
    comparison.fields("Op", "request", family.as_array().expect("list"), schema, 0);
    let found: Vec<(&str, Kind)> = comparison
        .fields
        .iter()
        .map(|m| (m.path.as_str(), m.kind))
        .collect();
    assert_eq!(
        found,
        [
            ("request.a", Kind::Required),
            ("request.b.c", Kind::Values),
            ("request.d", Kind::Missing),
        ]
    );
    assert_eq!((comparison.matched, comparison.total), (2, 5));
}
