//! Conveniences for the types of `openapi/postcheck.yaml`.
