//! Command-line definitions (clap) and dispatch to one handler module per
//! command group. Handlers call the library and return a [`Report`]; `main.rs`
//! renders it as text or JSON.

use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};
use pushca::fsutil::{FsError, Returned, Sink, Source};
use secrets::SecretSource;

pub mod cert;
pub mod client;
pub mod convert;
pub mod crl;
pub mod csr;
pub mod error;
pub mod gateway;
pub mod init;
pub mod keys;
pub mod portal;
pub mod profile;
pub mod secrets;
#[cfg(feature = "serve")]
pub mod serve;
pub mod server_cert;
pub mod service;
pub mod status;
pub mod store;
pub mod term;
pub mod token;
pub mod wizard;

pub use error::{exit, CliError, Kind};

#[derive(Parser, Debug)]
#[command(
    name = "pushca",
    version,
    about = "Self-hosted certificate authority and developer portal for an APNs-style push gateway",
    propagate_version = true
)]
pub struct Cli {
    /// pushca home directory (default: $PUSHCA_HOME, else ~/.pushca)
    #[arg(long, global = true, env = "PUSHCA_HOME", value_name = "DIR")]
    pub home: Option<PathBuf>,
    /// Use this PostgreSQL store (postgres://USER@HOST/DB?sslmode=...)
    /// instead of the home's: its records, CA material and templates
    #[arg(long, global = true, env = "PUSHCA_STORE", value_name = "URL")]
    pub store: Option<String>,
    /// Print one JSON document on stdout (errors as JSON on stderr)
    #[arg(long, global = true)]
    pub json: bool,
    /// Print nothing but errors
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Say more about what is being done
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Client mode: run `cert`, `crl`, `status` or `gateway trust-store` on a
    /// `pushca serve` service (https://HOST:PORT); no home, no CA passphrase
    #[arg(long, global = true, env = "PUSHCA_SERVER", value_name = "URL")]
    pub server: Option<String>,
    /// The CA chain (PEM) that signed the service's certificate: the only
    /// roots trusted for it
    #[arg(long, global = true, env = "PUSHCA_SERVER_CA", value_name = "FILE")]
    pub server_ca: Option<PathBuf>,
    /// A file holding the service's API token (else $PUSHCA_TOKEN, the token itself)
    #[arg(long, global = true, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create the CA hierarchy (root, issuing CA, profile signer) and the default team
    Init(init::InitArgs),
    /// Manage teams (organisations)
    #[command(subcommand)]
    Team(portal::TeamCmd),
    /// Manage App IDs (bundle identifiers)
    #[command(subcommand)]
    App(portal::AppCmd),
    /// Register devices (UDIDs) for development and ad-hoc profiles
    #[command(subcommand)]
    Device(portal::DeviceCmd),
    /// Make a key and a certificate signing request (like Keychain Access)
    #[command(subcommand)]
    Csr(csr::CsrCmd),
    /// Issue, list and show push certificates
    #[command(subcommand)]
    Cert(cert::CertCmd),
    /// A TLS server certificate from the issuing CA (a gateway, a service): key,
    /// certificate, chain and .p12
    ServerCert(server_cert::ServerCertArgs),
    /// Create, show, list and regenerate provisioning profiles (.mobileprovision)
    #[command(subcommand)]
    Profile(profile::ProfileCmd),
    /// CA certificates, push certificates, profiles and the CRL: what expires when
    Status(status::StatusArgs),
    /// Sign a new certificate revocation list (CRL) with the issuing CA
    Crl(crl::CrlArgs),
    /// The gateway's trust store and enforcement
    #[command(subcommand)]
    Gateway(gateway::GatewayCmd),
    /// Print a shell completion script (bash, zsh, fish, powershell)
    Completions(CompletionsArgs),
    /// Write the man pages (pushca.1 and one per command)
    Man(ManArgs),
    /// Write and read PKCS#12 (.p12) files
    #[command(subcommand)]
    P12(convert::P12Cmd),
    /// APNs auth keys (.p8) for token-based provider authentication, and
    /// private key conversions
    #[command(subcommand)]
    Key(keys::KeyCmd),
    /// Merge certificate and key into the PEM files push providers load
    #[command(subcommand)]
    Pem(convert::PemCmd),
    /// Guided first-time setup in a terminal: CA, App ID, key, certificate, .p12,
    /// ck.pem, devices, profiles, the gateway trust store, TLS identities
    Wizard(wizard::WizardArgs),
    /// API tokens of `pushca serve` (scoped, shown once, stored as hashes)
    #[command(subcommand)]
    Token(token::TokenCmd),
    /// The calls `pushca serve` answered: who, what, which serials, result
    Audit(token::AuditArgs),
    /// The store: copy a home into PostgreSQL
    #[command(subcommand)]
    Store(store::StoreCmd),
    /// The CA as an HTTPS service for CI runners: a JSON API under /v1/ with
    /// scoped tokens (the CA unlocked once, at start)
    #[cfg(feature = "serve")]
    Serve(serve::ServeArgs),
}

