//! OCI images as the end-to-end tests push them: media types, descriptors, image manifests and
//! the `Image` builder with deterministic config and layer bytes.

use bytes::Bytes;
use serde_json::{json, Value};

use super::http::{digest_of, pseudo_random};

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

/// An OCI image: config and layer blobs plus the manifest naming them, to be pushed to a tag.
#[derive(Debug, Clone)]
pub struct Image {
    pub repo: String,
    pub tag: String,
    pub config: Bytes,
    pub layers: Vec<Bytes>,
    pub manifest: Bytes,
    pub digest: String,
}

impl Image {
    /// An image with a small JSON config and pseudo-random layers of the given sizes.
    pub fn new(repo: &str, tag: &str, seed: u64, layer_sizes: &[usize]) -> Image {
        let layers: Vec<Bytes> = layer_sizes
            .iter()
            .enumerate()
            .map(|(i, &size)| {
                pseudo_random(seed.wrapping_mul(1000).wrapping_add(i as u64 + 1), size)
            })
            .collect();
        Image::with_layers(repo, tag, seed, layers)
    }

    /// An image with a small JSON config unique to `seed` and the given layers.
    pub fn with_layers(repo: &str, tag: &str, seed: u64, layers: Vec<Bytes>) -> Image {
        let config = Bytes::from(
            serde_json::to_vec(&json!({
                "architecture": "amd64",
                "os": "linux",
                "config": {"Labels": {"seed": seed.to_string()}},
                "rootfs": {"type": "layers", "diff_ids": []},
            }))
            .expect("config serialises"),
        );
        let manifest = image_manifest(&config, &layers, &[("seed", &seed.to_string())]);
        Image {
            repo: repo.to_owned(),
            tag: tag.to_owned(),
            digest: digest_of(&manifest),
            config,
            layers,
            manifest,
        }
    }

    /// Every blob the manifest references: the config first, then the layers.
    pub fn blobs(&self) -> Vec<Bytes> {
        std::iter::once(self.config.clone())
            .chain(self.layers.iter().cloned())
            .collect()
    }
}

/// A descriptor JSON value for `data`.
pub fn descriptor(media_type: &str, data: &[u8]) -> Value {
    json!({"mediaType": media_type, "digest": digest_of(data), "size": data.len()})
}

/// The bytes of an OCI image manifest referencing `config` and `layers`.
pub fn image_manifest(config: &[u8], layers: &[Bytes], annotations: &[(&str, &str)]) -> Bytes {
    let mut manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": descriptor(OCI_CONFIG, config),
        "layers": layers.iter().map(|l| descriptor(OCI_LAYER, l)).collect::<Vec<_>>(),
    });
    if !annotations.is_empty() {
        let map: serde_json::Map<String, Value> = annotations
            .iter()
            .map(|(k, v)| (k.to_string(), Value::from(*v)))
            .collect();
        manifest["annotations"] = Value::Object(map);
    }
    Bytes::from(serde_json::to_vec_pretty(&manifest).expect("manifest serialises"))
}
