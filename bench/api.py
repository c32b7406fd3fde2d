#!/usr/bin/python3
"""The API and the dashboard at scale (issue 14): a Release smtpsd over an
embedded store holding 1,000,000 queued messages and 1,000,000 suppressed
addresses (written straight into SQLite), then

  * GET of queue and suppression pages at random cursors over one
    keep-alive connection: p50, p99, max per kind of page;
  * the dashboard's first load in headless Chromium with a fresh profile:
    bytes transferred and time to the load event, and the time from opening
    the page (token already in the tab) to the overview showing numbers.

    bench/api.py [ROWS] [REQUESTS]
The data folder is in /dev/shm unless BENCH_DIR says otherwise.
"""
import http.client
import json
import os
import random
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / "build" / "release" / "src" / "smtpsd"
ROWS = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
REQUESTS = int(sys.argv[2]) if len(sys.argv) > 2 else 2000

sys.path.insert(0, str(ROOT / "tests" / "integration"))
from api_client import queue_id as qid  # noqa: E402


def cli(work, *args):
    return subprocess.run([str(BIN), "-c", str(work / "smtpsd.toml"), *args], check=True, capture_output=True,
                          text=True).stdout


def fill(work):
    db = sqlite3.connect(work / "data" / "smtpsd.db")
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    account_id = db.execute("SELECT id FROM accounts WHERE name = 'acme'").fetchone()[0]
    now = int(time.time())
    step = 100_000
    for start in range(0, ROWS, step):
        ids = range(start, min(ROWS, start + step))
        db.executemany("INSERT INTO messages(id, account_id, account, sender, size, created, message_id) "
                       "VALUES (?, ?, 'acme', 'alice@example.com', 4096, ?, ?)",
                       ((qid(n), account_id, now, f"<{n}@example.com>") for n in ids))
        db.executemany("INSERT INTO recipients(message_id, idx, address, status, next_attempt, attempts, last_response) "
                       "VALUES (?, 0, ?, ?, ?, ?, ?)",
                       ((qid(n), f"r{n}@example.org", 1 if n % 100 == 7 else 0, now + 3600, 1 if n % 100 == 7 else 0,
                         "451 4.3.0 try again later" if n % 100 == 7 else "") for n in ids))
        db.executemany("INSERT INTO suppression(address, reason, created) VALUES (?, 'bounce', ?)",
                       ((f"user{n:07d}@example.net", now) for n in ids))
        db.commit()
    db.close()


class Client:
    def __init__(self, port, token):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.headers = {"Authorization": f"Bearer {token}"}

    def get(self, path):
        t0 = time.perf_counter()
        self.conn.request("GET", path, headers=self.headers)
        res = self.conn.getresponse()
        body = res.read()
        elapsed = time.perf_counter() - t0
        assert res.status == 200, (path, res.status, body[:200])
        return elapsed, json.loads(body)


def percentiles(samples):
    s = sorted(samples)
    return {"p50": statistics.median(s) * 1000, "p99": s[int(len(s) * 0.99) - 1] * 1000, "max": s[-1] * 1000}


def pages(client, name, make_path, n):
    times = []
    items = 0
    for _ in range(n):
        t, page = client.get(make_path())
        times.append(t)
        items += len(page["items"]) if "items" in page else 1
    p = percentiles(times)
    print(f"  {name:<44} p50 {p['p50']:6.2f} ms  p99 {p['p99']:6.2f} ms  max {p['max']:7.2f} ms  "
          f"({items / n:.0f} items/page)")
    return p


def browser_load(port, token, work):
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
        from selenium.webdriver.common.by import By
    except ImportError:
        print("  (no python3-selenium: dashboard load not measured)")
        return None
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-extensions", f"--user-data-dir={work / 'chromium'}"):
        opts.add_argument(flag)
    d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    try:
        d.set_window_size(1280, 900)
        url = f"http://127.0.0.1:{port}/"
        d.get(url)  # a fresh profile: nothing cached
        nav = d.execute_script("""
            const n = performance.getEntriesByType('navigation')[0];
            const r = performance.getEntriesByType('resource');
            return {load_ms: n.loadEventEnd - n.startTime, bytes: n.transferSize + r.reduce((a, e) => a + e.transferSize, 0),
                    body_bytes: n.decodedBodySize + r.reduce((a, e) => a + e.decodedBodySize, 0), files: 1 + r.length};""")
        # Logged in: the time from opening the page to the overview showing its numbers.
        d.execute_script("sessionStorage.setItem('smtpsd.token', arguments[0])", token)
        d.get("about:blank")
        t0 = time.perf_counter()
        d.get(url + "#overview")  # a new document in the same tab: the token stays
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if d.find_elements(By.CSS_SELECTOR, '[data-stat="queue"] .value') and \
                    d.find_element(By.CSS_SELECTOR, '[data-stat="queue"] .value').text not in ("", "–"):
                break
            time.sleep(0.01)
        nav["overview_ms"] = (time.perf_counter() - t0) * 1000
        return nav
    finally:
        d.quit()


