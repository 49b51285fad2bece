"""Official limits and statusline samples: the spool `lsm statusline` appends to, moved into SQLite on read.

The statusline runs on every Claude Code refresh and must never wait for a database another lsm is
writing, so it appends one JSON line to ``statusline.jsonl`` in the data folder (see statusline.py for
the line's keys). ``compact`` renames the spool first (appenders then start a new file), copies its lines
into ``limit_observations`` and ``statusline_samples``, and deletes it; a copy left by a crash is picked up
the next time. A bad line is skipped and counted. Rows older than ``KEEP_DAYS`` are dropped as they go
(the longest official window is 7 days). The lines of the last half hour (at most ``RECENT_LINES``) are
also kept in ``statusline.recent.jsonl``, where the statusline finds the context trend it projects the
time to auto-compact from, whoever compacted the spool.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from llm_session_manager.limits import Observation

SPOOL_NAME = "statusline.jsonl"
RECENT_NAME = "statusline.recent.jsonl"  # = statusline.RECENT_NAME
RECENT_SECONDS = 30 * 60
RECENT_LINES = 120
COMPACTING = ".compacting-"
KEEP_DAYS = 8
MAX_SPOOL_BYTES = 64 << 20  # a spool this big is not ours to read whole: it is dropped
SOURCE = "statusline"
CLAUDE = "claude-code"


@dataclass
class Compacted:
    lines: int = 0
    bad_lines: int = 0


def spool_path(data_dir: Path) -> Path:
    return data_dir / SPOOL_NAME


def _claim(data_dir: Path) -> list[Path]:
    """The spool renamed aside (so that appenders move on to a new file), with any left by a crash."""
    spool = spool_path(data_dir)
    with contextlib.suppress(FileNotFoundError):
        os.replace(spool, data_dir / f"{SPOOL_NAME}{COMPACTING}{os.getpid()}-{time.monotonic_ns()}")
    return sorted(data_dir.glob(f"{SPOOL_NAME}{COMPACTING}*"))


def _lines(path: Path) -> Iterator[bytes]:
    try:
        if path.stat().st_size > MAX_SPOOL_BYTES:
            return
        with path.open("rb") as fh:
            yield from fh
    except OSError:
        return


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _rows(line: bytes) -> tuple[tuple[Any, ...], list[tuple[Any, ...]]]:
    """(sample row, limit rows) of one spool line; ValueError/TypeError/KeyError when it is not one."""
    rec = json.loads(line)
    at = _num(rec["t"])
    sid = rec.get("sid")
    if at is None or not isinstance(sid, (str, type(None))):
        raise ValueError("bad spool line")
    sample = (
        sid or "",
        at,
        rec.get("model") if isinstance(rec.get("model"), str) else None,
        _num(rec.get("ctx_tokens")),
        _num(rec.get("ctx_window")),
        _num(rec.get("ctx_pct")),
        _num(rec.get("cost")),
    )
    limits: list[tuple[Any, ...]] = []
    for window, used, resets in rec.get("limits") or ():
        if not isinstance(window, str) or _num(used) is None:
            raise ValueError("bad limit")
        limits.append((CLAUDE, window, _num(used), _num(resets), at, SOURCE, sid))
    return sample, limits


def compact(conn: sqlite3.Connection, data_dir: Path, now: float | None = None) -> Compacted:
    """Move every spooled line into the store and forget rows older than KEEP_DAYS."""
    result = Compacted()
    claimed = _claim(data_dir)
    samples: list[tuple[Any, ...]] = []
    limits: list[tuple[Any, ...]] = []
    good: list[tuple[float, bytes]] = []
    for path in claimed:
        for line in _lines(path):
            if not line.strip():
                continue
            try:
                sample, rows = _rows(line)
            except (ValueError, TypeError, KeyError):
                result.bad_lines += 1
                continue
            result.lines += 1
            good.append((sample[1], line.rstrip(b"\n")))
            if sample[0]:
                samples.append(sample)
            limits.extend(rows)
    now = now if now is not None else time.time()
    cutoff = now - KEEP_DAYS * 86400
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.executemany("INSERT OR IGNORE INTO statusline_samples VALUES (?, ?, ?, ?, ?, ?, ?)", samples)
        conn.executemany("INSERT OR IGNORE INTO limit_observations VALUES (?, ?, ?, ?, ?, ?, ?)", limits)
        conn.execute("DELETE FROM statusline_samples WHERE observed_at < ?", (cutoff,))
        conn.execute("DELETE FROM limit_observations WHERE observed_at < ?", (cutoff,))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    if good:
        _keep_recent(data_dir, good, now)
    for path in claimed:
        path.unlink(missing_ok=True)
    return result


def _keep_recent(data_dir: Path, lines: list[tuple[float, bytes]], now: float) -> None:
    """Rewrite the recent file: its lines and the new ones of the last RECENT_SECONDS, newest kept."""
    from llm_session_manager.agent_config import write_atomic

    recent = data_dir / RECENT_NAME
    for line in _lines(recent):
        try:
            at = json.loads(line)["t"]
        except (ValueError, TypeError, KeyError):
            continue
        if isinstance(at, (int, float)):
            lines.append((float(at), line.rstrip(b"\n")))
    kept = sorted({(at, line) for at, line in lines if now - RECENT_SECONDS <= at <= now + 60})
    write_atomic(recent, b"".join(line + b"\n" for _at, line in kept[-RECENT_LINES:]), mode=0o600)


def _when(seconds: float | None) -> datetime | None:
    if seconds is None:
        return None
    try:
        return datetime.fromtimestamp(seconds, timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None


def observations(conn: sqlite3.Connection) -> list[Observation]:
    """Every stored limit observation (the last KEEP_DAYS days)."""
    out: list[Observation] = []
    query = (
        "SELECT agent, window_name, used_percent, resets_at, observed_at, source, session_id "
        "FROM limit_observations ORDER BY observed_at"
    )
    for agent, window, used, resets, observed, source, sid in conn.execute(query):
        at = _when(observed)
        if at is not None:
            out.append(Observation(agent, window, float(used), _when(resets), at, source, sid))
    return out
