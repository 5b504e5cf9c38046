//! Graceful shutdown of `berth serve`: on SIGTERM or Ctrl-C the listener closes (new
//! connections are refused), requests in flight may finish for up to `shutdown_timeout`, and
//! whatever is still running then is cut, so that a stalled client cannot keep the process
//! alive past what a service manager allows.

use std::future::{Future, IntoFuture};
use std::time::Duration;

use tokio::sync::watch;
use tracing::{info, warn};

/// The signal to stop, sent once; clone the receiver for each part that must react.
pub struct Stop {
    receiver: watch::Receiver<bool>,
}

impl Stop {
    /// Listens for SIGTERM and Ctrl-C in a task of its own.
    pub fn on_signal() -> Stop {
        let (sender, receiver) = watch::channel(false);
        tokio::spawn(async move {
            signal().await;
            let _ = sender.send(true);
        });
        Stop { receiver }
    }

    /// Resolves once the signal has come (never when the listener task is gone without one).
    pub fn requested(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut receiver = self.receiver.clone();
        async move {
            if receiver.wait_for(|stop| *stop).await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    /// Runs `server`, which stops accepting by itself once [`Stop::requested`] resolves,
    /// until it ends; after the signal it gets at most `timeout` to finish its requests.
    ///
    /// Errors: the server's own, or requests still running when `timeout` passed (they are
    /// cut when the runtime shuts down), so that the exit status says the stop was not clean.
    pub async fn drain<S>(&self, server: S, timeout: Duration) -> anyhow::Result<()>
    where
        S: IntoFuture<Output = std::io::Result<()>>,
    {
        let server = server.into_future();
        tokio::pin!(server);
        tokio::select! {
            served = &mut server => return Ok(served?),
            () = self.requested() => {}
        }
        info!(
            timeout = %humantime::format_duration(timeout),
            "stopping: new connections refused, requests in flight may finish"
        );
        match tokio::time::timeout(timeout, server).await {
            Ok(served) => Ok(served?),
            Err(_) => {
                warn!(
                    timeout = %humantime::format_duration(timeout),
                    "requests still in flight after shutdown_timeout; cutting them"
                );
                anyhow::bail!(
                    "requests were still in flight {} after the stop signal \
                     (shutdown_timeout) and were cut",
                    humantime::format_duration(timeout)
                )
            }
        }
    }
}

async fn signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .expect("installing the SIGTERM handler");
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}
