"""Sessions imported from export documents, kept whole so that they export back unchanged."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone
from typing import Any

import orjson

from llm_session_manager.store.meta import transaction


def load_all(conn: sqlite3.Connection) -> dict[str, tuple[dict[str, Any], str]]:
    """session id -> (document, content hash)."""
    out: dict[str, tuple[dict[str, Any], str]] = {}
    for sid, doc, digest in conn.execute("SELECT session_id, doc, content_hash FROM imported_sessions"):
        try:
            out[sid] = (orjson.loads(doc), digest)
        except orjson.JSONDecodeError:
            continue
    return out


def save(
    conn: sqlite3.Connection,
    session_id: str,
    doc: dict[str, Any],
    digest: str,
    source_file: str,
    tags: list[str],
    project: str | None,
    description: str | None,
) -> None:
    """Store the document and its organisation metadata in ONE transaction: all or nothing."""
    now = datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")
    with transaction(conn):
        conn.execute(
            "INSERT INTO imported_sessions (session_id, doc, content_hash, source_file, imported_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (session_id, orjson.dumps(doc), digest, source_file, now),
        )
        conn.execute(
            "INSERT OR REPLACE INTO session_meta (session_id, project, description, closed_at, updated_at)"
            " VALUES (?, ?, ?, NULL, ?)",
            (session_id, project, description, now),
        )
        conn.execute("DELETE FROM session_tags WHERE session_id = ?", (session_id,))
        conn.executemany(
            "INSERT INTO session_tags (session_id, tag, created_at) VALUES (?, ?, ?)",
            [(session_id, tag, now) for tag in tags],
        )


def forget(conn: sqlite3.Connection, session_id: str) -> bool:
    """Remove an imported session with its tags, project, description and tag suggestions (the
    learning from past accept/reject decisions stays). True when there was one."""
    with transaction(conn):
        found = conn.execute("DELETE FROM imported_sessions WHERE session_id = ?", (session_id,)).rowcount
        if found:
            for table in ("session_meta", "session_tags", "tag_suggestions"):
                conn.execute(f"DELETE FROM {table} WHERE session_id = ?", (session_id,))
    return bool(found)


def ids(conn: sqlite3.Connection) -> list[str]:
    """Every imported session id, without reading the documents."""
    return [r[0] for r in conn.execute("SELECT session_id FROM imported_sessions ORDER BY session_id")]
