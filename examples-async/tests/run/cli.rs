//! The house rules for command lines, checked on every binary of this crate: `--help` names the
//! example (`NN · ...`, exit 0), an unknown flag is one line on stderr and exit 2, and a closed
//! stdout (`| head -1`) ends the run quietly with exit 0.
//!
//! Why here and not in `common/tests/workspace.rs`: cargo guarantees that every binary of a package
//! is built, and fresh, before that package's integration tests run, and it puts them all in one
//! directory. It guarantees nothing about another package's binaries, so a test in `common` could
//! find none (`cargo test -p common`) or stale ones. `CARGO_BIN_EXE_<name>` exists only for names
//! written out, so this test takes the directory from one of them and the list of names from
//! `src/bin`: a new example is checked without being added anywhere. (`workspace.rs` checks that
//! this test exists in both example crates.)

use std::path::Path;

use common::cli::{binaries, binary_beside, convention_breaches};

#[test]
fn every_binary_answers_help_a_bad_flag_and_a_closed_stdout() {
    let names = binaries(Path::new(env!("CARGO_MANIFEST_DIR")));
    assert!(names.len() >= 10, "src/bin lists {names:?}");
    // One binary at a time: this test shares a 2-core machine with the timing tests of this crate,
    // and a burst of parallel runs would be what makes them miss their bounds.
    let breaches: Vec<String> = names
        .iter()
        .flat_map(|name| {
            let program = binary_beside(env!("CARGO_BIN_EXE_04_pause_resume"), name);
            convention_breaches(&program, env!("CARGO_PKG_DESCRIPTION"))
        })
        .collect();
    assert!(
        breaches.is_empty(),
        "{} breach(es) of the command-line rules:\n{}",
        breaches.len(),
        breaches.join("\n")
    );
}
