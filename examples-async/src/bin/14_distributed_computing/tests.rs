//! The faults, one test each, with the coordinator and workers in this process. Tests that go
//! through an in-memory pipe (`tokio::io::duplex`) run on tokio's paused clock and assert
//! timeouts exactly; tests over real loopback TCP use the real clock (the paused clock would
//! jump timers forward while the kernel moves bytes).

use super::*;
use clap::CommandFactory;
use cli::parse_name;
use futures::{SinkExt, StreamExt};
use protocol::{Job, MAX_LINE, Message, PROTOCOL, count_primes, plan_jobs};
use std::collections::BTreeSet;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::time::Instant;
use tokio_util::codec::{Framed, LinesCodec};

const SMALL: u64 = 2_000;

fn config(jobs: u32, timeout_ms: u64, min_workers: usize) -> coordinator::Config {
    coordinator::Config {
        jobs: plan_jobs(jobs, SMALL),
        job_timeout: Duration::from_millis(timeout_ms),
        hello_timeout: coordinator::HELLO_TIMEOUT,
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

/// A hand-driven peer on one end of a pipe whose other end the coordinator serves.
fn fake_peer(
    coordinator: &Coordinator,
    name: &str,
) -> (
    Framed<DuplexStream, LinesCodec>,
    tokio::task::JoinHandle<()>,
) {
    let (ours, theirs) = tokio::io::duplex(4096);
    let me = coordinator.clone();
    let name = name.to_string();
    let serving = tokio::spawn(async move { me.serve(theirs, name).await });
    (
        Framed::new(ours, LinesCodec::new_with_max_length(MAX_LINE)),
        serving,
    )
}

async fn say(peer: &mut Framed<DuplexStream, LinesCodec>, message: Message) {
    peer.send(message.to_string())
        .await
        .expect("the pipe is open");
}

/// Awaits `fut`, failing the test instead of hanging if it never finishes (on the paused clock
/// the minute passes at once when nothing else can happen).
async fn within<F: std::future::Future>(fut: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(60), fut)
        .await
        .expect("finished in time")
}

async fn hear(peer: &mut Framed<DuplexStream, LinesCodec>) -> Option<Message> {
    let line = within(peer.next()).await?.expect("a line");
    Some(line.parse().expect("a message"))
}

/// A real worker (the same code as the worker process) on a pipe to the coordinator.
fn real_worker(
    coordinator: &Coordinator,
    name: &str,
) -> tokio::task::JoinHandle<anyhow::Result<u32>> {
    let (ours, theirs) = tokio::io::duplex(4096);
    let me = coordinator.clone();
    let peer = format!("{name}-pipe");
    tokio::spawn(async move { me.serve(theirs, peer).await });
    let config = worker_config(name, "pipe");
    tokio::spawn(async move { worker::work(ours, &config).await })
}

fn expected_primes(jobs: u32) -> u64 {
    count_primes(0, u64::from(jobs) * SMALL)
}

/// The next message that is not a `BEAT`.
async fn hear_past_beats(peer: &mut Framed<DuplexStream, LinesCodec>) -> Option<Message> {
    loop {
        match hear(peer).await {
            Some(Message::Beat) => {}
            other => return other,
        }
    }
}

async fn take_a_job(peer: &mut Framed<DuplexStream, LinesCodec>, name: &str) -> Job {
    say(
        peer,
        Message::Hello {
            protocol: PROTOCOL.into(),
            name: name.into(),
        },
    )
    .await;
    assert_eq!(
        hear(peer).await,
        Some(Message::Welcome {
            protocol: PROTOCOL.into()
        })
    );
    say(peer, Message::Ready).await;
    match hear_past_beats(peer).await {
        Some(Message::Job(job)) => job,
        other => panic!("expected a job, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_worker_that_vanishes_mid_job_loses_nothing() {
    let coordinator = Coordinator::new(config(3, 1000, 1));
    let (mut doomed, serving) = fake_peer(&coordinator, "doomed");
    let job = take_a_job(&mut doomed, "doomed").await;
    assert_eq!(job.id, 1);
    let before = Instant::now();
    drop(doomed); // the process died: the OS closed its socket
    within(serving).await.expect("no panic");
    assert_eq!(
        before.elapsed(),
        Duration::ZERO,
        "requeued at once, no timeout needed"
    );

    let jobs = within(real_worker(&coordinator, "rescuer"))
        .await
        .expect("no panic")
        .expect("clean STOP");
    assert_eq!(jobs, 3);
    let report = coordinator.report();
    assert_eq!(
        (report.done.len(), report.requeued, report.lost()),
        (3, 1, 0)
    );
    assert_eq!(&*report.done[&1].worker, "rescuer");
    assert_eq!(report.primes(), expected_primes(3));
    assert_eq!(
        report.dropped,
        [(
            "doomed".to_string(),
            "doomed: closed the connection in the middle of job 1".to_string()
        )]
    );
}

#[tokio::test(start_paused = true)]
async fn a_silent_worker_loses_its_job_after_exactly_the_job_timeout() {
    let coordinator = Coordinator::new(config(2, 300, 1));
    let (mut silent, serving) = fake_peer(&coordinator, "silent");
    let job = take_a_job(&mut silent, "silent").await;
    let given = Instant::now();
    // Say nothing and keep the socket open, like a hung process. The coordinator gives up:
    assert_eq!(
        hear_past_beats(&mut silent).await,
        Some(Message::Error(
            "silent: no answer to job 1 within 300 ms".into()
        ))
    );
    assert_eq!(given.elapsed(), Duration::from_millis(300));
    assert_eq!(hear(&mut silent).await, None, "and hangs up");
    within(serving).await.expect("no panic");
    assert_eq!(job.id, 1);
    assert_eq!(coordinator.report().requeued, 1);

    // A late answer could not count: the connection is gone. A healthy worker does the job.
    let jobs = within(real_worker(&coordinator, "healthy"))
        .await
        .expect("no panic")
        .expect("clean STOP");
    assert_eq!(jobs, 2);
    let report = coordinator.report();
    assert_eq!(
        (report.done.len(), report.requeued, report.lost()),
        (2, 1, 0)
    );
    assert_eq!(&*report.done[&1].worker, "healthy");
    assert_eq!(report.primes(), expected_primes(2));
}

#[tokio::test(start_paused = true)]
async fn a_peer_that_never_says_hello_is_dropped_after_exactly_the_hello_timeout() {
    let coordinator = Coordinator::new(config(1, 1000, 1));
    let (mut mute, serving) = fake_peer(&coordinator, "mute");
    let started = Instant::now();
    match hear(&mut mute).await {
        Some(Message::Error(reason)) => assert_eq!(reason, "said nothing for 1000 ms"),
        other => panic!("expected ERROR, got {other:?}"),
    }
    assert_eq!(started.elapsed(), coordinator::HELLO_TIMEOUT);
    within(serving).await.expect("no panic");
}

#[tokio::test(start_paused = true)]
async fn a_wrong_answer_id_is_a_protocol_error_and_the_job_is_requeued() {
    let coordinator = Coordinator::new(config(1, 1000, 1));
    let (mut confused, serving) = fake_peer(&coordinator, "confused");
    take_a_job(&mut confused, "confused").await;
    say(&mut confused, Message::Result { id: 7, primes: 1 }).await;
    within(serving).await.expect("no panic");
    let report = coordinator.report();
    assert_eq!((report.done.len(), report.requeued), (0, 1));
    assert!(
        report.dropped[0]
            .1
            .contains("expected RESULT 1, got \"RESULT 7 1\""),
        "{:?}",
        report.dropped
    );
}

#[tokio::test(start_paused = true)]
async fn a_worker_tells_a_stranger_server_apart_at_its_first_line() {
    let (ours, mut theirs) = tokio::io::duplex(4096);
    let server = tokio::spawn(async move {
        theirs
            .write_all(b"SSH-2.0-OpenSSH_9.6\r\n")
            .await
            .expect("pipe open");
        let mut rest = Vec::new();
        let _ = theirs.read_to_end(&mut rest).await;
    });
    let err = worker::work(ours, &worker_config("w", "127.0.0.1:22"))
        .await
        .expect_err("not a coordinator");
    assert!(
        err.to_string()
            .contains("not a dist14 message: \"SSH-2.0-OpenSSH_9.6\""),
        "{err:#}"
    );
    server.abort();
}

#[tokio::test]
async fn real_workers_over_tcp_do_every_job_once_with_the_right_answer() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let coordinator = Coordinator::new(config(12, 5000, 3));
    let run = tokio::spawn({
        let me = coordinator.clone();
        async move { me.run(listener).await }
    });
    let mut workers = Vec::new();
    for i in 1..=3 {
        let config = worker_config(&format!("w{i}"), &addr);
        workers.push(tokio::spawn(async move { worker::run(&config).await }));
    }
    let report = tokio::time::timeout(Duration::from_secs(20), run)
        .await
        .expect("finishes")
        .expect("no panic");
    let mut total = 0;
    for w in workers {
        total += w.await.expect("no panic").expect("each worker got STOP");
    }
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

#[tokio::test]
async fn strangers_are_dropped_with_a_reason_while_real_workers_carry_on() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let coordinator = Coordinator::new(config(6, 5000, 2));
    let run = tokio::spawn({
        let me = coordinator.clone();
        async move { me.run(listener).await }
    });
    let stranger = |bytes: Vec<u8>| {
        let addr = addr.clone();
        tokio::spawn(async move {
            let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
            let _ = s.write_all(&bytes).await;
            let mut reply = Vec::new();
            let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut reply)).await;
            String::from_utf8_lossy(&reply).into_owned()
        })
    };
    let http = stranger(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec());
    let noise = stranger(vec![0xff, 0xfe, 0x00, 0x9c, 0x81, b'\n']);
    let huge = stranger(vec![b'A'; 10 * MAX_LINE]);
    let old = stranger(b"HELLO dist14/1 old-worker\n".to_vec());
    let mut workers = Vec::new();
    for i in 1..=2 {
        let config = worker_config(&format!("w{i}"), &addr);
        workers.push(tokio::spawn(async move { worker::run(&config).await }));
    }
    let report = tokio::time::timeout(Duration::from_secs(20), run)
        .await
        .expect("finishes")
        .expect("no panic");
    for w in workers {
        w.await.expect("no panic").expect("each worker got STOP");
    }
    // Each stranger was told why, in one line, and hung up on.
    assert!(
        http.await
            .expect("no panic")
            .starts_with("ERROR not a dist14 message: \"GET / HTTP/1.1\"")
    );
    assert!(
        noise
            .await
            .expect("no panic")
            .starts_with("ERROR sent bytes that are not UTF-8 text")
    );
    assert!(
        huge.await
            .expect("no panic")
            .starts_with("ERROR sent a line longer than 256 bytes")
    );
    assert!(
        old.await
            .expect("no panic")
            .starts_with("ERROR speaks dist14/1, we speak dist14/2")
    );
    let mut reasons: Vec<&str> = report.dropped.iter().map(|(_, r)| r.as_str()).collect();
    reasons.sort();
    assert_eq!(reasons.len(), 4, "{reasons:?}");
    assert_eq!(
        (report.done.len(), report.requeued, report.lost()),
        (6, 0, 0)
    );
    assert_eq!(report.primes(), expected_primes(6));
}

