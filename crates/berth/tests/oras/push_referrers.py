"""Drives Berth with the ORAS Python SDK (PyPI `oras`), for crates/berth/tests/referrers_clients.rs.

Usage: push_referrers.py HOST REPO WORKDIR

Pushes an image, then with `subject` set: a signature (through `push(subject=...)`), an SBOM
(an artifact manifest with `artifactType`, built here and sent with `upload_manifest`) and a
signature on the SBOM. Pulls everything back with the SDK and checks the bytes. Prints one
line `RESULT <json>` with what the Rust test checks through the registry's HTTP API.
Exits with status 3 when the `oras` package cannot be imported.
"""

import dataclasses
import hashlib
import json
import os
import sys

try:
    import oras.client
    import oras.defaults
    import oras.oci
except ImportError as error:  # pragma: no cover - reported by the Rust test
    sys.stderr.write(f"the oras Python package is not importable: {error}\n")
    sys.exit(3)

SIGNATURE_TYPE = "application/vnd.example.signature.v1+json"
SBOM_TYPE = "application/spdx+json"
EMPTY_CONFIG = "application/vnd.oci.empty.v1+json"
IMAGE_CONFIG = "application/vnd.oci.image.config.v1+json"
IMAGE_LAYER = "application/vnd.oci.image.layer.v1.tar"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def fail(message: str) -> None:
    sys.stderr.write(f"oras script: {message}\n")
    sys.exit(1)


def check(condition: bool, message: str) -> None:
    if not condition:
        fail(message)


def write(path: str, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)


