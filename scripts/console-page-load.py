#!/usr/bin/env python3
"""How long each page of the operator console takes to load, in headless Chromium.

    scripts/console-page-load.py CONSOLE_URL [ROUNDS]

Drives chromedriver over its WebDriver protocol (no client library) and loads each page
ROUNDS (5) times in one browser session (the fleet first, in a fresh profile). Per page it prints, in
milliseconds from the start of the navigation, `load` (the Navigation Timing entry's
loadEventEnd) and `data` (the `console-data` mark the page sets once it first showed what
its API answered, common.js), first load / median of the others / max; and the page weight:
the bytes of its HTML, scripts and stylesheet (decoded; as transferred in brackets).
A measure, not a test: it asserts nothing about the figures.
"""
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request

MEASURE = """
const nav = performance.getEntriesByType('navigation')[0];
const data = performance.getEntriesByName('console-data')[0];
if (!nav || nav.loadEventEnd === 0 || !data) return null;
const assets = performance.getEntriesByType('resource')
  .filter((r) => r.initiatorType === 'script' || r.initiatorType === 'link');
return {
  load: nav.loadEventEnd, data: data.startTime,
  bytes: nav.decodedBodySize + assets.reduce((n, r) => n + r.decodedBodySize, 0),
  transferred: nav.transferSize + assets.reduce((n, r) => n + r.transferSize, 0),
};
"""


def request(method, url, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as response:
        return json.load(response)["value"]


# The read key of the bench's services (scripts/bench-keys.sh), for the APIs and the pages.
TOKEN = os.environ.get("BENCH_API_TOKEN", "")


def get_json(url):
    headers = {"authorization": f"Bearer {TOKEN}"} if TOKEN else {}
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=30) as response:
        return json.load(response)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    console = sys.argv[1].rstrip("/")
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    chromedriver = shutil.which("chromedriver")
    if not chromium or not chromedriver:
        sys.exit("console-page-load: chromium and chromedriver are needed: run scripts/install-browser.sh")

    pages = [("fleet", "/console/"), ("incidents", "/console/incidents"),
             ("pipeline", "/console/pipeline"), ("logs", "/console/logs")]
    incidents = get_json(f"{console}/incidents?limit=1&status=open")["incidents"]
    if incidents:
        pages.insert(2, ("incident", f"/console/incidents/{incidents[0]['id']}"))
    recent = get_json(f"{console}/analytics/recent?limit=1")["records"]
    if recent:
        pages.insert(3, ("trace", f"/console/trace/{recent[0]['record_id']}"))

    port = free_port()
    driver = subprocess.Popen([chromedriver, f"--port={port}"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(150):
            try:
                urllib.request.urlopen(f"{base}/status", timeout=1)
                break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.1)
        session = request("POST", f"{base}/session", {"capabilities": {"alwaysMatch": {
            "goog:chromeOptions": {"binary": chromium, "args": [
                "--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                "--disable-gpu", "--window-size=1366,900"]}}}})["sessionId"]
        at = f"{base}/session/{session}"
        if TOKEN:
            # The console sends the key it keeps in localStorage (its key form).
            request("POST", f"{at}/url", {"url": f"{console}/console/"})
            request("POST", f"{at}/execute/sync", {
                "script": "localStorage.setItem('obs-console-api-key', arguments[0])",
                "args": [TOKEN]})
        print(f"{'page':<10} {'load ms: first / median / max':>32} {'data ms: first / median / max':>32}  weight")
        for name, path in pages:
            loads = []
            for _ in range(rounds):
                request("POST", f"{at}/url", {"url": f"{console}{path}"})
                deadline = time.time() + 30
                measure = None
                while measure is None and time.time() < deadline:
                    measure = request("POST", f"{at}/execute/sync", {"script": MEASURE, "args": []})
                    if measure is None:
                        time.sleep(0.05)
                if measure is None:
                    sys.exit(f"console-page-load: {path} showed no data within 30 s")
                loads.append(measure)
            first, rest = loads[0], loads[1:] or loads

            def figures(key):
                return "%7.0f / %6.0f / %6.0f" % (first[key], statistics.median(m[key] for m in rest),
                                                  max(m[key] for m in loads))
            print(f"{name:<10} {figures('load'):>32} {figures('data'):>32}  "
                  f"{first['bytes'] / 1024:.1f} KiB ({first['transferred'] / 1024:.1f} KiB transferred)")
        request("DELETE", at)
    finally:
        os.killpg(driver.pid, signal.SIGKILL)
        driver.wait()


if __name__ == "__main__":
    main()
