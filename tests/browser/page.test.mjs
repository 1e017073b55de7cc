// The page, driven like a user would drive it, against the real server and a
// real receiver: sign in, Integrations › Marketing › Connect, create (with a
// validation error first), test connection (success and error), edit,
// disable/enable, secret show/rotate, failed batch → Retry → delivered,
// Retry all failed, 410 Gone → disabled with its reason, keyboard use, delete,
// 100 rows, sign out. Needs /usr/bin/chromium (or CHROMIUM_PATH) and
// `npm ci` at the repository root. Screenshots are taken only when
// GROWHOOK_SCREENSHOT_DIR names a folder: refresh the README's with
// GROWHOOK_SCREENSHOT_DIR=docs/screenshots node --test tests/browser/
// (a test run no longer rewrites the committed images).
//
// Run: node --test tests/browser/   (GROWHOOK_BIN=build/growhook by default)

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  ROOT, startServer, startReceiver, startBrowser, stopAll, tempDir, verifySignature, waitUntil,
} from './harness.mjs';

const SHOT_DIR = process.env.GROWHOOK_SCREENSHOT_DIR || null;
const SAMPLE_KEYS = ['msisdn', 'profileCreatedAt', 'source', 'source_value', 'eshop_opt_in', 'last_eshop_opt_in_date',
  'ecom_email', 'ecom_signups_count', 'ecom_device_type', 'ecom_browser_name', 'ecom_locale', 'ecom_timezone',
  'ecom_os_name', 'ecom_signup_domain', 'ecom_signup_path', 'ecom_signup_referrer_url', 'last_order_date',
  'ecom_total_order_count', 'ecom_total_order_amount', 'last_click_date'];
// Chromium logs every 4xx answer as a console error; these are the answers the
// test provokes on purpose (wrong key, invalid URL).
const EXPECTED_HTTP_ERRORS = /Failed to load resource: the server responded with a status of (400|401|422)/;

let server;
let receiver;
let context;
let page;
let apiKey;
let accountId;
const problems = []; // console errors, page errors, 5xx answers
const secrets = [];  // every signing secret the webhook had, newest last
const state = {};    // ids shared between the steps

// Saves a screenshot, without the passing toasts of earlier steps.
async function shot(name, opts = {}) {
  const dir = SHOT_DIR || tempDir('growhook-shots-');
  fs.mkdirSync(dir, { recursive: true });
  await page.evaluate(() => document.getElementById('toasts')?.replaceChildren());
  await page.screenshot({ path: path.join(dir, `${name}.png`), ...opts });
}

const account = (method, p, body) => server.call(method, p, apiKey, body);
const platform = (method, p, body) => server.call(method, p, server.platformToken, body);
const dialog = () => page.locator('dialog[open]');
const webhookRow = (name) => page.locator('tr[data-webhook-id]', { has: page.getByRole('link', { name, exact: true }) });

async function openRowMenu(name, item) {
  await page.getByRole('button', { name: `Actions for ${name}`, exact: true }).click();
  await page.getByRole('menuitem', { name: item, exact: true }).click();
}

// Every visible form control has an accessible label.
async function assertLabelled(scope) {
  const unlabelled = await scope.evaluate((root) => [...root.querySelectorAll('input, select, textarea')]
    .filter((el) => el.type !== 'hidden' && el.offsetParent !== null)
    .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby'))
    .map((el) => el.outerHTML.slice(0, 120)));
  assert.deepEqual(unlabelled, [], 'controls without a label');
}

// Received messages for one batch (webhook-id), each checked against the known secrets.
function verifiedMessages(filter) {
  return receiver.messages.filter(filter).map((m) => {
    const payload = secrets.map((s) => { try { return verifySignature(m, s); } catch { return null; } }).find(Boolean);
    assert.ok(payload, `message ${m.headers['webhook-id']} carries a valid signature`);
    return { ...m, payload };
  });
}

