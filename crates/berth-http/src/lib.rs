//! The HTTP API: the only crate that knows HTTP. Requests are parsed into an `Endpoint`,
//! handled by one domain call each, and every error is mapped in `error`.

mod auth;
mod conditions;
pub mod endpoint;
pub mod error;
mod handlers;
pub mod observe;
pub mod query;
pub mod range;
mod status;
mod ui;

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::Router;
use berth_registry::Registry;
use http::HeaderValue;

pub use auth::{Auth, AuthConfig};
pub use error::ApiError;
pub use observe::ops::MetricsRenderer;
pub use status::ServerStatus;

/// Marks a request that reached the server over TLS (the server inserts it, e.g. with
/// `axum::Extension(ServedOverTls)`), so that absolute links say `https`.
#[derive(Debug, Clone, Copy)]
pub struct ServedOverTls;

/// The header every response carries, which Docker clients check on `/v2/`.
const API_VERSION: (&str, &str) = ("docker-distribution-api-version", "registry/2.0");

/// What every request's handler can read: the registry, and what the server says about itself.
#[derive(Clone)]
struct AppState {
    registry: Registry,
    status: Arc<ServerStatus>,
    auth: Auth,
}

/// The registry's HTTP router without access control; `status` is what `GET /berth/v1/status`
/// answers.
pub fn router(registry: Registry, status: ServerStatus) -> Router {
    secured_router(registry, status, Auth::open())
}

/// The registry's HTTP router, every request authorized by `auth` before its handler runs,
/// with the web UI and without metrics.
/// Serve it with `into_make_service_with_connect_info::<SocketAddr>` so that failed logins
/// are counted per client address.
pub fn secured_router(registry: Registry, status: ServerStatus, auth: Auth) -> Router {
    observed_router(registry, status, auth, RouterOptions::default())
}

/// What a router serves besides the registry's API.
#[derive(Clone)]
pub struct RouterOptions {
    /// Serves `GET /metrics` (none: no such endpoint).
    pub metrics: Option<MetricsRenderer>,
    /// Serves the web UI at `/ui/` (and redirects `/` there); off, `/ui` is 404 like any
    /// path no endpoint answers.
    pub ui: bool,
}

impl Default for RouterOptions {
    /// No metrics, the UI on (the server's default).
    fn default() -> Self {
        RouterOptions {
            metrics: None,
            ui: true,
        }
    }
}

/// [`secured_router`] with what `options` adds: `GET /metrics`, the web UI.
/// Every router observes its requests (see `observe`): `X-Request-Id`, the access log, and
/// the HTTP metrics of whatever recorder is installed. `/metrics`, `/livez`, `/readyz` and
/// the UI's files need no authorization.
pub fn observed_router(
    registry: Registry,
    status: ServerStatus,
    auth: Auth,
    options: RouterOptions,
) -> Router {
    let state = AppState {
        registry,
        status: Arc::new(status),
        auth,
    };
    let mut router = Router::new()
        .route("/v2", any(dispatch))
        .route("/v2/", any(dispatch))
        .route("/v2/{*rest}", any(dispatch))
        .route(observe::kind::LIVEZ_PATH, get(observe::ops::livez))
        .route(
            observe::kind::READYZ_PATH,
            get(|State(state): State<AppState>| async move {
                observe::ops::readyz(&state.registry).await
            }),
        );
    if let Some(renderer) = options.metrics {
        router = router.route(
            observe::kind::METRICS_PATH,
            get(move |State(state): State<AppState>| {
                let renderer = renderer.clone();
                async move { observe::ops::metrics(&state.registry, &renderer).await }
            }),
        );
    }
    if options.ui {
        router = router.merge(ui::routes());
    }
    router
        .fallback(any(dispatch))
        .layer(axum::middleware::map_response(with_api_version))
        .layer(axum::middleware::from_fn(observe::observe))
        .with_state(state)
}

async fn dispatch(State(state): State<AppState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let authorized = match auth::authorize(&state.auth, &parts).await {
        Ok(authorized) => authorized,
        Err(e) => return e.into_response(),
    };
    let audit = auth::WriteAudit::of(&authorized.caller, &parts);
    let user = observe::AccessUser(authorized.caller.subject());
    let request = Request::from_parts(parts, body);
    let mut response = match handlers::handle(
        &state.registry,
        &state.status,
        &state.auth,
        &authorized,
        request,
    )
    .await
    {
        Ok(response) => response,
        Err(e) => e.into_response(),
    };
    if let Some(audit) = audit {
        audit.log(response.status());
    }
    response.extensions_mut().insert(user);
    response
}

async fn with_api_version(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(API_VERSION.0, HeaderValue::from_static(API_VERSION.1));
    response
}

#[cfg(test)]
mod tests;
