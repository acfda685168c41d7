//! `pushca wizard`: a first-time setup in a terminal, one step at a time,
//! through the same `ops` calls as the commands (and it prints those command
//! lines at the end, so it teaches the CLI).
//!
//! Every prompt has a default except passphrases (hidden, confirmed). Input
//! is checked at the prompt and asked again with the reason. Ctrl-C at a
//! prompt stops before the next step: every step writes its files
//! atomically, so nothing is half-written, and a re-run reuses what exists.

use std::io::{self, IsTerminal};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock};

use clap::Args;
use dialoguer::theme::{ColorfulTheme, SimpleTheme, Theme};
use dialoguer::{Confirm, Input, Select};

use pushca::ca::PushEnvironment;
use pushca::home::Home;
use pushca::keys::KeyType;
use pushca::ops::{self, certs, profiles};
use pushca::portal::{self, devices, NewApp};
use pushca::secret::Secret;
use pushca::text::count;
use pushca::x509ext::Environment;

use super::term::{Line, Tone};
use super::{colours, secrets, CliError, Ctx, Kind, Report};

#[derive(Args, Debug)]
pub struct WizardArgs {
    /// Where the certificate, key, .p12, ck.pem, profiles and trust store go
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub out_dir: PathBuf,
}

/// Steps, for "Step N/M".
const STEPS: usize = 10;

/// Set by Ctrl-C (SIGINT) while the wizard runs: console reports Ctrl-C at a
/// prompt by raising SIGINT, and a Ctrl-C between prompts (while a step
/// works) must not kill the process half-way either.
static INTERRUPTED: LazyLock<Arc<AtomicBool>> = LazyLock::new(Arc::default);

/// Installs the SIGINT handler (signal-hook's: it only sets the flag, which
/// is async-signal-safe). Without it, Ctrl-C would end the process.
fn catch_ctrl_c() -> Result<(), CliError> {
    signal_hook::flag::register(signal_hook::consts::SIGINT, Arc::clone(&INTERRUPTED))
        .map(drop)
        .map_err(|e| CliError::new(Kind::Io, format!("cannot catch Ctrl-C: {e}")))
}

struct Wizard {
    theme: Box<dyn Theme>,
    term: console::Term,
    home: Home,
    out: PathBuf,
    step: usize,
    /// Files and directories written, for the summary.
    written: Vec<PathBuf>,
    /// The equivalent command lines.
    commands: Vec<String>,
}

/// An interrupted prompt (Ctrl-C) or a closed terminal.
fn interrupted(e: impl std::fmt::Display) -> CliError {
    CliError::new(
        Kind::Interrupted,
        format!("wizard stopped at a prompt ({e})"),
    )
}

fn prompt_error(e: dialoguer::Error) -> CliError {
    let dialoguer::Error::IO(e) = e;
    interrupted(e)
}

