//! `serve`: the real server on `--addr`, until Ctrl-C or SIGTERM. The first signal starts the
//! graceful shutdown (in-flight requests finish within `--grace-period-ms`, then exit 0); a second
//! one exits at once with one line and status 130. In `serve`, a client that pipelines `GET /` and
//! never reads is dropped at the write timeout (one `info` line), while the others are served.

use std::net::SocketAddr;

use anyhow::Context;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::oneshot;
use tracing::{info, warn};

use crate::ServerArgs;
use crate::server::Server;

/// The exit status after a second signal: 128 + SIGINT, what a shell reports for a process stopped
/// by Ctrl-C.
pub(crate) const EXIT_INTERRUPTED: i32 = 130;

/// Ctrl-C (every platform) and SIGTERM (Unix: what `kill`, systemd and container runtimes send),
/// as a stream of signals. The listeners are installed once, up front, so that a signal arriving
/// while the first one is being handled is not lost.
pub(crate) struct Signals {
    #[cfg(unix)]
    pub(crate) interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    pub(crate) terminate: tokio::signal::unix::Signal,
}

impl Signals {
    pub(crate) fn install() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Self {
                interrupt: signal(SignalKind::interrupt())?,
                terminate: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    /// Completes at the next Ctrl-C or SIGTERM.
    pub(crate) async fn next(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
        #[cfg(not(unix))]
        if let Err(e) = tokio::signal::ctrl_c().await {
            warn!("cannot listen for Ctrl-C ({e}); the server runs until killed");
            std::future::pending::<()>().await;
        }
    }
}

/// The kernel's queue of connections not yet accepted. `TcpListener::bind` asks for 1024; when
/// thousands of clients connect at once (the load test opens 5000) that queue overflows, and the
/// kernel drops handshakes that the clients retry only a second later. Linux caps the value at
/// `net.core.somaxconn` (4096 by default).
pub(crate) const LISTEN_BACKLOG: u32 = 4096;

/// Binds `addr` with [`LISTEN_BACKLOG`]. `SO_REUSEADDR` lets a restarted server bind again at once
/// while connections of the previous one linger in TIME_WAIT (what `TcpListener::bind` does too).
pub(crate) fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    #[cfg(not(windows))]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// `serve`: the real server, until a signal.
pub(crate) async fn serve(args: &ServerArgs) -> anyhow::Result<()> {
    let listener = listen(args.addr).with_context(|| format!("cannot listen on {}", args.addr))?;
    info!(
        "listening on http://{} (delay {} ms, max {} connections); Ctrl-C to stop",
        listener.local_addr()?,
        args.delay_ms,
        args.max_connections
    );
    let mut signals = Signals::install().context("cannot listen for Ctrl-C/SIGTERM")?;
    // The first signal starts the graceful shutdown; a second one, during the grace period, means
    // "do not wait": it exits at once. Without it, nothing but the grace period (up to 600 s)
    // could stop a server whose clients are slow.
    let (first, first_signal) = oneshot::channel::<()>();
    tokio::spawn(async move {
        signals.next().await;
        info!("shutdown signal received (a second one exits at once)");
        let _ = first.send(());
        signals.next().await;
        warn!("second signal: exiting now, without waiting for in-flight requests");
        std::process::exit(EXIT_INTERRUPTED);
    });
    let stopped = Server::new(args.config())
        .run(listener, async {
            // An error means the signal task ended: stop as well.
            let _ = first_signal.await;
        })
        .await;
    info!(
        "stopped: {} connection(s) open at the signal, {} dropped after the grace period",
        stopped.open_at_signal, stopped.dropped_after_grace
    );
    Ok(())
}
