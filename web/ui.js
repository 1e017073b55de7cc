// Reusable pieces: modal dialogs, the row "⋮" menu, form fields with errors.

import { h, clear } from './dom.js';

let dialogCount = 0;

// Opens a modal <dialog>. The caller fills `body`. Escape, the close button
// and a click on the backdrop close it; focus then returns to `returnFocus`.
export function openDialog({ title, wide = false, returnFocus = document.activeElement, onClose } = {}) {
  const id = `dialog-title-${++dialogCount}`;
  const heading = h('h2', { id, class: 'dialog-title' }, title);
  const closeButton = h('button', { type: 'button', class: 'icon-btn', 'aria-label': 'Close' }, '×');
  const body = h('div', { class: 'dialog-body' });
  const dialog = h('dialog', { class: wide ? 'dialog dialog-wide' : 'dialog', 'aria-labelledby': id },
    h('div', { class: 'dialog-head' }, heading, closeButton), body);
  closeButton.addEventListener('click', () => dialog.close());
  dialog.addEventListener('mousedown', (e) => {
    if (e.target === dialog) {
      const r = dialog.getBoundingClientRect();
      const inside = e.clientX >= r.left && e.clientX <= r.right && e.clientY >= r.top && e.clientY <= r.bottom;
      if (!inside) dialog.close();
    }
  });
  dialog.addEventListener('close', () => {
    dialog.remove();
    if (onClose) onClose();
    if (returnFocus && returnFocus.isConnected) returnFocus.focus();
  });
  document.body.append(dialog);
  dialog.showModal();
  return {
    dialog, body,
    setTitle(text) { heading.textContent = text; },
    close() { if (dialog.open) dialog.close(); },
    get open() { return dialog.open; },
  };
}

// Asks a yes/no question in a dialog; resolves true when confirmed.
export function confirmDialog({ title, message, confirmLabel, danger = false, returnFocus }) {
  return new Promise((resolve) => {
    let answer = false;
    const d = openDialog({ title, returnFocus, onClose: () => resolve(answer) });
    const ok = h('button', { type: 'button', class: danger ? 'btn btn-danger' : 'btn btn-primary' }, confirmLabel);
    ok.addEventListener('click', () => { answer = true; d.close(); });
    const cancel = h('button', { type: 'button', class: 'btn' }, 'Cancel');
    cancel.addEventListener('click', () => d.close());
    clear(d.body, h('p', {}, message), h('div', { class: 'dialog-actions' }, cancel, ok));
    cancel.focus();
  });
}

// ---- the "⋮" row menu -------------------------------------------------------

let openMenu = null;

function closeOpenMenu(focusTrigger) {
  if (!openMenu) return;
  const { list, trigger, onDocDown } = openMenu;
  openMenu = null;
  list.remove();
  trigger.setAttribute('aria-expanded', 'false');
  document.removeEventListener('mousedown', onDocDown, true);
  window.removeEventListener('resize', closeOnViewportChange);
  window.removeEventListener('scroll', closeOnViewportChange, true);
  if (focusTrigger) trigger.focus();
}

function closeOnViewportChange() { closeOpenMenu(false); }

// A "⋮" button with an accessible name ("Actions for <name>") that opens a
// menu. `getItems()` is read on every open: [{label, onSelect, danger}] or '-'.
export function actionMenu(accessibleName, getItems, focusKey) {
  const trigger = h('button', {
    type: 'button', class: 'icon-btn menu-trigger', 'aria-label': accessibleName,
    'aria-haspopup': 'menu', 'aria-expanded': 'false', 'data-focus-key': focusKey,
  }, '⋮');
  trigger.addEventListener('click', () => {
    const wasOpen = openMenu && openMenu.trigger === trigger;
    closeOpenMenu(false);
    if (!wasOpen) showMenu(trigger, accessibleName, getItems());
  });
  trigger.addEventListener('keydown', (e) => {
    if (e.key === 'ArrowDown' && !openMenu) { e.preventDefault(); showMenu(trigger, accessibleName, getItems()); }
  });
  return trigger;
}