before(async () => {
  server = await startServer();
  receiver = await startReceiver();
  const created = await platform('POST', '/v1/accounts', { name: 'Loja Exemplo' });
  assert.equal(created.status, 201, `POST /v1/accounts: ${created.text}`);
  apiKey = created.body.api_key;
  accountId = created.body.id;
  context = await startBrowser();
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.base });
  page = await context.newPage();
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const where = m.location()?.url || '';
    if (EXPECTED_HTTP_ERRORS.test(m.text()) && where.startsWith(`${server.base}/v1/`)) return;
    problems.push(`console: ${m.text()} (${where})`);
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('response', (r) => {
    if (r.url().startsWith(server.base) && (r.status() >= 500 || (r.status() === 404 && !r.url().includes('/v1/')))) {
      problems.push(`answer ${r.status()} for ${r.request().method()} ${r.url()}`);
    }
  });
});

after(async () => {
  await stopAll();
});

test('sign-in refuses a wrong key, then lets the right one in', async () => {
  await page.goto(`${server.base}/`);
  const key = page.getByLabel('API key');
  await key.waitFor();
  await shot('sign-in');
  await key.fill('gh_wrong_key_0000');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByText('This API key is not valid').waitFor();
  assert.equal(await key.getAttribute('aria-invalid'), 'true');
  await key.fill(apiKey);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Integrations', level: 1 }).waitFor();
  await shot('integrations');
  assert.equal(await page.evaluate(() => sessionStorage.getItem('growhook.apiKey')), apiKey);
  await page.getByText('Loja Exemplo').waitFor();
});

test('Integrations › Marketing › Connect shows a friendly empty list', async () => {
  await page.getByRole('link', { name: 'Integrations' }).click();
  await page.getByRole('tab', { name: 'Marketing' }).click();
  await page.getByRole('article', { name: 'Webhook' }).getByRole('link', { name: 'Connect' }).click();
  await page.getByRole('heading', { name: 'Webhooks', level: 1 }).waitFor();
  await page.getByRole('heading', { name: 'No webhooks yet' }).waitFor();
  await shot('empty-list');
});

test('create shows the API validation error next to the URL, then saves', async () => {
  await page.getByRole('button', { name: '+ Webhook' }).first().click();
  const form = dialog();
  await form.getByLabel('Name').fill('CRM sync');
  await form.getByText('for internal use only', { exact: false }).waitFor();
  const url = form.getByLabel('Webhook URL');
  await url.fill('not a url');
  await assertLabelled(form);
  await form.getByRole('button', { name: 'Save' }).click();
  await form.locator('input[type="url"][aria-invalid="true"]').waitFor();
  const errorId = (await url.getAttribute('aria-describedby')).split(' ').find((id) => id.endsWith('-error'));
  const message = form.locator(`[id="${errorId}"]`);
  await message.waitFor();
  assert.ok((await message.textContent()).trim().length > 0, 'the URL error has a message');
  assert.equal(await form.getByLabel('Name').getAttribute('aria-invalid'), null);
  await shot('form-error');

  await url.fill(receiver.url('/crm'));
  await form.getByRole('button', { name: 'Save' }).click();
  await form.waitFor({ state: 'detached' });
  const row = webhookRow('CRM sync');
  await row.waitFor();
  await row.getByText(receiver.url('/crm')).waitFor();
  await row.getByText('Enabled').waitFor();
  await row.getByText('Never').waitFor();

  const list = await account('GET', '/v1/webhooks');
  assert.equal(list.status, 200);
  const wh = list.body.data.find((w) => w.name === 'CRM sync');
  assert.ok(wh, 'the webhook exists in the API');
  state.id = wh.id;
  const secret = await account('GET', `/v1/webhooks/${wh.id}/secret`);
  assert.equal(secret.status, 200, secret.text);
  assert.match(secret.body.secret, /^whsec_/);
  secrets.push(secret.body.secret);
});

