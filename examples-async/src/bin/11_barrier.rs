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
//! - The phase rule is **checked from a journal** of timestamped start/finish records, in `main` and
//!   in the tests: every start of phase k+1 comes after every finish of phase k.
//! - **What the barrier costs:** each phase lasts as long as its slowest worker, so the run takes
//!   the sum of the per-phase maxima, more than the slowest worker's own total. Both are printed.
//! - Unlike upstream JS, nothing claims to "continue to phase 4" after the last phase: the last
//!   barrier is where everyone finishes together.
//!
//! Python's example wraps `wait()` in a timeout. tokio's `Barrier` has no timeout and no "broken"
//! state, and a `wait()` dropped by `tokio::time::timeout` still counts as arrived: the barrier would
//! then release one worker early. So there is no timeout here; a worker that can fail should
//! report its failure through a channel instead of silently leaving the barrier short.
//!
//! Seed: "Asynchrony" > Futures and Asyncio Tasks (tasks waiting on each other). Upstream:
//! `src/python/asynchrony/barrier.py`, `src/js/asynchrony/11_barrier.js`,
//! `src/cpp/asynchrony/async_barrier.cpp`. Threads twin: `examples-threads/src/bin/11_barrier_threads.rs`.
//!
//! Run: `cargo run -p examples-async --bin 11_barrier` (about 1 s); `-- --seed 7` for other work
//! times.
//!
//! The output will look similar to this (the order depends on the seed):
//!
//! ```text
//!   0.000s  INFO [main] seed 42: 5 workers x 3 phases of 100-400 ms each
//!   0.000s  INFO [main] worker-1: phase 1 started (258 ms of work)
//!   ...
//!   0.105s  INFO [main] worker-4: finished phase 1, 1st of 5 at the barrier
//!   0.219s  INFO [main] worker-5: finished phase 1, 2nd of 5 at the barrier
//!   0.223s  INFO [main] worker-2: finished phase 1, 3rd of 5 at the barrier
//!   0.259s  INFO [main] worker-1: finished phase 1, 4th of 5 at the barrier
//!   0.331s  INFO [main] worker-3: finished phase 1, 5th of 5 at the barrier
//!   0.331s  INFO [main] worker-3: leader of phase 1: all 5 arrived, phase 2 may start
//!   0.331s  INFO [main] worker-3: phase 2 started (355 ms of work)
//!   ...
//!   1.006s  INFO [main] worker-1: leader of phase 3: all 5 arrived, all 3 phases done
//!
//! Summary
//!   phase 1: arrival order worker-4, worker-5, worker-2, worker-1, worker-3; leader worker-3; took 331 ms, ideal 321 ms (its slowest worker)
//!   ...
//!   checked: no worker started a phase before all 5 had finished the previous one; 1 leader per phase
//!   barrier run 1005 ms, ideal 992 ms (the slowest worker of each phase, summed)
//!   without the barrier the slowest worker would be done after 815 ms
//! ```

use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::Parser;
use common::{fmt_duration, init_logging, out, parse_args, time_async};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::Barrier;
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep};
use tracing::info;

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

/// What the barrier should make the run last: each phase as long as its slowest worker.
fn sum_of_slowest_per_phase(plan: &Plan) -> Duration {
    (0..PHASES)
        .map(|p| plan.iter().map(|w| w[p]).max().unwrap_or_default())
        .sum()
}

/// What the slowest worker would need on its own, with nobody to wait for.
fn slowest_worker_alone(plan: &Plan) -> Duration {
    plan.iter()
        .map(|w| w.iter().sum::<Duration>())
        .max()
        .unwrap_or_default()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Start,
    Finish,
}

/// One line of the journal. Workers and phases count from 1, as the log does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Event {
    worker: usize,
    phase: usize,
    kind: Kind,
    at: Duration,
}

/// Where every worker writes what it did, in the order it happened. A `std::sync::Mutex` is right
/// here (see 10_mutex): each push is a short critical section with no `.await` inside.
struct Journal {
    start: Instant,
    events: Mutex<Vec<Event>>,
    leaders: Mutex<Vec<(usize, usize)>>,
}

impl Journal {
    fn new() -> Journal {
        Journal {
            start: Instant::now(),
            events: Mutex::new(Vec::new()),
            leaders: Mutex::new(Vec::new()),
        }
    }

