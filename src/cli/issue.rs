//! `init`, `csr` and `cert` commands.

use clap::{Args, Subcommand};

use super::{CliError, Ctx, Report};

#[derive(Args, Debug)]
pub struct InitArgs {}

#[derive(Subcommand, Debug)]
pub enum CsrCmd {}

#[derive(Subcommand, Debug)]
pub enum CertCmd {}

pub fn init(_ctx: &Ctx, _a: InitArgs) -> Result<Report, CliError> {
    Err(CliError::new("internal", "init is being implemented"))
}
pub fn csr(_ctx: &Ctx, c: CsrCmd) -> Result<Report, CliError> {
    match c {}
}
pub fn cert(_ctx: &Ctx, c: CertCmd) -> Result<Report, CliError> {
    match c {}
}
