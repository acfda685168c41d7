//! The output rules: never inside the home, an existing output only with
//! `force`, symlinks written through (but not a foreign one in a sticky
//! world-writable directory), special files written to in place, a private
//! key never to a terminal.

use std::fs::{self, OpenOptions};
use std::io::{self, IsTerminal};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::{nonblock_flag, parent_dir, refusal, FsError};

/// The overwrite rules of every output.
#[derive(Debug, Clone, Copy, Default)]
pub struct OutputRules<'a> {
    /// Replace an existing output.
    pub force: bool,
    /// The pushca home, if one is known: outputs inside it are always refused.
    pub home: Option<&'a Path>,
}

impl OutputRules<'_> {
    /// Rules for pushca's own files inside the home (`init`): no home check,
    /// replacing allowed.
    pub const INTERNAL: OutputRules<'static> = OutputRules {
        force: true,
        home: None,
    };
}

/// Where an output really goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Target {
    /// A regular file (existing or not), symlinks resolved.
    Regular(PathBuf),
    /// A FIFO, device or other special file: written to in place.
    Special(PathBuf),
}

/// Follows a chain of symlinks (at most 40) to the path they end at, which
/// may not exist yet. Every link of the chain must pass [`may_follow`].
fn follow_links(path: &Path) -> Result<PathBuf, FsError> {
    let mut p = path.to_path_buf();
    for _ in 0..40 {
        match fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                may_follow(&p, &m)?;
                let link = fs::read_link(&p).map_err(|e| FsError::write(&p, e))?;
                p = match p.parent() {
                    Some(dir) if link.is_relative() => dir.join(link),
                    _ => link,
                };
            }
            _ => return Ok(p),
        }
    }
    Err(FsError::write(
        path,
        refusal(
            io::ErrorKind::InvalidInput,
            "too many levels of symbolic links",
        ),
    ))
}

/// The kernel's `protected_symlinks` rule, applied whatever the sysctl says:
/// a symlink in a sticky world-writable directory (`/tmp`) is followed only
/// when it belongs to the user or to the directory's owner, so that a link
/// planted there by another user cannot redirect a write.
fn may_follow(link: &Path, link_meta: &fs::Metadata) -> Result<(), FsError> {
    const STICKY_WORLD_WRITABLE: u32 = 0o1002;
    let dir = parent_dir(link);
    let d = fs::metadata(&dir).map_err(|e| FsError::write(&dir, e))?;
    let owner = link_meta.uid();
    if d.mode() & STICKY_WORLD_WRITABLE != STICKY_WORLD_WRITABLE
        || owner == d.uid()
        || owner == rustix::process::geteuid().as_raw()
    {
        return Ok(());
    }
    Err(FsError::ForeignLink {
        link: link.to_path_buf(),
        owner,
        dir,
    })
}

/// `path` made absolute with its longest existing ancestor canonicalized
/// (symlinks and `..` resolved there); the rest is appended as given.
fn canonical_lexical(path: &Path) -> Option<PathBuf> {
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().ok()?.join(path)
    };
    let mut rest = Vec::new();
    let mut cur = abs.as_path();
    loop {
        if let Ok(c) = fs::canonicalize(cur) {
            let mut out = c;
            for part in rest.iter().rev() {
                out.push(part);
            }
            return Some(out);
        }
        rest.push(cur.file_name()?.to_os_string());
        cur = cur.parent()?;
    }
}

/// Whether `path` is the home or inside it.
fn inside(path: &Path, home: &Path) -> bool {
    let Ok(home) = fs::canonicalize(home) else {
        return false; // no home on disk: nothing in it to protect
    };
    canonical_lexical(path).is_some_and(|p| p.starts_with(&home))
}

