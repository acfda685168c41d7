//! `team` and `app` commands.

use clap::Subcommand;

use super::{CliError, Ctx, Report};

#[derive(Subcommand, Debug)]
pub enum TeamCmd {}

#[derive(Subcommand, Debug)]
pub enum AppCmd {}

pub fn team(_ctx: &Ctx, c: TeamCmd) -> Result<Report, CliError> {
    match c {}
}
pub fn app(_ctx: &Ctx, c: AppCmd) -> Result<Report, CliError> {
    match c {}
}
