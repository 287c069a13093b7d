//! Recorded outputs (`docs/output/<bin>.txt`, written by `scripts/record-outputs`) kept in step with
//! the programs: a header, the README or the book shows a recording, never a typed sample, and a
//! recording whose format no longer matches a fresh run fails a test until it is retaken.
//!
//! What is compared is the **summary**: every line that is not a log line (`  0.602s  INFO [main] ...`,
//! whose order and count follow the scheduler) and not blank, with each number masked (`#`), durations
//! with their unit (`950 ms` and `1.2 s` are both `#`), a list of like items read as one item, compared as sets (a line printed once per
//! event may be printed a different number of times). So `total 955 ms (ideal 950 ms)` matches
//! `total 1020 ms (ideal 950 ms)`, while a reworded, added or dropped line fails.

use std::collections::BTreeSet;
use std::path::Path;

use crate::process::run_example;

/// The first line of every recording starts with this (the rest says when, which build, how many
/// cores, what load, and the command).
pub const RECORDING_MARK: &str = "# Recorded ";

/// `true` for a line of the `common` logger: seconds since start, a level, the thread in brackets.
pub fn is_log_line(line: &str) -> bool {
    let mut words = line.split_whitespace();
    let (Some(time), Some(level), Some(thread)) = (words.next(), words.next(), words.next()) else {
        return false;
    };
    let is_time = time
        .strip_suffix('s')
        .is_some_and(|t| t.contains('.') && t.chars().all(|c| c.is_ascii_digit() || c == '.'));
    let is_level = matches!(level, "TRACE" | "DEBUG" | "INFO" | "WARN" | "ERROR");
    is_time && is_level && thread.starts_with('[')
}

/// `line` with every number replaced by `#`; a number followed by a unit of time (`ns`, `µs`, `us`,
/// `ms`, `s`, with or without a space) loses the unit too, since the unit follows the magnitude. A
/// timeline lane (`|AAAA--CC-|`: a word between bars, drawn from what the scheduler did) is `|#|`.
pub fn masked(line: &str) -> String {
    let lanes: Vec<String> = line
        .trim_end()
        .split(' ')
        .map(|word| {
            let is_lane = word.len() > 2 && word.starts_with('|') && word.ends_with('|');
            if is_lane {
                "|#|".to_string()
            } else {
                word.to_string()
            }
        })
        .collect();
    let line = lanes.join(" ");
    let chars: Vec<char> = line.chars().collect();
    let mut out = String::with_capacity(line.len());
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        // A number: digits, with `.` or `,` only between digits (1,000,000 and 0.42).
        while i < chars.len()
            && (chars[i].is_ascii_digit()
                || (matches!(chars[i], '.' | ',')
                    && chars.get(i + 1).is_some_and(char::is_ascii_digit)))
        {
            i += 1;
        }
        out.push('#');
        let after_space = if chars.get(i) == Some(&' ') { i + 1 } else { i };
        for unit in ["ns", "µs", "us", "ms", "s"] {
            let unit: Vec<char> = unit.chars().collect();
            let end = after_space + unit.len();
            let ends_word = chars.get(end).is_none_or(|c| !c.is_alphanumeric());
            if chars.get(after_space..end) == Some(&unit[..]) && ends_word {
                i = end;
                break;
            }
        }
    }
    // A list whose length follows the run (`waits: # of #, # of #, # of #`) reads as one item.
    let mut items: Vec<&str> = out.split(", ").collect();
    items.dedup();
    items.join(", ")
}

/// The summary of an output, as compared: its non-log, non-blank lines, masked, as a set. The
/// recording's first line (`# Recorded ...`) is not part of it.
pub fn summary(output: &str) -> BTreeSet<String> {
    output
        .lines()
        .filter(|line| !line.trim().is_empty() && !is_log_line(line))
        .filter(|line| !line.starts_with(RECORDING_MARK))
        .map(masked)
        .collect()
}

