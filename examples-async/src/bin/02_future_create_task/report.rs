//! The summary lines: each measured figure beside the ideal it should approach.

use std::fmt::{self, Write as _};
use std::time::Duration;

use common::{Comparison, fmt_duration};

use crate::promise::SET_RESULT_DELAY;
use crate::{HEADER_DELAY, HEADER_THEN_LONGEST, LONGEST, SUM};

/// Everything the summary prints, measured in `main`.
pub struct Report {
    pub sequential: Duration,
    pub lazy: Duration,
    pub spawned: Duration,
    pub header_done: Duration,
    pub future_ran: bool,
    pub task_ran: bool,
    pub result: &'static str,
    pub waited: Duration,
    pub never_set: String,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ideal = SUM.as_secs_f64() / LONGEST.as_secs_f64();
        let mut s = String::from("\nSummary\n");
        let comparison = Comparison::new(
            "sequential",
            self.sequential,
            "spawned tasks",
            self.spawned,
            ideal,
        );
        writeln!(s, "  {comparison}")?;
        writeln!(
            s,
            "  futures created early, awaited after the header: {} (ideal {}: header + longest)",
            fmt_duration(self.lazy),
            fmt_duration(HEADER_THEN_LONGEST)
        )?;
        writeln!(
            s,
            "  header rendered {} into the spawned run, while the fetches ran (ideal {})",
            fmt_duration(self.header_done),
            fmt_duration(HEADER_DELAY)
        )?;
        writeln!(
            s,
            "  never-awaited future ran: {} | detached task ran: {}",
            self.future_ran, self.task_ran
        )?;
        writeln!(
            s,
            "  oneshot delivered {:?} after {} (ideal {})",
            self.result,
            fmt_duration(self.waited),
            fmt_duration(SET_RESULT_DELAY)
        )?;
        write!(
            s,
            "  sender dropped without a result: the receiver got {:?} at once, no hang",
            self.never_set
        )?;
        f.write_str(&s)
    }
}
