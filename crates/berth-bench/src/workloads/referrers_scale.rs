//! (rs) Referrers as a repository grows: the first page of the referrers API for subjects with
//! 1, 100 and a tenth of the repository's manifests as referrers, measured when the repository
//! holds each of the sizes asked for (1,000, 10,000 and 100,000 manifests by default). Flat
//! figures mean the page costs the same whatever the repository holds. Berth kinds only:
//! distribution 2.8 has no referrers API.
//!
//! The repository is filled over HTTP, as a registry client would (16 manifest PUTs at a time,
//! round-robin over the nodes of a scale-out deployment); the latencies are 200 sequential
//! GETs per subject, alternating between the nodes.

use std::time::{Duration, Instant};

use berth_oci::Digest;
use bytes::Bytes;
use futures::{stream, TryStreamExt};

use super::referrers::{latencies, referrer};
use super::Registry;
use crate::data::{image_manifest, random_bytes};
use crate::report::{Better, Table};
use crate::servers::Server;

const REPO: &str = "bench/referrers-scale";
const CONCURRENCY: usize = 16;

/// Referrers of the small subjects; the large one has a tenth of the repository.
const FIXED_REFERRERS: [usize; 2] = [1, 100];

async fn put_all(registry: &Registry, bodies: Vec<(String, Bytes)>) -> anyhow::Result<()> {
    stream::iter(bodies.into_iter().map(Ok))
        .try_for_each_concurrent(CONCURRENCY, |(reference, body)| {
            let registry = registry.clone();
            async move { registry.put_manifest(REPO, &reference, body).await }
        })
        .await
}

fn by_digest(body: Bytes) -> (String, Bytes) {
    (Digest::sha256_of(&body).to_string(), body)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Runs the stages against `server`; `sizes` are the repository sizes to measure at, rising.
pub async fn run(server: &Server, table: &mut Table, sizes: &[usize]) -> anyhow::Result<()> {
    let kind = server.kind;
    let registry = Registry::for_server(server);
    let config = Bytes::from_static(b"{}");
    let config_digest = Digest::sha256_of(&config);
    registry
        .upload_monolithic(REPO, &config_digest, config.clone())
        .await?;
    let config = (config_digest, config.len());
    let layer = random_bytes(1024, 13);
    let layer_digest = Digest::sha256_of(&layer);
    registry
        .upload_monolithic(REPO, &layer_digest, layer.clone())
        .await?;
    let layer = (layer_digest, layer.len());

    // Three tagged subjects: with 1, with 100 and with a tenth of the repository's referrers.
    let subjects: Vec<Digest> = (0..3)
        .map(|i| Digest::sha256_of(&image_manifest(&config, &layer, i)))
        .collect();
    let tagged = (0..3)
        .map(|i| (format!("s{i}"), image_manifest(&config, &layer, i)))
        .collect();
    put_all(&registry, tagged).await?;
    let mut first = Vec::new();
    let mut nonce = 3;
    for (subject, count) in subjects.iter().zip(FIXED_REFERRERS) {
        for _ in 0..count {
            first.push(by_digest(referrer(&config, subject, nonce)));
            nonce += 1;
        }
    }
    let mut stored = subjects.len();
    let mut large_referrers = 0;
    let mut pending = first;
    let mut fill_time = Duration::ZERO;
    let mut filled = 0;
    for &size in sizes {
        let large_target = size / 10;
        while large_referrers < large_target {
            pending.push(by_digest(referrer(&config, &subjects[2], nonce)));
            large_referrers += 1;
            nonce += 1;
        }
        while stored + pending.len() < size {
            pending.push(by_digest(image_manifest(&config, &layer, nonce)));
            nonce += 1;
        }
        eprintln!(
            "(rs) {}: filling to {size} manifests ({} more)",
            kind.label(),
            pending.len()
        );
        let count = pending.len();
        let started = Instant::now();
        put_all(&registry, std::mem::take(&mut pending)).await?;
        fill_time += started.elapsed();
        filled += count;
        stored += count;

        let labels = [
            "1 referrer".to_owned(),
            "100 referrers".to_owned(),
            format!("{large_referrers} referrers (a tenth)"),
        ];
        for (subject, label) in subjects.iter().zip(labels) {
            let urls: Vec<String> = server
                .nodes
                .iter()
                .map(|node| format!("{node}/v2/{REPO}/referrers/{subject}?n=100"))
                .collect();
            let (p50, p99) = latencies(&registry, &urls).await?;
            let figure = |quantile: &str| {
                format!("(rs) first referrers page (n=100), {size} manifests, {label}, {quantile}")
            };
            table.record(&figure("p50"), "ms", kind, ms(p50), Better::Lower);
            table.record(&figure("p99"), "ms", kind, ms(p99), Better::Lower);
        }
    }
    table.record(
        &format!("(rs) manifest PUTs while filling, concurrency {CONCURRENCY}"),
        "req/s",
        kind,
        filled as f64 / fill_time.as_secs_f64(),
        Better::Higher,
    );
    Ok(())
}
