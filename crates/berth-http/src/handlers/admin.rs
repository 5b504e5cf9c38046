//! Administration: `POST /berth/v1/gc` runs one collection with the configured policy (or the
//! overrides its query gives) and answers its report; `GET /berth/v1/gc` answers the last
//! one's, so that what the scheduled collections did can be read without running one; `GET
//! /berth/v1/status` says which server this is; `POST /berth/v1/scrub` checks storage against
//! metadata, `GET /berth/v1/usage` reports storage usage per repository and
//! `GET /berth/v1/events` shows the delivery state of event notifications.

use axum::response::{IntoResponse, Response};
use berth_registry::gc::GcOptions;
use berth_registry::scrub::ScrubOptions;
use berth_registry::Registry;

use crate::error::{ApiError, RequestError};
use crate::query::Query;
use crate::status::ServerStatus;

/// Runs one collection. `dry_run=true` only reports; `grace` (a duration such as `0s` or
/// `2h`), `untagged` (`keep`, `delete`) and `orphaned_referrers` (`delete`, `keep`, a delay)
/// replace the configured global policy for this run, as the `--gc-*` flags of `berth serve`
/// would; retention rules that set their own policy still win for their repositories.
pub async fn collect_garbage(registry: &Registry, query: &Query) -> Result<Response, ApiError> {
    query.only(&["dry_run", "grace", "untagged", "orphaned_referrers"])?;
    let configured = &registry.config().gc;
    let options = GcOptions {
        dry_run: query.parsed::<bool>("dry_run")?.unwrap_or(false),
        grace: grace(query)?.unwrap_or(configured.grace),
        untagged: query.parsed("untagged")?.unwrap_or(configured.untagged),
        orphaned_referrers: query
            .parsed("orphaned_referrers")?
            .unwrap_or(configured.orphaned_referrers),
        retention: configured.retention.clone(),
    };
    let report = registry.gc(&options).await?;
    Ok(axum::Json(report).into_response())
}

/// The `grace` override, when given.
fn grace(query: &Query) -> Result<Option<std::time::Duration>, RequestError> {
    query
        .get("grace")
        .map(|text| {
            humantime::parse_duration(text).map_err(|e| RequestError::QueryInvalid {
                name: "grace",
                reason: format!("{text:?} is not a duration such as \"0s\" or \"2h\" ({e})"),
            })
        })
        .transpose()
}

pub fn last_collection(registry: &Registry) -> Result<Response, ApiError> {
    match registry.last_gc() {
        Some(report) => Ok(axum::Json(report).into_response()),
        None => Err(RequestError::NoCollectionYet.into()),
    }
}

pub fn status(status: &ServerStatus) -> Response {
    axum::Json(status).into_response()
}

/// Runs one scrub and answers its report. `repair=true` quarantines damaged blobs, `rate` is
/// the read limit in MiB/s (a positive integer), `restart=true` forgets an interrupted run's
/// progress, `max_blobs` stops after hashing that many blobs (the next run continues).
pub async fn scrub(registry: &Registry, query: &Query) -> Result<Response, ApiError> {
    query.only(&["repair", "rate", "restart", "max_blobs"])?;
    let options = ScrubOptions {
        repair: query.parsed::<bool>("repair")?.unwrap_or(false),
        rate_mib_per_second: query.parsed("rate")?,
        restart: query.parsed::<bool>("restart")?.unwrap_or(false),
        max_blobs: query.parsed("max_blobs")?,
    };
    let report = registry.scrub(&options).await?;
    Ok(axum::Json(report).into_response())
}

/// Storage usage per repository.
pub async fn usage(registry: &Registry) -> Result<Response, ApiError> {
    Ok(axum::Json(registry.usage().await?).into_response())
}

/// Most events listed per endpoint and list when `limit` is not given.
const EVENTS_LISTED: u32 = 100;

/// `{"endpoints": [{"name", "pending", "pendingEvents": [...], "dead": [...]}]}`: per
/// configured notification endpoint, how many events it has not passed, the first of them,
/// and its dead letters (each with `attempts`, `lastError`, `deadAt`); `limit` (1 to 1000,
/// default 100) bounds each list.
pub async fn event_deliveries(registry: &Registry, query: &Query) -> Result<Response, ApiError> {
    query.only(&["limit"])?;
    let limit = query
        .parsed::<u32>("limit")?
        .unwrap_or(EVENTS_LISTED)
        .clamp(1, 1000);
    let endpoints = registry.event_deliveries(limit).await?;
    Ok(axum::Json(serde_json::json!({ "endpoints": endpoints })).into_response())
}
