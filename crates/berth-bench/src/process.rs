//! CPU time and peak memory of a server process, read from /proc.

use anyhow::Context;

/// The running processes of one server (two for a scale-out deployment) observed through
/// /proc; figures are summed over them.
pub struct ProcessStats {
    pub pids: Vec<u32>,
}

/// Clock ticks per second of /proc/<pid>/stat times (USER_HZ, 100 on Linux).
const TICKS_PER_SECOND: f64 = 100.0;

impl ProcessStats {
    /// User plus system CPU seconds consumed so far.
    pub fn cpu_seconds(&self) -> anyhow::Result<f64> {
        self.pids.iter().map(|&pid| cpu_seconds(pid)).sum()
    }

    /// Peak resident set size (VmHWM) in MiB, summed over the processes.
    pub fn peak_rss_mib(&self) -> anyhow::Result<f64> {
        self.pids.iter().map(|&pid| peak_rss_mib(pid)).sum()
    }
}

fn cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    let stat =
        std::fs::read_to_string(format!("/proc/{pid}/stat")).context("reading /proc stat")?;
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th.
    let after_name = stat.rsplit_once(')').context("malformed stat")?.1;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let utime: f64 = fields.get(11).context("utime")?.parse()?;
    let stime: f64 = fields.get(12).context("stime")?.parse()?;
    Ok((utime + stime) / TICKS_PER_SECOND)
}

fn peak_rss_mib(pid: u32) -> anyhow::Result<f64> {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).context("reading /proc status")?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .context("VmHWM")?;
    let kib: f64 = line
        .split_whitespace()
        .nth(1)
        .context("VmHWM value")?
        .parse()?;
    Ok(kib / 1024.0)
}