/// Global options every handler sees.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub home: Option<PathBuf>,
    /// `--store URL` (or `PUSHCA_STORE`).
    pub store: Option<String>,
    pub json: bool,
    pub quiet: bool,
    pub verbose: u8,
    /// Client mode: the service the CA's commands run on.
    pub server: Option<client::ServerArgs>,
}

impl Ctx {
    pub fn home(&self) -> Result<pushca::home::Home, CliError> {
        let home = pushca::home::Home::resolve(self.home.clone()).map_err(CliError::from)?;
        match self.store.as_deref().filter(|s| !s.is_empty()) {
            Some(url) if pushca::store::Store::is_url(url) => Ok(home.with_store_url(url)),
            Some(_) => Err(pushca::store::StoreError::Url(
                "a PostgreSQL store URL starts with postgres:// or postgresql://".into(),
            )
            .into()),
            None => Ok(home),
        }
    }

    /// The home when one can be named (for output rules: never write into it).
    pub fn home_opt(&self) -> Option<pushca::home::Home> {
        self.home().ok()
    }
}

/// `--force`, for every command that writes files.
#[derive(Args, Debug, Clone, Copy)]
pub struct Overwrite {
    /// Replace output files that already exist
    #[arg(long)]
    pub force: bool,
}

/// The output rules of a command: `--force`, and never inside the home.
pub fn rules<'a>(
    home: Option<&'a pushca::home::Home>,
    o: Overwrite,
) -> pushca::ops::OutputRules<'a> {
    pushca::ops::OutputRules {
        force: o.force,
        home: home.map(|h| h.root()),
    }
}

/// Whether a path given on the command line is `-` (standard input or
/// output, resolved here: the library never touches either).
pub fn is_stdio(path: &Path) -> bool {
    path.as_os_str() == pushca::fsutil::STDIO
}

/// How standard input is named in messages when it is given as `-`.
pub const STDIN_NAME: &str = "<stdin>";

/// An input given on the command line: `-` is standard input, read here
/// (to the size limit of a file) and named `<stdin>`; anything else a file.
/// The library never reads standard input itself.
pub fn source(path: &Path) -> Result<Source, CliError> {
    if path.as_os_str() != pushca::fsutil::STDIO {
        return Ok(Source::File(path.to_path_buf()));
    }
    let data = pushca::fsutil::read_stream(
        std::io::stdin().lock(),
        Path::new(STDIN_NAME),
        pushca::fsutil::MAX_INPUT_BYTES,
        "end of standard input before any data",
    )?;
    Ok(Source::bytes(STDIN_NAME, data)?)
}

/// An output given on the command line: `-` is standard output (the bytes
/// come back in the command's outcome and `main` writes them), anything
/// else a file.
pub fn sink(path: &Path) -> Sink {
    if path.as_os_str() == pushca::fsutil::STDIO {
        Sink::Return
    } else {
        Sink::File(path.to_path_buf())
    }
}

/// Checks an output that will hold a private key before any work is done:
/// standard output that is a terminal is refused (the key would stay on the
/// screen and in its scrollback), a file under the rules (a terminal too).
pub fn check_secret_sink(
    sink: &Sink,
    rules: &pushca::ops::OutputRules<'_>,
) -> Result<(), CliError> {
    use std::io::IsTerminal;
    if *sink == Sink::Return && std::io::stdout().is_terminal() {
        return Err(FsError::SecretToTerminal(sink.name().to_path_buf()).into());
    }
    Ok(pushca::fsutil::check_secret_sink(sink, rules)?)
}

