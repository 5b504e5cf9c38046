//! Content for the images the tests push: digests, random bytes, tar archives, gzip streams,
//! image configs and descriptors.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};

/// `sha256:<hex>` of `bytes`.
pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// The hex part of a `sha256:` digest, as blob files in layouts and `dir:` copies are named.
pub fn hex_of(digest: &str) -> &str {
    digest.strip_prefix("sha256:").expect("a sha256 digest")
}

/// Pseudo-random bytes, different on every call and every run (splitmix64), so that no test
/// can pass on blobs left over from another.
pub fn random_bytes(len: usize) -> Vec<u8> {
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after epoch")
        .as_nanos() as u64;
    let mut state = nanos
        ^ (CALLS.fetch_add(1, Ordering::Relaxed) << 40)
        ^ (u64::from(std::process::id()) << 20);
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        out.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// A ustar archive holding `files` (path, contents), with fixed metadata so that only the
/// contents vary.
pub fn tar(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut header = tar::Header::new_ustar();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(1_700_000_000);
        builder
            .append_data(&mut header, name, *data)
            .expect("tar entry");
    }
    builder.into_inner().expect("tar archive")
}

/// A gzip stream of `data`.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(data).expect("gzip");
    encoder.finish().expect("gzip")
}

/// A gzip'd tar layer with one random file of `size` bytes, and its uncompressed digest (the
/// diff ID an image config lists).
pub fn tar_gz_layer(path: &str, size: usize) -> (Vec<u8>, String) {
    let contents = random_bytes(size);
    let archive = tar(&[(path, &contents)]);
    let diff_id = sha256(&archive);
    (gzip(&archive), diff_id)
}

/// A linux image config for `arch` over layers with `diff_ids`.
pub fn image_config(arch: &str, diff_ids: &[String]) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "architecture": arch,
        "os": "linux",
        "config": { "Env": ["PATH=/usr/local/bin:/usr/bin"], "Cmd": ["/bin/true"] },
        "rootfs": { "type": "layers", "diff_ids": diff_ids },
        "history": [{ "created_by": "berth end-to-end test" }],
    }))
    .expect("config serialises")
}

/// An OCI descriptor of `bytes`, as JSON.
pub fn descriptor(media_type: &str, bytes: &[u8]) -> Value {
    json!({ "mediaType": media_type, "digest": sha256(bytes), "size": bytes.len() })
}