#[tokio::test]
async fn a_worker_with_no_coordinator_fails_cleanly_after_its_attempts() {
    // A port that was free a moment ago: nothing listens there now.
    let addr = {
        let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        l.local_addr().expect("addr").to_string()
    };
    let started = Instant::now();
    let err = worker::connect(&addr, &mut worker::Retry::new(3))
        .await
        .expect_err("nobody listens");
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

#[tokio::test(start_paused = true)]
async fn a_parked_worker_hears_a_beat_every_heartbeat() {
    // Two workers needed before the first job: the one here waits, and hears from us.
    let coordinator = Coordinator::new(config(1, 1000, 2));
    let (mut parked, serving) = fake_peer(&coordinator, "parked");
    say(
        &mut parked,
        Message::Hello {
            protocol: PROTOCOL.into(),
            name: "parked".into(),
        },
    )
    .await;
    assert!(matches!(
        hear(&mut parked).await,
        Some(Message::Welcome { .. })
    ));
    say(&mut parked, Message::Ready).await;
    let parked_at = Instant::now();
    for n in 1..=4 {
        assert_eq!(hear(&mut parked).await, Some(Message::Beat));
        assert_eq!(parked_at.elapsed(), protocol::HEARTBEAT * n);
    }
    // It leaves: the coordinator notices at once (it listens while the worker is parked).
    drop(parked);
    within(serving).await.expect("no panic");
    assert_eq!(parked_at.elapsed(), protocol::HEARTBEAT * 4);
    assert_eq!(
        coordinator.report().dropped[0].1,
        "parked: left while waiting for a job"
    );
}

#[tokio::test(start_paused = true)]
async fn a_worker_gives_up_on_a_silent_coordinator_after_its_missed_beats() {
    // A coordinator that welcomes the worker, then never says another word (a hung host).
    let (ours, theirs) = tokio::io::duplex(4096);
    let mut coordinator = Framed::new(theirs, LinesCodec::new_with_max_length(MAX_LINE));
    let started = Instant::now();
    let worker = tokio::spawn(async move { worker::work(ours, &worker_config("w", "pipe")).await });
    assert!(matches!(
        hear(&mut coordinator).await,
        Some(Message::Hello { .. })
    ));
    say(
        &mut coordinator,
        Message::Welcome {
            protocol: PROTOCOL.into(),
        },
    )
    .await;
    assert_eq!(hear(&mut coordinator).await, Some(Message::Ready));
    let err = within(worker)
        .await
        .expect("no panic")
        .expect_err("gives up");
    assert_eq!(started.elapsed(), worker::SILENCE);
    assert_eq!(
        worker::SILENCE,
        protocol::HEARTBEAT * protocol::MISSED_BEATS
    );
    assert!(
        err.to_string()
            .starts_with("the coordinator went silent: no heartbeat for 2000 ms"),
        "{err:#}"
    );
    drop(coordinator);
}

#[tokio::test(start_paused = true)]
async fn a_poison_job_fails_after_max_attempts_and_the_rest_are_done() {
    // Job 1 makes every worker that takes it hang: three of them lose it to the timeout.
    let coordinator = Coordinator::new(config(3, 300, 1));
    for n in 1..=3 {
        let name = format!("stuck-{n}");
        let (mut stuck, serving) = fake_peer(&coordinator, &name);
        let job = take_a_job(&mut stuck, &name).await;
        assert_eq!(job.id, 1, "the requeued job comes first");
        assert!(matches!(
            hear_past_beats(&mut stuck).await,
            Some(Message::Error(_))
        ));
        within(serving).await.expect("no panic");
    }
    let report = coordinator.report();
    assert_eq!(report.failed.len(), 1);
    assert!(
        report.failed[&1].contains("stuck-3: no answer to job 1 within 300 ms"),
        "{:?}",
        report.failed
    );
    // Not requeued for ever: a healthy worker does the two others and the run ends.
    let jobs = within(real_worker(&coordinator, "healthy"))
        .await
        .expect("no panic")
        .expect("clean STOP");
    assert_eq!(jobs, 2);
    let report = coordinator.report();
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

#[tokio::test(start_paused = true)]
async fn min_workers_counts_the_workers_still_connected() {
    let coordinator = Coordinator::new(config(2, 1000, 2));
    // Two peers say hello and leave before any job is handed out.
    for name in ["gone-1", "gone-2"] {
        let (mut gone, serving) = fake_peer(&coordinator, name);
        say(
            &mut gone,
            Message::Hello {
                protocol: PROTOCOL.into(),
                name: name.into(),
            },
        )
        .await;
        assert!(matches!(
            hear(&mut gone).await,
            Some(Message::Welcome { .. })
        ));
        drop(gone);
        within(serving).await.expect("no panic");
    }
    // One worker is here now, not three: no job yet, however long it waits.
    let (mut alone, _serving) = fake_peer(&coordinator, "alone");
    say(
        &mut alone,
        Message::Hello {
            protocol: PROTOCOL.into(),
            name: "alone".into(),
        },
    )
    .await;
    assert!(matches!(
        hear(&mut alone).await,
        Some(Message::Welcome { .. })
    ));
    say(&mut alone, Message::Ready).await;
    for _ in 0..10 {
        assert_eq!(hear(&mut alone).await, Some(Message::Beat));
    }
    assert!(coordinator.report().done.is_empty());
    // A second worker arrives: the gate opens and both work.
    let second = real_worker(&coordinator, "second");
    assert!(matches!(
        hear_past_beats(&mut alone).await,
        Some(Message::Job(_))
    ));
    drop(alone);
    within(second).await.expect("no panic").expect("clean STOP");
    assert_eq!(coordinator.report().done.len(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_lying_worker_is_caught_named_and_its_unchecked_answers_redone() {
    // Job 2 is not in the sample, job 3 is: the liar's first answer (job 1) is recounted and
    // right, its lie about job 2 slips through, its lie about job 3 is caught.
    let mut config = config(4, 1000, 1);
    config.sample = BTreeSet::from([3]);
    let coordinator = Coordinator::new(config);
    let (mut liar, serving) = fake_peer(&coordinator, "liar");
    let job = take_a_job(&mut liar, "liar").await;
    let truth = |job: Job| count_primes(job.start, job.end);
    say(
        &mut liar,
        Message::Result {
            id: job.id,
            primes: truth(job),
        },
    )
    .await;
    for id in [2, 3] {
        say(&mut liar, Message::Ready).await;
        let Some(Message::Job(job)) = hear_past_beats(&mut liar).await else {
            panic!("a job")
        };
        assert_eq!(job.id, id);
        say(
            &mut liar,
            Message::Result {
                id,
                primes: truth(job) + 1,
            },
        )
        .await;
    }
    match hear_past_beats(&mut liar).await {
        Some(Message::Error(reason)) => assert!(
            reason.starts_with("liar: wrong answer to job 3: said "),
            "{reason}"
        ),
        other => panic!("expected ERROR, got {other:?}"),
    }
    within(serving).await.expect("no panic");
    let report = coordinator.report();
    assert_eq!((report.checked, report.wrong), (2, 1));
    assert_eq!(report.liars, BTreeSet::from(["liar".to_string()]));
    assert_eq!(
        report.done.keys().copied().collect::<Vec<_>>(),
        [1],
        "job 2 redone too"
    );

    let jobs = within(real_worker(&coordinator, "honest"))
        .await
        .expect("no panic")
        .expect("clean STOP");
    assert_eq!(jobs, 3, "jobs 2, 3 and 4");
    let report = coordinator.report();
    assert_eq!((report.done.len(), report.lost()), (4, 0));
    assert_eq!(report.primes(), expected_primes(4));
    assert_eq!(&*report.done[&2].worker, "honest");
}

#[tokio::test]
async fn past_max_peers_a_newcomer_hears_busy_and_the_run_goes_on() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let mut config = config(2, 5000, 2);
    config.max_peers = 2;
    let coordinator = Coordinator::new(config);
    let run = tokio::spawn({
        let me = coordinator.clone();
        async move { me.run(listener).await }
    });
    // Two peers hold both slots (connected, silent; the hello timeout is a second).
    let holders: Vec<_> =
        futures::future::join_all((0..2).map(|_| tokio::net::TcpStream::connect(addr.clone())))
            .await;
    // Let the coordinator accept them before the newcomer knocks.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut newcomer = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    let mut reply = String::new();
    tokio::time::timeout(Duration::from_secs(5), newcomer.read_to_string(&mut reply))
        .await
        .expect("answered at once")
        .expect("read");
    assert_eq!(reply, "ERROR busy\n");
    drop(holders);
    // The slots free up (give the coordinator a moment to see both hang up); two real workers
    // do the run.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut workers = Vec::new();
    for i in 1..=2 {
        let config = worker_config(&format!("w{i}"), &addr);
        workers.push(tokio::spawn(async move { worker::run(&config).await }));
    }
    let report = tokio::time::timeout(Duration::from_secs(20), run)
        .await
        .expect("finishes")
        .expect("no panic");
    for w in workers {
        w.await.expect("no panic").expect("each worker got STOP");
    }
    assert_eq!((report.done.len(), report.turned_away), (2, 1));
}

/// Issue 21: a liar caught and dropped came back under the same name (as a restarted process
/// would) and was believed, its name vouched for. A name caught lying is refused, and its
/// old job goes to an honest worker.
#[tokio::test(start_paused = true)]
async fn a_liar_that_comes_back_under_its_name_is_refused() {
    let coordinator = Coordinator::new(config(3, 1000, 1));
    let (mut liar, serving) = fake_peer(&coordinator, "w1");
    let job = take_a_job(&mut liar, "w1").await;
    let primes = count_primes(job.start, job.end) + 1;
    say(&mut liar, Message::Result { id: job.id, primes }).await;
    assert!(matches!(
        hear_past_beats(&mut liar).await,
        Some(Message::Error(_))
    ));
    within(serving).await.expect("no panic");

    let (mut again, serving) = fake_peer(&coordinator, "w1-again");
    say(
        &mut again,
        Message::Hello {
            protocol: PROTOCOL.into(),
            name: "w1".into(),
        },
    )
    .await;
    assert_eq!(
        hear(&mut again).await,
        Some(Message::Error(
            "w1: refused: caught lying earlier in this run".into()
        ))
    );
    within(serving).await.expect("no panic");

    within(real_worker(&coordinator, "honest"))
        .await
        .expect("no panic")
        .expect("clean STOP");
    let report = coordinator.report();
    assert_eq!(report.primes(), expected_primes(3));
    assert_eq!((report.jobs_by("w1"), report.unverified()), (0, 0));
}

/// Issue 21: with both slots held by strangers (silent until their hello timeout), a worker
/// heard `ERROR busy`, took it for final and exited 1. Busy is transient: it tries again
/// within its attempts and does the run once the strangers are dropped.
#[tokio::test]
async fn a_worker_told_busy_tries_again_within_its_attempts() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let mut config = config(2, 5000, 1);
    config.max_peers = 2;
    config.hello_timeout = Duration::from_millis(1500);
    let coordinator = Coordinator::new(config);
    let run = tokio::spawn({
        let me = coordinator.clone();
        async move { me.run(listener).await }
    });
    let strangers: Vec<_> =
        futures::future::join_all((0..2).map(|_| tokio::net::TcpStream::connect(addr.clone())))
            .await;
    // A probe told busy: both slots are held now (for 1.5 s, the strangers' hello timeout), on a
    // busy machine as on an idle one.
    let mut probe = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    let mut reply = String::new();
    probe.read_to_string(&mut reply).await.expect("read");
    assert_eq!(reply, "ERROR busy\n");
    let mut config = worker_config("late", &addr);
    config.attempts = 8; // 100 + 200 + ... + 6400 ms of pauses: past the strangers' 1.5 s
    let jobs = worker::run(&config).await.expect("retried past busy");
    assert_eq!(jobs, 2);
    let report = run.await.expect("no panic");
    // The probe, and the worker at least once.
    assert!(report.turned_away >= 2, "{report:?}");
    assert_eq!(report.done.len(), 2);
    drop(strangers);
}

/// Issue 21: a job that outlives every worker's timeout left the coordinator waiting for ever
/// with no worker. With jobs unfinished and no result for `patience`, the run gives up, at
/// exactly that time, and says which jobs and why.
#[tokio::test(start_paused = true)]
async fn with_no_result_for_the_patience_the_run_gives_up_naming_the_jobs() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let mut config = config(2, 300, 1);
    config.patience = Duration::from_secs(5);
    let coordinator = Coordinator::new(config);
    let started = Instant::now();
    let run = tokio::spawn({
        let me = coordinator.clone();
        async move { me.run(listener).await }
    });
    // One worker takes job 1 and never answers: dropped after the job timeout.
    let (mut hung, serving) = fake_peer(&coordinator, "hung");
    take_a_job(&mut hung, "hung").await;
    within(serving).await.expect("no panic");
    let report = within(run).await.expect("no panic");
    assert_eq!(started.elapsed(), Duration::from_secs(5));
    assert_eq!(
        report.gave_up.as_deref(),
        Some(
            "no result for 5000 ms (--patience-ms) with 2 unfinished: job 1 (1 of 3 attempts \
             used), job 2 (0 of 3 attempts used); no worker connected"
        )
    );
    assert!(report.done.is_empty());
}

/// A job whose recount takes several heartbeats, in a debug build and in release alike.
fn slow_to_recount() -> Job {
    let end = if cfg!(debug_assertions) {
        5_000_000
    } else {
        60_000_000
    };
    Job {
        id: 1,
        start: 0,
        end,
    }
}

#[tokio::test]
async fn a_worker_hears_beats_while_its_answer_is_recounted() {
    // Real clock: the recount is real CPU work on the blocking pool.
    let mut config = config(1, 60_000, 1);
    config.jobs = vec![slow_to_recount()];
    let coordinator = Coordinator::new(config);
    let (mut worker, serving) = fake_peer(&coordinator, "w");
    let job = take_a_job(&mut worker, "w").await;
    // A first answer is always recounted; a wrong one, so that we need not count it here.
    say(
        &mut worker,
        Message::Result {
            id: job.id,
            primes: 1,
        },
    )
    .await;
    say(&mut worker, Message::Ready).await;
    let sent = Instant::now();
    let mut beats = 0;
    let reason = loop {
        match hear(&mut worker).await {
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
    within(serving).await.expect("no panic");
}

/// Issue 21: a second connection under a name caught lying (a twin process, or one that was mid-job
/// when the first was caught) had its answers only sampled. Every answer under that name is
/// recounted, whatever the sample says.
#[tokio::test]
async fn answers_under_a_name_caught_lying_are_always_recounted() {
    let coordinator = Coordinator::new(config(2, 1000, 1));
    let mut board = coordinator.board();
    let job = board.pending[1];
    board.vouched.insert("w1".into());
    assert!(!board.must_check(job, "w1"), "vouched, not in the sample");
    board.report.liars.insert("w1".into());
    assert!(board.must_check(job, "w1"));
}
