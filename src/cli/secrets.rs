//! Where passphrases come from: an explicit source, the environment, or a hidden
//! prompt on a terminal — never a hang when there is no terminal.

use std::io::IsTerminal;

use pushca::fsutil::{Secret, SecretSource};

use super::CliError;

/// Environment variable read for the CA passphrase when `--ca-passin` is absent.
pub const CA_PASSPHRASE_ENV: &str = "PUSHCA_CA_PASSPHRASE";

/// Shortest CA passphrase `init` accepts.
pub const MIN_CA_PASSPHRASE: usize = 8;

/// Reads a secret from an explicit source.
pub fn read(src: &SecretSource) -> Result<Secret, CliError> {
    Ok(src.read()?)
}

/// The CA passphrase: `--ca-passin`, else `$PUSHCA_CA_PASSPHRASE`, else a hidden
/// prompt on a terminal (asked twice when `confirm`), else a clear error.
pub fn ca_passphrase(src: Option<&SecretSource>, confirm: bool) -> Result<Secret, CliError> {
    if let Some(s) = src {
        return read(s);
    }
    if std::env::var_os(CA_PASSPHRASE_ENV).is_some() {
        return read(&SecretSource::Env(CA_PASSPHRASE_ENV.into()));
    }
    prompt("CA passphrase", confirm).map_err(|e| {
        e.with_hint(format!(
            "pass --ca-passin (pass:, env:, file:, fd:, stdin) or set {CA_PASSPHRASE_ENV}"
        ))
    })
}

/// An optional secret: the given source, else a prompt on a terminal, else an error
/// naming the flag to use.
pub fn from_flag_or_prompt(
    src: Option<&SecretSource>,
    what: &str,
    flag: &str,
    confirm: bool,
) -> Result<Secret, CliError> {
    match src {
        Some(s) => read(s),
        None => prompt(what, confirm)
            .map_err(|e| e.with_hint(format!("pass {flag} SRC (pass:, env:, file:, fd:, stdin)"))),
    }
}

fn prompt(what: &str, confirm: bool) -> Result<Secret, CliError> {
    if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
        return Err(CliError::new(
            "password",
            format!("{what} needed and there is no terminal to ask on"),
        ));
    }
    let mut p = dialoguer::Password::new().with_prompt(what);
    if confirm {
        p = p.with_confirmation(format!("Repeat {what}"), "the two entries differ");
    }
    p.interact()
        .map(Secret::new)
        .map_err(|e| CliError::new("password", format!("could not read {what}: {e}")))
}
