// "Find a contact": a contact's events by phone number or email, each with
// where it went at every webhook (delivered / pending / failed, the last
// attempt, the batch). The answer to "did this contact reach my CRM?".

import { api } from './api.js';
import { h, clear, formatTime, timeAgo } from './dom.js';
import { field, errorBox } from './ui.js';
import { openBatchDialog, attemptSummary, stateBadge } from './batch-detail.js';

const PAGE = 20;
const TYPE_LABELS = { 'contact.subscribed': 'Subscribed', 'contact.unsubscribed': 'Unsubscribed' };

// "+49 151 1234-5678" → {msisdn: "4915112345678"}; "Jane@x.io" → {email}.
export function contactQuery(text) {
  const s = String(text || '').trim();
  if (!s) return null;
  if (s.includes('@')) return { email: s };
  return { msisdn: s.replace(/^\+/, '').replace(/[\s\-().]/g, '') };
}

export function contactsView(main, { q }) {
  document.title = 'Find a contact · growhook';
  let webhookNames = new Map();
  let cursor = null;
  let query = null;
  let stopped = false;

  const input = h('input', {
    type: 'search', name: 'q', autocomplete: 'off', spellcheck: 'false', value: q || '',
    placeholder: '5599999999999 or jane@example.com',
  });
  const queryField = field('Phone number or email', input,
    { hint: 'The contact\'s msisdn (E.164 digits, "+" and spaces are fine) or its e-shop email, in any case.', name: 'q' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Search');
  const form = h('form', { class: 'card search-form', role: 'search', 'aria-label': 'Find a contact' },
    queryField, h('div', { class: 'form-actions' }, submit));
  const alert = errorBox();
  const results = h('div', { class: 'contact-results', 'aria-live': 'polite' });
  const more = h('button', { type: 'button', class: 'btn btn-small', hidden: true }, 'Load more');
  clear(main,
    h('div', { class: 'page-head' }, h('h1', { tabindex: '-1' }, 'Find a contact')),
    h('p', { class: 'lead' }, 'Did a contact reach your CRM? Every event of the contact, newest first, and what each webhook did with it.'),
    form, alert, results, more);

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const text = input.value.trim();
    history.replaceState(null, '', text ? `#/contacts?q=${encodeURIComponent(text)}` : '#/contacts');
    search(text);
  });
  more.addEventListener('click', () => load(false));

  async function loadWebhookNames() {
    try {
      const page = await api.listWebhooks(null, 200);
      webhookNames = new Map((page?.data || []).map((w) => [w.id, w.name]));
    } catch { /* names are a nicety; ids are shown instead */ }
  }

  async function search(text) {
    queryField.setError('');
    alert.show('');
    query = contactQuery(text);
    cursor = null;
    if (!query) {
      queryField.setError('Enter the contact\'s phone number or email.');
      input.focus();
      return;
    }
    clear(results, h('p', { class: 'loading' }, 'Searching…'));
    await loadWebhookNames();
    await load(true);
  }

  async function load(first) {
    try {
      const page = await api.findContact({ ...query, cursor, limit: PAGE });
      if (stopped) return;
      if (first) clear(results);
      const events = page?.data || [];
      if (first && !events.length) {
        results.append(h('div', { class: 'empty card' }, h('h2', {}, 'No events for this contact'),
          h('p', {}, 'Nothing was received for it, or its events are older than the retention period.')));
      }
      for (const e of events) results.append(eventCard(e));
      cursor = page?.next_cursor || null;
      more.hidden = !cursor;
    } catch (err) {
      if (stopped) return;
      if (first) clear(results);
      if (err.status === 400) {
        queryField.setError(err.message.replace(/^(msisdn or email|msisdn|email): /, ''));
        input.focus();
      } else {
        alert.show(`Could not search: ${err.message}`);
      }
    }
  }

  function eventCard(e) {
    const deliveries = e.deliveries || [];
    const body = deliveries.length
      ? h('table', { class: 'table deliveries-table' },
        h('thead', {}, h('tr', {}, ['Webhook', 'State', 'Last attempt', 'Batch'].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, deliveries.map(deliveryRow)))
      : h('p', { class: 'muted' }, 'No webhook got this event: none was enabled and subscribed to its type when it arrived.');
    return h('article', { class: 'card contact-event', 'data-event-id': e.id },
      h('h2', { class: 'contact-event-title' },
        h('span', { class: `badge ${e.type === 'contact.unsubscribed' ? 'badge-off' : 'badge-ok'}` }, TYPE_LABELS[e.type] || e.type),
        ' ', h('time', { datetime: e.occurred_at, title: formatTime(e.occurred_at) }, formatTime(e.occurred_at))),
      h('p', { class: 'muted' }, `Event ${e.id} · received `, timeAgo(e.received_at),
        e.data?.ecom_email ? ` · ${e.data.ecom_email}` : '', ` · ${e.data?.msisdn ?? ''}`),
      body);
  }

  function deliveryRow(d) {
    const name = webhookNames.get(d.webhook_id) || d.webhook_id;
    const last = d.last_attempt
      ? h('span', {}, attemptSummary(d.last_attempt), ' · ', h('time', { datetime: d.last_attempt.at }, formatTime(d.last_attempt.at)))
      : h('span', { class: 'muted' }, d.batch_id ? 'Not tried yet' : 'Waiting to be sent');
    let batch = h('span', { class: 'muted' }, '—');
    if (d.batch_id) {
      batch = h('button', { type: 'button', class: 'btn btn-small', 'aria-label': `Open batch ${d.batch_id}` }, 'Open batch');
      batch.addEventListener('click', () => openBatchDialog(d.batch_id, { returnFocus: batch, onRetried: () => search(input.value) }));
    }
    return h('tr', { 'data-webhook-id': d.webhook_id, 'data-state': d.state },
      h('td', { 'data-label': 'Webhook' }, h('a', { href: `#/webhooks/${encodeURIComponent(d.webhook_id)}` }, name)),
      h('td', { 'data-label': 'State' }, stateBadge(d.state)),
      h('td', { 'data-label': 'Last attempt' }, last),
      h('td', { 'data-label': 'Batch' }, batch));
  }

  if (q) search(q);
  else input.focus();
  return () => { stopped = true; };
}
