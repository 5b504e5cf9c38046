//! HTTP load from wrk: a lean C client, so the load generator costs the two-core machine as
//! little CPU as possible and the figures are the server's, not an in-process client's.

use std::process::{Command, Output, Stdio};

use anyhow::{bail, Context};

use crate::data::MANIFEST_TYPE;

/// Throughput and tail latency of one wrk run.
pub struct Load {
    pub requests_per_second: f64,
    pub p99_ms: f64,
}

/// Connections of one load, over every URL.
const CONNECTIONS: u32 = 64;

/// One wrk invocation: 64 connections over `threads` threads for `seconds`, asking for an OCI
/// image manifest, with any extra headers (such as `Authorization`).
pub struct Wrk {
    threads: u32,
    seconds: u32,
    headers: Vec<String>,
}

impl Wrk {
    pub fn new(threads: u32, seconds: u32) -> Wrk {
        Wrk {
            threads,
            seconds,
            headers: vec![format!("Accept: {MANIFEST_TYPE}")],
        }
    }

    /// Sends `header` (`Name: value`) with every request.
    pub fn header(mut self, header: String) -> Wrk {
        self.headers.push(header);
        self
    }

    /// Runs the load against `url`; any non-2xx answer fails the run, so a refused credential
    /// cannot pass for a fast one.
    pub fn run(&self, url: &str) -> anyhow::Result<Load> {
        self.run_spread(&[url.to_owned()])
    }

    /// Runs the load against every URL of `urls` at once (the nodes of one deployment): one
    /// wrk process per URL, the threads and the 64 connections split evenly between them.
    /// Throughput is their sum; the p99 is the worst of their p99s.
    pub fn run_spread(&self, urls: &[String]) -> anyhow::Result<Load> {
        let share = urls.len() as u32;
        let threads = (self.threads / share).max(1);
        let connections = (CONNECTIONS / share).max(threads);
        let children = urls
            .iter()
            .map(|url| {
                let mut command = Command::new("wrk");
                command.args([
                    &format!("-t{threads}"),
                    &format!("-c{connections}"),
                    &format!("-d{}s", self.seconds),
                    "--latency",
                ]);
                for header in &self.headers {
                    command.arg("-H").arg(header);
                }
                command
                    .arg(url)
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .context("running wrk")
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let mut total = Load {
            requests_per_second: 0.0,
            p99_ms: 0.0,
        };
        for child in children {
            let load = parse(child.wait_with_output()?)?;
            total.requests_per_second += load.requests_per_second;
            total.p99_ms = total.p99_ms.max(load.p99_ms);
        }
        Ok(total)
    }
}

fn parse(output: Output) -> anyhow::Result<Load> {
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() || text.contains("Non-2xx") {
        bail!("wrk saw errors:\n{text}");
    }
    let requests_per_second = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Requests/sec:"))
        .context("wrk Requests/sec")?
        .trim()
        .parse()?;
    let p99 = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("99%"))
        .context("wrk 99% latency")?
        .trim();
    Ok(Load {
        requests_per_second,
        p99_ms: parse_wrk_duration(p99)?,
    })
}

/// wrk prints durations as `812.00us`, `12.34ms` or `1.02s`.
fn parse_wrk_duration(text: &str) -> anyhow::Result<f64> {
    let (number, factor) = if let Some(n) = text.strip_suffix("us") {
        (n, 1e-3)
    } else if let Some(n) = text.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1e3)
    } else {
        bail!("unknown wrk duration {text:?}")
    };
    Ok(number.parse::<f64>()? * factor)
}
