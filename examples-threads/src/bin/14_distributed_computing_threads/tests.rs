//! The faults, one test each, with the coordinator and workers as threads of this process over
//! real loopback TCP. Lower bounds on time are exact (a timeout cannot fire early); upper
//! bounds are generous, for a loaded 2-core machine.

use super::*;
use board::Report;
use clap::CommandFactory;
use cli::parse_name;
use coordinator::Coordinator;
use lines::Lines;
use protocol::{Job, MAX_LINE, Message, PROTOCOL, count_primes, plan_jobs};
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;

const SMALL: u64 = 2_000;
/// Long enough for anything here to finish on a loaded machine; a hang fails instead of blocking.
const PATIENCE: Duration = Duration::from_secs(20);

fn config(jobs: u32, timeout_ms: u64, min_workers: usize) -> coordinator::Config {
    coordinator::Config {
        jobs: plan_jobs(jobs, SMALL),
        job_timeout: Duration::from_millis(timeout_ms),
        hello_timeout: Duration::from_millis(200),
        min_workers,
        max_attempts: 3,
        max_peers: 64,
        sample: BTreeSet::new(),
        patience: Duration::from_secs(600),
    }
}

fn worker_config(name: &str, connect: &str) -> worker::Config {
    worker::Config {
        connect: connect.into(),
        name: name.into(),
        attempts: 1,
        crash_on_job: None,
        hang_on_job: None,
        lie: false,
    }
}

/// A coordinator running on its own thread; its report arrives on the channel.
fn start(config: coordinator::Config) -> (Coordinator, String, mpsc::Receiver<Report>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let coordinator = Coordinator::new(config);
    let (tx, rx) = mpsc::channel();
    let me = coordinator.clone();
    thread::spawn(move || {
        let _ = tx.send(me.run(listener));
    });
    (coordinator, addr, rx)
}

/// A real worker (the same code as the worker process) on a thread.
fn real_worker(name: &str, addr: &str) -> thread::JoinHandle<anyhow::Result<u32>> {
    let config = worker_config(name, addr);
    thread::spawn(move || worker::run(&config))
}

fn expected_primes(jobs: u32) -> u64 {
    count_primes(0, u64::from(jobs) * SMALL)
}

fn hear(peer: &mut Lines) -> Option<Message> {
    let line = peer.next_line(Some(PATIENCE)).expect("a line in time")?;
    Some(line.parse().expect("a message"))
}

/// The next message that is not a `BEAT`.
fn hear_past_beats(peer: &mut Lines) -> Option<Message> {
    loop {
        match hear(peer) {
            Some(Message::Beat) => {}
            other => return other,
        }
    }
}

/// A hand-driven peer that has said hello and been welcomed.
fn join(addr: &str, name: &str) -> Lines {
    let mut peer = Lines::new(TcpStream::connect(addr).expect("connect")).expect("socket");
    let hello = Message::Hello {
        protocol: PROTOCOL.into(),
        name: name.into(),
    };
    peer.send(&hello).expect("send");
    assert_eq!(
        hear(&mut peer),
        Some(Message::Welcome {
            protocol: PROTOCOL.into()
        })
    );
    peer
}

/// A hand-driven peer that says hello, asks for work and returns the job it got.
fn take_a_job(addr: &str, name: &str) -> (Lines, Job) {
    let mut peer = join(addr, name);
    peer.send(&Message::Ready).expect("send");
    match hear_past_beats(&mut peer) {
        Some(Message::Job(job)) => (peer, job),
        other => panic!("expected a job, got {other:?}"),
    }
}

/// Finishes a run with one real worker, so that its threads end with the test; fails (rather
/// than hangs) if the run cannot finish.
fn finish(addr: &str, report: &mpsc::Receiver<Report>) -> Report {
    let worker = real_worker("w", addr);
    let report = report.recv_timeout(PATIENCE).expect("the run ends");
    worker.join().expect("no panic").expect("clean STOP");
    report
}

