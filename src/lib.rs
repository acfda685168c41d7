//! pushca — a self-hosted certificate authority and developer portal for an
//! APNs-style push gateway.
//!
//! The library is the product: the `pushca` binary only parses flags, calls these
//! modules and renders their results. Nothing in here prints, prompts or exits.
//!
//! - [`fsutil`]: atomic writes, permissions, secret sources
//! - [`keys`]: key generation, PKCS#8 encoding, reading every private key format
//! - [`certfile`]: certificates from PEM or DER files, key/certificate matching
//! - [`pkcs12`]: reading and writing `.p12` files
//! - [`store`]: the SQLite store in the pushca home, migrations and locking
//! - [`portal`]: teams and App IDs
//! - [`ca`]: templates, CA hierarchy, CSR checks, push certificate issuance

pub mod ca;
pub mod certfile;
pub mod fsutil;
pub mod home;
pub mod keys;
pub mod pem;
pub mod pkcs12;
pub mod portal;
pub mod secret;
pub mod store;
