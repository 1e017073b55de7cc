#!/usr/bin/env python3
"""A minimal growhook receiver with the standard library only (Python 3.8+).

    WEBHOOK_SECRET=whsec_... python3 verify.py [PORT]    listens on 127.0.0.1:PORT
    python3 verify.py --self-test                        checks the signing code, exits 0 or 1

PORT comes from the first argument, else the PORT environment variable, else
8000. Every message is verified over its raw bytes (Standard Webhooks,
HMAC-SHA256 with hmac and base64), its events are deduplicated by id in
memory, and it is answered 204. See docs/receiving-webhooks.md.
"""
import base64
import binascii
import collections
import datetime
import hashlib
import hmac
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOLERANCE_S = 5 * 60              # refuse timestamps further than this from our clock
MAX_BODY_BYTES = 8 * 1024 * 1024  # growhook sends about 1 MiB at most
MAX_REMEMBERED_EVENTS = 100_000   # a real receiver keeps these in its database


class VerificationError(Exception):
    pass


def secret_key(secret):
    """The HMAC key: the base64-decoded part of the secret after "whsec_"."""
    encoded = secret[len("whsec_"):] if secret.startswith("whsec_") else secret
    try:
        key = base64.b64decode(encoded, validate=True)
    except binascii.Error:
        key = b""
    if not key:
        raise ValueError("WEBHOOK_SECRET must be whsec_ followed by base64")
    return key


