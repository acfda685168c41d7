//! A program on a real pseudo-terminal: a tmux session on its own server
//! (tests in parallel never race to start one shared server), with the
//! screen and transcript to read and keys to send.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// One tmux session (on its own server), killed on drop.
pub struct Tty {
    pub name: String,
    /// How many times each expected text was already seen (prompts redraw
    /// their lines, so offsets into the transcript are not stable).
    seen: std::collections::HashMap<String, usize>,
}

/// tmux on its own server (socket `sock`): tests in parallel never race to
/// start one shared server.
pub fn tmux(sock: &str, args: &[&str]) -> std::process::Output {
    Command::new("tmux")
        .args(["-L", sock])
        .args(args)
        .output()
        .expect("tmux is installed (apt install tmux)")
}

impl Tty {
    /// Runs `command` (a shell command line) in `dir` on a new tmux server;
    /// its exit status is printed after it ends, then the shell waits, so the
    /// pane (and its transcript) stays readable.
    pub fn run(dir: &Path, command: &str) -> Tty {
        static SESSIONS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let name = format!(
            "pushca-tty-{}-{}",
            std::process::id(),
            SESSIONS.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        );
        let script = format!(
            "cd '{}' && {command}; echo \"EXIT:$?\"; sleep 600",
            dir.display()
        );
        let o = tmux(
            &name,
            &[
                "new-session",
                "-d",
                "-s",
                &name,
                "-x",
                "200",
                "-y",
                "60",
                "bash",
                "-c",
                &script,
            ],
        );
        assert!(
            o.status.success(),
            "tmux: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        tmux(
            &name,
            &["set-option", "-t", &name, "history-limit", "10000"],
        );
        Tty {
            name,
            seen: Default::default(),
        }
    }

    /// The visible screen with its escape sequences (colours).
    pub fn screen_with_escapes(&self) -> String {
        let o = tmux(&self.name, &["capture-pane", "-p", "-e", "-t", &self.name]);
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// The whole transcript with its escape sequences (the styling tmux
    /// shows: bold, colours), lines joined.
    pub fn transcript_with_escapes(&self) -> String {
        let o = tmux(
            &self.name,
            &[
                "capture-pane",
                "-p",
                "-e",
                "-J",
                "-S",
                "-10000",
                "-t",
                &self.name,
            ],
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    pub fn transcript(&self) -> String {
        let o = tmux(
            &self.name,
            &["capture-pane", "-p", "-J", "-S", "-10000", "-t", &self.name],
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// Waits until `text` appears once more than earlier calls saw it.
    pub fn expect(&mut self, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let want = self.seen.get(text).copied().unwrap_or(0) + 1;
        loop {
            let t = self.transcript();
            if t.matches(text).count() >= want {
                self.seen.insert(text.to_string(), want);
                return;
            }
            if Instant::now() > deadline {
                panic!("timed out waiting for {text:?}; transcript:\n{t}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn keys(&self, keys: &[&str]) {
        for k in keys {
            tmux(&self.name, &["send-keys", "-t", &self.name, k]);
            std::thread::sleep(Duration::from_millis(60));
        }
    }

    pub fn enter(&self) {
        self.keys(&["Enter"]);
    }

    pub fn type_line(&self, text: &str) {
        tmux(&self.name, &["send-keys", "-t", &self.name, "-l", text]);
        std::thread::sleep(Duration::from_millis(60));
        self.enter();
    }

    /// Runs to the end and returns the exit status the shell printed.
    pub fn exit_code(&mut self) -> i32 {
        self.expect("EXIT:");
        let t = self.transcript();
        t.rsplit("EXIT:")
            .next()
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no exit status in {t}"))
    }
}

impl Drop for Tty {
    fn drop(&mut self) {
        tmux(&self.name, &["kill-server"]);
    }
}
