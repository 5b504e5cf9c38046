// What the tests push: two images, an index over two platform images, and a referrer chain
// (a cosign-style signature on an SPDX SBOM on an image) plus an in-toto attestation on it.

import { createHash } from 'node:crypto';
import { OCI_CONFIG, OCI_EMPTY, OCI_INDEX, OCI_LAYER, OCI_MANIFEST, bytesOf, descriptor } from './berth.js';

export const COSIGN_SIG = 'application/vnd.dev.cosign.artifact.sig.v1+json';
export const SPDX = 'application/spdx+json';
export const IN_TOTO = 'application/vnd.in-toto+json';
export const NOTATION = 'application/vnd.cncf.notary.signature';

/** `size` bytes that depend on `seed` (distinct layers, stable across runs). */
function filler(seed, size) {
  const out = Buffer.alloc(size);
  let block = createHash('sha256').update(`layer-${seed}`).digest();
  for (let i = 0; i < size; i += block.length) {
    block.copy(out, i);
    block = createHash('sha256').update(block).digest();
  }
  return out;
}

/** Pushes an image (config + layers) and tags it; returns its descriptor and parts. */
async function pushImage(registry, repo, { tag, seed, layers, os = 'linux', architecture = 'amd64', variant, created, annotations }) {
  const layerBytes = layers.map((size, i) => filler(`${seed}-${i}`, size));
  for (const bytes of layerBytes) await registry.pushBlob(repo, bytes);
  const config = bytesOf({
    created,
    architecture,
    os,
    ...(variant ? { variant } : {}),
    config: { Env: ['PATH=/usr/local/bin:/usr/bin:/bin'], Cmd: ['/bin/sh'] },
    rootfs: { type: 'layers', diff_ids: layerBytes.map((b) => `sha256:${createHash('sha256').update(b).digest('hex')}`) },
  });
  await registry.pushBlob(repo, config);
  const manifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: descriptor(OCI_CONFIG, config),
    layers: layerBytes.map((b, i) => descriptor(OCI_LAYER, b, i === 0 ? { annotations: { 'org.opencontainers.image.title': `layer-${i}.tar.gz` } } : {})),
    ...(annotations ? { annotations } : {}),
  };
  const bytes = bytesOf(manifest);
  const desc = await registry.pushManifest(repo, tag || null, manifest);
  return { descriptor: desc, manifest, bytes, layers: layerBytes };
}

/** An artifact manifest (empty config) with one layer, referring to `subject`. */
async function pushArtifact(registry, repo, { artifactType, layerType, layer, subject, annotations, layerAnnotations }) {
  const empty = Buffer.from('{}');
  await registry.pushBlob(repo, empty);
  const layerBytes = bytesOf(layer);
  await registry.pushBlob(repo, layerBytes);
  const manifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType,
    config: descriptor(OCI_EMPTY, empty),
    layers: [descriptor(layerType, layerBytes, layerAnnotations ? { annotations: layerAnnotations } : {})],
    subject,
    ...(annotations ? { annotations } : {}),
  };
  return registry.pushManifest(repo, null, manifest, { artifactType });
}

export const SIGNATURE_VALUE = 'MEUCIQDkB4Cv7u8tYv1p1b0i0E2eTestSignatureForBerthE2e';

