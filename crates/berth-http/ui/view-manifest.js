// A manifest: overview, pull commands, an index's platforms, config, layers, annotations,
// attached SBOMs and the referrers graph; deletion when the caller may delete.

import { api } from './api.js';
import { h, append, replace, formatBytes, formatCount, timeEl, shortDigest, digestEl, copyButton, announce } from './dom.js';
import { paths, navigate } from './app.js';
import { artifactName, mediaName, platformName, isIndex, kindOf, annotationLabel } from './types.js';
import { badgeList } from './badges.js';
import { breadcrumb } from './view-repo.js';
import { graphTree, countNodes, sbomText } from './graph.js';
import { confirmDeletion } from './delete.js';

const PULL_CLIENTS = [
  ['docker', 'Docker'],
  ['podman', 'Podman'],
  ['oras', 'ORAS'],
  ['skopeo', 'skopeo'],
  ['crane', 'crane'],
];

export async function manifestView(ctx) {
  const { repository, reference } = ctx.params;
  document.title = `${repository}${ctx.params.byDigest ? '@' + shortDigest(reference) : ':' + reference} · Berth`;
  const m = await api.manifest({ repository, reference });
  document.title = `${repository}@${shortDigest(m.digest)} · Berth`;
  const kind = kindOf(m.mediaType, m.artifactType);
  const tags = m.tags || [];
  const canDelete = Boolean(m.permissions && m.permissions.delete);

  append(ctx.page,
    breadcrumb([['Repositories', paths.home()], [repository, paths.repo(repository)], [shortDigest(m.digest), null]]),
    h('div', { class: 'page-head' },
      h('h1', { class: 'manifest-title' },
        h('span', { class: 'repo-part' }, repository),
        h('span', { class: 'digest-part' }, `@${shortDigest(m.digest)}`)),
      h('p', { class: 'head-meta' },
        h('span', { class: `kind kind-${kind}` }, kind), ' ',
        m.artifactType ? h('span', { class: 'muted' }, artifactName(m.artifactType)) : null,
        tags.length ? h('span', { class: 'tag-chips' }, tags.map((t) => h('span', { class: 'chip' }, t))) : null,
        badgeList(m.badges, m.referrers, { empty: false }))),
    overview(repository, m),
    pullSection(m),
    isIndex(m.mediaType) ? platformsSection(repository, m) : null,
    m.config ? configSection(m.config) : null,
    (m.layers && m.layers.length) || !isIndex(m.mediaType) ? layersSection(m.layers || []) : null,
    annotationsSection(m.annotations),
    m.sboms && m.sboms.length ? sbomSection(repository, m.sboms) : null,
    graphSection(ctx, repository, m),
    canDelete ? deleteSection(ctx, repository, m) : null);
}

function section(id, title, ...content) {
  return h('section', { class: 'panel', id, 'aria-labelledby': `${id}-title` }, h('h2', { id: `${id}-title` }, title), content);
}

function row(label, ...value) {
  return [h('dt', null, label), h('dd', null, value)];
}

function overview(repository, m) {
  return section('overview', 'Overview',
    h('dl', { class: 'facts' },
      row('Digest', h('code', { class: 'digest-full' }, m.digest), copyButton(m.digest, 'Copy digest')),
      row('Media type', mediaName(m.mediaType), m.mediaType !== mediaName(m.mediaType) ? h('code', { class: 'small muted block' }, m.mediaType) : null),
      m.artifactType ? row('Artifact type', artifactName(m.artifactType), artifactName(m.artifactType) !== m.artifactType ? h('code', { class: 'small muted block' }, m.artifactType) : null) : null,
      row('Size', formatBytes(m.size), h('span', { class: 'muted' }, ` (${formatCount(m.size)} bytes)`)),
      row('Pushed', timeEl(m.pushedAt)),
      row('Tags', (m.tags || []).length ? h('span', { class: 'tag-chips' }, m.tags.map((t) => h('span', { class: 'chip' }, t))) : h('span', { class: 'muted' }, 'none')),
      m.platforms && m.platforms.length ? row('Platforms', m.platforms.map(platformName).join(', ')) : null,
      m.subject ? row('Subject', h('a', { href: paths.manifest(repository, m.subject.digest) }, h('code', { title: m.subject.digest }, shortDigest(m.subject.digest))),
        m.subject.mediaType ? h('span', { class: 'muted' }, ` ${mediaName(m.subject.mediaType)}`) : null) : null));
}

function pullSection(m) {
  const pull = m.pull || {};
  const entries = PULL_CLIENTS.filter(([key]) => pull[key]);
  if (!entries.length) return null;
  return section('pull', 'Pull',
    h('ul', { class: 'commands' }, entries.map(([key, label]) => h('li', { dataset: { client: key } },
      h('span', { class: 'command-label' }, label),
      h('code', { class: 'command' }, pull[key]),
      copyButton(pull[key], `Copy the ${label} command`)))));
}

