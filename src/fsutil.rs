//! File-system helpers: atomic writes with explicit permissions, friendly reads,
//! and openssl-style secret sources (`pass:`, `env:`, `file:`, `fd:`, `stdin`).
//!
//! Every file pushca writes goes through [`write_atomic`] (or [`AtomicBatch`] for
//! many files at once): the bytes land in a temporary file in the destination
//! directory, are fsynced, and are renamed over the destination, so a reader sees
//! either the old file, the whole new file, or nothing.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

/// Mode for files that hold private keys or other secrets.
pub const MODE_SECRET: u32 = 0o600;
/// Mode for public material (certificates, CRLs, manifests).
pub const MODE_PUBLIC: u32 = 0o644;

#[derive(Debug, thiserror::Error)]
pub enum FsError {
    #[error("{path}: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error("cannot write {path}: {reason}")]
    Write { path: PathBuf, reason: String },
    #[error("{0}")]
    Secret(String),
}

fn describe(err: &io::Error) -> String {
    match err.kind() {
        io::ErrorKind::NotFound => "no such file or directory".into(),
        io::ErrorKind::PermissionDenied => "permission denied".into(),
        io::ErrorKind::AlreadyExists => "already exists".into(),
        _ => match err.raw_os_error() {
            Some(21) => "is a directory".into(),
            Some(20) => "a parent is not a directory".into(),
            _ => err.to_string(),
        },
    }
}

/// Maximum size of any input file pushca reads (certificates, keys, CSRs, p12).
pub const MAX_INPUT_BYTES: u64 = 16 * 1024 * 1024;

/// Reads a whole input file, with messages that say what went wrong and where.
/// Refuses directories, empty files and files over [`MAX_INPUT_BYTES`].
pub fn read_input(path: &Path) -> Result<Vec<u8>, FsError> {
    let err = |reason: String| FsError::Read {
        path: path.to_path_buf(),
        reason,
    };
    let meta = fs::metadata(path).map_err(|e| err(describe(&e)))?;
    if meta.is_dir() {
        return Err(err("is a directory, expected a file".into()));
    }
    if meta.len() > MAX_INPUT_BYTES {
        return Err(err(format!("file is too large ({} bytes)", meta.len())));
    }
    let data = fs::read(path).map_err(|e| err(describe(&e)))?;
    if data.is_empty() {
        return Err(err("file is empty".into()));
    }
    Ok(data)
}

/// Writes `data` to `path` atomically (temp file in the same directory, fsync,
/// rename, fsync of the directory) with the given permission bits.
pub fn write_atomic(path: &Path, data: &[u8], mode: u32) -> Result<(), FsError> {
    let mut batch = AtomicBatch::new();
    batch.add(path, data, mode)?;
    batch.commit()
}

/// A set of files written together: every file is staged to a temporary file
/// first; nothing is renamed into place until every temporary file has been
/// written and synced. Dropping an uncommitted batch removes its temporary files.
#[derive(Default)]
pub struct AtomicBatch {
    staged: Vec<(tempfile::TempPath, PathBuf)>,
    dirs: Vec<PathBuf>,
    sync_each: bool,
}

impl AtomicBatch {
    pub fn new() -> Self {
        AtomicBatch {
            staged: Vec::new(),
            dirs: Vec::new(),
            sync_each: true,
        }
    }

    /// A batch for many files: temporary files are flushed with one `syncfs`
    /// on commit instead of one fsync each (same durability, far fewer syscalls).
    pub fn for_many() -> Self {
        AtomicBatch {
            sync_each: false,
            ..Self::new()
        }
    }

    pub fn add(&mut self, path: &Path, data: &[u8], mode: u32) -> Result<(), FsError> {
        let werr = |reason: String| FsError::Write {
            path: path.to_path_buf(),
            reason,
        };
        if path.is_dir() {
            return Err(werr("is a directory".into()));
        }
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if !dir.is_dir() {
            return Err(werr(format!("directory {} does not exist", dir.display())));
        }
        let mut tmp = tempfile::Builder::new()
            .prefix(".pushca-tmp-")
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
        if !self.dirs.contains(&dir) {
            self.dirs.push(dir);
        }
        self.staged.push((tmp.into_temp_path(), path.to_path_buf()));
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.staged.len()
    }

    pub fn is_empty(&self) -> bool {
        self.staged.is_empty()
    }

