// The repository list: search, paging, counts, sizes, last push.

import { api } from './api.js';
import { h, append, replace, formatBytes, formatCount, timeEl, pageSizeOf } from './dom.js';
import { paths, updateUrl } from './app.js';
import { loginView } from './view-login.js';


export async function reposView(ctx) {
  const q = ctx.query.get('q') || '';
  const last = ctx.query.get('last') || '';
  const n = pageSizeOf(ctx.query);
  const size = n === 50 ? null : n;
  const data = await loadPage({ q, n, last, wanted: () => ctx.current() });
  if (ctx.session.authEnabled && !ctx.session.user && !q && !last && data.repositories.length === 0 && !data.next) {
    // Nothing is open to anonymous visitors: ask who they are right away.
    return loginView({ ...ctx, message: 'Sign in to see the repositories.', stay: true });
  }
  setTitle(q);

  const results = h('div', { class: 'results', id: 'repo-results', 'aria-live': 'polite' });
  fillResults(results, data, q, last, ctx.session, size);

  const input = h('input', {
    id: 'repo-search',
    name: 'q',
    type: 'search',
    value: q,
    placeholder: 'Filter by name',
    autocomplete: 'off',
    spellcheck: 'false',
    'aria-controls': 'repo-results',
  });
  let timer = null;
  let asked = 0;
  const search = async () => {
    const text = input.value.trim();
    const mine = ++asked;
    updateUrl(paths.home({ q: text, n: size }));
    setTitle(text);
    try {
      const answer = await loadPage({ q: text, n, wanted: () => mine === asked && ctx.current() });
      if (mine !== asked || !ctx.current()) return;
      fillResults(results, answer, text, '', ctx.session, size);
    } catch (e) {
      if (mine !== asked) return;
      replace(results, h('p', { class: 'form-error', role: 'alert' }, `Could not search: ${e.message}`));
    }
  };
  input.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(search, 250);
  });
  const form = h('form', { role: 'search', class: 'search', on: { submit: (e) => { e.preventDefault(); clearTimeout(timer); search(); } } },
    h('label', { for: 'repo-search' }, 'Search repositories'),
    h('div', { class: 'search-row' }, input, h('button', { type: 'submit' }, 'Search')),
  );

  append(ctx.page,
    h('div', { class: 'page-head' }, h('h1', null, 'Repositories')),
    form,
    results,
  );
}

// Requests one page view makes at most. For a visitor who may see only some repositories, the
// server examines a bounded number of names per request, so a page may come back short or
// empty with a `next`: the following pages are asked for until the page is full, the list
// ends or this many requests were made (then the pager offers the rest).
const MAX_REQUESTS_PER_PAGE = 8;

/** Up to `n` repositories after `last`, and the `next` of the last answer used. */
async function loadPage({ q, n, last, wanted }) {
  const first = await api.repositories({ q, n, last });
  const repositories = [...(first.repositories || [])];
  let next = first.next || null;
  for (let asked = 1; next && repositories.length < n && asked < MAX_REQUESTS_PER_PAGE && wanted(); asked++) {
    const more = await api.repositories({ q, n: n - repositories.length, last: next });
    repositories.push(...(more.repositories || []));
    next = more.next || null;
  }
  return { repositories, next };
}

function setTitle(q) {
  document.title = q ? `Repositories matching "${q}" · Berth` : 'Repositories · Berth';
}

function fillResults(results, data, q, last, session, n) {
  const repos = data.repositories || [];
  const summary = h('p', { class: 'muted count', id: 'repo-count' },
    repos.length === 0 && data.next
      ? `No repository${q ? ` matching "${q}"` : ''} found yet; there are more to look through on the next page.`
      : repos.length === 0 && last
      ? `No more repositories${q ? ` matching "${q}"` : ''}.`
      : repos.length === 0
      ? (q ? `No repository matches "${q}".` : emptyText(session))
      : `${repos.length}${data.next ? '+' : ''} ${repos.length === 1 ? 'repository' : 'repositories'}${q ? ` matching "${q}"` : ''}${last ? ' on this page' : ''}`);
  const table = repos.length === 0 ? null : h('table', { class: 'data repos' },
    h('caption', { class: 'visually-hidden' }, 'Repositories, by name'),
    h('thead', null, h('tr', null,
      h('th', { scope: 'col' }, 'Repository'),
      h('th', { scope: 'col', class: 'num' }, 'Tags'),
      h('th', { scope: 'col', class: 'num' }, 'Manifests'),
      h('th', { scope: 'col', class: 'num' }, 'Size'),
      h('th', { scope: 'col' }, 'Last push'))),
    h('tbody', null, repos.map((repo) => h('tr', { dataset: { repository: repo.name } },
      h('th', { scope: 'row', 'data-label': 'Repository' }, h('a', { href: paths.repo(repo.name), class: 'repo-link' }, repo.name)),
      h('td', { class: 'num', 'data-label': 'Tags' }, formatCount(repo.tags)),
      h('td', { class: 'num', 'data-label': 'Manifests' }, formatCount(repo.manifests)),
      h('td', { class: 'num', 'data-label': 'Size', title: `${formatCount(repo.sizeBytes)} bytes` }, formatBytes(repo.sizeBytes)),
      h('td', { 'data-label': 'Last push' }, timeEl(repo.lastPush))))));
  const pager = h('nav', { class: 'pager', 'aria-label': 'Pages' },
    last ? h('a', { href: paths.home({ q, n }), rel: 'first' }, '« First page') : null,
    data.next ? h('a', { href: paths.home({ q, n, last: data.next }), rel: 'next' }, 'Next page »') : null);
  replace(results, summary, table, pager.childNodes.length ? pager : null);
}

function emptyText(session) {
  if (session.authEnabled && !session.user) return 'No repository is open to anonymous visitors. Sign in to see more.';
  return 'No repositories yet. Push an image to see it here.';
}