function platformsSection(repository, m) {
  const children = m.manifests || [];
  return section('platforms', `Platforms (${children.length})`,
    children.length === 0 ? h('p', { class: 'muted' }, 'This index lists no manifests.') : h('table', { class: 'data children' },
      h('thead', null, h('tr', null,
        h('th', { scope: 'col' }, 'Platform'),
        h('th', { scope: 'col' }, 'Manifest'),
        h('th', { scope: 'col' }, 'Type'),
        h('th', { scope: 'col', class: 'num' }, 'Size'))),
      h('tbody', null, children.map((child) => h('tr', { dataset: { digest: child.digest } },
        h('th', { scope: 'row', 'data-label': 'Platform' }, child.platform ? platformName(child.platform) : h('span', { class: 'muted' }, child.artifactType ? artifactName(child.artifactType) : 'no platform')),
        h('td', { 'data-label': 'Manifest' }, digestEl(child.digest, paths.manifest(repository, child.digest))),
        h('td', { 'data-label': 'Type' }, mediaName(child.mediaType)),
        h('td', { class: 'num', 'data-label': 'Size' }, formatBytes(child.size)))))));
}

function configSection(config) {
  return section('config', 'Config',
    h('dl', { class: 'facts' },
      row('Media type', mediaName(config.mediaType), config.mediaType !== mediaName(config.mediaType) ? h('code', { class: 'small muted block' }, config.mediaType) : null),
      row('Digest', digestEl(config.digest)),
      row('Size', formatBytes(config.size))));
}

function layersSection(layers) {
  const total = layers.reduce((n, l) => n + (l.size || 0), 0);
  return section('layers', `Layers (${layers.length})`,
    layers.length === 0 ? h('p', { class: 'muted' }, 'No layers.') : [
      h('p', { class: 'muted' }, `${formatBytes(total)} in total`),
      h('table', { class: 'data layers' },
        h('thead', null, h('tr', null,
          h('th', { scope: 'col', class: 'num' }, '#'),
          h('th', { scope: 'col' }, 'Type'),
          h('th', { scope: 'col' }, 'Digest'),
          h('th', { scope: 'col', class: 'num' }, 'Size'),
          h('th', { scope: 'col' }, 'Annotations'))),
        h('tbody', null, layers.map((layer, i) => h('tr', { dataset: { digest: layer.digest } },
          h('td', { class: 'num', 'data-label': '#' }, String(i + 1)),
          h('td', { 'data-label': 'Type', title: layer.mediaType }, mediaName(layer.mediaType)),
          h('td', { 'data-label': 'Digest' }, digestEl(layer.digest)),
          h('td', { class: 'num', 'data-label': 'Size', title: `${formatCount(layer.size)} bytes` }, formatBytes(layer.size)),
          h('td', { 'data-label': 'Annotations' }, annotationList(layer.annotations, true))))))]);
}

function annotationList(annotations, compact) {
  const entries = Object.entries(annotations || {});
  if (!entries.length) return compact ? h('span', { class: 'muted' }, '—') : h('p', { class: 'muted' }, 'No annotations.');
  return h('dl', { class: compact ? 'annotations compact' : 'annotations' }, entries.map(([k, v]) => [
    h('dt', { title: k }, annotationLabel(k) === k ? k : `${annotationLabel(k)}`),
    h('dd', null, String(v))]));
}

function annotationsSection(annotations) {
  if (!annotations || Object.keys(annotations).length === 0) return null;
  return section('annotations', 'Annotations', annotationList(annotations, false));
}

function sbomSection(repository, sboms) {
  return section('sboms', 'SBOM',
    h('ul', { class: 'sbom-list' }, sboms.map((sbom) => h('li', { dataset: { digest: sbom.digest } },
      h('a', { href: paths.manifest(repository, sbom.digest) }, artifactName(sbom.artifactType)), ': ',
      h('span', { class: 'sbom-info' }, sbomText(sbom))))));
}

function graphSection(ctx, repository, m) {
  const body = h('div', { class: 'graph', 'aria-live': 'polite', 'aria-busy': 'true' }, h('p', { class: 'muted' }, 'Loading the referrers graph…'));
  const direct = (m.referrers || []).reduce((n, r) => n + (r.count || 0), 0);
  const sectionEl = section('graph', 'Referrers', body);
  api.graph(repository, m.digest).then((tree) => {
    if (!ctx.current()) return;
    body.removeAttribute('aria-busy');
    const total = countNodes(tree.referrers);
    if (total === 0) {
      replace(body, h('p', { class: 'muted', id: 'graph-empty' }, 'Nothing refers to this manifest.'));
      return;
    }
    replace(body,
      h('p', { class: 'muted' }, `${total} ${total === 1 ? 'artifact refers' : 'artifacts refer'} to this manifest, ${direct || (tree.referrers || []).length} directly.`,
        tree.complete ? null : ' Some manifests were too large to load.'),
      graphTree({ repository, subject: m, tree, sboms: m.sboms }));
  }).catch((e) => {
    if (!ctx.current()) return;
    body.removeAttribute('aria-busy');
    replace(body, h('p', { class: 'form-error' }, e.status === 403 || e.status === 401
      ? 'You may not see the referrers of this manifest.'
      : `Could not load the referrers graph: ${e.message}`));
  });
  return sectionEl;
}

function deleteSection(ctx, repository, m) {
  return section('delete', 'Delete',
    h('p', null, 'Deleting the manifest removes it with all its tags.'),
    h('button', {
      type: 'button',
      class: 'danger',
      id: 'delete-manifest',
      on: {
        click: async () => {
          if (await confirmDeletion({ repository, reference: m.digest, kind: 'manifest' })) {
            announce(`Manifest ${shortDigest(m.digest)} deleted`);
            navigate(paths.repo(repository));
          }
        },
      },
    }, 'Delete manifest…'));
}
