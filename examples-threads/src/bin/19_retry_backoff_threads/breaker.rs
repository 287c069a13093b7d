//! The circuit breaker (closed, open, half-open; threshold 3, recovery 300 ms as upstream), shared
//! between threads (scoped threads borrow it) behind a `std::sync::Mutex`, exactly as the async
//! twin's, which only ever holds it between `.await`s. After 3 failures in a row it fails calls fast
//! without sending them; after the recovery time it lets **exactly one** probe through (upstream's
//! half-open admits any number); the probe's outcome closes or reopens it. The probe is an RAII
//! ticket: a probe whose thread panics mid-call reopens the breaker instead of wedging it.
//!
//! The demo's half-open burst is five real threads released together by a `Barrier`: exactly one
//! becomes the probe. How many of the other four fail fast depends on when each gets the lock (the
//! probe may already have closed the breaker), so the summary counts both.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Barrier, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use tracing::info;
use ureq::Agent;

use crate::service::{ServiceError, get};

/// The breaker's three states, as printed and tested.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Circuit {
    Closed,
    Open,
    HalfOpen,
}

#[derive(Debug)]
pub enum State {
    /// Calls pass; `failures` in a row so far.
    Closed { failures: u32 },
    /// Calls fail fast until `until`.
    Open { until: Instant },
    /// One probe is out; every other call fails fast until it reports.
    HalfOpen,
}

/// A circuit breaker shared by every thread that calls one service, its state behind a
/// `std::sync::Mutex`. The lock is held to read and change the state, never during the call itself:
/// a slow call must not stop other threads from being told "open" at once.
pub struct Breaker {
    pub threshold: u32,
    pub recovery: Duration,
    pub created: Instant,
    pub inner: Mutex<BreakerInner>,
}

pub struct BreakerInner {
    pub state: State,
    /// Every change of state and when it happened (since the breaker was made).
    pub transitions: Vec<(Duration, Circuit)>,
    /// How many calls were let through as the half-open probe.
    pub probes: u32,
}

/// Leave to make one call, from [`Breaker::admit`]. Report how it went with [`Ticket::finish`]. A
/// probe dropped without a report (its thread panicked mid-call) counts as a failure: otherwise the
/// breaker would stay half-open forever with no probe out.
#[must_use = "report the call's outcome with `finish`, or the breaker learns nothing"]
pub struct Ticket<'a> {
    pub breaker: &'a Breaker,
    pub probe: bool,
    pub reported: bool,
}

impl Breaker {
    pub fn new(threshold: u32, recovery: Duration) -> Self {
        Breaker {
            threshold,
            recovery,
            created: Instant::now(),
            inner: Mutex::new(BreakerInner {
                state: State::Closed { failures: 0 },
                transitions: vec![(Duration::ZERO, Circuit::Closed)],
                probes: 0,
            }),
        }
    }

    /// Each change is one assignment, so a panic elsewhere cannot leave the state half-changed: a
    /// poisoned lock is safe to use.
    pub fn lock(&self) -> MutexGuard<'_, BreakerInner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn transitions(&self) -> Vec<(Duration, Circuit)> {
        self.lock().transitions.clone()
    }

    pub fn probes(&self) -> u32 {
        self.lock().probes
    }

    /// May a call go to the service now? Closed: yes. Open: no, until the recovery time has passed;
    /// then the first caller becomes the one probe and the breaker is half-open. Half-open: no.
    /// Under the lock, so two threads cannot both see "recovery passed" and both become the probe.
    pub fn admit(&self) -> Result<Ticket<'_>, ServiceError> {
        let mut inner = self.lock();
        let now = Instant::now();
        let probe = match inner.state {
            State::Closed { .. } => false,
            State::Open { until } if now < until => {
                return Err(ServiceError::BreakerOpen {
                    retry_in: until - now,
                });
            }
            State::Open { .. } => {
                self.set(&mut inner, State::HalfOpen, now);
                inner.probes += 1;
                true
            }
            State::HalfOpen => return Err(ServiceError::ProbeInFlight),
        };
        Ok(Ticket {
            breaker: self,
            probe,
            reported: false,
        })
    }

    pub fn record(&self, probe: bool, healthy: bool) {
        let mut inner = self.lock();
        let now = Instant::now();
        match (&mut inner.state, probe, healthy) {
            (State::Closed { failures }, false, true) => *failures = 0,
            (State::Closed { failures }, false, false) => {
                *failures += 1;
                if *failures >= self.threshold {
                    let until = now + self.recovery;
                    self.set(&mut inner, State::Open { until }, now);
                }
            }
            (State::HalfOpen, true, true) => {
                self.set(&mut inner, State::Closed { failures: 0 }, now)
            }
            (State::HalfOpen, true, false) => {
                let until = now + self.recovery;
                self.set(&mut inner, State::Open { until }, now);
            }
            // A call let in while closed that ends after the breaker opened: old news, ignored.
            _ => {}
        }
    }

    pub fn set(&self, inner: &mut BreakerInner, state: State, now: Instant) {
        let circuit = match state {
            State::Closed { .. } => Circuit::Closed,
            State::Open { .. } => Circuit::Open,
            State::HalfOpen => Circuit::HalfOpen,
        };
        if let Some((_, from)) = inner.transitions.last() {
            info!("breaker: {from:?} -> {circuit:?}");
        }
        inner.state = state;
        inner.transitions.push((now - self.created, circuit));
    }

    /// One call through the breaker. A 404 is the caller's mistake and says the service is up: it
    /// does not count against the service; a timeout does, though it is not retried.
    pub fn call<T>(
        &self,
        call: impl FnOnce() -> Result<T, ServiceError>,
    ) -> Result<T, ServiceError> {
        let ticket = self.admit()?;
        let result = call();
        ticket.finish(match &result {
            Ok(_) => true,
            Err(e) => !e.counts_against_service(),
        });
        result
    }
}

