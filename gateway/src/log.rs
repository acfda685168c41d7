//! Logs on stderr: one line per event, `<RFC 3339 time> <LEVEL> <message>`,
//! filtered by level. The filter comes from `PUSHCA_GATEWAY_LOG`, else
//! `RUST_LOG` (its directives for `pushca_gateway`, or a bare level), else
//! `info`: `error`, `warn`, `info`, `debug` (`trace` is `debug`, `off`
//! silences).

use std::sync::atomic::{AtomicU8, Ordering};

/// A log level, most severe first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Level {
    /// Nothing is logged.
    Off = 0,
    /// The gateway cannot do what it was asked (a write failed, ...).
    Error = 1,
    /// Something an operator should look at (a refused reload, ...).
    Warn = 2,
    /// Startup, connections, refused pushes, registrations, reloads.
    Info = 3,
    /// Details (accepted pushes, metrics scrapes, ...).
    Debug = 4,
}

impl Level {
    fn parse(s: &str) -> Option<Level> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "off" => Level::Off,
            "error" => Level::Error,
            "warn" | "warning" => Level::Warn,
            "info" => Level::Info,
            "debug" | "trace" => Level::Debug,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Level::Off => "OFF",
            Level::Error => "ERROR",
            Level::Warn => "WARN",
            Level::Info => "INFO",
            Level::Debug => "DEBUG",
        }
    }
}

static LEVEL: AtomicU8 = AtomicU8::new(Level::Info as u8);

/// The level of a `PUSHCA_GATEWAY_LOG` value: one level.
fn parse_own(v: &str) -> Result<Level, String> {
    Level::parse(v).ok_or_else(|| {
        format!("PUSHCA_GATEWAY_LOG={v:?}: not a log level (error, warn, info, debug, off)")
    })
}

/// The level a `RUST_LOG` value sets for this crate: comma-separated
/// directives `LEVEL`, `TARGET` or `TARGET=LEVEL`; the last one that
/// applies wins (a bare level applies to every target; a target applies
/// when it is `pushca_gateway` or one of its modules). `None`: no directive
/// applies.
fn parse_rust_log(v: &str) -> Result<Option<Level>, String> {
    let mut level = None;
    let mut specific = false;
    for d in v.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        // env_logger's `/regex` filter on messages is not supported: ignored.
        let d = d.split('/').next().unwrap_or("").trim();
        if d.is_empty() {
            continue;
        }
        let (target, lvl) = match d.split_once('=') {
            Some((t, l)) => (
                Some(t.trim()),
                Level::parse(l).ok_or_else(|| {
                    format!(
                        "RUST_LOG={v:?}: {l:?} is not a log level (error, warn, info, debug, off)"
                    )
                })?,
            ),
            None => match Level::parse(d) {
                Some(l) => (None, l),
                // A bare target: everything of it.
                None => (Some(d), Level::Debug),
            },
        };
        match target {
            None if !specific => level = Some(lvl),
            None => {}
            Some(t) if t == "pushca_gateway" || t.starts_with("pushca_gateway::") => {
                level = Some(lvl);
                specific = true;
            }
            Some(_) => {}
        }
    }
    Ok(level)
}

/// The level from these variables' values (see the module docs).
fn level_from(own: Option<&str>, rust_log: Option<&str>) -> Result<Level, String> {
    if let Some(v) = own.filter(|v| !v.trim().is_empty()) {
        return parse_own(v);
    }
    match rust_log {
        Some(v) => Ok(parse_rust_log(v)?.unwrap_or(Level::Info)),
        None => Ok(Level::Info),
    }
}

/// Sets the filter from `PUSHCA_GATEWAY_LOG` / `RUST_LOG`; an unreadable
/// value is an error (one line).
pub fn init_from_env() -> Result<(), String> {
    let var = |name: &str| match std::env::var(name) {
        Ok(v) => Ok(Some(v)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(format!("{name}: not UTF-8")),
    };
    let level = level_from(
        var("PUSHCA_GATEWAY_LOG")?.as_deref(),
        var("RUST_LOG")?.as_deref(),
    )?;
    set_level(level);
    Ok(())
}

/// Sets the filter.
pub fn set_level(level: Level) {
    LEVEL.store(level as u8, Ordering::Relaxed);
}

/// Whether messages of `level` are written (test before formatting a
/// costly message).
pub fn enabled(level: Level) -> bool {
    level != Level::Off && level as u8 <= LEVEL.load(Ordering::Relaxed)
}

/// Writes `msg` at `level` when the filter lets it through: one line (line
/// breaks in `msg` become spaces).
pub fn log(level: Level, msg: &str) {
    if !enabled(level) {
        return;
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let mut line = format!("{} {} ", pushca::timeutil::rfc3339(now), level.name());
    line.extend(
        msg.chars()
            .map(|c| if c == '\n' || c == '\r' { ' ' } else { c }),
    );
    line.push('\n');
    // One write per line: stderr is unbuffered, and eprintln! writes each
    // formatted piece on its own (a log line per push: several syscalls).
    let _ = std::io::Write::write_all(&mut std::io::stderr().lock(), line.as_bytes());
}

/// An error line.
pub fn error(msg: &str) {
    log(Level::Error, msg)
}

/// A warning line.
pub fn warn(msg: &str) {
    log(Level::Warn, msg)
}

/// An information line.
pub fn info(msg: &str) {
    log(Level::Info, msg)
}

/// A debug line.
pub fn debug(msg: &str) {
    log(Level::Debug, msg)
}

#[cfg(test)]
mod tests {
    use super::{level_from, Level};

    #[test]
    fn the_filter_comes_from_pushca_gateway_log_then_rust_log_then_info() {
        assert_eq!(level_from(None, None), Ok(Level::Info));
        assert_eq!(level_from(Some("warn"), Some("debug")), Ok(Level::Warn));
        assert_eq!(level_from(Some("DEBUG"), None), Ok(Level::Debug));
        assert_eq!(level_from(Some(""), Some("error")), Ok(Level::Error));
        assert_eq!(level_from(None, Some("trace")), Ok(Level::Debug));
        assert_eq!(level_from(None, Some("off")), Ok(Level::Off));
        assert!(level_from(Some("loud"), None)
            .unwrap_err()
            .contains("PUSHCA_GATEWAY_LOG"));
    }

    #[test]
    fn rust_log_directives_for_this_crate_win_over_a_bare_level() {
        let l = |v| level_from(None, Some(v));
        assert_eq!(l("hyper=debug"), Ok(Level::Info));
        assert_eq!(l("warn,hyper=debug"), Ok(Level::Warn));
        assert_eq!(l("pushca_gateway=debug,warn"), Ok(Level::Debug));
        assert_eq!(l("error,pushca_gateway::server=info"), Ok(Level::Info));
        assert_eq!(l("pushca_gateway"), Ok(Level::Debug));
        assert_eq!(l("info/some regex"), Ok(Level::Info));
        assert!(l("pushca_gateway=loud").unwrap_err().contains("RUST_LOG"));
    }
}
