//! The circuit breaker (closed, open, half-open; threshold 3, recovery 300 ms as upstream): after 3
//! failures in a row it fails calls fast without sending them; after the recovery time it lets
//! **exactly one** probe through (upstream's half-open admits any number, so a burst of callers all
//! hit a service that may still be down); the probe's outcome closes or reopens it. The probe is an
//! RAII ticket: a probe cancelled mid-call reopens the breaker instead of wedging it. `tower` has no
//! circuit breaker of its own, which is one reason to see one written out.

use std::cell::Cell;
use std::future::Future;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::time::{Instant, sleep};
use tracing::info;

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

/// A circuit breaker shared by every caller of one service. A `std::sync::Mutex`, not tokio's: the
/// lock is held for a few instructions and never across an `.await`, so it never blocks a worker.
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
}

/// Leave to make one call, from [`Breaker::admit`]. Report how it went with [`Ticket::finish`]. A
/// probe dropped without a report (its call was cancelled) counts as a failure: otherwise the
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
            }),
        }
    }

    /// The state cannot be left half-changed by a panic (each change is one assignment), so a
    /// poisoned lock is safe to use.
    pub fn lock(&self) -> MutexGuard<'_, BreakerInner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn transitions(&self) -> Vec<(Duration, Circuit)> {
        self.lock().transitions.clone()
    }

    /// May a call go to the service now? Closed: yes. Open: no, until the recovery time has passed;
    /// then the first caller becomes the one probe and the breaker is half-open. Half-open: no.
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
    pub async fn call<T, Fut>(&self, call: impl FnOnce() -> Fut) -> Result<T, ServiceError>
    where
        Fut: Future<Output = Result<T, ServiceError>>,
    {
        let ticket = self.admit()?;
        let result = call().await;
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
    pub probes: usize,
    pub burst: usize,
}

/// Three failures open the breaker; a call while open fails fast; after the recovery time a burst
/// of five callers meets the half-open breaker: one probe goes through, four fail fast; the probe
/// succeeds (the service's bad spell is over) and the breaker closes.
pub async fn breaker_demo(client: &reqwest::Client, url: &str, breaker: &Breaker) -> BreakerRun {
    let sent = Cell::new(0u32);
    let calls = Cell::new(0u32);
    let fast_failed = Cell::new(0u32);
    // One call through the breaker; counts what reached the server and what failed fast.
    let one_call = || async {
        calls.set(calls.get() + 1);
        let result = breaker
            .call(|| async {
                sent.set(sent.get() + 1);
                get(client, url).await
            })
            .await;
        if matches!(
            result,
            Err(ServiceError::BreakerOpen { .. } | ServiceError::ProbeInFlight)
        ) {
            fast_failed.set(fast_failed.get() + 1);
        }
        result
    };
    for _ in 0..breaker.threshold {
        if let Err(e) = one_call().await {
            info!("breaker demo: call failed: {e}");
        }
    }
    if let Err(e) = one_call().await {
        info!("breaker demo: while open: {e}");
    }
    sleep(breaker.recovery).await;
    // Five callers at once, on this one task (`join_all` polls them in turn): the first takes the
    // probe and waits for its answer; the other four find the breaker half-open.
    let probes = Cell::new(0usize);
    let burst = 5;
    futures::future::join_all((0..burst).map(|i| {
        let probes = &probes;
        let one_call = &one_call;
        async move {
            let result = one_call().await;
            if !matches!(
                result,
                Err(ServiceError::ProbeInFlight | ServiceError::BreakerOpen { .. })
            ) {
                probes.set(probes.get() + 1);
            }
            info!(
                "breaker demo: burst caller {i}: {}",
                match &result {
                    Ok(()) => "went through: ok".to_string(),
                    Err(e) => e.to_string(),
                }
            );
        }
    }))
    .await;
    if let Err(e) = one_call().await {
        info!("breaker demo: after the probe: {e}");
    }
    BreakerRun {
        transitions: breaker.transitions(),
        calls: calls.get(),
        sent: sent.get(),
        fast_failed: fast_failed.get(),
        probes: probes.get(),
        burst,
    }
}
