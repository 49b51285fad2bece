#!/usr/bin/env python3
"""Warm `lsm list` on unchanged history: the fast path (fastlist.py) against the tree before it.

    cd /tmp && python /work/main/bench/bench_fast_list.py --tree before=/tmp/lsm-fl-before \\
        --tree after=/work/main [--scales 1,2] [--rounds 5]

Uses bench_speed.py's corpora (``/tmp/lsm-speed-{N}x``, made there) and its way of running: every run
is a child in an empty environment (``HOME`` empty, ``CLAUDE_CONFIG_DIR=<corpus>``), wall time around
it, CPU from ``wait4``; ``LSM_DISCOVERY_UNDER`` keeps agents that other jobs run out of its world.
Each tree has its own LSM_HOME (their database schemas differ), filled by one cold run. Then, round
after round and alternating trees: ``list --all --format json``, ``list --format json``, the tables
``list --all`` and ``list`` (piped, and ``list --all`` on a coloured 120-column "terminal":
FORCE_COLOR=1 COLUMNS=120) and ``--version``. Every output must be byte-identical across trees (the
tables' ages are drawn at each run; the corpus is a year old, so they agree unless a run straddles a
day). Medians.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_speed import REPO, clean_env, measure

CASES = {
    "list --all --format json": ["list", "--all", "--format", "json"],
    "list --format json": ["list", "--format", "json"],
    "list --all (table)": ["list", "--all"],
    "list (table)": ["list"],
    "list --all (table, 120 columns)": ["list", "--all"],
    "--version": ["--version"],
}
TERMINAL = {"FORCE_COLOR": "1", "COLUMNS": "120", "TERM": "xterm-256color"}


Trees = list[tuple[str, str]]


def run_scale(scale: int, args: argparse.Namespace, trees: Trees) -> int:
    """One corpus: each tree's cold run, then the rounds; prints the table's rows, returns failures."""
    corpus = Path(f"{args.corpus_prefix}-{scale}x")
    if not (corpus / "projects").is_dir():
        sys.exit(f"{corpus}: no corpus (bench_speed.py makes it)")
    bad = 0
    samples: dict[tuple[str, str], list[tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "home").mkdir()
        envs = {}
        for label, path in trees:
            # Agents other jobs run on this machine are no part of the corpus's world.
            extra = {"PYTHONPATH": path, "LSM_HOME": f"{tmp}/{label}", "LSM_DISCOVERY_UNDER": str(corpus)}
            envs[label] = clean_env(corpus, Path(tmp) / "home", extra)
            measure([args.python, "-m", "llm_session_manager", "list", "--all"], envs[label])  # cold
        for _ in range(args.rounds):
            for case, words in CASES.items():
                outputs = set()
                for label, _ in trees:
                    env = {**envs[label], **TERMINAL} if "columns" in case else envs[label]
                    sample, data = measure([args.python, "-m", "llm_session_manager", *words], env)
                    if not sample.ok:
                        print(f"{label} {case}: {sample.note}", file=sys.stderr)
                        bad += 1
                    samples.setdefault((case, label), []).append((sample.wall, sample.cpu))
                    if case != "--version":
                        outputs.add(data)
                if len(outputs) > 1:
                    print(f"{scale}x {case}: outputs differ between trees", file=sys.stderr)
                    bad += 1
    for case in CASES:
        cells = []
        for label, _ in trees:
            runs = samples[(case, label)]
            wall = statistics.median(r[0] for r in runs)
            cpu = statistics.median(r[1] for r in runs)
            cells.append(f"{wall:.3f} / {cpu:.3f} s")
        print(f"| {scale}x | {case} | " + " | ".join(cells) + " |", flush=True)
    return bad


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tree", action="append", required=True, help="LABEL=PATH of an lsm source tree")
    p.add_argument("--scales", default="1,2")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--corpus-prefix", default="/tmp/lsm-speed")
    p.add_argument("--python", default=str(REPO / ".venv" / "bin" / "python"))
    args = p.parse_args(argv)
    trees: Trees = [(t.split("=", 1)[0], t.split("=", 1)[1]) for t in args.tree]
    print("| corpus | case | " + " | ".join(f"{label} wall / CPU" for label, _ in trees) + " |")
    print("|---|---|" + "---|" * len(trees))
    bad = sum(run_scale(int(s), args, trees) for s in args.scales.split(","))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
