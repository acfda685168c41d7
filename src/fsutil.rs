//! File-system helpers: safe reads, atomic writes with explicit permissions,
//! and the output rules every command follows.
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
//! `protected_symlinks` rule; an output written with [`MODE_SECRET`] (a
//! private key) is never written to a terminal.

use std::fs::{self, File, OpenOptions};
use std::io::{self, IsTerminal, Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

/// Mode for files that hold private keys or other secrets. An output written
/// with this mode is never written to a terminal.
pub const MODE_SECRET: u32 = 0o600;
/// Mode for public material (certificates, CRLs, manifests).
pub const MODE_PUBLIC: u32 = 0o644;

/// Maximum size of any input file pushca reads (certificates, keys, CSRs, p12).
pub const MAX_INPUT_BYTES: u64 = 16 * 1024 * 1024;

/// Prefix of pushca's temporary files; the process id follows.
pub const TEMP_PREFIX: &str = ".pushca-tmp-";

/// `-` as an input path is standard input, as an output path standard output.
pub const STDIO: &str = "-";

static STDOUT_WRITTEN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether an output was written to standard output (`-`): the command's
/// own report then goes to stderr, so that stdout carries only the data.
pub fn stdout_written() -> bool {
    STDOUT_WRITTEN.load(std::sync::atomic::Ordering::SeqCst)
}

/// Whether `path` is `-` (standard input or output).
pub fn is_stdio(path: &Path) -> bool {
    path.as_os_str() == STDIO
}

#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum FsError {
    #[error("{}: {reason}", path.display())]
    Read { path: PathBuf, reason: String },
    #[error("{}: not a regular file ({kind}); pushca reads only regular files", path.display())]
    NotRegular { path: PathBuf, kind: &'static str },
    #[error("{}: file is larger than pushca's limit of {limit} bytes", path.display())]
    TooLarge { path: PathBuf, limit: u64 },
    #[error("cannot write {}: {reason}", path.display())]
    Write { path: PathBuf, reason: String },
    #[error("{} already exists", .0.display())]
    Exists(PathBuf),
    #[error("{} is inside the pushca home {}; write outputs elsewhere", path.display(), home.display())]
    InsideHome { path: PathBuf, home: PathBuf },
    #[error("{} is given twice as an output", .0.display())]
    SameOutputTwice(PathBuf),
    #[error("{} is a terminal: a private key is never written to a terminal (redirect it to a file or a pipe)", output_name(.0))]
    SecretToTerminal(PathBuf),
    #[error(
        "{}: not followed: the symbolic link belongs to uid {owner}, neither you nor the owner of the sticky world-writable directory {}",
        link.display(), dir.display()
    )]
    ForeignLink {
        link: PathBuf,
        owner: u32,
        dir: PathBuf,
    },
}

