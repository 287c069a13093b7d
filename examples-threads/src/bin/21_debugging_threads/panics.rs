//! A captured backtrace. A panic hook (`std::panic::set_hook`) takes
//! `std::backtrace::Backtrace::force_capture()` (whatever `RUST_BACKTRACE` says) and logs the panic
//! through the logger instead of stderr; `main` reads `join()`'s `Err` and prints which of this
//! example's functions the backtrace passes through. Capturing and resolving it takes tens of ms.

use std::backtrace::Backtrace;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex as StdMutex, OnceLock};
use std::thread;

use tracing::warn;

/// What the panic hook saw.
#[derive(Debug, Clone)]
pub struct PanicReport {
    pub thread: String,
    pub location: String,
    pub message: String,
    /// How many frames the captured backtrace has.
    pub frames: usize,
    /// This file's functions in it, innermost first.
    pub ours: Vec<String>,
}

/// Reports by thread name, filled by the hook, emptied by `main`.
pub fn panic_reports() -> &'static StdMutex<Vec<PanicReport>> {
    static REPORTS: OnceLock<StdMutex<Vec<PanicReport>>> = OnceLock::new();
    REPORTS.get_or_init(Default::default)
}

pub fn take_panic_report(thread: &str) -> Option<PanicReport> {
    let mut reports = panic_reports().lock().unwrap_or_else(|e| e.into_inner());
    let index = reports.iter().position(|r| r.thread == thread)?;
    Some(reports.remove(index))
}

/// Replaces the default hook (which writes to stderr) for this example's `fetch-` threads: the panic
/// is logged with its thread's name, and its backtrace is captured and kept for `main`. Panics on
/// other threads (a failing test's) still go to the previous hook.
pub fn install_panic_hook() {
    static INSTALLED: AtomicBool = AtomicBool::new(false);
    if INSTALLED.swap(true, Ordering::SeqCst) {
        return;
    }
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let current = thread::current();
        let thread = current.name().unwrap_or("<unnamed>").to_string();
        if !thread.starts_with("fetch-") {
            return previous(info);
        }
        // `force_capture`: whatever RUST_BACKTRACE says. Resolving symbols is slow, but a panic is rare.
        let backtrace = Backtrace::force_capture().to_string();
        let message = info
            .payload()
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| info.payload().downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "(no message)".into());
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        // The message the default hook would print, through the logger (stdout) instead of stderr.
        warn!("thread '{thread}' panicked at {location}: {message}");
        let report = PanicReport {
            thread,
            location,
            message,
            frames: frame_count(&backtrace),
            ours: our_functions(&backtrace),
        };
        panic_reports()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(report);
    }));
}

/// The functions of this file a backtrace passes through, innermost first. Frames read
/// `  9: _21_debugging_threads::parse_order_count` (from the symbol table) or `  10: fetch` (from the
/// line tables of a debug build, which also list inlined frames on lines of their own).
pub fn our_functions(backtrace: &str) -> Vec<String> {
    const OURS: [&str; 3] = ["parse_order_count", "fetch", "transfer"];
    let mut found: Vec<String> = Vec::new();
    for line in backtrace.lines() {
        let symbol = line.trim_start();
        let symbol = symbol
            .split_once(": ")
            .filter(|(n, _)| n.bytes().all(|b| b.is_ascii_digit()))
            .map_or(symbol, |(_, s)| s);
        let symbol = symbol.split('<').next().unwrap_or(symbol).trim_end();
        for name in OURS {
            // `fetch`, or `_21_debugging_threads::deadlock::transfer` from any module of this binary.
            let ours = symbol == name
                || (symbol.starts_with("_21_debugging_threads::")
                    && symbol.ends_with(&format!("::{name}")));
            if ours && found.last().is_none_or(|last| last != name) {
                found.push(name.to_string());
            }
        }
    }
    found
}

/// The number of frames in a formatted `std::backtrace::Backtrace` (lines `  12: symbol`).
pub fn frame_count(backtrace: &str) -> usize {
    backtrace
        .lines()
        .filter(|line| {
            let line = line.trim_start();
            line.split_once(": ")
                .is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        })
        .count()
}
