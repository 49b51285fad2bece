#!/usr/bin/env python3
"""Time `lsm statusline` as Claude Code runs it: a whole new process per refresh, the captured payload on
stdin, in a fresh HOME and data folder.

    .venv/bin/python bench/bench_statusline.py [--runs 30] [--max-ms 50]

Prints p50 and p90 wall time (and p50 CPU time) of the console script (the fast path in entry.py), of
``python -m llm_session_manager statusline`` for comparison (it loads the whole CLI), and of ``python -c
pass`` (the interpreter alone). Then, in one process, what recording one sample costs: the spool append
lsm uses, and an insert into the SQLite store (connect, migrate check, insert, close) it avoids. With
``--max-ms`` it exits 1 when the console script's p50 is over that.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
PAYLOADS = REPO.parent / "shared" / "fixtures" / "claude" / "captured-2.1.197" / "statusline-payloads.jsonl"
FALLBACK_PAYLOAD = REPO / "tests" / "fixtures" / "claude" / "statusline-payloads.jsonl"


def payload() -> bytes:
    source = PAYLOADS if PAYLOADS.exists() else FALLBACK_PAYLOAD
    return source.read_bytes().splitlines()[-1]  # with rate limits and context


def _child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(cmd: Sequence[str], data: bytes, env: dict[str, str], runs: int) -> tuple[list[float], list[float]]:
    """(wall ms, CPU ms) of each run. CPU time (user + system) moves less than wall time when other
    processes share the machine."""
    for _ in range(3):  # warm the page cache and .pyc files
        subprocess.run(cmd, input=data, env=env, capture_output=True, check=True)
    wall, cpu = [], []
    for _ in range(runs):
        cpu0, start = _child_cpu(), time.perf_counter()
        done = subprocess.run(cmd, input=data, env=env, capture_output=True, check=True)
        wall.append((time.perf_counter() - start) * 1000)
        cpu.append((_child_cpu() - cpu0) * 1000)
        assert done.stdout.count(b"\n") == 1, done.stdout
    return wall, cpu


def spool_vs_sqlite(root: Path, data: bytes, runs: int) -> tuple[float, float]:
    import json

    from llm_session_manager.statusline import read_payload, record
    from llm_session_manager.store import db

    sample = read_payload(json.loads(data))
    spool_ms, sql_ms = [], []
    for _ in range(runs):
        start = time.perf_counter()
        record(root / "spool", sample, time.time())
        spool_ms.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        conn = db.connect(root / "sql" / "lsm.db")
        conn.execute(
            "INSERT OR IGNORE INTO statusline_samples VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                sample["sid"],
                time.time(),
                sample["model"],
                sample["ctx_tokens"],
                sample["ctx_window"],
                1.0,
                0.1,
            ),
        )
        conn.close()
        sql_ms.append((time.perf_counter() - start) * 1000)
    return statistics.median(spool_ms), statistics.median(sql_ms)


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def line(label: str, wall: list[float], cpu: list[float]) -> None:
    print(
        f"{label:44} p50 {p(wall, 0.5):6.1f} ms   p90 {p(wall, 0.9):6.1f} ms   CPU p50 {p(cpu, 0.5):5.1f} ms"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--max-ms", type=float, default=None)
    args = parser.parse_args()
    data = payload()
    script = Path(sys.executable).with_name("lsm")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LSM_", "XDG_", "CLAUDE_"))}
        env.update(HOME=str(root / "home"), LSM_HOME=str(root / "data"), COLUMNS="120")
        rows = [
            ("lsm statusline (console script)", [str(script), "statusline"]),
            (
                "python -m llm_session_manager statusline",
                [sys.executable, "-m", "llm_session_manager", "statusline"],
            ),
        ]
        results = {}
        for label, cmd in rows:
            results[label] = timed(cmd, data, env, args.runs)
        base = timed([sys.executable, "-c", "print()"], b"", env, args.runs)
        spool, sql = spool_vs_sqlite(root, data, args.runs)
    print(f"runs: {args.runs} each, payload {len(data)} bytes")
    for label, (values, cpu) in results.items():
        line(label, values, cpu)
    line("python -c print() (the interpreter alone)", *base)
    print(f"recording one sample in-process: spool append {spool:.2f} ms, SQLite connect+insert {sql:.2f} ms")
    fast = p(results[rows[0][0]][0], 0.5)
    if args.max_ms is not None and fast > args.max_ms:
        print(f"FAIL: p50 {fast:.1f} ms is over {args.max_ms:g} ms")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
