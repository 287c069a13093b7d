//! The tiny executor of `main.rs`: an event loop in one file of safe Rust, so every part of
//! "the loop polls, the future returns Pending, something wakes it, the loop polls again" is code a
//! reader can step through.
//!
//! - **Tasks** are boxed futures in a slab, each with an id and a name. The loop owns them.
//! - **The ready queue** is a `Mutex<VecDeque<TaskId>>`. A task's [`Waker`] is built from an
//!   `Arc<TaskWaker>` with `std::task::Wake` (no `unsafe` vtable): waking pushes the task's id onto
//!   that queue, nothing more. A task already queued is not queued twice (tokio's `NOTIFIED` bit).
//! - **Timers** are a sorted list (`BTreeMap` keyed by deadline, then by arrival): a [`Sleep`] that
//!   is not due yet files its waker there and returns `Pending`.
//! - **The loop**: pop a ready task and poll it; when the queue is empty, sleep until the earliest
//!   timer (the loop is *idle*: that is where an epoll/kqueue wait would sit), then wake every due
//!   timer's task. Nothing ready and no timer: the root can never finish, reported as [`Stalled`].
//! - **The clock** is real (the demo) or fake (the tests): a fake clock jumps to the next deadline
//!   when the loop would idle, as tokio's paused clock does, so a test can assert every event and
//!   its instant exactly.
//!
//! Every step is written to a [`Record`] trace (and logged unless quiet): the lesson's figures and
//! its tests are read from that trace.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use common::fmt_duration;
use tracing::info;

mod timer;
pub use timer::{Clock, Sleep};

pub type TaskId = usize;

/// One step of the loop, as the trace records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A task was created and put on the ready queue (its first poll needs no wake).
    Spawned { task: TaskId, name: &'static str },
    /// The loop called the task's `poll`.
    Polled { task: TaskId, name: &'static str },
    /// `poll` returned `Pending`: the task stopped at an `.await` and gave the thread back.
    Pending { task: TaskId, name: &'static str },
    /// `poll` returned `Ready`: the task is finished and dropped.
    Finished { task: TaskId, name: &'static str },
    /// A waker was called: the task's id went onto the ready queue.
    Woken { task: TaskId, name: &'static str },
    /// Nothing ready: the loop slept this long, until the earliest timer.
    Idle { slept: Duration },
    /// A line the program itself said (`Handle::say`), between the loop's own events.
    Said(String),
}

/// An event and the instant (on the executor's clock) it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub at: Duration,
    pub event: Event,
}

/// A poisoned lock here means a panic inside this file's few lines that hold it, none of which can
/// leave the data half-changed: the data is used as it is.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What a waker may touch: it must be `Send + Sync` (a waker may be called from any thread), so it
/// holds only the ready queue and the trace, never the tasks themselves.
struct WakeSide {
    ready: Mutex<VecDeque<TaskId>>,
    trace: Mutex<Vec<Record>>,
    clock: Clock,
    quiet: bool,
}

impl WakeSide {
    fn record(&self, event: Event) {
        let at = self.clock.now();
        if !self.quiet {
            match &event {
                Event::Spawned { task, name } => {
                    info!("spawn  task {task} ({name}) -> ready queue")
                }
                Event::Polled { task, name } => info!("poll   task {task} ({name})"),
                Event::Pending { name, .. } => {
                    info!("       {name}: Pending (an .await is waiting: poll returned)")
                }
                Event::Finished { name, .. } => info!("       {name}: Ready (finished)"),
                Event::Woken { task, name } => info!("wake   task {task} ({name}) -> ready queue"),
                Event::Idle { slept } => {
                    info!(
                        "idle   nothing ready: slept {} until the next timer",
                        fmt_duration(*slept)
                    )
                }
                Event::Said(text) => info!("       {text}"),
            }
        }
        lock(&self.trace).push(Record { at, event });
    }
}

/// A task's waker. `Wake` gives `Waker::from(Arc<TaskWaker>)` with no `unsafe` code.
struct TaskWaker {
    task: TaskId,
    name: &'static str,
    /// Set while the task sits in the ready queue, so a second wake does not queue it twice.
    queued: AtomicBool,
    side: Arc<WakeSide>,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    /// The whole of "waking a task": push its id onto the ready queue.
    fn wake_by_ref(self: &Arc<Self>) {
        if !self.queued.swap(true, Ordering::SeqCst) {
            lock(&self.side.ready).push_back(self.task);
            self.side.record(Event::Woken {
                task: self.task,
                name: self.name,
            });
        }
    }
}

type BoxedTask = Pin<Box<dyn Future<Output = ()>>>;

/// The loop's single-threaded state, shared with the futures through [`Handle`] (an `Rc`: these
/// futures never leave this thread, so they need not be `Send`).
struct LoopState {
    side: Arc<WakeSide>,
    /// Tasks spawned while another task was being polled, adopted by the loop before its next poll.
    spawned: RefCell<Vec<(Arc<TaskWaker>, BoxedTask)>>,
    next_id: Cell<TaskId>,
    /// The sorted timer list: (deadline, arrival number) -> the waker to call when it is due.
    timers: RefCell<BTreeMap<(Duration, u64), Waker>>,
    next_timer: Cell<u64>,
}

/// What a future gets to reach its executor: spawn, sleep, say something, read the clock. (tokio
/// keeps the same thing in a thread-local, `Handle::current()`; here it is passed explicitly.)
#[derive(Clone)]
pub struct Handle(Rc<LoopState>);

/// The loop had nothing to run and no timer to wait for, but the root future was not finished: no
/// one will ever wake it (a future returned `Pending` without keeping its waker somewhere).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stalled {
    pub at: Duration,
}

impl std::fmt::Display for Stalled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the event loop stalled at {}: nothing ready, no timer, the main task unfinished",
            fmt_duration(self.at)
        )
    }
}

