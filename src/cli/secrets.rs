//! Where secrets come from: openssl's source syntax (`pass:TEXT`, `env:VAR`,
//! `file:PATH`, `fd:N`, `stdin`), the environment, or a hidden prompt on a
//! terminal — never a hang when there is no terminal, and never an echo of the
//! secret, not even when the source is malformed.

use std::fs::File;
use std::io::{self, IsTerminal, Read};
use std::path::PathBuf;

use pushca::secret::{Secret, MAX_SECRET_BYTES};
use zeroize::Zeroizing;

use super::{CliError, Kind};

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
    CliError::new(Kind::Password, format!("{flag}: {message}"))
}

/// Why an over-long secret is refused (never cut to fit).
const TOO_LONG: &str = "the secret is longer than 1,024 bytes; a longer one is refused, never cut";

/// A secret checked against [`MAX_SECRET_BYTES`]; `what` says where it came
/// from, when that is more than the flag.
fn bounded(secret: Secret, flag: &str, what: Option<&str>) -> Result<Secret, CliError> {
    if secret.as_bytes().len() > MAX_SECRET_BYTES {
        return Err(secret_error(
            flag,
            match what {
                Some(w) => format!("{w}: {TOO_LONG}"),
                None => TOO_LONG.to_string(),
            },
        ));
    }
    Ok(secret)
}

/// The buffer a secret line is read into: room for the longest secret and a
/// `\r` is reserved up front and never grown (a reallocation would leave a
/// copy of the bytes read so far in freed memory), and it is zeroized on drop.
/// What does not fit is dropped and the line marked too long.
struct SecretLine {
    buf: Zeroizing<Vec<u8>>,
    too_long: bool,
}

impl SecretLine {
    const CAPACITY: usize = MAX_SECRET_BYTES + 1;

    fn new() -> Self {
        SecretLine {
            buf: Zeroizing::new(Vec::with_capacity(Self::CAPACITY)),
            too_long: false,
        }
    }

    fn push(&mut self, bytes: &[u8]) {
        if self.buf.len() + bytes.len() > Self::CAPACITY {
            self.too_long = true;
        } else {
            self.buf.extend_from_slice(bytes);
        }
    }

    /// Removes the last character (Backspace).
    fn pop_char(&mut self) {
        while let Some(b) = self.buf.pop() {
            if b & 0xC0 != 0x80 {
                break; // the first byte of a UTF-8 character
            }
        }
    }

    /// The line, without a trailing `\r` when `strip_cr`.
    fn finish(mut self, strip_cr: bool) -> Result<Secret, LineError> {
        if strip_cr && self.buf.last() == Some(&b'\r') {
            self.buf.pop();
        }
        if self.too_long || self.buf.len() > MAX_SECRET_BYTES {
            return Err(LineError::TooLong);
        }
        let s = std::str::from_utf8(&self.buf).map_err(|_| LineError::NotUtf8)?;
        Ok(Secret::new(s))
    }
}

enum LineError {
    TooLong,
    NotUtf8,
}

