// The referrers graph drawn as a tree: nested, indented boxes joined by CSS connectors, the
// referrers of each node grouped by artifact type. Each node shows what its embedded manifest
// bytes (the descriptor's `data`) say: when it was made, who signed it, its other annotations.

import { h, formatBytes, shortDigest, copyButton, timeEl, formatCount } from './dom.js';
import { artifactInfo, artifactName, annotationLabel, annotationRank, mediaName } from './types.js';
import { paths } from './app.js';

/** Decodes a descriptor's `data` (base64 of the manifest bytes) to its JSON, else null. */
export function decodeData(data) {
  if (!data) return null;
  try {
    const binary = atob(data);
    const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return null;
  }
}

/** Counts the nodes of a referrers list, nested ones included. */
export function countNodes(nodes) {
  return (nodes || []).reduce((n, node) => n + 1 + countNodes(node.referrers), 0);
}

/** Groups descriptors by artifact type, known types first, each group's nodes by digest. */
function groups(nodes) {
  const byType = new Map();
  for (const node of nodes || []) {
    const type = node.artifactType || '';
    if (!byType.has(type)) byType.set(type, []);
    byType.get(type).push(node);
  }
  return [...byType].sort(([a], [b]) => {
    const ka = artifactInfo(a).name ? 0 : 1;
    const kb = artifactInfo(b).name ? 0 : 1;
    return ka - kb || artifactName(a).localeCompare(artifactName(b));
  });
}

/**
 * The tree: the subject (the manifest of the page) at the root. `sboms` (from the manifest
 * summary) add format and package counts to the SBOM nodes they name.
 */
export function graphTree({ repository, subject, tree, sboms }) {
  const sbomByDigest = new Map((sboms || []).map((s) => [s.digest, s]));
  const root = h('li', { class: 'tree-node tree-root' },
    h('div', { class: 'node node-subject', dataset: { digest: subject.digest } },
      h('div', { class: 'node-title' }, h('span', { class: 'node-kind' }, 'This manifest')),
      h('div', { class: 'node-meta' }, h('code', { title: subject.digest }, shortDigest(subject.digest)), ' · ', mediaName(subject.mediaType))),
    groupList(repository, tree.referrers, sbomByDigest, 1));
  return h('ul', { class: 'tree', role: 'list', 'aria-label': 'Referrers graph' }, root);
}

function groupList(repository, nodes, sbomByDigest, depth) {
  if (!nodes || nodes.length === 0) return null;
  return h('ul', { class: 'tree', role: 'list' }, groups(nodes).map(([type, members]) => {
    const info = artifactInfo(type);
    return h('li', { class: 'tree-group', dataset: { artifactType: type, badge: info.badge || '' } },
      h('div', { class: ['group-label', info.badge ? `group-${info.badge}` : null] },
        h('span', { class: 'group-name' }, artifactName(type)),
        info.name ? h('code', { class: 'group-type' }, type) : null,
        h('span', { class: 'group-count' }, members.length === 1 ? '1 artifact' : `${members.length} artifacts`)),
      h('ul', { class: 'tree', role: 'list' }, members.map((node) => nodeItem(repository, node, sbomByDigest, depth))));
  }));
}

function nodeItem(repository, node, sbomByDigest, depth) {
  const manifest = decodeData(node.data);
  const info = artifactInfo(node.artifactType);
  const annotations = collectAnnotations(node, manifest);
  const sbom = sbomByDigest.get(node.digest);
  const first = annotations.filter(([key]) => annotationRank(key) <= 2);
  const rest = annotations.filter(([key]) => annotationRank(key) > 2);
  return h('li', { class: 'tree-node', dataset: { digest: node.digest, artifactType: node.artifactType || '' } },
    h('div', { class: ['node', info.badge ? `node-${info.badge}` : null] },
      h('div', { class: 'node-title' },
        h('span', { class: 'node-kind' }, artifactName(node.artifactType)),
        ' ',
        h('a', { href: paths.manifest(repository, node.digest), class: 'node-link' },
          h('code', { title: node.digest }, shortDigest(node.digest)),
          h('span', { class: 'visually-hidden' }, ` (${artifactName(node.artifactType)})`)),
        copyButton(node.digest, `Copy digest ${shortDigest(node.digest)}`)),
      h('div', { class: 'node-meta' },
        formatBytes(node.size),
        manifest && Array.isArray(manifest.layers) ? ` · ${manifest.layers.length} ${manifest.layers.length === 1 ? 'layer' : 'layers'}` : null,
        sbom ? [' · ', h('span', { class: 'sbom-info' }, sbomText(sbom))] : null),
      first.length ? h('dl', { class: 'node-annotations' }, first.map(annotationPair)) : null,
      rest.length ? h('details', { class: 'node-more' },
        h('summary', null, `${rest.length} more ${rest.length === 1 ? 'annotation' : 'annotations'}`),
        h('dl', { class: 'node-annotations' }, rest.map(annotationPair))) : null),
    depth < 64 ? groupList(repository, node.referrers, new Map(), depth + 1) : null);
}

/** "SPDX 2.3 · 12 packages". */
export function sbomText(sbom) {
  const format = sbom.format || 'format unknown';
  const packages = sbom.packages === null || sbom.packages === undefined
    ? 'package count unknown'
    : `${formatCount(sbom.packages)} ${sbom.packages === 1 ? 'package' : 'packages'}`;
  return `${format} · ${packages}`;
}

/** The descriptor's annotations, the manifest's, then its layers' (deduplicated, ranked). */
function collectAnnotations(node, manifest) {
  const seen = new Map();
  const add = (annotations) => {
    if (!annotations || typeof annotations !== 'object') return;
    for (const [key, value] of Object.entries(annotations)) {
      if (typeof value !== 'string' || seen.has(key)) continue;
      seen.set(key, value);
    }
  };
  add(node.annotations);
  if (manifest) {
    add(manifest.annotations);
    (manifest.layers || manifest.blobs || []).forEach((layer) => add(layer && layer.annotations));
  }
  return [...seen].sort(([a], [b]) => annotationRank(a) - annotationRank(b) || a.localeCompare(b));
}

function annotationPair([key, value]) {
  const label = annotationLabel(key);
  const isTime = label === 'Created' || label === 'Timestamp';
  const long = value.length > 80;
  const shown = isTime && !Number.isNaN(Date.parse(value))
    ? timeEl(value)
    : h('span', { class: long ? 'annotation-long' : null, title: long ? value : null }, long ? `${value.slice(0, 77)}…` : value);
  return [h('dt', { title: key }, label), h('dd', null, shown)];
}