#[test]
fn a_worker_that_vanishes_mid_job_loses_nothing() {
    let (coordinator, addr, report) = start(config(3, 5000, 1));
    let (doomed, job) = take_a_job(&addr, "doomed");
    assert_eq!(job.id, 1);
    drop(doomed); // the process died: the OS closed its socket
    let worker = real_worker("rescuer", &addr);
    // The report first, with a deadline: if the job were lost, the run (and the worker) would
    // wait for ever, and this fails instead.
    let report = report.recv_timeout(PATIENCE).expect("the run ends");
    let jobs = worker.join().expect("no panic").expect("clean STOP");
    assert_eq!(jobs, 3);
    assert_eq!(
        (report.done.len(), report.requeued, report.lost()),
        (3, 1, 0)
    );
    assert_eq!(&*report.done[&1].worker, "rescuer");
    assert_eq!(report.primes(), expected_primes(3));
    assert_eq!(report.dropped.len(), 1);
    assert_eq!(
        report.dropped[0].1,
        "doomed: closed the connection in the middle of job 1"
    );
    drop(coordinator);
}

#[test]
fn a_silent_worker_loses_its_job_after_the_job_timeout() {
    let (coordinator, addr, report) = start(config(2, 300, 1));
    let (mut silent, job) = take_a_job(&addr, "silent");
    let given = Instant::now();
    // Say nothing and keep the socket open, like a hung process. The coordinator gives up:
    assert_eq!(
        hear_past_beats(&mut silent),
        Some(Message::Error(
            "silent: no answer to job 1 within 300 ms".into()
        ))
    );
    let waited = given.elapsed();
    assert!(waited >= Duration::from_millis(300), "{waited:?}");
    assert!(waited < Duration::from_secs(5), "{waited:?}");
    assert_eq!(hear(&mut silent), None, "and hangs up");
    assert_eq!(job.id, 1);
    assert_eq!(coordinator.report().requeued, 1);

    let worker = real_worker("healthy", &addr);
    // The report first, with a deadline: if the job were lost, the run (and the worker) would
    // wait for ever, and this fails instead.
    let report = report.recv_timeout(PATIENCE).expect("the run ends");
    let jobs = worker.join().expect("no panic").expect("clean STOP");
    assert_eq!(jobs, 2);
    assert_eq!(
        (report.done.len(), report.requeued, report.lost()),
        (2, 1, 0)
    );
    assert_eq!(&*report.done[&1].worker, "healthy");
    assert_eq!(report.primes(), expected_primes(2));
}

#[test]
fn a_peer_that_never_says_hello_is_dropped_after_the_hello_timeout() {
    let (coordinator, addr, report) = start(config(1, 5000, 1));
    let mut mute = Lines::new(TcpStream::connect(&addr).expect("connect")).expect("socket");
    let started = Instant::now();
    assert_eq!(
        hear(&mut mute),
        Some(Message::Error("said nothing for 200 ms".into()))
    );
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(200), "{waited:?}");
    assert!(waited < Duration::from_secs(5), "{waited:?}");
    assert_eq!(coordinator.report().dropped.len(), 1);
    // Finish the run so that its threads end with the test.
    finish(&addr, &report);
}

#[test]
fn a_wrong_answer_id_is_a_protocol_error_and_the_job_is_requeued() {
    let (coordinator, addr, report) = start(config(1, 5000, 1));
    let (mut confused, _) = take_a_job(&addr, "confused");
    confused
        .send(&Message::Result { id: 7, primes: 1 })
        .expect("send");
    match hear(&mut confused) {
        Some(Message::Error(reason)) => {
            assert!(
                reason.contains("expected RESULT 1, got \"RESULT 7 1\""),
                "{reason}"
            )
        }
        other => panic!("expected ERROR, got {other:?}"),
    }
    let snapshot = coordinator.report();
    assert_eq!((snapshot.done.len(), snapshot.requeued), (0, 1));
    let report = finish(&addr, &report);
    assert_eq!(
        (report.done.len(), report.requeued, report.lost()),
        (1, 1, 0)
    );
    assert_eq!(&*report.done[&1].worker, "w");
}

#[test]
fn a_worker_tells_a_stranger_server_apart_at_its_first_line() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let server = thread::spawn(move || {
        let (mut s, _) = listener.accept().expect("accept");
        s.write_all(b"SSH-2.0-OpenSSH_9.6\r\n").expect("write");
        let _ = s.read(&mut [0; 64]);
    });
    let err = worker::run(&worker_config("w", &addr)).expect_err("not a coordinator");
    assert!(
        err.to_string()
            .contains("not a dist14 message: \"SSH-2.0-OpenSSH_9.6\""),
        "{err:#}"
    );
    server.join().expect("no panic");
}

