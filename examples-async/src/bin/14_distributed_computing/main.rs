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
//!   checks answers as they arrive, tells every worker `STOP` when all are settled, exits 0 (1 if a
//!   job failed `--max-attempts` times).
//! - `worker --connect ADDR`: connects (a bounded number of attempts), says `HELLO`, pulls jobs until
//!   `STOP`. The job is real work with a checkable answer: count the primes in a range.
//! - no subcommand: the demo. A coordinator on `127.0.0.1:0` in this process, `--workers 3` worker
//!   *processes* of this same binary (`std::env::current_exe`), `--jobs 12`. With `--crash-worker`,
//!   worker-2 exits abruptly in the middle of its first job; the job goes back to the queue and
//!   another worker does it.
//!
//! - `--broker [URL]` on any of the three (broker mode, [`broker`]): the same jobs through Redis
//!   Streams instead of this coordinator: a stream and a consumer group are the queue, `XAUTOCLAIM`
//!   the requeue, the delivery counter the attempt limit. The coordinator only publishes and
//!   collects, so `--restart-coordinator` can kill it mid-run: a new one resumes from Redis. The
//!   demo starts its own `redis-server` (from `PATH`) when no URL is given; `--run-id` names the
//!   run's keys; `--poison-job ID` sends a job to the dead letters. README: "Beyond one machine:
//!   14 on Redis".
//!
//! What it shows:
//! - **Framing and a handshake.** TCP carries bytes, not messages: `tokio_util::codec::LinesCodec`
//!   (with a maximum line length) cuts them into lines, and the first line must be
//!   `HELLO dist14/2 <name>`, so a stranger is told apart at once ([`protocol`] has the grammar).
//! - **No Nagle stall.** Every socket sets `TCP_NODELAY`, and the worker sends `RESULT` and `READY`
//!   in one write: otherwise the second small write waits for the peer's delayed ACK, about 44 ms
//!   per job (2000 one-number jobs: 88 s instead of well under a second; `scripts/bench-14`).
//! - **One task per connection** on one thread (`current_thread`), sharing one job board behind a
//!   `std::sync::Mutex`; waiting workers sleep on a `Notify` ([`coordinator`]).
//! - **No job is lost**: a job is always in exactly one place (queue, in flight, done), and every
//!   way out of a connection with a job in flight puts it back.
//! - **Timeouts everywhere a peer can stall us**: `HELLO` within 1 s, an answer within the job
//!   timeout; a silent worker costs one timeout, not the run. And the other way round: the
//!   coordinator says `BEAT` every 500 ms to a worker it keeps waiting, and a worker that hears
//!   nothing for 2 s (a hung host, a half-open link) says so in one line and exits 1.
//! - **Bounds**: at most `--max-peers` connections (a newcomer past it hears `ERROR busy`); a poison
//!   job that wears out `--max-attempts` workers is reported failed instead of requeued for ever;
//!   `--min-workers` counts the workers connected now, not every `HELLO` ever heard; a `JOB`
//!   range is bounded where it is parsed, and the trial division cannot overflow near 2^64.
//! - **Trust, but check a sample**: each worker's first answer, and a seeded `--check-percent` of
//!   the others, are recounted by the coordinator as they arrive (not everything at the end, which
//!   would take one core longer than the whole run). A worker caught lying is named and dropped,
//!   and its job and its unchecked answers are redone elsewhere.
//! - CPU work in a worker goes to `spawn_blocking` ([`worker`]), and the workers are separate
//!   processes, so the work runs in parallel on every core: the demo compares the run with one
//!   process counting alone, beside the ideal (the workers, or the cores they share with the
//!   coordinator's recounts, whichever is fewer) and a verdict computed from the two.
//!
//! The threads twin (`examples-threads/src/bin/14_distributed_computing_threads/`) speaks the same
//! protocol over `std::net`: either coordinator serves either worker (`--worker-bin` below).
//!
//! Seed: "Asynchrony" > Examples (distributed computing), the event loop serving many sockets.
//! Upstream: `src/python/asynchrony/distributed_computing.py`,
//! `src/js/asynchrony/14_distributed_computing.js`, `src/cpp/asynchrony/distributed_computing.cpp`.
//!
//! Run the demo (about 2 s on an idle machine): `cargo run -p examples-async --bin 14_distributed_computing`
//! Flags: `--workers 3`, `--jobs 12`, `--crash-worker`, `--job-size 400000` (numbers per job),
//! `--job-timeout-ms 3000`, `--max-attempts 3`, `--max-peers 64`, `--check-percent 10`,
//! `--seed 14`, `--worker-bin PATH` (start the workers from another binary, e.g.
//! `target/debug/14_distributed_computing_threads`). The coordinator role takes the same, plus
//! `--min-workers 1`; the worker role takes `--name`, `--attempts 5`, and three faults to try:
//! `--crash-on-job N` (exit in the middle of its n-th job), `--hang-on-job ID` (never answer that
//! job: a poison job) and `--lie` (answer every job off by one).
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
//! own start; lines from different processes interleave; this run shared two cores with other
//! builds, hence the slow counts):
//!
//! ```text
//!   0.068s  INFO [main] worker-1 joined from 127.0.0.1:54176
//!   0.077s  INFO [main] worker-2 joined from 127.0.0.1:54182
//!   0.088s  INFO [main] worker-3 joined from 127.0.0.1:54196
//!   0.088s  INFO [main] dispatch job 1 [0, 400000) -> worker-1
//!   0.088s  INFO [main] dispatch job 2 [400000, 800000) -> worker-2
//!   0.037s  INFO [main] worker{name=worker-2}: job 2: counting primes in [400000, 800000)
//!   0.096s  INFO [main] dispatch job 3 [800000, 1200000) -> worker-3
//!   0.461s  WARN [main] worker{name=worker-2}: job 2: crashing half-way on purpose (--crash-on-job), without a word
//!   0.528s  WARN [main] requeue job 2 (worker-2: closed the connection in the middle of job 2)
//!   0.980s  INFO [main] result job 1 from worker-1: 33860 primes (recounted: right)
//!   0.980s  INFO [main] dispatch job 2 [400000, 800000) -> worker-1
//!   1.605s  INFO [main] result job 2 from worker-1: 30091 primes
//!   ...
//! Summary
//!   12/12 jobs done, 1 requeued, 0 lost
//!   checked 3 results by recounting them here (each worker's first, then a 10% sample, seed 14): all right
//!   primes below 4800000: 335439 from the workers, 335439 counted here: correct
//!   throughput: 12 jobs in 9800 ms from the first dispatch to the last result: 1 jobs/s
//!   jobs per worker: worker-1 6, worker-2 0, worker-3 6
//!   dropped 127.0.0.1:54182: worker-2: closed the connection in the middle of job 2
//!   one process counting alone 12.2 s | 3 workers 9800 ms | 1.25x, ideal 1.60x (3 workers, 2 cores, 25% of the work recounted by the coordinator): 78% of the ideal: close to it
//! ```