test('the list shows every webhook with status, last delivery and failures, at 1280 and 390 px', async () => {
  const other = await account('POST', '/v1/webhooks', {
    name: 'Analytics warehouse', url: receiver.url('/analytics'), event_types: ['contact.unsubscribed'],
  });
  assert.equal(other.status, 201, other.text);
  assert.match(other.body.secret, /^whsec_/);
  state.otherId = other.body.id;
  await page.reload();
  await webhookRow('Analytics warehouse').waitFor();
  await webhookRow('CRM sync').waitFor();
  assert.equal(await page.locator('tr[data-webhook-id]').count(), 2);
  for (const header of ['Name', 'Webhook URL', 'Status', 'Last delivery', 'Failed batches']) {
    await page.getByRole('columnheader', { name: header, exact: true }).waitFor();
  }
  await shot('list');

  await page.setViewportSize({ width: 390, height: 844 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `no sideways scrolling at 390 px (overflow ${overflow} px)`);
  assert.ok(await page.getByRole('button', { name: 'Actions for CRM sync' }).isVisible());
  assert.ok(await page.getByRole('button', { name: '+ Webhook' }).isVisible());
  await shot('list-mobile', { fullPage: true });
  await page.setViewportSize({ width: 1280, height: 800 });
});

test('test connection sends the edited sample and shows the success screen', async () => {
  receiver.status = 200;
  const before = receiver.messages.length;
  await openRowMenu('CRM sync', 'Test connection');
  const d = dialog();
  await d.locator('[name="msisdn"]').waitFor();
  assert.equal(await d.locator('.data-grid [name]').count(), 20, 'one control per data-set key');
  assert.equal(await d.locator('[name="msisdn"]').getAttribute('type'), 'number');
  assert.equal(await d.locator('[name="msisdn"]').inputValue(), '5599999999999');
  assert.equal(await d.locator('[name="profileCreatedAt"]').inputValue(), '2022-11-24T09:59:41.163Z');
  assert.equal(await d.locator('select[name="source"]').inputValue(), 'form');
  assert.equal(await d.locator('select[name="eshop_opt_in"]').inputValue(), 'true');
  assert.equal(await d.locator('[name="ecom_total_order_amount"]').inputValue(), '832');
  await assertLabelled(d);
  await shot('test-form');

  await d.getByLabel('Email').fill('edited@example.com');
  await d.getByRole('button', { name: 'Edit as JSON' }).click();
  const raw = d.getByLabel('Data set as JSON');
  const json = JSON.parse(await raw.inputValue());
  assert.deepEqual(Object.keys(json).sort(), [...SAMPLE_KEYS].sort());
  assert.equal(json.ecom_email, 'edited@example.com');
  // A key left out of the JSON keeps its sample value, as the API applies
  // the data over the sample.
  const { ecom_locale: _dropped, ...withoutLocale } = json;
  await raw.fill(JSON.stringify({ ...withoutLocale, ecom_device_type: 'desktop' }, null, 2));
  await d.getByRole('button', { name: 'Edit as form' }).click();
  assert.equal(await d.locator('[name="ecom_device_type"]').inputValue(), 'desktop');
  assert.equal(await d.locator('[name="ecom_locale"]').inputValue(), 'pt-br');
  await d.getByRole('button', { name: 'Send' }).click();
  await d.getByText('Test successful').waitFor();
  await d.getByText('HTTP 200').first().waitFor();
  await shot('test-success');

  const [message] = await waitUntil(() => {
    const got = verifiedMessages((m, i) => i >= before && m.json?.test === true);
    return got.length ? got : null;
  }, 'the signed test message at the receiver');
  assert.equal(message.path, '/crm');
  assert.match(message.headers['content-type'], /^application\/json/);
  const event = message.payload.events[0];
  assert.equal(event.type, 'contact.subscribed');
  assert.equal(event.data.ecom_email, 'edited@example.com');
  assert.equal(event.data.ecom_device_type, 'desktop');
  assert.equal(event.data.msisdn, 5599999999999);
  assert.deepEqual(Object.keys(event.data).sort(), [...SAMPLE_KEYS].sort());
});

test('test connection shows the error screen when the receiver answers 500', async () => {
  receiver.status = 500;
  const d = dialog();
  await d.getByRole('button', { name: 'Send another test' }).click();
  await d.getByRole('button', { name: 'Send' }).click();
  await d.getByText('Test failed').waitFor();
  await d.getByText('HTTP 500').first().waitFor();
  await d.getByText('receiver says no').waitFor();
  await shot('test-error');
  await d.getByRole('button', { name: 'Done' }).click();
  await d.waitFor({ state: 'detached' });
  receiver.status = 200;
});

test('edit renames the webhook', async () => {
  await openRowMenu('CRM sync', 'Edit');
  const d = dialog();
  const name = d.getByLabel('Name');
  assert.equal(await name.inputValue(), 'CRM sync');
  assert.equal(await d.getByLabel('Webhook URL').inputValue(), receiver.url('/crm'));
  await name.fill('CRM sync (prod)');
  await d.getByText('More options').click();
  await d.getByLabel('Extra authentication').selectOption({ label: 'Bearer token' });
  await d.getByLabel('Token').fill('tok_crm_123');
  // The ordering choice says what it does and what it costs.
  await d.getByText('unsubscribe never arrives before its subscribe', { exact: false }).waitFor();
  await d.getByLabel('Order of events').selectOption({ label: 'In order for each contact' });
  await assertLabelled(d);
  await d.getByRole('button', { name: 'Save' }).click();
  await d.waitFor({ state: 'detached' });
  await webhookRow('CRM sync (prod)').waitFor();
  const got = await account('GET', `/v1/webhooks/${state.id}`);
  assert.equal(got.body.name, 'CRM sync (prod)');
  assert.equal(got.body.auth?.type, 'bearer');
  assert.equal(got.body.auth?.token, undefined, 'the token is never shown again');
  assert.equal(got.body.ordering, 'contact');
});

test('disable and enable show in the row', async () => {
  const row = webhookRow('CRM sync (prod)');
  await openRowMenu('CRM sync (prod)', 'Disable');
  await row.getByText('Disabled', { exact: true }).waitFor();
  assert.equal((await account('GET', `/v1/webhooks/${state.id}`)).body.enabled, false);
  await openRowMenu('CRM sync (prod)', 'Enable');
  await row.getByText('Enabled', { exact: true }).waitFor();
  assert.equal((await account('GET', `/v1/webhooks/${state.id}`)).body.enabled, true);
});

test('the secret can be shown, copied and rotated', async () => {
  await openRowMenu('CRM sync (prod)', 'Show secret');
  let d = dialog();
  const shown = d.getByLabel('Signing secret');
  await waitUntil(async () => (await shown.inputValue()) === secrets[0], 'the secret in the dialog');
  await d.getByRole('button', { name: 'Copy' }).click();
  await d.getByText('Copied to the clipboard.').waitFor();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), secrets[0]);
  await d.getByRole('button', { name: 'Done' }).click();
  await d.waitFor({ state: 'detached' });

  await openRowMenu('CRM sync (prod)', 'Rotate secret');
  d = dialog();
  await d.getByLabel('Keep the old secret signing for').selectOption({ label: '1 hour' });
  await d.getByRole('button', { name: 'Rotate secret' }).click();
  await d.getByText('The secret was rotated.').waitFor();
  const fresh = await d.getByLabel('Signing secret').inputValue();
  assert.match(fresh, /^whsec_/);
  assert.notEqual(fresh, secrets[0]);
  await d.getByText('The previous secret also signs messages until').waitFor();
  const api = await account('GET', `/v1/webhooks/${state.id}/secret`);
  assert.equal(api.body.secret, fresh);
  secrets.push(fresh);
  await d.getByRole('button', { name: 'Done' }).click();
  await d.waitFor({ state: 'detached' });
});