impl Ticket<'_> {
    pub fn finish(mut self, healthy: bool) {
        self.reported = true;
        self.breaker.record(self.probe, healthy);
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        if !self.reported && self.probe {
            self.breaker.record(true, false);
        }
    }
}

/// The breaker demo's figures.
#[derive(Debug)]
pub struct BreakerRun {
    pub transitions: Vec<(Duration, Circuit)>,
    pub calls: u32,
    pub sent: u32,
    pub fast_failed: u32,
    /// The burst: probes let through, callers failed fast, callers let through after it closed.
    pub probes: u32,
    pub burst_fast_failed: u32,
    pub burst_after: u32,
    pub burst: u32,
}

/// Three failures open the breaker; a call while open fails fast; after the recovery time five
/// threads meet the half-open breaker at once: one becomes the probe, the others fail fast (or, if
/// the probe has already closed the breaker when one gets the lock, go through as normal calls).
pub fn breaker_demo(agent: &Agent, url: &str, breaker: &Breaker) -> BreakerRun {
    let sent = AtomicU32::new(0);
    let calls = AtomicU32::new(0);
    let fast_failed = AtomicU32::new(0);
    let one_call = || {
        calls.fetch_add(1, Ordering::Relaxed);
        let result = breaker.call(|| {
            sent.fetch_add(1, Ordering::Relaxed);
            get(agent, url, Duration::from_secs(5))
        });
        if matches!(
            result,
            Err(ServiceError::BreakerOpen { .. } | ServiceError::ProbeInFlight)
        ) {
            fast_failed.fetch_add(1, Ordering::Relaxed);
        }
        result
    };
    for _ in 0..breaker.threshold {
        if let Err(e) = one_call() {
            info!("breaker demo: call failed: {e}");
        }
    }
    if let Err(e) = one_call() {
        info!("breaker demo: while open: {e}");
    }
    thread::sleep(breaker.recovery);
    let burst = 5;
    let probes_before = breaker.probes();
    let fast_before = fast_failed.load(Ordering::Relaxed);
    // Five threads, released together by the barrier so that they reach the breaker at once.
    let gate = Barrier::new(burst);
    thread::scope(|s| {
        for i in 0..burst {
            let (gate, one_call) = (&gate, &one_call);
            thread::Builder::new()
                .name(format!("caller-{i}"))
                .spawn_scoped(s, move || {
                    gate.wait();
                    match one_call() {
                        Ok(()) => info!("breaker demo: burst caller {i}: went through: ok"),
                        Err(e) => info!("breaker demo: burst caller {i}: {e}"),
                    }
                })
                .expect("the OS has a thread for a demo caller");
        }
    });
    let probes = breaker.probes() - probes_before;
    let burst_fast_failed = fast_failed.load(Ordering::Relaxed) - fast_before;
    if let Err(e) = one_call() {
        info!("breaker demo: after the probe: {e}");
    }
    BreakerRun {
        transitions: breaker.transitions(),
        calls: calls.load(Ordering::Relaxed),
        sent: sent.load(Ordering::Relaxed),
        fast_failed: fast_failed.load(Ordering::Relaxed),
        probes,
        burst_fast_failed,
        burst_after: burst as u32 - probes - burst_fast_failed,
        burst: burst as u32,
    }
}
