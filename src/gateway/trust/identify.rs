//! Rules 1-2: a provider's chain verified (rustls-webpki, the store's CRLs,
//! EKU clientAuth of the leaf) and what the store grants it, cached by the
//! leaf's fingerprint.

use std::sync::Arc;

use rustls_pki_types::{CertificateDer, UnixTime};
use webpki::{
    CertRevocationList, EndEntityCert, ExpirationPolicy, RevocationCheckDepth,
    RevocationOptionsBuilder, UnknownStatusPolicy,
};

use super::{env_index, unix_now, Identity, IdentityData, TrustStore, MAX_CACHED};
use crate::gateway::{Denied, Reason};
use crate::x509::{sha256, CertSummary};

impl TrustStore {
    /// Rules 1-2: the chain (DER, leaf first) verifies to the trust store's
    /// root now, with EKU clientAuth, and the leaf is not revoked by the CRL.
    /// Cached by the leaf's fingerprint for this snapshot.
    pub(crate) fn identify<C: AsRef<[u8]>>(
        store: &Arc<TrustStore>,
        chain: &[C],
    ) -> Result<Identity, Denied> {
        Self::identify_shared(
            store,
            Arc::new(chain.iter().map(|c| c.as_ref().to_vec()).collect()),
            unix_now(),
        )
    }

    /// [`TrustStore::identify`] at `now` (unix seconds).
    pub(crate) fn identify_at<C: AsRef<[u8]>>(
        store: &Arc<TrustStore>,
        chain: &[C],
        now: i64,
    ) -> Result<Identity, Denied> {
        Self::identify_shared(
            store,
            Arc::new(chain.iter().map(|c| c.as_ref().to_vec()).collect()),
            now,
        )
    }

    /// [`TrustStore::identify`] of a chain already shared by an identity.
    pub(crate) fn identify_shared(
        store: &Arc<TrustStore>,
        chain: Arc<Vec<Vec<u8>>>,
        now: i64,
    ) -> Result<Identity, Denied> {
        let deny = |detail: String| Denied {
            reason: Reason::BadCertificate,
            detail,
        };
        if now >= store.expires_at {
            return Err(Denied {
                reason: Reason::ServiceUnavailable,
                detail: format!(
                    "the trust store expired at {}",
                    crate::timeutil::rfc3339(store.expires_at)
                ),
            });
        }
        let leaf = chain
            .first()
            .ok_or_else(|| deny("no client certificate".into()))?
            .as_ref();
        let fingerprint = sha256(leaf);
        if let Ok(cache) = store.cache.read() {
            if let Some(d) = cache.get(&fingerprint) {
                if now < d.valid_until {
                    return Ok(Identity {
                        generation: store.generation,
                        data: d.clone(),
                        chain,
                        fingerprint,
                    });
                }
            }
        }
        let data = Arc::new(store.validate(leaf, &chain[1..], now, &fingerprint)?);
        if let Ok(mut cache) = store.cache.write() {
            if cache.len() >= MAX_CACHED {
                cache.clear();
            }
            cache.insert(fingerprint, data.clone());
        }
        Ok(Identity {
            generation: store.generation,
            data,
            chain,
            fingerprint,
        })
    }

    fn validate<C: AsRef<[u8]>>(
        &self,
        leaf: &[u8],
        rest: &[C],
        now: i64,
        fingerprint: &[u8; 32],
    ) -> Result<IdentityData, Denied> {
        let deny = |detail: String| Denied {
            reason: Reason::BadCertificate,
            detail,
        };
        let leaf_der = CertificateDer::from(leaf);
        let ee = EndEntityCert::try_from(&leaf_der).map_err(|e| deny(format!("{e:?}")))?;
        let mut inter: Vec<CertificateDer<'_>> = rest
            .iter()
            .map(|c| CertificateDer::from(c.as_ref()))
            .collect();
        inter.extend(self.intermediates.iter().cloned());
        let crl_refs: Vec<&CertRevocationList<'_>> = self.crls.iter().collect();
        let revocation = RevocationOptionsBuilder::new(&crl_refs)
            .map_err(|_| deny("no CRL".into()))?
            .with_depth(RevocationCheckDepth::EndEntity)
            .with_status_policy(UnknownStatusPolicy::Deny)
            .with_expiration_policy(ExpirationPolicy::Enforce)
            .build();
        let t = UnixTime::since_unix_epoch(std::time::Duration::from_secs(now.max(0) as u64));
        ee.verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            &self.anchors,
            &inter,
            t,
            webpki::KeyUsage::client_auth(),
            Some(revocation),
            None,
        )
        .map_err(|e| {
            deny(match e {
                webpki::Error::CertRevoked => "the certificate is revoked".to_string(),
                webpki::Error::CertExpired { .. } => "the certificate has expired".to_string(),
                webpki::Error::UnknownIssuer => {
                    "the certificate is not issued by this trust store's CA".to_string()
                }
                webpki::Error::RequiredEkuNotFoundContext(_) => {
                    "the certificate is not for TLS client authentication (EKU clientAuth required)"
                        .to_string()
                }
                other => format!("{other:?}"),
            })
        })?;
        let s = CertSummary::from_der(leaf).map_err(|e| deny(e.to_string()))?;
        // EKU clientAuth is required of the leaf, not only "if present":
        // webpki checks every certificate of the path with one policy (CA
        // certificates carry no EKU), so the leaf's presence is checked here.
        if !s.extended_key_usage.iter().any(|e| e == "clientAuth") {
            return Err(deny(
                "the certificate is not for TLS client authentication (no EKU clientAuth)".into(),
            ));
        }
        let bundle_id = s
            .bundle_id
            .clone()
            .ok_or_else(|| deny("the certificate has no UID (bundle ID)".into()))?;
        let mut envs = [false; 2];
        for e in &s.environments {
            envs[env_index(*e)] = true;
        }
        let mut grants: [Vec<u32>; 2] = [Vec::new(), Vec::new()];
        for &pi in self
            .by_cert
            .get(fingerprint)
            .map(Vec::as_slice)
            .unwrap_or(&[])
        {
            let p = &self.profiles[pi as usize];
            grants[env_index(p.env)].push(pi);
        }
        Ok(IdentityData {
            bundle_id,
            topics: s
                .topics
                .into_iter()
                .map(|t| {
                    let app = self.topics.get(&t).copied().unwrap_or(u32::MAX);
                    (t, app)
                })
                .collect(),
            envs,
            grants,
            valid_until: s.not_after.min(self.expires_at),
        })
    }
}
