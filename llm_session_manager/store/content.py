"""The content index: what was said in every session, for `lsm search --content` (SQL only).

``content_messages`` holds one row per indexed message (session id, source file, role, time, text,
already redacted); ``content_fts`` is an FTS5 index over its text (external content: the text is stored
once, in ``content_messages``, and ``snippet()`` reads it from there). ``content_progress`` says how far
each source was indexed: a file read line by line keeps its identity and byte offset; a session read
whole (``path`` = "") keeps a signature of what it was read from. ``transcript_copies`` lists the
compressed copies the opt-in archive keeps.

The FTS5 table is created on first use, not by a migration: a Python whose SQLite lacks FTS5 still opens
the store (only content search says it cannot work), and the table can be rebuilt from
``content_messages`` at any time.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from llm_session_manager.errors import LsmError

FTS_TABLE = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS content_fts USING fts5(text, content='content_messages',"
    " content_rowid='id', tokenize='unicode61 remove_diacritics 2')"
)
# Highlight markers in snippets: control characters, which indexed text never holds (they are removed
# before indexing), so every marker in a snippet is ours.
MARK_START = "\x02"
MARK_END = "\x03"


class NoFts5Error(LsmError):
    """This Python's SQLite was built without FTS5."""


@dataclass(frozen=True)
class Progress:
    """How far one source was indexed (``path`` "" = a session read whole)."""

    session_id: str
    path: str
    agent: str
    identity: tuple[int, int, int, int]
    offset: int
    head: bytes
    signature: str


@dataclass(frozen=True)
class Row:
    """One message to index."""

    role: str
    at: str | None
    text: str


@dataclass(frozen=True)
class Match:
    id: int
    session_id: str
    role: str
    at: str | None
    score: float


_PROGRESS_COLUMNS = (
    "SELECT session_id, path, agent, dev, ino, size, mtime_ns, offset, head, signature FROM content_progress"
)


def ensure_fts(conn: sqlite3.Connection) -> None:
    """Create the FTS5 table when missing; rows already in content_messages (kept by `lsm doctor
    --repair`) are indexed then, so that the index and its content never disagree."""
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'content_fts'"
    ).fetchone()
    if exists:
        return
    try:
        conn.execute(FTS_TABLE)
        conn.execute("INSERT INTO content_fts (content_fts) VALUES ('rebuild')")
    except sqlite3.OperationalError as exc:
        if "fts5" in str(exc).lower():
            raise NoFts5Error(
                "content search needs SQLite's FTS5, which this Python's sqlite3 lacks; install a Python"
                " built with a recent SQLite"
            ) from None
        raise


def load_progress(conn: sqlite3.Connection) -> dict[tuple[str, str], Progress]:
    rows = conn.execute(_PROGRESS_COLUMNS)
    return {
        (r[0], r[1]): Progress(r[0], r[1], r[2], (r[3], r[4], r[5], r[6]), r[7], bytes(r[8]), r[9])
        for r in rows
    }


def load_progress_of(conn: sqlite3.Connection, session_id: str, path: str) -> Progress | None:
    row = conn.execute(
        _PROGRESS_COLUMNS + " WHERE session_id = ? AND path = ?",
        (session_id, path),
    ).fetchone()
    if row is None:
        return None
    return Progress(row[0], row[1], row[2], (row[3], row[4], row[5], row[6]), row[7], bytes(row[8]), row[9])


def save_progress(conn: sqlite3.Connection, progress: Progress, at: str) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO content_progress (session_id, path, agent, dev, ino, size, mtime_ns, offset,"
        " head, signature, indexed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            progress.session_id,
            progress.path,
            progress.agent,
            *progress.identity,
            progress.offset,
            progress.head,
            progress.signature,
            at,
        ),
    )


def add(conn: sqlite3.Connection, session_id: str, path: str, rows: Sequence[Row]) -> int:
    """Index ``rows`` of one source (inside the caller's transaction); returns how many."""
    if not rows:
        return 0
    last = conn.execute("SELECT COALESCE(MAX(id), 0) FROM content_messages").fetchone()[0]
    conn.executemany(
        "INSERT INTO content_messages (session_id, path, role, at, text) VALUES (?, ?, ?, ?, ?)",
        ((session_id, path, row.role, row.at, row.text) for row in rows),
    )
    conn.execute(
        "INSERT INTO content_fts (rowid, text) SELECT id, text FROM content_messages WHERE id > ?", (last,)
    )
    return len(rows)


def forget_source(conn: sqlite3.Connection, session_id: str, path: str) -> None:
    """Remove one source's messages (the FTS index is told each old text, as external content needs)."""
    where = "session_id = ? AND path = ?"
    conn.execute(
        "INSERT INTO content_fts (content_fts, rowid, text)"
        f" SELECT 'delete', id, text FROM content_messages WHERE {where}",
        (session_id, path),
    )
    conn.execute(f"DELETE FROM content_messages WHERE {where}", (session_id, path))
    conn.execute(f"DELETE FROM content_progress WHERE {where}", (session_id, path))


def forget_sessions(conn: sqlite3.Connection, session_ids: Sequence[str]) -> int:
    """Remove every message of these sessions; returns how many."""
    removed = 0
    for sid in session_ids:
        conn.execute(
            "INSERT INTO content_fts (content_fts, rowid, text)"
            " SELECT 'delete', id, text FROM content_messages WHERE session_id = ?",
            (sid,),
        )
        removed += conn.execute("DELETE FROM content_messages WHERE session_id = ?", (sid,)).rowcount
        conn.execute("DELETE FROM content_progress WHERE session_id = ?", (sid,))
    return removed


