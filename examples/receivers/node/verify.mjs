#!/usr/bin/env node
// A minimal growhook receiver with no dependencies (Node 18+).
//
//   WEBHOOK_SECRET=whsec_... node verify.mjs [PORT]    listens on 127.0.0.1:PORT
//   node verify.mjs --self-test                        checks the signing code, exits 0 or 1
//
// PORT comes from the first argument, else the PORT environment variable,
// else 8000. Every message is verified over its raw bytes (Standard Webhooks,
// HMAC-SHA256 with node:crypto), its events are deduplicated by id in memory,
// and it is answered 204. See docs/receiving-webhooks.md.
import crypto from 'node:crypto';
import http from 'node:http';
import process from 'node:process';
import {pathToFileURL} from 'node:url';

const TOLERANCE_S = 5 * 60;           // refuse timestamps further than this from our clock
const MAX_BODY_BYTES = 8 * 1024 * 1024;  // growhook sends about 1 MiB at most
const MAX_REMEMBERED_EVENTS = 100_000;   // a real receiver keeps these in its database

export class VerificationError extends Error {}

// The HMAC key: the base64-decoded part of the secret after "whsec_".
function secretKey(secret) {
  const encoded = secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret;
  const key = Buffer.from(encoded, 'base64');
  if (key.length === 0) throw new Error('WEBHOOK_SECRET must be whsec_ followed by base64');
  return key;
}

// "v1," + base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}")); body is the raw bytes.
export function sign(secret, id, timestamp, body) {
  const mac = crypto.createHmac('sha256', secretKey(secret));
  mac.update(`${id}.${timestamp}.`);
  mac.update(body);  // a Buffer of the bytes as received (or a string for tests)
  return `v1,${mac.digest('base64')}`;
}

// Throws VerificationError unless one "v1," signature of the header matches
// and the timestamp is within TOLERANCE_S of nowS. headers: a plain object,
// any case of names (node's req.headers are lower case already).
export function verify(secret, headers, body, nowS = Math.floor(Date.now() / 1000)) {
  const h = {};
  for (const [k, v] of Object.entries(headers)) h[k.toLowerCase()] = Array.isArray(v) ? v.join(' ') : v;
  const id = h['webhook-id'];
  const timestamp = h['webhook-timestamp'];
  const signatures = h['webhook-signature'];
  if (!id || !timestamp || !signatures) throw new VerificationError('missing webhook-id, webhook-timestamp or webhook-signature');
  if (!/^[0-9]{1,12}$/.test(timestamp)) throw new VerificationError('webhook-timestamp is not Unix seconds');
  const ts = Number(timestamp);
  if (nowS - ts > TOLERANCE_S) throw new VerificationError('webhook-timestamp is too old');
  if (ts - nowS > TOLERANCE_S) throw new VerificationError('webhook-timestamp is in the future');
  const expected = Buffer.from(sign(secret, id, timestamp, body).slice(3), 'base64');
  // Several signatures, space-separated, during a secret rotation; skip
  // versions other than v1.
  for (const entry of signatures.split(' ')) {
    const comma = entry.indexOf(',');
    if (comma < 0 || entry.slice(0, comma) !== 'v1') continue;
    const given = Buffer.from(entry.slice(comma + 1), 'base64');
    if (given.length === expected.length && crypto.timingSafeEqual(given, expected)) return true;
  }
  throw new VerificationError('no matching signature');
}

// ---- The receiver ---------------------------------------------------------

function log(fields) {
  const parts = [`ts=${new Date().toISOString()}`];
  for (const [k, v] of Object.entries(fields)) parts.push(`${k}=${typeof v === 'string' && /[\s"=]/.test(v) ? JSON.stringify(v) : v}`);
  console.log(parts.join(' '));
}

// Event ids already handled, oldest first (a Map keeps insertion order).
const seen = new Map();
function remember(key) {
  seen.set(key, true);
  if (seen.size > MAX_REMEMBERED_EVENTS) seen.delete(seen.keys().next().value);
}

function handleEvent(message, event) {
  // Your work goes here. Keep it quick (growhook waits 15 s at most), or put
  // the event on your own queue and answer at once.
  log({msg: 'event', batch: message.batch_id, event: event.id, type: event.type, occurred_at: event.occurred_at,
       msisdn: event.data.msisdn, source: event.data.source ?? 'null'});
}

function answer(res, status, text) {
  res.writeHead(status, text ? {'Content-Type': 'text/plain; charset=utf-8'} : {});
  res.end(text ?? '');
}

