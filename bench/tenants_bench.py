#!/usr/bin/env python3
"""A healthy shop beside many others (issue 12): p99 ingest-to-receipt of
its events and growhook's CPU per delivered event, at --rate single-event
posts a second, for the node alone and beside --broken hanging receivers,
--broken refusing receivers and --quiet quiet accounts. Not pass/fail.

  python3 bench/tenants_bench.py [--rate 500] [--seconds 5] [--broken 200]
                                 [--quiet 3000] [--runs 1] [--cases alone,hanging,refusing,quiet]

  python3 bench/tenants_bench.py --store postgres [--nodes 2] [--pg-url URL] ...

On SQLite by default; --store postgres runs --nodes nodes (1 or more) on a
fresh database of a cluster (--pg-url, or one started for the run, as
nodes_bench.py does), its tables analyzed once the other accounts are made;
the CPU is growhook's (every node's added up), not the database server's.
Each case starts fresh nodes, warms the healthy webhook up with one event,
makes the other accounts (the broken ones with a webhook of one event a
batch and a backlog of 4 events, the quiet ones with one webhook delivered
once), then posts --rate single events a second for --seconds on
4 keep-alive connections (spread over the nodes) and waits for them all to
arrive (at most 30 s more). growhook runs with --request-timeout (120 s by
default), so that no slot a hanging receiver holds comes back by a timeout
while the healthy shop is measured: the hard case. The ratios are to
"alone" of the same run. Loopback only."""
import argparse
import http.client
import http.server
import json
import os
import socket
import socketserver
import threading
import time

from common import TOKEN, Growhook, event, median
from nodes_bench import Cluster

HZ = os.sysconf("SC_CLK_TCK")


class Healthy:
    """A receiver that answers 200 at once and notes when each event id came."""

    def __init__(self):
        arrivals = self.arrivals = {}
        lock = self.lock = threading.Lock()

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                now = time.monotonic()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
                with lock:
                    for e in json.loads(body)["events"]:
                        arrivals.setdefault(e["id"], now)

            def log_message(self, *a):
                pass

        socketserver.ThreadingTCPServer.daemon_threads = True
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), H)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class Hanging:
    """n listening sockets that accept and never answer."""

    def __init__(self, n):
        self.socks, self.conns = [], []
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            s.listen(64)
            self.socks.append(s)
            threading.Thread(target=self.accept, args=(s,), daemon=True).start()
        self.urls = [f"http://127.0.0.1:{s.getsockname()[1]}/hook" for s in self.socks]

    def accept(self, s):
        while True:
            try:
                self.conns.append(s.accept()[0])
            except OSError:
                return

    def stop(self):
        for s in self.socks + self.conns:
            s.close()


def refusing_urls(n, keep):
    """n loopback ports that refuse connections: bound, never listening, and
    kept bound (in `keep`) for the run, so nothing else gets them."""
    urls = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        keep.append(s)
        urls.append(f"http://127.0.0.1:{s.getsockname()[1]}/hook")
    return urls


def cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / HZ


