// Deleting a tag or a manifest, after a confirmation that shows what goes with it (from
// /berth/v1/deletion-preview), through the registry API (DELETE /v2/<name>/manifests/<ref>).

import { api } from './api.js';
import { h, replace, shortDigest } from './dom.js';
import { openDialog, dialogActions } from './dialog.js';
import { artifactName } from './types.js';

/**
 * Asks, then deletes. `target` is {repository, reference, kind: 'tag' | 'manifest'}.
 * Resolves true when the deletion happened.
 */
export function confirmDeletion({ repository, reference, kind, otherTags = [] }) {
  const what = kind === 'tag' ? `tag ${reference}` : `manifest ${shortDigest(reference)}`;
  const { done } = openDialog({
    title: `Delete ${what}?`,
    className: 'dialog-delete',
    describedBy: 'delete-summary',
    build: (body, close) => {
      const summary = h('div', { id: 'delete-summary', class: 'delete-summary', 'aria-live': 'polite' },
        h('p', { class: 'muted' }, 'Looking up what this deletion would take with it…'));
      const error = h('p', { class: 'form-error', role: 'alert' });
      const cancel = h('button', { type: 'button', 'data-autofocus': '', on: { click: () => close(false) } }, 'Cancel');
      const confirm = h('button', { type: 'button', class: 'danger', id: 'confirm-delete', disabled: true }, `Delete ${kind}`);
      confirm.addEventListener('click', async () => {
        confirm.disabled = true;
        cancel.disabled = true;
        error.textContent = '';
        try {
          await api.deleteManifest(repository, reference);
          close(true);
        } catch (e) {
          error.textContent = e.status === 403 || e.status === 401
            ? 'You may not delete this.'
            : `The deletion failed: ${e.message}`;
          cancel.disabled = false;
          confirm.disabled = false;
          cancel.focus();
        }
      });
      body.append(
        h('p', null, 'Repository ', h('strong', null, repository)),
        summary,
        error,
        dialogActions(cancel, confirm),
      );
      api.deletionPreview({ repository, reference, scope: kind === 'tag' ? 'tag' : null })
        .then((preview) => {
          replace(summary, describe(preview, kind, reference, otherTags));
          confirm.disabled = false;
        })
        .catch((e) => {
          replace(summary, h('p', { class: 'form-error' }, `Could not tell what this deletion would take with it: ${e.message}`));
          confirm.disabled = false;
        });
    },
  });
  return done.then(Boolean);
}

function describe(preview, kind, reference, otherTags) {
  const parts = [];
  const tags = preview.tags || [];
  const referrers = preview.referrers || [];
  const manifest = h('code', { title: preview.digest }, shortDigest(preview.digest));
  if (kind === 'tag' && preview.manifestGoes) {
    parts.push(h('p', null, 'The tag ', h('code', null, reference), ' will be removed. Without it, garbage collection deletes the manifest ', manifest, '.'));
  } else if (kind === 'tag') {
    parts.push(h('p', null, 'The tag ', h('code', null, reference), ' will be removed. The manifest ', manifest, ' stays, reachable by its digest',
      otherTags.length ? [' and ', otherTags.length === 1 ? 'its other tag ' : 'its other tags ', tagList(otherTags)] : '', '.'));
  } else {
    parts.push(h('p', null, 'The manifest ', manifest, ' will be deleted',
      tags.length ? [' with its ', tags.length === 1 ? 'tag ' : `${tags.length} tags: `, tagList(tags)] : ' (it has no tags)', '.'));
  }
  // What a collection deletes once the manifest is gone, and what refers to it but stays.
  const going = referrers.filter((r) => r.goes);
  const kept = referrers.filter((r) => !r.goes);
  if (going.length) {
    parts.push(h('p', null, `${going.length === 1 ? 'This artifact refers' : `These ${going.length} artifacts refer`} to it; garbage collection deletes ${going.length === 1 ? 'it' : 'them'} once it is gone:`));
    parts.push(h('ul', { class: 'preview-referrers' }, going.map(referrerItem)));
  }
  if (kept.length) {
    const subject = `${kept.length === 1 ? 'This artifact refers' : `These ${kept.length} artifacts refer`} to it`;
    parts.push(h('p', null, preview.policy === 'keep'
      ? `${subject}; the collection policy keeps ${kept.length === 1 ? 'it' : 'them'}:`
      : `${subject} but will be kept: tagged, or tied to something that remains:`));
    parts.push(h('ul', { class: 'preview-kept' }, kept.map(referrerItem)));
  }
  if (!referrers.length && kind !== 'tag') {
    parts.push(h('p', { class: 'muted' }, 'Nothing refers to it.'));
  }
  parts.push(h('p', { class: 'muted small' }, 'Blobs no longer used are removed by the next garbage collection.'));
  return parts;
}

function referrerItem(r) {
  return h('li', { class: `depth-${Math.min(r.depth || 1, 6)}` },
    h('span', { class: 'type' }, artifactName(r.artifactType)), ' ',
    h('code', { title: r.digest }, shortDigest(r.digest)));
}

function tagList(tags) {
  const shown = tags.slice(0, 20);
  const items = [];
  shown.forEach((tag, i) => {
    if (i) items.push(', ');
    items.push(h('code', null, tag));
  });
  if (tags.length > shown.length) items.push(` and ${tags.length - shown.length} more`);
  return items;
}
