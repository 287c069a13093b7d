//! # 11 · Barrier: five workers, three phases, nobody runs ahead
//!
//! Five workers do three phases of work each. A phase takes every worker a different, random time
//! (100-400 ms, drawn from a seeded generator so a run can be repeated with `--seed`). No worker may
//! start phase k+1 before all five have finished phase k: think of a simulation step that needs
//! every result of the previous step. Upstream uses 1-5 s per phase; the seconds are scaled down.
//!
//! What it shows:
//! - `tokio::sync::Barrier::new(5)`: each worker calls `barrier.wait().await` when it finishes a
//!   phase. The first four wait (their task yields; the thread stays free); the fifth arrival
//!   releases all five at once. The barrier resets itself, so the same one serves every phase.
//! - **Arrival order and the leader** of each phase: exactly one `wait()` per phase returns a result
//!   with `is_leader() == true`, the natural place for once-per-phase work (here: announcing the next
//!   phase). In tokio it is the last to arrive; the docs only promise "one, arbitrary".
//! - The phase rule is **checked from a journal** (`journal.rs`) of timestamped start/finish records.
//! - **What the barrier costs:** each phase lasts as long as its slowest worker, so the run takes
//!   the sum of the per-phase maxima, more than the slowest worker's own total. Both are printed.
//! - No timeout: tokio's `Barrier` has none and no "broken" state (Python's has both), and a `wait()`
//!   dropped by `tokio::time::timeout` still counts as arrived, releasing one worker early. A worker
//!   that can fail should report through a channel, not leave the barrier short. And unlike upstream
//!   JS, nothing "continues to phase 4" after the last phase.
//!
//! Seed: "Asynchrony" > Futures and Asyncio Tasks (tasks waiting on each other). Upstream:
//! `src/python/asynchrony/barrier.py`, `src/js/asynchrony/11_barrier.js`,
//! `src/cpp/asynchrony/async_barrier.cpp`. Threads twin: `examples-threads/src/bin/11_barrier_threads/`.
//! Beside this lesson: `journal.rs`, `report.rs` (ideals, names, the summary), `tests.rs`.
//!
//! Run: `cargo run -p examples-async --bin 11_barrier` (about 1 s); `-- --seed 7` for other work times.
//!
//! Output of a real run: `docs/output/11_barrier.txt`.

mod journal;
mod report;

use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use common::{fmt_duration, init_logging, out, parse_args, time_async};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::Barrier;
use tokio::task::JoinHandle;
use tokio::time::sleep;
use tracing::info;

use journal::{Journal, Kind, Run};
use report::{ordinal, summary_lines};

const WORKERS: usize = 5;
const PHASES: usize = 3;
/// The range of one phase of one worker's work, in milliseconds (upstream: 1-5 s).
const WORK_MS: std::ops::RangeInclusive<u64> = 100..=400;

/// Five workers, three phases, one tokio::sync::Barrier: no worker starts a phase before all have
/// finished the previous one.
#[derive(Parser, Debug)]
#[command(
    about = "11 · Barrier: 5 tasks x 3 phases of random work with tokio::sync::Barrier; nobody starts a phase before all finished the previous one",
    long_about = None
)]
struct Args {
    /// Seed of the random work times (the same seed gives the same run).
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

/// `work[w][p]`: how long worker `w` works in phase `p`. Drawn up front, so the workers and the
/// tests agree on it and the same seed gives the same run (`StdRng` is the same on every platform).
type Plan = Vec<[Duration; PHASES]>;

fn plan(seed: u64) -> Plan {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..WORKERS)
        .map(|_| std::array::from_fn(|_| Duration::from_millis(rng.random_range(WORK_MS))))
        .collect()
}

/// One worker: for each phase, work, record the finish, wait for the others.
async fn worker(id: usize, work: [Duration; PHASES], barrier: &Barrier, journal: &Journal) {
    for (index, work) in work.into_iter().enumerate() {
        let phase = index + 1;
        journal.record(id, phase, Kind::Start);
        info!(
            "worker-{id}: phase {phase} started ({} of work)",
            fmt_duration(work)
        );
        sleep(work).await;
        let arrived = journal.record(id, phase, Kind::Finish);
        info!(
            "worker-{id}: finished phase {phase}, {} of {WORKERS} at the barrier",
            ordinal(arrived)
        );
        // The first four arrivals wait here without holding the thread; the fifth releases them all.
        if barrier.wait().await.is_leader() {
            journal.record_leader(phase, id);
            if phase < PHASES {
                info!(
                    "worker-{id}: leader of phase {phase}: all {WORKERS} arrived, phase {} may start",
                    phase + 1
                );
            } else {
                info!(
                    "worker-{id}: leader of phase {phase}: all {WORKERS} arrived, all {PHASES} phases done"
                );
            }
        }
    }
}

/// Runs the five workers to the end and returns the journal.
async fn run_phases(plan: &Plan) -> anyhow::Result<Run> {
    // One barrier for all phases: after releasing a generation it starts counting again from zero.
    let barrier = Arc::new(Barrier::new(WORKERS));
    let journal = Arc::new(Journal::new());
    let mut workers: Vec<JoinHandle<()>> = Vec::new();
    for (index, work) in plan.iter().enumerate() {
        let id = index + 1;
        let (work, barrier, journal) = (*work, Arc::clone(&barrier), Arc::clone(&journal));
        workers.push(tokio::spawn(async move {
            worker(id, work, &barrier, &journal).await
        }));
    }
    for handle in workers {
        // A panicked worker comes back as an error. (The others would wait at the barrier forever:
        // another reason a failing worker must report, not vanish.)
        handle.await?;
    }
    let events = journal
        .events
        .lock()
        .expect("no one panics holding the journal")
        .clone();
    let leaders = journal
        .leaders
        .lock()
        .expect("no one panics holding the journal")
        .clone();
    Ok(Run { events, leaders })
}

// One thread is enough: a task waiting at the barrier yields, and the thread runs the others.
#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Args = parse_args();
    init_logging();

    let plan = plan(args.seed);
    info!(
        "seed {}: {WORKERS} workers x {PHASES} phases of {}-{} ms each",
        args.seed,
        WORK_MS.start(),
        WORK_MS.end()
    );
    let (run, took) = time_async(run_phases(&plan)).await;
    let run = run?;
    run.check()
        .map_err(|e| anyhow::anyhow!("the barrier let a worker run ahead: {e}"))?;

    out!();
    out!("Summary");
    for line in summary_lines(&plan, &run, took) {
        out!("  {line}");
    }
    Ok(())
}

#[cfg(test)]
mod tests;
