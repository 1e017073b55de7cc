// Test connection: the sample data set as an editable form (or raw JSON), an
// event type, "Send", then a success or an error screen.

import { api, ApiError } from './api.js';
import { h, clear, icon } from './dom.js';
import { openDialog, field, errorBox, showFieldErrors } from './ui.js';

// The data set of the product document, in its order: key, type, title.
const DATA_SET = [
  ['msisdn', 'LONG', 'Phone number'],
  ['profileCreatedAt', 'TIMESTAMP', 'Acquisition date'],
  ['source', 'SOURCE', 'Acquisition source'],
  ['source_value', 'TEXT', 'Acquisition details'],
  ['eshop_opt_in', 'BOOLEAN', 'Opt-in status'],
  ['last_eshop_opt_in_date', 'TIMESTAMP', 'Last opt-in date'],
  ['ecom_email', 'TEXT', 'Email'],
  ['ecom_signups_count', 'LONG', 'Signup count'],
  ['ecom_device_type', 'TEXT', 'Device type'],
  ['ecom_browser_name', 'TEXT', 'Browser name'],
  ['ecom_locale', 'TEXT', 'Locale'],
  ['ecom_timezone', 'TEXT', 'Timezone'],
  ['ecom_os_name', 'TEXT', 'Operating system'],
  ['ecom_signup_domain', 'TEXT', 'Signup domain'],
  ['ecom_signup_path', 'TEXT', 'Signup path'],
  ['ecom_signup_referrer_url', 'TEXT', 'Signup referrer URL'],
  ['last_order_date', 'TIMESTAMP', 'Last order date'],
  ['ecom_total_order_count', 'LONG', 'Total orders'],
  ['ecom_total_order_amount', 'LONG', 'Total orders amount'],
  ['last_click_date', 'TIMESTAMP', 'Last click date'],
];
const SOURCES = ['form', 'keyword', 'mobile_identity', 'import'];
const EVENT_TYPES = [['contact.subscribed', 'Contact subscribes'], ['contact.unsubscribed', 'Contact unsubscribes']];
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const BODY_PREVIEW = 1000;

function inferType(value) {
  if (typeof value === 'number') return 'LONG';
  if (typeof value === 'boolean') return 'BOOLEAN';
  if (typeof value === 'string' && TIMESTAMP.test(value)) return 'TIMESTAMP';
  return 'TEXT';
}

function nullableSelect(options, value) {
  const v = value == null ? 'null' : String(value);
  return h('select', {}, [...options, ['null', 'null (not set)']].map(([val, label]) =>
    h('option', { value: val, selected: val === v }, label)));
}

// One labelled control for a data-set key; .read() gives the JSON value or throws a message.
function dataField(key, type, title, value) {
  let control;
  if (type === 'LONG') control = h('input', { type: 'number', step: 1, inputmode: 'numeric', value: value ?? '' });
  else if (type === 'BOOLEAN') control = nullableSelect([['true', 'true'], ['false', 'false']], value);
  else if (type === 'SOURCE') control = nullableSelect(SOURCES.map((s) => [s, s]), value);
  else {
    control = h('input', { type: 'text', value: value ?? '', spellcheck: 'false', autocomplete: 'off' });
    if (type === 'TIMESTAMP') control.placeholder = 'YYYY-MM-DDTHH:MM:SS.mmmZ';
  }
  control.name = key;
  const label = h('span', {}, title, ' ', h('code', { class: 'key' }, key));
  const f = field(label, control, { name: key });
  f.key = key;
  f.read = () => {
    const raw = control.value;
    if (type === 'LONG') {
      if (control.validity.badInput) throw new Error('Enter a whole number.');
      if (raw === '') return null;
      const n = Number(raw);
      if (!Number.isSafeInteger(n)) throw new Error('Enter a whole number.');
      return n;
    }
    if (type === 'BOOLEAN') return raw === 'null' ? null : raw === 'true';
    if (type === 'SOURCE') return raw === 'null' ? null : raw;
    if (raw === '') return null;
    if (type === 'TIMESTAMP' && !TIMESTAMP.test(raw)) throw new Error('Use the form 2024-09-26T00:08:18.161Z (UTC).');
    return raw;
  };
  return f;
}

function buildFields(data) {
  const known = new Set(DATA_SET.map(([k]) => k));
  const rows = DATA_SET.map(([k, type, title]) => [k, type, title]);
  for (const k of Object.keys(data)) if (!known.has(k)) rows.push([k, inferType(data[k]), k]);
  return rows.map(([k, type, title]) => dataField(k, type, title, data[k]));
}

export function openTestDialog(wh, returnFocus) {
  const d = openDialog({ title: `Test connection: ${wh.name}`, wide: true, returnFocus });
  clear(d.body, h('p', { class: 'loading' }, 'Loading the sample data set…'));
  api.sampleEvent().then((sample) => showForm(d, wh, sample), (err) => {
    clear(d.body, h('p', { class: 'alert alert-error', role: 'alert' }, `Could not load the sample data set: ${err.message}`));
  });
}

