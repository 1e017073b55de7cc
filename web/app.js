// Entry point: sign-in (an API key, or a portal link: docs/embedding.md), the
// page frame (top bar, left menu) and the hash router.
// Views are functions (main, params) → optional cleanup, in their own modules.

import { api, session, onUnauthorized, ApiError } from './api.js';
import { h, clear, icon, tickTimes, toast } from './dom.js';
import { field, errorBox } from './ui.js';
import { webhooksView } from './webhooks.js';
import { batchesView } from './batches.js';
import { contactsView } from './contacts.js';
import { settingsView } from './settings.js';

const app = document.getElementById('app');
let cleanup = null;
let signInNotice = '';
// ?embed=1: the page lives inside the platform's app, which has its own
// header, menu and sign-out; so the page shows neither, and no API key form.
const embedded = new URLSearchParams(location.search).get('embed') === '1';
if (embedded) app.classList.add('app-embedded');
const SESSION_ENDED = 'Your session has ended. Open this page again from your Grow account.';

// "#/webhooks/wh_1?state=failed" → {parts: ['webhooks','wh_1'], params: {state: 'failed'}}
function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [path, q = ''] = raw.split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  return { parts, params: Object.fromEntries(new URLSearchParams(q)) };
}

function route() {
  if (cleanup) { cleanup(); cleanup = null; }
  document.querySelectorAll('dialog[open]').forEach((d) => d.close());
  if (!session.key) { renderSignIn(); return; }
  const { parts, params } = parseHash();
  const main = renderFrame(parts[0] || 'integrations');
  if (parts[0] === 'webhooks' && parts[1]) {
    cleanup = batchesView(main, { id: parts[1], state: params.state });
  } else if (parts[0] === 'webhooks') {
    cleanup = webhooksView(main);
  } else if (parts[0] === 'contacts') {
    cleanup = contactsView(main, { q: params.q });
  } else if (parts[0] === 'settings') {
    settingsView(main);
  } else {
    integrationsView(main);
  }
  app.removeAttribute('aria-busy');
}

// ---- frame ----------------------------------------------------------------

function renderFrame(section) {
  const account = session.account;
  const portal = session.portal;
  const signOut = h('button', { type: 'button', class: 'btn btn-ghost' }, portal ? 'End session' : 'Sign out');
  signOut.addEventListener('click', async () => {
    if (portal) await api.endPortalSession().catch(() => {});
    session.clear();
    signInNotice = portal ? SESSION_ENDED : 'You are signed out.';
    history.replaceState(null, '', '#/integrations');
    route();
  });
  const main = h('main', { id: 'main', class: 'main', tabindex: '-1' });
  if (embedded) {
    clear(app, main);
    return main;
  }
  const link = (href, label, ico, current) =>
    h('a', { href, class: 'nav-link', 'aria-current': current ? 'page' : null }, icon(ico), h('span', {}, label));
  clear(app,
    h('header', { class: 'topbar' },
      h('a', { href: '#/integrations', class: 'brand' }, h('img', { src: '/icon.svg', alt: '', width: 28, height: 28 }), 'growhook'),
      h('div', { class: 'topbar-right' },
        account ? h('span', { class: 'account', title: `Account ${account.id}` }, account.name || account.id) : null,
        signOut)),
    h('nav', { class: 'sidebar', 'aria-label': 'Main menu' },
      link('#/integrations', 'Integrations', 'grid', section === 'integrations' || section === 'webhooks'),
      link('#/contacts', 'Find a contact', 'search', section === 'contacts'),
      link('#/settings', 'Settings', 'inbox', section === 'settings')),
    main);
  return main;
}

function integrationsView(main) {
  document.title = 'Integrations · growhook';
  const tab = h('button', {
    type: 'button', role: 'tab', id: 'tab-marketing', class: 'tab', 'aria-selected': 'true',
    'aria-controls': 'panel-marketing',
  }, 'Marketing');
  const connect = h('a', { href: '#/webhooks', class: 'btn btn-primary' }, 'Connect');
  const card = h('article', { class: 'card integration-card', 'aria-labelledby': 'webhook-card-title' },
    h('div', { class: 'integration-icon' }, icon('hook')),
    h('div', { class: 'integration-text' },
      h('h3', { id: 'webhook-card-title' }, 'Webhook'),
      h('p', {}, 'Send contact subscribes and unsubscribes to your external applications as they happen, as signed JSON.')),
    h('div', { class: 'integration-action' }, connect));
  const panel = h('section', { role: 'tabpanel', id: 'panel-marketing', 'aria-labelledby': 'tab-marketing', class: 'tabpanel' },
    h('div', { class: 'card-grid' }, card));
  tab.addEventListener('click', () => { tab.setAttribute('aria-selected', 'true'); panel.hidden = false; });
  clear(main,
    h('div', { class: 'page-head' },
      h('div', {}, h('h1', { tabindex: '-1' }, 'Integrations'),
        h('p', { class: 'lead' }, 'Connect Grow with the other applications you use.'))),
    h('div', { role: 'tablist', 'aria-label': 'Integration categories', class: 'tabs' }, tab),
    panel);
}

