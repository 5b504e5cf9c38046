// Who the UI speaks for. After a login the UI holds a bearer token from the registry's token
// service (`GET /berth/v1/token` with Basic credentials, asking for a refresh token too) in
// sessionStorage: never the password. A token grants exactly the scopes it was issued for, so
// the refresh token buys a wider one when needed: before the UI reads a repository it asks
// for pull, push and delete on it (the token service grants what the policy allows, so the
// pages see the caller's real permissions), and when a request is still challenged for a
// scope the token lacks (401, or 403 `insufficient_scope`, with `WWW-Authenticate: Bearer
// ...,scope="..."`) the token is widened and the request sent once more.
//
// The repository listing needs only the catalog scope: for a token the registry issued, it
// lists what the policy lets the token's user pull.
//
// Without a token service the UI falls back to sending the Basic credentials on each request
// (kept in sessionStorage for this tab only).

const KEY = 'berth.auth';

/** The scopes every UI token asks for: listing, and administration for admins. */
const BASE_SCOPES = ['registry:catalog:*', 'registry:admin:pull,push'];

/** The scope the UI asks for on a repository: the token service grants what the policy allows. */
export function repositoryScope(name) {
  return `repository:${name}:delete,pull,push`;
}

let state = read();

function read() {
  try {
    const raw = sessionStorage.getItem(KEY);
    return raw ? JSON.parse(raw) : null;
  } catch {
    return null;
  }
}

function write(next) {
  state = next;
  try {
    if (next) sessionStorage.setItem(KEY, JSON.stringify(next));
    else sessionStorage.removeItem(KEY);
  } catch {
    // storage refused (private mode): the state lives in memory for this page
  }
}

/** The logged-in user's name, or null. */
export function currentUser() {
  return state ? state.user : null;
}

/** The `Authorization` header value for a request, or null. */
export function authorization() {
  if (!state) return null;
  if (state.mode === 'basic') return `Basic ${state.basic}`;
  if (state.mode === 'bearer') return `Bearer ${state.token}`;
  return null;
}

/** Forgets the credentials. */
export function logout() {
  write(null);
}

export class LoginError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

function basicOf(user, password) {
  const bytes = new TextEncoder().encode(`${user}:${password}`);
  let binary = '';
  bytes.forEach((b) => {
    binary += String.fromCharCode(b);
  });
  return btoa(binary);
}

function scopeQuery(url, scopes) {
  scopes.forEach((s) => url.searchParams.append('scope', s));
}

async function errorText(response) {
  try {
    const body = await response.json();
    const first = body && body.errors && body.errors[0];
    if (first && first.message) return first.message;
  } catch {
    // not JSON
  }
  return `${response.status} ${response.statusText}`;
}

/**
 * Logs in as `user`. `tokenUrl` is the session's token endpoint (null without one). Throws a
 * LoginError with a message to show on refused credentials.
 */
export async function login(user, password, tokenUrl) {
  const basic = basicOf(user, password);
  if (tokenUrl) {
    const url = new URL(tokenUrl, window.location.origin);
    url.searchParams.set('offline_token', 'true');
    scopeQuery(url, BASE_SCOPES);
    const response = await fetch(url.pathname + url.search, {
      headers: { Authorization: `Basic ${basic}`, Accept: 'application/json' },
      credentials: 'omit',
      cache: 'no-store',
    });
    if (response.ok) {
      const body = await response.json();
      const token = body.token || body.access_token;
      if (!token) throw new LoginError('The token service answered without a token.', response.status);
      const next = {
        user,
        mode: 'bearer',
        token,
        refresh: body.refresh_token || null,
        scopes: [...BASE_SCOPES],
        expiresAt: Date.now() + 1000 * Number(body.expires_in || 60),
        tokenUrl: url.pathname,
      };
      write(next);
      return;
    }
    if (response.status === 401 || response.status === 403) {
      throw new LoginError('Wrong user name or password.', response.status);
    }
    if (response.status === 429) {
      throw new LoginError('Too many failed logins: wait a minute, then try again.', 429);
    }
    if (response.status !== 404 && response.status !== 405 && response.status !== 501) {
      throw new LoginError(`The token service failed: ${await errorText(response)}`, response.status);
    }
    // No token service here: fall through to Basic on each request.
  }
  const check = await fetch('/berth/v1/session', {
    headers: { Authorization: `Basic ${basic}`, Accept: 'application/json' },
    credentials: 'omit',
    cache: 'no-store',
  });
  if (check.status === 401 || check.status === 403) throw new LoginError('Wrong user name or password.', check.status);
  if (check.status === 429) throw new LoginError('Too many failed logins: wait a minute, then try again.', 429);
  if (!check.ok) throw new LoginError(`Could not log in: ${await errorText(check)}`, check.status);
  const session = await check.json();
  if (session.user !== user) throw new LoginError('Wrong user name or password.', 401);
  write({ user, mode: 'basic', basic });
}