def thread_cpu_s(pid):
    """CPU seconds by thread name (the HTTP server's threads added up)."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                name, rest = f.read().split("(", 1)[1].rsplit(")", 1)
        except OSError:
            continue
        fields = rest.split()
        out[name] = out.get(name, 0) + (int(fields[11]) + int(fields[12])) / HZ
    return out


def all_threads_cpu_s(pids):
    out = {}
    for p in pids:
        for k, v in thread_cpu_s(p).items():
            out[k] = out.get(k, 0) + v
    return out


def post_events(nodes, account, ids, rate, body_of, workers=16):
    """Posts ids at rate from `workers` connections, each on the schedule
    (so the rate holds while a post takes up to workers / rate seconds:
    on PostgreSQL a post took ~16 ms here, and 4 connections offered only
    250 a second)."""
    sent = {}
    t0 = time.monotonic()

    def worker(k):
        host, port = nodes[k % len(nodes)].base.replace("http://", "").split(":")
        c = http.client.HTTPConnection(host, int(port), timeout=60)
        for n in range(k, len(ids), workers):
            wait = t0 + n / rate - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            sent[ids[n]] = time.monotonic()
            c.request("POST", f"/v1/accounts/{account}/events", body_of(ids[n]),
                      {"Authorization": "Bearer " + TOKEN, "Content-Type": "application/json"})
            r = c.getresponse()
            r.read()
            assert r.status == 202, r.status
    ts = [threading.Thread(target=worker, args=(k,)) for k in range(workers)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    return sent


def call(conn, method, path, body, token):
    conn.request(method, path, json.dumps(body), {"Authorization": "Bearer " + token,
                                                   "Content-Type": "application/json"})
    r = conn.getresponse()
    text = r.read()
    assert 200 <= r.status < 300, (r.status, text)
    return json.loads(text) if text else None


def other_accounts(g, urls, backlog, workers=8):
    """An account a URL, with one webhook of one event a batch and backlog
    events, made by `workers` keep-alive connections at once (30,000
    accounts in about a minute rather than many)."""
    host, port = g.base.split("//")[1].split(":")

    def work(k):
        conn = http.client.HTTPConnection(host, int(port), timeout=60)
        for i in range(k, len(urls), workers):
            a = call(conn, "POST", "/v1/accounts", {"name": "bench"}, TOKEN)
            call(conn, "POST", "/v1/webhooks", {"name": "other", "url": urls[i], "batch_max_events": 1},
                 a["api_key"])
            for n in range(backlog):
                call(conn, "POST", f"/v1/accounts/{a['id']}/events", dict(event(n), id=f"o-{i}-{n}"), TOKEN)
        conn.close()

    ts = [threading.Thread(target=work, args=(k,)) for k in range(workers)]
    [t.start() for t in ts]
    [t.join() for t in ts]


def warm_up(g, account, healthy, event_id):
    g.call("POST", f"/v1/accounts/{account}/events", dict(event(0), id=event_id))
    deadline = time.monotonic() + 60
    while event_id not in healthy.arrivals:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{event_id} did not arrive within 60 s")
        time.sleep(0.01)


def run_case(name, args, cluster):
    hanging = Hanging(args.broken) if name == "hanging" else None
    quiet = None
    database = None
    flags = ("--request-timeout", args.request_timeout, "--per-webhook-in-flight", str(args.per_webhook_in_flight))
    if cluster:
        database, url = cluster.fresh_database()
        nodes = [Growhook("--node-id", f"bench-{i}", *flags, database=url) for i in range(args.nodes)]
    else:
        nodes = [Growhook(*flags)]
    g = nodes[0]
    healthy = Healthy()
    kept = []  # the refusing ports, bound until the case ends
    try:
        account, key = g.account()
        g.call("POST", "/v1/webhooks", {"name": "healthy", "url": healthy.url, "batch_max_events": 1}, token=key)
        # The healthy shop has been running: its webhook answered before the
        # others arrive (a node that never saw it answer counts it unproven).
        warm_up(g, account, healthy, "warm-up")
        if name == "hanging":
            other_accounts(g, hanging.urls, 4)
        elif name == "refusing":
            other_accounts(g, refusing_urls(args.broken, kept), 4)
        elif name == "quiet":
            quiet = Healthy()
            other_accounts(g, [quiet.url] * args.quiet, 1)
            while len(quiet.arrivals) < args.quiet:  # each delivered once, then quiet
                time.sleep(0.05)
        if cluster:
            cluster.sql("ANALYZE", url=url)  # as a running database has (autovacuum)
        time.sleep(1)  # what the setup left settles
        n = int(args.rate * args.seconds)
        ids = [f"h-{i}" for i in range(n)]
        pids = [x.proc.pid for x in nodes]
        cpu0, threads0 = sum(cpu_s(p) for p in pids), all_threads_cpu_s(pids)
        sent = post_events(nodes, account, ids, args.rate, lambda i: json.dumps(dict(event(1), id=i)))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and sum(1 for i in ids if i in healthy.arrivals) < n:
            time.sleep(0.05)
        cpu = sum(cpu_s(p) for p in pids) - cpu0
        threads = {k: v - threads0.get(k, 0) for k, v in all_threads_cpu_s(pids).items()}
        got = [healthy.arrivals[i] - sent[i] for i in ids if i in healthy.arrivals]
        got.sort()
        p99 = got[min(len(got) - 1, int(len(got) * 0.99))] * 1000 if got else float("nan")
        per = 1000 / max(1, len(got))
        print(f"  {name}: ms of CPU an event by thread: " +
              ", ".join(f"{k} {v * per:.3f}" for k, v in sorted(threads.items()) if v > 0), flush=True)
        return {"arrived": len(got), "of": n, "p99_ms": p99, "cpu_ms_per_event": cpu * per}
    finally:
        for x in nodes:
            x.stop()
        if database:
            cluster.drop(database)
        healthy.stop()
        if hanging:
            hanging.stop()
        if quiet:
            quiet.stop()
        for s in kept:
            s.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=float, default=500)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--broken", type=int, default=200)
    ap.add_argument("--quiet", type=int, default=3000)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--cases", default="alone,hanging,refusing,quiet")
    ap.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--pg-url", help="a cluster to make the databases in (default: one started for the run)")
    ap.add_argument("--nodes", type=int, default=1, help="nodes on the PostgreSQL database (SQLite: always 1)")
    ap.add_argument("--request-timeout", default="120s", help="growhook's --request-timeout")
    ap.add_argument("--per-webhook-in-flight", type=int, default=4,
                    help="growhook's --per-webhook-in-flight (on PostgreSQL, one-event batches at 500/s need more "
                         "than the default 4: docs/performance.md)")
    args = ap.parse_args()
    cases = args.cases.split(",")
    if args.store == "sqlite" and args.nodes != 1:
        ap.error("--nodes needs --store postgres (one node owns a SQLite store)")
    results = {c: [] for c in cases}
    cluster = Cluster(args.pg_url) if args.store == "postgres" else None
    if cluster:  # a bench key (the store seals webhooks' secrets with it)
        os.environ.setdefault("GROWHOOK_SECRETS_KEYS", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")
    try:
        for _ in range(args.runs):
            for c in cases:
                results[c].append(run_case(c, args, cluster))
    finally:
        if cluster:
            cluster.stop()
    alone = None
    for c in cases:
        rs = results[c]
        p99 = median([r["p99_ms"] for r in rs])
        cpu = median([r["cpu_ms_per_event"] for r in rs])
        arrived = min(r["arrived"] for r in rs)
        if c == "alone":
            alone = (p99, cpu)
        ratio = f"  p99 x{p99 / alone[0]:.2f}  cpu x{cpu / alone[1]:.2f}" if alone and c != "alone" else ""
        print(f"{c:9s} arrived {arrived}/{rs[0]['of']}  p99 {p99:8.1f} ms  cpu/event {cpu:.3f} ms{ratio}", flush=True)


if __name__ == "__main__":
    main()
