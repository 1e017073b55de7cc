#!/usr/bin/env python3
"""Delivery benchmarks, all on 127.0.0.1:

1. the raw POST rate to the benchmark receiver (wrk, one-event messages):
   the baseline of the same run;
2. draining a stored backlog: batch size 1 and 100, fan-out 1 and 10
   (events are ingested with --role api, then growhook restarts with
   delivery on and the time to drain is measured), with peak RSS;
3. ingest-to-receipt latency at 1,000 events/s offered (p50/p99), measured
   by the receiver from the send time the client writes into msisdn;
4. HTTPS: the raw libcurl POST rate over TLS to the receiver in its --tls
   mode, and draining batch 1 and batch 100 over HTTPS (--tls-ca-file with
   the receiver's throwaway CA), with the ratios and the TLS handshakes per
   1,000 batches (the receiver counts them; connections are kept alive).

  python3 bench/delivery_bench.py [--backlog 1000000] [--backlog-batch1 100000] [--only https]"""
import argparse
import http.client
import json
import os
import ssl
import subprocess
import tempfile
import threading
import time

from common import ROOT, TOKEN, Growhook, event, median, post_backlog, wrk


class ReceiverProc:
    """The benchmark receiver; with tls, over HTTPS with a throwaway CA
    (self.ca_file)."""

    def __init__(self, base_us=0, tls=False):
        args = [os.path.join(ROOT, "build", "receiver"), str(base_us)]
        self.ca_file = None
        if tls:
            folder = tempfile.mkdtemp(prefix="gh-tls-")
            args += ["--tls", folder]
            self.ca_file = os.path.join(folder, "ca.pem")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
        self.port = int(self.proc.stdout.readline().split()[1])
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}/hook"
        self.conn = None
        self.stats_handshakes = 0  # the TLS handshakes of our own /stats connections

    def stats(self):
        for _ in range(2):
            if self.conn is None:
                if self.ca_file:
                    ctx = ssl.create_default_context(cafile=self.ca_file)
                    self.conn = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=10, context=ctx)
                    self.stats_handshakes += 1
                else:
                    self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            try:
                self.conn.request("GET", "/stats")
                s = json.loads(self.conn.getresponse().read())
                s["handshakes"] -= self.stats_handshakes
                return s
            except (OSError, http.client.HTTPException):
                self.conn = None
        raise RuntimeError("receiver /stats failed")

    def stop(self):
        self.proc.kill()
        self.proc.wait()


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0


