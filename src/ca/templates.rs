//! Certificate templates: what pushca puts in the certificates it makes.
//!
//! The defaults are the files in the repository's `templates/` directory,
//! compiled in; a file of the same name in `<home>/templates/` overrides one at
//! run time. Unknown keys and bad values are errors, never silently ignored.

use std::path::Path;

use serde::Deserialize;

use super::{CaError, PushEnvironment};
use crate::x509ext::{Environment, TopicKind};

/// The templates pushca knows, by file stem.
pub(crate) const ROOT_CA: &str = "root-ca";
pub(crate) const ISSUING_CA: &str = "issuing-ca";
pub(crate) const PROFILE_SIGNER: &str = "profile-signer";
pub(crate) const PROFILE: &str = "profile";
pub(crate) const CRL: &str = "crl";

const BUILTIN: &[(&str, &str)] = &[
    (ROOT_CA, include_str!("../../templates/root-ca.toml")),
    (ISSUING_CA, include_str!("../../templates/issuing-ca.toml")),
    (
        PROFILE_SIGNER,
        include_str!("../../templates/profile-signer.toml"),
    ),
    (PROFILE, include_str!("../../templates/profile.toml")),
    (CRL, include_str!("../../templates/crl.toml")),
    (
        "push-development",
        include_str!("../../templates/push-development.toml"),
    ),
    (
        "push-production",
        include_str!("../../templates/push-production.toml"),
    ),
    (
        "push-universal",
        include_str!("../../templates/push-universal.toml"),
    ),
    ("server", include_str!("../../templates/server.toml")),
    (
        "device-identity",
        include_str!("../../templates/device-identity.toml"),
    ),
];

/// Template for a CA certificate or the profile signer.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuthorityTemplate {
    pub(crate) kind: String,
    pub(crate) common_name: String,
    #[serde(default)]
    pub(crate) organizational_unit: Option<String>,
    pub(crate) organization: String,
    pub(crate) validity_days: u32,
    #[serde(default)]
    pub(crate) path_len: Option<u8>,
    #[serde(default)]
    pub(crate) extended_key_usage: Vec<String>,
}

/// Template for push certificates of one environment.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushTemplate {
    pub(crate) kind: String,
    #[serde(default)]
    #[allow(
        dead_code,
        reason = "free text for the template's reader; accepted, never used"
    )]
    pub(crate) description: String,
    pub(crate) common_name_prefix: String,
    #[serde(default)]
    pub(crate) validity_months: Option<u32>,
    #[serde(default)]
    pub(crate) validity_days: Option<u32>,
    pub(crate) environments: Vec<Environment>,
    pub(crate) topics: Vec<TopicKind>,
}

/// Template for provisioning profiles.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileTemplate {
    pub(crate) kind: String,
    #[serde(default)]
    pub(crate) validity_months: Option<u32>,
    #[serde(default)]
    pub(crate) validity_days: Option<u32>,
    /// The `Platform` values written into profiles (e.g. `iOS`).
    #[serde(default)]
    pub platform: Vec<String>,
}

impl ProfileTemplate {
    /// When a profile made at `created` expires (`days` overrides the template).
    pub fn expires(
        &self,
        created: time::OffsetDateTime,
        days: Option<u32>,
    ) -> time::OffsetDateTime {
        match (days, self.validity_months, self.validity_days) {
            (Some(d), _, _) | (None, None, Some(d)) => created + time::Duration::days(i64::from(d)),
            (None, Some(m), _) => super::issue::add_months(created, m),
            (None, None, None) => super::issue::add_months(created, 12),
        }
    }
}

/// Template for CRLs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CrlTemplate {
    pub(crate) kind: String,
    pub(crate) next_update_days: u32,
}

pub(crate) fn load_crl(home_templates: Option<&Templates>) -> Result<CrlTemplate, CaError> {
    let (origin, text) = source(home_templates, CRL)?;
    let t: CrlTemplate = parse(&origin, &text)?;
    if t.kind != "crl" {
        return Err(CaError::Template {
            name: origin,
            reason: format!("kind is '{}', expected 'crl'", t.kind),
            source: None,
        });
    }
    if !(1..=365).contains(&t.next_update_days) {
        return Err(CaError::Template {
            name: origin,
            reason: "next_update_days must be between 1 and 365".into(),
            source: None,
        });
    }
    Ok(t)
}

