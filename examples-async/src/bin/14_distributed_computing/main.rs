//! # 14 · Distributed computing: a coordinator and worker processes over TCP that lose no job
//!
//! Upstream Python's pull protocol (`READY` / `JOB` / `RESULT`), made to survive what upstream
//! does not: a worker that dies mid-job (upstream loses the job and never finishes), a worker that
//! hangs, a peer that sends garbage (upstream crashes with `IndexError`), a worker started before
//! its coordinator (upstream: a traceback), and a coordinator that never exits.
//!
//! One binary, three roles:
//! - `coordinator --addr ADDR --jobs N`: owns the queue of N jobs, hands one to each worker that
//!   asks, requeues the job of a worker that disconnects or stays silent past `--job-timeout-ms`,
//!   tells every worker `STOP` when all are done, checks the combined answer, exits 0.
//! - `worker --connect ADDR`: connects (a bounded number of attempts), says `HELLO`, pulls jobs until
//!   `STOP`. The job is real work with a checkable answer: count the primes in a range.
//! - no subcommand: the demo. A coordinator on `127.0.0.1:0` in this process, `--workers 3` worker
//!   *processes* of this same binary (`std::env::current_exe`), `--jobs 12`. With `--crash-worker`,
//!   worker-2 exits abruptly in the middle of its first job; the job goes back to the queue and
//!   another worker does it.
//!
//! What it shows:
//! - **Framing and a handshake.** TCP carries bytes, not messages: `tokio_util::codec::LinesCodec`
//!   (with a maximum line length) cuts them into lines, and the first line must be
//!   `HELLO dist14/1 <name>`, so a stranger is told apart at once ([`protocol`] has the grammar).
//! - **One task per connection** on one thread (`current_thread`), sharing one job board behind a
//!   `std::sync::Mutex`; waiting workers sleep on a `Notify` ([`coordinator`]).
//! - **No job is lost**: a job is always in exactly one place (queue, in flight, done), and every
//!   way out of a connection with a job in flight puts it back.
//! - **Timeouts everywhere a peer can stall us**: `HELLO` within 1 s, an answer within the job
//!   timeout; a silent worker costs one timeout, not the run.
//! - CPU work in a worker goes to `spawn_blocking` ([`worker`]), and the workers are separate
//!   processes, so the work runs in parallel on every core: the summary compares the run with one
//!   process counting alone.
//!
//! The threads twin (`examples-threads/src/bin/14_distributed_computing_threads/`) speaks the same
//! protocol over `std::net`: either coordinator serves either worker (`--worker-bin` below).
//!
//! Seed: "Asynchrony" > Examples (distributed computing), the event loop serving many sockets.
//! Upstream: `src/python/asynchrony/distributed_computing.py`,
//! `src/js/asynchrony/14_distributed_computing.js`, `src/cpp/asynchrony/distributed_computing.cpp`.
//!
//! Run the demo (about 1.5 s): `cargo run -p examples-async --bin 14_distributed_computing`
//! Flags: `--workers 3`, `--jobs 12`, `--crash-worker`, `--job-size 400000` (numbers per job),
//! `--job-timeout-ms 3000`, `--worker-bin PATH` (start the workers from another binary, e.g.
//! `target/debug/14_distributed_computing_threads`).
//!
//! By hand, in three terminals (or on three machines, with the coordinator's address; see the
//! README section "Running 14 by hand"):
//!
//! ```text
//! cargo run -p examples-async --bin 14_distributed_computing -- coordinator --addr 127.0.0.1:7878 --jobs 12
//! cargo run -p examples-async --bin 14_distributed_computing -- worker --connect 127.0.0.1:7878
//! cargo run -p examples-threads --bin 14_distributed_computing_threads -- worker --connect 127.0.0.1:7878
//! ```
//!
//! The output of `--crash-worker` will look similar to this (a worker's time column counts from its
//! own start; lines from different processes interleave):
//!
//! ```text
//!   0.004s  INFO [main] worker-1 joined from 127.0.0.1:50412
//!   0.005s  INFO [main] dispatch job 1 [0, 400000) -> worker-1
//!   0.005s  INFO [main] dispatch job 2 [400000, 800000) -> worker-2
//!   0.006s  INFO [main] worker{name=worker-2}: job 2: counting primes in [400000, 800000)
//!   0.031s  WARN [main] worker{name=worker-2}: job 2: crashing half-way on purpose (--crash-on-job), without a word
//!   0.032s  WARN [main] requeue job 2 (worker-2: closed the connection in the middle of job 2)
//!   0.045s  INFO [main] result job 1 from worker-1: 33860 primes
//!   0.045s  INFO [main] dispatch job 2 [400000, 800000) -> worker-1
//!   ...
//! Summary
//!   12/12 jobs done, 1 requeued, 0 lost
//!   primes below 4800000: 335439 from the workers, 335439 counted here: correct
//! ```

