//! pushca — a self-hosted certificate authority and developer portal for an
//! APNs-style push gateway.
//!
//! The library is the product: the `pushca` binary only parses flags, calls
//! `ops` and renders the results. Nothing in here prints, prompts, reads
//! environment variables or exits.
//!
//! Features: without default features the library is the gateway's
//! verification core ([`gateway`], [`profile`], [`cms`] verification,
//! [`chain`], [`x509`], [`x509ext`], [`certfile`], [`plist`], [`pem`],
//! [`der_limits`], [`fsutil`], [`timeutil`]): what a push gateway embeds,
//! without rcgen, rsa, SQLite, the PKCS#12 writer or the ciphers
//! (`cargo build --lib --no-default-features`). `ca` adds the issuing side
//! (`ca`, `keys`, `secret`, `pbe`, `p12`, `store`, `portal`, `home`,
//! `ops`, trust-store publishing, CMS signing); `cli` (the default) adds the
//! binary's terminal crates.
//!
//! The public API is narrow: an item is public only when the binary, a
//! gateway or the tests outside the crate use it (the gateway's entry point is
//! [`gateway::Gateway`]); everything else is `pub(crate)`. The gateway core's
//! modules warn on a public item without documentation.
//!
//! Layers (dependencies point down only):
//! - application: `ops` — one function per user-visible operation
//! - domain: `ca` (hierarchy, CSR checks, issuance, CRLs, templates),
//!   `portal` (teams, App IDs, devices, building profiles), [`profile`]
//!   (reading and verifying profiles), [`gateway`] (trust store, policy,
//!   enforcement), `p12`, [`certfile`] (conversions)
//! - primitives: [`pem`], `keys`, [`x509`] (the one `CertSummary` and
//!   SHA-256), [`x509ext`], `secret`, [`cms`], [`chain`] (path validation),
//!   [`plist`], `pbe`, [`timeutil`], [`der_limits`] (the SET OF pre-scan
//!   before any `der` decoder), [`error`] (the [`error::ErrorKind`] that
//!   every error type's `kind()` answers)
//! - infrastructure: `store` (the only module that knows SQL), [`fsutil`], `home`

#![forbid(unsafe_code)]
#![warn(unreachable_pub)]
#![warn(missing_docs)]

#[cfg(feature = "ca")]
pub mod ca;
pub mod certfile;
pub mod chain;
pub mod cms;
pub mod der_limits;
pub mod error;
pub mod fsutil;
pub mod gateway;
#[cfg(feature = "ca")]
pub mod home;
#[cfg(feature = "ca")]
pub mod keys;
#[cfg(feature = "ca")]
pub mod ops;
#[cfg(feature = "ca")]
pub mod p12;
mod par;
#[cfg(feature = "ca")]
pub mod pbe;
pub mod pem;
pub mod plist;
#[cfg(feature = "ca")]
pub mod portal;
pub mod profile;
#[cfg(feature = "ca")]
pub mod secret;
#[cfg(feature = "ca")]
pub mod store;
pub mod text;
pub mod timeutil;
pub mod x509;
pub mod x509ext;
