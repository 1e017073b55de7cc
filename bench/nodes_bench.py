#!/usr/bin/env python3
"""Several growhook nodes on one PostgreSQL, next to one node on SQLite, all
on this machine and on 127.0.0.1 only.

  python3 bench/nodes_bench.py [--seconds 8] [--runs 1] [--backlog 20000]
                               [--backlog-batch1 2000] [--webhooks 10] [--pg-url URL]
                               [--only ingest|delivery]

Without --pg-url, a throwaway cluster is started with
scripts/pg-test-cluster.sh (stock settings: fsync and synchronous_commit on)
and stopped at the end. Each measurement gets a fresh database.

1. Ingestion: every node runs --role api (no delivery); one wrk per node,
   the connections split between them (16 in all for bulk requests of 100
   events, 64 for single events); the events/s acknowledged are summed.
2. Delivery: a backlog is ingested through one --role api node, then N
   nodes with delivery on, started together, drain it to the benchmark
   receiver (batch 100 and batch 1; --webhooks webhooks, each getting every
   event; --per-webhook-in-flight 16, a bound over all nodes); events/s
   delivered (events x webhooks) until the receiver has them all. With one
   webhook, one node ends up doing all of its work (the bound is
   cluster-wide, and the node holding the slots claims again first).

The point of several nodes is more machines. On one machine, the nodes, the
database, wrk and the receiver share the same cores; read the figures as
"what the PostgreSQL path costs and whether adding nodes breaks anything",
not as a scaling curve."""
import argparse
import http.client
import json
import os
import subprocess
import tempfile
import threading
import time
import uuid

from common import BUILD, ROOT, TOKEN, Growhook, median, post_backlog, write_bodies, wrk

PG_BIN = "/usr/lib/postgresql/15/bin"


class Cluster:
    """The PostgreSQL cluster: given, or started for this run."""

    def __init__(self, url=None):
        self.dir = None
        if url:
            self.url = url
        else:
            self.dir = tempfile.mkdtemp(prefix="gh-nodes-pg-")
            self.url = subprocess.run([os.path.join(ROOT, "scripts", "pg-test-cluster.sh"), "start", self.dir],
                                      capture_output=True, text=True, check=True).stdout.strip()

    def sql(self, statement, url=None):
        return subprocess.run([os.path.join(PG_BIN, "psql"), url or self.url, "-v", "ON_ERROR_STOP=1", "-qAtc",
                               statement], capture_output=True, text=True, check=True).stdout.strip()

    def fresh_database(self):
        name = "gh_bench_" + uuid.uuid4().hex[:12]
        self.sql(f"CREATE DATABASE {name} TEMPLATE template0")
        base, _, query = self.url.partition("?")
        return name, base.rsplit("/", 1)[0] + "/" + name + ("?" + query if query else "")

    def drop(self, name):
        self.sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def stop(self):
        if self.dir:
            subprocess.run([os.path.join(ROOT, "scripts", "pg-test-cluster.sh"), "stop", self.dir],
                           capture_output=True)
            subprocess.run(["rm", "-rf", self.dir])


class Nodes:
    """n growhook processes on one store: SQLite (n must be 1) or a PostgreSQL URL."""

    def __init__(self, n, database, *args, pool=8):
        self.nodes = []
        for i in range(n):
            extra = ["--node-id", f"bench-{i}", "--pg-pool-size", str(pool)] if database else []
            self.nodes.append(Growhook(*extra, *args, database=database))

    def stop(self):
        for g in self.nodes:
            g.stop()


def store_label(database, n):
    return "SQLite    1 node " if not database else f"PostgreSQL {n} node{'s' if n > 1 else ' '}"


