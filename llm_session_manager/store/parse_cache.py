"""Persisting reader state per transcript file, and merged results per agent."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

import orjson

from llm_session_manager.agents.base import FileState

_STATE_COLUMNS = "SELECT path, session_key, dev, ino, size, mtime_ns, offset, head, state FROM parse_cache"
LINKS = "\0links"  # merged_cache row of an agent's links (agent name + this suffix)


def load_states(conn: sqlite3.Connection, agent: str, parser_version: int) -> dict[str, FileState]:
    rows = conn.execute(
        _STATE_COLUMNS + " WHERE agent = ? AND parser_version = ?",
        (agent, parser_version),
    )
    return _states(rows)


def load_states_of(
    conn: sqlite3.Connection, agent: str, parser_version: int, session_keys: Iterable[str]
) -> dict[str, FileState]:
    """The states of the files of these sessions only (a scan after a change loads no other)."""
    keys = sorted(set(session_keys))
    out: dict[str, FileState] = {}
    for start in range(0, len(keys), 500):  # below SQLite's limit on bound parameters
        chunk = keys[start : start + 500]
        rows = conn.execute(
            _STATE_COLUMNS + " WHERE agent = ? AND parser_version = ? AND session_key IN"
            f" ({','.join('?' * len(chunk))})",
            (agent, parser_version, *chunk),
        )
        out.update(_states(rows))
    return out


def _states(rows: Iterable[tuple[Any, ...]]) -> dict[str, FileState]:
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


def save_rows(
    conn: sqlite3.Connection, agent: str, parser_version: int, rows: Sequence[tuple[Any, ...]]
) -> None:
    """Save states already serialised: (path, session key, identity, offset, head, state JSON, ...)."""
    if not rows:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.executemany(
            "INSERT OR REPLACE INTO parse_cache (path, agent, session_key, dev, ino, size, mtime_ns, offset,"
            " head, state, parser_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            ((r[0], agent, r[1], *r[2], r[3], r[4], r[5], parser_version) for r in rows),
        )
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
    save_merged_json(conn, agent, signature, parser_version, orjson.dumps(value))


def save_merged_json(
    conn: sqlite3.Connection, agent: str, signature: str, parser_version: int, blob: bytes
) -> None:
    """Save merged sessions already serialised (a JSON array)."""
    conn.execute(
        "INSERT OR REPLACE INTO merged_cache (agent, signature, sessions, parser_version)"
        " VALUES (?, ?, ?, ?)",
        (agent, signature, blob, parser_version),
    )


def save_merged_parts(
    conn: sqlite3.Connection, agent: str, signature: str, parser_version: int, parts: list[bytes]
) -> None:
    """Save merged sessions serialised in parts (each the inside of a JSON array, without brackets),
    written into the row one part at a time: the whole array is never one more copy in memory."""
    body = [p for p in parts if p]
    size = 2 + sum(map(len, body)) + max(len(body) - 1, 0)
    if not hasattr(conn, "blobopen"):  # Python 3.10
        save_merged_json(conn, agent, signature, parser_version, b"[" + b",".join(body) + b"]")
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        cursor = conn.execute(
            "INSERT OR REPLACE INTO merged_cache (agent, signature, sessions, parser_version)"
            " VALUES (?, ?, zeroblob(?), ?)",
            (agent, signature, size, parser_version),
        )
        with conn.blobopen("merged_cache", "sessions", cursor.lastrowid or 0) as blob:
            blob.write(b"[")
            for i, part in enumerate(body):
                blob.write(b"," + part if i else part)
            blob.write(b"]")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def drop_merged(conn: sqlite3.Connection, agent: str) -> None:
    conn.execute("DELETE FROM merged_cache WHERE agent IN (?, ?)", (agent, agent + LINKS))


def load_links(conn: sqlite3.Connection, agent: str, signature: str, parser_version: int) -> bytes | None:
    """The links saved with the merge of ``signature`` (see scan.Links), None when absent."""
    row = conn.execute(
        "SELECT sessions FROM merged_cache WHERE agent = ? AND signature = ? AND parser_version = ?",
        (agent + LINKS, signature, parser_version),
    ).fetchone()
    return bytes(row[0]) if row is not None else None


def save_links(
    conn: sqlite3.Connection, agent: str, signature: str, parser_version: int, value: bytes
) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO merged_cache (agent, signature, sessions, parser_version)"
        " VALUES (?, ?, ?, ?)",
        (agent + LINKS, signature, value, parser_version),
    )