/** Fills the registry (as the admin). Returns the digests the tests look for. */
export async function seed(registry) {
  // demo/app:v1 (and :latest) — an image with a referrer chain
  const app = await pushImage(registry, 'demo/app', {
    tag: 'v1', seed: 'app', layers: [48 * 1024, 12 * 1024], created: '2026-11-01T10:00:00Z',
    annotations: { 'org.opencontainers.image.source': 'https://example.com/demo/app', 'org.opencontainers.image.version': '1.0.0' },
  });
  await registry.pushManifest('demo/app', 'latest', app.manifest);
  const appDesc = { mediaType: OCI_MANIFEST, digest: app.descriptor.digest, size: app.descriptor.size };

  const spdx = {
    spdxVersion: 'SPDX-2.3',
    dataLicense: 'CC0-1.0',
    SPDXID: 'SPDXRef-DOCUMENT',
    name: 'demo/app',
    documentNamespace: 'https://example.com/spdx/demo-app-1.0.0',
    creationInfo: { created: '2026-11-01T10:05:00Z', creators: ['Tool: e2e'] },
    packages: [
      { name: 'musl', SPDXID: 'SPDXRef-Package-musl', versionInfo: '1.2.5', downloadLocation: 'NOASSERTION' },
      { name: 'busybox', SPDXID: 'SPDXRef-Package-busybox', versionInfo: '1.36.1', downloadLocation: 'NOASSERTION' },
      { name: 'openssl', SPDXID: 'SPDXRef-Package-openssl', versionInfo: '3.3.2', downloadLocation: 'NOASSERTION' },
    ],
  };
  const sbom = await pushArtifact(registry, 'demo/app', {
    artifactType: SPDX, layerType: SPDX, layer: spdx, subject: appDesc,
    annotations: { 'org.opencontainers.image.created': '2026-11-01T10:05:00Z' },
  });
  const signature = await pushArtifact(registry, 'demo/app', {
    artifactType: COSIGN_SIG,
    layerType: 'application/vnd.dev.cosign.simplesigning.v1+json',
    layer: { critical: { identity: { 'docker-reference': 'demo/app' }, image: { 'docker-manifest-digest': sbom.digest }, type: 'cosign container image signature' }, optional: null },
    layerAnnotations: { 'dev.cosignproject.cosign/signature': SIGNATURE_VALUE },
    subject: { mediaType: OCI_MANIFEST, digest: sbom.digest, size: sbom.size },
    annotations: { 'org.opencontainers.image.created': '2026-11-01T10:06:00Z' },
  });
  const attestation = await pushArtifact(registry, 'demo/app', {
    artifactType: IN_TOTO,
    layerType: IN_TOTO,
    layer: {
      _type: 'https://in-toto.io/Statement/v1',
      subject: [{ name: 'demo/app', digest: { sha256: app.descriptor.digest.slice(7) } }],
      predicateType: 'https://slsa.dev/provenance/v1',
      predicate: { buildDefinition: { buildType: 'https://example.com/e2e' } },
    },
    layerAnnotations: { predicateType: 'https://slsa.dev/provenance/v1' },
    subject: appDesc,
    annotations: { 'org.opencontainers.image.created': '2026-11-01T10:07:00Z' },
  });

  // demo/multi:1.0 — an index over two platform images
  const amd64 = await pushImage(registry, 'demo/multi', { seed: 'multi-amd64', layers: [20 * 1024], architecture: 'amd64', created: '2026-11-02T10:00:00Z' });
  const arm64 = await pushImage(registry, 'demo/multi', { seed: 'multi-arm64', layers: [22 * 1024], architecture: 'arm64', variant: 'v8', created: '2026-11-02T10:00:00Z' });
  const index = await registry.pushManifest('demo/multi', '1.0', {
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests: [
      { ...amd64.descriptor, mediaType: OCI_MANIFEST, platform: { os: 'linux', architecture: 'amd64' } },
      { ...arm64.descriptor, mediaType: OCI_MANIFEST, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
    ],
  });

  // tools/cli:2.1 — a second image, signed with a notation signature
  const cli = await pushImage(registry, 'tools/cli', { tag: '2.1', seed: 'cli', layers: [30 * 1024], created: '2026-11-03T10:00:00Z' });
  const notation = await pushArtifact(registry, 'tools/cli', {
    artifactType: NOTATION,
    layerType: 'application/jose+json',
    layer: { payload: 'e30', signatures: [] },
    subject: { mediaType: OCI_MANIFEST, digest: cli.descriptor.digest, size: cli.descriptor.size },
    annotations: { 'io.cncf.notary.x509chain.thumbprint#S256': '["0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"]' },
  });

  return {
    app: app.descriptor.digest,
    appLayers: app.manifest.layers,
    sbom: sbom.digest,
    signature: signature.digest,
    attestation: attestation.digest,
    index: index.digest,
    amd64: amd64.descriptor.digest,
    arm64: arm64.descriptor.digest,
    cli: cli.descriptor.digest,
    notation: notation.digest,
  };
}
