//! End-to-end tests that start the real `berth` binary and drive it with real clients: the
//! `oci-client` crate, `skopeo`, and raw HTTP (reqwest) to double-check what they saw.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use oci_client::client::{linux_amd64_resolver, ClientConfig, ClientProtocol, Config, ImageLayer};
use oci_client::manifest::{
    ImageIndexEntry, OciImageManifest, OciManifest, IMAGE_CONFIG_MEDIA_TYPE,
    IMAGE_LAYER_GZIP_MEDIA_TYPE, IMAGE_LAYER_MEDIA_TYPE, OCI_IMAGE_INDEX_MEDIA_TYPE,
    OCI_IMAGE_MEDIA_TYPE,
};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};
use support::TestServer;

const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
const REF_NAME: &str = "org.opencontainers.image.ref.name";

// ---------------------------------------------------------------------------------------------
// Content helpers: random bytes, tar archives and gzip streams.
// ---------------------------------------------------------------------------------------------

/// `sha256:<hex>` of `bytes`.
fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// The hex part of a `sha256:` digest.
fn hex_of(digest: &str) -> &str {
    digest.strip_prefix("sha256:").expect("a sha256 digest")
}

/// Pseudo-random bytes, different on every call and every run (splitmix64).
fn random_bytes(len: usize) -> Vec<u8> {
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

/// A ustar archive holding `files` (path, contents).
fn tar(files: &[(&str, &[u8])]) -> Vec<u8> {
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
fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(data).expect("gzip");
    encoder.finish().expect("gzip")
}

/// A gzip'd tar layer with one random file of `size` bytes, and its uncompressed digest.
fn tar_gz_layer(path: &str, size: usize) -> (Vec<u8>, String) {
    let contents = random_bytes(size);
    let archive = tar(&[(path, &contents)]);
    let diff_id = sha256(&archive);
    (gzip(&archive), diff_id)
}

fn image_config(arch: &str, diff_ids: &[String]) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "architecture": arch,
        "os": "linux",
        "config": { "Env": ["PATH=/usr/local/bin:/usr/bin"], "Cmd": ["/bin/true"] },
        "rootfs": { "type": "layers", "diff_ids": diff_ids },
        "history": [{ "created_by": "berth end-to-end test" }],
    }))
    .expect("config serialises")
}

// ---------------------------------------------------------------------------------------------
// Raw HTTP helpers.
// ---------------------------------------------------------------------------------------------

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .unwrap_or_else(|| panic!("response has no {name} header: {headers:?}"))
        .to_str()
        .expect("ASCII header")
}

/// GETs (or HEADs) a manifest with `accept`, returning status, headers and body.
async fn http_manifest(
    server: &TestServer,
    method: reqwest::Method,
    repo: &str,
    reference: &str,
    accept: &str,
) -> (StatusCode, HeaderMap, Vec<u8>) {
    let url = format!("{}/v2/{repo}/manifests/{reference}", server.url());
    let response = reqwest::Client::new()
        .request(method, &url)
        .header("accept", accept)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.bytes().await.expect("manifest body").to_vec();
    (status, headers, body)
}

/// Checks with raw HTTP that `repo` serves `expected` byte for byte under `reference`, with
/// the right digest and content type, on GET and HEAD.
async fn assert_served_manifest(
    server: &TestServer,
    repo: &str,
    reference: &str,
    media_type: &str,
    expected: &[u8],
) {
    let digest = sha256(expected);
    let (status, headers, body) =
        http_manifest(server, reqwest::Method::GET, repo, reference, media_type).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "GET manifest {repo}:{reference}; body {}",
        String::from_utf8_lossy(&body)
    );
    assert_eq!(
        body, expected,
        "GET manifest {repo}:{reference} is not byte-exact"
    );
    assert_eq!(
        header(&headers, "docker-content-digest"),
        digest,
        "GET {repo}:{reference}"
    );
    assert_eq!(
        header(&headers, "content-type"),
        media_type,
        "GET {repo}:{reference}"
    );
    assert_eq!(
        header(&headers, "content-length"),
        expected.len().to_string()
    );

    let (status, headers, body) =
        http_manifest(server, reqwest::Method::HEAD, repo, reference, media_type).await;
    assert_eq!(status, StatusCode::OK, "HEAD manifest {repo}:{reference}");
    assert!(body.is_empty());
    assert_eq!(
        header(&headers, "docker-content-digest"),
        digest,
        "HEAD {repo}:{reference}"
    );
    assert_eq!(
        header(&headers, "content-type"),
        media_type,
        "HEAD {repo}:{reference}"
    );
    assert_eq!(
        header(&headers, "content-length"),
        expected.len().to_string()
    );
}

