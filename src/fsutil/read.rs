//! Reads: only regular files, opened without blocking, at most a cap read.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use super::{nonblock_flag, refusal, FsError};

/// Maximum size of any input file pushca reads (certificates, keys, CSRs, p12).
pub const MAX_INPUT_BYTES: u64 = 16 * 1024 * 1024;

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
pub(crate) const MAX_POLICY_BYTES: u64 = 128 * 1024 * 1024;

/// [`read_input`] with another cap on the bytes read.
pub(crate) fn read_input_capped(path: &Path, cap: u64) -> Result<Vec<u8>, FsError> {
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
            return Err(FsError::read(path, e));
        }
    };
    read_opened(f, path, cap)
}

/// The checks and the capped read of [`read_input_capped`] on a file already
/// opened (without blocking): `path` names it in errors.
pub(crate) fn read_opened(mut f: File, path: &Path, cap: u64) -> Result<Vec<u8>, FsError> {
    let err = |e: io::Error| FsError::read(path, e);
    let meta = f.metadata().map_err(err)?;
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
    (&mut f).take(cap + 1).read_to_end(&mut data).map_err(err)?;
    if data.len() as u64 > cap {
        return Err(too_large());
    }
    if data.is_empty() {
        return Err(err(refusal(io::ErrorKind::UnexpectedEof, "file is empty")));
    }
    Ok(data)
}

/// [`read_input`] into a buffer that is zeroized when dropped (key and
/// PKCS#12 files).
pub(crate) fn read_secret_input(path: &Path) -> Result<Zeroizing<Vec<u8>>, FsError> {
    read_input(path).map(Zeroizing::new)
}

/// Reads a stream (standard input, a request body) the way an input file is
/// read: at most `cap` bytes, more is refused, nothing is refused too (with
/// `empty`); `name` names it in errors.
pub fn read_stream(
    mut r: impl Read,
    name: &Path,
    cap: u64,
    empty: &str,
) -> Result<Vec<u8>, FsError> {
    let mut data = Vec::new();
    (&mut r)
        .take(cap + 1)
        .read_to_end(&mut data)
        .map_err(|e| FsError::read(name, e))?;
    if data.len() as u64 > cap {
        return Err(FsError::TooLarge {
            path: name.to_path_buf(),
            limit: cap,
        });
    }
    if data.is_empty() {
        return Err(FsError::read(
            name,
            refusal(io::ErrorKind::UnexpectedEof, empty),
        ));
    }
    Ok(data)
}

/// An input: a file, read under the input rules when it is needed, or bytes
/// the caller already holds (the CLI's `-`, read from standard input; a
/// server's request body). Either way it is named in messages by
/// [`Source::name`]. Bytes are zeroized when the last clone is dropped.
#[derive(Clone)]
pub enum Source {
    /// A file, read with [`read_input`].
    File(PathBuf),
    /// Bytes already read; `name` says where from (`<stdin>`).
    Bytes {
        /// Where the bytes came from, for messages (`<stdin>`).
        name: PathBuf,
        /// The bytes (shared, zeroized when the last clone is dropped).
        data: std::sync::Arc<Zeroizing<Vec<u8>>>,
    },
}

impl Source {
    /// Bytes named `name` (e.g. `<stdin>`), held to the limits of a file:
    /// none, or more than [`MAX_INPUT_BYTES`], are refused.
    pub fn bytes(name: impl Into<PathBuf>, data: Vec<u8>) -> Result<Source, FsError> {
        let name = name.into();
        let data = Zeroizing::new(data);
        if data.len() as u64 > MAX_INPUT_BYTES {
            return Err(FsError::TooLarge {
                path: name,
                limit: MAX_INPUT_BYTES,
            });
        }
        if data.is_empty() {
            return Err(FsError::read(
                name,
                refusal(io::ErrorKind::UnexpectedEof, "no data"),
            ));
        }
        Ok(Source::Bytes {
            name,
            data: std::sync::Arc::new(data),
        })
    }

    /// The file, or the name given to the bytes: what messages name.
    pub fn name(&self) -> &Path {
        match self {
            Source::File(p) => p,
            Source::Bytes { name, .. } => name,
        }
    }

    /// The file, when it is one.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Source::File(p) => Some(p),
            Source::Bytes { .. } => None,
        }
    }

    /// The whole input (a file is read now, under the input rules).
    pub fn read(&self) -> Result<Vec<u8>, FsError> {
        match self {
            Source::File(p) => read_input(p),
            Source::Bytes { data, .. } => Ok(data.to_vec()),
        }
    }

    /// [`Source::read`] into a buffer that is zeroized when dropped.
    pub fn read_secret(&self) -> Result<Zeroizing<Vec<u8>>, FsError> {
        match self {
            Source::File(p) => read_secret_input(p),
            Source::Bytes { data, .. } => Ok(Zeroizing::new(data.to_vec())),
        }
    }
}

impl From<PathBuf> for Source {
    fn from(p: PathBuf) -> Self {
        Source::File(p)
    }
}

impl From<&Path> for Source {
    fn from(p: &Path) -> Self {
        Source::File(p.to_path_buf())
    }
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::File(p) => f.debug_tuple("File").field(p).finish(),
            Source::Bytes { name, data } => f
                .debug_struct("Bytes")
                .field("name", name)
                .field("len", &data.len())
                .finish(),
        }
    }
}