function showForm(d, wh, sample) {
  let fields = buildFields(sample.data || {});
  let rawMode = false;
  const grid = h('div', { class: 'data-grid' }, fields);
  const raw = h('textarea', { rows: 12, spellcheck: 'false', class: 'mono', name: 'raw_json' });
  const rawField = field('Data set as JSON', raw, { name: 'data', hint: 'One object with the data-set keys. A key left out keeps its sample value; null clears it.' });
  rawField.hidden = true;
  const type = field('Event type', h('select', {}, EVENT_TYPES.map(([v, label]) =>
    h('option', { value: v, selected: v === (sample.type || 'contact.subscribed') }, `${label} (${v})`))), { name: 'type' });
  const toggle = h('button', { type: 'button', class: 'btn btn-small', 'aria-pressed': 'false' }, 'Edit as JSON');
  const alert = errorBox();
  const send = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Send');
  const cancel = h('button', { type: 'button', class: 'btn' }, 'Cancel');
  cancel.addEventListener('click', () => d.close());

  const readForm = () => {
    const data = {};
    let ok = true;
    for (const f of fields) {
      try { f.setError(''); data[f.key] = f.read(); } catch (e) { f.setError(e.message); ok = false; }
    }
    if (!ok) fields.find((f) => f.control.getAttribute('aria-invalid'))?.control.focus();
    return ok ? data : null;
  };
  const readRaw = () => {
    rawField.setError('');
    try {
      const data = JSON.parse(raw.value);
      if (data && typeof data === 'object' && !Array.isArray(data)) return data;
      rawField.setError('The data set must be one JSON object.');
    } catch (e) {
      rawField.setError(`This is not valid JSON: ${e.message}`);
    }
    raw.focus();
    return null;
  };

  toggle.addEventListener('click', () => {
    if (!rawMode) {
      const data = readForm();
      if (!data) return;
      raw.value = JSON.stringify(data, null, 2);
    } else {
      const data = readRaw();
      if (!data) return;
      // As the server applies it: a key left out keeps its sample value.
      fields = buildFields({ ...(sample.data || {}), ...data });
      clear(grid, fields);
    }
    rawMode = !rawMode;
    grid.hidden = rawMode;
    rawField.hidden = !rawMode;
    toggle.textContent = rawMode ? 'Edit as form' : 'Edit as JSON';
    toggle.setAttribute('aria-pressed', String(rawMode));
  });

  const form = h('form', { novalidate: true, class: 'form test-form' },
    h('p', {}, 'We send this sample contact once, now, to ', h('span', { class: 'url' }, wh.url),
      ', signed like a real message and marked as a test. Edit any value first if you like.'),
    h('div', { class: 'test-controls' }, type, toggle),
    h('p', { class: 'muted' }, 'Dates are UTC, like 2024-09-26T00:08:18.161Z. An empty field is sent as null.'),
    grid, rawField, alert,
    h('div', { class: 'dialog-actions sticky-actions' }, cancel, send));

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    alert.show('');
    const data = rawMode ? readRaw() : readForm();
    if (!data) return;
    send.disabled = true;
    send.textContent = 'Sending…';
    try {
      const result = await api.testWebhook(wh.id, { type: type.control.value, data });
      showResult(d, wh, result, () => { clear(d.body, form); send.focus(); });
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      const errors = err.fieldErrors.map((fe) => ({ ...fe, field: String(fe.field ?? '').replace(/^data[.[]/, '').replace(/]$/, '') }));
      if (rawMode) {
        rawField.setError(errors.map((fe) => `${fe.field}: ${fe.message}`).join('; ') || err.message);
        alert.show(`The test was not sent: ${err.message}`);
      } else {
        const rest = showFieldErrors([...fields, type], errors);
        if (rest.length || !errors.length) alert.show(`The test was not sent: ${rest.length ? rest.join('; ') : err.message}`);
      }
    } finally {
      send.disabled = false;
      send.textContent = 'Send';
    }
  });
  clear(d.body, form);
  fields[0]?.control.focus();
}

function showResult(d, wh, r, back) {
  const ok = Boolean(r.ok);
  const status = r.status_code != null ? `HTTP ${r.status_code}` : null;
  const took = r.duration_ms != null ? `${r.duration_ms} ms` : null;
  const summary = ok
    ? `${wh.url} answered ${status ?? 'successfully'}${took ? ` in ${took}` : ''}. The connection works.`
    : status
      ? `${wh.url} answered ${status}${took ? ` after ${took}` : ''}. Only a 2xx answer counts as a success.`
      : `No HTTP answer from ${wh.url}${took ? ` after ${took}` : ''}.`;
  const body = String(r.response_body ?? '');
  const again = h('button', { type: 'button', class: 'btn' }, ok ? 'Send another test' : 'Back to the sample');
  again.addEventListener('click', back);
  const done = h('button', { type: 'button', class: 'btn btn-primary' }, 'Done');
  done.addEventListener('click', () => d.close());
  clear(d.body, h('div', { class: `result ${ok ? 'result-ok' : 'result-error'}`, role: 'status' },
    icon(ok ? 'check' : 'cross', 'result-icon'),
    h('h3', { class: 'result-title' }, ok ? 'Test successful' : 'Test failed'),
    h('dl', { class: 'facts' },
      h('dt', {}, 'Status code'), h('dd', {}, status ?? 'none'),
      h('dt', {}, 'Latency'), h('dd', {}, took ?? 'unknown'),
      r.error ? [h('dt', {}, 'Error'), h('dd', { class: 'error-text' }, r.error)] : null),
    h('p', {}, summary),
    !ok ? h('p', { class: 'muted' }, 'Check the URL, that the application accepts POST requests with a JSON body, and that it answers within the timeout.') : null),
  h('h4', { class: 'subhead' }, 'Response body (start)'),
  body ? h('pre', { class: 'snippet' }, body.length > BODY_PREVIEW ? `${body.slice(0, BODY_PREVIEW)}…` : body)
    : h('p', { class: 'muted' }, 'The response had no body.'),
  h('div', { class: 'dialog-actions' }, again, done));
  done.focus();
}