/// Checks with raw HTTP that `repo` serves the blob `expected`, whole and in a range.
async fn assert_served_blob(server: &TestServer, repo: &str, expected: &[u8]) {
    let digest = sha256(expected);
    let url = format!("{}/v2/{repo}/blobs/{digest}", server.url());
    let http = reqwest::Client::new();
    let response = http.get(&url).send().await.expect("blob GET");
    assert_eq!(response.status(), StatusCode::OK, "GET {url}");
    assert_eq!(header(response.headers(), "docker-content-digest"), digest);
    assert_eq!(
        header(response.headers(), "content-length"),
        expected.len().to_string()
    );
    let body = response.bytes().await.expect("blob body");
    assert!(
        body == expected,
        "GET {url} is not byte-exact ({} bytes, expected {})",
        body.len(),
        expected.len()
    );

    if expected.len() > 10 {
        let (start, end) = (expected.len() / 3, expected.len() / 3 * 2);
        let response = http
            .get(&url)
            .header("range", format!("bytes={start}-{end}"))
            .send()
            .await
            .expect("ranged blob GET");
        assert_eq!(
            response.status(),
            StatusCode::PARTIAL_CONTENT,
            "ranged GET {url}"
        );
        assert_eq!(
            header(response.headers(), "content-range"),
            format!("bytes {start}-{end}/{}", expected.len())
        );
        let body = response.bytes().await.expect("range body");
        assert!(
            body == expected[start..=end],
            "ranged GET {url} returned the wrong bytes"
        );
    }
}

async fn http_tags(server: &TestServer, repo: &str) -> Vec<String> {
    let url = format!("{}/v2/{repo}/tags/list", server.url());
    let response = reqwest::get(&url).await.expect("tags list");
    assert_eq!(response.status(), StatusCode::OK, "GET {url}");
    let body: Value = response.json().await.expect("tags JSON");
    assert_eq!(body["name"], repo);
    serde_json::from_value(body["tags"].clone()).expect("tags is a list of strings")
}

// ---------------------------------------------------------------------------------------------
// oci-client
// ---------------------------------------------------------------------------------------------

fn oci_client(monolithic: bool) -> Client {
    Client::new(ClientConfig {
        protocol: ClientProtocol::Http,
        use_monolithic_push: monolithic,
        ..Default::default()
    })
}

fn descriptor(media_type: &str, bytes: &[u8]) -> Value {
    json!({ "mediaType": media_type, "digest": sha256(bytes), "size": bytes.len() })
}

