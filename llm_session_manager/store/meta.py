"""Our own metadata about sessions: project name, description, tags, closed state.

Every write is one transaction: a failure leaves what was stored before untouched.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone


@dataclass
class SessionMeta:
    session_id: str
    project: str | None = None
    description: str | None = None
    closed_at: str | None = None
    tags: list[str] = field(default_factory=list)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def load_all(conn: sqlite3.Connection) -> dict[str, SessionMeta]:
    out: dict[str, SessionMeta] = {}
    for sid, project, description, closed_at in conn.execute(
        "SELECT session_id, project, description, closed_at FROM session_meta"
    ):
        out[sid] = SessionMeta(sid, project, description, closed_at)
    for sid, tag in conn.execute("SELECT session_id, tag FROM session_tags ORDER BY session_id, tag"):
        out.setdefault(sid, SessionMeta(sid)).tags.append(tag)
    return out


def _ensure_row(conn: sqlite3.Connection, session_id: str) -> None:
    conn.execute(
        "INSERT OR IGNORE INTO session_meta (session_id, updated_at) VALUES (?, ?)", (session_id, _now())
    )


def set_field(conn: sqlite3.Connection, session_ids: Iterable[str], name: str, value: str | None) -> None:
    """Set ``project``, ``description`` or ``closed_at`` for every given session, all or nothing."""
    if name not in ("project", "description", "closed_at"):
        raise ValueError(name)
    with transaction(conn):
        for sid in session_ids:
            _ensure_row(conn, sid)
            conn.execute(
                f"UPDATE session_meta SET {name} = ?, updated_at = ? WHERE session_id = ?",
                (value, _now(), sid),
            )


def add_tags(conn: sqlite3.Connection, session_ids: Iterable[str], tags: Iterable[str]) -> int:
    """Add tags to sessions, all or nothing. Returns how many (session, tag) pairs were new."""
    tags = list(tags)
    added = 0
    with transaction(conn):
        for sid in session_ids:
            for tag in tags:
                cur = conn.execute(
                    "INSERT OR IGNORE INTO session_tags (session_id, tag, created_at) VALUES (?, ?, ?)",
                    (sid, tag, _now()),
                )
                added += cur.rowcount
    return added


def remove_tags(conn: sqlite3.Connection, session_ids: Iterable[str], tags: Iterable[str]) -> int:
    tags = list(tags)
    removed = 0
    with transaction(conn):
        for sid in session_ids:
            for tag in tags:
                removed += conn.execute(
                    "DELETE FROM session_tags WHERE session_id = ? AND tag = ?", (sid, tag)
                ).rowcount
    return removed
