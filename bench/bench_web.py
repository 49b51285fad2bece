#!/usr/bin/env python3
"""First paint of `lsm serve`'s sessions page with thousands of sessions, in the system's headless Chromium.

    .venv/bin/python bench/bench_web.py [--corpus /tmp/lsm-web-bench] [--sessions 5000] [--seed 1]

Writes (or reuses) a Claude Code corpus with tests/claude_corpus.py, then for three cases starts
`lsm serve --port 0` in a temporary HOME with ``CLAUDE_CONFIG_DIR=<corpus>`` and opens the page:

- cold: lsm's cache empty (the first scan reads every file; the page shows its progress);
- warm: a new server over the cache the cold run left (the first scan only checks the files);
- reload: the same page opened again on that running server.

For each it prints, in milliseconds from the navigation's start (the browser's own Navigation and Paint
Timing): the first byte, the first contentful paint, the moment the first rows are in the table, and
the moment the table knows every session (the live stream's first message). Exit 1 when a page never
lists every session.
"""

from __future__ import annotations

import argparse
import os
import select
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from claude_corpus import generate  # noqa: E402

TIMING = """
var n = performance.getEntriesByType('navigation')[0];
var p = performance.getEntriesByName('first-contentful-paint')[0];
return {ttfb: n.responseStart, fcp: p ? p.startTime : null, bytes: n.transferSize};
"""


def corpus(root: Path, sessions: int, seed: int) -> Path:
    marker = root / f".sessions-{sessions}-seed-{seed}"
    if not marker.exists():
        if root.exists() and any(root.iterdir()):
            raise SystemExit(f"{root} is not empty and was not made by this script")
        generate(root / "claude", sessions=sessions, seed=seed, tricky=False)
        marker.touch()
    return root / "claude"


def serve(env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    """`lsm serve` on a free loopback port in ``env``: the process and the URL it prints."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "llm_session_manager", "serve", "--port", "0"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if select.select([proc.stderr], [], [], 1.0)[0]:
            line = proc.stderr.readline()
            if "dashboard at " in line:
                return proc, line.split("dashboard at ", 1)[1].split()[0].rstrip(";")
    proc.kill()
    raise SystemExit("lsm serve did not start")


def chromium(*extra: str) -> Any:
    """The system's headless Chromium through chromium-driver, with ``extra`` command-line switches."""
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", *extra):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def measure(driver: Any, url: str, sessions: int) -> dict[str, Any]:
    start = time.monotonic()
    driver.get(url)
    rows_at = total_at = None
    while time.monotonic() - start < 300:
        rows = driver.execute_script("return document.querySelectorAll('#sessions tbody tr').length;")
        count = driver.execute_script("return document.getElementById('count').textContent;")
        if rows and rows_at is None:
            rows_at = time.monotonic() - start
        if count == str(sessions):
            total_at = time.monotonic() - start
            rows_at = total_at if rows_at is None else rows_at  # both arrived between two looks
            break
        time.sleep(0.02)
    timing: dict[str, Any] = driver.execute_script(TIMING)
    if timing["fcp"] is None:  # the paint entry is queued after the load
        time.sleep(0.2)
        timing = driver.execute_script(TIMING)
    # driver.get returns at the load event: navigation-relative times are offset by it.
    timing["rows"] = None if rows_at is None else rows_at * 1000
    timing["all"] = None if total_at is None else total_at * 1000
    return timing


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--corpus", type=Path, default=Path("/tmp/lsm-web-bench"))
    parser.add_argument("--sessions", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    claude = corpus(args.corpus, args.sessions, args.seed)
    failed = False
    with tempfile.TemporaryDirectory(prefix="lsm-web-bench-") as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        keep = {k: v for k, v in os.environ.items() if not k.startswith(("LSM_", "CLAUDE_", "XDG_"))}
        env = {**keep, "HOME": str(home), "LSM_HOME": str(Path(tmp) / "lsm"), "LSM_DISCOVERY": "off"}
        env["CLAUDE_CONFIG_DIR"] = str(claude)
        driver = chromium()
        try:
            for case in ("cold", "warm"):
                proc, url = serve(env)
                try:
                    runs = [(case, measure(driver, url, args.sessions))]
                    if case == "warm":
                        runs.append(("reload", measure(driver, url, args.sessions)))
                finally:
                    proc.terminate()
                    proc.wait(timeout=30)
                for name, t in runs:
                    failed |= t["all"] is None
                    print(
                        f"{name:6} first byte {t['ttfb']:7.0f} ms   first paint {t['fcp'] or 0:7.0f} ms   "
                        f"first rows {t['rows'] or 0:7.0f} ms   all {args.sessions} listed "
                        f"{t['all'] or float('nan'):7.0f} ms   page {t['bytes'] / 1024:6.0f} kB"
                    )
        finally:
            driver.quit()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
