//! (d) manifest GET by tag under load, (e) distinct manifest PUTs, (f) 10,000 tags.

use std::time::{Duration, Instant};

use anyhow::bail;
use berth_oci::Digest;
use bytes::Bytes;
use futures::{stream, TryStreamExt};

use super::wrk::Wrk;
use super::{median, timed, with_cpu, Registry};
use crate::data::{image_manifest, random_bytes};
use crate::report::{Better, Table};
use crate::servers::Server;
use crate::Options;

/// Pushes a config and a layer into `repo` and returns their descriptors.
pub(super) async fn push_base(
    registry: &Registry,
    repo: &str,
) -> anyhow::Result<((Digest, usize), (Digest, usize))> {
    let config = Bytes::from_static(b"{\"architecture\":\"amd64\",\"os\":\"linux\"}");
    let layer = random_bytes(4096, 7);
    let mut descriptors = Vec::new();
    for blob in [config, layer] {
        let digest = Digest::sha256_of(&blob);
        registry
            .upload_monolithic(repo, &digest, blob.clone())
            .await?;
        descriptors.push((digest, blob.len()));
    }
    let layer = descriptors.pop().expect("layer");
    let config = descriptors.pop().expect("config");
    Ok((config, layer))
}

pub async fn run(servers: &[Server], table: &mut Table, options: &Options) -> anyhow::Result<()> {
    get_load(servers, table, options).await?;
    for concurrency in [1usize, 8] {
        eprintln!(
            "(e) {} manifest PUTs at concurrency {concurrency}, in {ROUNDS} rounds",
            options.manifests
        );
        let figure = format!("(e) manifest PUTs, concurrency {concurrency}");
        let repo = format!("bench/put{concurrency}");
        let mut bases = Vec::new();
        for server in servers {
            bases.push(push_base(&Registry::for_server(server), &repo).await?);
        }
        let mut elapsed = vec![Duration::ZERO; servers.len()];
        for round in 0..ROUNDS {
            for index in rotation(servers.len(), round) {
                let (server, (config, layer)) = (&servers[index], &bases[index]);
                let registry = Registry::for_server(server);
                let bodies: Vec<(usize, Bytes)> = share(options.manifests, round)
                    .map(|i| (i, image_manifest(config, layer, i + 1)))
                    .collect();
                let work = timed(async {
                    stream::iter(bodies.into_iter().map(Ok))
                        .try_for_each_concurrent(concurrency, |(i, body)| {
                            let registry = registry.clone();
                            let repo = repo.clone();
                            async move {
                                registry.put_manifest(&repo, &format!("m{i}"), body).await
                            }
                        })
                        .await
                });
                elapsed[index] += with_cpu(server, table, &figure, work).await?;
            }
        }
        for (server, elapsed) in servers.iter().zip(elapsed) {
            table.record(
                &figure,
                "req/s",
                server.kind,
                options.manifests as f64 / elapsed.as_secs_f64(),
                Better::Higher,
            );
        }
    }
    eprintln!("(f) {} tags, in {ROUNDS} rounds", options.tags);
    let repo = "bench/tags";
    let mut bodies = Vec::new();
    for server in servers {
        let (config, layer) = push_base(&Registry::for_server(server), repo).await?;
        bodies.push(image_manifest(&config, &layer, 0));
    }
    let mut elapsed = vec![Duration::ZERO; servers.len()];
    for round in 0..ROUNDS {
        for index in rotation(servers.len(), round) {
            let server = &servers[index];
            elapsed[index] +=
                create_tags(server, table, repo, &bodies[index], options, round).await?;
        }
    }
    for (server, elapsed) in servers.iter().zip(elapsed) {
        table.record(
            "(f) tag creation, concurrency 8",
            "tags/s",
            server.kind,
            options.tags as f64 / elapsed.as_secs_f64(),
            Better::Higher,
        );
        list_tags(server, table, repo, options).await?;
    }
    Ok(())
}

