//! # 11 · Barrier, with threads: five workers, three phases, nobody runs ahead
//!
//! The same five workers as the async twin, here five named OS threads: three phases of random work
//! each (100-400 ms, seeded, `--seed`), and no worker may start phase k+1 before all five have
//! finished phase k.
//!
//! What it shows:
//! - `std::sync::Barrier::new(5)`: each thread calls `barrier.wait()` when it finishes a phase. The
//!   first four block (asleep in the kernel, not spinning); the fifth arrival wakes them all. The
//!   barrier resets itself, so the same one serves every phase.
//! - **Arrival order and the leader** of each phase: exactly one `wait()` per phase returns
//!   `is_leader() == true` (in std it is the last to arrive; the docs only promise one).
//! - The phase rule is **checked from a journal** (`journal.rs`) of timestamped start/finish records.
//! - **What the barrier costs:** each phase lasts as long as its slowest worker.
//! - After the last phase nobody "continues to phase 4" (upstream JS does).
//!
//! What differs from the async twin, and why:
//! - A waiting worker is a **blocked thread**: it keeps its stack and its kernel thread while it
//!   waits. A waiting task in the async twin is a small state machine the runtime does not poll.
//!   Five of either cost nothing worth measuring; ten thousand threads would.
//! - std's `Barrier` has no timeout either (C++20's `std::barrier` and Python's have other
//!   features: `arrive_and_drop`, a broken state). A thread that panics before `wait()` leaves the
//!   others blocked forever, so a failing worker must report, not vanish.
//!
//! Seed: "Asynchrony" > "Asynchrony vs Multithreading". Upstream: `src/cpp/asynchrony/async_barrier.cpp`
//! (C++20 `std::barrier`), `src/python/multithreading/barrier.py`, `src/python/asynchrony/barrier.py`.
//! Async twin: `examples-async/src/bin/11_barrier/`. Beside this lesson: `journal.rs`, `report.rs`.
//!
//! Run: `cargo run -p examples-threads --bin 11_barrier_threads` (about 1 s); `-- --seed 7` for others.
//! Output of a real run: `docs/output/11_barrier_threads.txt`.

mod journal;
mod report;

use std::sync::{Arc, Barrier};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use clap::Parser;
use common::{fmt_duration, init_logging, out, parse_args, time};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tracing::info;

use journal::{Journal, Kind, Run};
use report::{ordinal, summary_lines};

const WORKERS: usize = 5;
const PHASES: usize = 3;
/// The range of one phase of one worker's work, in milliseconds (upstream: 1-5 s).
const WORK_MS: std::ops::RangeInclusive<u64> = 100..=400;

/// Five worker threads, three phases, one std::sync::Barrier: no worker starts a phase before all
/// have finished the previous one.
#[derive(Parser, Debug)]
#[command(
    about = "11 · Barrier, with threads: 5 threads x 3 phases of random work with std::sync::Barrier; nobody starts a phase before all finished the previous one",
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
fn worker(id: usize, work: [Duration; PHASES], barrier: &Barrier, journal: &Journal) {
    for (index, work) in work.into_iter().enumerate() {
        let phase = index + 1;
        journal.record(id, phase, Kind::Start);
        info!(
            "worker-{id}: phase {phase} started ({} of work)",
            fmt_duration(work)
        );
        thread::sleep(work);
        let arrived = journal.record(id, phase, Kind::Finish);
        info!(
            "worker-{id}: finished phase {phase}, {} of {WORKERS} at the barrier",
            ordinal(arrived)
        );
        // The first four arrivals block here, asleep in the kernel; the fifth wakes them all.
        if barrier.wait().is_leader() {
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

/// Runs the five worker threads to the end and returns the journal.
fn run_phases(plan: &Plan) -> anyhow::Result<Run> {
    // One barrier for all phases: after releasing a generation it starts counting again from zero.
    let barrier = Arc::new(Barrier::new(WORKERS));
    let journal = Arc::new(Journal::new());
    let mut workers: Vec<JoinHandle<()>> = Vec::new();
    for (index, work) in plan.iter().enumerate() {
        let id = index + 1;
        let (work, barrier, journal) = (*work, Arc::clone(&barrier), Arc::clone(&journal));
        workers.push(
            thread::Builder::new()
                .name(format!("worker-{id}"))
                .spawn(move || worker(id, work, &barrier, &journal))?,
        );
    }
    for handle in workers {
        // A panicked worker comes back as an error. (The others would wait at the barrier forever:
        // another reason a failing worker must report, not vanish.)
        handle
            .join()
            .map_err(|_| anyhow::anyhow!("a worker thread panicked"))?;
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

fn main() -> anyhow::Result<()> {
    let args: Args = parse_args();
    init_logging();

    let plan = plan(args.seed);
    info!(
        "seed {}: {WORKERS} workers x {PHASES} phases of {}-{} ms each",
        args.seed,
        WORK_MS.start(),
        WORK_MS.end()
    );
    let (run, took) = time(|| run_phases(&plan));
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
