//! # 18 · The event loop from inside: a tiny executor, a future by hand, tokio's runtimes
//!
//! The chapter's first building block, the event loop, opened up. `executor.rs` (beside this file) is
//! a complete executor in safe Rust: a ready queue, wakers made with `std::task::Wake`, a sorted
//! timer list, and a loop that polls, idles and wakes. It runs upstream's user dashboard: `profile`
//! (200 ms) and `orders` (100 ms) sleep, and `recommendations` waits for `orders`, then works 200 ms
//! (upstream Python's three `pretend_io` of 0.30/0.10/0.20 s, rearranged into a chain so that tasks
//! wait on each other). Every poll, every wake and every idle moment is printed.
//!
//! What it shows:
//! - **`.await` is a return from `poll`.** A task that reaches an `.await` on something not ready
//!   returns `Pending` to the loop: the thread is the loop's again. Nothing runs "in the background".
//! - **A wake is a push onto a queue.** A timer that is due, or a task that finishes, calls the
//!   waker it was given, and the waker pushes the task's id onto the ready queue; the loop polls it
//!   again later. So every task is polled once more than it is woken: **polls = wakes + 1**.
//! - **The loop idles only when nothing is ready**, until the earliest timer: that is where a real
//!   loop waits for I/O too (epoll, kqueue, IOCP). The total is the longest chain, not the sum.
//! - **What an `async fn` compiles to**: `recommendations` is written twice, as an `async fn` and as
//!   a hand-written state machine (`Recommendations`, an enum implementing `Future`, one variant per
//!   `.await`). Both produce the same trace, event for event.
//! - **The same program on tokio**: `current_thread` and `multi_thread` runtimes built with
//!   `Builder` and driven by `block_on`, `spawn_local` on a `LocalSet` (for futures that are not
//!   `Send`), and one runtime reused for two `block_on` calls, as Python's `asyncio.Runner` reuses its
//!   loop (a task spawned in the first call finishes in the second). Poll and wake counts are
//!   measured by a wrapper future (`Counted`) and compared with the tiny executor's: the same on
//!   `current_thread` and `multi_thread`; `LocalSet::block_on` polls its root whenever any of its
//!   tasks was woken, so its `main` gets polls no wake asked for. That is legal: a future polled
//!   without cause checks again and returns `Pending`, so polls = wakes + 1 is the least, not a law.
//! - **JavaScript's microtasks vs macrotasks have no Rust twin.** There is no microtask queue:
//!   awaiting a future that is already ready does not go back to the loop at all (JS always queues
//!   a microtask), and tokio has one queue per worker. What orders tokio's tasks: FIFO on
//!   `current_thread`; on `multi_thread` a task woken by a running task goes to that worker's **LIFO
//!   slot** and runs next; `yield_now` sends a task to the back; every task has a **budget** of 128
//!   resource operations per poll, after which tokio makes it yield even if it could go on. Proven:
//!   the order `A1 A2 B1 B2 A3` (JS would interleave: A1 B1 A2 B2 A3), and the budget (128 receives from a ready channel).
//!
//! Seed: "Asynchrony" > Building Blocks > Event Loop (its four duties: task management, event
//! dispatch, timers, concurrency on one thread). Upstream: `src/js/asynchrony/18_event_loop.js`
//! (nextTick / microtask / macrotask order), `src/python/asynchrony/event_loop_explained.py` (three
//! `pretend_io` of 0.30/0.10/0.20 s, `asyncio.Runner`, `get_event_loop` outside a loop),
//! `src/cpp/asynchrony/coroutine_task.cpp` (a lazy `Task<T>` by hand; its awaiter resumes the caller
//! inside `await_suspend`, so the stack grows per await: a Rust future returns to the loop instead).
//! Threads twin: `examples-threads/src/bin/18_event_loop_threads.rs` (a thread pool from scratch).
//!
//! Run: `cargo run -p examples-async --bin 18_event_loop` (no flags but `--help`, about 2 s).
//!
//! The output will look similar to this:
//!
//! ```text
//!   0.000s  INFO [main] spawn  task 0 (main) -> ready queue
//!   0.000s  INFO [main] poll   task 0 (main)
//!   0.000s  INFO [main] spawn  task 1 (profile) -> ready queue
//!   ...
//!   0.001s  INFO [main] poll   task 3 (recommendations)
//!   0.001s  INFO [main]        recommendations: waiting for orders
//!   0.001s  INFO [main]        recommendations: Pending (an .await is waiting: poll returned)
//!   0.101s  INFO [main] idle   nothing ready: slept 97 ms until the next timer
//!   0.101s  INFO [main] wake   task 2 (orders) -> ready queue
//!   0.101s  INFO [main] poll   task 2 (orders)
//!   0.101s  INFO [main]        orders: done
//!   0.101s  INFO [main] wake   task 3 (recommendations) -> ready queue
//!   0.101s  INFO [main]        orders: Ready (finished)
//!   0.101s  INFO [main] poll   task 3 (recommendations)
//!   0.101s  INFO [main]        recommendations: got orders, working 200 ms
//!   0.101s  INFO [main]        recommendations: Pending (an .await is waiting: poll returned)
//!   0.201s  INFO [main] idle   nothing ready: slept 100 ms until the next timer
//!   0.201s  INFO [main] wake   task 1 (profile) -> ready queue
//!   0.201s  INFO [main] poll   task 1 (profile)
//!   0.201s  INFO [main]        profile: done
//!   0.201s  INFO [main] wake   task 0 (main) -> ready queue
//!   0.201s  INFO [main]        profile: Ready (finished)
//!   0.201s  INFO [main] poll   task 0 (main)
//!   0.201s  INFO [main]        main: Pending (an .await is waiting: poll returned)
//!   ...
//!   0.608s  INFO [main] --- tokio multi_thread (2 workers): tasks on tokio-rt-worker, block_on's future on main ---
//!   0.608s  INFO [tokio-rt-worker] profile: start, 200 ms of I/O
//!   0.608s  INFO [tokio-rt-worker] orders: start, 100 ms of I/O
//!   0.608s  INFO [tokio-rt-worker] recommendations: waiting for orders
//!   0.710s  INFO [tokio-rt-worker] orders: done
//!   0.710s  INFO [tokio-rt-worker] recommendations: got orders, working
//!   0.809s  INFO [tokio-rt-worker] profile: done
//!   0.911s  INFO [tokio-rt-worker] recommendations: done
//!   0.911s  INFO [main] main: page ready: profile + recommendations for orders
//!   ...
//!
//! Summary (polls/wakes per task; ideal: polls = wakes + 1)
//!   tiny executor: main 3/2, profile 2/1, orders 2/1, recommendations 3/2: polls = wakes + 1 for every task: yes
//!   tiny executor: total 304 ms (ideal 300 ms, the longest chain; in sequence 500 ms); idle 3 times, 300 ms in all
//!   hand-written future vs async fn (fake clock): 41 events each, same events at the same instants: yes
//!   outside a runtime, Handle::try_current() is an error: yes
//!   tokio current_thread: main 3/2, profile 2/1, orders 2/1, recommendations 3/2; total 303 ms; same counts as the tiny executor
//!   tokio multi_thread: main 3/2, profile 2/1, orders 2/1, recommendations 3/2; total 304 ms; same counts as the tiny executor
//!   tokio LocalSet: main 6/2, profile 2/1, orders 2/1, recommendations 3/2; total 304 ms; differs: main 6/2 here vs 3/2 (3 polls without a wake)
//!   runtime reused, call 1: main 3/2, profile 2/1, orders 2/1, recommendations 3/2; total 303 ms; same counts as the tiny executor
//!   runtime reused, call 2: main 3/2, profile 2/1, orders 2/1, recommendations 3/2; total 306 ms; same counts as the tiny executor
//!   a task spawned in block_on call 1 finished in call 2 (the runtime outlived the call: yes)
//!   order on current_thread: A1 A2 B1 B2 A3 (expected A1 A2 B1 B2 A3: a ready .await does not yield, yield_now does): yes
//!   coop budget: a task draining a ready channel yielded after 128 receives (tokio's budget 128): yes
//! ```

