//! Test content: incompressible pseudo-random bytes and small manifests.

use berth_oci::Digest;
use bytes::Bytes;

/// `len` bytes from a xorshift generator seeded by `seed`: fast, and distinct per seed.
pub fn random_bytes(len: usize, seed: u64) -> Bytes {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    Bytes::from(out)
}

/// An OCI image manifest over `config` and `layer`, made distinct by `nonce`.
pub fn image_manifest(config: &(Digest, usize), layer: &(Digest, usize), nonce: usize) -> Bytes {
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config.0.as_str(), "size": config.1},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer.0.as_str(), "size": layer.1}],
        "annotations": {"org.example.nonce": nonce.to_string()},
    });
    Bytes::from(serde_json::to_vec(&manifest).expect("manifest serialises"))
}

pub const MANIFEST_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
