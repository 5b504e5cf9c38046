// Badges for what refers to a manifest (signed, SBOM, attestation, scan).

import { h } from './dom.js';
import { BADGES, artifactInfo, artifactName } from './types.js';

/**
 * The badges of a tag or manifest, each titled with the referrers behind it. With none: a
 * dash for a table cell, nothing (null) when `empty` is false.
 */
export function badgeList(badges, referrers, { empty = true } = {}) {
  const list = (badges || []).filter((b) => BADGES[b]);
  const others = (referrers || []).filter((r) => !artifactInfo(r.artifactType).badge);
  if (list.length === 0 && others.length === 0) return empty ? h('span', { class: 'muted' }, '—') : null;
  return h('ul', { class: 'badges', 'aria-label': 'Referrers' },
    list.map((badge) => {
      const behind = (referrers || []).filter((r) => artifactInfo(r.artifactType).badge === badge);
      const title = behind.length
        ? behind.map((r) => `${artifactName(r.artifactType)} ×${r.count}`).join(', ')
        : BADGES[badge].description;
      return h('li', { class: `badge badge-${badge}`, title, dataset: { badge } }, BADGES[badge].label);
    }),
    others.length ? h('li', { class: 'badge badge-other', title: others.map((r) => `${artifactName(r.artifactType)} ×${r.count}`).join(', ') },
      `${others.reduce((n, r) => n + (r.count || 0), 0)} other`) : null);
}
