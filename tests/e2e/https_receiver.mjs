// An HTTPS webhook receiver for the end-to-end tests (tests/e2e/tls_test.cc):
// Node's own https server on 127.0.0.1 port 0 with the certificate it is
// given, verifying each message with the npm `standardwebhooks` package
// over the raw body, as a receiver developer would.
//
//   node https_receiver.mjs CERT_FILE KEY_FILE
//
// Speaks JSON lines: on stdout {"event":"listening","port":N} once, then
// {"event":"tls_connection","count":N} for each TLS connection set up and
// {"event":"request",...} for each request (with "verified" and the event
// ids); on stdin, each line is a webhook secret (whsec_...) to verify with,
// acknowledged with {"event":"secret_set"}. A message is answered 200 when
// one of the secrets verifies it, else 401. Exits on SIGTERM or when stdin
// closes (the test ended).
import fs from 'node:fs';
import https from 'node:https';
import readline from 'node:readline';
import standardwebhooks from 'standardwebhooks';

const { Webhook } = standardwebhooks;
const [certFile, keyFile] = process.argv.slice(2);
if (!certFile || !keyFile) {
  console.error('usage: node https_receiver.mjs CERT_FILE KEY_FILE');
  process.exit(2);
}

const say = (obj) => process.stdout.write(`${JSON.stringify(obj)}\n`);
const secrets = [];
let connections = 0;

function verify(headers, raw) {
  let lastError = 'no secret set';
  for (const secret of secrets) {
    try {
      new Webhook(secret).verify(raw, {
        'webhook-id': headers['webhook-id'],
        'webhook-timestamp': headers['webhook-timestamp'],
        'webhook-signature': headers['webhook-signature'],
      });
      return { verified: true };
    } catch (e) {
      lastError = e.message;
    }
  }
  return { verified: false, error: lastError };
}

const server = https.createServer({ cert: fs.readFileSync(certFile), key: fs.readFileSync(keyFile) }, (req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const raw = Buffer.concat(chunks);
    const result = verify(req.headers, raw);
    let ids = [];
    let test = null;
    try {
      const message = JSON.parse(raw.toString('utf8'));
      ids = (message.events ?? []).map((e) => e.id);
      test = message.test ?? null;
    } catch { /* reported as no events */ }
    say({ event: 'request', method: req.method, url: req.url, webhook_id: req.headers['webhook-id'] ?? null,
      servername: req.socket.servername ?? null, ...result, events: ids, test });
    res.writeHead(result.verified ? 200 : 401, { 'Content-Type': 'text/plain' });
    res.end(result.verified ? 'verified' : `not verified: ${result.error}`);
  });
});
server.on('secureConnection', () => say({ event: 'tls_connection', count: ++connections }));
server.listen(0, '127.0.0.1', () => say({ event: 'listening', port: server.address().port }));

const input = readline.createInterface({ input: process.stdin });
input.on('line', (line) => {
  if (line.trim()) secrets.push(line.trim());
  say({ event: 'secret_set' });
});
input.on('close', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