def indexed_sessions(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT DISTINCT session_id FROM content_progress")}


def last_message_times(conn: sqlite3.Connection) -> dict[str, str | None]:
    """session id -> the time of its last indexed message."""
    return {
        r[0]: r[1]
        for r in conn.execute("SELECT session_id, MAX(at) FROM content_messages GROUP BY session_id")
    }


def matches(
    conn: sqlite3.Connection, query: str, *, roles: Sequence[str], since: str | None, limit: int
) -> list[Match]:
    """The ``limit`` best messages for an FTS5 ``query`` (best first), narrowed by role and time."""
    if not roles and not since:  # ranked in the FTS5 index alone, then the few rows looked up
        ranked = conn.execute(
            "SELECT rowid, rank FROM content_fts WHERE content_fts MATCH ? ORDER BY rank LIMIT ?",
            (query, limit),
        ).fetchall()
        rows = _messages(conn, [r[0] for r in ranked])
        return [Match(i, *rows[i], -float(rank)) for i, rank in ranked if i in rows]
    sql = (
        "SELECT m.id, m.session_id, m.role, m.at, bm25(content_fts) AS score FROM content_fts"
        " JOIN content_messages m ON m.id = content_fts.rowid WHERE content_fts MATCH ?"
    )
    params: list[Any] = [query]
    if roles:
        sql += f" AND m.role IN ({','.join('?' * len(roles))})"
        params.extend(roles)
    if since:
        sql += " AND m.at >= ?"
        params.append(since)
    sql += " ORDER BY score LIMIT ?"
    params.append(limit)
    return [Match(r[0], r[1], r[2], r[3], -float(r[4])) for r in conn.execute(sql, params)]


def _messages(conn: sqlite3.Connection, ids: Sequence[int]) -> dict[int, tuple[str, str, str | None]]:
    """id -> (session id, role, time) of these messages."""
    out: dict[int, tuple[str, str, str | None]] = {}
    for start in range(0, len(ids), 500):  # below SQLite's limit on bound parameters
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        rows = conn.execute(
            f"SELECT id, session_id, role, at FROM content_messages WHERE id IN ({marks})", chunk
        )
        out.update((r[0], (r[1], r[2], r[3])) for r in rows)
    return out


def snippets(conn: sqlite3.Connection, query: str, ids: Sequence[int], tokens: int) -> dict[int, str]:
    """id -> the best ``tokens``-token extract of that message for ``query``, matches between the
    markers (one query for all of them)."""
    if not ids:
        return {}
    rows = conn.execute(
        "SELECT rowid, snippet(content_fts, 0, ?, ?, '…', ?) FROM content_fts"
        f" WHERE content_fts MATCH ? AND rowid IN ({','.join('?' * len(ids))})",
        (MARK_START, MARK_END, tokens, query, *ids),
    )
    return {int(r[0]): str(r[1] or "") for r in rows}


def sizes(conn: sqlite3.Connection) -> dict[str, int]:
    """Messages and sessions indexed, and the bytes the index takes (text plus FTS5 structures)."""
    messages, sessions, text = conn.execute(
        "SELECT COUNT(*), COUNT(DISTINCT session_id), COALESCE(SUM(LENGTH(CAST(text AS BLOB))), 0)"
        " FROM content_messages"
    ).fetchone()
    fts = 0
    try:
        row = conn.execute(
            "SELECT COALESCE(SUM(LENGTH(block)), 0) FROM content_fts_data",
        ).fetchone()
        fts = int(row[0])
    except sqlite3.OperationalError:  # the FTS5 table is made on first search
        fts = 0
    return {"messages": int(messages), "sessions": int(sessions), "bytes": int(text) + fts}


# ---------------------------------------------------------------------------------------------------
# The opt-in archive's copies


@dataclass(frozen=True)
class Copy:
    path: str
    agent: str
    session_id: str
    identity: tuple[int, int, int, int]
    head: bytes
    copied: int  # bytes of the original held by the copy
    stored: int  # bytes of the compressed copy
    last_activity: str | None


def load_copies(conn: sqlite3.Connection) -> dict[str, Copy]:
    rows = conn.execute(
        "SELECT path, agent, session_id, dev, ino, size, mtime_ns, head, copied, stored, last_activity"
        " FROM transcript_copies"
    )
    return {
        r[0]: Copy(r[0], r[1], r[2], (r[3], r[4], r[5], r[6]), bytes(r[7]), r[8], r[9], r[10]) for r in rows
    }


def save_copy(conn: sqlite3.Connection, copy: Copy, at: str) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO transcript_copies (path, agent, session_id, dev, ino, size, mtime_ns, head,"
        " copied, stored, last_activity, archived_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            copy.path,
            copy.agent,
            copy.session_id,
            *copy.identity,
            copy.head,
            copy.copied,
            copy.stored,
            copy.last_activity,
            at,
        ),
    )


def forget_copies(conn: sqlite3.Connection, paths: Iterable[str]) -> None:
    conn.executemany("DELETE FROM transcript_copies WHERE path = ?", ((p,) for p in paths))


def copies_of(conn: sqlite3.Connection, paths: Sequence[str]) -> Iterator[Copy]:
    wanted = set(paths)
    for path, copy in load_copies(conn).items():
        if path in wanted:
            yield copy


def message_count(conn: sqlite3.Connection, session_id: str) -> int:
    return int(
        conn.execute("SELECT COUNT(*) FROM content_messages WHERE session_id = ?", (session_id,)).fetchone()[
            0
        ]
    )