/// Runs `program` (no flags, no stdin) and compares its summary with the recording at `recording`.
/// Returns what is wrong, one line each (empty when they are in step).
pub fn recording_breaches(program: &Path, recording: &Path) -> Vec<String> {
    let name = program
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("?")
        .to_string();
    let retake = format!("retake it with scripts/record-outputs {name}");
    let Ok(recorded) = std::fs::read_to_string(recording) else {
        return vec![format!(
            "{name}: no recording at {}: {retake}",
            recording.display()
        )];
    };
    if !recorded.starts_with(RECORDING_MARK) {
        return vec![format!(
            "{name}: {} does not start with {RECORDING_MARK:?}: {retake}",
            recording.display()
        )];
    }
    // A verdict computed from real-clock figures may flip once on a loaded machine; a changed
    // format differs on every run. So a run whose summary differs is run once more, and only a
    // second difference is a breach (a run that fails is one at once).
    let mut breaches = run_and_compare(program, &name, &recorded);
    if matches!(&breaches, Ok(differs) if !differs.is_empty()) {
        eprintln!("{name}: a fresh run differed from its recording; running it once more");
        breaches = run_and_compare(program, &name, &recorded);
    }
    let mut breaches = breaches.unwrap_or_else(|failed| vec![failed]);
    if !breaches.is_empty() {
        breaches.push(format!("{name}: {retake}"));
    }
    breaches
}

/// One fresh run of `program` against `recorded`: each summary line one has and the other lacks,
/// or `Err` with why the run failed.
fn run_and_compare(program: &Path, name: &str, recorded: &str) -> Result<Vec<String>, String> {
    let run = run_example(program, &[]);
    if !run.succeeded() {
        // What it said last, so a failure under load explains itself.
        let tail = |text: &str| {
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(4)..].join(" | ")
        };
        // A panic's lines, or main's `Error:`, come before a backtrace that would fill the tail.
        let panic: Vec<&str> = run
            .stderr
            .lines()
            .skip_while(|l| !(l.contains("panicked") || l.starts_with("Error:")))
            .take(2)
            .collect();
        return Err(format!(
            "{name}: a fresh run ended with {:?}, not 0; {}stdout ends: {}; stderr ends: {}",
            run.status,
            if panic.is_empty() {
                String::new()
            } else {
                format!("{}; ", panic.join(" "))
            },
            tail(&run.stdout),
            tail(&run.stderr)
        ));
    }
    let fresh = summary(&format!("{}\n{}", run.stdout, run.stderr));
    let recorded = summary(recorded);
    let missing = recorded.difference(&fresh);
    let missing = missing.map(|line| format!("{name}: recorded, not printed now: {line:?}"));
    let added = fresh.difference(&recorded);
    let added = added.map(|line| format!("{name}: printed now, not recorded: {line:?}"));
    Ok(missing.chain(added).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_lines_are_told_from_summary_lines() {
        assert!(is_log_line("  0.602s  INFO [main] profile ready"));
        assert!(is_log_line(" 12.000s  WARN [tokio-rt-worker] slow"));
        assert!(!is_log_line("  total 955 ms (ideal 950 ms)"));
        assert!(!is_log_line("Summary"));
        assert!(!is_log_line("  1.5s INFO but no thread"));
    }

    #[test]
    fn numbers_and_durations_are_masked_words_are_not() {
        assert_eq!(
            masked("  total 955 ms (ideal 950 ms, 1.2 s alone), 3/10 tasks"),
            "  total # (ideal #, # alone), #/# tasks"
        );
        assert_eq!(masked("0.42 ms"), masked("12.3 s"));
        assert_eq!(masked("1,000,000 jobs, 7 seconds"), "# jobs, # seconds");
        assert_eq!(masked("worker-2 at 127.0.0.1:4000."), "worker-# at #:#.");
        assert_eq!(
            masked("worker-1 |AAAA------CCAA-CC--| 3 jobs"),
            masked("worker-2 |CCCBB-------BBB-----AAAA-BBB| 3 jobs")
        );
        assert_eq!(masked("10ms then 3s"), "# then #");
        assert_eq!(
            masked("waits: 3 ms, 9 ms, 27 ms"),
            masked("waits: 12 ms, 4 ms")
        );
    }

    #[test]
    fn a_changed_format_is_a_changed_summary_and_a_changed_figure_is_not() {
        let recorded =
            "# Recorded 2026-12-03 ...\n  0.1s  INFO [main] start\n\nSummary\n  total 955 ms\n";
        let same =
            "  0.2s  INFO [main] start\n  0.3s  INFO [main] more logs\nSummary\n  total 1020 ms\n";
        let reworded = "Summary\n  all done in 1020 ms\n";
        assert_eq!(summary(recorded), summary(same));
        assert_ne!(summary(recorded), summary(reworded));
    }
}
