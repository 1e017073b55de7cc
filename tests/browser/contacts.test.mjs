// "Find a contact" in the page, in Chromium against the real server: a
// contact's events found by email (in another case) and by phone number,
// each with its state at a webhook that delivered it and one that failed it,
// the batch opened from there; an unknown contact and a malformed number.
//
// Run: node --test tests/browser/   (GROWHOOK_BIN=build/growhook by default)

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, startReceiver, startBrowser, stopAll, waitUntil } from './harness.mjs';

let server;
let page;
let apiKey;
const problems = [];
// The 400 of the malformed number is provoked on purpose.
const EXPECTED_HTTP_ERRORS = /Failed to load resource: the server responded with a status of 400/;

before(async () => {
  server = await startServer();
  const crm = await startReceiver();
  const broken = await startReceiver();
  broken.status = 500;
  const platform = (method, p, body) => server.call(method, p, server.platformToken, body);
  const account = (method, p, body) => server.call(method, p, apiKey, body);
  const created = await platform('POST', '/v1/accounts', { name: 'Loja Exemplo' });
  assert.equal(created.status, 201, created.text);
  apiKey = created.body.api_key;
  for (const [name, url] of [['CRM', crm.url()], ['Broken sheet', broken.url()]]) {
    const w = await account('POST', '/v1/webhooks', { name, url });
    assert.equal(w.status, 201, w.text);
  }
  const contact = { msisdn: 4915112345678, ecom_email: 'Jane.Doe@Example.com' };
  for (const [id, type] of [['sub-1', 'contact.subscribed'], ['unsub-1', 'contact.unsubscribed']]) {
    const r = await platform('POST', `/v1/accounts/${created.body.id}/events`,
      { id, type, occurred_at: '2024-09-26T00:08:18.161Z', contact });
    assert.equal(r.status, 202, r.text);
  }
  // Every attempt has ended: delivered at the CRM, failed (four attempts,
  // 1 s apart) at the broken one.
  await waitUntil(async () => {
    const r = await account('GET', '/v1/events?msisdn=4915112345678');
    return r.body?.data?.length === 2
      && r.body.data.every((e) => e.deliveries.length === 2 && e.deliveries.every((d) => d.state !== 'pending'));
  }, 'both events delivered and failed', { timeoutMs: 30000 });

  const context = await startBrowser();
  page = await context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error' && !EXPECTED_HTTP_ERRORS.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  await page.goto(`${server.base}/`);
  await page.getByLabel('API key').fill(apiKey);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('link', { name: 'Find a contact' }).waitFor();
});

after(async () => {
  await stopAll();
});

test('a contact found by email shows where each of its events went', async () => {
  await page.getByRole('link', { name: 'Find a contact' }).click();
  await page.getByRole('heading', { name: 'Find a contact', level: 1 }).waitFor();
  await page.getByLabel('Phone number or email').fill('JANE.DOE@example.COM');
  await page.getByRole('button', { name: 'Search' }).click();
  const cards = page.locator('article.contact-event');
  await waitUntil(async () => (await cards.count()) === 2, 'two event cards');
  assert.deepEqual(await cards.evaluateAll((els) => els.map((e) => e.dataset.eventId)), ['unsub-1', 'sub-1'],
    'newest first');
  for (const id of ['unsub-1', 'sub-1']) {
    const card = page.locator(`article[data-event-id="${id}"]`);
    const crmRow = card.locator('tr', { has: page.getByRole('link', { name: 'CRM', exact: true }) });
    const brokenRow = card.locator('tr', { has: page.getByRole('link', { name: 'Broken sheet', exact: true }) });
    assert.equal(await crmRow.getAttribute('data-state'), 'delivered');
    assert.match(await crmRow.innerText(), /HTTP 200/);
    assert.equal(await brokenRow.getAttribute('data-state'), 'failed');
    assert.match(await brokenRow.innerText(), /HTTP 500/);
  }
  // The failed batch opens from the contact, with its attempts.
  await page.locator('article[data-event-id="sub-1"] tr[data-state="failed"]')
    .getByRole('button', { name: /^Open batch/ }).click();
  const dialog = page.locator('dialog[open]');
  await dialog.waitFor();
  await waitUntil(async () => (await dialog.locator('tr[data-attempt]').count()) === 4, 'four attempts in the batch');
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'detached' }).catch(() => dialog.waitFor({ state: 'hidden' }));
});

test('a phone number with + and spaces finds the same contact; an unknown one finds nothing', async () => {
  await page.getByLabel('Phone number or email').fill('+49 151 12345678');
  await page.getByRole('button', { name: 'Search' }).click();
  await waitUntil(async () => (await page.locator('article.contact-event').count()) === 2, 'two event cards by phone');
  assert.match(page.url(), /#\/contacts\?q=/, 'the search is in the address, for a reload or a link');
  await page.getByLabel('Phone number or email').fill('4915100000000');
  await page.getByRole('button', { name: 'Search' }).click();
  await page.getByRole('heading', { name: 'No events for this contact' }).waitFor();
});

test('a malformed number is explained at the field', async () => {
  await page.getByLabel('Phone number or email').fill('not a number');
  await page.getByRole('button', { name: 'Search' }).click();
  await page.locator('.field-error', { hasText: /E\.164 digits/ }).waitFor();
  assert.equal(await page.getByLabel('Phone number or email').getAttribute('aria-invalid'), 'true');
  assert.deepEqual(problems, []);
});
