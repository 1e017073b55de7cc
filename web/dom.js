// Small DOM helpers. Every string from the server goes into the page as a text
// node or an attribute value through these, never as markup.

const PROPS = new Set(['value', 'checked', 'disabled', 'hidden', 'selected', 'indeterminate', 'readOnly', 'open']);

// h('button', {class: 'btn', onclick: fn}, 'Save') → <button class="btn">Save</button>
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v == null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (PROPS.has(k)) el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function clear(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

// Fixed, hand-written icons; no server data ever reaches this markup.
const ICONS = {
  plug: '<path d="M9 2v6M15 2v6M6 8h12v4a6 6 0 0 1-12 0zM12 18v4"/>',
  hook: '<path d="M18 16.98h-5.99c-1.1 0-1.95.94-2.48 1.9A4 4 0 0 1 2 17c.01-.7.2-1.4.57-2"/><path d="m6 17 3.13-5.78c.53-.97.1-2.18-.5-3.1a4 4 0 1 1 6.89-4.06"/><path d="m12 6 3.13 5.73C15.66 12.7 16.9 13 18 13a4 4 0 0 1 0 8"/>',
  check: '<circle cx="12" cy="12" r="10"/><path d="m8 12 3 3 5-6"/>',
  cross: '<circle cx="12" cy="12" r="10"/><path d="m15 9-6 6M9 9l6 6"/>',
  grid: '<rect x="3" y="3" width="7" height="7" rx="1"/><rect x="14" y="3" width="7" height="7" rx="1"/><rect x="3" y="14" width="7" height="7" rx="1"/><rect x="14" y="14" width="7" height="7" rx="1"/>',
  search: '<circle cx="11" cy="11" r="7"/><path d="m20 20-4.3-4.3"/>',
  inbox: '<path d="M22 12h-6l-2 3h-4l-2-3H2"/><path d="M5.45 5.11 2 12v6a2 2 0 0 0 2 2h16a2 2 0 0 0 2-2v-6l-3.45-6.89A2 2 0 0 0 16.76 4H7.24a2 2 0 0 0-1.79 1.11z"/>',
};

export function icon(name, cls = 'icon') {
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  svg.setAttribute('class', cls);
  svg.innerHTML = ICONS[name] || '';
  return svg;
}

// ---- time -----------------------------------------------------------------

const absoluteFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
const relativeFormat = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });

export function formatTime(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : absoluteFormat.format(d);
}

export function relativeTime(iso, now = Date.now()) {
  const t = new Date(iso).getTime();
  if (Number.isNaN(t)) return String(iso);
  const s = Math.round((t - now) / 1000);
  const abs = Math.abs(s);
  if (abs < 45) return s <= 0 ? 'just now' : 'in a few seconds';
  if (abs < 2700) return relativeFormat.format(Math.round(s / 60), 'minute');
  if (abs < 79200) return relativeFormat.format(Math.round(s / 3600), 'hour');
  if (abs < 2592000) return relativeFormat.format(Math.round(s / 86400), 'day');
  return absoluteFormat.format(new Date(t));
}

// <time> showing "3 minutes ago", the exact time on hover; kept fresh by tickTimes().
export function timeAgo(iso) {
  return h('time', { datetime: iso, title: formatTime(iso), 'data-relative': '' }, relativeTime(iso));
}

export function tickTimes() {
  const now = Date.now();
  for (const el of document.querySelectorAll('time[data-relative]')) {
    const text = relativeTime(el.getAttribute('datetime'), now);
    if (el.textContent !== text) el.textContent = text;
  }
}

// ---- toasts ---------------------------------------------------------------

const MAX_TOASTS = 2;

export function toast(message, kind = 'info') {
  const box = document.getElementById('toasts');
  const el = h('div', { class: `toast toast-${kind}` }, message);
  box.append(el);
  while (box.children.length > MAX_TOASTS) box.firstElementChild.remove();
  setTimeout(() => el.remove(), kind === 'error' ? 10000 : 5000);
}

// ---- clipboard ------------------------------------------------------------

// Copies text; falls back to selecting `input` so the user can press Ctrl+C.
export async function copyText(text, input) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    if (input) {
      input.focus();
      input.select();
      try { if (document.execCommand('copy')) return true; } catch { /* handled below */ }
    }
    return false;
  }
}

// ---- focus keeping across re-renders ---------------------------------------

// Elements carry data-focus-key; after a re-render the one with the same key
// gets focus back, so polling never steals the keyboard user's place.
export function keepFocus(render) {
  const active = document.activeElement;
  const key = active && active.getAttribute && active.getAttribute('data-focus-key');
  render();
  if (key && !active.isConnected) {
    const again = document.querySelector(`[data-focus-key="${CSS.escape(key)}"]`);
    if (again) again.focus();
  }
}
