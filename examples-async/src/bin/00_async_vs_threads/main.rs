//! # 00 · Async vs threads: the chapter's four timelines, drawn from real runs
//!
//! Three jobs, A, B and C, each a few CPU bursts separated by waits (simulated I/O: a timer), run
//! four ways. A recorder (`common::timeline`) notes which job ran on which thread from when to when,
//! and draws the lanes the chapter draws by hand: one row per thread, one character per 10 ms slot.
//! An uppercase letter is a job running, a lowercase letter a job *blocked* (it holds the thread,
//! which does nothing), `-` a free thread. For threads the recorder wraps each burst and each wait;
//! for tasks it wraps the future, and every `poll` becomes one segment on the thread that polled it.
//!
//! - **I. Sequential, one thread.** Blocking calls, one job after another: while A waits, the thread
//!   is blocked (`aaaa`) and B cannot start. The total is the **sum** of every burst and every wait.
//! - **II. One OS thread per job.** The waits (and the bursts, on as many cores as there are)
//!   **overlap**; the total approaches the **longest job**. The price: a whole thread (a stack, a
//!   kernel object, preemptive switches) per job.
//! - **III. Async on one thread** (`current_thread`). Each job is a task; at every `.await` on its
//!   timer it gives the thread back and the runtime polls another. The jobs **interleave on one
//!   thread**, but the bursts run one at a time. Concurrency, not parallelism.
//! - **IV. Async on the multi-thread runtime.** A worker per core: tasks interleave *and* run in
//!   parallel, and may resume on another worker after an `.await`. It often falls short of its ideal:
//!   work stealing balances load over time, not at every wake-up, so two tasks may queue on one
//!   worker while the other sits idle. The lanes show when that happened.
//!
//! `burst.rs` says why a burst is fixed work; `report.rs` draws the lanes and the summary beside the
//! ideals; `export.rs` writes `--svg` and `--trace-json`. No threads twin: this *is* the comparison.
//! Seed: Asynchrony vs Multithreading (the four timelines), Challenges ("task switches are cheaper
//! than thread switches": the benchmarks in `examples-async/benches` measure it, the book's "Measured" page).
//!
//! Run: `cargo run -p examples-async --bin 00_async_vs_threads` (about 1.5 s), or with
//! `-- --svg timelines.svg --trace-json timelines.json`.
//! Output of a real run: `docs/output/00_async_vs_threads.txt`.

mod burst;
mod export;
mod report;

use std::path::PathBuf;
use std::thread;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use common::timeline::{Recorder, Segment};
use common::{init_logging, time, time_async};
use tracing::info;

use burst::burn;

const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A job: a CPU burst, a wait, a burst, a wait, a burst.
struct Job {
    name: char,
    bursts: [Duration; 3],
    waits: [Duration; 2],
}

/// The three jobs, in ms. Chosen so that no two timers fire at the same moment (neither on the
/// real clock nor on the paused clock of the tests, where bursts take no time): the order in which
/// III resumes them is decided by the waits, not by a tie.
const JOBS: [Job; 3] = [
    job('A', [30, 20, 30], [80, 60]),
    job('B', [20, 30, 20], [50, 100]),
    job('C', [20, 20, 20], [70, 30]),
];

const fn job(name: char, [b1, b2, b3]: [u64; 3], [w1, w2]: [u64; 2]) -> Job {
    let bursts = [ms(b1), ms(b2), ms(b3)];
    let waits = [ms(w1), ms(w2)];
    Job {
        name,
        bursts,
        waits,
    }
}

/// What one way of running the jobs produced: its lanes and its total time.
struct Run {
    segments: Vec<Segment>,
    took: Duration,
}

/// A job with blocking calls: `thread::sleep` holds the thread for the whole wait.
fn run_job_blocking(job: &Job, recorder: &Recorder) {
    info!("{}: starts", job.name);
    for (i, burst) in job.bursts.iter().enumerate() {
        recorder.run(job.name, || burn(*burst));
        if let Some(wait) = job.waits.get(i) {
            recorder.block(job.name, || thread::sleep(*wait));
        }
    }
    info!("{}: done", job.name);
}

/// The same job as a future: at `sleep(..).await` it returns `Pending` and the thread is free to
/// poll other tasks until the timer fires. The bursts run inside `poll`, so while one runs, no other
/// task on this thread can (05_run_heavy_functions shows what that does to a heartbeat).
async fn run_job_async(job: &'static Job) {
    info!("{}: starts", job.name);
    for (i, burst) in job.bursts.iter().enumerate() {
        burn(*burst);
        if let Some(wait) = job.waits.get(i) {
            tokio::time::sleep(*wait).await;
        }
    }
    info!("{}: done", job.name);
}

