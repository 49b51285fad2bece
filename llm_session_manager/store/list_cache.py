"""`lsm list`'s finished output (the JSON, or the table's rows), kept for the next run while nothing it
depends on changes (fastlist.py). A row is valid for its ``keys`` (the agents' file signatures, config,
environment, lsm version, our own metadata) and until ``valid_until`` (the first moment the time alone
would change it)."""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import dataclass

# Our own tables a listing shows (tags, projects, descriptions, closed marks, hook states, imported and
# archived sessions), read whole into the digest: a change through any lsm version is seen.
_STATE_QUERIES = (
    "SELECT session_id, project, description, closed_at FROM session_meta ORDER BY session_id",
    "SELECT session_id, tag FROM session_tags ORDER BY session_id, tag",
    "SELECT * FROM hook_sessions ORDER BY agent, session_id",
    "SELECT session_id, content_hash FROM imported_sessions ORDER BY session_id",
    "SELECT session_id, agent, last_activity, archived_at, doc FROM archived_sessions ORDER BY session_id",
)


@dataclass(frozen=True)
class Entry:
    keys: str
    valid_until: float  # seconds since the epoch
    output: bytes | bytearray  # read back as bytes


def state_digest(conn: sqlite3.Connection) -> str:
    """A digest of every stored row of ours that a listing shows."""
    digest = hashlib.blake2b(digest_size=16)
    for query in _STATE_QUERIES:
        for row in conn.execute(query):
            digest.update(repr(row).encode())
        digest.update(b"\x00")
    return digest.hexdigest()


def load(conn: sqlite3.Connection, query: str) -> Entry | None:
    try:
        row = conn.execute(
            "SELECT keys, valid_until, output FROM list_cache WHERE query = ?", (query,)
        ).fetchone()
    except sqlite3.Error:  # a damaged or missing table: computed again, as without it
        return None
    if row is None or not isinstance(row[0], str) or not isinstance(row[2], bytes):
        return None
    if not isinstance(row[1], (int, float)):  # a damaged row is no row
        return None
    return Entry(row[0], float(row[1]), row[2])


def stored_keys(conn: sqlite3.Connection, query: str) -> tuple[str, float] | None:
    """The keys and validity of a stored row, without its output (megabytes): whether it needs saving."""
    try:
        row = conn.execute("SELECT keys, valid_until FROM list_cache WHERE query = ?", (query,)).fetchone()
    except sqlite3.Error:
        return None
    if row is None or not isinstance(row[0], str) or not isinstance(row[1], (int, float)):
        return None
    return row[0], float(row[1])


def save(conn: sqlite3.Connection, query: str, entry: Entry) -> None:
    if not hasattr(conn, "blobopen"):  # Python 3.10
        conn.execute(
            "INSERT OR REPLACE INTO list_cache (query, keys, valid_until, output) VALUES (?, ?, ?, ?)",
            (query, entry.keys, entry.valid_until, entry.output),
        )
        return
    # The output (megabytes at thousands of sessions) is written into a zeroblob, which SQLite does not
    # hold in memory as the last column: bound as a parameter it was copied twice, at the listing's peak.
    conn.execute("BEGIN IMMEDIATE")
    try:
        cursor = conn.execute(
            "INSERT OR REPLACE INTO list_cache (query, keys, valid_until, output)"
            " VALUES (?, ?, ?, zeroblob(?))",
            (query, entry.keys, entry.valid_until, len(entry.output)),
        )
        if entry.output:
            with conn.blobopen("list_cache", "output", cursor.lastrowid or 0) as blob:
                blob.write(entry.output)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def drop(conn: sqlite3.Connection, query: str) -> None:
    conn.execute("DELETE FROM list_cache WHERE query = ?", (query,))