mod executor;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use clap::Parser;
use common::{fmt_duration, init_logging};
use executor::{Clock, Event, Handle, JoinHandle, Record, Sleep, Stalled};
use tracing::info;

const PROFILE: Duration = Duration::from_millis(200);
const ORDERS: Duration = Duration::from_millis(100);
/// How long `recommendations` works once it has the orders.
const RECOMMEND: Duration = Duration::from_millis(200);

/// The ideal total: the longest chain, `max(profile, orders + recommendations)`.
fn ideal_total() -> Duration {
    PROFILE.max(ORDERS + RECOMMEND)
}

// ------------------------------------------------------------------------------------------------
// The dashboard on the tiny executor
// ------------------------------------------------------------------------------------------------

/// A simulated fetch: upstream's `pretend_io`. Each `.await` is a point where `poll` may return.
async fn pretend_io(ex: Handle, name: &'static str, delay: Duration) -> String {
    ex.say(format!("{name}: start, {} of I/O", fmt_duration(delay)));
    ex.sleep(delay).await;
    ex.say(format!("{name}: done"));
    name.to_string()
}

/// Waits for another task (`orders`), then works. Written as an `async fn`...
async fn recommendations(ex: Handle, orders: JoinHandle<String>) -> String {
    ex.say("recommendations: waiting for orders");
    let orders = orders.await;
    ex.say(format!(
        "recommendations: got {orders}, working {}",
        fmt_duration(RECOMMEND)
    ));
    ex.sleep(RECOMMEND).await;
    ex.say("recommendations: done");
    format!("recommendations for {orders}")
}

