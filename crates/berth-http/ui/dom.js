// DOM helpers. Every user-supplied string (repository names, tags, annotations) becomes a
// text node or an attribute value through these helpers; nothing is ever parsed as HTML.

/**
 * Builds an element: h('a', {href: '/ui/', class: 'x'}, 'text', child, [more]).
 * Attributes: `class`, `text`, `on` ({event: handler}), `dataset`, booleans (true sets the
 * attribute, false/null/undefined leaves it out), anything else through setAttribute.
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [key, value] of Object.entries(attrs)) {
      if (value === null || value === undefined || value === false) continue;
      if (key === 'on') {
        for (const [event, handler] of Object.entries(value)) el.addEventListener(event, handler);
      } else if (key === 'dataset') {
        for (const [k, v] of Object.entries(value)) el.dataset[k] = String(v);
      } else if (key === 'text') {
        el.textContent = String(value);
      } else if (key === 'class') {
        el.className = Array.isArray(value) ? value.filter(Boolean).join(' ') : String(value);
      } else if (value === true) {
        el.setAttribute(key, '');
      } else {
        el.setAttribute(key, String(value));
      }
    }
  }
  append(el, children);
  return el;
}

/** Appends children (strings, numbers, nodes, nested arrays; null and false skipped). */
export function append(parent, ...children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(parent, ...child);
    else if (child instanceof Node) parent.appendChild(child);
    else parent.appendChild(document.createTextNode(String(child)));
  }
  return parent;
}

/** Removes every child of `el`, then appends `children`. */
export function replace(el, ...children) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return append(el, children);
}

/** An icon from an SVG file next to the app (decorative: empty alt). */
export function icon(name) {
  return h('img', { src: `/ui/icon-${name}.svg`, alt: '', class: 'icon', width: 16, height: 16 });
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** 1536 -> "1.5 KiB". */
export function formatBytes(bytes) {
  if (bytes === null || bytes === undefined || Number.isNaN(Number(bytes))) return '—';
  let value = Number(bytes);
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  if (unit === 0) return `${value} B`;
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${UNITS[unit]}`;
}

/** A whole number with grouping: 12345 -> "12,345". */
export function formatCount(n) {
  return Number(n ?? 0).toLocaleString('en-US');
}

const RELATIVE = new Intl.RelativeTimeFormat('en', { numeric: 'auto' });
const STEPS = [
  ['second', 60],
  ['minute', 60],
  ['hour', 24],
  ['day', 30],
];

/** "5 minutes ago" within a month, else the date; null -> "never". */
export function relativeTime(iso, now = Date.now()) {
  if (!iso) return 'never';
  const then = Date.parse(iso);
  if (Number.isNaN(then)) return String(iso);
  let delta = (then - now) / 1000;
  for (const [unit, size] of STEPS) {
    if (Math.abs(delta) < size) return RELATIVE.format(Math.round(delta), unit);
    delta /= size;
  }
  return new Date(then).toISOString().slice(0, 10);
}

/** A <time> element: readable text, the exact UTC time as its title and datetime. */
export function timeEl(iso) {
  if (!iso) return h('span', { class: 'muted' }, 'never');
  const parsed = Date.parse(iso);
  const exact = Number.isNaN(parsed) ? String(iso) : new Date(parsed).toISOString();
  return h('time', { datetime: exact, title: exact.replace('T', ' ').replace(/\.\d+Z$/, ' UTC').replace(/Z$/, ' UTC') }, relativeTime(iso));
}

/** "sha256:0123456789ab" (algorithm and the first 12 hex digits). */
export function shortDigest(digest) {
  if (!digest) return '';
  const [algorithm, hex] = String(digest).split(':');
  return hex ? `${algorithm}:${hex.slice(0, 12)}` : String(digest);
}

let liveRegion = null;

/** Says `message` to screen readers and shows it briefly as a toast. */
export function announce(message, kind = 'info') {
  if (!liveRegion) {
    liveRegion = h('div', { class: 'toast', role: 'status', 'aria-live': 'polite' });
    document.body.appendChild(liveRegion);
  }
  liveRegion.className = `toast toast-${kind} toast-visible`;
  liveRegion.textContent = message;
  clearTimeout(announce.timer);
  announce.timer = setTimeout(() => {
    liveRegion.className = 'toast';
  }, 4000);
}

/** Copies `text` to the clipboard: the Clipboard API, else a selected textarea. */
export async function copyText(text) {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    // denied: fall back below
  }
  const area = h('textarea', { class: 'offscreen', readonly: true, 'aria-hidden': 'true', tabindex: '-1' });
  area.value = text;
  document.body.appendChild(area);
  area.select();
  let ok = false;
  try {
    ok = document.execCommand('copy');
  } catch {
    ok = false;
  }
  area.remove();
  return ok;
}

/** A button that copies `text`; `label` names what is copied for screen readers. */
export function copyButton(text, label = 'Copy') {
  const status = h('span', { class: 'visually-hidden' }, label);
  const button = h(
    'button',
    {
      type: 'button',
      class: 'copy',
      title: label,
      dataset: { copy: text },
      on: {
        click: async () => {
          const ok = await copyText(text);
          button.classList.toggle('copied', ok);
          announce(ok ? 'Copied to the clipboard' : 'Could not copy: select the text instead', ok ? 'info' : 'error');
          setTimeout(() => button.classList.remove('copied'), 1500);
        },
      },
    },
    icon('copy'),
    status,
  );
  return button;
}

/** A digest shown short, in full as a title, with a copy button. */
export function digestEl(digest, href) {
  const text = shortDigest(digest);
  const code = h('code', { class: 'digest', title: digest }, text);
  return h('span', { class: 'digest-cell' }, href ? h('a', { href }, code) : code, copyButton(digest, `Copy digest ${text}`));
}

/** Query-string URL: path plus the non-empty params. */
export function withQuery(path, params) {
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v === null || v === undefined || v === '') continue;
    if (Array.isArray(v)) v.forEach((item) => query.append(k, item));
    else query.append(k, String(v));
  }
  const qs = query.toString();
  return qs ? `${path}?${qs}` : path;
}

/** The page size a URL asks for (`n`, 1 to 1000), else `fallback`. */
export function pageSizeOf(query, fallback = 50) {
  const n = Number.parseInt(query.get('n') || '', 10);
  return Number.isInteger(n) && n >= 1 && n <= 1000 ? n : fallback;
}
