//! # 14 · Distributed computing, with threads: the same coordinator and workers on `std::net`
//!
//! The scenario, roles, flags and wire protocol of
//! `examples-async/src/bin/14_distributed_computing/`, with blocking sockets and OS threads: either
//! coordinator serves either kind of worker (`--worker-bin` below; a run test proves it both ways).
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
//! The same defences as the async twin (its header has the list): `TCP_NODELAY` and one write for
//! `RESULT` + `READY` (no 44 ms Nagle stall per job), `BEAT`s from the coordinator and a worker
//! that gives up after 2 s of silence, `--max-peers` (here it bounds *threads*), `--max-attempts`
//! for a poison job, `--min-workers` counting the workers connected now, bounded `JOB` ranges,
//! and each worker's first answer plus a seeded sample recounted as they arrive.
//!
//! `--broker [URL]` on any of the three roles is the broker mode ([`broker`]): the same jobs
//! through Redis Streams, here with the `redis` crate's blocking connection (a read and write
//! timeout on it: a deadline on every reply). The async twin's header and the README section
//! "Beyond one machine: 14 on Redis" tell the rest; the two `broker.rs` diff line by line.
//!
//! What differs from the async twin, and why:
//! - **Framing by hand** ([`lines`]): `tokio-util`'s codecs work on async streams, so the rules of
//!   `LinesCodec::new_with_max_length` are written out for a blocking socket: a line ends at `\n`,
//!   is at most 256 bytes, is UTF-8. The protocol file is the async one, compiled in with `#[path]`.
//! - **One OS thread per connection** (`conn-1`, `conn-2`, ... in the thread column), blocked in
//!   `read` most of the time; a free worker's thread sleeps on a `Condvar` (async: `Notify`).
//! - **Timeouts are socket options** (`set_read_timeout`, recomputed from a deadline before each
//!   read) instead of `tokio::time::timeout` around a future. Waiting for a `RESULT` while saying
//!   `BEAT` is a read in slices of one heartbeat (the framing keeps a half-read line between them);
//!   a parked worker's thread waits on the `Condvar` with a timeout, to beat.
//! - **The worker listens while it counts** with three threads: a reader turns lines into events
//!   on a channel, a counting thread sends its answer on the same channel, and the worker's thread
//!   waits on it with `recv_timeout` (async: `select!` over `spawn_blocking` and the socket).
//! - **Stopping the accept loop** needs a trick: `accept()` blocks and cannot be cancelled, so the
//!   coordinator connects to itself once to wake it (async: it stops polling the accept future).
//! - The demo waits for the coordinator's report on a channel with `recv_timeout`, checking the
//!   worker processes between tries (async: `tokio::select!` over the run, the children, a deadline).
//!
//! Seed: "Asynchrony" > Examples (distributed computing), "Asynchrony vs Multithreading".
//! Upstream: `src/cpp/asynchrony/distributed_computing.cpp` (an echo server: no job ever reaches a
//! worker), `src/python/asynchrony/distributed_computing.py`,
//! `src/js/asynchrony/14_distributed_computing.js`.
//!
//! Run the demo (about 2 s on an idle machine): `cargo run -p examples-threads --bin 14_distributed_computing_threads`
//! Flags: `--workers 3`, `--jobs 12`, `--crash-worker`, `--job-size 400000` (numbers per job),
//! `--job-timeout-ms 3000`, `--max-attempts 3`, `--max-peers 64`, `--check-percent 10`,
//! `--seed 14`, `--worker-bin PATH` (start the workers from another binary, e.g.
//! `target/debug/14_distributed_computing`). The coordinator role takes the same, plus
//! `--min-workers 1`; the worker role takes `--name`, `--attempts 5`, and three faults to try:
//! `--crash-on-job N`, `--hang-on-job ID` (a poison job) and `--lie`.
//!
//! By hand, in three terminals (or on three machines, with the coordinator's address; see the
//! README section "Running 14 by hand"):
//!
//! ```text
//! cargo run -p examples-threads --bin 14_distributed_computing_threads -- coordinator --addr 127.0.0.1:7878 --jobs 12
//! cargo run -p examples-threads --bin 14_distributed_computing_threads -- worker --connect 127.0.0.1:7878
//! cargo run -p examples-async --bin 14_distributed_computing -- worker --connect 127.0.0.1:7878
//! ```
//!
//! The output of `--crash-worker` will look similar to this (a worker's time column counts from its
//! own start; lines from different processes interleave; this run shared two cores with other
//! builds, hence the slow counts):
//!
//! ```text
//!   0.008s  INFO [conn-1] worker-1 joined from 127.0.0.1:37946
//!   0.008s  INFO [conn-2] worker-3 joined from 127.0.0.1:37962
//!   0.008s  INFO [conn-3] worker-2 joined from 127.0.0.1:37974
//!   0.008s  INFO [conn-1] dispatch job 1 [0, 400000) -> worker-1
//!   0.012s  INFO [conn-3] dispatch job 2 [400000, 800000) -> worker-2
//!   0.016s  INFO [conn-2] dispatch job 3 [800000, 1200000) -> worker-3
//!   0.288s  WARN [main] worker{name=worker-2}: job 2: crashing half-way on purpose (--crash-on-job), without a word
//!   0.316s  WARN [conn-3] requeue job 2 (worker-2: closed the connection in the middle of job 2)
//!   1.074s  INFO [conn-1] result job 1 from worker-1: 33860 primes (recounted: right)
//!   1.074s  INFO [conn-1] dispatch job 2 [400000, 800000) -> worker-1
//!   ...
//! Summary
//!   12/12 jobs done, 1 requeued, 0 lost
//!   checked 3 results by recounting them here (each worker's first, then a 10% sample, seed 14): all right
//!   primes below 4800000: 335439 from the workers, 335439 counted here: correct
//!   throughput: 12 jobs in 9368 ms from the first dispatch to the last result: 1 jobs/s
//!   jobs per worker: worker-1 6, worker-2 0, worker-3 6
//!   dropped 127.0.0.1:37974: worker-2: closed the connection in the middle of job 2
//!   one process counting alone 11.7 s | 3 workers 9368 ms | 1.25x, ideal 1.60x (3 workers, 2 cores, 25% of the work recounted by the coordinator): 78% of the ideal: close to it
//! ```

