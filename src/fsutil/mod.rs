//! File-system helpers: safe reads (`read.rs`), the output rules every
//! command follows (`rules.rs`) and atomic writes with explicit permissions
//! (`write.rs`). Everything is re-exported here: `crate::fsutil::X`.
//!
//! `-` (standard input and output) is the CLI's: it reads standard input into
//! a [`Source`] and gets a [`Sink::Return`] output back as bytes. The library
//! never reads standard input nor writes standard output: to the path
//! functions, `-` is a file of that name.
//!
//! Reads: only regular files, opened without blocking (a FIFO or device is
//! refused, never waited on), at most [`MAX_INPUT_BYTES`] actually read.
//!
//! Writes: the bytes land in a temporary file (`.pushca-tmp-<pid>-…`) in the
//! destination's directory, are fsynced, and are renamed over the destination,
//! so a reader sees the old file, the whole new file, or nothing. The
//! [`OutputRules`]: an output inside the pushca home is always refused; an
//! existing output is refused unless `force`; a symlinked output is written
//! through (its final target is replaced atomically and the link stays); a
//! special file (`/dev/stdout`, a FIFO, a device) is written to, never replaced.
//! A symlink in a sticky world-writable directory (`/tmp`) is followed only
//! when it belongs to the user or to the directory's owner, as the kernel's
//! `protected_symlinks` rule; an output written with `MODE_SECRET` (a
//! private key) is never written to a terminal.

use std::io;
use std::path::{Path, PathBuf};

mod read;
mod rules;
mod write;

pub use read::*;
pub use rules::*;
pub use write::*;

/// How a [`Sink::Return`] output is named in messages and documents (the
/// CLI's `-`, standard output).
pub const STDIO: &str = "-";

/// A path serialized as text (for `#[serde(serialize_with)]`): lossily when
/// it is not UTF-8, rather than failing the whole document.
pub fn serialize_path<S: serde::Serializer>(p: &Path, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&p.to_string_lossy())
}

/// Why a file could not be read or written, or an output was refused.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum FsError {
    /// An input cannot be read: the I/O error says why (its message in
    /// pushca's words for it).
    #[error("{}: {}", path.display(), describe(source))]
    Read {
        /// The input.
        path: PathBuf,
        /// Why: the operating system's error, or one made for a refusal
        /// without one (an empty file).
        #[source]
        source: io::Error,
    },
    /// An input is a directory, FIFO, device or socket.
    #[error("{}: not a regular file ({kind}); pushca reads only regular files", path.display())]
    NotRegular {
        /// The input.
        path: PathBuf,
        /// What it is instead (`directory`, `FIFO`, ...).
        kind: &'static str,
    },
    /// An input is over the size limit (nothing past the limit is read).
    #[error("{}: file is larger than pushca's limit of {limit} bytes", path.display())]
    TooLarge {
        /// The input.
        path: PathBuf,
        /// The limit in bytes.
        limit: u64,
    },
    /// An output cannot be written: the I/O error says why.
    #[error("cannot write {}: {}", path.display(), describe(source))]
    Write {
        /// The output.
        path: PathBuf,
        /// Why: the operating system's error, or one made for a refusal
        /// without one (a directory where a file goes).
        #[source]
        source: io::Error,
    },
    /// An output exists and replacing was not asked for.
    #[error("{} already exists", .0.display())]
    Exists(PathBuf),
    /// An output would land inside the pushca home.
    #[error("{} is inside the pushca home {}; write outputs elsewhere", path.display(), home.display())]
    InsideHome {
        /// The output.
        path: PathBuf,
        /// The home.
        home: PathBuf,
    },
    /// One command names the same output twice.
    #[error("{} is given twice as an output", .0.display())]
    SameOutputTwice(PathBuf),
    /// A private key would be written to a terminal.
    #[error("{} is a terminal: a private key is never written to a terminal (redirect it to a file or a pipe)", output_name(.0))]
    SecretToTerminal(PathBuf),
    #[error(
        "{}: not followed: the symbolic link belongs to uid {owner}, neither you nor the owner of the sticky world-writable directory {}",
        link.display(), dir.display()
    )]
    /// A symlink in a sticky world-writable directory (`/tmp`) owned by
    /// someone else: not followed (the kernel's `protected_symlinks` rule).
    ForeignLink {
        /// The symlink.
        link: PathBuf,
        /// Its owner's uid.
        owner: u32,
        /// The sticky directory it is in.
        dir: PathBuf,
    },
}

impl FsError {
    /// [`FsError::Read`] of `path`.
    pub fn read(path: impl Into<PathBuf>, source: io::Error) -> Self {
        FsError::Read {
            path: path.into(),
            source,
        }
    }

    /// [`FsError::Write`] of `path`.
    pub fn write(path: impl Into<PathBuf>, source: io::Error) -> Self {
        FsError::Write {
            path: path.into(),
            source,
        }
    }

    /// What kind of failure this is (an exhaustive decision, no wildcard arm).
    pub fn kind(&self) -> crate::error::ErrorKind {
        use crate::error::ErrorKind;
        match self {
            FsError::Read { .. } | FsError::NotRegular { .. } | FsError::TooLarge { .. } => {
                ErrorKind::Input
            }
            FsError::Write { .. } => ErrorKind::Io,
            FsError::Exists(_) | FsError::SameOutputTwice(_) => ErrorKind::Conflict,
            FsError::InsideHome { .. }
            | FsError::SecretToTerminal(_)
            | FsError::ForeignLink { .. } => ErrorKind::Policy,
        }
    }
}

/// How an output is named in messages: `-` (a [`Sink::Return`] output, the
/// CLI's standard output) is standard output.
pub(crate) fn output_name(path: &Path) -> String {
    if path.as_os_str() == STDIO {
        "standard output".into()
    } else {
        path.display().to_string()
    }
}

/// An I/O error in the words pushca's messages use (`no such file or
/// directory`, `permission denied`, …; otherwise its own text).
pub(crate) fn describe(err: &io::Error) -> String {
    match err.kind() {
        io::ErrorKind::NotFound => "no such file or directory".into(),
        io::ErrorKind::PermissionDenied => "permission denied".into(),
        io::ErrorKind::AlreadyExists => "already exists".into(),
        _ => match err.raw_os_error() {
            Some(21) => "is a directory".into(),
            Some(20) => "a parent is not a directory".into(),
            Some(6) => "no process is reading this FIFO".into(),
            _ => err.to_string(),
        },
    }
}

/// An I/O error for a refusal that has no operating-system error behind it
/// (`file is empty`): `kind` classifies it, `message` is what messages say.
pub(crate) fn refusal(kind: io::ErrorKind, message: &str) -> io::Error {
    io::Error::new(kind, message.to_string())
}

pub(crate) fn nonblock_flag() -> i32 {
    rustix::fs::OFlags::NONBLOCK.bits() as i32
}

pub(crate) fn parent_dir(p: &Path) -> PathBuf {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

#[cfg(test)]
mod tests;
