#![doc = include_str!("../README.md")]
//!
//! # Cargo features
//!
//! Both are off by default.
//!
//! - `emulator`: the module `emulator`, a local CCE emulator to test against (a real HTTP
//!   server on loopback). Turn it on in `[dev-dependencies]`.
//! - `schemars`: every type in `types` (and [`NodePassword`], [`SecretString`]) implements
//!   `schemars::JsonSchema`, so `schemars::schema_for!(UpgradeClusterRequestBody)` gives the
//!   JSON Schema of a request, e.g. to check a file that holds one before sending it.
//!   Forward-compatible enums are strings that list the documented values and take any other;
//!   the lenient types list every form they read.
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod call;
mod checks;
mod client;
pub mod clock;
pub mod credentials;
pub mod error;
mod flavour;
pub mod fleet;
mod generated;
pub mod interceptor;
mod model;
pub mod operations;
pub mod password;
pub mod region;
mod requests;
mod response;
pub mod retry;
pub mod secret;
pub mod signing;
mod timestamp;
mod tls;
mod transport;
pub mod upgrade;
mod version;
pub mod waiter;

#[cfg(feature = "emulator")]
#[cfg_attr(docsrs, doc(cfg(feature = "emulator")))]
pub mod emulator;

pub use client::{
    Client, ClientBuilder, DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_CONCURRENT_REQUESTS,
    DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_REQUEST_TIMEOUT,
};
pub use credentials::{CredentialSource, Credentials, Env};
pub use error::{Error, ErrorKind, MAX_ERROR_HEADER, MAX_ERROR_SNIPPET, ServiceError};
pub use flavour::Flavour;
pub use password::NodePassword;
pub use region::Region;
/// The HTTP method of a [`Client::call_raw`].
pub use reqwest::Method;
pub use response::Response;
pub use retry::RetryConfig;
pub use secret::SecretString;
pub use timestamp::{ParseTimestampError, Timestamp, parse_go_time};
pub use tls::Certificate;
pub use version::{ParseVersionError, Version};

/// Request and response types of the operations, generated from the spec in `openapi/`, the
/// `<OperationId>Query` structs of the operations that take query parameters, and the
/// hand-written types they use (forward-compatible enums, lenient shapes).
///
/// Unknown fields in responses are ignored, enum values the SDK does not know are kept in an
/// `Unknown(String)` variant, and `null` where a list or map is expected reads as empty: a
/// service that grew since this SDK was built never fails a call.
///
/// With the `schemars` feature, every type here implements `schemars::JsonSchema`, under the
/// field names of the wire.
pub mod types {
    pub use crate::generated::queries::*;
    pub use crate::generated::types::*;
    pub use crate::model::*;
}
