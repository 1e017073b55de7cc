// What the "⋮" menu of a webhook does: test, edit, enable/disable, show and
// rotate the signing secret, delete. Shared by the list and the batches page.

import { api } from './api.js';
import { h, clear, formatTime, copyText, toast } from './dom.js';
import { openDialog, confirmDialog, field, errorBox } from './ui.js';
import { openTestDialog } from './test-connection.js';

export function statusBadge(wh) {
  if (wh.enabled && wh.failing_since) return h('span', { class: 'badge badge-danger' }, 'Failing');
  return wh.enabled
    ? h('span', { class: 'badge badge-ok' }, 'Enabled')
    : h('span', { class: 'badge badge-off' }, 'Disabled');
}

// "1,234 events wait" from the webhook's stats (counted up to 100,000).
export function waitingText(wh) {
  const n = Number((wh.stats && wh.stats.events_waiting) || 0);
  if (n === 0) return '';
  return n >= 100000 ? 'more than 100,000 events wait' : `${n.toLocaleString()} event${n === 1 ? ' waits' : 's wait'}`;
}

// While a webhook fails: since when, the last error, how many events wait for a probe to succeed.
// While it is disabled: how many events wait for it to be enabled.
export function failingNote(wh) {
  const waiting = waitingText(wh);
  if (!wh.enabled) return waiting ? `${waiting[0].toUpperCase()}${waiting.slice(1)} for it to be enabled again.` : null;
  if (!wh.failing_since) return null;
  return `Failing since ${formatTime(wh.failing_since)}${wh.last_error ? ` (${wh.last_error})` : ''}: ` +
    `${waiting ? `${waiting}; ` : ''}new events wait and are sent by themselves once the receiver answers again.`;
}

// The service's reason for disabling, as one sentence ("Disabled at …: the endpoint answered 410 Gone").
export function disabledReason(reason) {
  const text = String(reason);
  return /^disabled\b/i.test(text) ? text[0].toUpperCase() + text.slice(1) : `Disabled by growhook: ${text}`;
}

// handlers: {onChanged(), onEdit(returnFocus), onDeleted()}
export function webhookMenuItems(wh, handlers) {
  return [
    { label: 'Test connection', onSelect: (t) => openTestDialog(wh, t) },
    { label: 'Batches', onSelect: () => { location.hash = `#/webhooks/${encodeURIComponent(wh.id)}`; } },
    { label: 'Edit', onSelect: (t) => handlers.onEdit(t) },
    { label: wh.enabled ? 'Disable' : 'Enable', onSelect: (t) => (wh.enabled ? setEnabled(wh, false, handlers) : enable(wh, handlers, t)) },
    { label: 'Send events again…', onSelect: (t) => openRecoverDialog(wh, handlers, t) },
    '-',
    { label: 'Show secret', onSelect: (t) => openSecretDialog(wh, 'show', t) },
    { label: 'Rotate secret', onSelect: (t) => openSecretDialog(wh, 'rotate', t) },
    '-',
    { label: 'Delete', danger: true, onSelect: (t) => deleteWebhook(wh, handlers, t) },
  ];
}

async function setEnabled(wh, enabled, handlers) {
  try {
    await api.updateWebhook(wh.id, { enabled });
    toast(enabled
      ? `“${wh.name}” is enabled. New events are sent to it again.`
      : `“${wh.name}” is disabled. New events are not sent to it until you enable it.`, 'success');
    handlers.onChanged();
  } catch (err) {
    toast(`Could not ${enabled ? 'enable' : 'disable'} “${wh.name}”: ${err.message}`, 'error');
  }
}

