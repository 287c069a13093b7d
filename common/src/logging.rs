//! The one logger every example uses.
//!
//! Each line reads `  0.602s  INFO [main] profile ready`: seconds since the program started, the level,
//! the name of the thread that printed it in brackets (its id if it has no name), the spans it is in (`span{field=1}:`)
//! and the message. In the async examples the thread column is
//! the lesson (one `current_thread` runtime: always `main`); in the threads examples it is too (one name
//! per thread).
//!
//! ## One clock and named processes across a demo's children
//!
//! A demo that starts worker processes (14) prints their lines into its own terminal. So that the
//! interleaving a reader sees is the one that happened, a child counts its time column from its
//! parent's zero, and names itself in the thread column: `[worker-2]` for its main thread,
//! `[worker-2/count]` for another. [`child_env`] gives the two variables a parent sets
//! ([`crate::children::ChildGuard`] sets them for every child it starts); a program can also name
//! itself with [`set_process_name`]. Without them a line reads as before: `[main]`.
//!
//! `RUST_LOG` is honoured (`RUST_LOG=debug cargo run ...`); the default level is `info`.
//!
//! ## A closed stdout ends the program quietly
//!
//! `print!`/`println!` panic when stdout is gone ("failed printing to stdout: Broken pipe"): that is
//! what `cargo run ... | head -2` does once `head` has its two lines. Rust ignores `SIGPIPE`, so the
//! write fails with `EPIPE` instead of the kernel ending the process as it would a C program. Every line
//! here (log lines from [`init_logging`], summary lines through [`out!`](crate::out)) is written with
//! [`write_stdout`], which ends the process on a broken pipe with **status 0** and no message: the
//! reader asked for no more output and got what it wanted, so it is not a failure, and a shell with
//! `set -o pipefail` does not call it one (ripgrep makes the same choice; the other convention, 141 =
//! 128 + SIGPIPE, reports a "kill" that did not happen and fails such pipelines). Any other write
//! error (a full disk) is one line on stderr and status 1.
//!
//! Tests that want their log lines captured by the test harness call [`init_test_logging`] (it
//! writes with `print!`, which libtest captures; a test's stdout is never closed).

