//! The `scale-out` group: the blob and manifest workloads against Berth embedded, Berth
//! scale-out (two nodes on S3 and PostgreSQL) and distribution on its S3 driver; the referrers
//! API as a repository grows; and an online collection on each Berth deployment with push
//! latency during it against push latency idle.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::gc::{fill, manifest, REPO};
use super::{blobs, manifests, referrers_scale, Registry};
use crate::report::{Better, Table};
use crate::servers::{Kind, Server};
use crate::Options;

/// Sequential pushes measured before the collection, for the idle latency.
const IDLE_PUSHES: usize = 200;

pub async fn run(servers: &[Server], table: &mut Table, options: &Options) -> anyhow::Result<()> {
    blobs::run(servers, table, options).await?;
    manifests::run(servers, table, options).await?;
    for server in servers.iter().filter(|s| s.kind.is_berth()) {
        eprintln!(
            "(rs) {}: referrers at {:?} manifests",
            server.kind.label(),
            options.referrer_sizes
        );
        referrers_scale::run(server, table, &options.referrer_sizes).await?;
    }
    for kind in [Kind::Berth, Kind::BerthScaleOut] {
        online_collection(kind, table, options.gc_manifests).await?;
    }
    Ok(())
}

/// Quantile `q` (0 to 1) of sorted durations, in milliseconds.
fn quantile_ms(sorted: &[Duration], q: f64) -> f64 {
    let index = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[index].as_secs_f64() * 1e3
}

/// Tagged manifest PUTs to `node`, one after the other, numbered `n`, `n + 2`, ... (odd or
/// even, so that two pushers never collide), until `keep_going` turns false or `limit` are
/// done; returns each one's latency.
async fn push(
    node: &str,
    pool: &[(berth_oci::Digest, usize)],
    mut n: usize,
    limit: usize,
    keep_going: &AtomicBool,
) -> anyhow::Result<Vec<Duration>> {
    let registry = Registry::new(node);
    let mut waits = Vec::new();
    while keep_going.load(Ordering::Relaxed) && waits.len() < limit {
        let started = Instant::now();
        registry
            .put_manifest(REPO, &format!("live{n}"), manifest(pool, n))
            .await?;
        waits.push(started.elapsed());
        n += 2;
    }
    waits.sort();
    Ok(waits)
}

/// Fills a fresh deployment of `kind` as the `gc` group does (`manifests` manifests over 10
/// blobs each, half of them untagged), measures push latency idle, then collects through the
/// first node while the last node takes pushes (the same node when there is one).
async fn online_collection(kind: Kind, table: &mut Table, manifests: usize) -> anyhow::Result<()> {
    eprintln!(
        "(ls) {}: online collection of {manifests} manifests",
        kind.label()
    );
    let policy = [
        "--gc-untagged",
        "delete",
        "--gc-grace",
        "0s",
        "--gc-interval",
        "0s",
    ];
    let server = Server::start_with(kind, &policy).await?;
    let pool = fill(&Registry::for_server(&server), manifests).await?;
    let push_node = server.nodes.last().expect("a node").clone();

    let always = AtomicBool::new(true);
    let idle = push(&push_node, &pool, manifests * 2 + 1, IDLE_PUSHES, &always).await?;

    let pushing = Arc::new(AtomicBool::new(true));
    let pusher = {
        let (pushing, pool, node) = (pushing.clone(), pool.clone(), push_node.clone());
        tokio::spawn(async move { push(&node, &pool, manifests * 2, usize::MAX, &pushing).await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let registry = Registry::new(&server.base);
    let started = Instant::now();
    let response = registry
        .http
        .post(format!("{}/berth/v1/gc", server.base))
        .send()
        .await?
        .error_for_status()?;
    let elapsed = started.elapsed();
    let report: serde_json::Value = response.json().await?;
    pushing.store(false, Ordering::Relaxed);
    let during = pusher.await??;
    anyhow::ensure!(
        report["manifests_deleted"].as_u64() == Some((manifests / 2) as u64),
        "expected {} manifests collected: {report}",
        manifests / 2
    );
    anyhow::ensure!(!during.is_empty(), "no push finished during the collection");
    table.record(
        &format!("(ls) online collection, {manifests} manifests"),
        "s",
        kind,
        elapsed.as_secs_f64(),
        Better::Lower,
    );
    eprintln!(
        "  {} pushes during the collection, {} idle",
        during.len(),
        idle.len()
    );
    for (label, q) in [("p50", 0.5), ("p99", 0.99)] {
        table.record(
            &format!("(ls) push latency, idle, {label}"),
            "ms",
            kind,
            quantile_ms(&idle, q),
            Better::Lower,
        );
        table.record(
            &format!("(ls) push latency during the collection, {label}"),
            "ms",
            kind,
            quantile_ms(&during, q),
            Better::Lower,
        );
    }
    table.record(
        "(ls) push latency during the collection, slowest",
        "ms",
        kind,
        quantile_ms(&during, 1.0),
        Better::Lower,
    );
    table.record(
        "(ls) pushes completed during the collection",
        "pushes",
        kind,
        during.len() as f64,
        Better::Higher,
    );
    Ok(())
}
