//! # 18 · The same dashboard on tokio, its polls and wakes counted
//!
//! `Counted` wraps a future and hands it a waker of its own that counts, then calls the runtime's
//! (the trick tokio-console's instrumentation uses, in miniature). The dashboard runs on a
//! `current_thread` and a `multi_thread` runtime built with `Builder` and driven by `block_on`,
//! with `spawn_local` on a `LocalSet` (for futures that are not `Send`), and on one runtime reused
//! for two `block_on` calls, as Python's `asyncio.Runner` reuses its loop (a task spawned in the
//! first call finishes in the second).
//!
//! The counts are compared with the tiny executor's: the same on `current_thread` and
//! `multi_thread`. `LocalSet::block_on` polls its root whenever any of its tasks was woken, so its
//! `main` gets polls no wake asked for. That is legal: a future polled without cause checks again
//! and returns `Pending`, so polls = wakes + 1 is the least, not a law.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use common::fmt_duration;
use tracing::info;

use crate::report::TaskCount;
use crate::{ORDERS, PROFILE, RECOMMEND};

/// A future around another that counts its polls and its wakes: it hands the inner future a waker
/// of its own, which counts, then calls the runtime's. (The same trick tokio-console's
/// instrumentation uses, in miniature.)
pub struct Counted<F> {
    inner: Pin<Box<F>>,
    count: Arc<Counter>,
}

#[derive(Default)]
pub struct Counter {
    polls: AtomicU32,
    wakes: AtomicU32,
}

pub struct CountingWaker {
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
pub type NamedCounter = (&'static str, Arc<Counter>);

/// The counters of one tokio run, by task name, in spawn order.
#[derive(Default, Clone)]
pub struct Counters(Arc<Mutex<Vec<NamedCounter>>>);

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
pub enum Spawn {
    Anywhere,
    Local,
}

pub fn start<F>(
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

pub async fn pretend_io_tokio(name: &'static str, delay: Duration) -> String {
    info!("{name}: start, {} of I/O", fmt_duration(delay));
    tokio::time::sleep(delay).await;
    info!("{name}: done");
    name.to_string()
}

pub async fn recommendations_tokio(
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
pub async fn dashboard_tokio(how: Spawn, counters: Counters) -> anyhow::Result<String> {
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
pub struct TokioRun {
    pub tasks: Vec<TaskCount>,
    pub total: Duration,
}

/// The root future of a tokio run, counted like the tasks: `main` first.
pub async fn counted_dashboard(how: Spawn) -> anyhow::Result<TokioRun> {
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

pub fn current_thread() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
}

/// Python's `asyncio.Runner`: one runtime, two `block_on` calls. A task spawned in the first call,
/// still sleeping when it returns, finishes during the second: the runtime (its tasks, its timers)
/// outlived the call. Returns the two runs and the call the leftover task finished in.
pub fn reused_runtime() -> anyhow::Result<(TokioRun, TokioRun, usize)> {
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
