//! `cert issue`, `cert list`, `cert show` and `cert export`.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use pushca::ca::PushEnvironment;
use pushca::fsutil::Sink;
use pushca::ops::{self, certs};
use pushca::text::count;

use super::secrets::SecretSource;
use super::{exit, rfc3339, CliError, Ctx, Overwrite, Report};

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum CertFormat {
    Pem,
    Der,
}

impl From<CertFormat> for certs::CertFormat {
    fn from(f: CertFormat) -> Self {
        match f {
            CertFormat::Pem => certs::CertFormat::Pem,
            CertFormat::Der => certs::CertFormat::Der,
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum CertCmd {
    /// Issue push certificates from CSRs
    Issue(CertIssueArgs),
    /// List issued certificates
    List(CertListArgs),
    /// Show a certificate (a file, or a serial number from the store)
    Show(CertShowArgs),
    /// Write an issued certificate from the store to a file
    Export(CertExportArgs),
    /// Revoke a certificate (it goes on the next CRL and trust store)
    Revoke(CertRevokeArgs),
    /// Issue a new certificate only when the newest one expires within DAYS (CI)
    Renew(CertRenewArgs),
    /// One step, like fastlane pem: new key + CSR + certificate + .p12 + ck.pem
    Create(CertCreateArgs),
}

#[derive(Args, Debug)]
pub struct CertCreateArgs {
    /// Bundle ID of an App ID with push enabled
    #[arg(long, value_name = "BUNDLE_ID")]
    pub app: String,
    /// development, production or universal (Sandbox & Production)
    #[arg(long, value_name = "ENV", value_parser = super::push_envs())]
    pub env: PushEnvironment,
    /// Where <bundle>-<env>.key, .csr, .pem, .p12 and -ck.pem go (created when missing)
    #[arg(long, value_name = "DIR")]
    pub out_dir: PathBuf,
    #[command(flatten)]
    pub protection: super::Protection,
    /// Type of the new key (what Keychain Access makes: rsa-2048)
    #[arg(long, value_name = "TYPE", default_value = "rsa-2048", value_parser = super::key_types())]
    pub key_type: pushca::keys::KeyType,
    /// Only when the newest valid certificate expires within DAYS
    #[arg(long, value_name = "DAYS")]
    pub renew_within: Option<u32>,
    #[command(flatten)]
    pub overwrite: Overwrite,
    /// CA passphrase source; else $PUSHCA_CA_PASSPHRASE, else a prompt
    #[arg(long, value_name = "SRC")]
    pub ca_passin: Option<SecretSource>,
}

#[derive(Args, Debug)]
pub struct CertRenewArgs {
    /// Bundle ID of an App ID with push enabled
    #[arg(long, value_name = "BUNDLE_ID")]
    pub app: String,
    /// development, production or universal (Sandbox & Production)
    #[arg(long, value_name = "ENV", value_parser = super::push_envs())]
    pub env: PushEnvironment,
    /// CSR file (PEM or DER) for the new certificate
    #[arg(long, value_name = "FILE")]
    pub csr: PathBuf,
    /// Output file, replaced when a certificate is issued
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Renew when the newest valid certificate expires within DAYS
    #[arg(long, value_name = "DAYS", default_value_t = 30)]
    pub within: u32,
    /// Certificate file format
    #[arg(long, value_enum, default_value = "pem")]
    pub format: CertFormat,
    /// CA passphrase source; else $PUSHCA_CA_PASSPHRASE, else a prompt
    #[arg(long, value_name = "SRC")]
    pub ca_passin: Option<SecretSource>,
}

#[derive(Args, Debug)]
pub struct CertRevokeArgs {
    /// Serial number (hex, colons allowed, or a unique prefix of 8+ digits)
    pub serial: String,
    /// RFC 5280 reason: unspecified, keyCompromise, cACompromise, affiliationChanged,
    /// superseded, cessationOfOperation, certificateHold, privilegeWithdrawn, aACompromise
    #[arg(long, value_name = "REASON")]
    pub reason: Option<String>,
}

#[derive(Args, Debug)]
pub struct CertIssueArgs {
    /// Bundle ID of an App ID with push enabled
    #[arg(long, value_name = "BUNDLE_ID")]
    pub app: String,
    /// development, production or universal (Sandbox & Production)
    #[arg(long, value_name = "ENV", value_parser = super::push_envs())]
    pub env: PushEnvironment,
    /// CSR file (PEM or DER); repeat for a batch
    #[arg(long, value_name = "FILE", required = true)]
    pub csr: Vec<PathBuf>,
    /// Output file (one CSR)
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with = "out_dir",
        required_unless_present_any = ["out_dir", "out_bundle"]
    )]
    pub out: Option<PathBuf>,
    /// Output directory (created when missing): <csr name>.pem (or .cer) per CSR
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
    /// One PEM file with every certificate of the batch, in --csr order; alone,
    /// or with --out/--out-dir to write both
    #[arg(long, value_name = "FILE")]
    pub out_bundle: Option<PathBuf>,
    /// Format of the --out/--out-dir files (a bundle is always PEM)
    #[arg(long, value_enum, default_value = "pem")]
    pub format: CertFormat,
    #[command(flatten)]
    pub overwrite: Overwrite,
    /// CA passphrase source; else $PUSHCA_CA_PASSPHRASE, else a prompt
    #[arg(long, value_name = "SRC")]
    pub ca_passin: Option<SecretSource>,
}

#[derive(Args, Debug)]
pub struct CertListArgs {
    /// Only the certificates of this App ID
    #[arg(long, value_name = "BUNDLE_ID")]
    pub app: Option<String>,
    /// Only certificates expiring within DAYS; exit code 4 when there are any
    #[arg(long, value_name = "DAYS")]
    pub expiring_within: Option<u32>,
}

#[derive(Args, Debug)]
pub struct CertShowArgs {
    /// A certificate file (PEM or DER) or a serial number (hex, prefix of 8+ digits)
    pub target: String,
    /// Also print the certificate as PEM
    #[arg(long)]
    pub pem: bool,
}

#[derive(Args, Debug)]
pub struct CertExportArgs {
    /// Serial number (hex, colons allowed, or a unique prefix of 8+ digits)
    pub serial: String,
    /// Where to write the certificate (- for stdout)
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Certificate file format
    #[arg(long, value_enum, default_value = "pem")]
    pub format: CertFormat,
    #[command(flatten)]
    pub overwrite: Overwrite,
}

pub fn cert(ctx: &Ctx, c: CertCmd) -> Result<Report, CliError> {
    match c {
        CertCmd::Issue(a) => issue(ctx, a),
        CertCmd::List(a) => list(ctx, a),
        CertCmd::Show(a) => show(ctx, a),
        CertCmd::Export(a) => export(ctx, a),
        CertCmd::Revoke(a) => revoke(ctx, a),
        CertCmd::Renew(a) => renew(ctx, a),
        CertCmd::Create(a) => create(ctx, a),
    }
}

fn issue(ctx: &Ctx, a: CertIssueArgs) -> Result<Report, CliError> {
    let svc = super::service::service(ctx)?;
    let output = match (&a.out, &a.out_dir, &a.out_bundle) {
        (Some(out), _, _) => Some(match super::sink(out) {
            Sink::File(p) => certs::IssueOutput::File(p),
            Sink::Return => certs::IssueOutput::Return,
        }),
        (None, Some(dir), _) => {
            super::not_stdout_dir(dir)?;
            Some(certs::IssueOutput::Dir(dir.clone()))
        }
        (None, None, Some(_)) => {
            if matches!(a.format, CertFormat::Der) {
                return Err(CliError::usage(
                    "--format der applies to --out/--out-dir files; a bundle is PEM",
                ));
            }
            None
        }
        (None, None, None) => {
            return Err(CliError::usage(
                "give --out FILE, --out-dir DIR or --out-bundle FILE",
            ))
        }
    };
    if a.csr.iter().filter(|p| p.as_os_str() == "-").count() > 1 {
        return Err(CliError::usage(
            "--csr - (standard input) can be given once",
        ));
    }
    let csrs = a
        .csr
        .iter()
        .map(|p| super::source(p))
        .collect::<Result<Vec<_>, _>>()?;
    let req = certs::IssueRequest {
        bundle_id: &a.app,
        env: a.env,
        csr_files: &csrs,
        output,
        bundle: a.out_bundle.as_deref().map(super::sink),
        format: a.format.into(),
        force: a.overwrite.force,
    };
    let outcome = svc.issue(&req, a.ca_passin.as_ref())?;
    let v = &outcome.view;
    let mut text = String::new();
    for c in &v.certificates {
        text.push_str(&format!(
            "Issued {} push certificate for {} serial {} (valid until {}){}\n",
            a.env,
            c.bundle_id,
            c.serial,
            rfc3339(c.not_after),
            c.out
                .as_ref()
                .map(|p| format!(" -> {}", p.name().display()))
                .unwrap_or_default()
        ));
    }
    if v.certificates.len() > 1 {
        text = format!(
            "Issued {} certificates for {} ({})\n",
            v.certificates.len(),
            outcome.bundle_id,
            a.env
        ) + if ctx.verbose > 0 { text.as_str() } else { "" };
    }
    if let Some(b) = &v.bundle {
        text.push_str(&format!(
            "Wrote {} to the bundle {}\n",
            count(v.certificates.len(), "certificate"),
            b.name().display()
        ));
    }
    Ok(Report::of(v, text)?
        .warn_all(outcome.warnings)
        .with_stdout(outcome.returned))
}

fn list(ctx: &Ctx, a: CertListArgs) -> Result<Report, CliError> {
    let v = super::service::service(ctx)?.list(a.app.as_deref(), a.expiring_within)?;
    let mut text = String::new();
    if v.certificates.is_empty() {
        text.push_str(if a.expiring_within.is_some() {
            "No certificates expire in that window.\n"
        } else {
            "No certificates.\n"
        });
    } else {
        text.push_str(&format!(
            "{:<34} {:<28} {:<12} {:<22} {}\n",
            "SERIAL", "APP", "ENV", "NOT AFTER", "DAYS LEFT"
        ));
        for r in &v.certificates {
            // A server certificate or a device identity: its common name
            // and its kind.
            let (app, env) = if r.bundle_id.is_empty() {
                let cn = r.subject.strip_prefix("CN=").unwrap_or(&r.subject);
                (cn.split(',').next().unwrap_or(cn), r.kind.as_str())
            } else {
                (r.bundle_id.as_str(), r.environment.as_str())
            };
            text.push_str(&format!(
                "{:<34} {:<28} {:<12} {:<22} {}{}\n",
                r.serial,
                super::inert(app),
                env,
                rfc3339(r.not_after),
                r.days_left,
                if r.revoked {
                    " (revoked)"
                } else if r.days_left < 0 {
                    " (expired)"
                } else {
                    ""
                }
            ));
        }
    }
    let code = if a.expiring_within.is_some() && !v.certificates.is_empty() {
        exit::EXPIRING
    } else {
        exit::OK
    };
    Ok(Report::of(&v, text)?.with_exit(code))
}

fn show(ctx: &Ctx, a: CertShowArgs) -> Result<Report, CliError> {
    let target = if a.target == "-" {
        certs::ShowTarget::Source(super::source(std::path::Path::new("-"))?)
    } else {
        certs::ShowTarget::Named(a.target.clone())
    };
    let shown = if target.is_serial() {
        super::service::service(ctx)?.show_serial(&a.target, a.pem)?
    } else {
        // A file: read here, with or without a home or a service.
        let s = certs::show(
            || Err(ops::OpsError::UnknownSerial(a.target.clone())),
            &target,
            a.pem,
        )?;
        super::service::ShownCert {
            view: s.view,
            revoked_at: None,
            revocation_reason: None,
        }
    };
    let s = &shown.view;
    let days = s.days_left;
    let env_label = match s.environments.as_slice() {
        [] => "none".to_string(),
        [one] => one.to_string(),
        _ => "universal (development + production)".to_string(),
    };
    let mut text = format!(
        "Subject:     {}\nIssuer:      {}\nSerial:      {}\nEnvironment: {}\nTopics:      {}\nNot before:  {}\nNot after:   {} ({})\nPublic key:  {}\nEKU:         {}\nSHA-256:     {}\n",
        s.subject,
        s.issuer,
        s.serial,
        env_label,
        if s.topics.is_empty() { "-".into() } else { s.topics.join(", ") },
        rfc3339(s.not_before),
        rfc3339(s.not_after),
        if days < 0 { format!("expired {} ago", count(-days, "day")) } else { format!("{} left", count(days, "day")) },
        s.public_key,
        if s.extended_key_usage.is_empty() { "-".into() } else { s.extended_key_usage.join(", ") },
        s.sha256,
    );
    if let Some(at) = shown.revoked_at {
        text.push_str(&format!(
            "Revoked:     {} ({})\n",
            rfc3339(at),
            shown.revocation_reason.as_deref().unwrap_or("unspecified")
        ));
    }
    if let Some(pem) = &s.pem {
        text.push_str(pem);
    }
    Report::of(s, text)
}

fn export(ctx: &Ctx, a: CertExportArgs) -> Result<Report, CliError> {
    let v = super::service::service(ctx)?.export(
        &a.serial,
        &super::sink(&a.out),
        a.format.into(),
        a.overwrite.force,
    )?;
    let what = if v.bundle_id.is_empty() {
        String::new()
    } else {
        format!(" ({} {})", v.bundle_id, v.environment)
    };
    let text = format!(
        "Wrote certificate {}{what} to {}\n",
        v.serial,
        v.out.name().display()
    );
    Ok(Report::of(&v, text)?.with_stdout(v.returned.clone()))
}

fn revoke(ctx: &Ctx, a: CertRevokeArgs) -> Result<Report, CliError> {
    let v = super::service::service(ctx)?.revoke(&a.serial, a.reason.as_deref())?;
    let reason = &v.reason;
    let text = if v.changed && v.environment == "profile-signing" {
        format!(
            "Revoked the profile signer {} ({}), reason {reason}: profiles and trust stores it signed are refused from the next CRL on\n",
            v.serial, v.subject
        )
    } else if v.changed && v.bundle_id.is_empty() {
        format!(
            "Revoked {} certificate {} ({}), reason {reason}\n",
            v.kind, v.serial, v.subject
        )
    } else if v.changed {
        format!(
            "Revoked certificate {} ({} {}), reason {reason}\n",
            v.serial, v.bundle_id, v.environment
        )
    } else {
        format!(
            "Certificate {} was already revoked on {} ({reason})\n",
            v.serial,
            v.revoked_at.map(rfc3339).unwrap_or_default()
        )
    };
    let mut report = Report::of(&v, text)?;
    if v.changed {
        report = report.warn(
            "gateways learn of it from the next CRL: run `pushca crl` or `pushca gateway trust-store`",
        );
    }
    Ok(report)
}

fn not_renewed(v: &certs::NotRenewed) -> Result<Report, CliError> {
    let text = format!(
        "Not renewed: certificate {} is valid until {} ({} left, more than {})\n",
        v.serial,
        rfc3339(v.not_after),
        count(v.days_left, "day"),
        v.within
    );
    Report::of(v, text)
}

fn renew(ctx: &Ctx, a: CertRenewArgs) -> Result<Report, CliError> {
    let svc = super::service::service(ctx)?;
    let req = certs::RenewRequest {
        bundle_id: &a.app,
        env: a.env,
        csr: super::source(&a.csr)?,
        output: match super::sink(&a.out) {
            Sink::File(p) => certs::IssueOutput::File(p),
            Sink::Return => certs::IssueOutput::Return,
        },
        within: a.within,
        format: a.format.into(),
    };
    let outcome = svc.renew(&req, a.ca_passin.as_ref())?;
    let v = match &outcome.view {
        certs::Renewal::NotRenewed(v) => return not_renewed(v),
        certs::Renewal::Renewed(v) => v,
    };
    let text = format!(
        "Renewed: issued {} certificate {} for {} (valid until {}) -> {}\n",
        a.env,
        v.serial,
        v.bundle_id,
        rfc3339(v.not_after),
        a.out.display()
    );
    Ok(Report::of(&outcome.view, text)?
        .warn_all(outcome.warnings)
        .with_stdout(outcome.returned))
}

fn create(ctx: &Ctx, a: CertCreateArgs) -> Result<Report, CliError> {
    let svc = super::service::service(ctx)?;
    super::not_stdout_dir(&a.out_dir)?;
    let protection = super::protection(&a.protection, "key and .p12 password")?;
    let view = svc.create(
        &super::service::CreateCall {
            bundle_id: &a.app,
            env: a.env,
            out_dir: &a.out_dir,
            key_type: a.key_type,
            protection: &protection,
            renew_within: a.renew_within,
            force: a.overwrite.force,
        },
        a.ca_passin.as_ref(),
    )?;
    let v = match &view {
        certs::CreateView::NotRenewed(v) => return not_renewed(v),
        certs::CreateView::Created(v) => v,
    };
    let text = format!(
        "Issued {} certificate {} for {} (valid until {})\n  key         {}\n  CSR         {}\n  certificate {}\n  .p12        {}\n  ck.pem      {}\n",
        a.env,
        v.serial,
        a.app,
        rfc3339(v.not_after),
        v.key.display(),
        v.csr.display(),
        v.certificate.display(),
        v.p12.display(),
        v.ck.display()
    );
    Report::of(&view, text)
}
