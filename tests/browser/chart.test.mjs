// The chart of a webhook's page in Chromium against the real server: after
// real deliveries to a receiver that answers 200 and one that answers 500,
// each webhook's chart shows its delivered batches and events and its
// failed attempts and failed batches (the numbers of its batch list), in
// text beside the bars and in the SVG's accessible name; the toggle switches
// 24 hours of hours to 7 days of days; the embedded page (portal link,
// ?embed=1, in an iframe of the platform's origin) shows it too.
//
// Run: node --test tests/browser/   (GROWHOOK_BIN=build/growhook by default)

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startBrowser, startFrameHost, startReceiver, startServer, stopAll, waitUntil } from './harness.mjs';

let server;
let host;
let context;
let accountId;
let apiKey;
const hooks = {};     // name → id
const expected = {};  // name → totals from the batch list
const problems = [];

const account = (method, p, body) => server.call(method, p, apiKey, body);

// What the webhook's batches say the chart must show.
async function totalsFromBatches(id) {
  const r = await account('GET', `/v1/webhooks/${id}/batches?limit=200`);
  const t = { batches_delivered: 0, events_delivered: 0, attempts_failed: 0, batches_failed: 0 };
  for (const b of r.body.data) {
    if (b.state === 'delivered') { t.batches_delivered += 1; t.events_delivered += b.event_count; }
    if (b.state === 'failed') t.batches_failed += 1;
    t.attempts_failed += b.attempts.filter((a) => a.error).length;
  }
  return t;
}

// The totals the chart shows in `root` (a page or a frame).
async function shownTotals(root) {
  const out = {};
  for (const k of ['batches_delivered', 'events_delivered', 'attempts_failed', 'batches_failed']) {
    out[k] = Number(await root.locator(`.activity-legend [data-total="${k}"]`).innerText());
  }
  return out;
}

// The titles of the buckets whose bar of class `bar` has a height.
async function drawnBuckets(svg, bar) {
  return svg.locator('g.bucket').evaluateAll((groups, cls) => groups
    .filter((g) => Number(g.querySelector(`rect.${cls}`).getAttribute('height')) > 0)
    .map((g) => g.querySelector('title').textContent), bar);
}

async function waitForTotals(root, want, what) {
  await waitUntil(async () => JSON.stringify(await shownTotals(root)) === JSON.stringify(want),
    `${what}: the chart shows ${JSON.stringify(want)}`, { timeoutMs: 30000 });
}

before(async () => {
  host = await startFrameHost();
  server = await startServer(['--frame-ancestors', host.origin]);
  const crm = await startReceiver();
  const broken = await startReceiver();
  broken.status = 500;
  const created = await server.call('POST', '/v1/accounts', server.platformToken, { name: 'Loja Exemplo' });
  assert.equal(created.status, 201, created.text);
  accountId = created.body.id;
  apiKey = created.body.api_key;
  for (const [name, url] of [['CRM', crm.url()], ['Broken sheet', broken.url()]]) {
    const w = await account('POST', '/v1/webhooks', { name, url });
    assert.equal(w.status, 201, w.text);
    hooks[name] = w.body.id;
  }
  const events = [1, 2, 3].map((i) => ({ id: `e-${i}`, type: 'contact.subscribed', occurred_at: '2024-09-26T00:08:18.161Z',
    contact: { msisdn: 4915112345670 + i } }));
  const r = await server.call('POST', `/v1/accounts/${accountId}/events`, server.platformToken, { events });
  assert.equal(r.status, 202, r.text);
  // Every batch has ended: delivered at the CRM, failed (four attempts, 1 s
  // apart) at the broken one.
  await waitUntil(async () => {
    const [ok, bad] = await Promise.all([totalsFromBatches(hooks.CRM), totalsFromBatches(hooks['Broken sheet'])]);
    const pending = await account('GET', `/v1/webhooks/${hooks['Broken sheet']}/batches?state=pending`);
    return ok.events_delivered === 3 && bad.batches_failed > 0 && pending.body.data.length === 0;
  }, 'every batch delivered or failed', { timeoutMs: 40000 });
  for (const name of Object.keys(hooks)) expected[name] = await totalsFromBatches(hooks[name]);
  context = await startBrowser();
  context.on('page', (p) => {
    p.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    p.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  });
});