def thread_cpu_s(pid):
    """CPU seconds (user + system) of each thread of pid, by thread name."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                st = f.read()
        except OSError:
            continue
        name = st[st.index("(") + 1:st.rindex(")")]
        fields = st[st.rindex(")") + 2:].split()
        out[name] = out.get(name, 0) + (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return out


def drain(batch, fanout, n, extra=(), tls=False):
    rx = ReceiverProc(tls=tls)
    if tls:
        extra = (*extra, "--tls-ca-file", rx.ca_file)
    data_dir = tempfile.mkdtemp(prefix="gh-drain-")
    g = Growhook("--role", "api", data_dir=data_dir)
    account, key = g.account()
    for i in range(fanout):
        g.call("POST", "/v1/webhooks", {"name": f"w{i}", "url": rx.url, "batch_max_events": batch}, token=key)
    t0 = time.time()
    post_backlog(g, account, n)
    ingest_s = time.time() - t0
    g.proc.terminate()
    g.proc.wait()
    start = time.time()
    g = Growhook("--max-in-flight", "256", *extra, data_dir=data_dir)
    peak = 0.0
    want = n * fanout
    while True:
        peak = max(peak, rss_mib(g.proc.pid))
        got = rx.stats()["events"]
        if got >= want:
            break
        if time.time() - start > 900:
            print(f"  drain timed out at {got}/{want}")
            break
        time.sleep(0.2)
    elapsed = time.time() - start
    stats = rx.stats()
    # CPU a delivered event, by thread, and the receiver's.
    cpu = {k: v * 1e6 / want for k, v in thread_cpu_s(g.proc.pid).items() if v * 1e6 / want >= 0.5}
    cpu["receiver"] = sum(thread_cpu_s(rx.proc.pid).values()) * 1e6 / want
    g.stop()
    rx.stop()
    # The delivery rate: events over the time they were arriving (from the
    # first request to the last), like the raw rate, which is measured with
    # the client already running. The wall time also holds growhook's start.
    # (From the receiver's clock, not the 0.2 s poll above.)
    span_s = (stats["last_us"] - stats["first_us"]) / 1e6
    rate = (stats["events"] - stats["first_events"]) / span_s if span_s > 0 else want / elapsed
    wall_s = stats["last_us"] / 1e6 - start if stats["last_us"] else elapsed
    handshakes_per_1000 = stats["handshakes"] * 1000 / stats["requests"] if stats["requests"] else 0
    return rate, peak, stats["requests"], ingest_s, want / wall_s, cpu, handshakes_per_1000


def latency(rate, seconds):
    base_us = int(time.time() * 1e6)
    rx = ReceiverProc(base_us)
    g = Growhook()
    account, key = g.account()
    g.call("POST", "/v1/webhooks", {"name": "lat", "url": rx.url, "batch_max_events": 100}, token=key)
    host, port = g.base.replace("http://", "").split(":")
    threads = 8
    per_thread = rate / threads
    stop_at = time.time() + seconds

    def worker():
        c = http.client.HTTPConnection(host, int(port), timeout=30)
        nxt = time.time()
        while time.time() < stop_at:
            nxt += 1 / per_thread
            e = event(0)
            e["contact"]["msisdn"] = int(time.time() * 1e6) - base_us
            c.request("POST", f"/v1/accounts/{account}/events", json.dumps(e),
                      {"Authorization": "Bearer " + TOKEN, "Content-Type": "application/json"})
            r = c.getresponse()
            r.read()
            delay = nxt - time.time()
            if delay > 0:
                time.sleep(delay)
    ts = [threading.Thread(target=worker) for _ in range(threads)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    time.sleep(1)
    s = rx.stats()
    g.stop()
    rx.stop()
    return s["events"] / seconds, s["p50_ms"], s["p99_ms"], s["max_ms"]


def raw_curl(rx, msg):
    """Raw libcurl posts/s (64 in flight, 5 s) to rx, and its handshakes."""
    before = rx.stats()["handshakes"]
    cmd = [os.path.join(ROOT, "build", "curl_raw"), rx.url, msg, "64", "5"] + ([rx.ca_file] if rx.ca_file else [])
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return float(out.split()[-1]), rx.stats()["handshakes"] - before


def https(args, msg):
    """4. HTTPS: per run, raw libcurl over TLS, then the same drain over HTTP
    and over HTTPS (the ratios are of one run each, on a shared machine)."""
    for batch, n in ((1, args.backlog_batch1), (100, args.https_backlog)):
        raws, plains, tlss, walls, per1000, batches = [], [], [], [], [], 0
        for _ in range(args.runs):
            rx = ReceiverProc(tls=True)
            raws.append(raw_curl(rx, msg)[0])
            rx.stop()
            plain = drain(batch, 1, n, ("--per-webhook-in-flight", "64"))
            plains.append(plain[0])
            rate, peak, reqs, ingest_s, wall, cpu, hs = drain(batch, 1, n, ("--per-webhook-in-flight", "64"), True)
            tlss.append(rate)
            walls.append(wall)
            per1000.append(hs)
            batches = reqs
        r = median(tlss)
        line = (f"HTTPS drain batch {batch:3d}, {n:,} events: median {r:,.0f} events/s "
                f"(HTTP {median(plains):,.0f}/s, raw libcurl over HTTPS {median(raws):,.0f} posts/s), "
                f"HTTPS/HTTP {median([t / p for t, p in zip(tlss, plains)]):.2f}")
        if batch == 1:
            line += f", to raw libcurl over HTTPS {median([t / w for t, w in zip(tlss, raws)]):.2f}"
        print(line + f"; {median(per1000):.2f} TLS handshakes per 1,000 batches "
              f"({median(per1000) * batches / 1000:.0f} for {batches:,} batches, 64 in flight) "
              f"runs: https={[round(x) for x in tlss]} http={[round(x) for x in plains]} raw={[round(x) for x in raws]}")
        # The rate above runs from the first request to the last; this one
        # from growhook's start (a short drain's first request may go out
        # alone, before the rest: fair capacity's slow start).
        print(f"  HTTPS drain batch {batch:3d} from growhook's start to the last event: median "
              f"{median(walls):,.0f} events/s, runs {[round(x) for x in walls]}")
        # CPU is steadier than rates on a shared machine: what TLS adds to each thread, last run.
        print("  CPU µs an event, last run, HTTP -> HTTPS: " + ", ".join(
            f"{k} {plain[5].get(k, 0):.1f} -> {v:.1f}" for k, v in sorted(cpu.items(), key=lambda x: -x[1])))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--backlog", type=int, default=1_000_000)
    ap.add_argument("--backlog-batch1", type=int, default=100_000)
    ap.add_argument("--https-backlog", type=int, default=300_000, help="events of the HTTPS batch-100 drain")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--only", choices=["https"], help="run only this section")
    args = ap.parse_args()

    tmp = tempfile.mkdtemp()
    msg = os.path.join(tmp, "msg.json")
    with open(msg, "w") as f:
        json.dump({"batch_id": "bat_x", "webhook_id": "wh_x", "account_id": "acc_x", "test": False,
                   "events": [{"id": "evt_x", "type": "contact.subscribed", "occurred_at": "2024-09-26T00:08:18.161Z",
                               "data": event(1)["contact"]}]}, f)
    if args.only == "https":
        return https(args, msg)

    # 1. Baseline: raw POST rate of one-event messages to the same receiver.
    raws, wrks = [], []
    for _ in range(args.runs):
        rx = ReceiverProc()
        raws.append(raw_curl(rx, msg)[0])
        wrks.append(wrk(rx.url, msg, "x", 64, 5, threads=1)[0])
        rx.stop()
    raw = median(raws)
    print(f"raw POST rate, libcurl multi, 64 in flight, 1-event messages: median {raw:,.0f}/s runs={[round(r) for r in raws]}")
    print(f"raw POST rate, wrk, 64 connections (for reference): median {median(wrks):,.0f}/s runs={[round(r) for r in wrks]}")

    # 2. Draining a backlog.
    for batch, fanout, n in ((1, 1, args.backlog_batch1), (100, 1, args.backlog), (100, 10, args.backlog // 10)):
        rates, walls, peaks = [], [], []
        for _ in range(args.runs if n <= 200_000 else 1):
            # One webhook: as many requests in flight to it as wrk had connections.
            extra = ("--per-webhook-in-flight", "64") if fanout == 1 else ()
            rate, peak, reqs, ingest_s, wall, cpu, _ = drain(batch, fanout, n, extra)
            rates.append(rate)
            walls.append(wall)
            peaks.append(peak)
        r = median(rates)
        line = (f"drain batch {batch:3d} fan-out {fanout:2d}, {n:,} events pending: median {r:,.0f} events/s delivered "
                f"({median(walls):,.0f}/s counting growhook's start), "
                f"peak RSS {max(peaks):.0f} MiB (ingested in {ingest_s:.1f} s)")
        if batch == 1:
            line += f", ratio to raw libcurl POST rate {r / raw:.2f}, to wrk {r / median(wrks):.2f}"
        print(line + f" runs={[round(x) for x in rates]}")
        print("  CPU µs an event, last run: " + ", ".join(f"{k} {v:.1f}" for k, v in sorted(cpu.items(), key=lambda x: -x[1])))

    # 3. Latency at 1,000 events/s offered.
    got, p50, p99, mx = latency(1000, 15)
    print(f"ingest-to-receipt at 1,000 events/s offered: {got:,.0f} events/s received, p50 {p50:.2f} ms, "
          f"p99 {p99:.2f} ms, max {mx:.2f} ms")

    # 4. HTTPS.
    https(args, msg)


if __name__ == "__main__":
    main()
