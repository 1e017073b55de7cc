#!/usr/bin/env python3
"""What a backup of the embedded store costs a node that takes in events,
for the ways of copying a live SQLite file (bench/backup_methods.cc) and for
`growhook backup` itself, next to the same load without a backup.

  python3 bench/backup_bench.py [--events 300000] [--rate 200] [--runs 3]

growhook runs with --role api and one webhook subscribed (events stay
pending); the store is first filled with --events events of ~1.5 KB. Each
run offers --rate one-event requests a second (paced, 4 keep-alive
connections) while one backup runs, 2 s into the run; the latencies of the
requests sent while the copy ran are compared with those of a run of the
same length without a backup. Ways are taken round robin, so that the
store's slow growth weighs on all of them alike; medians over the runs."""
import argparse
import http.client
import json
import os
import re
import subprocess
import tempfile
import threading
import time

from common import BIN, BUILD, TOKEN, Growhook, event, median, post_backlog


def paced_load(base, account, body, rate, stop, samples):
    """Posts one-event requests at `rate` a second on 4 keep-alive
    connections until stop is set; appends (sent_at, latency_s, status)."""
    host, port = base.replace("http://", "").split(":")
    per_thread = rate / 4
    t0 = time.monotonic()

    def worker(k):
        c = http.client.HTTPConnection(host, int(port), timeout=120)
        n = 0
        while not stop.is_set():
            wait = t0 + (n + k / 4) / per_thread - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            sent = time.monotonic()
            c.request("POST", f"/v1/accounts/{account}/events", body,
                      {"Authorization": "Bearer " + TOKEN, "Content-Type": "application/json"})
            r = c.getresponse()
            r.read()
            samples.append((sent, time.monotonic() - sent, r.status))
            n += 1
    ts = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    [t.start() for t in ts]
    return ts


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))] * 1000 if xs else float("nan")


def run(g, account, body, rate, backup, idle_s):
    """The latencies of the requests sent while the backup ran (or during
    idle_s without one), the requests answered per second then, non-2xx
    answers, the backup's output and the -wal's size after it."""
    samples, stop = [], threading.Event()
    ts = paced_load(g.base, account, body, rate, stop, samples)
    time.sleep(2)
    began = time.monotonic()
    out = ""
    if backup:
        p = subprocess.run(backup, capture_output=True, text=True)
        out = (p.stdout + p.stderr).strip()
    else:
        time.sleep(idle_s)
    ended = time.monotonic()
    stop.set()
    [t.join() for t in ts]
    window = [(lat, st) for sent, lat, st in samples if began <= sent <= ended]
    lats = [lat for lat, _ in window]
    bad = sum(1 for _, st in window if st != 202)
    wal = os.path.getsize(os.path.join(g.data_dir, "growhook.db-wal"))
    return {"p50": pct(lats, 0.5), "p99": pct(lats, 0.99), "max": pct(lats, 1.0),
            "rate": len(lats) / (ended - began), "bad": bad, "s": ended - began, "out": out, "wal": wal}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=300_000)
    ap.add_argument("--rate", type=int, default=200)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--only", default="", help="comma-separated parts of the names of the ways to run")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="gh-backup-bench-")
    body = json.dumps(event(1))
    g = Growhook("--role", "api")
    try:
        account, key = g.account()
        g.call("POST", "/v1/webhooks", {"name": "pending", "url": "http://127.0.0.1:9/never-sent"}, token=key)
        post_backlog(g, account, args.events)
        db = os.path.join(g.data_dir, "growhook.db")
        print(f"store: {os.path.getsize(db) / 1e6:,.0f} MB, {args.events:,} events; load: {args.rate} one-event "
              f"requests/s")
        dst = os.path.join(tmp, "copy.db")
        helper = os.path.join(BUILD, "backup_methods")
        ways = [
            ("no backup (10 s)", None),
            ("growhook backup", [BIN, "backup", "--data-dir", g.data_dir, "--to", dst]),
            ("backup_step(-1)", [helper, "one-step", db, dst]),
            ("VACUUM INTO", [helper, "vacuum-into", db, dst]),
            ("backup_step(100 pages), 10 ms apart, 20 s cap", [helper, "steps", db, dst, "100", "10", "20"]),
            ("the same in one held read transaction", [helper, "held-steps", db, dst, "100", "10"]),
        ]
        if args.only:
            ways = [w for w in ways if w[1] is None or any(p in w[0] for p in args.only.split(","))]
        results = {name: [] for name, _ in ways}
        for _ in range(args.runs):
            for name, cmd in ways:
                results[name].append(run(g, account, body, args.rate, cmd, 10))
        for name, _ in ways:
            rows = results[name]
            m = {k: median([r[k] for r in rows]) for k in ("p50", "p99", "max", "rate", "s", "wal")}
            print(f"{name:46s} {m['s']:5.1f} s  acks {m['rate']:5.0f}/s  p50 {m['p50']:6.1f}  p99 {m['p99']:7.1f}"
                  f"  max {m['max']:7.1f} ms  non-2xx {sum(r['bad'] for r in rows)}  -wal {m['wal'] / 1e6:5.0f} MB")
            for r in rows:
                if r["out"]:
                    print("    " + " | ".join(line.strip() for line in r["out"].splitlines()))
    finally:
        g.stop()
        subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    main()
