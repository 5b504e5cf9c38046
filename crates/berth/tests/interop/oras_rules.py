"""Pushes artifact manifests with the ORAS Python SDK (PyPI `oras`), for crates/berth/tests/interop.

Usage: oras_rules.py HOST REPO WORKDIR

Pushes two images (tags v1 and v2), then with `client.upload_manifest`, each by digest:
  a. an ORAS artifact manifest whose subject does not exist (the registry must refuse it);
  b. the same kind of manifest about image v1;
  c. an image-spec 1.1.0-rc2 artifact manifest about image v1, without `artifactType`;
  d. six ORAS artifact manifests about image v2, some dated with `io.cncf.oras.artifact.created`.
This script only checks what it needs to go on; it reports every reply in one line
`RESULT <json>` and the Rust test judges them. Exits with status 3 when `oras` cannot be
imported.
"""

import contextlib
import datetime
import hashlib
import json
import os
import sys

try:
    import oras.client
    import oras.defaults
    import oras.oci
    import oras.schemas
    import requests
except ImportError as error:  # pragma: no cover - reported by the Rust test
    sys.stderr.write(f"the oras Python package is not importable: {error}\n")
    sys.exit(3)

ORAS_ARTIFACT = "application/vnd.cncf.oras.artifact.manifest.v1+json"
RC2_ARTIFACT = "application/vnd.oci.artifact.manifest.v1+json"
IMAGE_MANIFEST = oras.defaults.default_manifest_media_type
IMAGE_CONFIG = "application/vnd.oci.image.config.v1+json"
IMAGE_LAYER = "application/vnd.oci.image.layer.v1.tar"
SIGNATURE_TYPE = "application/vnd.example.signature.v1+json"
SBOM_TYPE = "application/spdx+json"
CREATED = "io.cncf.oras.artifact.created"

# (d): creation times, some absent. "+02:00" makes time order differ from string order:
# 2023-01-01T00:00:00+02:00 is 2022-12-31T22:00Z, older than 2022-12-31T23:00:00Z.
DATED = [
    ("2022-03-01T10:00:00Z", SIGNATURE_TYPE),
    (None, SBOM_TYPE),
    ("2023-01-01T00:00:00+02:00", SIGNATURE_TYPE),
    ("2022-12-31T23:00:00Z", SBOM_TYPE),
    (None, SIGNATURE_TYPE),
    ("2021-07-15T08:30:00.250Z", SIGNATURE_TYPE),
]

# An artifact manifest has `blobs`, not `config` and `layers`; this is what the SDK's
# upload_manifest checks instead of its image-manifest schema (oras.schemas.manifest).
ARTIFACT_SCHEMA = {
    "$schema": oras.schemas.schema_url,
    "title": "Artifact manifest",
    "type": "object",
    "required": ["mediaType"],
    "properties": {
        "mediaType": {"type": "string"},
        "artifactType": {"type": "string"},
        "blobs": {"type": "array", "items": oras.schemas.layerProperties},
        "subject": {"type": ["null", "object"]},
        "annotations": {"type": ["object", "null"]},
    },
    "additionalProperties": True,
}


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def fail(message: str) -> None:
    sys.stderr.write(f"oras_rules.py: {message}\n")
    sys.exit(1)


def check(condition: bool, message: str) -> None:
    if not condition:
        fail(message)


def write(path: str, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)


def epoch_ms(created):
    """Milliseconds since the epoch of an RFC 3339 time, or None."""
    if created is None:
        return None
    parsed = datetime.datetime.fromisoformat(created.replace("Z", "+00:00"))
    return round(parsed.timestamp() * 1000)


@contextlib.contextmanager
def manifest_kind(media_type: str):
    """Makes `upload_manifest` send `media_type` as the Content-Type and validate an artifact
    manifest. The SDK (0.2.x) builds that header from oras.defaults.default_manifest_media_type
    and validates against oras.schemas.manifest, both read at call time, and takes no argument
    for either; the registry refuses a Content-Type that contradicts the body's mediaType."""
    saved = (oras.defaults.default_manifest_media_type, oras.schemas.manifest)
    oras.defaults.default_manifest_media_type = media_type
    if media_type != IMAGE_MANIFEST:
        oras.schemas.manifest = ARTIFACT_SCHEMA
    try:
        yield
    finally:
        oras.defaults.default_manifest_media_type, oras.schemas.manifest = saved


def error_code(response) -> str:
    try:
        return response.json()["errors"][0]["code"]
    except (ValueError, KeyError, IndexError, TypeError):
        return None


