//! Atomic writes: a temporary file in the destination's directory, fsynced,
//! renamed over the destination; batches of files staged before any rename.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use super::rules::{refuse_terminal, resolve, Target};
use super::{nonblock_flag, parent_dir, FsError, OutputRules};

/// Mode for files that hold private keys or other secrets. An output written
/// with this mode is never written to a terminal.
pub(crate) const MODE_SECRET: u32 = 0o600;
/// Mode for public material (certificates, CRLs, manifests).
pub const MODE_PUBLIC: u32 = 0o644;

/// Prefix of pushca's temporary files; the process id follows.
pub(crate) const TEMP_PREFIX: &str = ".pushca-tmp-";

/// Writes `data` to `path` atomically under the output rules; with
/// [`MODE_SECRET`], never to a terminal.
#[cfg(test)]
pub(crate) fn write_output(
    path: &Path,
    data: &[u8],
    mode: u32,
    rules: &OutputRules<'_>,
) -> Result<(), FsError> {
    let mut batch = AtomicBatch::new();
    batch.add_output(path, data, mode, rules)?;
    batch.commit()
}

/// Where an output goes: a file, written under the output rules, or back to
/// the caller as bytes (the CLI's `-`, which it writes to standard output; a
/// server's response body). The library never writes standard output itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sink {
    /// A file (written atomically under the [`OutputRules`]).
    File(PathBuf),
    /// The bytes are returned to the caller ([`Returned`]).
    Return,
}

impl Sink {
    /// How the output is named in messages and documents: the file, or `-`.
    pub fn name(&self) -> &Path {
        match self {
            Sink::File(p) => p,
            Sink::Return => Path::new(super::STDIO),
        }
    }

    /// The file, when it is one.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Sink::File(p) => Some(p),
            Sink::Return => None,
        }
    }
}

impl From<PathBuf> for Sink {
    fn from(p: PathBuf) -> Self {
        Sink::File(p)
    }
}

/// Serialized as its name (a path, lossily as text, or `-`).
impl serde::Serialize for Sink {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name().to_string_lossy())
    }
}

/// The bytes of an output to [`Sink::Return`]: zeroized when dropped, never
/// shown by `Debug` (they may be a private key).
#[derive(Clone, PartialEq, Eq)]
pub struct Returned(Zeroizing<Vec<u8>>);

impl Returned {
    /// Wraps the bytes of an output.
    pub fn new(data: Vec<u8>) -> Self {
        Returned(Zeroizing::new(data))
    }
    /// The output's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Returned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Returned({} bytes)", self.0.len())
    }
}

/// Checks an output against the rules before any work is done (a
/// [`Sink::Return`] always passes).
#[cfg_attr(not(feature = "ca"), allow(dead_code))]
pub fn check_sink(sink: &Sink, rules: &OutputRules<'_>) -> Result<(), FsError> {
    match sink {
        Sink::File(p) => super::check_output(p, rules),
        Sink::Return => Ok(()),
    }
}

/// `check_sink` for an output that will hold a private key: a file that is
/// a terminal is refused too. Whether returned bytes may go to a terminal is
/// the caller's to decide (the CLI refuses a terminal standard output).
pub fn check_secret_sink(sink: &Sink, rules: &OutputRules<'_>) -> Result<(), FsError> {
    match sink {
        Sink::File(p) => super::check_secret_output(p, rules),
        Sink::Return => Ok(()),
    }
}

/// Writes `data` to `sink`: a file atomically under the rules (with
/// [`MODE_SECRET`], never a terminal), or the bytes returned.
#[cfg_attr(not(feature = "ca"), allow(dead_code))]
pub(crate) fn write_sink(
    sink: &Sink,
    data: &[u8],
    mode: u32,
    rules: &OutputRules<'_>,
) -> Result<Option<Returned>, FsError> {
    let mut batch = AtomicBatch::new();
    batch.add_sink(sink, data, mode, rules)?;
    batch.commit_returning()
}

/// Writes pushca's own file (inside the home) atomically, replacing it.
#[cfg(test)]
pub(crate) fn write_atomic(path: &Path, data: &[u8], mode: u32) -> Result<(), FsError> {
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
    /// The output of a [`Sink::Return`], handed back on commit.
    returned: Option<Returned>,
}

impl AtomicBatch {
    /// An empty batch that fsyncs each temporary file before the renames.
    pub fn new() -> Self {
        AtomicBatch {
            sync_each: true,
            ..Default::default()
        }
    }

    /// A batch for many files: temporary files are flushed with one `syncfs`
    /// on commit instead of one fsync each (same durability, far fewer syscalls).
    #[cfg_attr(not(feature = "ca"), allow(dead_code))]
    pub(crate) fn for_many() -> Self {
        AtomicBatch {
            sync_each: false,
            ..Default::default()
        }
    }

    /// Stages an output to `sink`: a file under the rules (see
    /// [`AtomicBatch::add_output`]), or bytes that [`AtomicBatch::commit_returning`]
    /// hands back (one per batch: a second is refused as the same output twice).
    #[cfg_attr(not(feature = "ca"), allow(dead_code))]
    pub(crate) fn add_sink(
        &mut self,
        sink: &Sink,
        data: &[u8],
        mode: u32,
        rules: &OutputRules<'_>,
    ) -> Result<(), FsError> {
        match sink {
            Sink::File(p) => self.add_output(p, data, mode, rules),
            Sink::Return => {
                if self.returned.is_some() {
                    return Err(FsError::SameOutputTwice(sink.name().to_path_buf()));
                }
                self.returned = Some(Returned::new(data.to_vec()));
                Ok(())
            }
        }
    }

