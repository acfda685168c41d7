//! TLS certificates from the issuing CA that are not push certificates: a
//! server certificate (`pushca server-cert`: SANs, EKU serverAuth) and a
//! device identity (`pushca device identity`: `CN=<UDID>`, `OU=<Team ID>`,
//! EKU clientAuth). Neither carries a push extension or a UID attribute.

use std::net::IpAddr;

use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, KeyUsagePurpose,
    PublicKeyData, SanType, SerialNumber, SubjectPublicKeyInfo,
};
use serde::Deserialize;
use time::OffsetDateTime;

use super::issue::IssuedCertificate;
use super::issuer::Issuer;
use super::templates;
use super::{serial, CaError};
use crate::keys::KeyAlgorithm;
use crate::x509::{serial_hex, sha256_hex};

/// Longest DNS name accepted (RFC 1035: 253 characters without the final dot).
pub const MAX_DNS_NAME: usize = 253;
/// Longest label of a DNS name (RFC 1035).
pub const MAX_DNS_LABEL: usize = 63;
/// Most subject alternative names in one server certificate.
pub const MAX_NAMES: usize = 100;

/// A name or address that cannot go into a certificate.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// A DNS name that is not a host name: `reason` says why.
    #[error("invalid DNS name '{}': {reason}", .name.escape_default())]
    Dns {
        /// The name as given.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An IP address that does not parse as IPv4 or IPv6.
    #[error("invalid IP address '{}': expected IPv4 (192.0.2.1) or IPv6 (2001:db8::1)", .0.escape_default())]
    Ip(String),
    /// A server certificate needs a DNS name (its common name is the first).
    #[error("a server certificate needs at least one DNS name")]
    NoDnsName,
    /// More names than [`MAX_NAMES`].
    #[error("{0} names and addresses; a certificate takes at most {MAX_NAMES}")]
    TooMany(usize),
}

impl NameError {
    /// What kind of failure this is (an exhaustive decision, no wildcard arm).
    pub fn kind(&self) -> crate::error::ErrorKind {
        match self {
            NameError::Dns { .. } | NameError::Ip(_) | NameError::TooMany(_) => {
                crate::error::ErrorKind::Input
            }
            NameError::NoDnsName => crate::error::ErrorKind::Usage,
        }
    }
}

/// Checks a DNS host name for a certificate and returns it lowercased:
/// ASCII letters, digits and hyphens in dot-separated labels of 1 to 63
/// characters (no hyphen first or last), at most 253 characters, a last
/// label that is not all digits, and no wildcard (each host is named).
/// Internationalised names are given in their `xn--` (punycode) form.
pub fn check_dns_name(name: &str) -> Result<String, NameError> {
    let bad = |reason: &str| NameError::Dns {
        // A hostile name is quoted short in the message.
        name: name.chars().take(80).collect(),
        reason: reason.to_string(),
    };
    if name.is_empty() {
        return Err(bad("it is empty"));
    }
    if name.len() > MAX_DNS_NAME {
        return Err(bad("longer than 253 characters"));
    }
    if name.parse::<IpAddr>().is_ok() {
        return Err(bad("it is an IP address; give it as an IP address"));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '.' || *c == '*'))
    {
        return Err(bad(&if c.is_ascii() {
            format!("character '{}' is not allowed", c.escape_default())
        } else {
            format!(
                "character '{}' is not ASCII; give an internationalised name in its xn-- form",
                c.escape_default()
            )
        }));
    }
    if name.contains('*') {
        return Err(bad(
            "wildcard names are not issued; name each host it serves",
        ));
    }
    if name.ends_with('.') {
        return Err(bad("it ends with a dot; give it without the final dot"));
    }
    let labels: Vec<&str> = name.split('.').collect();
    for l in &labels {
        if l.is_empty() {
            return Err(bad("it has an empty label (two dots, or a dot first)"));
        }
        if l.len() > MAX_DNS_LABEL {
            return Err(bad("a label is longer than 63 characters"));
        }
        if l.starts_with('-') || l.ends_with('-') {
            return Err(bad("a label starts or ends with a hyphen"));
        }
    }
    if labels
        .last()
        .is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(bad("the last label is all digits"));
    }
    Ok(name.to_ascii_lowercase())
}

/// Parses an IPv4 or IPv6 address (no zone, no brackets, no port).
pub fn check_ip(addr: &str) -> Result<IpAddr, NameError> {
    addr.parse::<IpAddr>()
        .map_err(|_| NameError::Ip(addr.chars().take(80).collect()))
}

/// The subject alternative names of a server certificate, checked: the DNS
/// names (lowercased, duplicates dropped, at least one) and the addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerNames {
    /// In the order given; the first is the common name.
    pub dns: Vec<String>,
    /// In the order given, duplicates dropped.
    pub ip: Vec<IpAddr>,
}