mod broker;
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
    about = "14 · Distributed computing: a coordinator hands prime-counting jobs to worker processes \
             over TCP; a worker that crashes, hangs, lies or talks nonsense loses no job. No \
             subcommand: a self-contained demo.",
    long_about = None,
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
    /// Serve N jobs to whoever connects; exit 0 once all are done (1 if a job failed
    /// --max-attempts times).
    Coordinator {
        /// Address to listen on: 127.0.0.1:7878 for this machine, 0.0.0.0:7878 for a network.
        #[arg(long, conflicts_with = "broker")]
        addr: Option<String>,
        #[command(flatten)]
        broker: BrokerRole,
        /// How many jobs.
        #[arg(long, default_value_t = 12, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
        jobs: u32,
        /// Hand out the first job only once this many workers are connected.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
        min_workers: u32,
        #[command(flatten)]
        work: Work,
    },
    /// Connect to a coordinator and do jobs until it says STOP.
    Worker {
        /// The coordinator's address (host:port).
        #[arg(long, conflicts_with = "broker")]
        connect: Option<String>,
        #[command(flatten)]
        broker: BrokerRole,
        /// The name in the logs [default: worker-<process id>].
        #[arg(long, value_parser = parse_name)]
        name: Option<String>,
        /// Connection attempts before giving up (the pause doubles from 100 ms).
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=20))]
        attempts: u32,
        /// Exit abruptly in the middle of the n-th job (what the demo's --crash-worker uses).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
        crash_on_job: Option<u32>,
        /// Never answer the job with this id (a poison job: the coordinator gives up on it after
        /// --max-attempts workers).
        #[arg(long, value_name = "ID", value_parser = clap::value_parser!(u32).range(1..))]
        hang_on_job: Option<u32>,
        /// Answer every job with a wrong count (the coordinator's recount catches it).
        #[arg(long)]
        lie: bool,
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
    /// Broker mode: the jobs go through Redis Streams. Alone, the demo starts a throwaway
    /// redis-server from PATH; with a URL (redis://HOST:PORT) it uses that one.
    #[arg(long, value_name = "URL", num_args = 0..=1, default_missing_value = "")]
    broker: Option<String>,
    /// Broker mode: kill the coordinator after the first result and start a new one, which
    /// finishes the run from what is in Redis.
    #[arg(long, requires = "broker")]
    restart_coordinator: bool,
    /// Broker mode: every worker takes this job and never answers it; it lands in the
    /// dead-letter stream after --max-attempts deliveries.
    #[arg(long, value_name = "ID", requires = "broker", value_parser = clap::value_parser!(u32).range(1..))]
    poison_job: Option<u32>,
    #[command(flatten)]
    work: Work,
}