use std::fmt;
use std::io::{self, Write};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tracing::{Event, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// When the program (or the first test that logged) started: the zero of the time column.
static START: OnceLock<Instant> = OnceLock::new();

/// The parent's zero, in nanoseconds since the Unix epoch (a wall-clock instant is the only kind
/// two processes share; each then measures on its own monotonic clock from there).
pub const ZERO_ENV: &str = "COMMON_LOG_ZERO_UNIX_NS";
/// The name of this process in the thread column (`worker-2`).
pub const PROCESS_ENV: &str = "COMMON_LOG_PROCESS";

/// The process name set by [`set_process_name`] or read from [`PROCESS_ENV`] (`None`: no name).
static PROCESS: OnceLock<Option<String>> = OnceLock::new();

/// The moment the time column counts from: the parent's zero if [`ZERO_ENV`] is set (and not in
/// the future), else the first call.
pub fn start_instant() -> Instant {
    *START.get_or_init(|| {
        let now = Instant::now();
        std::env::var(ZERO_ENV)
            .ok()
            .and_then(|ns| ns.parse::<u64>().ok())
            .and_then(|ns| {
                SystemTime::now()
                    .duration_since(UNIX_EPOCH + Duration::from_nanos(ns))
                    .ok()
            })
            .and_then(|ago| now.checked_sub(ago))
            .unwrap_or(now)
    })
}

/// The variables a parent sets on a child so that the child's lines share its clock and carry
/// `name`: `[(ZERO_ENV, ...), (PROCESS_ENV, name)]`.
pub fn child_env(name: &str) -> [(&'static str, String); 2] {
    let zero = SystemTime::now()
        .checked_sub(start_instant().elapsed())
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    [
        (ZERO_ENV, zero.to_string()),
        (PROCESS_ENV, name.to_string()),
    ]
}

/// Names this process in the thread column, unless its parent named it already ([`PROCESS_ENV`]):
/// a worker started by hand with `--name w1` reads `[w1]`. The first name wins.
pub fn set_process_name(name: &str) {
    PROCESS.get_or_init(|| Some(process_from_env().unwrap_or_else(|| name.to_string())));
}

fn process_from_env() -> Option<String> {
    std::env::var(PROCESS_ENV).ok().filter(|n| !n.is_empty())
}

/// The thread column: the thread's name, after the process name if there is one (`[worker-2]` on
/// its main thread, `[worker-2/count]` on another).
fn thread_column(process: Option<&str>, thread: &str) -> String {
    match process {
        None => thread.to_string(),
        Some(process) if thread == "main" => process.to_string(),
        Some(process) => format!("{process}/{thread}"),
    }
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
        let process = PROCESS.get_or_init(process_from_env).as_deref();
        let thread = thread_column(process, &thread);
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

/// Sets up `tracing` for an example: lines go to stdout through [`write_stdout`], so a closed stdout
/// ends the program quietly (see the module docs). Safe to call more than once: later calls do
/// nothing.
///
/// Wall-clock time is shown even on tokio's paused clock (tests), where it stays near zero: the
/// examples print their measured durations separately, from the clock their lesson runs on.
pub fn init_logging() {
    init_with(|| QuietStdout);
}

/// Sets up `tracing` for a test: the same lines, written with `print!` so that the test harness
/// captures them (they show only when the test fails). Safe to call more than once.
pub fn init_test_logging() {
    init_with(tracing_subscriber::fmt::TestWriter::new);
}

fn init_with<W>(writer: W)
where
    W: for<'a> tracing_subscriber::fmt::MakeWriter<'a> + Send + Sync + 'static,
{
    start_instant();
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // `try_init` fails only when a subscriber is already set (a second call, or a second test in the
    // same process): that one keeps serving, which is what we want.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .event_format(LineFormat)
        .with_writer(writer)
        .try_init();
}

/// The log writer of [`init_logging`]: each formatted line goes out whole through [`write_stdout`].
#[derive(Debug, Clone, Copy, Default)]
struct QuietStdout;

impl Write for QuietStdout {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        write_stdout_bytes(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Writes `text` to stdout, whole, under stdout's lock (so lines from several threads never mix).
/// If stdout is closed (`| head`), ends the process with status 0 and no message; on any other
/// write error, prints one line on stderr and ends it with status 1. Never panics.
///
/// The examples print their summaries with [`out!`](crate::out), which calls this.
pub fn write_stdout(text: fmt::Arguments<'_>) {
    match text.as_str() {
        Some(literal) => write_stdout_bytes(literal.as_bytes()),
        None => write_stdout_bytes(text.to_string().as_bytes()),
    }
}

fn write_stdout_bytes(bytes: &[u8]) {
    let result = {
        let mut stdout = io::stdout().lock();
        // `LineWriter` (stdout's buffer) flushes at the newline; the explicit flush also sends a
        // line without one (a progress bar, a prompt), so the error shows up here and now.
        stdout.write_all(bytes).and_then(|()| stdout.flush())
        // The lock is released here, before any exit below.
    };
    if let Err(error) = result {
        let status = exit_status_for(&error);
        // `exit` runs no destructor, so a demo's `ChildGuard`s would not kill their workers, which
        // would go on alone and complain on stderr: take them along first.
        crate::children::kill_all();
        std::process::exit(status);
    }
}

/// The status a program ends with when stdout fails with `error`: 0 for a reader that went away,
/// 1 (after one line on stderr) for anything else.
fn exit_status_for(error: &io::Error) -> i32 {
    if error.kind() == io::ErrorKind::BrokenPipe {
        0
    } else {
        // `let _`: if stderr is gone too, there is no one left to tell.
        let _ = writeln!(io::stderr(), "error: cannot write to stdout: {error}");
        1
    }
}

/// `println!` that ends the program quietly when stdout is closed (`| head`) instead of panicking.
///
/// ```
/// common::out!("Summary");
/// common::out!("  took {} ms", 250);
/// common::out!();
/// ```
#[macro_export]
macro_rules! out {
    () => {
        $crate::logging::write_stdout(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::logging::write_stdout(format_args!("{}\n", format_args!($($arg)*)))
    };
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
    fn a_closed_pipe_exits_0_quietly_and_other_errors_exit_1() {
        assert_eq!(
            exit_status_for(&io::Error::from(io::ErrorKind::BrokenPipe)),
            0
        );
        assert_eq!(exit_status_for(&io::Error::other("disk full")), 1);
    }

    /// Set in the child that [`a_program_whose_stdout_is_closed_ends_quietly_with_status_0`] starts.
    const CHILD: &str = "COMMON_LOGGING_CLOSED_STDOUT_CHILD";

    /// Not a test of its own: the body of the child process below (it returns at once otherwise).
    #[test]
    fn writes_lines_until_stdout_is_closed() {
        if std::env::var_os(CHILD).is_none() {
            return;
        }
        init_logging();
        crate::out!("first line");
        loop {
            tracing::info!("a log line");
            crate::out!("a summary line");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn a_program_whose_stdout_is_closed_ends_quietly_with_status_0() {
        // This test binary, run again with only the writer above: it writes until the pipe breaks.
        let mut child = std::process::Command::new(std::env::current_exe().expect("own path"));
        child
            .args([
                "--exact",
                "logging::tests::writes_lines_until_stdout_is_closed",
            ])
            .args(["--nocapture", "--test-threads=1"])
            .env(CHILD, "1");
        let run = crate::process::run_closing_stdout_after(child, "first line");
        assert_eq!(run.code(), Some(0), "{run:?}");
        run.assert_no_panic();
        assert!(run.stderr.trim().is_empty(), "nothing on stderr: {run:?}");
    }

    #[test]
    fn init_twice_is_harmless_and_logging_works_in_tests() {
        init_test_logging();
        init_test_logging();
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
    fn a_named_process_shows_its_name_and_the_thread_unless_main() {
        assert_eq!(thread_column(None, "main"), "main");
        assert_eq!(thread_column(Some("worker-2"), "main"), "worker-2");
        assert_eq!(thread_column(Some("worker-2"), "count"), "worker-2/count");
        let line = format!(
            "  0.602s  INFO [{}] joined",
            thread_column(Some("worker-2"), "main")
        );
        assert!(crate::recording::is_log_line(&line), "{line}");
    }

    #[test]
    fn a_child_counts_from_its_parents_zero() {
        // This test binary, run again with the variables a parent sets: its zero 3 s in the past.
        if let Ok(expected) = std::env::var("COMMON_LOGGING_ZERO_CHILD") {
            let expected: f64 = expected.parse().expect("seconds");
            let behind = start_instant().elapsed().as_secs_f64();
            assert!(behind >= expected && behind < expected + 60.0, "{behind}");
            return;
        }
        let three_s_ago = SystemTime::now() - Duration::from_secs(3);
        let ns = three_s_ago
            .duration_since(UNIX_EPOCH)
            .expect("after 1970")
            .as_nanos();
        let status = std::process::Command::new(std::env::current_exe().expect("own path"))
            .args([
                "--exact",
                "logging::tests::a_child_counts_from_its_parents_zero",
            ])
            .env(ZERO_ENV, ns.to_string())
            .env("COMMON_LOGGING_ZERO_CHILD", "3")
            .output()
            .expect("runs");
        assert!(status.status.success(), "{status:?}");
        let stdout = String::from_utf8_lossy(&status.stdout);
        assert!(
            stdout.contains("1 passed"),
            "the child ran the check: {stdout}"
        );
        // And a parent hands down a zero no later than now.
        let [(zero_var, zero), (process_var, name)] = child_env("w");
        assert_eq!(
            (zero_var, process_var, name.as_str()),
            (ZERO_ENV, PROCESS_ENV, "w")
        );
        let zero = UNIX_EPOCH + Duration::from_nanos(zero.parse().expect("a number"));
        assert!(zero <= SystemTime::now());
    }

    #[test]
    fn start_instant_is_fixed_by_the_first_call() {
        let first = start_instant();
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(start_instant(), first);
    }
}
