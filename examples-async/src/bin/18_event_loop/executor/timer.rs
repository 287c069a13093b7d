//! The executor's clock and its timers: [`Clock`], real or fake, and [`Sleep`], the future that
//! files its waker in the loop's sorted timer list and takes it out again when dropped early.

use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use super::{Handle, lock};

/// Real time for the demo, or a fake clock that jumps to the next timer instead of sleeping
/// (tests).
pub enum Clock {
    Real(Instant),
    Fake(Mutex<Duration>),
}

impl Clock {
    pub fn real() -> Self {
        Clock::Real(Instant::now())
    }

    pub fn fake() -> Self {
        Clock::Fake(Mutex::new(Duration::ZERO))
    }

    pub fn now(&self) -> Duration {
        match self {
            Clock::Real(start) => start.elapsed(),
            Clock::Fake(now) => *lock(now),
        }
    }

    /// Blocks the thread until `deadline` (real), or moves the clock there (fake).
    pub(super) fn sleep_until(&self, deadline: Duration) {
        match self {
            Clock::Real(start) => {
                let left = deadline.saturating_sub(start.elapsed());
                std::thread::sleep(left);
            }
            Clock::Fake(now) => {
                let mut now = lock(now);
                *now = (*now).max(deadline);
            }
        }
    }
}

/// The executor's sleep: ready once the clock has reached `deadline`.
pub struct Sleep {
    pub(super) handle: Handle,
    pub(super) deadline: Duration,
    /// Its key in the timer list once filed.
    pub(super) timer: Option<(Duration, u64)>,
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let state = self.handle.0.clone();
        if state.side.clock.now() >= self.deadline {
            return Poll::Ready(());
        }
        // Not due: file the waker in the timer list (again if polled again, with the newest waker),
        // then return Pending. Returning Pending *without* filing it would leave no one to wake
        // this task: the loop would report `Stalled`.
        let key = match self.timer {
            Some(key) => key,
            None => {
                let n = state.next_timer.get();
                state.next_timer.set(n + 1);
                (self.deadline, n)
            }
        };
        state.timers.borrow_mut().insert(key, cx.waker().clone());
        self.timer = Some(key);
        Poll::Pending
    }
}

impl Drop for Sleep {
    /// A sleep dropped before it is due (cancelled) takes its timer out of the list, so the loop
    /// does not idle until a deadline nobody waits for.
    fn drop(&mut self) {
        if let Some(key) = self.timer {
            self.handle.0.timers.borrow_mut().remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::executor::Event;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_sleep_dropped_before_it_is_due_takes_its_timer_out_of_the_list() {
        let ex = Handle::new(Clock::fake(), true);
        let h = ex.clone();
        ex.block_on(async move {
            // Polled once: not due, so it files its waker; then dropped (cancelled) at 0 ms.
            let mut early = Box::pin(h.sleep(ms(5)));
            let first = std::future::poll_fn(|cx| Poll::Ready(early.as_mut().poll(cx))).await;
            assert!(first.is_pending());
            assert_eq!(h.0.timers.borrow().len(), 1, "filed");
            drop(early);
            assert_eq!(h.0.timers.borrow().len(), 0, "taken out");
            h.sleep(ms(20)).await;
        })
        .expect("not stalled");
        // Left in the list, the dead timer would idle the loop to 5 ms and wake the task for
        // nothing.
        let idles: Vec<Duration> = ex
            .trace()
            .iter()
            .filter_map(|r| match r.event {
                Event::Idle { slept } => Some(slept),
                _ => None,
            })
            .collect();
        assert_eq!(idles, [ms(20)]);
    }
}
