//! # 18 · The event loop's threads twin: a thread pool from scratch
//!
//! The async twin opens up an event loop: one thread that polls futures in pieces. This file opens up
//! the threads model's engine, a **thread pool**: a queue of jobs behind a `Mutex<VecDeque>`, a
//! `Condvar` that idle workers sleep on, worker threads that take a job and run it to its end. It
//! runs the same dashboard: `profile` (200 ms) and `orders` (100 ms) work, and `recommendations`
//! waits for `orders`, then works 200 ms; a fourth job, `broken`, panics.
//!
//! What it shows:
//! - **What a "task" is here: a closure, run once, start to end, on one worker.** It cannot stop
//!   half-way and give its thread back: when `recommendations` waits for `orders` (a channel
//!   `recv`), the worker is blocked, held, and useless to every other job. In the async twin the
//!   same wait is a `poll` that returns `Pending`: the future is run in pieces and the thread is free
//!   in between.
//! - **So the pool needs enough workers for the waits.** With 3 workers the dashboard takes the
//!   longest chain (300 ms, like the event loop's *one* thread). With 2, `recommendations` holds
//!   one worker while `orders` queues behind `profile`: 500 ms, the sum. With 1 it would never end
//!   (the waiting job holds the only worker the awaited job needs): the classic pool deadlock.
//! - **An idle worker sleeps on the condvar**, it does not spin: `wait` releases the lock and parks
//!   the thread until `submit` calls `notify_one` (the loop's "idle" in the async twin).
//! - **A job's panic is contained**: each job runs inside `catch_unwind`, so the worker logs it,
//!   counts it and takes the next job. The pool keeps all its workers (counted at shutdown).
//! - **Graceful shutdown**: `shutdown` marks the queue closed and wakes every worker; each finishes
//!   the jobs still queued, then returns; `shutdown` joins them all. Dropping the pool does the same.
//!
//! Seed: "Asynchrony" > Building Blocks > Event Loop; "Asynchrony vs Multithreading". Upstream:
//! `src/cpp/asynchrony/thread_pool_futures.cpp` (vector of threads, `queue<function>`, mutex,
//! condvar; the destructor drains and joins), `src/js/asynchrony/18_event_loop.js`,
//! `src/python/asynchrony/event_loop_explained.py`. Async twin: `examples-async/src/bin/18_event_loop/`.
//!
//! Run: `cargo run -p examples-threads --bin 18_event_loop_threads` (no flags but `--help`, about 1 s).
//!
//! The output will look similar to this (which worker takes which job varies):
//!
//! ```text
//!   0.000s  INFO [main] --- a pool of 3 workers ---
//!   0.013s  INFO [pool-1] run    job profile (a closure: it runs to its end on this thread)
//!   0.013s  INFO [pool-1] profile: start, 200 ms of blocking I/O
//!   0.013s  INFO [pool-2] run    job recommendations (a closure: it runs to its end on this thread)
//!   0.013s  INFO [pool-2] recommendations: waiting for orders (this worker is blocked)
//!   0.013s  INFO [pool-0] run    job orders (a closure: it runs to its end on this thread)
//!   0.013s  INFO [pool-0] orders: start, 100 ms of blocking I/O
//!   0.113s  INFO [pool-0] orders: done
//!   0.114s  INFO [pool-2] recommendations: got orders after 100 ms blocked, working 200 ms
//!   0.114s  INFO [pool-0] done   job orders after 100 ms
//!   0.114s  INFO [pool-0] run    job broken (a closure: it runs to its end on this thread)
//!   0.114s  INFO [pool-0] broken: about to fail
//!   0.114s ERROR [pool-0] panic at examples-threads/src/bin/18_event_loop_threads.rs:125: the recommendation cache is corrupt
//!   0.114s  INFO [pool-0] failed job broken (the recommendation cache is corrupt): contained, this worker goes on
//!   ...
//!
//! Summary
//!   3 workers: 4 jobs submitted, 4 runs, each job once: yes (3 finished, 1 ended in a panic, contained); workers joined at shutdown 3/3
//!   3 workers: page in 313 ms (ideal 300 ms; the event loop's one thread: 300 ms); recommendations held its worker 100 ms blocked, waiting for orders
//!   3 workers, one piece per job: profile on pool-1 12-213 ms; recommendations on pool-2 12-314 ms; orders on pool-0 12-113 ms; broken on pool-0 113-113 ms (a panic)
//!   2 workers: 4 jobs submitted, 4 runs, each job once: yes (3 finished, 1 ended in a panic, contained); workers joined at shutdown 2/2
//!   2 workers: page in 506 ms (ideal 500 ms; the event loop's one thread: 300 ms); recommendations held its worker 301 ms blocked, waiting for orders
//!   2 workers, one piece per job: profile on pool-0 0-200 ms; recommendations on pool-1 0-506 ms; orders on pool-0 200-301 ms; broken on pool-0 300-301 ms (a panic)
//!   one worker fewer cost 193 ms (a blocked closure holds its thread; a future returns Pending and frees it)
//!   page: profile + recommendations for orders
//! ```

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use clap::Parser;
use common::{fmt_duration, init_logging};
use tracing::{error, info};

