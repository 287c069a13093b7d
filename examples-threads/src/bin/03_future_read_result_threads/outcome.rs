//! Three ways to end badly, told apart. `JoinHandle::join` turns a panic into `Err`, so an error
//! the download *returns* (the 500), a panic (`invoices.csv`, whose parser has a bug) and a
//! cancellation are told apart. This is the seed's "exceptions through `future.get()`": a C++
//! `std::future` carries the exception its thread threw; a Rust `JoinHandle` carries the panic
//! payload. The panic itself is logged as one `ERROR` line ([`log_panics_as_errors`]).
//!
//! Seed: "Exception Handling with Asynchronous Operations" (exceptions through `future.get()` ->
//! `Result` and `JoinHandle::join`). Upstream: `src/cpp/asynchrony/async_exception.cpp`.

use std::fmt;
use std::thread;

use crate::files::DownloadError;

/// How one download ended. `Failed` and `Panicked` are kept apart on purpose: one is an answer,
/// the other a bug.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Succeeded { rows: u32 },
    Failed(String),
    Panicked(String),
    Cancelled,
}

/// The seed's "exceptions through `future.get()`": everything that can happen to a thread, told
/// apart. `thread::Result<T>` is `Result<T, Box<dyn Any + Send>>`: `Err` holds the panic payload.
pub fn classify(joined: thread::Result<Result<u32, DownloadError>>) -> Outcome {
    match joined {
        Ok(Ok(rows)) => Outcome::Succeeded { rows },
        Ok(Err(DownloadError::Cancelled)) => Outcome::Cancelled,
        Ok(Err(error)) => Outcome::Failed(error.to_string()),
        Err(payload) => Outcome::Panicked(panic_message(payload.as_ref())),
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

/// Sends panics to the log as one `ERROR` line (time, thread, where, message), as services do, and
/// as the async twin does. Rust's default hook writes "thread '...' panicked at ..." to stderr, and
/// a backtrace too when `RUST_BACKTRACE` is set; either way `join` gets the panic afterwards.
pub fn log_panics_as_errors() {
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        tracing::error!("panic at {location}: {}", panic_message(info.payload()));
    }));
}