#[test]
fn real_workers_over_tcp_do_every_job_once_with_the_right_answer() {
    let (_, addr, report) = start(config(12, 5000, 3));
    let workers: Vec<_> = (1..=3)
        .map(|i| real_worker(&format!("w{i}"), &addr))
        .collect();
    let report = report.recv_timeout(PATIENCE).expect("the run ends");
    let total: u32 = workers
        .into_iter()
        .map(|w| w.join().expect("no panic").expect("each worker got STOP"))
        .sum();
    assert_eq!(total, 12, "every job done exactly once");
    assert_eq!(
        (report.done.len(), report.requeued, report.lost()),
        (12, 0, 0)
    );
    assert_eq!(report.primes(), expected_primes(12));
    assert_eq!(
        report.workers,
        BTreeSet::from(["w1".into(), "w2".into(), "w3".into()])
    );
}

#[test]
fn strangers_are_dropped_with_a_reason_while_real_workers_carry_on() {
    let (_, addr, report) = start(config(6, 5000, 2));
    let stranger = |bytes: Vec<u8>| {
        let addr = addr.clone();
        thread::spawn(move || {
            let mut s = TcpStream::connect(addr).expect("connect");
            s.set_read_timeout(Some(PATIENCE)).expect("timeout");
            let _ = s.write_all(&bytes);
            let mut reply = Vec::new();
            let _ = s.read_to_end(&mut reply);
            String::from_utf8_lossy(&reply).into_owned()
        })
    };
    let http = stranger(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec());
    let noise = stranger(vec![0xff, 0xfe, 0x00, 0x9c, 0x81, b'\n']);
    let huge = stranger(vec![b'A'; 10 * MAX_LINE]);
    let old = stranger(b"HELLO dist14/1 old-worker\n".to_vec());
    let workers: Vec<_> = (1..=2)
        .map(|i| real_worker(&format!("w{i}"), &addr))
        .collect();
    let report = report.recv_timeout(PATIENCE).expect("the run ends");
    for w in workers {
        w.join().expect("no panic").expect("each worker got STOP");
    }
    // Each stranger was told why, in one line, and hung up on.
    let reply = |h: thread::JoinHandle<String>| h.join().expect("no panic");
    assert!(reply(http).starts_with("ERROR not a dist14 message: \"GET / HTTP/1.1\""));
    assert!(reply(noise).starts_with("ERROR sent bytes that are not UTF-8 text"));
    assert!(reply(huge).starts_with("ERROR sent a line longer than 256 bytes"));
    assert!(reply(old).starts_with("ERROR speaks dist14/1, we speak dist14/2"));
    assert_eq!(report.dropped.len(), 4, "{:?}", report.dropped);
    assert_eq!(
        (report.done.len(), report.requeued, report.lost()),
        (6, 0, 0)
    );
    assert_eq!(report.primes(), expected_primes(6));
}

#[test]
fn a_worker_with_no_coordinator_fails_cleanly_after_its_attempts() {
    // A port that was free a moment ago: nothing listens there now.
    let addr = {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").to_string()
    };
    let started = Instant::now();
    let err = worker::connect(&addr, &mut worker::Retry::new(3)).expect_err("nobody listens");
    let took = started.elapsed();
    let message = err.to_string();
    assert!(
        message.contains(&format!("could not connect to {addr} after 3 attempts")),
        "{message}"
    );
    // Two pauses between three attempts: 100 ms, then 200 ms.
    assert!(took >= Duration::from_millis(300), "{took:?}");
    assert!(took < Duration::from_secs(10), "{took:?}");
}

#[test]
fn worker_names_are_checked_where_the_user_types_them() {
    assert_eq!(parse_name("worker-1"), Ok("worker-1".into()));
    assert!(parse_name("two words").is_err());
    assert!(parse_name("").is_err());
    Cli::command().debug_assert();
}

#[test]
fn a_parked_worker_hears_a_beat_every_heartbeat() {
    // Two workers needed before the first job: the one here waits, and hears from us.
    let (coordinator, addr, report) = start(config(1, 5000, 2));
    let mut parked = join(&addr, "parked");
    parked.send(&Message::Ready).expect("send");
    let parked_at = Instant::now();
    for n in 1..=3 {
        assert_eq!(hear(&mut parked), Some(Message::Beat));
        let waited = parked_at.elapsed();
        // Never early; late by at most a loaded machine's hiccup.
        assert!(waited >= protocol::HEARTBEAT * n, "{waited:?}");
        assert!(
            waited < protocol::HEARTBEAT * n + Duration::from_secs(2),
            "{waited:?}"
        );
    }
    // It leaves: the coordinator notices at the next beat, and does not count it any more.
    drop(parked);
    let deadline = Instant::now() + PATIENCE;
    while coordinator.report().dropped.is_empty() {
        assert!(Instant::now() < deadline, "the coordinator never noticed");
        thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        coordinator.report().dropped[0].1,
        "parked: left while waiting for a job"
    );
    // Two real workers finish the run (so its threads end with the test).
    let second = real_worker("w2", &addr);
    finish(&addr, &report);
    second.join().expect("no panic").expect("clean STOP");
}