const PROFILE: Duration = Duration::from_millis(200);
const ORDERS: Duration = Duration::from_millis(100);
/// How long `recommendations` works once it has the orders.
const RECOMMEND: Duration = Duration::from_millis(200);

/// The jobs `run_dashboard` submits, in this order.
const JOBS: [&str; 4] = ["profile", "recommendations", "orders", "broken"];

/// The dashboard's ideal total with `workers` workers, jobs submitted as `run_dashboard` does
/// (profile, recommendations, orders, broken). `None`: it can never finish.
fn ideal_total(workers: usize) -> Option<Duration> {
    match workers {
        0 | 1 => None, // recommendations holds the only worker, waiting for orders: deadlock
        // profile and recommendations take both workers; orders waits for profile to end.
        2 => Some(PROFILE + ORDERS + RECOMMEND),
        // A worker each: the longest chain, as on the event loop's one thread.
        _ => Some(PROFILE.max(ORDERS + RECOMMEND)),
    }
}

// ------------------------------------------------------------------------------------------------
// The dashboard as pool jobs
// ------------------------------------------------------------------------------------------------

/// What the dashboard run measured.
#[derive(Debug)]
struct DashboardRun {
    page: String,
    total: Duration,
    /// How long `recommendations` sat blocked in `recv`, holding its worker, waiting for orders.
    recommendations_blocked: Duration,
    report: PoolReport,
}

/// Submits the four jobs to a pool of `workers`, waits for the page, shuts the pool down.
fn run_dashboard(workers: usize) -> anyhow::Result<DashboardRun> {
    let start = Instant::now();
    let pool = ThreadPool::new(workers, start)?;
    let (profile_tx, profile_rx) = mpsc::channel();
    let (orders_tx, orders_rx) = mpsc::channel::<String>();
    let (recommended_tx, recommended_rx) = mpsc::channel();

    pool.submit("profile", move || {
        info!("profile: start, {} of blocking I/O", fmt_duration(PROFILE));
        thread::sleep(PROFILE);
        info!("profile: done");
        let _ = profile_tx.send(String::from("profile"));
    });
    // Submitted before `orders` on purpose: with too few workers it takes a worker and blocks it.
    pool.submit("recommendations", move || {
        info!("recommendations: waiting for orders (this worker is blocked)");
        let asked = Instant::now();
        // A blocking wait: the worker does nothing else until orders arrive. `Err` only if the
        // orders job died without sending, which the pool reports as a panic.
        let Ok(orders) = orders_rx.recv() else {
            error!("recommendations: orders never came");
            return;
        };
        let blocked = asked.elapsed();
        info!(
            "recommendations: got {orders} after {} blocked, working {}",
            fmt_duration(blocked),
            fmt_duration(RECOMMEND)
        );
        thread::sleep(RECOMMEND);
        info!("recommendations: done");
        let _ = recommended_tx.send((format!("recommendations for {orders}"), blocked));
    });
    pool.submit("orders", move || {
        info!("orders: start, {} of blocking I/O", fmt_duration(ORDERS));
        thread::sleep(ORDERS);
        info!("orders: done");
        let _ = orders_tx.send(String::from("orders"));
    });
    pool.submit("broken", || {
        info!("broken: about to fail");
        panic!("the recommendation cache is corrupt");
    });

    let profile = profile_rx
        .recv()
        .map_err(|_| anyhow::anyhow!("the profile job ended without a result"))?;
    let (recommended, recommendations_blocked) = recommended_rx
        .recv()
        .map_err(|_| anyhow::anyhow!("the recommendations job ended without a result"))?;
    let total = start.elapsed();
    let page = format!("{profile} + {recommended}");
    info!("main: page ready: {page}");
    Ok(DashboardRun {
        page,
        total,
        recommendations_blocked,
        report: pool.shutdown(),
    })
}

