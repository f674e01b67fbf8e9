//! Conveniences for the types of `openapi/plans.yaml`.
