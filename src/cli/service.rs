//! The operations the CA's commands call, behind one trait: [`Local`] runs
//! them on the home (the `ops` calls), the client mode
//! ([`super::client::Remote`]) on a `pushca serve` service over HTTPS. The
//! handlers render the same documents and text, and write outputs with the
//! same library code, whichever runs them.

use std::path::Path;

use pushca::fsutil::{Returned, Sink};
use pushca::ops::gateway::TrustStoreOutcome;
use pushca::ops::revocation::{CrlOutput, CrlSigned, Revoked};
use pushca::ops::status::Status;
use pushca::ops::{self, certs};

use super::secrets::{self, SecretSource};
use super::{CliError, Ctx};

/// `cert issue` done: its document, the App ID, warnings and the bytes of
/// an output to `-`.
pub struct IssueDone {
    pub view: certs::IssuedCerts,
    pub bundle_id: String,
    pub warnings: Vec<String>,
    pub returned: Option<Returned>,
}

/// `cert show SERIAL`: the document, and when (and why) it was revoked.
pub struct ShownCert {
    pub view: certs::CertShown,
    pub revoked_at: Option<i64>,
    pub revocation_reason: Option<String>,
}

/// What `cert create` makes and where.
pub struct CreateCall<'a> {
    pub bundle_id: &'a str,
    pub env: pushca::ca::PushEnvironment,
    pub out_dir: &'a Path,
    pub key_type: pushca::keys::KeyType,
    pub protection: &'a ops::convert::Protection,
    pub renew_within: Option<u32>,
    pub force: bool,
}

/// The operations of `cert`, `crl`, `status` and `gateway trust-store`.
/// `ca_passin` is where a local run reads the CA passphrase (asked for only
/// when something is signed); a service holds its CA unlocked and ignores it.
pub trait CaService {
    /// The home whose outputs rules apply (never write inside it), if any.
    fn home(&self) -> Option<&pushca::home::Home>;
    fn issue(
        &self,
        req: &certs::IssueRequest<'_>,
        ca_passin: Option<&SecretSource>,
    ) -> Result<IssueDone, CliError>;
    fn renew(
        &self,
        req: &certs::RenewRequest<'_>,
        ca_passin: Option<&SecretSource>,
    ) -> Result<certs::RenewOutcome, CliError>;
    fn create(
        &self,
        call: &CreateCall<'_>,
        ca_passin: Option<&SecretSource>,
    ) -> Result<certs::CreateView, CliError>;
    fn list(&self, app: Option<&str>, within: Option<u32>) -> Result<certs::CertList, CliError>;
    fn show_serial(&self, serial: &str, pem: bool) -> Result<ShownCert, CliError>;
    fn export(
        &self,
        serial: &str,
        out: &Sink,
        format: certs::CertFormat,
        force: bool,
    ) -> Result<certs::Exported, CliError>;
    fn revoke(&self, serial: &str, reason: Option<&str>) -> Result<Revoked, CliError>;
    /// Checks `out` (if any) before anything is signed, then signs a CRL.
    fn crl(
        &self,
        out: Option<&CrlOutput<'_>>,
        ca_passin: Option<&SecretSource>,
    ) -> Result<CrlSigned, CliError>;
    fn status(&self, within: Option<u32>) -> Result<Status, CliError>;
    fn trust_store(
        &self,
        out: &Path,
        ca_passin: Option<&SecretSource>,
    ) -> Result<TrustStoreOutcome, CliError>;
}

/// The service the command line asks for: the service of `--server`, else
/// the home.
pub fn service(ctx: &Ctx) -> Result<Box<dyn CaService>, CliError> {
    match &ctx.server {
        Some(s) => Ok(Box::new(super::client::Remote::connect(ctx, s)?)),
        None => Ok(Box::new(Local {
            home: ctx.home()?,
            ctx: ctx.clone(),
        })),
    }
}

/// The operations on the home (`ops`), the CA unlocked with the passphrase
/// for each signing operation.
pub struct Local {
    home: pushca::home::Home,
    ctx: Ctx,
}

/// The CA passphrase for a closure of `ops` that asks for it: the CLI's own
/// error (which flag, which hint) is kept aside in `slot` and returned
/// instead of the placeholder (see [`take_ca_err`]).
fn ca_pass(
    src: Option<&SecretSource>,
    slot: &mut Option<CliError>,
) -> Result<pushca::secret::Secret, ops::OpsError> {
    secrets::ca_passphrase(src, false).map_err(|e| {
        *slot = Some(e);
        ops::OpsError::Passphrase(pushca::secret::PassphraseError::Empty)
    })
}

