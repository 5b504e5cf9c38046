//! (h) the cost of authentication: manifest GET by tag under load, anonymous, with a Bearer
//! token and with Basic credentials, on one Berth under access control, next to
//! distribution anonymous (no auth) and with its htpasswd Basic auth.
//!
//! Berth's three modes run on the same server and configuration (anonymous pull is allowed on
//! the benchmark repository), so the differences are the cost of checking credentials alone.
//! Distribution cannot allow anonymous pulls once auth is on, so its anonymous figure comes
//! from the open server the other workloads use. Modes alternate and the order rotates every
//! round; each figure is the median of the rounds, as this two-core machine is noisy.

use anyhow::{bail, Context};
use base64::Engine;

use super::manifests::push_base;
use super::wrk::Wrk;
use super::Registry;
use crate::data::image_manifest;
use crate::report::{Better, Table};
use crate::servers::{Kind, Server};
use crate::Options;

const USER: &str = "bench";
const PASSWORD: &str = "bench-secret";
const REPO: &str = "bench/auth";
const ROUNDS: usize = 3;
/// `htpasswd -B`'s default cost: what a user file written by hand usually holds.
const BCRYPT_COST: u32 = 5;
/// One wrk thread: it cannot take more than one of the two cores from the server, and one
/// thread is enough to keep 64 connections busy.
const WRK_THREADS: u32 = 1;

/// Berth's `[auth]` table after `htpasswd`: the user may pull and push the benchmark
/// repositories, and anyone may pull them.
const BERTH_AUTH: &str = r#"service = "berth-bench"
token_ttl = "1h"

[auth.policy]
anonymous_pull = ["bench/*"]

[[auth.policy.rules]]
repositories = "bench/*"
users = ["bench"]
actions = ["pull", "push"]
"#;

/// How a mode authenticates each request.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Credential {
    Anonymous,
    Bearer,
    Basic,
}

impl Credential {
    fn label(self) -> &'static str {
        match self {
            Credential::Anonymous => "anonymous",
            Credential::Bearer => "Bearer token",
            Credential::Basic => "Basic",
        }
    }
}

/// One measured combination: which server, how it is called, and its samples.
struct Mode<'a> {
    server: &'a Server,
    credential: Credential,
    rates: Vec<f64>,
    cpu_seconds: f64,
    requests: f64,
}

pub async fn run(servers: &[Server], table: &mut Table, options: &Options) -> anyhow::Result<()> {
    eprintln!(
        "(h) manifest GET by tag with authentication, 64 connections, {} s x {ROUNDS} rounds",
        options.load_seconds
    );
    let hash = bcrypt::hash(PASSWORD, BCRYPT_COST)?;
    let htpasswd = format!("{USER}:{hash}\n");
    let berth = Server::start_with_auth(Kind::Berth, &htpasswd, BERTH_AUTH).await?;
    let distribution = Server::start_with_auth(Kind::Distribution, &htpasswd, "").await?;
    let open_distribution = servers
        .iter()
        .find(|s| s.kind == Kind::Distribution)
        .context("the open distribution server")?;
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"))
    );
    for (server, authorization) in [
        (&berth, Some(basic.as_str())),
        (&distribution, Some(basic.as_str())),
        (open_distribution, None),
    ] {
        push_tagged(server, authorization).await?;
    }
    let mut modes: Vec<Mode> = [
        (&berth, Credential::Anonymous),
        (&berth, Credential::Bearer),
        (&berth, Credential::Basic),
        (open_distribution, Credential::Anonymous),
        (&distribution, Credential::Basic),
    ]
    .into_iter()
    .map(|(server, credential)| Mode {
        server,
        credential,
        rates: Vec::new(),
        cpu_seconds: 0.0,
        requests: 0.0,
    })
    .collect();
    let count = modes.len();
    for round in 0..ROUNDS {
        // A fresh token each round, so none nears its expiry during the load.
        let bearer = format!("Bearer {}", token(&berth.base).await?);
        for index in (0..count).map(|i| (i + round) % count) {
            let mode = &mut modes[index];
            let authorization = match mode.credential {
                Credential::Anonymous => None,
                Credential::Bearer => Some(bearer.as_str()),
                Credential::Basic => Some(basic.as_str()),
            };
            measure(mode, authorization, options.load_seconds).await?;
        }
    }
    record(table, &modes);
    Ok(())
}

