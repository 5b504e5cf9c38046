//! Online garbage collection end to end: collections run back to back while clients push, tag,
//! refer, mount and delete, and never lose a reachable manifest or blob nor fail a push with a
//! server error; a collection killed midway (SIGKILL) leaves a consistent data directory whose
//! next collection finishes the work.
//!
//! This file only gathers the themes: the two tests are in `concurrent` and `crash`; the
//! clients' workload is in `workload`, `client` and `pusher`; the rest are shared checks.

#[path = "../support/mod.rs"]
mod support;

mod checks;
mod client;
mod collections;
mod concurrent;
mod crash;
mod pusher;
mod requests;
mod workload;
