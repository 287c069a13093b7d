//! The retry policy (attempts, the waits' exponential curve, the deadline), full jitter, the waits
//! of the hand-written retry, and [`Wait`], one wait beside the range it was drawn from (backon's
//! waits are shown the same way).

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// How the retry loop behaves. Upstream's demo: 5 attempts, base 20 ms, cap 200 ms (no deadline).
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base: Duration,
    pub cap: Duration,
    /// For all attempts and waits together, from the first attempt's start.
    pub deadline: Duration,
}

pub const POLICY: RetryPolicy = RetryPolicy {
    max_attempts: 5,
    base: Duration::from_millis(20),
    cap: Duration::from_millis(200),
    deadline: Duration::from_millis(1000),
};

/// Full jitter (the AWS architecture blog's name): the n-th wait is uniform in
/// `[0, min(cap, base · 2^(n-1))]`. Spreading waits over the whole range is what keeps many clients
/// that failed together from all coming back together. Whole milliseconds, from a seeded generator:
/// the same seed gives the same waits (the threads twin draws the same ones).
pub struct FullJitter {
    pub rng: StdRng,
    pub base: Duration,
    pub cap: Duration,
}

impl FullJitter {
    pub fn new(seed: u64, policy: &RetryPolicy) -> Self {
        FullJitter {
            rng: StdRng::seed_from_u64(seed),
            base: policy.base,
            cap: policy.cap,
        }
    }

    /// The longest wait after the `failures`-th failure: the exponential curve, capped.
    pub fn bound(&self, failures: u32) -> Duration {
        let doubling = 2u32.saturating_pow(failures.saturating_sub(1));
        self.base.saturating_mul(doubling).min(self.cap)
    }

    /// The wait after the `failures`-th failure, and its bound.
    pub fn next_wait(&mut self, failures: u32) -> Wait {
        let bound = self.bound(failures);
        let ms = self.rng.random_range(0..=bound.as_millis() as u64);
        Wait {
            wait: Duration::from_millis(ms),
            low: Duration::ZERO,
            bound,
            bound_excluded: false,
        }
    }
}

/// One wait of a retry loop beside the range it was drawn from: `[0, bound]` for full jitter,
/// `[low, bound)` for backon's jitter (`bound_excluded`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wait {
    pub wait: Duration,
    pub low: Duration,
    pub bound: Duration,
    pub bound_excluded: bool,
}

impl Wait {
    pub fn in_range(&self) -> bool {
        self.low <= self.wait
            && if self.bound_excluded {
                self.wait < self.bound
            } else {
                self.wait <= self.bound
            }
    }
}

impl Wait {
    /// backon's `n`-th wait lies in `[d, 2d)`, `d` the capped exponential delay: its jitter adds a
    /// random share of the delay on top, so its waits never go below the curve.
    pub fn backon(wait: Duration, n: u32, policy: &RetryPolicy) -> Wait {
        let d = policy
            .base
            .saturating_mul(2u32.saturating_pow(n.saturating_sub(1)))
            .min(policy.cap);
        Wait {
            wait,
            low: d,
            bound: 2 * d,
            bound_excluded: true,
        }
    }
}