mod coordinator;
mod protocol;
mod worker;

use std::path::PathBuf;
use std::process::{Command, ExitCode, ExitStatus};
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use clap::{Args, CommandFactory, Parser, Subcommand};
use common::children::ChildGuard;
use common::{Comparison, fmt_duration, init_logging};
use tokio::net::TcpListener;
use tokio::time::sleep;
use tracing::{Instrument, info, info_span};

use coordinator::{Coordinator, Report};
use protocol::{count_primes, plan_jobs};

/// The demo gives up (and kills its workers) rather than hang, whatever goes wrong.
const DEMO_DEADLINE: Duration = Duration::from_secs(20);
/// After `STOP`, how long the demo waits for its workers to exit by themselves.
const EXIT_GRACE: Duration = Duration::from_secs(2);
/// Which demo worker crashes with `--crash-worker`.
const VICTIM: u32 = 2;

#[derive(Parser, Debug)]
#[command(
    about = "A coordinator hands prime-counting jobs to worker processes over TCP; a worker that \
             crashes, hangs or talks nonsense loses no job. No subcommand: a self-contained demo.",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    role: Option<Role>,
    #[command(flatten)]
    demo: Demo,
}

#[derive(Subcommand, Debug)]
enum Role {
    /// Serve N jobs to whoever connects; exit 0 once all are done and checked.
    Coordinator {
        /// Address to listen on: 127.0.0.1:7878 for this machine, 0.0.0.0:7878 for a network.
        #[arg(long)]
        addr: String,
        /// How many jobs.
        #[arg(long, default_value_t = 12, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        jobs: u32,
        /// Hand out no job before this many workers have joined.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
        min_workers: u32,
        #[command(flatten)]
        work: Work,
    },
    /// Connect to a coordinator and do jobs until it says STOP.
    Worker {
        /// The coordinator's address (host:port).
        #[arg(long)]
        connect: String,
        /// The name in the logs [default: worker-<process id>].
        #[arg(long, value_parser = parse_name)]
        name: Option<String>,
        /// Connection attempts before giving up (the pause doubles from 100 ms).
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=20))]
        attempts: u32,
        /// Exit abruptly in the middle of the n-th job (what the demo's --crash-worker uses).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
        crash_on_job: Option<u32>,
    },
}

#[derive(Args, Debug)]
struct Demo {
    /// How many worker processes the demo starts.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=16))]
    workers: u32,
    /// How many jobs the demo runs.
    #[arg(long, default_value_t = 12, value_parser = clap::value_parser!(u32).range(1..=1000))]
    jobs: u32,
    /// Make worker-2 exit abruptly in the middle of its first job (needs 2 or more workers).
    #[arg(long)]
    crash_worker: bool,
    /// Start the workers from this executable instead of this one (e.g. the threads twin).
    #[arg(long, value_name = "PATH")]
    worker_bin: Option<PathBuf>,
    #[command(flatten)]
    work: Work,
}

/// The size of the work and the patience of the coordinator, shared by the demo and the coordinator.
#[derive(Args, Debug, Clone, Copy)]
struct Work {
    /// Numbers per job (each job counts the primes in a range this long).
    #[arg(long, default_value_t = 400_000, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    job_size: u64,
    /// A worker silent this long after getting a job loses it (the job is requeued).
    #[arg(long, default_value_t = 3000, value_parser = clap::value_parser!(u64).range(10..=3_600_000))]
    job_timeout_ms: u64,
}

/// Worker names go on the wire in `HELLO`: check them where the user types them.
fn parse_name(name: &str) -> Result<String, String> {
    let hello = format!("HELLO {} {name}", protocol::PROTOCOL);
    match hello.parse::<protocol::Message>() {
        Ok(_) => Ok(name.to_string()),
        Err(_) => Err("a name is 1-32 letters, digits, '-', '_' or '.'".into()),
    }
}