/** The scopes of a `WWW-Authenticate: Bearer ...` challenge (empty when none is named). */
export function challengeScopes(header) {
  if (!header || !/^\s*bearer\b/i.test(header)) return [];
  const match = /\bscope="([^"]*)"/i.exec(header);
  return match ? match[1].split(' ').filter(Boolean) : [];
}

/** Merges resource scopes: "repository:a:pull" + "repository:a:push" -> "repository:a:pull,push". */
export function mergeScopes(scopes) {
  const byResource = new Map();
  for (const scope of scopes) {
    const cut = scope.lastIndexOf(':');
    if (cut < 0) continue;
    const resource = scope.slice(0, cut);
    const actions = byResource.get(resource) || new Set();
    scope.slice(cut + 1).split(',').filter(Boolean).forEach((a) => actions.add(a));
    byResource.set(resource, actions);
  }
  return [...byResource].map(([resource, actions]) => `${resource}:${[...actions].sort().join(',')}`);
}

function covers(held, wanted) {
  const merged = mergeScopes(held);
  return mergeScopes(wanted).every((scope) => {
    const cut = scope.lastIndexOf(':');
    const resource = scope.slice(0, cut);
    const have = merged.find((s) => s.slice(0, s.lastIndexOf(':')) === resource);
    if (!have) return false;
    const haveActions = new Set(have.slice(have.lastIndexOf(':') + 1).split(','));
    return scope.slice(cut + 1).split(',').every((a) => haveActions.has(a) || haveActions.has('*'));
  });
}

let refreshing = null;

async function refreshToken(scopes) {
  const base = state;
  const body = new URLSearchParams();
  body.set('grant_type', 'refresh_token');
  body.set('refresh_token', base.refresh);
  mergeScopes(scopes).forEach((s) => body.append('scope', s));
  const response = await fetch(base.tokenUrl || '/berth/v1/token', {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
    body: body.toString(),
    credentials: 'omit',
    cache: 'no-store',
  });
  if (!response.ok) return false;
  const answer = await response.json();
  const token = answer.token || answer.access_token;
  if (!token) return false;
  const next = {
    ...base,
    token,
    refresh: answer.refresh_token || base.refresh,
    scopes: mergeScopes(scopes),
    expiresAt: Date.now() + 1000 * Number(answer.expires_in || 60),
  };
  write(next);
  return true;
}

/**
 * Makes sure the token was asked for `wanted` (what the policy refuses stays refused: it is
 * not asked for again). Does nothing without a refresh token.
 */
export async function ensureScopes(wanted) {
  if (!state || state.mode !== 'bearer' || !state.refresh) return;
  if (covers(state.scopes, wanted)) return;
  if (refreshing) await refreshing;
  if (covers(state.scopes, wanted)) return;
  refreshing = refreshToken([...state.scopes, ...wanted]).finally(() => { refreshing = null; });
  await refreshing;
}

/** Renews a token about to expire (before a request), keeping its scopes. */
export async function freshen() {
  if (!state || state.mode !== 'bearer' || !state.refresh) return;
  if (Date.now() < state.expiresAt - 15000) return;
  if (!refreshing) refreshing = refreshToken(state.scopes).finally(() => { refreshing = null; });
  const ok = await refreshing;
  if (!ok) write(null);
}

/**
 * After a 401 or 403: whether a new token was obtained, so that the request is worth sending
 * again. A 403 is retried only when its challenge names a scope never asked for (a scope the
 * policy refused stays refused); a 401 means the token expired or was refused, and is
 * retried with a fresh one. Without a way to renew, a refused token is forgotten.
 */
export async function widen(response) {
  if (!state || state.mode !== 'bearer') return false;
  const wanted = challengeScopes(response.headers.get('WWW-Authenticate'));
  const missing = wanted.length > 0 && !covers(state.scopes, wanted);
  if (response.status === 403 && !missing) return false;
  if (!state.refresh) {
    if (response.status === 401) write(null);
    return false;
  }
  if (!refreshing) refreshing = refreshToken([...state.scopes, ...wanted]).finally(() => { refreshing = null; });
  const ok = await refreshing;
  if (!ok && response.status === 401) write(null);
  return ok;
}