after(async () => {
  await stopAll();
});

test("each webhook's chart shows its deliveries and failures, in text too, per hour and per day", async () => {
  const page = await context.newPage();
  await page.goto(`${server.base}/`);
  await page.getByLabel('API key').fill(apiKey);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('link', { name: 'Find a contact' }).waitFor();

  await page.goto(`${server.base}/#/webhooks/${hooks.CRM}`);
  await page.getByRole('heading', { name: 'Deliveries and failures' }).waitFor();
  await waitForTotals(page, expected.CRM, 'CRM');
  assert.equal(expected.CRM.events_delivered, 3);
  assert.equal(expected.CRM.attempts_failed, 0);
  const chart = page.locator('.activity-chart svg[role="img"]');
  assert.equal(await chart.locator('g.bucket').count(), 24, 'one group of bars an hour');
  const name = await chart.evaluate((svg) => svg.getAttribute('aria-labelledby').split(' ')
    .map((id) => document.getElementById(id).textContent).join(' '));
  assert.match(name, /last 24 hours/);
  assert.match(name, /\(3 events\), 0 failed attempts, 0 batches ended failed/);
  // The hour's bar is drawn (this hour's, or the one before when the run
  // crossed an hour); its title says what it counts.
  const drawn = await drawnBuckets(chart, 'bar-delivered');
  assert.equal(drawn.length, 1, JSON.stringify(drawn));
  assert.match(drawn[0], /UTC: \d+ batch(es)? delivered \(3 events\)/);

  await page.getByRole('group', { name: 'Chart period' }).getByRole('button', { name: '7 days' }).click();
  await waitUntil(async () => (await chart.locator('g.bucket').count()) === 7, 'one group of bars a day');
  assert.equal(await page.getByRole('button', { name: '7 days' }).getAttribute('aria-pressed'), 'true');
  assert.match(await chart.locator('title').first().textContent(), /last 7 days/);
  await page.locator('.activity-caption', { hasText: 'Last 7 days, per day (UTC)' }).waitFor();
  assert.deepEqual(await shownTotals(page), expected.CRM);

  await page.goto(`${server.base}/#/webhooks/${hooks['Broken sheet']}`);
  await page.getByRole('heading', { name: 'Broken sheet', level: 1 }).waitFor();
  await waitForTotals(page, expected['Broken sheet'], 'Broken sheet');
  assert.equal(expected['Broken sheet'].batches_delivered, 0);
  assert.equal(expected['Broken sheet'].attempts_failed, 4 * expected['Broken sheet'].batches_failed);
  const failedBars = await drawnBuckets(page.locator('.activity-chart svg'), 'bar-failed');
  assert.ok(failedBars.length >= 1, 'the failed attempts are drawn');
  assert.match(failedBars.join(' '), /failed attempts?/);
  await page.close();
});

test('the embedded page (portal link, ?embed=1, in an iframe) shows the chart, readable at the frame width', async () => {
  const minted = await server.call('POST', `/v1/accounts/${accountId}/portal-sessions`, server.platformToken, { embed: true });
  assert.equal(minted.status, 201, minted.text);
  host.src = minted.body.url;
  const page = await context.newPage();
  await page.goto(host.url);
  const frame = page.frameLocator('#growhook');
  await frame.getByRole('link', { name: 'Broken sheet', exact: true }).click();
  await frame.getByRole('heading', { name: 'Deliveries and failures' }).waitFor();
  await waitForTotals(frame, expected['Broken sheet'], 'embedded');
  const box = await frame.locator('.activity-chart svg').boundingBox();
  assert.ok(box.width > 600 && box.height > 100, `the chart is ${box.width}x${box.height} px in the frame`);
  const toggle = frame.getByRole('group', { name: 'Chart period' });
  await toggle.getByRole('button', { name: '7 days' }).click();
  assert.equal(await toggle.getByRole('button', { name: '7 days' }).getAttribute('aria-pressed'), 'true');
  assert.equal(await frame.locator('.activity-chart g.bucket').count(), 7);
  await page.close();
  assert.deepEqual(problems, []);
});
