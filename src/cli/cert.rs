//! `cert issue`, `cert list`, `cert show` and `cert export`.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use pushca::ca::PushEnvironment;
use pushca::ops::{self, certs};
use pushca::pem::encode as pem_encode;
use serde_json::json;

use super::secrets::{self, SecretSource};
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
    let home = ctx.home()?;
    let output = match (&a.out, &a.out_dir, &a.out_bundle) {
        (Some(out), _, _) => Some(certs::IssueOutput::File(out.clone())),
        (None, Some(dir), _) => Some(certs::IssueOutput::Dir(dir.clone())),
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
    let req = certs::IssueRequest {
        bundle_id: &a.app,
        env: a.env,
        csr_files: &a.csr,
        output,
        bundle: a.out_bundle.clone(),
        format: a.format.into(),
        force: a.overwrite.force,
    };
    let progress = super::progress(ctx, a.csr.len() as u64, "checking CSRs");
    let prepared = certs::prepare_issue(&home, &req, &|| progress.inc(1))?;
    progress.finish_and_clear();
    // Unknown or unusable App IDs and bad CSRs are refused before the passphrase is asked for.
    let pass = secrets::ca_passphrase(a.ca_passin.as_ref(), false)?;
    let progress = super::progress(ctx, a.csr.len() as u64, "signing certificates");
    let outcome = prepared.issue_with_progress(&pass, &|| progress.inc(1))?;
    progress.finish_and_clear();
    let bundle_id = &outcome.app.bundle_id;
    let items: Vec<_> = outcome
        .issued
        .iter()
        .map(|i| {
            let c = &i.cert;
            json!({
                "serial": c.serial, "sha256": c.sha256, "subject": c.subject,
                "bundle_id": bundle_id, "environment": a.env.name(),
                "not_before": rfc3339(c.not_before.unix_timestamp()),
                "not_after": rfc3339(c.not_after.unix_timestamp()),
                "out": i.path,
            })
        })
        .collect();
    let mut text = String::new();
    for i in &outcome.issued {
        text.push_str(&format!(
            "Issued {} push certificate for {} serial {} (valid until {}){}\n",
            a.env,
            bundle_id,
            i.cert.serial,
            rfc3339(i.cert.not_after.unix_timestamp()),
            i.path
                .as_ref()
                .map(|p| format!(" -> {}", p.display()))
                .unwrap_or_default()
        ));
    }
    if outcome.issued.len() > 1 {
        text = format!(
            "Issued {} certificates for {} ({})\n",
            outcome.issued.len(),
            bundle_id,
            a.env
        ) + if ctx.verbose > 0 { text.as_str() } else { "" };
    }
    if let Some(b) = &outcome.bundle {
        text.push_str(&format!(
            "Wrote {} certificate(s) to the bundle {}\n",
            outcome.issued.len(),
            b.display()
        ));
    }
    let mut report = Report::new(
        json!({ "certificates": items, "bundle": outcome.bundle }),
        text,
    );
    for w in outcome.warnings {
        report = report.warn(w);
    }
    Ok(report)
}

fn list(ctx: &Ctx, a: CertListArgs) -> Result<Report, CliError> {
    let home = ctx.home()?;
    let now_ts = ops::now().unix_timestamp();
    let rows = certs::list(&home, a.app.as_deref(), a.expiring_within)?;
    let items: Vec<_> = rows
        .iter()
        .map(|r| {
            json!({
                "serial": r.serial, "bundle_id": r.bundle_id, "team_id": r.team_id,
                "environment": r.environment, "sha256": r.sha256, "key_type": pushca::keys::KeyAlgorithm::id_of(&r.key_type),
                "not_before": rfc3339(r.not_before), "not_after": rfc3339(r.not_after),
                "days_left": (r.not_after - now_ts).div_euclid(86_400),
                "expired": r.not_after <= now_ts,
                "revoked": r.revoked_at.is_some(),
            })
        })
        .collect();
    let mut text = String::new();
    if rows.is_empty() {
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
        for r in &rows {
            let days = (r.not_after - now_ts).div_euclid(86_400);
            text.push_str(&format!(
                "{:<34} {:<28} {:<12} {:<22} {}{}\n",
                r.serial,
                r.bundle_id,
                r.environment,
                rfc3339(r.not_after),
                days,
                if r.revoked_at.is_some() {
                    " (revoked)"
                } else if days < 0 {
                    " (expired)"
                } else {
                    ""
                }
            ));
        }
    }
    let code = if a.expiring_within.is_some() && !rows.is_empty() {
        exit::EXPIRING
    } else {
        exit::OK
    };
    Ok(Report::new(json!({ "certificates": items }), text).with_exit(code))
}

