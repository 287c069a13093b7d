//! On tokio's paused clock, time jumps to the next timer when every task waits: the times below
//! are exact. (The deadline, 700 ms, is chosen to coincide with no download or tick, so the
//! order of events is never a tie.)
use super::continuation::continuation;
use super::heartbeat::{Gap, HEARTBEAT, Heartbeat, Tick, heartbeat_verdict, longest_gap};
use super::outcome::Outcome;
use super::polling::wait_with_polling;
use super::progress::Finished;
use super::shared::{READERS, share_one_result};
use super::*;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn files_and_times(finished: &[Finished]) -> Vec<(&'static str, Duration)> {
    finished.iter().map(|f| (f.file, f.at)).collect()
}

#[tokio::test(start_paused = true)]
async fn results_come_in_completion_order_not_spawn_order() {
    let finished = download_all(&FILES, DEADLINE).await;
    assert_eq!(
        files_and_times(&finished),
        [
            ("orders.csv", ms(300)),
            ("payments.csv", ms(450)),
            ("users.csv", ms(600)),
            ("products.csv", ms(700)),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn progress_reaches_4_of_4_with_the_right_split() {
    let finished = download_all(&FILES, DEADLINE).await;
    let lines: Vec<String> = finished.iter().map(|f| f.progress.to_string()).collect();
    assert_eq!(
        lines,
        [
            "1/4 finished, 1 succeeded, 0 failed, 0 panicked, 0 cancelled",
            "2/4 finished, 1 succeeded, 1 failed, 0 panicked, 0 cancelled",
            "3/4 finished, 2 succeeded, 1 failed, 0 panicked, 0 cancelled",
            "4/4 finished, 2 succeeded, 1 failed, 0 panicked, 1 cancelled",
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn an_error_a_panic_and_a_cancellation_are_told_apart() {
    let files = [FILES[2], INVOICES, FILES[3], FILES[1]];
    let finished = download_all(&files, DEADLINE).await;
    let outcomes: Vec<(&str, Outcome)> = finished
        .iter()
        .map(|f| (f.file, f.outcome.clone()))
        .collect();
    assert_eq!(
        outcomes,
        [
            (
                "invoices.csv",
                Outcome::Panicked("invoices.csv: malformed row 17".into())
            ),
            ("orders.csv", Outcome::Succeeded { rows: 5400 }),
            (
                "payments.csv",
                Outcome::Failed("payments.csv: server returned 500".into())
            ),
            ("products.csv", Outcome::Cancelled),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn without_a_deadline_in_reach_nothing_is_cancelled() {
    let finished = download_all(&FILES, ms(2000)).await;
    let last = finished.last().expect("four records");
    assert_eq!((last.file, last.at), ("products.csv", ms(900)));
    assert_eq!(last.outcome, Outcome::Succeeded { rows: 87 });
    assert_eq!(last.progress.cancelled, 0);
}

#[tokio::test(start_paused = true)]
async fn join_all_waits_for_the_slowest_and_keeps_argument_order() {
    // `asyncio.gather` for contrast: no result is available before the last one is.
    let (results, took) = time_async(futures::future::join_all(FILES.map(download))).await;
    assert_eq!(took, ms(900));
    let rows: Vec<Option<u32>> = results.into_iter().map(Result::ok).collect();
    assert_eq!(rows, [Some(1200), Some(5400), None, Some(87)]);
}

#[tokio::test(start_paused = true)]
async fn polling_waits_exactly_four_times_and_gets_the_result() {
    let (polling, took) = time_async(wait_with_polling()).await;
    assert_eq!(polling.expect("no panic"), (7, 4), "(result, waits)");
    assert_eq!(took, ms(900), "the timeouts did not slow the task down");
}

#[tokio::test(start_paused = true)]
async fn the_continuation_chains_map_and_then() {
    let (value, took) = time_async(continuation()).await;
    assert_eq!(value, 10);
    assert_eq!(took, ms(300 + 100));
}

#[tokio::test(start_paused = true)]
async fn five_readers_share_one_computation() {
    let (shared, took) = time_async(share_one_result()).await;
    let (values, computed) = shared.expect("no reader panics");
    assert_eq!(values, [10; READERS]);
    assert_eq!(computed, 1, "computed once, not once per reader");
    assert_eq!(
        took,
        ms(300),
        "every reader waited for the same computation"
    );
}

#[tokio::test(start_paused = true)]
async fn the_heartbeat_keeps_ticking_while_main_waits() {
    let heartbeat = Heartbeat::start(HEARTBEAT);
    let ((), took) = time_async(async {
        download_all(&FILES, DEADLINE).await;
        wait_with_polling().await.expect("no panic");
    })
    .await;
    let ticks = heartbeat
        .stop()
        .await
        .expect("the heartbeat does not panic");
    assert_eq!(took, ms(700 + 900));
    // A tick every 150 ms from start to end, none late: 1600 ms / 150 ms = 10 ticks.
    assert_eq!(ticks.len(), 10, "{ticks:?}");
    assert_eq!(longest_gap(&ticks).length, HEARTBEAT, "{ticks:?}");
}

/// The paused clock cannot see a blocked thread: it stands still while the thread is blocked,
/// so a `std::thread::sleep` in `download` costs no time there. This test runs once on the
/// real clock, where it does: the same work, and the example's own verdict on the gap.
#[tokio::test]
async fn on_the_real_clock_waiting_never_blocks_the_heartbeat() {
    // Every 10 ms: a block of the thread longer than the allowance cannot fall between ticks.
    let period = ms(10);
    let heartbeat = Heartbeat::start(period);
    download_all(&FILES, DEADLINE).await;
    wait_with_polling().await.expect("no panic");
    continuation().await;
    share_one_result().await.expect("no reader panics");
    let ticks = heartbeat
        .stop()
        .await
        .expect("the heartbeat does not panic");
    // A tick up to 100 ms late still passes, and later still if the OS kept the thread waiting
    // for a core meanwhile (a busy machine); a `download` that blocked the thread for 120 ms
    // would hold back a tick by at least that, waiting for no core.
    let gap = longest_gap(&ticks);
    assert_eq!(
        heartbeat_verdict(gap, period),
        "waiting never blocked the thread",
        "longest gap {gap:?}"
    );
    // 700 + 900 + 400 + 300 ms of waiting: about 230 ticks on an idle machine. On a busy one each
    // late tick delays the next, so only this is certain: the verdict above allows no gap longer
    // than 110 ms that the wait for a core does not explain, so at least one tick per 110 ms.
    assert!(ticks.len() >= 20, "{} ticks", ticks.len());
}

#[test]
fn the_heartbeat_verdict_follows_the_gap() {
    let gap = |length: u64, waited_for_core: u64| Gap {
        length: ms(length),
        waited_for_core: ms(waited_for_core),
    };
    assert_eq!(
        heartbeat_verdict(gap(151, 0), HEARTBEAT),
        "waiting never blocked the thread"
    );
    assert_eq!(
        heartbeat_verdict(gap(250, 0), HEARTBEAT),
        "waiting never blocked the thread"
    );
    // The run of the issue: a `std::thread::sleep(120 ms)` in `download` and a 270 ms gap,
    // printed beside "waiting never blocked the thread"; 480 ms when four block in a row.
    assert_eq!(
        heartbeat_verdict(gap(270, 0), HEARTBEAT),
        "the thread was blocked: a tick came 120 ms late"
    );
    assert_eq!(
        heartbeat_verdict(gap(630, 0), HEARTBEAT),
        "the thread was blocked: a tick came 480 ms late"
    );
    // A busy machine: a tick 226 ms late (seen under a load of 14 on 2 cores), all but a few ms
    // of it spent ready to run while the OS ran other programs. No block.
    assert_eq!(
        heartbeat_verdict(gap(236, 220), ms(10)),
        "waiting never blocked the thread"
    );
    // A block on a busy machine: 120 ms blocked besides 200 ms waiting for a core.
    assert_eq!(
        heartbeat_verdict(gap(470, 200), HEARTBEAT),
        "the thread was blocked: a tick came 120 ms late"
    );
}

#[test]
fn the_longest_gap_is_the_one_the_wait_for_a_core_explains_least() {
    let tick = |at: u64, waited_for_core: u64| Tick {
        at: ms(at),
        waited_for_core: ms(waited_for_core),
    };
    // Gaps: 150 (none waited), 300 (280 waited: 20 unexplained), 200 (0 waited: 200 unexplained).
    let ticks = [tick(150, 0), tick(450, 280), tick(650, 0)];
    assert_eq!(
        longest_gap(&ticks),
        Gap {
            length: ms(200),
            waited_for_core: ms(0)
        }
    );
}
