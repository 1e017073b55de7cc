"""Shared helpers of the benchmarks: start growhook, call its API, make events.

Everything runs on 127.0.0.1 only."""
import http.client
import json
import os
import re
import signal
import statistics
import subprocess
import tempfile
import threading
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("GROWHOOK_BIN", os.path.join(ROOT, "build", "growhook"))
# The build folder of BIN, where the benchmark helpers (receiver, ...) are.
BUILD = os.path.dirname(os.path.abspath(BIN))
TOKEN = "bench-platform-token-0123456789"


class Growhook:
    """One growhook process: SQLite in data_dir (a new temporary folder by
    default), or PostgreSQL when database is a postgresql:// URL (then no
    data folder is made)."""

    def __init__(self, *args, data_dir=None, database=None):
        if database:
            self.data_dir = None
            store = ["--database", database]
        else:
            self.data_dir = data_dir or tempfile.mkdtemp(prefix="growhook-bench-")
            store = ["--data-dir", self.data_dir]
        env = dict(os.environ, GROWHOOK_PLATFORM_TOKEN=TOKEN)
        self.proc = subprocess.Popen(
            [BIN, "serve", "--listen", "127.0.0.1:0", *store,
             "--allow-targets", "127.0.0.0/8", "--log-level", "warn", *args],
            stdout=subprocess.PIPE, env=env, text=True)
        for line in self.proc.stdout:
            m = re.search(r"listening on (http://\S+)", line)
            if m:
                self.base = m.group(1)
                break
        else:
            raise RuntimeError("growhook did not start")

    def call(self, method, path, body=None, token=TOKEN):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Authorization", "Bearer " + token)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=60) as r:
            text = r.read()
            return json.loads(text) if text else None

    def account(self):
        a = self.call("POST", "/v1/accounts", {"name": "bench"})
        return a["id"], a["api_key"]

    def metrics(self):
        with urllib.request.urlopen(self.base + "/metrics", timeout=30) as r:
            out = {}
            for line in r.read().decode().splitlines():
                if line and not line.startswith("#"):
                    k, _, v = line.rpartition(" ")
                    out[k] = float(v)
            return out

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=60)
        if self.data_dir:
            subprocess.run(["rm", "-rf", self.data_dir])


def event(i, type_="contact.subscribed"):
    """A realistic event of about 1.5 KB with all 20 keys filled."""
    n = str(i)
    return {
        "type": type_,
        "occurred_at": "2024-09-26T00:08:18.161Z",
        "contact": {
            "msisdn": 5599900000000 + i,
            "profileCreatedAt": "2022-11-24T09:59:41.163Z",
            "source": "form",
            "source_value": "onsite-campaign-" + n,
            "eshop_opt_in": True,
            "last_eshop_opt_in_date": "2023-11-16T11:33:29.485Z",
            "ecom_email": "customer.number." + n + "@example-mail-provider.com.br",
            "ecom_signups_count": 2,
            "ecom_device_type": "mobile",
            "ecom_browser_name": "Chrome Mobile WebView 120.0.6099.230",
            "ecom_locale": "pt-br",
            "ecom_timezone": "UTC-03:00",
            "ecom_os_name": "Android 14; Samsung Galaxy S23 Ultra",
            "ecom_signup_domain": "www.websitedomain-with-a-long-name.com.br",
            "ecom_signup_path": "/lancamentos/colecao-verao-2024/calcados/tenis-corrida-masculino?cor=azul&tam=42&ref=" + n,
            "ecom_signup_referrer_url": "https://www.google.com/search?q=promo%C3%A7%C3%A3o+t%C3%AAnis+corrida+masculino+azul+tamanho+42+frete+gr%C3%A1tis&sca_esv=1234567890abcdef&source=hp&ei=" + "x" * 400 + n,
            "last_order_date": "2024-09-26T00:08:18.161Z",
            "ecom_total_order_count": 6,
            "ecom_total_order_amount": 832,
            "last_click_date": "2023-10-03T07:58:18.893Z",
        },
    }


def median(xs):
    return statistics.median(xs)


def wrk(url, body_file, token, connections, seconds, threads=2):
    """Runs wrk with a POST body; returns (requests/s, p50 ms, p99 ms, non-2xx)."""
    script = os.path.join(ROOT, "bench", "post.lua")
    env = dict(os.environ, BODY_FILE=body_file, TOKEN=token)
    out = subprocess.run(["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s",
                          "--latency", "-s", script, url], capture_output=True, text=True, env=env).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def pct(p):
        m = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out)
        v, unit = float(m.group(1)), m.group(2)
        return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return rps, pct(50), pct(99), (int(bad.group(1)) if bad else 0), (errors.group(1) if errors else "")


def post_backlog(g, account, n):
    """Ingests n events (bulk requests of 1,000) into account on two connections."""
    body = json.dumps({"events": [event(i) for i in range(1000)]})
    host, port = g.base.replace("http://", "").split(":")

    def worker(count):
        c = http.client.HTTPConnection(host, int(port), timeout=120)
        for _ in range(count):
            c.request("POST", f"/v1/accounts/{account}/events", body,
                      {"Authorization": "Bearer " + TOKEN, "Content-Type": "application/json"})
            r = c.getresponse()
            r.read()
            assert r.status == 202, r.status
    k = n // 1000
    ts = [threading.Thread(target=worker, args=(c,)) for c in (k // 2, k - k // 2)]
    [t.start() for t in ts]
    [t.join() for t in ts]


def write_bodies(folder):
    """Writes a single event and a bulk body of 100 events; returns their paths."""
    single = os.path.join(folder, "single.json")
    bulk = os.path.join(folder, "bulk.json")
    with open(single, "w") as f:
        json.dump(event(1), f)
    with open(bulk, "w") as f:
        json.dump({"events": [event(i) for i in range(100)]}, f)
    return single, bulk
