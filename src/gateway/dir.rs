//! A trust store directory read through one directory handle: a load that
//! overlaps a publish (`renameat2` exchange, or a symlink swapped to a new
//! version) reads every file from the one version it opened, never a mix.
//! Files are opened relative to the handle, without following symlinks, and
//! read with the same checks as every input (regular files only, capped).

use std::fs::File;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags};

use super::{GatewayError, PROFILES_DIR};
use crate::fsutil::FsError;

/// An open trust store directory.
pub(crate) struct StoreDir {
    fd: OwnedFd,
    path: PathBuf,
    /// `profiles/`, opened once (absent: `None`).
    profiles: Option<OwnedFd>,
}

fn open_dir_at(
    at: impl rustix::fd::AsFd,
    name: &Path,
    follow: bool,
) -> rustix::io::Result<OwnedFd> {
    let mut flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    if !follow {
        flags |= OFlags::NOFOLLOW;
    }
    rustix::fs::openat(at, name, flags, Mode::empty())
}

fn read_error(path: PathBuf, e: rustix::io::Errno) -> GatewayError {
    let io = std::io::Error::from(e);
    let source = match e {
        rustix::io::Errno::LOOP => crate::fsutil::refusal(
            io.kind(),
            "is a symbolic link; a trust store holds regular files only",
        ),
        rustix::io::Errno::NOTDIR => crate::fsutil::refusal(io.kind(), "not a directory"),
        _ => io,
    };
    GatewayError::Read {
        path: path.clone(),
        source: FsError::read(path, source),
    }
}

impl StoreDir {
    /// Opens `path` (a symlink to the directory is followed once, here).
    pub(crate) fn open(path: &Path) -> Result<StoreDir, GatewayError> {
        let fd = open_dir_at(rustix::fs::CWD, path, true)
            .map_err(|e| read_error(path.to_path_buf(), e))?;
        let profiles = match open_dir_at(&fd, Path::new(PROFILES_DIR), false) {
            Ok(p) => Some(p),
            Err(rustix::io::Errno::NOENT) => None,
            Err(e) => return Err(read_error(path.join(PROFILES_DIR), e)),
        };
        Ok(StoreDir {
            fd,
            path: path.to_path_buf(),
            profiles,
        })
    }

    /// The directory as given, for messages.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the file `rel` (`name` or `profiles/name`, checked by
    /// [`split_name`]) of this version, at most `cap` bytes.
    pub(crate) fn read(&self, rel: &str, cap: u64) -> Result<Vec<u8>, GatewayError> {
        let full = self.path.join(rel);
        let (dir, name) = match split_name(rel) {
            Some((false, name)) => (&self.fd, name),
            Some((true, name)) => match &self.profiles {
                Some(p) => (p, name),
                None => {
                    return Err(read_error(full, rustix::io::Errno::NOENT));
                }
            },
            None => {
                return Err(GatewayError::Invalid {
                    path: full,
                    reason: "not a trust store file name".into(),
                })
            }
        };
        let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = rustix::fs::openat(dir, name, flags, Mode::empty())
            .map_err(|e| read_error(full.clone(), e))?;
        crate::fsutil::read_opened(File::from(fd), &full, cap).map_err(|source| {
            GatewayError::Read {
                path: full.clone(),
                source,
            }
        })
    }

    /// The names in the directory (top level), and those in `profiles/`
    /// prefixed with `profiles/`.
    pub(crate) fn list(&self) -> Result<Vec<String>, GatewayError> {
        let mut out = Vec::new();
        for (fd, prefix) in [(Some(&self.fd), ""), (self.profiles.as_ref(), "profiles/")] {
            let Some(fd) = fd else { continue };
            let dir = rustix::fs::Dir::read_from(fd)
                .map_err(|e| read_error(self.path.join(prefix), e))?;
            for entry in dir {
                let entry = entry.map_err(|e| read_error(self.path.join(prefix), e))?;
                let name = entry.file_name().to_string_lossy();
                if name == "." || name == ".." || (prefix.is_empty() && name == PROFILES_DIR) {
                    continue;
                }
                out.push(format!("{prefix}{name}"));
            }
        }
        Ok(out)
    }
}

/// A trust store file name: `(false, name)` at the top level, `(true, name)`
/// in `profiles/`; `None` for anything else (`..`, absolute, deeper).
pub(crate) fn split_name(rel: &str) -> Option<(bool, &str)> {
    let ok = |n: &str| !n.is_empty() && n != "." && n != ".." && !n.contains(['/', '\\', '\0']);
    match rel.split_once('/') {
        None => ok(rel).then_some((false, rel)),
        Some((dir, name)) => (dir == PROFILES_DIR && ok(name)).then_some((true, name)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_top_level_or_in_profiles_only() {
        assert_eq!(split_name("ca.pem"), Some((false, "ca.pem")));
        assert_eq!(
            split_name("profiles/A.mobileprovision"),
            Some((true, "A.mobileprovision"))
        );
        for bad in [
            "",
            ".",
            "..",
            "/etc/passwd",
            "profiles/../ca.pem",
            "profiles/a/b",
            "other/a",
            "profiles/",
            "a\\b",
        ] {
            assert_eq!(split_name(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn reads_one_version_through_the_handle_and_refuses_symlinks() {
        let t = tempfile::tempdir().unwrap();
        let v1 = t.path().join("v1");
        std::fs::create_dir_all(v1.join("profiles")).unwrap();
        std::fs::write(v1.join("policy.json"), b"one").unwrap();
        std::fs::write(v1.join("profiles/p"), b"p1").unwrap();
        std::os::unix::fs::symlink("/etc/hostname", v1.join("link")).unwrap();
        let d = StoreDir::open(&v1).unwrap();
        // The directory is swapped away after the open: reads stay on v1.
        let v2 = t.path().join("v2");
        std::fs::create_dir(&v2).unwrap();
        std::fs::write(v2.join("policy.json"), b"two").unwrap();
        rustix::fs::renameat_with(
            rustix::fs::CWD,
            &v2,
            rustix::fs::CWD,
            &v1,
            rustix::fs::RenameFlags::EXCHANGE,
        )
        .unwrap();
        assert_eq!(d.read("policy.json", 100).unwrap(), b"one");
        assert_eq!(d.read("profiles/p", 100).unwrap(), b"p1");
        let mut names = d.list().unwrap();
        names.sort();
        assert_eq!(names, ["link", "policy.json", "profiles/p"]);
        let e = d.read("link", 100).unwrap_err().to_string();
        assert!(e.contains("symbolic link"), "{e}");
        assert!(d.read("../v2/policy.json", 100).is_err());
    }
}