// Enabling resumes where the webhook stopped: when events arrived while it
// was disabled, the page says how many and asks whether to send them.
async function enable(wh, handlers, returnFocus) {
  let waiting = 0;
  try {
    const fresh = await api.getWebhook(wh.id);
    waiting = (fresh.stats && fresh.stats.events_waiting) || 0;
  } catch (err) {
    toast(`Could not enable “${wh.name}”: ${err.message}`, 'error');
    return;
  }
  let resume = '';
  if (waiting > 0) {
    resume = await new Promise((resolve) => {
      let answer = null;
      const d = openDialog({ title: 'Enable webhook', returnFocus, onClose: () => resolve(answer) });
      const count = waiting >= 100000 ? 'More than 100,000 events' : `${waiting.toLocaleString()} event${waiting === 1 ? '' : 's'}`;
      const send = h('button', { type: 'button', class: 'btn btn-primary' }, 'Send them');
      const skip = h('button', { type: 'button', class: 'btn' }, 'Skip them');
      const cancel = h('button', { type: 'button', class: 'btn' }, 'Cancel');
      send.addEventListener('click', () => { answer = 'where_stopped'; d.close(); });
      skip.addEventListener('click', () => { answer = 'now'; d.close(); });
      cancel.addEventListener('click', () => d.close());
      clear(d.body,
        h('p', {}, `${count} arrived while “${wh.name}” was disabled and wait for it (as far as retention kept them).`),
        h('p', {}, 'Send them first, or skip them and start with the events that arrive from now on?'),
        h('div', { class: 'dialog-actions' }, cancel, skip, send));
      send.focus();
    });
    if (resume === null) return;
  }
  try {
    const r = await api.enableWebhook(wh.id, resume === 'now' ? 'now' : '');
    toast(resume === 'now'
      ? `“${wh.name}” is enabled; ${r.events_skipped} waiting event${r.events_skipped === 1 ? ' was' : 's were'} skipped.`
      : `“${wh.name}” is enabled.${waiting > 0 ? ' The events that waited are being sent.' : ' New events are sent to it again.'}`,
    'success');
    handlers.onChanged();
  } catch (err) {
    toast(`Could not enable “${wh.name}”: ${err.message}`, 'error');
  }
}

// "Send events again": every event since a time, as new batches (same ids).
function openRecoverDialog(wh, handlers, returnFocus) {
  const d = openDialog({ title: 'Send events again', returnFocus });
  const start = new Date(Date.now() - 3600 * 1000);
  const pad = (n) => String(n).padStart(2, '0');
  const local = `${start.getFullYear()}-${pad(start.getMonth() + 1)}-${pad(start.getDate())}T${pad(start.getHours())}:${pad(start.getMinutes())}`;
  const input = h('input', { type: 'datetime-local', id: 'recover-since', value: local, required: true });
  const errors = errorBox();
  const go = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Send again');
  const cancel = h('button', { type: 'button', class: 'btn' }, 'Cancel');
  cancel.addEventListener('click', () => d.close());
  const form = h('form', { novalidate: true },
    h('p', {}, `Every event “${wh.name}” already had since this time is sent to it again, in new batches with the same event ids. Receivers should treat an id they know as a repeat.`),
    field('Since (your local time)', input, { hint: 'Events still kept by retention only.' }),
    errors,
    h('div', { class: 'dialog-actions' }, cancel, go));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const when = new Date(input.value);
    if (!input.value || Number.isNaN(when.getTime())) { errors.show('Choose a date and a time.'); return; }
    go.disabled = true;
    try {
      const r = await api.recoverWebhook(wh.id, when.toISOString());
      d.close();
      toast(r.events === 0
        ? `No event of “${wh.name}” since ${formatTime(when.toISOString())} to send again.`
        : `${r.events} event${r.events === 1 ? '' : 's'} will be sent to “${wh.name}” again.`, 'success');
      handlers.onChanged();
    } catch (err) {
      errors.show(err.message);
      go.disabled = false;
    }
  });
  clear(d.body, form);
  input.focus();
}

