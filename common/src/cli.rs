//! Command lines: every example parses its flags with [`parse_args`] (a clap derive `Parser`).
//!
//! clap's own `Args::parse()` answers a bad flag with the error, a tip, the usage and a pointer to
//! `--help`: five lines or more. The house rule is one line and exit status 2, so a script (or a test)
//! reading stderr gets the reason and nothing else. `--help` and `--version` print as clap prints
//! them, on stdout, with status 0.

use std::path::{Path, PathBuf};
use std::process::Command;

use clap::Parser;
use clap::error::ErrorKind;

use crate::process::{run_closing_stdout_after, run_example};

/// Parses the process's arguments into `T`. On `--help`/`--version`, prints them and exits 0; on a
/// bad flag or value, prints clap's first line (`error: unexpected argument '--bogus' found`) plus
/// a hint, on one line of stderr, and exits 2. Never panics.
pub fn parse_args<T: Parser>() -> T {
    match T::try_parse() {
        Ok(args) => args,
        Err(error) => std::process::exit(report(&error)),
    }
}

/// Prints `error` as [`parse_args`] does; returns the exit status.
fn report(error: &clap::Error) -> i32 {
    if matches!(
        error.kind(),
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
    ) {
        // On stdout; `let _`: a closed stdout (`--help | head -1`) is not an error either.
        let _ = error.print();
        return 0;
    }
    eprintln!("{}", one_line(error));
    2
}

/// `error: <what is wrong> (try --help)`: clap's first line, without its styling. Where that line
/// only announces a list (`error: the following required arguments were not provided:`), the
/// indented items below it are joined onto it, so the one line still names what is missing.
fn one_line(error: &clap::Error) -> String {
    let rendered = error.render().to_string();
    let mut lines = rendered.lines().skip_while(|l| l.trim().is_empty());
    let mut line = lines
        .next()
        .unwrap_or("error: invalid arguments")
        .trim_end()
        .to_string();
    if line.ends_with(':') {
        let items: Vec<&str> = lines
            .take_while(|l| l.starts_with(' ') && !l.trim().is_empty())
            .map(str::trim)
            .collect();
        line = format!("{line} {}", items.join(", "));
    }
    format!("{line} (try --help)")
}

// ------------------------------------------------------------------------------------------------
// Checking the rules: every example crate's run tests call `convention_breaches` on each of its
// binaries (see `examples-*/tests/run/cli.rs`).
// ------------------------------------------------------------------------------------------------

/// The binaries of the crate at `crate_dir`: `src/bin/NAME.rs` and `src/bin/NAME/main.rs`, sorted.
/// Read from disk, so a new example is checked without being listed anywhere.
pub fn binaries(crate_dir: &Path) -> Vec<String> {
    let dir = crate_dir.join("src/bin");
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut names: Vec<String> = entries
        .map(|entry| entry.expect("readable directory entry").path())
        .filter(|path| {
            path.join("main.rs").is_file() || path.extension().is_some_and(|e| e == "rs")
        })
        .filter_map(|path| Some(path.file_stem()?.to_str()?.to_string()))
        .collect();
    names.sort();
    names
}

/// Where cargo put binary `name` of the package whose binary `sibling` is: all binaries of a
/// package land in one directory (`target/<profile>/`).
pub fn binary_beside(sibling: &str, name: &str) -> PathBuf {
    Path::new(sibling).with_file_name(format!("{name}{}", std::env::consts::EXE_SUFFIX))
}

/// Runs the example at `program` three ways and returns every house rule it breaks (empty when it
/// keeps them all), each as one line that names the binary:
///
/// - `--help`: status 0, and the first line is the example's own `about`: it starts with the
///   example's number and " · " (`07 · Semaphore: ...`), not with `crate_description`;
/// - an unknown flag: status 2, one line on stderr that starts with `error:`, nothing on stdout;
/// - its default run with stdout closed after the first line (`| head -1`): status 0, no panic,
///   nothing on stderr.
pub fn convention_breaches(program: &Path, crate_description: &str) -> Vec<String> {
    let name = program
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("?")
        .to_string();
    if !program.is_file() {
        return vec![format!(
            "{name}: no binary at {} (cargo builds a package's binaries before its tests)",
            program.display()
        )];
    }
    let mut breaches = Vec::new();
    let number = name.get(..2).unwrap_or("??");

    let help = run_example(program, &["--help"]);
    let first = help.stdout.lines().next().unwrap_or_default();
    if help.code() != Some(0) {
        breaches.push(format!("{name} --help: status {:?}, not 0", help.status));
    }
    if !first.starts_with(&format!("{number} · ")) {
        breaches.push(format!(
            "{name} --help: the first line should start with \"{number} · \", it is {first:?}"
        ));
    }
    if !crate_description.is_empty() && first.trim() == crate_description.trim() {
        breaches.push(format!(
            "{name} --help: the first line is the crate's description, not the example's"
        ));
    }

    let bad = run_example(program, &["--no-such-flag"]);
    let lines: Vec<&str> = bad
        .stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    if bad.code() != Some(2) {
        breaches.push(format!(
            "{name} --no-such-flag: status {:?}, not 2",
            bad.status
        ));
    }
    if lines.len() != 1 || !lines[0].starts_with("error:") {
        breaches.push(format!(
            "{name} --no-such-flag: stderr should be one line starting with \"error:\", it is {:?}",
            bad.stderr.lines().take(3).collect::<Vec<_>>()
        ));
    }
    if !bad.stdout.is_empty() {
        breaches.push(format!(
            "{name} --no-such-flag: printed on stdout: {:?} ...",
            bad.stdout.lines().next().unwrap_or_default()
        ));
    }

    // An empty marker: the first line will do.
    let closed = run_closing_stdout_after(Command::new(program), "");
    if closed.code() != Some(0)
        || closed.stderr.contains("panicked")
        || !closed.stderr.trim().is_empty()
    {
        breaches.push(format!(
            "{name} | head -1: status {:?} and stderr {:?} (should be status 0, nothing on stderr)",
            closed.status,
            closed.stderr.lines().take(3).collect::<Vec<_>>()
        ));
    }
    breaches
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Parser, Debug)]
    #[command(about = "99 · A test parser", long_about = None)]
    struct Args {
        #[arg(long, default_value_t = 3)]
        count: u32,
    }

    fn error_for(args: &[&str]) -> clap::Error {
        Args::try_parse_from(args).expect_err("a bad command line")
    }

    #[test]
    fn a_bad_flag_is_one_line_that_says_what_is_wrong() {
        let line = one_line(&error_for(&["t", "--bogus"]));
        assert!(
            line.starts_with("error: unexpected argument '--bogus'"),
            "{line}"
        );
        assert!(!line.contains('\n'), "{line}");
        let line = one_line(&error_for(&["t", "--count", "x"]));
        assert!(line.contains("'x'") && line.contains("--count"), "{line}");
    }

    #[test]
    fn a_missing_argument_is_named_on_the_one_line() {
        #[derive(Parser, Debug)]
        struct Needs {
            #[arg(long)]
            connect: String,
        }
        let error = Needs::try_parse_from(["t"]).expect_err("--connect is missing");
        let line = one_line(&error);
        assert!(line.contains("--connect"), "{line}");
        assert!(!line.contains('\n'), "{line}");
    }

    #[test]
    fn help_is_not_an_error() {
        let help = error_for(&["t", "--help"]);
        assert_eq!(help.kind(), ErrorKind::DisplayHelp);
        assert!(help.render().to_string().starts_with("99 · A test parser"));
    }
}