/// ...and by hand: what the compiler makes of that `async fn`, near enough. One variant per place
/// the function can be stopped: before it starts (futures are lazy: nothing runs at creation), at
/// each `.await` (holding what lives across it), and after the end. Each `poll` runs from where the
/// last one stopped to the next `.await` that is not ready, and returns.
enum Recommendations {
    /// Created, not yet polled: the body has not started.
    Start {
        ex: Handle,
        orders: JoinHandle<String>,
    },
    /// Stopped at `orders.await`.
    WaitingForOrders {
        ex: Handle,
        orders: JoinHandle<String>,
    },
    /// Stopped at `ex.sleep(RECOMMEND).await`; `orders` lives across this await, so it is stored.
    Working {
        ex: Handle,
        orders: String,
        sleep: Sleep,
    },
    /// Returned its output; polling again is a bug (async fns panic too).
    Done,
}

impl Recommendations {
    fn new(ex: Handle, orders: JoinHandle<String>) -> Self {
        Recommendations::Start { ex, orders }
    }
}

impl Future for Recommendations {
    type Output = String;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<String> {
        // Every field is `Unpin` (no state borrows another), so the enum can be handled by `&mut`.
        // An `async fn` whose locals borrow each other is not `Unpin`: the compiler's version
        // needs the `Pin` this one does not.
        let this = self.get_mut();
        loop {
            match std::mem::replace(this, Recommendations::Done) {
                Recommendations::Start { ex, orders } => {
                    ex.say("recommendations: waiting for orders");
                    *this = Recommendations::WaitingForOrders { ex, orders };
                }
                Recommendations::WaitingForOrders { ex, mut orders } => {
                    match Pin::new(&mut orders).poll(cx) {
                        Poll::Pending => {
                            // `.await` on something not ready: remember where we are, return.
                            *this = Recommendations::WaitingForOrders { ex, orders };
                            return Poll::Pending;
                        }
                        Poll::Ready(orders) => {
                            ex.say(format!(
                                "recommendations: got {orders}, working {}",
                                fmt_duration(RECOMMEND)
                            ));
                            let sleep = ex.sleep(RECOMMEND);
                            *this = Recommendations::Working { ex, orders, sleep };
                        }
                    }
                }
                Recommendations::Working {
                    ex,
                    orders,
                    mut sleep,
                } => match Pin::new(&mut sleep).poll(cx) {
                    Poll::Pending => {
                        *this = Recommendations::Working { ex, orders, sleep };
                        return Poll::Pending;
                    }
                    Poll::Ready(()) => {
                        ex.say("recommendations: done");
                        return Poll::Ready(format!("recommendations for {orders}"));
                    }
                },
                Recommendations::Done => panic!("Recommendations polled after it returned Ready"),
            }
        }
    }
}

/// Which `recommendations` to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    AsyncFn,
    ByHand,
}

