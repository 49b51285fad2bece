"""Persisting reader state per transcript file, and merged results per agent."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any

import orjson

from llm_session_manager.agents.base import FileState


def load_states(conn: sqlite3.Connection, agent: str, parser_version: int) -> dict[str, FileState]:
    rows = conn.execute(
        "SELECT path, session_key, dev, ino, size, mtime_ns, offset, head, state FROM parse_cache"
        " WHERE agent = ? AND parser_version = ?",
        (agent, parser_version),
    )
    out: dict[str, FileState] = {}
    for path, key, dev, ino, size, mtime, offset, head, state in rows:
        try:
            data = orjson.loads(state)
        except orjson.JSONDecodeError:
            continue  # a damaged row is simply re-read
        out[path] = FileState(path, key, (dev, ino, size, mtime), offset, bytes(head), data)
    return out


def load_identities(conn: sqlite3.Connection, agent: str, parser_version: int) -> dict[str, tuple[Any, ...]]:
    """path -> (dev, ino, size, mtime_ns, session_key): cheap, without the state blobs."""
    rows = conn.execute(
        "SELECT path, dev, ino, size, mtime_ns, session_key FROM parse_cache"
        " WHERE agent = ? AND parser_version = ?",
        (agent, parser_version),
    )
    return {row[0]: tuple(row[1:]) for row in rows}


def save_states(
    conn: sqlite3.Connection,
    agent: str,
    parser_version: int,
    states: Iterable[FileState],
    removed: Iterable[str],
) -> None:
    states = list(states)
    gone = [(p,) for p in removed]
    if not states and not gone:
        return
    # A generator, so that only one serialised state is in memory at a time.
    rows = (
        (s.path, agent, s.session_key, *s.identity, s.offset, s.head, orjson.dumps(s.data), parser_version)
        for s in states
    )
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.executemany(
            "INSERT OR REPLACE INTO parse_cache (path, agent, session_key, dev, ino, size, mtime_ns, offset,"
            " head, state, parser_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        conn.executemany("DELETE FROM parse_cache WHERE path = ?", gone)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def load_merged(conn: sqlite3.Connection, agent: str, signature: str, parser_version: int) -> Any | None:
    row = conn.execute(
        "SELECT sessions FROM merged_cache WHERE agent = ? AND signature = ? AND parser_version = ?",
        (agent, signature, parser_version),
    ).fetchone()
    return _decoded(row)


def load_merged_any(conn: sqlite3.Connection, agent: str, parser_version: int) -> Any | None:
    """The agent's last merged sessions, whatever files they were merged from (None when absent)."""
    row = conn.execute(
        "SELECT sessions FROM merged_cache WHERE agent = ? AND parser_version = ?", (agent, parser_version)
    ).fetchone()
    return _decoded(row)


def _decoded(row: tuple[bytes] | None) -> Any | None:
    """A merged-cache row's sessions; None for no row or a damaged one (it is merged again)."""
    if row is None:
        return None
    try:
        return orjson.loads(row[0])
    except orjson.JSONDecodeError:
        return None


def save_merged(
    conn: sqlite3.Connection, agent: str, signature: str, parser_version: int, value: Any
) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO merged_cache (agent, signature, sessions, parser_version)"
        " VALUES (?, ?, ?, ?)",
        (agent, signature, orjson.dumps(value), parser_version),
    )


def drop_merged(conn: sqlite3.Connection, agent: str) -> None:
    conn.execute("DELETE FROM merged_cache WHERE agent = ?", (agent,))
