//! Loading a trust store: the files through one directory handle, the
//! policy's detached signature, the hashes, the CRLs and the store's expiry;
//! then the profiles ([`super::profiles`]) and the index.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::RwLock;

use rustls_pki_types::{CertificateDer, TrustAnchor};
use webpki::{CertRevocationList, OwnedCertRevocationList};

use super::profiles::{profile_jobs, verify_profiles, Index, ProfileJob, VerifyCtx};
use super::token::Tokens;
use super::{unix_now, LoadOptions, TrustStore, GENERATION};
use crate::gateway::dir::{split_name, StoreDir};
use crate::gateway::policy::{Policy, FORMAT};
use crate::gateway::{Anchor, GatewayError, PolicySignatureError};
use crate::gateway::{CA_PEM, CRL_PEM, POLICY_JSON, POLICY_P7S, PROFILES_DIR};
use crate::x509::{sha256, sha256_hex};

impl TrustStore {
    /// Loads a trust store directory and verifies all of it against the
    /// pinned `anchor`: `ca.pem`'s root is the anchor; the detached
    /// signature of `policy.json` (by a profile signer chaining to the
    /// anchor); the SHA-256 of every file against `policy.json`, no unlisted
    /// file; the CRLs; the store's freshness (`expires_at`, every CRL's
    /// nextUpdate); and every profile against the policy. Anything that does
    /// not verify is an error. Files are read through one directory handle,
    /// so a load that overlaps a publish reads one version.
    #[cfg(feature = "ca")]
    pub(crate) fn load(dir: impl AsRef<Path>, anchor: &Anchor) -> Result<TrustStore, GatewayError> {
        TrustStore::load_with(dir, anchor, LoadOptions::default(), None)
    }

    /// [`TrustStore::load`] with [`LoadOptions`], reusing the content of the
    /// profiles `previous` verified whose files are byte-identical (same
    /// SHA-256, itself covered by the verified policy signature): a reload
    /// re-verifies only new profiles (every signer's chain is checked again,
    /// now).
    pub(crate) fn load_with(
        dir: impl AsRef<Path>,
        anchor: &Anchor,
        options: LoadOptions,
        previous: Option<&TrustStore>,
    ) -> Result<TrustStore, GatewayError> {
        let now = options.at.unwrap_or_else(unix_now);
        let dir = StoreDir::open(dir.as_ref())?;
        let policy_path = dir.path().join(POLICY_JSON);
        // 1. The policy's signature, by a profile signer of the pinned root:
        // checked before any of the JSON is parsed.
        let signed = signed_policy(&dir, anchor, now)?;
        if signed.policy.version < options.min_version {
            return Err(GatewayError::Rollback {
                found: signed.policy.version,
                current: options.min_version,
            });
        }
        let policy_expires = parse_time(&policy_path, &signed.policy.expires_at)?;
        // 2. Every file's hash; no file that the policy does not list.
        check_files(&dir, &signed)?;
        // 3. The CRLs (their signatures are checked by webpki when used) and
        // the store's expiry.
        let expires_at = expiry(&policy_path, &signed, policy_expires, now)?;
        let SignedPolicy {
            policy,
            sha256: policy_sha256,
            roots,
            intermediates,
            crls,
            ..
        } = signed;
        let crls: Vec<CertRevocationList<'static>> = crls.into_iter().map(|(c, _)| c).collect();
        // 4. Profiles: each verified, and equal to what the policy says.
        let jobs = profile_jobs(&policy_path, &policy)?;
        let ctx = VerifyCtx::new(&dir, &policy, &roots, &crls, now);
        let ctx = ctx.reusing(previous.map(|p| &p.verified), options);
        let (loaded, verified) = verify_profiles(&jobs, ctx)?;
        check_unused_profile_files(&dir, &policy, &jobs)?;
        // 5. Index.
        let index = Index::build(&policy_path, &policy, loaded)?;
        let tokens = Tokens::build(&policy_path, &policy, &index.apps, index.by_app.len())?;
        let anchors = trust_anchors(&dir, &roots)?;
        Ok(TrustStore {
            generation: GENERATION.fetch_add(1, Ordering::Relaxed),
            policy,
            policy_sha256,
            expires_at,
            anchors,
            intermediates: intermediates
                .into_iter()
                .map(CertificateDer::from)
                .collect(),
            crls,
            profiles: index.profiles,
            apps: index.apps,
            topics: index.topics,
            by_cert: index.by_cert,
            by_app: index.by_app,
            app_disabled: index.app_disabled,
            cache: RwLock::new(HashMap::default()),
            verified,
            tokens,
        })
    }
}

