//! `crl`: sign a new certificate revocation list.

use std::path::PathBuf;

use clap::Args;
use pushca::ops;

use super::cert::CertFormat;
use super::secrets::SecretSource;
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
    let svc = super::service::service(ctx)?;
    let rules = super::rules(svc.home(), a.overwrite);
    let output = a.out.as_deref().map(|out| ops::revocation::CrlOutput {
        sink: super::sink(out),
        der: matches!(a.format, CertFormat::Der),
        rules,
    });
    let v = svc.crl(output.as_ref(), a.ca_passin.as_ref())?;
    match (&v.out, &v.pem) {
        (Some(out), _) => {
            let text = format!(
                "Signed CRL number {} ({} revoked, next update {}) -> {}\n",
                v.number,
                v.revoked,
                rfc3339(v.next_update),
                out.display()
            );
            Ok(Report::of(&v, text)?.with_stdout(v.returned.clone()))
        }
        (None, pem) => Ok(Report::of(&v, pem.clone().unwrap_or_default())?.data()),
    }
}
