"""Organising sessions: tags, project names, descriptions, search, patterns and closing.

Everything here writes only to lsm's own database; the agents' files stay read-only. The only effect
outside the database is ending an agent process when a running session is closed, and only a process
that discovery identified as that session's own.
"""

from __future__ import annotations

import fnmatch
import re
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from llm_session_manager.agents import editor_hosted
from llm_session_manager.errors import UsageError
from llm_session_manager.models import SessionView
from llm_session_manager.service import project_name

TAG_RE = re.compile(r"^[a-z0-9._-]+$")
TAG_MAX = 64


def normalise_tag(raw: str) -> str:
    """Lower-case and trim a tag; anything outside ``[a-z0-9._-]`` is an error, never silently changed."""
    tag = raw.strip().lower()
    if not tag:
        raise UsageError("empty tag")
    if len(tag) > TAG_MAX:
        raise UsageError(f"tag '{raw}' is longer than {TAG_MAX} characters")
    if not TAG_RE.match(tag):
        raise UsageError(f"bad tag '{raw}': use only letters, digits, '.', '_' and '-'")
    return tag


def normalise_tags(raw: Iterable[str]) -> list[str]:
    out: list[str] = []
    for item in raw:
        tag = normalise_tag(item)
        if tag not in out:
            out.append(tag)
    if not out:
        raise UsageError("give at least one tag")
    return out


def matches_pattern(view: SessionView, pattern: str) -> bool:
    """``all``, or a case-insensitive glob over the session's ids, title and project names."""
    if pattern.strip().lower() == "all":
        return True
    pat = pattern.strip().lower()
    s = view.session
    fields = [s.id, s.native_id, s.title or "", project_name(view) or "", view.project or ""]
    if s.project_path:
        fields.append(s.project_path)
    return any(fnmatch.fnmatchcase(f.lower(), pat) for f in fields if f)


def select(views: Sequence[SessionView], pattern: str, statuses: Sequence[str] = ()) -> list[SessionView]:
    return [v for v in views if matches_pattern(v, pattern) and (not statuses or v.status in statuses)]


@dataclass(frozen=True)
class SearchHit:
    view: SessionView
    score: float


_WORD = re.compile(r"\w+", re.UNICODE)


def search(views: Sequence[SessionView], text: str, limit: int | None = None) -> list[SearchHit]:
    """Sessions whose description, title, tags or project contain every word of ``text`` (prefixes
    match too), best first. Uses an in-memory SQLite FTS5 index built from the current sessions, so
    it always agrees with what `lsm list` shows."""
    words = _WORD.findall(text.lower())
    if not words:
        raise UsageError("give some words to search for")
    conn = sqlite3.connect(":memory:")
    try:
        conn.execute(
            "CREATE VIRTUAL TABLE idx USING fts5(description, title, tags, project, path,"
            " tokenize='unicode61 remove_diacritics 2')"
        )
        conn.executemany(
            "INSERT INTO idx (rowid, description, title, tags, project, path) VALUES (?, ?, ?, ?, ?, ?)",
            [
                (
                    i,
                    v.description or "",
                    v.session.title or "",
                    " ".join(v.tags),
                    project_name(v) or "",
                    (v.session.project_path or "").replace("/", " ").replace("\\", " "),
                )
                for i, v in enumerate(views)
            ],
        )
        query = " AND ".join('"' + w.replace('"', '""') + '"*' for w in words)
        # bm25 weights: description and title count most, then tags, project, path.
        rows = conn.execute(
            "SELECT rowid, bm25(idx, 4.0, 3.0, 2.0, 2.0, 0.5) AS rank FROM idx WHERE idx MATCH ?"
            " ORDER BY rank",
            (query,),
        ).fetchall()
    finally:
        conn.close()
    hits = [SearchHit(views[rowid], round(-rank, 4)) for rowid, rank in rows]
    return hits[:limit] if limit else hits


@dataclass(frozen=True)
class CloseOutcome:
    session_id: str
    pid: int | None
    action: str  # "marked closed", "would close", "terminated", "killed", "still running", ...
    detail: str = ""


def end_process(pid: int, expected_start: float | None, timeout: float = 5.0) -> tuple[str, str]:
    """End one agent process gracefully: SIGTERM (terminate on Windows), wait, report.

    ``expected_start`` (the start time discovery saw) guards against a reused pid: a different process
    is never signalled.
    """
    import psutil

    try:
        proc = psutil.Process(pid)
        if expected_start is not None and abs(proc.create_time() - expected_start) > 1.0:
            return "not signalled", "the pid now belongs to another process"
        proc.terminate()
    except psutil.NoSuchProcess:
        return "already gone", ""
    except psutil.AccessDenied:
        return "not signalled", "permission denied"
    if _wait_gone(proc, timeout):
        return "terminated", ""
    return "still running", f"did not exit within {timeout:g} s of SIGTERM; not killed"


def _wait_gone(proc: Any, timeout: float) -> bool:
    """True once the process has exited (a zombie waiting for its parent to reap it has exited too)."""
    import time

    import psutil

    deadline = time.monotonic() + timeout
    while True:
        try:
            if proc.status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def close_sessions(
    conn: sqlite3.Connection, views: Sequence[SessionView], *, dry_run: bool, timeout: float = 5.0
) -> list[CloseOutcome]:
    """Mark sessions closed (all in one transaction) and end their agent processes."""
    from datetime import datetime, timezone

    from llm_session_manager.store import meta

    outcomes: list[CloseOutcome] = []
    if dry_run:
        for v in views:
            proc = v.session.process
            signal = proc is not None and not editor_hosted(proc.agent)
            what = (
                f"would mark closed and send SIGTERM to pid {proc.pid}"
                if signal and proc
                else "would mark closed"
            )
            outcomes.append(CloseOutcome(v.session.id, proc.pid if proc else None, "dry run", what))
        return outcomes
    stamp = datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")
    meta.set_field(conn, [v.session.id for v in views], "closed_at", stamp)
    for v in views:
        proc = v.session.process
        if proc is None:
            outcomes.append(CloseOutcome(v.session.id, None, "marked closed"))
            continue
        if editor_hosted(proc.agent):  # closing one session must never end the whole editor
            outcomes.append(
                CloseOutcome(v.session.id, proc.pid, "marked closed", "the editor is left running")
            )
            continue
        started = proc.started_at.timestamp() if proc.started_at else None
        action, detail = end_process(proc.pid, started, timeout)
        outcomes.append(CloseOutcome(v.session.id, proc.pid, action, detail))
    return outcomes