def sign(secret, msg_id, timestamp, body):
    """ "v1," + base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}")); body is the raw bytes."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    signed = f"{msg_id}.{timestamp}.".encode("utf-8") + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def verify(secret, headers, body, now=None):
    """Raises VerificationError unless one "v1," signature of the header
    matches and the timestamp is within TOLERANCE_S of now.

    headers: any mapping with items() (a dict, or http.server's headers),
    names in any case. body: the raw bytes as received.
    """
    h = {k.lower(): v for k, v in headers.items()}
    msg_id = h.get("webhook-id")
    timestamp = h.get("webhook-timestamp")
    signatures = h.get("webhook-signature")
    if not (msg_id and timestamp and signatures):
        raise VerificationError("missing webhook-id, webhook-timestamp or webhook-signature")
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        raise VerificationError("webhook-timestamp is not Unix seconds")
    now = int(time.time()) if now is None else now
    if now - int(timestamp) > TOLERANCE_S:
        raise VerificationError("webhook-timestamp is too old")
    if int(timestamp) - now > TOLERANCE_S:
        raise VerificationError("webhook-timestamp is in the future")
    expected = base64.b64decode(sign(secret, msg_id, timestamp, body)[3:])
    # Several signatures, space-separated, during a secret rotation; skip
    # versions other than v1.
    for entry in signatures.split(" "):
        version, _, encoded = entry.partition(",")
        if version != "v1":
            continue
        try:
            given = base64.b64decode(encoded, validate=True)
        except binascii.Error:
            continue
        if hmac.compare_digest(given, expected):
            return True
    raise VerificationError("no matching signature")


# ---- The receiver -----------------------------------------------------------

def log(**fields):
    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    parts = [f"ts={now}"]
    for k, v in fields.items():
        v = "null" if v is None else str(v)
        if any(c in v for c in ' "='):
            v = json.dumps(v)
        parts.append(f"{k}={v}")
    print(" ".join(parts), flush=True)


class SeenEvents:
    """Event ids already handled, oldest first, bounded."""

    def __init__(self, limit=MAX_REMEMBERED_EVENTS):
        self._ids = collections.OrderedDict()
        self._limit = limit
        self._lock = threading.Lock()

    def __contains__(self, key):
        with self._lock:
            return key in self._ids

    def add(self, key):
        with self._lock:
            self._ids[key] = True
            if len(self._ids) > self._limit:
                self._ids.popitem(last=False)


def handle_event(message, event):
    # Your work goes here. Keep it quick (growhook waits 15 s at most), or put
    # the event on your own queue and answer at once.
    data = event["data"]
    log(msg="event", batch=message["batch_id"], event=event["id"], type=event["type"],
        occurred_at=event["occurred_at"], msisdn=data["msisdn"], source=data["source"])


def make_handler(secret, seen):
    class Handler(BaseHTTPRequestHandler):
        server_version = "growhook-example-receiver"

        def answer(self, status, text=""):
            payload = text.encode("utf-8")
            self.send_response(status)
            if payload:
                self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self):
            self.answer(405, "POST only\n")

        do_PUT = do_DELETE = do_PATCH = do_GET

        def do_POST(self):
            length = self.headers.get("Content-Length")
            if length is None or not length.isdigit():
                return self.answer(411, "Content-Length required\n")
            if int(length) > MAX_BODY_BYTES:
                self.close_connection = True
                return self.answer(413, "body too large\n")
            body = self.rfile.read(int(length))  # the raw bytes: verify these, not re-serialised JSON
            try:
                verify(secret, self.headers, body)
            except VerificationError as e:
                log(msg="refused", reason=str(e), webhook_id=self.headers.get("webhook-id", "-"))
                # A non-2xx makes growhook retry; never answer 410 here, it disables the webhook.
                return self.answer(401, "invalid signature\n")
            try:
                message = json.loads(body)
            except ValueError:
                return self.answer(400, "invalid JSON\n")
            if message.get("test"):
                log(msg="test message", batch=message.get("batch_id"), webhook=message.get("webhook_id"))
            events = message.get("events") or []
            fresh = 0
            try:
                for event in events:
                    key = f"{message.get('account_id')}/{event['id']}"
                    if key in seen:
                        log(msg="duplicate event skipped", batch=message.get("batch_id"), event=event["id"])
                        continue
                    handle_event(message, event)
                    seen.add(key)  # only once handled: after a failure the retry brings the event again
                    fresh += 1
            except Exception as e:  # noqa: BLE001 - an example: report and let growhook retry
                log(msg="handling failed; growhook will retry", batch=message.get("batch_id"), error=repr(e))
                return self.answer(500, "try again later\n")
            log(msg="batch done", batch=message.get("batch_id"), events=len(events), new=fresh,
                test=str(bool(message.get("test"))).lower())
            self.answer(204)

        def log_message(self, format, *args):  # noqa: A002 - the base class's name
            pass  # the lines above say what matters

    return Handler


# ---- Self-test ----------------------------------------------------------------

def self_test():
    # The Standard Webhooks test vector.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    msg_id = "msg_p5jXN8AQM9LWM0D4loKWxJek"
    ts = 1614265330
    body = b'{"test": 2432232314}'
    expected = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    headers = {"Webhook-Id": msg_id, "Webhook-Timestamp": str(ts), "Webhook-Signature": expected}
    other = "v1," + base64.b64encode(bytes([7]) * 32).decode()

    def passes(h, b, now):
        try:
            return verify(secret, h, b, now=now)
        except VerificationError:
            return False

    checks = [
        ("signs the test vector", lambda: sign(secret, msg_id, ts, body) == expected),
        ("verifies the test vector (raw bytes)", lambda: passes(headers, body, ts)),
        ("verifies the test vector (str body)", lambda: passes(headers, body.decode(), ts)),
        ("accepts a timestamp 300 s old", lambda: passes(headers, body, ts + 300)),
        ("refuses a timestamp 301 s old", lambda: not passes(headers, body, ts + 301)),
        ("refuses a timestamp 301 s ahead", lambda: not passes(headers, body, ts - 301)),
        ("refuses a changed body", lambda: not passes(headers, b'{"test": 2432232315}', ts)),
        ("refuses re-serialised JSON", lambda: not passes(headers, json.dumps(json.loads(body), separators=(",", ":")), ts)),
        ("refuses another webhook-id", lambda: not passes({**headers, "Webhook-Id": "msg_other"}, body, ts)),
        ("refuses a wrong signature", lambda: not passes({**headers, "Webhook-Signature": other}, body, ts)),
        ("accepts a match among several (rotation)",
         lambda: passes({**headers, "Webhook-Signature": f"{other} {expected}"}, body, ts)),
        ("ignores versions other than v1",
         lambda: not passes({**headers, "Webhook-Signature": expected.replace("v1,", "v2,")}, body, ts)),
        ("refuses missing headers", lambda: not passes({"webhook-id": msg_id}, body, ts)),
    ]
    failed = 0
    for name, check in checks:
        try:
            ok = check() is True
        except Exception:  # noqa: BLE001 - any exception fails the check
            ok = False
        failed += not ok
        print(f"{'ok    ' if ok else 'FAILED'} {name}")
    print(f"self-test: {len(checks) - failed} passed, {failed} failed")
    return failed == 0


# ---- Main -----------------------------------------------------------------------

def main(argv):
    if "--self-test" in argv:
        return 0 if self_test() else 1
    port_text = next((a for a in argv if not a.startswith("-")), None) or os.environ.get("PORT") or "8000"
    if not port_text.isdigit() or int(port_text) > 65535:
        print(f"verify.py: port '{port_text}' is not a number from 0 to 65535", file=sys.stderr)
        return 2
    secret = os.environ.get("WEBHOOK_SECRET")
    if not secret:
        print("verify.py: set WEBHOOK_SECRET to the webhook's secret (whsec_...)", file=sys.stderr)
        return 2
    try:
        secret_key(secret)  # fails early on a malformed secret
    except ValueError as e:
        print(f"verify.py: {e}", file=sys.stderr)
        return 2
    server = ThreadingHTTPServer(("127.0.0.1", int(port_text)), make_handler(secret, SeenEvents()))
    log(msg="listening", url=f"http://127.0.0.1:{server.server_address[1]}/")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
