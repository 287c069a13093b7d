//! On the paused clock every enter and leave happens at exactly the planned instant.
use super::*;
use common::schedule;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// When each task should enter and leave if the semaphore is fair: in task order, each one
/// takes the first permit to come free. The ideal `main` prints is this schedule's end: list
/// scheduling with one slot per permit, worked out in `common::schedule`.
fn planned_schedule(work: &[Duration], permits: usize) -> Vec<Visit> {
    let tasks: Vec<schedule::Job<'_>> = work.iter().map(schedule::Job::task).collect();
    let mut visits: Vec<Visit> = schedule::list_schedule(&tasks, permits)
        .into_iter()
        .map(|p| Visit {
            task: p.job,
            entered: p.start,
            left: p.end,
        })
        .collect();
    visits.sort_by_key(|v| v.task);
    visits
}

/// A semaphore that leaked permits would leave tasks waiting forever; on the paused clock this
/// deadline then fires at once and the test fails instead of hanging.
async fn run_within_a_minute(work: &[Duration], permits: usize) -> SemaphoreRun {
    tokio::time::timeout(Duration::from_secs(60), run(work, permits))
        .await
        .expect("every task got a permit in the end (none leaked)")
        .expect("no task failed")
}

/// The most visits that overlap at any instant, from the recorded times alone.
fn max_overlap(visits: &[Visit]) -> usize {
    visits
        .iter()
        .map(|v| {
            visits
                .iter()
                .filter(|w| w.entered <= v.entered && v.entered < w.left)
                .count()
        })
        .max()
        .unwrap_or(0)
}

#[tokio::test(start_paused = true)]
async fn never_more_than_three_inside_and_three_is_reached() {
    let r = run_within_a_minute(&WORK, PERMITS).await;
    assert_eq!(r.peak_inside, 3);
    assert_eq!(max_overlap(&r.visits), 3);
    assert_eq!(r.free_at_end, 3, "every permit came back");
}

#[tokio::test(start_paused = true)]
async fn the_run_follows_the_fifo_schedule_exactly() {
    let r = run_within_a_minute(&WORK, PERMITS).await;
    assert_eq!(r.visits, planned_schedule(&WORK, PERMITS));
    // Worked out by hand: tasks 0-2 enter at 0; 3 at 200; 4 and 5 at 300; 6 at 400; 7 at 450;
    // 8 at 550; 9 at 650 and leaves at 950.
    let entered: Vec<u64> = r
        .visits
        .iter()
        .map(|v| v.entered.as_millis() as u64)
        .collect();
    assert_eq!(entered, [0, 0, 0, 200, 300, 300, 400, 450, 550, 650]);
    assert_eq!(r.total, ms(950));
}

#[tokio::test(start_paused = true)]
async fn the_number_of_permits_is_the_limit() {
    for permits in 1..=WORK.len() {
        let r = run_within_a_minute(&WORK, permits).await;
        assert_eq!(r.peak_inside, permits, "{permits} permits");
        let planned = planned_schedule(&WORK, permits);
        assert_eq!(r.visits, planned, "{permits} permits");
    }
    // The two ends: one permit is one at a time, ten permits is all at once.
    assert_eq!(run_within_a_minute(&WORK, 1).await.total, ms(2350));
    assert_eq!(run_within_a_minute(&WORK, 10).await.total, ms(400));
}

#[test]
fn help_names_the_example_and_a_bad_flag_is_an_error() {
    let help = Args::try_parse_from(["07", "--help"]).expect_err("--help stops the program");
    assert_eq!(help.exit_code(), 0);
    assert!(help.to_string().starts_with("07 · Semaphore"), "{help}");
    let bad = Args::try_parse_from(["07", "--permits", "4"]).expect_err("no such flag");
    assert_eq!(bad.exit_code(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_task_that_panics_still_gives_its_permit_back() {
    let semaphore = Arc::new(Semaphore::new(1));
    let permit = semaphore.clone().acquire_owned().await.expect("open");
    let task = tokio::spawn(async move {
        let _permit = permit;
        panic!("the resource exploded");
    });
    assert!(task.await.expect_err("it panicked").is_panic());
    assert_eq!(semaphore.available_permits(), 1);
}
