//! The cluster operations of the spec (`openapi/clusters.yaml`) against their facts,
//! `tests/data/cluster-ops.json` (`ListClusters`, `ShowCluster` and their Autopilot twins, from
//! the official SDK's models, as the family's facts are): methods, paths, query parameters,
//! answers, and every answer field by JSON name at every depth, with the comparison of
//! `spec_compare` that `tests/spec_family.rs` uses.
//!
//! The facts' `required` flags are those of the models for creating a cluster, which the
//! answers share (`shared/api/README.md`: "in an answer, every field may be absent"); the spec's
//! answers are lenient, so those flags are not compared. Where the spec deliberately differs
//! otherwise, [`DEVIATIONS`] says why, and every deviation must still be one.

use std::sync::LazyLock;

use crate::spec_compare::{Deviation, Facts, Kind, fail_if_any, spec_operations};

static CLUSTERS: LazyLock<Facts> = LazyLock::new(|| {
    Facts::new(
        "cluster-ops.json",
        include_str!("../data/cluster-ops.json"),
        DEVIATIONS,
        false,
    )
});

/// Where the spec deliberately differs from the cluster facts: nowhere yet.
const DEVIATIONS: &[Deviation] = &[];

#[test]
fn every_cluster_operation_is_in_the_spec_once() {
    let spec = spec_operations();
    let names = CLUSTERS.names();
    assert_eq!(
        names.len(),
        CLUSTERS.operations.len(),
        "each operation once in the facts"
    );
    let missing: Vec<String> = names
        .iter()
        .filter(|n| !spec.contains_key(*n))
        .map(|n| format!("{n}: in the facts, not in the spec"))
        .collect();
    fail_if_any(missing);
}

#[test]
fn methods_paths_parameters_and_answers_match() {
    CLUSTERS.check_operations();
}

#[test]
fn fields_match_but_for_the_deliberate_deviations() {
    CLUSTERS.check_fields();
}

#[test]
fn every_deviation_is_still_one() {
    let (problems, _) = CLUSTERS.stale_deviations();
    fail_if_any(problems);
}

#[test]
fn every_fact_of_the_cluster_operations_is_compared() {
    CLUSTERS.check_every_fact_is_compared();
}

#[test]
fn answer_required_flags_are_the_only_thing_left_uncompared() {
    // The facts do mark answer fields required (for creating a cluster); compared, they would
    // differ, and only in that: the lenient answers are deliberate, not an oversight.
    let strict: &'static Facts = Box::leak(Box::new(Facts::new(
        "cluster-ops.json (required flags compared)",
        include_str!("../data/cluster-ops.json"),
        &[],
        true,
    )));
    let comparison = strict.comparison();
    assert!(
        comparison.fields.iter().any(|m| m.kind == Kind::Required),
        "the facts mark no answer field required: compare the flags again"
    );
    let other: Vec<String> = comparison
        .fields
        .iter()
        .filter(|m| m.kind != Kind::Required)
        .map(ToString::to_string)
        .collect();
    fail_if_any(other);
}