/// `--help` text. No flags: the jobs are fixed so the totals can be set beside their ideal.
#[derive(Parser, Debug)]
#[command(
    about = "18 · The event loop's threads twin: a thread pool from scratch (Mutex<VecDeque> + \
             Condvar workers, graceful shutdown, a job's panic contained); a job is a closure run \
             to its end, so a job that waits holds its worker",
    long_about = None
)]
struct Args {}

fn main() -> anyhow::Result<()> {
    common::parse_args::<Args>();
    init_logging();
    log_panics_as_errors();

    let mut runs = Vec::new();
    for workers in [3, 2] {
        info!("--- a pool of {workers} workers ---");
        runs.push((workers, run_dashboard(workers)?));
    }

    common::out!();
    common::out!("Summary");
    for (workers, run) in &runs {
        let r = &run.report;
        let ideal = ideal_total(*workers).map_or_else(|| "never".to_string(), fmt_duration);
        common::out!(
            "  {workers} workers: {} jobs submitted, {} runs, each job once: {} ({} finished, {} ended in a panic, contained); workers joined at shutdown {}/{}",
            JOBS.len(),
            r.records.len(),
            if r.each_once(&JOBS) { "yes" } else { "NO" },
            r.finished(),
            r.panicked(),
            r.workers_joined,
            r.workers
        );
        common::out!(
            "  {workers} workers: page in {} (ideal {ideal}; the event loop's one thread: {}); recommendations held its worker {} blocked, waiting for orders",
            fmt_duration(run.total),
            fmt_duration(PROFILE.max(ORDERS + RECOMMEND)),
            fmt_duration(run.recommendations_blocked)
        );
        // What a task is in this model: one run per job, start to end, on one worker.
        let pieces: Vec<String> = r
            .records
            .iter()
            .map(|j| {
                format!(
                    "{} on {} {}-{}{}",
                    j.name,
                    j.worker,
                    j.started.as_millis(),
                    fmt_duration(j.ended),
                    if j.outcome == Outcome::Finished {
                        ""
                    } else {
                        " (a panic)"
                    }
                )
            })
            .collect();
        common::out!(
            "  {workers} workers, one piece per job: {}",
            pieces.join("; ")
        );
    }
    if let (Some((_, enough)), Some((_, fewer))) = (runs.first(), runs.get(1)) {
        common::out!(
            "  one worker fewer cost {} (a blocked closure holds its thread; a future returns Pending and frees it)",
            fmt_duration(fewer.total.saturating_sub(enough.total))
        );
        common::out!("  page: {}", enough.page);
    }
    Ok(())
}

/// Sends panics to the log as one `ERROR` line (time, thread, where, message), as the pool's
/// workers report them. Rust's default hook writes "thread '...' panicked at ..." to stderr, and a
/// backtrace too when `RUST_BACKTRACE` is set; `catch_unwind` gets the panic afterwards either way.
fn log_panics_as_errors() {
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        error!("panic at {location}: {}", panic_message(info.payload()));
    }));
}

// ------------------------------------------------------------------------------------------------
// The thread pool
// ------------------------------------------------------------------------------------------------

/// A job: a name for the log and a closure the pool runs once, to its end.
struct Job {
    name: &'static str,
    run: Box<dyn FnOnce() + Send>,
}

