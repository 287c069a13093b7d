//! # 00 · Async vs threads: the chapter's four timelines, drawn from real runs
//!
//! Three jobs, A, B and C, each a few CPU bursts separated by waits (simulated I/O: a timer), run
//! four ways. A recorder (`common::timeline`) notes which job ran on which thread from when to when,
//! and draws the lanes the chapter draws by hand: one row per thread, one character per 10 ms slot.
//! An uppercase letter is a job running, a lowercase letter a job *blocked* (it holds the thread,
//! which does nothing), `-` a free thread.
//!
//! - **I. Sequential, one thread.** Blocking calls, one job after another. While A waits, the thread
//!   is blocked (`aaaa`) and B cannot start: the total is the **sum** of every burst and every wait.
//! - **II. One OS thread per job.** Blocking calls again, but each job has its own thread: the waits
//!   (and the bursts, on as many cores as there are) **overlap**; the total approaches the
//!   **longest job**.
//!   The price: a whole thread (a stack, a kernel object, preemptive switches) per job.
//! - **III. Async on one thread** (`current_thread` runtime). Each job is a task; at every `.await` on
//!   its timer it gives the thread back, and the runtime polls another task. The jobs **interleave on
//!   one thread** (`AAABBCC---BBB...`): no job holds the thread while it waits, but the bursts can
//!   only run one at a time. Concurrency, not parallelism.
//! - **IV. Async on the multi-thread runtime.** The same tasks on a worker per core: they interleave
//!   *and* can run in parallel, and a task may resume on another worker after an `.await`. It often
//!   falls short of its ideal: the runtime picks the worker that polls a woken task (work stealing
//!   balances load over time, not at every wake-up), so two tasks may queue on one worker while the
//!   other sits idle. The lanes show when that happened.
//!
//! Every lane is recorded, not typed in: for threads the recorder wraps each burst and each wait;
//! for tasks it wraps the future, and every `poll` becomes one segment on the thread that polled it.
//! A burst is a fixed amount of CPU work, measured once at start-up (not a spin until the clock says
//! 30 ms), so a burst that shares its core with another runs longer and is drawn longer: the lanes
//! never show more parallelism than the machine had. `--svg FILE` draws the four runs as one picture
//! (a panel per way, a lane per thread, running / blocked / free in three colours, a time axis in
//! ms; the README shows one). `--trace-json FILE` writes the same segments as Chrome trace-event
//! JSON: open it in <https://ui.perfetto.dev> (or `chrome://tracing`) to zoom into them.
//!
//! Seed: "Asynchrony" > Asynchrony vs Multithreading (the four timelines), Challenges ("task
//! switches are cheaper than thread switches"; the benchmarks in `examples-async/benches` measure
//! that, see the README's "Measured" section). Upstream: the four diagrams of
//! `notes/04_asynchronous_programming.md`; no upstream program draws them.
//! This example has no threads twin: it *is* the comparison (I and II are the threads side).
//!
//! Run: `cargo run -p examples-async --bin 00_async_vs_threads` (about 1.5 s), or with
//! `-- --trace-json timelines.json` (for Perfetto) or `-- --svg timelines.svg` (the four timelines
//! as one picture, running / blocked / free in three colours: the README's `docs/timelines.svg`).
//!
//! The output will look similar to this on an idle 2-core machine (after the log lines; lanes vary
//! a little from run to run, and IV with the number of cores; on a busy machine every burst
//! stretches, as the README's picture, taken during other builds, shows):
//!
//! ```text
//! I. sequential, one thread: 607 ms
//! scale: 1 slot = 10 ms, 61 slots = 610 ms
//! main |AAAaaaaaaaaAAaaaaaaAAABBbbbbbBBBbbbbbbbbbbBBCCcccccccCCCcccCC|
//!
//! II. one OS thread per job: 239 ms
//! scale: 1 slot = 10 ms, 24 slots = 240 ms
//! job-A |AAAaaaaaaaaAAaaaaaaAAAA-|
//! job-B |BBBbbbbbBBBBbbbbbbbbbbBB|
//! job-C |CCCcccccccCCcccCC-------|
//!
//! III. async, current_thread runtime: 286 ms
//! scale: 1 slot = 10 ms, 29 slots = 290 ms
//! main |AAABBCC---BBBBAACC---CCAAAABB|
//! ...
//! Summary
//!   I. sequential took 607 ms (ideal: the sum of every burst and wait, 600 ms)
//!   sequential 607 ms | threads 239 ms | 2.55x, ideal 2.73x
//!   sequential 607 ms | async 1 thread 286 ms | 2.13x, ideal 2.22x
//!   sequential 607 ms | async 2 workers 274 ms | 2.22x, ideal 2.73x
//!   threads used: I 1, II 3, III 1, IV 2
//! ```

