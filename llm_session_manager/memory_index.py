"""The local memory store's side index: one SQLite file beside the Chroma collection that answers metadata
filters and verbatim terms without a scan.

Chroma evaluates a ``where`` or ``where_document`` filter by scanning its metadata (~36 ms at 50,000
memories, growing with the store), and its id-restricted queries are slower still. This index keeps, per
memory: the filterable fields in indexed columns, its tags in their own table, its text in an FTS5
trigram table (case-sensitive substring search, the semantics of Chroma's ``$contains``), its metadata as
JSON, and its vector in a flat file of float32 rows beside it (mapped into memory: scoring a few
thousand candidates reads only their rows). A filtered or verbatim search asks the index for the
candidate memories and ranks them by the distance Chroma uses (the collection's space: cosine for lsm's);
when a filter lets most of the store through, Chroma's unfiltered nearest neighbours are oversampled and
filtered here instead.

Chroma stays the store of record: every write goes to Chroma first, then here. The index records the
collection's id and is checked against the collection's count on open; missing, unreadable, from another
collection or disagreeing, it is rebuilt from Chroma in one transaction.

A shared ``chroma run`` server has writers on other machines, so in team mode there is no side index
and filters stay Chroma ``where`` clauses.
"""

from __future__ import annotations

import contextlib
import json
import math
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

INDEX_FILE = "lsm_index.sqlite3"
VERSION = "4"
VECTORS_SUFFIX = ".vectors"  # beside the index: float32 rows, row n for the memory whose ``mem.n`` is n
DIMENSIONS = 384
ROW_BYTES = DIMENSIONS * 4
# Up to this many candidates are scored exactly (~0.5 ms per 1,000 from the mapped vector file); more, and
# Chroma's unfiltered nearest neighbours are oversampled and filtered here.
EXACT_LIMIT = 8000
OVERSAMPLE = 4  # times the expected number of neighbours needed to find n that pass the filter
MAX_OVERSAMPLED = 2000

SCHEMA = """
CREATE TABLE info (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE mem (
    n INTEGER PRIMARY KEY,
    id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    agent TEXT NOT NULL,
    project TEXT,
    created_ts REAL NOT NULL,
    text TEXT NOT NULL,
    meta TEXT NOT NULL
);
CREATE UNIQUE INDEX mem_id ON mem (id);
CREATE INDEX mem_session ON mem (session_id);
CREATE INDEX mem_agent ON mem (agent);
CREATE INDEX mem_project ON mem (project);
CREATE TABLE mem_tag (tag TEXT NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (tag, n)) WITHOUT ROWID;
CREATE INDEX mem_tag_n ON mem_tag (n);
CREATE VIRTUAL TABLE mem_text USING fts5 (
    text, content = 'mem', content_rowid = 'n', tokenize = 'trigram case_sensitive 1'
);
"""

Vector = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Record:
    """One memory as the index holds it."""

    id: str
    text: str
    meta: dict[str, Any]


@dataclass(frozen=True)
class Query:
    """What a candidate must satisfy: metadata filters (all of them) and, if any, one of ``terms``
    occurring verbatim."""

    sessions: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    project: str | None = None
    agent: str | None = None
    terms: tuple[str, ...] = ()

    def sql(self) -> tuple[str, list[Any]]:
        """The WHERE clause over ``mem`` and its parameters ("1" when nothing is asked)."""
        clauses: list[str] = []
        params: list[Any] = []
        if self.sessions:
            ids = sorted(set(self.sessions))
            clauses.append(f"session_id IN ({', '.join('?' * len(ids))})")
            params.extend(ids)
        for tag in self.tags:
            clauses.append("n IN (SELECT n FROM mem_tag WHERE tag = ?)")
            params.append(tag)
        if self.project is not None:
            clauses.append("project = ?")
            params.append(self.project)
        if self.agent is not None:
            clauses.append("agent = ?")
            params.append(self.agent)
        if self.terms:
            clauses.append("n IN (SELECT rowid FROM mem_text WHERE mem_text MATCH ?)")
            params.append(" OR ".join(fts_phrase(t) for t in self.terms))
        return (" AND ".join(clauses) or "1"), params

    def rowid_sql(self) -> tuple[str, list[Any]]:
        """A SELECT of the ``mem.n`` of every memory that passes: one covering-index lookup per filter,
        intersected (a tag or a term lists its memories without visiting them)."""
        parts: list[str] = []
        params: list[Any] = []
        if self.sessions:
            ids = sorted(set(self.sessions))
            parts.append(f"SELECT n FROM mem WHERE session_id IN ({', '.join('?' * len(ids))})")
            params.extend(ids)
        for tag in self.tags:
            parts.append("SELECT n FROM mem_tag WHERE tag = ?")
            params.append(tag)
        if self.project is not None:
            parts.append("SELECT n FROM mem WHERE project = ?")
            params.append(self.project)
        if self.agent is not None:
            parts.append("SELECT n FROM mem WHERE agent = ?")
            params.append(self.agent)
        if self.terms:
            parts.append("SELECT rowid FROM mem_text WHERE mem_text MATCH ?")
            params.append(" OR ".join(fts_phrase(t) for t in innermost(self.terms)))
        return (" INTERSECT ".join(parts) or "SELECT n FROM mem"), params


