//! The "ideal" a concurrent run is printed beside: list scheduling, worked out on paper.
//!
//! Several examples compare a measured run with the best a scheduler could do with no overhead:
//! 00 (three jobs of CPU bursts and waits on 1, 2 or 3 threads), 07 (ten tasks, three permits) and
//! 09 (six requests, at most three in flight). They all ask the same question, answered here once:
//!
//! > Jobs are lists of *bursts* that each need one of `slots` (a thread, a permit, a connection),
//! > separated by *waits* that need none (a timer, the network). Whenever a job is ready for its
//! > next burst, the burst starts on the slot that is free first. Which job goes first? The one that
//! > became ready first; on a tie, the one earlier in the list.
//!
//! That is greedy *list scheduling*. A job of one burst and no wait is a task waiting for a permit
//! (07) or a request waiting for a free connection (09); the tie rule makes them start in list
//! order, which is what a fair (FIFO) semaphore and `buffer_unordered` do. With one slot it is the
//! sum of the bursts; with a slot per job, the longest job.
//!
//! [`any_order_bounds`] gives the range for a scheduler that is *not* fair (the threads semaphore of
//! 07: whoever wakes first gets the permit): no greedy order beats the perfect share of the work, and
//! none does worse than Graham's bound (1966).

use std::time::Duration;

/// One job: `bursts[0]`, then `waits[0]`, then `bursts[1]`, ... Each burst needs a slot; a wait
/// does not. A job with one burst and no waits is a plain task.
#[derive(Debug, Clone, Copy)]
pub struct Job<'a> {
    pub bursts: &'a [Duration],
    /// `waits[i]` follows `bursts[i]`; extra waits (past the last burst) are ignored.
    pub waits: &'a [Duration],
}

impl<'a> Job<'a> {
    /// A job of one burst: a task that holds a permit (or a connection) for `burst`.
    pub fn task(burst: &'a Duration) -> Self {
        Job {
            bursts: std::slice::from_ref(burst),
            waits: &[],
        }
    }
}

/// When one burst runs in the ideal schedule, and on which slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Planned {
    /// The job's index in the list given to [`list_schedule`].
    pub job: usize,
    /// Which of the job's bursts.
    pub burst: usize,
    /// Which slot (0-based) ran it.
    pub slot: usize,
    pub start: Duration,
    pub end: Duration,
}

