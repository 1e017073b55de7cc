// "Settings": the account's notification_email, where growhook mails the
// news of its webhooks (failing, disabled, recovered; docs/operations.md).

import { api, ApiError } from './api.js';
import { h, clear, toast } from './dom.js';
import { field, errorBox } from './ui.js';

export function settingsView(main) {
  document.title = 'Settings · growhook';
  const input = h('input', { type: 'email', name: 'notification_email', autocomplete: 'email', spellcheck: 'false' });
  const emailField = field('Notification email', input, {
    hint: 'Where we write when one of your webhooks starts failing, is disabled or recovers. Leave it empty for no mail.',
    name: 'notification_email',
  });
  const save = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Save');
  const form = h('form', { class: 'card settings-form', 'aria-label': 'Notifications', novalidate: true },
    h('h2', {}, 'Notifications'), emailField, h('div', { class: 'form-actions' }, save));
  const alert = errorBox();
  clear(main, h('div', { class: 'page-head' }, h('h1', { tabindex: '-1' }, 'Settings')), alert, form);

  api.account().then((a) => { input.value = a?.notification_email || ''; })
    .catch((e) => alert.show(`Could not load the account: ${e.message}`));

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    emailField.setError('');
    alert.show('');
    const value = input.value.trim();
    save.disabled = true;
    try {
      const a = await api.updateAccount({ notification_email: value || null });
      input.value = a?.notification_email || '';
      toast(value ? `Notifications go to ${value}.` : 'No notification mail will be sent.', 'success');
    } catch (e) {
      const fe = e instanceof ApiError ? e.fieldErrors.find((x) => x.field === 'notification_email') : null;
      if (fe) emailField.setError(fe.message);
      else alert.show(`Could not save: ${e.message}`);
    } finally {
      save.disabled = false;
    }
  });
}
