//! The summary: every figure of the four steps beside its ideal, and the verdicts computed from
//! them.

use common::{fmt_duration, out};

use crate::group::{CHUNK, GROUP_STOP, GroupFigures, WORKERS};
use crate::request::{REQUEST_MS, RequestFigures};
use crate::timeout_is_not_cancel::{SLOW_WORK, TimeoutFigures};
use crate::{Ended, LONG_SLEEP, SleepFigures, USER_ABORT};

/// Prints the summary of one run of every step.
pub(crate) fn print(
    sleep_run: &SleepFigures,
    timeout_run: &TimeoutFigures,
    request_run: &RequestFigures,
    group_run: &GroupFigures,
) {
    let ended = |e: Ended| match e {
        Ended::Finished => "finished",
        Ended::Cancelled => "cancelled",
    };
    out!();
    out!("Summary");
    out!(
        "  1. sleep {} (recv_timeout on a channel): {} after {} (ideal {}); channel already closed: {} after {} (ideal 0)",
        fmt_duration(LONG_SLEEP),
        ended(sleep_run.ended),
        fmt_duration(sleep_run.after),
        fmt_duration(USER_ABORT),
        ended(sleep_run.pre_cancelled),
        fmt_duration(sleep_run.pre_cancelled_after)
    );
    out!(
        "  2. recv_timeout 300 ms on 1000 ms of work: {} after {} (ideal 300 ms), the work done then: {}; the worker finished anyway after {} ({})",
        if timeout_run.gave_up {
            "gave up"
        } else {
            "got the result"
        },
        fmt_duration(timeout_run.gave_up_after),
        if timeout_run.done_at_give_up {
            "yes"
        } else {
            "no"
        },
        fmt_duration(timeout_run.worker_done_after),
        if timeout_run.gave_up && timeout_run.worker_done_after >= SLOW_WORK {
            "a timeout is not a cancellation"
        } else {
            "it stopped at the timeout"
        }
    );
    let answer = match &request_run.answer {
        Ok(status) => format!("status {status}"),
        Err(e) => format!("FAILED ({e})"),
    };
    out!(
        "  3. blocking GET /delay/{REQUEST_MS} asked to stop after {}: the call returned ({answer}) after {}: latency to stop {} (the async twin drops the request at the cancel)",
        fmt_duration(request_run.asked_to_stop_after),
        fmt_duration(request_run.stopped_after),
        fmt_duration(request_run.latency_to_stop())
    );
    out!(
        "  4. group cancelled at {}: {}/{WORKERS} waiting workers stopped at {}, {} after the channel closed (ideal 0); {}/{WORKERS} stepping workers at {}, {} after the flag (at most one step, {}); guards held until the stop {} of {}, guards dropped {} of {} ({})",
        fmt_duration(GROUP_STOP),
        group_run.by_channel_stopped,
        fmt_duration(group_run.by_channel_stopped_at),
        fmt_duration(group_run.by_channel_latency),
        group_run.by_flag_stopped,
        fmt_duration(group_run.by_flag_stopped_at),
        fmt_duration(group_run.by_flag_latency),
        fmt_duration(CHUNK),
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
    // The difference with the async twin, from the figures above: how late a thread stops depends
    // only on where its own code next looks.
    out!(
        "  a thread stops where it looks: {} after the cancel when waiting on a channel, {} at the end of a blocking step, {} after a blocking call (async: at the next .await, by dropping the future)",
        fmt_duration(group_run.by_channel_latency),
        fmt_duration(group_run.by_flag_latency),
        fmt_duration(request_run.latency_to_stop())
    );
}