#[test]
fn a_worker_gives_up_on_a_silent_coordinator_after_its_missed_beats() {
    // A coordinator that welcomes the worker, then never says another word (a hung host).
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let fake = thread::spawn(move || {
        let (s, _) = listener.accept().expect("accept");
        let mut peer = Lines::new(s).expect("socket");
        assert!(matches!(hear(&mut peer), Some(Message::Hello { .. })));
        peer.send(&Message::Welcome {
            protocol: PROTOCOL.into(),
        })
        .expect("send");
        assert_eq!(hear(&mut peer), Some(Message::Ready));
        // Silence, with the socket open, until the worker hangs up.
        assert_eq!(hear(&mut peer), None);
    });
    let started = Instant::now();
    let err = worker::run(&worker_config("w", &addr)).expect_err("gives up");
    let waited = started.elapsed();
    assert!(waited >= worker::SILENCE, "{waited:?}");
    assert!(
        waited < worker::SILENCE + Duration::from_secs(3),
        "{waited:?}"
    );
    assert!(
        err.to_string()
            .starts_with("the coordinator went silent: no heartbeat for 2000 ms"),
        "{err:#}"
    );
    fake.join().expect("no panic");
}

#[test]
fn a_poison_job_fails_after_max_attempts_and_the_rest_are_done() {
    // Job 1 makes every worker that takes it hang: three of them lose it to the timeout.
    let (coordinator, addr, report) = start(config(3, 300, 1));
    for n in 1..=3 {
        let (mut stuck, job) = take_a_job(&addr, &format!("stuck-{n}"));
        assert_eq!(job.id, 1, "the requeued job comes first");
        assert!(matches!(
            hear_past_beats(&mut stuck),
            Some(Message::Error(_))
        ));
    }
    let snapshot = coordinator.report();
    assert_eq!(snapshot.failed.len(), 1);
    assert!(
        snapshot.failed[&1].contains("stuck-3: no answer to job 1 within 300 ms"),
        "{:?}",
        snapshot.failed
    );
    // Not requeued for ever: a healthy worker does the two others and the run ends.
    let report = finish(&addr, &report);
    assert_eq!(
        (
            report.done.len(),
            report.failed.len(),
            report.requeued,
            report.lost()
        ),
        (2, 1, 2, 0)
    );
}

#[test]
fn min_workers_counts_the_workers_still_connected() {
    let (coordinator, addr, report) = start(config(2, 5000, 2));
    // Two peers say hello and leave before any job is handed out.
    for name in ["gone-1", "gone-2"] {
        drop(join(&addr, name));
    }
    // Their threads see them leave when they next read, which on a busy machine may come
    // after the next peer's hello: wait until the board has counted them out.
    let deadline = Instant::now() + PATIENCE;
    while coordinator.connected() > 0 {
        assert!(Instant::now() < deadline, "the two peers are still counted");
        thread::sleep(Duration::from_millis(5));
    }
    // One worker is here now, not three: no job for it, only beats.
    let mut alone = join(&addr, "alone");
    alone.send(&Message::Ready).expect("send");
    for _ in 0..4 {
        assert_eq!(hear(&mut alone), Some(Message::Beat));
    }
    assert!(coordinator.report().done.is_empty());
    // A second worker arrives: the gate opens. The parked one gets a job, or STOP if the
    // newcomer was quick enough to do both first.
    let second = real_worker("second", &addr);
    let next = hear_past_beats(&mut alone);
    assert!(
        matches!(next, Some(Message::Job(_) | Message::Stop)),
        "{next:?}"
    );
    drop(alone);
    let report = report.recv_timeout(PATIENCE).expect("the run ends");
    second.join().expect("no panic").expect("clean STOP");
    assert_eq!(report.done.len(), 2);
}

