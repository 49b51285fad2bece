"""Persisting reader state per transcript file, and merged results per agent.

An agent's merged sessions are written and read a part at a time (a JSON array of sessions per row, the
agent's own row listing them), so that no command holds all of them at once, decoded or not, and a merge
after a change writes again only the parts it changed."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, NamedTuple

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


def has_states(conn: sqlite3.Connection, agent: str, parser_version: int) -> bool:
    """Whether any file of the agent's has a saved state."""
    row = conn.execute(
        "SELECT 1 FROM parse_cache WHERE agent = ? AND parser_version = ? LIMIT 1", (agent, parser_version)
    ).fetchone()
    return row is not None


def has_merged(conn: sqlite3.Connection, agent: str, parser_version: int) -> bool:
    """Whether a merge of the agent's sessions is saved (whatever files it was merged from)."""
    row = conn.execute(
        "SELECT 1 FROM merged_cache WHERE agent = ? AND parser_version = ? LIMIT 1", (agent, parser_version)
    ).fetchone()
    return row is not None


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


PART = "\0part:"  # merged_cache rows of an agent's parts: agent name + this + a token
MANIFEST = b"parts:"  # a merged row listing its parts (not JSON: a reader that expects one array re-merges)


class Damaged(ValueError):
    """A merged row that cannot be read as it was written (it is merged again)."""


class Part(NamedTuple):
    token: str | None  # the part's row, to keep it in a later merge; None for a row of one array
    body: bytes  # a JSON array of sessions (codec.session_to_dict)


def merged_parts(
    conn: sqlite3.Connection, agent: str, parser_version: int, signature: str | None = None
) -> Iterator[Part] | None:
    """The parts of the agent's merged sessions (those merged from ``signature`` when given; None when
    absent), fetched one at a time: no caller holds the whole merge at once. Reading raises ``Damaged``
    when a part is gone (another process merged again meanwhile)."""
    query = "SELECT sessions FROM merged_cache WHERE agent = ? AND parser_version = ?"
    args: tuple[Any, ...] = (agent, parser_version)
    if signature is not None:
        query, args = query + " AND signature = ?", (*args, signature)
    row = conn.execute(query, args).fetchone()
    if row is None:
        return None
    blob = bytes(row[0])
    if not blob.startswith(MANIFEST):
        return iter([Part(None, blob)])
    try:
        tokens = orjson.loads(blob[len(MANIFEST) :])
    except orjson.JSONDecodeError:
        return None
    return fetched(conn, agent, [str(t) for t in tokens] if isinstance(tokens, list) else [])


def fetched(conn: sqlite3.Connection, agent: str, tokens: list[str]) -> Iterator[Part]:
    """The parts named by ``tokens`` (a ``PartWriter``'s), one at a time; ``Damaged`` when one is gone."""
    for token in tokens:
        row = conn.execute(
            "SELECT sessions FROM merged_cache WHERE agent = ?", (agent + PART + token,)
        ).fetchone()
        if row is None:
            raise Damaged("merged sessions: a part is gone")
        yield Part(token, bytes(row[0]))


def decoded(part: Part) -> list[Any]:
    """One part's sessions (as codec.session_to_dict made them)."""
    try:
        docs = orjson.loads(part.body)
    except orjson.JSONDecodeError as exc:
        raise Damaged(f"merged sessions: {exc}") from exc
    if not isinstance(docs, list):
        raise Damaged("merged sessions: not a list")
    return docs


class PartWriter:
    """A new merge of an agent's sessions, written a part at a time (each part its own row, never
    changed once written: a later merge may keep it), then published in one small transaction. Parts
    written but not published are deleted on leaving the ``with`` block."""

    def __init__(self, conn: sqlite3.Connection, agent: str) -> None:
        self.conn, self.agent = conn, agent
        self.tokens: list[str] = []
        self._written: list[str] = []
        self._published = False

    def add(self, body: bytes) -> None:
        """A new part: the bytes of a JSON array of sessions."""
        if not body:
            return
        token = os.urandom(8).hex()  # what secrets.token_hex does, without loading OpenSSL's bindings
        self.conn.execute(
            "INSERT INTO merged_cache (agent, signature, sessions, parser_version) VALUES (?, '', ?, 0)",
            (self.agent + PART + token, body),
        )
        self.tokens.append(token)
        self._written.append(token)

    def keep(self, part: Part) -> None:
        """A part of the merge being replaced, unchanged."""
        if part.token is None:
            self.add(part.body)
        else:
            self.tokens.append(part.token)

    def publish(self, signature: str, parser_version: int) -> bool:
        """The parts added or kept, in order, become the agent's merge of ``signature``; every other part
        of the agent's goes. False (nothing published) when one of them is gone: another process
        merged or dropped the agent's sessions meanwhile."""
        manifest = MANIFEST + orjson.dumps(self.tokens)
        first, last = _part_range(self.agent)
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            rows = conn.execute(
                "SELECT agent FROM merged_cache WHERE agent > ? AND agent < ?", (first, last)
            ).fetchall()
            there = {key[len(first) :] for (key,) in rows}
            if not there.issuperset(self.tokens):
                conn.execute("ROLLBACK")
                return False
            conn.execute(
                "INSERT OR REPLACE INTO merged_cache (agent, signature, sessions, parser_version)"
                " VALUES (?, ?, ?, ?)",
                (self.agent, signature, manifest, parser_version),
            )
            live = set(self.tokens)
            conn.executemany(
                "DELETE FROM merged_cache WHERE agent = ?", [(first + t,) for t in there if t not in live]
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        self._published = True
        return True

    def __enter__(self) -> PartWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        if not self._published and self._written:
            keys = [(self.agent + PART + t,) for t in self._written]
            self.conn.executemany("DELETE FROM merged_cache WHERE agent = ?", keys)


def _part_range(agent: str) -> tuple[str, str]:
    """Keys strictly between these two are the agent's parts."""
    return agent + PART, agent + PART[:-1] + chr(ord(PART[-1]) + 1)


def save_merged(
    conn: sqlite3.Connection, agent: str, signature: str, parser_version: int, value: Any
) -> None:
    """Save merged sessions as one array (no parts: for the agents whose merges are small)."""
    first, last = _part_range(agent)
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(
            "INSERT OR REPLACE INTO merged_cache (agent, signature, sessions, parser_version)"
            " VALUES (?, ?, ?, ?)",
            (agent, signature, orjson.dumps(value), parser_version),
        )
        conn.execute("DELETE FROM merged_cache WHERE agent > ? AND agent < ?", (first, last))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def save_merged_parts(
    conn: sqlite3.Connection, agent: str, signature: str, parser_version: int, parts: Iterable[bytes]
) -> None:
    """Save merged sessions already serialised in parts (each the bytes of a JSON array)."""
    with PartWriter(conn, agent) as writer:
        for body in parts:
            writer.add(body)
        writer.publish(signature, parser_version)


def drop_merged(conn: sqlite3.Connection, agent: str) -> None:
    first, last = _part_range(agent)
    conn.execute(
        "DELETE FROM merged_cache WHERE agent IN (?, ?) OR (agent > ? AND agent < ?)",
        (agent, agent + LINKS, first, last),
    )


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
