// The login form: the registry's own users (htpasswd), through its token service.

import { h, append } from './dom.js';
import { login, LoginError } from './auth.js';

export function loginView(ctx) {
  document.title = 'Sign in · Berth';
  const { session } = ctx;
  if (!session.authEnabled) {
    append(ctx.page, h('section', { class: 'notice' },
      h('h1', null, 'Sign in'),
      h('p', null, 'This registry has no access control: everyone may browse it.'),
      h('p', null, h('a', { href: '/ui/' }, 'Back to the repositories'))));
    return;
  }
  const next = ctx.stay ? null : safeNext(ctx.query.get('next'));
  const error = h('p', { class: 'form-error', role: 'alert', id: 'login-error' });
  const user = h('input', { id: 'login-user', name: 'username', type: 'text', autocomplete: 'username', required: true, autocapitalize: 'none', spellcheck: 'false', dataset: { autofocus: '' } });
  const password = h('input', { id: 'login-password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Sign in');
  const form = h('form', { class: 'login-form', 'aria-labelledby': 'login-title', novalidate: false },
    h('h1', { id: 'login-title' }, 'Sign in'),
    ctx.message ? h('p', { class: 'muted', id: 'login-reason' }, ctx.message) : null,
    session.user ? h('p', { class: 'muted' }, `You are signed in as ${session.user}; signing in again replaces that.`) : null,
    h('div', { class: 'field' }, h('label', { for: 'login-user' }, 'User name'), user),
    h('div', { class: 'field' }, h('label', { for: 'login-password' }, 'Password'), password),
    error,
    h('div', { class: 'actions' }, submit),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.textContent = '';
    submit.disabled = true;
    form.setAttribute('aria-busy', 'true');
    try {
      await login(user.value.trim(), password.value, session.tokenUrl);
      password.value = '';
      // The page that follows reads the session (user, admin) again.
      if (next) history.replaceState({}, '', next);
      ctx.rerender({ reloadSession: true, focus: true });
    } catch (e) {
      error.textContent = e instanceof LoginError ? e.message : `Could not sign in: ${e.message || e}`;
      password.value = '';
      password.focus();
    } finally {
      submit.disabled = false;
      form.removeAttribute('aria-busy');
    }
  });
  append(ctx.page, h('section', { class: 'login' }, form));
}

/** Only paths inside the UI are followed after a login. */
function safeNext(next) {
  if (!next || !next.startsWith('/ui') || next.startsWith('//') || next.startsWith('/ui/login')) return '/ui/';
  return next;
}