/// (d): the GET load in rounds. In the observability group each round runs on a server of
/// each kind started for it, so that its figure is the median over as many server processes
/// as rounds. On a shared machine two processes configured alike differed by up to 10 % over
/// 15 rounds each: a process's placement and luck weigh as much as the cost the group is
/// there to measure.
async fn get_load(servers: &[Server], table: &mut Table, options: &Options) -> anyhow::Result<()> {
    let rounds = GET_ROUNDS.max((options.load_seconds / GET_ROUND_SECONDS) as usize);
    let seconds = GET_ROUND_SECONDS;
    let fresh = options.observability();
    let each = if fresh {
        ", each on a server started for it"
    } else {
        ""
    };
    eprintln!("(d) manifest GET by tag, 64 connections, {rounds} rounds of {seconds} s{each}");
    let mut rates = vec![Vec::new(); servers.len()];
    let mut p99s = vec![Vec::new(); servers.len()];
    for round in 0..rounds {
        for index in rotation(servers.len(), round) {
            // Started for this round only, and stopped (dropped) before the next one starts.
            let started;
            let server = if fresh {
                started = Server::start(servers[index].kind).await?;
                &started
            } else {
                &servers[index]
            };
            if fresh || round == 0 {
                let registry = Registry::for_server(server);
                let (config, layer) = push_base(&registry, "bench/get").await?;
                registry
                    .put_manifest("bench/get", "latest", image_manifest(&config, &layer, 0))
                    .await?;
            }
            // Every node of the deployment takes its share of the load.
            let urls: Vec<String> = server
                .nodes
                .iter()
                .map(|node| format!("{node}/v2/bench/get/manifests/latest"))
                .collect();
            let load = with_cpu(server, table, "(d) manifest GET load", async {
                Wrk::new(2, seconds).run_spread(&urls)
            })
            .await?;
            rates[index].push(load.requests_per_second);
            p99s[index].push(load.p99_ms);
        }
    }
    for (index, server) in servers.iter().enumerate() {
        table.record(
            "(d) manifest GET by tag, 64 connections",
            "req/s",
            server.kind,
            middle(&mut rates[index]),
            Better::Higher,
        );
        table.record(
            "(d) manifest GET by tag, p99 latency",
            "ms",
            server.kind,
            middle(&mut p99s[index]),
            Better::Lower,
        );
    }
    Ok(())
}

/// The write workloads run in rounds, each server taking a share of the work in every round,
/// first in turn: on one machine, what ran just before (the writeback of another server's
/// fsyncs, a warm or cold cache) moves a server's figures by several percent, which would
/// otherwise always favour the same server.
const ROUNDS: usize = 10;

/// Rounds of the GET load at least, each server first in turn as in the write workloads; its
/// figures are the median round's. A longer `--load-seconds` runs more rounds, not longer
/// ones: on a shared machine the rate moves by 10 % and more from one round to the next, and
/// only many rounds bring the median of each server to within a few percent.
const GET_ROUNDS: usize = 5;
/// Seconds of each GET round.
const GET_ROUND_SECONDS: u32 = 2;

/// The median of `samples` (the upper one of an even count).
fn middle(samples: &mut [f64]) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

/// The order of the servers in `round`: each one first in turn.
fn rotation(servers: usize, round: usize) -> impl Iterator<Item = usize> {
    (0..servers).map(move |i| (i + round) % servers)
}

/// The items of `total` that `round` takes: every `ROUNDS`-th, so that each round's share
/// differs by at most one.
fn share(total: usize, round: usize) -> impl Iterator<Item = usize> {
    (round..total).step_by(ROUNDS)
}

/// Creates the round's share of the tags on `server`; how long it took.
async fn create_tags(
    server: &Server,
    table: &mut Table,
    repo: &str,
    body: &Bytes,
    options: &Options,
    round: usize,
) -> anyhow::Result<Duration> {
    let registry = Registry::for_server(server);
    let work = timed(async {
        stream::iter(share(options.tags, round).map(Ok))
            .try_for_each_concurrent(8, |i| {
                let registry = registry.clone();
                let body = body.clone();
                async move {
                    registry
                        .put_manifest(repo, &format!("tag-{i:05}"), body)
                        .await
                }
            })
            .await
    });
    with_cpu(server, table, "(f) tag creation", work).await
}

/// Lists the tags of `repo` on `server`, whole and in pages, checking that every one is there.
async fn list_tags(
    server: &Server,
    table: &mut Table,
    repo: &str,
    options: &Options,
) -> anyhow::Result<()> {
    let registry = Registry::for_server(server);
    let full = format!("{}/v2/{repo}/tags/list", server.base);
    let mut samples = Vec::new();
    for _ in 0..21 {
        let started = Instant::now();
        let (tags, _) = registry.tags_page(&full).await?;
        samples.push(started.elapsed());
        if tags.len() != options.tags {
            bail!(
                "{:?} listed {} tags, expected {}",
                server.kind,
                tags.len(),
                options.tags
            );
        }
    }
    table.record(
        "(f) full tag list, p50 of 21",
        "ms",
        server.kind,
        ms(median(samples)),
        Better::Lower,
    );

    let started = Instant::now();
    let mut next = Some(format!("{full}?n=100"));
    let mut listed = 0;
    while let Some(url) = next {
        let (tags, link) = registry.tags_page(&url).await?;
        listed += tags.len();
        next = link;
    }
    if listed != options.tags {
        bail!(
            "{:?} paged through {listed} tags, expected {}",
            server.kind,
            options.tags
        );
    }
    table.record(
        "(f) all tags in pages of n=100",
        "ms",
        server.kind,
        ms(started.elapsed()),
        Better::Lower,
    );
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
