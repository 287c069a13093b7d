//! `serve` under a real signal, written once for both crates: each crate's `tests/run/server_13.rs`
//! names its binary (`BIN`) and includes this file. Unix only: the tests send SIGTERM with `kill`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::BIN;

/// Kills the child if the test fails half-way, so no server outlives the test run.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `serve` on port 0: answers a request, then SIGTERM stops it with exit 0.
#[test]
fn serve_runs_until_sigterm_and_exits_0() {
    let mut child = KillOnDrop(
        Command::new(BIN)
            .args(["serve", "--addr", "127.0.0.1:0", "--delay-ms", "10"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the server"),
    );
    let mut stdout = BufReader::new(child.0.stdout.take().expect("piped"));
    // The first line names the address the OS picked.
    let mut line = String::new();
    stdout.read_line(&mut line).expect("a first line");
    let addr = line
        .split("listening on http://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();

    let mut stream = TcpStream::connect(&addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("set timeout");
    stream
        .write_all(b"GET /user/7 HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        .expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("user7@example.com"), "{response}");

    let status = Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let exit = loop {
        if let Some(exit) = child.0.try_wait().expect("wait") {
            break exit;
        }
        assert!(
            Instant::now() < deadline,
            "still running 10 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut rest = String::new();
    let _ = stdout.read_to_string(&mut rest);
    assert!(exit.success(), "exit {exit:?}\n{line}{rest}");
    assert!(rest.contains("shutdown signal received"), "{rest}");
    assert!(rest.contains("shutdown: done"), "{rest}");
}

/// Sends SIGTERM to the child.
fn sigterm(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());
}

/// A second SIGTERM during the grace period exits at once, with one line and status 130,
/// instead of waiting for the grace period (60 s here) or the request in flight (10 s).
#[test]
fn a_second_sigterm_exits_at_once_with_130() {
    let mut child = KillOnDrop(
        Command::new(BIN)
            .args([
                "serve",
                "--addr",
                "127.0.0.1:0",
                "--delay-ms",
                "1000",
                "--grace-period-ms",
                "60000",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the server"),
    );
    // Lines arrive on a channel, so the test can wait for one with a deadline.
    let stdout = BufReader::new(child.0.stdout.take().expect("piped"));
    let (lines_tx, lines) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = String::new();
    let mut wait_for = |what: &str| {
        let deadline = Instant::now() + Duration::from_secs(10);
        while let Ok(line) = lines.recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            seen.push_str(&line);
            seen.push('\n');
            if line.contains(what) {
                return line;
            }
        }
        panic!("no line with {what:?} in:\n{seen}");
    };
    let line = wait_for("listening on http://");
    let addr = line
        .split("listening on http://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();

    // A request that takes 10 s (10 x the delay), in flight during the grace period. It is
    // pipelined behind a `GET /`: once that answer is in, the server has the `/slow` request
    // in hand and needs no more input to start it, so it is surely in flight 300 ms later.
    let mut slow = TcpStream::connect(&addr).expect("connect");
    slow.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("set timeout");
    slow.write_all(b"GET / HTTP/1.1\r\nHost: test\r\n\r\nGET /slow HTTP/1.1\r\nHost: test\r\n\r\n")
        .expect("write");
    let mut first = Vec::new();
    let mut chunk = [0u8; 1024];
    while !String::from_utf8_lossy(&first).contains("Routes:") {
        let n = slow.read(&mut chunk).expect("the answer to GET /");
        assert!(n > 0, "closed before answering GET /");
        first.extend_from_slice(&chunk[..n]);
    }
    std::thread::sleep(Duration::from_millis(300));

    sigterm(&child.0);
    let stopping = wait_for("shutdown: stopped accepting");
    assert!(stopping.contains("1 request(s) in flight"), "{stopping}");
    let second = Instant::now();
    sigterm(&child.0);
    let deadline = second + Duration::from_secs(3);
    let exit = loop {
        if let Some(exit) = child.0.try_wait().expect("wait") {
            break exit;
        }
        assert!(
            Instant::now() < deadline,
            "still running 3 s after the second SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(exit.code(), Some(130), "{exit:?}");
    wait_for("second signal: exiting now");
}
