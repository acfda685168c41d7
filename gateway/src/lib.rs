//! `pushca-gateway`: the reference push gateway. Apple's HTTP/2 provider
//! API on one listener per environment, a device listener for registrations
//! and notification streams, the pushca trust store enforced on every
//! connection, push and registration (PRODUCT.md, "The reference gateway").

pub mod apns;
mod devices;
mod hub;
mod provider;
pub mod server;
mod state;
mod tls;
