// The add / edit form: Name (internal use only) and Webhook URL, with event
// types, batch size, ordering and extra authentication under "More options".

import { api, ApiError } from './api.js';
import { h, clear } from './dom.js';
import { openDialog, field, errorBox, showFieldErrors } from './ui.js';

const EVENT_TYPES = [['contact.subscribed', 'Contact subscribes'], ['contact.unsubscribed', 'Contact unsubscribes']];
const ORDERINGS = [['none', 'As fast as possible'], ['contact', 'In order for each contact']];
const AUTH_TYPES = [['', 'None'], ['basic', 'Basic (username and password)'], ['bearer', 'Bearer token'], ['header', 'Custom header']];

// A fieldset of checkboxes that behaves like a field for error display.
function checkboxGroup(legend, options, checked, name) {
  const boxes = options.map(([value, label]) => h('input', { type: 'checkbox', value, checked: checked.includes(value) }));
  boxes[0].dataset.field = name;
  const errorEl = h('p', { class: 'field-error', id: `${name}-error`, hidden: true });
  const set = h('fieldset', { class: 'field checks', 'aria-describedby': errorEl.id },
    h('legend', {}, legend),
    boxes.map((b, i) => h('label', { class: 'check' }, b, ` ${options[i][1]}`)),
    errorEl);
  set.control = boxes[0];
  set.setError = (m) => { errorEl.textContent = m || ''; errorEl.hidden = !m; };
  set.values = () => boxes.filter((b) => b.checked).map((b) => b.value);
  return set;
}

