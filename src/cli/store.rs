//! `store migrate`: a SQLite home into an empty PostgreSQL database.

use clap::{Args, Subcommand};
use pushca::ops;

use super::{CliError, Ctx, Report};

#[derive(Subcommand, Debug)]
pub enum StoreCmd {
    /// Copy this home (records, CA material, CRL number, tokens, audit) into
    /// an empty PostgreSQL database, verified by counts and serials
    Migrate(MigrateArgs),
}

#[derive(Args, Debug)]
pub struct MigrateArgs {
    /// The target database (postgres://USER@HOST/DB?sslmode=...); it must be empty
    #[arg(long, value_name = "URL")]
    pub to: String,
}

pub fn store(ctx: &Ctx, c: StoreCmd) -> Result<Report, CliError> {
    match c {
        StoreCmd::Migrate(a) => {
            // The source is the home's own SQLite store, whatever --store says.
            let home = pushca::home::Home::resolve(ctx.home.clone())?;
            let v = ops::migrate::migrate(&home, &a.to)?;
            let mut text = format!("Copied {} into {}\n", home.root().display(), v.to);
            for t in &v.tables {
                text.push_str(&format!("  {:<22} {}\n", t.table, t.rows));
            }
            text.push_str(&format!(
                "  verified: row counts and {} certificate serials{}\n",
                v.certificates,
                match v.crl_number {
                    Some(n) => format!("; CRL number {n}"),
                    None => String::new(),
                }
            ));
            Report::of(&v, text)
        }
    }
}
