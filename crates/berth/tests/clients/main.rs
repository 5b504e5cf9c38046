//! End-to-end tests that start the real `berth` binary and drive it with real clients: the
//! `oci-client` crate, `skopeo`, and raw HTTP (reqwest) to double-check what they saw.
//!
//! The tests live in one module per client and scenario; the rest are helpers they share.

#[path = "../support/mod.rs"]
mod support;

mod content;
mod layout;
mod oci_client_image;
mod oci_client_index;
mod oci_helpers;
mod served;
mod skopeo;
mod skopeo_docker;
mod skopeo_oci;
