//! On tokio's paused clock (a `current_thread` runtime, which changes none of the timings), time
//! jumps to the next timer when every task waits: the durations below are exact.
use super::detached::never_awaited_vs_detached;
use super::promise::{result_never_set, set_result_later};
use super::*;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[tokio::test(start_paused = true)]
async fn sequential_takes_exactly_the_sum() {
    let ((_, header_done), took) = time_async(load_dashboard_sequential(USER_ID)).await;
    assert_eq!(took, ms(300 + 600 + 450 + 90));
    assert_eq!(header_done, took, "the header came last");
}

#[tokio::test(start_paused = true)]
async fn spawned_tasks_overlap_the_header_total_is_the_longest_branch() {
    let (run, took) = time_async(load_dashboard_spawned(USER_ID)).await;
    let (_, header_done) = run.expect("no task panics");
    assert_eq!(took, ms(600), "the longest branch, not the sum");
    assert_eq!(
        header_done,
        ms(90),
        "the header did not wait for the fetches"
    );
}

#[tokio::test(start_paused = true)]
async fn futures_created_early_only_start_when_awaited() {
    let ((_, header_done), took) = time_async(load_dashboard_lazy_futures(USER_ID)).await;
    assert_eq!(header_done, ms(90));
    assert_eq!(
        took,
        ms(90 + 600),
        "the fetches made no progress during the header"
    );
}

#[tokio::test(start_paused = true)]
async fn all_ways_build_the_same_dashboard() {
    let (sequential, _) = load_dashboard_sequential(USER_ID).await;
    let (lazy, _) = load_dashboard_lazy_futures(USER_ID).await;
    let (spawned, _) = load_dashboard_spawned(USER_ID).await.expect("no panic");
    assert_eq!(sequential, lazy);
    assert_eq!(lazy, spawned);
    assert_eq!(spawned.header, "<h1>Dashboard</h1>");
    assert_eq!(spawned.orders, ["order-1001", "order-1002"]);
}

#[tokio::test(start_paused = true)]
async fn a_future_never_awaited_never_runs_but_a_detached_task_does() {
    let (future_ran, task_ran) = never_awaited_vs_detached().await;
    assert!(
        !future_ran,
        "the future was never polled, so its body never ran"
    );
    assert!(
        task_ran,
        "dropping a JoinHandle detaches the task, it does not cancel it"
    );
}

#[tokio::test(start_paused = true)]
async fn oneshot_delivers_the_result_set_later() {
    let (result, waited) = set_result_later().await.expect("the sender sends");
    assert_eq!(result, "Hello, world!");
    assert_eq!(waited, ms(150));
}

#[tokio::test(start_paused = true)]
async fn a_dropped_sender_wakes_the_receiver_with_an_error() {
    let (error, took) = time_async(result_never_set()).await;
    assert!(error.is_some(), "the receiver got an error, not a value");
    assert_eq!(took, ms(50), "it learned as soon as the sender was dropped");
}
