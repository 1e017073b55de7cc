// "Settings" in the page, in Chromium against the real server: the
// account's notification_email is shown, a malformed one is explained at
// the field (the API's 400 names it) and nothing is stored, a good one is
// saved and read back after a reload, an empty one clears it.
//
// Run: node --test tests/browser/   (GROWHOOK_BIN=build/growhook by default)

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, startBrowser, stopAll, waitUntil } from './harness.mjs';

let server;
let page;
let apiKey;
const problems = [];
// The 400 of the malformed address is provoked on purpose.
const EXPECTED_HTTP_ERRORS = /Failed to load resource: the server responded with a status of 400/;

before(async () => {
  server = await startServer();
  const created = await server.call('POST', '/v1/accounts', server.platformToken, { name: 'Loja Exemplo' });
  assert.equal(created.status, 201, created.text);
  apiKey = created.body.api_key;
  const context = await startBrowser();
  page = await context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error' && !EXPECTED_HTTP_ERRORS.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  await page.goto(`${server.base}/`);
  await page.getByLabel('API key').fill(apiKey);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('link', { name: 'Settings' }).waitFor();
});

after(async () => {
  await stopAll();
});

const stored = async () => (await server.call('GET', '/v1/account', apiKey)).body.notification_email;

test('the notification email is validated at the field, saved, and cleared', async () => {
  await page.getByRole('link', { name: 'Settings' }).click();
  await page.getByRole('heading', { name: 'Settings', level: 1 }).waitFor();
  const input = page.getByLabel('Notification email');
  assert.equal(await input.inputValue(), '');

  await input.fill('not an address');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.locator('.field-error', { hasText: /@/ }).waitFor();
  assert.equal(await input.getAttribute('aria-invalid'), 'true');
  assert.equal(await stored(), null, 'nothing stored');

  await input.fill('shop@example.com');
  await page.getByRole('button', { name: 'Save' }).click();
  await waitUntil(async () => (await stored()) === 'shop@example.com', 'the address stored');
  await page.reload();
  await page.getByRole('heading', { name: 'Settings', level: 1 }).waitFor();
  await waitUntil(async () => (await page.getByLabel('Notification email').inputValue()) === 'shop@example.com',
    'the address shown after a reload');

  await page.getByLabel('Notification email').fill('');
  await page.getByRole('button', { name: 'Save' }).click();
  await waitUntil(async () => (await stored()) === null, 'the address cleared');
  assert.deepEqual(problems, []);
});
