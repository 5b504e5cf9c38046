//! Browse: what the web UI asks for, in a repository of 10,000 tagged manifests where one
//! manifest has 1,000 referrers (signatures, SBOMs, attestations, scans). Each browse API call
//! and each UI asset is requested `SAMPLES` times in turn; p50 and p99 are measured at the
//! client over loopback, so they bound the server's time from above. Berth only:
//! distribution has no browse API.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use berth_oci::Digest;
use bytes::Bytes;
use futures::{stream, TryStreamExt};

use super::referrers::referrer_of_type;
use super::{median, Registry};
use crate::data::{image_manifest, random_bytes};
use crate::report::{Better, Table};
use crate::servers::{Kind, Server};

const REPO: &str = "bench/browse";
const TAGS: usize = 10_000;
const REFERRERS: usize = 1_000;
/// Tags on the first page that get a signature and an SBOM each, for the badges.
const DECORATED: usize = 50;
const SAMPLES: usize = 200;

/// The referrers' artifact types, in turn: what a supply chain attaches to an image.
const TYPES: [&str; 4] = [
    "application/vnd.dev.cosign.artifact.sig.v1+json",
    "application/spdx+json",
    "application/vnd.in-toto+json",
    "application/sarif+json",
];

async fn put_all(registry: &Registry, bodies: Vec<(String, Bytes)>) -> anyhow::Result<()> {
    stream::iter(bodies.into_iter().map(Ok))
        .try_for_each_concurrent(16, |(reference, body)| {
            let registry = registry.clone();
            async move { registry.put_manifest(REPO, &reference, body).await }
        })
        .await
}

/// p50 and p99 of `SAMPLES` sequential GETs of `url`, each answer checked to be a success.
async fn latencies(registry: &Registry, url: &str) -> anyhow::Result<(Duration, Duration)> {
    let mut samples = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        let started = Instant::now();
        let response = registry.http.get(url).send().await?;
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

/// The `next` cursor of a browse answer, as a query value.
async fn next_cursor(registry: &Registry, url: &str) -> anyhow::Result<String> {
    let page: serde_json::Value = registry.http.get(url).send().await?.json().await?;
    let next = page["next"]
        .as_str()
        .with_context(|| format!("{url} names no next page: {page}"))?;
    Ok(next
        .replace('%', "%25")
        .replace('&', "%26")
        .replace('+', "%2B"))
}

pub async fn run(servers: &[Server], table: &mut Table) -> anyhow::Result<()> {
    let Some(server) = servers.iter().find(|s| s.kind == Kind::Berth) else {
        return Ok(());
    };
    eprintln!("(u) browse: {TAGS} tags, a manifest with {REFERRERS} referrers");
    let registry = Registry::new(&server.base);
    let empty = Bytes::from_static(b"{}");
    let config = (Digest::sha256_of(&empty), empty.len());
    registry
        .upload_monolithic(REPO, &config.0, empty.clone())
        .await?;
    let layer = random_bytes(1024, 21);
    let layer_digest = Digest::sha256_of(&layer);
    registry
        .upload_monolithic(REPO, &layer_digest, layer.clone())
        .await?;
    let layer = (layer_digest, layer.len());

    let tagged: Vec<(String, Bytes)> = (0..TAGS)
        .map(|i| (format!("t{i:05}"), image_manifest(&config, &layer, i)))
        .collect();
    let subject = Digest::sha256_of(&tagged[0].1);
    let decorated: Vec<Digest> = tagged[..DECORATED]
        .iter()
        .map(|(_, body)| Digest::sha256_of(body))
        .collect();
    put_all(&registry, tagged).await?;
    let mut bodies = Vec::new();
    let mut nonce = TAGS;
    for i in 0..REFERRERS {
        let body = referrer_of_type(&config, &subject, TYPES[i % TYPES.len()], nonce);
        bodies.push((Digest::sha256_of(&body).to_string(), body));
        nonce += 1;
    }
    for digest in &decorated[1..] {
        for kind in &TYPES[..2] {
            let body = referrer_of_type(&config, digest, kind, nonce);
            bodies.push((Digest::sha256_of(&body).to_string(), body));
            nonce += 1;
        }
    }
    put_all(&registry, bodies).await?;

    let base = &server.base;
    let tags = format!("{base}/berth/v1/tags?repository={REPO}");
    let second_page = format!(
        "{tags}&last={}",
        next_cursor(&registry, &format!("{tags}&n=50")).await?
    );
    let calls = [
        ("session", format!("{base}/berth/v1/session")),
        ("repository list", format!("{base}/berth/v1/repositories")),
        (
            "repository search",
            format!("{base}/berth/v1/repositories?q=browse"),
        ),
        ("tags, first page by name", format!("{tags}&n=50")),
        ("tags, second page by name", format!("{second_page}&n=50")),
        ("tags, newest first", format!("{tags}&n=50&sort=-time")),
        (
            "manifest summary, 1,000 referrers",
            format!("{base}/berth/v1/manifest?repository={REPO}&reference=t00000"),
        ),
        (
            "referrers graph with manifests, 1,000 referrers",
            format!("{base}/v2/{REPO}/_berth/referrers-graph/{subject}?manifests=true"),
        ),
        (
            "deletion preview, 1,000 referrers",
            format!("{base}/berth/v1/deletion-preview?repository={REPO}&reference={subject}"),
        ),
        ("UI page", format!("{base}/ui/")),
        ("UI script", format!("{base}/ui/app.js")),
    ];
    for (what, url) in calls {
        let (p50, p99) = latencies(&registry, &url).await?;
        for (quantile, value) in [("p50", p50), ("p99", p99)] {
            table.record(
                &format!("(u) {what}, {quantile}"),
                "ms",
                Kind::Berth,
                value.as_secs_f64() * 1e3,
                Better::Lower,
            );
        }
    }
    Ok(())
}