    /// Renames every staged file into place, then syncs the directories.
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
        Ok(())
    }
}

fn sync_filesystem_of(path: &Path) -> Result<(), FsError> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let f = File::open(dir).map_err(|e| FsError::Write {
        path: dir.to_path_buf(),
        reason: describe(&e),
    })?;
    rustix::fs::syncfs(&f).map_err(|e| FsError::Write {
        path: dir.to_path_buf(),
        reason: e.to_string(),
    })
}

#[cfg(unix)]
fn permissions(mode: u32) -> fs::Permissions {
    use std::os::unix::fs::PermissionsExt;
    fs::Permissions::from_mode(mode)
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

/// A passphrase or password. Zeroized on drop; never printed by `Debug`.
#[derive(Clone)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(Zeroizing::new(s.into()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// Where a secret comes from, in openssl's `-passin`/`-passout` syntax.
#[derive(Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// `pass:TEXT` — on the command line (visible to other users; prefer the others).
    Literal(Zeroizing<String>),
    /// `env:VAR`
    Env(String),
    /// `file:PATH` — the first line of the file.
    File(PathBuf),
    /// `fd:N` — the first line read from an open file descriptor.
    Fd(i32),
    /// `stdin` — the first line of standard input.
    Stdin,
}

impl std::fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretSource::Literal(_) => f.write_str("pass:<hidden>"),
            SecretSource::Env(v) => write!(f, "env:{v}"),
            SecretSource::File(p) => write!(f, "file:{}", p.display()),
            SecretSource::Fd(n) => write!(f, "fd:{n}"),
            SecretSource::Stdin => f.write_str("stdin"),
        }
    }
}

impl std::str::FromStr for SecretSource {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(rest) = s.strip_prefix("pass:") {
            return Ok(SecretSource::Literal(Zeroizing::new(rest.to_string())));
        }
        if let Some(rest) = s.strip_prefix("env:") {
            if rest.is_empty() {
                return Err("env: needs a variable name, e.g. env:PUSHCA_PASS".into());
            }
            return Ok(SecretSource::Env(rest.to_string()));
        }
        if let Some(rest) = s.strip_prefix("file:") {
            if rest.is_empty() {
                return Err("file: needs a path, e.g. file:/run/secrets/pass".into());
            }
            return Ok(SecretSource::File(PathBuf::from(rest)));
        }
        if let Some(rest) = s.strip_prefix("fd:") {
            return rest
                .parse::<i32>()
                .ok()
                .filter(|n| *n >= 0)
                .map(SecretSource::Fd)
                .ok_or_else(|| format!("fd: needs a file descriptor number, got '{rest}'"));
        }
        if s == "stdin" {
            return Ok(SecretSource::Stdin);
        }
        Err("expected pass:TEXT, env:VAR, file:PATH, fd:N or stdin".into())
    }
}

impl SecretSource {
    /// Reads the secret. File, fd and stdin sources yield their first line
    /// without the line terminator, as openssl does.
    pub fn read(&self) -> Result<Secret, FsError> {
        match self {
            SecretSource::Literal(s) => Ok(Secret::new(s.as_str())),
            SecretSource::Env(var) => match std::env::var(var) {
                Ok(v) => Ok(Secret::new(v)),
                Err(std::env::VarError::NotPresent) => Err(FsError::Secret(format!(
                    "environment variable {var} is not set"
                ))),
                Err(std::env::VarError::NotUnicode(_)) => Err(FsError::Secret(format!(
                    "environment variable {var} is not valid UTF-8"
                ))),
            },
            SecretSource::File(path) => {
                let f = File::open(path).map_err(|e| FsError::Read {
                    path: path.clone(),
                    reason: describe(&e),
                })?;
                first_line(f, &format!("file:{}", path.display()))
            }
            SecretSource::Fd(n) => {
                let f = fd_reader(*n)?;
                first_line(f, &format!("fd:{n}"))
            }
            SecretSource::Stdin => first_line(io::stdin().lock(), "stdin"),
        }
    }
}

fn fd_reader(n: i32) -> Result<File, FsError> {
    use std::os::fd::BorrowedFd;
    // SAFETY: the borrowed descriptor is used only for the fcntl/dup calls below,
    // which fail cleanly with EBADF when `n` is not an open descriptor.
    let fd = unsafe { BorrowedFd::borrow_raw(n) };
    rustix::io::fcntl_getfd(fd)
        .map_err(|_| FsError::Secret(format!("fd:{n}: file descriptor is not open")))?;
    // Read through a duplicate so that the caller's descriptor stays open.
    let owned = rustix::io::dup(fd).map_err(|e| FsError::Secret(format!("fd:{n}: {e}")))?;
    Ok(File::from(owned))
}

