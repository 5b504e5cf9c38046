//! HTTP load from wrk: a lean C client, so the load generator costs the two-core machine as
//! little CPU as possible and the figures are the server's, not an in-process client's.

use std::process::Command;

use anyhow::{bail, Context};

use crate::data::MANIFEST_TYPE;

/// Throughput and tail latency of one wrk run.
pub struct Load {
    pub requests_per_second: f64,
    pub p99_ms: f64,
}

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
        let mut command = Command::new("wrk");
        command.args([
            &format!("-t{}", self.threads),
            "-c64",
            &format!("-d{}s", self.seconds),
            "--latency",
        ]);
        for header in &self.headers {
            command.arg("-H").arg(header);
        }
        let output = command.arg(url).output().context("running wrk")?;
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
