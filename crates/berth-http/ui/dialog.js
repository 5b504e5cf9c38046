// Modal dialogs: a native <dialog> opened with showModal() (the page behind is inert), focus
// kept inside it (Tab and Shift+Tab wrap), Escape closes it, focus goes back to the opener.

import { h, append } from './dom.js';

const FOCUSABLE = 'a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

/**
 * Opens a dialog. `build(body, close)` fills its body; returns {dialog, close, done} where
 * `done` resolves with the value passed to close() (undefined on Escape or Cancel).
 */
export function openDialog({ title, describedBy, className, build }) {
  const opener = document.activeElement;
  const id = `dialog-${Math.random().toString(36).slice(2, 8)}`;
  const heading = h('h2', { id: `${id}-title` }, title);
  const body = h('div', { class: 'dialog-body' });
  const dialog = h('dialog', { class: ['dialog', className], 'aria-labelledby': `${id}-title`, 'aria-describedby': describedBy || null, 'aria-modal': 'true' }, heading, body);
  let resolve;
  const done = new Promise((r) => { resolve = r; });
  let result;
  let closed = false;
  const close = (value) => {
    if (closed) return;
    closed = true;
    result = value;
    if (dialog.open) dialog.close();
    dialog.remove();
    if (opener && typeof opener.focus === 'function' && document.contains(opener)) opener.focus();
    resolve(result);
  };
  dialog.addEventListener('cancel', (event) => {
    event.preventDefault();
    close(undefined);
  });
  dialog.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') {
      event.preventDefault();
      close(undefined);
      return;
    }
    if (event.key !== 'Tab') return;
    const items = [...dialog.querySelectorAll(FOCUSABLE)].filter((el) => el.offsetParent !== null || el === document.activeElement);
    if (items.length === 0) {
      event.preventDefault();
      return;
    }
    const first = items[0];
    const last = items[items.length - 1];
    if (event.shiftKey && (document.activeElement === first || !dialog.contains(document.activeElement))) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && (document.activeElement === last || !dialog.contains(document.activeElement))) {
      event.preventDefault();
      first.focus();
    }
  });
  // A click on the backdrop (outside the dialog's box) is a cancel.
  dialog.addEventListener('click', (event) => {
    if (event.target !== dialog) return;
    const box = dialog.getBoundingClientRect();
    const inside = event.clientX >= box.left && event.clientX <= box.right && event.clientY >= box.top && event.clientY <= box.bottom;
    if (!inside) close(undefined);
  });
  build(body, close);
  document.body.appendChild(dialog);
  dialog.showModal();
  const preferred = dialog.querySelector('[data-autofocus]') || dialog.querySelector(FOCUSABLE);
  if (preferred) preferred.focus();
  return { dialog, close, done };
}

/** A row of dialog buttons. */
export function dialogActions(...buttons) {
  return append(h('div', { class: 'dialog-actions' }), buttons);
}
