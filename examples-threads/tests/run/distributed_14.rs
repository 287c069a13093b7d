//! 14_distributed_computing_threads run as a user would: the demo (with and without a crash), the
//! roles by hand, and the faults a user can cause. The interop runs (either coordinator with the
//! other's workers) live in `examples-async/tests/run/distributed_14.rs`, next to both binaries.

use std::net::TcpListener;
use std::thread;
use std::time::Duration;

use common::process::{Run, run_example};

const BIN: &str = env!("CARGO_BIN_EXE_14_distributed_computing_threads");

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
fn distributed_14_threads_demo_does_every_job_once_and_checks_the_answer() {
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
    // Every dispatch and every result is printed, once per job, by a connection's own thread.
    assert_eq!(count(&run, "] dispatch job "), 12, "{}", run.stdout);
    assert_eq!(count(&run, "] result job "), 12, "{}", run.stdout);
    assert!(
        run.stdout
            .lines()
            .filter(|l| l.contains("] dispatch job "))
            .all(|l| l.contains(" [conn-")),
        "{}",
        run.stdout
    );
    assert_eq!(count(&run, "STOP received"), 3, "{}", run.stdout);
    assert_fast(&run);
}

#[test]
fn distributed_14_threads_crashed_worker_loses_no_job() {
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
fn distributed_14_threads_worker_without_coordinator_fails_cleanly() {
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
fn distributed_14_threads_bad_flags_exit_2() {
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

/// The README's "by hand" recipe: a coordinator process and two worker processes started
/// separately, the workers retrying until the coordinator listens.
#[test]
fn distributed_14_threads_roles_by_hand() {
    let addr = free_addr();
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
    let workers: Vec<_> = ["t1", "t2"]
        .into_iter()
        .map(|name| {
            let addr = addr.clone();
            thread::spawn(move || {
                run_example(
                    BIN,
                    &[
                        "worker",
                        "--connect",
                        &addr,
                        "--name",
                        name,
                        "--attempts",
                        "8",
                    ],
                )
            })
        })
        .collect();
    coordinator
        .join()
        .expect("no panic")
        .assert_success()
        .assert_no_panic()
        .assert_stdout_contains(&[
            "4/4 jobs done, 0 requeued, 0 lost",
            "counted here: correct",
            "t1 joined",
            "t2 joined",
        ]);
    for worker in workers {
        worker
            .join()
            .expect("no panic")
            .assert_success()
            .assert_no_panic()
            .assert_stdout_contains(&["STOP received"]);
    }
}