pub(super) fn resolve(path: &Path, rules: &OutputRules<'_>) -> Result<Target, FsError> {
    let werr = |e: io::Error| FsError::write(path, e);
    // Every link of the chain is checked before anything is resolved, the
    // kernel's way included.
    let target = follow_links(path)?;
    // Special files first, as the kernel resolves them (`/dev/stdout` is a
    // "magic" link to `pipe:[…]` that only the kernel can follow).
    if let Ok(m) = fs::metadata(path) {
        if !m.is_file() && !m.is_dir() {
            if let Some(home) = rules.home {
                if inside(path, home) {
                    return Err(FsError::InsideHome {
                        path: path.to_path_buf(),
                        home: home.to_path_buf(),
                    });
                }
            }
            return Ok(Target::Special(path.to_path_buf()));
        }
    }
    if let Some(home) = rules.home {
        if inside(path, home) || inside(&target, home) {
            return Err(FsError::InsideHome {
                path: path.to_path_buf(),
                home: home.to_path_buf(),
            });
        }
    }
    match fs::metadata(&target) {
        Ok(m) if m.is_dir() => Err(werr(refusal(io::ErrorKind::InvalidInput, "is a directory"))),
        Ok(m) if m.is_file() => {
            if rules.force {
                Ok(Target::Regular(target))
            } else {
                Err(FsError::Exists(path.to_path_buf()))
            }
        }
        Ok(_) => Ok(Target::Special(target)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let dir = parent_dir(&target);
            if !dir.is_dir() {
                return Err(werr(refusal(
                    io::ErrorKind::InvalidInput,
                    &format!("directory {} does not exist", dir.display()),
                )));
            }
            Ok(Target::Regular(target))
        }
        Err(e) => Err(werr(e)),
    }
}

/// Checks an output path against the rules without writing anything (so a
/// command can refuse before it does any work).
pub fn check_output(path: &Path, rules: &OutputRules<'_>) -> Result<(), FsError> {
    resolve(path, rules).map(|_| ())
}

/// [`check_output`] for an output that will hold a private key (written with
/// [`MODE_SECRET`](super::MODE_SECRET)): a terminal is refused too.
pub(crate) fn check_secret_output(path: &Path, rules: &OutputRules<'_>) -> Result<(), FsError> {
    let target = resolve(path, rules)?;
    refuse_terminal(path, &target)
}

/// Refuses a special target that is a terminal (`/dev/tty`, a link to a
/// pseudo-terminal): a private key written there
/// would stay on the screen and in its scrollback.
pub(super) fn refuse_terminal(path: &Path, target: &Target) -> Result<(), FsError> {
    let Target::Special(p) = target else {
        return Ok(());
    };
    // Only a character device can be a terminal; opened without becoming
    // the controlling terminal and without blocking, then closed.
    let terminal = fs::metadata(p).is_ok_and(|m| m.file_type().is_char_device())
        && OpenOptions::new()
            .write(true)
            .custom_flags(nonblock_flag() | rustix::fs::OFlags::NOCTTY.bits() as i32)
            .open(p)
            .is_ok_and(|f| f.is_terminal());
    if terminal {
        return Err(FsError::SecretToTerminal(path.to_path_buf()));
    }
    Ok(())
}

/// Checks outputs that are written together (one [`AtomicBatch`](super::AtomicBatch)) before any
/// work is done: each one under the rules, and no two of them the same file
/// once symlinks and `..` are resolved (`out/a.pem` and `./out/../out/a.pem`),
/// so that staging the batch cannot fail on it later.
#[cfg_attr(not(feature = "ca"), allow(dead_code))]
pub(crate) fn check_outputs<'p>(
    paths: impl IntoIterator<Item = &'p Path>,
    rules: &OutputRules<'_>,
) -> Result<(), FsError> {
    let mut seen = std::collections::HashSet::new();
    // Outputs of a batch share a handful of directories: canonicalize each once.
    let mut dirs: std::collections::HashMap<PathBuf, PathBuf> = Default::default();
    for path in paths {
        let key = match resolve(path, rules)? {
            Target::Special(p) => p,
            Target::Regular(p) => {
                let dir = parent_dir(&p);
                let canonical = match dirs.get(&dir) {
                    Some(c) => c.clone(),
                    None => {
                        let c = fs::canonicalize(&dir).unwrap_or_else(|_| dir.clone());
                        dirs.insert(dir, c.clone());
                        c
                    }
                };
                match p.file_name() {
                    Some(name) => canonical.join(name),
                    None => p,
                }
            }
        };
        if !seen.insert(key) {
            return Err(FsError::SameOutputTwice(path.to_path_buf()));
        }
    }
    Ok(())
}

/// Creates an output directory (and parents, mode 0755) when it does not
/// exist; refuses one inside the pushca home.
pub fn create_output_dir(path: &Path, rules: &OutputRules<'_>) -> Result<(), FsError> {
    use std::os::unix::fs::DirBuilderExt;
    if let Some(home) = rules.home {
        if inside(path, home) {
            return Err(FsError::InsideHome {
                path: path.to_path_buf(),
                home: home.to_path_buf(),
            });
        }
    }
    if path.is_dir() {
        return Ok(());
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(path)
        .map_err(|e| FsError::write(path, e))
}
