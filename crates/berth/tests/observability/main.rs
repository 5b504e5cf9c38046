//! Observability end to end on the real `berth` binary: Prometheus metrics at `/metrics` that
//! move by exactly what a push, a pull, a delete and a collection did (on the embedded default
//! and on PostgreSQL + S3), `/livez` and `/readyz` following the stores' reachability, the
//! JSON access log without secrets, and graceful shutdown within `shutdown_timeout`.
//!
//! The scale-out cases need `BERTH_TEST_POSTGRES_URL` and the Garage variables (see
//! `scripts/services/`), and panic when they are missing.

#[path = "../support/mod.rs"]
mod support;

mod access_log;
mod deployment;
mod health;
mod metrics;
mod scrape;
mod shutdown;
