//! The figures a trace gives (polls and wakes per task, idle time, total) and the summary lines.

use std::time::Duration;

use common::{fmt_duration, out};

use crate::executor::{Event, Record};
use crate::on_tokio::TokioRun;
use crate::ordering::{AWAIT_ORDER, BUDGET};
use crate::{ORDERS, PROFILE, RECOMMEND, ideal_total};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskCount {
    pub name: &'static str,
    pub polls: u32,
    pub wakes: u32,
}

/// The figures a trace gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoopFigures {
    /// In spawn order.
    pub tasks: Vec<TaskCount>,
    pub idles: usize,
    pub idle: Duration,
    pub total: Duration,
}

pub fn figures(trace: &[Record]) -> LoopFigures {
    let mut tasks: Vec<TaskCount> = Vec::new();
    let (mut idles, mut idle) = (0, Duration::ZERO);
    for r in trace {
        match &r.event {
            Event::Spawned { name, .. } => tasks.push(TaskCount {
                name,
                polls: 0,
                wakes: 0,
            }),
            Event::Polled { task, .. } => tasks[*task].polls += 1,
            Event::Woken { task, .. } => tasks[*task].wakes += 1,
            Event::Idle { slept } => {
                idles += 1;
                idle += *slept;
            }
            _ => {}
        }
    }
    // Task ids are spawn order (`main`, the root, is 0), so they index `tasks`.
    LoopFigures {
        tasks,
        idles,
        idle,
        total: trace.last().map(|r| r.at).unwrap_or_default(),
    }
}

/// `main 2/1, profile 2/1, ...` (polls/wakes), and whether polls = wakes + 1 for every task.
pub fn counts_line(tasks: &[TaskCount]) -> (String, bool) {
    let text = tasks
        .iter()
        .map(|t| format!("{} {}/{}", t.name, t.polls, t.wakes))
        .collect::<Vec<_>>()
        .join(", ");
    let rule = tasks.iter().all(|t| t.polls == t.wakes + 1);
    (text, rule)
}

pub fn compared_with(run: &[TaskCount], tiny: &[TaskCount]) -> String {
    if run == tiny {
        return "same counts as the tiny executor".to_string();
    }
    let differences: Vec<String> = run
        .iter()
        .zip(tiny)
        .filter(|(r, t)| r != t)
        .map(|(r, t)| {
            let spurious = i64::from(r.polls) - i64::from(r.wakes) - 1;
            format!(
                "{} {}/{} here vs {}/{} ({spurious} polls without a wake)",
                r.name, r.polls, r.wakes, t.polls, t.wakes
            )
        })
        .collect();
    format!("differs: {}", differences.join(", "))
}

pub fn yes_no(ok: bool) -> &'static str {
    if ok { "yes" } else { "NO" }
}

/// The tiny executor's lines: counts and the rule, the total against the ideal, the two traces.
pub fn tiny_executor(tiny: &LoopFigures, by_hand_events: usize, same_trace: bool) {
    let (tiny_counts, tiny_rule) = counts_line(&tiny.tasks);
    out!();
    out!("Summary (polls/wakes per task; ideal: polls = wakes + 1)");
    out!(
        "  tiny executor: {tiny_counts}: polls = wakes + 1 for every task: {}",
        yes_no(tiny_rule)
    );
    out!(
        "  tiny executor: total {} (ideal {}, the longest chain; in sequence {}); idle {} times, {} in all",
        fmt_duration(tiny.total),
        fmt_duration(ideal_total()),
        fmt_duration(PROFILE + ORDERS + RECOMMEND),
        tiny.idles,
        fmt_duration(tiny.idle)
    );
    out!(
        "  hand-written future vs async fn (fake clock): {by_hand_events} events each, same events at the same instants: {}",
        yes_no(same_trace)
    );
}

pub fn outside_a_runtime(outside: bool) {
    out!(
        "  outside a runtime, Handle::try_current() is an error: {}",
        yes_no(outside)
    );
}

/// One line per tokio run: its counts, its total, and how they compare with the tiny executor's.
pub fn tokio_runs(runs: &[(&str, &TokioRun)], tiny: &[TaskCount]) {
    for (label, run) in runs {
        let (counts, _) = counts_line(&run.tasks);
        out!(
            "  {label}: {counts}; total {}; {}",
            fmt_duration(run.total),
            compared_with(&run.tasks, tiny)
        );
    }
}

pub fn leftover(call: usize) {
    out!(
        "  a task spawned in block_on call 1 finished in call {call} (the runtime outlived the call: {})",
        yes_no(call == 2)
    );
}

pub fn ordering(order: &[String], budget: usize) {
    out!(
        "  order on current_thread: {} (expected {}: a ready .await does not yield, yield_now does): {}",
        order.join(" "),
        AWAIT_ORDER.join(" "),
        yes_no(order == AWAIT_ORDER)
    );
    out!(
        "  coop budget: a task draining a ready channel yielded after {budget} receives (tokio's budget {BUDGET}): {}",
        yes_no(budget == BUDGET)
    );
}
