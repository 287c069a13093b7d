//! The commands of example 04 (pause, resume, quit): parsing a `--commands` script and reading
//! commands typed on a terminal. Written once here for both twins of 04: how the commands are read
//! is no lesson; how the job obeys them (a `watch` channel, a `Condvar`) is, and stays in the example.
//!
//! A script is `pause@250ms,resume@850ms,quit@2s`: commands (`pause`/`resume`/`quit`, or `p`/`r`/`q`)
//! at times counted from the start, in order. [`parse_script`] is a clap `value_parser`, so a bad
//! script is a one-line error and exit status 2, never a panic later.

use std::fmt;
use std::io::BufRead;
use std::str::FromStr;
use std::time::Duration;

use tracing::warn;

/// The latest time a script step may have. The steps are added to an `Instant` (the start), and an
/// `Instant` plus an absurd duration (`pause@18446744073709551615s`) overflows and panics: the
/// bound is checked where the time is parsed, so the user gets an error that names the value.
/// An hour is far past any demo and far from overflowing.
pub const MAX_STEP_TIME: Duration = Duration::from_secs(3600);

/// What the controls can be told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Pause,
    Resume,
    Quit,
}

impl FromStr for Command {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "p" | "pause" => Ok(Command::Pause),
            "r" | "resume" => Ok(Command::Resume),
            "q" | "quit" => Ok(Command::Quit),
            other => Err(format!(
                "unknown command {other:?} (use pause, resume or quit)"
            )),
        }
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Command::Pause => "pause",
            Command::Resume => "resume",
            Command::Quit => "quit",
        })
    }
}

/// One scripted command: `command` at `at` after the start.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub at: Duration,
    pub command: Command,
}

/// A `--commands` value: steps in time order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Script(pub Vec<Step>);

impl fmt::Display for Script {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let steps: Vec<String> = self
            .0
            .iter()
            .map(|s| format!("{}@{}ms", s.command, s.at.as_millis()))
            .collect();
        f.write_str(&steps.join(","))
    }
}

/// Parses `pause@250ms,resume@850ms,quit@2s`. Meant as clap's `value_parser`: every error is one
/// line that names the bad part.
pub fn parse_script(text: &str) -> Result<Script, String> {
    let mut steps: Vec<Step> = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (command, at) = part
            .split_once('@')
            .ok_or_else(|| format!("{part:?} is not command@time, e.g. pause@300ms"))?;
        let step = Step {
            command: command.parse().map_err(|e| format!("{part:?}: {e}"))?,
            at: parse_time(at).map_err(|e| format!("{part:?}: {e}"))?,
        };
        if let Some(before) = steps.last()
            && step.at < before.at
        {
            return Err(format!(
                "{part:?} comes after {}@{}ms: times must not go backwards",
                before.command,
                before.at.as_millis()
            ));
        }
        steps.push(step);
    }
    Ok(Script(steps))
}

/// `300ms` or `2s`: whole numbers (nothing to round), at most [`MAX_STEP_TIME`].
fn parse_time(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let bad = || format!("{text:?} is not a time like 300ms or 2s");
    let time = if let Some(ms) = text.strip_suffix("ms") {
        ms.parse().map(Duration::from_millis).map_err(|_| bad())?
    } else if let Some(s) = text.strip_suffix('s') {
        s.parse().map(Duration::from_secs).map_err(|_| bad())?
    } else {
        return Err(bad());
    };
    if time > MAX_STEP_TIME {
        return Err(format!(
            "{text:?} is too late: a script step must come within {}s",
            MAX_STEP_TIME.as_secs()
        ));
    }
    Ok(time)
}

/// Reads commands typed on a terminal, one per line, and hands each to `send` until `send` says
/// nobody listens any more (returns `false`) or the input ends (Ctrl-D, a closed stdin). Returns at
/// end of input: the caller then drops its sender, which is how the job learns that no command
/// can come any more.
///
/// Blank lines are skipped; a line that is not a command, or not even text (invalid UTF-8), is
/// reported and skipped: a typo must not end the input, and the lines after it still count.
/// A read error (stdin gone) ends the input.
pub fn read_commands(mut input: impl BufRead, mut send: impl FnMut(Command) -> bool) {
    let mut line = Vec::new();
    loop {
        line.clear();
        match input.read_until(b'\n', &mut line) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) => {
                warn!("stdin cannot be read ({e}): no more commands");
                return;
            }
        }
        let Ok(text) = std::str::from_utf8(&line) else {
            warn!("a line that is not text was ignored; type p, r or q");
            continue;
        };
        if text.trim().is_empty() {
            continue;
        }
        match text.parse::<Command>() {
            Ok(command) => {
                if !send(command) {
                    return;
                }
            }
            Err(e) => warn!("{e}; type p, r or q"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script(text: &str) -> Script {
        parse_script(text).expect("a valid test script")
    }

    fn typed(input: &[u8]) -> Vec<Command> {
        let mut sent = Vec::new();
        read_commands(input, |c| {
            sent.push(c);
            true
        });
        sent
    }

    #[test]
    fn scripts_parse_and_print_back() {
        assert_eq!(
            script("pause@250ms, r@1s ,quit@1200ms").to_string(),
            "pause@250ms,resume@1000ms,quit@1200ms"
        );
        assert_eq!(script(""), Script::default());
        assert_eq!(
            script("p@3600s").0,
            [Step {
                at: MAX_STEP_TIME,
                command: Command::Pause
            }]
        );
    }

    #[test]
    fn bad_scripts_are_errors_that_say_what_is_wrong() {
        for (bad, says) in [
            ("pause", "is not command@time"),
            ("jump@1s", "unknown command"),
            ("pause@soon", "is not a time"),
            ("pause@-5ms", "is not a time"),
            ("pause@1.5s", "is not a time"),
            ("resume@900ms,pause@300ms", "must not go backwards"),
            // Past u64: not a number at all.
            ("pause@18446744073709551616s", "is not a time"),
            // A valid u64 that would overflow `Instant + Duration` later: rejected here.
            ("pause@18446744073709551615s", "is too late"),
            ("pause@18446744073709551615ms", "is too late"),
            ("pause@3601s", "is too late"),
        ] {
            let err = parse_script(bad).expect_err(bad);
            assert!(err.contains(says), "{bad}: {err}");
            assert!(!err.contains('\n'), "one line: {err}");
        }
    }

    #[test]
    fn typed_commands_skip_blank_lines_typos_and_lines_that_are_not_text() {
        // The `p` comes after a line of invalid UTF-8: it must still be read.
        assert_eq!(
            typed(b"\n  nonsense \n\xff\xfe\np\nR\r\nquit"),
            [Command::Pause, Command::Resume, Command::Quit]
        );
        assert_eq!(typed(b""), []);
    }

    #[test]
    fn reading_stops_when_nobody_listens() {
        let mut sent = Vec::new();
        read_commands(&b"p\nr\np\n"[..], |c| {
            sent.push(c);
            false
        });
        assert_eq!(sent, [Command::Pause]);
    }
}
