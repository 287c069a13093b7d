//! # 17.6 · A detached thread killed at exit
//!
//! The twin of a forgotten `JoinHandle` (the async twin's `forgotten_handle.rs`). A thread saves 10
//! records (30 ms each) and its `JoinHandle` is dropped; `main` returns after 100 ms, and the
//! process ends with it: the thread is killed mid-work, no destructor runs, no error is reported.
//! Run here in a child process of this same binary (so the parent can count what got saved): about
//! 3 of 10. Joining the handle before returning: 10 of 10.

use std::process::Command;
use std::thread;
use std::time::Duration;

use clap::ValueEnum;
use common::out;

pub const RECORDS: usize = 10;
pub const RECORD_TIME: Duration = Duration::from_millis(30);
/// When `main` of the child returns, with the writer still at work.
pub const CHILD_MAIN_ENDS_AFTER: Duration = Duration::from_millis(100);
pub const SAVED: &str = "saved record";

/// What the child process does (lesson 6 runs this binary again with `--child`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Child {
    /// Drops the writer's `JoinHandle` and returns from `main` after 100 ms.
    Detached,
    /// Joins the writer before returning.
    Joined,
}

/// The child: a writer thread saves records; `main` returns after [`CHILD_MAIN_ENDS_AFTER`] (and
/// joins the writer first only if `Joined`).
pub fn child_main(role: Child) {
    let writer = thread::spawn(|| {
        for record in 1..=RECORDS {
            thread::sleep(RECORD_TIME);
            out!("{SAVED} {record}/{RECORDS}");
        }
    });
    thread::sleep(CHILD_MAIN_ENDS_AFTER);
    match role {
        // Dropping the handle detaches the thread; when `main` returns, the process exits and the
        // OS ends every thread in it, mid-record, without running anything of theirs.
        Child::Detached => drop(writer),
        Child::Joined => writer.join().expect("the writer does not panic"),
    }
}

/// Runs this binary as a child in `role` and counts the records its writer saved.
pub fn records_saved_by_child(role: Child) -> anyhow::Result<usize> {
    let exe = std::env::current_exe()?;
    let mut cmd = Command::new(exe);
    cmd.arg("--child").arg(
        role.to_possible_value()
            .expect("no skipped variants")
            .get_name(),
    );
    let run = common::process::run_with_deadline(cmd, Duration::from_secs(10));
    anyhow::ensure!(run.succeeded(), "the child failed: {}", run.stderr);
    Ok(run.stdout.lines().filter(|l| l.starts_with(SAVED)).count())
}
