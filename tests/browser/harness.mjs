// Test harness for the page: starts the real growhook binary on a loopback
// port, a loopback receiver whose answer can be switched between 200 and 500
// and that checks Standard Webhooks signatures, and a headless Chromium.
// Everything listens on 127.0.0.1 and is stopped by stopAll().

import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import standardwebhooks from 'standardwebhooks';

const { Webhook } = standardwebhooks;

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = path.resolve(ROOT, process.env.GROWHOOK_BIN || 'build/growhook');
export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const cleanups = [];
const tmpDirs = [];

export function tempDir(prefix) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tmpDirs.push(dir);
  return dir;
}

// Polls `check` until it returns a truthy value; fails with `what` after `timeoutMs`.
export async function waitUntil(check, what, { timeoutMs = 20000, intervalMs = 100 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let lastError;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (err) { lastError = err; }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${lastError.message}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

// ---- the server -------------------------------------------------------------

// extraArgs: more `serve` flags (e.g. ['--frame-ancestors', origin]).
export async function startServer(extraArgs = []) {
  if (!fs.existsSync(BIN)) {
    throw new Error(`no growhook binary at ${BIN}: build it first (cmake --build build --target growhook) or set GROWHOOK_BIN`);
  }
  const platformToken = `pt_${crypto.randomBytes(18).toString('hex')}`;
  const dataDir = tempDir('growhook-page-data-');
  const child = spawn(BIN, ['serve', '--listen', '127.0.0.1:0', '--data-dir', dataDir,
    '--allow-targets', '127.0.0.0/8', '--retry-delays', '1s,1s,1s', ...extraArgs], {
    env: { ...process.env, GROWHOOK_PLATFORM_TOKEN: platformToken },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log = [];
  const keep = (line) => { log.push(line); if (log.length > 400) log.shift(); };
  readline.createInterface({ input: child.stderr }).on('line', keep);
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  cleanups.push(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  });
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`growhook did not say where it listens within 20 s:\n${log.join('\n')}`)), 20000);
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      keep(line);
      const m = /^growhook \S+ listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(line);
      if (m) { clearTimeout(timer); resolve(Number(m[1])); }
    });
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`growhook exited (${code ?? signal}) before listening:\n${log.join('\n')}`));
    });
  });
  const base = `http://127.0.0.1:${port}`;
  return {
    base, platformToken, log, child,
    // One JSON request; answers {status, body, text}.
    async call(method, pathname, token, body) {
      const res = await fetch(base + pathname, {
        method,
        headers: { Authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      let json = null;
      try { json = text ? JSON.parse(text) : null; } catch { json = null; }
      return { status: res.status, body: json, text, headers: res.headers };
    },
  };
}

// ---- the receiver -----------------------------------------------------------

// A loopback HTTP server that records every request with its raw body and
// answers with `status` (200 or 500, switchable at any time).
export async function startReceiver() {
  const receiver = {
    status: 200,
    messages: [],
    url: (p = '/hook') => `http://127.0.0.1:${receiver.port}${p}`,
  };
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const status = receiver.status;
      let json = null;
      try { json = JSON.parse(raw.toString('utf8')); } catch { json = null; }
      receiver.messages.push({ method: req.method, path: req.url, headers: req.headers, raw, json, answered: status, at: Date.now() });
      const body = status === 200 ? '{"received":true}' : 'receiver says no: internal error while importing the contact';
      res.writeHead(status, { 'Content-Type': status === 200 ? 'application/json' : 'text/plain' });
      res.end(body);
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.port = server.address().port;
  cleanups.push(() => new Promise((resolve) => { server.closeAllConnections?.(); server.close(() => resolve()); }));
  return receiver;
}

// Checks a received message's Standard Webhooks signature over its raw body
// with `secret`; returns the verified payload or throws.
export function verifySignature(message, secret) {
  return new Webhook(secret).verify(message.raw, {
    'webhook-id': message.headers['webhook-id'],
    'webhook-timestamp': message.headers['webhook-timestamp'],
    'webhook-signature': message.headers['webhook-signature'],
  });
}

// A loopback page that shows `src` in an iframe, as the platform's app would:
// http://localhost:PORT, another origin than growhook's http://127.0.0.1:….
// Set `host.src` before opening host.url.
export async function startFrameHost() {
  const host = { src: 'about:blank' };
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><title>Grow</title><h1>Grow · Integrations</h1>
<iframe id="growhook" title="Webhooks" src="${host.src.replace(/"/g, '&quot;')}" width="1100" height="700"></iframe>`);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  host.origin = `http://localhost:${server.address().port}`;
  host.url = `${host.origin}/`;
  cleanups.push(() => new Promise((resolve) => { server.closeAllConnections?.(); server.close(() => resolve()); }));
  return host;
}

// ---- the browser ------------------------------------------------------------

export async function startBrowser() {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: apt-get install -y chromium`);
  const context = await chromium.launchPersistentContext(tempDir('growhook-page-chromium-'), {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 800 },
    locale: 'en-US',
    timezoneId: 'UTC',
  });
  cleanups.push(() => context.close());
  context.setDefaultTimeout(15000);
  return context;
}

export async function stopAll() {
  while (cleanups.length) {
    const fn = cleanups.pop();
    try { await fn(); } catch (err) { console.error('cleanup:', err.message); }
  }
  for (const dir of tmpDirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
}
