"""Our own metadata about sessions: project name, description, tags, closed state."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field


@dataclass
class SessionMeta:
    session_id: str
    project: str | None = None
    description: str | None = None
    closed_at: str | None = None
    tags: list[str] = field(default_factory=list)


def load_all(conn: sqlite3.Connection) -> dict[str, SessionMeta]:
    out: dict[str, SessionMeta] = {}
    for sid, project, description, closed_at in conn.execute(
        "SELECT session_id, project, description, closed_at FROM session_meta"
    ):
        out[sid] = SessionMeta(sid, project, description, closed_at)
    for sid, tag in conn.execute("SELECT session_id, tag FROM session_tags ORDER BY session_id, tag"):
        out.setdefault(sid, SessionMeta(sid)).tags.append(tag)
    return out
