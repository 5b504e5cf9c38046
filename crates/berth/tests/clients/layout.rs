//! Hand-built OCI images: one platform's image, a multi-platform index over them, and an OCI
//! image layout on disk for skopeo to copy from; also reading back the files skopeo writes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use oci_client::manifest::{
    IMAGE_CONFIG_MEDIA_TYPE, IMAGE_LAYER_GZIP_MEDIA_TYPE, OCI_IMAGE_INDEX_MEDIA_TYPE,
    OCI_IMAGE_MEDIA_TYPE,
};
use serde_json::{json, Value};

use crate::content::{descriptor, hex_of, image_config, sha256, tar_gz_layer};

/// The annotation that names an image in a layout's `index.json`.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// One platform's image, built by hand: config, two layers, manifest bytes.
pub struct PlatformImage {
    pub arch: &'static str,
    pub config: Vec<u8>,
    pub layers: Vec<Vec<u8>>,
    pub manifest: Vec<u8>,
}

impl PlatformImage {
    /// An OCI image for linux/`arch`. The manifest is pretty-printed on purpose: a registry
    /// that re-serialises instead of storing bytes would change its digest.
    pub fn build(arch: &'static str, big_layer: usize) -> PlatformImage {
        let (small, small_diff) = tar_gz_layer(&format!("etc/{arch}-release"), 2_000);
        let (big, big_diff) = tar_gz_layer("opt/data.bin", big_layer);
        let config = image_config(arch, &[small_diff, big_diff]);
        let manifest = serde_json::to_vec_pretty(&json!({
            "schemaVersion": 2,
            "mediaType": OCI_IMAGE_MEDIA_TYPE,
            "config": descriptor(IMAGE_CONFIG_MEDIA_TYPE, &config),
            "layers": [
                descriptor(IMAGE_LAYER_GZIP_MEDIA_TYPE, &small),
                descriptor(IMAGE_LAYER_GZIP_MEDIA_TYPE, &big),
            ],
            "annotations": { "org.opencontainers.image.description": format!("berth e2e {arch}") },
        }))
        .expect("manifest serialises");
        PlatformImage {
            arch,
            config,
            layers: vec![small, big],
            manifest,
        }
    }

    pub fn digest(&self) -> String {
        sha256(&self.manifest)
    }

    /// The config, then the layers.
    pub fn blobs(&self) -> impl Iterator<Item = &Vec<u8>> {
        std::iter::once(&self.config).chain(&self.layers)
    }

    pub fn index_entry(&self) -> Value {
        let mut entry = descriptor(OCI_IMAGE_MEDIA_TYPE, &self.manifest);
        entry["platform"] = json!({ "architecture": self.arch, "os": "linux" });
        entry
    }
}

/// An OCI image index over `images`, as bytes (pretty-printed, like the manifests).
pub fn image_index(images: &[PlatformImage]) -> Vec<u8> {
    let manifests: Vec<Value> = images.iter().map(PlatformImage::index_entry).collect();
    serde_json::to_vec_pretty(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_IMAGE_INDEX_MEDIA_TYPE,
        "manifests": manifests,
        "annotations": { "org.opencontainers.image.vendor": "berth e2e" },
    }))
    .expect("index serialises")
}

/// A multi-platform OCI image layout written by hand: tag `multi` names the index, tag
/// `single` the linux/amd64 manifest alone.
pub struct OciLayout {
    dir: tempfile::TempDir,
    pub images: [PlatformImage; 2],
    pub index: Vec<u8>,
}

impl OciLayout {
    pub fn build() -> OciLayout {
        let dir = tempfile::tempdir().expect("temp dir");
        // Layers of about 1 MiB and 300 KiB: large enough to be streamed in several pieces.
        let images = [
            PlatformImage::build("amd64", 1_048_583),
            PlatformImage::build("arm64", 300_001),
        ];
        let index = image_index(&images);
        let layout = OciLayout { dir, images, index };
        std::fs::create_dir_all(layout.blobs_dir()).expect("blobs dir");
        for blob in layout.all_blobs() {
            std::fs::write(layout.blobs_dir().join(hex_of(&sha256(blob))), blob)
                .expect("write blob");
        }
        std::fs::write(
            layout.path().join("oci-layout"),
            br#"{"imageLayoutVersion":"1.0.0"}"#,
        )
        .expect("oci-layout");
        let mut multi = descriptor(OCI_IMAGE_INDEX_MEDIA_TYPE, &layout.index);
        multi["annotations"] = json!({ REF_NAME: "multi" });
        let mut single = layout.images[0].index_entry();
        single["annotations"] = json!({ REF_NAME: "single" });
        let index_json = json!({ "schemaVersion": 2, "manifests": [multi, single] });
        std::fs::write(
            layout.path().join("index.json"),
            serde_json::to_vec(&index_json).unwrap(),
        )
        .expect("index.json");
        layout
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn blobs_dir(&self) -> PathBuf {
        self.path().join("blobs/sha256")
    }

    /// Every blob of the layout: configs, layers, manifests and the index.
    fn all_blobs(&self) -> Vec<&Vec<u8>> {
        let mut blobs: Vec<&Vec<u8>> = self
            .images
            .iter()
            .flat_map(|i| i.blobs().chain([&i.manifest]))
            .collect();
        blobs.push(&self.index);
        blobs
    }

    /// `oci:<dir>:<tag>`
    pub fn reference(&self, tag: &str) -> String {
        format!("oci:{}:{tag}", self.path().display())
    }
}

/// The files of a directory, by name.
pub fn read_dir_files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|entry| {
            let entry = entry.expect("dir entry");
            let name = entry.file_name().into_string().expect("UTF-8 file name");
            (name, std::fs::read(entry.path()).expect("read file"))
        })
        .collect()
}

/// Checks that a `dir:` copy in `files` holds every blob of `image` under its hex digest,
/// byte for byte.
pub fn assert_dir_holds_blobs(files: &BTreeMap<String, Vec<u8>>, image: &PlatformImage) {
    for blob in image.blobs() {
        let name = hex_of(&sha256(blob)).to_owned();
        assert!(
            files.get(&name) == Some(blob),
            "{} blob {name} differs after the round trip",
            image.arch
        );
    }
}
