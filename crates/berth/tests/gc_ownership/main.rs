//! Who owns a data directory, end to end with the real binary: one process at a time holds it
//! (`berth serve`, or a `berth gc` collecting directly) through a lock the OS drops with the
//! process; `berth gc` collects through the server that owns the directory, with the policy
//! flags it was given, and never through a server that serves another directory.
//!
//! `locks` holds the refusals and what `kill -9` leaves; `routing` which registry `berth gc`
//! acts on; `commands` runs `berth` and pushes what the tests collect.

#[path = "../support/mod.rs"]
mod support;

mod commands;
mod locks;
mod routing;
