//! A deadline on writes, which hyper does not have.
//!
//! hyper's header timeout guards the *read* side: it runs while hyper waits for a request head and
//! is disarmed once a head has arrived. After that, a response waits on `flush` for as long as the
//! client takes to read it. A client that pipelines requests and never reads fills the socket
//! buffers, and then the connection task waits on that flush for ever, holding its connection slot.
//!
//! [`WriteDeadline`] wraps the socket and arms a tokio timer the first time a write or flush has to
//! wait (the kernel's send buffer is full). The timer stays armed while the client takes bytes
//! slowly and is cleared only when a flush completes, i.e. when everything hyper handed over has
//! gone out. If it fires first, the write fails with [`WriteTimedOut`]: hyper gives up on the
//! connection, the task ends, and its slot is free again. A wrapper keeps the rule in one place,
//! under hyper, for every byte it writes; and a tokio timer follows the paused clock, so the test
//! below is exact.

use std::fmt;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Sleep, sleep};

/// The error a write fails with when the client has not taken the bytes in time. A type of its
/// own, so the server can tell it from any other `TimedOut` the OS may report.
#[derive(Debug)]
pub struct WriteTimedOut;

impl fmt::Display for WriteTimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the client did not read the response within the write timeout")
    }
}

impl std::error::Error for WriteTimedOut {}

/// True if `e` is (or wraps) the error [`WriteDeadline`] returns.
pub fn is_write_timeout(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<WriteTimedOut>())
}

/// An I/O object whose writes must complete within `timeout` of the first time they had to wait.
pub struct WriteDeadline<S> {
    inner: S,
    timeout: Duration,
    /// Armed at the first write that waits; `None` while writes go straight through. Boxed so the
    /// wrapper is `Unpin` (no pin projection needed).
    stalled: Option<Pin<Box<Sleep>>>,
}

impl<S> WriteDeadline<S> {
    pub fn new(inner: S, timeout: Duration) -> Self {
        Self {
            inner,
            timeout,
            stalled: None,
        }
    }

    /// Called when the inner write returned `Pending`: arms the timer if needed and fails once it
    /// has fired. Polling the timer also registers the waker, so the task wakes at the deadline
    /// even if the client never reads again.
    fn check_deadline(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        let timeout = self.timeout;
        let stalled = self.stalled.get_or_insert_with(|| Box::pin(sleep(timeout)));
        ready!(stalled.as_mut().poll(cx));
        Poll::Ready(io::Error::new(io::ErrorKind::TimedOut, WriteTimedOut))
    }

    /// Runs one write-side operation of the inner object under the deadline.
    fn under_deadline<T>(
        &mut self,
        cx: &mut Context<'_>,
        op: impl FnOnce(Pin<&mut S>, &mut Context<'_>) -> Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>>
    where
        S: Unpin,
    {
        match op(Pin::new(&mut self.inner), cx) {
            Poll::Ready(result) => Poll::Ready(result),
            Poll::Pending => self.check_deadline(cx).map(Err),
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for WriteDeadline<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        // Reads are hyper's business (its header timeout); they pass straight through.
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for WriteDeadline<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.under_deadline(cx, |inner, cx| inner.poll_write(cx, buf))
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.under_deadline(cx, |inner, cx| inner.poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let flushed = self.under_deadline(cx, |inner, cx| inner.poll_flush(cx));
        if let Poll::Ready(Ok(())) = flushed {
            // hyper flushes once it has handed the kernel every byte it had: the response is out,
            // and the next one gets a fresh deadline.
            self.stalled = None;
        }
        flushed
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.under_deadline(cx, |inner, cx| inner.poll_shutdown(cx))
    }
}

#[cfg(test)]
mod tests {
    //! On tokio's paused clock and an in-memory pipe (`duplex`) whose reader never reads: exact.
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt, duplex};
    use tokio::time::Instant;

    const TIMEOUT: Duration = Duration::from_millis(300);

    #[tokio::test(start_paused = true)]
    async fn a_write_nobody_reads_fails_exactly_at_the_deadline() {
        // A pipe with 64 bytes of room, and a reader that never reads.
        let (writer, _reader) = duplex(64);
        let mut writer = WriteDeadline::new(writer, TIMEOUT);
        let started = Instant::now();
        let e = writer
            .write_all(&[b'x'; 1000])
            .await
            .expect_err("nobody reads");
        assert!(is_write_timeout(&e), "{e}");
        assert_eq!(started.elapsed(), TIMEOUT);
    }

    #[tokio::test(start_paused = true)]
    async fn a_reader_that_keeps_up_is_never_cut_off_and_each_flush_starts_a_fresh_deadline() {
        let (writer, mut reader) = duplex(64);
        let mut writer = WriteDeadline::new(writer, TIMEOUT);
        let started = Instant::now();
        // The reader takes up to 64 bytes every 50 ms, so each 200-byte response waits about
        // 200 ms on it: under the timeout. Ten responses take about 2 s in all, several times the
        // timeout: none fails only because each completed flush starts a fresh deadline.
        let reading = tokio::spawn(async move {
            let mut chunk = [0u8; 64];
            let mut total = 0;
            while total < 2000 {
                tokio::time::sleep(Duration::from_millis(50)).await;
                total += reader.read(&mut chunk).await.expect("read");
            }
            total
        });
        for _ in 0..10 {
            writer.write_all(&[b'x'; 200]).await.expect("in time");
            writer.flush().await.expect("in time");
        }
        assert_eq!(reading.await.expect("no panic"), 2000);
        assert!(started.elapsed() > TIMEOUT * 5, "{:?}", started.elapsed());
    }

    /// A client that takes its answer a trickle at a time (16 bytes every 10 ms) keeps the write
    /// moving, too slowly: the deadline counts from the first wait and no bit of progress pushes it
    /// back, so the write fails at exactly the timeout while the reader is still taking bytes.
    #[tokio::test(start_paused = true)]
    async fn a_reader_taking_a_trickle_is_cut_at_the_deadline_from_the_first_wait() {
        let (writer, mut reader) = duplex(64);
        let mut writer = WriteDeadline::new(writer, TIMEOUT);
        let reading = tokio::spawn(async move {
            let mut chunk = [0u8; 16];
            let mut total = 0;
            loop {
                tokio::time::sleep(Duration::from_millis(10)).await;
                match reader.read(&mut chunk).await {
                    Ok(0) | Err(_) => return total,
                    Ok(n) => total += n,
                }
            }
        });
        let started = Instant::now();
        let e = writer
            .write_all(&[b'x'; 64 * 1024])
            .await
            .expect_err("64 KiB at 1.6 KB/s takes 40 s");
        assert!(is_write_timeout(&e), "{e}");
        assert_eq!(started.elapsed(), TIMEOUT, "counted from the first wait");
        drop(writer);
        let taken = reading.await.expect("no panic");
        assert!(taken > 64 * 4, "the reader took bytes all along: {taken}");
    }

    #[test]
    fn other_errors_are_not_write_timeouts() {
        assert!(!is_write_timeout(&io::ErrorKind::TimedOut.into()));
        assert!(is_write_timeout(&io::Error::new(
            io::ErrorKind::TimedOut,
            WriteTimedOut
        )));
    }
}
