//! Against a fake service that returns scripted outcomes, on the real clock: the waits drawn are
//! checked exactly (they come from the seed, not the clock); durations with bounds that hold on
//! a busy 2-core machine (a sleep may end late, never early); the one-probe rule with a
//! `Barrier`, so it does not depend on timing at all.
use super::*;
use crate::breaker::*;
use crate::report::total_line;
use crate::service::*;
use clap::Parser;
use std::collections::VecDeque;
use std::sync::atomic::AtomicUsize;
use std::sync::{Barrier, Mutex};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Scheduling slack for a busy 2-core machine, only where the deadline is the lesson: wide, and
/// still far below the 5 s a fake hangs for, so a deadline not kept fails.
const SLACK: Duration = Duration::from_millis(1500);

/// A fake service: each call takes `latency` (or gives up at its `time_left`, as a client's
/// timeout would), then returns the next scripted outcome (`None`: success, `Some(code)`: that
/// status); past the script it succeeds.
struct Fake {
    script: Mutex<VecDeque<Option<u16>>>,
    latency: Duration,
    calls: AtomicUsize,
}

impl Fake {
    fn new(script: &[Option<u16>], latency: Duration) -> Self {
        Fake {
            script: Mutex::new(script.iter().copied().collect()),
            latency,
            calls: AtomicUsize::new(0),
        }
    }

    fn call(&self, time_left: Duration) -> Result<(), ServiceError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.latency > time_left {
            thread::sleep(time_left);
            return Err(ServiceError::TimedOut);
        }
        thread::sleep(self.latency);
        match self
            .script
            .lock()
            .expect("not poisoned")
            .pop_front()
            .flatten()
        {
            None => Ok(()),
            Some(code) => Err(ServiceError::Status(code)),
        }
    }
}

/// The same numbers as the async twin's test: both draw from `StdRng` seeded with 7.
const SEED_7_WAITS: [u64; 4] = [0, 12, 11, 87];

#[test]
fn the_same_seed_draws_the_same_waits_as_the_twin_each_within_its_bound() {
    let mut jitter = FullJitter::new(7, &POLICY);
    let waits: Vec<Wait> = (1..=4).map(|n| jitter.next_wait(n)).collect();
    let as_ms: Vec<u64> = waits.iter().map(|w| w.wait.as_millis() as u64).collect();
    assert_eq!(as_ms, SEED_7_WAITS);
    let bounds: Vec<u128> = waits.iter().map(|w| w.bound.as_millis()).collect();
    assert_eq!(bounds, [20, 40, 80, 160]);
    assert_eq!(jitter.bound(6), POLICY.cap);
}

#[test]
fn success_on_attempt_four_after_the_seeded_waits() {
    let fake = Fake::new(&[Some(503), Some(503), Some(503)], Duration::ZERO);
    let mut jitter = FullJitter::new(7, &POLICY);
    let r = retry("fake", &POLICY, &mut jitter, |_, left| fake.call(left));
    assert!(r.result.is_ok());
    assert_eq!((r.attempts, r.gave_up), (4, None));
    let waits: Vec<u64> = r.waits.iter().map(|w| w.wait.as_millis() as u64).collect();
    assert_eq!(waits, SEED_7_WAITS[..3]);
    let slept: Duration = r.waits.iter().map(|w| w.wait).sum();
    assert!(r.total >= slept, "{:?} < {slept:?}", r.total);
}