#[tokio::test]
async fn oci_client_pushes_and_pulls_an_image() {
    let server = TestServer::start();
    let client = oci_client(false);
    let auth = RegistryAuth::Anonymous;
    let repo = "e2e/oci-client";
    let image = Reference::with_tag(server.host(), repo.into(), "v1".into());

    // A small gzip'd layer and a plain tar layer larger than the client's 4 MiB chunk size,
    // so that it is pushed as several PATCH requests.
    let (small, small_diff_id) = tar_gz_layer("etc/hello.txt", 3_000);
    let big = tar(&[("opt/big.bin", &random_bytes(5 * 1024 * 1024 + 17))]);
    let layers = vec![
        ImageLayer::new(small.clone(), IMAGE_LAYER_GZIP_MEDIA_TYPE.to_string(), None),
        ImageLayer::new(big.clone(), IMAGE_LAYER_MEDIA_TYPE.to_string(), None),
    ];
    let config_bytes = image_config("amd64", &[small_diff_id, sha256(&big)]);
    let config = Config::new(
        config_bytes.clone(),
        IMAGE_CONFIG_MEDIA_TYPE.to_string(),
        None,
    );
    let annotations = BTreeMap::from([(
        "org.opencontainers.image.title".to_string(),
        "berth e2e".to_string(),
    )]);
    let manifest = OciImageManifest::build(&layers, &config, Some(annotations));
    assert_eq!(manifest.layers[0].digest, sha256(&small));
    assert_eq!(manifest.layers[1].digest, sha256(&big));

    let pushed = client
        .push(&image, &layers, config, &auth, Some(manifest.clone()))
        .await
        .unwrap_or_else(|e| panic!("oci-client push failed: {e}\nserver log:\n{}", server.log()));
    assert!(
        pushed
            .config_url
            .ends_with(&format!("/v2/{repo}/blobs/{}", sha256(&config_bytes))),
        "config url {}",
        pushed.config_url
    );

    // The manifest as stored: the raw bytes hash to the digest the registry reports, and say
    // exactly what was pushed.
    let (raw, digest) = client
        .pull_manifest_raw(&image, &auth, &[OCI_IMAGE_MEDIA_TYPE])
        .await
        .expect("pull raw manifest");
    assert_eq!(digest, sha256(&raw));
    assert!(
        pushed
            .manifest_url
            .ends_with(&format!("/v2/{repo}/manifests/{digest}")),
        "manifest url {} (digest {digest})",
        pushed.manifest_url
    );
    let raw_json: Value = serde_json::from_slice(&raw).expect("manifest JSON");
    assert_eq!(raw_json, serde_json::to_value(&manifest).unwrap());
    assert_eq!(
        client
            .fetch_manifest_digest(&image, &auth)
            .await
            .expect("HEAD digest"),
        digest
    );

    // A full pull gives back every byte.
    let pulled = client
        .pull(
            &image,
            &auth,
            vec![IMAGE_LAYER_MEDIA_TYPE, IMAGE_LAYER_GZIP_MEDIA_TYPE],
        )
        .await
        .unwrap_or_else(|e| panic!("oci-client pull failed: {e}\nserver log:\n{}", server.log()));
    assert_eq!(pulled.digest.as_deref(), Some(digest.as_str()));
    assert_eq!(pulled.config.data.as_ref(), config_bytes.as_slice());
    assert_eq!(pulled.config.media_type, IMAGE_CONFIG_MEDIA_TYPE);
    // `Client::pull` downloads layers concurrently and returns them in completion order.
    let mut layers: Vec<(String, &[u8], &str)> = pulled
        .layers
        .iter()
        .map(|l| (l.sha256_digest(), l.data.as_ref(), l.media_type.as_str()))
        .collect();
    layers.sort();
    let mut expected = vec![
        (
            sha256(&small),
            small.as_slice(),
            IMAGE_LAYER_GZIP_MEDIA_TYPE,
        ),
        (sha256(&big), big.as_slice(), IMAGE_LAYER_MEDIA_TYPE),
    ];
    expected.sort();
    assert!(
        layers == expected,
        "pulled layers differ from the pushed ones"
    );
    let pulled_manifest = pulled.manifest.expect("pull returns the manifest");
    assert_eq!(
        serde_json::to_value(&pulled_manifest).unwrap(),
        serde_json::to_value(&manifest).unwrap()
    );

    // Blobs one by one, through the client (which verifies the digest) and raw HTTP.
    for (descriptor, expected) in manifest.layers.iter().zip([&small, &big]) {
        let mut out = Vec::new();
        client
            .pull_blob(&image, descriptor, &mut out)
            .await
            .expect("pull_blob");
        assert!(&out == expected, "pull_blob {} differs", descriptor.digest);
        assert_served_blob(&server, repo, expected).await;
    }
    assert_served_blob(&server, repo, &config_bytes).await;
    assert!(client
        .blob_exists(&image, &sha256(&big))
        .await
        .expect("HEAD blob"));
    assert!(!client
        .blob_exists(&image, &sha256(b"never pushed"))
        .await
        .expect("HEAD blob"));

    // Raw HTTP sees the same manifest, by tag and by digest.
    assert_served_manifest(&server, repo, "v1", OCI_IMAGE_MEDIA_TYPE, &raw).await;
    assert_served_manifest(&server, repo, &digest, OCI_IMAGE_MEDIA_TYPE, &raw).await;

    // A second tag on the same manifest, then tag listing with and without pagination.
    let v2 = Reference::with_tag(server.host(), repo.into(), "v2".into());
    let url = client
        .push_manifest_raw(
            &v2,
            raw.clone(),
            HeaderValue::from_static(OCI_IMAGE_MEDIA_TYPE),
        )
        .await
        .expect("tag v2");
    assert!(url.ends_with(&digest), "tagging returned {url}");
    let tags = client
        .list_tags(&image, &auth, None, None)
        .await
        .expect("list tags");
    assert_eq!(tags.name, repo);
    assert_eq!(tags.tags, ["v1", "v2"]);
    let first = client
        .list_tags(&image, &auth, Some(1), None)
        .await
        .expect("first page");
    assert_eq!(first.tags, ["v1"]);
    let rest = client
        .list_tags(&image, &auth, Some(1), Some("v1"))
        .await
        .expect("second page");
    assert_eq!(rest.tags, ["v2"]);
    let link = reqwest::get(format!("{}/v2/{repo}/tags/list?n=1", server.url()))
        .await
        .expect("tags page");
    assert_eq!(
        header(link.headers(), "link"),
        format!("</v2/{repo}/tags/list?n=1&last=v1>; rel=\"next\"")
    );
    assert_eq!(http_tags(&server, repo).await, ["v1", "v2"]);
    let (raw_v2, digest_v2) = client
        .pull_manifest_raw(&v2, &auth, &[OCI_IMAGE_MEDIA_TYPE])
        .await
        .expect("pull v2");
    assert_eq!((raw_v2, digest_v2), (raw, digest));
}

