//! The summary: every figure of the seven steps beside its ideal, and the verdicts computed from
//! them.

use common::{fmt_duration, out};

use crate::cancel_safety::{LINES, LineReader, LinesFigures, TICK, lines_a_tick_splits};
use crate::group::{GROUP_STOP, GroupFigures, WORKERS};
use crate::request::{CONTROL_REQUEST_MS, Fetched, REQUEST_ABORT, RequestFigures, SLOW_REQUEST_MS};
use crate::timeout_is_not_cancel::NotCancelledFigures;
use crate::{ChildFigures, Ended, LONG_SLEEP, OWN_TIMER, SleepFigures, TimeoutFigures, USER_ABORT};

/// Prints the summary of one run of every step.
pub(crate) fn print(
    sleep_run: &SleepFigures,
    timeout_run: &TimeoutFigures,
    child_run: &ChildFigures,
    request_run: &RequestFigures,
    group_run: &GroupFigures,
    not_cancelled: &NotCancelledFigures,
    line_runs: &[LinesFigures],
) {
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    let ended = |e: Ended| match e {
        Ended::Finished => "finished",
        Ended::Cancelled => "cancelled",
    };
    let fetched = |f: &Fetched| match f {
        Fetched::Status(code) => format!("status {code}"),
        Fetched::Stopped => "stopped".into(),
        Fetched::Failed(e) => format!("FAILED ({e})"),
    };
    out!();
    out!("Summary");
    out!(
        "  1. sleep {}: {} after {} (ideal {}); already-cancelled token: {} after {} (ideal 0)",
        fmt_duration(LONG_SLEEP),
        ended(sleep_run.ended),
        fmt_duration(sleep_run.after),
        fmt_duration(USER_ABORT),
        ended(sleep_run.pre_cancelled),
        fmt_duration(sleep_run.pre_cancelled_after)
    );
    out!(
        "  2. timeout 300 ms on a 1000 ms sleep: {} after {} (ideal 300 ms); a 100 ms sleep under 500 ms: {} after {}",
        if timeout_run.long_timed_out {
            "gave up"
        } else {
            "finished"
        },
        fmt_duration(timeout_run.long_after),
        if timeout_run.short_timed_out {
            "gave up"
        } else {
            "finished"
        },
        fmt_duration(timeout_run.short_after)
    );
    out!(
        "  3. child token: the user's cancel: {} after {} (ideal {}, its own timer {}); its own timer alone: {} after {}, parent still running: {}",
        ended(child_run.by_user),
        fmt_duration(child_run.by_user_after),
        fmt_duration(USER_ABORT),
        fmt_duration(OWN_TIMER),
        ended(child_run.by_own_timer),
        fmt_duration(child_run.by_own_timer_after),
        yes_no(!child_run.parent_cancelled_by_child)
    );
    out!(
        "  4. GET /delay/{SLOW_REQUEST_MS}: {} after {} (ideal {}; the server answers after {SLOW_REQUEST_MS} ms); under a 50 ms timeout: {} after {}; /delay/{CONTROL_REQUEST_MS} uncancelled: {} after {}",
        fetched(&request_run.cancelled),
        fmt_duration(request_run.cancelled_after),
        fmt_duration(REQUEST_ABORT),
        fetched(&request_run.timed_out),
        fmt_duration(request_run.timed_out_after),
        fetched(&request_run.control),
        fmt_duration(request_run.control_after)
    );
    out!(
        "  5. group of {WORKERS} with child tokens: {}/{WORKERS} stopped after {} (ideal {}); JoinSet::abort_all: {}/{WORKERS} cancelled after {}; guards held until the stop {} of {}, guards dropped {} of {} ({})",
        group_run.by_token_stopped,
        fmt_duration(group_run.by_token_after),
        fmt_duration(GROUP_STOP),
        group_run.aborted,
        fmt_duration(group_run.aborted_after),
        group_run.guards_held_at_stop,
        2 * WORKERS,
        group_run.guards_dropped,
        group_run.guards_made,
        if group_run.guards_dropped == group_run.guards_made {
            "none leaked"
        } else {
            "LEAKED"
        }
    );
    let n = not_cancelled;
    out!(
        "  6. timeout 200 ms on a spawned 500 ms task: timed out: {}, done at the timeout: {}, done at {} anyway ({}); on a plain future: timed out: {}, {}; after handle.abort(): {}",
        yes_no(n.spawned_timed_out),
        yes_no(n.spawned_done_at_timeout),
        n.spawned_done_after.map_or("never".into(), fmt_duration),
        if n.spawned_timed_out && n.spawned_done_after.is_some() {
            "a timeout is not a cancellation"
        } else {
            "the timeout stopped it"
        },
        yes_no(n.plain_timed_out),
        if n.plain_done_later {
            "done anyway"
        } else {
            "never done (dropped)"
        },
        if n.aborted_done_later {
            "done anyway"
        } else {
            "never done"
        }
    );
    out!(
        "  7. select! loop, {LINES} lines in pieces, a tick every {}:",
        fmt_duration(TICK)
    );
    for run in line_runs {
        // The ideal: every line intact. The exact schedule says how many a non-cancel-safe read
        // loses; on the real clock it varies, the point is that it is not 0.
        let ideal = match run.reader {
            LineReader::NewFutureEachTurn => {
                format!("exact schedule: {}; ideal 0", lines_a_tick_splits().len())
            }
            LineReader::SameFutureKept | LineReader::CancelSafeLines => "ideal 0".into(),
        };
        out!(
            "     {}: {}/{LINES} lines intact, {} lost ({ideal}), {} fragments read instead; {} ticks",
            run.reader.label(),
            run.intact(),
            LINES - run.intact(),
            run.fragments(),
            run.ticks
        );
    }
}
