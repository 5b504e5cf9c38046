//! Interoperability of the spec fixes with the clients that meet them, on the real `berth`
//! binary: the `oci-client` crate (referrers of a missing repository, the catalog after
//! deletes, resumed blob downloads), the ORAS Python SDK (`oras_rules.py`: the ORAS subject
//! rule, rc2 artifact manifests, newest-first ORAS listings), and raw HTTP over real sockets
//! (unnamable manifests, conditional requests and their races, discovery, name errors).
//!
//! This file only gathers the themes; `relay` records what a client library sends.

#[path = "../support/mod.rs"]
mod support;

mod conditional;
mod oci_client_rules;
mod oras_rules;
mod relay;
mod spec_edges;