/// `--out-dir -`: refused, a directory is needed.
pub fn not_stdout_dir(dir: &Path) -> Result<(), CliError> {
    if dir.as_os_str() == pushca::fsutil::STDIO {
        return Err(FsError::write(
            dir,
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "a directory is needed here, not - (standard output)",
            ),
        )
        .into());
    }
    Ok(())
}

/// `--key-type`: parsed by the library, its values listed in `--help` and
/// completions.
pub fn key_types() -> impl clap::builder::TypedValueParser<Value = pushca::keys::KeyType> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(pushca::keys::KeyType::ALL.map(|k| k.name()))
        .try_map(|s| s.parse::<pushca::keys::KeyType>())
}

/// `--env` of a push certificate (`sandbox` is accepted for development).
pub fn push_envs() -> impl clap::builder::TypedValueParser<Value = pushca::ca::PushEnvironment> {
    use clap::builder::{PossibleValue, TypedValueParser};
    clap::builder::PossibleValuesParser::new([
        PossibleValue::new("development").alias("sandbox"),
        PossibleValue::new("production"),
        PossibleValue::new("universal").help("Sandbox & Production"),
    ])
    .try_map(|s| s.parse::<pushca::ca::PushEnvironment>())
}

/// Whether colours may be used on stderr: a terminal, and `NO_COLOR` unset
/// (or empty), as <https://no-color.org> asks.
pub fn colours() -> bool {
    use std::io::IsTerminal;
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
}

/// A progress bar on stderr for long work: shown only on a terminal, for at
/// least 100 items, and never with `--json` or `-q`.
pub fn progress(ctx: &Ctx, len: u64, what: &'static str) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if len < 100 || ctx.json || ctx.quiet || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{msg} {bar:40} {pos}/{len} ({eta} left)")
    {
        bar.set_style(style);
    }
    bar.set_message(what);
    bar
}

/// What a command produced: a JSON document, its text rendering, warnings for
/// stderr, and the exit code.
#[derive(Debug)]
pub struct Report {
    pub json: serde_json::Value,
    pub text: String,
    pub warnings: Vec<String>,
    pub exit: u8,
    /// The text is the data asked for (a script, a page, a PEM): printed
    /// even with `-q`, and never escaped.
    pub is_data: bool,
    /// Data for standard output (an output given as `-`): written there
    /// first, and the report then goes to stderr.
    pub stdout: Option<Returned>,
}

impl Report {
    pub fn new(json: serde_json::Value, text: impl Into<String>) -> Self {
        Report {
            json,
            text: text.into(),
            warnings: Vec::new(),
            exit: exit::OK,
            is_data: false,
            stdout: None,
        }
    }
    /// A report from a typed view: the JSON document is `view` serialized
    /// (the README's field names are the view's), the text its rendering.
    pub fn of<V: serde::Serialize>(view: &V, text: impl Into<String>) -> Result<Self, CliError> {
        let json = serde_json::to_value(view)
            .map_err(|e| CliError::internal(format!("cannot render the JSON document: {e}")))?;
        Ok(Report::new(json, text))
    }
    /// Marks the text as the data asked for (see [`Report::is_data`]).
    pub fn data(mut self) -> Self {
        self.is_data = true;
        self
    }
    /// The data of an output to `-`, if there was one (see [`Report::stdout`]).
    pub fn with_stdout(mut self, data: Option<Returned>) -> Self {
        self.stdout = data;
        self
    }
    /// Each warning of the library, in order.
    pub fn warn_all(mut self, ws: impl IntoIterator<Item = String>) -> Self {
        self.warnings.extend(ws);
        self
    }
    pub fn warn(mut self, w: impl Into<String>) -> Self {
        self.warnings.push(w.into());
        self
    }
    pub fn with_exit(mut self, code: u8) -> Self {
        self.exit = code;
        self
    }
}

