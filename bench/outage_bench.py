#!/usr/bin/env python3
"""A receiver down for a while (issue 13's bar), not pass/fail: it answers
500 for --down seconds while --batches batches of --size events wait
(ingested up front), then 200. Prints the POSTs it got while down, how many
batches ended failed, and how long after it came back every event had
arrived. Loopback only.

  python3 bench/outage_bench.py [--down 9] [--batches 20] [--size 10] [--retry-delays 1s,1s,1s]
"""
import argparse
import http.server
import json
import socketserver
import threading
import time

from common import TOKEN, Growhook, event


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--down", type=float, default=9)
    ap.add_argument("--batches", type=int, default=20)
    ap.add_argument("--size", type=int, default=10)
    ap.add_argument("--retry-delays", default="1s,1s,1s")
    a = ap.parse_args()

    state = {"status": 500, "down_posts": 0, "ids": set()}
    lock = threading.Lock()

    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with lock:
                status = state["status"]
                if status != 200:
                    state["down_posts"] += 1
                else:
                    for e in json.loads(body)["events"]:
                        state["ids"].add(e["id"])
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    socketserver.ThreadingTCPServer.daemon_threads = True
    rx = socketserver.ThreadingTCPServer(("127.0.0.1", 0), H)
    threading.Thread(target=rx.serve_forever, daemon=True).start()
    g = Growhook("--retry-delays", a.retry_delays)
    try:
        account, key = g.account()
        hook = g.call("POST", "/v1/webhooks", {"name": "crm", "url": f"http://127.0.0.1:{rx.server_address[1]}/hook",
                                               "batch_max_events": a.size}, token=key)
        total = a.batches * a.size
        for b in range(a.batches):
            evs = []
            for i in range(a.size):
                e = event(b * a.size + i)
                e["id"] = f"e{b * a.size + i}"
                evs.append(e)
            g.call("POST", f"/v1/accounts/{account}/events", {"events": evs})
        time.sleep(a.down)
        with lock:
            state["status"] = 200
            down_posts = state["down_posts"]
        back = time.monotonic()
        failed = lambda: g.call("GET", f"/v1/webhooks/{hook['id']}/batches?state=failed&limit=200", token=key)["data"]
        n_failed = len(failed())
        # The failed batches stay failed (retried by a person); the rest arrives by itself.
        failed_events = sum(b["event_count"] for b in failed())
        while True:
            with lock:
                got = len(state["ids"])
            if got >= total - failed_events or time.monotonic() - back > 120:
                break
            time.sleep(0.05)
        after = time.monotonic() - back
        w = g.call("GET", f"/v1/webhooks/{hook['id']}", token=key)
        print(f"down {a.down:.0f} s, {a.batches} batches of {a.size} waiting, retry delays {a.retry_delays}")
        print(f"POSTs while down {down_posts}  batches ended failed {n_failed} ({failed_events} events)  "
              f"the other {got} events arrived {after:.2f} s after it came back  health now: "
              f"{'failing' if w.get('failing_since') else 'healthy'}")
    finally:
        g.stop()
        rx.shutdown()


if __name__ == "__main__":
    main()
