//! A throwaway `redis-server` for 14's broker mode (its demo and tests): started from `PATH` on a
//! free loopback port with no persistence (`--save '' --appendonly no`), killed and reaped when
//! the guard drops. Nothing here is about Redis Streams; that lesson stays in the example.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::children::ChildGuard;

/// How long a fresh server gets to answer `PING` (it usually takes a few milliseconds).
const READY_WITHIN: Duration = Duration::from_secs(5);

/// The variable under which a missing `redis-server` fails the tests instead of skipping them
/// (`.ci/run` and the GitHub workflow set it, so CI always runs them).
pub const REQUIRE_VAR: &str = "REQUIRE_REDIS";

/// A running `redis-server`; dropping it kills the process.
#[derive(Debug)]
pub struct RedisServer {
    port: u16,
    _child: ChildGuard,
}

impl RedisServer {
    /// Starts one, or says in one line why it cannot (`redis-server` not on `PATH`, or it did not
    /// come up).
    pub fn start() -> Result<Self, String> {
        if !on_path("redis-server") {
            return Err(
                "redis-server is not installed (not on PATH): install it with \
                 `apt-get install redis-server` (Debian/Ubuntu) or `brew install redis` (macOS)"
                    .into(),
            );
        }
        // A port that was free a moment ago; another process may take it in between, hence the
        // few tries.
        let mut last = String::new();
        for _ in 0..3 {
            let port = free_port().map_err(|e| format!("no free loopback port: {e}"))?;
            let mut cmd = Command::new("redis-server");
            cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            let mut child = ChildGuard::spawn(format!("redis-server :{port}"), &mut cmd)
                .map_err(|e| format!("cannot start redis-server: {e}"))?;
            let deadline = Instant::now() + READY_WITHIN;
            while Instant::now() < deadline {
                if ping(port) {
                    return Ok(Self {
                        port,
                        _child: child,
                    });
                }
                if let Ok(Some(status)) = child.try_wait() {
                    last = format!("redis-server on port {port} exited at start ({status})");
                    break;
                }
                sleep(Duration::from_millis(10));
            }
            if last.is_empty() {
                last = format!(
                    "redis-server on port {port} did not answer PING within {READY_WITHIN:?}"
                );
            }
        }
        Err(last)
    }

    /// For tests: the server, or `None` after one line on stderr saying why the test skips. Under
    /// `REQUIRE_REDIS=1` a missing server is a failure (a panic with the same line) instead.
    pub fn for_test(test: &str) -> Option<Self> {
        match Self::start() {
            Ok(server) => Some(server),
            Err(why) if required() => panic!("{test}: {REQUIRE_VAR} is set but {why}"),
            Err(why) => {
                // Straight to stderr, not `eprintln!`: libtest captures the macro's output and
                // shows it only for a failing test, and a skip should be seen.
                let _ = writeln!(std::io::stderr(), "{test}: skipped: {why}");
                None
            }
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:<port>`
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

/// Whether `REQUIRE_REDIS` is set to something other than empty or `0`.
pub fn required() -> bool {
    std::env::var(REQUIRE_VAR).is_ok_and(|v| !v.is_empty() && v != "0")
}

fn on_path(program: &str) -> bool {
    let Some(path) = std::env::var_os("PATH") else {
        return false;
    };
    std::env::split_paths(&path).any(|dir| {
        let file = dir.join(format!("{program}{}", std::env::consts::EXE_SUFFIX));
        file.is_file()
    })
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// One `PING` in the inline protocol, with a short deadline on every step.
fn ping(port: u16) -> bool {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let _ = stream.set_write_timeout(Some(Duration::from_millis(500)));
    let mut reply = [0u8; 7];
    stream.write_all(b"PING\r\n").is_ok()
        && stream.read_exact(&mut reply).is_ok()
        && &reply == b"+PONG\r\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_starts_answers_and_is_gone_after_drop() {
        let Some(server) = RedisServer::for_test("redis_server") else {
            return;
        };
        let port = server.port();
        assert!(ping(port));
        drop(server);
        // Killed and reaped: nothing answers on that port any more.
        assert!(!ping(port));
    }
}
