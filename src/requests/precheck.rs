//! Conveniences for the types of `openapi/precheck.yaml`.
