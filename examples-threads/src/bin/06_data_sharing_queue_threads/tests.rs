//! Real time, on a machine that may be busy. What the channel guarantees is asserted exactly
//! (order, no loss, the bound, an unbounded send never waits); timings only as lower bounds, which
//! sleeps make exact, and as a ratio of two runs, never as a wall-clock upper bound.
use super::*;
use report::ideal_consumer_done;
use report::ideal_producer_done;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn every_item_arrives_once_and_in_order_through_both_queues() {
    for r in [
        run_bounded(CAPACITY).expect("the run completes"),
        run_unbounded().expect("the run completes"),
    ] {
        assert_eq!(r.received, (0..ITEMS).collect::<Vec<_>>(), "{}", r.kind);
    }
}

#[test]
fn a_bounded_queue_never_holds_more_than_its_capacity() {
    for capacity in [1, 3] {
        let r = run_bounded(capacity).expect("completes");
        assert!(r.peak_len <= capacity, "capacity {capacity}: {r:?}");
        assert!(r.producer_waits > 0, "capacity {capacity}: no backpressure");
        // The last item cannot enter before the consumer has finished ITEMS-1-capacity items.
        assert!(
            r.producer_done >= ideal_producer_done(QueueKind::Bounded(capacity)),
            "capacity {capacity}: {r:?}"
        );
    }
}

#[test]
fn an_unbounded_queue_lets_the_backlog_grow() {
    let r = run_unbounded().expect("completes");
    assert_eq!(r.producer_waits, 0, "an unbounded send never waits");
    // 7 items wait at 330 ms when nothing is late; a loaded machine may shave one or two.
    assert!(r.peak_len > CAPACITY, "{r:?}");
    // The producer ran at its own pace (300 ms), far ahead of the consumer (1030 ms): a ratio of
    // two runs of sleeps, not a wall-clock bound, so a busy machine that wakes both late keeps it.
    assert!(r.producer_done >= ms(300), "{r:?}");
    assert!(r.producer_done * 2 < r.consumer_done, "{r:?}");
    // The consumer still sets the total.
    assert!(r.consumer_done >= ideal_consumer_done(), "{r:?}");
}

#[test]
fn dropping_the_consumer_makes_the_producer_fail_not_hang() {
    let (tx, rx) = mpsc::sync_channel(1);
    drop(rx);
    let err =
        produce_bounded(tx, 1, &AtomicUsize::new(0), Instant::now()).expect_err("nobody listens");
    assert!(err.to_string().contains("hung up"), "{err}");
    let (tx, rx) = mpsc::channel();
    drop(rx);
    let err =
        produce_unbounded(tx, &AtomicUsize::new(0), Instant::now()).expect_err("nobody listens");
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
