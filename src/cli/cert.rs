//! `cert issue`, `cert list` and `cert show`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::secrets::SecretSource;
use clap::{Args, Subcommand, ValueEnum};
use pushca::ca::workflow;
use pushca::ca::{self, authority::CaFiles, CertSummary, IssuingCa, PushEnvironment};
use pushca::fsutil::{self, AtomicBatch, MODE_PUBLIC};
use pushca::pem::encode as pem_encode;
use pushca::store::{self, CertFilter};
use serde_json::json;

use super::{exit, now, rfc3339, secrets, CliError, Ctx, Report};

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum CertFormat {
    Pem,
    Der,
}

#[derive(Subcommand, Debug)]
pub enum CertCmd {
    /// Issue push certificates from CSRs
    Issue(CertIssueArgs),
    /// List issued certificates
    List(CertListArgs),
    /// Show a certificate (a file, or a serial number from the store)
    Show(CertShowArgs),
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
    /// Output directory: <csr name>.pem (or .cer) per CSR
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "pem")]
    pub format: CertFormat,
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

pub fn cert(ctx: &Ctx, c: CertCmd) -> Result<Report, CliError> {
    match c {
        CertCmd::Issue(a) => issue(ctx, a),
        CertCmd::List(a) => list(ctx, a),
        CertCmd::Show(a) => show(ctx, a),
    }
}

fn output_paths(a: &CertIssueArgs) -> Result<Vec<PathBuf>, CliError> {
    let ext = match a.format {
        CertFormat::Pem => "pem",
        CertFormat::Der => "cer",
    };
    match (&a.out, &a.out_dir) {
        (Some(out), _) => {
            if a.csr.len() != 1 {
                return Err(CliError::usage(format!(
                    "--out takes one CSR, got {}; use --out-dir for a batch",
                    a.csr.len()
                )));
            }
            Ok(vec![out.clone()])
        }
        (None, Some(dir)) => {
            if !dir.is_dir() {
                return Err(CliError::new(
                    "input",
                    format!("{}: output directory does not exist", dir.display()),
                ));
            }
            let mut seen = HashSet::new();
            a.csr
                .iter()
                .map(|csr| {
                    let stem = csr.file_stem().and_then(|s| s.to_str()).unwrap_or("cert");
                    let p = dir.join(format!("{stem}.{ext}"));
                    if !seen.insert(p.clone()) {
                        return Err(CliError::usage(format!(
                            "two CSRs would both be written to {}; give them different file names",
                            p.display()
                        )));
                    }
                    Ok(p)
                })
                .collect()
        }
        (None, None) => Err(CliError::usage("give --out FILE or --out-dir DIR")),
    }
}

