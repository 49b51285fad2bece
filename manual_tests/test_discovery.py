"""Manual check of process discovery on YOUR machine (read-only).

Run:  python manual_tests/test_discovery.py [--days N]

Prints every running Claude Code process lsm finds (pid, cwd, state, session hint and where it came
from), the transcript each one is linked to, and — so you can judge the false-positive filters — every
other process of yours that merely mentions "claude" and was rejected. Start a few `claude` sessions
(two in the same folder, one with `--resume`, one after `/clear`) and compare with what you know.

It only reads: ``<config dir>/sessions/*.json`` and the first lines and mtimes of
``<config dir>/projects/*/*.jsonl`` for the Claude config dirs lsm would use (CLAUDE_CONFIG_DIR or
~/.claude). Nothing is written anywhere.
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


def _rejected(found_pids: set[int]) -> list[str]:
    """Processes of ours that mention "claude" but are not reported, with the reason in brief."""
    out: list[str] = []
    me = os.getpid()
    for proc in psutil.process_iter(["pid", "name", "exe", "cmdline"], ad_value=None):
        info = proc.info
        argv = info.get("cmdline") or []
        text = " ".join([info.get("name") or "", *argv])
        if info["pid"] in found_pids or info["pid"] == me or "claude" not in text.lower():
            continue
        agent = discovery.classify(info.get("name"), info.get("exe"), argv)
        why = "not a Claude Code signature" if agent is None else "own tree / wrapper / other user / zombie"
        out.append(f"  {info['pid']:>7}  {why:<40}  {text[:110]}")
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
    links = discovery.link_sessions(procs, candidates)

    print(f"\n{len(procs)} Claude Code process(es); {len(candidates)} transcript(s) in {args.days:g} days\n")
    for p in procs:
        rss = f"{(p.rss_bytes or 0) / 2**20:.0f} MiB"
        print(f"pid {p.pid}  started {_age(p.started_at)}  cpu {p.cpu_pct}%  rss {rss}")
        print(f"    cwd      {p.cwd}")
        print(f"    argv     {' '.join(p.cmdline)[:150]}")
        print(f"    state    {p.state} (changed {_age(p.state_updated_at)})" if p.state else "    state    -")
        print(f"    hint     {p.session_hint} ({p.hint_source})" if p.session_hint else "    hint     -")
        linked = links.get(p.pid)
        if linked is None:
            print("    linked   - (no transcript identified; shared cwd or nothing written since start?)")
        else:
            path = where.get(linked)
            print(f"    linked   {linked}  {path if path else '(no transcript yet: new session)'}")
        print()

    rejected = _rejected({p.pid for p in procs})
    print(f"{len(rejected)} other process(es) mentioning 'claude' (not reported):")
    print("\n".join(rejected) if rejected else "  none")
    return 0


if __name__ == "__main__":
    sys.exit(main())
