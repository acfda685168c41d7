//! Lines for a terminal that keep pushca's own styling apart from untrusted
//! text. The styling (bold headings, coloured `error:` / `warning:` /
//! `hint:` labels) reaches the terminal as escape sequences; every piece of
//! text, which may come from certificates, CSRs, profiles or file names, is
//! made inert ([`super::inert`]) as it is added. Nothing is escaped after
//! the styling was applied, so the styling is never shown as `\u{1b}[1m`.

use std::fmt;

/// pushca's own styles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tone {
    /// A heading (the wizard's steps): bold.
    Heading,
    /// `error:`: bold red.
    Error,
    /// `warning:` and `hint:`: bold yellow.
    Warning,
}

impl Tone {
    fn style(self) -> console::Style {
        let bold = console::Style::new().bold().force_styling(true);
        match self {
            Tone::Heading => bold,
            Tone::Error => bold.red(),
            Tone::Warning => bold.yellow(),
        }
    }
}

/// A line (or lines) for the terminal: its untrusted text escaped, its
/// styling (only when colours are on) as escape sequences.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Line {
    colours: bool,
    text: String,
}

impl Line {
    /// A line for stderr: styled when [`super::colours`] says so (a terminal,
    /// `NO_COLOR` unset).
    pub fn stderr() -> Self {
        Line::with_colours(super::colours())
    }

    /// A line styled or not, as `colours` says.
    pub fn with_colours(colours: bool) -> Self {
        Line {
            colours,
            text: String::new(),
        }
    }

    /// Adds untrusted text, made inert.
    pub fn text(mut self, untrusted: &str) -> Self {
        self.text.push_str(&super::inert(untrusted));
        self
    }

    /// Adds untrusted text, made inert, in pushca's style `tone` (plain
    /// without colours).
    pub fn styled(mut self, tone: Tone, untrusted: &str) -> Self {
        let inert = super::inert(untrusted);
        if self.colours {
            self.text
                .push_str(&tone.style().apply_to(inert).to_string());
        } else {
            self.text.push_str(&inert);
        }
        self
    }

    /// What goes to the terminal.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::{Line, Tone};

    const HOSTILE: &str = "CN=evil\u{1b}[31mred\u{7}";

    #[test]
    fn styling_is_kept_and_untrusted_text_escaped() {
        let l = Line::with_colours(true)
            .styled(Tone::Heading, "Step 1/10: certificate authority")
            .text(" for ")
            .text(HOSTILE);
        let s = l.as_str();
        assert!(
            s.starts_with("\u{1b}[1mStep 1/10: certificate authority\u{1b}[0m for CN=evil"),
            "{s:?}"
        );
        // The only escape bytes are the styling's: the hostile text is inert.
        assert_eq!(s.matches('\u{1b}').count(), 2, "{s:?}");
        assert!(s.ends_with("CN=evil\\u{1b}[31mred\\u{7}"), "{s:?}");
        assert!(!s.contains('\u{7}'));
    }

    #[test]
    fn styled_untrusted_text_is_escaped_too() {
        let s = Line::with_colours(true)
            .styled(Tone::Error, HOSTILE)
            .to_string();
        assert!(s.contains("CN=evil\\u{1b}[31mred"), "{s:?}");
        assert!(!s.contains('\u{7}'), "{s:?}");
    }

    #[test]
    fn without_colours_no_escape_byte_at_all() {
        for tone in [Tone::Heading, Tone::Error, Tone::Warning] {
            let s = Line::with_colours(false)
                .styled(tone, "error:")
                .text(" ")
                .text(HOSTILE)
                .to_string();
            assert!(!s.contains('\u{1b}'), "{s:?}");
            assert_eq!(s, "error: CN=evil\\u{1b}[31mred\\u{7}");
        }
    }
}
