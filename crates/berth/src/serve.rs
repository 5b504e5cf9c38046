//! `berth serve`: wires the backends, the registry and the HTTP server (plain HTTP, or HTTPS
//! when a certificate is configured), and runs background tasks.

use std::path::PathBuf;
use std::time::Duration;

use crate::lock::{DataDirLock, Owner};
use crate::logging;
use crate::preflight::{self, AuthParts, Preflight};
use crate::settings::{Settings, TlsFiles};
use crate::shutdown::Stop;
use crate::tls;
use anyhow::Context;
use berth_http::ServerStatus;
use berth_registry::{Registry, RegistryConfig};
use tokio::net::TcpListener;
use tracing::{debug, info, warn};

/// How often abandoned upload sessions are looked for.
const UPLOAD_SWEEP_INTERVAL: Duration = Duration::from_secs(600);

/// How long the runtime waits for its remaining tasks once serving has ended; requests cut
/// at `shutdown_timeout` are dropped here.
const RUNTIME_SHUTDOWN: Duration = Duration::from_secs(5);

pub fn run(settings: Settings) -> anyhow::Result<()> {
    // Held to the end, so that every line logged is written before the process exits.
    let _log = logging::init(&settings.log, settings.log_format)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let served = runtime.block_on(serve(settings));
    runtime.shutdown_timeout(RUNTIME_SHUTDOWN);
    served
}

/// Structured text logs on stderr, colored only on a terminal (`berth gc`, `berth migrate`).
pub fn init_logging(filter: &str) -> anyhow::Result<()> {
    logging::init_direct(filter)
}

pub async fn open_registry(settings: &Settings) -> anyhow::Result<Registry> {
    std::fs::create_dir_all(&settings.data_dir)
        .with_context(|| format!("creating data directory {}", settings.data_dir.display()))?;
    let blobs = settings.storage.open(&settings.data_dir).await?;
    let meta = settings.metadata.open(&settings.data_dir).await?;
    let config = RegistryConfig {
        max_manifest_bytes: settings.max_manifest_bytes,
        max_page_entries: settings.max_page_entries,
        referrers_page_size: settings.referrers_page_size,
        upload_expiry: settings.upload_expiry,
        gc: settings.gc.clone(),
        notification_endpoints: settings
            .notifications
            .endpoints
            .iter()
            .map(|endpoint| endpoint.name.clone())
            .collect(),
    };
    Ok(Registry::new(blobs, meta, config))
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    // A setting that cannot be served stops the start before anything else happens.
    let Preflight { tls, auth } = preflight::check(&settings)?;
    let data_dir = data_directory(&settings)?;
    let mut lock = DataDirLock::acquire(&data_dir, &Owner::this_process("serve"))
        .map_err(|e| anyhow::anyhow!("refusing to serve: {e}"))?;
    let registry = open_registry(&settings).await?;
    // Cursors open before the first request, so that every change from now on is delivered.
    let notifications = settings.notifications.check()?;
    berth_events::start(registry.metadata().clone(), &notifications).await?;
    tokio::spawn(berth_events::prune_periodically(
        registry.metadata().clone(),
        notifications,
    ));
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("binding {}", settings.listen))?;
    let address = listener.local_addr()?;
    let tls_cert = tls
        .as_ref()
        .map(|(files, _, _)| std::path::absolute(&files.cert))
        .transpose()
        .context("resolving the TLS certificate's path")?;
    let listening = Owner {
        listen: Some(address),
        tls_cert,
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
    let auth = build_auth(auth, &settings, &data_dir, address)?;
    let metrics = settings
        .metrics
        .then(crate::prometheus::install)
        .transpose()?;
    let options = berth_http::RouterOptions {
        metrics,
        ui: settings.ui,
    };
    let router = berth_http::observed_router(registry, status, auth, options);
    let stop = Stop::on_signal();
    match &tls {
        None => info!(address = %address, data_dir = %data_dir.display(), "berth listening"),
        Some((files, _, loaded)) => info!(
            address = %address,
            data_dir = %data_dir.display(),
            cert = %files.cert.display(),
            sha256 = %loaded.fingerprint,
            "berth listening with TLS"
        ),
    }
    let limits = Limits {
        shutdown: settings.shutdown_timeout,
        header_read: settings.header_read_timeout,
    };
    serve_http(listener, router, tls, &stop, limits).await?;
    info!("berth stopped");
    drop(lock);
    Ok(())
}

