#!/usr/bin/env python3
"""Compare `lsm report daily` and `lsm report blocks` with ccusage's daily and blocks reports.

    python bench/compare_reports.py [--corpus DIR] [--sessions 400] [--seed 5] [--ccusage PATH]

Generates (or reuses) a multi-day corpus with tests/claude_corpus.py (sessions start 1-90 minutes apart,
so 400 sessions span about 10 days), then makes a hard-linked copy without the spaced-JSON sessions
(ccusage only reads lines holding the exact bytes ``"usage":{``, so both tools must see the same data).
Runs, with ``CLAUDE_CONFIG_DIR`` on the copy and an empty ``HOME``:

- ``ccusage claude daily --json --offline --timezone UTC`` and ``lsm report daily --timezone UTC -f json``;
- ``ccusage claude blocks --json --offline`` and ``lsm report blocks -f json``;

and prints every day and block whose input, output, cache_creation or cache_read differ (expected: none),
with both tools' times (lsm cold, then warm). Exit status 0 when all agree, 1 when any differ, 2 when a
tool failed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_list import REPO, Run, isolated_env, run_measured
from compare_ccusage import ccusage_argv

sys.path.insert(0, str(REPO / "tests"))
from claude_corpus import generate, load_truth, save_truth

TRUTH = "lsm-corpus-truth.json"
Tokens = tuple[int, int, int, int]


def ensure_corpus(root: Path, sessions: int, seed: int) -> None:
    truth_file = root / TRUTH
    if truth_file.is_file():
        _truths, meta = load_truth(truth_file)
        if meta.get("sessions") == sessions and meta.get("seed") == seed:
            return
        raise SystemExit(f"{root} holds another corpus; pick another --corpus")
    if root.exists() and any(root.iterdir()):
        raise SystemExit(f"{root} is not empty and has no {TRUTH}")
    truths = generate(root, sessions=sessions, seed=seed)
    save_truth(truth_file, truths, {"sessions": sessions, "seed": seed})


def readable_copy(root: Path, into: Path) -> int:
    """Hard links of every file except the spaced-JSON sessions'; returns how many sessions were left out."""
    truths, _meta = load_truth(root / TRUTH)
    skip = {f for t in truths.values() if t.spaced for f in t.files}
    for path in root.rglob("*"):
        rel = path.relative_to(root).as_posix()
        if path.is_file() and rel not in skip and rel != TRUTH:
            target = into / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            os.link(path, target)
    return sum(1 for t in truths.values() if t.spaced)


def _tokens(d: dict[str, Any], keys: tuple[str, str, str, str]) -> Tokens:
    return (int(d[keys[0]]), int(d[keys[1]]), int(d[keys[2]]), int(d[keys[3]]))


def ccusage_daily(out: bytes) -> dict[str, Tokens]:
    keys = ("inputTokens", "outputTokens", "cacheCreationTokens", "cacheReadTokens")
    return {str(d["date"]): _tokens(d, keys) for d in json.loads(out)["daily"]}


def ccusage_blocks(out: bytes) -> dict[str, Tokens]:
    keys = ("inputTokens", "outputTokens", "cacheCreationInputTokens", "cacheReadInputTokens")
    blocks = json.loads(out)["blocks"]
    return {str(b["startTime"])[:19]: _tokens(b["tokenCounts"], keys) for b in blocks if not b.get("isGap")}


def lsm_rows(out: bytes) -> dict[str, Tokens]:
    keys = ("input", "output", "cache_creation", "cache_read")
    return {str(r["period"])[:19]: _tokens(r["tokens"], keys) for r in json.loads(out)["rows"]}


def differences(name: str, lsm: dict[str, Tokens], cc: dict[str, Tokens]) -> int:
    bad = 0
    for key in sorted(set(lsm) | set(cc)):
        a, b = lsm.get(key), cc.get(key)
        if a != b:
            bad += 1
            print(f"  {name} {key}: lsm {a} ccusage {b}")
    print(f"{name}: {len(cc)} in ccusage, {len(lsm)} in lsm, {bad} differ")
    return bad


def _run(label: str, argv: list[str], env: dict[str, str]) -> Run:
    run = run_measured(label, argv, env, timeout=900)
    if run.returncode != 0:
        raise SystemExit(f"{label} failed ({run.returncode}): {run.stderr.strip()[:400] or run.error}")
    print(f"{label:<16} {run.wall_s:6.2f} s  peak RSS {run.max_rss_mb or 0:.0f} MB")
    return run


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=Path("/tmp/lsm-report-corpus"))
    ap.add_argument("--sessions", type=int, default=400)
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--ccusage", default=None, help="ccusage command (default: the one in /tmp/ccusage-try)")
    args = ap.parse_args(argv)
    ensure_corpus(args.corpus, args.sessions, args.seed)
    python = str(REPO / ".venv" / "bin" / "python")
    lsm = [python, "-m", "llm_session_manager", "report"]
    with tempfile.TemporaryDirectory(prefix="lsm-cmp-reports-") as tmp:
        base = Path(tmp)
        left_out = readable_copy(args.corpus, base / "corpus")
        (base / "home").mkdir()
        print(f"corpus {args.corpus}: {args.sessions} sessions, {left_out} spaced-JSON ones left out")
        env = isolated_env(base / "corpus", base / "home", base / "lsm")
        env["LSM_DISCOVERY"] = "off"
        cc_argv = ccusage_argv(args.ccusage)[:-4]  # the binary, without "claude session --json --offline"
        cc_day = _run(
            "ccusage daily", [*cc_argv, "claude", "daily", "--json", "--offline", "--timezone", "UTC"], env
        )
        cc_blk = _run("ccusage blocks", [*cc_argv, "claude", "blocks", "--json", "--offline"], env)
        lsm_day = _run("lsm daily cold", [*lsm, "daily", "--timezone", "UTC", "-f", "json"], env)
        _run("lsm daily warm", [*lsm, "daily", "--timezone", "UTC", "-f", "json"], env)
        lsm_blk = _run("lsm blocks warm", [*lsm, "blocks", "-f", "json"], env)
        bad = differences("day", lsm_rows(lsm_day.stdout), ccusage_daily(cc_day.stdout))
        bad += differences("block", lsm_rows(lsm_blk.stdout), ccusage_blocks(cc_blk.stdout))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
