//! What no lesson is about, shared by every example so that the examples can be about their lesson.
//!
//! - [`cli`]: [`parse_args`](cli::parse_args), clap with the house rules (`--help`; a bad flag is one line, exit 2).
//! - [`logging`]: one call that makes every line show the time since start, the thread and the level;
//!   [`out!`], a `println!` that ends the program quietly when stdout is closed (`| head`).
//! - [`timing`]: measure a closure or a future, and print a measured figure beside its ideal.
//! - [`process`]: run an example binary with a deadline (the run tests, the demos that start children).
//! - [`http_server`]: a local HTTP server on `127.0.0.1:0` whose URLs choose delay, status and body size.
//! - [`recording`]: the recorded outputs (`docs/output/<bin>.txt`) compared with a fresh run, numbers masked.
//! - [`redis_server`]: a throwaway `redis-server` on a free port for 14's broker tests (or one line saying why they skip).
//! - [`schedule`]: the ideal a concurrent run approaches (list scheduling), worked out once.
//! - [`children`]: child processes killed and reaped on every path out of a demo (14).
//! - [`script`]: example 04's commands (pause, resume, quit): a `--commands` script parser and a reader
//!   of typed commands, written once for both twins.
//! - [`timeline`]: record which job ran on which thread from when to when, and draw it as the chapter's lanes.

pub mod children;
pub mod cli;
pub mod http_server;
pub mod logging;
pub mod process;
pub mod recording;
pub mod redis_server;
pub mod schedule;
pub mod script;
pub mod timeline;
pub mod timing;

pub use cli::parse_args;
pub use logging::init_logging;
pub use timing::{Comparison, fmt_duration, time, time_async};