#[test]
fn a_lying_worker_is_caught_named_and_its_unchecked_answers_redone() {
    // Job 2 is not in the sample, job 3 is: the liar's first answer (job 1) is recounted and
    // right, its lie about job 2 slips through, its lie about job 3 is caught.
    let mut config = config(4, 5000, 1);
    config.sample = BTreeSet::from([3]);
    let (coordinator, addr, report) = start(config);
    let (mut liar, job) = take_a_job(&addr, "liar");
    let truth = |job: Job| count_primes(job.start, job.end);
    liar.send(&Message::Result {
        id: job.id,
        primes: truth(job),
    })
    .expect("send");
    for id in [2, 3] {
        liar.send(&Message::Ready).expect("send");
        let Some(Message::Job(job)) = hear_past_beats(&mut liar) else {
            panic!("a job")
        };
        assert_eq!(job.id, id);
        liar.send(&Message::Result {
            id,
            primes: truth(job) + 1,
        })
        .expect("send");
    }
    match hear_past_beats(&mut liar) {
        Some(Message::Error(reason)) => assert!(
            reason.starts_with("liar: wrong answer to job 3: said "),
            "{reason}"
        ),
        other => panic!("expected ERROR, got {other:?}"),
    }
    let snapshot = coordinator.report();
    assert_eq!((snapshot.checked, snapshot.wrong), (2, 1));
    assert_eq!(snapshot.liars, BTreeSet::from(["liar".to_string()]));
    assert_eq!(
        snapshot.done.keys().copied().collect::<Vec<_>>(),
        [1],
        "job 2 redone too"
    );
    let report = finish(&addr, &report);
    assert_eq!((report.done.len(), report.lost()), (4, 0));
    assert_eq!(report.primes(), expected_primes(4));
    assert_eq!(&*report.done[&2].worker, "w");
}

#[test]
fn past_max_peers_a_newcomer_hears_busy_and_the_run_goes_on() {
    let mut config = config(2, 5000, 1);
    config.max_peers = 2;
    config.hello_timeout = Duration::from_secs(5);
    let (coordinator, addr, report) = start(config);
    // Two peers hold both slots (connected, silent).
    let holders: Vec<_> = (0..2)
        .map(|_| TcpStream::connect(&addr).expect("connect"))
        .collect();
    // Let the coordinator accept them before the newcomer knocks.
    thread::sleep(Duration::from_millis(100));
    let mut newcomer = TcpStream::connect(&addr).expect("connect");
    newcomer.set_read_timeout(Some(PATIENCE)).expect("timeout");
    let mut reply = String::new();
    newcomer.read_to_string(&mut reply).expect("read");
    assert_eq!(reply, "ERROR busy\n");
    assert_eq!(coordinator.report().turned_away, 1);
    drop(holders);
    // The slots free up (give the coordinator a moment to see both hang up); a real worker
    // does the run.
    thread::sleep(Duration::from_millis(200));
    let report = finish(&addr, &report);
    assert_eq!((report.done.len(), report.turned_away), (2, 1));
}

/// Issue 21: a liar caught and dropped came back under the same name (as a restarted process
/// would) and was believed, its name vouched for. A name caught lying is refused, and its
/// old job goes to an honest worker.
#[test]
fn a_liar_that_comes_back_under_its_name_is_refused() {
    let (_coordinator, addr, report) = start(config(3, 5000, 1));
    let (mut liar, job) = take_a_job(&addr, "w1");
    let primes = count_primes(job.start, job.end) + 1;
    liar.send(&Message::Result { id: job.id, primes })
        .expect("send");
    assert!(matches!(
        hear_past_beats(&mut liar),
        Some(Message::Error(_))
    ));

    let mut again = Lines::new(TcpStream::connect(&addr).expect("connect")).expect("socket");
    let hello = Message::Hello {
        protocol: PROTOCOL.into(),
        name: "w1".into(),
    };
    again.send(&hello).expect("send");
    assert_eq!(
        hear(&mut again),
        Some(Message::Error(
            "w1: refused: caught lying earlier in this run".into()
        ))
    );
    let report = finish(&addr, &report);
    assert_eq!(report.primes(), expected_primes(3));
    assert_eq!((report.jobs_by("w1"), report.unverified()), (0, 0));
}

