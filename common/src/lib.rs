//! What no lesson is about, shared by every example so that the examples can be about their lesson.
//!
//! - [`logging`]: one call that makes every line show the time since start, the thread and the level.
//! - [`timing`]: measure a closure or a future, and print a measured figure beside its ideal.
//! - [`process`]: run an example binary with a deadline (the run tests, the demos that start children).
//! - [`timeline`]: record which job ran on which thread from when to when, and draw it as the chapter's lanes.

pub mod logging;
pub mod process;
pub mod timeline;
pub mod timing;

pub use logging::init_logging;
pub use timing::{Comparison, fmt_duration, time, time_async};
