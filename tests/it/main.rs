//! The integration tests, one binary (one link) for every suite: each module
//! was its own `tests/*.rs` binary before; `common` holds the shared helpers.

// Test code: a failed unwrap is a failed test (Cargo.toml denies them elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

mod ci;
mod cli_basics;
mod client;
mod convert_key;
mod convert_p12_read;
mod convert_p12_write;
mod convert_pem;
mod csr_interop;
mod fixture_home;
mod gateway;
mod gateway_check_token;
mod gateway_token;
mod hostile;
mod identity;
mod issue_batch;
mod issue_interop;
mod json_docs;
mod keys;
mod no_panic;
mod output_safety;
mod pg;
mod profiles;
mod replicas;
mod revocation;
mod safety;
mod serve;
mod wizard;