fn take_ca_err<T>(r: Result<T, ops::OpsError>, slot: Option<CliError>) -> Result<T, CliError> {
    match (r, slot) {
        (Err(_), Some(e)) => Err(e),
        (r, _) => Ok(r?),
    }
}

impl CaService for Local {
    fn home(&self) -> Option<&pushca::home::Home> {
        Some(&self.home)
    }

    fn issue(
        &self,
        req: &certs::IssueRequest<'_>,
        ca_passin: Option<&SecretSource>,
    ) -> Result<IssueDone, CliError> {
        let n = req.csr_files.len() as u64;
        let progress = super::progress(&self.ctx, n, "checking CSRs");
        let prepared = certs::prepare_issue(&self.home, req, &|| progress.inc(1))?;
        progress.finish_and_clear();
        // Unknown or unusable App IDs and bad CSRs are refused before the passphrase is asked for.
        let pass = secrets::ca_passphrase(ca_passin, false)?;
        let progress = super::progress(&self.ctx, n, "signing certificates");
        let outcome = prepared.issue_with_progress(&pass, &|| progress.inc(1))?;
        progress.finish_and_clear();
        Ok(IssueDone {
            view: outcome.view(),
            bundle_id: outcome.app.bundle_id.clone(),
            warnings: outcome.warnings,
            returned: outcome.returned,
        })
    }

    fn renew(
        &self,
        req: &certs::RenewRequest<'_>,
        ca_passin: Option<&SecretSource>,
    ) -> Result<certs::RenewOutcome, CliError> {
        let mut slot = None;
        let r = certs::renew(&self.home, req, || ca_pass(ca_passin, &mut slot));
        take_ca_err(r, slot)
    }

    fn create(
        &self,
        c: &CreateCall<'_>,
        ca_passin: Option<&SecretSource>,
    ) -> Result<certs::CreateView, CliError> {
        let mut slot = None;
        let r = certs::create(
            &self.home,
            c.bundle_id,
            c.env,
            c.out_dir,
            c.key_type,
            c.protection,
            c.renew_within,
            c.force,
            || ca_pass(ca_passin, &mut slot),
        );
        Ok(take_ca_err(r, slot)?.view)
    }

    fn list(&self, app: Option<&str>, within: Option<u32>) -> Result<certs::CertList, CliError> {
        Ok(certs::list_view(&self.home, app, within)?)
    }

    fn show_serial(&self, serial: &str, pem: bool) -> Result<ShownCert, CliError> {
        let s = certs::show_serial(&self.home, serial, pem)?;
        Ok(ShownCert {
            revoked_at: s.record.as_ref().and_then(|r| r.revoked_at),
            revocation_reason: s.record.and_then(|r| r.revocation_reason),
            view: s.view,
        })
    }

    fn export(
        &self,
        serial: &str,
        out: &Sink,
        format: certs::CertFormat,
        force: bool,
    ) -> Result<certs::Exported, CliError> {
        let rules = ops::OutputRules {
            force,
            home: Some(self.home.root()),
        };
        Ok(certs::export(&self.home, serial, out, format, &rules)?)
    }

    fn revoke(&self, serial: &str, reason: Option<&str>) -> Result<Revoked, CliError> {
        Ok(ops::revocation::revoke(&self.home, serial, reason)?)
    }

    fn crl(
        &self,
        out: Option<&CrlOutput<'_>>,
        ca_passin: Option<&SecretSource>,
    ) -> Result<CrlSigned, CliError> {
        if let Some(o) = out {
            pushca::fsutil::check_sink(&o.sink, &o.rules)?;
        }
        let pass = secrets::ca_passphrase(ca_passin, false)?;
        Ok(ops::revocation::make_crl_to(&self.home, &pass, out)?)
    }

    fn status(&self, within: Option<u32>) -> Result<Status, CliError> {
        Ok(ops::status::status(&self.home, within)?)
    }

    fn trust_store(
        &self,
        out: &Path,
        ca_passin: Option<&SecretSource>,
    ) -> Result<TrustStoreOutcome, CliError> {
        let prepared = ops::gateway::prepare_trust_store(&self.home, out)?;
        Ok(match prepared.unchanged() {
            Some(o) => o,
            None => {
                let pass = secrets::ca_passphrase(ca_passin, false)?;
                let progress =
                    super::progress(&self.ctx, prepared.work(), "writing the trust store");
                let out = prepared.build_with_progress(&pass, &|| progress.inc(1))?;
                progress.finish_and_clear();
                out
            }
        })
    }
}
