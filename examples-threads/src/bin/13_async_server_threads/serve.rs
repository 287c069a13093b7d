//! `serve`: the real server on `--addr`, until Ctrl-C or SIGTERM. std has no signal API; the
//! `ctrlc` crate turns Ctrl-C and SIGTERM into a message on the channel the server waits on. The
//! first signal starts the graceful shutdown; a second one during the grace period exits at once
//! with one line and status 130. In `serve`, a client that pipelines `GET /` and never reads is
//! dropped at the write timeout (one `info` line), while the others are served.

use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;

use anyhow::Context;
use tracing::{info, warn};

use crate::ServerArgs;
use crate::server::Server;

/// The exit status after a second signal: 128 + SIGINT, what a shell reports for a process stopped
/// by Ctrl-C.
pub(crate) const EXIT_INTERRUPTED: i32 = 130;

/// `serve`: the real server, until a signal. The acceptor runs on a thread named `server`.
pub(crate) fn serve(args: &ServerArgs) -> anyhow::Result<()> {
    let listener =
        TcpListener::bind(args.addr).with_context(|| format!("cannot listen on {}", args.addr))?;
    // Ctrl-C (every platform) or SIGTERM becomes a message on the server's shutdown channel. The
    // handler runs on every signal: the first starts the graceful shutdown; a second one, during
    // the grace period, means "do not wait" and exits at once. Without it, nothing but the grace
    // period (up to 600 s) could stop a server whose clients are slow.
    let (stop, stop_signal) = mpsc::channel::<()>();
    let signals = AtomicUsize::new(0);
    ctrlc::set_handler(move || {
        if signals.fetch_add(1, Ordering::SeqCst) == 0 {
            info!("shutdown signal received (a second one exits at once)");
            let _ = stop.send(());
        } else {
            warn!("second signal: exiting now, without waiting for in-flight requests");
            std::process::exit(EXIT_INTERRUPTED);
        }
    })
    .context("cannot install the Ctrl-C/SIGTERM handler")?;
    info!(
        "listening on http://{} ({} threads, delay {} ms, max {} connections); Ctrl-C to stop",
        listener.local_addr()?,
        args.threads,
        args.delay_ms,
        args.max_connections
    );
    let server = Server::new(args.config());
    let stopped = thread::Builder::new()
        .name("server".into())
        .spawn(move || server.run(listener, stop_signal))?
        .join()
        .map_err(|_| anyhow::anyhow!("the server thread panicked"))?;
    info!(
        "stopped: {} connection(s) open at the signal, {} dropped after the grace period",
        stopped.open_at_signal, stopped.dropped_after_grace
    );
    Ok(())
}
