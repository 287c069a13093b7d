//! I to IV run on the real clock, one test at a time: they assert the shape of the lanes (which
//! thread, what overlaps, in what order) and lower bounds from sleeps (a sleep never ends early)
//! and bursts (fixed work never ends much early), which hold on a loaded machine. No upper bounds
//! on real time: a loaded machine can stretch anything. III also runs on tokio's paused clock,
//! where its timing and poll order are exact.
use super::burst::{burn, work_per_ms};
use super::report::{ideal_with, sum_of_everything};
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