impl FsError {
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

/// How an output is named in messages: `-` is standard output.
fn output_name(path: &Path) -> String {
    if is_stdio(path) {
        "standard output".into()
    } else {
        path.display().to_string()
    }
}

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

fn kind_of(ft: fs::FileType) -> &'static str {
    if ft.is_dir() {
        "a directory"
    } else if ft.is_fifo() {
        "a FIFO"
    } else if ft.is_char_device() {
        "a character device"
    } else if ft.is_block_device() {
        "a block device"
    } else if ft.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

fn nonblock_flag() -> i32 {
    rustix::fs::OFlags::NONBLOCK.bits() as i32
}

/// Reads a whole input file, with messages that say what went wrong and
/// where. Only regular files are read: the file is opened without blocking
/// and checked on the opened descriptor (no race between check and read);
/// empty files and files over [`MAX_INPUT_BYTES`] are refused, and no more
/// than that is ever read.
pub fn read_input(path: &Path) -> Result<Vec<u8>, FsError> {
    read_input_capped(path, MAX_INPUT_BYTES)
}

/// The largest `policy.json` a gateway reads (it lists every device of every
/// profile: about 8 MB for 10,000 profiles and 100,000 devices).
pub const MAX_POLICY_BYTES: u64 = 128 * 1024 * 1024;

/// [`read_input`] with another cap on the bytes read.
pub fn read_input_capped(path: &Path, cap: u64) -> Result<Vec<u8>, FsError> {
    let err = |reason: String| FsError::Read {
        path: path.to_path_buf(),
        reason,
    };
    if is_stdio(path) {
        let stdin_err = |reason: String| FsError::Read {
            path: PathBuf::from("standard input"),
            reason,
        };
        let mut data = Vec::new();
        io::stdin()
            .lock()
            .take(cap + 1)
            .read_to_end(&mut data)
            .map_err(|e| stdin_err(describe(&e)))?;
        if data.len() as u64 > cap {
            return Err(FsError::TooLarge {
                path: PathBuf::from("standard input"),
                limit: cap,
            });
        }
        if data.is_empty() {
            return Err(stdin_err("end of input before any data".into()));
        }
        return Ok(data);
    }
    let f = match OpenOptions::new()
        .read(true)
        .custom_flags(nonblock_flag())
        .open(path)
    {
        Ok(f) => f,
        Err(e) => {
            // Say what the thing is when it cannot even be opened (a socket).
            if let Ok(m) = fs::metadata(path) {
                if !m.is_file() {
                    return Err(FsError::NotRegular {
                        path: path.to_path_buf(),
                        kind: kind_of(m.file_type()),
                    });
                }
            }
            return Err(err(describe(&e)));
        }
    };
    read_opened(f, path, cap)
}

/// The checks and the capped read of [`read_input_capped`] on a file already
/// opened (without blocking): `path` names it in errors.
pub(crate) fn read_opened(mut f: File, path: &Path, cap: u64) -> Result<Vec<u8>, FsError> {
    let err = |reason: String| FsError::Read {
        path: path.to_path_buf(),
        reason,
    };
    let meta = f.metadata().map_err(|e| err(describe(&e)))?;
    if !meta.is_file() {
        return Err(FsError::NotRegular {
            path: path.to_path_buf(),
            kind: kind_of(meta.file_type()),
        });
    }
    let too_large = || FsError::TooLarge {
        path: path.to_path_buf(),
        limit: cap,
    };
    if meta.len() > cap {
        return Err(too_large());
    }
    let mut data = Vec::with_capacity(meta.len() as usize);
    (&mut f)
        .take(cap + 1)
        .read_to_end(&mut data)
        .map_err(|e| err(describe(&e)))?;
    if data.len() as u64 > cap {
        return Err(too_large());
    }
    if data.is_empty() {
        return Err(err("file is empty".into()));
    }
    Ok(data)
}

/// [`read_input`] into a buffer that is zeroized when dropped (key and
/// PKCS#12 files).
pub fn read_secret_input(path: &Path) -> Result<Zeroizing<Vec<u8>>, FsError> {
    read_input(path).map(Zeroizing::new)
}

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
enum Target {
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
                let link = fs::read_link(&p).map_err(|e| FsError::Write {
                    path: p.clone(),
                    reason: describe(&e),
                })?;
                p = match p.parent() {
                    Some(dir) if link.is_relative() => dir.join(link),
                    _ => link,
                };
            }
            _ => return Ok(p),
        }
    }
    Err(FsError::Write {
        path: path.to_path_buf(),
        reason: "too many levels of symbolic links".into(),
    })
}

/// The kernel's `protected_symlinks` rule, applied whatever the sysctl says:
/// a symlink in a sticky world-writable directory (`/tmp`) is followed only
/// when it belongs to the user or to the directory's owner, so that a link
/// planted there by another user cannot redirect a write.
fn may_follow(link: &Path, link_meta: &fs::Metadata) -> Result<(), FsError> {
    const STICKY_WORLD_WRITABLE: u32 = 0o1002;
    let dir = parent_dir(link);
    let d = fs::metadata(&dir).map_err(|e| FsError::Write {
        path: link.to_path_buf(),
        reason: format!(
            "cannot inspect its directory {}: {}",
            dir.display(),
            describe(&e)
        ),
    })?;
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

fn parent_dir(p: &Path) -> PathBuf {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
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

fn resolve(path: &Path, rules: &OutputRules<'_>) -> Result<Target, FsError> {
    let werr = |reason: &str| FsError::Write {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    };
    if is_stdio(path) {
        return Ok(Target::Special(path.to_path_buf()));
    }
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
        Ok(m) if m.is_dir() => Err(werr("is a directory")),
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
                return Err(FsError::Write {
                    path: path.to_path_buf(),
                    reason: format!("directory {} does not exist", dir.display()),
                });
            }
            Ok(Target::Regular(target))
        }
        Err(e) => Err(werr(&describe(&e))),
    }
}