fn issue(ctx: &Ctx, a: CertIssueArgs) -> Result<Report, CliError> {
    let home = ctx.home()?;
    let outputs = output_paths(&a)?;
    // Check every CSR before anything else: a batch is all or nothing.
    let progress = super::progress(ctx, a.csr.len() as u64, "checking CSRs");
    let mut checked = Vec::with_capacity(a.csr.len());
    for path in &a.csr {
        let bytes = fsutil::read_input(path)?;
        let csr = ca::check_csr(&bytes)
            .map_err(|e| CliError::new("input", format!("{}: {e}", path.display())))?;
        checked.push(csr);
        progress.inc(1);
    }
    progress.finish_and_clear();
    let mut st = workflow::open_store(&home)?;
    // Refuse unknown or unusable App IDs before asking for the passphrase.
    let app = st.read(|tx| pushca::portal::get_app(tx, &a.app))?;
    workflow::check_push_app(&app)?;
    let pass = secrets::ca_passphrase(a.ca_passin.as_ref(), false)?;
    let ca = IssuingCa::unlock(&CaFiles::new(home.ca_dir()), &pass)?;
    let many = outputs.len() > 8;
    let (issued, batch) = workflow::issue_push_certificates(
        &home,
        &mut st,
        &ca,
        &workflow::IssueRequest {
            bundle_id: &app.bundle_id,
            env: a.env,
            csrs: &checked,
            now: now(),
        },
        |certs| {
            let mut batch = if many {
                AtomicBatch::for_many()
            } else {
                AtomicBatch::new()
            };
            for (cert, path) in certs.iter().zip(&outputs) {
                let bytes = match a.format {
                    CertFormat::Pem => pem_encode("CERTIFICATE", &cert.der).into_bytes(),
                    CertFormat::Der => cert.der.clone(),
                };
                batch.add(path, &bytes, MODE_PUBLIC)?;
            }
            Ok(batch)
        },
    )?;
    batch.commit().map_err(|e| {
        CliError::new(
            "io",
            format!("certificates were issued and recorded, but writing them failed: {e}"),
        )
        .with_hint("get them with `pushca cert show SERIAL --pem`")
    })?;
    let items: Vec<_> = issued
        .iter()
        .zip(&outputs)
        .map(|(c, p)| {
            json!({
                "serial": c.serial, "sha256": c.sha256, "subject": c.subject,
                "bundle_id": app.bundle_id, "environment": a.env.name(),
                "not_before": rfc3339(c.not_before.unix_timestamp()),
                "not_after": rfc3339(c.not_after.unix_timestamp()),
                "out": p,
            })
        })
        .collect();
    let mut text = String::new();
    for (c, p) in issued.iter().zip(&outputs) {
        text.push_str(&format!(
            "Issued {} push certificate for {} serial {} (valid until {}) -> {}\n",
            a.env,
            app.bundle_id,
            c.serial,
            rfc3339(c.not_after.unix_timestamp()),
            p.display()
        ));
    }
    if issued.len() > 1 {
        text = format!(
            "Issued {} certificates for {} ({})\n",
            issued.len(),
            app.bundle_id,
            a.env
        ) + if ctx.verbose > 0 { text.as_str() } else { "" };
    }
    Ok(Report::new(json!({ "certificates": items }), text))
}

fn list(ctx: &Ctx, a: CertListArgs) -> Result<Report, CliError> {
    let home = ctx.home()?;
    let mut st = workflow::open_store(&home)?;
    let now_ts = now().unix_timestamp();
    let expiring_before = a.expiring_within.map(|d| now_ts + i64::from(d) * 86_400);
    let rows = st.read(|tx| {
        if let Some(app) = &a.app {
            pushca::portal::get_app(tx, app)?;
        }
        Ok::<_, pushca::portal::PortalError>(store::list_certificates(
            tx,
            &CertFilter {
                bundle_id: a.app.as_deref(),
                environment: None,
                expiring_before,
            },
        )?)
    })?;
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

fn read_cert_file(path: &Path) -> Result<Vec<u8>, CliError> {
    let bytes = fsutil::read_input(path)?;
    pushca::certfile::read_certificates(&bytes)
        .ok()
        .and_then(|certs| certs.into_iter().next())
        .ok_or_else(|| {
            CliError::new(
                "input",
                format!(
                    "{}: not a certificate (expected PEM CERTIFICATE or DER)",
                    path.display()
                ),
            )
        })
}

fn show(ctx: &Ctx, a: CertShowArgs) -> Result<Report, CliError> {
    let path = Path::new(&a.target);
    let (der, record) = if path.exists() {
        (read_cert_file(path)?, None)
    } else {
        let home = ctx.home()?;
        let mut st = workflow::open_store(&home)?;
        let rec = st
            .read(|tx| store::find_certificate(tx, &a.target))?
            .ok_or_else(|| {
                CliError::new(
                    "not_found",
                    format!("no file and no certificate with serial {}", a.target),
                )
            })?;
        (rec.der.clone(), Some(rec))
    };
    let s = CertSummary::from_der(&der)
        .map_err(|e| CliError::new("input", format!("{}: {e}", a.target)))?;
    let now_ts = now().unix_timestamp();
    let days = s.days_left(now_ts);
    let env_label = match s.environments.as_slice() {
        [] => "none".to_string(),
        [one] => one.clone(),
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
    if let Some(r) = &record {
        if let Some(at) = r.revoked_at {
            text.push_str(&format!(
                "Revoked:     {} ({})\n",
                rfc3339(at),
                r.revocation_reason.as_deref().unwrap_or("unspecified")
            ));
        }
    }
    let pem = pem_encode("CERTIFICATE", &der);
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
    if let Some(r) = record {
        doc["revoked"] = json!(r.revoked_at.is_some());
    }
    if a.pem {
        doc["pem"] = json!(pem);
    }
    Ok(Report::new(doc, text))
}
