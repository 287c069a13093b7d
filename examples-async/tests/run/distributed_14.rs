//! 14_distributed_computing run as a user would: the demo (with and without a crash), the roles by
//! hand, the faults a user can cause, and both interop directions with the threads twin.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::Duration;

use common::process::{Run, run_example};

const BIN: &str = env!("CARGO_BIN_EXE_14_distributed_computing");

/// The threads twin, built into the same `target/<profile>/` folder as this crate's binaries.
/// `cargo test --workspace` (the README's command) builds every binary of both crates before any
/// test runs; `cargo test -p examples-async` alone does not, hence the message.
fn threads_twin() -> PathBuf {
    let path = Path::new(BIN).with_file_name(format!(
        "14_distributed_computing_threads{}",
        std::env::consts::EXE_SUFFIX
    ));
    assert!(
        path.is_file(),
        "the interop tests need the threads twin at {}: run `cargo build --workspace` first \
         (`cargo test --workspace` builds it)",
        path.display()
    );
    path
}

/// A loopback address nothing listens on (it was free a moment ago).
fn free_addr() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").to_string()
}

fn assert_fast(run: &Run) {
    assert!(
        run.elapsed < Duration::from_secs(5),
        "took {:?}",
        run.elapsed
    );
}

/// How many coordinator lines contain `needle`.
fn count(run: &Run, needle: &str) -> usize {
    run.stdout.lines().filter(|l| l.contains(needle)).count()
}

#[test]
fn distributed_14_demo_does_every_job_once_and_checks_the_answer() {
    let run = run_example(BIN, &[]);
    run.assert_success()
        .assert_no_panic()
        .assert_stdout_contains(&[
            "Summary",
            "12/12 jobs done, 0 requeued, 0 lost",
            "primes below 4800000: 335439 from the workers, 335439 counted here: correct",
            "jobs per worker: worker-1 ",
            "dropped peers: none",
            "one process counting alone ",
            "| 3 workers ",
        ]);
    // Every dispatch and every result is printed, once per job.
    assert_eq!(count(&run, "] dispatch job "), 12, "{}", run.stdout);
    assert_eq!(count(&run, "] result job "), 12, "{}", run.stdout);
    assert_eq!(count(&run, "STOP received"), 3, "{}", run.stdout);
    assert_fast(&run);
}

#[test]
fn distributed_14_crashed_worker_loses_no_job() {
    let run = run_example(BIN, &["--crash-worker"]);
    run.assert_success()
        .assert_no_panic()
        .assert_stdout_contains(&[
            "crashing half-way on purpose",
            "worker-2 exited: crashed mid-job on purpose",
            "12/12 jobs done, 1 requeued, 0 lost",
            "counted here: correct",
            "worker-2: closed the connection in the middle of job",
        ]);
    // The crashed job was dispatched twice, every other job once.
    assert_eq!(count(&run, "] dispatch job "), 13, "{}", run.stdout);
    assert_eq!(count(&run, "] result job "), 12, "{}", run.stdout);
    assert_fast(&run);
}

#[test]
fn distributed_14_worker_without_coordinator_fails_cleanly() {
    let addr = free_addr();
    let run = run_example(BIN, &["worker", "--connect", &addr, "--attempts", "3"]);
    run.assert_code(1)
        .assert_no_panic()
        .assert_stderr_contains(&[&format!(
            "error: could not connect to {addr} after 3 attempts"
        )]);
    assert_eq!(run.stderr.lines().count(), 1, "one line: {}", run.stderr);
    assert_fast(&run);
}

#[test]
fn distributed_14_bad_flags_exit_2() {
    run_example(BIN, &["--workers", "0"])
        .assert_code(2)
        .assert_stderr_contains(&["--workers"]);
    run_example(BIN, &["--crash-worker", "--workers", "1"])
        .assert_code(2)
        .assert_stderr_contains(&["--crash-worker needs --workers 2 or more"]);
    run_example(BIN, &["worker"])
        .assert_code(2)
        .assert_stderr_contains(&["--connect"]);
    run_example(BIN, &["worker", "--connect", "x:1", "--name", "two words"])
        .assert_code(2)
        .assert_stderr_contains(&["a name is 1-32 letters"]);
}

/// The README's "by hand" recipe: a coordinator process and worker processes started separately,
/// the workers retrying until the coordinator listens. One worker is the threads twin's.
#[test]
fn distributed_14_roles_by_hand_async_coordinator_with_both_kinds_of_worker() {
    let addr = free_addr();
    let twin = threads_twin();
    let coordinator = {
        let addr = addr.clone();
        thread::spawn(move || {
            run_example(
                BIN,
                &[
                    "coordinator",
                    "--addr",
                    &addr,
                    "--jobs",
                    "4",
                    "--job-size",
                    "50000",
                    "--min-workers",
                    "2",
                ],
            )
        })
    };
    let async_worker = {
        let addr = addr.clone();
        thread::spawn(move || {
            run_example(
                BIN,
                &[
                    "worker",
                    "--connect",
                    &addr,
                    "--name",
                    "a1",
                    "--attempts",
                    "8",
                ],
            )
        })
    };
    let threads_worker = {
        let addr = addr.clone();
        thread::spawn(move || {
            run_example(
                twin,
                &[
                    "worker",
                    "--connect",
                    &addr,
                    "--name",
                    "t1",
                    "--attempts",
                    "8",
                ],
            )
        })
    };
    let coordinator = coordinator.join().expect("no panic");
    coordinator
        .assert_success()
        .assert_no_panic()
        .assert_stdout_contains(&[
            "4/4 jobs done, 0 requeued, 0 lost",
            "counted here: correct",
            "a1 joined",
            "t1 joined",
        ]);
    for worker in [async_worker, threads_worker] {
        worker
            .join()
            .expect("no panic")
            .assert_success()
            .assert_no_panic()
            .assert_stdout_contains(&["STOP received"]);
    }
}

#[test]
fn distributed_14_interop_async_coordinator_threads_workers() {
    let twin = threads_twin();
    let twin = twin.to_str().expect("a UTF-8 path");
    let run = run_example(BIN, &["--worker-bin", twin, "--crash-worker"]);
    run.assert_success()
        .assert_no_panic()
        .assert_stdout_contains(&[
            "12/12 jobs done, 1 requeued, 0 lost",
            "counted here: correct",
        ]);
    assert_fast(&run);
}

#[test]
fn distributed_14_interop_threads_coordinator_async_workers() {
    let run = run_example(threads_twin(), &["--worker-bin", BIN, "--crash-worker"]);
    run.assert_success()
        .assert_no_panic()
        .assert_stdout_contains(&[
            "12/12 jobs done, 1 requeued, 0 lost",
            "counted here: correct",
        ]);
    assert_fast(&run);
}
