//! Reading a node's log: the timestamped lines of one message, and its collections as
//! intervals from "garbage collection started" to "garbage collection finished".

use std::time::SystemTime;

/// The times of the log lines whose message is `message` (the fmt layer's lines start with an
/// RFC 3339 timestamp in UTC).
pub fn times_of(log: &str, message: &str) -> Vec<SystemTime> {
    log.lines()
        .filter(|line| line.contains(message))
        .map(|line| {
            let stamp = line.split_whitespace().next().unwrap_or_default();
            humantime::parse_rfc3339(stamp)
                .unwrap_or_else(|e| panic!("log line without a timestamp ({e}): {line}"))
        })
        .collect()
}

/// A node's collection: when it started and when it finished (`None` while it runs).
#[derive(Debug, Clone, Copy)]
pub struct Run {
    pub node: &'static str,
    pub start: SystemTime,
    pub end: Option<SystemTime>,
}

/// The collections of one node's `log`, in order. A node's collections never overlap one
/// another (they take the same lock), so each start pairs with the next finish.
pub fn collections(node: &'static str, log: &str) -> Vec<Run> {
    let mut runs: Vec<Run> = Vec::new();
    for line in log.lines() {
        let started = line.contains("garbage collection started");
        let finished = line.contains("garbage collection finished");
        if !started && !finished {
            continue;
        }
        let stamp = line.split_whitespace().next().unwrap_or_default();
        let time = humantime::parse_rfc3339(stamp)
            .unwrap_or_else(|e| panic!("log line without a timestamp ({e}): {line}"));
        if started {
            if let Some(open) = runs.last().filter(|r| r.end.is_none()) {
                panic!("node {node}: a collection started at {time:?} while {open:?} ran:\n{log}");
            }
            runs.push(Run {
                node,
                start: time,
                end: None,
            });
        } else {
            match runs.last_mut() {
                Some(run) if run.end.is_none() => run.end = Some(time),
                _ => panic!("node {node}: a collection finished at {time:?} without a start"),
            }
        }
    }
    runs
}

/// `time` as seconds.micros since the epoch, for messages.
pub fn stamp(time: SystemTime) -> String {
    humantime::format_rfc3339_micros(time).to_string()
}