use std::path::PathBuf;
use std::thread;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use common::timeline::{self, Recorder, Segment};
use common::{Comparison, fmt_duration, init_logging, schedule, time, time_async};
use tracing::info;

/// One character of a lane: short enough to see every burst, long enough that a run fits a line.
const SLOT: Duration = Duration::from_millis(10);

const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A job: a CPU burst, a wait, a burst, a wait, a burst.
struct Job {
    name: char,
    bursts: [Duration; 3],
    waits: [Duration; 2],
}

impl Job {
    /// How long the job takes alone, with nothing else in the way.
    fn alone(&self) -> Duration {
        self.bursts.iter().chain(&self.waits).sum()
    }
}

/// The three jobs. Chosen so that no two timers fire at the same moment (neither on the real clock
/// nor on the paused clock of the tests, where bursts take no time): the order in which III resumes
/// them is decided by the waits, not by a tie.
const JOBS: [Job; 3] = [
    Job {
        name: 'A',
        bursts: [ms(30), ms(20), ms(30)],
        waits: [ms(80), ms(60)],
    },
    Job {
        name: 'B',
        bursts: [ms(20), ms(30), ms(20)],
        waits: [ms(50), ms(100)],
    },
    Job {
        name: 'C',
        bursts: [ms(20), ms(20), ms(20)],
        waits: [ms(70), ms(30)],
    },
];

/// What one way of running the jobs produced: its lanes and its total time.
struct Run {
    segments: Vec<Segment>,
    took: Duration,
}

/// A CPU burst: a fixed amount of arithmetic, worth `length` of CPU time on this machine.
///
/// Fixed work, not a spin on the wall clock, so that a drawing never shows parallelism the machine
/// did not have: a burst that loses its core (three job threads on two cores, a busy machine) takes
/// longer, and its bar on the drawing grows with it. A spin "until 30 ms have passed" would end on
/// time even if it ran for only half of them, and two such bursts would look parallel on one core.
/// The amount of work per millisecond is measured once, in [`work_per_ms`].
fn burn(length: Duration) {
    let units = (work_per_ms() * length.as_secs_f64() * 1000.0).round() as u64;
    work(units);
}

/// `units` steps of a xorshift generator: cheap, branch-free, and kept by `black_box` from being
/// folded away by the optimiser, so the same count costs the same CPU time in every build.
fn work(units: u64) -> u64 {
    let mut x = 0x9E37_79B9_7F4A_7C15_u64;
    for _ in 0..units {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x = std::hint::black_box(x);
    }
    x
}