/// The queue and its flag, behind one mutex: a worker checks both in one step, so it cannot miss
/// the close between looking at the queue and going to sleep.
struct State {
    jobs: VecDeque<Job>,
    closing: bool,
}

struct Shared {
    state: Mutex<State>,
    /// Signalled when a job is queued (one worker) or the pool closes (all of them).
    job_ready: Condvar,
}

impl Shared {
    /// Poisoning cannot happen here (jobs run outside the lock, and the code under it does not
    /// panic), and the queue stays valid anyway: the guard is used as it is.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// How a job ended.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Finished,
    Panicked(String),
}

/// One job's run: which worker, from when to when (since the pool's start), how it ended.
#[derive(Debug, Clone)]
struct JobRecord {
    name: &'static str,
    worker: String,
    started: Duration,
    ended: Duration,
    outcome: Outcome,
}

/// What `shutdown` found.
#[derive(Debug, Default)]
struct PoolReport {
    records: Vec<JobRecord>,
    workers: usize,
    /// Workers that returned normally when joined (a worker that died would be missing here).
    workers_joined: usize,
}

impl PoolReport {
    /// True when the jobs run are exactly `submitted`, each once (in any order).
    fn each_once(&self, submitted: &[&str]) -> bool {
        let mut ran: Vec<&str> = self.records.iter().map(|r| r.name).collect();
        let mut submitted = submitted.to_vec();
        ran.sort_unstable();
        submitted.sort_unstable();
        ran == submitted
    }

    fn finished(&self) -> usize {
        self.count(|o| *o == Outcome::Finished)
    }

    fn panicked(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Panicked(_)))
    }

    fn count(&self, f: impl Fn(&Outcome) -> bool) -> usize {
        self.records.iter().filter(|r| f(&r.outcome)).count()
    }
}

struct ThreadPool {
    shared: Arc<Shared>,
    workers: Vec<thread::JoinHandle<Vec<JobRecord>>>,
}

impl ThreadPool {
    /// Starts `workers` named threads (`pool-0`, `pool-1`, ...), asleep until jobs come.
    fn new(workers: usize, start: Instant) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                jobs: VecDeque::new(),
                closing: false,
            }),
            job_ready: Condvar::new(),
        });
        let mut pool = ThreadPool {
            shared: shared.clone(),
            workers: Vec::new(),
        };
        for n in 0..workers {
            let shared = shared.clone();
            // On an error, `pool` is dropped on the way out, and its `Drop` joins those started.
            pool.workers.push(
                thread::Builder::new()
                    .name(format!("pool-{n}"))
                    .spawn(move || worker_loop(&shared, start))?,
            );
        }
        Ok(pool)
    }

    /// Queues `job` and wakes one sleeping worker. It runs when a worker is free, not now.
    fn submit(&self, name: &'static str, job: impl FnOnce() + Send + 'static) {
        self.shared.lock().jobs.push_back(Job {
            name,
            run: Box::new(job),
        });
        self.shared.job_ready.notify_one();
    }

    /// Closes the queue, lets the workers finish every job already queued, joins them all.
    fn shutdown(mut self) -> PoolReport {
        self.close_and_join()
    }

    fn close_and_join(&mut self) -> PoolReport {
        self.shared.lock().closing = true;
        // Every worker must see the close, not just one.
        self.shared.job_ready.notify_all();
        let mut report = PoolReport {
            workers: self.workers.len(),
            ..PoolReport::default()
        };
        for worker in self.workers.drain(..) {
            // `Err` only if the worker itself died: jobs' panics are caught inside it.
            if let Ok(records) = worker.join() {
                report.workers_joined += 1;
                report.records.extend(records);
            }
        }
        report.records.sort_by_key(|r| r.started);
        report
    }
}

impl Drop for ThreadPool {
    /// A pool dropped without `shutdown` (an early return, a panic in the caller) still finishes its
    /// queue and joins its threads: no worker outlives it.
    fn drop(&mut self) {
        if !self.workers.is_empty() {
            self.close_and_join();
        }
    }
}