fn show(ctx: &Ctx, a: CertShowArgs) -> Result<Report, CliError> {
    let shown = certs::show(
        || pushca::home::Home::resolve(ctx.home.clone()).map_err(ops::OpsError::from),
        &a.target,
    )?;
    let s = &shown.summary;
    let now_ts = ops::now().unix_timestamp();
    let days = s.days_left(now_ts);
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
        if days < 0 { format!("expired {} days ago", -days) } else { format!("{days} days left") },
        s.public_key,
        if s.extended_key_usage.is_empty() { "-".into() } else { s.extended_key_usage.join(", ") },
        s.sha256,
    );
    if let Some(r) = &shown.record {
        if let Some(at) = r.revoked_at {
            text.push_str(&format!(
                "Revoked:     {} ({})\n",
                rfc3339(at),
                r.revocation_reason.as_deref().unwrap_or("unspecified")
            ));
        }
    }
    let pem = pem_encode("CERTIFICATE", &shown.der);
    if a.pem {
        text.push_str(&pem);
    }
    let mut doc = json!({
        "subject": s.subject, "issuer": s.issuer, "serial": s.serial,
        "environments": s.environments, "topics": s.topics, "bundle_id": s.bundle_id,
        "not_before": rfc3339(s.not_before), "not_after": rfc3339(s.not_after),
        "days_left": days, "expired": days < 0, "public_key": s.public_key,
        "extended_key_usage": s.extended_key_usage, "is_ca": s.is_ca, "sha256": s.sha256,
    });
    if let Some(r) = &shown.record {
        doc["revoked"] = json!(r.revoked_at.is_some());
    }
    if a.pem {
        doc["pem"] = json!(pem);
    }
    Ok(Report::new(doc, text))
}

fn export(ctx: &Ctx, a: CertExportArgs) -> Result<Report, CliError> {
    let home = ctx.home()?;
    let rec = certs::export(
        &home,
        &a.serial,
        &a.out,
        a.format.into(),
        &super::rules(Some(&home), a.overwrite),
    )?;
    Ok(Report::new(
        json!({ "serial": rec.serial, "sha256": rec.sha256, "bundle_id": rec.bundle_id,
                "environment": rec.environment, "out": a.out }),
        format!(
            "Wrote certificate {} ({} {}) to {}\n",
            rec.serial,
            rec.bundle_id,
            rec.environment,
            a.out.display()
        ),
    ))
}

fn revoke(ctx: &Ctx, a: CertRevokeArgs) -> Result<Report, CliError> {
    let home = ctx.home()?;
    let (rec, changed) = ops::revocation::revoke(&home, &a.serial, a.reason.as_deref())?;
    let reason = rec
        .revocation_reason
        .clone()
        .unwrap_or_else(|| "unspecified".into());
    let at = rec.revoked_at.map(rfc3339);
    let text = if changed && rec.environment == "profile-signing" {
        format!(
            "Revoked the profile signer {} ({}), reason {reason}: profiles and trust stores it signed are refused from the next CRL on\n",
            rec.serial, rec.subject
        )
    } else if changed {
        format!(
            "Revoked certificate {} ({} {}), reason {reason}\n",
            rec.serial, rec.bundle_id, rec.environment
        )
    } else {
        format!(
            "Certificate {} was already revoked on {} ({reason})\n",
            rec.serial,
            at.clone().unwrap_or_default()
        )
    };
    let mut report = Report::new(
        json!({ "serial": rec.serial, "bundle_id": rec.bundle_id, "environment": rec.environment,
                "revoked": true, "changed": changed, "revoked_at": at, "reason": reason }),
        text,
    );
    if changed {
        report = report.warn(
            "gateways learn of it from the next CRL: run `pushca crl` or `pushca gateway trust-store`",
        );
    }
    Ok(report)
}

fn not_renewed(newest: &pushca::store::CertRecord, within: u32) -> Report {
    let now = ops::now().unix_timestamp();
    let days = (newest.not_after - now).div_euclid(86_400);
    Report::new(
        json!({ "renewed": false, "serial": newest.serial, "not_after": rfc3339(newest.not_after),
                "days_left": days, "within": within }),
        format!(
            "Not renewed: certificate {} is valid until {} ({days} days left, more than {within})\n",
            newest.serial,
            rfc3339(newest.not_after)
        ),
    )
}

