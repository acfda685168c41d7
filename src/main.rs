//! The `pushca` binary: parse flags, call the library, render text or JSON, and
//! map errors to exit codes. All behaviour lives in the library and `cli/`.

#![forbid(unsafe_code)]

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

mod cli;

use cli::{exit, Cli, CliError};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    exit::OK
                }
                _ => exit::USAGE,
            };
            let json = std::env::args_os().any(|a| a == "--json");
            if json && code == exit::USAGE {
                let first = e.to_string();
                let first = first
                    .lines()
                    .next()
                    .unwrap_or("usage error")
                    .trim_start_matches("error: ");
                print_error(true, &CliError::usage(first.to_string()));
            } else {
                let _ = e.print();
            }
            return ExitCode::from(code);
        }
    };
    let json = cli.json;
    let quiet = cli.quiet;
    match cli::run(cli) {
        Ok(report) => {
            // With `--out -` the data goes to stdout: the report to stderr.
            if let Some(data) = &report.stdout {
                let mut o = std::io::stdout().lock();
                if let Err(e) = o.write_all(data.as_bytes()).and_then(|()| o.flush()) {
                    let e =
                        CliError::from(pushca::fsutil::FsError::write(pushca::fsutil::STDIO, e));
                    print_error(json, &e);
                    return ExitCode::from(e.exit);
                }
            }
            let mut out: Box<dyn Write> = if report.stdout.is_some() {
                Box::new(std::io::stderr().lock())
            } else {
                Box::new(std::io::stdout().lock())
            };
            if json {
                let mut doc = report.json;
                if !report.warnings.is_empty() {
                    if let Some(obj) = doc.as_object_mut() {
                        obj.insert("warnings".into(), report.warnings.clone().into());
                    }
                }
                let _ = writeln!(
                    out,
                    "{}",
                    serde_json::to_string_pretty(&doc).unwrap_or_default()
                );
            } else {
                if !quiet {
                    for w in &report.warnings {
                        eprintln!("{} {}", label("warning:", false), cli::inert(w));
                    }
                }
                if report.is_data {
                    let _ = write!(out, "{}", report.text);
                } else if !quiet && !report.text.is_empty() {
                    let _ = write!(out, "{}", cli::inert(&report.text));
                    if !report.text.ends_with('\n') {
                        let _ = writeln!(out);
                    }
                }
            }
            ExitCode::from(report.exit)
        }
        Err(e) => {
            print_error(json, &e);
            ExitCode::from(e.exit)
        }
    }
}

fn print_error(json: bool, e: &CliError) {
    if json {
        /// `{"error": {"kind", "message", "hint"}}`; `hint` is always
        /// present: null when there is none.
        #[derive(serde::Serialize)]
        struct ErrorDoc<'a> {
            error: Body<'a>,
        }
        #[derive(serde::Serialize)]
        struct Body<'a> {
            kind: cli::Kind,
            message: &'a str,
            hint: Option<&'a str>,
        }
        let doc = ErrorDoc {
            error: Body {
                kind: e.kind,
                message: &e.message,
                hint: e.hint.as_deref(),
            },
        };
        if let Ok(line) = serde_json::to_string(&doc) {
            eprintln!("{line}");
        }
    } else {
        eprintln!("{} {}", label("error:", true), cli::inert(&e.message));
        if let Some(h) = &e.hint {
            eprintln!("{} {}", label("hint:", false), cli::inert(h));
        }
    }
}

/// A stderr label, coloured only on a terminal and without `NO_COLOR`.
fn label(text: &str, error: bool) -> cli::term::Line {
    let tone = if error {
        cli::term::Tone::Error
    } else {
        cli::term::Tone::Warning
    };
    cli::term::Line::stderr().styled(tone, text)
}
