//! Many clients at once against the real binary: the same and different blobs (monolithic and
//! chunked) and manifests (same tag, different tags, one tag raced by different manifests),
//! in the same and in different repositories, with readers polling all along. Afterwards
//! everything pushed is readable byte-exact, every tag names one of the manifests pushed to
//! it, tag lists are complete, and no staged upload is left behind.
//!
//! This file only gathers the modules: what each client pushes is planned in `plans`.

#[path = "../support/mod.rs"]
mod support;

mod plans;
mod pushes;
mod sessions;