/// The root task: start the three fetches, then await the two results the page needs.
async fn dashboard(ex: Handle, style: Style) -> String {
    let profile = ex.spawn("profile", pretend_io(ex.clone(), "profile", PROFILE));
    let orders = ex.spawn("orders", pretend_io(ex.clone(), "orders", ORDERS));
    let recommended = match style {
        Style::AsyncFn => ex.spawn("recommendations", recommendations(ex.clone(), orders)),
        Style::ByHand => ex.spawn("recommendations", Recommendations::new(ex.clone(), orders)),
    };
    let page = format!("{} + {}", profile.await, recommended.await);
    ex.say(format!("main: page ready: {page}"));
    page
}

/// Runs the dashboard on a new tiny executor and returns its trace.
fn run_on_tiny_executor(clock: Clock, style: Style, quiet: bool) -> Result<Vec<Record>, Stalled> {
    let ex = Handle::new(clock, quiet);
    ex.block_on(dashboard(ex.clone(), style))?;
    Ok(ex.trace())
}

/// How often one task was polled and woken.
#[derive(Debug, Clone, PartialEq, Eq)]
struct TaskCount {
    name: &'static str,
    polls: u32,
    wakes: u32,
}

/// The figures a trace gives.
#[derive(Debug, Clone, PartialEq, Eq)]
struct LoopFigures {
    /// In spawn order.
    tasks: Vec<TaskCount>,
    idles: usize,
    idle: Duration,
    total: Duration,
}

fn figures(trace: &[Record]) -> LoopFigures {
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
fn counts_line(tasks: &[TaskCount]) -> (String, bool) {
    let text = tasks
        .iter()
        .map(|t| format!("{} {}/{}", t.name, t.polls, t.wakes))
        .collect::<Vec<_>>()
        .join(", ");
    let rule = tasks.iter().all(|t| t.polls == t.wakes + 1);
    (text, rule)
}

// ------------------------------------------------------------------------------------------------
// The same dashboard on tokio
// ------------------------------------------------------------------------------------------------

/// A future around another that counts its polls and its wakes: it hands the inner future a waker
/// of its own, which counts, then calls the runtime's. (The same trick tokio-console's
/// instrumentation uses, in miniature.)
struct Counted<F> {
    inner: Pin<Box<F>>,
    count: Arc<Counter>,
}

#[derive(Default)]
struct Counter {
    polls: AtomicU32,
    wakes: AtomicU32,
}

struct CountingWaker {
    inner: Waker,
    count: Arc<Counter>,
}

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.count.wakes.fetch_add(1, Ordering::SeqCst);
        self.inner.wake_by_ref();
    }
}

impl<F: Future> Future for Counted<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.count.polls.fetch_add(1, Ordering::SeqCst);
        let waker = Waker::from(Arc::new(CountingWaker {
            inner: cx.waker().clone(),
            count: self.count.clone(),
        }));
        self.inner.as_mut().poll(&mut Context::from_waker(&waker))
    }
}

/// One task's name and counter.
type NamedCounter = (&'static str, Arc<Counter>);

/// The counters of one tokio run, by task name, in spawn order.
#[derive(Default, Clone)]
struct Counters(Arc<Mutex<Vec<NamedCounter>>>);

impl Counters {
    fn wrap<F: Future>(&self, name: &'static str, future: F) -> Counted<F> {
        let count = Arc::new(Counter::default());
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push((name, count.clone()));
        Counted {
            inner: Box::pin(future),
            count,
        }
    }

    fn counts(&self) -> Vec<TaskCount> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .map(|(name, c)| TaskCount {
                name,
                polls: c.polls.load(Ordering::SeqCst),
                wakes: c.wakes.load(Ordering::SeqCst),
            })
            .collect()
    }
}

/// How tasks are started: `tokio::spawn` (any worker, the future must be `Send`) or `spawn_local`
/// (this thread, inside a `LocalSet`; the future may hold an `Rc`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Spawn {
    Anywhere,
    Local,
}

fn start<F>(
    how: Spawn,
    counters: &Counters,
    name: &'static str,
    future: F,
) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let future = counters.wrap(name, future);
    match how {
        Spawn::Anywhere => tokio::spawn(future),
        Spawn::Local => tokio::task::spawn_local(future),
    }
}