def main():
    if not BIN.exists():
        sys.exit(f"missing {BIN}: make bench-build")
    base = os.environ.get("BENCH_DIR", "/dev/shm")
    work = Path(tempfile.mkdtemp(prefix="smtpsd-apibench-", dir=base))
    proc = None
    try:
        subprocess.run([str(BIN), "init", str(work)], check=True, capture_output=True)
        cfg = work / "smtpsd.toml"
        text = cfg.read_text()
        text = re.sub(r'\[\[listeners\]\]\naddress = "0\.0\.0\.0:\d+"\nmode = "[a-z-]+"\n', "", text)
        text = text.replace('listen = "127.0.0.1:8025"', 'listen = "127.0.0.1:0"').replace("enabled = true",
                                                                                          "enabled = false")
        text = text.replace("[limits]", '[[listeners]]\naddress = "127.0.0.1:0"\nmode = "implicit-tls"\n\n[limits]', 1)
        cfg.write_text(text)
        cli(work, "account", "add", "acme")
        token = json.loads(cli(work, "token", "add", "bench", "--json"))["token"]
        t0 = time.monotonic()
        fill(work)
        print(f"{ROWS:,} queued messages and {ROWS:,} suppressed addresses written in {time.monotonic() - t0:.0f} s")
        log = open(work / "log", "w")
        proc = subprocess.Popen([str(BIN), "serve", "-c", str(cfg)], stdout=log, stderr=log)
        port = None
        for _ in range(600):
            m = re.search(r"admin listening on 127\.0\.0\.1:(\d+)", (work / "log").read_text())
            if m and '"ready' in (work / "log").read_text():
                port = int(m.group(1))
                break
            time.sleep(0.05)
        assert port, (work / "log").read_text()
        c = Client(port, token)
        rng = random.Random(7)
        print(f"GET over one keep-alive connection, {REQUESTS} requests each:")
        results = {
            "queue": pages(c, "queue, 50 per page, random cursor",
                           lambda: f"/api/v1/queue?limit=50&after={qid(rng.randrange(ROWS))}", REQUESTS),
        }
        pages(c, "queue, first page", lambda: "/api/v1/queue", REQUESTS // 4)
        pages(c, "queue, 1000 per page, random cursor",
              lambda: f"/api/v1/queue?limit=1000&after={qid(rng.randrange(ROWS))}", REQUESTS // 10)
        pages(c, "queue, account filter, random cursor",
              lambda: f"/api/v1/queue?limit=50&account=acme&after={qid(rng.randrange(ROWS))}", REQUESTS // 4)
        pages(c, "queue, deferred (1 in 100), random cursor",
              lambda: f"/api/v1/queue?limit=50&status=deferred&after={qid(rng.randrange(ROWS))}", REQUESTS // 4)
        pages(c, "queue, one recipient", lambda: f"/api/v1/queue?recipient=r{rng.randrange(ROWS)}@example.org",
              REQUESTS // 20)
        results["suppression"] = pages(
            c, "suppression, 100 per page, random cursor",
            lambda: f"/api/v1/suppression?after=user{rng.randrange(ROWS):07d}@example.net", REQUESTS)
        pages(c, "suppression, first page (with the total)", lambda: "/api/v1/suppression", REQUESTS // 10)
        pages(c, "suppression, prefix search",
              lambda: f"/api/v1/suppression?search=user{rng.randrange(ROWS // 100):05d}", REQUESTS // 4)
        pages(c, "one message", lambda: f"/api/v1/queue/{qid(rng.randrange(ROWS))}", REQUESTS // 4)
        load = browser_load(port, token, work)
        if load:
            print(f"dashboard first load: {load['bytes']:,} bytes transferred in {load['files']} files "
                  f"({load['body_bytes']:,} bytes of content), load event after {load['load_ms']:.0f} ms; "
                  f"overview with numbers {load['overview_ms']:.0f} ms after opening the page")
        verdict = results["queue"]["p99"] < 20 and (not load or (load["bytes"] < 300_000 and load["load_ms"] < 1000))
        print("targets (queue page p99 < 20 ms, first load < 300 KB and < 1 s):", "met" if verdict else "NOT met")
    finally:
        if proc:
            proc.terminate()
            proc.wait(30)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
