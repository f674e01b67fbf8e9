//! Conveniences for the types of `openapi/snapshot.yaml`.
