// Checks received deliveries with the npm `standardwebhooks` package, the
// reference implementation receivers use (package-lock.json pins it).
//
//   node tests/e2e/verify_signatures.mjs messages.json
//
// messages.json: [{"secret", "body", "headers": {"webhook-id", "webhook-timestamp",
// "webhook-signature"}}, …]; each message must verify with its secret over
// its raw body. Prints one line a message and "standardwebhooks: N
// verified, N refused"; exits 1 when any was refused (or none was given).
import { readFileSync } from 'node:fs';
import standardwebhooks from 'standardwebhooks';

const { Webhook } = standardwebhooks;
const messages = JSON.parse(readFileSync(process.argv[2], 'utf8'));
let passed = 0;
let failed = 0;
for (const m of messages) {
  try {
    new Webhook(m.secret).verify(m.body, {
      'webhook-id': m.headers['webhook-id'],
      'webhook-timestamp': m.headers['webhook-timestamp'],
      'webhook-signature': m.headers['webhook-signature'],
    });
    passed++;
    console.log(`ok ${m.headers['webhook-id']}`);
  } catch (e) {
    failed++;
    console.log(`FAILED ${m.headers['webhook-id']}: ${e.message}`);
  }
}
console.log(`standardwebhooks: ${passed} verified, ${failed} refused`);
process.exit(failed || !messages.length ? 1 : 0);
