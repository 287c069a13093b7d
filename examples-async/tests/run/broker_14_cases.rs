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

fn redis_connection(url: &str) -> redis::Connection {
    let client = redis::Client::open(url).expect("url");
    client
        .get_connection_with_timeout(Duration::from_secs(2))
        .expect("connect")
}

/// The keys of 14's runs left on the server with no expiry: none once a run has ended (its stop
/// key stays a minute, to tell an ended run from a vanished one, and then expires).
fn leftover_keys(server: &RedisServer) -> Vec<String> {
    let mut con = redis_connection(&server.url());
    let keys: Vec<String> = con.keys("dist14:*").expect("KEYS");
    keys.into_iter()
        .filter(|k| con.ttl::<_, i64>(k).expect("TTL") < 0)
        .collect()
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
fn spawn_worker(program: &Path, url: &str, run_id: &str, name: &str, more: &[&str]) -> Child {
    Command::new(program)
        .args([
            "worker", "--broker", url, "--run-id", run_id, "--name", name,
        ])
        .args(more)
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
    let _: String = con
        .xadd(
            "dist14:mix:results",
            "*",
            &[("job", "3"), ("primes", "lots"), ("worker", "worker-x")],
        )
        .expect("XADD");

    let workers = [
        // Two jobs per read: both twins record batches.
        spawn_worker(
            Path::new(BIN),
            &url,
            run_id,
            "this-crate",
            &["--batch", "2"],
        ),
        spawn_worker(&twin(), &url, run_id, "twin", &["--batch", "2"]),
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
            // Both joined before the first job: a slow start (a busy machine) cannot leave one
            // of them without work.
            "--min-workers",
            "2",
        ],
    );
    let outputs: Vec<(bool, String)> = workers.into_iter().map(finish).collect();
    let all = format!("{}\n{:?}", run.stdout, outputs);
    run.assert_success()
        .assert_no_panic()
        .assert_stdout_contains(&[
            "8/8 jobs done",
            "skipping a garbage result ",
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

#[test]
fn broker_14_a_result_recorded_twice_is_kept_once() {
    let Some(server) = RedisServer::for_test("broker_14 result twice") else {
        return;
    };
    let _cpu = one_at_a_time();
    let url = server.url();
    let run_id = "twice";
    // The worker records every batch twice, as a client that lost the reply and retried would. One
    // worker of this crate's binary: with its twin beside it, the twin could take every job, and a
    // broken record step here would go unseen (the other crate runs this case with its own).
    let workers = [spawn_worker(
        Path::new(BIN),
        &url,
        run_id,
        "w1",
        &["--record-twice", "--batch", "3"],
    )];
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
            "8/8 jobs done, 0 requeued, 0 lost",
            "results that arrived twice: 8 (kept once",
            "jobs per worker: w1 8",
            "primes below 800000: 63951 from the workers, 63951 counted here: correct",
        ]);
    assert_eq!(count(&run, "] result job "), 8, "{all}");
    let kept_first: usize = outputs
        .iter()
        .map(|(_, out)| out.matches("already recorded: kept the first").count())
        .sum();
    assert_eq!(kept_first, 8, "{all}");
    assert_eq!(leftover_keys(&server), Vec::<String>::new());
}

/// A role of `program` whose log is thrown away (a long run would fill a pipe) and whose stderr,
/// the one error line, is kept.
fn spawn_quiet(program: &Path, args: &[&str]) -> Child {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start a role")
}

/// A coordinator of a million one-number jobs and two workers (one of each twin), started once
/// the workers run; returns once the first result is recorded.
fn start_a_long_run(url: &str, run_id: &str) -> Vec<(String, Child)> {
    let mut roles = vec![
        (
            "worker (this crate)".to_string(),
            spawn_quiet(
                Path::new(BIN),
                &["worker", "--broker", url, "--run-id", run_id],
            ),
        ),
        (
            "worker (twin)".to_string(),
            spawn_quiet(&twin(), &["worker", "--broker", url, "--run-id", run_id]),
        ),
    ];
    roles.push((
        "coordinator".to_string(),
        spawn_quiet(
            Path::new(BIN),
            &[
                "coordinator",
                "--broker",
                url,
                "--run-id",
                run_id,
                "--jobs",
                "1000000",
                "--job-size",
                "1",
                "--min-workers",
                "2",
            ],
        ),
    ));
    let mut con = redis_connection(url);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let done: Option<u64> = con
            .hget(format!("dist14:{run_id}:tally"), "done")
            .expect("HGET");
        if done.unwrap_or(0) > 0 {
            return roles;
        }
        assert!(Instant::now() < deadline, "no result within 20 s");
        sleep(Duration::from_millis(20));
    }
}