async fn pretend_io_tokio(name: &'static str, delay: Duration) -> String {
    info!("{name}: start, {} of I/O", fmt_duration(delay));
    tokio::time::sleep(delay).await;
    info!("{name}: done");
    name.to_string()
}

async fn recommendations_tokio(
    orders: tokio::task::JoinHandle<String>,
) -> Result<String, tokio::task::JoinError> {
    info!("recommendations: waiting for orders");
    let orders = orders.await?;
    info!("recommendations: got {orders}, working");
    tokio::time::sleep(RECOMMEND).await;
    info!("recommendations: done");
    Ok(format!("recommendations for {orders}"))
}

/// The same root task on tokio; its own counts come from the `Counted` around it (see callers).
async fn dashboard_tokio(how: Spawn, counters: Counters) -> anyhow::Result<String> {
    let profile = start(
        how,
        &counters,
        "profile",
        pretend_io_tokio("profile", PROFILE),
    );
    let orders = start(how, &counters, "orders", pretend_io_tokio("orders", ORDERS));
    let recommended = start(
        how,
        &counters,
        "recommendations",
        recommendations_tokio(orders),
    );
    let page = format!("{} + {}", profile.await?, recommended.await??);
    info!("main: page ready: {page}");
    Ok(page)
}

/// One tokio run of the dashboard: its counts (root first, as on the tiny executor) and total.
struct TokioRun {
    tasks: Vec<TaskCount>,
    total: Duration,
}

/// The root future of a tokio run, counted like the tasks: `main` first.
async fn counted_dashboard(how: Spawn) -> anyhow::Result<TokioRun> {
    let counters = Counters::default();
    let start = tokio::time::Instant::now();
    counters
        .wrap("main", dashboard_tokio(how, counters.clone()))
        .await?;
    Ok(TokioRun {
        tasks: counters.counts(),
        total: start.elapsed(),
    })
}

fn current_thread() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
}

/// Python's `asyncio.Runner`: one runtime, two `block_on` calls. A task spawned in the first call,
/// still sleeping when it returns, finishes during the second: the runtime (its tasks, its timers)
/// outlived the call. Returns the two runs and the call the leftover task finished in.
fn reused_runtime() -> anyhow::Result<(TokioRun, TokioRun, usize)> {
    let runtime = current_thread()?;
    let call = Arc::new(AtomicUsize::new(1));
    let (first, leftover) = runtime.block_on(async {
        let run = counted_dashboard(Spawn::Anywhere).await?;
        let call = call.clone();
        let leftover = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            call.load(Ordering::SeqCst)
        });
        anyhow::Ok((run, leftover))
    })?;
    call.store(2, Ordering::SeqCst);
    let (second, finished_in) = runtime.block_on(async {
        let run = counted_dashboard(Spawn::Anywhere).await?;
        anyhow::Ok((run, leftover.await?))
    })?;
    Ok((first, second, finished_in))
}

// ------------------------------------------------------------------------------------------------
// What orders tokio's tasks (no microtasks)
// ------------------------------------------------------------------------------------------------

