// Garbage collection, for admins: the last collection's report, a dry run, a real run.

import { api } from './api.js';
import { h, append, replace, formatBytes, formatCount, timeEl, shortDigest, announce } from './dom.js';
import { openDialog, dialogActions } from './dialog.js';
import { deniedView } from './view-errors.js';

export async function gcView(ctx) {
  document.title = 'Garbage collection · Berth';
  if (!ctx.session.admin) {
    if (ctx.session.authEnabled && !ctx.session.user) {
      const { loginView } = await import('./view-login.js');
      return loginView({ ...ctx, message: 'Sign in as an administrator to see this page.', stay: true });
    }
    return deniedView(ctx, null);
  }
  const last = await api.lastGc();
  const reportBox = h('div', { class: 'gc-report', id: 'gc-report', 'aria-live': 'polite' });
  showReport(reportBox, last, last && last.dry_run ? 'Last collection: a dry run, nothing was deleted' : 'Last collection');
  const dry = h('button', { type: 'button', id: 'gc-dry-run' }, 'Dry run');
  const real = h('button', { type: 'button', class: 'danger', id: 'gc-run' }, 'Collect now…');
  const run = async (dryRun) => {
    dry.disabled = true;
    real.disabled = true;
    replace(reportBox, h('p', { class: 'muted' }, dryRun ? 'Running a dry run…' : 'Collecting…'));
    try {
      const report = await api.runGc(dryRun);
      showReport(reportBox, report, dryRun ? 'Dry run: nothing was deleted' : 'Collection');
      announce(dryRun ? 'Dry run finished' : 'Collection finished');
    } catch (e) {
      replace(reportBox, h('p', { class: 'form-error', role: 'alert' }, `The collection failed: ${e.message}`));
    } finally {
      dry.disabled = false;
      real.disabled = false;
    }
  };
  dry.addEventListener('click', () => run(true));
  real.addEventListener('click', async () => {
    const { done } = openDialog({
      title: 'Run a garbage collection?',
      build: (body, close) => {
        body.append(
          h('p', null, 'This deletes, for good, what the collection policy no longer keeps: unreferenced blobs, and manifests and referrers the policy lets go. A dry run shows what that would be.'),
          dialogActions(
            h('button', { type: 'button', 'data-autofocus': '', on: { click: () => close(false) } }, 'Cancel'),
            h('button', { type: 'button', class: 'danger', on: { click: () => close(true) } }, 'Collect')));
      },
    });
    if (await done) run(false);
  });
  append(ctx.page,
    h('div', { class: 'page-head' }, h('h1', null, 'Garbage collection'),
      h('p', { class: 'muted' }, 'Collections also run on their schedule; this page shows the last one this server ran.')),
    h('div', { class: 'actions' }, dry, real),
    reportBox);
}

function showReport(box, report, title) {
  if (!report) {
    replace(box, h('p', { class: 'muted', id: 'gc-none' }, 'No collection has run since this server started.'));
    return;
  }
  const stat = (label, value) => [h('dt', null, label), h('dd', null, value)];
  replace(box,
    h('h2', null, title),
    h('dl', { class: 'facts gc-facts' },
      stat('Finished', timeEl(report.finished_at)),
      stat('Took', `${formatCount(report.duration_ms)} ms`),
      stat(report.dry_run ? 'Manifests to delete' : 'Manifests deleted', formatCount(report.manifests_deleted)),
      stat(report.dry_run ? 'Tags to delete' : 'Tags deleted', formatCount(report.tags_deleted)),
      stat(report.dry_run ? 'Blobs to delete' : 'Blobs deleted', formatCount(report.blobs_deleted)),
      stat(report.dry_run ? 'Bytes to free' : 'Bytes freed', formatBytes(report.bytes_freed)),
      stat('Blob links removed', formatCount(report.links_removed)),
      stat('Uploads expired', formatCount(report.uploads_expired))),
    list('Manifests', (report.manifests || []).map((m) => [m.repository, '@', h('code', { title: m.digest }, shortDigest(m.digest))])),
    list('Tags', (report.tags || []).map((t) => [t.repository, ':', h('code', null, t.tag)])),
    list('Blobs', (report.blobs || []).map((b) => h('code', { title: b }, shortDigest(b)))));
}

function list(title, items) {
  if (!items.length) return null;
  const shown = items.slice(0, 200);
  return h('details', { class: 'gc-list' },
    h('summary', null, `${title} (${formatCount(items.length)})`),
    h('ul', null, shown.map((item) => h('li', null, item))),
    items.length > shown.length ? h('p', { class: 'muted' }, `and ${formatCount(items.length - shown.length)} more`) : null);
}