pub fn run(cli: Cli) -> Result<Report, CliError> {
    let server = cli.server.map(|url| client::ServerArgs {
        url,
        server_ca: cli.server_ca,
        token_file: cli.token_file,
    });
    let remote_ok = matches!(
        &cli.command,
        Command::Cert(_) | Command::Crl(_) | Command::Status(_)
    ) || matches!(
        &cli.command,
        Command::Gateway(gateway::GatewayCmd::TrustStore(_))
    );
    if server.is_some() && !remote_ok {
        return Err(CliError::usage(
            "--server (or PUSHCA_SERVER) applies to cert, crl, status and gateway trust-store",
        ));
    }
    let ctx = Ctx {
        home: cli.home,
        store: cli.store,
        json: cli.json,
        quiet: cli.quiet,
        verbose: cli.verbose,
        server,
    };
    match cli.command {
        Command::Init(a) => init::init(&ctx, a),
        Command::Team(c) => portal::team(&ctx, c),
        Command::App(c) => portal::app(&ctx, c),
        Command::Device(c) => portal::device(&ctx, c),
        Command::Profile(c) => profile::profile(&ctx, c),
        Command::Csr(c) => csr::csr(&ctx, c),
        Command::Cert(c) => cert::cert(&ctx, c),
        Command::ServerCert(a) => server_cert::server_cert(&ctx, a),
        Command::Crl(a) => crl::crl(&ctx, a),
        Command::Status(a) => status::status(&ctx, a),
        Command::Completions(a) => completions(a),
        Command::Man(a) => man(&ctx, a),
        Command::Gateway(c) => gateway::gateway(&ctx, c),
        Command::P12(c) => convert::p12(&ctx, c),
        Command::Key(c) => keys::key(&ctx, c),
        Command::Pem(c) => convert::pem(&ctx, c),
        Command::Wizard(a) => wizard::wizard(&ctx, a),
        Command::Token(c) => token::token(&ctx, c),
        Command::Store(c) => store::store(&ctx, c),
        Command::Audit(a) => token::audit(&ctx, a),
        #[cfg(feature = "serve")]
        Command::Serve(a) => serve::serve(&ctx, a),
    }
}

#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// The shell to print the completion script for
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Args, Debug)]
pub struct ManArgs {
    /// Write pushca.1 and pushca-<command>.1 here (default: print pushca.1)
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
    #[command(flatten)]
    pub overwrite: Overwrite,
}

/// `completions`: the script for a shell.
#[derive(Debug, serde::Serialize)]
struct Completions {
    shell: String,
    script: String,
}

/// `man` without `--out-dir`: the page `pushca.1`.
#[derive(Debug, serde::Serialize)]
struct ManPage {
    page: String,
}

/// `man --out-dir`: the pages written.
#[derive(Debug, serde::Serialize)]
struct ManPages {
    #[serde(serialize_with = "pushca::fsutil::serialize_path")]
    out_dir: PathBuf,
    pages: Vec<Sink>,
}

fn completions(a: CompletionsArgs) -> Result<Report, CliError> {
    use clap::CommandFactory;
    let mut cmd = Cli::command();
    let mut buf = Vec::new();
    clap_complete::generate(a.shell, &mut cmd, "pushca", &mut buf);
    let script = String::from_utf8(buf).map_err(|e| CliError::internal(e.to_string()))?;
    let v = Completions {
        shell: a.shell.to_string(),
        script,
    };
    Ok(Report::of(&v, v.script.clone())?.data())
}

fn render_man(cmd: clap::Command) -> Result<Vec<u8>, CliError> {
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd)
        .render(&mut buf)
        .map_err(|e| CliError::internal(e.to_string()))?;
    Ok(buf)
}

fn man(ctx: &Ctx, a: ManArgs) -> Result<Report, CliError> {
    use clap::CommandFactory;
    let cmd = Cli::command();
    let Some(dir) = a.out_dir else {
        let page = render_man(cmd)?;
        let v = ManPage {
            page: String::from_utf8_lossy(&page).into_owned(),
        };
        return Ok(Report::of(&v, v.page.clone())?.data());
    };
    not_stdout_dir(&dir)?;
    let home = ctx.home_opt();
    let r = rules(home.as_ref(), a.overwrite);
    pushca::fsutil::create_output_dir(&dir, &r)?;
    let mut batch = pushca::fsutil::AtomicBatch::new();
    let mut written = Vec::new();
    let mut pages = vec![("pushca.1".to_string(), render_man(cmd.clone())?)];
    for sub in cmd.get_subcommands() {
        let name = format!("pushca-{}", sub.get_name());
        let page = render_man(sub.clone().name(name.clone()))?;
        pages.push((format!("{name}.1"), page));
    }
    for (file, page) in &pages {
        let path = dir.join(file);
        batch.add_output(&path, page, pushca::fsutil::MODE_PUBLIC, &r)?;
        written.push(Sink::File(path));
    }
    batch.commit()?;
    let text = format!("Wrote {} man pages to {}\n", written.len(), dir.display());
    Report::of(
        &ManPages {
            out_dir: dir,
            pages: written,
        },
        text,
    )
}

