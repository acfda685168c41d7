//! TLS: the server certificate and key (`pushca server-cert` files), and
//! the client verifiers built from the trust store's `ca.pem` and `crl.pem`
//! (rustls' `WebPkiClientVerifier`): optional on the provider listeners,
//! required on the device listener. ALPN `h2` only; TLS 1.2 and 1.3.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};

/// The server's certificate chain and key.
pub(crate) struct ServerKey {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
}

impl ServerKey {
    /// Reads a PEM chain (leaf first) and an unencrypted PEM private key.
    pub(crate) fn load(cert: &Path, key: &Path) -> Result<ServerKey, String> {
        let pem = read(cert)?;
        let chain = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("{}: not a PEM certificate chain: {e}", cert.display()))?;
        if chain.is_empty() {
            return Err(format!("{}: holds no PEM certificate", cert.display()));
        }
        let key_pem = read(key)?;
        if key_pem
            .windows(b"ENCRYPTED PRIVATE KEY".len())
            .any(|w| w == b"ENCRYPTED PRIVATE KEY")
            || key_pem
                .windows(b"Proc-Type: 4,ENCRYPTED".len())
                .any(|w| w == b"Proc-Type: 4,ENCRYPTED")
        {
            return Err(format!(
                "{}: the private key is encrypted; the gateway needs it unencrypted (pushca server-cert --noenc, or openssl pkey -in KEY -out PLAIN)",
                key.display()
            ));
        }
        let key_der = PrivateKeyDer::from_pem_slice(&key_pem)
            .map_err(|e| format!("{}: not a PEM private key: {e}", key.display()))?;
        Ok(ServerKey {
            chain,
            key: key_der,
        })
    }
}

/// The trust store's CA certificates and CRLs, as read for the verifiers.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct ClientTrust {
    ca_pem: Vec<u8>,
    crl_pem: Vec<u8>,
}

impl ClientTrust {
    /// Reads `ca.pem` and `crl.pem` of the trust store `dir`.
    pub(crate) fn read(dir: &Path) -> Result<ClientTrust, String> {
        Ok(ClientTrust {
            ca_pem: read(&dir.join("ca.pem"))?,
            crl_pem: read(&dir.join("crl.pem"))?,
        })
    }
}

/// Both server configurations: the provider listeners' and the device listener's.
pub(crate) struct Configs {
    /// Client certificate optional.
    pub provider: Arc<ServerConfig>,
    /// Client certificate required.
    pub devices: Arc<ServerConfig>,
    /// The device listener's verifier, to verify open connections again after a reload.
    device_verifier: Arc<dyn rustls::server::danger::ClientCertVerifier>,
}

/// Verifies a device connection's chain (DER, leaf first) again with the
/// current trust store (after a reload: revoked, expired or unknown now).
pub(crate) fn verify_device(configs: &Configs, chain: &[Vec<u8>]) -> Result<(), String> {
    let Some((leaf, rest)) = chain.split_first() else {
        return Err("no client certificate".into());
    };
    let rest: Vec<CertificateDer<'_>> = rest
        .iter()
        .map(|c| CertificateDer::from(c.as_slice()))
        .collect();
    configs
        .device_verifier
        .verify_client_cert(
            &CertificateDer::from(leaf.as_slice()),
            &rest,
            rustls_pki_types::UnixTime::now(),
        )
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Builds the configurations for `key` and the trust store's `trust`.
pub(crate) fn configs(key: &ServerKey, trust: &ClientTrust, dir: &Path) -> Result<Configs, String> {
    let name = |f: &str| -> PathBuf { dir.join(f) };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(&trust.ca_pem) {
        let c = c.map_err(|e| format!("{}: {e}", name("ca.pem").display()))?;
        roots
            .add(c)
            .map_err(|e| format!("{}: {e}", name("ca.pem").display()))?;
    }
    let roots = Arc::new(roots);
    let crls = CertificateRevocationListDer::pem_slice_iter(&trust.crl_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{}: {e}", name("crl.pem").display()))?;
    let verifier = |optional: bool| {
        let builder = WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone())
            .with_crls(crls.clone())
            .enforce_revocation_expiration();
        let builder = if optional {
            builder.allow_unauthenticated()
        } else {
            builder
        };
        builder
            .build()
            .map_err(|e| format!("client certificate verifier: {e}"))
    };
    let device_verifier = verifier(false)?;
    let build = |verifier: Arc<dyn rustls::server::danger::ClientCertVerifier>| -> Result<Arc<ServerConfig>, String> {
        let mut cfg = ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| format!("TLS: {e}"))?
            .with_client_cert_verifier(verifier)
            .with_single_cert(key.chain.clone(), key.key.clone_key())
            .map_err(|e| format!("the server certificate and key: {e}"))?;
        cfg.alpn_protocols = vec![b"h2".to_vec()];
        Ok(Arc::new(cfg))
    };
    Ok(Configs {
        provider: build(verifier(true)?)?,
        devices: build(device_verifier.clone())?,
        device_verifier,
    })
}