/// Step 2: the SHA-256 of every file against the policy (`ca.pem` and
/// `crl.pem`: the bytes already used; profiles: read, hashed and verified
/// in parallel at step 4), and no file that the policy does not list.
fn check_files(dir: &StoreDir, signed: &SignedPolicy) -> Result<(), GatewayError> {
    let policy = &signed.policy;
    let mut hashed: HashSet<&str> = HashSet::new();
    for (file, expected) in &policy.files {
        let Some((in_profiles, _)) = split_name(file) else {
            return Err(invalid(
                &dir.path().join(POLICY_JSON),
                format!("bad file name '{file}'"),
            ));
        };
        if in_profiles {
            continue;
        }
        match file.as_str() {
            CA_PEM => check_hash(file, expected, &signed.ca_bytes)?,
            CRL_PEM => check_hash(file, expected, &signed.crl_bytes)?,
            _ => check_hash(file, expected, &read(dir, file)?)?,
        };
        hashed.insert(file.as_str());
    }
    check_no_unlisted(dir, policy)?;
    for f in [CA_PEM, CRL_PEM] {
        if !hashed.contains(f) {
            return Err(GatewayError::UnlistedFile(format!("{f} (not hashed)")));
        }
    }
    Ok(())
}

/// Step 3: when the store stops allowing anything, the first of the
/// policy's `expires_at`, every CRL's nextUpdate and the policy's CRL
/// nextUpdate. A store past it is refused: it cannot know what was revoked
/// or disabled since.
fn expiry(
    policy_path: &Path,
    signed: &SignedPolicy,
    policy_expires: i64,
    now: i64,
) -> Result<i64, GatewayError> {
    let mut expires_at = policy_expires;
    for (_, next) in &signed.crls {
        expires_at = expires_at.min(*next);
    }
    let crl_next_update = parse_time(policy_path, &signed.policy.crl.next_update)?;
    expires_at = expires_at.min(crl_next_update);
    if now >= expires_at {
        return Err(GatewayError::Expired {
            expires_at: crate::timeutil::rfc3339(expires_at),
        });
    }
    Ok(expires_at)
}

/// A profile file listed but used by no App ID: hash-checked all the same.
fn check_unused_profile_files(
    dir: &StoreDir,
    policy: &Policy,
    jobs: &[ProfileJob<'_>],
) -> Result<(), GatewayError> {
    let used: HashSet<&str> = jobs.iter().map(|j| j.3.file.as_str()).collect();
    for (file, expected) in &policy.files {
        if file.starts_with(&format!("{PROFILES_DIR}/")) && !used.contains(file.as_str()) {
            check_hash(file, expected, &read(dir, file)?)?;
        }
    }
    Ok(())
}

/// The roots of `ca.pem` as webpki's trust anchors.
fn trust_anchors(
    dir: &StoreDir,
    roots: &[Vec<u8>],
) -> Result<Vec<TrustAnchor<'static>>, GatewayError> {
    roots
        .iter()
        .map(|r| {
            webpki::anchor_from_trusted_cert(&CertificateDer::from(r.as_slice()))
                .map(|a| a.to_owned())
                .map_err(|e| malformed(&dir.path().join(CA_PEM), e))
        })
        .collect()
}

/// [`GatewayError::Malformed`]: `path` does not parse, `e` says why.
pub(super) fn malformed(
    path: &Path,
    e: impl std::error::Error + Send + Sync + 'static,
) -> GatewayError {
    GatewayError::Malformed {
        path: path.to_path_buf(),
        source: Box::new(e),
    }
}