def read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def main() -> None:
    host, repo, workdir = sys.argv[1:4]
    os.chdir(workdir)
    client = oras.client.OrasClient(hostname=host, insecure=True)
    check(client.prefix == "http", f"insecure=True should give plain HTTP, got {client.prefix}")

    def target(reference: str) -> str:
        sep = "@" if reference.startswith("sha256:") else ":"
        return f"{host}/{repo}{sep}{reference}"

    def pushed(response, what: str) -> dict:
        check(response.status_code == 201, f"{what}: status {response.status_code}: {response.text}")
        digest = response.headers.get("Docker-Content-Digest")
        check(digest is not None, f"{what}: no Docker-Content-Digest header")
        # The manifest as stored: fetch its bytes to know the exact digest and size.
        raw = client.do_request(f"http://{host}/v2/{repo}/manifests/{digest}", "GET",
                                headers={"Accept": oras.defaults.default_manifest_media_type})
        check(raw.status_code == 200, f"{what}: GET by digest: {raw.status_code}")
        check(sha256(raw.content) == digest, f"{what}: stored bytes do not hash to {digest}")
        return {
            "digest": digest,
            "size": len(raw.content),
            "subject_header": response.headers.get("OCI-Subject"),
            "manifest": json.loads(raw.content),
        }

    def subject_of(info: dict) -> "oras.oci.Subject":
        return oras.oci.Subject(
            mediaType=oras.defaults.default_manifest_media_type,
            digest=info["digest"],
            size=info["size"],
        )

    # 1. The image: a real image config and one tar layer.
    config = json.dumps({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": []},
    }).encode()
    write("config.json", config)
    layer = os.urandom(4096)
    write("layer.tar", layer)
    image = pushed(client.push(
        target=target("v1"),
        files=[f"layer.tar:{IMAGE_LAYER}"],
        manifest_config=f"config.json:{IMAGE_CONFIG}",
        manifest_annotations={"org.example.role": "image"},
        quiet=True,
    ), "image push")
    check(image["subject_header"] is None, "an image without subject got OCI-Subject")

    # 2. A signature on the image, through push(subject=...): no artifactType field, so its
    #    artifact type is the config media type.
    signature_bytes = json.dumps({"signed": image["digest"], "by": "example"}).encode()
    write("image.sig", signature_bytes)
    signature = pushed(client.push(
        target=target("image-sig"),
        files=[f"image.sig:{SIGNATURE_TYPE}"],
        manifest_config=f"no-such-config:{SIGNATURE_TYPE}",
        manifest_annotations={"org.example.kind": "signature", "org.example.signer": "alice"},
        subject=subject_of(image),
        quiet=True,
    ), "signature push")
    check(signature["manifest"].get("subject", {}).get("digest") == image["digest"],
          "the signature manifest lost its subject")

    # 3. An SBOM on the image: an artifact manifest with artifactType and the empty config,
    #    built by hand and sent with upload_blob/upload_manifest.
    sbom_bytes = json.dumps({"spdxVersion": "SPDX-2.3", "name": repo, "packages": []}).encode()
    write("sbom.spdx.json", sbom_bytes)
    write("empty.json", b"{}")
    container = client.get_container(target("sbom"))
    sbom_layer = oras.oci.NewLayer("sbom.spdx.json", media_type=SBOM_TYPE)
    sbom_layer["annotations"] = {oras.defaults.annotation_title: "sbom.spdx.json"}
    empty = {"mediaType": EMPTY_CONFIG, "digest": sha256(b"{}"), "size": 2}
    for path, descriptor in (("sbom.spdx.json", sbom_layer), ("empty.json", empty)):
        response = client.upload_blob(path, container, descriptor)
        # 200: the SDK found the blob already there (a HEAD) and skipped the upload.
        check(response.status_code in (200, 201, 202), f"blob {path}: status {response.status_code}")
    manifest = oras.oci.NewManifest()
    manifest["artifactType"] = SBOM_TYPE
    manifest["config"] = empty
    manifest["layers"] = [sbom_layer]
    manifest["subject"] = dataclasses.asdict(subject_of(image))
    manifest["annotations"] = {"org.example.kind": "sbom", "org.example.format": "spdx"}
    sbom = pushed(client.upload_manifest(manifest, container), "sbom push")

    # 4. A signature on the SBOM: the graph is two levels deep.
    sbom_signature_bytes = json.dumps({"signed": sbom["digest"], "by": "example"}).encode()
    write("sbom.sig", sbom_signature_bytes)
    sbom_signature = pushed(client.push(
        target=target("sbom-sig"),
        files=[f"sbom.sig:{SIGNATURE_TYPE}"],
        manifest_config=f"no-such-config:{SIGNATURE_TYPE}",
        manifest_annotations={"org.example.kind": "signature", "org.example.signer": "bob"},
        subject=subject_of(sbom),
        quiet=True,
    ), "sbom signature push")

    # 5. Pull everything back with the SDK, by tag and by digest, and compare the bytes.
    pulled = {}
    for name, reference, expected in (
        ("image", "v1", {"layer.tar": layer}),
        ("signature", signature["digest"], {"image.sig": signature_bytes}),
        ("sbom", sbom["digest"], {"sbom.spdx.json": sbom_bytes}),
        ("sbom_signature", "sbom-sig", {"sbom.sig": sbom_signature_bytes}),
    ):
        outdir = os.path.join(workdir, "pulled", name)
        files = client.pull(target=target(reference), outdir=outdir)
        got = {os.path.basename(f): read(f) for f in files}
        check(got == expected,
              f"pull of {name} ({reference}): files {sorted(got)} differ from {sorted(expected)}")
        pulled[name] = sorted(got)
    pulled_manifest = client.get_manifest(target(sbom["digest"]))
    check(pulled_manifest.get("artifactType") == SBOM_TYPE,
          f"the SBOM manifest pulled back has artifactType {pulled_manifest.get('artifactType')}")

    for info in (image, signature, sbom, sbom_signature):
        del info["manifest"]
    print("RESULT " + json.dumps({
        "image": image,
        "signature": signature,
        "sbom": sbom,
        "sbom_signature": sbom_signature,
        "pulled": pulled,
        "oras_version": getattr(oras, "__version__", "unknown"),
    }))


if __name__ == "__main__":
    main()
