//! Conveniences for the types of `openapi/nodepools.yaml`.
