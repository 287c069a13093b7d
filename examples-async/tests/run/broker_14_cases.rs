//! The cases of 14's broker mode (Redis Streams), written once for both crates: each crate's
//! `tests/run/broker_14.rs` names its own binary (`BIN`) and its twin (`TWIN`), then includes this
//! file, so the async run tests and the threads run tests cannot drift apart.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::MutexGuard;
use std::thread::sleep;
use std::time::{Duration, Instant};

use common::process::{Run, run_example};
use common::redis_server::RedisServer;
use redis::Commands;

use super::{BIN, TWIN};

fn twin() -> PathBuf {
    let path = Path::new(BIN).with_file_name(format!("{TWIN}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.is_file(),
        "the mix test needs {} : run `cargo build --workspace` first (`cargo test --workspace` \
         builds it)",
        path.display()
    );
    path
}

/// The runs keep both cores busy: one at a time, so job timeouts are not hit by the others' load,
/// and in the same turns as `distributed_14`'s demos (whose 5 s bound is for one run alone).
fn one_at_a_time() -> MutexGuard<'static, ()> {
    crate::distributed_14::one_at_a_time()
}

fn count(run: &Run, needle: &str) -> usize {
    run.stdout.lines().filter(|l| l.contains(needle)).count()
}

/// The keys of 14's runs left on the server, apart from the stop keys (they expire by design).
fn leftover_keys(server: &RedisServer) -> Vec<String> {
    let client = redis::Client::open(server.url()).expect("url");
    let mut con = client
        .get_connection_with_timeout(Duration::from_secs(2))
        .expect("connect");
    let keys: Vec<String> = con.keys("dist14:*").expect("KEYS");
    keys.into_iter().filter(|k| !k.ends_with(":stop")).collect()
}

#[test]
fn broker_14_normal_run_does_every_job_once_and_cleans_up() {
    let Some(server) = RedisServer::for_test("broker_14 normal run") else {
        return;
    };
    let _cpu = one_at_a_time();
    let url = server.url();
    let run = run_example(
        BIN,
        &["--broker", &url, "--jobs", "6", "--job-size", "100000"],
    );
    run.assert_success()
        .assert_no_panic()
        .assert_stdout_contains(&[
            "Summary",
            "6/6 jobs done, 0 requeued, 0 lost",
            "results that arrived twice: 0",
            "primes below 600000: 49098 from the workers, 49098 counted here: correct",
            "left pending in the group (XPENDING): 0",
            "jobs per worker: worker-",
        ]);
    // Each job counted and recorded once, and the coordinator printed each result once.
    assert_eq!(count(&run, "primes, recorded"), 6, "{}", run.stdout);
    assert_eq!(count(&run, "] result job "), 6, "{}", run.stdout);
    // With a URL given, the demo leaves the server as it found it (but for the expiring stop key).
    assert_eq!(leftover_keys(&server), Vec::<String>::new());
}

#[test]
fn broker_14_a_killed_workers_job_is_claimed_by_another() {
    let Some(server) = RedisServer::for_test("broker_14 killed worker") else {
        return;
    };
    let _cpu = one_at_a_time();
    let url = server.url();
    let run = run_example(
        BIN,
        &[
            "--broker",
            &url,
            "--jobs",
            "6",
            "--job-size",
            "100000",
            "--crash-worker",
            "--job-timeout-ms",
            "500",
        ],
    );
    run.assert_success()
        .assert_no_panic()
        .assert_stdout_contains(&[
            "crashing half-way on purpose",
            "(idle past the job timeout: its worker died or went silent)",
            "6/6 jobs done, 1 requeued, 0 lost",
            "counted here: correct",
            "worker-2 exited: crashed mid-job on purpose",
            "left pending in the group (XPENDING): 0",
        ]);
    assert_eq!(count(&run, ": claimed entry "), 1, "{}", run.stdout);
}

#[test]
fn broker_14_a_restarted_coordinator_finishes_without_redoing_done_work() {
    let Some(server) = RedisServer::for_test("broker_14 restarted coordinator") else {
        return;
    };
    let _cpu = one_at_a_time();
    let url = server.url();
    let run = run_example(
        BIN,
        &[
            "--broker",
            &url,
            "--jobs",
            "8",
            "--job-size",
            "200000",
            "--restart-coordinator",
        ],
    );
    run.assert_success()
        .assert_no_panic()
        .assert_stdout_contains(&[
            "killed the coordinator mid-run",
            "8 jobs already published",
            "published 0 new jobs",
            "8/8 jobs done, 0 requeued, 0 lost",
            "results that arrived twice: 0",
            "counted here: correct",
        ]);
    // Two coordinators, one set of jobs: each counted once, none published twice.
    assert_eq!(count(&run, "primes, recorded"), 8, "{}", run.stdout);
    assert_eq!(count(&run, "published 8 new jobs"), 1, "{}", run.stdout);
    assert_eq!(leftover_keys(&server), Vec::<String>::new());
}

