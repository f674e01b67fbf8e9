//! Conveniences for the types of `openapi/workflows.yaml`.