/// Pushes a config, a layer and a manifest tagged `latest` into the benchmark repository.
async fn push_tagged(server: &Server, authorization: Option<&str>) -> anyhow::Result<()> {
    let registry = match authorization {
        Some(value) => Registry::with_authorization(&server.base, value)?,
        None => Registry::new(&server.base),
    };
    let (config, layer) = push_base(&registry, REPO).await?;
    registry
        .put_manifest(REPO, "latest", image_manifest(&config, &layer, 0))
        .await
}

fn manifest_url(server: &Server) -> String {
    format!("{}/v2/{REPO}/manifests/latest", server.base)
}

/// One wrk run of `mode`, after a single request that must succeed (and that pays Basic's
/// one bcrypt verification before the load starts).
async fn measure(
    mode: &mut Mode<'_>,
    authorization: Option<&str>,
    seconds: u32,
) -> anyhow::Result<()> {
    let url = manifest_url(mode.server);
    let mut request = reqwest::Client::new()
        .get(&url)
        .header(reqwest::header::ACCEPT, crate::data::MANIFEST_TYPE);
    if let Some(value) = authorization {
        request = request.header(reqwest::header::AUTHORIZATION, value);
    }
    let status = request.send().await?.status();
    if !status.is_success() {
        bail!(
            "{:?} {} manifest GET answered {status}",
            mode.server.kind,
            mode.credential.label()
        );
    }
    let mut wrk = Wrk::new(WRK_THREADS, seconds);
    if let Some(value) = authorization {
        wrk = wrk.header(format!("Authorization: {value}"));
    }
    let stats = mode.server.process();
    let before = stats.cpu_seconds()?;
    let load = wrk.run(&url)?;
    mode.cpu_seconds += stats.cpu_seconds()? - before;
    mode.requests += load.requests_per_second * f64::from(seconds);
    eprintln!(
        "  {:?} {}: {:.0} req/s",
        mode.server.kind,
        mode.credential.label(),
        load.requests_per_second
    );
    mode.rates.push(load.requests_per_second);
    Ok(())
}

/// A token for pulling the benchmark repository from Berth's token service, for the
/// `service` its challenge names, as a client following the challenge would get it.
async fn token(base: &str) -> anyhow::Result<String> {
    let client = reqwest::Client::new();
    let challenge = client.get(format!("{base}/v2/")).send().await?;
    let header = challenge
        .headers()
        .get(reqwest::header::WWW_AUTHENTICATE)
        .context("no challenge on /v2/")?
        .to_str()?;
    let service = header
        .split(',')
        .find_map(|part| part.trim().strip_prefix("service="))
        .context("no service in the challenge")?
        .trim_matches('"')
        .to_owned();
    let response = client
        .get(format!("{base}/berth/v1/token"))
        .query(&[
            ("service", service.as_str()),
            ("scope", &format!("repository:{REPO}:pull")),
        ])
        .basic_auth(USER, Some(PASSWORD))
        .send()
        .await?;
    if !response.status().is_success() {
        bail!("token service answered {}", response.status());
    }
    let body: serde_json::Value = response.json().await?;
    body["token"]
        .as_str()
        .map(str::to_owned)
        .context("no token in the token service's answer")
}

fn median(rates: &[f64]) -> f64 {
    let mut sorted = rates.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}

/// Throughput per mode, the cost of each credential relative to anonymous on the same server
/// kind, and the server CPU each request took.
fn record(table: &mut Table, modes: &[Mode]) {
    let median_of = |kind: Kind, credential: Credential| {
        modes
            .iter()
            .find(|m| m.server.kind == kind && m.credential == credential)
            .map(|m| median(&m.rates))
    };
    for mode in modes {
        table.record(
            &format!(
                "(h) manifest GET by tag, 64 connections, {}, median of {ROUNDS}",
                mode.credential.label()
            ),
            "req/s",
            mode.server.kind,
            median(&mode.rates),
            Better::Higher,
        );
    }
    for credential in [Credential::Bearer, Credential::Basic] {
        for kind in [Kind::Berth, Kind::Distribution] {
            if let (Some(anonymous), Some(with)) = (
                median_of(kind, Credential::Anonymous),
                median_of(kind, credential),
            ) {
                table.record(
                    &format!("(h) throughput lost to {} vs anonymous", credential.label()),
                    "%",
                    kind,
                    (1.0 - with / anonymous) * 100.0,
                    Better::Lower,
                );
            }
        }
    }
    for mode in modes {
        table.record(
            &format!("(h) server CPU per request, {}", mode.credential.label()),
            "us",
            mode.server.kind,
            mode.cpu_seconds / mode.requests * 1e6,
            Better::Lower,
        );
    }
}
