//! (l) Lifecycle: a full collection over many manifests and blob references while pushes go
//! on, and the same content (at a size both hold) against distribution's offline collector.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use berth_oci::Digest;
use bytes::Bytes;
use futures::{stream, TryStreamExt};

use super::Registry;
use crate::data::random_bytes;
use crate::report::{Better, Table};
use crate::servers::{Kind, Server};

pub(super) const REPO: &str = "bench/gc";
const LAYERS_PER_MANIFEST: usize = 10;
const BLOB_POOL: usize = 1_000;

/// A manifest over `LAYERS_PER_MANIFEST` blobs of the pool, made distinct by `n`.
pub(super) fn manifest(pool: &[(Digest, usize)], n: usize) -> Bytes {
    let layers: Vec<_> = (0..LAYERS_PER_MANIFEST)
        .map(|k| {
            let (digest, size) = &pool[(n * 7 + k * 13) % pool.len()];
            serde_json::json!({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest.as_str(), "size": size})
        })
        .collect();
    let (config, size) = &pool[n % pool.len()];
    let body = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config.as_str(), "size": size},
        "layers": layers,
        "annotations": {"n": n.to_string()},
    });
    Bytes::from(serde_json::to_vec(&body).expect("manifest serialises"))
}

/// Pushes the blob pool and `count` manifests, half of them tagged: the other half is garbage
/// once untagged manifests are collected.
pub(super) async fn fill(
    registry: &Registry,
    count: usize,
) -> anyhow::Result<Vec<(Digest, usize)>> {
    let pool: Vec<(Digest, usize)> = (0..BLOB_POOL)
        .map(|i| {
            let blob = random_bytes(256, 5_000 + i as u64);
            (Digest::sha256_of(&blob), blob.len())
        })
        .collect();
    stream::iter((0..BLOB_POOL).map(Ok))
        .try_for_each_concurrent(16, |i| {
            let registry = registry.clone();
            let blob = random_bytes(256, 5_000 + i as u64);
            async move {
                registry
                    .upload_monolithic(REPO, &Digest::sha256_of(&blob), blob.clone())
                    .await
            }
        })
        .await?;
    let pool_ref = &pool;
    stream::iter((0..count).map(Ok))
        .try_for_each_concurrent(16, |n| {
            let registry = registry.clone();
            async move {
                let body = manifest(pool_ref, n);
                let reference = if n % 2 == 0 {
                    format!("t{n}")
                } else {
                    Digest::sha256_of(&body).to_string()
                };
                registry.put_manifest(REPO, &reference, body).await
            }
        })
        .await?;
    Ok(pool)
}

pub async fn run(table: &mut Table, manifests: usize, comparable: usize) -> anyhow::Result<()> {
    eprintln!(
        "(l) collection of {manifests} manifests, {} blob references",
        manifests * (LAYERS_PER_MANIFEST + 1)
    );
    let policy = [
        "--gc-untagged",
        "delete",
        "--gc-grace",
        "0s",
        "--gc-interval",
        "0s",
    ];
    let berth = Server::start_with(Kind::Berth, &policy).await?;
    let registry = Registry::new(&berth.base);
    let pool = fill(&registry, manifests).await?;

    // Pushes keep going during the collection; the slowest one is what a user would feel.
    let pushing = Arc::new(AtomicBool::new(true));
    let pusher = {
        let (registry, pushing, pool) = (registry.clone(), pushing.clone(), pool.clone());
        tokio::spawn(async move {
            let mut waits = Vec::new();
            let mut n = manifests * 2;
            while pushing.load(Ordering::Relaxed) {
                let started = Instant::now();
                registry
                    .put_manifest(REPO, &format!("live{n}"), manifest(&pool, n))
                    .await?;
                waits.push(started.elapsed());
                n += 2;
            }
            anyhow::Ok(waits)
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    let response = registry
        .http
        .post(format!("{}/berth/v1/gc", berth.base))
        .send()
        .await?;
    let elapsed = started.elapsed();
    let report: serde_json::Value = response.json().await?;
    pushing.store(false, Ordering::Relaxed);
    let mut waits = pusher.await??;
    waits.sort();
    anyhow::ensure!(
        report["manifests_deleted"].as_u64() == Some((manifests / 2) as u64),
        "expected {} manifests collected: {report}",
        manifests / 2
    );
    table.record(
        &format!("(l) full collection, {manifests} manifests"),
        "s",
        Kind::Berth,
        elapsed.as_secs_f64(),
        Better::Lower,
    );
    eprintln!("  {} pushes during the collection", waits.len());
    for (label, quantile) in [("p50", 0.5), ("p99", 0.99), ("slowest", 1.0)] {
        let index = ((waits.len() - 1) as f64 * quantile).round() as usize;
        table.record(
            &format!("(l) push during the collection, {label}"),
            "ms",
            Kind::Berth,
            waits[index].as_secs_f64() * 1e3,
            Better::Lower,
        );
    }
    drop(berth);

    eprintln!(
        "(l) collection of {comparable} manifests, Berth online against distribution offline"
    );
    for kind in [Kind::Berth, Kind::Distribution] {
        let mut server = Server::start_with(kind, &policy).await?;
        fill(&Registry::new(&server.base), comparable).await?;
        let elapsed = match kind {
            Kind::Berth
            | Kind::BerthScaleOut
            | Kind::BerthObserved
            | Kind::BerthObservedBatched => {
                let registry = Registry::new(&server.base);
                let started = Instant::now();
                registry
                    .http
                    .post(format!("{}/berth/v1/gc", server.base))
                    .send()
                    .await?
                    .error_for_status()?;
                started.elapsed()
            }
            Kind::Distribution | Kind::DistributionS3 => {
                // Distribution needs its untagged manifests to have no tag link at all: they
                // were pushed by digest, so `--delete-untagged` collects them.
                server.distribution_offline_gc()?
            }
        };
        table.record(
            &format!("(l) full collection, {comparable} manifests"),
            "s",
            kind,
            elapsed.as_secs_f64(),
            Better::Lower,
        );
    }
    Ok(())
}