// One thread: the coordinator waits on sockets, which a single thread does for any number of
// connections. The counting in a worker runs on the blocking pool, off this thread.
#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    init_logging();
    match cli.role {
        Some(Role::Coordinator {
            addr,
            jobs,
            min_workers,
            work,
        }) => coordinator_role(&addr, jobs, min_workers, work)
            .await
            .map(|()| ExitCode::SUCCESS),
        Some(Role::Worker {
            connect,
            name,
            attempts,
            crash_on_job,
        }) => {
            let name = name.unwrap_or_else(|| format!("worker-{}", std::process::id()));
            let config = worker::Config {
                connect,
                name: name.clone(),
                attempts,
                crash_on_job,
            };
            // Every line of this process carries `worker{name=...}`: in the demo, the workers
            // share the demo's terminal and this is how their lines are told apart.
            let run = worker::run(&config).instrument(info_span!("worker", name = %name));
            match run.await {
                Ok(_) => Ok(ExitCode::SUCCESS),
                // One line, not a backtrace: "could not connect ... is a coordinator running?"
                Err(e) => {
                    eprintln!("error: {e:#}");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        None => {
            if cli.demo.crash_worker && cli.demo.workers < 2 {
                Cli::command()
                    .error(
                        clap::error::ErrorKind::ArgumentConflict,
                        "--crash-worker needs --workers 2 or more: someone must redo the job",
                    )
                    .exit();
            }
            demo(cli.demo).await.map(|()| ExitCode::SUCCESS)
        }
    }
}

fn coordinator_config(jobs: u32, min_workers: u32, work: Work) -> coordinator::Config {
    coordinator::Config {
        jobs: plan_jobs(jobs, work.job_size),
        job_timeout: Duration::from_millis(work.job_timeout_ms),
        hello_timeout: coordinator::HELLO_TIMEOUT,
        min_workers: min_workers as usize,
    }
}

async fn coordinator_role(
    addr: &str,
    jobs: u32,
    min_workers: u32,
    work: Work,
) -> anyhow::Result<()> {
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener.local_addr()?;
    info!(
        "listening on {local} with {jobs} jobs; start workers with: \
         cargo run -p examples-async --bin 14_distributed_computing -- worker --connect {local}"
    );
    let coordinator = Coordinator::new(coordinator_config(jobs, min_workers, work));
    let report = coordinator.run(listener).await;
    let (local_primes, _) = count_locally(jobs, work.job_size).await?;
    print_summary(&report, jobs, work.job_size, local_primes);
    check(&report, local_primes)
}

async fn demo(demo: Demo) -> anyhow::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?.to_string();
    let coordinator = Coordinator::new(coordinator_config(demo.jobs, demo.workers, demo.work));
    let program = match &demo.worker_bin {
        Some(path) => path.clone(),
        None => std::env::current_exe().context("cannot find this program to start workers")?,
    };
    info!(
        "coordinator on {addr}: {} jobs of {} numbers; starting {} worker processes of {}",
        demo.jobs,
        demo.work.job_size,
        demo.workers,
        program.display()
    );

    // Each guard kills and reaps its process when dropped: on an early `?` below, on a panic, and
    // on the normal path for a worker that did not exit by itself. If this process is killed
    // outright (no destructor runs), the workers still end: the OS closes their socket to the
    // coordinator, and a worker that reads end-of-stream without `STOP` exits 1.
    let mut children = Vec::new();
    for i in 1..=demo.workers {
        let name = format!("worker-{i}");
        let mut cmd = Command::new(&program);
        cmd.args(["worker", "--connect", &addr, "--name", &name]);
        if demo.crash_worker && i == VICTIM {
            cmd.args(["--crash-on-job", "1"]);
        }
        let child = ChildGuard::spawn(name, &mut cmd)
            .with_context(|| format!("cannot start {}", program.display()))?;
        children.push(child);
    }

    let report = tokio::select! {
        report = coordinator.run(listener) => report,
        () = all_exited(&mut children) => {
            let report = coordinator.report();
            bail!("every worker exited with jobs left ({}/{} done)", report.done.len(), report.total)
        }
        () = sleep(DEMO_DEADLINE) => bail!("the demo did not finish within {DEMO_DEADLINE:?}"),
    };

    // Every worker was told STOP: give them a moment to exit, then the guards kill the rest.
    let exits = wait_for_exits(&mut children, EXIT_GRACE).await;
    let mut unexpected = Vec::new();
    for (child, status) in children.iter().zip(&exits) {
        let crashed_on_purpose = demo.crash_worker && child.name == format!("worker-{VICTIM}");
        let expected = status.is_some_and(|s| {
            if crashed_on_purpose {
                s.code() == Some(worker::CRASH_EXIT_CODE)
            } else {
                s.success()
            }
        });
        let what = match status {
            Some(s) if crashed_on_purpose => format!("crashed mid-job on purpose ({s})"),
            Some(s) => s.to_string(),
            None => "still running after STOP: killed".into(),
        };
        info!("{} exited: {what}", child.name);
        if !expected {
            unexpected.push(format!("{}: {what}", child.name));
        }
    }
    drop(children);

    let (local_primes, local_time) = count_locally(demo.jobs, demo.work.job_size).await?;
    print_summary(&report, demo.jobs, demo.work.job_size, local_primes);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let ideal = demo.workers.min(cores as u32);
    println!(
        "  {} ({} workers, {cores} cores)",
        Comparison::new(
            "one process counting alone",
            local_time,
            format!("{} workers", demo.workers),
            report.busy,
            f64::from(ideal)
        ),
        demo.workers
    );
    ensure!(
        unexpected.is_empty(),
        "workers exited unexpectedly: {unexpected:?}"
    );
    check(&report, local_primes)
}

/// Resolves once every child has exited (polling: a `ChildGuard` is a std child, and `try_wait`
/// never blocks this thread).
async fn all_exited(children: &mut [ChildGuard]) {
    loop {
        let running = children
            .iter_mut()
            .map(|c| c.try_wait())
            .filter(|status| !matches!(status, Ok(Some(_))))
            .count();
        if running == 0 {
            return;
        }
        sleep(Duration::from_millis(50)).await;
    }
}

/// Each child's exit status, or `None` for a child still running after `grace`.
async fn wait_for_exits(children: &mut [ChildGuard], grace: Duration) -> Vec<Option<ExitStatus>> {
    let _ = tokio::time::timeout(grace, all_exited(children)).await;
    children
        .iter_mut()
        .map(|c| c.try_wait().ok().flatten())
        .collect()
}

/// The check: the same count done here, in one piece, off the runtime thread. Returns the count and
/// how long it took.
async fn count_locally(jobs: u32, job_size: u64) -> anyhow::Result<(u64, Duration)> {
    let end = u64::from(jobs) * job_size;
    let (primes, took) = tokio::task::spawn_blocking(move || common::time(|| count_primes(0, end)))
        .await
        .context("the local count panicked")?;
    info!(
        "local check: {primes} primes below {end} ({})",
        fmt_duration(took)
    );
    Ok((primes, took))
}

fn print_summary(report: &Report, jobs: u32, job_size: u64, local_primes: u64) {
    let workers_primes = report.primes();
    let verdict = if workers_primes == local_primes && report.lost() == 0 {
        "correct"
    } else {
        "WRONG"
    };
    println!();
    println!("Summary");
    println!(
        "  {}/{} jobs done, {} requeued, {} lost",
        report.done.len(),
        report.total,
        report.requeued,
        report.lost()
    );
    println!(
        "  primes below {}: {workers_primes} from the workers, {local_primes} counted here: {verdict}",
        u64::from(jobs) * job_size
    );
    let per_worker: Vec<String> = report
        .workers
        .iter()
        .map(|w| format!("{w} {}", report.jobs_by(w)))
        .collect();
    println!("  jobs per worker: {}", per_worker.join(", "));
    if report.dropped.is_empty() {
        println!("  dropped peers: none");
    }
    for (peer, reason) in &report.dropped {
        println!("  dropped {peer}: {reason}");
    }
}

fn check(report: &Report, local_primes: u64) -> anyhow::Result<()> {
    ensure!(report.lost() == 0, "{} jobs lost", report.lost());
    ensure!(
        report.primes() == local_primes,
        "the workers counted {} primes, the local check {local_primes}",
        report.primes()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    //! The faults, one test each, with the coordinator and workers in this process. Tests that go
    //! through an in-memory pipe (`tokio::io::duplex`) run on tokio's paused clock and assert
    //! timeouts exactly; tests over real loopback TCP use the real clock (the paused clock would
    //! jump timers forward while the kernel moves bytes).
    use super::*;
    use futures::{SinkExt, StreamExt};
    use protocol::{Job, MAX_LINE, Message, PROTOCOL};
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
        }
    }

    fn worker_config(name: &str, connect: &str) -> worker::Config {
        worker::Config {
            connect: connect.into(),
            name: name.into(),
            attempts: 1,
            crash_on_job: None,
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
        match hear(peer).await {
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
        assert_eq!(report.done[&1].worker, "rescuer");
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
            hear(&mut silent).await,
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
        assert_eq!(report.done[&1].worker, "healthy");
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
                let _ =
                    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut reply)).await;
                String::from_utf8_lossy(&reply).into_owned()
            })
        };
        let http = stranger(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec());
        let noise = stranger(vec![0xff, 0xfe, 0x00, 0x9c, 0x81, b'\n']);
        let huge = stranger(vec![b'A'; 10 * MAX_LINE]);
        let old = stranger(b"HELLO dist14/0 old-worker\n".to_vec());
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
                .starts_with("ERROR speaks dist14/0, we speak dist14/1")
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
        let err = worker::connect(&addr, 3).await.expect_err("nobody listens");
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
}
