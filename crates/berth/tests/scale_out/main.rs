//! Scale-out end to end: two real `berth serve` nodes, each with a data directory of its own,
//! sharing one S3 bucket (Garage) and one PostgreSQL database. Whatever one node is told, the
//! other serves at once: pushes, chunks of one upload, moved tags, referrers; a collection on
//! one node never breaks the other's pushes nor loses tagged content; an upload outlives the
//! node it began on; scheduled collections of both nodes take turns.
//!
//! The servers come from `scripts/services/postgres.sh` (`BERTH_TEST_POSTGRES_URL`) and
//! `scripts/services/garage.sh` (the variables it writes to `target/services/garage/env`);
//! every test panics when they are missing. Each pair of nodes gets a fresh schema (dropped at
//! the end) and a key prefix of its own in the bucket.

#[path = "../support/mod.rs"]
mod support;

mod artifacts;
mod cluster;
mod collection;
mod logs;
mod pulls;
mod pushers;
mod referrers;
mod scheduled;
mod uploads;
