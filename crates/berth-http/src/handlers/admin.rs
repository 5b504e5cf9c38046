//! Administration: `POST /berth/v1/gc[?dry_run=true]` runs one collection with the configured
//! policy and answers its report; `GET /berth/v1/gc` answers the last one's, so that what the
//! scheduled collections did can be read without running one.

use axum::response::{IntoResponse, Response};
use berth_registry::gc::GcOptions;
use berth_registry::Registry;

use crate::error::{ApiError, RequestError};
use crate::query::Query;

pub async fn collect_garbage(registry: &Registry, query: &Query) -> Result<Response, ApiError> {
    let dry_run = query.parsed::<bool>("dry_run")?.unwrap_or(false);
    let options = GcOptions {
        dry_run,
        ..registry.config().gc.clone()
    };
    let report = registry.gc(&options).await?;
    Ok(axum::Json(report).into_response())
}

pub fn last_collection(registry: &Registry) -> Result<Response, ApiError> {
    match registry.last_gc() {
        Some(report) => Ok(axum::Json(report).into_response()),
        None => Err(RequestError::NoCollectionYet.into()),
    }
}