/// One platform's image, built by hand: config, two layers, manifest bytes.
struct PlatformImage {
    arch: &'static str,
    config: Vec<u8>,
    layers: Vec<Vec<u8>>,
    manifest: Vec<u8>,
}

impl PlatformImage {
    /// An OCI image for linux/`arch`. The manifest is pretty-printed on purpose: a registry
    /// that re-serialises instead of storing bytes would change its digest.
    fn build(arch: &'static str, big_layer: usize) -> PlatformImage {
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

    fn digest(&self) -> String {
        sha256(&self.manifest)
    }

    fn blobs(&self) -> impl Iterator<Item = &Vec<u8>> {
        std::iter::once(&self.config).chain(&self.layers)
    }

    fn index_entry(&self) -> Value {
        let mut entry = descriptor(OCI_IMAGE_MEDIA_TYPE, &self.manifest);
        entry["platform"] = json!({ "architecture": self.arch, "os": "linux" });
        entry
    }
}

/// An OCI image index over `images`, as bytes.
fn image_index(images: &[PlatformImage]) -> Vec<u8> {
    let manifests: Vec<Value> = images.iter().map(PlatformImage::index_entry).collect();
    serde_json::to_vec_pretty(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_IMAGE_INDEX_MEDIA_TYPE,
        "manifests": manifests,
        "annotations": { "org.opencontainers.image.vendor": "berth e2e" },
    }))
    .expect("index serialises")
}

