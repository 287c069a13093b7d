//! The command line of 14: three roles (coordinator, worker, the demo), their flags, and the
//! checks clap cannot make alone. `--help` on each role lists its flags; the demo takes the work
//! flags (`--job-size 400000` numbers per job, `--job-timeout-ms 3000`, `--max-attempts 3`,
//! `--max-peers 64`, `--check-percent 10`, `--seed 14`) and `--worker-bin PATH` to start its
//! workers from another binary (the twin's: `target/debug/14_distributed_computing_threads` or
//! `target/debug/14_distributed_computing`). Both twins compile this one file. The worker role has
//! three faults to try: `--crash-on-job N` (exit in the middle of its n-th job), `--hang-on-job ID`
//! (never answer that job: a poison job) and `--lie` (answer every job off by one).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, CommandFactory, Parser, Subcommand};

use crate::{broker, checks, coordinator, protocol};

#[derive(Parser, Debug)]
#[command(
    about = concat!(
        "14 · Distributed computing (",
        env!("CARGO_CRATE_NAME"),
        "): a coordinator hands prime-counting jobs to worker processes over TCP; a worker that \
         crashes, hangs, lies or talks nonsense loses no job. No subcommand: a self-contained demo."
    ),
    long_about = None,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub role: Option<Role>,
    #[command(flatten)]
    pub demo: Demo,
}

#[derive(Subcommand, Debug)]
pub enum Role {
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
pub struct Demo {
    /// How many worker processes the demo starts.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=16))]
    pub workers: u32,
    /// How many jobs the demo runs.
    #[arg(long, default_value_t = 12, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub jobs: u32,
    /// Make worker-2 exit abruptly in the middle of its first job (needs 2 or more workers).
    #[arg(long)]
    pub crash_worker: bool,
    /// Start the workers from this executable instead of this one (e.g. the threads twin).
    #[arg(long, value_name = "PATH")]
    pub worker_bin: Option<PathBuf>,
    /// Broker mode: the jobs go through Redis Streams. Alone, the demo starts a throwaway
    /// redis-server from PATH; with a URL (redis://HOST:PORT) it uses that one.
    #[arg(long, value_name = "URL", num_args = 0..=1, default_missing_value = "")]
    pub broker: Option<String>,
    /// Broker mode: kill the coordinator after the first result and start a new one, which
    /// finishes the run from what is in Redis.
    #[arg(long, requires = "broker")]
    pub restart_coordinator: bool,
    /// Broker mode: every worker takes this job and never answers it; it lands in the
    /// dead-letter stream after --max-attempts deliveries.
    #[arg(long, value_name = "ID", requires = "broker", value_parser = clap::value_parser!(u32).range(1..))]
    pub poison_job: Option<u32>,
    #[command(flatten)]
    pub work: Work,
}

/// The broker mode's flags on the coordinator and worker roles.
#[derive(Args, Debug, Clone)]
pub struct BrokerRole {
    /// Broker mode: go through Redis Streams at this URL (redis://HOST:PORT) instead of TCP.
    #[arg(long, value_name = "URL")]
    pub broker: Option<String>,
    /// Broker mode: the run's name; every Redis key of the run starts with `dist14:<run-id>:`.
    #[arg(long, default_value = "run1", value_parser = parse_name, requires = "broker")]
    pub run_id: String,
    /// Coordinator (both modes): give up after this long without a new result (exit 1).
    #[arg(long, default_value_t = 60_000, value_parser = clap::value_parser!(u64).range(100..))]
    pub patience_ms: u64,
    /// Broker mode, coordinator: recount every prime at the end and compare.
    #[arg(long)]
    pub verify: bool,
    /// Broker mode, worker: jobs taken per read and recorded in one step (the prefetch: fewer
    /// round trips per job, but a killed worker holds up to this many until the job timeout).
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=broker::MAX_BATCH as i64))]
    pub batch: u32,
    /// Broker mode, worker: record every batch twice, as a client that lost the reply and retried
    /// would (each result must still count once).
    #[arg(long)]
    pub record_twice: bool,
}