/// Two tasks. A: say 1; await three futures that are already ready; say 2; `yield_now`; say 3.
/// B: say 1; the same three ready awaits; say 2. In JS every `await` queues a microtask, so two
/// such async functions interleave at each one (A1 B1 A2 B2 A3). In Rust a ready future's `poll`
/// returns `Ready` inline and the task goes on: only `Pending` (here `yield_now`) gives the thread
/// back, and then every other ready task runs first. Returns the order of the lines.
async fn await_order() -> Vec<String> {
    let log = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for (name, yields) in [("A", true), ("B", false)] {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            let say = |step: u32| {
                log.lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push(format!("{name}{step}"))
            };
            say(1);
            for _ in 0..3 {
                std::future::ready(()).await; // Ready at once: no trip through the loop
            }
            say(2);
            if yields {
                tokio::task::yield_now().await; // Pending once: the others go first
                say(3);
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    log.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone()
}

/// A task drains a channel that holds 1000 messages, all ready, while another task waits for its
/// turn. tokio's coop budget makes the drainer yield after 128 operations in one poll, so the other
/// task runs after exactly that many receives. Returns how many the drainer had then.
async fn budget_yield() -> usize {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    for i in 0..1000 {
        let _ = tx.send(i); // the receiver is alive: cannot fail
    }
    drop(tx);
    let received = Arc::new(AtomicUsize::new(0));
    let counted = received.clone();
    let drainer = tokio::spawn(async move {
        while rx.recv().await.is_some() {
            counted.fetch_add(1, Ordering::SeqCst);
        }
    });
    let other = tokio::spawn(async move { received.load(Ordering::SeqCst) });
    let seen = other.await.unwrap_or_default();
    let _ = drainer.await;
    seen
}

/// Expected order of [`await_order`].
const AWAIT_ORDER: [&str; 5] = ["A1", "A2", "B1", "B2", "A3"];
/// tokio's per-poll budget (`tokio::task::coop`).
const BUDGET: usize = 128;

// ------------------------------------------------------------------------------------------------
// main
// ------------------------------------------------------------------------------------------------

/// `--help` text. No flags: the timings are fixed so the trace can be checked event for event.
#[derive(Parser, Debug)]
#[command(
    about = "18 · The event loop from inside: a tiny executor in safe Rust (ready queue, Wake, \
             timer list) printing every poll, wake and idle; a Future written by hand beside its \
             async fn; the same program on tokio's current_thread, multi_thread and LocalSet; \
             what orders tokio's tasks (no microtasks: yield_now, budget)",
    long_about = None
)]
struct Args {}

// No `#[tokio::main]`: the tiny executor needs no runtime, and each tokio part builds its own.
fn main() -> anyhow::Result<()> {
    common::parse_args::<Args>();
    init_logging();

    info!("--- the tiny executor: async fn recommendations ---");
    let trace = run_on_tiny_executor(Clock::real(), Style::AsyncFn, false)?;
    let tiny = figures(&trace);
    // The async fn and the hand-written future, both run quietly on the fake clock (it jumps to the
    // next timer instead of sleeping), so the traces can be compared instant for instant.
    let by_async = run_on_tiny_executor(Clock::fake(), Style::AsyncFn, true)?;
    let by_hand = run_on_tiny_executor(Clock::fake(), Style::ByHand, true)?;
    let same_trace = by_hand == by_async;

    // Outside any runtime there is no "current loop": Python 3.14's get_event_loop() raises here.
    let outside = tokio::runtime::Handle::try_current().is_err();

    info!("--- tokio current_thread: Builder + block_on ---");
    let single = current_thread()?.block_on(counted_dashboard(Spawn::Anywhere))?;
    info!(
        "--- tokio multi_thread (2 workers): tasks on tokio-rt-worker, block_on's future on main ---"
    );
    let multi = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()?
        .block_on(counted_dashboard(Spawn::Anywhere))?;
    info!("--- tokio current_thread + LocalSet: spawn_local (futures need not be Send) ---");
    let local = tokio::task::LocalSet::new()
        .block_on(&current_thread()?, counted_dashboard(Spawn::Local))?;
    info!("--- one runtime, two block_on calls (asyncio.Runner) ---");
    let (first, second, leftover_call) = reused_runtime()?;

    info!("--- what orders tokio's tasks ---");
    let ordering =
        current_thread()?.block_on(async { (await_order().await, budget_yield().await) });
    let (order, budget) = ordering;

    let ideal = ideal_total();
    let (tiny_counts, tiny_rule) = counts_line(&tiny.tasks);
    common::out!();
    common::out!("Summary (polls/wakes per task; ideal: polls = wakes + 1)");
    common::out!(
        "  tiny executor: {tiny_counts}: polls = wakes + 1 for every task: {}",
        yes_no(tiny_rule)
    );
    common::out!(
        "  tiny executor: total {} (ideal {}, the longest chain; in sequence {}); idle {} times, {} in all",
        fmt_duration(tiny.total),
        fmt_duration(ideal),
        fmt_duration(PROFILE + ORDERS + RECOMMEND),
        tiny.idles,
        fmt_duration(tiny.idle)
    );
    common::out!(
        "  hand-written future vs async fn (fake clock): {} events each, same events at the same instants: {}",
        by_hand.len(),
        yes_no(same_trace)
    );
    common::out!(
        "  outside a runtime, Handle::try_current() is an error: {}",
        yes_no(outside)
    );
    for (label, run) in [
        ("tokio current_thread", &single),
        ("tokio multi_thread", &multi),
        ("tokio LocalSet", &local),
        ("runtime reused, call 1", &first),
        ("runtime reused, call 2", &second),
    ] {
        let (counts, _) = counts_line(&run.tasks);
        common::out!(
            "  {label}: {counts}; total {}; {}",
            fmt_duration(run.total),
            compared_with(&run.tasks, &tiny.tasks)
        );
    }
    common::out!(
        "  a task spawned in block_on call 1 finished in call {leftover_call} (the runtime outlived the call: {})",
        yes_no(leftover_call == 2)
    );
    common::out!(
        "  order on current_thread: {} (expected {}: a ready .await does not yield, yield_now does): {}",
        order.join(" "),
        AWAIT_ORDER.join(" "),
        yes_no(order == AWAIT_ORDER)
    );
    common::out!(
        "  coop budget: a task draining a ready channel yielded after {budget} receives (tokio's budget {BUDGET}): {}",
        yes_no(budget == BUDGET)
    );
    Ok(())
}

