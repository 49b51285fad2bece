"""Screenshots of every page of `lsm serve` for docs/WEB.md, taken by the system's headless Chromium.

    .venv/bin/python manual_tests/web_screenshots.py [--out docs/images]

A made-up fleet is written as Claude Code writes it (transcripts with replies spread over the last
twelve days, one hostile title, tags and a description, official limits reported through
`lsm statusline`, two memories) into a temporary HOME; `lsm serve` runs there on a free loopback port
and Chromium (Debian's chromium + chromium-driver, driven by Selenium) saves web-sessions.png,
web-session.png, web-reports.png, web-limits.png and web-memory.png. Nothing outside the temporary
HOME is read.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))

from bench_web import chromium, serve  # noqa: E402  (starting lsm serve, opening headless Chromium)

NOW = datetime.now(timezone.utc)
GITHUB = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
# (id, project folder, first prompt, model, [(minutes ago, input, output, cache write, cache read)])
FLEET: list[tuple[str, str, str, str, list[tuple[float, int, int, int, int]]]] = [
    ("7f3a9c10-1b2c-4d5e-8f90-a1b2c3d4e5f6", "/home/dev/src/api", "Add rate limiting to the public API",
     "claude-sonnet-4-5-20250929", [(60 * 24 * d + 30, 1200, 900, 40_000, 180_000) for d in range(0, 12, 2)]),
    ("1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f", "/home/dev/src/web", "Fix the flaky login test in CI",
     "claude-opus-4-1-20250805", [(60 * 24 * d + 90, 800, 2400, 25_000, 90_000) for d in range(1, 11, 3)]),
    ("9e8d7c6b-5a49-4382-9170-6f5e4d3c2b1a", "/home/dev/src/docs", "Rewrite the quick-start guide",
     "claude-haiku-4-5-20251001", [(60 * 24 * d + 200, 3000, 1500, 8_000, 30_000) for d in range(0, 12)]),
    ("4b5c6d7e-8f90-4a1b-9c2d-3e4f5a6b7c8d", "/home/dev/src/api",
     f"<script>alert(1)</script> [bold red]pwned[/] \x1b[2J use {GITHUB}",
     "claude-sonnet-4-5-20250929", [(300, 500, 700, 12_000, 20_000)]),
    ("2a3b4c5d-6e7f-4809-9a1b-2c3d4e5f6a7b", "/home/dev/src/infra", "Migrate the cluster to the new region",
     "claude-sonnet-4-5-20250929",
     [(m, 900, 1100, 30_000, 120_000 + 9000 * (40 - m)) for m in range(40, 0, -4)]),
]  # fmt: skip


def _stamp(minutes_ago: float) -> str:
    return (NOW - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def write_fleet(home: Path) -> None:
    for sid, cwd, prompt, model, replies in FLEET:
        folder = home / ".claude" / "projects" / cwd.replace("/", "-")
        folder.mkdir(parents=True, exist_ok=True)
        first = max(m for m, *_ in replies) + 1
        base = {"isSidechain": False, "sessionId": sid, "cwd": cwd, "gitBranch": "main"}
        lines: list[dict[str, Any]] = [
            {**base, "type": "user", "uuid": f"{sid}-u", "timestamp": _stamp(first),
             "message": {"role": "user", "content": prompt}},
        ]  # fmt: skip
        for n, (ago, i, o, cw, cr) in enumerate(sorted(replies, reverse=True)):
            lines.append(
                {**base, "type": "assistant", "uuid": f"{sid}-a{n}", "requestId": f"{sid}-r{n}",
                 "timestamp": _stamp(ago),
                 "message": {"id": f"{sid}-m{n}", "model": model, "role": "assistant",
                             "content": [{"type": "text", "text": "done"}],
                             "usage": {"input_tokens": i, "output_tokens": o,
                                       "cache_creation_input_tokens": cw, "cache_read_input_tokens": cr}}}
            )  # fmt: skip
        (folder / f"{sid}.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")


def env_for(home: Path) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("LSM_", "CLAUDE_", "CODEX_", "XDG_"))}
    return {
        **keep,
        "HOME": str(home),
        "LSM_HOME": str(home / ".lsm"),
        "LSM_DISCOVERY": "off",
        "NO_COLOR": "1",
    }


def lsm(env: dict[str, str], *args: str, stdin: str | None = None) -> None:
    subprocess.run(
        [sys.executable, "-m", "llm_session_manager", *args], env=env, input=stdin, text=True,
        capture_output=True, check=True, timeout=120,
    )  # fmt: skip


def organise(env: dict[str, str]) -> None:
    lsm(env, "tag", "2a3b4c5d", "infra", "migration")
    lsm(env, "describe", "2a3b4c5d", "Move every service to eu-west-2; DNS cut-over last")
    payload = {
        "session_id": FLEET[4][0],
        "cwd": FLEET[4][1],
        "model": {"id": FLEET[4][3], "display_name": "Sonnet 4.5"},
        "workspace": {"current_dir": FLEET[4][1], "project_dir": FLEET[4][1]},
        "version": "2.1.197",
        "rate_limits": {
            "five_hour": {"used_percentage": 64, "resets_at": int((NOW + timedelta(hours=2)).timestamp())},
            "seven_day": {"used_percentage": 31, "resets_at": int((NOW + timedelta(days=4)).timestamp())},
        },
    }
    lsm(env, "statusline", stdin=json.dumps(payload))
    lsm(
        env,
        "memory-add",
        "2a3b4c5d",
        "The new region's load balancer needs the health check on /healthz",
        "-t",
        "infra",
    )
    lsm(
        env,
        "memory-add",
        "7f3a9c10",
        "Rate limits: token bucket per API key, refilled every second",
        "-t",
        "api",
    )


def browser() -> Any:
    return chromium("--window-size=1360,900", "--hide-scrollbars", "--disable-background-networking")


def shoot(driver: Any, url: str, out: Path) -> None:
    driver.get(url)
    time.sleep(0.5)
    height = driver.execute_script("return document.documentElement.scrollHeight;")
    driver.set_window_size(1360, min(max(600, int(height) + 20), 2400))
    driver.save_screenshot(str(out))
    driver.set_window_size(1360, 900)
    print(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "images")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="lsm-web-shots-") as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        write_fleet(home)
        env = env_for(home)
        organise(env)
        proc, url = serve(env)
        driver = browser()
        try:
            shoot(driver, url, args.out / "web-sessions.png")
            shoot(driver, url + "sessions/2a3b4c5d", args.out / "web-session.png")
            shoot(driver, url + "reports?kind=daily&by=model&last=14", args.out / "web-reports.png")
            shoot(driver, url + "limits", args.out / "web-limits.png")
            shoot(driver, url + "memory?q=load+balancer+health+check", args.out / "web-memory.png")
        finally:
            driver.quit()
            proc.terminate()
            proc.wait(timeout=20)


if __name__ == "__main__":
    main()
