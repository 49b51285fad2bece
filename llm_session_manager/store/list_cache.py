"""`lsm list`'s finished output (the JSON, or the table's rows), kept for the next run while nothing it
depends on changes (fastlist.py). A row is valid for its ``keys`` (the agents' file signatures, config,
environment, lsm version, our own metadata) and until ``valid_until`` (the first moment the time alone
would change it).

The output itself (megabytes at thousands of sessions) is a file beside the database, named in its row:
written once and copied back to the output, where a row's blob went to the WAL and again to the database
at the checkpoint, with an fsync (a 14 MB listing: 120 ms to store in a row, 12 as a file), and was read
back whole. A file is never changed: a new output is a new file, and the row names it once it is whole.
"""

from __future__ import annotations

import io
import os
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from llm_session_manager.digest import blake2b
from llm_session_manager.fileio import open_regular
from llm_session_manager.store.db import database_file

# Our own tables a listing shows (tags, projects, descriptions, closed marks, hook states, imported and
# archived sessions), read whole into the digest: a change through any lsm version is seen.
_STATE_QUERIES = (
    "SELECT session_id, project, description, closed_at FROM session_meta ORDER BY session_id",
    "SELECT session_id, tag FROM session_tags ORDER BY session_id, tag",
    "SELECT * FROM hook_sessions ORDER BY agent, session_id",
    "SELECT session_id, content_hash FROM imported_sessions ORDER BY session_id",
    "SELECT session_id, agent, last_activity, archived_at, doc FROM archived_sessions ORDER BY session_id",
)


def state_digest(conn: sqlite3.Connection) -> str:
    """A digest of every stored row of ours that a listing shows."""
    digest = blake2b(digest_size=16)
    for query in _STATE_QUERIES:
        for row in conn.execute(query):
            digest.update(repr(row).encode())
        digest.update(b"\x00")
    return digest.hexdigest()


# An output column that names the file holding the output: this prefix, the file's name, ":", its size.
# (Other lsm versions never take such a row for their output: the keys hold the version.)
FILE_REF = b"\0file:"
FOLDER = "list-cache"  # beside the database
SUFFIX = ".out"
# A file that no row names is deleted once it is this old (a younger one may be about to be named).
ORPHAN_SECONDS = 600.0
# Enough of an output column to hold a file reference, not the megabytes an earlier version stored there.
_HEAD_OF_OUTPUT = "SELECT substr(output, 1, 100) FROM list_cache WHERE query = ?"


@dataclass(frozen=True)
class Opened:
    """A stored output opened for reading, from its start: ``size`` bytes (the caller closes it). A file
    once named is never changed, and an open one reads the same even if a later run removes it."""

    keys: str
    valid_until: float
    stream: BinaryIO
    size: int

    def read(self) -> bytes | None:
        """The whole output, the stream closed; None when it is not the size it was written at."""
        with self.stream as fh:
            output = fh.read(self.size + 1)
        return output if len(output) == self.size else None


def open_stored(conn: sqlite3.Connection, query: str) -> Opened | None:
    """The stored output of ``query``, opened; None when there is none, or its file is gone (replaced
    meanwhile), not a regular file or not the size it was written at."""
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
    if not row[2].startswith(FILE_REF):  # stored whole in the row (by an older lsm)
        return Opened(row[0], float(row[1]), io.BytesIO(row[2]), len(row[2]))
    opened = _open_named(conn, row[2])
    return None if opened is None else Opened(row[0], float(row[1]), *opened)


def _folder(conn: sqlite3.Connection) -> Path | None:
    """Where the outputs of ``conn``'s database live; None for a database in memory (no folder)."""
    file = database_file(conn)
    return None if file is None else folder_of(file)


def _named(ref: bytes) -> tuple[str, int] | None:
    """The file name and size an output column names, if it names a well-formed one."""
    name, _, size = ref[len(FILE_REF) :].decode("ascii", "replace").rpartition(":")
    if not (name.endswith(SUFFIX) and name.replace(SUFFIX, "").isalnum() and size.isdigit()):
        return None
    return name, int(size)