/// A worker: take the next job (sleeping on the condvar while there is none), run it to its end
/// with its panic contained, repeat; return once the pool is closing and the queue is empty.
fn worker_loop(shared: &Shared, start: Instant) -> Vec<JobRecord> {
    let worker = thread::current().name().unwrap_or("pool").to_string();
    let mut done = Vec::new();
    loop {
        let job = {
            let mut state = shared.lock();
            loop {
                if let Some(job) = state.jobs.pop_front() {
                    break Some(job);
                }
                if state.closing {
                    break None;
                }
                // Releases the lock and sleeps until `submit` or `shutdown` signals. A loop: a
                // wake-up may be spurious, or another worker may have taken the job first.
                state = shared
                    .job_ready
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
            }
        }; // the lock is released here: jobs run without it
        let Some(Job { name, run }) = job else {
            return done;
        };
        let started = start.elapsed();
        info!("run    job {name} (a closure: it runs to its end on this thread)");
        // `AssertUnwindSafe`: the job owns everything it touches, and after a panic it is dropped,
        // never looked at again, so no broken state can be observed.
        let outcome = match catch_unwind(AssertUnwindSafe(run)) {
            Ok(()) => Outcome::Finished,
            Err(payload) => Outcome::Panicked(panic_message(payload.as_ref())),
        };
        let ended = start.elapsed();
        match &outcome {
            Outcome::Finished => info!("done   job {name} after {}", fmt_duration(ended - started)),
            Outcome::Panicked(message) => {
                info!("failed job {name} ({message}): contained, this worker goes on")
            }
        }
        done.push(JobRecord {
            name,
            worker: worker.clone(),
            started,
            ended,
            outcome,
        });
    }
}

/// The message of a panic payload (`panic!("...")` gives a `&str` or a `String`).
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic with no message".to_string())
}

