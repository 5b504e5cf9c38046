//! The Prometheus recorder behind the `metrics` facade every crate records through, installed
//! once by `berth serve` and rendered at `GET /metrics` on the main listener (see
//! `berth_http::observe` and `berth_registry`'s `metrics` for what is recorded).

use std::time::Duration;

use anyhow::Context;
use berth_http::MetricsRenderer;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};

/// Bucket bounds of every `_seconds` histogram, from a cached manifest read (sub-millisecond)
/// to a large blob transfer or a long collection (minutes).
const SECONDS_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0, 300.0,
];

/// How often histograms are compacted when no scrape does it.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// Installs the recorder for the whole process (call once, inside the runtime) and sets
/// `berth_build_info{version}` to 1. Errors: a recorder is installed already.
pub fn install() -> anyhow::Result<MetricsRenderer> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), SECONDS_BUCKETS)
        .context("histogram buckets")?
        .install_recorder()
        .context("installing the metrics recorder")?;
    metrics::gauge!("berth_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(UPKEEP_INTERVAL);
        loop {
            ticker.tick().await;
            upkeep.run_upkeep();
        }
    });
    Ok(MetricsRenderer::new(move || handle.render()))
}