/// Text made inert for a terminal: control characters (other than newline and
/// tab) and Unicode bidirectional overrides, which may come from certificates,
/// CSRs, profiles or file names, are shown escaped (`\u{1b}`) instead of
/// being interpreted by the terminal.
pub fn inert(s: &str) -> std::borrow::Cow<'_, str> {
    fn bad(c: char) -> bool {
        (c.is_control() && c != '\n' && c != '\t')
            || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    }
    if !s.chars().any(bad) {
        return std::borrow::Cow::Borrowed(s);
    }
    std::borrow::Cow::Owned(
        s.chars()
            .map(|c| {
                if bad(c) {
                    c.escape_unicode().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

/// RFC 3339 (UTC) for a unix timestamp, as every command prints times.
pub fn rfc3339(t: i64) -> String {
    pushca::timeutil::rfc3339(t)
}

/// The protection asked for: `--passout` (read, never empty) or `--noenc`.
/// Without either, asks on a terminal (hidden, confirmed).
pub fn protection(
    p: &Protection,
    what: &str,
) -> Result<pushca::ops::convert::Protection, CliError> {
    if p.noenc {
        return Ok(pushca::ops::convert::Protection::None);
    }
    let pass = secrets::from_flag_or_prompt(p.passout.as_ref(), what, "--passout", true)
        .map_err(|e| e.with_hint("pass --passout SRC, or --noenc for an unencrypted output"))?;
    pushca::ops::convert::Protection::checked(Some(pass))
        .map_err(|e| CliError::from(e).about("--passout"))
}

/// How a written private key or `.p12` is protected: exactly one of `--passout
/// SRC` and `--noenc`.
#[derive(Args, Debug, Clone)]
pub struct Protection {
    /// Password/passphrase for what is written (pass:, env:, file:, fd:, stdin)
    #[arg(long, value_name = "SRC", conflicts_with = "noenc")]
    pub passout: Option<SecretSource>,
    /// Write it unencrypted (a .p12 then has no password and no MAC)
    #[arg(long)]
    pub noenc: bool,
}

#[cfg(test)]
mod tests {
    /// Every flag and argument of every command says what it is for, and a
    /// closed set of values is listed in `--help`.
    #[test]
    fn every_argument_has_help_and_value_lists_are_shown() {
        use clap::CommandFactory;
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            let path = format!("{path} {}", cmd.get_name());
            if cmd.get_about().is_none() && !path.ends_with(" help") {
                missing.push(format!("{path}: no about"));
            }
            for a in cmd.get_arguments() {
                let id = a.get_id().as_str();
                if id == "help" || id == "version" || a.is_hide_set() {
                    continue;
                }
                if a.get_help().is_none() {
                    missing.push(format!("{path} {id}: no help"));
                }
                if !a.get_possible_values().is_empty() && a.is_hide_possible_values_set() {
                    missing.push(format!("{path} {id}: values hidden"));
                }
            }
            for sub in cmd.get_subcommands() {
                walk(sub, &path, missing);
            }
        }
        let mut missing = Vec::new();
        let cmd = super::Cli::command();
        for sub in cmd.get_subcommands() {
            walk(sub, "pushca", &mut missing);
        }
        assert!(missing.is_empty(), "{}", missing.join("\n"));
        // The value lists, e.g. for --key-type and --env.
        let mut cmd = super::Cli::command();
        let help = cmd
            .find_subcommand_mut("init")
            .map(|c| c.render_long_help().to_string())
            .unwrap_or_default();
        assert!(
            help.contains("rsa-2048") && help.contains("ec-p256"),
            "{help}"
        );
    }

    #[test]
    fn inert_escapes_terminal_controls() {
        assert_eq!(super::inert("plain\ttext\n"), "plain\ttext\n");
        let s = super::inert("CN=evil\u{1b}]0;title\u{7}\u{202e}x\r");
        assert!(!s.contains('\u{1b}') && !s.contains('\u{7}') && !s.contains('\u{202e}'));
        assert!(!s.contains('\r'));
        assert!(s.contains("\\u{1b}"), "{s}");
    }
}