def _open_named(conn: sqlite3.Connection, ref: bytes) -> tuple[BinaryIO, int] | None:
    """The file a row names, opened, and its size: None when it is gone (replaced meanwhile), not a
    regular file, or not the size it was written at."""
    folder, named = _folder(conn), _named(ref)
    if folder is None or named is None:
        return None
    try:
        fh = open_regular(folder / named[0])
    except OSError:
        return None
    try:
        if os.fstat(fh.fileno()).st_size == named[1]:
            return fh, named[1]
    except OSError:
        pass
    fh.close()
    return None


def stored_keys(conn: sqlite3.Connection, query: str) -> tuple[str, float] | None:
    """The keys and validity of a stored row, without its output (megabytes): whether it needs saving."""
    try:
        row = conn.execute("SELECT keys, valid_until FROM list_cache WHERE query = ?", (query,)).fetchone()
    except sqlite3.Error:
        return None
    if row is None or not isinstance(row[0], str) or not isinstance(row[1], (int, float)):
        return None
    return row[0], float(row[1])


@dataclass(frozen=True)
class Written:
    """An output written to a new file of its own, not yet named in any row (``name`` does that)."""

    path: Path
    size: int

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)


def folder_of(database: Path) -> Path:
    """Where the outputs of the database file ``database`` live."""
    return database.parent / FOLDER


def write(folder: Path, chunks: Iterable[bytes | bytearray]) -> Written:
    """The output made of ``chunks`` written to a new private file in ``folder`` as they come (it is
    never held whole), without the database: a listing writes its outputs while the scan's last
    checkpoint may still hold the database, and names them afterwards."""
    folder.mkdir(mode=0o700, exist_ok=True)
    path = folder / (os.urandom(8).hex() + SUFFIX)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        size = 0
        with os.fdopen(fd, "wb") as fh:  # closes fd
            for chunk in chunks:
                size += fh.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return Written(path, size)


def name(conn: sqlite3.Connection, query: str, keys: str, valid_until: float, written: Written) -> None:
    """Store ``written`` as ``query``'s output, replacing (and deleting) the one stored before. The file
    is never changed afterwards: if it is still there, it holds this output. It is deleted when it
    cannot be named."""
    try:
        ref = FILE_REF + f"{written.path.name}:{written.size}".encode()
        replaced = _save_row(conn, query, keys, valid_until, ref)
    except BaseException:
        written.discard()
        raise
    if replaced is not None:
        _remove(written.path.parent, replaced)
    _sweep(conn, written.path.parent)


def _save_row(
    conn: sqlite3.Connection, query: str, keys: str, valid_until: float, output: bytes | bytearray
) -> bytes | None:
    """The row saved; returns the output column it replaced when that named a file."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        old = conn.execute(_HEAD_OF_OUTPUT, (query,)).fetchone()
        conn.execute(
            "INSERT OR REPLACE INTO list_cache (query, keys, valid_until, output) VALUES (?, ?, ?, ?)",
            (query, keys, valid_until, output),
        )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    if old is not None and isinstance(old[0], bytes) and old[0].startswith(FILE_REF):
        return bytes(old[0])
    return None


def _remove(folder: Path, ref: bytes) -> None:
    named = _named(ref)
    if named is not None:
        (folder / named[0]).unlink(missing_ok=True)


def _sweep(conn: sqlite3.Connection, folder: Path) -> None:
    """Delete the old files no row names (left by a process that stopped between writing one and
    naming it, or by a row dropped by another lsm version)."""
    named = {
        n[0]
        for (ref,) in conn.execute(
            "SELECT output FROM list_cache WHERE substr(output, 1, 6) = ?", (FILE_REF,)
        )
        if isinstance(ref, bytes) and (n := _named(ref)) is not None
    }
    cutoff = time.time() - ORPHAN_SECONDS
    for entry in os.scandir(folder):
        if entry.name.endswith(SUFFIX) and entry.name not in named:
            try:
                if entry.stat().st_mtime < cutoff:
                    os.unlink(entry.path)
            except OSError:
                pass


def drop(conn: sqlite3.Connection, query: str) -> None:
    folder = _folder(conn)
    row = conn.execute(_HEAD_OF_OUTPUT, (query,)).fetchone()
    if row is None:
        return
    conn.execute("DELETE FROM list_cache WHERE query = ?", (query,))
    if folder is not None and isinstance(row[0], bytes) and row[0].startswith(FILE_REF):
        _remove(folder, row[0])
