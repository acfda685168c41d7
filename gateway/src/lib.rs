//! pushca-gateway
#![allow(missing_docs)]
pub mod apns;
