// The page's only door to the server: JSON over fetch with the account's API
// key or a portal session's token, problem+json errors turned into ApiError
// values.

const KEY_STORAGE = 'growhook.apiKey';
const ACCOUNT_STORAGE = 'growhook.account';
const PORTAL_STORAGE = 'growhook.portal';

// The API key (or a portal session's token, sent the same way) lives in
// sessionStorage: it survives a reload of this tab and is gone when the tab
// closes. No cookie: nothing for another site to forge (CSRF), nothing that
// depends on SameSite inside a third-party iframe. A browser that denies
// storage to a third-party iframe (blocked third-party cookies do) gets a
// memory of this document only: a reload there needs a new portal link.
const sessionStorage = (() => {
  try {
    const s = window.sessionStorage;
    s.getItem(KEY_STORAGE);
    return s;
  } catch {
    const m = new Map();
    return {
      getItem: (k) => (m.has(k) ? m.get(k) : null),
      setItem: (k, v) => { m.set(k, String(v)); },
      removeItem: (k) => { m.delete(k); },
    };
  }
})();

export const session = {
  get key() { return sessionStorage.getItem(KEY_STORAGE); },
  // Signed in with a portal link (docs/embedding.md), not an API key.
  get portal() { return sessionStorage.getItem(PORTAL_STORAGE) === '1'; },
  get account() {
    try { return JSON.parse(sessionStorage.getItem(ACCOUNT_STORAGE) || 'null'); } catch { return null; }
  },
  save(key, account, { portal = false } = {}) {
    sessionStorage.setItem(KEY_STORAGE, key);
    sessionStorage.setItem(ACCOUNT_STORAGE, JSON.stringify(account));
    if (portal) sessionStorage.setItem(PORTAL_STORAGE, '1');
    else sessionStorage.removeItem(PORTAL_STORAGE);
  },
  clear() {
    sessionStorage.removeItem(KEY_STORAGE);
    sessionStorage.removeItem(ACCOUNT_STORAGE);
    sessionStorage.removeItem(PORTAL_STORAGE);
  },
};

// An answer that was not 2xx, or no answer at all (status 0).
export class ApiError extends Error {
  constructor(status, problem, message) {
    super(message);
    this.status = status;
    this.problem = problem || {};
  }
  // [{field, message}] from a problem+json "errors" member.
  get fieldErrors() {
    const errors = this.problem.errors;
    return Array.isArray(errors) ? errors.filter((e) => e && typeof e === 'object') : [];
  }
}

let unauthorizedHandler = () => {};
// Called once for any 401 on a signed-in request: the key was revoked or is wrong.
export function onUnauthorized(handler) { unauthorizedHandler = handler; }

const DEFAULT_TIMEOUT_MS = 30000;

// Sends one request. `key` overrides the stored key (used to check a key at
// sign-in, where a 401 is an answer, not a lost session).
export async function request(method, path, { body, key, timeoutMs = DEFAULT_TIMEOUT_MS } = {}) {
  const apiKey = key ?? session.key;
  const headers = { Accept: 'application/json' };
  if (apiKey) headers.Authorization = `Bearer ${apiKey}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(path, {
      method, headers, cache: 'no-store',
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    const why = err && err.name === 'TimeoutError' ? 'the server did not answer in time' : 'the server could not be reached';
    throw new ApiError(0, { title: 'No answer', detail: why }, why);
  }
  const text = res.status === 204 ? '' : await res.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = null; }
  }
  if (!res.ok) {
    const problem = data && typeof data === 'object' ? data : { title: res.statusText, detail: text.slice(0, 200) };
    const message = problem.detail || problem.title || `HTTP ${res.status}`;
    const err = new ApiError(res.status, problem, message);
    if (res.status === 401 && key === undefined) unauthorizedHandler(err);
    throw err;
  }
  return data;
}

const enc = encodeURIComponent;

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v != null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

export const api = {
  account: (key) => request('GET', '/v1/account', { key }),
  updateAccount: (body) => request('PATCH', '/v1/account', { body }),
  // A portal link's one-time secret → {token, expires_at, account}.
  redeemPortal: (secret) => request('POST', '/v1/portal-session', { body: { secret }, key: '' }),
  endPortalSession: () => request('DELETE', '/v1/portal-session', { key: session.key || '' }),
  listWebhooks: (cursor, limit = 100) => request('GET', `/v1/webhooks${query({ limit, cursor })}`),
  getWebhook: (id) => request('GET', `/v1/webhooks/${enc(id)}`),
  createWebhook: (body) => request('POST', '/v1/webhooks', { body }),
  updateWebhook: (id, body) => request('PATCH', `/v1/webhooks/${enc(id)}`, { body }),
  deleteWebhook: (id) => request('DELETE', `/v1/webhooks/${enc(id)}`),
  secret: (id) => request('GET', `/v1/webhooks/${enc(id)}/secret`),
  rotateSecret: (id, gracePeriodS) =>
    request('POST', `/v1/webhooks/${enc(id)}/rotate-secret`, { body: { grace_period_s: gracePeriodS } }),
  sampleEvent: () => request('GET', '/v1/sample-event'),
  testWebhook: (id, body) => request('POST', `/v1/webhooks/${enc(id)}/test`, { body, timeoutMs: 90000 }),
  listBatches: (id, state, cursor, limit = 50) =>
    request('GET', `/v1/webhooks/${enc(id)}/batches${query({ state, limit, cursor })}`),
  getBatch: (id) => request('GET', `/v1/batches/${enc(id)}`),
  retryBatch: (id) => request('POST', `/v1/batches/${enc(id)}/retry`),
  retryFailed: (id) => request('POST', `/v1/webhooks/${enc(id)}/retry-failed`),
  enableWebhook: (id, resume) => request('POST', `/v1/webhooks/${enc(id)}/enable`, { body: resume ? { resume } : {} }),
  recoverWebhook: (id, since) => request('POST', `/v1/webhooks/${enc(id)}/recover`, { body: { since } }),
  webhookStats: (id) => request('GET', `/v1/webhooks/${enc(id)}/stats`),
  findContact: ({ msisdn, email, cursor, limit = 20 }) =>
    request('GET', `/v1/events${query({ msisdn, email, limit, cursor })}`),
};