/// Values substituted for `{team_name}`, `{team_id}` and `{country}`.
pub(crate) struct Placeholders<'a> {
    pub(crate) team_name: &'a str,
    pub(crate) team_id: &'a str,
    pub(crate) country: &'a str,
}

impl Placeholders<'_> {
    pub(crate) fn apply(&self, s: &str) -> String {
        s.replace("{team_name}", self.team_name)
            .replace("{team_id}", self.team_id)
            .replace("{country}", self.country)
    }
}

/// Where template overrides come from: a home's `templates/` directory, or
/// the store's `ca_templates` table (a home on a database).
#[derive(Debug, Clone)]
pub enum Templates {
    /// `<home>/templates/*.toml`.
    Dir(std::path::PathBuf),
    /// The templates recorded in the store.
    #[allow(private_interfaces)]
    Store(std::sync::Arc<crate::home::StoreSite>),
}

impl Templates {
    /// The overrides in the directory `dir`.
    pub fn dir(dir: &Path) -> Templates {
        Templates::Dir(dir.to_path_buf())
    }
}

pub(super) fn source(
    home_templates: Option<&Templates>,
    name: &str,
) -> Result<(String, String), CaError> {
    match home_templates {
        Some(Templates::Dir(dir)) => {
            let p = dir.join(format!("{name}.toml"));
            if p.is_file() {
                let text = std::fs::read_to_string(&p).map_err(|e| CaError::Template {
                    name: p.display().to_string(),
                    reason: e.to_string(),
                    source: Some(e.into()),
                })?;
                return Ok((p.display().to_string(), text));
            }
        }
        Some(Templates::Store(site)) => {
            let stored = super::authority::stored_ca(site)?;
            if let Some(text) = stored.templates.get(name) {
                return Ok((format!("{name}.toml in the store"), text.clone()));
            }
        }
        None => {}
    }
    BUILTIN
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(n, t)| (format!("built-in {n}.toml"), t.to_string()))
        .ok_or_else(|| CaError::Template {
            name: name.into(),
            reason: "no such template".into(),
            source: None,
        })
}

pub(super) fn parse<T: for<'de> Deserialize<'de>>(origin: &str, text: &str) -> Result<T, CaError> {
    toml::from_str(text).map_err(|e| CaError::Template {
        name: origin.to_string(),
        reason: e.message().to_string(),
        source: Some(e.into()),
    })
}

const EKU_NAMES: &[&str] = &[
    "clientAuth",
    "serverAuth",
    "codeSigning",
    "emailProtection",
    "timeStamping",
    "ocspSigning",
];

pub(crate) fn load_authority(
    home_templates: Option<&Templates>,
    name: &str,
) -> Result<AuthorityTemplate, CaError> {
    let (origin, text) = source(home_templates, name)?;
    let t: AuthorityTemplate = parse(&origin, &text)?;
    let bad = |reason: String| CaError::Template {
        name: origin.clone(),
        reason,
        source: None,
    };
    let want_kind = if name == PROFILE_SIGNER {
        "signer"
    } else {
        "ca"
    };
    if t.kind != want_kind {
        return Err(bad(format!("kind is '{}', expected '{want_kind}'", t.kind)));
    }
    if t.common_name.trim().is_empty() || t.organization.trim().is_empty() {
        return Err(bad("common_name and organization must not be empty".into()));
    }
    if !(1..=36_525).contains(&t.validity_days) {
        return Err(bad("validity_days must be between 1 and 36525".into()));
    }
    if let Some(e) = t
        .extended_key_usage
        .iter()
        .find(|e| !EKU_NAMES.contains(&e.as_str()))
    {
        return Err(bad(format!(
            "unknown extended key usage '{e}' (known: {})",
            EKU_NAMES.join(", ")
        )));
    }
    Ok(t)
}

/// Exactly one of validity_months (1-120) or validity_days (1-3650).
fn check_validity(months: Option<u32>, days: Option<u32>) -> Result<(), String> {
    match (months, days) {
        (Some(m), None) if (1..=120).contains(&m) => Ok(()),
        (None, Some(d)) if (1..=3650).contains(&d) => Ok(()),
        _ => Err("set exactly one of validity_months (1-120) or validity_days (1-3650)".into()),
    }
}

pub(crate) fn push_template_name(env: PushEnvironment) -> String {
    format!("push-{}", env.name())
}