impl ServerNames {
    /// Checks every name and address.
    pub fn new<S: AsRef<str>>(dns: &[S], ip: &[S]) -> Result<ServerNames, NameError> {
        if dns.len() + ip.len() > MAX_NAMES {
            return Err(NameError::TooMany(dns.len() + ip.len()));
        }
        let mut names: Vec<String> = Vec::new();
        for d in dns {
            let n = check_dns_name(d.as_ref())?;
            if !names.contains(&n) {
                names.push(n);
            }
        }
        let mut ips: Vec<IpAddr> = Vec::new();
        for a in ip {
            let a = check_ip(a.as_ref())?;
            if !ips.contains(&a) {
                ips.push(a);
            }
        }
        if names.is_empty() {
            return Err(NameError::NoDnsName);
        }
        Ok(ServerNames {
            dns: names,
            ip: ips,
        })
    }

    /// The common name: the first DNS name.
    pub fn common_name(&self) -> &str {
        self.dns.first().map(String::as_str).unwrap_or_default()
    }
}

/// Which TLS certificate a template is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsKind {
    /// A TLS server certificate (EKU serverAuth).
    Server,
    /// A device's TLS client identity (EKU clientAuth).
    DeviceIdentity,
}

impl TlsKind {
    /// The template's file stem (and its `kind`).
    pub fn template_name(self) -> &'static str {
        match self {
            TlsKind::Server => "server",
            TlsKind::DeviceIdentity => "device-identity",
        }
    }
}

/// Template for a server certificate or a device identity.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsTemplate {
    /// `server` or `device-identity`.
    pub kind: String,
    /// What the template is for (shown nowhere; for the reader of the file).
    #[serde(default)]
    pub description: String,
    /// Lifetime in days (1-3650).
    pub validity_days: u32,
}

/// Loads the template of `kind` (the home's copy overrides the built-in one).
pub fn load_template(
    home_templates: Option<&templates::Templates>,
    kind: TlsKind,
) -> Result<TlsTemplate, CaError> {
    let name = kind.template_name();
    let (origin, text) = templates::source(home_templates, name)?;
    let t: TlsTemplate = templates::parse(&origin, &text)?;
    let bad = |reason: String| CaError::Template {
        name: origin.clone(),
        reason,
        source: None,
    };
    if t.kind != name {
        return Err(bad(format!("kind is '{}', expected '{name}'", t.kind)));
    }
    if !(1..=3650).contains(&t.validity_days) {
        return Err(bad("validity_days must be between 1 and 3650".into()));
    }
    Ok(t)
}

/// Who a TLS certificate is for.
#[derive(Debug, Clone)]
pub enum TlsSubject<'a> {
    /// A server: `CN=<first DNS name>`, the names as SANs.
    Server(&'a ServerNames),
    /// A device: `CN=<UDID>`, `OU=<Team ID>`.
    Device {
        /// The normalised UDID.
        udid: &'a str,
        /// The device's team.
        team_id: &'a str,
    },
}