#[test]
fn broker_14_a_poison_job_stops_at_the_attempt_limit_in_the_dead_letters() {
    let Some(server) = RedisServer::for_test("broker_14 poison job") else {
        return;
    };
    let _cpu = one_at_a_time();
    let url = server.url();
    let run = run_example(
        BIN,
        &[
            "--broker",
            &url,
            "--jobs",
            "4",
            "--job-size",
            "100000",
            "--workers",
            "2",
            "--poison-job",
            "2",
            "--job-timeout-ms",
            "300",
            "--max-attempts",
            "3",
        ],
    );
    // A failed job is exit 1, as in the TCP mode; the run still ends, and nothing else is lost.
    run.assert_code(1)
        .assert_no_panic()
        .assert_stdout_contains(&[
            "3/4 jobs done, 1 failed after 3 attempts, 0 lost (2 requeued)",
            "failed job 2: delivered 3 times, never answered",
            "left pending in the group (XPENDING): 0",
        ]);
    // Delivered exactly three times: read once, claimed twice.
    assert_eq!(
        count(&run, "job 2: taking it and never answering"),
        3,
        "{}",
        run.stdout
    );
}

/// A worker process of `program`, its output captured.
fn spawn_worker(program: &Path, url: &str, run_id: &str, name: &str) -> Child {
    Command::new(program)
        .args([
            "worker", "--broker", url, "--run-id", run_id, "--name", name,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start a worker")
}

/// Waits (bounded) for a worker to exit by itself; kills it past the deadline. Its stdout.
fn finish(mut child: Child) -> (bool, String) {
    let deadline = Instant::now() + Duration::from_secs(5);
    let exited_ok = loop {
        match child.try_wait().expect("try_wait") {
            Some(status) => break status.success(),
            None if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                break false;
            }
            None => sleep(Duration::from_millis(20)),
        }
    };
    let mut out = String::new();
    if let Some(mut stdout) = child.stdout.take() {
        let _ = stdout.read_to_string(&mut out);
    }
    (exited_ok, out)
}

#[test]
fn broker_14_async_and_threads_workers_serve_one_stream_and_bad_entries_are_skipped() {
    let Some(server) = RedisServer::for_test("broker_14 mixed workers") else {
        return;
    };
    let _cpu = one_at_a_time();
    let url = server.url();
    let run_id = "mix";
    // A foreign entry in the job stream and a garbage result, before any worker starts.
    let client = redis::Client::open(url.as_str()).expect("url");
    let mut con = client
        .get_connection_with_timeout(Duration::from_secs(2))
        .expect("connect");
    let _: String = con
        .xadd("dist14:mix:jobs", "*", &[("hello", "not a job")])
        .expect("XADD");
    let _: bool = con
        .hset("dist14:mix:results", "3", "lots worker-x")
        .expect("HSET");

    let workers = [
        spawn_worker(Path::new(BIN), &url, run_id, "this-crate"),
        spawn_worker(&twin(), &url, run_id, "twin"),
    ];
    let run = run_example(
        BIN,
        &[
            "coordinator",
            "--broker",
            &url,
            "--run-id",
            run_id,
            "--jobs",
            "8",
            "--job-size",
            "100000",
            "--verify",
        ],
    );
    let outputs: Vec<(bool, String)> = workers.into_iter().map(finish).collect();
    let all = format!("{}\n{:?}", run.stdout, outputs);
    run.assert_success()
        .assert_no_panic()
        .assert_stdout_contains(&[
            "8/8 jobs done",
            "skipping a garbage result \"3\"",
            "primes below 800000: 63951 from the workers, 63951 counted here: correct",
        ]);
    // Both kinds of worker did jobs, and both exited by themselves once the run was over.
    for (name, (ok, out)) in ["this-crate", "twin"].iter().zip(&outputs) {
        assert!(ok, "{name} did not exit 0: {all}");
        assert!(out.contains("primes, recorded"), "{name} did no job: {all}");
    }
    assert!(all.contains("skipping a foreign entry"), "{all}");
    assert_eq!(leftover_keys(&server), Vec::<String>::new());
}

#[test]
fn broker_14_an_unreachable_or_wrong_url_is_one_line() {
    // No server needed: a port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let url = format!("redis://127.0.0.1:{port}");
    for args in [
        vec!["--broker", url.as_str()],
        vec!["worker", "--broker", url.as_str()],
        vec!["coordinator", "--broker", url.as_str()],
        vec!["--broker", "http://nonsense"],
    ] {
        let run = run_example(BIN, &args);
        run.assert_code(1).assert_no_panic();
        assert!(
            run.elapsed < Duration::from_secs(5),
            "{args:?}: {:?}",
            run.elapsed
        );
        let line = run.stderr.trim();
        assert_eq!(line.lines().count(), 1, "{args:?}: {}", run.stderr);
        assert!(
            line.contains("cannot reach Redis at") || line.contains("bad Redis URL"),
            "{args:?}: {line}"
        );
    }
}

#[test]
fn broker_14_without_redis_server_the_demo_says_how_to_install_it() {
    let mut cmd = Command::new(BIN);
    cmd.arg("--broker").env("PATH", "");
    let run = common::process::run_with_deadline(cmd, Duration::from_secs(10));
    run.assert_code(1).assert_no_panic();
    assert_eq!(run.stderr.trim().lines().count(), 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("redis-server is not installed") && run.stderr.contains("apt-get"),
        "{}",
        run.stderr
    );
}
