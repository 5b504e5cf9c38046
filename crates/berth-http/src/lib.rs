//! The HTTP API: the only crate that knows HTTP. Requests are parsed into an `Endpoint`,
//! handled by one domain call each, and every error is mapped in `error`.

mod conditions;
pub mod endpoint;
pub mod error;
mod handlers;
mod query;
mod range;

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use berth_registry::Registry;
use http::HeaderValue;

pub use error::ApiError;

/// The header every response carries, which Docker clients check on `/v2/`.
const API_VERSION: (&str, &str) = ("docker-distribution-api-version", "registry/2.0");

/// The registry's HTTP router.
pub fn router(registry: Registry) -> Router {
    Router::new()
        .route("/v2", any(dispatch))
        .route("/v2/", any(dispatch))
        .route("/v2/{*rest}", any(dispatch))
        .fallback(any(dispatch))
        .layer(axum::middleware::map_response(with_api_version))
        .with_state(registry)
}

async fn dispatch(State(registry): State<Registry>, request: Request) -> Response {
    match handlers::handle(&registry, request).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

async fn with_api_version(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(API_VERSION.0, HeaderValue::from_static(API_VERSION.1));
    response
}

#[cfg(test)]
mod tests;
