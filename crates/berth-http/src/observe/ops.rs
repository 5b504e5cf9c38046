//! The operator's endpoints beside the API, answered without authorization: `GET /metrics`
//! (Prometheus text), `GET /livez` and `GET /readyz` (for load balancers and orchestrators).

use std::sync::Arc;

use axum::response::{IntoResponse, Response};
use berth_registry::Registry;
use http::{header, StatusCode};
use serde::Serialize;

/// Renders every metric recorded in the process in the Prometheus text exposition format
/// (0.0.4); the server wraps its recorder's handle in one.
#[derive(Clone)]
pub struct MetricsRenderer(Arc<dyn Fn() -> String + Send + Sync>);

impl MetricsRenderer {
    pub fn new(render: impl Fn() -> String + Send + Sync + 'static) -> MetricsRenderer {
        MetricsRenderer(Arc::new(render))
    }
}

/// `GET /metrics`: the content gauges refreshed when stale (see
/// `Registry::refresh_content_metrics`), then everything rendered. A metadata failure keeps
/// the last content values and is logged; the rest is still served.
pub(crate) async fn metrics(registry: &Registry, renderer: &MetricsRenderer) -> Response {
    if let Err(e) = registry.refresh_content_metrics().await {
        tracing::warn!(error = %e, "content metrics not refreshed");
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        (renderer.0)(),
    )
        .into_response()
}

/// `GET /livez`: 200 whenever the process answers.
pub(crate) async fn livez() -> Response {
    ([(header::CONTENT_TYPE, "text/plain")], "ok\n").into_response()
}

/// The body of `GET /readyz`: each store `ok` or `unavailable` (the cause is logged, not
/// sent).
#[derive(Debug, Serialize)]
struct ReadyzBody {
    status: &'static str,
    metadata: &'static str,
    blobs: &'static str,
}

/// `GET /readyz`: 200 when the metadata store (reachable, schema migrated) and the blob store
/// (reachable, staging writable) can both serve; else 503 naming the one(s) that cannot.
pub(crate) async fn readyz(registry: &Registry) -> Response {
    let readiness = registry.readiness().await;
    let judge = |store: &str, outcome: &str| {
        if outcome == "ok" {
            "ok"
        } else {
            tracing::warn!(store, cause = outcome, "not ready");
            "unavailable"
        }
    };
    let body = ReadyzBody {
        status: if readiness.ready() {
            "ready"
        } else {
            "not ready"
        },
        metadata: judge("metadata", &readiness.metadata),
        blobs: judge("blobs", &readiness.blobs),
    };
    let status = if readiness.ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(body)).into_response()
}