/// Waits (bounded) for each role to exit; its status and stderr.
fn exits(roles: Vec<(String, Child)>, within: Duration) -> Vec<(String, Option<i32>, String)> {
    let deadline = Instant::now() + within;
    roles
        .into_iter()
        .map(|(name, mut child)| {
            let code = loop {
                match child.try_wait().expect("try_wait") {
                    Some(status) => break status.code(),
                    None if Instant::now() >= deadline => {
                        let _ = child.kill();
                        let _ = child.wait();
                        break None;
                    }
                    None => sleep(Duration::from_millis(20)),
                }
            };
            let mut err = String::new();
            if let Some(mut stderr) = child.stderr.take() {
                let _ = stderr.read_to_string(&mut err);
            }
            (name, code, err)
        })
        .collect()
}

/// Status 1 and one line on stderr that contains `needle` and names no cause twice in a row
/// ("broken pipe: broken pipe").
fn assert_one_line_exit(ended: &[(String, Option<i32>, String)], needle: &str) {
    for (name, code, err) in ended {
        assert_eq!(*code, Some(1), "{name}: {err}");
        let line = err.trim();
        assert_eq!(line.lines().count(), 1, "{name}: {err}");
        assert!(line.contains(needle), "{name}: {line}");
        let parts: Vec<&str> = line.split(": ").collect();
        assert!(
            parts.windows(2).all(|w| w[0] != w[1]),
            "{name}: a cause named twice: {line}"
        );
    }
}

#[test]
fn broker_14_a_redis_that_dies_mid_run_ends_every_role_with_one_line() {
    let Some(server) = RedisServer::for_test("broker_14 redis dies") else {
        return;
    };
    let _cpu = one_at_a_time();
    let roles = start_a_long_run(&server.url(), "dies");
    drop(server);
    let ended = exits(roles, Duration::from_secs(15));
    assert_one_line_exit(&ended, "Redis at redis://127.0.0.1:");
}

#[test]
fn broker_14_a_flushall_mid_run_is_a_vanished_run_not_an_end() {
    let Some(server) = RedisServer::for_test("broker_14 flushall") else {
        return;
    };
    let _cpu = one_at_a_time();
    let url = server.url();
    let roles = start_a_long_run(&url, "flushed");
    let started = Instant::now();
    let () = redis::cmd("FLUSHALL")
        .query(&mut redis_connection(&url))
        .expect("FLUSHALL");
    let ended = exits(roles, Duration::from_secs(15));
    // The coordinator says so at once, not after its 60 s of patience; the workers end with 1.
    assert!(started.elapsed() < Duration::from_secs(10), "{ended:?}");
    assert_one_line_exit(&ended, "run flushed vanished");
    // And nobody recreated a key of the run behind the flush.
    let mut con = redis_connection(&url);
    let keys: Vec<String> = con.keys("dist14:*").expect("KEYS");
    assert_eq!(keys, Vec::<String>::new());
}

#[test]
fn broker_14_a_run_id_can_run_again_right_after_it_ended() {
    let Some(server) = RedisServer::for_test("broker_14 run again") else {
        return;
    };
    let _cpu = one_at_a_time();
    let url = server.url();
    // The first run's stop key stays a minute; the second run under the same name must not take
    // it for its own end (its worker would leave at once and the coordinator wait in vain).
    for round in ["first", "second"] {
        let worker = spawn_worker(Path::new(BIN), &url, "again", round, &[]);
        let run = run_example(
            BIN,
            &[
                "coordinator",
                "--broker",
                &url,
                "--run-id",
                "again",
                "--jobs",
                "4",
                "--job-size",
                "1000",
                "--patience-ms",
                "5000",
            ],
        );
        let (ok, out) = finish(worker);
        run.assert_success()
            .assert_stdout_contains(&["4/4 jobs done, 0 requeued, 0 lost"]);
        assert!(ok, "{round} run's worker: {out}");
    }
}
