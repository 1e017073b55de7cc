// Portal sessions in Chromium (docs/embedding.md): a portal URL opens the
// webhook list signed in as its account with no API key, at the top and
// inside an iframe of another origin named in --frame-ancestors; the secret
// leaves the address bar at once; an expired or used URL signs nobody in;
// "End session" ends it; a frame from an origin not named is refused by the
// browser.
//
// Run: node --test tests/browser/   (GROWHOOK_BIN=build/growhook by default)

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startBrowser, startFrameHost, startServer, stopAll, waitUntil } from './harness.mjs';

let server;
let host;      // named in --frame-ancestors
let stranger;  // not named
let context;
let accountA;
let accountB;

const pageErrors = [];
const platform = (method, p, body) => server.call(method, p, server.platformToken, body);

async function mint(accountId, body = {}) {
  const r = await platform('POST', `/v1/accounts/${accountId}/portal-sessions`, body);
  assert.equal(r.status, 201, r.text);
  return r.body.url;
}

async function newAccount(name, hookName) {
  const a = await platform('POST', '/v1/accounts', { name });
  assert.equal(a.status, 201, a.text);
  const hook = await server.call('POST', '/v1/webhooks', a.body.api_key, { name: hookName, url: 'https://example.com/hook' });
  assert.equal(hook.status, 201, hook.text);
  return a.body;
}

before(async () => {
  host = await startFrameHost();
  stranger = await startFrameHost();
  server = await startServer(['--frame-ancestors', host.origin]);
  accountA = await newAccount('Loja A', 'A-crm');
  accountB = await newAccount('Loja B', 'B-crm');
  context = await startBrowser();
  // Errors of the page's own scripts, in every tab and frame.
  context.on('page', (p) => p.on('pageerror', (err) => pageErrors.push(`${p.url()}: ${err.message}`)));
});

after(async () => {
  await stopAll();
});

test('a portal URL opens the webhook list as its account, without an API key, and drops its secret', async () => {
  const page = await context.newPage();
  const url = await mint(accountA.id);
  await page.goto(url);
  await page.getByRole('heading', { name: 'Webhooks', level: 1 }).waitFor();
  await page.getByRole('link', { name: 'A-crm', exact: true }).waitFor();
  assert.equal(await page.getByRole('link', { name: 'B-crm', exact: true }).count(), 0, "another account's webhook");
  assert.equal(await page.locator('input[name="api_key"]').count(), 0);
  assert.ok(!page.url().includes('ghpl_'), `the secret left the address bar: ${page.url()}`);
  assert.ok(page.url().endsWith('#/webhooks'), page.url());
  // The same URL again signs nobody in.
  const again = await context.newPage();
  await again.goto(url);
  await again.getByText('This link has expired or was used already').waitFor();
  assert.equal(await again.getByRole('link', { name: 'A-crm', exact: true }).count(), 0);
  await again.close();
  // End session: the token stops working.
  await page.getByRole('button', { name: 'End session' }).click();
  await page.getByText('Your session has ended').waitFor();
  await page.close();
});

test('inside an iframe of an origin named in --frame-ancestors, with ?embed=1, the page works without its header', async () => {
  host.src = await mint(accountA.id, { embed: true });
  const page = await context.newPage();
  await page.goto(host.url);
  const frame = page.frameLocator('#growhook');
  await frame.getByRole('heading', { name: 'Webhooks', level: 1 }).waitFor();
  await frame.getByRole('link', { name: 'A-crm', exact: true }).waitFor();
  assert.equal(await frame.locator('header.topbar').count(), 0, 'no growhook header when embedded');
  assert.equal(await frame.getByRole('button', { name: /Sign out|End session/ }).count(), 0, 'the host signs out');
  // Without the menu, Find a contact is reached from the list, in the frame.
  await frame.getByRole('link', { name: 'Find a contact' }).click();
  await frame.getByRole('heading', { name: 'Find a contact', level: 1 }).waitFor();
  await page.close();
});

test('an expired portal URL signs nobody in', { timeout: 60000 }, async () => {
  const r = await platform('POST', `/v1/accounts/${accountA.id}/portal-sessions`, { ttl_seconds: 10 });
  assert.equal(r.status, 201, r.text);
  // The server and this test share the machine's clock.
  const over = Date.parse(r.body.expires_at) + 1000;
  await waitUntil(() => Date.now() > over, 'the link to expire', { timeoutMs: 40000, intervalMs: 250 });
  const page = await context.newPage();
  await page.goto(r.body.url);
  await page.getByText('This link has expired or was used already').waitFor();
  assert.equal(await page.getByRole('link', { name: 'A-crm', exact: true }).count(), 0);
  assert.equal(await page.getByRole('heading', { name: 'Webhooks', level: 1 }).count(), 0);
  await page.close();
});

test('a frame from an origin not named in --frame-ancestors is refused by the browser', async () => {
  stranger.src = await mint(accountA.id, { embed: true });
  const page = await context.newPage();
  const refusals = [];
  page.on('console', (m) => { if (/violates .*"frame-ancestors /.test(m.text())) refusals.push(m.text()); });
  await page.goto(stranger.url);
  await page.getByRole('heading', { name: 'Grow · Integrations' }).waitFor();
  await waitUntil(() => refusals.length > 0, 'Chromium to refuse the frame by its CSP frame-ancestors');
  assert.ok(refusals[0].includes(host.origin), refusals[0]);
  const frame = page.frames().find((f) => f !== page.mainFrame());
  assert.ok(frame, 'the iframe');
  assert.ok(!frame.url().startsWith(server.base), `the frame shows growhook: ${frame.url()}`);
  assert.equal(await frame.locator('#app').count(), 0, 'no growhook page in the refused frame');
  await page.close();
});

test('no page errors along the way (e.g. storage denied to a third-party frame)', () => {
  assert.deepEqual(pageErrors, []);
});
