//! Steps 1-3 and 5-7 on the paused clock, to the millisecond; step 4 talks to a real server, so
//! it runs on the real clock with bounds.
use super::*;
use crate::cancel_safety::*;
use crate::group::*;
use crate::request::*;
use crate::timeout_is_not_cancel::*;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio_util::sync::CancellationToken;

/// A cancel that never arrives leaves a demo waiting forever; on the paused clock this deadline
/// then fires at once and the test fails instead of hanging.
async fn within_a_minute<F: std::future::Future>(demo: F) -> F::Output {
    timeout(Duration::from_secs(60), demo)
        .await
        .expect("the demo ended (a hang here means a cancel was not seen)")
}

#[tokio::test(start_paused = true)]
async fn a_sleep_stops_exactly_when_the_token_is_cancelled() {
    let r = within_a_minute(demo_abort_a_sleep()).await;
    assert_eq!((r.ended, r.after), (Ended::Cancelled, USER_ABORT));
    assert_eq!(
        (r.pre_cancelled, r.pre_cancelled_after),
        (Ended::Cancelled, Duration::ZERO)
    );
    // And an uncancelled token lets it finish.
    let start = Instant::now();
    let ended = abortable_sleep(ms(70), &CancellationToken::new()).await;
    assert_eq!((ended, start.elapsed()), (Ended::Finished, ms(70)));
}

#[tokio::test(start_paused = true)]
async fn timeout_gives_up_at_its_limit_and_lets_a_quicker_future_finish() {
    let r = demo_timeout().await;
    assert!(r.long_timed_out);
    assert_eq!(r.long_after, ms(300));
    assert!(!r.short_timed_out);
    assert_eq!(r.short_after, ms(100));
}

#[tokio::test(start_paused = true)]
async fn a_child_token_stops_with_its_parent_or_alone_and_never_stops_the_parent() {
    let r = within_a_minute(demo_child_tokens()).await;
    assert_eq!((r.by_user, r.by_user_after), (Ended::Cancelled, USER_ABORT));
    assert_eq!(
        (r.by_own_timer, r.by_own_timer_after),
        (Ended::Cancelled, SHORT_OWN_TIMER)
    );
    assert!(!r.parent_cancelled_by_child);
}

/// Real clock: the server's delay is real time. The ideal is 150 ms; the bound only has to tell
/// "stopped at the cancel" from "waited for the 2000 ms answer".
#[tokio::test]
async fn a_request_is_dropped_at_the_cancel_not_at_the_answer() {
    let server = TestServer::start().expect("start the test server");
    let r = demo_abort_a_request(&server).await.expect("an HTTP client");
    assert_eq!(r.cancelled, Fetched::Stopped);
    assert!(r.cancelled_after >= REQUEST_ABORT, "{r:?}");
    assert!(r.cancelled_after < ms(1500), "{r:?}");
    assert_eq!(r.timed_out, Fetched::Stopped);
    assert!(r.timed_out_after >= REQUEST_TIMEOUT, "{r:?}");
    assert!(r.timed_out_after < ms(1500), "{r:?}");
    assert_eq!(r.control, Fetched::Status(200), "{r:?}");
}

#[tokio::test(start_paused = true)]
async fn a_group_stops_together_and_every_guard_is_dropped() {
    let r = within_a_minute(demo_group()).await;
    assert_eq!(r.by_token_stopped, WORKERS);
    assert_eq!(r.by_token_after, GROUP_STOP);
    assert_eq!(r.aborted, WORKERS);
    assert_eq!(r.aborted_after, GROUP_STOP);
    assert_eq!(
        r.guards_held_at_stop,
        2 * WORKERS,
        "each worker holds its guard: {r:?}"
    );
    assert_eq!(r.guards_made, 2 * WORKERS);
    assert_eq!(r.guards_dropped, r.guards_made, "a guard leaked: {r:?}");
}

/// The guard lives as long as the worker: held at every moment it runs, dropped when it stops.
#[tokio::test(start_paused = true)]
async fn a_worker_holds_its_guard_for_as_long_as_it_runs() {
    let counts = Arc::new(GuardCounts::default());
    let token = CancellationToken::new();
    let task = tokio::spawn(worker(7, token.clone(), counts.clone()));
    for _ in 0..5 {
        sleep(ms(70)).await; // across several chunks
        assert_eq!(counts.held(), 1, "the running worker holds its guard");
    }
    token.cancel();
    assert_eq!(task.await.expect("the worker returns"), 5 * 70 / 100);
    assert_eq!(counts.held(), 0, "dropped when it stopped");
    assert_eq!(counts.made.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn dropping_a_future_mid_await_runs_its_cleanup() {
    let counts = Arc::new(GuardCounts::default());
    let stopped = timeout(ms(150), worker(9, CancellationToken::new(), counts.clone())).await;
    assert!(stopped.is_err(), "the worker never ends by itself");
    assert_eq!(counts.made.load(Ordering::SeqCst), 1);
    assert_eq!(counts.dropped.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn a_timeout_stops_the_wait_not_the_spawned_task() {
    let r = within_a_minute(demo_timeout_is_not_cancellation()).await;
    assert!(r.spawned_timed_out);
    assert!(!r.spawned_done_at_timeout);
    assert_eq!(r.spawned_done_after, Some(SLOW_WORK), "it ran to its end");
    assert!(r.plain_timed_out);
    assert!(
        !r.plain_done_later,
        "a plain future is dropped with the timeout"
    );
    assert!(!r.aborted_done_later, "abort() stops the task");
}

#[tokio::test(start_paused = true)]
async fn read_line_in_a_select_loop_loses_the_lines_a_tick_splits() {
    let r = within_a_minute(read_lines_against_a_ticker(LineReader::NewFutureEachTurn))
        .await
        .expect("in-memory pipe");
    // Worked out by hand: line k arrives in pieces at 3 + 25k and 18 + 25k ms; ticks fall at
    // 0, 20, 40, ... ms. Ticks at 40, 60, 80, 140, 160, 180 and 240 land between the pieces
    // of lines 1, 2, 3, 5, 6, 7 and 9: those seven lose their first half.
    assert_eq!(lines_a_tick_splits(), [1, 2, 3, 5, 6, 7, 9]);
    assert_eq!(r.intact(), 3, "{r:?}");
    assert_eq!(r.fragments(), 7, "{r:?}");
    for lost in lines_a_tick_splits() {
        assert!(r.received.contains(&format!("{lost:02}")), "{r:?}");
    }
    assert_eq!(r.ticks, 13, "ticks at 0..=240 ms");
}

#[tokio::test(start_paused = true)]
async fn the_kept_future_and_the_cancel_safe_api_lose_nothing() {
    for how in [LineReader::SameFutureKept, LineReader::CancelSafeLines] {
        let r = within_a_minute(read_lines_against_a_ticker(how))
            .await
            .expect("in-memory pipe");
        let all: Vec<String> = (0..LINES).map(expected_line).collect();
        assert_eq!(r.received, all, "{how:?}");
        assert_eq!(r.ticks, 13, "{how:?}: the ticker was served too");
    }
}

#[test]
fn help_names_the_example_and_a_bad_flag_is_an_error() {
    let help = Args::try_parse_from(["16", "--help"]).expect_err("--help stops the program");
    assert_eq!(help.exit_code(), 0);
    assert!(help.to_string().starts_with("16 · Cancellation"), "{help}");
    let bad = Args::try_parse_from(["16", "--bogus"]).expect_err("no such flag");
    assert_eq!(bad.exit_code(), 2);
}
