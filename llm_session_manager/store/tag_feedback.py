"""Auto-tag's memory: which tags were suggested for which session, and what the user decided. The
ranking rules that read it live in tagging.py; this module is only its SQL, one transaction per write."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime, timezone

from llm_session_manager.store.meta import transaction


def _now() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


def decision_counts(conn: sqlite3.Connection, project_type: str) -> dict[str, tuple[int, int]]:
    """tag -> (accepted, rejected) for one project type (``applied`` is not a human judgement)."""
    out: dict[str, tuple[int, int]] = {}
    for tag, accepted, rejected in conn.execute(
        "SELECT tag, SUM(decision = 'accepted'), SUM(decision = 'rejected') FROM tag_feedback"
        " WHERE project_type = ? GROUP BY tag",
        (project_type,),
    ):
        out[tag] = (int(accepted or 0), int(rejected or 0))
    return out


def rejected_tags(conn: sqlite3.Connection, session_id: str) -> set[str]:
    """Tags whose latest decision for this session was a rejection."""
    rows = conn.execute(
        "SELECT tag, decision FROM tag_feedback WHERE session_id = ? ORDER BY id", (session_id,)
    ).fetchall()
    latest = {tag: decision for tag, decision in rows}
    return {tag for tag, decision in latest.items() if decision == "rejected"}


def record_suggested(
    conn: sqlite3.Connection, session_id: str, project_type: str, shown: Sequence[tuple[str, str, float]]
) -> None:
    """(tag, source, confidence) suggested for this session: counted once per session, tag and source."""
    now = _now()
    with transaction(conn):
        for tag, source, confidence in shown:
            conn.execute(
                "INSERT INTO tag_suggestions"
                " (session_id, tag, source, project_type, confidence, first_at, last_at, times)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, 1)"
                " ON CONFLICT (session_id, tag, source) DO UPDATE SET project_type = excluded.project_type,"
                " confidence = excluded.confidence, last_at = excluded.last_at, times = times + 1",
                (session_id, tag, source, project_type, confidence, now, now),
            )


def record_decisions(
    conn: sqlite3.Connection,
    session_id: str,
    project_type: str,
    decisions: Sequence[tuple[str, str, str, float]],
) -> list[str]:
    """In ONE transaction: record every (tag, source, decision, confidence) and add the tags not
    rejected to the session. Returns the tags newly added."""
    now = _now()
    added: list[str] = []
    with transaction(conn):
        for tag, source, decision, confidence in decisions:
            conn.execute(
                "INSERT INTO tag_feedback (session_id, tag, project_type, source, decision, confidence,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (session_id, tag, project_type, source, decision, confidence, now),
            )
            if decision == "rejected":
                continue
            cur = conn.execute(
                "INSERT OR IGNORE INTO session_tags (session_id, tag, created_at) VALUES (?, ?, ?)",
                (session_id, tag, now),
            )
            if cur.rowcount:
                added.append(tag)
    return added


def suggestion_counts(conn: sqlite3.Connection) -> list[tuple[str, str, str, int]]:
    """(tag, project type, source, sessions it was suggested for)."""
    return [
        (t, p, s, int(n))
        for t, p, s, n in conn.execute(
            "SELECT tag, project_type, source, COUNT(DISTINCT session_id) FROM tag_suggestions"
            " GROUP BY tag, project_type, source"
        )
    ]


def decision_totals(conn: sqlite3.Connection) -> list[tuple[str, str, str, str, int]]:
    """(tag, project type, source, decision, times)."""
    return [
        (t, p, s, str(d), int(n))
        for t, p, s, d, n in conn.execute(
            "SELECT tag, project_type, source, decision, COUNT(*) FROM tag_feedback"
            " GROUP BY tag, project_type, source, decision"
        )
    ]
