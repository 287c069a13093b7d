//! The summary lines: each measured figure beside the ideal it should approach.

use std::fmt::{self, Write as _};
use std::time::Duration;

use common::{Comparison, fmt_duration};

use crate::detached::{DeferredVsDetached, WARM_CACHE_DELAY};
use crate::packaged_task::SQUARE_DELAY;
use crate::promise::SET_VALUE_DELAY;
use crate::{HEADER_DELAY, LONGEST, SUM};

/// Everything the summary prints, measured in `main`.
pub struct Report {
    pub sequential: Duration,
    pub threads: Duration,
    pub header_done: Duration,
    pub deferred: DeferredVsDetached,
    pub value: i32,
    pub waited: Duration,
    pub never_set: String,
    pub squares: (i32, i32),
    pub packaged: Duration,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ideal = SUM.as_secs_f64() / LONGEST.as_secs_f64();
        let mut s = String::from("\nSummary\n");
        let comparison = Comparison::new(
            "sequential",
            self.sequential,
            "threads",
            self.threads,
            ideal,
        );
        writeln!(s, "  {comparison}")?;
        writeln!(
            s,
            "  header rendered {} into the threaded run, while the fetches ran (ideal {})",
            fmt_duration(self.header_done),
            fmt_duration(HEADER_DELAY)
        )?;
        let deferred = &self.deferred;
        writeln!(
            s,
            "  deferred work ran before get(): {}, get() took {} (ideal {}: it ran only then) | detached thread ran: {}",
            deferred.deferred_ran_before_get,
            fmt_duration(deferred.get_took),
            fmt_duration(WARM_CACHE_DELAY),
            deferred.detached_ran
        )?;
        writeln!(
            s,
            "  channel promise delivered {} after {} (ideal {})",
            self.value,
            fmt_duration(self.waited),
            fmt_duration(SET_VALUE_DELAY)
        )?;
        writeln!(
            s,
            "  sender dropped without a value: the receiver got {:?} at once, no hang",
            self.never_set
        )?;
        write!(
            s,
            "  packaged tasks: slow_square(3) = {}, slow_square(4) = {} in {} (ideal {}, one thread each)",
            self.squares.0,
            self.squares.1,
            fmt_duration(self.packaged),
            fmt_duration(SQUARE_DELAY)
        )?;
        f.write_str(&s)
    }
}