/// Issue 21: with both slots held by strangers (silent until their hello timeout), a worker
/// heard `ERROR busy`, took it for final and exited 1. Busy is transient: it tries again
/// within its attempts and does the run once the strangers are dropped.
#[test]
fn a_worker_told_busy_tries_again_within_its_attempts() {
    let mut config = config(2, 5000, 1);
    config.max_peers = 2;
    config.hello_timeout = Duration::from_millis(1500);
    let (_coordinator, addr, report) = start(config);
    let strangers: Vec<_> = (0..2)
        .map(|_| TcpStream::connect(&addr).expect("connect"))
        .collect();
    // A probe told busy: both slots are held now (for 1.5 s, the strangers' hello timeout), on a
    // busy machine as on an idle one.
    let mut probe = TcpStream::connect(&addr).expect("connect");
    probe.set_read_timeout(Some(PATIENCE)).expect("timeout");
    let mut reply = String::new();
    probe.read_to_string(&mut reply).expect("read");
    assert_eq!(reply, "ERROR busy\n");
    let mut config = worker_config("late", &addr);
    config.attempts = 8; // 100 + 200 + ... + 6400 ms of pauses: past the strangers' 1.5 s
    let jobs = worker::run(&config).expect("retried past busy");
    assert_eq!(jobs, 2);
    let report = report.recv_timeout(PATIENCE).expect("the run ends");
    // The probe, and the worker at least once.
    assert!(report.turned_away >= 2, "{report:?}");
    assert_eq!(report.done.len(), 2);
    drop(strangers);
}

/// Issue 21: a job that outlives every worker's timeout left the coordinator waiting for ever
/// with no worker. With jobs unfinished and no result for `patience`, the run gives up and
/// says which jobs and why.
#[test]
fn with_no_result_for_the_patience_the_run_gives_up_naming_the_jobs() {
    let mut config = config(2, 200, 1);
    config.patience = Duration::from_secs(1);
    let started = Instant::now();
    let (_coordinator, addr, report) = start(config);
    // One worker takes job 1 and never answers: dropped after the job timeout.
    let (mut hung, _job) = take_a_job(&addr, "hung");
    assert!(matches!(
        hear_past_beats(&mut hung),
        Some(Message::Error(_))
    ));
    drop(hung);
    let report = report.recv_timeout(PATIENCE).expect("the run gives up");
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(
        report.gave_up.as_deref(),
        Some(
            "no result for 1000 ms (--patience-ms) with 2 unfinished: job 1 (1 of 3 attempts \
             used), job 2 (0 of 3 attempts used); no worker connected"
        )
    );
    assert!(report.done.is_empty());
}

#[test]
fn a_worker_hears_beats_while_its_answer_is_recounted() {
    // A job whose recount takes several heartbeats, in a debug build and in release alike.
    let end = if cfg!(debug_assertions) {
        5_000_000
    } else {
        60_000_000
    };
    let mut config = config(1, 60_000, 1);
    config.jobs = vec![Job {
        id: 1,
        start: 0,
        end,
    }];
    let (coordinator, addr, report) = start(config);
    let (mut worker, job) = take_a_job(&addr, "w");
    // A first answer is always recounted; a wrong one, so that we need not count it here.
    worker
        .send(&Message::Result {
            id: job.id,
            primes: 1,
        })
        .expect("send");
    worker.send(&Message::Ready).expect("send");
    let sent = Instant::now();
    let mut beats = 0;
    let reason = loop {
        match hear(&mut worker) {
            Some(Message::Beat) => beats += 1,
            Some(Message::Error(reason)) => break reason,
            other => panic!("expected BEAT or ERROR, got {other:?}"),
        }
    };
    let took = sent.elapsed();
    assert!(reason.starts_with("w: wrong answer to job 1"), "{reason}");
    // Without beats during the recount, a real worker would have given up after 2 s.
    assert!(
        took > protocol::HEARTBEAT,
        "the recount was too quick to show: {took:?}"
    );
    assert!(beats >= 1, "{beats} beats in {took:?}");
    drop(coordinator);
    drop(report);
}

/// Issue 21: a second connection under a name caught lying (a twin process, or one that was mid-job
/// when the first was caught) had its answers only sampled. Every answer under that name is
/// recounted, whatever the sample says.
#[test]
fn answers_under_a_name_caught_lying_are_always_recounted() {
    let coordinator = Coordinator::new(config(2, 1000, 1));
    let mut board = coordinator.board();
    let job = board.pending[1];
    board.vouched.insert("w1".into());
    assert!(!board.must_check(job, "w1"), "vouched, not in the sample");
    board.report.liars.insert("w1".into());
    assert!(board.must_check(job, "w1"));
}