/// The broker mode's flags on the coordinator and worker roles.
#[derive(Args, Debug, Clone)]
struct BrokerRole {
    /// Broker mode: go through Redis Streams at this URL (redis://HOST:PORT) instead of TCP.
    #[arg(long, value_name = "URL")]
    broker: Option<String>,
    /// Broker mode: the run's name; every Redis key of the run starts with `dist14:<run-id>:`.
    #[arg(long, default_value = "run1", value_parser = parse_name, requires = "broker")]
    run_id: String,
    /// Coordinator (both modes): give up after this long without a new result (exit 1).
    #[arg(long, default_value_t = 60_000, value_parser = clap::value_parser!(u64).range(100..))]
    patience_ms: u64,
    /// Broker mode, coordinator: recount every prime at the end and compare.
    #[arg(long)]
    verify: bool,
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
    /// A job given out this many times without an accepted answer is reported failed.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    max_attempts: u32,
    /// Connections served at once; a newcomer past it hears `ERROR busy` and is closed.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    max_peers: u32,
    /// Share of results (in %) recounted by the coordinator, besides each worker's first.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(0..=100))]
    check_percent: u32,
    /// Seed of the sample of results to recount.
    #[arg(long, default_value_t = 14)]
    seed: u64,
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
    let cli: Cli = common::parse_args();
    require_a_way_to_meet(&cli);
    init_logging();
    match cli.role {
        Some(Role::Coordinator {
            broker:
                BrokerRole {
                    broker: Some(url),
                    run_id,
                    patience_ms,
                    verify,
                },
            jobs,
            work,
            min_workers,
            ..
        }) => {
            let config = broker::CoordinatorConfig {
                min_workers,
                url,
                keys: broker::Keys::new(&run_id),
                jobs,
                job_size: work.job_size,
                job_timeout: Duration::from_millis(work.job_timeout_ms),
                max_attempts: work.max_attempts,
                patience: Duration::from_millis(patience_ms),
                verify,
            };
            one_line_errors(broker::coordinator(config).await)
        }
        Some(Role::Coordinator {
            addr,
            jobs,
            min_workers,
            work,
            broker,
        }) => {
            let addr = addr.expect("clap requires --addr without --broker");
            let patience = Duration::from_millis(broker.patience_ms);
            coordinator_role(&addr, jobs, min_workers, work, patience).await
        }
        Some(Role::Worker {
            broker:
                BrokerRole {
                    broker: Some(url),
                    run_id,
                    ..
                },
            name,
            crash_on_job,
            hang_on_job,
            ..
        }) => {
            let name = name.unwrap_or_else(|| format!("worker-{}", std::process::id()));
            let config = broker::WorkerConfig {
                url,
                keys: broker::Keys::new(&run_id),
                name: name.clone(),
                crash_on_job,
                hang_on_job,
                wait_for_run: broker::WAIT_FOR_RUN,
            };
            let run = broker::worker(config).instrument(info_span!("worker", name = %name));
            one_line_errors(run.await.map(|()| ExitCode::SUCCESS))
        }
        Some(Role::Worker {
            connect,
            name,
            attempts,
            crash_on_job,
            hang_on_job,
            lie,
            broker: _,
        }) => {
            let name = name.unwrap_or_else(|| format!("worker-{}", std::process::id()));
            // Every line of this process says `[<name>]` (the demo names its children already):
            // in the demo, the workers share its terminal, and this tells their lines apart.
            common::logging::set_process_name(&name);
            let config = worker::Config {
                connect: connect.expect("clap requires --connect without --broker"),
                name: name.clone(),
                attempts,
                crash_on_job,
                hang_on_job,
                lie,
            };
            match worker::run(&config).await {
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
            if let Some(url) = cli.demo.broker.clone() {
                let demo = &cli.demo;
                let config = broker::DemoConfig {
                    url: Some(url).filter(|u| !u.is_empty()),
                    workers: demo.workers,
                    jobs: demo.jobs,
                    job_size: demo.work.job_size,
                    job_timeout: Duration::from_millis(demo.work.job_timeout_ms),
                    max_attempts: demo.work.max_attempts,
                    crash_worker: demo.crash_worker,
                    restart_coordinator: demo.restart_coordinator,
                    poison_job: demo.poison_job,
                    worker_bin: demo.worker_bin.clone(),
                };
                return one_line_errors(broker::demo(config).await);
            }
            demo(cli.demo).await.map(|()| ExitCode::SUCCESS)
        }
    }
}

/// A coordinator needs `--addr` or `--broker`, a worker `--connect` or `--broker`: one line and
/// exit 2 otherwise, like any bad flag. (Checked here: clap's `required_unless_present` names
/// neither flag in its first line.)
fn require_a_way_to_meet(cli: &Cli) {
    let missing = match &cli.role {
        Some(Role::Coordinator {
            addr: None, broker, ..
        }) if broker.broker.is_none() => "--addr <ADDR>",
        Some(Role::Worker {
            connect: None,
            broker,
            ..
        }) if broker.broker.is_none() => "--connect <CONNECT>",
        Some(Role::Coordinator { jobs, work, .. })
            if u64::from(*jobs) * work.job_size > protocol::MAX_END =>
        {
            "--jobs x --job-size at most 10^12 (the protocol's bound on a number to count)"
        }
        _ => return,
    };
    if missing.starts_with("--jobs") {
        eprintln!("error: {missing} (try --help)");
        std::process::exit(2);
    }
    eprintln!(
        "error: the following required arguments were not provided: {missing} (or --broker <URL> \
         for the broker mode) (try --help)"
    );
    std::process::exit(2);
}

/// Broker mode: an error (Redis unreachable, a run that never finishes) is one line and exit 1.
fn one_line_errors(result: anyhow::Result<ExitCode>) -> anyhow::Result<ExitCode> {
    Ok(result.unwrap_or_else(|e| {
        eprintln!("error: {e:#}");
        ExitCode::FAILURE
    }))
}

fn coordinator_config(
    jobs: u32,
    min_workers: u32,
    work: Work,
    patience: Duration,
) -> coordinator::Config {
    let jobs = plan_jobs(jobs, work.job_size);
    coordinator::Config {
        job_timeout: Duration::from_millis(work.job_timeout_ms),
        hello_timeout: coordinator::HELLO_TIMEOUT,
        min_workers: min_workers as usize,
        max_attempts: work.max_attempts,
        max_peers: work.max_peers as usize,
        sample: coordinator::pick_sample(&jobs, work.check_percent, work.seed),
        patience,
        jobs,
    }
}

/// The coordinator as a process of its own: exit 0 when every job is done with an answer that
/// passed the checks, 1 when some job failed for good.
async fn coordinator_role(
    addr: &str,
    jobs: u32,
    min_workers: u32,
    work: Work,
    patience: Duration,
) -> anyhow::Result<ExitCode> {
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener.local_addr()?;
    info!(
        "listening on {local} with {jobs} jobs; start workers with: \
         cargo run -p examples-async --bin 14_distributed_computing -- worker --connect {local}"
    );
    let config = coordinator_config(jobs, min_workers, work, patience);
    let report = Coordinator::new(config).run(listener).await;
    // No recount of everything here: with `--jobs 10000` that would take one core longer than the
    // whole run took the workers. The answers were checked as they arrived (a sample, recounted).
    print_summary(&report, &work, jobs, None);
    if let Some(why) = &report.gave_up {
        eprintln!("error: gave up: {why}");
        return Ok(ExitCode::FAILURE);
    }
    if report.unverified() > 0 {
        eprintln!(
            "error: {} answers kept from a worker caught lying were never recounted: the total is \
             not verified",
            report.unverified()
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(if report.done.len() == report.total {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn demo(demo: Demo) -> anyhow::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?.to_string();
    let config = coordinator_config(demo.jobs, demo.workers, demo.work, DEMO_DEADLINE);
    let coordinator = Coordinator::new(config);
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

    // The demo does count everything once more, alone: that is the baseline of its speed-up.
    let (local_primes, local_time) = count_locally(demo.jobs, demo.work.job_size).await?;
    print_summary(&report, &demo.work, demo.jobs, Some(local_primes));
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let speed = SpeedUp::new(&report, demo.workers, cores, local_time);
    common::out!(
        "  {} ({} workers, {cores} cores{}): {}",
        Comparison::new(
            "one process counting alone",
            local_time,
            format!("{} workers", demo.workers),
            report.busy,
            speed.ideal
        ),
        demo.workers,
        speed.why_ideal(),
        speed.verdict()
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

/// What the demo's speed-up should approach, and how near it came.
struct SpeedUp {
    measured: f64,
    ideal: f64,
    /// The share of the work the coordinator recounted, on the same cores as the workers.
    recounted: f64,
}

impl SpeedUp {
    fn new(report: &Report, workers: u32, cores: usize, alone: Duration) -> Self {
        let recounted = report.checked as f64 / report.total.max(1) as f64;
        // Workers cannot beat their number, nor the cores they share with the coordinator's
        // recounts: k cores doing the work plus the recounted share take (1 + share) / k of it.
        let ideal = f64::from(workers).min(cores as f64 / (1.0 + recounted));
        Self {
            measured: common::timing::speedup(alone, report.busy),
            ideal,
            recounted,
        }
    }

    fn why_ideal(&self) -> String {
        format!(
            ", {:.0}% of the work recounted by the coordinator",
            self.recounted * 100.0
        )
    }

    /// Computed from the figures: at least three quarters of the ideal is "close"; well past the
    /// ideal means the two timings did not get the same machine.
    fn verdict(&self) -> String {
        let share = self.measured / self.ideal;
        if share > 1.1 {
            format!(
                "{:.0}% of the ideal: above it, so the two timings did not get the same machine \
                 (other programs on these cores come and go)",
                share * 100.0
            )
        } else if share >= 0.75 {
            format!("{:.0}% of the ideal: close to it", share * 100.0)
        } else {
            format!(
                "{:.0}% of the ideal: short of it (other programs on these cores, or jobs too \
                 small to cover the start-up and round trips)",
                share * 100.0
            )
        }
    }
}

/// The summary. `local_primes` is the demo's own count of everything (the coordinator role does
/// not recount everything: it checks a sample as results arrive).
fn print_summary(report: &Report, work: &Work, jobs: u32, local_primes: Option<u64>) {
    common::out!();
    common::out!("Summary");
    if report.failed.is_empty() {
        common::out!(
            "  {}/{} jobs done, {} requeued, {} lost",
            report.done.len(),
            report.total,
            report.requeued,
            report.lost()
        );
    } else {
        common::out!(
            "  {}/{} jobs done, {} failed after {} attempts, {} lost ({} requeued)",
            report.done.len(),
            report.total,
            report.failed.len(),
            report.max_attempts,
            report.lost(),
            report.requeued
        );
        for (id, reason) in &report.failed {
            common::out!("  failed job {id}: {reason}");
        }
    }
    let wrong = if report.wrong == 0 {
        "all right".to_string()
    } else {
        let liars: Vec<&str> = report.liars.iter().map(String::as_str).collect();
        format!(
            "{} wrong, from {} (dropped; their unchecked answers redone)",
            report.wrong,
            liars.join(", ")
        )
    };
    common::out!(
        "  checked {} results by recounting them here (each worker's first, then a {}% sample, seed {}): {wrong}",
        report.checked,
        work.check_percent,
        work.seed
    );
    let below = u64::from(jobs) * work.job_size;
    let workers_primes = report.primes();
    match local_primes {
        Some(local) => {
            let verdict = if workers_primes == local && report.done.len() == report.total {
                "correct"
            } else {
                "WRONG"
            };
            common::out!(
                "  primes below {below}: {workers_primes} from the workers, {local} counted here: {verdict}"
            );
        }
        None if report.done.len() == report.total => {
            common::out!("  primes below {below}: {workers_primes} from the workers");
        }
        None => common::out!("  primes in the jobs done: {workers_primes} (some jobs failed)"),
    }
    common::out!(
        "  throughput: {} jobs in {} from the first dispatch to the last result: {:.0} jobs/s",
        report.done.len(),
        fmt_duration(report.busy),
        report.jobs_per_second()
    );
    let per_worker: Vec<String> = report
        .workers
        .iter()
        .map(|w| format!("{w} {}", report.jobs_by(w)))
        .collect();
    common::out!("  jobs per worker: {}", per_worker.join(", "));
    if report.dropped.is_empty() {
        common::out!("  dropped peers: none");
    }
    for (peer, reason) in &report.dropped {
        common::out!("  dropped {peer}: {reason}");
    }
    if report.turned_away > 0 {
        common::out!(
            "  turned away: {} (busy: --max-peers {})",
            report.turned_away,
            work.max_peers
        );
    }
}

fn check(report: &Report, local_primes: u64) -> anyhow::Result<()> {
    ensure!(report.lost() == 0, "{} jobs lost", report.lost());
    ensure!(
        report.failed.is_empty(),
        "{} jobs failed",
        report.failed.len()
    );
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
                let _ =
                    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut reply)).await;
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
        let worker =
            tokio::spawn(async move { worker::work(ours, &worker_config("w", "pipe")).await });
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
        config.hello_timeout = Duration::from_millis(300);
        let coordinator = Coordinator::new(config);
        let run = tokio::spawn({
            let me = coordinator.clone();
            async move { me.run(listener).await }
        });
        let strangers: Vec<_> =
            futures::future::join_all((0..2).map(|_| tokio::net::TcpStream::connect(addr.clone())))
                .await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut config = worker_config("late", &addr);
        config.attempts = 6; // 100 + 200 + 400 + ... ms: past the strangers' 300 ms
        let jobs = worker::run(&config).await.expect("retried past busy");
        assert_eq!(jobs, 2);
        let report = run.await.expect("no panic");
        assert!(report.turned_away >= 1, "{report:?}");
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
}
