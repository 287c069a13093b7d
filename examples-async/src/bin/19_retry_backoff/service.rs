//! The service's errors, sorted twice: is it worth another try ([`ServiceError::retryable`]), and
//! does it count against the service ([`ServiceError::counts_against_service`], the breaker's
//! question)? A timeout is not retried but counts; a 404 is neither. Then how a retry loop ended
//! ([`GaveUp`], [`Retried`]) and the one request the demos make ([`get`]).

use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

use tokio::time::Instant;

use common::fmt_duration;

use crate::policy::{RetryPolicy, Wait};

/// Why a call to the service failed. Sorting these is the retry loop's first decision.
#[derive(Debug)]
pub enum ServiceError {
    /// The service answered with an error status.
    Status(u16),
    /// No answer (refused, reset): the source says why.
    Transport(Box<dyn StdError + Send + Sync>),
    /// No answer before the deadline: the attempt was cancelled.
    TimedOut,
    /// The circuit breaker is open: the call was not sent.
    BreakerOpen { retry_in: Duration },
    /// The breaker is half-open and its one probe is out: the call was not sent.
    ProbeInFlight,
}

impl ServiceError {
    /// Worth another try? A 5xx, a 429 (too many requests) or a 408 may pass later, and so may a
    /// call that got no answer; any other 4xx says the request itself is wrong, and will say so
    /// again. A breaker's refusal is final for this caller: failing fast is its whole point.
    pub fn retryable(&self) -> bool {
        match self {
            ServiceError::Status(code) => *code >= 500 || *code == 429 || *code == 408,
            ServiceError::Transport(_) => true,
            ServiceError::TimedOut
            | ServiceError::BreakerOpen { .. }
            | ServiceError::ProbeInFlight => false,
        }
    }

    /// Does this failure count against the service (the breaker's question)? Not the same as
    /// `retryable`: a timeout is not retried (the deadline has passed) but is the very thing a
    /// breaker is for, a service that does not answer; a 404 is neither. The breaker's own refusals
    /// were never sent, so they say nothing about the service.
    pub fn counts_against_service(&self) -> bool {
        match self {
            ServiceError::Status(code) => *code >= 500 || *code == 429 || *code == 408,
            ServiceError::Transport(_) | ServiceError::TimedOut => true,
            ServiceError::BreakerOpen { .. } | ServiceError::ProbeInFlight => false,
        }
    }
}

impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServiceError::Status(code) => write!(f, "HTTP {code}"),
            ServiceError::Transport(_) => write!(f, "no answer"),
            ServiceError::TimedOut => write!(f, "no answer before the deadline"),
            ServiceError::BreakerOpen { retry_in } => {
                write!(
                    f,
                    "circuit open, not sent (retry in {})",
                    fmt_duration(*retry_in)
                )
            }
            ServiceError::ProbeInFlight => {
                write!(f, "circuit half-open, probe in flight, not sent")
            }
        }
    }
}

impl StdError for ServiceError {
    // The chain goes on below a transport error: `anyhow`'s `{:#}` prints every link.
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            ServiceError::Transport(e) => Some(e.as_ref()),
            _ => None,
        }
    }
}

/// Why a retry loop stopped without a success.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GaveUp {
    NotRetryable,
    AttemptsUsedUp,
    Deadline,
}

impl fmt::Display for GaveUp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GaveUp::NotRetryable => "not retryable",
            GaveUp::AttemptsUsedUp => "attempts used up",
            GaveUp::Deadline => "the deadline would pass",
        })
    }
}

impl GaveUp {
    /// Why a loop that stopped on `error` after `attempts` gave up (for backon, which does not say).
    pub fn of(error: &ServiceError, attempts: u32, policy: &RetryPolicy) -> GaveUp {
        if !error.retryable() && !matches!(error, ServiceError::TimedOut) {
            GaveUp::NotRetryable
        } else if attempts >= policy.max_attempts {
            GaveUp::AttemptsUsedUp
        } else {
            GaveUp::Deadline
        }
    }
}

/// What a retry loop did: the result, and the figures to print beside their ideal.
#[derive(Debug)]
pub struct Retried<T> {
    pub result: anyhow::Result<T>,
    pub gave_up: Option<GaveUp>,
    pub attempts: u32,
    pub waits: Vec<Wait>,
    pub total: Duration,
    /// The latest moment, from the start, the loop planned to be busy until: past the deadline
    /// only if the loop itself broke it (a returning call may still come back a little late).
    pub planned_end: Duration,
}

impl<T> Retried<T> {
    /// A finished run, from `start`; `planned` is the latest moment the loop planned to be busy
    /// until (an attempt's timeout, a wait's end).
    pub fn new(
        result: anyhow::Result<T>,
        gave_up: Option<GaveUp>,
        attempts: u32,
        waits: Vec<Wait>,
        (start, planned): (Instant, Instant),
    ) -> Self {
        Retried {
            result,
            gave_up,
            attempts,
            waits,
            total: start.elapsed(),
            planned_end: planned.saturating_duration_since(start),
        }
    }
}

/// GET `url` once: `Ok(())` on a 2xx, a [`ServiceError`] otherwise.
pub async fn get(client: &reqwest::Client, url: &str) -> Result<(), ServiceError> {
    let response = client
        .get(url)
        .send()
        .await
        .map_err(|e| ServiceError::Transport(Box::new(e)))?;
    let status = response.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(ServiceError::Status(status.as_u16()))
    }
}
