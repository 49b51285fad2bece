"""Manual check of process discovery on YOUR machine (read-only).

Run:  python manual_tests/test_discovery.py [--days N]

Prints every running agent process lsm finds — Claude Code, Codex, Gemini CLI, Aider, the Cursor
Agent CLI, the Cursor IDE, the Copilot CLI and VS Code (standing for GitHub Copilot, Cline, Roo) —
with pid, cwd, state, session hint and where it came from; the transcript each Claude Code process is
linked to; and — so you can judge the false-positive filters — every other process of yours that
merely mentions one of those names and was rejected.

Things to try and compare with what you know:
* a few `claude` sessions (two in the same folder, one with `--resume`, one after `/clear`);
* `codex` (npm and native): ONE row per session, the npm `node …/codex.js` parent not listed; after
  the first message the hint is the rollout uuid (`open-file`); `codex app-server` (the IDE
  extension) is not listed;
* `gemini`: ONE row (its re-launched child, with `--max-old-space-size` in argv);
* `aider`, `cursor-agent` (its `worker-server` helper not listed), `copilot` (the native binary,
  not the `node npm-loader.js` parent);
* Cursor and VS Code open with several windows: exactly ONE row each, however many helpers run.

It only reads: the process table, ``<config dir>/sessions/*.json`` and the first lines and mtimes of
``<config dir>/projects/*/*.jsonl`` for the Claude config dirs lsm would use (CLAUDE_CONFIG_DIR or
~/.claude), and the first line of rollouts a Codex process holds open. Nothing is written anywhere.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

import psutil

from llm_session_manager import discovery, paths

HEAD_LINES = 40


def _parse_ts(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _candidate(path: Path) -> discovery.Candidate | None:
    """A transcript as a link candidate: its cwd and first timestamp from the head, its mtime."""
    try:
        mtime = path.stat().st_mtime
        cwd: str | None = None
        first: datetime | None = None
        with path.open("rb") as fh:
            for _, raw in zip(range(HEAD_LINES), fh):
                try:
                    obj = json.loads(raw)
                except ValueError:
                    continue
                if not isinstance(obj, dict):
                    continue
                cwd = cwd or (obj.get("cwd") if isinstance(obj.get("cwd"), str) else None)
                first = first or _parse_ts(obj.get("timestamp"))
                if cwd and first:
                    break
    except OSError:
        return None
    return discovery.Candidate(path.stem, cwd, datetime.fromtimestamp(mtime, tz=timezone.utc), first)


Found = tuple[list[discovery.Candidate], dict[str, Path]]


def _candidates(config_dirs: Sequence[Path], days: float) -> Found:
    cutoff = time.time() - days * 86400
    found: list[discovery.Candidate] = []
    where: dict[str, Path] = {}
    for config_dir in config_dirs:
        for path in sorted((config_dir / "projects").glob("*/*.jsonl")):  # top level only: no subagents
            try:
                if path.stat().st_mtime < cutoff:
                    continue
            except OSError:
                continue
            cand = _candidate(path)
            if cand is not None:
                found.append(cand)
                where[cand.native_id] = path
    return found, where


def _age(when: datetime | None) -> str:
    if when is None:
        return "?"
    secs = max(0.0, (datetime.now(timezone.utc) - when).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if secs >= size:
            return f"{secs / size:.0f}{unit} ago"
    return f"{secs:.0f}s ago"


KEYWORDS = (
    "claude",
    "codex",
    "gemini",
    "aider",
    "cursor",
    "copilot",
    "visual studio code",
    "/code",
    "codium",
)


def _rejected(found_pids: set[int]) -> list[str]:
    """Processes of ours that mention an agent but are not reported, with the reason in brief."""
    out: list[str] = []
    me = os.getpid()
    for proc in psutil.process_iter(["pid", "name", "exe", "cmdline"], ad_value=None):
        info = proc.info
        argv = info.get("cmdline") or []
        text = " ".join([info.get("name") or "", *argv])
        if info["pid"] in found_pids or info["pid"] == me or not any(k in text.lower() for k in KEYWORDS):
            continue
        agent = discovery.classify(info.get("name"), info.get("exe"), argv)
        why = (
            "no agent signature matches"
            if agent is None
            else f"{agent}: own tree / wrapper / editor helper / other user / zombie"
        )
        out.append(f"  {info['pid']:>7}  {why:<58}  {text[:100]}")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--days", type=float, default=14, help="transcripts written in the last N days")
    args = parser.parse_args(argv)

    config_dirs = [d for d in paths.resolve().claude_config_dirs if d.is_dir()]
    print("Claude config dirs:", ", ".join(map(str, config_dirs)) or "(none found)")
    # cpu_percent needs two samples: the first scan primes psutil, the second reports CPU% since then.
    discovery.scan_processes(config_dirs)
    time.sleep(1.0)
    procs = discovery.scan_processes(config_dirs)
    candidates, where = _candidates(config_dirs, args.days)
    links = discovery.link_sessions([p for p in procs if p.agent == "claude-code"], candidates)

    claude = [p for p in procs if p.agent == "claude-code"]
    print(f"\n{len(procs)} agent process(es), {len(claude)} of them Claude Code; ", end="")
    print(f"{len(candidates)} Claude transcript(s) in {args.days:g} days\n")
    for p in procs:
        rss = f"{(p.rss_bytes or 0) / 2**20:.0f} MiB"
        print(f"{p.agent:<12} pid {p.pid}  started {_age(p.started_at)}  cpu {p.cpu_pct}%  rss {rss}")
        print(f"    cwd      {p.cwd}")
        print(f"    argv     {' '.join(p.cmdline)[:150]}")
        print(f"    state    {p.state} (changed {_age(p.state_updated_at)})" if p.state else "    state    -")
        print(f"    hint     {p.session_hint} ({p.hint_source})" if p.session_hint else "    hint     -")
        if p.agent != "claude-code":
            print("    linked   (by lsm's service: the hint, else the newest session in its cwd)\n")
            continue
        linked = links.get(p.pid)
        if linked is None:
            print("    linked   - (no transcript identified; shared cwd or nothing written since start?)")
        else:
            path = where.get(linked)
            print(f"    linked   {linked}  {path if path else '(no transcript yet: new session)'}")
        print()

    rejected = _rejected({p.pid for p in procs})
    print(f"{len(rejected)} other process(es) mentioning an agent (not reported):")
    print("\n".join(rejected) if rejected else "  none")
    return 0


if __name__ == "__main__":
    sys.exit(main())
