// Berth's web UI: a single-page app over the browse API. Routes are real paths under /ui/
// (the server answers index.html for them): /ui/ (repositories), /ui/r/<repo> (a repository's
// tags), /ui/m/<repo>@<digest> or /ui/m/<repo>:<tag> (a manifest), /ui/login, /ui/gc.

import { api, ApiError } from './api.js';
import { currentUser, logout } from './auth.js';
import { h, replace } from './dom.js';
import { reposView } from './view-repos.js';
import { repoView } from './view-repo.js';
import { manifestView } from './view-manifest.js';
import { loginView } from './view-login.js';
import { gcView } from './view-gc.js';
import { deniedView, errorView, notFoundView } from './view-errors.js';

const main = document.getElementById('main');
const userBox = document.getElementById('user');
const nav = document.getElementById('nav');

const ANONYMOUS = { user: null, admin: false, authEnabled: false, tokenUrl: null };
let session = ANONYMOUS;
/** The signed-in user the session was read for: read again when it changes. */
let sessionUser;
let renderCount = 0;

/** Links inside the app: `/ui/r/<repo>` etc., each segment encoded. */
export const paths = {
  home: (params) => withParams('/ui/', params),
  repo: (name, params) => withParams(`/ui/r/${encodeName(name)}`, params),
  manifest: (name, digest) => `/ui/m/${encodeName(name)}@${encodeSegment(digest)}`,
  manifestTag: (name, tag) => `/ui/m/${encodeName(name)}:${encodeURIComponent(tag)}`,
  login: (next) => withParams('/ui/login', { next }),
  gc: () => '/ui/gc',
};

/** A path segment, percent-encoded except for `:` (digests read better unencoded). */
function encodeSegment(text) {
  return encodeURIComponent(String(text)).replace(/%3A/gi, ':');
}

function encodeName(name) {
  return String(name).split('/').map(encodeSegment).join('/');
}

function withParams(path, params) {
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) if (v !== null && v !== undefined && v !== '') query.set(k, v);
  const qs = query.toString();
  return qs ? `${path}?${qs}` : path;
}

/** Goes to an app URL without reloading the page. */
export function navigate(url, { replace: replaceState = false, focus = true } = {}) {
  if (replaceState) history.replaceState({}, '', url);
  else history.pushState({}, '', url);
  render({ focus });
}

/** Changes the URL (e.g. the search query) without rendering again. */
export function updateUrl(url) {
  history.replaceState({}, '', url);
}

async function loadSession() {
  sessionUser = currentUser();
  try {
    session = { ...ANONYMOUS, ...(await api.session()) };
  } catch (e) {
    if (e instanceof ApiError && e.status === 401 && currentUser()) {
      // A token that no longer works: forget it and ask as anonymous.
      logout();
      return loadSession();
    }
    session = ANONYMOUS;
  }
  if (currentUser() && session.user === null && session.authEnabled) {
    logout();
    sessionUser = null;
  }
}

function renderHeader() {
  replace(
    nav,
    h('a', { href: paths.home(), 'aria-current': isPath('/ui/') ? 'page' : null }, 'Repositories'),
    session.admin ? h('a', { href: paths.gc(), 'aria-current': isPath('/ui/gc') ? 'page' : null }, 'Garbage collection') : null,
  );
  if (!session.authEnabled) {
    replace(userBox);
    return;
  }
  if (session.user) {
    replace(
      userBox,
      h('span', { class: 'user-name' }, h('span', { class: 'visually-hidden' }, 'Signed in as '), session.user, session.admin ? h('span', { class: 'role' }, 'admin') : null),
      h('button', {
        type: 'button',
        class: 'link-button',
        id: 'logout',
        on: {
          click: () => {
            logout();
            navigate(paths.home());
          },
        },
      }, 'Sign out'),
    );
  } else {
    const here = location.pathname + location.search;
    replace(userBox, isPath('/ui/login') ? null : h('a', { href: paths.login(here), class: 'button', id: 'login-link' }, 'Sign in'));
  }
}

