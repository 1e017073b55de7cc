// One batch opened: its state, every attempt (time, status, latency, error,
// response snippet) and its events. Keeps itself fresh while pending.

import { api } from './api.js';
import { h, clear, formatTime, timeAgo, toast } from './dom.js';
import { openDialog } from './ui.js';

const SNIPPET = 300;
const POLL_MS = 1500;

export function stateBadge(state) {
  const cls = { failed: 'badge-danger', pending: 'badge-warn', delivered: 'badge-ok' }[state] || 'badge-off';
  const label = state ? state[0].toUpperCase() + state.slice(1) : 'Unknown';
  return h('span', { class: `badge ${cls}` }, label);
}

export function attemptSummary(a) {
  const what = a.status_code != null && a.status_code !== 0 ? `HTTP ${a.status_code}` : a.error || 'no answer';
  return a.duration_ms != null ? `${what} · ${a.duration_ms} ms` : what;
}

function snippet(text) {
  const s = String(text ?? '');
  if (!s) return h('span', { class: 'muted' }, 'empty');
  return h('pre', { class: 'snippet snippet-small', title: s.length > SNIPPET ? 'Shortened' : null },
    s.length > SNIPPET ? `${s.slice(0, SNIPPET)}…` : s);
}

function attemptsTable(attempts) {
  if (!attempts.length) return h('p', { class: 'muted' }, 'No attempt yet.');
  return h('table', { class: 'table attempts-table' },
    h('thead', {}, h('tr', {}, ['#', 'Time', 'Status', 'Latency', 'Error', 'Response'].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, attempts.map((a, i) => {
      const ok = a.status_code >= 200 && a.status_code < 300;
      return h('tr', { 'data-attempt': String(i + 1) },
        h('td', { 'data-label': '#' }, String(i + 1)),
        h('td', { 'data-label': 'Time' }, h('time', { datetime: a.at }, formatTime(a.at))),
        h('td', { 'data-label': 'Status' }, a.status_code
          ? h('span', { class: `badge ${ok ? 'badge-ok' : 'badge-danger'}` }, `HTTP ${a.status_code}`)
          : h('span', { class: 'badge badge-danger' }, 'No answer')),
        h('td', { 'data-label': 'Latency' }, a.duration_ms != null ? `${a.duration_ms} ms` : '—'),
        h('td', { 'data-label': 'Error', class: 'error-text' }, a.error || h('span', { class: 'muted' }, '—')),
        h('td', { 'data-label': 'Response' }, snippet(a.response_body)));
    })));
}

function eventsList(events) {
  if (!events.length) return h('p', { class: 'muted' }, 'No events.');
  return h('ul', { class: 'events' }, events.map((e) => h('li', { class: 'event' },
    h('div', { class: 'event-head' },
      h('span', { class: 'badge badge-off' }, e.type),
      h('span', {}, 'msisdn ', h('code', {}, String(e.data?.msisdn ?? '—'))),
      h('span', { class: 'muted' }, 'occurred ', h('time', { datetime: e.occurred_at }, formatTime(e.occurred_at)))),
    h('details', {}, h('summary', {}, 'Data set of event ', h('code', {}, e.id)),
      h('pre', { class: 'snippet' }, JSON.stringify(e.data, null, 2))))));
}

// returnFocus: element focused after close. onRetried(): the batch was queued again.
// ordered: the batch's webhook keeps each contact's events in order (a
// retry then says that it may arrive after newer events).
export function openBatchDialog(batchId, { returnFocus, onRetried, ordered = false }) {
  let timer = 0;
  let shown = '';
  const d = openDialog({ title: `Batch ${batchId}`, wide: true, returnFocus, onClose: () => clearTimeout(timer) });
  clear(d.body, h('p', { class: 'loading' }, 'Loading the batch…'));

  async function load() {
    clearTimeout(timer);
    try {
      const batch = await api.getBatch(batchId);
      if (!d.open) return;
      render(batch);
      if (batch.state === 'pending') timer = setTimeout(load, POLL_MS);
    } catch (err) {
      if (d.open) clear(d.body, h('p', { class: 'alert alert-error', role: 'alert' }, `Could not load the batch: ${err.message}`));
    }
  }

  function render(b) {
    const signature = JSON.stringify(b);
    if (signature === shown) return;
    const focusedRetry = document.activeElement?.dataset?.role === 'retry-batch';
    shown = signature;
    const attempts = b.attempts || [];
    const events = b.events || [];
    let retry = null;
    if (b.state === 'failed') {
      retry = h('button', { type: 'button', class: 'btn btn-primary', 'data-role': 'retry-batch' }, 'Retry');
      retry.addEventListener('click', async () => {
        retry.disabled = true;
        try {
          await api.retryBatch(b.id);
          toast('The batch is queued again and will be sent now.', 'success');
          if (onRetried) onRetried();
          load();
        } catch (err) {
          retry.disabled = false;
          toast(`Could not retry the batch: ${err.message}`, 'error');
        }
      });
    }
    clear(d.body,
      h('dl', { class: 'facts facts-row' },
        h('dt', {}, 'State'), h('dd', {}, stateBadge(b.state)),
        h('dt', {}, 'Events'), h('dd', {}, String(b.event_count ?? events.length)),
        h('dt', {}, 'Created'), h('dd', {}, timeAgo(b.created_at)),
        b.next_attempt_at ? [h('dt', {}, 'Next attempt'), h('dd', {}, timeAgo(b.next_attempt_at))] : null),
      retry ? h('div', { class: 'dialog-actions dialog-actions-start' }, retry,
        h('span', { class: 'muted' }, ordered
          ? 'Sends the same batch again, with the same ids. Its contacts\' newer events went on when it failed, so it may arrive after them.'
          : 'Sends the same batch again, with the same ids.')) : null,
      h('h3', { class: 'subhead' }, `Attempts (${attempts.length})`),
      attemptsTable(attempts),
      h('h3', { class: 'subhead' }, `Events (${events.length})`),
      eventsList(events));
    if (focusedRetry) d.dialog.querySelector('.dialog-head button')?.focus();
  }

  load();
}
