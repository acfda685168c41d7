//! Where secrets come from: openssl's source syntax (`pass:TEXT`, `env:VAR`,
//! `file:PATH`, `fd:N`, `stdin`), the environment, or a hidden prompt on a
//! terminal — never a hang when there is no terminal, and never an echo of the
//! secret, not even when the source is malformed.

use std::fs::File;
use std::io::{self, IsTerminal, Read};
use std::path::PathBuf;

use pushca::secret::Secret;
use zeroize::Zeroizing;

use super::CliError;

/// Environment variable read for the CA passphrase when `--ca-passin` is absent.
pub const CA_PASSPHRASE_ENV: &str = "PUSHCA_CA_PASSPHRASE";

const FORMS: &str = "pass:TEXT, env:VAR, file:PATH, fd:N or stdin";

/// Where a secret comes from, in openssl's `-passin`/`-passout` syntax.
///
/// Parsing never fails: clap would print the rejected value back, and the value
/// may be the secret itself (`--passin hunter2`). A malformed source is kept as
/// [`SecretSource::Malformed`] and reported, without its value, when read.
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
    /// Not one of the forms above; the reason, never the value.
    Malformed(&'static str),
}

impl std::fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretSource::Literal(_) => f.write_str("pass:<hidden>"),
            SecretSource::Env(v) => write!(f, "env:{v}"),
            SecretSource::File(p) => write!(f, "file:{}", p.display()),
            SecretSource::Fd(n) => write!(f, "fd:{n}"),
            SecretSource::Stdin => f.write_str("stdin"),
            SecretSource::Malformed(_) => f.write_str("<malformed>"),
        }
    }
}

impl std::str::FromStr for SecretSource {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(if let Some(rest) = s.strip_prefix("pass:") {
            SecretSource::Literal(Zeroizing::new(rest.to_string()))
        } else if let Some(rest) = s.strip_prefix("env:") {
            if rest.is_empty() {
                SecretSource::Malformed("env: needs a variable name, e.g. env:PUSHCA_PASS")
            } else {
                SecretSource::Env(rest.to_string())
            }
        } else if let Some(rest) = s.strip_prefix("file:") {
            if rest.is_empty() {
                SecretSource::Malformed("file: needs a path, e.g. file:/run/secrets/pass")
            } else {
                SecretSource::File(PathBuf::from(rest))
            }
        } else if let Some(rest) = s.strip_prefix("fd:") {
            match rest.parse::<i32>() {
                Ok(n) if n >= 0 => SecretSource::Fd(n),
                _ => SecretSource::Malformed("fd: needs a file descriptor number, e.g. fd:3"),
            }
        } else if s == "stdin" {
            SecretSource::Stdin
        } else {
            SecretSource::Malformed("not a secret source")
        })
    }
}

fn secret_error(flag: &str, message: impl std::fmt::Display) -> CliError {
    CliError::new("password", format!("{flag}: {message}"))
}

impl SecretSource {
    /// Reads the secret given with `flag`. File, fd and stdin sources yield
    /// their first line without the line terminator, as openssl does.
    pub fn read(&self, flag: &str) -> Result<Secret, CliError> {
        match self {
            SecretSource::Literal(s) => Ok(Secret::new(s.as_str())),
            SecretSource::Env(var) => match std::env::var(var) {
                Ok(v) => Ok(Secret::new(v)),
                Err(std::env::VarError::NotPresent) => Err(secret_error(
                    flag,
                    format!("environment variable {var} is not set"),
                )),
                Err(std::env::VarError::NotUnicode(_)) => Err(secret_error(
                    flag,
                    format!("environment variable {var} is not valid UTF-8"),
                )),
            },
            SecretSource::File(path) => {
                let f = File::open(path).map_err(|e| {
                    secret_error(flag, format!("cannot open {}: {e}", path.display()))
                })?;
                first_line(f, flag, &format!("file:{}", path.display()))
            }
            SecretSource::Fd(n) => first_line(fd_reader(*n, flag)?, flag, &format!("fd:{n}")),
            SecretSource::Stdin => first_line(io::stdin().lock(), flag, "stdin"),
            SecretSource::Malformed(why) => Err(CliError::usage(format!(
                "{flag}: {why} (the value is not shown; expected {FORMS})"
            ))),
        }
    }
}

