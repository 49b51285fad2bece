#!/usr/bin/env python3
"""Time `lsm list --all --format json` on a mixed-agent HOME: Claude Code transcripts from the corpus
generator plus many copies (with fresh ids) of every other agent's test fixtures.

    python bench/bench_mixed.py [--home DIR] [--claude-mb 100] [--copies 300] [--runs 3]

Prints the size of each agent's share, cold and warm wall times and peak RSS, and the sessions per
agent that lsm listed. Not run in CI (numbers go in closing notes).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FIX = REPO / "tests" / "fixtures"
sys.path.insert(0, str(REPO / "tests"))


def _copy_with_ids(src: Path, dst: Path, replace: dict[str, str]) -> None:
    text = src.read_text(encoding="utf-8")
    for old, new in replace.items():
        text = text.replace(old, new)
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_text(text, encoding="utf-8")


def build(home: Path, claude_mb: int, copies: int) -> None:
    from claude_corpus import generate

    generate(home / ".claude", sessions=max(50, claude_mb * 5), seed=3, target_bytes=claude_mb * 1_000_000)
    codex_src = FIX / "codex" / "stage0_small.jsonl"
    codex_text = codex_src.read_text(encoding="utf-8")
    first_id = json.loads(codex_text.splitlines()[0])["payload"]["id"]
    gemini_src = FIX / "gemini" / "jsonl_v040.jsonl"
    gemini_id = json.loads(gemini_src.read_text().splitlines()[0])["sessionId"]
    copilot_src = FIX / "copilot" / "session-01-today.json"
    copilot_id = "req_today_"  # the fixture has no sessionId: the file name is the id
    for i in range(copies):
        new = str(uuid.UUID(int=i + 1))
        _copy_with_ids(
            codex_src,
            home
            / ".codex"
            / "sessions"
            / "2026"
            / "11"
            / f"{i % 28 + 1:02d}"
            / f"rollout-2026-11-01T00-00-00-{new}.jsonl",
            {first_id: new},
        )
        _copy_with_ids(
            gemini_src,
            home / ".gemini" / "tmp" / f"proj{i % 20}" / "chats" / f"session-{new}.jsonl",
            {gemini_id: new},
        )
        ws = home / ".config" / "Code" / "User" / "workspaceStorage" / f"ws{i % 20}"
        (ws / "workspace.json").parent.mkdir(parents=True, exist_ok=True)
        (ws / "workspace.json").write_text(json.dumps({"folder": f"file:///home/dev/p{i % 20}"}))
        _copy_with_ids(copilot_src, ws / "chatSessions" / f"{new}.json", {copilot_id: f"req_{i}_"})
        tasks = home / ".config" / "Code" / "User" / "globalStorage" / "saoudrizwan.claude-dev" / "tasks"
        shutil.copytree(FIX / "cline" / "cline" / "1733000000000", tasks / str(1733000000000 + i))
        if i < copies // 10:
            repo = home / "src" / f"repo{i}"
            (repo / ".git").mkdir(parents=True, exist_ok=True)
            shutil.copy(FIX / "aider" / "chat-history.excerpt.md", repo / ".aider.chat.history.md")


def share(home: Path) -> dict[str, float]:
    out = {}
    for name, rel in (
        ("claude-code", ".claude"),
        ("codex", ".codex"),
        ("gemini", ".gemini"),
        ("vscode (copilot, cline)", ".config/Code"),
        ("aider", "src"),
    ):
        total = sum(p.stat().st_size for p in (home / rel).rglob("*") if p.is_file())
        out[name] = round(total / 1e6, 1)
    return out


def run(home: Path, lsm_home: Path) -> tuple[float, float, list[dict[str, object]]]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("LSM_", "CLAUDE_", "XDG_", "CODEX", "GEMINI"))
    }
    env.update(HOME=str(home), LSM_HOME=str(lsm_home), LSM_DISCOVERY="off", PYTHONPATH=str(REPO))
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "llm_session_manager", "list", "--all", "--format", "json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    wall = time.perf_counter() - start
    peak = max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, before) / 1024
    return wall, peak, json.loads(out.stdout)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--home", type=Path, default=Path(tempfile.gettempdir()) / "lsm-bench-mixed")
    ap.add_argument("--claude-mb", type=int, default=100)
    ap.add_argument("--copies", type=int, default=300)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    home = args.home / "home"
    if not home.exists():
        print(f"building {home} ...", flush=True)
        build(home, args.claude_mb, args.copies)
    sizes = share(home)
    print("corpus MB by agent:", sizes, "total", round(sum(sizes.values()), 1))
    lsm_home = args.home / "lsm"
    shutil.rmtree(lsm_home, ignore_errors=True)
    for i in range(args.runs):
        wall, peak, rows = run(home, lsm_home)
        counts: dict[str, int] = {}
        for row in rows:
            counts[str(row["agent"])] = counts.get(str(row["agent"]), 0) + 1
        label = "cold" if i == 0 else f"warm{i}"
        print(f"{label:6s} {wall:6.2f} s  peak RSS <= {peak:.0f} MiB  sessions {len(rows)} {counts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