#[cfg(test)]
mod tests {
    //! Real threads: the pool's guarantees exactly (each job once, panics contained, every worker
    //! joined), timings as exact lower bounds and generous upper bounds for a busy 2-core machine.
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Fails instead of hanging if `f` takes longer than `deadline` (a lost wake-up hangs a pool).
    fn within<T: Send + 'static>(deadline: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let _ = tx.send(f());
        });
        rx.recv_timeout(deadline)
            .expect("finished in time (a hang here means a worker missed a wake-up)")
    }

    #[test]
    fn every_job_runs_exactly_once() {
        let runs = within(Duration::from_secs(20), || {
            let runs: Arc<Vec<AtomicU32>> = Arc::new((0..500).map(|_| AtomicU32::new(0)).collect());
            let pool = ThreadPool::new(4, Instant::now()).expect("threads");
            for i in 0..500 {
                let runs = runs.clone();
                pool.submit("count", move || {
                    runs[i].fetch_add(1, Ordering::SeqCst);
                });
            }
            let report = pool.shutdown();
            assert_eq!(report.records.len(), 500);
            assert_eq!((report.workers_joined, report.workers), (4, 4));
            runs
        });
        assert!(runs.iter().all(|r| r.load(Ordering::SeqCst) == 1));
    }

    #[test]
    fn a_panicking_job_does_not_kill_the_pool() {
        let report = within(Duration::from_secs(20), || {
            // One worker: if a panic killed it, nothing after the panic could run.
            let pool = ThreadPool::new(1, Instant::now()).expect("threads");
            pool.submit("broken", || panic!("boom"));
            for _ in 0..5 {
                pool.submit("fine", || {});
            }
            pool.submit("broken again", || panic!("{}", String::from("boom 2")));
            pool.submit("fine", || {});
            pool.shutdown()
        });
        assert_eq!(report.panicked(), 2);
        assert_eq!(report.finished(), 6);
        assert_eq!((report.workers_joined, report.workers), (1, 1));
        // All on the one worker, which survived both panics.
        assert!(report.records.iter().all(|r| r.worker == "pool-0"));
        assert_eq!(
            report.records[0].outcome,
            Outcome::Panicked(String::from("boom"))
        );
    }

    #[test]
    fn shutdown_finishes_the_queued_jobs_and_joins_every_worker() {
        let (report, took) = within(Duration::from_secs(20), || {
            let start = Instant::now();
            let pool = ThreadPool::new(2, start).expect("threads");
            for _ in 0..6 {
                pool.submit("slow", || thread::sleep(ms(30)));
            }
            // Shut down at once: the six jobs are still queued, and they all run first.
            let report = pool.shutdown();
            (report, start.elapsed())
        });
        assert_eq!(report.finished(), 6);
        assert_eq!((report.workers_joined, report.workers), (2, 2));
        // Two workers, six jobs of 30 ms: at least three rounds.
        assert!(took >= ms(90), "{took:?}");
    }

    #[test]
    fn an_idle_pool_wakes_every_sleeping_worker_to_shut_down() {
        // Four workers asleep on the condvar: each must hear the close (one `notify_one` would
        // leave three asleep forever, and this would hang until `within` fails it).
        let report = within(Duration::from_secs(20), || {
            let pool = ThreadPool::new(4, Instant::now()).expect("threads");
            thread::sleep(ms(20)); // let them all go to sleep
            pool.shutdown()
        });
        assert_eq!((report.workers_joined, report.workers), (4, 4));
        assert!(report.records.is_empty());
    }

    #[test]
    fn dropping_the_pool_also_drains_and_joins() {
        let done = Arc::new(AtomicU32::new(0));
        let counted = done.clone();
        within(Duration::from_secs(20), move || {
            let pool = ThreadPool::new(2, Instant::now()).expect("threads");
            for _ in 0..4 {
                let counted = counted.clone();
                pool.submit("slow", move || {
                    thread::sleep(ms(10));
                    counted.fetch_add(1, Ordering::SeqCst);
                });
            }
        });
        assert_eq!(done.load(Ordering::SeqCst), 4);
    }

    #[test]
    fn with_a_worker_per_job_the_page_takes_the_longest_chain() {
        let run = within(Duration::from_secs(20), || run_dashboard(3)).expect("runs");
        assert_eq!(run.page, "profile + recommendations for orders");
        assert_eq!(run.report.records.len(), 4);
        assert_eq!(run.report.panicked(), 1);
        assert_eq!(run.report.workers_joined, 3);
        let ideal = ideal_total(3).expect("it finishes");
        assert_eq!(ideal, ms(300));
        assert!(run.total >= ideal, "{run:?}");
        // Far below the 500 ms of two workers: generous for a loaded machine.
        assert!(run.total < ideal + ms(150), "{run:?}");
        // Blocked while orders ran (100 ms, less the moment between the two jobs' starts).
        assert!(run.recommendations_blocked >= ORDERS / 2, "{run:?}");
    }

    #[test]
    fn one_worker_fewer_and_the_waiting_job_holds_a_worker_so_the_page_takes_the_sum() {
        let run = within(Duration::from_secs(20), || run_dashboard(2)).expect("runs");
        let ideal = ideal_total(2).expect("it finishes");
        assert_eq!(ideal, ms(500));
        assert!(run.total >= ideal, "{run:?}");
        assert!(run.total < ideal + ms(400), "{run:?}");
        // Blocked until orders ran, after profile: about the whole of profile and orders (less the
        // moment between profile's start and its own), far more than with 3 workers.
        assert!(
            run.recommendations_blocked >= PROFILE + ORDERS / 2,
            "{run:?}"
        );
        // Each job ran once, in one piece, on one worker.
        assert!(run.report.each_once(&JOBS), "{run:?}");
        assert!(!run.report.each_once(&["profile", "orders"]));
        assert_eq!(ideal_total(1), None);
    }

    #[test]
    fn help_names_the_example_and_a_bad_flag_is_an_error() {
        let help = Args::try_parse_from(["18", "--help"]).expect_err("--help stops the program");
        assert_eq!(help.exit_code(), 0);
        assert!(
            help.to_string().starts_with("18 · The event loop"),
            "{help}"
        );
        let bad = Args::try_parse_from(["18", "--workers", "4"]).expect_err("no such flag");
        assert_eq!(bad.exit_code(), 2);
    }
}