#[tokio::test]
async fn oci_client_pushes_and_pulls_a_multi_platform_index() {
    let server = TestServer::start();
    let auth = RegistryAuth::Anonymous;
    let repo = "e2e/oci-client-index";
    let host = server.host();
    let tagged = Reference::with_tag(host.clone(), repo.into(), "multi".into());
    let by_digest = |digest: &str| Reference::with_digest(host.clone(), repo.into(), digest.into());

    // Blobs go up monolithically here (the image test covers chunked pushes).
    let pusher = oci_client(true);
    let images = [
        PlatformImage::build("amd64", 40_000),
        PlatformImage::build("arm64", 70_000),
    ];
    for image in &images {
        for blob in image.blobs() {
            let url = pusher
                .push_blob(&tagged, blob.clone(), &sha256(blob))
                .await
                .unwrap_or_else(|e| panic!("push_blob failed: {e}\nserver log:\n{}", server.log()));
            assert!(
                url.ends_with(&format!("/v2/{repo}/blobs/{}", sha256(blob))),
                "blob url {url}"
            );
        }
        let url = pusher
            .push_manifest_raw(
                &by_digest(&image.digest()),
                image.manifest.clone(),
                HeaderValue::from_static(OCI_IMAGE_MEDIA_TYPE),
            )
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "push {} manifest failed: {e}\nserver log:\n{}",
                    image.arch,
                    server.log()
                )
            });
        assert!(
            url.ends_with(&format!("/v2/{repo}/manifests/{}", image.digest())),
            "manifest url {url}"
        );
    }
    let index = image_index(&images);
    let index_digest = sha256(&index);
    let url = pusher
        .push_manifest_raw(
            &tagged,
            index.clone(),
            HeaderValue::from_static(OCI_IMAGE_INDEX_MEDIA_TYPE),
        )
        .await
        .unwrap_or_else(|e| panic!("push index failed: {e}\nserver log:\n{}", server.log()));
    assert!(
        url.ends_with(&format!("/v2/{repo}/manifests/{index_digest}")),
        "index url {url}"
    );

    // The index, raw and parsed, by tag and by digest.
    let client = oci_client(false);
    let (raw, digest) = client
        .pull_manifest_raw(&tagged, &auth, &[OCI_IMAGE_INDEX_MEDIA_TYPE])
        .await
        .expect("pull index by tag");
    assert!(raw == index, "index pulled by tag is not byte-exact");
    assert_eq!(digest, index_digest);
    let (raw, digest) = client
        .pull_manifest_raw(
            &by_digest(&index_digest),
            &auth,
            &[OCI_IMAGE_INDEX_MEDIA_TYPE],
        )
        .await
        .expect("pull index by digest");
    assert!(raw == index, "index pulled by digest is not byte-exact");
    assert_eq!(digest, index_digest);
    let (parsed, digest) = client
        .pull_manifest(&tagged, &auth)
        .await
        .expect("pull parsed index");
    assert_eq!(digest, index_digest);
    let OciManifest::ImageIndex(parsed) = parsed else {
        panic!("expected an image index, got {parsed}")
    };
    assert_eq!(
        parsed.media_type.as_deref(),
        Some(OCI_IMAGE_INDEX_MEDIA_TYPE)
    );
    assert_eq!(parsed.manifests.len(), 2);
    for (entry, image) in parsed.manifests.iter().zip(&images) {
        assert_eq!(entry.digest, image.digest());
        assert_eq!(entry.size, image.manifest.len() as i64);
        assert_eq!(entry.media_type, OCI_IMAGE_MEDIA_TYPE);
        let platform = entry.platform.as_ref().expect("platform");
        assert_eq!(
            (platform.os.to_string(), platform.architecture.to_string()),
            ("linux".to_string(), image.arch.to_string())
        );
    }

    // Every platform manifest by digest, byte-exact, and every blob it references.
    for image in &images {
        let reference = by_digest(&image.digest());
        let (raw, digest) = client
            .pull_manifest_raw(&reference, &auth, &[OCI_IMAGE_MEDIA_TYPE])
            .await
            .unwrap_or_else(|e| panic!("pull {} manifest: {e}", image.arch));
        assert!(
            raw == image.manifest,
            "{} manifest is not byte-exact",
            image.arch
        );
        assert_eq!(digest, image.digest());
        for blob in image.blobs() {
            let mut out = Vec::new();
            client
                .pull_blob(&reference, sha256(blob).as_str(), &mut out)
                .await
                .expect("pull_blob");
            assert!(&out == blob, "{} blob {} differs", image.arch, sha256(blob));
        }
        assert_served_manifest(
            &server,
            repo,
            &image.digest(),
            OCI_IMAGE_MEDIA_TYPE,
            &image.manifest,
        )
        .await;
    }
    assert_served_manifest(&server, repo, "multi", OCI_IMAGE_INDEX_MEDIA_TYPE, &index).await;

    // Platform resolution through the index: the client picks linux/amd64 ...
    let amd64_client = Client::new(ClientConfig {
        protocol: ClientProtocol::Http,
        platform_resolver: Some(Box::new(linux_amd64_resolver)),
        ..Default::default()
    });
    let (manifest, digest, list_digest) = amd64_client
        .pull_image_manifest_and_list_digest(&tagged, &auth)
        .await
        .expect("resolve amd64");
    assert_eq!(digest, images[0].digest());
    assert_eq!(list_digest.as_deref(), Some(index_digest.as_str()));
    assert_eq!(manifest.config.digest, sha256(&images[0].config));

    // ... or linux/arm64, and a full pull brings back that platform's bytes.
    let arm64_client = Client::new(ClientConfig {
        protocol: ClientProtocol::Http,
        platform_resolver: Some(Box::new(|entries: &[ImageIndexEntry]| {
            entries
                .iter()
                .find(|e| {
                    e.platform
                        .as_ref()
                        .is_some_and(|p| p.architecture.to_string() == "arm64")
                })
                .map(|e| e.digest.clone())
        })),
        ..Default::default()
    });
    let pulled = arm64_client
        .pull(&tagged, &auth, vec![IMAGE_LAYER_GZIP_MEDIA_TYPE])
        .await
        .unwrap_or_else(|e| panic!("pull arm64 failed: {e}\nserver log:\n{}", server.log()));
    assert_eq!(pulled.digest.as_deref(), Some(images[1].digest().as_str()));
    assert_eq!(pulled.config.data.as_ref(), images[1].config.as_slice());
    // Layers come back in completion order.
    let mut layers: Vec<&[u8]> = pulled.layers.iter().map(|l| l.data.as_ref()).collect();
    layers.sort();
    let mut expected: Vec<&[u8]> = images[1].layers.iter().map(Vec::as_slice).collect();
    expected.sort();
    assert!(layers == expected, "arm64 layers differ");

    // Only the index is tagged.
    let tags = client
        .list_tags(&tagged, &auth, None, None)
        .await
        .expect("list tags");
    assert_eq!(tags.tags, ["multi"]);
}

