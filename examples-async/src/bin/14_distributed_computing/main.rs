//! # 14 · Distributed computing: a coordinator and worker processes over TCP that lose no job
//!
//! Upstream Python's pull protocol (`READY` / `JOB` / `RESULT`), made to survive what upstream
//! does not: a worker that dies mid-job, hangs, lies or sends garbage, a worker started before its
//! coordinator, a burst of strangers, a coordinator that never exits. One binary, three roles:
//! - `coordinator --addr ADDR --jobs N`: owns the queue, hands a job to each worker that asks,
//!   requeues the job of a worker that leaves or goes silent, recounts a sample of the answers,
//!   says `STOP` at the end. Exit 1 if a job failed `--max-attempts` times, or if no result came
//!   for `--patience-ms` (one line names the jobs left and why).
//! - `worker --connect ADDR`: says `HELLO`, pulls jobs until `STOP`; the job is real work with a
//!   checkable answer, counting the primes in a range. `ERROR busy` is retried within `--attempts`.
//! - no subcommand: the demo, below. A coordinator in this process and `--workers 3` worker
//!   *processes* of this same binary; with `--crash-worker`, worker-2 dies mid-job and another
//!   worker does its job. The children log into this terminal on this process's clock.
//! - `--broker [URL]` on any role: the same jobs through Redis Streams ([`broker`]).
//!
//! Read in this order: [`protocol`] (the messages, one table, and why lines and a `HELLO`), this
//! file, [`coordinator`] (one task per connection sharing one [`board`]), [`session`] (one worker's
//! conversation and its timeouts), [`checks`] (trust, but recount a sample), [`worker`] (counting
//! on `spawn_blocking`), [`broker`] (opens with the map: what we built by hand = which Redis
//! command). Figures and summary: [`report`]; flags: [`cli`]; the faults, one test each: `tests.rs`.
//!
//! The threads twin (`14_distributed_computing_threads`) speaks the same protocol over `std::net`:
//! either coordinator serves either worker (`--worker-bin`). By hand, in three terminals: the book,
//! "Running 14 by hand". Seed: "Asynchrony" > Examples (distributed computing). Upstream:
//! `src/python/asynchrony/distributed_computing.py`, `src/js/asynchrony/14_distributed_computing.js`.
//!
//! Output of a real run: docs/output/14_distributed_computing.txt

mod board;
mod broker;
mod checks;
mod cli;
mod coordinator;
mod protocol;
mod report;
mod session;
mod worker;

use std::process::{Command, ExitCode, ExitStatus};
use std::time::Duration;

use anyhow::{Context, bail};
use common::children::ChildGuard;
use common::init_logging;
use tokio::net::TcpListener;
use tokio::time::sleep;
use tracing::{Instrument, info, info_span};

use cli::{Cli, Demo, Role, Work};
use coordinator::Coordinator;

/// The demo gives up (and kills its workers) rather than hang, whatever goes wrong.
const DEMO_DEADLINE: Duration = Duration::from_secs(20);
/// After `STOP`, how long the demo waits for its workers to exit by themselves.
const EXIT_GRACE: Duration = Duration::from_secs(2);
/// Which demo worker crashes with `--crash-worker`.
const VICTIM: u32 = 2;

