//! Referrers: the first page for subjects with 1, 100 and 10,000 referrers in a repository of
//! 100,000 manifests, and tag lookups before and after the repository grew. Berth only:
//! distribution 2.8 has no referrers API.

use std::time::{Duration, Instant};

use anyhow::bail;
use berth_oci::Digest;
use bytes::Bytes;
use futures::{stream, TryStreamExt};

use super::{median, Registry};
use crate::data::{image_manifest, random_bytes, MANIFEST_TYPE};
use crate::report::{Better, Table};
use crate::servers::{Kind, Server};

const REPO: &str = "bench/referrers";
const MANIFESTS: usize = 100_000;
const TAGGED: usize = 1_000;
const REFERRER_COUNTS: [usize; 3] = [1, 100, 10_000];
const SAMPLES: usize = 200;

/// An artifact manifest about `subject`, made distinct by `nonce`: a signature or an SBOM in
/// turn.
pub(super) fn referrer(config: &(Digest, usize), subject: &Digest, nonce: usize) -> Bytes {
    let artifact_type = if nonce.is_multiple_of(2) {
        "application/vnd.example.sig"
    } else {
        "application/spdx+json"
    };
    referrer_of_type(config, subject, artifact_type, nonce)
}

/// An artifact manifest of `artifact_type` about `subject`, made distinct by `nonce`.
pub(super) fn referrer_of_type(
    config: &(Digest, usize),
    subject: &Digest,
    artifact_type: &str,
    nonce: usize,
) -> Bytes {
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST_TYPE,
        "artifactType": artifact_type,
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": config.0.as_str(), "size": config.1},
        "layers": [],
        "subject": {"mediaType": MANIFEST_TYPE, "digest": subject.as_str(), "size": 1},
        "annotations": {"org.example.nonce": nonce.to_string()},
    });
    Bytes::from(serde_json::to_vec(&manifest).expect("manifest serialises"))
}

async fn put_all(registry: &Registry, bodies: Vec<(String, Bytes)>) -> anyhow::Result<()> {
    stream::iter(bodies.into_iter().map(Ok))
        .try_for_each_concurrent(16, |(reference, body)| {
            let registry = registry.clone();
            async move { registry.put_manifest(REPO, &reference, body).await }
        })
        .await
}