// ---- sign-in --------------------------------------------------------------

// Where a portal session ends when the page is embedded: the platform's app
// signs in again, not this page.
function renderSessionEnded() {
  document.title = 'Session ended · growhook';
  clear(app,
    h('main', { id: 'main', class: 'signin', tabindex: '-1' },
      h('div', { class: 'signin-card card' },
        h('h1', {}, 'Session ended'),
        h('p', { class: 'alert alert-info', role: 'status' }, signInNotice || SESSION_ENDED))));
  signInNotice = '';
  app.removeAttribute('aria-busy');
}

function renderSignIn() {
  if (embedded) { renderSessionEnded(); return; }
  document.title = 'Sign in · growhook';
  const input = h('input', {
    type: 'password', name: 'api_key', autocomplete: 'off', spellcheck: 'false', autocapitalize: 'off',
  });
  const keyField = field('API key', input, { hint: 'Your account’s API key. It stays in this browser tab until you sign out or close it.' });
  const alert = errorBox();
  const notice = signInNotice ? h('p', { class: 'alert alert-info', role: 'status' }, signInNotice) : null;
  signInNotice = '';
  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-block' }, 'Sign in');
  const form = h('form', { class: 'signin-form', novalidate: true }, keyField, alert, submit);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const key = input.value.trim();
    alert.show('');
    keyField.setError('');
    if (!key) { keyField.setError('Enter your API key.'); input.focus(); return; }
    submit.disabled = true;
    submit.textContent = 'Signing in…';
    try {
      const account = await api.account(key);
      session.save(key, account || {});
      if (!location.hash || location.hash === '#' || location.hash === '#/') history.replaceState(null, '', '#/integrations');
      route();
      document.querySelector('main h1')?.focus();
    } catch (err) {
      submit.disabled = false;
      submit.textContent = 'Sign in';
      if (err instanceof ApiError && err.status === 401) {
        keyField.setError('This API key is not valid. Check that you copied all of it, or ask for a new one.');
        input.focus();
        input.select();
      } else {
        alert.show(`Could not sign in: ${err.message}`);
      }
    }
  });
  clear(app,
    h('main', { id: 'main', class: 'signin', tabindex: '-1' },
      h('div', { class: 'signin-card card' },
        h('div', { class: 'brand brand-large' }, h('img', { src: '/icon.svg', alt: '', width: 36, height: 36 }), 'growhook'),
        h('h1', {}, 'Sign in'),
        h('p', { class: 'lead' }, 'Manage the webhooks that send your contacts to other applications.'),
        notice, form)));
  app.removeAttribute('aria-busy');
  input.focus();
}

onUnauthorized(() => {
  if (!session.key) return;
  const portal = session.portal;
  session.clear();
  signInNotice = portal ? SESSION_ENDED : 'Your API key is no longer accepted. Sign in again.';
  route();
});

// A portal link: "…/#s=ghpl_…". The secret leaves the address bar at once
// (replaceState: not in history, not in a Referer, not in a bookmark), is
// exchanged for a session token, and the page opens on the webhook list.
// Returns whether it was one.
async function signInWithPortalLink() {
  const m = /^#s=([A-Za-z0-9_-]+)$/.exec(location.hash);
  if (!m) return false;
  history.replaceState(null, '', `${location.pathname}${location.search}#/webhooks`);
  session.clear();
  try {
    const got = await api.redeemPortal(m[1]);
    session.save(got.token, got.account || {}, { portal: true });
  } catch (err) {
    signInNotice = err instanceof ApiError && err.status === 401
      ? 'This link has expired or was used already. Open this page again from your Grow account.'
      : `Could not sign in: ${err.message}`;
  }
  return true;
}


// The skip link moves focus; following its "#main" would be read as a route.
document.querySelector('.skip-link')?.addEventListener('click', (e) => {
  e.preventDefault();
  document.getElementById('main')?.focus();
});
window.addEventListener('hashchange', () => {
  route();
  const heading = document.querySelector('main h1');
  if (heading) heading.focus({ preventScroll: true });
});
window.addEventListener('unhandledrejection', (e) => {
  if (e.reason instanceof ApiError) { e.preventDefault(); toast(e.reason.message, 'error'); }
});
setInterval(tickTimes, 30000);
signInWithPortalLink().finally(route);