/// The push-certificate template for `env`: the home's override in
/// `home_templates` when there is one, else the built-in. Refuses a template
/// with a wrong `kind`, bad validity, no environments, no `app` topic or
/// control characters in the name prefix.
pub fn load_push(
    home_templates: Option<&Templates>,
    env: PushEnvironment,
) -> Result<PushTemplate, CaError> {
    let (origin, text) = source(home_templates, &push_template_name(env))?;
    let t: PushTemplate = parse(&origin, &text)?;
    let bad = |reason: String| CaError::Template {
        name: origin.clone(),
        reason,
        source: None,
    };
    if t.kind != "push" {
        return Err(bad(format!("kind is '{}', expected 'push'", t.kind)));
    }
    check_validity(t.validity_months, t.validity_days).map_err(bad)?;
    if t.environments.is_empty() {
        return Err(bad(
            "environments must list development and/or production".into()
        ));
    }
    if !t.topics.contains(&TopicKind::App) {
        return Err(bad("topics must include \"app\"".into()));
    }
    if t.common_name_prefix.chars().any(char::is_control) {
        return Err(bad("common_name_prefix contains control characters".into()));
    }
    Ok(t)
}

/// The provisioning-profile template (override or built-in). Refuses a
/// wrong `kind`, bad validity or a platform that is not a plain name.
pub fn load_profile(home_templates: Option<&Templates>) -> Result<ProfileTemplate, CaError> {
    let (origin, text) = source(home_templates, PROFILE)?;
    let t: ProfileTemplate = parse(&origin, &text)?;
    let bad = |reason: String| CaError::Template {
        name: origin.clone(),
        reason,
        source: None,
    };
    if t.kind != "profile" {
        return Err(bad(format!("kind is '{}', expected 'profile'", t.kind)));
    }
    check_validity(t.validity_months, t.validity_days).map_err(bad)?;
    if let Some(p) = t
        .platform
        .iter()
        .find(|p| p.is_empty() || !p.chars().all(|c| c.is_ascii_alphanumeric()))
    {
        return Err(bad(format!(
            "platform '{}' is not a plain name like iOS",
            p.escape_default()
        )));
    }
    Ok(t)
}

/// The built-in text of a template, for `init` to show or users to copy.
pub fn builtin_text(name: &str) -> Option<&'static str> {
    BUILTIN.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

/// The names of the templates pushca knows (file stems).
pub(crate) fn names() -> impl Iterator<Item = &'static str> {
    BUILTIN.iter().map(|(n, _)| *n)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// TOML's error is the source, as its type; the message is its one line.
    #[test]
    fn bad_toml_has_the_toml_error_as_source() {
        use std::error::Error;
        let e = parse::<PushTemplate>("t.toml", "kind = [").unwrap_err();
        let t = e.source().and_then(|s| s.downcast_ref::<toml::de::Error>());
        let t = t.expect("toml's error is the source");
        assert_eq!(e.to_string(), format!("template t.toml: {}", t.message()));
    }

    #[test]
    fn builtins_load() {
        for n in [ROOT_CA, ISSUING_CA, PROFILE_SIGNER] {
            load_authority(None, n).unwrap();
        }
        assert_eq!(load_crl(None).unwrap().next_update_days, 7);
        let p = load_profile(None).unwrap();
        assert_eq!(
            (p.validity_months, p.platform.as_slice()),
            (Some(12), &["iOS".to_string()][..])
        );
        for e in PushEnvironment::ALL {
            let t = load_push(None, e).unwrap();
            assert_eq!(t.validity_months, Some(13));
        }
        let u = load_push(None, PushEnvironment::Universal).unwrap();
        assert_eq!(
            u.environments,
            [Environment::Development, Environment::Production]
        );
    }

    #[test]
    fn home_override_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("push-production.toml");
        let text = builtin_text("push-production")
            .unwrap()
            .replace("validity_months = 13", "validity_days = 30");
        std::fs::write(&p, text).unwrap();
        let t = load_push(
            Some(&Templates::dir(dir.path())),
            PushEnvironment::Production,
        )
        .unwrap();
        assert_eq!((t.validity_days, t.validity_months), (Some(30), None));
        std::fs::write(&p, "kind = \"push\"\nbogus = 1\n").unwrap();
        let e = load_push(
            Some(&Templates::dir(dir.path())),
            PushEnvironment::Production,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("push-production.toml"), "{e}");
        std::fs::write(&p, "this is [ not toml").unwrap();
        assert!(load_push(
            Some(&Templates::dir(dir.path())),
            PushEnvironment::Production
        )
        .is_err());
    }
}
