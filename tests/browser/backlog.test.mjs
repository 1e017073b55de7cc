// A disabled webhook in the page, in Chromium against the real server: its
// row says how many events wait; "Enable" asks whether to send them or skip
// them, and "Send them" delivers them; "Send events again…" recovers the
// events since a time (new batches, same ids).
//
// Run: node --test tests/browser/   (GROWHOOK_BIN=build/growhook by default)

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, startReceiver, startBrowser, stopAll, waitUntil } from './harness.mjs';

let server;
let page;
let apiKey;
let crm;
let accountId;
const problems = [];

const platform = (method, p, body) => server.call(method, p, server.platformToken, body);
const account = (method, p, body) => server.call(method, p, apiKey, body);
const idsAt = (rx) => rx.messages.flatMap((m) => (m.json?.events || []).map((e) => e.id));

async function ingest(id, msisdn) {
  const r = await platform('POST', `/v1/accounts/${accountId}/events`,
    { id, type: 'contact.subscribed', occurred_at: '2024-09-26T00:08:18.161Z', contact: { msisdn } });
  assert.equal(r.status, 202, r.text);
}

before(async () => {
  server = await startServer();
  crm = await startReceiver();
  const created = await platform('POST', '/v1/accounts', { name: 'Loja Exemplo' });
  assert.equal(created.status, 201, created.text);
  apiKey = created.body.api_key;
  accountId = created.body.id;
  const w = await account('POST', '/v1/webhooks', { name: 'CRM', url: crm.url() });
  assert.equal(w.status, 201, w.text);
  assert.equal((await account('POST', `/v1/webhooks/${w.body.id}/disable`)).status, 200);
  for (let i = 1; i <= 3; ++i) await ingest(`while-off-${i}`, 4915100000000 + i);

  const context = await startBrowser();
  page = await context.newPage();
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  await page.goto(`${server.base}/`);
  await page.getByLabel('API key').fill(apiKey);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Integrations', level: 1 }).waitFor();
  await page.goto(`${server.base}/#/webhooks`);
  await page.getByRole('heading', { name: 'Webhooks', level: 1 }).waitFor();
  await page.getByRole('button', { name: 'Actions for CRM', exact: true }).waitFor();
});

after(async () => {
  await stopAll();
});

test('a disabled webhook says how many events wait, and enabling asks and sends them', async () => {
  await page.getByText('3 events wait for it to be enabled again.').waitFor();
  await page.getByRole('button', { name: 'Actions for CRM', exact: true }).click();
  await page.getByRole('menuitem', { name: 'Enable' }).click();
  const dialog = page.getByRole('dialog', { name: 'Enable webhook' });
  await dialog.waitFor();
  assert.match(await dialog.innerText(), /3 events arrived while “CRM” was disabled/);
  await dialog.getByRole('button', { name: 'Send them' }).click();
  await waitUntil(async () => ['while-off-1', 'while-off-2', 'while-off-3'].every((id) => idsAt(crm).includes(id)),
    'the events that waited delivered');
  await page.getByText('Enabled', { exact: true }).waitFor();
});

test('"Send events again…" sends every event since a time again with the same ids', async () => {
  await page.getByRole('button', { name: 'Actions for CRM', exact: true }).click();
  await page.getByRole('menuitem', { name: 'Send events again…' }).click();
  const dialog = page.getByRole('dialog', { name: 'Send events again' });
  await dialog.waitFor();
  await dialog.getByRole('button', { name: 'Send again' }).click();
  await page.getByText('3 events will be sent to “CRM” again.').waitFor();
  await waitUntil(async () => idsAt(crm).filter((id) => id === 'while-off-2').length === 2, 'sent again');
  assert.deepEqual(problems, []);
});
