//! Support for `main.rs`, no lesson in it: how a request ended ([`Outcome`]), what a run measured
//! ([`Report`], [`InFlight`]), and the summary printed at the end, with the ideal each run approaches.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{Comparison, fmt_duration, schedule};
use reqwest::StatusCode;

/// How one request ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// A 2xx response whose body arrived completely.
    Ok { status: StatusCode, bytes: usize },
    /// A response, but not a 2xx one (JS: `!response.ok`): a failure, although bytes arrived.
    HttpError { status: StatusCode, bytes: usize },
    /// No complete response within the per-request timeout; the request was cancelled.
    TimedOut(Duration),
    /// No response at all: a bad URL, a refused connection, DNS, TLS...
    Failed(String),
}

impl Outcome {
    pub fn is_ok(&self) -> bool {
        matches!(self, Outcome::Ok { .. })
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Ok { status, bytes } => write!(f, "{status}, {bytes} bytes"),
            Outcome::HttpError { status, bytes } => write!(f, "{status}, {bytes} bytes"),
            Outcome::TimedOut(after) => write!(f, "timed out after {}", fmt_duration(*after)),
            Outcome::Failed(why) => write!(f, "{why}"),
        }
    }
}

/// One request: which URL (its place in the list, from 1), how it ended, how long it took.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub number: usize,
    pub url: String,
    pub outcome: Outcome,
    pub took: Duration,
}

/// One run over the whole list.
#[derive(Debug)]
pub struct Report {
    /// In list order, whatever order the requests finished in.
    pub fetched: Vec<Fetched>,
    pub took: Duration,
    /// The most requests that were in flight at the same moment.
    pub max_in_flight: usize,
}

impl Report {
    pub fn ok(&self) -> usize {
        self.fetched.iter().filter(|f| f.outcome.is_ok()).count()
    }

    pub fn failed(&self) -> Vec<&Fetched> {
        self.fetched.iter().filter(|f| !f.outcome.is_ok()).collect()
    }
}

/// Counts requests in flight and remembers the most at once: the proof that the limit holds.
#[derive(Debug, Default)]
pub struct InFlight {
    now: AtomicUsize,
    max: AtomicUsize,
}

/// Leaving a request (however it ends, timeouts included) lowers the count: RAII, no path forgets it.
pub struct InFlightGuard<'a>(&'a InFlight);

impl InFlight {
    pub fn enter(&self) -> InFlightGuard<'_> {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.max.fetch_max(now, Ordering::SeqCst);
        InFlightGuard(self)
    }

    pub fn max(&self) -> usize {
        self.max.load(Ordering::SeqCst)
    }
}

impl Drop for InFlightGuard<'_> {
    fn drop(&mut self) {
        self.0.now.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A one-line reason: the kind of failure and the innermost cause ("Connection refused (os error
/// 111)"), instead of reqwest's nested chain.
pub fn describe(error: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    let kind = if error.is_builder() {
        "bad URL"
    } else if error.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    format!("{kind}: {cause}")
}

/// The summary block (without its "Summary" title): counts, the failures, the figures with their
/// ideal. `expected` is how long each request should take (the local list's plan, or for real URLs
/// what each took in the sequential run).
pub fn summary_lines(
    sequential: &Report,
    concurrent: &Report,
    limit: usize,
    expected: &[Duration],
) -> Vec<String> {
    let mut lines = vec![
        format!(
            "sequential: {} requests, {} ok, {} failed (at most {} in flight)",
            sequential.fetched.len(),
            sequential.ok(),
            sequential.failed().len(),
            sequential.max_in_flight
        ),
        format!(
            "concurrent: {} requests, {} ok, {} failed (at most {} in flight, limit {limit})",
            concurrent.fetched.len(),
            concurrent.ok(),
            concurrent.failed().len(),
            concurrent.max_in_flight
        ),
    ];
    // The same failures both ways (the local list) are listed once; real URLs may differ per run.
    let same = |a: &Report, b: &Report| {
        let key = |r: &Report| -> Vec<(usize, Outcome)> {
            r.failed()
                .iter()
                .map(|f| (f.number, f.outcome.clone()))
                .collect()
        };
        key(a) == key(b)
    };
    let runs = if same(sequential, concurrent) {
        vec![("both runs", sequential)]
    } else {
        vec![("sequential", sequential), ("concurrent", concurrent)]
    };
    for (run, report) in runs {
        for f in report.failed() {
            lines.push(format!(
                "failed ({run}): #{} {} -> {}",
                f.number, f.url, f.outcome
            ));
        }
    }
    if sequential.ok() + concurrent.ok() == 0 {
        // Upstream's JS prints "11.74x faster" when every request failed at once: a speedup of
        // nothing is not a result.
        lines.push("no request succeeded: no speedup to report".to_string());
        return lines;
    }
    let sum: Duration = expected.iter().sum();
    let best = schedule::makespan_of_tasks(expected, limit);
    lines.push(format!(
        "ideal: sequential {} (the sum), concurrent {} ({limit} at a time)",
        fmt_duration(sum),
        fmt_duration(best)
    ));
    lines.push(
        Comparison::new(
            "sequential",
            sequential.took,
            "concurrent",
            concurrent.took,
            common::timing::speedup(sum, best),
        )
        .to_string(),
    );
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn the_summary_counts_and_names_the_failures() {
        let fetched = |number, outcome| Fetched {
            number,
            url: format!("http://x/{number}"),
            outcome,
            took: ms(10),
        };
        let report = Report {
            fetched: vec![
                fetched(
                    1,
                    Outcome::Ok {
                        status: StatusCode::OK,
                        bytes: 3,
                    },
                ),
                fetched(2, Outcome::TimedOut(ms(600))),
            ],
            took: ms(20),
            max_in_flight: 1,
        };
        let lines = summary_lines(&report, &report, 2, &[ms(10), ms(10)]);
        assert_eq!(
            lines[0],
            "sequential: 2 requests, 1 ok, 1 failed (at most 1 in flight)"
        );
        assert_eq!(
            lines[2],
            "failed (both runs): #2 http://x/2 -> timed out after 600 ms"
        );
        assert_eq!(
            lines.last().map(String::as_str),
            Some("sequential 20 ms | concurrent 20 ms | 1.00x, ideal 2.00x")
        );
        // Different failures per run (real URLs can do that): each run lists its own.
        let all_ok = Report {
            fetched: vec![report.fetched[0].clone()],
            took: ms(10),
            max_in_flight: 1,
        };
        let lines = summary_lines(&report, &all_ok, 2, &[ms(10)]);
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("failed (sequential): #2")),
            "{lines:?}"
        );
        assert!(!lines.iter().any(|l| l.contains("both runs")), "{lines:?}");
    }
}