/// `same counts as the tiny executor`, or what differs. A poll nobody woke for is legal (a future
/// must then check again and return `Pending`): `LocalSet::block_on` polls its future each time
/// any of its tasks was woken, so its `main` shows more polls than wakes + 1.
fn compared_with(run: &[TaskCount], tiny: &[TaskCount]) -> String {
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

fn yes_no(ok: bool) -> &'static str {
    if ok { "yes" } else { "NO" }
}

#[cfg(test)]
mod tests {
    //! The tiny executor on its fake clock, tokio on its paused clock: every claim exactly.
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn fake_run(style: Style) -> Vec<Record> {
        run_on_tiny_executor(Clock::fake(), style, true).expect("the dashboard finishes")
    }

    /// The trace as short lines: `  0 poll main`, `100 wake orders`, `said: ...`.
    fn lines(trace: &[Record]) -> Vec<String> {
        trace
            .iter()
            .map(|r| {
                let at = r.at.as_millis();
                match &r.event {
                    Event::Spawned { name, .. } => format!("{at} spawn {name}"),
                    Event::Polled { name, .. } => format!("{at} poll {name}"),
                    Event::Pending { name, .. } => format!("{at} pending {name}"),
                    Event::Finished { name, .. } => format!("{at} ready {name}"),
                    Event::Woken { name, .. } => format!("{at} wake {name}"),
                    Event::Idle { slept } => format!("{at} idle {}", slept.as_millis()),
                    Event::Said(text) => format!("{at} say {text}"),
                }
            })
            .collect()
    }

    #[test]
    fn the_loop_polls_wakes_and_idles_exactly_as_planned() {
        let trace = fake_run(Style::AsyncFn);
        let expected = [
            "0 spawn main",
            "0 poll main",
            "0 spawn profile",
            "0 spawn orders",
            "0 spawn recommendations",
            "0 pending main",
            "0 poll profile",
            "0 say profile: start, 200 ms of I/O",
            "0 pending profile",
            "0 poll orders",
            "0 say orders: start, 100 ms of I/O",
            "0 pending orders",
            "0 poll recommendations",
            "0 say recommendations: waiting for orders",
            "0 pending recommendations",
            // Nothing ready: the loop idles until the first timer (orders, 100 ms).
            "100 idle 100",
            "100 wake orders",
            "100 poll orders",
            "100 say orders: done",
            // Finishing wakes the task that awaits it: a push onto the ready queue.
            "100 wake recommendations",
            "100 ready orders",
            "100 poll recommendations",
            "100 say recommendations: got orders, working 200 ms",
            "100 pending recommendations",
            "200 idle 100",
            "200 wake profile",
            "200 poll profile",
            "200 say profile: done",
            "200 wake main",
            "200 ready profile",
            // main gets its profile, then stops at the next .await: recommendations.
            "200 poll main",
            "200 pending main",
            "300 idle 100",
            "300 wake recommendations",
            "300 poll recommendations",
            "300 say recommendations: done",
            "300 wake main",
            "300 ready recommendations",
            "300 poll main",
            "300 say main: page ready: profile + recommendations for orders",
            "300 ready main",
        ];
        assert_eq!(lines(&trace), expected);
    }

