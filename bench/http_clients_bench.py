#!/usr/bin/env python3
"""What the platform's HTTP clients see, timed with the curl command (a real
libcurl client) against growhook --role api on 127.0.0.1: a bulk of about
77 KB as it is, with `Expect: 100-continue` (which curl sends by itself for
bodies over 1 MiB, PHP and other libcurl clients for far smaller ones), and
gzip-compressed; and a gzip bomb (64 MiB of zeros in about 64 KiB), which
must be refused with 413 at the cost of inflating at most --max-body-bytes.
Medians of --runs requests each; every answer's status is checked.

  python3 bench/http_clients_bench.py [--runs 20]"""
import argparse
import gzip
import json
import os
import subprocess
import tempfile

from common import TOKEN, Growhook, event, median


def timed_post(url, body_file, headers):
    cmd = ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{time_total}", "--noproxy", "*",
           "-H", "Authorization: Bearer " + TOKEN, "-H", "Content-Type: application/json",
           "--data-binary", "@" + body_file, url]
    for h in headers:
        cmd[1:1] = ["-H", h]
    status, seconds = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.split()
    return int(status), float(seconds) * 1000


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="gh-clients-")
    bulk = os.path.join(tmp, "bulk.json")
    with open(bulk, "w") as f:
        json.dump({"events": [event(i) for i in range(50)]}, f)
    with open(bulk, "rb") as f, open(bulk + ".gz", "wb") as out:
        out.write(gzip.compress(f.read()))
    bomb = os.path.join(tmp, "bomb.gz")
    with open(bomb, "wb") as out:
        out.write(gzip.compress(bytes(64 << 20), compresslevel=9))
    print(f"bulk {os.path.getsize(bulk):,} bytes (gzip {os.path.getsize(bulk + '.gz'):,}); "
          f"bomb {os.path.getsize(bomb):,} bytes, 64 MiB inflated")

    g = Growhook("--role", "api")
    try:
        account, _ = g.account()
        url = f"{g.base}/v1/accounts/{account}/events"
        cases = (("bulk, as it is", bulk, ["Expect:"], 202),
                 ("bulk, Expect: 100-continue", bulk, ["Expect: 100-continue"], 202),
                 ("bulk, Content-Encoding: gzip", bulk + ".gz", ["Expect:", "Content-Encoding: gzip"], 202),
                 ("gzip bomb (413)", bomb, ["Expect:", "Content-Encoding: gzip"], 413))
        for name, body, headers, want in cases:
            times = []
            for _ in range(args.runs):
                status, ms = timed_post(url, body, headers)
                assert status == want, f"{name}: {status}, expected {want}"
                times.append(ms)
            times.sort()
            print(f"{name:32s} median {median(times):7.2f} ms  max {times[-1]:7.2f} ms  ({args.runs} requests)")
        health = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--noproxy", "*",
                                 g.base + "/healthz"], capture_output=True, text=True).stdout
        print(f"after the bombs: /healthz {health}")
    finally:
        g.stop()


if __name__ == "__main__":
    main()
