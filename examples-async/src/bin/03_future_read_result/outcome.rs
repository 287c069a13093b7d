//! Three ways to end badly, told apart. A task's result arrives as
//! `Result<Result<T, E>, JoinError>`: `Ok(Err(e))` is an error the download returned (the 500);
//! `Err(JoinError)` with `is_panic()` is a bug (a panic, caught by the runtime, which keeps going);
//! `Err(JoinError)` with `is_cancelled()` is a task aborted from outside (`products.csv` at the
//! deadline). `main`'s second section runs `invoices.csv`, whose parser panics: the panic is logged
//! as an `ERROR` line ([`log_panics_as_errors`] says why not Rust's default stderr message), the
//! runtime turns it into a `JoinError`, and the program carries on.
//!
//! Seed: "Exception Handling with Asynchronous Operations" (exceptions through `future.get()` ->
//! `Result` and `JoinError` from `.await` on the handle), Python's "Exception Handling in
//! Asynchronous Code" (`try`/`except` around `await` -> `match` on the result).

use std::fmt;

use tokio::task::JoinError;

use crate::files::ServerError;

/// How one download ended. `Failed` and `Panicked` are kept apart on purpose: one is an answer,
/// the other a bug.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Succeeded { rows: u32 },
    Failed(String),
    Panicked(String),
    Cancelled,
}

/// The seed's "exceptions through `future.get()`": everything that can happen to a task, told apart.
pub fn classify(joined: Result<Result<u32, ServerError>, JoinError>) -> Outcome {
    match joined {
        Ok(Ok(rows)) => Outcome::Succeeded { rows },
        Ok(Err(error)) => Outcome::Failed(error.to_string()),
        // A `JoinError` is either a panic (with its payload) or a cancellation: nothing else.
        Err(join_error) => match join_error.try_into_panic() {
            Ok(payload) => Outcome::Panicked(panic_message(payload.as_ref())),
            Err(join_error) => {
                debug_assert!(join_error.is_cancelled());
                Outcome::Cancelled
            }
        },
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Succeeded { rows } => write!(f, "succeeded, {rows} rows"),
            Outcome::Failed(error) => write!(f, "failed: {error}"),
            Outcome::Panicked(message) => write!(f, "panicked: {message}"),
            Outcome::Cancelled => write!(f, "cancelled"),
        }
    }
}

/// `panic!("literal")` carries a `&str`, `panic!("{}", x)` a `String`; anything else is rare.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-text payload".to_string()
    }
}

/// Sends panics to the log as one `ERROR` line (time, thread, where, message), as services do.
///
/// Rust's default hook writes the panic to stderr, and when `RUST_BACKTRACE` is set it first captures
/// and prints a backtrace. The hook runs on the panicking thread, which here is the only thread: on
/// the machine this was written on, the backtrace took about 200 ms and showed up as a 215 ms gap in
/// the heartbeat. Either way the runtime catches the task's panic afterwards and `join_next` hands
/// it over as a `JoinError`.
pub fn log_panics_as_errors() {
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        tracing::error!("panic at {location}: {}", panic_message(info.payload()));
    }));
}