/// Every burst of every job, in the order they were scheduled, with `slots` slots.
///
/// Panics if `slots` is 0: with no thread, no permit, nothing ever runs.
pub fn list_schedule(jobs: &[Job<'_>], slots: usize) -> Vec<Planned> {
    assert!(slots > 0, "a schedule needs at least one slot");
    let mut free_at = vec![Duration::ZERO; slots];
    // (ready at, job, next burst): every job is ready for its first burst at time zero.
    let mut ready: Vec<(Duration, usize, usize)> = jobs
        .iter()
        .enumerate()
        .filter(|(_, job)| !job.bursts.is_empty())
        .map(|(j, _)| (Duration::ZERO, j, 0))
        .collect();
    let mut planned = Vec::new();
    // The job that became ready first goes next (ties: list order)...
    while let Some(pos) = (0..ready.len()).min_by_key(|&i| (ready[i].0, ready[i].1)) {
        let (ready_at, job, burst) = ready.swap_remove(pos);
        // ...on the slot that is free first (ties: the lowest slot).
        let slot = (0..slots)
            .min_by_key(|&s| free_at[s])
            .expect("at least one slot");
        let start = free_at[slot].max(ready_at);
        let end = start + jobs[job].bursts[burst];
        free_at[slot] = end;
        planned.push(Planned {
            job,
            burst,
            slot,
            start,
            end,
        });
        if burst + 1 < jobs[job].bursts.len() {
            let wait = jobs[job].waits.get(burst).copied().unwrap_or_default();
            ready.push((end + wait, job, burst + 1));
        }
    }
    planned
}

/// When the last burst of the ideal schedule ends: the time the run should approach.
pub fn makespan(jobs: &[Job<'_>], slots: usize) -> Duration {
    list_schedule(jobs, slots)
        .iter()
        .map(|p| p.end)
        .max()
        .unwrap_or_default()
}

/// [`makespan`] for plain tasks (one burst each), started in list order as slots come free: `n`
/// requests with at most `limit` in flight, `n` tasks sharing `limit` permits.
pub fn makespan_of_tasks(durations: &[Duration], limit: usize) -> Duration {
    let jobs: Vec<Job<'_>> = durations.iter().map(Job::task).collect();
    makespan(&jobs, limit)
}

/// The range the total of plain tasks falls in with `slots` slots *whatever order* a greedy
/// scheduler picks them in (one that never leaves a slot idle while a task waits): at least the work
/// shared perfectly (and at least the longest task); at most the average share plus `1 - 1/slots`
/// of the longest task (Graham, 1966).
pub fn any_order_bounds(durations: &[Duration], slots: usize) -> (Duration, Duration) {
    assert!(slots > 0, "a schedule needs at least one slot");
    let slots = u32::try_from(slots).unwrap_or(u32::MAX);
    let sum: Duration = durations.iter().sum();
    let longest = durations.iter().max().copied().unwrap_or_default();
    let share = sum / slots;
    (share.max(longest), share + longest - longest / slots)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn one_slot_is_the_sum_and_a_slot_per_task_is_the_longest() {
        let tasks = [ms(400), ms(200), ms(300)];
        assert_eq!(makespan_of_tasks(&tasks, 1), ms(900));
        assert_eq!(makespan_of_tasks(&tasks, 3), ms(400));
        assert_eq!(makespan_of_tasks(&tasks, 100), ms(400));
        assert_eq!(makespan_of_tasks(&[], 3), Duration::ZERO);
    }

    #[test]
    fn tasks_start_in_list_order_on_the_slot_free_first() {
        // 09's six requests, the 5 s one cut at its 600 ms timeout, two at a time:
        // the 0 ms one on slot 0 at 0, which stays free first: 350 on slot 0 (0-350); 100 on slot 1
        // (0-100); 600 on slot 1 (100-700); 250 on slot 0 (350-600); the last 0 ms one at 600.
        let requests = [ms(0), ms(350), ms(100), ms(600), ms(250), ms(0)];
        let jobs: Vec<Job<'_>> = requests.iter().map(Job::task).collect();
        let starts: Vec<(usize, u128)> = list_schedule(&jobs, 2)
            .iter()
            .map(|p| (p.slot, p.start.as_millis()))
            .collect();
        assert_eq!(
            starts,
            [(0, 0), (0, 0), (1, 0), (1, 100), (0, 350), (0, 600)]
        );
        assert_eq!(makespan_of_tasks(&requests, 2), ms(700));
        assert_eq!(makespan_of_tasks(&requests, 3), ms(600));
        assert_eq!(makespan_of_tasks(&requests, 1), ms(1300));
    }

    #[test]
    fn ten_tasks_on_three_permits_follow_the_fifo_schedule() {
        // 07's ten tasks: worked out by hand in that example.
        let work = [400, 200, 300, 100, 250, 150, 350, 200, 100, 300].map(ms);
        let jobs: Vec<Job<'_>> = work.iter().map(Job::task).collect();
        let plan = list_schedule(&jobs, 3);
        let starts: Vec<u128> = plan.iter().map(|p| p.start.as_millis()).collect();
        assert_eq!(starts, [0, 0, 0, 200, 300, 300, 400, 450, 550, 650]);
        let order: Vec<usize> = plan.iter().map(|p| p.job).collect();
        assert_eq!(order, (0..10).collect::<Vec<_>>(), "list order");
        assert_eq!(makespan_of_tasks(&work, 3), ms(950));
    }

    #[test]
    fn bursts_and_waits_interleave_on_one_thread() {
        // 00's three jobs: the waits need no thread, so on one thread the jobs interleave.
        let (a, b, c) = (
            [ms(30), ms(20), ms(30)],
            [ms(20), ms(30), ms(20)],
            [ms(20), ms(20), ms(20)],
        );
        let jobs = [
            Job {
                bursts: &a,
                waits: &[ms(80), ms(60)],
            },
            Job {
                bursts: &b,
                waits: &[ms(50), ms(100)],
            },
            Job {
                bursts: &c,
                waits: &[ms(70), ms(30)],
            },
        ];
        // A 0-30, B 30-50, C 50-70; B 100-130, A 130-150, C 150-170; C 200-220, A 220-250, B 250-270.
        let plan: Vec<(usize, u128)> = list_schedule(&jobs, 1)
            .iter()
            .map(|p| (p.job, p.start.as_millis()))
            .collect();
        assert_eq!(
            plan,
            [
                (0, 0),
                (1, 30),
                (2, 50),
                (1, 100),
                (0, 130),
                (2, 150),
                (2, 200),
                (0, 220),
                (1, 250)
            ]
        );
        assert_eq!(makespan(&jobs, 1), ms(270));
        // A thread per job: each job alone, the longest (A and B, 220 ms) sets the total.
        assert_eq!(makespan(&jobs, 3), ms(220));
        // Two threads: C waits for no one at the start, and the result lies between.
        let two = makespan(&jobs, 2);
        assert!(ms(220) <= two && two <= ms(270), "{two:?}");
    }

    #[test]
    fn a_wait_delays_only_its_own_job() {
        // One slot, job 0 waits 100 ms between its bursts: job 1 runs meanwhile, then job 0 resumes.
        let (x, y) = ([ms(10), ms(10)], [ms(50)]);
        let jobs = [
            Job {
                bursts: &x,
                waits: &[ms(100)],
            },
            Job {
                bursts: &y,
                waits: &[],
            },
        ];
        let plan = list_schedule(&jobs, 1);
        let spans: Vec<(usize, usize, u128, u128)> = plan
            .iter()
            .map(|p| (p.job, p.burst, p.start.as_millis(), p.end.as_millis()))
            .collect();
        assert_eq!(spans, [(0, 0, 0, 10), (1, 0, 10, 60), (0, 1, 110, 120)]);
    }

    #[test]
    fn any_order_lies_between_the_perfect_share_and_grahams_bound() {
        let work = [400, 200, 300, 100, 250, 150, 350, 200, 100, 300].map(ms);
        assert_eq!(any_order_bounds(&work, 3), (ms(2350) / 3, ms(1050)));
        // The FIFO schedule is one of the orders, so it falls in the range.
        let fifo = makespan_of_tasks(&work, 3);
        let (low, high) = any_order_bounds(&work, 3);
        assert!(low <= fifo && fifo <= high);
        // One slot: every order takes the sum.
        assert_eq!(any_order_bounds(&work, 1), (ms(2350), ms(2350)));
        // The longest task is a floor too: 3 tasks on 10 slots still take 400 ms.
        assert_eq!(any_order_bounds(&[ms(400), ms(10), ms(10)], 10).0, ms(400));
    }

    #[test]
    #[should_panic(expected = "at least one slot")]
    fn no_slot_is_a_mistake_not_a_hang() {
        let _ = makespan_of_tasks(&[ms(1)], 0);
    }
}