impl Issuer {
    /// Signs a server certificate or a device identity for the public key
    /// `spki_der` (of type `algorithm`): key usage digitalSignature (and
    /// keyEncipherment for an RSA server key), EKU serverAuth or clientAuth
    /// only, CA:FALSE, SKI/AKI, a serial from the OS CSPRNG.
    pub fn issue_tls_certificate(
        &self,
        template: &TlsTemplate,
        subject: &TlsSubject<'_>,
        spki_der: &[u8],
        algorithm: KeyAlgorithm,
        now: OffsetDateTime,
    ) -> Result<IssuedCertificate, CaError> {
        let public_key = SubjectPublicKeyInfo::from_der(spki_der).map_err(CaError::Build)?;
        if public_key.subject_public_key_info() != spki_der {
            return Err(CaError::NonCanonicalKey);
        }
        let now = now.replace_nanosecond(0).unwrap_or(now);
        let mut p = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        let rsa = matches!(algorithm, KeyAlgorithm::Rsa { .. });
        let shown = match subject {
            TlsSubject::Server(names) => {
                dn.push(DnType::CommonName, names.common_name());
                for d in &names.dns {
                    let ia5 =
                        rcgen::string::Ia5String::try_from(d.as_str()).map_err(CaError::Build)?;
                    p.subject_alt_names.push(SanType::DnsName(ia5));
                }
                for ip in &names.ip {
                    p.subject_alt_names.push(SanType::IpAddress(*ip));
                }
                p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
                p.key_usages = if rsa {
                    // TLS 1.2 RSA key exchange encrypts to the server's key.
                    vec![
                        KeyUsagePurpose::DigitalSignature,
                        KeyUsagePurpose::KeyEncipherment,
                    ]
                } else {
                    vec![KeyUsagePurpose::DigitalSignature]
                };
                format!("CN={}", names.common_name())
            }
            TlsSubject::Device { udid, team_id } => {
                dn.push(DnType::CommonName, *udid);
                dn.push(DnType::OrganizationalUnitName, *team_id);
                p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
                p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
                format!("CN={udid}, OU={team_id}")
            }
        };
        let serial_bytes = serial::random_serial();
        p.distinguished_name = dn;
        p.serial_number = Some(SerialNumber::from_slice(&serial_bytes));
        p.not_before = now;
        p.not_after = now + time::Duration::days(i64::from(template.validity_days));
        p.is_ca = IsCa::ExplicitNoCa;
        p.use_authority_key_identifier_extension = true;
        p.key_identifier_method = rcgen::KeyIdMethod::Sha256;
        let cert = p.signed_by(&public_key, self.rcgen())?;
        let der = cert.der().to_vec();
        Ok(IssuedCertificate {
            serial: serial_hex(&serial_bytes),
            sha256: sha256_hex(&der),
            subject: shown,
            not_before: p.not_before,
            not_after: p.not_after,
            der,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_names_are_host_names() {
        assert_eq!(check_dns_name("GW.Example.COM").unwrap(), "gw.example.com");
        assert_eq!(check_dns_name("localhost").unwrap(), "localhost");
        assert_eq!(check_dns_name("a-b.x1.io").unwrap(), "a-b.x1.io");
        assert!(check_dns_name(&format!("{}.com", "a".repeat(63))).is_ok());
        let refused = [
            "",
            ".",
            "a..b",
            ".a.b",
            "a.b.",
            "-a.b",
            "a-.b",
            "a_b.com",
            "*.example.com",
            "a.*.com",
            "host name",
            "1.2.3.4",
            "::1",
            "host.123",
            "a.b\0c",
            "a\nb.com",
            "bücher.de",
            "例え.jp",
            "gw.example.com\u{202e}",
            "a.b:443",
            "a/b",
        ];
        for n in refused {
            assert!(check_dns_name(n).is_err(), "{n:?} accepted");
        }
        // Very long: a label over 63, a name over 253, a megabyte.
        assert!(check_dns_name(&format!("{}.com", "a".repeat(64))).is_err());
        let long = vec!["abcdefghi"; 26].join(".");
        assert!(long.len() > 253);
        assert!(check_dns_name(&long).is_err());
        let huge = "a".repeat(1 << 20);
        let e = check_dns_name(&huge).unwrap_err().to_string();
        assert!(e.len() < 200, "the message quotes it short: {}", e.len());
        // The message escapes what a terminal would act on.
        let e = check_dns_name("a\u{1b}[2J.com").unwrap_err().to_string();
        assert!(!e.contains('\u{1b}'), "{e}");
    }

    #[test]
    fn ip_addresses_and_the_name_set() {
        assert_eq!(
            check_ip("192.0.2.1").unwrap(),
            "192.0.2.1".parse::<IpAddr>().unwrap()
        );
        assert!(check_ip("2001:db8::1").unwrap().is_ipv6());
        for bad in [
            "256.1.1.1",
            "1.2.3",
            "01.2.3.4",
            "fe80::1%eth0",
            "[::1]",
            "1.2.3.4:80",
            "",
            "::g",
            "1.2.3.4\0",
        ] {
            assert!(check_ip(bad).is_err(), "{bad:?} accepted");
        }
        let n =
            ServerNames::new(&["B.example", "b.example", "a.example"], &["::1", "0:0::1"]).unwrap();
        assert_eq!(n.dns, ["b.example", "a.example"]);
        assert_eq!(n.ip.len(), 1);
        assert_eq!(n.common_name(), "b.example");
        assert_eq!(
            ServerNames::new::<&str>(&[], &["::1"]),
            Err(NameError::NoDnsName)
        );
        let many: Vec<String> = (0..101).map(|i| format!("h{i}.example")).collect();
        assert!(matches!(
            ServerNames::new(&many, &[]),
            Err(NameError::TooMany(101))
        ));
    }

    #[test]
    fn builtin_templates_load() {
        let s = load_template(None, TlsKind::Server).unwrap();
        assert_eq!(s.validity_days, 397);
        let d = load_template(None, TlsKind::DeviceIdentity).unwrap();
        assert_eq!(d.validity_days, 730);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("server.toml"),
            "kind = \"device-identity\"\nvalidity_days = 1\n",
        )
        .unwrap();
        assert!(load_template(
            Some(&templates::Templates::dir(dir.path())),
            TlsKind::Server
        )
        .is_err());
    }
}
