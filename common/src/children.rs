//! Child processes that cannot outlive their parent's interest in them: a [`ChildGuard`] kills and
//! waits for its process when dropped, on every path out of a demo (an early `?`, a panic, a
//! deadline). Used by the demos that start worker processes (14).

use std::collections::BTreeMap;
use std::io;
use std::process::{Child, Command, ExitStatus};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// Every child a guard started and has not reaped yet, by guard number. A registry, and not just
/// the guards, because one path out of a program runs no destructor: `std::process::exit`, which
/// the logger calls when stdout is closed (`| head`). [`kill_all`] lets that path take the children
/// with it, instead of leaving workers behind to complain on stderr.
static LIVE: Mutex<BTreeMap<u64, Child>> = Mutex::new(BTreeMap::new());
static NEXT: AtomicU64 = AtomicU64::new(0);

fn live() -> std::sync::MutexGuard<'static, BTreeMap<u64, Child>> {
    // A panic while the lock was held leaves the map intact: keep using it.
    LIVE.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Kills and reaps every child still running under a [`ChildGuard`]. Called on the way out by
/// paths that skip destructors (see [`crate::logging::write_stdout`]).
pub fn kill_all() {
    for (_, mut child) in std::mem::take(&mut *live()) {
        // `kill` fails if the process exited in between: `wait` still reaps it.
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// A started child process, with a name for the logs. Dropping it kills the process (if it still
/// runs) and waits for it, so it leaves neither a stray process nor a zombie.
#[derive(Debug)]
pub struct ChildGuard {
    pub name: String,
    key: u64,
    pid: u32,
    status: Option<ExitStatus>,
}

impl ChildGuard {
    /// Starts `cmd` (its stdin, stdout and stderr as the command sets them; inherited by default).
    /// The child's log lines count from this process's zero and carry `name` (see
    /// [`crate::logging::child_env`]), so the lines of a demo and its workers read as one clock.
    pub fn spawn(name: impl Into<String>, cmd: &mut Command) -> io::Result<Self> {
        let name = name.into();
        cmd.envs(crate::logging::child_env(&name));
        let child = cmd.spawn()?;
        let key = NEXT.fetch_add(1, Ordering::Relaxed);
        let pid = child.id();
        live().insert(key, child);
        Ok(Self {
            name,
            key,
            pid,
            status: None,
        })
    }

    /// The OS process id.
    pub fn id(&self) -> u32 {
        self.pid
    }

    /// The exit status if the process has exited, without blocking.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        if self.status.is_none() {
            let mut live = live();
            match live.get_mut(&self.key) {
                Some(child) => {
                    self.status = child.try_wait()?;
                    if self.status.is_some() {
                        live.remove(&self.key);
                    }
                }
                // Taken by `kill_all`: killed and reaped.
                None => return Err(io::Error::other("killed by kill_all")),
            }
        }
        Ok(self.status)
    }

    /// Blocks until the process exits or `limit` passes (`None`: still running). Polls every 5 ms
    /// rather than blocking in `wait`, so that the registry is never locked for long.
    pub fn wait_timeout(&mut self, limit: Duration) -> io::Result<Option<ExitStatus>> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.try_wait()? {
                return Ok(Some(status));
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            thread::sleep((deadline - now).min(Duration::from_millis(5)));
        }
    }

    /// Kills the process if it still runs, and waits for it. Returns its exit status.
    pub fn kill_and_wait(&mut self) -> io::Result<ExitStatus> {
        if let Some(status) = self.try_wait()? {
            return Ok(status);
        }
        let Some(mut child) = live().remove(&self.key) else {
            return Err(io::Error::other("killed by kill_all"));
        };
        // `kill` fails if the process exited in between: `wait` below still reaps it.
        let _ = child.kill();
        let status = child.wait()?;
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

    /// One test at a time: `kill_all` takes every child of this process, other tests' too.
    static SERIAL: Mutex<()> = Mutex::new(());
    fn serial() -> std::sync::MutexGuard<'static, ()> {
        SERIAL
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

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
        let _serial = serial();
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
        let _serial = serial();
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
        let _serial = serial();
        let mut guard = ChildGuard::spawn("sleeper", &mut sh("exec sleep 30")).expect("sh runs");
        assert!(
            guard
                .wait_timeout(Duration::from_millis(50))
                .expect("wait works")
                .is_none()
        );
        assert!(guard.try_wait().expect("try_wait works").is_none());
    }

    #[test]
    fn kill_all_takes_every_guarded_child_with_it() {
        let _serial = serial();
        let mut first = ChildGuard::spawn("a", &mut sh("exec sleep 30")).expect("sh runs");
        let second = ChildGuard::spawn("b", &mut sh("exec sleep 30")).expect("sh runs");
        let (a, b) = (first.id(), second.id());
        kill_all();
        assert!(!alive(a) && !alive(b), "kill_all left {a} or {b} running");
        // The guards notice, and dropping them is harmless.
        assert!(first.try_wait().is_err());
        drop(second);
    }
}
