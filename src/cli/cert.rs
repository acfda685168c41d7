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
    #[arg(long, value_name = "ENV")]
    pub env: PushEnvironment,
    /// CSR file (PEM or DER); repeat for a batch
    #[arg(long, value_name = "FILE", required = true)]
    pub csr: Vec<PathBuf>,
    /// Output file (one CSR)
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with = "out_dir",
        required_unless_present = "out_dir"
    )]
    pub out: Option<PathBuf>,
    /// Output directory (created when missing): <csr name>.pem (or .cer) per CSR
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
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
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
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
    }
}

fn issue(ctx: &Ctx, a: CertIssueArgs) -> Result<Report, CliError> {
    let home = ctx.home()?;
    let output = match (&a.out, &a.out_dir) {
        (Some(out), _) => certs::IssueOutput::File(out.clone()),
        (None, Some(dir)) => certs::IssueOutput::Dir(dir.clone()),
        (None, None) => return Err(CliError::usage("give --out FILE or --out-dir DIR")),
    };
    let req = certs::IssueRequest {
        bundle_id: &a.app,
        env: a.env,
        csr_files: &a.csr,
        output,
        format: a.format.into(),
        force: a.overwrite.force,
    };
    let progress = super::progress(ctx, a.csr.len() as u64, "checking CSRs");
    let prepared = certs::prepare_issue(&home, &req, &mut || progress.inc(1))?;
    progress.finish_and_clear();
    // Unknown or unusable App IDs and bad CSRs are refused before the passphrase is asked for.
    let pass = secrets::ca_passphrase(a.ca_passin.as_ref(), false)?;
    let outcome = prepared.issue(&pass)?;
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
            "Issued {} push certificate for {} serial {} (valid until {}) -> {}\n",
            a.env,
            bundle_id,
            i.cert.serial,
            rfc3339(i.cert.not_after.unix_timestamp()),
            i.path.display()
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
    let mut report = Report::new(json!({ "certificates": items }), text);
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
                "environment": r.environment, "sha256": r.sha256, "key_type": r.key_type,
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
    let text = if changed {
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

#[derive(Args, Debug)]
pub struct CrlArgs {
    /// Output file (default: print the CRL on stdout)
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "pem")]
    pub format: CertFormat,
    #[command(flatten)]
    pub overwrite: Overwrite,
    /// CA passphrase source; else $PUSHCA_CA_PASSPHRASE, else a prompt
    #[arg(long, value_name = "SRC")]
    pub ca_passin: Option<SecretSource>,
}

pub fn crl(ctx: &Ctx, a: CrlArgs) -> Result<Report, CliError> {
    let home = ctx.home()?;
    let rules = super::rules(Some(&home), a.overwrite);
    if let Some(out) = &a.out {
        pushca::fsutil::check_output(out, &rules)?;
    }
    let pass = secrets::ca_passphrase(a.ca_passin.as_ref(), false)?;
    let rec = ops::revocation::make_crl(&home, &pass)?;
    let pem = pem_encode("X509 CRL", &rec.der);
    let doc = json!({
        "number": rec.number, "this_update": rfc3339(rec.this_update),
        "next_update": rfc3339(rec.next_update), "revoked": rec.revoked,
        "sha256": pushca::ca::sha256_hex(&rec.der), "out": a.out,
    });
    match &a.out {
        Some(out) => {
            let bytes = match a.format {
                CertFormat::Pem => pem.into_bytes(),
                CertFormat::Der => rec.der.clone(),
            };
            pushca::fsutil::write_output(out, &bytes, pushca::fsutil::MODE_PUBLIC, &rules)?;
            Ok(Report::new(
                doc,
                format!(
                    "Signed CRL number {} ({} revoked, next update {}) -> {}\n",
                    rec.number,
                    rec.revoked,
                    rfc3339(rec.next_update),
                    out.display()
                ),
            ))
        }
        None => {
            let mut doc = doc;
            doc["pem"] = json!(pem);
            Ok(Report::new(doc, pem))
        }
    }
}
