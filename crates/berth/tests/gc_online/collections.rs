//! Collections through the admin endpoint (`POST /berth/v1/gc`), one at a time or back to
//! back, and the server setting that lets them take garbage the moment it appears.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::Value;

use crate::requests::send;
use crate::support::http::Registry;
use crate::support::TestServer;

/// A server whose collections keep nothing back: no grace period, no interval between
/// runs, untagged manifests deleted. Every race with a push is then as likely as it gets.
pub fn eager_gc_server() -> TestServer {
    TestServer::start_with(&[
        "--gc-grace",
        "0s",
        "--gc-interval",
        "0s",
        "--gc-untagged",
        "delete",
    ])
}

/// One collection (a dry run when asked); its report, once it is a 200 JSON report of the
/// kind asked for.
async fn gc(reg: &Registry, dry_run: bool) -> Result<Value, String> {
    let path = if dry_run {
        "/berth/v1/gc?dry_run=true"
    } else {
        "/berth/v1/gc"
    };
    let reply = send(reg.http.post(reg.url(path)), &format!("POST {path}")).await?;
    if reply.status != StatusCode::OK {
        return Err(format!("{path}: {}: {}", reply.status, reply.text));
    }
    let report: Value = serde_json::from_str(&reply.text)
        .map_err(|e| format!("collection report is not JSON ({e}): {}", reply.text))?;
    if report["dry_run"] != dry_run {
        return Err(format!(
            "collection report with the wrong dry_run: {}",
            reply.text
        ));
    }
    Ok(report)
}

/// One real collection; panics unless it answers a 200 report.
pub async fn collect(reg: &Registry) -> Value {
    gc(reg, false)
        .await
        .unwrap_or_else(|e| panic!("collection: {e}"))
}

/// Totals of the collections run while the clients worked.
#[derive(Debug, Default)]
pub struct Collections {
    pub runs: u64,
    pub dry_runs: u64,
    pub manifests_deleted: u64,
    blobs_deleted: u64,
}

/// Collections back to back until `stop`, every eighth a dry run; every answer must be a
/// 200 report.
pub async fn collect_back_to_back(
    reg: Registry,
    stop: Arc<AtomicBool>,
) -> Result<Collections, String> {
    let mut totals = Collections::default();
    while !stop.load(Ordering::Relaxed) {
        let dry_run = totals.runs % 8 == 7;
        let report = gc(&reg, dry_run)
            .await
            .map_err(|e| format!("collection {}: {e}", totals.runs + 1))?;
        totals.runs += 1;
        if dry_run {
            totals.dry_runs += 1;
        } else {
            totals.manifests_deleted += report["manifests_deleted"].as_u64().unwrap_or(0);
            totals.blobs_deleted += report["blobs_deleted"].as_u64().unwrap_or(0);
        }
    }
    Ok(totals)
}

/// The counts of a collection report.
pub fn summary(report: &Value) -> String {
    format!(
        "{} manifests, {} blobs, {} links, {} uploads deleted",
        report["manifests_deleted"],
        report["blobs_deleted"],
        report["links_removed"],
        report["uploads_expired"]
    )
}
