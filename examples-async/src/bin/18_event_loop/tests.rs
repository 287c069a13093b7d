//! The tiny executor on its fake clock, tokio on its paused clock: every claim exactly.
use super::*;
use crate::executor::Event;
use crate::ordering::{AWAIT_ORDER, BUDGET};
use crate::report::{compared_with, counts_line, figures};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn fake_run(style: Style) -> Vec<Record> {
    run_on_tiny_executor(Clock::fake(), style, true).expect("the dashboard finishes")
}

/// The trace as short lines: `  0 poll main`, `100 wake orders`, `said: ...`.
fn lines(trace: &[Record]) -> Vec<String> {
    trace
        .iter()
        .map(|r| {
            let at = r.at.as_millis();
            match &r.event {
                Event::Spawned { name, .. } => format!("{at} spawn {name}"),
                Event::Polled { name, .. } => format!("{at} poll {name}"),
                Event::Pending { name, .. } => format!("{at} pending {name}"),
                Event::Finished { name, .. } => format!("{at} ready {name}"),
                Event::Woken { name, .. } => format!("{at} wake {name}"),
                Event::Idle { slept } => format!("{at} idle {}", slept.as_millis()),
                Event::Said(text) => format!("{at} say {text}"),
            }
        })
        .collect()
}

#[test]
fn the_loop_polls_wakes_and_idles_exactly_as_planned() {
    let trace = fake_run(Style::AsyncFn);
    let expected = [
        "0 spawn main",
        "0 poll main",
        "0 spawn profile",
        "0 spawn orders",
        "0 spawn recommendations",
        "0 pending main",
        "0 poll profile",
        "0 say profile: start, 200 ms of I/O",
        "0 pending profile",
        "0 poll orders",
        "0 say orders: start, 100 ms of I/O",
        "0 pending orders",
        "0 poll recommendations",
        "0 say recommendations: waiting for orders",
        "0 pending recommendations",
        // Nothing ready: the loop idles until the first timer (orders, 100 ms).
        "100 idle 100",
        "100 wake orders",
        "100 poll orders",
        "100 say orders: done",
        // Finishing wakes the task that awaits it: a push onto the ready queue.
        "100 wake recommendations",
        "100 ready orders",
        "100 poll recommendations",
        "100 say recommendations: got orders, working 200 ms",
        "100 pending recommendations",
        "200 idle 100",
        "200 wake profile",
        "200 poll profile",
        "200 say profile: done",
        "200 wake main",
        "200 ready profile",
        // main gets its profile, then stops at the next .await: recommendations.
        "200 poll main",
        "200 pending main",
        "300 idle 100",
        "300 wake recommendations",
        "300 poll recommendations",
        "300 say recommendations: done",
        "300 wake main",
        "300 ready recommendations",
        "300 poll main",
        "300 say main: page ready: profile + recommendations for orders",
        "300 ready main",
    ];
    assert_eq!(lines(&trace), expected);
}

#[test]
fn every_task_is_polled_once_more_than_it_is_woken_and_the_total_is_the_longest_chain() {
    let f = figures(&fake_run(Style::AsyncFn));
    let counts: Vec<(&str, u32, u32)> =
        f.tasks.iter().map(|t| (t.name, t.polls, t.wakes)).collect();
    assert_eq!(
        counts,
        [
            ("main", 3, 2),
            ("profile", 2, 1),
            ("orders", 2, 1),
            ("recommendations", 3, 2),
        ]
    );
    assert!(counts_line(&f.tasks).1);
    assert_eq!(f.total, ms(300));
    assert_eq!(f.total, ideal_total());
    assert_eq!((f.idles, f.idle), (3, ms(300)), "idle the whole time");
}

#[test]
fn the_hand_written_future_gives_the_same_trace_as_the_async_fn() {
    let by_async = fake_run(Style::AsyncFn);
    let by_hand = fake_run(Style::ByHand);
    assert_eq!(by_hand, by_async, "same events at the same instants");
}

#[test]
fn the_hand_written_future_is_lazy_like_an_async_fn() {
    // Created but never polled: neither says a word.
    let ex = Handle::new(Clock::fake(), true);
    let orders = ex.spawn("orders", async { String::from("orders") });
    let _by_hand = Recommendations::new(ex.clone(), orders);
    let orders = ex.spawn("orders", async { String::from("orders") });
    let _by_async = recommendations(ex.clone(), orders);
    let said = ex
        .trace()
        .iter()
        .filter(|r| matches!(r.event, Event::Said(_)))
        .count();
    assert_eq!(said, 0);
}

#[tokio::test(start_paused = true)]
async fn tokio_current_thread_polls_and_wakes_as_the_tiny_executor_does() {
    let run = counted_dashboard(Spawn::Anywhere)
        .await
        .expect("no task failed");
    let tiny = figures(&fake_run(Style::AsyncFn));
    assert_eq!(run.tasks, tiny.tasks);
    assert_eq!(run.total, ms(300));
}

#[test]
fn on_a_local_set_the_tasks_count_the_same_and_the_root_gets_polls_no_one_woke_it_for() {
    let tiny = figures(&fake_run(Style::AsyncFn));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a runtime");
    let local = tokio::task::LocalSet::new()
        .block_on(&runtime, counted_dashboard(Spawn::Local))
        .expect("no task failed");
    assert_eq!(local.tasks[1..], tiny.tasks[1..], "the three spawned tasks");
    let (main, tiny_main) = (&local.tasks[0], &tiny.tasks[0]);
    assert_eq!(main.wakes, tiny_main.wakes);
    // `LocalSet::block_on` polls its future whenever any local task was woken: legal, and
    // harmless, because a future polled without cause checks again and returns `Pending`.
    assert!(main.polls > main.wakes + 1, "{main:?}");
    assert_eq!(local.total, ms(300));
    assert!(compared_with(&local.tasks, &tiny.tasks).contains("polls without a wake"));
}

#[test]
fn a_task_spawned_in_one_block_on_finishes_in_the_next() {
    let (first, second, finished_in) = reused_runtime().expect("runs");
    assert_eq!(finished_in, 2);
    assert!(first.tasks.iter().all(|t| t.polls == t.wakes + 1));
    assert!(second.tasks.iter().all(|t| t.polls == t.wakes + 1));
}

#[tokio::test(start_paused = true)]
async fn a_ready_await_does_not_yield_and_yield_now_goes_to_the_back() {
    assert_eq!(await_order().await, AWAIT_ORDER);
}

#[tokio::test(start_paused = true)]
async fn the_coop_budget_makes_a_busy_task_yield_after_128_operations() {
    assert_eq!(budget_yield().await, BUDGET);
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