def innermost(terms: Sequence[str]) -> list[str]:
    """The terms that hold no other term: a text holding ``crash in src/app.py`` holds ``src/app.py``, so
    asking for both finds what asking for the shorter one finds, reading more of the index."""
    unique = list(dict.fromkeys(terms))
    return [t for t in unique if not any(other != t and other in t for other in unique)]


def fts_phrase(term: str) -> str:
    """``term`` as an FTS5 phrase (trigram: matches it as a substring; needs 3 characters or more)."""
    return '"' + term.replace('"', '""') + '"'


SPACES = ("cosine", "l2", "ip")


def distances(space: str, vectors: Vector, query: Vector) -> Vector:
    """The distance Chroma's HNSW index reports in ``space`` (float32) from each row of ``vectors`` to
    ``query``: cosine 1 - cos, l2 the squared Euclidean distance, ip 1 - the dot product. einsum, not
    BLAS: OpenBLAS's threads wait for busy cores (a 0.1 ms product took 5-15 ms on a loaded machine)."""
    if space == "l2":
        diff = vectors - query
        squared: Vector = np.einsum("ij,ij->i", diff, diff)
        return squared
    if space == "cosine":
        tiny = np.float32(1e-30)
        norms = np.maximum(np.sqrt(np.einsum("ij,ij->i", vectors, vectors)), tiny)
        query = query / max(np.sqrt(np.einsum("i,i->", query, query)), tiny)
        cosine: Vector = np.float32(1.0) - np.einsum("ij,j->i", vectors, query) / norms
        return cosine
    inner: Vector = np.float32(1.0) - np.einsum("ij,j->i", vectors, query)
    return inner


def _vector(value: Any) -> Vector:
    return np.asarray(value, dtype=np.float32).reshape(DIMENSIONS)


def _tags(meta: dict[str, Any]) -> list[str]:
    tags = meta.get("tags") or ()
    return [str(t) for t in tags] if isinstance(tags, (list, tuple)) else [str(tags)]


