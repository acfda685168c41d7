//! Connecting to PostgreSQL: the URL, `sslmode` as libpq reads it, TLS
//! through rustls (ring).
//!
//! | `sslmode`     | TLS                 | the server's certificate                       |
//! |---------------|---------------------|------------------------------------------------|
//! | `disable`     | never               | -                                              |
//! | `prefer`      | if the server has it (the default) | not checked                     |
//! | `require`     | always              | not checked; with `sslrootcert`, as `verify-ca`|
//! | `verify-ca`   | always              | chains to `sslrootcert`                        |
//! | `verify-full` | always              | chains to `sslrootcert` and names the host     |
//!
//! `sslrootcert=FILE` is a PEM file of trusted certificates;
//! `sslrootcert=system` the system's bundle. A connection that does not
//! name a timeout (`connect_timeout`) gives up after 10 seconds.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};

use super::{Result, StoreError};

/// How long a connection attempt may take unless the URL says otherwise.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where `sslrootcert=system` reads the trusted certificates.
const SYSTEM_ROOTS: &str = "/etc/ssl/certs/ca-certificates.crt";

/// Whether `url` names a PostgreSQL database.
pub(crate) fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

/// A parsed URL: the client's configuration (without `sslmode` and
/// `sslrootcert`, which this module handles) and the TLS settings.
struct Target {
    config: postgres::Config,
    mode: SslMode,
    root_cert: Option<String>,
}

fn bad_url(reason: impl Into<String>) -> StoreError {
    StoreError::Url(reason.into())
}

fn percent_decode(s: &str) -> Result<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| bad_url(format!("bad percent-encoding in '{s}'")))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| bad_url(format!("'{s}' is not UTF-8")))
}

fn parse(url: &str) -> Result<Target> {
    if !is_postgres_url(url) {
        return Err(bad_url(
            "a PostgreSQL store URL starts with postgres:// or postgresql://",
        ));
    }
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let mut mode = SslMode::Prefer;
    let mut root_cert = None;
    let mut rest = Vec::new();
    for pair in query.into_iter().flat_map(|q| q.split('&')) {
        match pair.split_once('=') {
            Some(("sslmode", v)) => {
                mode = match percent_decode(v)?.as_str() {
                    "disable" => SslMode::Disable,
                    "prefer" => SslMode::Prefer,
                    "require" => SslMode::Require,
                    "verify-ca" => SslMode::VerifyCa,
                    "verify-full" => SslMode::VerifyFull,
                    other => {
                        return Err(bad_url(format!(
                            "sslmode '{other}' is not one of disable, prefer, require, verify-ca, verify-full"
                        )))
                    }
                }
            }
            Some(("sslrootcert", v)) => root_cert = Some(percent_decode(v)?),
            _ => rest.push(pair),
        }
    }
    let url = if rest.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", rest.join("&"))
    };
    let mut config = postgres::Config::from_str(&url).map_err(|e| bad_url(e.to_string()))?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    if mode == SslMode::Require && root_cert.is_some() {
        mode = SslMode::VerifyCa;
    }
    config.ssl_mode(match mode {
        SslMode::Disable => postgres::config::SslMode::Disable,
        SslMode::Prefer => postgres::config::SslMode::Prefer,
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
            postgres::config::SslMode::Require
        }
    });
    Ok(Target {
        config,
        mode,
        root_cert,
    })
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn roots(root_cert: Option<&str>, mode: SslMode) -> Result<RootCertStore> {
    let path =
        match root_cert {
            Some("system") => SYSTEM_ROOTS,
            Some(p) => p,
            None => {
                return Err(bad_url(format!(
                "sslmode {} needs sslrootcert (a PEM file of trusted certificates, or 'system')",
                if mode == SslMode::VerifyCa { "verify-ca" } else { "verify-full" }
            )))
            }
        };
    let mut store = RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| bad_url(format!("cannot read sslrootcert {path}: {e}")))?;
    for c in certs {
        let c = c.map_err(|e| bad_url(format!("cannot read sslrootcert {path}: {e}")))?;
        store
            .add(c)
            .map_err(|e| bad_url(format!("sslrootcert {path}: {e}")))?;
    }
    if store.is_empty() {
        return Err(bad_url(format!("sslrootcert {path} holds no certificate")));
    }
    Ok(store)
}

fn tls_config(t: &Target) -> Result<rustls::ClientConfig> {
    let provider = provider();
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| bad_url(format!("TLS: {e}")))?;
    let verifier: Arc<dyn ServerCertVerifier> = match t.mode {
        SslMode::Disable | SslMode::Prefer | SslMode::Require => {
            Arc::new(NoCertificateCheck(provider))
        }
        SslMode::VerifyCa | SslMode::VerifyFull => {
            let roots = roots(t.root_cert.as_deref(), t.mode)?;
            let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| bad_url(format!("TLS: {e}")))?;
            if t.mode == SslMode::VerifyCa {
                Arc::new(ChainOnly(webpki))
            } else {
                webpki
            }
        }
    };
    Ok(builder
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth())
}

/// Connects to the database `url` names.
pub(crate) fn connect(url: &str) -> Result<postgres::Client> {
    let t = parse(url)?;
    let tls = tokio_postgres_rustls::MakeRustlsConnect::new(tls_config(&t)?);
    Ok(t.config.connect(tls)?)
}

/// `prefer` and `require` without `sslrootcert`: encryption without
/// authenticating the server (libpq's meaning). The handshake signatures
/// are still verified.
#[derive(Debug)]
struct NoCertificateCheck(Arc<CryptoProvider>);

impl ServerCertVerifier for NoCertificateCheck {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca`: the chain to a trusted root, whatever name the certificate
/// carries.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sslmode_and_rootcert_are_read_from_the_url() {
        let t = parse("postgres://u@db.example/ca?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem&application_name=x").unwrap();
        assert_eq!(t.mode, SslMode::VerifyFull);
        assert_eq!(t.root_cert.as_deref(), Some("/etc/ca.pem"));
        assert_eq!(t.config.get_application_name(), Some("x"));
        assert_eq!(t.config.get_connect_timeout(), Some(&CONNECT_TIMEOUT));
        // require with a root certificate checks the chain, as libpq does.
        let t = parse("postgresql://u@h/d?sslmode=require&sslrootcert=system").unwrap();
        assert_eq!(t.mode, SslMode::VerifyCa);
        assert_eq!(parse("postgres://h/d").unwrap().mode, SslMode::Prefer);
        for bad in [
            "mysql://h/d",
            "postgres://h/d?sslmode=allow-everything",
            "postgres://h:notaport/d",
            "postgres://h/d?sslrootcert=%zz",
        ] {
            assert!(matches!(parse(bad), Err(StoreError::Url(_))), "{bad}");
        }
        // verify-* without a root certificate is refused before connecting.
        let t = parse("postgres://h/d?sslmode=verify-ca").unwrap();
        let e = tls_config(&t).map(|_| ()).unwrap_err();
        assert!(e.to_string().contains("needs sslrootcert"), "{e}");
    }
}