impl SecretSource {
    /// Reads the secret given with `flag`. File, fd and stdin sources yield
    /// their first line without the line terminator, as openssl does.
    pub fn read(&self, flag: &str) -> Result<Secret, CliError> {
        match self {
            SecretSource::Literal(s) => bounded(Secret::new(s.as_str()), flag, None),
            SecretSource::Env(var) => match std::env::var(var) {
                Ok(v) => bounded(Secret::new(v), flag, Some(&format!("env:{var}"))),
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

/// The descriptor `n` of `fd:N`, duplicated without `unsafe`: a number the
/// user gave is never taken for a descriptor we own or borrow. On Linux the
/// kernel duplicates it (`pidfd_getfd` on our own process: the same open
/// file, offset included, so several secrets can share one stream; `EBADF`
/// when `n` is not open). Where that call is missing or filtered (kernels
/// before 5.6, seccomp), and on other systems, `/dev/fd/N` is opened instead.
/// The caller's descriptor stays open either way.
fn fd_reader(n: i32, flag: &str) -> Result<File, CliError> {
    let not_open = || secret_error(flag, format!("fd:{n}: file descriptor is not open"));
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        use rustix::io::Errno;
        use rustix::process::{getpid, pidfd_getfd, pidfd_open, PidfdFlags, PidfdGetfdFlags};
        let dup = pidfd_open(getpid(), PidfdFlags::empty())
            .and_then(|me| pidfd_getfd(&me, n, PidfdGetfdFlags::empty()));
        match dup {
            Ok(fd) => return Ok(File::from(fd)),
            Err(Errno::BADF) => return Err(not_open()),
            Err(Errno::NOSYS | Errno::PERM | Errno::ACCESS) => {} // reopen below
            Err(e) => return Err(secret_error(flag, format!("fd:{n}: {e}"))),
        }
    }
    File::open(format!("/dev/fd/{n}")).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => not_open(),
        _ => secret_error(flag, format!("fd:{n}: {e}")),
    })
}

fn first_line(mut r: impl Read, flag: &str, what: &str) -> Result<Secret, CliError> {
    // Read byte by byte up to the first newline so that nothing after the line
    // is consumed (several secrets may share one stream, as with openssl).
    let mut line = SecretLine::new();
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
                line.push(&byte);
                if line.too_long {
                    return Err(secret_error(flag, format!("{what}: {TOO_LONG}")));
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
    line.finish(true).map_err(|e| {
        secret_error(
            flag,
            match e {
                LineError::TooLong => format!("{what}: {TOO_LONG}"),
                LineError::NotUtf8 => format!("{what}: secret is not valid UTF-8"),
            },
        )
    })
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
            Kind::Password,
            format!("{what} needed and there is no terminal to ask on"),
        ));
    }
    let term = console::Term::stderr();
    let failed = |e: io::Error| {
        if is_too_long(&e) {
            CliError::new(Kind::Password, format!("{what}: {e}"))
        } else {
            CliError::new(Kind::Password, format!("could not read {what}: {e}"))
        }
    };
    let first = read_hidden(&term, what).map_err(failed)?;
    if confirm {
        let again = read_hidden(&term, &format!("Repeat {what}")).map_err(failed)?;
        if again.as_str() != first.as_str() {
            return Err(CliError::new(
                Kind::Password,
                format!("{what}: the two entries differ"),
            ));
        }
    }
    Ok(first)
}

/// Whether a [`read_hidden`] error is an over-long entry (which may be asked
/// again) rather than a terminal failure or Ctrl-C.
pub fn is_too_long(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::InvalidData
}

/// Reads a line without echo on the terminal `term`, in raw mode: Ctrl-C is
/// an `Interrupted` error (the terminal is restored, never left without
/// echo), Backspace deletes, other control keys are ignored. A line longer
/// than [`MAX_SECRET_BYTES`] is read to its end and refused
/// ([`is_too_long`]), never cut.
pub fn read_hidden(term: &console::Term, what: &str) -> io::Result<Secret> {
    use console::Key;
    // Raw mode for the whole line: console switches the terminal to raw
    // mode for each key and back between keys, and a key arriving in
    // between would be echoed. console restores the mode it finds, so it
    // finds (and restores) raw mode here.
    let raw = RawMode::enter()?;
    term.write_str(&format!("{what}: "))?;
    let mut line = SecretLine::new();
    loop {
        // `read_key_raw`: Ctrl-C comes back as a key, and SIGINT is raised
        // below once the terminal is restored (console would raise it with
        // the terminal still in this raw mode).
        match term.read_key_raw()? {
            Key::Enter => break,
            Key::Backspace => line.pop_char(),
            Key::Char(c) if !c.is_control() => line.push(c.encode_utf8(&mut [0u8; 4]).as_bytes()),
            Key::CtrlC => {
                drop(raw);
                let _ = term.write_line("");
                // As the terminal does for Ctrl-C in cooked mode: SIGINT
                // (the wizard's handler notes it; elsewhere it ends pushca).
                let _ = rustix::process::kill_process(
                    rustix::process::getpid(),
                    rustix::process::Signal::INT,
                );
                return Err(io::Error::new(
                    io::ErrorKind::Interrupted,
                    "read interrupted",
                ));
            }
            _ => {}
        }
    }
    drop(raw);
    term.write_line("")?;
    line.finish(false).map_err(|e| match e {
        LineError::TooLong => io::Error::new(io::ErrorKind::InvalidData, TOO_LONG),
        // Characters only were stored: always UTF-8.
        LineError::NotUtf8 => io::Error::other("the entry is not valid UTF-8"),
    })
}

/// The terminal in raw mode (no echo, no line editing, no signals from
/// keys: console reports Ctrl-C itself) until dropped, which restores the
/// settings found, also on an error or Ctrl-C.
struct RawMode {
    tty: File,
    saved: rustix::termios::Termios,
}