mod broker;
mod coordinator;
mod lines;
// The async twin's protocol file itself, not a copy: both binaries parse and print the very same
// messages, which is what lets a threads worker serve an async coordinator and the other way round.
#[path = "../../../../examples-async/src/bin/14_distributed_computing/protocol.rs"]
mod protocol;
mod worker;

use std::path::PathBuf;
use std::process::{Command, ExitCode, ExitStatus};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use clap::{Args, CommandFactory, Parser, Subcommand};
use common::children::ChildGuard;
use common::{Comparison, fmt_duration, init_logging};
use std::net::TcpListener;
use tracing::{info, info_span};

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
    about = "14 · Distributed computing, with threads: a coordinator hands prime-counting jobs to \
             worker processes over TCP (std::net, a thread per connection); a worker that crashes, \
             hangs, lies or talks nonsense loses no job. No subcommand: a self-contained demo.",
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

fn main() -> anyhow::Result<ExitCode> {
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
            one_line_errors(broker::coordinator(config))
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
            coordinator_role(&addr, jobs, min_workers, work, patience)
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
            let span = info_span!("worker", name = %name);
            one_line_errors(span.in_scope(|| broker::worker(config).map(|()| ExitCode::SUCCESS)))
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
            match worker::run(&config) {
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
                return one_line_errors(broker::demo(config));
            }
            demo(cli.demo).map(|()| ExitCode::SUCCESS)
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
fn coordinator_role(
    addr: &str,
    jobs: u32,
    min_workers: u32,
    work: Work,
    patience: Duration,
) -> anyhow::Result<ExitCode> {
    let listener = TcpListener::bind(addr).with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener.local_addr()?;
    info!(
        "listening on {local} with {jobs} jobs; start workers with: \
         cargo run -p examples-threads --bin 14_distributed_computing_threads -- worker --connect {local}"
    );
    let config = coordinator_config(jobs, min_workers, work, patience);
    let report = Coordinator::new(config).run(listener);
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

fn demo(demo: Demo) -> anyhow::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
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

    // The coordinator runs on its own thread and sends its report when done. Meanwhile this thread
    // checks, between short waits, that some worker is still alive and that the deadline holds.
    let (report_tx, report_rx) = mpsc::channel();
    let me = coordinator.clone();
    thread::Builder::new()
        .name("coordinator".into())
        .spawn(move || {
            let _ = report_tx.send(me.run(listener));
        })
        .context("cannot start the coordinator thread")?;
    let started = Instant::now();
    let report = loop {
        match report_rx.recv_timeout(Duration::from_millis(50)) {
            Ok(report) => break report,
            Err(mpsc::RecvTimeoutError::Disconnected) => bail!("the coordinator thread panicked"),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        if all_exited(&mut children) {
            let report = coordinator.report();
            bail!(
                "every worker exited with jobs left ({}/{} done)",
                report.done.len(),
                report.total
            )
        }
        if started.elapsed() > DEMO_DEADLINE {
            bail!("the demo did not finish within {DEMO_DEADLINE:?}");
        }
    };

    // Every worker was told STOP: give them a moment to exit, then the guards kill the rest.
    let exits = wait_for_exits(&mut children, EXIT_GRACE);
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
    let (local_primes, local_time) = count_locally(demo.jobs, demo.work.job_size);
    print_summary(&report, &demo.work, demo.jobs, Some(local_primes));
    let cores = thread::available_parallelism().map_or(1, |n| n.get());
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

/// True once every child has exited (`try_wait` never blocks).
fn all_exited(children: &mut [ChildGuard]) -> bool {
    children
        .iter_mut()
        .all(|c| matches!(c.try_wait(), Ok(Some(_))))
}

/// Each child's exit status, or `None` for a child still running after `grace`.
fn wait_for_exits(children: &mut [ChildGuard], grace: Duration) -> Vec<Option<ExitStatus>> {
    let deadline = Instant::now() + grace;
    children
        .iter_mut()
        .map(|c| {
            let left = deadline.saturating_duration_since(Instant::now());
            c.wait_timeout(left).ok().flatten()
        })
        .collect()
}

/// The check: the same count done here, in one piece. Returns the count and how long it took.
fn count_locally(jobs: u32, job_size: u64) -> (u64, Duration) {
    let end = u64::from(jobs) * job_size;
    let (primes, took) = common::time(|| count_primes(0, end));
    info!(
        "local check: {primes} primes below {end} ({})",
        fmt_duration(took)
    );
    (primes, took)
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
    //! The faults, one test each, with the coordinator and workers as threads of this process over
    //! real loopback TCP. Lower bounds on time are exact (a timeout cannot fire early); upper
    //! bounds are generous, for a loaded 2-core machine.
    use super::*;
    use lines::Lines;
    use protocol::{Job, MAX_LINE, Message, PROTOCOL};
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
        config.hello_timeout = Duration::from_millis(300);
        let (_coordinator, addr, report) = start(config);
        let strangers: Vec<_> = (0..2)
            .map(|_| TcpStream::connect(&addr).expect("connect"))
            .collect();
        thread::sleep(Duration::from_millis(50));
        let mut config = worker_config("late", &addr);
        config.attempts = 6; // 100 + 200 + 400 + ... ms: past the strangers' 300 ms
        let jobs = worker::run(&config).expect("retried past busy");
        assert_eq!(jobs, 2);
        let report = report.recv_timeout(PATIENCE).expect("the run ends");
        assert!(report.turned_away >= 1, "{report:?}");
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
}