def ingest_once(n, database, body_file, per, total_conns, seconds, pool):
    nodes = Nodes(n, database, "--role", "api", pool=pool)
    try:
        account, key = nodes.nodes[0].account()
        nodes.nodes[0].call("POST", "/v1/webhooks", {"name": "w", "url": "https://example.com/h"}, token=key)
        results = [None] * n
        conns = max(1, total_conns // n)

        def run(i):
            results[i] = wrk(f"{nodes.nodes[i].base}/v1/accounts/{account}/events", body_file, TOKEN, conns,
                             seconds, threads=1)
        ts = [threading.Thread(target=run, args=(i,)) for i in range(n)]
        [t.start() for t in ts]
        [t.join() for t in ts]
        bad = sum(r[3] for r in results)
        if bad:
            print(f"    warning: {bad} non-2xx answers")
        eps = sum(r[0] for r in results) * per
        return eps, max(r[1] for r in results), max(r[2] for r in results)
    finally:
        nodes.stop()


class ReceiverProc:
    def __init__(self):
        self.proc = subprocess.Popen([os.path.join(BUILD, "receiver")], stdout=subprocess.PIPE, text=True)
        self.port = int(self.proc.stdout.readline().split()[1])
        self.url = f"http://127.0.0.1:{self.port}/hook"

    def events(self):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        c.request("GET", "/stats")
        return json.loads(c.getresponse().read())["events"]

    def stop(self):
        self.proc.kill()
        self.proc.wait()


def drain_once(n, database, batch, backlog, pool, webhooks, max_in_flight, cluster=None):
    rx = ReceiverProc()
    data_dir = None if database else tempfile.mkdtemp(prefix="gh-nodes-drain-")
    g = Growhook("--role", "api", data_dir=data_dir, database=database)
    account, key = g.account()
    for i in range(webhooks):
        g.call("POST", "/v1/webhooks", {"name": f"w{i}", "url": rx.url, "batch_max_events": batch}, token=key)
    post_backlog(g, account, backlog)
    g.proc.terminate()
    g.proc.wait()
    if database:
        # The tables went from empty to the backlog within seconds: without
        # statistics the planner takes a range of events for a few rows and
        # sorts the whole of it for every batch cut. A running database has
        # them (autovacuum analyzes within a minute); so does this one.
        cluster.sql("ANALYZE", url=database)
    nodes = [None] * n
    try:
        # All nodes start at once, so that the first does not drain it alone.
        def start_node(i):
            store = dict(database=database) if database else dict(data_dir=data_dir)
            extra = ["--node-id", f"bench-{i}", "--pg-pool-size", str(pool)] if database else []
            nodes[i] = Growhook(*extra, "--per-webhook-in-flight", "16", "--max-in-flight", str(max_in_flight),
                                **store)
        start = time.time()
        ts = [threading.Thread(target=start_node, args=(i,)) for i in range(n)]
        [t.start() for t in ts]
        [t.join() for t in ts]
        want = backlog * webhooks
        while rx.events() < want:
            if time.time() - start > 900:
                print(f"    drain timed out at {rx.events()}/{want}")
                break
            time.sleep(0.1)
        elapsed = time.time() - start
        per_node = [g.metrics().get('growhook_events_delivered_total', 0) for g in nodes]
        return want / elapsed, per_node
    finally:
        for g in nodes:
            if g:
                g.stop()
        rx.stop()
        if data_dir:
            subprocess.run(["rm", "-rf", data_dir])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=8)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--backlog", type=int, default=20_000, help="events pending, batch 100")
    ap.add_argument("--backlog-batch1", type=int, default=2_000, help="events pending, batch 1")
    ap.add_argument("--webhooks", type=int, default=10, help="webhooks of the delivery part, each gets every event")
    ap.add_argument("--max-in-flight", type=int, default=256, help="--max-in-flight of each delivering node")
    ap.add_argument("--pool", type=int, default=8, help="--pg-pool-size of each node")
    ap.add_argument("--pg-url", help="an existing cluster (default: start one with scripts/pg-test-cluster.sh)")
    ap.add_argument("--only", choices=("ingest", "delivery"), help="run one of the two parts")
    args = ap.parse_args()

    cluster = Cluster(args.pg_url)
    try:
        print(f"load average at start: {os.getloadavg()[0]:.1f} (other work on the machine skews every figure)")
        print(f"machine: {os.cpu_count()} cores; PostgreSQL {cluster.sql('SHOW server_version')}, "
              f"shared_buffers {cluster.sql('SHOW shared_buffers')}, fsync {cluster.sql('SHOW fsync')}, "
              f"synchronous_commit {cluster.sql('SHOW synchronous_commit')}; pool {args.pool} per node")
        tmp = tempfile.mkdtemp(prefix="gh-nodes-bench-")
        single, bulk = write_bodies(tmp)
        configs = [(1, None), (1, "pg"), (2, "pg"), (3, "pg")]

        print("ingestion (--role api, events/s acknowledged, summed over the nodes):")
        for mode, body, per, conns in (("bulk100", bulk, 100, 16), ("single", single, 1, 64)):
            if args.only == "delivery":
                break
            for n, kind in configs:
                runs = []
                for _ in range(args.runs):
                    name, url = cluster.fresh_database() if kind else (None, None)
                    try:
                        runs.append(ingest_once(n, url, body, per, conns, args.seconds, args.pool))
                    finally:
                        if name:
                            cluster.drop(name)
                eps = median([r[0] for r in runs])
                print(f"  {mode:8s} {store_label(kind, n)}: {eps:9,.0f} events/s  ack p50 "
                      f"{median([r[1] for r in runs]):7.2f} ms  p99 {median([r[2] for r in runs]):7.2f} ms  "
                      f"runs={[round(r[0]) for r in runs]}", flush=True)

        print(f"delivery (draining a backlog to {args.webhooks} webhook(s), events x webhooks delivered a second; "
              f"--max-in-flight {args.max_in_flight} a node, --per-webhook-in-flight 16):")
        for batch, backlog in ((100, args.backlog), (1, args.backlog_batch1)):
            if args.only == "ingest":
                break
            for n, kind in configs:
                runs = []
                for _ in range(args.runs):
                    name, url = cluster.fresh_database() if kind else (None, None)
                    try:
                        runs.append(drain_once(n, url, batch, backlog, args.pool, args.webhooks,
                                               args.max_in_flight, cluster))
                    finally:
                        if name:
                            cluster.drop(name)
                rate = median([r[0] for r in runs])
                share = "/".join(f"{x:,.0f}" for x in runs[-1][1])
                print(f"  batch {batch:3d}, {backlog:,} events x {args.webhooks}, {store_label(kind, n)}: {rate:9,.0f}/s  "
                      f"(delivered per node: {share})  runs={[round(r[0]) for r in runs]}", flush=True)
        print(f"load average at the end: {os.getloadavg()[0]:.1f}")
        subprocess.run(["rm", "-rf", tmp])
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