    /// [`AtomicBatch::commit`], then the bytes of the [`Sink::Return`]
    /// output, if there was one.
    #[cfg_attr(not(feature = "ca"), allow(dead_code))]
    pub(crate) fn commit_returning(mut self) -> Result<Option<Returned>, FsError> {
        let returned = self.returned.take();
        self.commit()?;
        Ok(returned)
    }

    /// Stages pushca's own file (inside the home).
    #[cfg_attr(not(feature = "ca"), allow(dead_code))]
    pub(crate) fn add(&mut self, path: &Path, data: &[u8], mode: u32) -> Result<(), FsError> {
        self.add_output(path, data, mode, &OutputRules::INTERNAL)
    }

    /// Stages an output under the rules; one written with `MODE_SECRET` is
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
        let werr = |e: io::Error| FsError::write(path, e);
        let dir = parent_dir(&dest);
        let mut tmp = tempfile::Builder::new()
            .prefix(&format!("{TEMP_PREFIX}{}-", std::process::id()))
            .permissions(permissions(mode))
            .tempfile_in(&dir)
            .map_err(werr)?;
        // The umask may have narrowed the mode given at creation: set it exactly.
        tmp.as_file()
            .set_permissions(permissions(mode))
            .map_err(werr)?;
        tmp.write_all(data).map_err(werr)?;
        if self.sync_each {
            tmp.as_file().sync_all().map_err(werr)?;
        }
        // Files of a batch share a handful of directories: the last one is
        // the likely match.
        if self.dirs.last() != Some(&dir) && !self.dirs.contains(&dir) {
            self.dirs.push(dir);
        }
        self.staged.push((tmp.into_temp_path(), dest));
        Ok(())
    }

    /// How many outputs are staged.
    pub fn len(&self) -> usize {
        self.staged.len() + self.special.len() + usize::from(self.returned.is_some())
    }

    /// Whether nothing is staged.
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
            tmp.persist(&dest)
                .map_err(|e| FsError::write(&dest, e.error))?;
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
    let werr = |e: io::Error| FsError::write(path, e);
    let mut f = OpenOptions::new()
        .write(true)
        .custom_flags(nonblock_flag())
        .open(path)
        .map_err(werr)?;
    let flags = rustix::fs::fcntl_getfl(&f).map_err(|e| werr(e.into()))?;
    rustix::fs::fcntl_setfl(&f, flags - rustix::fs::OFlags::NONBLOCK)
        .map_err(|e| werr(e.into()))?;
    f.write_all(data).map_err(werr)?;
    f.flush().map_err(werr)
}

fn sync_filesystem_of(path: &Path) -> Result<(), FsError> {
    let dir = parent_dir(path);
    let f = File::open(&dir).map_err(|e| FsError::write(&dir, e))?;
    rustix::fs::syncfs(&f).map_err(|e| FsError::write(dir, e.into()))
}

fn permissions(mode: u32) -> fs::Permissions {
    use std::os::unix::fs::PermissionsExt;
    fs::Permissions::from_mode(mode)
}

/// Removes pushca temporary files in `dir` left by processes that no longer
/// run (killed mid-write). Files of running processes are left alone. Returns
/// how many were removed.
#[cfg_attr(not(feature = "ca"), allow(dead_code))]
pub(crate) fn remove_stale_temp_files(dir: &Path) -> usize {
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

/// Creates a directory (and parents) with mode 0700 when it does not exist.
#[cfg_attr(not(feature = "ca"), allow(dead_code))]
pub(crate) fn create_private_dir(path: &Path) -> Result<(), FsError> {
    use std::os::unix::fs::DirBuilderExt;
    if path.is_dir() {
        return Ok(());
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .map_err(|e| FsError::write(path, e))
}

/// Opens (creating) a lock file.
#[cfg_attr(not(feature = "ca"), allow(dead_code))]
pub(crate) fn open_lock_file(path: &Path) -> Result<File, FsError> {
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| FsError::write(path, e))
}

/// Puts the directory `staged` at `target` in one step: when `target`
/// exists, the two are exchanged atomically (`renameat2(RENAME_EXCHANGE)`),
/// so a reader sees the old directory or the new one, never a mix or a gap;
/// then the old one is removed. Where the file system cannot exchange,
/// `target` is renamed aside first (a moment without `target`).
#[cfg_attr(not(feature = "ca"), allow(dead_code))]
pub(crate) fn replace_dir(staged: &Path, target: &Path) -> Result<(), FsError> {
    let werr = |e: io::Error| FsError::write(target, e);
    if fs::symlink_metadata(target).is_err() {
        fs::rename(staged, target).map_err(werr)?;
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
                fs::rename(target, &aside).map_err(werr)?;
                fs::rename(staged, target).map_err(werr)?;
                let _ = fs::remove_dir_all(&aside);
                sync_dir(&parent_dir(target));
                return Ok(());
            }
            Err(e) => return Err(werr(e.into())),
        }
        // `staged` now holds the old directory.
        let _ = fs::remove_dir_all(staged);
    }
    sync_dir(&parent_dir(target));
    Ok(())
}

#[cfg_attr(not(feature = "ca"), allow(dead_code))]
fn sync_dir(dir: &Path) {
    if let Ok(f) = File::open(dir) {
        let _ = f.sync_all();
    }
}