fn first_line(mut r: impl Read, what: &str) -> Result<Secret, FsError> {
    // Read byte by byte up to the first newline so that nothing after the line
    // is consumed (several secrets may share one stream, as with openssl).
    let mut buf = Zeroizing::new(Vec::new());
    let mut byte = [0u8; 1];
    loop {
        match r.read(&mut byte) {
            Ok(0) => break,
            Ok(_) => {
                if byte[0] == b'\n' {
                    break;
                }
                buf.push(byte[0]);
                if buf.len() > 64 * 1024 {
                    return Err(FsError::Secret(format!("{what}: secret line is too long")));
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(FsError::Secret(format!("{what}: {e}"))),
        }
    }
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    let s = std::str::from_utf8(&buf)
        .map_err(|_| FsError::Secret(format!("{what}: secret is not valid UTF-8")))?;
    Ok(Secret::new(s))
}

/// Opens a file for appending-free exclusive creation; used for lock files.
pub fn open_lock_file(path: &Path) -> Result<File, FsError> {
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| FsError::Write {
            path: path.to_path_buf(),
            reason: describe(&e),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

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
    fn dropped_batch_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut b = AtomicBatch::for_many();
            b.add(&dir.path().join("a"), b"1", MODE_PUBLIC).unwrap();
            b.add(&dir.path().join("b"), b"2", MODE_PUBLIC).unwrap();
        }
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
        let mut b = AtomicBatch::for_many();
        b.add(&dir.path().join("a"), b"1", MODE_PUBLIC).unwrap();
        b.commit().unwrap();
        assert_eq!(fs::read(dir.path().join("a")).unwrap(), b"1");
    }

    #[test]
    fn write_into_missing_dir_fails_cleanly() {
        let dir = tempfile::tempdir().unwrap();
        let err = write_atomic(&dir.path().join("nope/x"), b"1", MODE_PUBLIC).unwrap_err();
        assert!(err.to_string().contains("does not exist"), "{err}");
    }

    #[test]
    fn read_input_errors_are_specific() {
        let dir = tempfile::tempdir().unwrap();
        let e = read_input(dir.path()).unwrap_err().to_string();
        assert!(e.contains("is a directory"), "{e}");
        let e = read_input(&dir.path().join("missing"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("no such file"), "{e}");
        let empty = dir.path().join("empty");
        fs::write(&empty, b"").unwrap();
        let e = read_input(&empty).unwrap_err().to_string();
        assert!(e.contains("empty"), "{e}");
    }

    #[test]
    fn secret_sources_parse_and_read() {
        let s: SecretSource = "pass:abc".parse().unwrap();
        assert_eq!(s.read().unwrap().as_str(), "abc");
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("p");
        fs::write(&f, "line one\r\nline two\n").unwrap();
        let s: SecretSource = format!("file:{}", f.display()).parse().unwrap();
        assert_eq!(s.read().unwrap().as_str(), "line one");
        std::env::set_var("PUSHCA_TEST_SECRET_X", "from-env");
        let s: SecretSource = "env:PUSHCA_TEST_SECRET_X".parse().unwrap();
        assert_eq!(s.read().unwrap().as_str(), "from-env");
        let e = "env:PUSHCA_TEST_SECRET_UNSET_Y"
            .parse::<SecretSource>()
            .unwrap()
            .read();
        assert!(e.unwrap_err().to_string().contains("not set"));
        assert!("bogus".parse::<SecretSource>().is_err());
        assert!("fd:x".parse::<SecretSource>().is_err());
        assert!(
            format!("{:?}", "pass:hunter2".parse::<SecretSource>().unwrap()).contains("hidden")
        );
    }

    #[test]
    fn fd_source_reads_first_line() {
        use std::os::fd::AsRawFd;
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("p");
        fs::write(&f, "fdpass\n").unwrap();
        let file = File::open(&f).unwrap();
        let s = SecretSource::Fd(file.as_raw_fd());
        assert_eq!(s.read().unwrap().as_str(), "fdpass");
        assert!(SecretSource::Fd(987).read().is_err());
    }
}
