//! On the paused clock, against a fake service that returns scripted outcomes (the test server's
//! delays run on its own real-time runtime, so it cannot be used here): every wait, every
//! attempt's start and every transition of the breaker happen at exactly the planned instant.
use super::*;
use crate::breaker::*;
use crate::report::total_line;
use crate::service::*;
use clap::Parser;
use std::collections::VecDeque;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A fake service: each call takes `latency`, then returns the next scripted outcome (`None`:
/// success, `Some(code)`: that status); past the script it succeeds. Records when each call began.
struct Fake {
    script: std::cell::RefCell<VecDeque<Option<u16>>>,
    latency: Duration,
    start: Instant,
    calls: std::cell::RefCell<Vec<Duration>>,
}

impl Fake {
    fn new(script: &[Option<u16>], latency: Duration) -> Self {
        Fake {
            script: std::cell::RefCell::new(script.iter().copied().collect()),
            latency,
            start: Instant::now(),
            calls: Default::default(),
        }
    }

    async fn call(&self) -> Result<(), ServiceError> {
        self.calls.borrow_mut().push(self.start.elapsed());
        sleep(self.latency).await;
        match self.script.borrow_mut().pop_front().flatten() {
            None => Ok(()),
            Some(code) => Err(ServiceError::Status(code)),
        }
    }

    fn starts(&self) -> Vec<Duration> {
        self.calls.borrow().clone()
    }
}

/// The waits seed 7 draws, worked out once from `StdRng` (the same on every platform) and
/// written down: if the draw changed, the demo's figures would too.
const SEED_7_WAITS: [u64; 4] = [0, 12, 11, 87];

#[test]
fn bounds_double_from_the_base_and_stop_at_the_cap() {
    let jitter = FullJitter::new(7, &POLICY);
    let bounds: Vec<u128> = (1..=6).map(|n| jitter.bound(n).as_millis()).collect();
    assert_eq!(bounds, [20, 40, 80, 160, 200, 200]);
    assert_eq!(jitter.bound(1000), POLICY.cap, "no overflow far out");
}

#[test]
fn the_same_seed_draws_the_same_waits_each_within_its_bound() {
    let draw = |seed| {
        let mut jitter = FullJitter::new(seed, &POLICY);
        (1..=4).map(|n| jitter.next_wait(n)).collect::<Vec<_>>()
    };
    let waits = draw(7);
    assert_eq!(waits, draw(7));
    let as_ms: Vec<u64> = waits.iter().map(|w| w.wait.as_millis() as u64).collect();
    assert_eq!(as_ms, SEED_7_WAITS);
    assert!(waits.iter().all(|w| w.wait <= w.bound));
    // Full jitter spreads over the whole range: over many draws, some land in the lower half.
    let mut jitter = FullJitter::new(1, &POLICY);
    let low = (0..100)
        .filter(|_| jitter.next_wait(3).wait < ms(40))
        .count();
    assert!((20..80).contains(&low), "{low} of 100 below half");
}

#[tokio::test(start_paused = true)]
async fn success_on_attempt_four_after_exactly_the_seeded_waits() {
    let fake = Fake::new(&[Some(503), Some(503), Some(503)], Duration::ZERO);
    let mut jitter = FullJitter::new(7, &POLICY);
    let r = retry("fake", &POLICY, &mut jitter, |_| fake.call()).await;
    assert!(r.result.is_ok());
    assert_eq!((r.attempts, r.gave_up), (4, None));
    let waits: Vec<u64> = r.waits.iter().map(|w| w.wait.as_millis() as u64).collect();
    assert_eq!(waits, SEED_7_WAITS[..3]);
    // Each attempt starts exactly when the previous wait ends; the total is their sum.
    let mut expected = vec![Duration::ZERO];
    for w in &r.waits {
        expected.push(*expected.last().expect("one") + w.wait);
    }
    assert_eq!(fake.starts(), expected);
    assert_eq!(r.total, *expected.last().expect("one"));
}

#[tokio::test(start_paused = true)]
async fn a_404_is_returned_at_once_with_its_cause_kept() {
    let fake = Fake::new(&[Some(404)], ms(5));
    let mut jitter = FullJitter::new(7, &POLICY);
    let r = retry("fake", &POLICY, &mut jitter, |_| fake.call()).await;
    assert_eq!((r.attempts, r.gave_up), (1, Some(GaveUp::NotRetryable)));
    assert_eq!((r.waits.len(), r.total), (0, ms(5)));
    let error = r.result.expect_err("a 404");
    assert!(matches!(
        error.root_cause().downcast_ref::<ServiceError>(),
        Some(ServiceError::Status(404))
    ));
    assert_eq!(
        format!("{error:#}"),
        "fake: gave up (not retryable): attempt 1 of 5: HTTP 404"
    );
}

#[tokio::test(start_paused = true)]
async fn a_429_and_a_503_are_retried_and_the_last_error_is_kept_when_attempts_run_out() {
    let fake = Fake::new(
        &[Some(429), Some(503), Some(503), Some(503), Some(502)],
        ms(1),
    );
    let mut jitter = FullJitter::new(7, &POLICY);
    let r = retry("fake", &POLICY, &mut jitter, |_| fake.call()).await;
    assert_eq!((r.attempts, r.gave_up), (5, Some(GaveUp::AttemptsUsedUp)));
    assert_eq!(r.waits.len(), 4);
    let waits: Duration = r.waits.iter().map(|w| w.wait).sum();
    assert_eq!(r.total, waits + 5 * ms(1));
    let error = r.result.expect_err("all failed");
    assert_eq!(error.chain().count(), 3);
    assert!(format!("{error:#}").ends_with("attempt 5 of 5: HTTP 502"));
}

#[tokio::test(start_paused = true)]
async fn a_hung_service_is_cut_off_exactly_at_the_deadline() {
    let fake = Fake::new(&[], Duration::from_secs(3600));
    let mut jitter = FullJitter::new(7, &POLICY);
    let r = retry("fake", &POLICY, &mut jitter, |_| fake.call()).await;
    assert_eq!((r.attempts, r.gave_up), (1, Some(GaveUp::Deadline)));
    assert_eq!(r.total, POLICY.deadline);
    let error = r.result.expect_err("timed out");
    assert!(matches!(
        error.root_cause().downcast_ref::<ServiceError>(),
        Some(ServiceError::TimedOut)
    ));
}

#[tokio::test(start_paused = true)]
async fn no_wait_is_taken_that_would_end_past_the_deadline() {
    let tight = RetryPolicy {
        max_attempts: 100,
        deadline: ms(150),
        ..POLICY
    };
    for seed in 0..50 {
        let fake = Fake::new(&[Some(503); 100], ms(40));
        let mut jitter = FullJitter::new(seed, &tight);
        let r = retry("fake", &tight, &mut jitter, |_| fake.call()).await;
        assert_eq!(r.gave_up, Some(GaveUp::Deadline), "seed {seed}");
        assert!(r.total <= tight.deadline, "seed {seed}: {:?}", r.total);
        // What the summary's verdict reads: nothing planned past the deadline.
        assert!(r.planned_end <= tight.deadline, "seed {seed}: {r:?}");
        // Exactly: the attempts' 40 ms each plus the waits taken (a wait past the deadline
        // would have made the total exceed it; a hung attempt would end exactly at it).
        let waits: Duration = r.waits.iter().map(|w| w.wait).sum();
        let attempts_time = ms(40) * r.attempts;
        assert!(
            r.total == waits + attempts_time || r.total == tight.deadline,
            "seed {seed}: {:?} vs {:?} + {:?}",
            r.total,
            waits,
            attempts_time
        );
    }
}

/// Three failures through the breaker, from a fake that fails them.
async fn open_it(breaker: &Breaker) {
    let fake = Fake::new(&[Some(503); 3], ms(10));
    for _ in 0..3 {
        assert!(breaker.call(|| fake.call()).await.is_err());
    }
}

#[tokio::test(start_paused = true)]
async fn the_breaker_opens_after_three_failures_fails_fast_then_probes_and_closes() {
    let breaker = Breaker::new(3, ms(300));
    open_it(&breaker).await;
    // Opened at the end of the third call: 3 × 10 ms.
    sleep(ms(100)).await;
    let fake = Fake::new(&[], ms(10));
    match breaker.call(|| fake.call()).await {
        Err(ServiceError::BreakerOpen { retry_in }) => assert_eq!(retry_in, ms(200)),
        other => panic!("not failed fast: {other:?}"),
    }
    assert!(fake.starts().is_empty(), "nothing sent while open");
    sleep(ms(200)).await;
    assert!(breaker.call(|| fake.call()).await.is_ok());
    assert_eq!(
        breaker.transitions(),
        [
            (ms(0), Circuit::Closed),
            (ms(30), Circuit::Open),
            (ms(330), Circuit::HalfOpen),
            (ms(340), Circuit::Closed),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_failed_probe_reopens_for_another_recovery_time() {
    let breaker = Breaker::new(3, ms(300));
    open_it(&breaker).await;
    sleep(ms(300)).await;
    let fake = Fake::new(&[Some(500)], ms(10));
    assert!(breaker.call(|| fake.call()).await.is_err());
    let t = breaker.transitions();
    assert_eq!(
        t[2..],
        [(ms(330), Circuit::HalfOpen), (ms(340), Circuit::Open)]
    );
    sleep(ms(299)).await;
    assert!(matches!(
        breaker.admit(),
        Err(ServiceError::BreakerOpen { retry_in }) if retry_in == ms(1)
    ));
}

#[tokio::test(start_paused = true)]
async fn half_open_admits_exactly_one_probe_from_a_burst() {
    let breaker = Breaker::new(3, ms(300));
    open_it(&breaker).await;
    sleep(ms(300)).await;
    let fake = Fake::new(&[], ms(50));
    let results = futures::future::join_all((0..5).map(|_| breaker.call(|| fake.call()))).await;
    let through = results.iter().filter(|r| r.is_ok()).count();
    let refused = results
        .iter()
        .filter(|r| matches!(r, Err(ServiceError::ProbeInFlight)))
        .count();
    assert_eq!((through, refused), (1, 4));
    assert_eq!(fake.starts().len(), 1, "one request reached the service");
    assert_eq!(
        breaker.transitions().last(),
        Some(&(ms(380), Circuit::Closed))
    );
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_probe_reopens_the_breaker_instead_of_wedging_it() {
    let breaker = Breaker::new(3, ms(300));
    open_it(&breaker).await;
    sleep(ms(300)).await;
    let fake = Fake::new(&[], Duration::from_secs(3600));
    let cut = tokio::time::timeout(ms(20), breaker.call(|| fake.call())).await;
    assert!(cut.is_err(), "the probe was cancelled");
    assert_eq!(
        breaker.transitions().last(),
        Some(&(ms(350), Circuit::Open))
    );
    sleep(ms(300)).await;
    let ticket = breaker.admit().expect("half-open again: a new probe");
    assert!(ticket.probe);
    ticket.finish(true);
}

#[tokio::test(start_paused = true)]
async fn a_hung_service_opens_the_breaker_and_a_hung_probe_reopens_it() {
    // A timeout is not retried, but it is what a breaker is for: three of them in a row open it,
    // and a probe that times out reopens it instead of closing it.
    let breaker = Breaker::new(3, ms(300));
    let hung = Fake::new(&[], Duration::from_secs(3600));
    let call_with_timeout = || async {
        tokio::time::timeout(ms(50), hung.call())
            .await
            .unwrap_or(Err(ServiceError::TimedOut))
    };
    for _ in 0..3 {
        let result = breaker.call(call_with_timeout).await;
        assert!(matches!(result, Err(ServiceError::TimedOut)), "{result:?}");
    }
    assert_eq!(
        breaker.transitions(),
        [(ms(0), Circuit::Closed), (ms(150), Circuit::Open)]
    );
    sleep(ms(300)).await;
    assert!(breaker.call(call_with_timeout).await.is_err());
    assert_eq!(
        breaker.transitions()[2..],
        [(ms(450), Circuit::HalfOpen), (ms(500), Circuit::Open)]
    );
}

#[tokio::test(start_paused = true)]
async fn a_404_does_not_count_against_the_service() {
    let breaker = Breaker::new(3, ms(300));
    let fake = Fake::new(&[Some(404); 10], ms(1));
    for _ in 0..10 {
        assert!(breaker.call(|| fake.call()).await.is_err());
    }
    assert_eq!(breaker.transitions(), [(ms(0), Circuit::Closed)]);
}

#[tokio::test(start_paused = true)]
async fn backon_sleeps_exactly_its_seeded_waits_each_in_d_to_2d() {
    // backon's own iterator, built with the same settings, says what it will draw.
    let planned: Vec<Duration> = backon::BackoffBuilder::build(
        ExponentialBuilder::new()
            .with_min_delay(POLICY.base)
            .with_max_delay(POLICY.cap)
            .with_max_times(4)
            .with_jitter()
            .with_jitter_seed(7),
    )
    .collect();
    assert_eq!(planned.len(), 4);
    let fake = Fake::new(&[Some(503); 3], Duration::ZERO);
    let start = Instant::now();
    let mut slept = Vec::new();
    let result = (|| fake.call())
        .retry(
            ExponentialBuilder::new()
                .with_min_delay(POLICY.base)
                .with_max_delay(POLICY.cap)
                .with_max_times(4)
                .with_jitter()
                .with_jitter_seed(7),
        )
        .sleep(sleep)
        .when(ServiceError::retryable)
        .notify(|_, wait| slept.push(wait))
        .await;
    assert!(result.is_ok());
    assert_eq!(slept, planned[..3]);
    // tokio's timer counts whole milliseconds: each sleep ends at the first millisecond tick at
    // or after its end, so backon's fractional waits are rounded up, one by one.
    let ceil_ms = |d: Duration| ms(d.as_nanos().div_ceil(1_000_000) as u64);
    let expected = slept.iter().fold(Duration::ZERO, |t, w| ceil_ms(t + *w));
    assert_eq!(start.elapsed(), expected);
    for (n, wait) in slept.iter().enumerate() {
        let d = ms(20 << n);
        assert!(d <= *wait && *wait < 2 * d, "wait {n}: {wait:?}");
    }
}

#[test]
fn help_names_the_example_and_a_bad_flag_is_an_error() {
    let help = Args::try_parse_from(["19", "--help"]).expect_err("--help stops the program");
    assert_eq!(help.exit_code(), 0);
    assert!(help.to_string().starts_with("19 · Retry"), "{help}");
    let bad = Args::try_parse_from(["19", "--seed", "x"]).expect_err("not a number");
    assert_eq!(bad.exit_code(), 2);
}

#[test]
fn the_deadline_verdict_reads_what_the_loop_planned_in_the_same_words_either_way() {
    let run = |total, planned_end| Retried::<()> {
        result: Ok(()),
        gave_up: None,
        attempts: 1,
        waits: Vec::new(),
        total,
        planned_end,
    };
    // Ended 6 ms late (an attempt cut at the deadline, answered at its edge): kept.
    let late = total_line(&run(ms(156), ms(150)), ms(150));
    assert_eq!(
        late,
        "total 156 ms (deadline 150 ms, kept, 6.00 ms past it)"
    );
    let early = total_line(&run(ms(140), ms(150)), ms(150));
    assert_eq!(
        early,
        "total 140 ms (deadline 150 ms, kept, 0.00 ms past it)"
    );
    // A loop that planned past the deadline broke it, however the run ended.
    let broken = total_line(&run(ms(140), ms(151)), ms(150));
    assert!(broken.contains("MISSED"), "{broken}");
}
