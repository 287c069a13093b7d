//! # 18 · `recommendations` by hand: what the compiler makes of an `async fn`
//!
//! `Recommendations` is an enum implementing `Future`, one variant per place the function can be
//! stopped: before it starts (futures are lazy: nothing runs at creation), at each `.await`
//! (holding what lives across it), and after the end. Each `poll` runs from where the last one
//! stopped to the next `.await` that is not ready, and returns. It produces the same trace as the
//! `async fn` in `main.rs`, event for event.
//!
//! `poll` takes `Pin<&mut Self>`: a promise that the future will not move again once polled, which
//! a future that holds a reference into itself needs. `Unpin` is the opt-out: a type that holds no
//! such reference may be moved even when pinned, and `Pin::get_mut` hands out a plain `&mut`.
//!
//! Upstream: `src/cpp/asynchrony/coroutine_task.cpp` writes a lazy `Task<T>` by hand too; its
//! awaiter resumes the caller inside `await_suspend`, so the stack grows per await, where this
//! `poll` returns to the loop instead.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use common::fmt_duration;

use crate::RECOMMEND;
use crate::executor::{Handle, JoinHandle, Sleep};

/// ...and by hand: what the compiler makes of that `async fn`, near enough. One variant per place
/// the function can be stopped: before it starts (futures are lazy: nothing runs at creation), at
/// each `.await` (holding what lives across it), and after the end. Each `poll` runs from where the
/// last one stopped to the next `.await` that is not ready, and returns.
pub enum Recommendations {
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
    pub fn new(ex: Handle, orders: JoinHandle<String>) -> Self {
        Recommendations::Start { ex, orders }
    }
}

impl Future for Recommendations {
    type Output = String;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<String> {
        // Every field is `Unpin` (no state borrows another), so the enum is too, and `get_mut`
        // gives a plain `&mut`. A future the compiler makes from an `async fn` or block is never
        // `Unpin` (its locals may borrow each other across an `.await`, and it does not check
        // whether they do), so it needs the `Pin` this one does not.
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
