//! On the paused clock the schedule is exact. With capacity 3: the consumer takes item 0 at
//! 30 ms, items 1-3 wait in the queue, item 4 fits at 150 ms, and from item 5 on every send waits
//! for the consumer (items 5..9 enter at 230, 330, ..., 630 ms).
use super::*;
use report::{ideal_consumer_done, ideal_producer_done};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[tokio::test(start_paused = true)]
async fn every_item_arrives_once_and_in_order_through_both_queues() {
    for r in [
        run_bounded(CAPACITY).await.expect("the run completes"),
        run_unbounded().await.expect("the run completes"),
    ] {
        assert_eq!(r.received, (0..ITEMS).collect::<Vec<_>>(), "{}", r.kind);
    }
}

#[tokio::test(start_paused = true)]
async fn a_bounded_queue_never_holds_more_than_its_capacity() {
    for capacity in 1..=5 {
        let r = run_bounded(capacity).await.expect("completes");
        // The producer is faster, so the queue fills up to the bound, and no further.
        assert_eq!(r.peak_len, capacity, "capacity {capacity}");
        assert!(r.producer_waits > 0, "capacity {capacity}: no backpressure");
        assert_eq!(
            r.producer_done,
            ideal_producer_done(QueueKind::Bounded(capacity)),
            "capacity {capacity}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn backpressure_holds_the_producer_to_the_consumers_pace() {
    let r = run_bounded(3).await.expect("completes");
    assert_eq!(r.producer_waits, 5);
    // Item 5 waits 50 ms (180 -> 230), items 6..9 wait 70 ms each.
    assert_eq!(r.producer_waited, ms(50 + 4 * 70));
    assert_eq!(r.producer_done, ms(630));
    assert_eq!(r.consumer_done, ms(1030));
}

#[tokio::test(start_paused = true)]
async fn an_unbounded_queue_lets_the_backlog_grow() {
    let bounded = run_bounded(3).await.expect("completes");
    let unbounded = run_unbounded().await.expect("completes");
    assert_eq!(unbounded.producer_waits, 0);
    assert_eq!(unbounded.producer_done, ms(300));
    // At 330 ms all 10 items were sent and the consumer had taken 3: 7 waiting.
    assert_eq!(unbounded.peak_len, 7);
    assert!(unbounded.peak_len > bounded.peak_len);
    // The consumer sets the pace: the bound costs no time in total.
    assert_eq!(unbounded.consumer_done, ideal_consumer_done());
    assert_eq!(bounded.consumer_done, ideal_consumer_done());
}

#[tokio::test(start_paused = true)]
async fn dropping_the_consumer_makes_the_producer_fail_not_hang() {
    let (tx, rx) = mpsc::channel(1);
    drop(rx);
    let err = produce_bounded(tx, Instant::now())
        .await
        .expect_err("nobody listens");
    assert!(err.to_string().contains("hung up"), "{err}");
    let (tx, rx) = mpsc::unbounded_channel();
    drop(rx);
    let err = produce_unbounded(tx, Instant::now())
        .await
        .expect_err("nobody listens");
    assert!(err.to_string().contains("hung up"), "{err}");
}

#[test]
fn help_names_the_example_and_a_bad_flag_is_an_error() {
    let help = Args::try_parse_from(["06", "--help"]).expect_err("--help stops the program");
    assert_eq!(help.exit_code(), 0);
    assert!(help.to_string().starts_with("06 · Sharing data"), "{help}");
    let bad = Args::try_parse_from(["06", "--capacity", "4"]).expect_err("no such flag");
    assert_eq!(bad.exit_code(), 2);
}
