//! Running an example binary as a user would, with a deadline: no stdin, output captured, killed if it
//! outlives its time. The run test of every binary uses [`run_example`]; demos that start child
//! processes can use [`run_with_deadline`].

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use wait_timeout::ChildExt;

/// How long a run test lets an example run before it kills it and fails: examples must finish in 5 s,
/// and a loaded 2-core CI machine gets a wide margin.
pub const RUN_TEST_DEADLINE: Duration = Duration::from_secs(20);

/// What a finished (or killed) run produced.
#[derive(Debug)]
pub struct Run {
    pub program: String,
    /// `None` if the run was killed at its deadline.
    pub status: Option<ExitStatus>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Run {
    /// True when the process exited by itself with status 0.
    pub fn succeeded(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }

    /// The exit code, if the process exited by itself.
    pub fn code(&self) -> Option<i32> {
        self.status.and_then(|s| s.code())
    }

    /// Panics with the whole output unless the run exited by itself with status 0.
    pub fn assert_success(&self) -> &Self {
        assert!(
            self.succeeded(),
            "{} did not exit 0 (status {:?}, after {:?}){}",
            self.program,
            self.status,
            self.elapsed,
            self.dump()
        );
        self
    }

    /// Panics unless the run exited by itself with `code`.
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code(),
            Some(code),
            "{} exited with {:?}, expected {code}{}",
            self.program,
            self.status,
            self.dump()
        );
        self
    }

    /// Panics unless every one of `needles` occurs in stdout.
    pub fn assert_stdout_contains(&self, needles: &[&str]) -> &Self {
        for needle in needles {
            assert!(
                self.stdout.contains(needle),
                "{}: stdout lacks {needle:?}{}",
                self.program,
                self.dump()
            );
        }
        self
    }

    /// Panics unless every one of `needles` occurs in stderr.
    pub fn assert_stderr_contains(&self, needles: &[&str]) -> &Self {
        for needle in needles {
            assert!(
                self.stderr.contains(needle),
                "{}: stderr lacks {needle:?}{}",
                self.program,
                self.dump()
            );
        }
        self
    }

    /// Panics if stdout or stderr mention a panic.
    pub fn assert_no_panic(&self) -> &Self {
        for (name, text) in [("stdout", &self.stdout), ("stderr", &self.stderr)] {
            assert!(
                !text.contains("panicked"),
                "{}: {name} shows a panic{}",
                self.program,
                self.dump()
            );
        }
        self
    }

    fn dump(&self) -> String {
        format!(
            "\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.stdout, self.stderr
        )
    }
}

/// Runs the example at `program` with `args`, stdin closed, and kills it after [`RUN_TEST_DEADLINE`].
pub fn run_example(program: impl AsRef<Path>, args: &[&str]) -> Run {
    let mut cmd = Command::new(program.as_ref());
    cmd.args(args);
    run_with_deadline(cmd, RUN_TEST_DEADLINE)
}

/// Runs `cmd` with stdin closed and stdout/stderr captured; kills it once `deadline` has passed.
///
/// Panics if the program cannot be started at all (a test or demo set-up error, not a result).
pub fn run_with_deadline(mut cmd: Command, deadline: Duration) -> Run {
    let program = format!("{:?}", cmd.get_program());
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
    // Drain both pipes on their own threads: a child that fills a pipe nobody reads would block forever.
    let stdout = drain(&mut child, true);
    let stderr = drain(&mut child, false);
    let status = match child.wait_timeout(deadline) {
        Ok(Some(status)) => Some(status),
        Ok(None) | Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            None
        }
    };
    let elapsed = start.elapsed();
    // A grandchild that inherited the pipes could keep them open after the child is gone: wait for
    // the rest of the output a little, not forever.
    let until = Instant::now() + Duration::from_secs(2);
    let rest = |rx: mpsc::Receiver<String>| {
        rx.recv_timeout(until.saturating_duration_since(Instant::now()))
            .unwrap_or_default()
    };
    Run {
        program,
        status,
        stdout: rest(stdout),
        stderr: rest(stderr),
        elapsed,
    }
}

/// Runs `cmd` as `cmd | head` would: reads stdout up to the first line that contains `marker`, then
/// closes the pipe, so every later write of the program fails with a broken pipe. Returns how it
/// ended (`stdout` holds what was read before closing; `stderr` all of it); killed after
/// [`RUN_TEST_DEADLINE`]. A program that does not print `marker` fails at its exit or deadline.
pub fn run_closing_stdout_after(mut cmd: Command, marker: &str) -> Run {
    use std::io::BufRead;

    let program = format!("{:?}", cmd.get_program());
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
    let stderr = drain(&mut child, false);
    let mut lines = std::io::BufReader::new(child.stdout.take().expect("stdout was piped above"));
    let mut stdout = String::new();
    loop {
        let mut line = String::new();
        match lines.read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                stdout.push_str(&line);
                if line.contains(marker) {
                    break;
                }
            }
        }
    }
    // The reader goes away, as `head` does once it has its lines.
    drop(lines);
    let status = match child.wait_timeout(RUN_TEST_DEADLINE) {
        Ok(Some(status)) => Some(status),
        Ok(None) | Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            None
        }
    };
    let elapsed = start.elapsed();
    let stderr = stderr
        .recv_timeout(Duration::from_secs(2))
        .unwrap_or_default();
    Run {
        program,
        status,
        stdout,
        stderr,
        elapsed,
    }
}

fn drain(child: &mut Child, stdout: bool) -> mpsc::Receiver<String> {
    let mut pipe: Box<dyn Read + Send> = if stdout {
        Box::new(child.stdout.take().expect("stdout was piped above"))
    } else {
        Box::new(child.stderr.take().expect("stderr was piped above"))
    };
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        let _ = tx.send(String::from_utf8_lossy(&bytes).into_owned());
    });
    rx
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn sh(script: &str) -> Command {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", script]);
        cmd
    }

    #[test]
    fn captures_output_and_status() {
        let run = run_with_deadline(sh("echo out; echo err >&2; exit 3"), Duration::from_secs(5));
        assert_eq!(run.code(), Some(3));
        assert!(!run.succeeded());
        assert_eq!(run.stdout, "out\n");
        assert_eq!(run.stderr, "err\n");
    }

    #[test]
    fn stdin_is_closed_so_a_reader_sees_end_of_input() {
        let run = run_with_deadline(sh("cat; echo eof"), Duration::from_secs(5));
        run.assert_success().assert_stdout_contains(&["eof"]);
    }

    #[test]
    fn a_run_past_its_deadline_is_killed_and_reported() {
        let run = run_with_deadline(sh("exec sleep 30"), Duration::from_millis(200));
        assert!(run.status.is_none());
        assert!(run.elapsed < Duration::from_secs(10), "{:?}", run.elapsed);
    }

    #[test]
    #[should_panic(expected = "stdout lacks")]
    fn a_missing_summary_line_fails_the_assertion() {
        run_with_deadline(sh("echo something else"), Duration::from_secs(5))
            .assert_stdout_contains(&["summary"]);
    }
}
