//! A failure that counts itself: once where it is raised, once more if the program reads it. What
//! 4 and 6 print ("0 failures seen", "0 of 2 learnt of") is then measured, not assumed: a failure
//! dropped unread (with a future that never ran, or with a detached task's output) stays counted
//! as raised and never as read.

use std::sync::{Arc, Mutex, PoisonError};

/// The tally of one scenario: how many failures were raised, and which the program read.
#[derive(Debug, Default)]
pub struct Failures {
    raised: Mutex<usize>,
    read: Mutex<Vec<String>>,
}

impl Failures {
    pub fn new() -> Arc<Self> {
        Arc::default()
    }

    /// Raises a failure: counted here, in the code that fails.
    pub fn raise(self: &Arc<Self>, message: String) -> Failure {
        *self.raised.lock().unwrap_or_else(PoisonError::into_inner) += 1;
        Failure {
            message,
            tally: self.clone(),
        }
    }

    pub fn raised(&self) -> usize {
        *self.raised.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The failures the program read, in the order it read them.
    pub fn read(&self) -> Vec<String> {
        self.read
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// One failure, as an error value or a panic payload (`std::panic::panic_any`).
#[derive(Debug)]
pub struct Failure {
    message: String,
    tally: Arc<Failures>,
}

impl Failure {
    /// Reads the failure, as the program handling it does: this is what counts it as learnt of.
    pub fn read(self) -> String {
        let mut read = self
            .tally
            .read
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        read.push(self.message.clone());
        self.message
    }

    /// The message, for a log line that is not the program handling it (the panic hook).
    pub fn peek(&self) -> &str {
        &self.message
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_counts_as_raised_at_once_and_as_read_only_once_read() {
        let tally = Failures::new();
        let unread = tally.raise("lost".to_string());
        let kept = tally.raise("kept".to_string());
        drop(unread);
        assert_eq!(kept.read(), "kept");
        assert_eq!(tally.raised(), 2);
        assert_eq!(tally.read(), ["kept"]);
    }
}
