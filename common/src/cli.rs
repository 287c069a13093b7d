//! Command lines: every example parses its flags with [`parse_args`] (a clap derive `Parser`).
//!
//! clap's own `Args::parse()` answers a bad flag with the error, a tip, the usage and a pointer to
//! `--help`: five lines or more. The house rule is one line and exit status 2, so a script (or a test)
//! reading stderr gets the reason and nothing else. `--help` and `--version` print as clap prints
//! them, on stdout, with status 0.

use clap::Parser;
use clap::error::ErrorKind;

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

/// `error: <what is wrong> (try --help)`: clap's first line, without its styling.
fn one_line(error: &clap::Error) -> String {
    let rendered = error.render().to_string();
    let first = rendered
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("error: invalid arguments");
    format!("{first} (try --help)")
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
    fn help_is_not_an_error() {
        let help = error_for(&["t", "--help"]);
        assert_eq!(help.kind(), ErrorKind::DisplayHelp);
        assert!(help.render().to_string().starts_with("99 · A test parser"));
    }
}
