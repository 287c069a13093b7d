//! Measuring, and printing what was measured beside what it should approach.
//!
//! [`time_async`] reads `tokio::time::Instant`, which follows tokio's paused clock: an example that
//! measures its concurrent run with it can be tested to the millisecond with
//! `#[tokio::test(start_paused = true)]`. Outside a paused runtime it is the ordinary monotonic clock.

use std::fmt;
use std::future::Future;
use std::time::Duration;

/// Runs `f` and returns its result with the wall-clock time it took (`std::time::Instant`).
pub fn time<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = std::time::Instant::now();
    let out = f();
    (out, start.elapsed())
}

/// Awaits `fut` and returns its output with the time it took on tokio's clock (paused in tests).
pub async fn time_async<F: Future>(fut: F) -> (F::Output, Duration) {
    let start = tokio::time::Instant::now();
    let out = fut.await;
    (out, start.elapsed())
}

/// `1350 ms`, `12 ms`, `0.42 ms`, `12.3 s`: short, and precise enough to compare with an ideal.
pub fn fmt_duration(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else if ms < 10_000.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// How many times faster `faster` is than `baseline` (`baseline / faster`); infinite if `faster` is zero.
pub fn speedup(baseline: Duration, faster: Duration) -> f64 {
    if faster.is_zero() {
        f64::INFINITY
    } else {
        baseline.as_secs_f64() / faster.as_secs_f64()
    }
}

/// Two measured runs of the same work and the speedup an ideal run would show, printed as one line:
///
/// `sequential 1350 ms | concurrent 600 ms | 2.25x, ideal 2.25x`
///
/// Every example that compares two ways of doing the same work prints its summary with this, so the
/// figures read the same everywhere and the run tests can find them.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub baseline_label: String,
    pub baseline: Duration,
    pub label: String,
    pub measured: Duration,
    /// The speedup the lesson says `measured` should approach (e.g. sum / max for overlapped sleeps).
    pub ideal_speedup: f64,
}

impl Comparison {
    pub fn new(
        baseline_label: impl Into<String>,
        baseline: Duration,
        label: impl Into<String>,
        measured: Duration,
        ideal_speedup: f64,
    ) -> Self {
        Self {
            baseline_label: baseline_label.into(),
            baseline,
            label: label.into(),
            measured,
            ideal_speedup,
        }
    }

    /// The measured speedup, `baseline / measured`.
    pub fn speedup(&self) -> f64 {
        speedup(self.baseline, self.measured)
    }
}

impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} | {} {} | {:.2}x, ideal {:.2}x",
            self.baseline_label,
            fmt_duration(self.baseline),
            self.label,
            fmt_duration(self.measured),
            self.speedup(),
            self.ideal_speedup
        )
    }
}

/// CPU time (user + system) used so far by one thread of this process, from
/// `/proc/self/task/<tid>/stat` (fields 14 and 15, in clock ticks of 10 ms: Linux exposes
/// `USER_HZ` = 100). std has no call for it, and this needs no `unsafe` and no crate. One thread and
/// not the whole process, so that other threads (sibling tests, a backtrace being printed) do not
/// count. `None` where there is no `/proc` (not Linux) or the thread has ended.
///
/// 04's threads test proves with it that a paused worker sleeps; 17 that a spinning waiter burns a
/// core where a `Condvar` waiter uses none.
pub fn thread_cpu_time(tid: &str) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).ok()?;
    // The second field is the program name in parentheses and may hold spaces: skip past it.
    let (_, after_name) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // `fields[0]` is field 3 (the state), so field 14 (utime) is `fields[11]`, 15 is `fields[12]`.
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

/// The id of the calling thread as `/proc` names it (`/proc/thread-self` -> `<pid>/task/<tid>`),
/// for [`thread_cpu_time`]. `None` where there is no `/proc`.
pub fn current_tid() -> Option<String> {
    let link = std::fs::read_link("/proc/thread-self").ok()?;
    Some(link.file_name()?.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn durations_print_at_a_useful_precision() {
        assert_eq!(fmt_duration(Duration::from_micros(420)), "0.42 ms");
        assert_eq!(fmt_duration(ms(12)), "12 ms");
        assert_eq!(fmt_duration(ms(1350)), "1350 ms");
        assert_eq!(fmt_duration(ms(12_345)), "12.3 s");
    }

    #[test]
    fn comparison_prints_both_figures_the_speedup_and_the_ideal() {
        let c = Comparison::new("sequential", ms(900), "concurrent", ms(400), 2.25);
        assert_eq!(
            c.to_string(),
            "sequential 900 ms | concurrent 400 ms | 2.25x, ideal 2.25x"
        );
        assert!((c.speedup() - 2.25).abs() < 1e-9);
    }

    #[test]
    fn speedup_of_an_instant_run_is_infinite_not_a_panic() {
        assert_eq!(speedup(ms(5), Duration::ZERO), f64::INFINITY);
    }

    #[test]
    fn time_measures_a_closure() {
        let (value, took) = time(|| {
            std::thread::sleep(ms(20));
            7
        });
        assert_eq!(value, 7);
        assert!(took >= ms(20), "{took:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn time_async_follows_the_paused_clock_exactly() {
        let (value, took) = time_async(async {
            tokio::time::sleep(ms(1500)).await;
            "done"
        })
        .await;
        assert_eq!(value, "done");
        assert_eq!(took, ms(1500));
    }
}