    /// Records an event; for a finish, returns how many workers have finished this phase so far
    /// (this one included): its place in the arrival order.
    fn record(&self, worker: usize, phase: usize, kind: Kind) -> usize {
        let mut events = self
            .events
            .lock()
            .expect("no one panics holding the journal");
        events.push(Event {
            worker,
            phase,
            kind,
            at: self.start.elapsed(),
        });
        events
            .iter()
            .filter(|e| e.phase == phase && e.kind == kind)
            .count()
    }

    fn record_leader(&self, phase: usize, worker: usize) {
        self.leaders
            .lock()
            .expect("no one panics holding the journal")
            .push((phase, worker));
    }
}

/// What a run left behind: the journal, in order, and the leader reported for each phase.
#[derive(Debug, Clone)]
struct Run {
    events: Vec<Event>,
    leaders: Vec<(usize, usize)>,
}

impl Run {
    /// Workers in the order they reached the barrier at the end of `phase`.
    fn arrival_order(&self, phase: usize) -> Vec<usize> {
        self.events
            .iter()
            .filter(|e| e.phase == phase && e.kind == Kind::Finish)
            .map(|e| e.worker)
            .collect()
    }

    fn leaders_of(&self, phase: usize) -> Vec<usize> {
        self.leaders
            .iter()
            .filter(|(p, _)| *p == phase)
            .map(|(_, w)| *w)
            .collect()
    }

    /// When the last worker finished `phase`, since the start.
    fn phase_end(&self, phase: usize) -> Duration {
        self.events
            .iter()
            .filter(|e| e.phase == phase && e.kind == Kind::Finish)
            .map(|e| e.at)
            .max()
            .unwrap_or_default()
    }