// ---------------------------------------------------------------------------------------------
// skopeo
// ---------------------------------------------------------------------------------------------

/// The skopeo binary; the test fails (never skips) without it.
fn skopeo_path() -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .map(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join("skopeo"))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    on_path
        .into_iter()
        .chain([PathBuf::from("/usr/bin/skopeo")])
        .find(|p| p.is_file())
        .expect("skopeo is not installed, and these tests need it: install it with `apt-get install -y skopeo`")
}

/// Runs skopeo and returns its stdout; panics with its output and the server log on failure.
fn skopeo(server: &TestServer, args: &[&str]) -> Vec<u8> {
    let output = Command::new(skopeo_path())
        .arg("--insecure-policy")
        .args(args)
        .output()
        .expect("skopeo runs");
    if !output.status.success() {
        panic!(
            "skopeo {} failed ({}):\n--- stdout\n{}\n--- stderr\n{}\n--- server log\n{}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
            server.log()
        );
    }
    output.stdout
}

/// A multi-platform OCI image layout written by hand: tag `multi` names the index, tag
/// `single` the linux/amd64 manifest alone.
struct OciLayout {
    dir: tempfile::TempDir,
    images: [PlatformImage; 2],
    index: Vec<u8>,
}

impl OciLayout {
    fn build() -> OciLayout {
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

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn blobs_dir(&self) -> PathBuf {
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
    fn reference(&self, tag: &str) -> String {
        format!("oci:{}:{tag}", self.path().display())
    }
}

/// The files of a directory, by name.
fn read_dir_files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|entry| {
            let entry = entry.expect("dir entry");
            let name = entry.file_name().into_string().expect("UTF-8 file name");
            (name, std::fs::read(entry.path()).expect("read file"))
        })
        .collect()
}

#[tokio::test]
async fn skopeo_copies_a_multi_platform_oci_layout_through_berth_byte_exact() {
    let server = TestServer::start();
    let layout = OciLayout::build();
    let repo = "e2e/skopeo-oci";
    let remote = format!("docker://{}/{repo}:multi", server.host());

    skopeo(
        &server,
        &[
            "copy",
            "--all",
            "--preserve-digests",
            "--retry-times",
            "0",
            "--dest-tls-verify=false",
            &layout.reference("multi"),
            &remote,
        ],
    );

    // What berth now serves, seen by skopeo and by raw HTTP.
    let raw = skopeo(
        &server,
        &["inspect", "--raw", "--tls-verify=false", &remote],
    );
    assert!(
        raw == layout.index,
        "skopeo inspect --raw does not return the pushed index bytes:\n{}",
        String::from_utf8_lossy(&raw)
    );
    for image in &layout.images {
        let by_digest = format!("docker://{}/{repo}@{}", server.host(), image.digest());
        let raw = skopeo(
            &server,
            &["inspect", "--raw", "--tls-verify=false", &by_digest],
        );
        assert!(
            raw == image.manifest,
            "{} manifest served by berth is not byte-exact",
            image.arch
        );
        assert_served_manifest(
            &server,
            repo,
            &image.digest(),
            OCI_IMAGE_MEDIA_TYPE,
            &image.manifest,
        )
        .await;
        for blob in image.blobs() {
            assert_served_blob(&server, repo, blob).await;
        }
    }
    assert_served_manifest(
        &server,
        repo,
        "multi",
        OCI_IMAGE_INDEX_MEDIA_TYPE,
        &layout.index,
    )
    .await;
    let listed: Value = serde_json::from_slice(&skopeo(
        &server,
        &[
            "list-tags",
            "--tls-verify=false",
            &format!("docker://{}/{repo}", server.host()),
        ],
    ))
    .expect("list-tags JSON");
    assert_eq!(
        listed["Tags"],
        json!(["multi"]),
        "skopeo list-tags: {listed}"
    );
    assert_eq!(listed["Repository"], format!("{}/{repo}", server.host()));

    // Pushing again under a second tag finds every blob already there and keeps the digest.
    let again = format!("docker://{}/{repo}:again", server.host());
    skopeo(
        &server,
        &[
            "copy",
            "--all",
            "--preserve-digests",
            "--retry-times",
            "0",
            "--dest-tls-verify=false",
            &layout.reference("multi"),
            &again,
        ],
    );
    assert_served_manifest(
        &server,
        repo,
        "again",
        OCI_IMAGE_INDEX_MEDIA_TYPE,
        &layout.index,
    )
    .await;
    assert_eq!(http_tags(&server, repo).await, ["again", "multi"]);

    // Registry to registry, into another repository (skopeo may mount the blobs across).
    let mirror_repo = "e2e/skopeo-oci-mirror";
    let mirror = format!("docker://{}/{mirror_repo}:multi", server.host());
    skopeo(
        &server,
        &[
            "copy",
            "--all",
            "--preserve-digests",
            "--retry-times",
            "0",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
            &remote,
            &mirror,
        ],
    );
    let raw = skopeo(
        &server,
        &["inspect", "--raw", "--tls-verify=false", &mirror],
    );
    assert!(raw == layout.index, "the mirrored index is not byte-exact");
    for image in &layout.images {
        assert_served_manifest(
            &server,
            mirror_repo,
            &image.digest(),
            OCI_IMAGE_MEDIA_TYPE,
            &image.manifest,
        )
        .await;
        for blob in image.blobs() {
            assert_served_blob(&server, mirror_repo, blob).await;
        }
    }

    // Back out into a fresh layout: the same index and the same blobs, byte for byte.
    let out = tempfile::tempdir().expect("temp dir");
    let out_layout = out.path().join("layout");
    skopeo(
        &server,
        &[
            "copy",
            "--all",
            "--preserve-digests",
            "--retry-times",
            "0",
            "--src-tls-verify=false",
            &remote,
            &format!("oci:{}:multi", out_layout.display()),
        ],
    );
    let index_json: Value = serde_json::from_slice(
        &std::fs::read(out_layout.join("index.json")).expect("output index.json"),
    )
    .expect("index.json JSON");
    let entries = index_json["manifests"].as_array().expect("manifests");
    assert_eq!(entries.len(), 1, "output index.json: {index_json}");
    assert_eq!(entries[0]["digest"], sha256(&layout.index));
    assert_eq!(entries[0]["mediaType"], OCI_IMAGE_INDEX_MEDIA_TYPE);
    assert_eq!(entries[0]["size"], layout.index.len());
    assert_eq!(entries[0]["annotations"][REF_NAME], "multi");

    let expected: BTreeMap<String, Vec<u8>> = read_dir_files(&layout.blobs_dir());
    let actual = read_dir_files(&out_layout.join("blobs/sha256"));
    assert_eq!(
        actual.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>(),
        "the output layout does not hold exactly the input blobs"
    );
    for (name, bytes) in &expected {
        assert!(
            &actual[name] == bytes,
            "blob {name} differs after the round trip"
        );
        assert_eq!(hex_of(&sha256(&actual[name])), name.as_str());
    }
}

