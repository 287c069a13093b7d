//! # 18 · The thread pool: the threads model's engine, from scratch
//!
//! A queue of jobs behind a `Mutex<VecDeque>`, a `Condvar` that idle workers sleep on, worker
//! threads that take a job and run it to its end (the async twin's `executor.rs` is its event
//! loop).
//!
//! - **An idle worker sleeps on the condvar**, it does not spin: `wait` releases the lock and parks
//!   the thread until `submit` calls `notify_one` (the loop's "idle" in the async twin). A test
//!   reads the idle workers' CPU time to prove it.
//! - **A job's panic is contained**: each job runs inside `catch_unwind`, so the worker logs it,
//!   counts it and takes the next job. The pool keeps all its workers (counted at shutdown).
//! - **Graceful shutdown**: `shutdown` marks the queue closed and wakes every worker; each finishes
//!   the jobs still queued, then returns; `shutdown` joins them all. Dropping the pool does the
//!   same.
//!
//! Upstream: `src/cpp/asynchrony/thread_pool_futures.cpp` (vector of threads, `queue<function>`,
//! mutex, condvar; the destructor drains and joins).

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use common::fmt_duration;
use tracing::info;

/// A job: a name for the log and a closure the pool runs once, to its end.
pub struct Job {
    pub name: &'static str,
    pub run: Box<dyn FnOnce() + Send>,
}

/// The queue and its flag, behind one mutex: a worker checks both in one step, so it cannot miss
/// the close between looking at the queue and going to sleep.
pub struct State {
    pub jobs: VecDeque<Job>,
    pub closing: bool,
}

pub struct Shared {
    pub state: Mutex<State>,
    /// Signalled when a job is queued (one worker) or the pool closes (all of them).
    pub job_ready: Condvar,
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
pub enum Outcome {
    Finished,
    Panicked(String),
}

/// One job's run: which worker, from when to when (since the pool's start), how it ended.
#[derive(Debug, Clone)]
pub struct JobRecord {
    pub name: &'static str,
    pub worker: String,
    pub started: Duration,
    pub ended: Duration,
    pub outcome: Outcome,
}

/// What `shutdown` found.
#[derive(Debug, Default)]
pub struct PoolReport {
    pub records: Vec<JobRecord>,
    pub workers: usize,
    /// Workers that returned normally when joined (a worker that died would be missing here).
    pub workers_joined: usize,
}

impl PoolReport {
    /// True when the jobs run are exactly `submitted`, each once (in any order).
    pub fn each_once(&self, submitted: &[&str]) -> bool {
        let mut ran: Vec<&str> = self.records.iter().map(|r| r.name).collect();
        let mut submitted = submitted.to_vec();
        ran.sort_unstable();
        submitted.sort_unstable();
        ran == submitted
    }

    pub fn finished(&self) -> usize {
        self.count(|o| *o == Outcome::Finished)
    }

    pub fn panicked(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Panicked(_)))
    }

    fn count(&self, f: impl Fn(&Outcome) -> bool) -> usize {
        self.records.iter().filter(|r| f(&r.outcome)).count()
    }
}

pub struct ThreadPool {
    pub shared: Arc<Shared>,
    pub workers: Vec<thread::JoinHandle<Vec<JobRecord>>>,
}

impl ThreadPool {
    /// Starts `workers` named threads (`pool-0`, `pool-1`, ...), asleep until jobs come.
    pub fn new(workers: usize, start: Instant) -> std::io::Result<Self> {
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
    pub fn submit(&self, name: &'static str, job: impl FnOnce() + Send + 'static) {
        self.shared.lock().jobs.push_back(Job {
            name,
            run: Box::new(job),
        });
        self.shared.job_ready.notify_one();
    }

    /// Closes the queue, lets the workers finish every job already queued, joins them all.
    pub fn shutdown(mut self) -> PoolReport {
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
    /// A pool dropped without `shutdown` (an early return, a panic in the caller) still finishes
    /// its queue and joins its threads: no worker outlives it.
    fn drop(&mut self) {
        if !self.workers.is_empty() {
            self.close_and_join();
        }
    }
}

/// A worker: take the next job (sleeping on the condvar while there is none), run it to its end
/// with its panic contained, repeat; return once the pool is closing and the queue is empty.
pub fn worker_loop(shared: &Shared, start: Instant) -> Vec<JobRecord> {
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
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic with no message".to_string())
}

#[cfg(test)]
mod tests {
    //! Real threads: the pool's guarantees exactly (each job once, panics contained, every worker
    //! joined, idle workers asleep), timings as lower bounds or CPU time, for a busy 2-core
    //! machine.
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::mpsc;

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
    fn an_idle_worker_sleeps_on_the_condvar_and_uses_no_cpu() {
        use common::timing::{current_tid, thread_cpu_time};
        const IDLE: Duration = Duration::from_secs(1);
        let pool = ThreadPool::new(2, Instant::now()).expect("threads");
        // Two jobs that meet at a barrier: each holds its worker until both have started, so one
        // runs on each worker, and each reports its worker's thread id.
        let barrier = Arc::new(std::sync::Barrier::new(2));
        let (tx, rx) = mpsc::channel();
        for _ in 0..2 {
            let (barrier, tx) = (barrier.clone(), tx.clone());
            pool.submit("where am I", move || {
                barrier.wait();
                let _ = tx.send(current_tid());
            });
        }
        let tids: Vec<String> = (0..2)
            .filter_map(|_| rx.recv_timeout(Duration::from_secs(20)).ok().flatten())
            .collect();
        if tids.len() < 2 {
            eprintln!("no /proc/thread-self here: the idle workers' CPU time is not measured");
            return;
        }
        let cpu = |tid: &str| thread_cpu_time(tid).expect("the worker is alive");
        // Let both go back to the condvar, then read their CPU time across a long idle spell.
        thread::sleep(Duration::from_millis(50));
        let before: Vec<Duration> = tids.iter().map(|t| cpu(t)).collect();
        thread::sleep(IDLE);
        let used: Vec<Duration> = tids.iter().zip(&before).map(|(t, b)| cpu(t) - *b).collect();
        pool.shutdown();
        // Asleep: nothing, or one 10 ms tick of bookkeeping. A worker that spins on the lock
        // instead (even one that yields each time round) burns far more of that second: 70 ms and
        // more when it was tried on a loaded 2-core machine.
        for (tid, used) in tids.iter().zip(used) {
            assert!(
                used <= Duration::from_millis(20),
                "worker {tid} used {used:?} of CPU idle"
            );
        }
    }
}