#[test]
fn a_404_is_returned_at_once_with_its_cause_kept() {
    let fake = Fake::new(&[Some(404)], Duration::ZERO);
    let mut jitter = FullJitter::new(7, &POLICY);
    let r = retry("fake", &POLICY, &mut jitter, |_, left| fake.call(left));
    assert_eq!((r.attempts, r.gave_up), (1, Some(GaveUp::NotRetryable)));
    assert!(r.waits.is_empty());
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

#[test]
fn attempts_run_out_and_the_last_error_is_kept() {
    let fake = Fake::new(
        &[Some(429), Some(503), Some(503), Some(503), Some(502)],
        ms(1),
    );
    let mut jitter = FullJitter::new(7, &POLICY);
    let r = retry("fake", &POLICY, &mut jitter, |_, left| fake.call(left));
    assert_eq!((r.attempts, r.gave_up), (5, Some(GaveUp::AttemptsUsedUp)));
    assert_eq!(r.waits.len(), 4);
    let error = r.result.expect_err("all failed");
    assert_eq!(error.chain().count(), 3);
    assert!(format!("{error:#}").ends_with("attempt 5 of 5: HTTP 502"));
}

#[test]
fn a_hung_service_is_cut_off_at_the_deadline_by_its_own_timeout() {
    let policy = RetryPolicy {
        deadline: ms(200),
        ..POLICY
    };
    // "Hung" for 5 s: long enough to fail the bound below if the call were not given the time
    // left, short enough that such a failure is a failure, not a hang.
    let fake = Fake::new(&[], Duration::from_secs(5));
    let mut jitter = FullJitter::new(7, &policy);
    let r = retry("fake", &policy, &mut jitter, |_, left| fake.call(left));
    assert_eq!((r.attempts, r.gave_up), (1, Some(GaveUp::Deadline)));
    assert!(r.total >= ms(200), "{:?}", r.total);
    assert!(r.total < ms(200) + SLACK, "{:?}", r.total);
}

#[test]
fn no_wait_is_taken_that_would_end_past_the_deadline() {
    let tight = RetryPolicy {
        max_attempts: 100,
        deadline: ms(150),
        ..POLICY
    };
    for seed in 0..5 {
        let fake = Fake::new(&[Some(503); 100], ms(40));
        let mut jitter = FullJitter::new(seed, &tight);
        let r = retry("fake", &tight, &mut jitter, |_, left| fake.call(left));
        assert_eq!(r.gave_up, Some(GaveUp::Deadline), "seed {seed}");
        // The waits and the attempts' 40 ms each fit in the deadline: the loop never planned
        // past it (the measured total may still run late on a busy machine: sleeps end late).
        let waits: Duration = r.waits.iter().map(|w| w.wait).sum();
        let planned = waits + ms(40) * (r.attempts - 1);
        assert!(planned < tight.deadline, "seed {seed}: {planned:?}");
        assert!(
            r.total < tight.deadline + SLACK,
            "seed {seed}: {:?}",
            r.total
        );
    }
}

fn open_it(breaker: &Breaker) {
    let fake = Fake::new(&[Some(503); 3], Duration::ZERO);
    for _ in 0..3 {
        assert!(breaker.call(|| fake.call(ms(1000))).is_err());
    }
}

fn circuits(breaker: &Breaker) -> Vec<Circuit> {
    breaker.transitions().into_iter().map(|t| t.1).collect()
}

#[test]
fn the_breaker_opens_after_three_failures_fails_fast_then_probes_and_closes() {
    let breaker = Breaker::new(3, ms(100));
    open_it(&breaker);
    let fake = Fake::new(&[], Duration::ZERO);
    match breaker.call(|| fake.call(ms(1000))) {
        Err(ServiceError::BreakerOpen { retry_in }) => assert!(retry_in <= ms(100)),
        other => panic!("not failed fast: {other:?}"),
    }
    assert_eq!(
        fake.calls.load(Ordering::SeqCst),
        0,
        "nothing sent while open"
    );
    thread::sleep(ms(100));
    assert!(breaker.call(|| fake.call(ms(1000))).is_ok());
    assert_eq!(
        circuits(&breaker),
        [
            Circuit::Closed,
            Circuit::Open,
            Circuit::HalfOpen,
            Circuit::Closed
        ]
    );
    let t = breaker.transitions();
    assert!(
        t[2].0 - t[1].0 >= ms(100),
        "half-open before the recovery time"
    );
}

#[test]
fn a_failed_probe_reopens_and_a_panicked_probe_too() {
    let breaker = Breaker::new(3, ms(50));
    open_it(&breaker);
    thread::sleep(ms(50));
    let fake = Fake::new(&[Some(500)], Duration::ZERO);
    assert!(breaker.call(|| fake.call(ms(1000))).is_err());
    assert_eq!(circuits(&breaker)[2..], [Circuit::HalfOpen, Circuit::Open]);
    thread::sleep(ms(50));
    // A probe whose thread panics mid-call: its ticket is dropped while unwinding.
    let panicked = thread::scope(|s| {
        s.spawn(|| breaker.call(|| -> Result<(), ServiceError> { panic!("mid-call") }))
            .join()
    });
    assert!(panicked.is_err());
    assert_eq!(circuits(&breaker).last(), Some(&Circuit::Open));
}

#[test]
fn half_open_admits_exactly_one_probe_from_five_threads() {
    let breaker = Breaker::new(3, ms(50));
    open_it(&breaker);
    thread::sleep(ms(50));
    // The probe's call waits at the barrier until the four others have been answered (they
    // reach it after `call` returned). A breaker that let a second probe through would let
    // that one reach the barrier too, and the count below would say 2.
    let barrier = Barrier::new(5);
    let admitted = AtomicUsize::new(0);
    let refused = AtomicUsize::new(0);
    thread::scope(|s| {
        for _ in 0..5 {
            s.spawn(|| {
                let result = breaker.call(|| {
                    admitted.fetch_add(1, Ordering::SeqCst);
                    barrier.wait();
                    Ok(())
                });
                if let Err(ServiceError::ProbeInFlight) = result {
                    refused.fetch_add(1, Ordering::SeqCst);
                    barrier.wait();
                }
            });
        }
    });
    assert_eq!(admitted.load(Ordering::SeqCst), 1);
    assert_eq!(refused.load(Ordering::SeqCst), 4);
    assert_eq!(breaker.probes(), 1);
    assert_eq!(circuits(&breaker).last(), Some(&Circuit::Closed));
}

#[test]
fn a_hung_service_opens_the_breaker_and_a_hung_probe_reopens_it() {
    // A timeout is not retried, but it is what a breaker is for: three of them in a row open it,
    // and a probe that times out reopens it instead of closing it.
    let breaker = Breaker::new(3, ms(50));
    let hung = Fake::new(&[], Duration::from_secs(5));
    for _ in 0..3 {
        let result = breaker.call(|| hung.call(ms(20)));
        assert!(matches!(result, Err(ServiceError::TimedOut)), "{result:?}");
    }
    assert_eq!(circuits(&breaker), [Circuit::Closed, Circuit::Open]);
    thread::sleep(ms(50));
    assert!(breaker.call(|| hung.call(ms(20))).is_err());
    assert_eq!(
        circuits(&breaker),
        [
            Circuit::Closed,
            Circuit::Open,
            Circuit::HalfOpen,
            Circuit::Open
        ]
    );
}

#[test]
fn a_later_attempt_that_hangs_is_given_only_the_time_left_before_the_deadline() {
    let policy = RetryPolicy {
        deadline: ms(300),
        ..POLICY
    };
    // Attempt 1 takes 100 ms and fails with a 503; attempt 2 hangs until its own timeout. With
    // the time left as its timeout it gets at most 300 - 100 ms (sleeps end late, never early);
    // with the whole deadline it would get 300 ms and end 100 ms past the deadline.
    let timeouts = Mutex::new(Vec::<Duration>::new());
    let mut jitter = FullJitter::new(7, &policy);
    let r: Retried<()> = retry("fake", &policy, &mut jitter, |attempt, left| {
        timeouts.lock().expect("not poisoned").push(left);
        if attempt == 1 {
            thread::sleep(ms(100));
            return Err(ServiceError::Status(503));
        }
        thread::sleep(left);
        Err(ServiceError::TimedOut)
    });
    assert_eq!((r.attempts, r.gave_up), (2, Some(GaveUp::Deadline)));
    let timeouts = timeouts.into_inner().expect("not poisoned");
    assert!(timeouts[0] <= ms(300), "{timeouts:?}");
    assert!(timeouts[1] <= ms(200), "{timeouts:?}");
    assert!(!timeouts[1].is_zero(), "{timeouts:?}");
    assert!(r.total >= ms(300), "{:?}", r.total);
    // What the summary's verdict reads: no attempt was given time past the deadline.
    assert!(r.planned_end <= ms(300), "{r:?}");
}

#[test]
fn a_404_does_not_count_against_the_service() {
    let breaker = Breaker::new(3, ms(300));
    let fake = Fake::new(&[Some(404); 10], Duration::ZERO);
    for _ in 0..10 {
        assert!(breaker.call(|| fake.call(ms(1000))).is_err());
    }
    assert_eq!(circuits(&breaker), [Circuit::Closed]);
}

#[test]
fn backon_blocking_sleeps_its_seeded_waits_each_in_d_to_2d() {
    let builder = ExponentialBuilder::new()
        .with_min_delay(POLICY.base)
        .with_max_delay(POLICY.cap)
        .with_max_times(4)
        .with_jitter()
        .with_jitter_seed(7);
    let planned: Vec<Duration> = backon::BackoffBuilder::build(builder).collect();
    let fake = Fake::new(&[Some(503); 3], Duration::ZERO);
    let mut slept = Vec::new();
    let start = Instant::now();
    let result = (|| fake.call(ms(1000)))
        .retry(builder)
        .sleep(thread::sleep)
        .when(ServiceError::retryable)
        .notify(|_, wait| slept.push(wait))
        .call();
    let took = start.elapsed();
    assert!(result.is_ok());
    assert_eq!(slept, planned[..3]);
    for (n, wait) in slept.iter().enumerate() {
        let d = ms(20 << n);
        assert!(d <= *wait && *wait < 2 * d, "wait {n}: {wait:?}");
    }
    let sum: Duration = slept.iter().sum();
    assert!(took >= sum, "{took:?} vs {sum:?}");
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

#[test]
fn backon_sleeps_no_further_than_the_deadline_though_it_counts_only_its_waits() {
    // Each attempt takes 100 ms; the second wait (40-80 ms) would end 30-70 ms past the 250 ms
    // deadline. `with_total_delay` lets it (its waits add up to far less), so the sleep is cut.
    let server = TestServer::start().expect("test server");
    let agent: Agent = Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .build()
        .into();
    let policy = RetryPolicy {
        deadline: ms(250),
        ..POLICY
    };
    let url = server.url("/status/503?delay_ms=100");
    let r = retry_with_backon("slow 503", &policy, 7, &agent, &url);
    assert_eq!(r.gave_up, Some(GaveUp::Deadline), "{r:?}");
    assert!(r.planned_end <= policy.deadline, "{r:?}");
    assert!(r.total < policy.deadline + SLACK, "{r:?}");
}