/// Shell-quotes `s` when needed, for the printed command lines.
fn sh(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

impl Wizard {
    /// A line of text (made inert: it may hold file names, names from the
    /// store, messages about certificates).
    fn say(&self, line: &str) {
        self.say_line(Line::stderr().text(line));
    }

    /// A line with pushca's own styling, its text already made inert.
    fn say_line(&self, line: Line) {
        let _ = self.term.write_line(line.as_str());
    }

    /// A library warning: the styled `warning:` label, then its text.
    fn warn(&self, warning: &str) {
        self.say_line(
            Line::stderr()
                .text("  ")
                .styled(Tone::Warning, "warning:")
                .text(" ")
                .text(warning),
        );
    }

    /// Starts the next step, unless Ctrl-C was pressed during the last one.
    fn step(&mut self, what: &str, replaces: &str) -> Result<(), CliError> {
        if INTERRUPTED.load(Ordering::SeqCst) {
            return Err(interrupted("Ctrl-C"));
        }
        self.step += 1;
        self.say("");
        let title = format!("Step {}/{STEPS}: {what}", self.step);
        self.say_line(Line::stderr().styled(Tone::Heading, &title));
        self.say(&format!("  (replaces: {replaces})"));
        Ok(())
    }

    fn confirm(&self, prompt: &str, default: bool) -> Result<bool, CliError> {
        Confirm::with_theme(self.theme.as_ref())
            .with_prompt(super::inert(prompt))
            .default(default)
            .interact_on(&self.term)
            .map_err(prompt_error)
    }

    fn select(&self, prompt: &str, items: &[String], default: usize) -> Result<usize, CliError> {
        let items: Vec<String> = items.iter().map(|i| super::inert(i).into_owned()).collect();
        Select::with_theme(self.theme.as_ref())
            .with_prompt(super::inert(prompt))
            .items(&items)
            .default(default)
            .interact_on(&self.term)
            .map_err(prompt_error)
    }

    /// A line of text with a default, checked by `check` (re-asked with its
    /// reason until it passes).
    fn input(
        &self,
        prompt: &str,
        default: &str,
        check: impl Fn(&str) -> Result<(), String>,
    ) -> Result<String, CliError> {
        let mut input = Input::<String>::with_theme(self.theme.as_ref())
            .with_prompt(super::inert(prompt))
            .validate_with(|s: &String| {
                check(s.trim()).map_err(|why| super::inert(&why).into_owned())
            });
        if !default.is_empty() {
            input = input.default(default.to_string());
        } else {
            input = input.allow_empty(true);
        }
        input
            .interact_text_on(&self.term)
            .map(|s| s.trim().to_string())
            .map_err(prompt_error)
    }

    /// A hidden passphrase, asked twice when `confirm`, re-asked until
    /// `check` passes.
    fn passphrase(
        &self,
        prompt: &str,
        confirm: bool,
        check: impl Fn(&Secret) -> Result<(), String>,
    ) -> Result<Secret, CliError> {
        loop {
            let first = match secrets::read_hidden(&self.term, prompt) {
                Err(e) if secrets::is_too_long(&e) => {
                    self.say(&format!("  {e}; try again"));
                    continue;
                }
                r => r.map_err(interrupted)?,
            };
            if let Err(why) = check(&first) {
                self.say(&format!("  {why}; try again"));
                continue;
            }
            if confirm {
                let again = match secrets::read_hidden(&self.term, &format!("Repeat {prompt}")) {
                    Err(e) if secrets::is_too_long(&e) => None,
                    r => Some(r.map_err(interrupted)?),
                };
                if again.is_none_or(|a| a.as_str() != first.as_str()) {
                    self.say("  the two entries differ; try again");
                    continue;
                }
            }
            return Ok(first);
        }
    }

    /// Says what was issued; where it was written.
    fn issued(&self, env: PushEnvironment, i: &certs::Issued) -> Option<PathBuf> {
        self.say(&format!(
            "  issued {env} certificate {} (valid until {})",
            i.cert.serial,
            pushca::timeutil::rfc3339(i.cert.not_after.unix_timestamp())
        ));
        i.path.clone()
    }

    fn wrote(&mut self, p: &Path) {
        self.say(&format!("  wrote {}", p.display()));
        self.written.push(p.to_path_buf());
    }
}

pub fn wizard(ctx: &Ctx, a: WizardArgs) -> Result<Report, CliError> {
    if !(io::stdin().is_terminal() && io::stderr().is_terminal()) {
        // Exit 1, not 2: the command line is right, the terminal is missing.
        return Err(CliError {
            exit: super::exit::FAILURE,
            ..CliError::usage("pushca wizard needs a terminal to ask its questions on")
        }
        .with_hint(
            "without one, use the commands: pushca init, app create, cert create, device add, \
             profile create, gateway trust-store (see pushca --help)",
        ));
    }
    let home = ctx.home()?;
    catch_ctrl_c()?;
    let theme: Box<dyn Theme> = if colours() {
        Box::new(ColorfulTheme::default())
    } else {
        Box::new(SimpleTheme)
    };
    let mut w = Wizard {
        theme,
        term: console::Term::stderr(),
        home,
        out: a.out_dir,
        step: 0,
        written: Vec::new(),
        commands: Vec::new(),
    };
    let result = run(&mut w);
    let _ = w.term.show_cursor();
    match result {
        Ok(r) => Ok(r),
        Err(e) if e.kind == Kind::Interrupted => {
            let done = if w.written.is_empty() {
                "nothing was written".to_string()
            } else {
                format!(
                    "kept, complete: {}",
                    w.written
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            Err(CliError::new(
                Kind::Interrupted,
                format!("wizard interrupted at step {}/{STEPS}; {done}", w.step),
            )
            .with_hint(
                "no file is half-written (each step writes atomically); run `pushca wizard` \
                 again to resume: it reuses the CA, team, App ID and devices that exist",
            ))
        }
        Err(e) => Err(e),
    }
}

/// What the steps decided so far, for the ones after them.
struct Setup {
    /// `--home DIR`, for the printed command lines.
    home_flag: String,
    ca_pass: Secret,
    team: ops::view::Team,
    bundle: String,
    env: PushEnvironment,
    /// The push certificate (issued now or kept from an earlier run).
    cert_path: PathBuf,
    /// The auth key instead, on the auth-key branch.
    auth_key: Option<AuthKey>,
    /// The profiles signed.
    profiles: Vec<PathBuf>,
}

/// Where the key comes from (step 3).
enum KeySource {
    /// A CSR file made elsewhere: the key stays there (no .p12, no ck.pem).
    Csr(PathBuf),
    /// A new key of this type, made here.
    New(KeyType),
    /// No certificate: an auth key (token-based provider authentication).
    AuthKey,
}

/// The auth key of the auth-key branch (made now or kept from an earlier run).
#[derive(Debug, serde::Serialize)]
struct AuthKey {
    key_id: String,
    /// `AuthKey_<KEYID>.p8`.
    file: PathBuf,
}

fn run(w: &mut Wizard) -> Result<Report, CliError> {
    w.say("pushca wizard: a CA, an App ID with push, a push certificate, a provisioning");
    w.say(&format!(
        "profile and a gateway trust store. Home: {}. Files go to {}.",
        w.home.root().display(),
        w.out.display()
    ));
    w.say("Press Enter to take the [default]; Ctrl-C stops (and says how to resume).");
    let home_flag = format!("--home {}", sh(&w.home.root().display().to_string()));
    let (ca_pass, team) = ca_step(w, &home_flag)?;
    let mut s = Setup {
        home_flag,
        ca_pass,
        team,
        bundle: String::new(),
        env: PushEnvironment::Universal,
        cert_path: PathBuf::new(),
        auth_key: None,
        profiles: Vec::new(),
    };
    s.bundle = app_step(w, &s)?;
    let key = key_step(w)?;
    if matches!(key, KeySource::AuthKey) {
        auth_key_step(w, &mut s)?;
        provider_settings_step(w, &s)?;
    } else if let Some(force) = certificate_step(w, &mut s)? {
        match key {
            KeySource::Csr(csr) => issue_from_csr(w, &mut s, &csr, force)?,
            KeySource::New(key_type) => create_key_and_p12(w, &mut s, key_type, force)?,
            KeySource::AuthKey => {}
        }
    }
    let have_devices = devices_step(w, &s)?;
    s.profiles = profiles_step(w, &s, have_devices)?;
    trust_store_step(w, &s)?;
    server_cert_step(w, &s)?;
    device_identity_step(w, &s)?;
    summary(w, &s)
}

/// Step 1: the CA (made, or unlocked when the home has one) and the team.
fn ca_step(w: &mut Wizard, home_flag: &str) -> Result<(Secret, ops::view::Team), CliError> {
    w.step(
        "certificate authority",
        "Apple's WWDR CA: pushca signs push certificates and profiles itself",
    )?;
    if w.home.is_initialized() {
        return existing_ca(w);
    }
    let name = w.input("Team (organisation) name", "My Team", |s| {
        portal::validate_team_name(s).map_err(|e| e.to_string())
    })?;
    let country = w.input("Country (2 letters)", "US", |s| {
        pushca::ca::normalize_country(s)
            .map(|_| ())
            .map_err(|e| e.to_string())
    })?;
    let kinds: Vec<String> = KeyType::ALL.iter().map(|k| k.name().to_string()).collect();
    let key_type = KeyType::ALL[w.select("CA key type", &kinds, 0)?];
    w.say("  The CA passphrase encrypts the CA keys; every signing asks for it.");
    let pass = w.passphrase("CA passphrase", true, |p| {
        pushca::secret::check_ca_passphrase(p).map_err(|e| e.to_string())
    })?;
    let out = ops::init::init_home(
        &w.home,
        &ops::init::InitRequest {
            team_name: &name,
            team_id: None,
            country: &country,
            key_type,
        },
        &pass,
        ops::now(),
    )?;
    w.say(&format!(
        "  created the CA in {} (team {} {})",
        w.home.root().display(),
        out.team.name,
        out.team.team_id
    ));
    w.commands.push(format!(
        "pushca {home_flag} init --team-name {} --country {} --key-type {}",
        sh(&name),
        sh(&country),
        key_type.name()
    ));
    Ok((pass, ops::view::Team::from(&out.team)))
}

/// Step 1 on a home with a CA: its passphrase (three tries) and the team.
fn existing_ca(w: &mut Wizard) -> Result<(Secret, ops::view::Team), CliError> {
    w.say(&format!(
        "  {} already has a CA; reusing it",
        w.home.root().display()
    ));
    let files = w.home.ca_files();
    let mut tries = 0;
    let pass = loop {
        let p = w.passphrase("CA passphrase", false, |_| Ok(()))?;
        match pushca::ca::Issuer::unlock_issuing(&files, &p) {
            Ok(_) => break p,
            Err(e @ pushca::ca::CaError::WrongPassphrase(_)) => {
                tries += 1;
                if tries >= 3 {
                    return Err(CliError::from(ops::OpsError::from(e)));
                }
                w.say("  that passphrase does not unlock the CA; try again");
            }
            // A missing or damaged key file: asking again would not help.
            Err(e) => return Err(CliError::from(ops::OpsError::from(e))),
        }
    };
    let teams = ops::portal::list_teams(&w.home)?.teams;
    let team = if teams.len() > 1 {
        let items: Vec<String> = teams
            .iter()
            .map(|t| format!("{} ({})", t.name, t.team_id))
            .collect();
        let def = teams.iter().position(|t| t.is_default).unwrap_or(0);
        teams[w.select("Team", &items, def)?].clone()
    } else {
        teams
            .into_iter()
            .next()
            .ok_or_else(|| CliError::internal("the home has no team"))?
    };
    w.say(&format!("  team {} ({})", team.name, team.team_id));
    Ok((pass, team))
}

/// Step 2: the App ID with push (reused, given push, or registered).
fn app_step(w: &mut Wizard, s: &Setup) -> Result<String, CliError> {
    let home_flag = &s.home_flag;
    w.step(
        "App ID with the push capability",
        "Certificates, Identifiers & Profiles > Identifiers > + > App IDs, tick Push Notifications",
    )?;
    let existing = ops::portal::list_apps(&w.home, Some(&s.team.team_id))?.apps;
    let default_bundle = existing
        .iter()
        .find(|a| a.push && !portal::is_wildcard(&a.bundle_id))
        .map(|a| a.bundle_id.clone())
        .unwrap_or_else(|| "com.example.app".into());
    let bundle = w.input("Bundle ID", &default_bundle, |s| {
        portal::validate_bundle_id(s).map_err(|e| e.to_string())?;
        if portal::is_wildcard(s) {
            return Err("a wildcard App ID cannot have push; give an explicit bundle ID".into());
        }
        Ok(())
    })?;
    match existing.iter().find(|a| a.bundle_id == bundle) {
        Some(app) if app.push => w.say(&format!(
            "  reusing App ID {}.{}",
            app.team_id, app.bundle_id
        )),
        Some(app) => {
            ops::portal::set_app(&w.home, &bundle, Some(true), None)?;
            w.say(&format!(
                "  added push to App ID {}.{}",
                app.team_id, app.bundle_id
            ));
            w.commands
                .push(format!("pushca {home_flag} app set {} --push", sh(&bundle)));
        }
        None => {
            let app = ops::portal::create_app(
                &w.home,
                &NewApp {
                    bundle_id: &bundle,
                    name: None,
                    team_id: Some(&s.team.team_id),
                    push: true,
                },
            )?
            .app;
            w.say(&format!(
                "  created App ID {}.{} with push",
                app.team_id, app.bundle_id
            ));
            w.commands.push(format!(
                "pushca {home_flag} app create {} --push",
                sh(&bundle)
            ));
        }
    }
    Ok(bundle)
}

/// Step 3: the provider's credential: a push certificate from a new key (its
/// type) or an existing CSR file, or an auth key.
fn key_step(w: &mut Wizard) -> Result<KeySource, CliError> {
    w.step(
        "provider credential: push certificate or auth key",
        "Keychain Access > Certificate Assistant > Request a Certificate From a Certificate \
         Authority, or Certificates, Identifiers & Profiles > Keys",
    )?;
    let credentials = vec![
        "push certificate (TLS client certificate: .p12 / ck.pem)".to_string(),
        "auth key (.p8: the provider signs tokens; no certificate)".to_string(),
    ];
    if w.select("Credential", &credentials, 0)? == 1 {
        return Ok(KeySource::AuthKey);
    }
    let sources = vec![
        "generate a new key and CSR here".to_string(),
        "use an existing CSR file (e.g. from Keychain Access)".to_string(),
    ];
    if w.select("Key", &sources, 0)? == 1 {
        let csr = w.input("CSR file", "", |s| {
            if s.is_empty() {
                return Err("give the path of a .certSigningRequest / .csr file".into());
            }
            // Read like every input file: regular files only (a FIFO would
            // block, /dev/zero would never end), size-capped.
            if s == "-" {
                return Err("standard input is this terminal; give the path of a file".into());
            }
            let bytes =
                pushca::fsutil::read_input(Path::new(s)).map_err(|e| format!("cannot read {e}"))?;
            pushca::ca::csr::check_csr(&bytes)
                .map(|_| ())
                .map_err(|e| format!("{s}: {e}"))
        })?;
        return Ok(KeySource::Csr(PathBuf::from(csr)));
    }
    let kinds: Vec<String> = KeyType::ALL.iter().map(|k| k.name().to_string()).collect();
    // RSA-2048: what Keychain Access makes for push certificates.
    Ok(KeySource::New(
        KeyType::ALL[w.select("Key type", &kinds, 2)?],
    ))
}

/// Step 4: the certificate's environment, and whether to issue one (`None`:
/// keep the files of an earlier run) and replace what exists (`Some(true)`).
fn certificate_step(w: &mut Wizard, s: &mut Setup) -> Result<Option<bool>, CliError> {
    w.step(
        "push certificate",
        "Identifiers > your App ID > Push Notifications > Create Certificate, upload the CSR, download aps.cer",
    )?;
    let envs: Vec<String> = vec![
        "universal (Sandbox & Production)".into(),
        "development (sandbox)".into(),
        "production".into(),
    ];
    s.env = [
        PushEnvironment::Universal,
        PushEnvironment::Development,
        PushEnvironment::Production,
    ][w.select("Environment", &envs, 0)?];
    let paths = certs::created_paths(&w.out, &s.bundle, s.env);
    s.cert_path = paths[2].clone();
    let present: Vec<&PathBuf> = paths.iter().filter(|p| p.exists()).collect();
    if present.is_empty() {
        return Ok(Some(false));
    }
    w.say(&format!(
        "  {} from an earlier run: {}",
        count(present.len(), "file"),
        present
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    ));
    if w.confirm("Issue a new certificate and replace them?", false)? {
        Ok(Some(true))
    } else {
        w.say("  keeping them");
        Ok(None)
    }
}

/// Step 4 on the auth-key branch: its environment and scope; a key of the
/// App ID's team that covers it, not revoked, whose `.p8` is in the output
/// directory from an earlier run, is offered for reuse; else `key create`.
fn auth_key_step(w: &mut Wizard, s: &mut Setup) -> Result<(), CliError> {
    w.step(
        "auth key",
        "Certificates, Identifiers & Profiles > Keys > + > Apple Push Notifications service \
         (APNs), download AuthKey_<KEYID>.p8",
    )?;
    let envs: Vec<String> = vec!["development (sandbox)".into(), "production".into()];
    let env = [Environment::Development, Environment::Production]
        [w.select("Environment (a key signs for one)", &envs, 0)?];
    s.env = match env {
        Environment::Development => PushEnvironment::Development,
        Environment::Production => PushEnvironment::Production,
    };
    let team_id = s.team.team_id.clone();
    let scopes = vec![
        format!("team-scoped (every App ID of team {team_id} with push)"),
        format!("topic-specific (only {})", s.bundle),
    ];
    let topic = w.select("Scope", &scopes, 0)? == 1;
    let reusable = ops::keys::list_keys(&w.home, Some(&team_id))?
        .keys
        .into_iter()
        .filter(|k| {
            k.revoked_at.is_none()
                && k.environment == env.name()
                && (k.scope == "team" || k.apps.contains(&s.bundle))
                && (k.scope == "topics") == topic
        })
        .map(|k| {
            let file = w.out.join(ops::keys::key_file_name(&k.key_id));
            (k.key_id, file)
        })
        .find(|(_, f)| f.is_file());
    if let Some((key_id, file)) = reusable {
        w.say(&format!(
            "  auth key {key_id} exists from an earlier run: {}",
            file.display()
        ));
        if w.confirm("Use it?", true)? {
            s.auth_key = Some(AuthKey { key_id, file });
            return Ok(());
        }
    }
    let apps = if topic {
        vec![s.bundle.clone()]
    } else {
        Vec::new()
    };
    let created = ops::keys::create_key(
        &w.home,
        &ops::keys::KeyRequest {
            environment: env,
            apps: &apps,
            name: None,
            team_id: Some(&team_id),
            out_dir: &w.out,
            force: false,
        },
    )?;
    let key_id = created.key.view.key_id.clone();
    w.say(&format!(
        "  created {} auth key {key_id} ({})",
        env.name(),
        if topic {
            format!("for {} only", s.bundle)
        } else {
            format!("team {team_id}")
        }
    ));
    w.wrote(&created.key.file);
    w.commands.push(format!(
        "pushca {} key create --env {}{} --out-dir {}",
        s.home_flag,
        env.name(),
        if topic {
            format!(" --app {}", sh(&s.bundle))
        } else {
            String::new()
        },
        sh(&w.out.display().to_string())
    ));
    s.auth_key = Some(AuthKey {
        key_id,
        file: created.key.file,
    });
    Ok(())
}

/// Step 5 on the auth-key branch: what the provider is configured with.
fn provider_settings_step(w: &mut Wizard, s: &Setup) -> Result<(), CliError> {
    w.step(
        "provider settings",
        "the Keys page (Key ID) and Membership (Team ID), entered in your provider",
    )?;
    let Some(k) = &s.auth_key else {
        return Ok(());
    };
    w.say(&format!("  Key ID:      {}", k.key_id));
    w.say(&format!("  Team ID:     {}", s.team.team_id));
    w.say(&format!(
        "  Private key: {} (shown once: pushca keeps only the public key)",
        k.file.display()
    ));
    w.say(&format!(
        "  Topic:       {} ({}; the gateway's APNs host for it)",
        s.bundle,
        s.env.environments()[0].name()
    ));
    w.say("  The provider signs an ES256 JWT {\"alg\":\"ES256\",\"kid\":KEY_ID} {\"iss\":TEAM_ID,\"iat\":NOW}");
    w.say("  at most every hour and sends it as `authorization: bearer <JWT>`.");
    Ok(())
}

/// Step 5 with a CSR file: the certificate only (the key stays where the
/// CSR was made).
fn issue_from_csr(w: &mut Wizard, s: &mut Setup, csr: &Path, force: bool) -> Result<(), CliError> {
    w.step(
        "(no .p12 or ck.pem from a CSR)",
        "Keychain Access > export .p12: the private key stays in your keychain",
    )?;
    let env = s.env;
    let prepared = certs::prepare_issue(
        &w.home,
        &certs::IssueRequest {
            bundle_id: &s.bundle,
            env,
            csr_files: &[pushca::fsutil::Source::File(csr.to_path_buf())],
            output: Some(certs::IssueOutput::File(s.cert_path.clone())),
            bundle: None,
            format: certs::CertFormat::Pem,
            force,
        },
        &|| {},
    )?;
    let out = prepared.issue(&s.ca_pass)?;
    for warning in &out.warnings {
        w.warn(warning);
    }
    for i in &out.issued {
        if let Some(p) = w.issued(env, i) {
            s.cert_path = p.clone();
            w.wrote(&p);
        }
    }
    w.commands.push(format!(
        "pushca {} cert issue --app {} --env {env} --csr {} --out {}",
        s.home_flag,
        sh(&s.bundle),
        sh(&csr.display().to_string()),
        sh(&s.cert_path.display().to_string())
    ));
    Ok(())
}

/// Step 5 with a new key: key, CSR, certificate, .p12 and ck.pem.
fn create_key_and_p12(
    w: &mut Wizard,
    s: &mut Setup,
    key_type: KeyType,
    force: bool,
) -> Result<(), CliError> {
    w.step(
        ".p12 and ck.pem",
        "Keychain Access > Export .p12, then openssl pkcs12 -nocerts / -clcerts and cat into ck.pem",
    )?;
    w.say("  This password protects the private key, the .p12 and ck.pem.");
    let protection =
        ops::convert::Protection::Password(w.passphrase("Key and .p12 password", true, |p| {
            pushca::secret::check_output_password(p).map_err(|e| e.to_string())
        })?);
    let ca_pass = &s.ca_pass;
    let created = certs::create(
        &w.home,
        &s.bundle,
        s.env,
        &w.out,
        key_type,
        &protection,
        None,
        force,
        || Ok(ca_pass.clone()),
    )?;
    if let Some(p) = created.issued.as_ref().and_then(|i| w.issued(s.env, i)) {
        s.cert_path = p;
    }
    for p in [
        &created.key,
        &created.csr,
        &s.cert_path,
        &created.p12,
        &created.ck,
    ] {
        w.wrote(p);
    }
    w.commands.push(format!(
        "pushca {} cert create --app {} --env {} --out-dir {} --key-type {} --passout env:KEY_PASS",
        s.home_flag,
        sh(&s.bundle),
        s.env,
        sh(&w.out.display().to_string()),
        key_type.name()
    ));
    Ok(())
}

/// Step 6: devices to register; whether the team has an enabled one.
fn devices_step(w: &mut Wizard, s: &Setup) -> Result<bool, CliError> {
    let team = &s.team;
    w.step(
        "devices (for development pushes)",
        "Certificates, Identifiers & Profiles > Devices > + (UDID from Finder or Xcode)",
    )?;
    let known = ops::portal::list_devices(&w.home, Some(&team.team_id))?.devices;
    if !known.is_empty() {
        w.say(&format!(
            "  {} registered for team {}",
            count(known.len(), "device"),
            team.team_id
        ));
    }
    loop {
        let udid = w.input("Device UDID to register (Enter: none / done)", "", |s| {
            if s.is_empty() {
                return Ok(());
            }
            devices::normalize_udid(s)
                .map(|_| ())
                .map_err(|e| e.to_string())
        })?;
        if udid.is_empty() {
            break;
        }
        let default_name = format!("Device {}", &udid[..udid.len().min(8)]);
        let name = w.input("Device name", &default_name, |s| {
            if s.is_empty() {
                Err("give a name".into())
            } else {
                Ok(())
            }
        })?;
        let ops::portal::DeviceAdded { device: d, created } =
            ops::portal::add_device(&w.home, &udid, &name, Some(&team.team_id))?;
        w.say(&format!(
            "  {} device {} ({})",
            if created { "registered" } else { "already had" },
            d.udid,
            d.name
        ));
        if created {
            w.commands.push(format!(
                "pushca {} device add {} --name {}",
                s.home_flag,
                d.udid,
                sh(&d.name)
            ));
        }
    }
    Ok(ops::portal::list_devices(&w.home, Some(&team.team_id))?
        .devices
        .iter()
        .any(|d| d.enabled))
}

/// Step 7: a profile per environment of the certificate (development only
/// with devices); the files signed.
fn profiles_step(w: &mut Wizard, s: &Setup, have_devices: bool) -> Result<Vec<PathBuf>, CliError> {
    w.step(
        "provisioning profile(s)",
        "Certificates, Identifiers & Profiles > Profiles > + (and Xcode's download)",
    )?;
    let bundle = &s.bundle;
    let mut profile_files = Vec::new();
    for e in s.env.environments() {
        let (choice, flag) = match e {
            Environment::Development if !have_devices => {
                w.say(&format!(
                    "  no devices registered: no development profile (register one with \
                     `pushca {} device add UDID --name NAME`, then `{}`)",
                    s.home_flag,
                    profile_create_line(w, s, *e)
                ));
                continue;
            }
            Environment::Development => (profiles::DeviceChoice::Team, "--team-devices"),
            Environment::Production => (profiles::DeviceChoice::All, "--all-devices"),
        };
        let out = profile_path(w, bundle, *e);
        let mut force = false;
        if out.exists() {
            if w.confirm(
                &format!("{} exists; replace it with a new profile?", out.display()),
                true,
            )? {
                force = true;
            } else {
                continue;
            }
        }
        let prepared = profiles::prepare_create(
            &w.home,
            &profiles::ProfileRequest {
                bundle_id: bundle,
                environment: *e,
                devices: choice,
                cert_serials: &[],
                name: None,
                days: None,
                out: pushca::fsutil::Sink::File(out.clone()),
                force,
            },
        )?;
        let signed = prepared.sign(&s.ca_pass, &mut || {})?;
        for warning in &signed.warnings {
            w.warn(warning);
        }
        for p in &signed.profiles {
            w.say(&format!(
                "  signed {} profile {} (until {})",
                e.name(),
                p.record.uuid,
                pushca::timeutil::rfc3339(p.record.expires_at)
            ));
            w.wrote(p.path.name());
            profile_files.push(p.path.name().to_path_buf());
        }
        w.commands.push(format!(
            "pushca {} profile create --app {} --env {} {flag} --out {}",
            s.home_flag,
            sh(bundle),
            e.name(),
            sh(&out.display().to_string())
        ));
    }
    Ok(profile_files)
}

/// Where the trust store goes.
fn trust_store_dir(w: &Wizard) -> PathBuf {
    w.out.join("trust-store")
}

/// Step 8: the gateway trust store, if wanted.
fn trust_store_step(w: &mut Wizard, s: &Setup) -> Result<(), CliError> {
    w.step(
        "gateway trust store",
        "nothing at Apple (APNs decides); for your gateway: nginx ssl_client_certificate, ssl_crl, policy",
    )?;
    let ts = trust_store_dir(w);
    if !w.confirm(
        &format!("Write the gateway trust store to {}?", ts.display()),
        true,
    )? {
        return Ok(());
    }
    let prepared = ops::gateway::prepare_trust_store(&w.home, &ts)?;
    let outcome = match prepared.unchanged() {
        Some(o) => {
            w.say("  up to date: nothing changed since it was written");
            o
        }
        None => prepared.build(&s.ca_pass)?,
    };
    w.say(&format!(
        "  {} for {}",
        count(outcome.profiles, "profile"),
        count(outcome.apps, "App ID")
    ));
    w.wrote(&ts);
    w.commands.push(format!(
        "pushca {} gateway trust-store --out {}",
        s.home_flag,
        sh(&ts.display().to_string())
    ));
    Ok(())
}

/// Asks for the password of a TLS identity's key and .p12 (hidden, twice).
fn identity_protection(w: &Wizard, what: &str) -> Result<ops::convert::Protection, CliError> {
    w.say("  This password protects the private key and the .p12.");
    Ok(ops::convert::Protection::Password(w.passphrase(
        &format!("{what} key and .p12 password"),
        true,
        |p| pushca::secret::check_output_password(p).map_err(|e| e.to_string()),
    )?))
}

/// Whether to write an identity whose files (some) exist: `Some(force)`,
/// or `None` to keep them.
fn replace_identity(
    w: &Wizard,
    paths: &ops::identity::IdentityPaths,
) -> Result<Option<bool>, CliError> {
    let p = paths;
    if ![&p.key, &p.certificate, &p.chain, &p.fullchain, &p.p12]
        .iter()
        .any(|f| f.exists())
    {
        return Ok(Some(false));
    }
    if w.confirm(
        &format!("{} exists; replace it?", p.certificate.display()),
        false,
    )? {
        Ok(Some(true))
    } else {
        w.say("  keeping it");
        Ok(None)
    }
}

/// Says what an identity wrote.
fn wrote_identity(w: &mut Wizard, files: &ops::identity::Written) {
    for p in [
        &files.key,
        &files.certificate,
        &files.chain,
        &files.fullchain,
        &files.p12,
    ] {
        w.wrote(p);
    }
}

/// Step 9: a TLS server certificate for the gateway, if wanted.
fn server_cert_step(w: &mut Wizard, s: &Setup) -> Result<(), CliError> {
    w.step(
        "TLS server certificate (for the gateway)",
        "Apple's own api.push.apple.com certificate; elsewhere openssl req + x509 -extfile with SANs",
    )?;
    if !w.confirm("Issue a TLS server certificate for the gateway?", false)? {
        return Ok(());
    }
    let names = w.input(
        "DNS name(s) of the gateway, comma-separated",
        "localhost",
        |s| {
            let dns: Vec<&str> = s.split(',').map(str::trim).collect();
            pushca::ca::tls::ServerNames::new::<&str>(&dns, &[])
                .map(drop)
                .map_err(|e| e.to_string())
        },
    )?;
    let dns: Vec<String> = names.split(',').map(|n| n.trim().to_string()).collect();
    let checked = pushca::ca::tls::ServerNames::new::<&str>(
        &dns.iter().map(String::as_str).collect::<Vec<_>>(),
        &[],
    )
    .map_err(ops::OpsError::from)?;
    let paths = ops::identity::IdentityPaths::server(&w.out, checked.common_name());
    let Some(force) = replace_identity(w, &paths)? else {
        return Ok(());
    };
    let protection = identity_protection(w, "Server")?;
    let ca_pass = &s.ca_pass;
    let v = ops::identity::server_cert(
        &w.home,
        &ops::identity::ServerCertRequest {
            dns: &dns,
            ip: &[],
            out_dir: &w.out,
            key_type: KeyType::Rsa2048,
            protection: &protection,
            force,
        },
        || Ok(ca_pass.clone()),
    )?;
    w.say(&format!(
        "  issued server certificate {} for {} (valid until {})",
        v.serial,
        v.dns.join(", "),
        pushca::timeutil::rfc3339(v.not_after)
    ));
    wrote_identity(w, &v.files);
    let flags: Vec<String> = v.dns.iter().map(|d| format!("--dns {}", sh(d))).collect();
    w.commands.push(format!(
        "pushca {} server-cert {} --out-dir {} --passout env:KEY_PASS",
        s.home_flag,
        flags.join(" "),
        sh(&w.out.display().to_string())
    ));
    Ok(())
}

/// Step 10: a registered device's TLS identity (the gateway's device
/// listener), if wanted and the team has an enabled device.
fn device_identity_step(w: &mut Wizard, s: &Setup) -> Result<(), CliError> {
    w.step(
        "device identity (for the gateway's device listener)",
        "the identity Apple gives each device; elsewhere openssl req + x509 with CN=<UDID>, clientAuth",
    )?;
    let enabled: Vec<ops::view::Device> =
        ops::portal::list_devices(&w.home, Some(&s.team.team_id))?
            .devices
            .into_iter()
            .filter(|d| d.enabled)
            .collect();
    if enabled.is_empty() {
        w.say(
            "  no enabled device in the team: none to issue (later: `pushca device identity UDID \
             --out-dir DIR`)",
        );
        return Ok(());
    }
    if !w.confirm("Issue a device identity?", false)? {
        return Ok(());
    }
    let items: Vec<String> = enabled
        .iter()
        .map(|d| format!("{} ({})", d.udid, d.name))
        .collect();
    let device = &enabled[w.select("Device", &items, 0)?];
    let paths = ops::identity::IdentityPaths::device(&w.out, &device.udid);
    let Some(force) = replace_identity(w, &paths)? else {
        return Ok(());
    };
    let protection = identity_protection(w, "Device")?;
    let ca_pass = &s.ca_pass;
    let v = ops::identity::device_identity(
        &w.home,
        &ops::identity::DeviceIdentityRequest {
            udid: &device.udid,
            team_id: Some(&device.team_id),
            out_dir: &w.out,
            key_type: KeyType::Rsa2048,
            protection: &protection,
            force,
        },
        || Ok(ca_pass.clone()),
    )?;
    w.say(&format!(
        "  issued the identity of device {} serial {} (valid until {})",
        v.udid,
        v.serial,
        pushca::timeutil::rfc3339(v.not_after)
    ));
    wrote_identity(w, &v.files);
    w.commands.push(format!(
        "pushca {} device identity {} --team {} --out-dir {} --passout env:KEY_PASS",
        s.home_flag,
        v.udid,
        v.team_id,
        sh(&w.out.display().to_string())
    ));
    Ok(())
}

/// `wizard`'s JSON document: what was set up, written, and the commands
/// that do the same.
#[derive(Debug, serde::Serialize)]
struct Summary<'a> {
    home: &'a Path,
    team_id: &'a str,
    bundle_id: &'a str,
    environment: &'static str,
    /// Null on the auth-key branch.
    certificate: Option<&'a Path>,
    /// On the auth-key branch: `key_id` and `file` (the `.p8`).
    #[serde(skip_serializing_if = "Option::is_none")]
    auth_key: Option<&'a AuthKey>,
    profiles: &'a [PathBuf],
    written: &'a [PathBuf],
    commands: &'a [String],
}

/// The summary: files written, the same as commands, and what to run next.
fn summary(w: &Wizard, s: &Setup) -> Result<Report, CliError> {
    let mut text = String::from("\nDone. Written:\n");
    for p in &w.written {
        text.push_str(&format!("  {}\n", p.display()));
    }
    if w.written.is_empty() {
        text.push_str("  nothing new (everything existed already)\n");
    }
    text.push_str("\nThe same without the wizard (e.g. in CI):\n");
    for c in &w.commands {
        text.push_str(&format!("  {c}\n"));
    }
    let (bundle, env) = (&s.bundle, s.env);
    text.push_str("\nNext:\n");
    for line in next_steps(w, s) {
        text.push_str(&format!("  {line}\n"));
    }
    let v = Summary {
        home: w.home.root(),
        team_id: &s.team.team_id,
        bundle_id: bundle,
        environment: env.name(),
        certificate: s.auth_key.is_none().then_some(s.cert_path.as_path()),
        auth_key: s.auth_key.as_ref(),
        profiles: &s.profiles,
        written: &w.written,
        commands: &w.commands,
    };
    Report::of(&v, text)
}

/// What to run next, each command line as it works on what the wizard just
/// set up: a gateway check only for an environment the trust store allows
/// now (checked here, as `gateway check` does), and for an environment it
/// refuses, what is missing.
fn next_steps(w: &Wizard, s: &Setup) -> Vec<String> {
    let h = &s.home_flag;
    let ts = trust_store_dir(w);
    let ts_arg = sh(&ts.display().to_string());
    let mut lines = Vec::new();
    if !w.written.contains(&ts) {
        // No trust store from this run: a check would read an old one or none.
        lines.push(format!("pushca {h} gateway trust-store --out {ts_arg}"));
        lines.push(format!("pushca {h} status"));
        return lines;
    }
    if let Some(k) = &s.auth_key {
        return token_next_steps(w, s, k, &ts_arg);
    }
    // The provider's ck.pem when this run wrote one, else the certificate
    // (from a CSR, the key stays where the CSR was made).
    let ck = certs::created_paths(&w.out, &s.bundle, s.env)[4].clone();
    let cert = if w.written.contains(&ck) {
        ck
    } else {
        s.cert_path.clone()
    };
    let mut check = None;
    let mut missing = Vec::new();
    for env in s.env.environments() {
        if allowed_now(w, s, &ts, &cert, *env) {
            check.get_or_insert(*env);
        } else {
            missing.push(*env);
        }
    }
    if let Some(env) = check {
        lines.push(format!(
            "pushca {h} gateway check --trust-store {ts_arg} --cert {} --topic {} --env {}",
            sh(&cert.display().to_string()),
            sh(&s.bundle),
            env.name(),
        ));
    }
    lines.push(format!("pushca {h} status"));
    lines.extend(
        missing
            .into_iter()
            .map(|env| missing_profile_line(w, s, env, &ts_arg)),
    );
    lines
}

/// What a check in `env` needs that the trust store lacks.
fn missing_profile_line(w: &Wizard, s: &Setup, env: Environment, ts_arg: &str) -> String {
    let h = &s.home_flag;
    let create = profile_create_line(w, s, env);
    match env {
        Environment::Development => format!(
            "(a development check needs a registered device and a development profile: \
             `pushca {h} device add UDID --name NAME`, then `{create}` and `pushca {h} \
             gateway trust-store --out {ts_arg}` again)"
        ),
        Environment::Production => format!(
            "(a production check needs a production profile: `{create}`, then \
             `pushca {h} gateway trust-store --out {ts_arg}` again)"
        ),
    }
}

/// `Next:` on the auth-key branch: a check with a token made from the `.p8`
/// by PyJWT (one line, piped into `gateway check --token -`) when the
/// environment has a profile, else what is missing.
fn token_next_steps(w: &Wizard, s: &Setup, k: &AuthKey, ts_arg: &str) -> Vec<String> {
    let h = &s.home_flag;
    let env = s.env.environments()[0];
    let mut lines = Vec::new();
    if profile_path(w, &s.bundle, env).is_file() {
        lines.push("(a provider token, made here with PyJWT: pip install 'pyjwt[crypto]')".into());
        lines.push(format!(
            "python3 -c {} {} {} {} | pushca {h} gateway check --trust-store {ts_arg} --token - \
             --topic {} --env {}",
            sh(
                "import jwt, sys, time; print(jwt.encode({\"iss\": sys.argv[2], \"iat\": \
                int(time.time())}, open(sys.argv[1]).read(), algorithm=\"ES256\", \
                headers={\"kid\": sys.argv[3]}))"
            ),
            sh(&k.file.display().to_string()),
            s.team.team_id,
            k.key_id,
            sh(&s.bundle),
            env.name()
        ));
        lines.push(format!("pushca {h} status"));
    } else {
        lines.push(format!("pushca {h} status"));
        lines.push(missing_profile_line(w, s, env, ts_arg));
    }
    lines
}

/// The `profile create` line of the profile the wizard signs for `env`.
fn profile_create_line(w: &Wizard, s: &Setup, env: Environment) -> String {
    let flag = match env {
        Environment::Development => "--team-devices",
        Environment::Production => "--all-devices",
    };
    format!(
        "pushca {} profile create --app {} --env {} {flag} --out {}",
        s.home_flag,
        sh(&s.bundle),
        env.name(),
        sh(&profile_path(w, &s.bundle, env).display().to_string())
    )
}

/// Where the wizard writes the profile of `bundle` for `env`.
fn profile_path(w: &Wizard, bundle: &str, env: Environment) -> PathBuf {
    w.out
        .join(format!("{bundle}-{}.mobileprovision", env.name()))
}

/// Whether the trust store `ts` allows a push of `cert` to its
/// App ID in `env` (what `gateway check` would answer; any error is a no).
fn allowed_now(w: &Wizard, s: &Setup, ts: &Path, cert: &Path, env: Environment) -> bool {
    let Ok(anchor) = ops::gateway::check_anchor(None, Some(&w.home)) else {
        return false;
    };
    ops::gateway::check(
        ts,
        &anchor,
        pushca::gateway::LoadOptions::default(),
        &pushca::fsutil::Source::File(cert.to_path_buf()),
        &s.bundle,
        env,
        None,
    )
    .is_ok_and(|o| matches!(o.decision, pushca::gateway::Decision::Allow))
}