fn renew(ctx: &Ctx, a: CertRenewArgs) -> Result<Report, CliError> {
    let home = ctx.home()?;
    let csrs = [a.csr.clone()];
    let req = certs::IssueRequest {
        bundle_id: &a.app,
        env: a.env,
        csr_files: &csrs,
        output: Some(certs::IssueOutput::File(a.out.clone())),
        bundle: None,
        format: a.format.into(),
        // `cert renew` replaces its --out by design.
        force: true,
    };
    let prepared = certs::prepare_issue(&home, &req, &|| {})?.only_if_due(a.within);
    // Not due: no passphrase needed, nothing written.
    if let Err(nd) = prepared.due()? {
        return Ok(not_renewed(&nd.newest, a.within));
    }
    let pass = secrets::ca_passphrase(a.ca_passin.as_ref(), false)?;
    let outcome = match prepared.issue(&pass) {
        Err(ops::OpsError::RenewedMeanwhile(_)) => {
            let mut st = ops::open_store(&home)?;
            let now = ops::now().unix_timestamp();
            let newest = st
                .read(|tx| certs::newest_valid(tx, &a.app, a.env, now))?
                .ok_or_else(|| CliError::new("internal", "the renewed certificate vanished"))?;
            return Ok(not_renewed(&newest, a.within));
        }
        other => other?,
    };
    let i = &outcome.issued[0];
    let mut report = Report::new(
        json!({ "renewed": true, "serial": i.cert.serial, "sha256": i.cert.sha256,
                "bundle_id": outcome.app.bundle_id, "environment": a.env.name(),
                "not_after": rfc3339(i.cert.not_after.unix_timestamp()), "out": i.path }),
        format!(
            "Renewed: issued {} certificate {} for {} (valid until {}) -> {}\n",
            a.env,
            i.cert.serial,
            outcome.app.bundle_id,
            rfc3339(i.cert.not_after.unix_timestamp()),
            a.out.display()
        ),
    );
    for w in outcome.warnings {
        report = report.warn(w);
    }
    Ok(report)
}

fn create(ctx: &Ctx, a: CertCreateArgs) -> Result<Report, CliError> {
    let home = ctx.home()?;
    let protection = super::protection(&a.protection, "key and .p12 password")?;
    let ca_passin = a.ca_passin.clone();
    let mut ca_err = None;
    let out = certs::create(
        &home,
        &a.app,
        a.env,
        &a.out_dir,
        a.key_type,
        &protection,
        a.renew_within,
        a.overwrite.force,
        || {
            // The CLI's own error (which flag, which hint) is kept aside and
            // returned instead of this placeholder.
            secrets::ca_passphrase(ca_passin.as_ref(), false).map_err(|e| {
                ca_err = Some(e);
                ops::OpsError::Passphrase(pushca::secret::PassphraseError::Empty)
            })
        },
    );
    let out = match (out, ca_err) {
        (Err(_), Some(e)) => return Err(e),
        (r, _) => r?,
    };
    if let Some(nd) = &out.not_due {
        let within = a.renew_within.unwrap_or_default();
        return Ok(not_renewed(&nd.newest, within));
    }
    let Some(i) = &out.issued else {
        return Err(CliError::new("internal", "nothing issued"));
    };
    let doc = json!({
        "renewed": true, "serial": i.cert.serial, "sha256": i.cert.sha256,
        "bundle_id": a.app, "environment": a.env.name(),
        "not_after": rfc3339(i.cert.not_after.unix_timestamp()),
        "key": out.key, "csr": out.csr, "certificate": i.path, "p12": out.p12, "ck": out.ck,
        "encrypted": matches!(protection, ops::convert::Protection::Password(_)),
    });
    let text = format!(
        "Issued {} certificate {} for {} (valid until {})\n  key         {}\n  CSR         {}\n  certificate {}\n  .p12        {}\n  ck.pem      {}\n",
        a.env,
        i.cert.serial,
        a.app,
        rfc3339(i.cert.not_after.unix_timestamp()),
        out.key.display(),
        out.csr.display(),
        i.path.as_deref().unwrap_or(a.out_dir.as_path()).display(),
        out.p12.display(),
        out.ck.display()
    );
    Ok(Report::new(doc, text))
}
