//! The files of a gateway trust store, built from plain inputs (the `ops`
//! layer reads them from the store): `ca.pem`, `crl.pem`, `truststore.p12`,
//! `profiles/<UUID>.mobileprovision`, `policy.json` and its detached CMS
//! signature `policy.json.p7s` by the profile signer.

use std::collections::BTreeMap;

use super::policy::{
    AppPolicy, CaInfo, CrlInfo, Policy, ProfilePolicy, TeamPolicy, TopicInfo, FORMAT,
};
use super::{CA_PEM, CRL_PEM, POLICY_JSON, POLICY_P7S, PROFILES_DIR, TRUSTSTORE_P12};
use crate::ca::Issuer;

/// Why the files of a trust store cannot be built.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub(crate) enum BuildError {
    /// An encoding or signing step failed.
    #[error("cannot build the trust store: {0}")]
    Build(#[source] crate::error::BoxError),
    /// A CRL that webpki cannot read.
    #[error("cannot build the trust store: CRL: {0}")]
    Crl(#[source] webpki::Error),
    /// A listed profile whose signature or signer does not verify.
    #[error("cannot build the trust store: profile {uuid} does not verify: {source}")]
    Profile {
        /// The profile's UUID.
        uuid: String,
        /// Why it does not verify.
        #[source]
        source: crate::profile::ProfileError,
    },
}

fn build(e: impl Into<crate::error::BoxError>) -> BuildError {
    BuildError::Build(e.into())
}

/// A current profile going into the trust store.
#[derive(Debug, Clone)]
pub(crate) struct ProfileInput {
    /// What the policy says of it.
    pub(crate) policy: ProfilePolicy,
    /// Its App ID's bundle ID.
    pub(crate) bundle_id: String,
    /// `development` or `production`.
    pub(crate) environment: String,
    /// The signed profile (DER).
    pub(crate) der: Vec<u8>,
}

/// An App ID in the policy (enabled, with push).
#[derive(Debug, Clone)]
pub(crate) struct AppInput {
    /// The bundle ID.
    pub(crate) bundle_id: String,
    /// Its team.
    pub(crate) team_id: String,
    /// (topic, kind) pairs: `<id>`/app, `<id>.voip`/voip, `<id>.complication`/complication.
    pub(crate) topics: Vec<(String, String)>,
}

/// Everything a trust store is made of.
pub(crate) struct Inputs<'a> {
    /// Root first, then the issuing CA.
    pub(crate) ca_certs: &'a [Vec<u8>],
    /// DER CRLs: the issuing CA's first (what `openssl -CRL` reads), then the
    /// root's (nginx checks every level of the chain).
    pub(crate) crls: &'a [Vec<u8>],
    /// The issuing CA's CRL, for the policy.
    pub(crate) crl: CrlInfo,
    /// Every enabled App ID with push (with a current profile or not).
    pub(crate) apps: &'a [AppInput],
    /// Team ID -> its disabled devices (teams of `apps` missing here have
    /// none).
    pub(crate) disabled_devices: &'a BTreeMap<String, Vec<String>>,
    /// The current profiles.
    pub(crate) profiles: &'a [ProfileInput],
    /// Key ID -> the auth keys of the home, revoked ones included.
    pub(crate) keys: BTreeMap<String, super::policy::KeyPolicy>,
    /// SHA-256 over the inputs (see [`Policy::inputs_sha256`]).
    pub(crate) inputs_sha256: String,
    /// RFC 3339.
    pub(crate) generated_at: String,
    /// The publish counter of the home (see [`Policy::version`]).
    pub(crate) version: u64,
    /// RFC 3339; no later than the earliest CRL nextUpdate.
    pub(crate) expires_at: String,
}

/// Verifies each profile's CMS signature and its signer's chain to `anchors`
/// (on all cores) before the signed policy vouches for its SHA-256: a
/// gateway's [`super::TrustStore::load`] relies on that signature.
fn verify_listed(
    profiles: &[ProfileInput],
    anchors: &[Vec<u8>],
    crls: &[Vec<u8>],
    now: i64,
    tick: &(dyn Fn() + Sync),
) -> Result<(), BuildError> {
    let parsed = crls
        .iter()
        .map(|d| webpki::OwnedCertRevocationList::from_der(d).map(webpki::CertRevocationList::from))
        .collect::<Result<Vec<_>, _>>()
        .map_err(BuildError::Crl)?;
    let crl_refs: Vec<&webpki::CertRevocationList<'_>> = parsed.iter().collect();
    let one = |p: &ProfileInput| -> Result<(), BuildError> {
        let fail = |source| BuildError::Profile {
            uuid: p.policy.uuid.clone(),
            source,
        };
        let signed = crate::profile::verify_signature(&p.der).map_err(fail)?;
        crate::profile::check_signer(&signed, anchors, &crl_refs, now).map_err(fail)?;
        tick();
        Ok(())
    };
    crate::par::try_map_ordered(profiles, crate::par::threads(), one, || {
        build("a verification thread panicked")
    })
    .map(|_| ())
}

/// Files by relative path, with their contents.
pub(crate) type Files = Vec<(String, Vec<u8>)>;