def main() -> None:
    host, repo, workdir = sys.argv[1:4]
    os.chdir(workdir)
    client = oras.client.OrasClient(hostname=host, insecure=True)
    check(client.prefix == "http", f"insecure=True should give plain HTTP, got {client.prefix}")

    def target(reference: str) -> str:
        sep = "@" if reference.startswith("sha256:") else ":"
        return f"{host}/{repo}{sep}{reference}"

    def get_raw(digest: str, accept: str):
        return client.do_request(f"http://{host}/v2/{repo}/manifests/{digest}", "GET",
                                 headers={"Accept": accept})

    def push_image(tag: str, seed: int) -> dict:
        config = json.dumps({"architecture": "amd64", "os": "linux",
                             "config": {"Labels": {"seed": str(seed)}},
                             "rootfs": {"type": "layers", "diff_ids": []}}).encode()
        write(f"config-{tag}.json", config)
        write(f"layer-{tag}.tar", hashlib.sha512(f"layer {seed}".encode()).digest() * 64)
        response = client.push(target=target(tag), files=[f"layer-{tag}.tar:{IMAGE_LAYER}"],
                               manifest_config=f"config-{tag}.json:{IMAGE_CONFIG}", quiet=True)
        check(response.status_code == 201, f"image {tag}: {response.status_code} {response.text}")
        digest = response.headers.get("Docker-Content-Digest")
        raw = get_raw(digest, IMAGE_MANIFEST)
        check(raw.status_code == 200 and sha256(raw.content) == digest, f"image {tag} reads back")
        return {"mediaType": IMAGE_MANIFEST, "digest": digest, "size": len(raw.content)}

    def upload(manifest: dict, media_type: str) -> dict:
        """`client.upload_manifest` by digest; the reply and what a GET of the digest answers."""
        # The bytes requests will send for `json=manifest`, to name the manifest by digest.
        body = requests.Request("PUT", "http://x/", json=manifest).prepare().body
        digest = sha256(body)
        container = client.get_container(target(digest))
        with manifest_kind(media_type):
            response = client.upload_manifest(manifest, container)
        check(response.request.body == body, "the SDK sent other bytes than expected")
        check(response.request.headers.get("Content-Type") == media_type,
              f"the SDK sent Content-Type {response.request.headers.get('Content-Type')}")
        read = get_raw(digest, media_type)
        return {
            "digest": digest,
            "size": len(body),
            "status": response.status_code,
            "code": error_code(response),
            "message": response.text if response.status_code >= 400 else None,
            "subject_header": response.headers.get("OCI-Subject"),
            "get_status": read.status_code,
            "get_content_type": read.headers.get("Content-Type"),
            "get_exact": read.status_code == 200 and read.content == body,
        }

    image = push_image("v1", 1)
    dated_subject = push_image("v2", 2)

    # A blob for the artifacts to carry.
    payload = json.dumps({"signed": image["digest"]}).encode()
    write("payload.json", payload)
    blob = oras.oci.NewLayer("payload.json", media_type=SIGNATURE_TYPE)
    response = client.upload_blob("payload.json", client.get_container(target("v1")), blob)
    check(response.status_code in (200, 201, 202), f"blob: status {response.status_code}")
    blobs = [{"mediaType": SIGNATURE_TYPE, "digest": blob["digest"], "size": blob["size"]}]

    def oras_artifact(subject: dict, artifact_type: str, annotations: dict) -> dict:
        return {"mediaType": ORAS_ARTIFACT, "artifactType": artifact_type, "blobs": blobs,
                "subject": subject, "annotations": annotations}

    absent = {"mediaType": IMAGE_MANIFEST, "digest": sha256(b"absent"), "size": 1}
    result = {
        "image": image,
        "dated_subject": dated_subject,
        "absent_subject": upload(
            oras_artifact(absent, SIGNATURE_TYPE, {"org.example.case": "absent"}), ORAS_ARTIFACT),
        "present_subject": upload(
            oras_artifact(image, SIGNATURE_TYPE, {"org.example.case": "present"}), ORAS_ARTIFACT),
        "rc2": upload({"mediaType": RC2_ARTIFACT, "blobs": blobs, "subject": image,
                       "annotations": {"org.example.case": "rc2"}}, RC2_ARTIFACT),
        "dated": [],
        "oras_version": getattr(oras, "__version__", "unknown"),
    }
    for i, (created, artifact_type) in enumerate(DATED):
        annotations = {"org.example.n": str(i)}
        if created is not None:
            annotations[CREATED] = created
        pushed = upload(oras_artifact(dated_subject, artifact_type, annotations), ORAS_ARTIFACT)
        pushed.update({"created": created, "created_ms": epoch_ms(created),
                       "artifactType": artifact_type})
        result["dated"].append(pushed)
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
