//! The workloads, each run against Berth then distribution before the next one starts.

mod auth;
mod blobs;
mod browse;
mod ceiling;
mod client;
mod gc;
mod manifests;
mod referrers;
mod referrers_scale;
mod scale_out;
mod wrk;

use std::future::Future;
use std::time::{Duration, Instant};

use crate::report::{Better, Table};
use crate::servers::Server;
use crate::Options;

pub use client::Registry;

pub async fn run_all(
    servers: &[Server],
    table: &mut Table,
    options: &Options,
) -> anyhow::Result<()> {
    // The scale-out group needs outside services, so it runs only when asked for by name.
    if options.scale_out() {
        return scale_out::run(servers, table, options).await;
    }
    // The browse group (Berth's own API, nothing to compare with) runs only when named.
    if options.browse() {
        return browse::run(servers, table).await;
    }
    // So does the observability group: the manifest workloads, observed and not.
    if options.observability() {
        return manifests::run(servers, table, options).await;
    }
    let selected = |group: &str| options.only.as_deref().is_none_or(|only| only == group);
    if selected("blobs") {
        blobs::run(servers, table, options).await?;
    }
    if selected("manifests") {
        manifests::run(servers, table, options).await?;
    }
    if selected("referrers") {
        referrers::run(servers, table).await?;
    }
    if selected("auth") {
        auth::run(servers, table, options).await?;
    }
    if selected("gc") {
        gc::run(table, options.gc_manifests, options.gc_comparable).await?;
    }
    Ok(())
}

/// Runs `work` and adds the server's CPU seconds spent on it to the figure's total.
pub async fn with_cpu<T, F: Future<Output = anyhow::Result<T>>>(
    server: &Server,
    table: &mut Table,
    figure: &str,
    work: F,
) -> anyhow::Result<T> {
    // The webhook deliveries of a server measured before catch up first: they would
    // otherwise run, and cost CPU, in this server's measurement.
    if let Some(receiver) = crate::servers::started_receiver() {
        receiver.settle().await;
    }
    let stats = server.process();
    let before = stats.cpu_seconds()?;
    let result = work.await?;
    let spent = stats.cpu_seconds()? - before;
    table.accumulate(
        &format!("server CPU: {figure}"),
        "s",
        server.kind,
        spent,
        Better::Lower,
    );
    Ok(result)
}

/// Times one run of `work`, after flushing every dirty page to disk so that no server pays
/// for the deferred writeback of the one measured before it.
pub async fn timed<F: Future<Output = anyhow::Result<()>>>(work: F) -> anyhow::Result<Duration> {
    std::process::Command::new("sync").status()?;
    let started = Instant::now();
    work.await?;
    Ok(started.elapsed())
}

/// The median of a non-empty list of durations.
pub fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}
