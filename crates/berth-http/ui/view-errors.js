// Pages for refusals and failures.

import { h, append } from './dom.js';

/** 403: the caller is known and may not see this. */
export function deniedView(ctx, error) {
  document.title = 'Not allowed · Berth';
  const who = ctx.session.user;
  const here = location.pathname + location.search;
  append(
    ctx.page,
    h('section', { class: 'notice notice-denied', 'aria-labelledby': 'denied-title' },
      h('h1', { id: 'denied-title' }, 'Not allowed'),
      h('p', null, who
        ? ['You are signed in as ', h('strong', null, who), ', who may not see this page.']
        : 'Anonymous visitors may not see this page.'),
      error && error.message ? h('p', { class: 'muted' }, `The registry said: ${error.message}`) : null,
      h('p', null,
        h('a', { href: '/ui/' }, 'Back to the repositories'),
        ' · ',
        h('a', { href: `/ui/login?next=${encodeURIComponent(here)}` }, who ? 'Sign in as someone else' : 'Sign in')),
    ),
  );
}

/** 404, or a path the UI does not know. */
export function notFoundView(ctx, error) {
  document.title = 'Not found · Berth';
  append(
    ctx.page,
    h('section', { class: 'notice', 'aria-labelledby': 'notfound-title' },
      h('h1', { id: 'notfound-title' }, 'Not found'),
      h('p', null, error && error.message ? error.message : 'There is no page at this address.'),
      h('p', null, h('a', { href: '/ui/' }, 'Back to the repositories')),
    ),
  );
}

/** Anything else: the server or the network failed. */
export function errorView(ctx, error) {
  document.title = 'Error · Berth';
  append(
    ctx.page,
    h('section', { class: 'notice notice-error', 'aria-labelledby': 'error-title' },
      h('h1', { id: 'error-title' }, 'Something went wrong'),
      h('p', null, error && error.message ? error.message : String(error)),
      h('p', null, h('button', { type: 'button', on: { click: () => ctx.rerender({ reloadSession: true }) } }, 'Try again')),
    ),
  );
}
