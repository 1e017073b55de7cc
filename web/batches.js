// One webhook's page: its status, the chart of its deliveries and failures
// (activity-chart.js) and its batches, failed first, with Retry and Retry
// all failed. Polls so that outcomes show up without a reload.

import { api } from './api.js';
import { h, clear, timeAgo, keepFocus, toast } from './dom.js';
import { actionMenu, errorBox } from './ui.js';
import { breadcrumbs } from './webhooks.js';
import { webhookMenuItems, statusBadge, disabledReason, failingNote } from './webhook-actions.js';
import { openWebhookForm } from './webhook-form.js';
import { openTestDialog } from './test-connection.js';
import { openBatchDialog, attemptSummary, stateBadge } from './batch-detail.js';
import { activityChart } from './activity-chart.js';

const STATES = ['failed', 'pending', 'delivered'];
const TITLES = { failed: 'Failed batches', pending: 'Pending batches', delivered: 'Delivered batches' };
const EMPTY = {
  failed: 'No failed batches. Every batch reached the webhook or is still being tried.',
  pending: 'Nothing waiting to be sent.',
  delivered: 'No batch delivered yet.',
};
const PAGE = 50;
const FAST_MS = 1500;
const SLOW_MS = 5000;

export function batchesView(main, { id, state }) {
  let webhook = null;
  let filter = STATES.includes(state) ? state : 'all';
  let lists = {};
  let shownHead = '';
  let timer = 0;
  let stopped = false;
  let fastUntil = 0;
  let generation = 0;

  const crumbs = h('div', {}, breadcrumbs(['Webhooks', '#/webhooks'], ['Batches']));
  const head = h('div', { class: 'page-head' }, h('h1', { tabindex: '-1' }, 'Batches'));
  const alert = errorBox();
  const filterBar = h('div', { class: 'filters', role: 'group', 'aria-label': 'Show batches' });
  const sections = h('div', { class: 'sections' });
  const chart = activityChart(id);
  clear(main, crumbs, head, alert, chart.el, filterBar, sections);
  document.title = 'Batches · growhook';

  function visibleStates() { return filter === 'all' ? STATES : [filter]; }

  function renderFilters() {
    clear(filterBar, ['all', ...STATES].map((s) => {
      const b = h('button', { type: 'button', class: 'chip', 'aria-pressed': String(s === filter), 'data-focus-key': `filter:${s}` },
        s === 'all' ? 'All' : s[0].toUpperCase() + s.slice(1));
      b.addEventListener('click', () => {
        filter = s;
        history.replaceState(null, '', `#/webhooks/${encodeURIComponent(id)}${s === 'all' ? '' : `?state=${s}`}`);
        renderFilters();
        buildSections();
        refresh();
      });
      return b;
    }));
  }

  function buildSections() {
    lists = {};
    clear(sections, visibleStates().map((s) => {
      const count = h('span', { class: 'count' });
      const body = h('div', { class: 'section-body' }, h('p', { class: 'loading' }, 'Loading…'));
      const more = h('button', { type: 'button', class: 'btn btn-small', hidden: true }, 'Load more');
      lists[s] = { data: [], cursor: null, shown: '', body, count, more };
      more.addEventListener('click', () => loadMore(s));
      return h('section', { id: `batches-${s}`, class: 'batch-section', 'aria-labelledby': `batches-${s}-title` },
        h('h2', { id: `batches-${s}-title` }, TITLES[s], ' ', count), body, more);
    }));
  }

  async function loadMore(s) {
    const l = lists[s];
    try {
      const page = await api.listBatches(id, s, l.cursor, PAGE);
      l.data = l.data.concat(page?.data || []);
      l.cursor = page?.next_cursor || null;
      renderSection(s);
    } catch (err) {
      toast(`Could not load more batches: ${err.message}`, 'error');
    }
  }

  async function refresh() {
    clearTimeout(timer);
    const mine = ++generation;
    const states = visibleStates().filter((s) => lists[s].data.length <= 100);
    try {
      const [wh, ...pages] = await Promise.all([api.getWebhook(id),
        ...states.map((s) => api.listBatches(id, s, null, Math.min(100, Math.max(PAGE, lists[s].data.length))))]);
      if (stopped || mine !== generation) return;
      alert.show('');
      webhook = wh;
      states.forEach((s, i) => {
        if (!lists[s]) return;
        lists[s].data = pages[i]?.data || [];
        lists[s].cursor = pages[i]?.next_cursor || null;
      });
      renderHead();
      for (const s of states) renderSection(s);
      chart.refresh();
    } catch (err) {
      if (stopped || mine !== generation) return;
      if (err.status === 404) { renderGone(); return; }
      alert.show(`Could not load the batches: ${err.message}`);
    }
    schedule();
  }

  function schedule() {
    if (stopped) return;
    const busy = Date.now() < fastUntil || Number(webhook?.stats?.pending_batches || 0) > 0
      || Object.values(lists).some((l) => l.data.some((b) => b.state === 'pending'));
    timer = setTimeout(() => (document.hidden ? schedule() : refresh()), busy ? FAST_MS : SLOW_MS);
  }

  function renderGone() {
    clear(main, crumbs, h('div', { class: 'empty card' }, h('h1', {}, 'Webhook not found'),
      h('p', {}, 'This webhook does not exist any more.'), h('a', { href: '#/webhooks', class: 'btn' }, 'Back to webhooks')));
  }

  function renderHead() {
    const signature = JSON.stringify(webhook);
    if (signature === shownHead) return;
    shownHead = signature;
    document.title = `${webhook.name} · growhook`;
    const stats = webhook.stats || {};
    const failed = Number(stats.failed_batches || 0);
    const test = h('button', { type: 'button', class: 'btn', 'data-focus-key': 'test' }, 'Test connection');
    test.addEventListener('click', () => openTestDialog(webhook, test));
    const retryAll = h('button', { type: 'button', class: 'btn btn-primary', disabled: failed === 0, 'data-focus-key': 'retry-all' }, 'Retry all failed');
    retryAll.addEventListener('click', () => retryAllFailed(retryAll));
    const handlers = {
      onChanged: refresh,
      onEdit: (t) => openWebhookForm({ webhook, returnFocus: t, onSaved: () => { toast('Webhook updated.', 'success'); refresh(); } }),
      onDeleted: () => { location.hash = '#/webhooks'; },
    };
    const wh = webhook;
    keepFocus(() => {
      clear(crumbs, breadcrumbs(['Webhooks', '#/webhooks'], [wh.name]));
      clear(head,
        h('div', { class: 'head-text' },
          h('h1', { tabindex: '-1' }, wh.name),
          h('p', { class: 'url-line' }, h('span', { class: 'url', title: wh.url }, wh.url)),
          h('p', { class: 'stats-line' }, statusBadge(wh),
            h('span', {}, 'Last delivery: ', stats.last_delivery_at ? timeAgo(stats.last_delivery_at) : 'never'),
            h('span', {}, `Failed: ${failed}`), h('span', {}, `Pending: ${Number(stats.pending_batches || 0)}`),
            wh.ordering === 'contact' ? h('span', { 'data-role': 'ordering' }, 'In order for each contact') : null),
          wh.disabled_reason ? h('p', { class: 'alert alert-warning disabled-reason' }, disabledReason(wh.disabled_reason)) : null,
          failingNote(wh) ? h('p', { class: 'alert alert-warning failing-note' }, failingNote(wh)) : null),
        h('div', { class: 'page-actions' }, test, retryAll,
          actionMenu(`Actions for ${wh.name}`, () => webhookMenuItems(wh, handlers), 'menu')));
    });
  }

  function renderSection(s) {
    const l = lists[s];
    if (!l) return;
    const signature = JSON.stringify([l.data, l.cursor]);
    l.more.hidden = !l.cursor;
    if (signature === l.shown) return;
    l.shown = signature;
    const stats = webhook?.stats || {};
    const known = s === 'failed' ? stats.failed_batches : s === 'pending' ? stats.pending_batches : null;
    l.count.textContent = known != null ? `(${known})` : l.cursor ? `(${l.data.length}+)` : `(${l.data.length})`;
    keepFocus(() => clear(l.body, l.data.length ? batchTable(l.data) : h('p', { class: 'muted empty-note' }, EMPTY[s])));
  }

  function batchTable(batches) {
    return h('table', { class: 'table batches-table' },
      h('thead', {}, h('tr', {}, ['Batch', 'State', 'Events', 'Attempts', 'Next attempt'].map((t) => h('th', { scope: 'col' }, t)),
        h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Actions')))),
      h('tbody', {}, batches.map(batchRow)));
  }

  function batchRow(b) {
    const attempts = b.attempts || [];
    const last = attempts[attempts.length - 1];
    const view = h('button', { type: 'button', class: 'btn btn-small', 'aria-label': `View batch ${b.id}`, 'data-focus-key': `view:${b.id}` }, 'View');
    view.addEventListener('click', () => openBatchDialog(b.id, { returnFocus: view, onRetried: retried, ordered: webhook?.ordering === 'contact' }));
    let retry = null;
    if (b.state === 'failed') {
      retry = h('button', {
        type: 'button', class: 'btn btn-small btn-primary', 'aria-label': `Retry batch ${b.id}`, 'data-focus-key': `retry:${b.id}`,
        title: webhook?.ordering === 'contact' ? 'Its contacts\' newer events went on when it failed: it may arrive after them.' : null,
      }, 'Retry');
      retry.addEventListener('click', () => retryOne(b, retry));
    }
    return h('tr', { 'data-batch-id': b.id, 'data-state': b.state },
      h('td', { 'data-label': 'Batch' }, h('div', {}, h('code', { class: 'batch-id' }, b.id),
        h('div', { class: 'muted small' }, 'created ', timeAgo(b.created_at)))),
      h('td', { 'data-label': 'State' }, stateBadge(b.state)),
      h('td', { 'data-label': 'Events' }, String(b.event_count ?? '')),
      h('td', { 'data-label': 'Attempts' }, h('div', {}, String(attempts.length),
        last ? h('div', { class: 'muted small' }, 'last: ', attemptSummary(last)) : null)),
      h('td', { 'data-label': 'Next attempt' }, b.next_attempt_at ? timeAgo(b.next_attempt_at) : h('span', { class: 'muted' }, '—')),
      h('td', { class: 'cell-actions' }, view, retry));
  }

  function retried() {
    fastUntil = Date.now() + 60000;
    refresh();
    chart.refresh(true);
  }

  async function retryOne(b, button) {
    button.disabled = true;
    button.textContent = 'Retrying…';
    try {
      await api.retryBatch(b.id);
      toast('The batch is queued again and will be sent now.', 'success');
      retried();
    } catch (err) {
      button.disabled = false;
      button.textContent = 'Retry';
      toast(`Could not retry the batch: ${err.message}`, 'error');
    }
  }

  async function retryAllFailed(button) {
    button.disabled = true;
    try {
      const r = await api.retryFailed(id);
      const n = Number(r?.retried ?? 0);
      toast(n === 1 ? 'Queued 1 failed batch again.' : `Queued ${n} failed batches again.`, 'success');
      retried();
    } catch (err) {
      button.disabled = false;
      toast(`Could not retry the failed batches: ${err.message}`, 'error');
    }
  }

  renderFilters();
  buildSections();
  refresh();
  return () => { stopped = true; clearTimeout(timer); };
}
