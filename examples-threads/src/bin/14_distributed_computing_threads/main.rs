//! # 14 · Distributed computing, with threads: the same coordinator and workers on `std::net`
//!
//! The scenario, roles, flags and wire protocol of `examples-async/src/bin/14_distributed_computing/`
//! (its `main.rs` header tells the story), with blocking sockets and OS threads: either
//! coordinator serves either kind of worker (`--worker-bin`; a run test proves it both ways).
//! One binary, three roles: `coordinator --addr ADDR --jobs N` (exit 1 if a job failed
//! `--max-attempts` times or no result came for `--patience-ms`), `worker --connect ADDR`, and,
//! with no subcommand, the demo below: a coordinator here, `--workers 3` worker *processes* of
//! this binary, `--crash-worker` to kill worker-2 mid-job. `--broker [URL]`: Redis ([`broker`]).
//!
//! What differs from the async twin, each told in its module: framing by hand over a blocking
//! socket ([`lines`]); one OS thread per connection, a `Condvar` for a free worker to sleep on,
//! and a coordinator that connects to itself to wake its blocked `accept()` ([`coordinator`]);
//! timeouts as socket options, a read in slices of one heartbeat ([`session`]); a worker that
//! listens while it counts with three threads and a channel ([`worker`]); and here, the demo
//! waiting for the report on a channel with `recv_timeout`, checking its worker processes between
//! tries (async: `tokio::select!` over the run, the children and a deadline).
//!
//! Read in this order: [`protocol`] (the one table of messages), this file, [`coordinator`],
//! [`board`], [`session`], [`checks`], [`worker`], [`broker`] (opens with the map: built by hand =
//! which Redis command). `protocol`, `report`, `cli`: the async twin's files. Faults: `tests.rs`.
//!
//! Seed: "Asynchrony" > Examples (distributed computing), "Asynchrony vs Multithreading". Upstream:
//! `src/cpp/asynchrony/distributed_computing.cpp` (an echo server: no job reaches a worker).
//!
//! Output of a real run: docs/output/14_distributed_computing_threads.txt

mod board;
mod broker;
mod checks;
// The async twin's files, not copies: both binaries take the same flags, speak the very same
// messages (so either kind of worker serves either coordinator) and print the same summary.
#[path = "../../../../examples-async/src/bin/14_distributed_computing/cli.rs"]
mod cli;
mod coordinator;
mod lines;
#[path = "../../../../examples-async/src/bin/14_distributed_computing/protocol.rs"]
mod protocol;
#[path = "../../../../examples-async/src/bin/14_distributed_computing/report.rs"]
mod report;
mod session;
mod worker;

use std::net::TcpListener;
use std::process::{Command, ExitCode, ExitStatus};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use common::children::ChildGuard;
use common::init_logging;
use tracing::{info, info_span};

use cli::{Cli, Demo, Role, Work};
use coordinator::Coordinator;

/// The demo gives up (and kills its workers) rather than hang, whatever goes wrong.
const DEMO_DEADLINE: Duration = Duration::from_secs(20);
/// After `STOP`, how long the demo waits for its workers to exit by themselves.
const EXIT_GRACE: Duration = Duration::from_secs(2);
/// Which demo worker crashes with `--crash-worker`.
const VICTIM: u32 = 2;

fn main() -> anyhow::Result<ExitCode> {
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
                one_line_errors(broker::coordinator(config))
            }
            (addr, None) => {
                let addr = addr.expect("cli::check requires --addr without --broker");
                let patience = Duration::from_millis(broker.patience_ms);
                coordinator_role(&addr, jobs, min_workers, work, patience)
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
                return one_line_errors(worker::run(&config).map(|_| ExitCode::SUCCESS));
            };
            let config = cli::broker_worker(url, broker, name.clone(), crash_on_job, hang_on_job);
            let span = info_span!("worker", name = %name);
            one_line_errors(span.in_scope(|| broker::worker(config).map(|()| ExitCode::SUCCESS)))
        }
        None => match cli.demo.broker.clone() {
            Some(url) => one_line_errors(broker::demo(cli::broker_demo(&cli.demo, url))),
            None => demo(cli.demo).map(|()| ExitCode::SUCCESS),
        },
    }
}

/// A role's error (no coordinator, Redis unreachable, a run that never finishes): one line, exit 1.
fn one_line_errors(result: anyhow::Result<ExitCode>) -> anyhow::Result<ExitCode> {
    Ok(result.unwrap_or_else(|e| {
        eprintln!("error: {e:#}");
        ExitCode::FAILURE
    }))
}

/// The coordinator as a process of its own: exit 0 when every job is done with an answer that
/// passed the checks, 1 when some job failed for good or the run gave up.
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
    let config = cli::coordinator_config(jobs, min_workers, work, patience);
    let report = Coordinator::new(config).run(listener);
    // No recount of everything (longer than the run itself): a sample was recounted as it came.
    report::print_summary(&report, &work, jobs, None);
    Ok(report::exit_code(&report))
}

fn demo(demo: Demo) -> anyhow::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
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

    // Each guard kills and reaps its process when dropped (an early `?`, a panic, a worker that
    // did not exit). Killed outright, this process leaves workers that read end-of-stream without
    // `STOP` and exit 1. Each child logs on this clock, under its name (`ChildGuard` sets both).
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

    // The coordinator runs on its own thread; this one checks the workers and the deadline.
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
            // Workers exit on `STOP`, before the coordinator wraps up: all settled? Wait for it.
            if coordinator.board().finished {
                let left = DEMO_DEADLINE.saturating_sub(started.elapsed());
                break report_rx.recv_timeout(left).context("no report in time")?;
            }
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
    let unexpected = report::exits(&children, &exits, demo.crash_worker.then_some(VICTIM));
    drop(children);

    // The demo does count everything once more, alone: that is the baseline of its speed-up.
    let (local_primes, local_time) = report::count_locally(demo.jobs, demo.work.job_size);
    report::print_summary(&report, &demo.work, demo.jobs, Some(local_primes));
    report::print_speed_up(&report, demo.workers, local_time);
    report::check(&report, local_primes, &unexpected)
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

#[cfg(test)]
mod tests;
