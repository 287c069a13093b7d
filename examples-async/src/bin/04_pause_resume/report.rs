//! What the job of `main.rs` did, recorded as it goes (the chunks, the pauses, how it ended; times
//! from the start of the job), and the summary printed at the end. No pausing is decided here.

use std::time::Duration;

use common::{fmt_duration, out};
use tokio::time::Instant;

use super::{CHUNKS_PER_FILE, FILES};

/// A chunk that was processed, with its times from the start of the job.
#[derive(Debug, Clone, PartialEq)]
pub struct ChunkDone {
    pub file: &'static str,
    pub chunk: usize,
    pub started: Duration,
    pub finished: Duration,
}

/// A time the job stood still, from the start of the job.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Paused {
    pub from: Duration,
    pub to: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Finished,
    /// Quit at `at`, in (or, if `paused`, waiting before) chunk `chunk` of `file`.
    Quit {
        at: Duration,
        file: &'static str,
        chunk: usize,
        paused: bool,
    },
}

/// What the job did, recorded as it goes; times from `start`.
#[derive(Debug, Clone, PartialEq)]
pub struct JobReport {
    pub chunks: Vec<ChunkDone>,
    pub pauses: Vec<Paused>,
    pub outcome: Outcome,
    pub took: Duration,
    pub start: Instant,
}

impl JobReport {
    pub fn new(start: Instant) -> Self {
        JobReport {
            chunks: Vec::new(),
            pauses: Vec::new(),
            outcome: Outcome::Finished,
            took: Duration::ZERO,
            start,
        }
    }

    pub fn chunk_done(&mut self, file: &'static str, chunk: usize, started: Duration) {
        let finished = self.start.elapsed();
        self.chunks.push(ChunkDone {
            file,
            chunk,
            started,
            finished,
        });
    }

    /// Records a pause from `from` until now; returns how long it was.
    pub fn paused(&mut self, from: Duration) -> Duration {
        let to = self.start.elapsed();
        self.pauses.push(Paused { from, to });
        to - from
    }

    pub fn quit(mut self, file: &'static str, chunk: usize, paused: bool) -> Self {
        self.took = self.start.elapsed();
        self.outcome = Outcome::Quit {
            at: self.took,
            file,
            chunk,
            paused,
        };
        self
    }

    pub fn finished(mut self) -> Self {
        self.took = self.start.elapsed();
        self.outcome = Outcome::Finished;
        self
    }

    pub fn stood_still(&self) -> Duration {
        self.pauses.iter().map(|p| p.to - p.from).sum()
    }
}

/// The summary: chunks processed, the pauses, and the finish beside its ideal (or where it quit).
pub fn print_summary(report: &JobReport, chunk_time: Duration) {
    let total_chunks = FILES.len() * CHUNKS_PER_FILE;
    let work = chunk_time * report.chunks.len() as u32;
    out!();
    out!("Summary");
    out!(
        "  chunks processed: {}/{total_chunks} ({} files x {CHUNKS_PER_FILE} chunks of {})",
        report.chunks.len(),
        FILES.len(),
        fmt_duration(chunk_time)
    );
    let spans: Vec<String> = report
        .pauses
        .iter()
        .map(|p| format!("{} -> {}", fmt_duration(p.from), fmt_duration(p.to)))
        .collect();
    out!(
        "  pauses: {}, stood still {}{}{}",
        report.pauses.len(),
        fmt_duration(report.stood_still()),
        if spans.is_empty() { "" } else { ": " },
        spans.join(", ")
    );
    match report.outcome {
        Outcome::Finished => out!(
            "  finished in {} | ideal {} ({} of work + {} stood still)",
            fmt_duration(report.took),
            fmt_duration(work + report.stood_still()),
            fmt_duration(work),
            fmt_duration(report.stood_still())
        ),
        Outcome::Quit {
            at,
            file,
            chunk,
            paused,
        } => out!(
            "  quit at {}: stopped {} chunk {chunk} of {file}",
            fmt_duration(at),
            if paused {
                "while paused before"
            } else {
                "during"
            }
        ),
    }
}