impl std::error::Error for Stalled {}

impl Handle {
    /// A new executor on `clock`; `quiet` records the trace without logging it.
    pub fn new(clock: Clock, quiet: bool) -> Self {
        Handle(Rc::new(LoopState {
            side: Arc::new(WakeSide {
                ready: Mutex::new(VecDeque::new()),
                trace: Mutex::new(Vec::new()),
                clock,
                quiet,
            }),
            spawned: RefCell::new(Vec::new()),
            next_id: Cell::new(0),
            timers: RefCell::new(BTreeMap::new()),
            next_timer: Cell::new(0),
        }))
    }

    pub fn now(&self) -> Duration {
        self.0.side.clock.now()
    }

    /// Adds a line to the trace (and the log), so the program's own output sits between the loop's.
    pub fn say(&self, text: impl Into<String>) {
        self.0.side.record(Event::Said(text.into()));
    }

    /// A future that is ready once `duration` has passed on this executor's clock.
    pub fn sleep(&self, duration: Duration) -> Sleep {
        Sleep {
            handle: self.clone(),
            deadline: self.now() + duration,
            timer: None,
        }
    }

    /// Starts `future` as a task: it goes onto the ready queue at once (it runs when the loop gets
    /// to it, not now). Its output comes back through the [`JoinHandle`].
    pub fn spawn<T: 'static>(
        &self,
        name: &'static str,
        future: impl Future<Output = T> + 'static,
    ) -> JoinHandle<T> {
        let slot = Rc::new(RefCell::new(JoinSlot {
            output: None,
            waiter: None,
        }));
        let task_slot = slot.clone();
        // The task the loop polls: the future, then "store the output and wake whoever waits".
        let task = async move {
            let output = future.await;
            let waiter = {
                let mut slot = task_slot.borrow_mut();
                slot.output = Some(output);
                slot.waiter.take()
            };
            if let Some(waiter) = waiter {
                waiter.wake();
            }
        };
        let id = self.0.next_id.get();
        self.0.next_id.set(id + 1);
        let waker = Arc::new(TaskWaker {
            task: id,
            name,
            queued: AtomicBool::new(true),
            side: self.0.side.clone(),
        });
        lock(&self.0.side.ready).push_back(id);
        self.0.side.record(Event::Spawned { task: id, name });
        self.0.spawned.borrow_mut().push((waker, Box::pin(task)));
        JoinHandle { slot }
    }

    /// Runs the loop until `root` is finished; returns its output, or [`Stalled`].
    pub fn block_on<T: 'static>(
        &self,
        root: impl Future<Output = T> + 'static,
    ) -> Result<T, Stalled> {
        let root = self.spawn("main", root);
        let mut tasks: BTreeMap<TaskId, (Arc<TaskWaker>, BoxedTask)> = BTreeMap::new();
        loop {
            for (waker, task) in self.0.spawned.borrow_mut().drain(..) {
                tasks.insert(waker.task, (waker, task));
            }
            if let Some(output) = root.slot.borrow_mut().output.take() {
                return Ok(output);
            }
            let next = lock(&self.0.side.ready).pop_front();
            if let Some(id) = next {
                let Some((waker, task)) = tasks.get_mut(&id) else {
                    continue; // a wake for a task that already finished
                };
                // Cleared before the poll: a wake during the poll queues the task again.
                waker.queued.store(false, Ordering::SeqCst);
                let (task_id, name) = (waker.task, waker.name);
                let as_waker = Waker::from(waker.clone());
                self.0.side.record(Event::Polled {
                    task: task_id,
                    name,
                });
                let poll = task.as_mut().poll(&mut Context::from_waker(&as_waker));
                match poll {
                    Poll::Pending => self.0.side.record(Event::Pending {
                        task: task_id,
                        name,
                    }),
                    Poll::Ready(()) => {
                        self.0.side.record(Event::Finished {
                            task: task_id,
                            name,
                        });
                        tasks.remove(&id);
                    }
                }
                continue;
            }
            // Nothing ready: idle until the earliest timer, then wake every timer that is due.
            let earliest = self.0.timers.borrow().keys().next().map(|(at, _)| *at);
            let Some(deadline) = earliest else {
                return Err(Stalled { at: self.now() });
            };
            let now = self.now();
            if deadline > now {
                self.0.side.clock.sleep_until(deadline);
                self.0.side.record(Event::Idle {
                    slept: self.now() - now,
                });
            }
            let now = self.now();
            let due: Vec<Waker> = {
                let mut timers = self.0.timers.borrow_mut();
                let later = timers.split_off(&(now, u64::MAX));
                std::mem::replace(&mut *timers, later)
                    .into_values()
                    .collect()
            };
            for waker in due {
                waker.wake();
            }
        }
    }

    /// Everything the loop recorded so far.
    pub fn trace(&self) -> Vec<Record> {
        lock(&self.0.side.trace).clone()
    }
}

