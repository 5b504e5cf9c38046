// A repository: its tags (paged, sortable by name and time) with digest, size, platforms and
// badges for what refers to each; deletion of a tag when the caller may delete.

import { api } from './api.js';
import { h, append, formatBytes, formatCount, timeEl, digestEl, announce, pageSizeOf } from './dom.js';
import { paths } from './app.js';
import { kindOf, artifactName, mediaName, platformName } from './types.js';
import { badgeList } from './badges.js';
import { confirmDeletion } from './delete.js';

const SORTS = [
  ['name', 'Name A–Z'],
  ['-name', 'Name Z–A'],
  ['-time', 'Newest first'],
  ['time', 'Oldest first'],
];

export async function repoView(ctx) {
  const repository = ctx.params.repository;
  const sortParam = ctx.query.get('sort');
  const sort = SORTS.some(([s]) => s === sortParam) ? sortParam : 'name';
  const last = ctx.query.get('last') || '';
  document.title = `${repository} · Berth`;
  const n = pageSizeOf(ctx.query);
  const data = await api.tags({ repository, n, last, sort });
  const tags = data.tags || [];
  // One page's tags are all of them only when there is no other page.
  const total = data.next || last ? await tagCount(repository) : tags.length;
  const canDelete = Boolean(data.permissions && data.permissions.delete);
  const link = (params) => paths.repo(repository, { sort: params.sort === 'name' ? null : params.sort, n: n === 50 ? null : n, last: params.last });

  const sortNav = h('nav', { class: 'sort', 'aria-label': 'Sort tags' },
    h('span', { class: 'sort-label' }, 'Sort:'),
    SORTS.map(([value, label]) => h('a', { href: link({ sort: value }), 'aria-current': value === sort ? 'true' : null, dataset: { sort: value } }, label)));

  const ariaSort = (column) => {
    if (column === 'name' && (sort === 'name' || sort === '-name')) return sort === 'name' ? 'ascending' : 'descending';
    if (column === 'time' && (sort === 'time' || sort === '-time')) return sort === 'time' ? 'ascending' : 'descending';
    return null;
  };

  const table = tags.length === 0 ? h('p', { class: 'muted', id: 'no-tags' }, last ? 'No more tags.' : 'This repository has no tags.') : h('table', { class: 'data tags' },
    h('caption', { class: 'visually-hidden' }, `Tags of ${repository}`),
    h('thead', null, h('tr', null,
      h('th', { scope: 'col', 'aria-sort': ariaSort('name') },
        h('a', { href: link({ sort: sort === 'name' ? '-name' : 'name' }), class: 'sort-header' }, 'Tag', sortMark(ariaSort('name')))),
      h('th', { scope: 'col' }, 'Digest'),
      h('th', { scope: 'col' }, 'Type'),
      h('th', { scope: 'col', class: 'num' }, 'Size'),
      h('th', { scope: 'col' }, 'Platforms'),
      h('th', { scope: 'col' }, 'Referrers'),
      h('th', { scope: 'col', 'aria-sort': ariaSort('time') },
        h('a', { href: link({ sort: sort === '-time' ? 'time' : '-time' }), class: 'sort-header' }, 'Pushed', sortMark(ariaSort('time')))),
      canDelete ? h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Actions')) : null)),
    h('tbody', null, tags.map((tag) => tagRow(ctx, repository, tag, canDelete, tags))));

  const pager = h('nav', { class: 'pager', 'aria-label': 'Pages' },
    last ? h('a', { href: link({ sort }), rel: 'first' }, '« First page') : null,
    data.next ? h('a', { href: link({ sort, last: data.next }), rel: 'next' }, 'Next page »') : null);

  append(ctx.page,
    breadcrumb([['Repositories', paths.home()], [repository, null]]),
    h('div', { class: 'page-head' },
      h('h1', null, h('span', { class: 'visually-hidden' }, 'Repository '), repository),
      h('p', { class: 'muted', id: 'tag-count' }, countText(total, tags.length, { more: Boolean(data.next), later: Boolean(last) }),
        data.permissions ? [' · you may ', permissionText(data.permissions)] : null)),
    tags.length ? sortNav : null,
    table,
    pager.childNodes.length ? pager : null);
}

/**
 * How many tags `repository` has, from its row in the repository list (a tags answer counts
 * one page only); null when the row is not found.
 */
async function tagCount(repository) {
  try {
    const data = await api.repositories({ q: repository, n: 100 });
    const row = (data.repositories || []).find((r) => r.name === repository);
    return row && Number.isFinite(row.tags) ? row.tags : null;
  } catch {
    return null;
  }
}

/**
 * "62 tags", or "62 tags, 50 on this page" when there are other pages; without the total,
 * "50+ tags" (`more`: a next page) or "12 tags on this page" (`later`: not the first page).
 */
function countText(total, onPage, { more, later }) {
  const tagsText = (count, plus = '') => `${formatCount(count)}${plus} ${count === 1 && !plus ? 'tag' : 'tags'}`;
  if (total === null) return `${tagsText(onPage, more ? '+' : '')}${later ? ' on this page' : ''}`;
  return more || later ? `${tagsText(total)}, ${formatCount(onPage)} on this page` : tagsText(total);
}

function sortMark(direction) {
  if (!direction) return null;
  return h('span', { 'aria-hidden': 'true', class: 'sort-mark' }, direction === 'ascending' ? ' ▲' : ' ▼');
}

function permissionText(p) {
  const actions = ['pull', 'push', 'delete'].filter((a) => p[a]);
  return actions.length ? actions.join(', ') : 'nothing';
}

function tagRow(ctx, repository, tag, canDelete, pageTags) {
  const kind = kindOf(tag.mediaType, tag.artifactType);
  const href = paths.manifest(repository, tag.digest);
  const platforms = tag.platforms || [];
  return h('tr', { dataset: { tag: tag.name } },
    h('th', { scope: 'row', 'data-label': 'Tag' }, h('a', { href, class: 'tag-link' }, tag.name)),
    h('td', { 'data-label': 'Digest' }, digestEl(tag.digest)),
    h('td', { 'data-label': 'Type', title: tag.mediaType }, h('span', { class: `kind kind-${kind}` }, kind),
      tag.artifactType ? h('span', { class: 'small muted block' }, artifactName(tag.artifactType)) : h('span', { class: 'visually-hidden' }, ` (${mediaName(tag.mediaType)})`)),
    h('td', { class: 'num', 'data-label': 'Size', title: `${formatCount(tag.size)} bytes` }, formatBytes(tag.size)),
    h('td', { 'data-label': 'Platforms' }, platforms.length
      ? h('ul', { class: 'platforms' }, platforms.map((p) => h('li', null, platformName(p))))
      : h('span', { class: 'muted' }, '—')),
    h('td', { 'data-label': 'Referrers' }, badgeList(tag.badges, tag.referrers)),
    h('td', { 'data-label': 'Pushed' }, timeEl(tag.pushedAt)),
    canDelete ? h('td', { class: 'row-actions' },
      h('button', {
        type: 'button',
        class: 'danger small-button',
        'aria-label': `Delete tag ${tag.name}`,
        on: {
          click: async () => {
            const otherTags = pageTags.filter((t) => t.digest === tag.digest && t.name !== tag.name).map((t) => t.name);
            if (await confirmDeletion({ repository, reference: tag.name, kind: 'tag', otherTags })) {
              announce(`Tag ${tag.name} deleted`);
              ctx.rerender({ focus: true });
            }
          },
        },
      }, 'Delete')) : null);
}

/** A breadcrumb trail: [label, href] pairs, the last one the current page. */
export function breadcrumb(items) {
  return h('nav', { class: 'breadcrumb', 'aria-label': 'Breadcrumb' },
    h('ol', null, items.map(([label, href], i) => h('li', null,
      href && i < items.length - 1 ? h('a', { href }, label) : h('span', { 'aria-current': 'page' }, label)))));
}
