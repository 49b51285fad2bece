"""Sessions whose transcript files are gone: their last known numbers, kept in our own store.

Claude Code deletes transcripts after 30 days by default, and other agents clean up too. When every file
of a session disappears, the scan hands the session as it last stood (totals, per-model tokens and the
per-minute usage history) to ``save``; it is then listed with status "archived" and still counts in the
usage reports, until ``prune`` forgets it. A session whose files come back is live again (live wins).
"""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Iterable
from datetime import datetime, timezone

import orjson

from llm_session_manager.codec import session_from_dict, session_to_dict
from llm_session_manager.models import Session
from llm_session_manager.timefmt import iso

ORIGIN = "archived"


def save(conn: sqlite3.Connection, sessions: Iterable[Session], now: datetime | None = None) -> int:
    """Store ``sessions`` (replacing an older copy of the same id); returns how many were stored."""
    at = iso(now or datetime.now(timezone.utc))
    rows = [
        (
            s.id,
            s.agent,
            iso(s.last_activity),
            at,
            orjson.dumps(session_to_dict(dataclasses.replace(s, process=None, origin=ORIGIN))),
        )
        for s in sessions
        if s.transcript_paths and s.origin == "live"
    ]
    if rows:
        conn.executemany(
            "INSERT OR REPLACE INTO archived_sessions (session_id, agent, last_activity, archived_at, doc)"
            " VALUES (?, ?, ?, ?, ?)",
            rows,
        )
    return len(rows)


def load_all(conn: sqlite3.Connection) -> list[Session]:
    """Every archived session (a damaged row is skipped: `lsm prune` or `lsm doctor` deal with it)."""
    out = []
    for (doc,) in conn.execute("SELECT doc FROM archived_sessions ORDER BY session_id"):
        try:
            session = session_from_dict(orjson.loads(doc))
        except (orjson.JSONDecodeError, TypeError, KeyError, ValueError):
            continue
        out.append(dataclasses.replace(session, origin=ORIGIN))
    return out


def prune(conn: sqlite3.Connection, before: datetime, *, dry_run: bool = False) -> list[str]:
    """Forget the archived sessions whose last activity is before ``before`` (or unknown); returns their
    ids, oldest first. ``dry_run`` only lists them."""
    cutoff = iso(before)
    rows = conn.execute(
        "SELECT session_id FROM archived_sessions WHERE last_activity IS NULL OR last_activity < ?"
        " ORDER BY last_activity, session_id",
        (cutoff,),
    ).fetchall()
    ids = [r[0] for r in rows]
    if ids and not dry_run:
        conn.executemany("DELETE FROM archived_sessions WHERE session_id = ?", [(i,) for i in ids])
    return ids
