//! `crl`: sign a new certificate revocation list.

use std::path::PathBuf;

use clap::Args;
use pushca::ops;
use pushca::pem::encode as pem_encode;
use serde_json::json;

use super::cert::CertFormat;
use super::secrets::{self, SecretSource};
use super::{rfc3339, CliError, Ctx, Overwrite, Report};

#[derive(Args, Debug)]
pub struct CrlArgs {
    /// Output file (default: print the CRL on stdout)
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// CRL file format
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
    let output = a.out.as_deref().map(|path| ops::revocation::CrlOutput {
        path,
        der: matches!(a.format, CertFormat::Der),
        rules,
    });
    let rec = ops::revocation::make_crl_to(&home, &pass, output.as_ref())?;
    let pem = pem_encode("X509 CRL", &rec.der);
    let doc = json!({
        "number": rec.number, "this_update": rfc3339(rec.this_update),
        "next_update": rfc3339(rec.next_update), "revoked": rec.revoked,
        "sha256": pushca::ca::sha256_hex(&rec.der), "out": a.out,
    });
    match &a.out {
        Some(out) => Ok(Report::new(
            doc,
            format!(
                "Signed CRL number {} ({} revoked, next update {}) -> {}\n",
                rec.number,
                rec.revoked,
                rfc3339(rec.next_update),
                out.display()
            ),
        )),
        None => {
            let mut doc = doc;
            doc["pem"] = json!(pem);
            Ok(Report::new(doc, pem).data())
        }
    }
}
