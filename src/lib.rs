//! pushca — a self-hosted certificate authority and developer portal for an
//! APNs-style push gateway.
//!
//! The library is the product: the `pushca` binary only parses flags, calls
//! [`ops`] and renders the results. Nothing in here prints, prompts, reads
//! environment variables or exits, and it builds without the terminal crates
//! (`cargo build --lib --no-default-features`).
//!
//! Layers (dependencies point down only):
//! - application: [`ops`] — one function per user-visible operation
//! - domain: [`ca`] (hierarchy, CSR checks, issuance, CRLs, templates),
//!   [`portal`] (teams, App IDs, devices, provisioning profiles), [`gateway`]
//!   (trust store, policy, enforcement), [`pkcs12`], [`certfile`] (conversions)
//! - primitives: [`pem`], [`keys`], [`x509ext`], [`secret`], [`cms`],
//!   [`chain`] (path validation), [`plist`], [`pbe`], [`timeutil`],
//!   [`der_limits`] (the SET OF pre-scan before any `der` decoder)
//! - infrastructure: [`store`] (the only module that knows SQL), [`fsutil`], [`home`]

#![forbid(unsafe_code)]
#![warn(unreachable_pub)]

#[cfg(feature = "ca")]
pub mod ca;
pub mod certfile;
pub mod chain;
pub mod cms;
pub mod der_limits;
pub mod fsutil;
pub mod gateway;
#[cfg(feature = "ca")]
pub mod home;
#[cfg(feature = "ca")]
pub mod keys;
#[cfg(feature = "ca")]
pub mod ops;
mod par;
#[cfg(feature = "ca")]
pub mod pbe;
pub mod pem;
#[cfg(feature = "ca")]
pub mod pkcs12;
pub mod plist;
#[cfg(feature = "ca")]
pub mod portal;
pub mod profile;
#[cfg(feature = "ca")]
pub mod secret;
#[cfg(feature = "ca")]
pub mod store;
pub mod timeutil;
pub mod x509;
pub mod x509ext;
