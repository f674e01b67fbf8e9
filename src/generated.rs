//! The client and types generated at build time from `openapi/cce-upgrade.yaml` (see `build.rs`).
//! Private: the crate re-exports the types as [`crate::types`] and wraps the operations in
//! [`crate::Client`].
#![allow(missing_docs, unused, clippy::all, clippy::pedantic, rustdoc::all)]

include!(concat!(env!("OUT_DIR"), "/codegen.rs"));
