//! The tests that talk over a socket: the client against the emulator or a scripted server on
//! loopback. One binary, one module per suite, so tokio, reqwest, hyper and rustls are linked
//! once; the helpers they share are in `tests/common/`.
//!
//! A new socket suite is a module here, not a new `tests/*.rs` (each of those is one more
//! binary to compile and link): put it in `tests/api/`, add its `mod` line below, and write
//! `use crate::common;` where a file of its own would write `mod common;`.

#[path = "../common/mod.rs"]
mod common;

mod cli;
mod clusters;
mod concurrency;
mod emulator_limits;
mod errors_and_auth;
mod example_flows;
mod family_operations;
mod faults;
mod fleet;
mod hostile;
mod operation_list;
mod operations;
mod reconciler;
mod upgrade_driver;
mod waiters;
