//! Child processes that cannot outlive their parent's interest in them: a [`ChildGuard`] kills and
//! waits for its process when dropped, on every path out of a demo (an early `?`, a panic, a
//! deadline). Used by the demos that start worker processes (14).

use std::io;
use std::process::{Child, Command, ExitStatus};
use std::time::Duration;

use wait_timeout::ChildExt;

/// A started child process, with a name for the logs. Dropping it kills the process (if it still
/// runs) and waits for it, so it leaves neither a stray process nor a zombie.
#[derive(Debug)]
pub struct ChildGuard {
    pub name: String,
    child: Child,
    status: Option<ExitStatus>,
}

impl ChildGuard {
    /// Starts `cmd` (its stdin, stdout and stderr as the command sets them; inherited by default).
    pub fn spawn(name: impl Into<String>, cmd: &mut Command) -> io::Result<Self> {
        Ok(Self {
            name: name.into(),
            child: cmd.spawn()?,
            status: None,
        })
    }

    /// The OS process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The exit status if the process has exited, without blocking.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        if self.status.is_none() {
            self.status = self.child.try_wait()?;
        }
        Ok(self.status)
    }

    /// Blocks until the process exits or `limit` passes (`None`: still running).
    pub fn wait_timeout(&mut self, limit: Duration) -> io::Result<Option<ExitStatus>> {
        if self.status.is_none() {
            self.status = self.child.wait_timeout(limit)?;
        }
        Ok(self.status)
    }

    /// Kills the process if it still runs, and waits for it. Returns its exit status.
    pub fn kill_and_wait(&mut self) -> io::Result<ExitStatus> {
        if let Some(status) = self.try_wait()? {
            return Ok(status);
        }
        // `kill` fails if the process exited in between: `wait` below still reaps it.
        let _ = self.child.kill();
        let status = self.child.wait()?;
        self.status = Some(status);
        Ok(status)
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.kill_and_wait();
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::time::Instant;

    fn sh(script: &str) -> Command {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", script]);
        cmd
    }

    fn alive(pid: u32) -> bool {
        // `kill -0` only asks whether the process exists.
        Command::new("kill")
            .args(["-0", &pid.to_string()])
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    }

    #[test]
    fn dropping_a_guard_kills_and_reaps_its_process() {
        let guard = ChildGuard::spawn("sleeper", &mut sh("exec sleep 30")).expect("sh runs");
        let pid = guard.id();
        assert!(alive(pid));
        let started = Instant::now();
        drop(guard);
        assert!(started.elapsed() < Duration::from_secs(5));
        // Reaped too: a zombie would still answer `kill -0`.
        assert!(!alive(pid), "process {pid} outlived its guard");
    }

    #[test]
    fn a_finished_process_reports_its_status_once_and_for_all() {
        let mut guard = ChildGuard::spawn("quick", &mut sh("exit 3")).expect("sh runs");
        let status = guard
            .wait_timeout(Duration::from_secs(5))
            .expect("wait works")
            .expect("exited");
        assert_eq!(status.code(), Some(3));
        assert_eq!(guard.kill_and_wait().expect("no error").code(), Some(3));
    }

    #[test]
    fn wait_timeout_returns_none_while_it_runs() {
        let mut guard = ChildGuard::spawn("sleeper", &mut sh("exec sleep 30")).expect("sh runs");
        assert!(
            guard
                .wait_timeout(Duration::from_millis(50))
                .expect("wait works")
                .is_none()
        );
        assert!(guard.try_wait().expect("try_wait works").is_none());
    }
}
