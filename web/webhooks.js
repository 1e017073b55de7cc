// The webhooks list: Integrations › Marketing › Webhooks. One row per webhook
// with what a user checks at a glance (status, last delivery, failures).

import { api } from './api.js';
import { h, clear, timeAgo, keepFocus, toast } from './dom.js';
import { actionMenu, errorBox } from './ui.js';
import { openWebhookForm } from './webhook-form.js';
import { webhookMenuItems, statusBadge, disabledReason, failingNote } from './webhook-actions.js';

const REFRESH_MS = 10000;
const MAX_PAGES = 50;

export function breadcrumbs(...trail) {
  const items = [['Integrations', '#/integrations'], ['Marketing', '#/integrations'], ...trail];
  return h('nav', { class: 'breadcrumbs', 'aria-label': 'Breadcrumb' },
    h('ol', {}, items.map(([label, href], i) => h('li', {},
      i === items.length - 1 ? h('span', { 'aria-current': 'page' }, label) : h('a', { href }, label)))));
}

const EVENT_LABELS = { 'contact.subscribed': 'subscribes', 'contact.unsubscribed': 'unsubscribes' };

function eventsLabel(types) {
  const words = (types || []).map((t) => EVENT_LABELS[t] || t);
  if (!words.length) return 'No events';
  const text = words.join(' and ');
  return text[0].toUpperCase() + text.slice(1);
}

export function webhooksView(main) {
  document.title = 'Webhooks · growhook';
  let webhooks = null;
  let shown = '';
  let timer = 0;
  let stopped = false;
  let generation = 0;

  const addButton = h('button', { type: 'button', class: 'btn btn-primary', 'data-focus-key': 'add' }, '+ Webhook');
  addButton.addEventListener('click', () => openForm(null, addButton));
  const alert = errorBox();
  const body = h('div', { class: 'list-body' }, h('p', { class: 'loading' }, 'Loading webhooks…'));
  clear(main,
    breadcrumbs(['Webhooks']),
    h('div', { class: 'page-head' },
      h('div', {}, h('h1', { tabindex: '-1' }, 'Webhooks'),
        h('p', { class: 'lead' }, 'Each webhook receives your contact events as signed JSON POST requests.')),
      // Also here, not only in the menu: an embedded page (?embed=1) has no menu.
      h('div', { class: 'page-actions' }, h('a', { href: '#/contacts', class: 'btn' }, 'Find a contact'), addButton)),
    alert, body);

  function openForm(webhook, returnFocus) {
    openWebhookForm({
      webhook, returnFocus,
      onSaved(saved, created) {
        toast(created ? `Webhook “${saved.name}” saved. Try it with Test connection in its ⋮ menu.` : `Webhook “${saved.name}” updated.`, 'success');
        refresh();
      },
    });
  }

  async function fetchAll() {
    const all = [];
    let cursor = null;
    for (let i = 0; i < MAX_PAGES; i++) {
      const page = await api.listWebhooks(cursor);
      all.push(...(page?.data || []));
      cursor = page?.next_cursor;
      if (!cursor) break;
    }
    return all;
  }

  async function refresh() {
    clearTimeout(timer);
    const mine = ++generation;
    try {
      const list = await fetchAll();
      if (stopped || mine !== generation) return;
      alert.show('');
      webhooks = list;
      render();
    } catch (err) {
      if (stopped || mine !== generation) return;
      alert.show(`Could not load the webhooks: ${err.message}`);
      if (!webhooks) clear(body);
    }
    schedule();
  }

  function schedule() {
    if (!stopped) timer = setTimeout(() => (document.hidden ? schedule() : refresh()), REFRESH_MS);
  }

  function render() {
    const signature = JSON.stringify(webhooks);
    if (signature === shown) return;
    shown = signature;
    keepFocus(() => clear(body, webhooks.length ? table() : emptyState()));
  }

  function emptyState() {
    const add = h('button', { type: 'button', class: 'btn btn-primary', 'data-focus-key': 'add-empty' }, '+ Webhook');
    add.addEventListener('click', () => openForm(null, add));
    return h('div', { class: 'empty card' },
      h('div', { class: 'empty-art', 'aria-hidden': 'true' }, h('span', {}, '{ }')),
      h('h2', {}, 'No webhooks yet'),
      h('p', {}, 'Add a webhook to send every new subscribe and unsubscribe to an external application, such as your CRM, as it happens.'),
      h('p', { class: 'muted' }, 'You will need the URL that the other application gave you for receiving webhooks.'),
      add);
  }

  function table() {
    return h('table', { class: 'table webhooks-table' },
      h('caption', { class: 'visually-hidden' }, `${webhooks.length} webhooks`),
      h('thead', {}, h('tr', {},
        ['Name', 'Webhook URL', 'Status', 'Last delivery', 'Failed batches'].map((t) => h('th', { scope: 'col' }, t)),
        h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Actions')))),
      h('tbody', {}, webhooks.map(row)));
  }

  function row(wh) {
    const stats = wh.stats || {};
    const failed = Number(stats.failed_batches || 0);
    const pending = Number(stats.pending_batches || 0);
    const actions = {
      onChanged: refresh,
      onEdit: (returnFocus) => openForm(wh, returnFocus),
      onDeleted: refresh,
    };
    return h('tr', { 'data-webhook-id': wh.id },
      h('td', { 'data-label': 'Name', class: 'cell-name' }, h('div', {},
        h('a', { href: `#/webhooks/${encodeURIComponent(wh.id)}`, 'data-focus-key': `open:${wh.id}` }, wh.name),
        h('div', { class: 'muted small' }, eventsLabel(wh.event_types)))),
      h('td', { 'data-label': 'URL', class: 'cell-url' }, h('span', { class: 'url', title: wh.url }, wh.url)),
      h('td', { 'data-label': 'Status' }, statusBadge(wh),
        wh.disabled_reason ? h('p', { class: 'reason disabled-reason' }, disabledReason(wh.disabled_reason)) : null,
        failingNote(wh) ? h('p', { class: 'reason failing-note' }, failingNote(wh)) : null),
      h('td', { 'data-label': 'Last delivery' },
        stats.last_delivery_at ? timeAgo(stats.last_delivery_at) : h('span', { class: 'muted' }, 'Never')),
      h('td', { 'data-label': 'Failed batches' },
        failed > 0
          ? h('a', { href: `#/webhooks/${encodeURIComponent(wh.id)}?state=failed`, class: 'badge badge-danger' }, `${failed} failed`)
          : h('span', { class: 'muted' }, '0'),
        pending > 0 ? h('span', { class: 'pending-note' }, ` ${pending} pending`) : null),
      h('td', { class: 'cell-actions' },
        actionMenu(`Actions for ${wh.name}`, () => webhookMenuItems(wh, actions), `menu:${wh.id}`)));
  }

  refresh();
  return () => { stopped = true; clearTimeout(timer); };
}