struct JoinSlot<T> {
    output: Option<T>,
    waiter: Option<Waker>,
}

/// Awaits a spawned task's output. Polled before the task finished, it keeps the waker it was
/// given; the task calls it when it finishes (see `Handle::spawn`).
pub struct JoinHandle<T> {
    slot: Rc<RefCell<JoinSlot<T>>>,
}

impl<T> Future for JoinHandle<T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let mut slot = self.slot.borrow_mut();
        match slot.output.take() {
            Some(output) => Poll::Ready(output),
            None => {
                slot.waiter = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! The executor's own rules, on the fake clock. The scenario's exact trace is tested in
    //! `tests.rs`.
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn timers_fire_in_deadline_order_and_the_fake_clock_jumps() {
        let ex = Handle::new(Clock::fake(), true);
        let h = ex.clone();
        let order = ex
            .block_on(async move {
                let log = Rc::new(RefCell::new(Vec::new()));
                let mut joins = Vec::new();
                for (name, d) in [("c", 30), ("a", 10), ("b", 20)] {
                    let (h2, log) = (h.clone(), log.clone());
                    joins.push(h.spawn(name, async move {
                        h2.sleep(ms(d)).await;
                        log.borrow_mut().push((name, h2.now()));
                    }));
                }
                for j in joins {
                    j.await;
                }
                log.take()
            })
            .expect("not stalled");
        assert_eq!(order, [("a", ms(10)), ("b", ms(20)), ("c", ms(30))]);
    }

    #[test]
    fn a_future_that_keeps_no_waker_stalls_the_loop_instead_of_hanging() {
        let ex = Handle::new(Clock::fake(), true);
        let stalled = ex.block_on(std::future::pending::<()>());
        assert_eq!(stalled, Err(Stalled { at: Duration::ZERO }));
    }

    #[test]
    fn a_task_woken_twice_before_its_poll_is_queued_once() {
        let ex = Handle::new(Clock::fake(), true);
        let h = ex.clone();
        ex.block_on(async move {
            // Two timers at the same instant wake the same task: one queue entry, one poll.
            let (a, b) = (h.sleep(ms(5)), h.sleep(ms(5)));
            let mut both = std::pin::pin!(async move {
                let mut a = std::pin::pin!(a);
                let mut b = std::pin::pin!(b);
                std::future::poll_fn(|cx| {
                    let ra = a.as_mut().poll(cx);
                    let rb = b.as_mut().poll(cx);
                    if ra.is_ready() && rb.is_ready() {
                        Poll::Ready(())
                    } else {
                        Poll::Pending
                    }
                })
                .await
            });
            both.as_mut().await;
        })
        .expect("not stalled");
        let wakes = ex
            .trace()
            .iter()
            .filter(|r| matches!(r.event, Event::Woken { .. }))
            .count();
        let polls = ex
            .trace()
            .iter()
            .filter(|r| matches!(r.event, Event::Polled { .. }))
            .count();
        assert_eq!((wakes, polls), (1, 2));
    }
}
