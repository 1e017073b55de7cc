#!/usr/bin/env python3
"""Ingest throughput and acknowledgement latency against a running growhook,
next to the raw SQLite limit measured in the same run.

  python3 bench/ingest_bench.py [--seconds 10] [--runs 3]

Modes: bulk requests of 100 events (16 connections) and single-event requests
(64 connections), with 1 and 10 webhooks subscribed. growhook runs with
--role api, so that delivery does not compete for the two cores: this
measures ingestion alone (delivery has its own benchmark)."""
import argparse
import os
import subprocess
import tempfile

from common import ROOT, Growhook, median, write_bodies, wrk


def raw_sqlite(seconds, event_file):
    out = subprocess.run([os.path.join(ROOT, "build", "sqlite_raw"), tempfile.mkdtemp(prefix="gh-raw-"),
                          str(seconds), event_file], capture_output=True, text=True, check=True).stdout
    return float(out.split()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--modes", default="bulk100,single", help="which of bulk100,single to run")
    ap.add_argument("--fanouts", default="1,10", help="webhooks an account has, e.g. 1,10")
    args = ap.parse_args()
    modes = args.modes.split(",")
    tmp = tempfile.mkdtemp(prefix="gh-bench-")
    single, bulk = write_bodies(tmp)
    print(f"event size: {os.path.getsize(single)} bytes; bulk body: {os.path.getsize(bulk)} bytes")

    raws = [raw_sqlite(args.seconds / 2, single) for _ in range(args.runs)]
    raw = median(raws)
    print(f"raw SQLite (1000-row transactions, synchronous=FULL): median {raw:,.0f} rows/s  runs={[round(r) for r in raws]}")

    results = {}
    for fanout in (int(f) for f in args.fanouts.split(",")):
        for mode, body, conns, per in (("bulk100", bulk, 16, 100), ("single", single, 64, 1)):
            if mode not in modes:
                continue
            runs = []
            for _ in range(args.runs):
                g = Growhook("--role", "api")
                try:
                    acc, key = g.account()
                    for i in range(fanout):
                        g.call("POST", "/v1/webhooks", {"name": f"w{i}", "url": f"https://example.com/h{i}"}, token=key)
                    rps, p50, p99, bad, errs = wrk(f"{g.base}/v1/accounts/{acc}/events", body, "bench-platform-token-0123456789", conns, args.seconds)
                    if bad:
                        print(f"  warning: {bad} non-2xx answers {errs}")
                    stored = g.metrics().get("growhook_events_ingested_total", 0)
                    runs.append((rps * per, p50, p99, stored))
                finally:
                    g.stop()
            eps = median([r[0] for r in runs])
            p50 = median([r[1] for r in runs])
            p99 = median([r[2] for r in runs])
            results[(fanout, mode)] = eps
            ratio = eps / raw
            print(f"fan-out {fanout:2d} {mode:8s}: median {eps:,.0f} events/s  ack p50 {p50:.2f} ms  p99 {p99:.2f} ms  "
                  f"ratio to raw SQLite {ratio:.2f}  runs={[round(r[0]) for r in runs]}")
    if (10, "bulk100") in results and (1, "bulk100") in results:
        print(f"fan-out 10 vs 1 (bulk): {results[(10, 'bulk100')] / results[(1, 'bulk100')]:.2f}")


if __name__ == "__main__":
    main()