/// The size of the work and the patience of the coordinator, shared by the demo and the coordinator.
#[derive(Args, Debug, Clone, Copy)]
pub struct Work {
    /// Numbers per job (each job counts the primes in a range this long).
    #[arg(long, default_value_t = 400_000, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    pub job_size: u64,
    /// A worker silent this long after getting a job loses it (the job is requeued).
    #[arg(long, default_value_t = 3000, value_parser = clap::value_parser!(u64).range(10..=3_600_000))]
    pub job_timeout_ms: u64,
    /// A job given out this many times without an accepted answer is reported failed.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub max_attempts: u32,
    /// Connections served at once; a newcomer past it hears `ERROR busy` and is closed.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub max_peers: u32,
    /// Share of results (in %) recounted by the coordinator, besides each worker's first.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(0..=100))]
    pub check_percent: u32,
    /// Seed of the sample of results to recount.
    #[arg(long, default_value_t = 14)]
    pub seed: u64,
}

/// Worker names go on the wire in `HELLO`: check them where the user types them.
pub fn parse_name(name: &str) -> Result<String, String> {
    let hello = format!("HELLO {} {name}", protocol::PROTOCOL);
    match hello.parse::<protocol::Message>() {
        Ok(_) => Ok(name.to_string()),
        Err(_) => Err("a name is 1-32 letters, digits, '-', '_' or '.'".into()),
    }
}

/// What clap cannot check alone, as one line and exit 2 like any bad flag: a coordinator needs
/// `--addr` or `--broker`, a worker `--connect` or `--broker` (clap's `required_unless_present`
/// names neither flag in its first line); a plan must stay within the protocol's numbers; a crash
/// needs a second worker to redo the job.
pub fn check(cli: &Cli) {
    let error = match &cli.role {
        Some(Role::Coordinator {
            addr: None, broker, ..
        }) if broker.broker.is_none() => missing("--addr <ADDR>"),
        Some(Role::Worker {
            connect: None,
            broker,
            ..
        }) if broker.broker.is_none() => missing("--connect <CONNECT>"),
        Some(Role::Coordinator { jobs, work, .. })
            if u64::from(*jobs) * work.job_size > protocol::MAX_END =>
        {
            "--jobs x --job-size must stay at or below 10^12 (the protocol's bound)".to_string()
        }
        None if cli.demo.crash_worker && cli.demo.workers < 2 => {
            "--crash-worker needs --workers 2 or more: someone must redo the job".to_string()
        }
        _ => return,
    };
    Cli::command()
        .error(clap::error::ErrorKind::ArgumentConflict, error)
        .exit();
}

fn missing(flag: &str) -> String {
    format!(
        "the following required arguments were not provided: {flag} (or --broker <URL> for the \
         broker mode)"
    )
}

/// The TCP coordinator's configuration: the jobs planned, the sample to recount picked.
pub fn coordinator_config(
    jobs: u32,
    min_workers: u32,
    work: Work,
    patience: Duration,
) -> coordinator::Config {
    let jobs = protocol::plan_jobs(jobs, work.job_size);
    coordinator::Config {
        job_timeout: Duration::from_millis(work.job_timeout_ms),
        hello_timeout: coordinator::HELLO_TIMEOUT,
        min_workers: min_workers as usize,
        max_attempts: work.max_attempts,
        max_peers: work.max_peers as usize,
        sample: checks::pick_sample(&jobs, work.check_percent, work.seed),
        patience,
        jobs,
    }
}

/// Broker mode, coordinator role.
pub fn broker_coordinator(
    url: String,
    role: BrokerRole,
    jobs: u32,
    min_workers: u32,
    work: Work,
) -> broker::CoordinatorConfig {
    broker::CoordinatorConfig {
        min_workers,
        url,
        keys: broker::Keys::new(&role.run_id),
        jobs,
        job_size: work.job_size,
        job_timeout: Duration::from_millis(work.job_timeout_ms),
        max_attempts: work.max_attempts,
        patience: Duration::from_millis(role.patience_ms),
        verify: role.verify,
    }
}

/// Broker mode, worker role.
pub fn broker_worker(
    url: String,
    role: BrokerRole,
    name: String,
    crash_on_job: Option<u32>,
    hang_on_job: Option<u32>,
) -> broker::WorkerConfig {
    broker::WorkerConfig {
        url,
        keys: broker::Keys::new(&role.run_id),
        name,
        batch: role.batch,
        record_twice: role.record_twice,
        crash_on_job,
        hang_on_job,
        wait_for_run: broker::WAIT_FOR_RUN,
    }
}

/// Broker mode, the demo (`url` empty: start a throwaway `redis-server`).
pub fn broker_demo(demo: &Demo, url: String) -> broker::DemoConfig {
    broker::DemoConfig {
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
    }
}