async function ingest(msisdn) {
  const r = await platform('POST', `/v1/accounts/${accountId}/events`, {
    type: 'contact.subscribed', occurred_at: '2024-09-26T00:08:18.161Z', contact: { msisdn },
  });
  assert.equal(r.status, 202, `POST /v1/accounts/{account}/events: ${r.text}`);
  return r.body.ids?.[0];
}

test('a failed batch appears, shows its attempts, and Retry delivers it', { timeout: 120000 }, async () => {
  receiver.status = 500;
  const eventId = await ingest(5599999999999);
  await page.getByRole('link', { name: 'CRM sync (prod)', exact: true }).click();
  await page.getByRole('heading', { name: 'CRM sync (prod)', level: 1 }).waitFor();
  const failedRow = page.locator('#batches-failed tr[data-batch-id]');
  await failedRow.first().waitFor({ timeout: 60000 });
  const batchId = await failedRow.first().getAttribute('data-batch-id');
  state.batchId = batchId;

  // 1 attempt + 3 retries, all signed with both secrets during the grace period.
  const tries = verifiedMessages((m) => m.headers['webhook-id'] === batchId);
  assert.equal(tries.length, 4, 'four attempts reached the receiver');
  for (const m of tries) {
    assert.equal(m.path, '/crm');
    assert.equal(m.payload.test, false);
    assert.equal(m.payload.batch_id, batchId);
    assert.equal(m.headers.authorization, 'Bearer tok_crm_123');
    if (eventId) assert.equal(m.payload.events[0].id, eventId);
    for (const s of secrets) verifySignature(m, s);
  }
  assert.equal(receiver.messages.filter((m) => m.path === '/analytics').length, 0, 'unsubscribed-only webhook got nothing');
  await shot('batches');

  await page.getByRole('button', { name: `View batch ${batchId}` }).click();
  const d = dialog();
  await d.getByRole('heading', { name: 'Attempts (4)' }).waitFor();
  assert.equal(await d.locator('tr[data-attempt]').count(), 4);
  await d.getByText('HTTP 500').first().waitFor();
  await d.getByText('receiver says no').first().waitFor();
  await d.getByText('5599999999999').first().waitFor();
  await shot('batch-detail');
  await d.getByRole('button', { name: 'Close' }).click();
  await d.waitFor({ state: 'detached' });

  receiver.status = 200;
  await page.getByRole('button', { name: `Retry batch ${batchId}` }).click();
  await page.locator(`#batches-delivered tr[data-batch-id="${batchId}"]`).waitFor({ timeout: 30000 });
  assert.equal(await page.locator(`#batches-failed tr[data-batch-id="${batchId}"]`).count(), 0);
  const delivered = verifiedMessages((m) => m.headers['webhook-id'] === batchId && m.answered === 200);
  assert.equal(delivered.length, 1);
  await shot('batches-delivered');
  await page.setViewportSize({ width: 390, height: 844 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `no sideways scrolling at 390 px (overflow ${overflow} px)`);
  await shot('batches-mobile', { fullPage: true });
  await page.setViewportSize({ width: 1280, height: 800 });
});

test('Retry all failed sends every failed batch again', { timeout: 120000 }, async () => {
  receiver.status = 500;
  await ingest(5511988887777);
  const failedRow = page.locator('#batches-failed tr[data-batch-id]');
  await failedRow.first().waitFor({ timeout: 60000 });
  const batchId = await failedRow.first().getAttribute('data-batch-id');
  assert.notEqual(batchId, state.batchId);
  receiver.status = 200;
  await page.getByRole('button', { name: 'Retry all failed' }).click();
  await page.getByText('Queued 1 failed batch again.').waitFor();
  await page.locator(`#batches-delivered tr[data-batch-id="${batchId}"]`).waitFor({ timeout: 30000 });
  const msg = verifiedMessages((m) => m.headers['webhook-id'] === batchId && m.answered === 200);
  assert.equal(msg.length, 1);
  assert.equal(msg[0].payload.events[0].data.msisdn, 5511988887777);
});

test('a receiver that answers 410 Gone disables the webhook, the page says why, Enable turns it back on', { timeout: 60000 }, async () => {
  receiver.status = 410;
  await ingest(5521977776666);
  const reason = page.locator('.page-head .disabled-reason');
  await reason.waitFor({ timeout: 30000 });
  assert.match(await reason.textContent(), /410/);
  await page.locator('.page-head').getByText('Disabled', { exact: true }).waitFor();
  await shot('disabled');
  receiver.status = 200;
  await page.getByRole('button', { name: 'Actions for CRM sync (prod)' }).click();
  await page.getByRole('menuitem', { name: 'Enable', exact: true }).click();
  await page.locator('.page-head').getByText('Enabled', { exact: true }).waitFor();
  await reason.waitFor({ state: 'detached' });
  const wh = (await account('GET', `/v1/webhooks/${state.id}`)).body;
  assert.equal(wh.enabled, true);
  assert.equal(wh.disabled_reason ?? null, null, 'enabling clears the reason');
});

test('keyboard: + Webhook, the dialog and the row menu work without a mouse', async () => {
  await page.getByRole('link', { name: 'Webhooks', exact: true }).click();
  await webhookRow('CRM sync (prod)').waitFor();
  await webhookRow('CRM sync (prod)').locator('td[data-label="Last delivery"] time').waitFor(); // delivered once now
  const focused = () => page.evaluate(() => document.activeElement?.getAttribute('aria-label') || document.activeElement?.textContent?.trim());
  let found = false;
  for (let i = 0; i < 40 && !found; i++) {
    await page.keyboard.press('Tab');
    found = (await focused()) === '+ Webhook';
  }
  assert.ok(found, 'Tab reaches + Webhook');
  const ring = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
  assert.notEqual(ring, 'none', 'focus is visible');
  await page.keyboard.press('Enter');
  await dialog().waitFor();
  assert.equal(await page.evaluate(() => document.activeElement?.id && document.querySelector(`label[for="${document.activeElement.id}"]`)?.textContent), 'Name');
  await page.keyboard.press('Escape');
  await dialog().waitFor({ state: 'detached' });
  assert.equal(await focused(), '+ Webhook');

  await page.getByRole('button', { name: 'Actions for CRM sync (prod)' }).focus();
  await page.keyboard.press('Enter');
  await page.getByRole('menu').waitFor();
  assert.equal(await focused(), 'Test connection');
  await page.keyboard.press('ArrowDown');
  assert.equal(await focused(), 'Batches');
  await page.keyboard.press('Escape');
  await page.getByRole('menu').waitFor({ state: 'detached' });
  assert.equal(await focused(), 'Actions for CRM sync (prod)');
});

test('delete asks first, then removes the webhook', async () => {
  await openRowMenu('CRM sync (prod)', 'Delete');
  const d = dialog();
  await d.getByRole('heading', { name: 'Delete webhook?' }).waitFor();
  await d.getByRole('button', { name: 'Delete webhook' }).click();
  await webhookRow('CRM sync (prod)').waitFor({ state: 'detached' });
  await webhookRow('Analytics warehouse').waitFor();
  assert.equal((await account('GET', `/v1/webhooks/${state.id}`)).status, 404);
});

test('a list of 100 webhooks renders at once', async () => {
  const existing = (await account('GET', '/v1/webhooks')).body.data.length;
  for (let i = existing; i < 100; i++) {
    const r = await account('POST', '/v1/webhooks', { name: `Store ${String(i).padStart(3, '0')}`, url: receiver.url(`/store/${i}`) });
    assert.equal(r.status, 201, r.text);
  }
  await page.reload();
  await page.locator('tr[data-webhook-id]').nth(99).waitFor();
  const ms = await page.evaluate(() => performance.now());
  assert.equal(await page.locator('tr[data-webhook-id]').count(), 100);
  assert.ok(ms < 5000, `100 rows shown ${Math.round(ms)} ms after the page started loading`);
});

test('sign out forgets the key', async () => {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByLabel('API key').waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.getItem('growhook.apiKey')), null);
});

test('no console errors, page errors or server errors along the way', () => {
  assert.deepEqual(problems, []);
});