    /// The barrier's promise, checked from the journal: every worker started and finished every
    /// phase once, every start of phase k+1 comes after every finish of phase k (in the order the
    /// records were written, and by their timestamps), and each phase reported exactly one leader.
    fn check(&self) -> Result<(), String> {
        for phase in 1..=PHASES {
            for kind in [Kind::Start, Kind::Finish] {
                let mut workers: Vec<usize> = self
                    .events
                    .iter()
                    .filter(|e| e.phase == phase && e.kind == kind)
                    .map(|e| e.worker)
                    .collect();
                workers.sort_unstable();
                if workers != (1..=WORKERS).collect::<Vec<_>>() {
                    return Err(format!("phase {phase}: {kind:?} records from {workers:?}"));
                }
            }
            let leaders = self.leaders_of(phase);
            if leaders.len() != 1 {
                return Err(format!("phase {phase}: leaders {leaders:?}, expected one"));
            }
        }
        for phase in 1..PHASES {
            // (index in the journal, event) of every `kind` record of phase `p`, in journal order.
            let records = |kind, p| {
                self.events
                    .iter()
                    .enumerate()
                    .filter(move |(_, e)| e.phase == p && e.kind == kind)
            };
            let (last_finish, finish) = records(Kind::Finish, phase)
                .next_back()
                .ok_or(format!("phase {phase}: no finish"))?;
            let (first_start, start) = records(Kind::Start, phase + 1)
                .next()
                .ok_or(format!("phase {}: no start", phase + 1))?;
            if first_start < last_finish || start.at < finish.at {
                return Err(format!(
                    "worker-{} started phase {} at {:?}, before worker-{} finished phase {phase} at {:?}",
                    start.worker,
                    phase + 1,
                    start.at,
                    finish.worker,
                    finish.at
                ));
            }
        }
        Ok(())
    }
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

fn ordinal(n: usize) -> String {
    let suffix = match (n % 10, n % 100) {
        (1, 11) | (2, 12) | (3, 13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

fn names(workers: &[usize]) -> String {
    workers
        .iter()
        .map(|w| format!("worker-{w}"))
        .collect::<Vec<_>>()
        .join(", ")
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
    let mut previous_end = Duration::ZERO;
    for phase in 1..=PHASES {
        let end = run.phase_end(phase);
        let slowest = plan.iter().map(|w| w[phase - 1]).max().unwrap_or_default();
        out!(
            "  phase {phase}: arrival order {}; leader {}; took {}, ideal {} (its slowest worker)",
            names(&run.arrival_order(phase)),
            names(&run.leaders_of(phase)),
            fmt_duration(end.saturating_sub(previous_end)),
            fmt_duration(slowest)
        );
        previous_end = end;
    }
    out!(
        "  checked: no worker started a phase before all {WORKERS} had finished the previous one; 1 leader per phase"
    );
    out!(
        "  barrier run {}, ideal {} (the slowest worker of each phase, summed)",
        fmt_duration(took),
        fmt_duration(sum_of_slowest_per_phase(&plan))
    );
    out!(
        "  without the barrier the slowest worker would be done after {}",
        fmt_duration(slowest_worker_alone(&plan))
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    //! On the paused clock a phase lasts exactly as long as its slowest worker; the journal's order
    //! is the order things happened in, so the phase rule is checked exactly.
    use super::*;

    const SEEDS: [u64; 5] = [42, 1, 2, 3, 2024];

    #[tokio::test(start_paused = true)]
    async fn no_worker_starts_a_phase_before_all_finished_the_previous_one() {
        for seed in SEEDS {
            let run = run_phases(&plan(seed)).await.expect("no worker panics");
            assert_eq!(run.check(), Ok(()), "seed {seed}: {run:?}");
            for phase in 1..PHASES {
                let next_start = run
                    .events
                    .iter()
                    .filter(|e| e.phase == phase + 1 && e.kind == Kind::Start)
                    .map(|e| e.at)
                    .min()
                    .expect("phase has starts");
                assert!(next_start >= run.phase_end(phase), "seed {seed}");
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn exactly_one_leader_per_phase_and_every_worker_arrives_once() {
        for seed in SEEDS {
            let run = run_phases(&plan(seed)).await.expect("no worker panics");
            assert_eq!(run.leaders.len(), PHASES, "seed {seed}: {:?}", run.leaders);
            for phase in 1..=PHASES {
                assert_eq!(run.leaders_of(phase).len(), 1, "seed {seed} phase {phase}");
                let mut arrivals = run.arrival_order(phase);
                arrivals.sort_unstable();
                assert_eq!(arrivals, [1, 2, 3, 4, 5], "seed {seed} phase {phase}");
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_run_takes_exactly_the_slowest_worker_of_each_phase_summed() {
        for seed in SEEDS {
            let plan = plan(seed);
            let (run, took) = time_async(run_phases(&plan)).await;
            run.expect("no worker panics");
            assert_eq!(took, sum_of_slowest_per_phase(&plan), "seed {seed}");
            // Waiting costs something: the barrier run is never shorter than any worker alone.
            assert!(took >= slowest_worker_alone(&plan), "seed {seed}");
        }
    }

    #[test]
    fn the_check_catches_a_worker_that_runs_ahead() {
        // A hand-made journal: everyone works phase after phase, but worker-2 starts phase 2 before
        // worker-5 has finished phase 1.
        let mut events = Vec::new();
        let ms = Duration::from_millis;
        for phase in 1..=PHASES {
            let base = (phase as u64 - 1) * 1000;
            for worker in 1..=WORKERS {
                events.push(Event {
                    worker,
                    phase,
                    kind: Kind::Start,
                    at: ms(base),
                });
            }
            for worker in 1..=WORKERS {
                events.push(Event {
                    worker,
                    phase,
                    kind: Kind::Finish,
                    at: ms(base + 100 * worker as u64),
                });
            }
        }
        let leaders = (1..=PHASES).map(|p| (p, 5)).collect();
        let good = Run {
            events: events.clone(),
            leaders,
        };
        assert_eq!(good.check(), Ok(()));

        let mut early = good.clone();
        let late_finish = early
            .events
            .iter()
            .position(|e| e.phase == 1 && e.worker == 5 && e.kind == Kind::Finish)
            .expect("worker-5 finishes phase 1");
        let start = Event {
            worker: 2,
            phase: 2,
            kind: Kind::Start,
            at: ms(450),
        };
        early
            .events
            .retain(|e| !(e.phase == 2 && e.worker == 2 && e.kind == Kind::Start));
        early.events.insert(late_finish, start);
        assert!(early.check().is_err());

        let mut two_leaders = good;
        two_leaders.leaders.push((2, 3));
        assert!(two_leaders.check().is_err());
    }

    #[test]
    fn the_plan_is_reproducible_and_within_range() {
        assert_eq!(plan(42), plan(42));
        assert_ne!(plan(42), plan(43));
        for work in plan(42).iter().flatten() {
            assert!(WORK_MS.contains(&(work.as_millis() as u64)), "{work:?}");
        }
    }

    #[test]
    fn ordinals_read_naturally() {
        let got: Vec<String> = [1, 2, 3, 4, 5, 11, 12, 21].map(ordinal).to_vec();
        assert_eq!(
            got,
            ["1st", "2nd", "3rd", "4th", "5th", "11th", "12th", "21st"]
        );
    }

    #[test]
    fn help_names_the_example_not_the_crate() {
        use clap::CommandFactory;
        let help = Args::command().render_help().to_string();
        assert!(help.starts_with("11 · Barrier"), "{help}");
    }
}
