#![doc = include_str!("../README.md")]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod call;
mod checks;
mod client;
pub mod credentials;
pub mod error;
mod generated;
mod model;
pub mod password;
pub mod region;
mod requests;
mod response;
pub mod retry;
pub mod secret;
pub mod signing;
mod timestamp;
pub mod waiter;

#[cfg(feature = "emulator")]
#[cfg_attr(docsrs, doc(cfg(feature = "emulator")))]
pub mod emulator;

pub use client::{
    Client, ClientBuilder, DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_REQUEST_TIMEOUT,
};
pub use credentials::{CredentialSource, Credentials, Env};
pub use error::{Error, ErrorKind, MAX_ERROR_HEADER, MAX_ERROR_SNIPPET, ServiceError};
pub use password::NodePassword;
pub use region::Region;
pub use response::Response;
pub use retry::RetryConfig;
pub use secret::SecretString;
pub use timestamp::{ParseTimestampError, Timestamp, parse_go_time};

/// Request and response types of the operations, generated from the spec in `openapi/`, the
/// `<OperationId>Query` structs of the operations that take query parameters, and the
/// hand-written types they use (forward-compatible enums, lenient shapes).
///
/// Unknown fields in responses are ignored, enum values the SDK does not know are kept in an
/// `Unknown(String)` variant, and `null` where a list or map is expected reads as empty: a
/// service that grew since this SDK was built never fails a call.
pub mod types {
    pub use crate::generated::queries::*;
    pub use crate::generated::types::*;
    pub use crate::model::*;
}
