#![doc = include_str!("../README.md")]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

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
pub mod validate;
pub mod waiter;

#[cfg(feature = "emulator")]
pub mod emulator;

pub use client::{Client, ClientBuilder, DEFAULT_CONNECT_TIMEOUT, DEFAULT_REQUEST_TIMEOUT};
pub use credentials::{CredentialSource, Credentials, Env};
pub use error::{Error, ErrorKind, ServiceError};
pub use password::NodePassword;
pub use region::Region;
pub use response::Response;
pub use retry::RetryConfig;
pub use secret::SecretString;
pub use timestamp::{ParseTimestampError, Timestamp, parse_go_time};

/// Request and response types of the five operations, generated from `openapi/cce-upgrade.yaml`,
/// and the hand-written types they use (forward-compatible enums, lenient shapes).
///
/// Unknown fields in responses are ignored, enum values the SDK does not know are kept in an
/// `Unknown(String)` variant, and `null` where a list or map is expected reads as empty: a
/// service that grew since this SDK was built never fails a call.
pub mod types {
    pub use crate::generated::types::*;
    pub use crate::model::*;
}