    #[test]
    fn every_task_is_polled_once_more_than_it_is_woken_and_the_total_is_the_longest_chain() {
        let f = figures(&fake_run(Style::AsyncFn));
        let counts: Vec<(&str, u32, u32)> =
            f.tasks.iter().map(|t| (t.name, t.polls, t.wakes)).collect();
        assert_eq!(
            counts,
            [
                ("main", 3, 2),
                ("profile", 2, 1),
                ("orders", 2, 1),
                ("recommendations", 3, 2),
            ]
        );
        assert!(counts_line(&f.tasks).1);
        assert_eq!(f.total, ms(300));
        assert_eq!(f.total, ideal_total());
        assert_eq!((f.idles, f.idle), (3, ms(300)), "idle the whole time");
    }

    #[test]
    fn the_hand_written_future_gives_the_same_trace_as_the_async_fn() {
        let by_async = fake_run(Style::AsyncFn);
        let by_hand = fake_run(Style::ByHand);
        assert_eq!(by_hand, by_async, "same events at the same instants");
    }

    #[test]
    fn the_hand_written_future_is_lazy_like_an_async_fn() {
        // Created but never polled: neither says a word.
        let ex = Handle::new(Clock::fake(), true);
        let orders = ex.spawn("orders", async { String::from("orders") });
        let _by_hand = Recommendations::new(ex.clone(), orders);
        let orders = ex.spawn("orders", async { String::from("orders") });
        let _by_async = recommendations(ex.clone(), orders);
        let said = ex
            .trace()
            .iter()
            .filter(|r| matches!(r.event, Event::Said(_)))
            .count();
        assert_eq!(said, 0);
    }

    #[tokio::test(start_paused = true)]
    async fn tokio_current_thread_polls_and_wakes_as_the_tiny_executor_does() {
        let run = counted_dashboard(Spawn::Anywhere)
            .await
            .expect("no task failed");
        let tiny = figures(&fake_run(Style::AsyncFn));
        assert_eq!(run.tasks, tiny.tasks);
        assert_eq!(run.total, ms(300));
    }

    #[test]
    fn on_a_local_set_the_tasks_count_the_same_and_the_root_gets_polls_no_one_woke_it_for() {
        let tiny = figures(&fake_run(Style::AsyncFn));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .expect("a runtime");
        let local = tokio::task::LocalSet::new()
            .block_on(&runtime, counted_dashboard(Spawn::Local))
            .expect("no task failed");
        assert_eq!(local.tasks[1..], tiny.tasks[1..], "the three spawned tasks");
        let (main, tiny_main) = (&local.tasks[0], &tiny.tasks[0]);
        assert_eq!(main.wakes, tiny_main.wakes);
        // `LocalSet::block_on` polls its future whenever any local task was woken: legal, and
        // harmless, because a future polled without cause checks again and returns `Pending`.
        assert!(main.polls > main.wakes + 1, "{main:?}");
        assert_eq!(local.total, ms(300));
        assert!(compared_with(&local.tasks, &tiny.tasks).contains("polls without a wake"));
    }

    #[test]
    fn a_task_spawned_in_one_block_on_finishes_in_the_next() {
        let (first, second, finished_in) = reused_runtime().expect("runs");
        assert_eq!(finished_in, 2);
        assert!(first.tasks.iter().all(|t| t.polls == t.wakes + 1));
        assert!(second.tasks.iter().all(|t| t.polls == t.wakes + 1));
    }

    #[tokio::test(start_paused = true)]
    async fn a_ready_await_does_not_yield_and_yield_now_goes_to_the_back() {
        assert_eq!(await_order().await, AWAIT_ORDER);
    }

    #[tokio::test(start_paused = true)]
    async fn the_coop_budget_makes_a_busy_task_yield_after_128_operations() {
        assert_eq!(budget_yield().await, BUDGET);
    }

    #[test]
    fn help_names_the_example_and_a_bad_flag_is_an_error() {
        let help = Args::try_parse_from(["18", "--help"]).expect_err("--help stops the program");
        assert_eq!(help.exit_code(), 0);
        assert!(
            help.to_string().starts_with("18 · The event loop"),
            "{help}"
        );
        let bad = Args::try_parse_from(["18", "--workers", "4"]).expect_err("no such flag");
        assert_eq!(bad.exit_code(), 2);
    }
}
