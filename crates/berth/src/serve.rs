//! `berth serve`: wires the backends, the registry and the HTTP server, and runs background tasks.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use berth_blobstore::fs::FsBlobStore;
use berth_http::ServerStatus;
use berth_metadata::sqlite::SqliteMetadataStore;
use berth_registry::{Registry, RegistryConfig};
use tracing::{info, warn};
use tracing_subscriber::EnvFilter;

use crate::lock::{DataDirLock, Owner};
use crate::settings::Settings;

/// How often abandoned upload sessions are looked for.
const UPLOAD_SWEEP_INTERVAL: Duration = Duration::from_secs(600);

pub fn run(settings: Settings) -> anyhow::Result<()> {
    init_logging(&settings.log)?;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?
        .block_on(serve(settings))
}

/// Structured logs on stderr, colored only on a terminal.
pub fn init_logging(filter: &str) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_new(filter).context("invalid log filter")?)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
    Ok(())
}

pub async fn open_registry(settings: &Settings) -> anyhow::Result<Registry> {
    std::fs::create_dir_all(&settings.data_dir)
        .with_context(|| format!("creating data directory {}", settings.data_dir.display()))?;
    let blobs = FsBlobStore::open(settings.data_dir.join("blobs"))
        .await
        .context("opening blob storage")?;
    let meta = SqliteMetadataStore::open(&settings.data_dir.join("metadata.db"))
        .await
        .context("opening metadata database")?;
    let config = RegistryConfig {
        max_manifest_bytes: settings.max_manifest_bytes,
        max_page_entries: settings.max_page_entries,
        referrers_page_size: settings.referrers_page_size,
        upload_expiry: settings.upload_expiry,
        gc: settings.gc.clone(),
    };
    Ok(Registry::new(Arc::new(blobs), Arc::new(meta), config))
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let data_dir = data_directory(&settings)?;
    let mut lock = DataDirLock::acquire(&data_dir, &Owner::this_process("serve"))
        .map_err(|e| anyhow::anyhow!("refusing to serve: {e}"))?;
    let registry = open_registry(&settings).await?;
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("binding {}", settings.listen))?;
    let address = listener.local_addr()?;
    let listening = Owner {
        listen: Some(address),
        ..Owner::this_process("serve")
    };
    lock.announce(&listening)
        .with_context(|| format!("writing {}", lock.path().display()))?;
    tokio::spawn(sweep_uploads(registry.clone()));
    if !settings.gc_interval.is_zero() {
        tokio::spawn(collect_garbage(registry.clone(), settings.gc_interval));
    }
    let status = ServerStatus {
        data_dir: Some(data_dir.to_string_lossy().into_owned()),
        pid: std::process::id(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
    };
    info!(address = %address, data_dir = %data_dir.display(), "berth listening");
    axum::serve(listener, berth_http::router(registry, status))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("serving")?;
    info!("berth stopped");
    drop(lock);
    Ok(())
}

/// The data directory, created when missing, as an absolute canonical path: the name the
/// status endpoint gives and `berth gc` compares.
pub fn data_directory(settings: &Settings) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(&settings.data_dir)
        .with_context(|| format!("creating data directory {}", settings.data_dir.display()))?;
    settings
        .data_dir
        .canonicalize()
        .with_context(|| format!("resolving data directory {}", settings.data_dir.display()))
}

async fn sweep_uploads(registry: Registry) {
    let mut ticker = tokio::time::interval(UPLOAD_SWEEP_INTERVAL);
    loop {
        ticker.tick().await;
        if let Err(e) = registry
            .expire_uploads(registry.config().upload_expiry)
            .await
        {
            warn!(error = %e, "upload expiry failed");
        }
    }
}

/// Scheduled collections with the configured policy; the first runs one interval after start.
async fn collect_garbage(registry: Registry, interval: Duration) {
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    loop {
        ticker.tick().await;
        if let Err(e) = registry.gc(&registry.config().gc).await {
            warn!(error = %e, "scheduled garbage collection failed");
        }
    }
}

async fn shutdown_signal() {
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
