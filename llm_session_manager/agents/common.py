"""Small helpers every reader shares: file identity and rewrites, skipped lines, the recent window."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path
from typing import Any

from llm_session_manager.agents.base import FileState
from llm_session_manager.timefmt import canonical_ts, parse_ts

HEAD_BYTES = 256  # how much of a file's start fingerprints it (a rewritten file is read again)
RECENT_KEEP = 20  # tool results kept for the error-rate part of health
RECENT_WINDOW = timedelta(minutes=30)  # "recent" = this long before the session's last activity


def file_identity(st: os.stat_result) -> tuple[int, int, int, int]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def head_of(path: str | Path) -> bytes:
    with open(path, "rb") as fh:
        return hashlib.blake2b(fh.read(HEAD_BYTES), digest_size=16).digest()


def needs_full_read(prior: FileState | None, identity: tuple[int, int, int, int], head: bytes) -> bool:
    """A file read before continues from its offset only if it is the same file and only grew."""
    if prior is None:
        return True
    dev, ino, size, mtime = identity
    pdev, pino, psize, pmtime = prior.identity
    if (dev, ino) != (pdev, pino) or size < prior.offset or head != prior.head:
        return True
    # Written to without growing: rewritten in place (an append always makes the file larger).
    return size == psize and mtime != pmtime


def bad_line(data: dict[str, Any]) -> None:
    """Count a line that is not JSON."""
    data["skipped"] += 1


def window_start(last_ts: str | None) -> str:
    """The canonical timestamp RECENT_WINDOW before ``last_ts`` ("" when unknown)."""
    last = parse_ts(last_ts) if last_ts else None
    if last is None:
        return ""
    return canonical_ts((last - RECENT_WINDOW).isoformat()) or ""


def recent_rows(datas: Iterable[dict[str, Any]], last_ts: str | None) -> list[list[Any]]:
    """The last RECENT_KEEP ``[ts, is_error]`` tool results within RECENT_WINDOW of ``last_ts``."""
    start = window_start(last_ts)
    rows = sorted((r for d in datas for r in d.get("recent", [])), key=lambda r: r[0] or "")
    return [r for r in rows if (r[0] or "") >= start][-RECENT_KEEP:]


def count_recent(stamps: Iterable[str | None], last_ts: str | None) -> int:
    """How many of ``stamps`` fall within RECENT_WINDOW of ``last_ts``."""
    start = window_start(last_ts)
    return sum(1 for t in stamps if t and t >= start)


def scandir(path: str | Path) -> list[os.DirEntry[str]]:
    """The entries of a folder; none when it is missing or unreadable (never an exception)."""
    try:
        with os.scandir(path) as it:
            return list(it)
    except OSError:
        return []


def scandir_sorted(path: str | Path) -> list[os.DirEntry[str]]:
    """``scandir`` in name order, for readers whose results must not depend on the file system's order."""
    return sorted(scandir(path), key=lambda e: e.name)


def note_ts(data: dict[str, Any], raw: Any) -> str | None:
    """The canonical form of a line's timestamp, widening ``data``'s first_ts/last_ts to include it."""
    if raw is None:
        return None
    ts = raw if type(raw) is str and len(raw) == 24 and raw[23] == "Z" else canonical_ts(raw)
    if ts is not None:
        if data["first_ts"] is None or ts < data["first_ts"]:
            data["first_ts"] = ts
        if data["last_ts"] is None or ts > data["last_ts"]:
            data["last_ts"] = ts
    return ts
