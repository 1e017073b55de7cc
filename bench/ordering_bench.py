#!/usr/bin/env python3
"""Drain of a stored backlog with ordering "contact" beside "none" (issue
15's bar: at least half the rate), not pass/fail. For each number of
contacts, --events events (about 1.5 KB each; contact i % contacts, so every
batch meets contacts the batches before it hold) wait on a disabled webhook;
it is enabled, and the time until a receiver answering in --delay-ms got
every event gives the rate. Also counts, per mode, events that arrived
before an earlier event of their contact (0 is what "contact" promises;
"none" may have some only when a batch is retried). Loopback only.

  python3 bench/ordering_bench.py [--events 30000] [--contacts 300,30000] [--delay-ms 10] [--rounds 2]
                                  [--database postgresql://127.0.0.1:PORT/NAME (dropped and made again each run)]
"""
import argparse
import base64
import http.server
import os
import subprocess
import json
import socketserver
import statistics
import threading
import time

from common import Growhook, event


def drain(a, contacts, ordering):
    lock = threading.Lock()
    got = {"n": 0, "last_seen": {}, "out_of_order": 0, "posts": 0}

    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            time.sleep(a.delay_ms / 1000)
            with lock:
                got["posts"] += 1
                for e in json.loads(body)["events"]:
                    i = int(e["id"][1:])
                    c = e["data"]["msisdn"]
                    if got["last_seen"].get(c, -1) > i:
                        got["out_of_order"] += 1
                    got["last_seen"][c] = max(i, got["last_seen"].get(c, -1))
                    got["n"] += 1
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    socketserver.ThreadingTCPServer.daemon_threads = True
    rx = socketserver.ThreadingTCPServer(("127.0.0.1", 0), H)
    threading.Thread(target=rx.serve_forever, daemon=True).start()
    if a.database:
        # A fresh database each run: what the one before left would weigh on it.
        admin, _, name = a.database.rpartition("/")
        for sql in (f"DROP DATABASE IF EXISTS {name}", f"CREATE DATABASE {name}"):
            subprocess.run(["psql", admin + "/postgres", "-qc", sql], check=True, capture_output=True)
    g = Growhook(database=a.database) if a.database else Growhook()
    try:
        account, key = g.account()
        hook = g.call("POST", "/v1/webhooks", {"name": "crm", "url": f"http://127.0.0.1:{rx.server_address[1]}/hook",
                                               "enabled": False, "ordering": ordering}, token=key)
        for start in range(0, a.events, 500):
            evs = []
            for i in range(start, min(start + 500, a.events)):
                e = event(i)
                e["id"] = f"e{i}"
                e["contact"]["msisdn"] = 5599900000000 + i % contacts
                evs.append(e)
            g.call("POST", f"/v1/accounts/{account}/events", {"events": evs})
        t0 = time.monotonic()
        g.call("POST", f"/v1/webhooks/{hook['id']}/enable", {"resume": "where_stopped"}, token=key)
        while True:
            with lock:
                n = got["n"]
            if n >= a.events or time.monotonic() - t0 > 600:
                break
            time.sleep(0.01)
        took = time.monotonic() - t0
        return a.events / took, got["out_of_order"], n, got["posts"]
    finally:
        g.stop()
        rx.shutdown()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=30000)
    ap.add_argument("--contacts", default="300,30000")
    ap.add_argument("--delay-ms", type=float, default=10)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--database", default="")
    a = ap.parse_args()
    if a.database:
        os.environ.setdefault("GROWHOOK_SECRETS_KEYS", base64.b64encode(os.urandom(32)).decode())
    print(f"drain of {a.events} stored events, receiver answering in {a.delay_ms:g} ms, "
          f"store {'postgres' if a.database else 'sqlite'}, {a.rounds} rounds (alternating)")
    for contacts in [int(c) for c in a.contacts.split(",")]:
        rates = {"none": [], "contact": []}
        disorder = {"none": 0, "contact": 0}
        posts = {"none": [], "contact": []}
        for r in range(a.rounds):
            for mode in (["none", "contact"] if r % 2 == 0 else ["contact", "none"]):
                rate, bad, n, p = drain(a, contacts, mode)
                rates[mode].append(rate)
                posts[mode].append(p)
                disorder[mode] += bad
                if n < a.events:
                    print(f"  {mode}: only {n} of {a.events} arrived")
        none, contact = statistics.median(rates["none"]), statistics.median(rates["contact"])
        print(f"{contacts:>6} contacts: none {none:8.0f} ev/s  contact {contact:8.0f} ev/s  ratio {contact / none:.2f}  "
              f"(runs: none {', '.join(f'{x:.0f}' for x in rates['none'])}; "
              f"contact {', '.join(f'{x:.0f}' for x in rates['contact'])})  "
              f"out of order: none {disorder['none']}, contact {disorder['contact']}; "
              f"requests: none {statistics.median(posts['none']):.0f}, contact {statistics.median(posts['contact']):.0f}")


if __name__ == "__main__":
    main()