async function deleteWebhook(wh, handlers, returnFocus) {
  const yes = await confirmDialog({
    title: 'Delete webhook?',
    message: `“${wh.name}” stops receiving events now, and its batches are deleted with it. This cannot be undone.`,
    confirmLabel: 'Delete webhook', danger: true, returnFocus,
  });
  if (!yes) return;
  try {
    await api.deleteWebhook(wh.id);
    toast(`Webhook “${wh.name}” deleted.`, 'success');
    handlers.onDeleted();
  } catch (err) {
    toast(`Could not delete “${wh.name}”: ${err.message}`, 'error');
  }
}

// ---- signing secret ---------------------------------------------------------

const GRACE_CHOICES = [[0, 'No grace period: the old secret stops now'], [3600, '1 hour'], [86400, '24 hours'], [604800, '7 days']];

export function openSecretDialog(wh, mode, returnFocus) {
  const d = openDialog({ title: mode === 'rotate' ? 'Rotate signing secret' : 'Signing secret', returnFocus });
  if (mode === 'rotate') showRotate(d, wh);
  else loadSecret(d, wh);
}

async function loadSecret(d, wh) {
  clear(d.body, h('p', { class: 'loading' }, 'Loading the secret…'));
  try {
    showSecret(d, wh, await api.secret(wh.id), false);
  } catch (err) {
    clear(d.body, h('p', { class: 'alert alert-error', role: 'alert' }, `Could not load the secret: ${err.message}`));
  }
}

function showSecret(d, wh, answer, rotated) {
  d.setTitle(rotated ? 'New signing secret' : 'Signing secret');
  const input = h('input', { type: 'text', readOnly: true, value: answer.secret, class: 'mono', spellcheck: 'false' });
  const secretField = field('Signing secret', input, {
    hint: `growhook signs every message to “${wh.name}” with this secret (Standard Webhooks “webhook-signature” header). Keep it in your receiver, never in a browser.`,
  });
  const copied = h('span', { class: 'copy-status', role: 'status' });
  const copy = h('button', { type: 'button', class: 'btn' }, 'Copy');
  copy.addEventListener('click', async () => {
    copied.textContent = (await copyText(answer.secret, input)) ? 'Copied to the clipboard.' : 'Selected: press Ctrl+C to copy.';
  });
  const expires = answer.previous_secret_expires_at;
  const rotate = h('button', { type: 'button', class: 'btn' }, 'Rotate secret…');
  rotate.addEventListener('click', () => showRotate(d, wh));
  const done = h('button', { type: 'button', class: 'btn btn-primary' }, 'Done');
  done.addEventListener('click', () => d.close());
  clear(d.body,
    rotated ? h('p', { class: 'alert alert-success', role: 'status' }, 'The secret was rotated. Update your receiver with the new one.') : null,
    h('div', { class: 'secret-row' }, secretField, copy), copied,
    expires ? h('p', { class: 'muted' }, `The previous secret also signs messages until ${formatTime(expires)}.`) : null,
    h('div', { class: 'dialog-actions' }, rotated ? null : rotate, done));
  copy.focus();
}

function showRotate(d, wh) {
  d.setTitle('Rotate signing secret');
  const select = h('select', {}, GRACE_CHOICES.map(([s, label]) => h('option', { value: String(s), selected: s === 86400 }, label)));
  const graceField = field('Keep the old secret signing for', select, {
    hint: 'During the grace period every message carries both signatures, so your receiver keeps working while you update it.',
  });
  const alert = errorBox();
  const cancel = h('button', { type: 'button', class: 'btn' }, 'Cancel');
  cancel.addEventListener('click', () => d.close());
  const go = h('button', { type: 'button', class: 'btn btn-danger' }, 'Rotate secret');
  go.addEventListener('click', async () => {
    go.disabled = true;
    alert.show('');
    try {
      showSecret(d, wh, await api.rotateSecret(wh.id, Number(select.value)), true);
    } catch (err) {
      go.disabled = false;
      alert.show(`Could not rotate the secret: ${err.message}`);
    }
  });
  clear(d.body,
    h('p', {}, `A new signing secret replaces the current one of “${wh.name}”.`),
    graceField, alert, h('div', { class: 'dialog-actions' }, cancel, go));
  select.focus();
}
