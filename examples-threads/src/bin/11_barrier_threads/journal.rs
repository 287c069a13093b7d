//! The journal: every worker writes when it starts and finishes each phase, and [`Run::check`]
//! proves the barrier's promise from it, in `main` and in the tests: every worker started and
//! finished every phase once, every start of phase k+1 comes after every finish of phase k (in the
//! order the records were written, and by their timestamps), and each phase had exactly one leader.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::{PHASES, WORKERS};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Start,
    Finish,
}

/// One line of the journal. Workers and phases count from 1, as the log does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    pub worker: usize,
    pub phase: usize,
    pub kind: Kind,
    pub at: Duration,
}

/// Where every worker writes what it did, in the order it happened, behind a `std::sync::Mutex`:
/// the timestamp is taken inside the lock, so journal order and time order agree.
pub struct Journal {
    pub start: Instant,
    pub events: Mutex<Vec<Event>>,
    pub leaders: Mutex<Vec<(usize, usize)>>,
}

impl Journal {
    pub fn new() -> Journal {
        Journal {
            start: Instant::now(),
            events: Mutex::new(Vec::new()),
            leaders: Mutex::new(Vec::new()),
        }
    }

    /// Records an event; for a finish, returns how many workers have finished this phase so far
    /// (this one included): its place in the arrival order.
    pub fn record(&self, worker: usize, phase: usize, kind: Kind) -> usize {
        let mut events = self
            .events
            .lock()
            .expect("no one panics holding the journal");
        events.push(Event {
            worker,
            phase,
            kind,
            at: self.start.elapsed(),
        });
        events
            .iter()
            .filter(|e| e.phase == phase && e.kind == kind)
            .count()
    }

    pub fn record_leader(&self, phase: usize, worker: usize) {
        self.leaders
            .lock()
            .expect("no one panics holding the journal")
            .push((phase, worker));
    }
}

/// What a run left behind: the journal, in order, and the leader reported for each phase.
#[derive(Debug, Clone)]
pub struct Run {
    pub events: Vec<Event>,
    pub leaders: Vec<(usize, usize)>,
}

impl Run {
    /// Workers in the order they reached the barrier at the end of `phase`.
    pub fn arrival_order(&self, phase: usize) -> Vec<usize> {
        self.events
            .iter()
            .filter(|e| e.phase == phase && e.kind == Kind::Finish)
            .map(|e| e.worker)
            .collect()
    }

    pub fn leaders_of(&self, phase: usize) -> Vec<usize> {
        self.leaders
            .iter()
            .filter(|(p, _)| *p == phase)
            .map(|(_, w)| *w)
            .collect()
    }

    /// When the last worker finished `phase`, since the start.
    pub fn phase_end(&self, phase: usize) -> Duration {
        self.events
            .iter()
            .filter(|e| e.phase == phase && e.kind == Kind::Finish)
            .map(|e| e.at)
            .max()
            .unwrap_or_default()
    }

    /// The barrier's promise, checked from the journal: every worker started and finished every
    /// phase once, every start of phase k+1 comes after every finish of phase k (in the order the
    /// records were written, and by their timestamps), and each phase reported exactly one leader.
    pub fn check(&self) -> Result<(), String> {
        for phase in 1..=PHASES {
            for kind in [Kind::Start, Kind::Finish] {
                let mut workers: Vec<usize> = self
                    .events
                    .iter()
                    .filter(|e| e.phase == phase && e.kind == kind)
                    .map(|e| e.worker)
                    .collect();
                workers.sort_unstable();
                if workers != (1..=WORKERS).collect::<Vec<_>>() {
                    return Err(format!("phase {phase}: {kind:?} records from {workers:?}"));
                }
            }
            let leaders = self.leaders_of(phase);
            if leaders.len() != 1 {
                return Err(format!("phase {phase}: leaders {leaders:?}, expected one"));
            }
        }
        for phase in 1..PHASES {
            // (index in the journal, event) of every `kind` record of phase `p`, in journal order.
            let records = |kind, p| {
                self.events
                    .iter()
                    .enumerate()
                    .filter(move |(_, e)| e.phase == p && e.kind == kind)
            };
            let (last_finish, finish) = records(Kind::Finish, phase)
                .next_back()
                .ok_or(format!("phase {phase}: no finish"))?;
            let (first_start, start) = records(Kind::Start, phase + 1)
                .next()
                .ok_or(format!("phase {}: no start", phase + 1))?;
            if first_start < last_finish || start.at < finish.at {
                return Err(format!(
                    "worker-{} started phase {} at {:?}, before worker-{} finished phase {phase} at {:?}",
                    start.worker,
                    phase + 1,
                    start.at,
                    finish.worker,
                    finish.at
                ));
            }
        }
        Ok(())
    }
}
