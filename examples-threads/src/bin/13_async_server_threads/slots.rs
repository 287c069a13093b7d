//! Connection slots: the limit of `--max-connections`, taken by the acceptor before each `accept`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};

/// Connection slots: the counting semaphore of the async twin, which std does not have, made of a
/// `Mutex<usize>` and a `Condvar` (07_semaphore_threads builds the same). The acceptor takes a
/// slot *before* `accept`, so at the limit it stops accepting and new clients wait in the kernel's
/// listen backlog, costing the server nothing.
pub(crate) struct Slots {
    pub(crate) held: Mutex<usize>,
    pub(crate) freed: Condvar,
    pub(crate) max: usize,
}

/// One taken slot; dropping it (when the connection ends, wherever that is) frees it.
pub(crate) struct Slot(Arc<Slots>);

impl Slots {
    /// Waits for a free slot; `None` once `stopping` is set (the watcher wakes this wait).
    pub(crate) fn acquire(self: &Arc<Self>, stopping: &AtomicBool) -> Option<Slot> {
        let mut held = self
            .held
            .lock()
            .expect("never poisoned: no panics while held");
        while *held >= self.max && !stopping.load(Ordering::SeqCst) {
            held = self.freed.wait(held).expect("never poisoned");
        }
        if stopping.load(Ordering::SeqCst) {
            return None;
        }
        *held += 1;
        Some(Slot(Arc::clone(self)))
    }

    pub(crate) fn held(&self) -> usize {
        *self.held.lock().expect("never poisoned")
    }

    /// Wakes a waiting `acquire` so it can see the stop flag. Taking the lock first means the
    /// wake-up cannot slip in between its check of the flag and its `wait`.
    pub(crate) fn wake(&self) {
        let _held = self.held.lock().expect("never poisoned");
        self.freed.notify_all();
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        *self.0.held.lock().expect("never poisoned") -= 1;
        self.0.freed.notify_one();
    }
}
