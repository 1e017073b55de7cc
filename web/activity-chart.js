// The chart of a webhook's page: its deliveries and failures per hour over
// the last 24 hours or per day over the last 7 days (GET
// /v1/webhooks/{id}/stats), drawn as inline SVG. Every bar has a <title>;
// the chart's own title and description, and the totals beside it, say in
// text what it shows. Server values reach the SVG only as numbers and text
// nodes.

import { api } from './api.js';
import { h, clear } from './dom.js';

const SVG = 'http://www.w3.org/2000/svg';
const W = 600;
const H = 170;
const PAD = { left: 34, right: 6, top: 10, bottom: 24 };
const MIN_REFRESH_MS = 30000;  // its reads grow with the week's batches (docs/performance.md)
const PERIODS = {
  hourly: { label: '24 h', name: 'last 24 hours, per hour (UTC)', caption: 'Last 24 hours, per hour (UTC)', every: 6 },
  daily: { label: '7 days', name: 'last 7 days, per day (UTC)', caption: 'Last 7 days, per day (UTC)', every: 1 },
};

function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;

function totals(buckets) {
  const t = { batches_delivered: 0, events_delivered: 0, attempts_failed: 0, batches_failed: 0 };
  for (const b of buckets) for (const k of Object.keys(t)) t[k] += Number(b[k] || 0);
  return t;
}

function describe(t) {
  return `${plural(t.batches_delivered, 'batch', 'batches')} delivered (${plural(t.events_delivered, 'event', 'events')}), `
    + `${plural(t.attempts_failed, 'failed attempt', 'failed attempts')}, ${plural(t.batches_failed, 'batch', 'batches')} ended failed`;
}

// "14:00" for an hour, "Tue 1" for a day, in UTC like the buckets.
function bucketLabel(iso, period) {
  const d = new Date(iso);
  if (period === 'hourly') return `${String(d.getUTCHours()).padStart(2, '0')}:00`;
  return d.toLocaleDateString(undefined, { weekday: 'short', day: 'numeric', timeZone: 'UTC' });
}

function chartSvg(buckets, period, titleText) {
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const max = Math.max(1, ...buckets.map((b) => Math.max(Number(b.batches_delivered), Number(b.attempts_failed))));
  const y = (v) => PAD.top + plotH - (plotH * v) / max;
  const slot = plotW / Math.max(1, buckets.length);
  const bar = Math.max(2, slot * 0.36);
  const id = `chart-${period}-${Math.random().toString(36).slice(2, 8)}`;
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'activity-svg', role: 'img',
    'aria-labelledby': `${id}-title ${id}-desc` },
  svg('title', { id: `${id}-title` }, titleText),
  svg('desc', { id: `${id}-desc` }, describe(totals(buckets))));
  root.append(svg('line', { x1: PAD.left, x2: W - PAD.right, y1: y(0), y2: y(0), class: 'axis' }),
    svg('line', { x1: PAD.left, x2: W - PAD.right, y1: y(max), y2: y(max), class: 'grid' }),
    svg('text', { x: PAD.left - 6, y: y(0), class: 'tick', 'text-anchor': 'end', 'dominant-baseline': 'middle' }, '0'),
    svg('text', { x: PAD.left - 6, y: y(max), class: 'tick', 'text-anchor': 'end', 'dominant-baseline': 'middle' }, String(max)));
  buckets.forEach((b, i) => {
    const x = PAD.left + i * slot + (slot - 2 * bar) / 2;
    const delivered = Number(b.batches_delivered);
    const failed = Number(b.attempts_failed);
    const g = svg('g', { class: 'bucket', 'data-start': b.start },
      svg('title', {}, `${bucketLabel(b.start, period)} UTC: ${describe(b)}`),
      svg('rect', { x: PAD.left + i * slot, y: PAD.top, width: slot, height: plotH, class: 'hit' }),
      svg('rect', { x, y: y(delivered), width: bar, height: y(0) - y(delivered), class: 'bar-delivered' }),
      svg('rect', { x: x + bar, y: y(failed), width: bar, height: y(0) - y(failed), class: 'bar-failed' }));
    root.append(g);
    if (i % PERIODS[period].every === 0) {
      root.append(svg('text', { x: PAD.left + (i + 0.5) * slot, y: H - 6, class: 'tick', 'text-anchor': 'middle' },
        bucketLabel(b.start, period)));
    }
  });
  return root;
}

// A section for webhook `id`; refresh() reloads it (at most every few
// seconds unless forced), the toggle switches 24 h / 7 days.
export function activityChart(id) {
  let period = 'hourly';
  let stats = null;
  let loadedAt = 0;
  let loading = null;
  const toggle = h('div', { class: 'filters chart-toggle', role: 'group', 'aria-label': 'Chart period' });
  const caption = h('p', { class: 'muted small activity-caption' });
  const figure = h('div', { class: 'activity-figure' }, h('p', { class: 'loading' }, 'Loading…'));
  const legend = h('p', { class: 'activity-legend' });
  const el = h('section', { class: 'card activity-chart', 'aria-labelledby': 'activity-title' },
    h('div', { class: 'activity-head' }, h('div', {}, h('h2', { id: 'activity-title' }, 'Deliveries and failures'), caption),
      toggle),
    figure, legend);

  function renderToggle() {
    clear(toggle, Object.entries(PERIODS).map(([p, { label }]) => {
      const b = h('button', { type: 'button', class: 'chip', 'aria-pressed': String(p === period), 'data-period': p }, label);
      b.addEventListener('click', () => { period = p; renderToggle(); render(); });
      return b;
    }));
  }

  function render() {
    caption.textContent = PERIODS[period].caption;
    if (!stats) return;
    const buckets = stats[period] || [];
    const t = totals(buckets);
    clear(figure, chartSvg(buckets, period, `Deliveries and failures, ${PERIODS[period].name}`));
    clear(legend,
      h('span', { class: 'key key-delivered' }, 'Delivered: ', h('strong', { 'data-total': 'batches_delivered' }, String(t.batches_delivered)),
        ` ${t.batches_delivered === 1 ? 'batch' : 'batches'} (`, h('strong', { 'data-total': 'events_delivered' }, String(t.events_delivered)),
        ` ${t.events_delivered === 1 ? 'event' : 'events'})`),
      h('span', { class: 'key key-failed' }, 'Failed attempts: ', h('strong', { 'data-total': 'attempts_failed' }, String(t.attempts_failed))),
      h('span', { class: 'key' }, 'Batches ended failed: ', h('strong', { 'data-total': 'batches_failed' }, String(t.batches_failed))));
  }

  async function refresh(force = false) {
    if (loading || (!force && Date.now() - loadedAt < MIN_REFRESH_MS)) return loading;
    loading = api.webhookStats(id).then((s) => { stats = s; loadedAt = Date.now(); render(); },
      (err) => { if (!stats) clear(figure, h('p', { class: 'muted' }, `Could not load the chart: ${err.message}`)); })
      .finally(() => { loading = null; });
    return loading;
  }

  renderToggle();
  caption.textContent = PERIODS[period].caption;
  return { el, refresh };
}
