//! `pushca-gateway`: the reference push gateway. Apple's HTTP/2 provider
//! API on one listener per environment, a device listener for registrations
//! and notification streams, the pushca trust store enforced on every
//! connection, push and registration (PRODUCT.md, "The reference gateway").
//!
//! [`apns`] holds Apple's provider API rules as pure functions (no
//! networking): what a request must look like, the topic it goes to, and the
//! status and reason of every refusal.

#![forbid(unsafe_code)]
#![warn(unreachable_pub)]
#![warn(missing_docs)]

pub mod apns;
mod devices;
pub mod events;
mod hub;
pub mod log;
pub mod metrics;
mod provider;
mod provider_conn;
mod provider_token;
pub mod server;
mod state;
mod tls;