/// Checks an output path against the rules without writing anything (so a
/// command can refuse before it does any work).
pub fn check_output(path: &Path, rules: &OutputRules<'_>) -> Result<(), FsError> {
    resolve(path, rules).map(|_| ())
}

/// [`check_output`] for an output that will hold a private key (written with
/// [`MODE_SECRET`]): a terminal is refused too.
pub fn check_secret_output(path: &Path, rules: &OutputRules<'_>) -> Result<(), FsError> {
    let target = resolve(path, rules)?;
    refuse_terminal(path, &target)
}

/// Refuses a special target that is a terminal (`-` when standard output is
/// one, `/dev/tty`, a link to a pseudo-terminal): a private key written there
/// would stay on the screen and in its scrollback.
fn refuse_terminal(path: &Path, target: &Target) -> Result<(), FsError> {
    let Target::Special(p) = target else {
        return Ok(());
    };
    let terminal = if is_stdio(p) {
        io::stdout().is_terminal()
    } else {
        // Only a character device can be a terminal; opened without becoming
        // the controlling terminal and without blocking, then closed.
        fs::metadata(p).is_ok_and(|m| m.file_type().is_char_device())
            && OpenOptions::new()
                .write(true)
                .custom_flags(nonblock_flag() | rustix::fs::OFlags::NOCTTY.bits() as i32)
                .open(p)
                .is_ok_and(|f| f.is_terminal())
    };
    if terminal {
        return Err(FsError::SecretToTerminal(path.to_path_buf()));
    }
    Ok(())
}

/// Checks outputs that are written together (one [`AtomicBatch`]) before any
/// work is done: each one under the rules, and no two of them the same file
/// once symlinks and `..` are resolved (`out/a.pem` and `./out/../out/a.pem`),
/// so that staging the batch cannot fail on it later.
pub fn check_outputs<'p>(
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

/// Writes `data` to `path` atomically under the output rules; with
/// [`MODE_SECRET`], never to a terminal.
pub fn write_output(
    path: &Path,
    data: &[u8],
    mode: u32,
    rules: &OutputRules<'_>,
) -> Result<(), FsError> {
    let mut batch = AtomicBatch::new();
    batch.add_output(path, data, mode, rules)?;
    batch.commit()
}

/// Writes pushca's own file (inside the home) atomically, replacing it.
pub fn write_atomic(path: &Path, data: &[u8], mode: u32) -> Result<(), FsError> {
    write_output(path, data, mode, &OutputRules::INTERNAL)
}

/// A set of files written together: every check happens and every file is
/// staged to a temporary file before anything is renamed into place. Dropping
/// an uncommitted batch removes its temporary files.
#[derive(Default)]
pub struct AtomicBatch {
    staged: Vec<(tempfile::TempPath, PathBuf)>,
    special: Vec<(PathBuf, Zeroizing<Vec<u8>>)>,
    /// Every destination (a set: batches hold thousands of files).
    targets: std::collections::HashSet<PathBuf>,
    dirs: Vec<PathBuf>,
    sync_each: bool,
}

impl AtomicBatch {
    pub fn new() -> Self {
        AtomicBatch {
            sync_each: true,
            ..Default::default()
        }
    }

    /// A batch for many files: temporary files are flushed with one `syncfs`
    /// on commit instead of one fsync each (same durability, far fewer syscalls).
    pub fn for_many() -> Self {
        AtomicBatch {
            sync_each: false,
            ..Default::default()
        }
    }

