//! Conveniences for the types of `openapi/versions.yaml`.