/// p50 and p99 of `SAMPLES` sequential GETs of `urls` (cycled).
pub(super) async fn latencies(
    registry: &Registry,
    urls: &[String],
) -> anyhow::Result<(Duration, Duration)> {
    let mut samples = Vec::with_capacity(SAMPLES.max(urls.len()));
    for url in urls.iter().cycle().take(SAMPLES.max(urls.len())) {
        let started = Instant::now();
        let response = registry
            .http
            .get(url)
            .header("accept", MANIFEST_TYPE)
            .send()
            .await?;
        if !response.status().is_success() {
            bail!("GET {url}: {}", response.status());
        }
        response.bytes().await?;
        samples.push(started.elapsed());
    }
    samples.sort();
    let p99 = samples[(samples.len() * 99 / 100).min(samples.len() - 1)];
    Ok((median(samples), p99))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

pub async fn run(servers: &[Server], table: &mut Table) -> anyhow::Result<()> {
    let Some(server) = servers.iter().find(|s| s.kind == Kind::Berth) else {
        return Ok(());
    };
    eprintln!("(r) referrers in a repository of {MANIFESTS} manifests");
    let registry = Registry::new(&server.base);
    let config = Bytes::from_static(b"{}");
    let config = (Digest::sha256_of(&config), {
        registry
            .upload_monolithic(REPO, &Digest::sha256_of(&config), config.clone())
            .await?;
        config.len()
    });
    let layer = random_bytes(1024, 11);
    let layer_digest = Digest::sha256_of(&layer);
    registry
        .upload_monolithic(REPO, &layer_digest, layer.clone())
        .await?;
    let layer = (layer_digest, layer.len());

    let tagged: Vec<(String, Bytes)> = (0..TAGGED)
        .map(|i| (format!("t{i}"), image_manifest(&config, &layer, i)))
        .collect();
    let subjects: Vec<Digest> = tagged[..REFERRER_COUNTS.len()]
        .iter()
        .map(|(_, b)| Digest::sha256_of(b))
        .collect();
    put_all(&registry, tagged).await?;
    let tag_urls: Vec<String> = (0..TAGGED)
        .map(|i| format!("{}/v2/{REPO}/manifests/t{i}", server.base))
        .collect();
    // Each tag read once, first time: the metadata path, not the cache.
    let (p50, p99) = latencies(&registry, &tag_urls).await?;
    table.record(
        &format!("(r) tag lookup, uncached, {TAGGED} manifests, p50"),
        "ms",
        Kind::Berth,
        ms(p50),
        Better::Lower,
    );
    table.record(
        &format!("(r) tag lookup, uncached, {TAGGED} manifests, p99"),
        "ms",
        Kind::Berth,
        ms(p99),
        Better::Lower,
    );

    let mut bodies = Vec::with_capacity(MANIFESTS);
    let mut nonce = TAGGED;
    for (subject, count) in subjects.iter().zip(REFERRER_COUNTS) {
        for _ in 0..count {
            let body = referrer(&config, subject, nonce);
            bodies.push((Digest::sha256_of(&body).to_string(), body));
            nonce += 1;
        }
    }
    while bodies.len() + TAGGED < MANIFESTS {
        let body = image_manifest(&config, &layer, nonce);
        bodies.push((Digest::sha256_of(&body).to_string(), body));
        nonce += 1;
    }
    let started = Instant::now();
    let pushed = bodies.len();
    put_all(&registry, bodies).await?;
    let rate = pushed as f64 / started.elapsed().as_secs_f64();
    table.record(
        "(r) manifest PUTs while filling, concurrency 16",
        "req/s",
        Kind::Berth,
        rate,
        Better::Higher,
    );
    // A tag write invalidates the repository's cached reads, so the next lookups miss again.
    registry
        .put_manifest(REPO, "refresh", image_manifest(&config, &layer, 0))
        .await?;
    let (p50, p99) = latencies(&registry, &tag_urls).await?;
    table.record(
        &format!("(r) tag lookup, uncached, {MANIFESTS} manifests, p50"),
        "ms",
        Kind::Berth,
        ms(p50),
        Better::Lower,
    );
    table.record(
        &format!("(r) tag lookup, uncached, {MANIFESTS} manifests, p99"),
        "ms",
        Kind::Berth,
        ms(p99),
        Better::Lower,
    );

    for (subject, count) in subjects.iter().zip(REFERRER_COUNTS) {
        let url = format!("{}/v2/{REPO}/referrers/{subject}?n=100", server.base);
        let (p50, p99) = latencies(&registry, std::slice::from_ref(&url)).await?;
        table.record(
            &format!("(r) first referrers page (n=100), {count} referrers, p50"),
            "ms",
            Kind::Berth,
            ms(p50),
            Better::Lower,
        );
        table.record(
            &format!("(r) first referrers page (n=100), {count} referrers, p99"),
            "ms",
            Kind::Berth,
            ms(p99),
            Better::Lower,
        );
    }
    let url = format!("{}/v2/{REPO}/referrers/{}", server.base, subjects[2]);
    let (p50, p99) = latencies(&registry, std::slice::from_ref(&url)).await?;
    table.record(
        "(r) first referrers page (default 1,000), 10000 referrers, p50",
        "ms",
        Kind::Berth,
        ms(p50),
        Better::Lower,
    );
    table.record(
        "(r) first referrers page (default 1,000), 10000 referrers, p99",
        "ms",
        Kind::Berth,
        ms(p99),
        Better::Lower,
    );
    Ok(())
}