/// The server's time limits.
struct Limits {
    /// After the stop signal, how long requests in flight may finish.
    shutdown: Duration,
    /// How long a connection may take to send a whole request head (request line and
    /// headers), counted from when the server starts waiting for it.
    header_read: Duration,
}

/// HTTP on `listener`, or with `tls` HTTPS (HTTP/2 or HTTP/1.1 as ALPN chooses, the
/// certificate re-read when its files change); either stops accepting on the stop signal and
/// lets requests in flight finish within `shutdown_timeout`. A connection that has not sent a
/// whole request head within `header_read_timeout` is closed, so that clients trickling
/// headers cannot hold connections (or a shutdown) open.
async fn serve_http(
    listener: TcpListener,
    router: axum::Router,
    tls: Option<(TlsFiles, tls::Stamps, tls::Loaded)>,
    stop: &Stop,
    limits: Limits,
) -> anyhow::Result<()> {
    let handle = axum_server::Handle::new();
    let stopping = handle.clone();
    let requested = stop.requested();
    tokio::spawn(async move {
        requested.await;
        stopping.graceful_shutdown(None);
    });
    let listener = listener.into_std().context("handing over the listener")?;
    let mut server = axum_server::from_tcp(listener)
        .context("serving on the listener")?
        .handle(handle);
    server
        .http_builder()
        .http1()
        .header_read_timeout(limits.header_read);
    let Some((files, stamps, loaded)) = tls else {
        let server =
            server.serve(router.into_make_service_with_connect_info::<std::net::SocketAddr>());
        return stop.drain(server, limits.shutdown).await;
    };
    let config = axum_server::tls_rustls::RustlsConfig::from_config(loaded.config);
    let reload = tokio::spawn(tls::reload_on_change(config.clone(), files, stamps));
    let server = server
        .acceptor(axum_server::tls_rustls::RustlsAcceptor::new(config))
        .accept_error_handler(|peer, e| debug!(peer = ?peer, error = %e, "connection not accepted"))
        .serve(
            router
                .layer(axum::Extension(berth_http::ServedOverTls))
                .into_make_service_with_connect_info::<std::net::SocketAddr>(),
        );
    let served = stop.drain(server, limits.shutdown).await;
    reload.abort();
    served
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
/// Nodes sharing the metadata share the schedule: a turn goes to the first node whose timer
/// fires when no collection runs and none started within the interval, so the nodes make one
/// collection per interval between them, never two at once.
async fn collect_garbage(registry: Registry, interval: Duration) {
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    loop {
        ticker.tick().await;
        match registry
            .gc_on_schedule(&registry.config().gc, interval)
            .await
        {
            Ok(Some(_)) => {}
            Ok(None) => {
                info!("scheduled garbage collection skipped: another node runs this interval's")
            }
            Err(e) => warn!(error = %e, "scheduled garbage collection failed"),
        }
    }
}

/// The authorization of `[auth]` (loaded by [`preflight::check`]), or an open registry
/// without it. The signing key is generated here when its file does not exist yet.
fn build_auth(
    parts: Option<AuthParts>,
    settings: &Settings,
    data_dir: &std::path::Path,
    address: std::net::SocketAddr,
) -> anyhow::Result<berth_http::Auth> {
    use berth_auth::{LoginLimiter, LoginLimiterOptions, SigningKey, TokenIssuer, TokenVerifier};
    let (Some(auth), Some(parts)) = (&settings.auth, parts) else {
        return Ok(berth_http::Auth::open());
    };
    let key = match parts.signing_key {
        Some(key) => key,
        None => {
            let key_path = preflight::signing_key_path(auth, data_dir);
            if let Some(parent) = key_path.parent() {
                std::fs::create_dir_all(parent)
                    .with_context(|| format!("creating {}", parent.display()))?;
            }
            SigningKey::load_or_generate(&key_path)?
        }
    };
    let service = parts.issuer.service.clone();
    let issuer = TokenIssuer::new(parts.issuer, key)?;
    let mut trusted = vec![issuer.trusted()];
    trusted.extend(parts.trusted_issuers);
    let verifier = TokenVerifier::new(trusted)?;
    let realm = preflight::realm(auth, settings.tls.is_some(), address)?;
    info!(service = %service, realm = %realm, "access control enabled");
    Ok(berth_http::Auth::enforced(berth_http::AuthConfig {
        policy: parts.policy,
        users: parts.users,
        issuer: Some(issuer),
        verifier,
        limiter: LoginLimiter::new(LoginLimiterOptions::default()),
        service,
        realm,
    }))
}
