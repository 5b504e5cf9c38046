//! Hostile and malformed requests against the real binary. Each must be answered with a 4xx
//! and an OCI error body (`{"errors":[{"code":..}]}`), never a 5xx, must touch nothing
//! outside the data directory, and must leave an image pushed before it byte-exact.
//!
//! This file only gathers the themes; the fixture every test starts from is in `fixture`.

#[path = "../support/mod.rs"]
mod support;

mod digests;
mod fixture;
mod manifest_bodies;
mod manifest_refs;
mod names;
mod ranges;
mod routes;
mod sessions;
