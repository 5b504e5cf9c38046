// The browse API and the registry endpoints the UI uses, with the caller's credentials.

import { authorization, ensureScopes, freshen, repositoryScope, widen } from './auth.js';
import { withQuery } from './dom.js';

/** A refused or failed request: `status`, the registry's error `code` and its `message`. */
export class ApiError extends Error {
  constructor(status, code, message, detail) {
    super(message || `${status}`);
    this.status = status;
    this.code = code;
    this.detail = detail;
  }
}

async function toError(response) {
  let code = null;
  let message = `${response.status} ${response.statusText || ''}`.trim();
  let detail = null;
  try {
    const body = await response.json();
    const first = body && Array.isArray(body.errors) ? body.errors[0] : null;
    if (first) {
      code = first.code || null;
      message = first.message || message;
      detail = first.detail ?? null;
    }
  } catch {
    // not JSON
  }
  return new ApiError(response.status, code, message, detail);
}

/**
 * Sends a request with the caller's credentials; retries once with a wider token when the
 * registry challenges for a scope the token lacks. Returns the Response (any status).
 */
export async function send(url, options = {}) {
  const attempt = async () => {
    await freshen();
    const headers = new Headers(options.headers || {});
    if (!headers.has('Accept')) headers.set('Accept', 'application/json');
    const auth = authorization();
    if (auth) headers.set('Authorization', auth);
    return fetch(url, { ...options, headers, credentials: 'omit', cache: 'no-store' });
  };
  let response = await attempt();
  if ((response.status === 401 || response.status === 403) && (await widen(response))) {
    response = await attempt();
  }
  return response;
}

/** GET a JSON document; throws ApiError unless 2xx. Returns {data, response}. */
export async function getJson(url) {
  const response = await send(url);
  if (!response.ok) throw await toError(response);
  return { data: await response.json(), response };
}

/** Encodes a repository name for a /v2/<name>/ path (each segment on its own). */
export function repoPath(name) {
  return String(name).split('/').map(encodeURIComponent).join('/');
}

/** A tag or digest for a /v2/ path: as it is (their characters need no escaping). */
export function refPath(reference) {
  const text = String(reference);
  return /^[A-Za-z0-9._:+-]+$/.test(text) ? text : encodeURIComponent(text);
}

/** The URL of the next page from a `Link: <url>; rel="next"` header, else null. */
export function nextLink(response) {
  const link = response.headers.get('Link');
  if (!link) return null;
  for (const part of link.split(',')) {
    const match = /<([^>]*)>\s*;\s*rel="?next"?/i.exec(part);
    if (match) return match[1];
  }
  return null;
}

/** Before reading a repository: a token that was asked for what the caller may do there. */
const forRepository = (repository) => ensureScopes([repositoryScope(repository)]);

export const api = {
  session: () => getJson('/berth/v1/session').then((r) => r.data),
  repositories: ({ q, n, last }) => getJson(withQuery('/berth/v1/repositories', { q, n, last })).then((r) => r.data),
  tags: async ({ repository, n, last, sort }) => {
    await forRepository(repository);
    return (await getJson(withQuery('/berth/v1/tags', { repository, n, last, sort }))).data;
  },
  manifest: async ({ repository, reference }) => {
    await forRepository(repository);
    return (await getJson(withQuery('/berth/v1/manifest', { repository, reference }))).data;
  },
  deletionPreview: async ({ repository, reference, scope }) => {
    await forRepository(repository);
    return (await getJson(withQuery('/berth/v1/deletion-preview', { repository, reference, scope }))).data;
  },
  /** The last collection's report, or null when none has run yet (the server answers 404). */
  lastGc: async () => {
    const response = await send('/berth/v1/gc');
    if (response.status === 404) return null;
    if (!response.ok) throw await toError(response);
    return response.json();
  },
  runGc: async (dryRun) => {
    const response = await send(withQuery('/berth/v1/gc', { dry_run: dryRun ? 'true' : 'false' }), { method: 'POST' });
    if (!response.ok) throw await toError(response);
    return response.json();
  },
  deleteManifest: async (repository, reference) => {
    await forRepository(repository);
    const response = await send(`/v2/${repoPath(repository)}/manifests/${refPath(reference)}`, {
      method: 'DELETE',
    });
    if (!response.ok) throw await toError(response);
  },
  graph,
};

/** At most this many pages of embedded manifests are fetched for one graph. */
const MAX_DATA_PAGES = 32;

/**
 * The referrers graph of `digest` with each node's manifest bytes: the first answer, then the
 * `dataNext` pages (the `Link` header's, else `data_from=K`) until every node has its data.
 * Returns the first answer's tree with `data` filled in from the later pages, `complete`
 * false when it stopped early, and `pages` (how many answers it took). `maxBytes` is the
 * server's `max_bytes` (its default when not given).
 */
async function graph(repository, digest, { maxBytes } = {}) {
  await forRepository(repository);
  const base = `/v2/${repoPath(repository)}/_berth/referrers-graph/${refPath(digest)}`;
  const first = await getJson(withQuery(base, { manifests: 'true', max_bytes: maxBytes }));
  const tree = first.data;
  const byDigest = new Map();
  const collect = (nodes) => {
    for (const node of nodes || []) {
      if (node.data && !byDigest.has(node.digest)) byDigest.set(node.digest, node.data);
      collect(node.referrers);
    }
  };
  collect(tree.referrers);
  let next = tree.dataNext ?? null;
  let link = nextLink(first.response);
  let pages = 1;
  while (next !== null && next !== undefined && pages < MAX_DATA_PAGES) {
    const url = link || withQuery(base, { manifests: 'true', max_bytes: maxBytes, data_from: next });
    const page = await getJson(url);
    collect(page.data.referrers);
    const after = page.data.dataNext ?? null;
    if (after !== null && after <= next) break; // no progress: stop rather than loop
    next = after;
    link = nextLink(page.response);
    pages += 1;
  }
  const fill = (nodes) => {
    for (const node of nodes || []) {
      if (!node.data && byDigest.has(node.digest)) node.data = byDigest.get(node.digest);
      fill(node.referrers);
    }
  };
  fill(tree.referrers);
  tree.complete = next === null || next === undefined;
  tree.pages = pages;
  return tree;
}