/// The files, by relative path, and the policy they are described by.
pub(crate) fn assemble(
    inputs: &Inputs<'_>,
    signer: &Issuer,
    signing_time: time::OffsetDateTime,
    tick: &(dyn Fn() + Sync),
) -> Result<(Files, Policy), BuildError> {
    let mut files: Files = Vec::new();
    let ca_pem: String = inputs
        .ca_certs
        .iter()
        .map(|d| crate::pem::encode("CERTIFICATE", d))
        .collect();
    files.push((CA_PEM.into(), ca_pem.into_bytes()));
    let crl_pem: String = inputs
        .crls
        .iter()
        .map(|d| crate::pem::encode("X509 CRL", d))
        .collect();
    files.push((CRL_PEM.into(), crl_pem.into_bytes()));
    let entries: Vec<crate::p12::CertEntry> = inputs
        .ca_certs
        .iter()
        .map(|d| crate::p12::CertEntry::new(d.clone()))
        .collect();
    let p12 = crate::p12::write_truststore(&entries, None).map_err(build)?;
    files.push((TRUSTSTORE_P12.into(), p12));
    let mut apps: BTreeMap<String, AppPolicy> = BTreeMap::new();
    let mut topics: BTreeMap<String, TopicInfo> = BTreeMap::new();
    let mut teams: BTreeMap<String, TeamPolicy> = BTreeMap::new();
    for a in inputs.apps {
        teams
            .entry(a.team_id.clone())
            .or_insert_with(|| TeamPolicy {
                disabled_devices: inputs
                    .disabled_devices
                    .get(&a.team_id)
                    .cloned()
                    .unwrap_or_default(),
            });
        for (t, kind) in &a.topics {
            topics.insert(
                t.clone(),
                TopicInfo {
                    bundle_id: a.bundle_id.clone(),
                    kind: kind.clone(),
                },
            );
        }
        apps.insert(
            a.bundle_id.clone(),
            AppPolicy {
                team_id: a.team_id.clone(),
                app_id: format!("{}.{}", a.team_id, a.bundle_id),
                topics: a.topics.iter().map(|(t, _)| t.clone()).collect(),
                environments: BTreeMap::new(),
            },
        );
    }
    // The team of every key too (a key's team may have no App ID with push).
    for k in inputs.keys.values() {
        teams
            .entry(k.team_id.clone())
            .or_insert_with(|| TeamPolicy {
                disabled_devices: inputs
                    .disabled_devices
                    .get(&k.team_id)
                    .cloned()
                    .unwrap_or_default(),
            });
    }
    verify_listed(
        inputs.profiles,
        &inputs.ca_certs[..1],
        inputs.crls,
        signing_time.unix_timestamp(),
        tick,
    )?;
    for p in inputs.profiles {
        let app = apps
            .get_mut(&p.bundle_id)
            .ok_or_else(|| build(format!("profile {} of an unknown App ID", p.policy.uuid)))?;
        app.environments
            .entry(p.environment.clone())
            .or_default()
            .push(p.policy.clone());
        files.push((
            format!("{PROFILES_DIR}/{}.mobileprovision", p.policy.uuid),
            p.der.clone(),
        ));
    }
    let ca = inputs
        .ca_certs
        .iter()
        .map(|d| {
            let (_, c) = x509_parser::parse_x509_certificate(d).map_err(build)?;
            Ok(CaInfo {
                subject: c.subject().to_string(),
                sha256: crate::x509::sha256_hex(d),
                not_after: crate::timeutil::rfc3339(c.validity().not_after.timestamp()),
            })
        })
        .collect::<Result<Vec<_>, BuildError>>()?;
    let policy = Policy {
        format: FORMAT.into(),
        version: inputs.version,
        generated_at: inputs.generated_at.clone(),
        expires_at: inputs.expires_at.clone(),
        inputs_sha256: inputs.inputs_sha256.clone(),
        ca,
        crl: inputs.crl.clone(),
        files: files
            .iter()
            .map(|(n, d)| (n.clone(), crate::x509::sha256_hex(d)))
            .collect(),
        topics,
        apps,
        teams,
        keys: inputs.keys.clone(),
    };
    // Compact (half the size of pretty-printed for large stores); `jq .` reads it.
    let mut json = serde_json::to_vec(&policy).map_err(build)?;
    json.push(b'\n');
    let p7s = crate::cms::sign(
        &json,
        false,
        signer.cert_der(),
        &inputs.ca_certs[1..]
            .iter()
            .map(Vec::as_slice)
            .collect::<Vec<_>>(),
        signer.signer(),
        signing_time,
    )
    .map_err(build)?;
    files.push((POLICY_JSON.into(), json));
    files.push((POLICY_P7S.into(), p7s));
    Ok((files, policy))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error;

    /// A CRL webpki cannot read, a profile that does not verify: the lower
    /// error is the source, as its type, and the message keeps its words.
    #[test]
    fn verification_failures_have_typed_sources() {
        let e = verify_listed(&[], &[], &[b"junk".to_vec()], 0, &|| {}).unwrap_err();
        let w = e.source().and_then(|s| s.downcast_ref::<webpki::Error>());
        let w = w.expect("webpki's error is the source");
        assert_eq!(
            e.to_string(),
            format!("cannot build the trust store: CRL: {w}")
        );

        let profile = ProfileInput {
            policy: ProfilePolicy {
                uuid: "U".into(),
                file: "profiles/U.mobileprovision".into(),
                expires_at: "2030-01-01T00:00:00Z".into(),
                certificates: Vec::new(),
                provisions_all_devices: false,
                devices: Vec::new(),
            },
            bundle_id: "a.b".into(),
            environment: "development".into(),
            der: b"junk".to_vec(),
        };
        let e = verify_listed(&[profile], &[], &[], 0, &|| {}).unwrap_err();
        let p = e
            .source()
            .and_then(|s| s.downcast_ref::<crate::profile::ProfileError>());
        let p = p.expect("the profile's error is the source");
        assert_eq!(
            e.to_string(),
            format!("cannot build the trust store: profile U does not verify: {p}")
        );
    }
}
