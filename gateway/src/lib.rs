//! `pushca-gateway`: the reference push gateway for pushca trust stores.
//!
//! [`apns`] holds Apple's provider API rules as pure functions (no
//! networking): what a request must look like, the topic it goes to, and the
//! status and reason of every refusal.

#![forbid(unsafe_code)]
#![warn(unreachable_pub)]
#![warn(missing_docs)]

pub mod apns;