impl RawMode {
    /// The terminal console reads keys from: standard input when it is a
    /// terminal, else `/dev/tty`.
    fn enter() -> io::Result<RawMode> {
        use rustix::termios::{tcgetattr, tcsetattr, OptionalActions};
        let tty = if io::stdin().is_terminal() {
            File::from(rustix::io::dup(io::stdin())?)
        } else {
            File::options().read(true).write(true).open("/dev/tty")?
        };
        let saved = tcgetattr(&tty)?;
        let mut raw = saved.clone();
        raw.make_raw();
        raw.output_modes = saved.output_modes; // as console: output unchanged
        tcsetattr(&tty, OptionalActions::Now, &raw)?;
        Ok(RawMode { tty, saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        use rustix::termios::{tcsetattr, OptionalActions};
        let _ = tcsetattr(&self.tty, OptionalActions::Now, &self.saved);
    }
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

    /// At most 1,024 bytes from every source: a longer secret is refused,
    /// never cut, and the refusal does not show it.
    #[test]
    fn every_source_refuses_a_secret_over_1024_bytes() {
        use std::os::fd::AsRawFd;
        let dir = tempfile::tempdir().unwrap();
        let max = "é".repeat(MAX_SECRET_BYTES / 2); // 1,024 bytes, 512 characters
        let over = format!("{max}x");
        assert_eq!((max.len(), over.len()), (1024, 1025));
        let mut open = Vec::new(); // the fd: sources' files, open until the end
        let mut sources = |secret: &str, tag: &str| -> Vec<SecretSource> {
            let env = format!("PUSHCA_TEST_SECRET_LEN_{tag}");
            std::env::set_var(&env, secret);
            let file = dir.path().join(tag);
            // Windows line ending: the `\r` is not part of the secret.
            fs::write(&file, format!("{secret}\r\nnext line\n")).unwrap();
            vec![
                src(&format!("pass:{secret}")),
                src(&format!("env:{env}")),
                src(&format!("file:{}", file.display())),
                SecretSource::Fd({
                    open.push(File::open(&file).unwrap());
                    open.last().unwrap().as_raw_fd()
                }),
            ]
        };
        for s in sources(&max, "MAX") {
            assert_eq!(s.read("--passin").unwrap().as_str(), max, "{s:?}");
        }
        for s in sources(&over, "OVER") {
            let e = s.read("--passin").unwrap_err();
            assert!(
                e.message.starts_with("--passin: ")
                    && e.message.contains("longer than 1,024 bytes"),
                "{s:?}: {}",
                e.message
            );
            assert!(!e.message.contains("éé"), "{}", e.message);
        }
    }

    /// The line buffer never grows, so no reallocation leaves a copy of the
    /// secret in freed memory.
    #[test]
    fn the_secret_line_buffer_never_reallocates() {
        for line in [
            format!("{}\r\n", "a".repeat(MAX_SECRET_BYTES)),
            format!("{}\n", "b".repeat(MAX_SECRET_BYTES)),
            "a".repeat(MAX_SECRET_BYTES + 10),
        ] {
            let mut buf = SecretLine::new();
            let (cap, ptr) = (buf.buf.capacity(), buf.buf.as_ptr());
            assert!(cap > MAX_SECRET_BYTES);
            for b in line.bytes().take_while(|b| *b != b'\n') {
                buf.push(&[b]);
                assert_eq!((buf.buf.capacity(), buf.buf.as_ptr()), (cap, ptr));
            }
            let too_long = line.len() > MAX_SECRET_BYTES + 2;
            assert_eq!(buf.finish(true).is_err(), too_long, "{}", line.len());
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
        let e = SecretSource::Fd(987).read("--x").unwrap_err();
        assert!(e.message.contains("not open"), "{}", e.message);
        // A duplicate of the same open file: two secrets read from one
        // descriptor are its first two lines, and the descriptor stays open.
        let two = dir.path().join("two");
        fs::write(&two, "first\nsecond\n").unwrap();
        let file = File::open(&two).unwrap();
        let fd = SecretSource::Fd(file.as_raw_fd());
        assert_eq!(fd.read("--passin").unwrap().as_str(), "first");
        assert_eq!(fd.read("--passout").unwrap().as_str(), "second");
        assert!(fd.read("--x").unwrap_err().message.contains("end of input"));
        let empty = dir.path().join("e");
        fs::write(&empty, "").unwrap();
        let e = src(&format!("file:{}", empty.display()))
            .read("--x")
            .unwrap_err();
        assert!(e.message.contains("end of input"), "{}", e.message);
    }
}