class SideIndex:
    """An open side index. Build it with ``open_index``."""

    def __init__(self, db: sqlite3.Connection, path: Path, space: str = "cosine") -> None:
        self.db = db
        self.path = path
        self.vectors_path = vectors_file(path)
        # one connection for the store's life; a server's threads share it, one call at a time
        self._lock = threading.RLock()
        self._mapped: np.memmap[Any, np.dtype[np.float32]] | None = None
        self._mapped_inode = 0
        self.space = space  # the collection's distance, so that rankings are Chroma's

    # -- writing

    def add(self, records: Sequence[Record], vectors: Sequence[Any]) -> None:
        with self._transaction():
            self._insert(records, vectors)

    def delete(self, ids: Sequence[str]) -> None:
        with self._transaction():
            for memory_id in ids:
                row = self.db.execute("SELECT n, text FROM mem WHERE id = ?", (memory_id,)).fetchone()
                if row is None:
                    continue
                self.db.execute("INSERT INTO mem_text (mem_text, rowid, text) VALUES ('delete', ?, ?)", row)
                self.db.execute("DELETE FROM mem_tag WHERE n = ?", (row[0],))
                self.db.execute("DELETE FROM mem WHERE n = ?", (row[0],))

    def rebuild(self, collection_id: str, batches: Iterable[tuple[list[Record], list[Any]]]) -> None:
        """Replace the whole index with ``batches`` of Chroma's records, in one transaction."""
        with self._transaction():
            self._mapped = None
            # a new file, not a truncated one: another process may have the old one mapped
            self.vectors_path.unlink(missing_ok=True)
            for table in ("mem_tag", "mem", "info"):
                self.db.execute(f"DELETE FROM {table}")
            self.db.execute("INSERT INTO mem_text (mem_text) VALUES ('delete-all')")
            for records, vectors in batches:
                self._insert(records, vectors)
            self.db.executemany(
                "INSERT INTO info (key, value) VALUES (?, ?)",
                [("version", VERSION), ("collection", collection_id)],
            )

    def _insert(self, records: Sequence[Record], vectors: Sequence[Any]) -> None:
        """Insert ``records`` (inside a transaction); their vectors are written before it commits."""
        rows: list[tuple[int, bytes]] = []
        for record, vector in zip(records, vectors, strict=True):
            meta = record.meta
            project = meta.get("project") or None
            cursor = self.db.execute(
                "INSERT INTO mem (id, session_id, agent, project, created_ts, text, meta) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    record.id,
                    str(meta.get("session_id", "")),
                    str(meta.get("agent", "")),
                    None if project is None else str(project),
                    float(meta.get("created_ts") or 0.0),
                    record.text,
                    json.dumps(meta, sort_keys=True),
                ),
            )
            n = int(cursor.lastrowid or 0)
            rows.append((n, _vector(vector).tobytes()))
            self.db.execute("INSERT INTO mem_text (rowid, text) VALUES (?, ?)", (n, record.text))
            self.db.executemany(
                "INSERT OR IGNORE INTO mem_tag (tag, n) VALUES (?, ?)", [(t, n) for t in _tags(meta)]
            )
        self._write_vectors(rows)

    def _write_vectors(self, rows: list[tuple[int, bytes]]) -> None:
        with open(self.vectors_path, "r+b" if self.vectors_path.exists() else "w+b") as out:
            for n, data in sorted(rows):
                out.seek(n * ROW_BYTES)
                out.write(data)

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        with self._lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")

    # -- reading

    def vectors_complete(self) -> bool:
        """The vector file has a row for every memory."""
        last = self.db.execute("SELECT max(n) FROM mem").fetchone()[0]
        size = self.vectors_path.stat().st_size if self.vectors_path.exists() else 0
        return last is None or size >= (int(last) + 1) * ROW_BYTES

    def count(self) -> int:
        with self._lock:
            return int(self.db.execute("SELECT count(*) FROM mem").fetchone()[0])

    def info(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM info WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def records(self, query: Query) -> list[tuple[Record, float]]:
        """Every memory ``query`` lets through, with its creation time (epoch seconds)."""
        where, params = query.sql()
        with self._lock:
            rows = self.db.execute(
                f"SELECT id, text, meta, created_ts FROM mem WHERE {where}",
                params,
            ).fetchall()
        return [(Record(i, text, json.loads(meta)), float(ts)) for i, text, meta, ts in rows]

    def session_ids(self) -> set[str]:
        with self._lock:
            return {str(r[0]) for r in self.db.execute("SELECT DISTINCT session_id FROM mem") if r[0]}

    def nearest(
        self, query_vector: Any, query: Query, n: int, unfiltered: Callable[[int], list[tuple[str, float]]]
    ) -> list[tuple[Record, float]]:
        """The ``n`` memories ``query`` lets through nearest to ``query_vector``, nearest first, with their
        distances. ``unfiltered(k)``: the store's ``k`` nearest (Chroma's HNSW), used when the
        filter lets so many through that scoring each would be slower."""
        qvec = _vector(query_vector)
        with self._lock:
            rowids = [r[0] for r in self.db.execute(*query.rowid_sql())]
            if len(rowids) > EXACT_LIMIT:
                found = self._oversampled(rowids, n, unfiltered)
                if found is not None:
                    return found
            return self._exact(rowids, qvec, n)

    def _exact(self, rowids: list[int], qvec: Vector, n: int) -> list[tuple[Record, float]]:
        """The ``n`` of ``rowids`` nearest to ``qvec``, each scored."""
        if not rowids:
            return []
        found = distances(self.space, self._vectors(rowids), qvec)
        order = np.argsort(found, kind="stable")[:n]
        chosen = [(rowids[i], float(found[i])) for i in order]
        by_n = self._by_rowid([r for r, _ in chosen])
        return [(by_n[r], d) for r, d in chosen]

    def _vectors(self, rowids: list[int]) -> Vector:
        """The vectors of ``rowids``, from the mapped file (mapped again when it has grown: pages already
        read stay mapped for the next query of a long-lived process)."""
        stat = self.vectors_path.stat()
        fresh = self._mapped is not None and stat.st_ino == self._mapped_inode
        if not fresh or self._mapped is None or max(rowids) >= self._mapped.shape[0]:
            rows = stat.st_size // ROW_BYTES
            self._mapped = np.memmap(self.vectors_path, dtype=np.float32, mode="r", shape=(rows, DIMENSIONS))
            self._mapped_inode = stat.st_ino
        return np.asarray(self._mapped[np.asarray(rowids)])

    def _oversampled(
        self, rowids: list[int], n: int, unfiltered: Callable[[int], list[tuple[str, float]]]
    ) -> list[tuple[Record, float]] | None:
        """Chroma's nearest neighbours, as many as needed to expect ``OVERSAMPLE`` * ``n`` of them among
        ``rowids``, those that are; None when fewer than ``n`` are."""
        allowed = set(rowids)
        total = max(self.count(), len(allowed), 1)
        k = min(total, MAX_OVERSAMPLED, math.ceil(n * OVERSAMPLE * total / len(allowed)))
        nearest = unfiltered(k)
        rowid_of = self._rowids([i for i, _ in nearest])
        passed = [(rowid_of[i], d) for i, d in nearest if rowid_of.get(i) in allowed][:n]
        if len(passed) < min(n, len(allowed)):
            return None
        by_n = self._by_rowid([r for r, _ in passed])
        return [(by_n[r], d) for r, d in passed]

    def _rowids(self, ids: Sequence[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        for start in range(0, len(ids), 30_000):  # under SQLite's limit on parameters
            chunk = list(ids[start : start + 30_000])
            marks = ", ".join("?" * len(chunk))
            rows = self.db.execute(f"SELECT id, n FROM mem INDEXED BY mem_id WHERE id IN ({marks})", chunk)
            found.update((str(i), int(r)) for i, r in rows)
        return found

    def _by_rowid(self, rowids: Sequence[int]) -> dict[int, Record]:
        marks = ", ".join("?" * len(rowids))
        rows = self.db.execute(f"SELECT n, id, text, meta FROM mem WHERE n IN ({marks})", list(rowids))
        return {int(r[0]): Record(r[1], r[2], json.loads(r[3])) for r in rows}

    def close(self) -> None:
        self._mapped = None
        self.db.close()


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(str(path), isolation_level=None, timeout=10, check_same_thread=False)
    db.execute("PRAGMA journal_mode = DELETE")  # a rebuild may replace the file: no WAL beside it
    db.execute("PRAGMA synchronous = NORMAL")
    db.execute("PRAGMA cache_size = -65536")  # up to 64 MiB, as used: a filter may read every vector
    db.execute("PRAGMA mmap_size = 268435456")
    return db


def vectors_file(path: Path) -> Path:
    return path.with_suffix(VECTORS_SUFFIX)


def _fresh(path: Path) -> sqlite3.Connection:
    """A new, empty index at ``path`` (whatever was there is removed)."""
    for stale in (path, path.with_name(path.name + "-journal"), vectors_file(path)):
        with contextlib.suppress(FileNotFoundError):
            stale.unlink()
    db = _connect(path)
    db.executescript(SCHEMA)
    return db


def open_index(
    path: Path,
    collection_id: str,
    collection_count: int,
    chroma_records: Callable[[], Iterable[tuple[list[Record], list[Any]]]],
    space: str = "cosine",
) -> tuple[SideIndex, bool]:
    """The side index at ``path``, rebuilt from ``chroma_records()`` when it is missing, unreadable, from
    another collection or holds a different number of memories; (index, rebuilt)."""
    try:
        index = SideIndex(_connect(path), path, space)
        if (
            index.info("version") == VERSION
            and index.info("collection") == collection_id
            and index.count() == collection_count
            and index.vectors_complete()
        ):
            return index, False
        index.close()
    except sqlite3.DatabaseError:
        pass
    index = SideIndex(_fresh(path), path, space)
    index.rebuild(collection_id, chroma_records())
    return index, True