pub(super) fn invalid(path: &Path, reason: impl Into<String>) -> GatewayError {
    GatewayError::Invalid {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

pub(super) fn read(dir: &StoreDir, rel: &str) -> Result<Vec<u8>, GatewayError> {
    dir.read(rel, crate::fsutil::MAX_INPUT_BYTES)
}

fn parse_time(path: &Path, s: &str) -> Result<i64, GatewayError> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map(|t| t.unix_timestamp())
        .map_err(|_| invalid(path, format!("'{s}' is not an RFC 3339 time")))
}

fn is_self_signed(der: &[u8]) -> bool {
    x509_parser::parse_x509_certificate(der)
        .is_ok_and(|(_, c)| c.subject() == c.issuer() && c.verify_signature(None).is_ok())
}

/// What [`verified_policy`] found: the policy whose detached signature, by
/// a profile signer chaining to the anchor, covers exactly its bytes.
pub(crate) struct SignedPolicy {
    pub(crate) policy: Policy,
    pub(crate) sha256: [u8; 32],
    /// Every certificate of `ca.pem`: the anchor first, then the rest.
    pub(crate) roots: Vec<Vec<u8>>,
    pub(crate) intermediates: Vec<Vec<u8>>,
    pub(crate) ca_bytes: Vec<u8>,
    pub(crate) crl_bytes: Vec<u8>,
    /// The CRLs of `crl.pem`, each with its nextUpdate.
    pub(crate) crls: Vec<(CertRevocationList<'static>, i64)>,
}

/// The CRLs of a `crl.pem` (PEM blocks `X509 CRL`), each with its
/// nextUpdate (a CRL without one is refused: it would never expire).
fn parse_crls(
    path: &Path,
    bytes: &[u8],
) -> Result<Vec<(CertRevocationList<'static>, i64)>, GatewayError> {
    let mut crls = Vec::new();
    for block in crate::pem::blocks(bytes).map_err(|e| malformed(path, e))? {
        if block.label != "X509 CRL" {
            return Err(invalid(
                path,
                format!("unexpected PEM block {}", block.label),
            ));
        }
        let next = crl_next_update_of(path, &block.der)?;
        let owned =
            OwnedCertRevocationList::from_der(&block.der).map_err(|e| malformed(path, e))?;
        crls.push((CertRevocationList::from(owned), next));
    }
    if crls.is_empty() {
        return Err(invalid(path, "holds no CRL"));
    }
    Ok(crls)
}

/// DER certificates.
type Certs = Vec<Vec<u8>>;

/// The certificates of `ca.pem`, split into its roots (exactly one: the
/// pinned anchor) and the rest.
fn pinned_root(
    ca_path: &Path,
    ca_bytes: &[u8],
    anchor: &Anchor,
) -> Result<(Certs, Certs), GatewayError> {
    let ca_certs =
        crate::certfile::read_certificates(ca_bytes).map_err(|e| malformed(ca_path, e))?;
    let (roots, inter): (Certs, Certs) = ca_certs.into_iter().partition(|c| is_self_signed(c));
    match roots.as_slice() {
        [one] if one.as_slice() == anchor.der() => {}
        [] => return Err(invalid(ca_path, "holds no self-signed root CA certificate")),
        [one] => {
            let subject = x509_parser::parse_x509_certificate(one)
                .map(|(_, c)| c.subject().to_string())
                .unwrap_or_default();
            return Err(GatewayError::ForeignRoot {
                found: format!("{subject}, sha256 {}", sha256_hex(one)),
                pinned: format!("{}, sha256 {}", anchor.subject(), anchor.sha256()),
            });
        }
        more => {
            return Err(invalid(
                ca_path,
                format!(
                    "holds {} root certificates; a trust store has one",
                    more.len()
                ),
            ))
        }
    }
    Ok((roots, inter))
}

/// Step 1 of every load: `ca.pem`'s root is the pinned anchor, and
/// `policy.json.p7s` is a detached signature (no content of its own) over
/// exactly the bytes of `policy.json` by a profile signer that chains to the
/// anchor at `now`. The policy is parsed from the verified bytes, and only
/// then. Its `format` is checked; its version and expiry are the caller's.
fn signed_policy(dir: &StoreDir, anchor: &Anchor, now: i64) -> Result<SignedPolicy, GatewayError> {
    let policy_path = dir.path().join(POLICY_JSON);
    let policy_bytes = dir.read(POLICY_JSON, crate::fsutil::MAX_POLICY_BYTES)?;
    let p7s = read(dir, POLICY_P7S)?;
    let ca_path = dir.path().join(CA_PEM);
    let ca_bytes = read(dir, CA_PEM)?;
    let (roots, inter) = pinned_root(&ca_path, &ca_bytes, anchor)?;
    let signed = crate::cms::verify(&p7s, crate::cms::Content::Detached(&policy_bytes))
        .map_err(|e| GatewayError::PolicySignature(PolicySignatureError::Cms(e)))?;
    // The CRLs (signed by the CA: authentic, if perhaps not the newest until
    // the policy's hash of crl.pem is checked) revoke a profile signer too.
    let crl_bytes = read(dir, CRL_PEM)?;
    let crls = parse_crls(&dir.path().join(CRL_PEM), &crl_bytes)?;
    let crl_refs: Vec<&CertRevocationList<'_>> = crls.iter().map(|(c, _)| c).collect();
    let mut chain_pool = inter.clone();
    chain_pool.extend(
        signed
            .certificates
            .iter()
            .filter(|c| **c != signed.signer_cert_der)
            .cloned(),
    );
    crate::chain::verify(
        &signed.signer_cert_der,
        &chain_pool,
        std::slice::from_ref(&anchor.der().to_vec()),
        now,
        crate::chain::Usage::ProfileSigning,
        &crl_refs,
    )
    .map_err(|e| GatewayError::PolicySignature(PolicySignatureError::Signer(e)))?;
    // What is parsed is what was verified.
    let policy: Policy =
        serde_json::from_slice(&signed.content).map_err(|e| malformed(&policy_path, e))?;
    if policy.format != FORMAT {
        return Err(invalid(
            &policy_path,
            format!("format '{}' is not {FORMAT}", policy.format),
        ));
    }
    let sha256 = sha256(&signed.content);
    Ok(SignedPolicy {
        policy,
        sha256,
        roots,
        intermediates: inter,
        ca_bytes,
        crl_bytes,
        crls,
    })
}

/// The policy of the trust store in `dir`, if its signature verifies
/// against `anchor` (see [`signed_policy`]); its expiry and the rest of the
/// files are not checked. What a publisher trusts of an existing output
/// (its version), and nothing more.
#[cfg(feature = "ca")]
pub(crate) fn verified_policy(
    dir: &Path,
    anchor: &Anchor,
    now: i64,
) -> Result<Policy, GatewayError> {
    let d = StoreDir::open(dir)?;
    signed_policy(&d, anchor, now).map(|p| p.policy)
}

/// nextUpdate of a DER CRL (a CRL without one never expires: refused).
fn crl_next_update_of(path: &Path, der: &[u8]) -> Result<i64, GatewayError> {
    let (_, crl) = x509_parser::parse_x509_crl(der).map_err(|e| malformed(path, e))?;
    crl.next_update()
        .map(|t| t.timestamp())
        .ok_or_else(|| invalid(path, "a CRL without nextUpdate"))
}

/// The file's SHA-256, if it is the one `expected` (hex) says.
pub(super) fn check_hash(
    file: &str,
    expected: &str,
    bytes: &[u8],
) -> Result<[u8; 32], GatewayError> {
    let sha = sha256(bytes);
    let found = hex::encode(sha);
    if found != expected {
        return Err(GatewayError::HashMismatch {
            file: file.to_string(),
            expected: expected.to_string(),
            found,
        });
    }
    Ok(sha)
}

fn check_no_unlisted(dir: &StoreDir, policy: &Policy) -> Result<(), GatewayError> {
    for name in dir.list()? {
        if name != POLICY_JSON && name != POLICY_P7S && !policy.files.contains_key(&name) {
            return Err(GatewayError::UnlistedFile(name));
        }
    }
    Ok(())
}
