//! The one logger every example uses.
//!
//! Each line reads `  0.602s  INFO [main] profile ready`: seconds since the program started, the level,
//! the name of the thread that printed it in brackets (its id if it has no name), the spans it is in (`span{field=1}:`)
//! and the message. In the async examples the thread column is
//! the lesson (one `current_thread` runtime: always `main`); in the threads examples it is too (one name
//! per thread).
//!
//! `RUST_LOG` is honoured (`RUST_LOG=debug cargo run ...`); the default level is `info`.
//! Lines go through `print!`, so the test harness captures them: a test may call [`init_logging`] too and
//! its output shows only when it fails.

use std::fmt;
use std::sync::OnceLock;
use std::time::Instant;

use tracing::{Event, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// When the program (or the first test that logged) started: the zero of the time column.
static START: OnceLock<Instant> = OnceLock::new();

/// The moment the time column counts from. The first call fixes it.
pub fn start_instant() -> Instant {
    *START.get_or_init(Instant::now)
}

/// The line format: `  1.502s  INFO [thread] span{field=1}: message`.
#[derive(Debug, Clone, Copy, Default)]
pub struct LineFormat;

impl<S, N> FormatEvent<S, N> for LineFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let thread = std::thread::current();
        let thread = match thread.name() {
            Some(name) => name.to_string(),
            None => format!("{:?}", thread.id()),
        };
        write!(
            writer,
            "{} {:>5} [{thread}] ",
            format_since_start(start_instant().elapsed()),
            event.metadata().level()
        )?;
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                write!(writer, "{}", span.name())?;
                let extensions = span.extensions();
                if let Some(fields) = extensions.get::<FormattedFields<N>>()
                    && !fields.is_empty()
                {
                    write!(writer, "{{{fields}}}")?;
                }
                write!(writer, ": ")?;
            }
        }
        ctx.format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

fn format_since_start(elapsed: std::time::Duration) -> String {
    format!("{:>7.3}s", elapsed.as_secs_f64())
}

/// Sets up `tracing` for an example or a test. Safe to call more than once: later calls do nothing.
///
/// Wall-clock time is shown even on tokio's paused clock (tests), where it stays near zero: the
/// examples print their measured durations separately, from the clock their lesson runs on.
pub fn init_logging() {
    start_instant();
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // `try_init` fails only when a subscriber is already set (a second call, or a second test in the
    // same process): that one keeps serving, which is what we want.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .event_format(LineFormat)
        .with_writer(tracing_subscriber::fmt::TestWriter::new())
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn time_column_is_seconds_with_millis_right_aligned() {
        assert_eq!(format_since_start(Duration::from_millis(1502)), "  1.502s");
        assert_eq!(
            format_since_start(Duration::from_millis(12_345)),
            " 12.345s"
        );
        assert_eq!(format_since_start(Duration::ZERO), "  0.000s");
    }

    #[test]
    fn init_twice_is_harmless_and_logging_works_in_tests() {
        init_logging();
        init_logging();
        tracing::info!("logged from a test");
        assert!(tracing::enabled!(tracing::Level::INFO) || std::env::var("RUST_LOG").is_ok());
    }

    /// Formats one event inside a span with [`LineFormat`] into a string.
    fn format_one_line() -> String {
        use std::sync::{Arc, Mutex};
        use tracing_subscriber::fmt::MakeWriter;

        #[derive(Clone, Default)]
        struct Buffer(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Buffer {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                self.0
                    .lock()
                    .expect("not poisoned")
                    .extend_from_slice(bytes);
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        impl<'a> MakeWriter<'a> for Buffer {
            type Writer = Buffer;
            fn make_writer(&'a self) -> Buffer {
                self.clone()
            }
        }

        let buffer = Buffer::default();
        let subscriber = tracing_subscriber::fmt()
            .event_format(LineFormat)
            .with_writer(buffer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("download", file = "users.csv");
            let _entered = span.enter();
            tracing::info!("chunk {} of {}", 1, 3);
        });
        let bytes = buffer.0.lock().expect("not poisoned").clone();
        String::from_utf8(bytes).expect("UTF-8")
    }

    #[test]
    fn a_line_shows_time_level_thread_spans_and_message() {
        let handle = std::thread::Builder::new()
            .name("worker-7".into())
            .spawn(format_one_line)
            .expect("spawn");
        let line = handle.join().expect("no panic");
        let (time, rest) = line.trim_start().split_once(' ').expect("a time column");
        assert!(time.ends_with('s') && time.contains('.'), "{line}");
        assert_eq!(
            rest,
            " INFO [worker-7] download{file=\"users.csv\"}: chunk 1 of 3\n"
        );
    }

    #[test]
    fn start_instant_is_fixed_by_the_first_call() {
        let first = start_instant();
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(start_instant(), first);
    }
}