/// Units of [`work`] per millisecond of CPU on this machine, measured on first use and kept.
///
/// The fastest of many short trials (about 0.2 ms each): a trial that was preempted or shared its
/// core comes out slow, and at least one of 50 runs undisturbed even on a busy machine, so the
/// figure is the speed of a core of our own. Bursts made from it are never shorter than their
/// nominal length, only longer when the core is shared. Measured with `std::time::Instant`, not
/// tokio's clock: on the paused clock of the tests, tokio's would not move.
fn work_per_ms() -> f64 {
    static RATE: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *RATE.get_or_init(|| {
        // Grow a trial until it lasts long enough for the clock to resolve it well.
        let mut units = 1_000u64;
        let trial = |units: u64| {
            let start = std::time::Instant::now();
            work(units);
            start.elapsed()
        };
        while trial(units) < Duration::from_micros(200) {
            units *= 2;
        }
        let fastest = (0..50)
            .map(|_| trial(units))
            .min()
            .expect("50 trials")
            .max(Duration::from_nanos(1));
        units as f64 / (fastest.as_secs_f64() * 1000.0)
    })
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

/// The best any scheduler can do with `threads` threads and no overhead: whenever a job is ready for
/// its next burst (it woke first, ties in job order), run it on the thread that is free first (list
/// scheduling, worked out in `common::schedule`). One thread gives the ideal of III; one per job
/// gives the longest job (II).
fn ideal_with(threads: usize) -> Duration {
    let jobs: Vec<schedule::Job<'_>> = JOBS
        .iter()
        .map(|job| schedule::Job {
            bursts: &job.bursts,
            waits: &job.waits,
        })
        .collect();
    schedule::makespan(&jobs, threads)
}

/// What I should approach: every burst and every wait, one after another.
fn sum_of_everything() -> Duration {
    JOBS.iter().map(Job::alone).sum()
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

/// An output file named on the command line, opened before the runs: a path that cannot be written
/// is reported at once, on one line, not after a second and a half of work (nor as a backtrace).
fn create_or_exit(flag: &str, path: &std::path::Path) -> std::fs::File {
    std::fs::File::create(path).unwrap_or_else(|e| {
        eprintln!("error: {flag} {}: {e}", path.display());
        std::process::exit(1)
    })
}

/// Writes `text` to an output file opened by [`create_or_exit`]; a failure (a full disk) is one line.
fn write_or_exit(mut file: std::fs::File, flag: &str, path: &std::path::Path, text: &str) {
    use std::io::Write as _;
    if let Err(e) = file.write_all(text.as_bytes()).and_then(|()| file.flush()) {
        eprintln!("error: {flag} {}: {e}", path.display());
        std::process::exit(1)
    }
}

// No `#[tokio::main]`: I and II need no runtime, and III and IV each build the runtime they are about.
fn main() -> anyhow::Result<()> {
    let args: Args = common::parse_args();
    init_logging();
    let trace_file = args
        .trace_json
        .as_deref()
        .map(|p| (p, create_or_exit("--trace-json", p)));
    let svg_file = args.svg.as_deref().map(|p| (p, create_or_exit("--svg", p)));
    // Measure the speed of a core once, before anything runs beside it (see `burn`).
    info!(
        "a burst is fixed work: {:.0} units per ms of CPU, measured once",
        work_per_ms()
    );
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

    let runs = [
        ("I. sequential, one thread", &one),
        ("II. one OS thread per job", &two),
        ("III. async, current_thread runtime", &three),
        (
            &*format!("IV. async, multi-thread runtime, {workers} workers"),
            &four,
        ),
    ];
    for (title, run) in &runs {
        common::out!();
        common::out!("{title}: {}", fmt_duration(run.took));
        common::logging::write_stdout(format_args!("{}", timeline::render(&run.segments, SLOT)));
    }
    common::out!();
    common::out!(
        "What to see (uppercase: running, lowercase: blocked holding the thread, -: thread free)"
    );
    common::out!(
        "  I    one thread: while a job waits it still holds the thread (lowercase), so nothing else runs"
    );
    common::out!(
        "  II   a thread per job: the waits overlap across threads; each thread still blocks in its waits"
    );
    common::out!(
        "  III  one thread, tasks interleave: while A waits, B and C run; '-' only when all three wait"
    );
    common::out!(
        "  IV   tasks run on whichever worker is free: they interleave, may overlap, may resume elsewhere"
    );

    if let Some((path, file)) = trace_file {
        let traced: Vec<(&str, &[Segment])> = runs
            .iter()
            .map(|(t, r)| (*t, r.segments.as_slice()))
            .collect();
        let json = serde_json::to_string_pretty(&timeline::chrome_trace(&traced))
            .context("a trace is plain JSON")?;
        write_or_exit(file, "--trace-json", path, &json);
        info!(
            "wrote {} (open it in https://ui.perfetto.dev)",
            path.display()
        );
    }
    if let Some((path, file)) = svg_file {
        // Each panel titled with its way and its measured time, as the text drawing above.
        let titles: Vec<String> = runs
            .iter()
            .map(|(t, r)| format!("{t}: {}", fmt_duration(r.took)))
            .collect();
        let panels: Vec<(&str, &[Segment])> = titles
            .iter()
            .zip(&runs)
            .map(|(t, (_, r))| (t.as_str(), r.segments.as_slice()))
            .collect();
        let build = if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        };
        let caption = format!(
            "00_async_vs_threads: the four timelines of one real run ({workers} CPUs, {build} build)"
        );
        write_or_exit(file, "--svg", path, &timeline::svg(&panels, &caption));
        info!("wrote {} (open it in a browser)", path.display());
    }

    let sum = sum_of_everything();
    let ideal = |d: Duration| sum.as_secs_f64() / d.as_secs_f64();
    common::out!();
    common::out!("Summary");
    common::out!(
        "  I. sequential took {} (ideal: the sum of every burst and wait, {})",
        fmt_duration(one.took),
        fmt_duration(sum)
    );
    common::out!(
        "  {}",
        Comparison::new(
            "sequential",
            one.took,
            "threads",
            two.took,
            ideal(ideal_with(JOBS.len()))
        )
    );
    common::out!(
        "  {}",
        Comparison::new(
            "sequential",
            one.took,
            "async 1 thread",
            three.took,
            ideal(ideal_with(1))
        )
    );
    common::out!(
        "  {}",
        Comparison::new(
            "sequential",
            one.took,
            format!("async {workers} workers"),
            four.took,
            ideal(ideal_with(workers))
        )
    );
    common::out!(
        "  threads used: I {}, II {}, III {}, IV {}",
        timeline::threads(&one.segments).len(),
        timeline::threads(&two.segments).len(),
        timeline::threads(&three.segments).len(),
        timeline::threads(&four.segments).len()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    //! I to IV run on the real clock, one test at a time: they assert the shape of the lanes (which
    //! thread, what overlaps, in what order) and lower bounds from sleeps (a sleep never ends early)
    //! and bursts (fixed work never ends much early), which hold on a loaded machine. No upper bounds
    //! on real time: a loaded machine can stretch anything. III also runs on tokio's paused clock,
    //! where its timing and poll order are exact.
    use super::*;
    use common::timeline::{Kind, cross_thread_overlap, max_overlap, threads};

    /// The real-clock tests take turns: each spins up to three threads, and six of them at once on a
    /// busy 2-core machine would only measure the queue for a core.
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

    fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
        // A failed test poisons the lock; the next one may still run.
        ONE_AT_A_TIME
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The jobs in the order their segments start, consecutive repeats folded: `"ABC"` when they ran
    /// one after another, longer when they interleaved.
    fn switches(segments: &[Segment]) -> String {
        let mut order: Vec<char> = segments.iter().map(|s| s.job).collect();
        order.dedup();
        order.into_iter().collect()
    }

    /// What a real run of `job` cannot beat: its waits in full (a sleep never ends early) and half
    /// its bursts (a burst is calibrated on the fastest of 50 trials, so it is not shorter than its
    /// length unless the core got faster since; half leaves room for that, and no more).
    fn floor(job: &Job) -> Duration {
        job.waits.iter().sum::<Duration>() + job.bursts.iter().sum::<Duration>() / 2
    }

    #[test]
    fn a_burst_is_fixed_work_so_it_takes_longer_without_a_core_of_its_own() {
        let _turn = one_at_a_time();
        let length = ms(100);
        work_per_ms(); // calibrated before anything is timed
        let (_, alone) = time(|| burn(length));
        assert!(alone >= length / 2, "one burst alone: {alone:?}");
        // Four bursts per core at once: each gets about a quarter of a core, so fixed work takes
        // about four times as long and still uses its full length of CPU. A spin on the wall clock
        // would stop after 100 ms of wall time having run for a quarter of it: on a drawing, four
        // times the parallelism the machine has. Each thread reports its burst's wall time and its
        // own CPU time (from /proc, in 10 ms ticks; `None` elsewhere).
        let cores = thread::available_parallelism().map_or(1, |n| n.get());
        let bursts: Vec<(Duration, Option<Duration>)> = thread::scope(|scope| {
            let handles: Vec<_> = (0..4 * cores)
                .map(|_| {
                    scope.spawn(|| {
                        let tid = common::timing::current_tid();
                        let cpu = || tid.as_deref().and_then(common::timing::thread_cpu_time);
                        let before = cpu();
                        let (_, wall) = time(|| burn(length));
                        let used = cpu().zip(before).map(|(after, before)| after - before);
                        (wall, used)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("a burst does not panic"))
                .collect()
        });
        let mean = bursts.iter().map(|(wall, _)| *wall).sum::<Duration>() / bursts.len() as u32;
        assert!(
            mean >= length * 2,
            "{} bursts on {cores} cores took {mean:?} on average: {bursts:?}",
            bursts.len()
        );
        for (wall, cpu) in &bursts {
            if let Some(cpu) = cpu {
                assert!(
                    *cpu >= length / 2,
                    "a burst of {wall:?} ran for only {cpu:?} of CPU: {bursts:?}"
                );
            }
        }
    }

    #[test]
    fn the_ideals_are_the_sum_the_longest_job_and_a_packed_single_thread() {
        assert_eq!(sum_of_everything(), ms(600));
        assert_eq!(ideal_with(JOBS.len()), ms(220), "the longest jobs, A and B");
        // A 0-30, B 30-50, C 50-70; B 100-130, A 130-150, C 150-170; C 200-220, A 220-250, B 250-270.
        assert_eq!(ideal_with(1), ms(270));
    }

    #[test]
    fn sequential_never_overlaps_and_runs_one_job_after_another() {
        let _turn = one_at_a_time();
        let run = sequential();
        assert_eq!(max_overlap(&run.segments), 1, "{:?}", run.segments);
        assert_eq!(threads(&run.segments).len(), 1);
        assert_eq!(switches(&run.segments), "ABC", "no interleaving");
        // Every wait held the thread.
        assert_eq!(
            run.segments
                .iter()
                .filter(|s| s.kind == Kind::Block)
                .count(),
            6
        );
        let floor: Duration = JOBS.iter().map(floor).sum();
        assert!(run.took >= floor, "{:?} < {floor:?}", run.took);
    }

    #[test]
    fn one_thread_per_job_overlaps_the_waits_across_threads() {
        let _turn = one_at_a_time();
        let run = one_thread_per_job().expect("threads start");
        let lanes = threads(&run.segments);
        assert_eq!(lanes.len(), 3, "one thread per job: {lanes:?}");
        for s in &run.segments {
            assert_eq!(
                s.thread,
                format!("job-{}", s.job),
                "each job on its own thread"
            );
        }
        // The sleeps overlap across threads (CPU overlap depends on free cores, so it is not asserted).
        let sleeps: Vec<Segment> = run
            .segments
            .iter()
            .filter(|s| s.kind == Kind::Block)
            .cloned()
            .collect();
        assert!(max_overlap(&sleeps) >= 2, "{sleeps:?}");
        assert!(cross_thread_overlap(&sleeps) > Duration::ZERO);
        // No bound on the total from above: on a busy 2-core machine three threads of fixed work
        // queue for a core, and a run of II has been seen to take longer than the 600 ms of I.
        let floor = JOBS.iter().map(floor).max().expect("three jobs");
        assert!(run.took >= floor, "{:?} < {floor:?}", run.took);
    }

    #[test]
    fn async_on_one_thread_stays_on_one_thread_and_interleaves() {
        let _turn = one_at_a_time();
        let run = async_one_thread().expect("runtime builds");
        assert_eq!(threads(&run.segments).len(), 1, "{:?}", run.segments);
        assert_eq!(
            max_overlap(&run.segments),
            1,
            "one thread runs one poll at a time"
        );
        // A's first wait (80 ms) is longer than B's and C's first bursts (20 ms each): B and C run
        // while A waits, then A resumes. "ABC" would mean one job after another.
        let order = switches(&run.segments);
        assert!(order.starts_with("ABC") && order.len() > 3, "{order}");
        assert!(
            run.segments.iter().all(|s| s.kind == Kind::Run),
            "a task never blocks the thread"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn async_on_one_thread_takes_exactly_the_longest_chain_of_waits_in_virtual_time() {
        // On the paused clock a burst takes no (virtual) time, so only the waits count: A waits
        // 80 + 60, B 50 + 100, C 70 + 30. The jobs wait together, so the run takes B's 150 ms, not
        // the 390 ms of all waits.
        let recorder = Recorder::new();
        let took = async_jobs(&recorder).await.expect("no panic");
        assert_eq!(took, ms(150));
        // Every poll in the order the timers fired: 0 A B C, 50 B, 70 C, 80 A, 100 C, 140 A, 150 B.
        let segments = recorder.segments();
        let polls: String = segments.iter().map(|s| s.job).collect();
        assert_eq!(polls, "ABCBCACAB");
        let starts: Vec<Duration> = segments.iter().map(|s| s.start).collect();
        assert_eq!(starts, [0, 0, 0, 50, 70, 80, 100, 140, 150].map(ms));
    }

    #[test]
    fn async_on_the_multi_thread_runtime_polls_on_two_workers_at_once() {
        let _turn = one_at_a_time();
        // The proof of parallelism: polls on two different workers in progress at the same moment.
        // A runtime with one thread can never show it (its overlap is exactly zero). "In progress"
        // is wall time: on a machine without a free core the two polls share one and both stretch
        // (the bursts are fixed work), which the drawing shows as longer bars, still overlapping.
        // The threshold is a few ms of the 20-30 ms bursts. One witness is enough, so a run where
        // the runtime queued every task on one worker (it may, see IV's notes) gets two more tries.
        let mut overlaps = Vec::new();
        for _ in 0..3 {
            let run = async_multi_thread(2).expect("runtime builds");
            assert!(
                run.segments.iter().all(|s| s.thread.starts_with("worker-")),
                "{:?}",
                run.segments
            );
            assert_eq!(run.segments.len(), 9, "three polls per job");
            let floor = JOBS.iter().map(floor).max().expect("three jobs");
            assert!(run.took >= floor, "{:?} < {floor:?}", run.took);
            let overlap = cross_thread_overlap(&run.segments);
            if overlap >= ms(5) {
                assert_eq!(threads(&run.segments).len(), 2, "{:?}", run.segments);
                return;
            }
            overlaps.push(overlap);
        }
        panic!("no two polls ran on two workers at once in 3 runs: overlaps {overlaps:?}");
    }

    #[test]
    fn help_names_the_example() {
        let help = Args::try_parse_from(["00", "--help"]).expect_err("--help stops the program");
        assert_eq!(help.exit_code(), 0);
        assert!(
            help.to_string().starts_with("00 · Async vs threads"),
            "{help}"
        );
    }
}
