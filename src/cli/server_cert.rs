//! `server-cert` and `device identity`: TLS identities from the issuing CA
//! (key, certificate, chain, full chain and .p12 in one step).

use std::path::PathBuf;

use clap::Args;
use pushca::ops::{self, identity};

use super::secrets::{self, SecretSource};
use super::{rfc3339, CliError, Ctx, Overwrite, Report};

#[derive(Args, Debug)]
pub struct ServerCertArgs {
    /// DNS name the server answers to (repeat for more; the first is the CN)
    #[arg(long = "dns", value_name = "NAME", required = true)]
    pub dns: Vec<String>,
    /// IP address the server answers to, IPv4 or IPv6 (repeat for more)
    #[arg(long = "ip", value_name = "ADDR")]
    pub ip: Vec<String>,
    /// Where server-<name>.key, .pem, -chain.pem, -fullchain.pem and .p12 go (created when missing)
    #[arg(long, value_name = "DIR")]
    pub out_dir: PathBuf,
    #[command(flatten)]
    pub protection: super::Protection,
    /// Type of the new key
    #[arg(long, value_name = "TYPE", default_value = "rsa-2048", value_parser = super::key_types())]
    pub key_type: pushca::keys::KeyType,
    #[command(flatten)]
    pub overwrite: Overwrite,
    /// CA passphrase source; else $PUSHCA_CA_PASSPHRASE, else a prompt
    #[arg(long, value_name = "SRC")]
    pub ca_passin: Option<SecretSource>,
}

#[derive(Args, Debug)]
pub struct DeviceIdentityArgs {
    /// UDID of a registered, enabled device
    pub udid: String,
    /// Team ID (default: the default team)
    #[arg(long, value_name = "ID")]
    pub team: Option<String>,
    /// Where device-<UDID>.key, .pem, -chain.pem, -fullchain.pem and .p12 go (created when missing)
    #[arg(long, value_name = "DIR")]
    pub out_dir: PathBuf,
    #[command(flatten)]
    pub protection: super::Protection,
    /// Type of the new key
    #[arg(long, value_name = "TYPE", default_value = "rsa-2048", value_parser = super::key_types())]
    pub key_type: pushca::keys::KeyType,
    #[command(flatten)]
    pub overwrite: Overwrite,
    /// CA passphrase source; else $PUSHCA_CA_PASSPHRASE, else a prompt
    #[arg(long, value_name = "SRC")]
    pub ca_passin: Option<SecretSource>,
}

/// Runs `issue` with a CA passphrase callback; the CLI's own passphrase
/// error (which flag, which hint) wins over the library's placeholder.
fn with_ca_pass<T>(
    ca_passin: Option<&SecretSource>,
    issue: impl FnOnce(
        &mut dyn FnMut() -> Result<pushca::secret::Secret, ops::OpsError>,
    ) -> Result<T, ops::OpsError>,
) -> Result<T, CliError> {
    let mut ca_err = None;
    let out = issue(&mut || {
        secrets::ca_passphrase(ca_passin, false).map_err(|e| {
            ca_err = Some(e);
            ops::OpsError::Passphrase(pushca::secret::PassphraseError::Empty)
        })
    });
    match (out, ca_err) {
        (Err(_), Some(e)) => Err(e),
        (r, _) => Ok(r?),
    }
}

/// The lines naming the files written.
fn files_text(w: &identity::Written) -> String {
    format!(
        "  key         {}\n  certificate {}\n  chain       {}\n  fullchain   {}\n  .p12        {}\n",
        w.key.display(),
        w.certificate.display(),
        w.chain.display(),
        w.fullchain.display(),
        w.p12.display()
    )
}

/// A library error, with the flag it is about.
fn about_flag(e: CliError, flag: &str) -> CliError {
    e.about(flag)
}

pub fn server_cert(ctx: &Ctx, a: ServerCertArgs) -> Result<Report, CliError> {
    let home = ctx.home()?;
    super::not_stdout_dir(&a.out_dir)?;
    // Names are checked before anything is asked for.
    if let Err(e) = pushca::ca::tls::ServerNames::new(&a.dns, &a.ip) {
        let flag = match e {
            pushca::ca::tls::NameError::Ip(_) => "--ip",
            _ => "--dns",
        };
        return Err(about_flag(ops::OpsError::from(e).into(), flag));
    }
    let protection = super::protection(&a.protection, "key and .p12 password")?;
    let req = identity::ServerCertRequest {
        dns: &a.dns,
        ip: &a.ip,
        out_dir: &a.out_dir,
        key_type: a.key_type,
        protection: &protection,
        force: a.overwrite.force,
    };
    let v = with_ca_pass(a.ca_passin.as_ref(), |pass| {
        identity::server_cert(&home, &req, pass)
    })?;
    let mut names = v.dns.clone();
    names.extend(v.ip.iter().cloned());
    let text = format!(
        "Issued server certificate {} for {} (valid until {})\n{}",
        v.serial,
        names.join(", "),
        rfc3339(v.not_after),
        files_text(&v.files)
    );
    Report::of(&v, text)
}

pub fn device_identity(ctx: &Ctx, a: DeviceIdentityArgs) -> Result<Report, CliError> {
    let home = ctx.home()?;
    super::not_stdout_dir(&a.out_dir)?;
    let protection = super::protection(&a.protection, "key and .p12 password")?;
    let req = identity::DeviceIdentityRequest {
        udid: &a.udid,
        team_id: a.team.as_deref(),
        out_dir: &a.out_dir,
        key_type: a.key_type,
        protection: &protection,
        force: a.overwrite.force,
    };
    let v = with_ca_pass(a.ca_passin.as_ref(), |pass| {
        identity::device_identity(&home, &req, pass)
    })?;
    let text = format!(
        "Issued the identity of device {} (team {}) serial {} (valid until {})\n{}",
        v.udid,
        v.team_id,
        v.serial,
        rfc3339(v.not_after),
        files_text(&v.files)
    );
    Report::of(&v, text)
}
