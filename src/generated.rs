//! The code generated at build time from the spec in `openapi/` (see `build.rs`): the types
//! (re-exported as [`crate::types`]), and each operation's method on [`crate::Client`] with its
//! description for the call path (`src/call.rs`).
#![allow(missing_docs, unused, clippy::all, clippy::pedantic, rustdoc::all)]

/// The request and response types.
pub mod types {
    include!(concat!(env!("OUT_DIR"), "/types.rs"));
}

include!(concat!(env!("OUT_DIR"), "/operations.rs"));