// One thread: the coordinator waits on sockets, which a single thread does for any number of
// connections. The counting in a worker runs on the blocking pool, off this thread.
#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<ExitCode> {
    let cli: Cli = common::parse_args();
    cli::check(&cli);
    init_logging();
    match cli.role {
        Some(Role::Coordinator {
            addr,
            broker,
            jobs,
            min_workers,
            work,
        }) => match (addr, broker.broker.clone()) {
            (_, Some(url)) => {
                let config = cli::broker_coordinator(url, broker, jobs, min_workers, work);
                one_line_errors(broker::coordinator(config).await)
            }
            (addr, None) => {
                let addr = addr.expect("cli::check requires --addr without --broker");
                let patience = Duration::from_millis(broker.patience_ms);
                coordinator_role(&addr, jobs, min_workers, work, patience).await
            }
        },
        Some(Role::Worker {
            connect,
            broker,
            name,
            attempts,
            crash_on_job,
            hang_on_job,
            lie,
        }) => {
            let name = name.unwrap_or_else(|| format!("worker-{}", std::process::id()));
            // Every line of this process says `[<name>]` (the demo names its children already):
            // the demo's workers share its terminal, and this tells their lines apart.
            common::logging::set_process_name(&name);
            let Some(url) = broker.broker.clone() else {
                let config = worker::Config {
                    connect: connect.expect("cli::check requires --connect without --broker"),
                    name,
                    attempts,
                    crash_on_job,
                    hang_on_job,
                    lie,
                };
                // One line, not a backtrace: "could not connect ... is a coordinator running?"
                return one_line_errors(worker::run(&config).await.map(|_| ExitCode::SUCCESS));
            };
            let config = cli::broker_worker(url, broker, name.clone(), crash_on_job, hang_on_job);
            let run = broker::worker(config).instrument(info_span!("worker", name = %name));
            one_line_errors(run.await.map(|()| ExitCode::SUCCESS))
        }
        None => match cli.demo.broker.clone() {
            Some(url) => one_line_errors(broker::demo(cli::broker_demo(&cli.demo, url)).await),
            None => demo(cli.demo).await.map(|()| ExitCode::SUCCESS),
        },
    }
}

/// An error of a role (no coordinator, Redis unreachable, a run that never finishes) is one line
/// and exit 1.
fn one_line_errors(result: anyhow::Result<ExitCode>) -> anyhow::Result<ExitCode> {
    Ok(result.unwrap_or_else(|e| {
        eprintln!("error: {e:#}");
        ExitCode::FAILURE
    }))
}

/// The coordinator as a process of its own: exit 0 when every job is done with an answer that
/// passed the checks, 1 when some job failed for good or the run gave up.
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
    let config = cli::coordinator_config(jobs, min_workers, work, patience);
    let report = Coordinator::new(config).run(listener).await;
    // No recount of everything (longer than the run itself): a sample was recounted as it came.
    report::print_summary(&report, &work, jobs, None);
    Ok(report::exit_code(&report))
}

async fn demo(demo: Demo) -> anyhow::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?.to_string();
    let config = cli::coordinator_config(demo.jobs, demo.workers, demo.work, DEMO_DEADLINE);
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
    // coordinator, and a worker that reads end-of-stream without `STOP` exits 1. Each child logs
    // on this process's clock, under its name (`ChildGuard` sets both).
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

    let run = coordinator.run(listener);
    tokio::pin!(run);
    let deadline = sleep(DEMO_DEADLINE);
    tokio::pin!(deadline);
    let report = tokio::select! {
        report = &mut run => report,
        () = all_exited(&mut children) => {
            // Workers exit on `STOP`, which the coordinator sends before it wraps up: once every
            // job is settled its report is on its way, however slowly a busy machine delivers it.
            if !coordinator.board().is_finished() {
                let report = coordinator.report();
                bail!("every worker exited with jobs left ({}/{} done)", report.done.len(), report.total)
            }
            tokio::select! {
                report = &mut run => report,
                () = &mut deadline => bail!("the demo did not finish within {DEMO_DEADLINE:?}"),
            }
        }
        () = &mut deadline => bail!("the demo did not finish within {DEMO_DEADLINE:?}"),
    };

    // Every worker was told STOP: give them a moment to exit, then the guards kill the rest.
    let exits = wait_for_exits(&mut children, EXIT_GRACE).await;
    let unexpected = report::exits(&children, &exits, demo.crash_worker.then_some(VICTIM));
    drop(children);

    // The demo counts everything once more, alone, off the runtime thread: the speed-up's baseline.
    let (jobs, job_size) = (demo.jobs, demo.work.job_size);
    let local = tokio::task::spawn_blocking(move || report::count_locally(jobs, job_size));
    let (local_primes, local_time) = local.await.context("the local count panicked")?;
    report::print_summary(&report, &demo.work, demo.jobs, Some(local_primes));
    report::print_speed_up(&report, demo.workers, local_time);
    report::check(&report, local_primes, &unexpected)
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

#[cfg(test)]
mod tests;
