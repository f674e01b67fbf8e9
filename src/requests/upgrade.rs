//! Conveniences for the types of `openapi/upgrade.yaml`.