/// Checks a Docker schema 2 manifest converted by skopeo from `image`: media types are Docker's,
/// digests and sizes are the OCI originals.
fn assert_docker_conversion(manifest: &[u8], image: &PlatformImage) {
    let parsed: Value = serde_json::from_slice(manifest).expect("manifest JSON");
    assert_eq!(parsed["schemaVersion"], 2);
    assert_eq!(parsed["mediaType"], DOCKER_MANIFEST, "{parsed}");
    assert_eq!(parsed["config"]["mediaType"], DOCKER_CONFIG);
    assert_eq!(parsed["config"]["digest"], sha256(&image.config));
    assert_eq!(parsed["config"]["size"], image.config.len());
    let layers = parsed["layers"].as_array().expect("layers");
    assert_eq!(layers.len(), image.layers.len());
    for (layer, bytes) in layers.iter().zip(&image.layers) {
        assert_eq!(layer["mediaType"], DOCKER_LAYER_GZIP);
        assert_eq!(layer["digest"], sha256(bytes));
        assert_eq!(layer["size"], bytes.len());
    }
}

#[tokio::test]
async fn skopeo_round_trips_a_docker_schema2_image_through_berth() {
    let server = TestServer::start();
    let layout = OciLayout::build();
    let image = &layout.images[0];
    let repo = "e2e/skopeo-docker";
    let remote = format!("docker://{}/{repo}:v2s2", server.host());

    // skopeo converts the single-platform OCI image to Docker schema 2 on the way in.
    skopeo(
        &server,
        &[
            "copy",
            "--format",
            "v2s2",
            "--retry-times",
            "0",
            "--dest-tls-verify=false",
            &layout.reference("single"),
            &remote,
        ],
    );
    let manifest = skopeo(
        &server,
        &["inspect", "--raw", "--tls-verify=false", &remote],
    );
    assert_docker_conversion(&manifest, image);
    assert_served_manifest(&server, repo, "v2s2", DOCKER_MANIFEST, &manifest).await;
    assert_served_manifest(
        &server,
        repo,
        &sha256(&manifest),
        DOCKER_MANIFEST,
        &manifest,
    )
    .await;
    for blob in image.blobs() {
        assert_served_blob(&server, repo, blob).await;
    }

    // And out again, untouched, into a `dir:` copy.
    let out = tempfile::tempdir().expect("temp dir");
    let out_dir = out.path().join("image");
    skopeo(
        &server,
        &[
            "copy",
            "--preserve-digests",
            "--retry-times",
            "0",
            "--src-tls-verify=false",
            &remote,
            &format!("dir:{}", out_dir.display()),
        ],
    );
    let files = read_dir_files(&out_dir);
    assert!(
        files["manifest.json"] == manifest,
        "the manifest copied out differs from the one served"
    );
    for blob in image.blobs() {
        let name = hex_of(&sha256(blob)).to_owned();
        assert!(
            files.get(&name) == Some(blob),
            "blob {name} differs after the round trip"
        );
    }
    let listed: Value = serde_json::from_slice(&skopeo(
        &server,
        &[
            "list-tags",
            "--tls-verify=false",
            &format!("docker://{}/{repo}", server.host()),
        ],
    ))
    .expect("list-tags JSON");
    assert_eq!(listed["Tags"], json!(["v2s2"]));
}

