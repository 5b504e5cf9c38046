// Readable names for media and artifact types, and the badges the referrers stand for. The
// list follows the browse contract's "Known artifact types"; anything else shows its raw type.

const KNOWN = [
  ['application/vnd.dev.cosign.artifact.sig.v1+json', 'Cosign signature', 'signed'],
  ['application/vnd.cncf.notary.signature', 'Notation signature', 'signed'],
  ['application/vnd.dev.sigstore.bundle.v0.3+json', 'Sigstore bundle', 'signed'],
  ['application/vnd.in-toto+json', 'In-toto attestation', 'attestation'],
  ['application/vnd.dsse.envelope.v1+json', 'DSSE attestation envelope', 'attestation'],
  ['application/vnd.dev.cosign.attestation.v1+json', 'Cosign attestation', 'attestation'],
  ['application/spdx+json', 'SPDX SBOM (JSON)', 'sbom'],
  ['text/spdx', 'SPDX SBOM (tag-value)', 'sbom'],
  ['application/vnd.cyclonedx+json', 'CycloneDX SBOM (JSON)', 'sbom'],
  ['application/vnd.cyclonedx+xml', 'CycloneDX SBOM (XML)', 'sbom'],
  ['application/vnd.syft+json', 'Syft SBOM', 'sbom'],
  ['application/sarif+json', 'SARIF scan report', 'scan'],
  ['application/vnd.aquasec.trivy.report.sarif.v1+json', 'Trivy scan report (SARIF)', 'scan'],
  ['application/vnd.security.vulnerability.report+json', 'Vulnerability report', 'scan'],
];

const BY_TYPE = new Map(KNOWN.map(([type, name, badge]) => [type, { name, badge }]));

/** `{name, badge}` for a known artifact type, else `{name: null, badge: null}`. */
export function artifactInfo(type) {
  if (!type) return { name: null, badge: null };
  const lower = String(type).toLowerCase().trim();
  const exact = BY_TYPE.get(lower);
  if (exact) return exact;
  const base = lower.split(';')[0].trim();
  if (BY_TYPE.has(base)) return BY_TYPE.get(base);
  if (base.startsWith('application/vnd.dev.sigstore.bundle')) return { name: 'Sigstore bundle', badge: 'signed' };
  if (base.includes('vulnerability')) return { name: 'Vulnerability report', badge: 'scan' };
  return { name: null, badge: null };
}

/** The readable name of an artifact type, else the raw type ("(no artifact type)" for none). */
export function artifactName(type) {
  return artifactInfo(type).name ?? (type || '(no artifact type)');
}

export const BADGES = {
  signed: { label: 'Signed', description: 'a signature refers to it' },
  sbom: { label: 'SBOM', description: 'a software bill of materials refers to it' },
  attestation: { label: 'Attestation', description: 'an attestation refers to it' },
  scan: { label: 'Scan', description: 'a vulnerability or scan report refers to it' },
};

const MEDIA = {
  'application/vnd.oci.image.index.v1+json': 'OCI image index',
  'application/vnd.oci.image.manifest.v1+json': 'OCI image manifest',
  'application/vnd.oci.artifact.manifest.v1+json': 'OCI artifact manifest',
  'application/vnd.docker.distribution.manifest.list.v2+json': 'Docker manifest list',
  'application/vnd.docker.distribution.manifest.v2+json': 'Docker image manifest',
  'application/vnd.oci.image.config.v1+json': 'OCI image config',
  'application/vnd.docker.container.image.v1+json': 'Docker image config',
  'application/vnd.oci.empty.v1+json': 'empty',
  'application/vnd.oci.image.layer.v1.tar': 'layer (tar)',
  'application/vnd.oci.image.layer.v1.tar+gzip': 'layer (tar+gzip)',
  'application/vnd.oci.image.layer.v1.tar+zstd': 'layer (tar+zstd)',
  'application/vnd.docker.image.rootfs.diff.tar.gzip': 'Docker layer (tar+gzip)',
  'application/vnd.cncf.oras.artifact.manifest.v1+json': 'ORAS artifact manifest',
};

/** A short readable name for a media type, else the raw type. */
export function mediaName(type) {
  return MEDIA[type] ?? type ?? '—';
}

/** Whether a media type is an index (its children are platforms). */
export function isIndex(type) {
  return type === 'application/vnd.oci.image.index.v1+json'
    || type === 'application/vnd.docker.distribution.manifest.list.v2+json';
}

/** "image", "index" or "artifact": what a manifest is, from its media and artifact types. */
export function kindOf(mediaType, artifactType) {
  if (isIndex(mediaType)) return 'index';
  if (artifactType) return 'artifact';
  return 'image';
}

/** "linux/arm64/v8" from a platform object. */
export function platformName(platform) {
  if (!platform) return '';
  const parts = [platform.os, platform.architecture, platform.variant].filter(Boolean);
  let name = parts.join('/');
  if (platform['os.version'] || platform.osVersion) name += ` (${platform['os.version'] || platform.osVersion})`;
  return name || 'unknown';
}

const ANNOTATION_LABELS = {
  'org.opencontainers.image.created': 'Created',
  'io.cncf.oras.artifact.created': 'Created',
  'org.opencontainers.image.authors': 'Authors',
  'org.opencontainers.image.title': 'Title',
  'org.opencontainers.image.description': 'Description',
  'org.opencontainers.image.source': 'Source',
  'org.opencontainers.image.revision': 'Revision',
  'org.opencontainers.image.version': 'Version',
  'org.opencontainers.image.ref.name': 'Reference name',
  'dev.cosignproject.cosign/signature': 'Signature',
  'dev.sigstore.cosign/certificate': 'Signing certificate',
  'dev.sigstore.cosign/chain': 'Certificate chain',
  'dev.sigstore.cosign/bundle': 'Transparency log bundle',
  'dev.sigstore.cosign/timestamp': 'Timestamp',
  'io.cncf.notary.x509chain.thumbprint#S256': 'Signer certificate thumbprints',
  'io.cncf.notary.signingAgent': 'Signing agent',
  predicateType: 'Predicate type',
  'in-toto.io/predicate-type': 'Predicate type',
};

/** A readable label for an annotation key, else the key itself. */
export function annotationLabel(key) {
  if (ANNOTATION_LABELS[key]) return ANNOTATION_LABELS[key];
  const lower = key.toLowerCase();
  if (lower.includes('signer') || lower.endsWith('/identity') || lower.includes('subject-identity')) return `Signer (${key})`;
  return key;
}

/** Whether an annotation says when or by whom something was made (shown first). */
export function annotationRank(key) {
  const label = annotationLabel(key);
  if (label === 'Created') return 0;
  if (label.startsWith('Signer') || label === 'Authors' || label === 'Signing agent') return 1;
  if (label !== key) return 2;
  return 3;
}