/// I. One thread, one job after another.
fn sequential() -> Run {
    let recorder = Recorder::new();
    let ((), took) = time(|| {
        for job in &JOBS {
            run_job_blocking(job, &recorder);
        }
    });
    Run {
        segments: recorder.segments(),
        took,
    }
}

/// II. One OS thread per job, named after it so the lanes (and log lines) say who is who.
fn one_thread_per_job() -> anyhow::Result<Run> {
    let recorder = Recorder::new();
    let (joined, took) = time(|| {
        // Scoped threads may borrow `recorder`; the scope joins them all before it returns.
        thread::scope(|scope| -> anyhow::Result<()> {
            let mut handles = Vec::new();
            for job in &JOBS {
                let recorder = &recorder;
                let handle = thread::Builder::new()
                    .name(format!("job-{}", job.name))
                    .spawn_scoped(scope, move || run_job_blocking(job, recorder))
                    .with_context(|| format!("could not start a thread for job {}", job.name))?;
                handles.push(handle);
            }
            for handle in handles {
                handle
                    .join()
                    .map_err(|_| anyhow::anyhow!("a job thread panicked"))?;
            }
            Ok(())
        })
    });
    joined?;
    Ok(Run {
        segments: recorder.segments(),
        took,
    })
}

/// III and IV. Each job a task, traced: every poll is recorded on the thread that made it.
///
/// Spawned, not `tokio::join!`ed: a task is polled only when its own timer wakes it, so each poll in
/// the lanes is a real switch to that job (`join!` would poll every branch whenever any one woke).
async fn async_jobs(recorder: &Recorder) -> anyhow::Result<Duration> {
    let (joined, took) = time_async(async {
        let tasks: Vec<_> = JOBS
            .iter()
            .map(|job| tokio::spawn(recorder.trace(job.name, run_job_async(job))))
            .collect();
        for task in tasks {
            task.await.context("a job task panicked")?;
        }
        anyhow::Ok(())
    })
    .await;
    joined?;
    Ok(took)
}

/// III. Async on a `current_thread` runtime: every task runs on the thread that calls `block_on`.
fn async_one_thread() -> anyhow::Result<Run> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .context("could not build a current_thread runtime")?;
    let recorder = Recorder::new();
    let took = runtime.block_on(async_jobs(&recorder))?;
    Ok(Run {
        segments: recorder.segments(),
        took,
    })
}

/// IV. Async on the multi-thread runtime: one worker per core, named so the lanes tell them apart
/// (tokio calls every worker `tokio-rt-worker`).
fn async_multi_thread(workers: usize) -> anyhow::Result<Run> {
    let next = std::sync::atomic::AtomicUsize::new(1);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .thread_name_fn(move || {
            let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            format!("worker-{n}")
        })
        .enable_time()
        .build()
        .context("could not build a multi-thread runtime")?;
    let recorder = Recorder::new();
    let took = runtime.block_on(async_jobs(&recorder))?;
    Ok(Run {
        segments: recorder.segments(),
        took,
    })
}

/// `--help` text: what the example demonstrates.
#[derive(Parser, Debug)]
#[command(
    about = "00 · Async vs threads: the chapter's four timelines from real runs: three jobs (CPU bursts \
             and waits) run sequentially, one OS thread each, as tasks on one thread, and as tasks on \
             the multi-thread runtime",
    long_about = None
)]
struct Args {
    /// Also write every recorded segment as Chrome trace-event JSON (open it in ui.perfetto.dev).
    #[arg(long, value_name = "FILE")]
    trace_json: Option<PathBuf>,
    /// Also draw the four timelines as one SVG picture (a panel per way, a lane per thread).
    #[arg(long, value_name = "FILE")]
    svg: Option<PathBuf>,
}

// No `#[tokio::main]`: I and II need no runtime, and III and IV each build the runtime they are about.
fn main() -> anyhow::Result<()> {
    let args: Args = common::parse_args();
    init_logging();
    let outputs = export::Outputs::open(&args);
    burst::calibrate();
    // One worker per core, as `#[tokio::main]` would start (the number is printed with IV).
    let workers = thread::available_parallelism().map_or(1, |n| n.get());

    info!("--- I. sequential, one thread ---");
    let one = sequential();
    info!("--- II. one OS thread per job ---");
    let two = one_thread_per_job()?;
    info!("--- III. async, current_thread runtime ---");
    let three = async_one_thread()?;
    info!("--- IV. async, multi-thread runtime ({workers} workers) ---");
    let four = async_multi_thread(workers)?;

    let runs = [&one, &two, &three, &four];
    report::print_lanes(runs, workers);
    outputs.write(runs, workers)?;
    report::print_summary(runs, workers);
    Ok(())
}

#[cfg(test)]
mod tests;