/// The one `unsafe` block of pushca (the library forbids `unsafe`): borrowing a
/// descriptor number given by the user.
#[allow(unsafe_code)]
fn fd_reader(n: i32, flag: &str) -> Result<File, CliError> {
    use std::os::fd::BorrowedFd;
    // SAFETY: `BorrowedFd::borrow_raw` requires that `n` stays open for the
    // borrow's lifetime. The borrow lives only in this function, which is not
    // re-entered and closes nothing; it is used for `fcntl(F_GETFD)`, which fails
    // cleanly with EBADF when `n` is not open (then we return before any other
    // use), and for `dup`, whose result is a new descriptor we own. Nothing reads
    // or closes `n` itself.
    let fd = unsafe { BorrowedFd::borrow_raw(n) };
    rustix::io::fcntl_getfd(fd)
        .map_err(|_| secret_error(flag, format!("fd:{n}: file descriptor is not open")))?;
    // Read through a duplicate so that the caller's descriptor stays open.
    let owned = rustix::io::dup(fd).map_err(|e| secret_error(flag, format!("fd:{n}: {e}")))?;
    Ok(File::from(owned))
}

fn first_line(mut r: impl Read, flag: &str, what: &str) -> Result<Secret, CliError> {
    // Read byte by byte up to the first newline so that nothing after the line
    // is consumed (several secrets may share one stream, as with openssl).
    let mut buf = Zeroizing::new(Vec::new());
    let mut byte = [0u8; 1];
    let mut got_any = false;
    loop {
        match r.read(&mut byte) {
            Ok(0) => break,
            Ok(_) => {
                got_any = true;
                if byte[0] == b'\n' {
                    break;
                }
                buf.push(byte[0]);
                if buf.len() > 64 * 1024 {
                    return Err(secret_error(
                        flag,
                        format!("{what}: secret line is too long"),
                    ));
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(secret_error(flag, format!("{what}: {e}"))),
        }
    }
    if !got_any {
        return Err(secret_error(
            flag,
            format!("{what}: end of input before a secret line"),
        ));
    }
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    let s = std::str::from_utf8(&buf)
        .map_err(|_| secret_error(flag, format!("{what}: secret is not valid UTF-8")))?;
    Ok(Secret::new(s))
}

/// Reads a secret from an explicit source given with `flag`.
pub fn read(src: &SecretSource, flag: &str) -> Result<Secret, CliError> {
    src.read(flag)
}

/// The CA passphrase: `--ca-passin`, else `$PUSHCA_CA_PASSPHRASE`, else a hidden
/// prompt on a terminal (asked twice when `confirm`), else a clear error.
pub fn ca_passphrase(src: Option<&SecretSource>, confirm: bool) -> Result<Secret, CliError> {
    if let Some(s) = src {
        return read(s, "--ca-passin");
    }
    if std::env::var_os(CA_PASSPHRASE_ENV).is_some() {
        return read(
            &SecretSource::Env(CA_PASSPHRASE_ENV.into()),
            CA_PASSPHRASE_ENV,
        );
    }
    prompt("CA passphrase", confirm).map_err(|e| {
        e.with_hint(format!(
            "pass --ca-passin ({FORMS}) or set {CA_PASSPHRASE_ENV}"
        ))
    })
}

/// An optional secret: the given source, else a prompt on a terminal, else an error
/// naming the flag to use.
pub fn from_flag_or_prompt(
    src: Option<&SecretSource>,
    what: &str,
    flag: &str,
    confirm: bool,
) -> Result<Secret, CliError> {
    match src {
        Some(s) => read(s, flag),
        None => {
            prompt(what, confirm).map_err(|e| e.with_hint(format!("pass {flag} SRC ({FORMS})")))
        }
    }
}

fn prompt(what: &str, confirm: bool) -> Result<Secret, CliError> {
    if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
        return Err(CliError::new(
            "password",
            format!("{what} needed and there is no terminal to ask on"),
        ));
    }
    let term = console::Term::stderr();
    let failed = |e: io::Error| CliError::new("password", format!("could not read {what}: {e}"));
    let first = read_hidden(&term, what).map_err(failed)?;
    if confirm {
        let again = read_hidden(&term, &format!("Repeat {what}")).map_err(failed)?;
        if again.as_str() != first.as_str() {
            return Err(CliError::new(
                "password",
                format!("{what}: the two entries differ"),
            ));
        }
    }
    Ok(first)
}

/// Reads a line without echo on the terminal `term`, in raw mode: Ctrl-C is
/// an `Interrupted` error (the terminal is restored, never left without
/// echo), Backspace deletes, other control keys are ignored.
pub fn read_hidden(term: &console::Term, what: &str) -> io::Result<Secret> {
    use console::Key;
    term.write_str(&format!("{what}: "))?;
    // Reserved up front so that the buffer is never reallocated (a moved
    // buffer would leave a copy behind that is not zeroed).
    let mut line = Zeroizing::new(String::with_capacity(1024));
    loop {
        match term.read_key()? {
            Key::Enter => break,
            Key::Backspace => {
                line.pop();
            }
            Key::Char(c) if !c.is_control() && line.len() + c.len_utf8() <= line.capacity() => {
                line.push(c)
            }
            _ => {}
        }
    }
    term.write_line("")?;
    Ok(Secret::new(line.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn src(s: &str) -> SecretSource {
        s.parse().unwrap_or(SecretSource::Stdin)
    }

    #[test]
    fn sources_parse_and_read() {
        assert_eq!(src("pass:abc").read("--x").unwrap().as_str(), "abc");
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("p");
        fs::write(&f, "line one\r\nline two\n").unwrap();
        let s = src(&format!("file:{}", f.display()));
        assert_eq!(s.read("--x").unwrap().as_str(), "line one");
        std::env::set_var("PUSHCA_TEST_SECRET_X", "from-env");
        assert_eq!(
            src("env:PUSHCA_TEST_SECRET_X")
                .read("--x")
                .unwrap()
                .as_str(),
            "from-env"
        );
        let e = src("env:PUSHCA_TEST_SECRET_UNSET_Y")
            .read("--passout")
            .unwrap_err();
        assert!(
            e.message.contains("--passout") && e.message.contains("not set"),
            "{}",
            e.message
        );
        assert!(format!("{:?}", src("pass:hunter2")).contains("hidden"));
    }

    #[test]
    fn malformed_sources_never_echo_the_value() {
        for bad in ["hunter2", "fd:hunter2", "env:", "file:"] {
            let s = src(bad);
            assert!(matches!(s, SecretSource::Malformed(_)), "{bad}");
            let e = s.read("--passin").unwrap_err();
            assert!(e.message.starts_with("--passin: "), "{}", e.message);
            if bad.len() > 5 {
                assert!(!e.message.contains("hunter2"), "{}", e.message);
            }
            assert!(!format!("{s:?}").contains("hunter2"));
        }
    }

    #[test]
    fn fd_source_reads_first_line_and_empty_input_is_an_error() {
        use std::os::fd::AsRawFd;
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("p");
        fs::write(&f, "fdpass\n").unwrap();
        let file = File::open(&f).unwrap();
        assert_eq!(
            SecretSource::Fd(file.as_raw_fd())
                .read("--x")
                .unwrap()
                .as_str(),
            "fdpass"
        );
        assert!(SecretSource::Fd(987).read("--x").is_err());
        let empty = dir.path().join("e");
        fs::write(&empty, "").unwrap();
        let e = src(&format!("file:{}", empty.display()))
            .read("--x")
            .unwrap_err();
        assert!(e.message.contains("end of input"), "{}", e.message);
    }
}