export function createReceiver(secret) {
  return http.createServer((req, res) => {
    if (req.method !== 'POST') return answer(res, 405, 'POST only\n');
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        answer(res, 413, 'body too large\n');
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (res.writableEnded) return;
      const body = Buffer.concat(chunks);  // the raw bytes: verify these, not re-serialised JSON
      try {
        verify(secret, req.headers, body);
      } catch (e) {
        if (!(e instanceof VerificationError)) throw e;
        log({msg: 'refused', reason: e.message, webhook_id: req.headers['webhook-id'] ?? '-'});
        // A non-2xx makes growhook retry; never answer 410 here, it disables the webhook.
        return answer(res, 401, 'invalid signature\n');
      }
      let message;
      try {
        message = JSON.parse(body.toString('utf8'));
      } catch {
        return answer(res, 400, 'invalid JSON\n');
      }
      if (message.test) log({msg: 'test message', batch: message.batch_id, webhook: message.webhook_id});
      let fresh = 0;
      try {
        for (const event of message.events ?? []) {
          const key = `${message.account_id}/${event.id}`;
          if (seen.has(key)) {
            log({msg: 'duplicate event skipped', batch: message.batch_id, event: event.id});
            continue;
          }
          handleEvent(message, event);
          remember(key);  // only once handled: after a failure the retry brings the event again
          fresh++;
        }
      } catch (e) {
        log({msg: 'handling failed; growhook will retry', batch: message.batch_id, error: String(e)});
        return answer(res, 500, 'try again later\n');
      }
      log({msg: 'batch done', batch: message.batch_id, events: (message.events ?? []).length, new: fresh,
           test: Boolean(message.test)});
      answer(res, 204);
    });
  });
}

// ---- Self-test --------------------------------------------------------------

function selfTest() {
  // The Standard Webhooks test vector.
  const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
  const id = 'msg_p5jXN8AQM9LWM0D4loKWxJek';
  const ts = 1614265330;
  const body = '{"test": 2432232314}';
  const expected = 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=';
  const headers = {'Webhook-Id': id, 'Webhook-Timestamp': String(ts), 'Webhook-Signature': expected};
  const other = 'v1,' + Buffer.alloc(32, 7).toString('base64');
  const passes = (h, b, now) => { try { return verify(secret, h, b, now); } catch (e) { if (e instanceof VerificationError) return false; throw e; } };
  const checks = [
    ['signs the test vector', () => sign(secret, id, ts, body) === expected],
    ['verifies the test vector (string body)', () => passes(headers, body, ts)],
    ['verifies the test vector (raw Buffer body)', () => passes(headers, Buffer.from(body, 'utf8'), ts)],
    ['accepts a timestamp 300 s old', () => passes(headers, body, ts + 300)],
    ['refuses a timestamp 301 s old', () => !passes(headers, body, ts + 301)],
    ['refuses a timestamp 301 s ahead', () => !passes(headers, body, ts - 301)],
    ['refuses a changed body', () => !passes(headers, '{"test": 2432232315}', ts)],
    ['refuses re-serialised JSON', () => !passes(headers, JSON.stringify(JSON.parse(body)), ts)],
    ['refuses another webhook-id', () => !passes({...headers, 'Webhook-Id': 'msg_other'}, body, ts)],
    ['refuses a wrong signature', () => !passes({...headers, 'Webhook-Signature': other}, body, ts)],
    ['accepts a match among several (rotation)', () => passes({...headers, 'Webhook-Signature': `${other} ${expected}`}, body, ts)],
    ['ignores versions other than v1', () => !passes({...headers, 'Webhook-Signature': expected.replace('v1,', 'v2,')}, body, ts)],
    ['refuses missing headers', () => !passes({'webhook-id': id}, body, ts)],
  ];
  let failed = 0;
  for (const [name, check] of checks) {
    let ok = false;
    try { ok = check() === true; } catch (e) { ok = false; }
    if (!ok) failed++;
    console.log(`${ok ? 'ok    ' : 'FAILED'} ${name}`);
  }
  console.log(`self-test: ${checks.length - failed} passed, ${failed} failed`);
  return failed === 0;
}

// ---- Main -------------------------------------------------------------------

function main(argv) {
  if (argv.includes('--self-test')) process.exit(selfTest() ? 0 : 1);
  const portText = argv.find((a) => !a.startsWith('-')) ?? process.env.PORT ?? '8000';
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`verify.mjs: port '${portText}' is not a number from 0 to 65535`);
    process.exit(2);
  }
  const secret = process.env.WEBHOOK_SECRET;
  if (!secret) {
    console.error('verify.mjs: set WEBHOOK_SECRET to the webhook\'s secret (whsec_...)');
    process.exit(2);
  }
  secretKey(secret);  // fails early on a malformed secret
  const server = createReceiver(secret);
  server.listen(port, '127.0.0.1', () => {
    log({msg: 'listening', url: `http://127.0.0.1:${server.address().port}/`});
  });
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => server.close(() => process.exit(0)));
}

// Run as a program, not when imported (import {verify} from './verify.mjs').
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main(process.argv.slice(2));