    /// Stages pushca's own file (inside the home).
    pub fn add(&mut self, path: &Path, data: &[u8], mode: u32) -> Result<(), FsError> {
        self.add_output(path, data, mode, &OutputRules::INTERNAL)
    }

    /// Stages an output under the rules; one written with [`MODE_SECRET`] is
    /// refused when it is a terminal.
    pub fn add_output(
        &mut self,
        path: &Path,
        data: &[u8],
        mode: u32,
        rules: &OutputRules<'_>,
    ) -> Result<(), FsError> {
        let target = resolve(path, rules)?;
        if mode == MODE_SECRET {
            refuse_terminal(path, &target)?;
        }
        let key = match &target {
            Target::Regular(p) | Target::Special(p) => p.clone(),
        };
        if !self.targets.insert(key) {
            return Err(FsError::SameOutputTwice(path.to_path_buf()));
        }
        let dest = match target {
            Target::Special(p) => {
                self.special.push((p, Zeroizing::new(data.to_vec())));
                return Ok(());
            }
            Target::Regular(p) => p,
        };
        let werr = |reason: String| FsError::Write {
            path: path.to_path_buf(),
            reason,
        };
        let dir = parent_dir(&dest);
        let mut tmp = tempfile::Builder::new()
            .prefix(&format!("{TEMP_PREFIX}{}-", std::process::id()))
            .permissions(permissions(mode))
            .tempfile_in(&dir)
            .map_err(|e| werr(describe(&e)))?;
        // The umask may have narrowed the mode given at creation: set it exactly.
        tmp.as_file()
            .set_permissions(permissions(mode))
            .map_err(|e| werr(describe(&e)))?;
        tmp.write_all(data).map_err(|e| werr(describe(&e)))?;
        if self.sync_each {
            tmp.as_file().sync_all().map_err(|e| werr(describe(&e)))?;
        }
        // Files of a batch share a handful of directories: the last one is
        // the likely match.
        if self.dirs.last() != Some(&dir) && !self.dirs.contains(&dir) {
            self.dirs.push(dir);
        }
        self.staged.push((tmp.into_temp_path(), dest));
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.staged.len() + self.special.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Renames every staged file into place, syncs the directories, then
    /// writes the special files.
    pub fn commit(mut self) -> Result<(), FsError> {
        if !self.sync_each {
            if let Some((_, first)) = self.staged.first() {
                sync_filesystem_of(first)?;
            }
        }
        for (tmp, dest) in self.staged.drain(..) {
            tmp.persist(&dest).map_err(|e| FsError::Write {
                path: dest.clone(),
                reason: describe(&e.error),
            })?;
        }
        for dir in &self.dirs {
            // Directory fsync makes the renames durable; some file systems refuse
            // it, which is not an error worth failing the command for.
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        for (path, data) in self.special.drain(..) {
            write_special(&path, &data)?;
        }
        Ok(())
    }
}

/// Writes to a FIFO, device or similar in place. Opened non-blocking so a FIFO
/// without a reader is an error rather than a hang, then switched back to
/// blocking writes.
fn write_special(path: &Path, data: &[u8]) -> Result<(), FsError> {
    let werr = |e: &io::Error| FsError::Write {
        path: path.to_path_buf(),
        reason: describe(e),
    };
    if is_stdio(path) {
        STDOUT_WRITTEN.store(true, std::sync::atomic::Ordering::SeqCst);
        let mut out = io::stdout().lock();
        out.write_all(data).map_err(|e| werr(&e))?;
        return out.flush().map_err(|e| werr(&e));
    }
    let mut f = OpenOptions::new()
        .write(true)
        .custom_flags(nonblock_flag())
        .open(path)
        .map_err(|e| werr(&e))?;
    let flags = rustix::fs::fcntl_getfl(&f).map_err(|e| werr(&e.into()))?;
    rustix::fs::fcntl_setfl(&f, flags - rustix::fs::OFlags::NONBLOCK)
        .map_err(|e| werr(&e.into()))?;
    f.write_all(data).map_err(|e| werr(&e))?;
    f.flush().map_err(|e| werr(&e))
}

fn sync_filesystem_of(path: &Path) -> Result<(), FsError> {
    let dir = parent_dir(path);
    let f = File::open(&dir).map_err(|e| FsError::Write {
        path: dir.clone(),
        reason: describe(&e),
    })?;
    rustix::fs::syncfs(&f).map_err(|e| FsError::Write {
        path: dir,
        reason: e.to_string(),
    })
}

fn permissions(mode: u32) -> fs::Permissions {
    use std::os::unix::fs::PermissionsExt;
    fs::Permissions::from_mode(mode)
}

/// Removes pushca temporary files in `dir` left by processes that no longer
/// run (killed mid-write). Files of running processes are left alone. Returns
/// how many were removed.
pub fn remove_stale_temp_files(dir: &Path) -> usize {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(TEMP_PREFIX)) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        if e.file_type().is_ok_and(|t| t.is_file()) && fs::remove_file(e.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// Creates an output directory (and parents, mode 0755) when it does not
/// exist; refuses one inside the pushca home.
pub fn create_output_dir(path: &Path, rules: &OutputRules<'_>) -> Result<(), FsError> {
    if is_stdio(path) {
        return Err(FsError::Write {
            path: path.to_path_buf(),
            reason: "a directory is needed here, not - (standard output)".into(),
        });
    }
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
        .map_err(|e| FsError::Write {
            path: path.to_path_buf(),
            reason: describe(&e),
        })
}

/// Creates a directory (and parents) with mode 0700 when it does not exist.
pub fn create_private_dir(path: &Path) -> Result<(), FsError> {
    use std::os::unix::fs::DirBuilderExt;
    if path.is_dir() {
        return Ok(());
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .map_err(|e| FsError::Write {
            path: path.to_path_buf(),
            reason: describe(&e),
        })
}

/// Opens (creating) a lock file.
pub fn open_lock_file(path: &Path) -> Result<File, FsError> {
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| FsError::Write {
            path: path.to_path_buf(),
            reason: describe(&e),
        })
}

/// Puts the directory `staged` at `target` in one step: when `target`
/// exists, the two are exchanged atomically (`renameat2(RENAME_EXCHANGE)`),
/// so a reader sees the old directory or the new one, never a mix or a gap;
/// then the old one is removed. Where the file system cannot exchange,
/// `target` is renamed aside first (a moment without `target`).
pub fn replace_dir(staged: &Path, target: &Path) -> Result<(), FsError> {
    let werr = |e: &dyn std::fmt::Display| FsError::Write {
        path: target.to_path_buf(),
        reason: e.to_string(),
    };
    if fs::symlink_metadata(target).is_err() {
        fs::rename(staged, target).map_err(|e| werr(&describe(&e)))?;
    } else {
        let exchanged = rustix::fs::renameat_with(
            rustix::fs::CWD,
            staged,
            rustix::fs::CWD,
            target,
            rustix::fs::RenameFlags::EXCHANGE,
        );
        match exchanged {
            Ok(()) => {}
            Err(rustix::io::Errno::INVAL) | Err(rustix::io::Errno::NOSYS) => {
                let aside = staged.with_extension("old");
                fs::rename(target, &aside).map_err(|e| werr(&describe(&e)))?;
                fs::rename(staged, target).map_err(|e| werr(&describe(&e)))?;
                let _ = fs::remove_dir_all(&aside);
                sync_dir(&parent_dir(target));
                return Ok(());
            }
            Err(e) => return Err(werr(&e)),
        }
        // `staged` now holds the old directory.
        let _ = fs::remove_dir_all(staged);
    }
    sync_dir(&parent_dir(target));
    Ok(())
}

fn sync_dir(dir: &Path) {
    if let Ok(f) = File::open(dir) {
        let _ = f.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use std::time::{Duration, Instant};

    fn rules(force: bool, home: Option<&Path>) -> OutputRules<'_> {
        OutputRules { force, home }
    }

    #[test]
    fn atomic_write_sets_mode_and_content() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k.pem");
        write_atomic(&p, b"secret", MODE_SECRET).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"secret");
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        write_atomic(&p, b"again", MODE_PUBLIC).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"again");
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o644
        );
        // No temporary files left behind.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn existing_outputs_need_force() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.pem");
        fs::write(&p, b"old").unwrap();
        let e = write_output(&p, b"new", MODE_PUBLIC, &rules(false, None)).unwrap_err();
        assert!(matches!(e, FsError::Exists(_)), "{e}");
        assert_eq!(fs::read(&p).unwrap(), b"old");
        write_output(&p, b"new", MODE_PUBLIC, &rules(true, None)).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"new");
    }

    #[test]
    fn outputs_inside_the_home_are_always_refused() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        fs::create_dir_all(home.join("ca")).unwrap();
        fs::write(home.join("ca/issuing.pem"), b"CA").unwrap();
        let sneaky = [
            home.join("ca/issuing.pem"),
            home.join("ca/../ca/issuing.pem"),
            home.join("ca/new.pem"),
        ];
        for p in &sneaky {
            let e = write_output(p, b"x", MODE_PUBLIC, &rules(true, Some(&home))).unwrap_err();
            assert!(
                matches!(e, FsError::InsideHome { .. }),
                "{}: {e}",
                p.display()
            );
        }
        // A symlink outside pointing into the home.
        let link = dir.path().join("link.pem");
        std::os::unix::fs::symlink(home.join("ca/issuing.pem"), &link).unwrap();
        let e = write_output(&link, b"x", MODE_PUBLIC, &rules(true, Some(&home))).unwrap_err();
        assert!(matches!(e, FsError::InsideHome { .. }), "{e}");
        // A relative path from inside the home.
        let e = create_output_dir(&home.join("ca/sub"), &rules(false, Some(&home))).unwrap_err();
        assert!(matches!(e, FsError::InsideHome { .. }), "{e}");
        assert_eq!(fs::read(home.join("ca/issuing.pem")).unwrap(), b"CA");
        assert!(!home.join("ca/new.pem").exists() && !home.join("ca/sub").exists());
    }

    #[test]
    fn symlinked_outputs_are_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.pem");
        fs::write(&real, b"old").unwrap();
        let link = dir.path().join("link.pem");
        std::os::unix::fs::symlink("real.pem", &link).unwrap();
        let chain = dir.path().join("chain.pem");
        std::os::unix::fs::symlink("link.pem", &chain).unwrap();
        write_output(&chain, b"new", MODE_PUBLIC, &rules(true, None)).unwrap();
        assert_eq!(fs::read(&real).unwrap(), b"new");
        assert!(fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert!(fs::symlink_metadata(&chain)
            .unwrap()
            .file_type()
            .is_symlink());
        // A dangling link: its target is created.
        let dangling = dir.path().join("dangling.pem");
        std::os::unix::fs::symlink("target.pem", &dangling).unwrap();
        write_output(&dangling, b"t", MODE_PUBLIC, &rules(false, None)).unwrap();
        assert_eq!(fs::read(dir.path().join("target.pem")).unwrap(), b"t");
        assert!(fs::symlink_metadata(&dangling)
            .unwrap()
            .file_type()
            .is_symlink());
    }

    /// The kernel's `protected_symlinks` rule, whatever the sysctl says: in a
    /// sticky world-writable directory a link of another user is not
    /// followed, at any hop of the chain; one of the user's own, or of the
    /// directory's owner, is; outside such a directory nothing changes.
    #[test]
    fn foreign_links_in_sticky_world_writable_dirs_are_not_followed() {
        use std::os::unix::fs::{lchown, symlink};
        if rustix::process::geteuid().as_raw() != 0 {
            return; // only root can give a link away
        }
        const NOBODY: u32 = 65534;
        let dir = tempfile::tempdir().unwrap();
        let tmp = dir.path().join("tmp");
        fs::create_dir(&tmp).unwrap();
        fs::set_permissions(&tmp, fs::Permissions::from_mode(0o1777)).unwrap();
        let victim = dir.path().join("victim.pem");
        fs::write(&victim, b"precious").unwrap();
        let force = rules(true, None);

        let planted = tmp.join("out.pem");
        symlink(&victim, &planted).unwrap();
        lchown(&planted, Some(NOBODY), Some(NOBODY)).unwrap();
        let e = write_output(&planted, b"new", MODE_PUBLIC, &force).unwrap_err();
        assert!(
            matches!(&e, FsError::ForeignLink { link, owner: NOBODY, .. } if *link == planted),
            "{e}"
        );
        assert!(e.to_string().contains("uid 65534"), "{e}");
        assert!(check_output(&planted, &force).is_err());
        // Reached through a link of the user's own: refused at that hop.
        let mine = tmp.join("mine.pem");
        symlink("out.pem", &mine).unwrap();
        let e = write_output(&mine, b"new", MODE_PUBLIC, &force).unwrap_err();
        assert!(
            matches!(&e, FsError::ForeignLink { link, .. } if *link == planted),
            "{e}"
        );
        assert_eq!(fs::read(&victim).unwrap(), b"precious");
        assert!(fs::symlink_metadata(&planted).unwrap().is_symlink());

        // The user's own link in the same directory is followed.
        let own = tmp.join("own.pem");
        symlink(&victim, &own).unwrap();
        write_output(&own, b"mine", MODE_PUBLIC, &force).unwrap();
        assert_eq!(fs::read(&victim).unwrap(), b"mine");

        // A link of the directory's owner is followed.
        let owned = dir.path().join("owned");
        fs::create_dir(&owned).unwrap();
        fs::set_permissions(&owned, fs::Permissions::from_mode(0o1777)).unwrap();
        std::os::unix::fs::chown(&owned, Some(NOBODY), None).unwrap();
        let by_owner = owned.join("link.pem");
        symlink(&victim, &by_owner).unwrap();
        lchown(&by_owner, Some(NOBODY), None).unwrap();
        write_output(&by_owner, b"owner", MODE_PUBLIC, &force).unwrap();
        assert_eq!(fs::read(&victim).unwrap(), b"owner");

        // Only the sticky world-writable case: a foreign link elsewhere is
        // followed as before.
        for mode in [0o755, 0o777, 0o1755] {
            let plain = dir.path().join(format!("plain{mode:o}"));
            fs::create_dir(&plain).unwrap();
            fs::set_permissions(&plain, fs::Permissions::from_mode(mode)).unwrap();
            let foreign = plain.join("link.pem");
            symlink(&victim, &foreign).unwrap();
            lchown(&foreign, Some(NOBODY), None).unwrap();
            write_output(
                &foreign,
                format!("{mode:o}").as_bytes(),
                MODE_PUBLIC,
                &force,
            )
            .unwrap();
            assert_eq!(fs::read(&victim).unwrap(), format!("{mode:o}").as_bytes());
        }
    }

    #[test]
    fn special_files_are_written_to_not_replaced() {
        let null = Path::new("/dev/null");
        write_output(null, b"data", MODE_PUBLIC, &rules(false, None)).unwrap();
        assert!(fs::metadata(null).unwrap().file_type().is_char_device());
        // A FIFO without a reader: an error, not a hang.
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        assert!(std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success());
        let t = Instant::now();
        assert!(write_output(&fifo, b"x", MODE_PUBLIC, &rules(false, None)).is_err());
        assert!(t.elapsed() < Duration::from_secs(1));
        assert!(fs::metadata(&fifo).unwrap().file_type().is_fifo());
    }

    #[test]
    fn a_refused_batch_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("b"), b"old").unwrap();
        let mut b = AtomicBatch::for_many();
        b.add_output(
            &dir.path().join("a"),
            b"1",
            MODE_PUBLIC,
            &rules(false, None),
        )
        .unwrap();
        assert!(b
            .add_output(
                &dir.path().join("b"),
                b"2",
                MODE_PUBLIC,
                &rules(false, None)
            )
            .is_err());
        assert!(b
            .add_output(&dir.path().join("a"), b"3", MODE_PUBLIC, &rules(true, None))
            .is_err());
        drop(b);
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["b"], "nothing renamed, no temporary file left");
    }

    #[test]
    fn outputs_written_together_are_checked_for_the_same_file() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        fs::create_dir(d.join("sub")).unwrap();
        let (a, b) = (d.join("sub/a.pem"), d.join("sub/b.pem"));
        let r = rules(false, None);
        check_outputs([a.as_path(), b.as_path()], &r).unwrap();
        // The same file by another name: `..`, or a symlink to it.
        let dotdot = d.join("sub/../sub/a.pem");
        assert!(matches!(
            check_outputs([a.as_path(), b.as_path(), dotdot.as_path()], &r),
            Err(FsError::SameOutputTwice(p)) if p == dotdot
        ));
        std::os::unix::fs::symlink(d.join("sub"), d.join("link")).unwrap();
        let via_link = d.join("link/b.pem");
        assert!(matches!(
            check_outputs([a.as_path(), b.as_path(), via_link.as_path()], &r),
            Err(FsError::SameOutputTwice(_))
        ));
        std::os::unix::fs::symlink(&a, d.join("to-a.pem")).unwrap();
        let to_a = d.join("to-a.pem");
        assert!(matches!(
            check_outputs([a.as_path(), to_a.as_path()], &r),
            Err(FsError::SameOutputTwice(_))
        ));
        // The rules of each output still apply.
        fs::write(&b, b"x").unwrap();
        assert!(matches!(
            check_outputs([a.as_path(), b.as_path()], &r),
            Err(FsError::Exists(_))
        ));
        check_outputs([a.as_path(), b.as_path()], &rules(true, None)).unwrap();
    }

    #[test]
    fn write_into_missing_dir_fails_cleanly() {
        let dir = tempfile::tempdir().unwrap();
        let err = write_atomic(&dir.path().join("nope/x"), b"1", MODE_PUBLIC).unwrap_err();
        assert!(err.to_string().contains("does not exist"), "{err}");
    }

    #[test]
    fn only_regular_files_are_read_and_never_waited_on() {
        let dir = tempfile::tempdir().unwrap();
        let e = read_input(dir.path()).unwrap_err();
        assert!(matches!(e, FsError::NotRegular { .. }), "{e}");
        let e = read_input(&dir.path().join("missing")).unwrap_err();
        assert!(e.to_string().contains("no such file"), "{e}");
        let empty = dir.path().join("empty");
        fs::write(&empty, b"").unwrap();
        assert!(read_input(&empty)
            .unwrap_err()
            .to_string()
            .contains("empty"));
        for dev in ["/dev/zero", "/dev/null"] {
            let e = read_input(Path::new(dev)).unwrap_err();
            assert!(matches!(e, FsError::NotRegular { .. }), "{dev}: {e}");
        }
        let fifo = dir.path().join("fifo");
        assert!(std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success());
        let (tx, rx) = std::sync::mpsc::channel();
        let f2 = fifo.clone();
        std::thread::spawn(move || {
            let _ = tx.send(read_input(&f2).map(|_| ()));
        });
        let r = rx
            .recv_timeout(Duration::from_secs(2))
            .expect("reading a FIFO must not hang");
        assert!(
            matches!(r, Err(FsError::NotRegular { kind: "a FIFO", .. })),
            "{r:?}"
        );
        let sock = dir.path().join("sock");
        let _l = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        let e = read_input(&sock).unwrap_err();
        assert!(
            matches!(
                e,
                FsError::NotRegular {
                    kind: "a socket",
                    ..
                }
            ),
            "{e}"
        );
        let big = dir.path().join("big");
        File::create(&big)
            .unwrap()
            .set_len(MAX_INPUT_BYTES + 1)
            .unwrap();
        assert!(matches!(read_input(&big), Err(FsError::TooLarge { .. })));
    }

    #[test]
    fn stale_temp_files_of_dead_processes_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let stale = dir.path().join(format!("{TEMP_PREFIX}{dead}-abc"));
        let mine = dir
            .path()
            .join(format!("{TEMP_PREFIX}{}-abc", std::process::id()));
        let other = dir.path().join(".pushca-tmp-notapid");
        for p in [&stale, &mine, &other] {
            fs::write(p, b"x").unwrap();
        }
        assert_eq!(remove_stale_temp_files(dir.path()), 1);
        assert!(!stale.exists() && mine.exists() && other.exists());
    }
}
