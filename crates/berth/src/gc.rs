//! `berth gc`: one collection, through the running server when it answers at the configured
//! address (so that its locks and caches stay in charge), else directly on the data directory.

use std::time::Duration;

use anyhow::Context;
use berth_registry::gc::{GcOptions, GcReport};

use crate::serve::{init_logging, open_registry};
use crate::settings::Settings;

pub fn run(settings: Settings, dry_run: bool, json: bool) -> anyhow::Result<()> {
    init_logging(&settings.log)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let report = runtime.block_on(collect(&settings, dry_run))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        let verb = if report.dry_run {
            "would delete"
        } else {
            "deleted"
        };
        println!(
            "{verb} {} manifests, {} blobs ({} bytes), {} blob links; {} uploads expired; {} ms",
            report.manifests_deleted,
            report.blobs_deleted,
            report.bytes_freed,
            report.links_removed,
            report.uploads_expired,
            report.duration_ms
        );
    }
    Ok(())
}

async fn collect(settings: &Settings, dry_run: bool) -> anyhow::Result<GcReport> {
    let url = format!("http://{}/berth/v1/gc?dry_run={dry_run}", settings.listen);
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(2))
        .build()?;
    match client.post(&url).send().await {
        Ok(response) if response.status().is_success() => Ok(response
            .json()
            .await
            .context("reading the server's report")?),
        Ok(response) => anyhow::bail!(
            "the server at {} answered {}",
            settings.listen,
            response.status()
        ),
        Err(e) if e.is_connect() => {
            let registry = open_registry(settings).await?;
            let options = GcOptions {
                dry_run,
                ..settings.gc.clone()
            };
            Ok(registry.gc(&options).await?)
        }
        Err(e) => Err(e).context("asking the server to collect"),
    }
}