function isPath(path) {
  const current = location.pathname.replace(/\/+$/, '') || '/';
  return current === (path.replace(/\/+$/, '') || '/') || (path === '/ui/' && current === '/ui');
}

/** Splits `/ui/m/<repo>@<digest>` or `/ui/m/<repo>:<tag>`. */
function parseManifestRef(rest) {
  const at = rest.lastIndexOf('@');
  if (at > 0) return { repository: rest.slice(0, at), reference: rest.slice(at + 1), byDigest: true };
  const slash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > slash && colon > 0) return { repository: rest.slice(0, colon), reference: rest.slice(colon + 1), byDigest: false };
  return null;
}

function decodePath(path) {
  try {
    return path.split('/').map(decodeURIComponent).join('/');
  } catch {
    return null;
  }
}

function resolve() {
  const raw = location.pathname.replace(/^\/ui(\/|$)/, '');
  const path = decodePath(raw.replace(/\/+$/, ''));
  if (path === null) return { view: notFoundView, params: {} };
  if (path === '') return { view: reposView, params: {} };
  if (path === 'login') return { view: loginView, params: {} };
  if (path === 'gc') return { view: gcView, params: {} };
  if (path.startsWith('r/') && path.length > 2) return { view: repoView, params: { repository: path.slice(2) } };
  if (path.startsWith('m/')) {
    const ref = parseManifestRef(path.slice(2));
    if (ref) return { view: manifestView, params: ref };
  }
  return { view: notFoundView, params: {} };
}

/** Renders the page the URL names. */
export async function render({ focus = false, reloadSession = false } = {}) {
  const mine = ++renderCount;
  if (reloadSession || sessionUser !== currentUser()) await loadSession();
  renderHeader();
  const { view, params } = resolve();
  const query = new URLSearchParams(location.search);
  main.setAttribute('aria-busy', 'true');
  const page = h('div', { class: 'page' });
  const ctx = {
    session,
    params,
    query,
    page,
    current: () => mine === renderCount,
    rerender: (opts) => render(opts),
  };
  try {
    await view(ctx);
  } catch (e) {
    if (mine !== renderCount) return;
    await handleError(e, ctx);
    if (mine !== renderCount) return;
    renderHeader();
  }
  if (mine !== renderCount) return;
  replace(main, page);
  main.removeAttribute('aria-busy');
  if (focus) {
    const heading = main.querySelector('h1');
    if (heading) {
      heading.setAttribute('tabindex', '-1');
      heading.focus({ preventScroll: true });
    }
    window.scrollTo(0, 0);
  }
  const autofocus = main.querySelector('[data-autofocus]');
  if (autofocus) autofocus.focus();
}

async function handleError(e, ctx) {
  replace(ctx.page);
  if (e instanceof ApiError && e.status === 401) {
    // Still signed in (the session knows the user): refused, not unknown.
    if (currentUser()) await loadSession();
    if (currentUser() && session.user) return deniedView({ ...ctx, session }, e);
    return loginView({ ...ctx, session, message: 'Sign in to see this page.', stay: true });
  }
  if (e instanceof ApiError && e.status === 403) return deniedView(ctx, e);
  if (e instanceof ApiError && e.status === 404) return notFoundView(ctx, e);
  return errorView(ctx, e);
}

// Links inside the app navigate without reloading.
document.addEventListener('click', (event) => {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const link = event.target.closest('a');
  if (!link || link.target || link.hasAttribute('download')) return;
  const url = new URL(link.href, location.href);
  if (url.origin !== location.origin || !(url.pathname === '/ui' || url.pathname.startsWith('/ui/'))) return;
  if (/\.(svg|css|js|html)$/.test(url.pathname)) return;
  event.preventDefault();
  navigate(url.pathname + url.search + url.hash);
});

window.addEventListener('popstate', () => render({ focus: true }));

render({ reloadSession: true });
