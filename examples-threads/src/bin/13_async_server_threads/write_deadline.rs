//! A deadline on writing a response, which a blocking `write_all` does not have. A client that
//! pipelines requests and never reads fills the socket buffers, and then `write_all` blocks its
//! worker for ever. `--write-timeout-ms` bounds the whole write of a response: it counts from the
//! start of the write, and a client that takes a byte now and then does not push it back.

use std::io::{self, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// The error a write fails with when the client has not taken the bytes in time; a type of its
/// own, so the server can tell it from any other `TimedOut` the OS may report.
#[derive(Debug)]
pub(crate) struct WriteTimedOut;

impl std::fmt::Display for WriteTimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the client did not read the response within the write timeout")
    }
}

impl std::error::Error for WriteTimedOut {}

pub(crate) fn is_write_timeout(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<WriteTimedOut>())
}

/// What [`write_all_by`] needs of a socket: writes, and a timeout on each one (`TcpStream` has
/// both; a test gives it a client that reads a trickle at a time).
pub(crate) trait WriteWithTimeout: Write {
    fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()>;
}

impl WriteWithTimeout for TcpStream {
    fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        TcpStream::set_write_timeout(self, timeout)
    }
}

/// `write_all` with a deadline for the whole of `bytes`. A client that pipelines requests and never
/// reads fills the socket buffers, and then a plain `write_all` blocks its worker for ever: one
/// such client per worker stops the server. `set_write_timeout` bounds each `write` call; setting
/// it to what is left of the deadline before each call bounds the whole response, so a client
/// that takes a byte now and then cannot stretch it either.
pub(crate) fn write_all_by(
    stream: &mut impl WriteWithTimeout,
    mut bytes: &[u8],
    timeout: Duration,
) -> io::Result<()> {
    let deadline = Instant::now() + timeout;
    let timed_out = || io::Error::new(io::ErrorKind::TimedOut, WriteTimedOut);
    while !bytes.is_empty() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(timed_out());
        }
        stream.set_write_timeout(Some(left))?;
        match stream.write(bytes) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => bytes = &bytes[n..],
            // The timeout passed with the send buffer still full: WouldBlock on Unix, TimedOut on
            // Windows.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(timed_out());
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::thread;

    /// A client that takes its answer a trickle at a time, as the OS shows it to a blocking write
    /// with `SO_SNDTIMEO`: each write waits 20 ms (or its timeout, if shorter, and then fails with
    /// `WouldBlock`), and then 16 bytes are taken.
    struct TrickleReader {
        timeout: std::cell::Cell<Option<Duration>>,
        taken: usize,
    }

    impl Write for TrickleReader {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let wait = Duration::from_millis(20);
            match self.timeout.get() {
                Some(timeout) if timeout < wait => {
                    thread::sleep(timeout);
                    Err(io::ErrorKind::WouldBlock.into())
                }
                _ => {
                    thread::sleep(wait);
                    let n = buf.len().min(16);
                    self.taken += n;
                    Ok(n)
                }
            }
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl WriteWithTimeout for TrickleReader {
        fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
            self.timeout.set(timeout);
            Ok(())
        }
    }

    /// The write deadline counts from the start of the answer's write, and no bit of progress
    /// pushes it back: 4 KiB at 16 bytes per 20 ms would take 5 s; it is cut at the 300 ms timeout.
    #[test]
    fn a_client_that_reads_a_trickle_is_cut_at_the_write_deadline_from_the_start_of_the_write() {
        let timeout = Duration::from_millis(300);
        let mut client = TrickleReader {
            timeout: std::cell::Cell::new(None),
            taken: 0,
        };
        let started = Instant::now();
        let e = write_all_by(&mut client, &[b'x'; 4096], timeout).expect_err("too slow a reader");
        let took = started.elapsed();
        assert!(is_write_timeout(&e), "{e}");
        assert!(client.taken > 0, "the client took bytes all along");
        assert!(took >= timeout, "{took:?}");
        assert!(
            took < Duration::from_secs(3),
            "not cut at its deadline: {took:?}"
        );
    }
}