function showMenu(trigger, name, items) {
  const list = h('ul', { class: 'menu', role: 'menu', 'aria-label': name });
  const buttons = [];
  for (const item of items) {
    if (item === '-') { list.append(h('li', { role: 'separator', class: 'menu-sep' })); continue; }
    const b = h('button', { type: 'button', role: 'menuitem', tabindex: '-1', class: item.danger ? 'menu-item danger' : 'menu-item' }, item.label);
    b.addEventListener('click', () => { closeOpenMenu(false); item.onSelect(trigger); });
    buttons.push(b);
    list.append(h('li', { role: 'none' }, b));
  }
  list.addEventListener('keydown', (e) => {
    const i = buttons.indexOf(document.activeElement);
    const move = { ArrowDown: i + 1, ArrowUp: i - 1, Home: 0, End: buttons.length - 1 }[e.key];
    if (move !== undefined) {
      e.preventDefault();
      buttons[(move + buttons.length) % buttons.length].focus();
    } else if (e.key === 'Escape') {
      e.preventDefault();
      e.stopPropagation();
      closeOpenMenu(true);
    } else if (e.key === 'Tab') {
      closeOpenMenu(true);
    }
  });
  const onDocDown = (e) => {
    if (!list.contains(e.target) && e.target !== trigger) closeOpenMenu(false);
  };
  document.body.append(list);
  const r = trigger.getBoundingClientRect();
  const width = list.offsetWidth;
  const height = list.offsetHeight;
  const left = Math.max(8, Math.min(r.right - width, window.innerWidth - width - 8));
  const below = r.bottom + 4;
  const top = below + height > window.innerHeight - 8 ? Math.max(8, r.top - height - 4) : below;
  list.style.left = `${left}px`;
  list.style.top = `${top}px`;
  trigger.setAttribute('aria-expanded', 'true');
  openMenu = { list, trigger, onDocDown };
  document.addEventListener('mousedown', onDocDown, true);
  window.addEventListener('resize', closeOnViewportChange);
  window.addEventListener('scroll', closeOnViewportChange, true);
  if (buttons[0]) buttons[0].focus();
}

// ---- form fields -----------------------------------------------------------

let fieldCount = 0;

// A labelled control with an optional hint and a slot for its error message,
// wired with aria-describedby. `control` is an <input>, <select> or <textarea>.
export function field(labelText, control, { hint, name } = {}) {
  const id = control.id || `f${++fieldCount}`;
  control.id = id;
  if (name) control.dataset.field = name;
  const hintEl = hint ? h('p', { class: 'hint', id: `${id}-hint` }, hint) : null;
  const errorEl = h('p', { class: 'field-error', id: `${id}-error`, hidden: true });
  const described = [hintEl && hintEl.id, errorEl.id].filter(Boolean).join(' ');
  control.setAttribute('aria-describedby', described);
  const wrap = h('div', { class: 'field' }, h('label', { for: id }, labelText), hintEl, control, errorEl);
  wrap.setError = (message) => {
    errorEl.textContent = message || '';
    errorEl.hidden = !message;
    if (message) control.setAttribute('aria-invalid', 'true');
    else control.removeAttribute('aria-invalid');
  };
  wrap.control = control;
  return wrap;
}

// Shows API field errors next to their fields (matched by data-field, also by
// the first path segment, "auth.username" → "auth"). Returns the messages that
// had no field, for a summary above the form.
export function showFieldErrors(fields, errors) {
  for (const f of fields) f.setError('');
  const unmatched = [];
  let first = null;
  for (const e of errors) {
    const name = String(e.field ?? '');
    const target = fields.find((f) => f.control.dataset.field === name)
      || fields.find((f) => f.control.dataset.field === name.split(/[.[]/)[0]);
    if (target) {
      const existing = target.querySelector('.field-error').textContent;
      target.setError(existing ? `${existing} ${e.message}` : String(e.message ?? 'Invalid value'));
      first = first || target.control;
    } else {
      unmatched.push(name ? `${name}: ${e.message}` : String(e.message));
    }
  }
  if (first) first.focus();
  return unmatched;
}

// A block for an error that belongs to the whole form or view.
export function errorBox() {
  const box = h('div', { class: 'alert alert-error', role: 'alert', hidden: true });
  box.show = (message) => {
    box.textContent = message || '';
    box.hidden = !message;
    if (message) box.scrollIntoView({ block: 'nearest' });
  };
  return box;
}