// webhook: null to create. onSaved(webhook, created) after a successful save.
export function openWebhookForm({ webhook = null, returnFocus, onSaved }) {
  const editing = Boolean(webhook);
  const d = openDialog({ title: editing ? 'Edit webhook' : 'New webhook', returnFocus });
  const auth = webhook?.auth || null;

  const name = field('Name', h('input', { type: 'text', value: webhook?.name ?? '', autocomplete: 'off', maxlength: 200 }),
    { hint: 'For internal use only: it helps you tell your webhooks apart.', name: 'name' });
  const url = field('Webhook URL', h('input', {
    type: 'url', value: webhook?.url ?? '', autocomplete: 'off', inputmode: 'url', spellcheck: 'false',
    placeholder: 'https://example.com/webhooks/grow',
  }), { hint: 'The URL you generated in the external application. growhook sends events to it as signed JSON POST requests.', name: 'url' });
  const events = checkboxGroup('Events to send', EVENT_TYPES, webhook?.event_types ?? EVENT_TYPES.map((e) => e[0]), 'event_types');
  const batchSize = field('Batch size', h('input', {
    type: 'number', min: 1, step: 1, inputmode: 'numeric', value: webhook?.batch_max_events ?? '',
  }), { hint: 'The most events sent in one request. 1 sends every event on its own. Empty: the default.', name: 'batch_max_events' });

  const ordering = field('Order of events', h('select', {},
    ORDERINGS.map(([v, label]) => h('option', { value: v, selected: (webhook?.ordering ?? 'none') === v }, label))),
  { hint: 'In order for each contact: a contact\'s unsubscribe never arrives before its subscribe, even when a request is retried; other contacts do not wait. It costs some speed when many events of the same contact arrive together.', name: 'ordering' });

  const authType = field('Extra authentication', h('select', {},
    AUTH_TYPES.map(([v, label]) => h('option', { value: v, selected: (auth?.type ?? '') === v }, label))),
  { hint: 'Sent with every message, besides the signature.', name: 'auth' });
  const keep = editing && auth ? 'Leave empty to keep the current one.' : undefined;
  const authFields = {
    basic: [field('Username', h('input', { type: 'text', value: auth?.username ?? '', autocomplete: 'off' }), { name: 'auth.username' }),
      field('Password', h('input', { type: 'password', autocomplete: 'new-password' }), { name: 'auth.password', hint: keep })],
    bearer: [field('Token', h('input', { type: 'password', autocomplete: 'off' }), { name: 'auth.token', hint: keep })],
    header: [field('Header name', h('input', { type: 'text', value: auth?.name ?? '', autocomplete: 'off', placeholder: 'X-Api-Key' }), { name: 'auth.name' }),
      field('Header value', h('input', { type: 'password', autocomplete: 'off' }), { name: 'auth.value', hint: keep })],
  };
  const authBox = h('div', { class: 'auth-fields' });
  const showAuthFields = () => clear(authBox, authFields[authType.control.value] || []);
  authType.control.addEventListener('change', showAuthFields);
  showAuthFields();

  const allFields = [name, url, events, batchSize, ordering, authType, ...Object.values(authFields).flat()];
  const alert = errorBox();
  const more = h('details', { class: 'more', open: editing && (Boolean(auth) || (webhook.event_types || []).length < 2 || webhook.ordering === 'contact') },
    h('summary', {}, 'More options'), events, batchSize, ordering, authType, authBox);
  const cancel = h('button', { type: 'button', class: 'btn' }, 'Cancel');
  cancel.addEventListener('click', () => d.close());
  const save = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Save');
  const form = h('form', { novalidate: true, class: 'form' }, name, url, more, alert,
    h('div', { class: 'dialog-actions' }, cancel, save));
  clear(d.body, form);
  name.control.focus();

  // The auth member to send, undefined to leave it unchanged, or an error.
  function authBody() {
    const type = authType.control.value;
    const v = (f) => f.control.value;
    if (!type) return auth ? { value: null } : { value: undefined };
    const [a, b] = authFields[type];
    const body = type === 'basic' ? { type, username: v(a).trim(), password: v(b) }
      : type === 'bearer' ? { type, token: v(a) } : { type, name: v(a).trim(), value: v(b) };
    const secretField = type === 'bearer' ? a : b;
    const secret = v(secretField);
    const sameType = auth && auth.type === type;
    if (sameType && !secret) {
      const nameSame = type === 'bearer' || (type === 'basic' ? body.username === auth.username : body.name === auth.name);
      if (nameSame) return { value: undefined };
      return { error: [secretField, 'Enter it again to change the authentication.'] };
    }
    if (!secret) return { error: [secretField, 'Required.'] };
    return { value: body };
  }

  function buildBody() {
    const errors = [];
    const body = {};
    const nameValue = name.control.value.trim();
    const urlValue = url.control.value.trim();
    if (!nameValue) errors.push([name, 'Enter a name.']);
    if (!urlValue) errors.push([url, 'Enter the webhook URL.']);
    const types = events.values();
    if (!types.length) errors.push([events, 'Choose at least one event.']);
    const a = authBody();
    if (a.error) errors.push(a.error);
    if (!editing || nameValue !== webhook.name) body.name = nameValue;
    if (!editing || urlValue !== webhook.url) body.url = urlValue;
    if (!editing || types.join() !== (webhook.event_types || []).join()) body.event_types = types;
    const size = batchSize.control.value;
    if (batchSize.control.validity.badInput) errors.push([batchSize, 'Enter a whole number.']);
    else if (size !== '' && (!editing || Number(size) !== webhook.batch_max_events)) body.batch_max_events = Number(size);
    const order = ordering.control.value;
    if (editing ? order !== (webhook.ordering ?? 'none') : order !== 'none') body.ordering = order;
    if (a.value !== undefined) body.auth = a.value;
    return { body, errors };
  }

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    alert.show('');
    for (const f of allFields) f.setError('');
    const { body, errors } = buildBody();
    if (errors.length) {
      for (const [f, m] of errors) f.setError(m);
      if (errors.some(([f]) => more.contains(f))) more.open = true;
      errors[0][0].control.focus();
      return;
    }
    save.disabled = true;
    save.textContent = 'Saving…';
    try {
      const saved = editing ? await api.updateWebhook(webhook.id, body) : await api.createWebhook(body);
      d.close();
      onSaved(saved || { ...webhook, ...body }, !editing);
    } catch (err) {
      save.disabled = false;
      save.textContent = 'Save';
      if (!(err instanceof ApiError)) throw err;
      const rest = showFieldErrors(allFields, err.fieldErrors);
      if (allFields.some((f) => !f.querySelector('.field-error')?.hidden && more.contains(f))) more.open = true;
      if (rest.length || !err.fieldErrors.length) alert.show(rest.length ? rest.join('; ') : err.message);
    }
  });
}