#[tokio::test]
async fn skopeo_round_trips_a_docker_manifest_list_through_berth() {
    let server = TestServer::start();
    let layout = OciLayout::build();
    let repo = "e2e/skopeo-docker-list";
    let remote = format!("docker://{}/{repo}:list", server.host());

    // The OCI index and both images become a Docker manifest list of schema 2 manifests.
    skopeo(
        &server,
        &[
            "copy",
            "--all",
            "--format",
            "v2s2",
            "--retry-times",
            "0",
            "--dest-tls-verify=false",
            &layout.reference("multi"),
            &remote,
        ],
    );
    let list = skopeo(
        &server,
        &["inspect", "--raw", "--tls-verify=false", &remote],
    );
    let parsed: Value = serde_json::from_slice(&list).expect("list JSON");
    assert_eq!(parsed["mediaType"], DOCKER_MANIFEST_LIST, "{parsed}");
    let entries = parsed["manifests"].as_array().expect("manifests");
    assert_eq!(entries.len(), 2);
    assert_served_manifest(&server, repo, "list", DOCKER_MANIFEST_LIST, &list).await;

    let mut instances = Vec::new();
    for (entry, image) in entries.iter().zip(&layout.images) {
        assert_eq!(entry["mediaType"], DOCKER_MANIFEST);
        assert_eq!(entry["platform"]["architecture"], image.arch);
        assert_eq!(entry["platform"]["os"], "linux");
        let digest = entry["digest"].as_str().expect("digest").to_owned();
        let by_digest = format!("docker://{}/{repo}@{digest}", server.host());
        let manifest = skopeo(
            &server,
            &["inspect", "--raw", "--tls-verify=false", &by_digest],
        );
        assert_eq!(
            sha256(&manifest),
            digest,
            "{} manifest does not match its digest",
            image.arch
        );
        assert_eq!(entry["size"], manifest.len());
        assert_docker_conversion(&manifest, image);
        assert_served_manifest(&server, repo, &digest, DOCKER_MANIFEST, &manifest).await;
        instances.push((digest, manifest));
    }

    // Out again with every instance, unchanged.
    let out = tempfile::tempdir().expect("temp dir");
    let out_dir = out.path().join("list");
    skopeo(
        &server,
        &[
            "copy",
            "--all",
            "--preserve-digests",
            "--retry-times",
            "0",
            "--src-tls-verify=false",
            &remote,
            &format!("dir:{}", out_dir.display()),
        ],
    );
    let files = read_dir_files(&out_dir);
    assert!(
        files["manifest.json"] == list,
        "the manifest list copied out differs from the one served"
    );
    for (digest, manifest) in &instances {
        let name = format!("{}.manifest.json", hex_of(digest));
        assert!(
            files.get(&name) == Some(manifest),
            "instance manifest {name} differs after the round trip"
        );
    }
    for image in &layout.images {
        for blob in image.blobs() {
            let name = hex_of(&sha256(blob)).to_owned();
            assert!(
                files.get(&name) == Some(blob),
                "{} blob {name} differs after the round trip",
                image.arch
            );
        }
    }
}
