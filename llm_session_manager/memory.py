"""Cross-session memory: short texts saved from one session and found from any other by meaning.

The store is a ChromaDB collection (default ``lsm_memories``): a ``PersistentClient`` in
``<data dir>/memory`` or, in team mode (``memory.server: http://host:port``), an ``HttpClient`` against a
shared ``chroma run`` server. Texts are embedded on this machine by ``embedding.FastMiniLM`` (passed
explicitly every time the collection is opened: chroma stores the function's name with the collection).

One memory is one Chroma record:

- id: ``mem-`` + the first 12 hex digits of its content hash (24 on the rare collision);
- document: the text (whitespace trimmed);
- metadata: ``session_id``, ``native_id``, ``agent``, ``project`` (absent when unknown), ``tags`` (a list,
  absent when empty), ``created_at`` (ISO 8601 UTC), ``created_ts`` (epoch seconds), ``content_hash``
  (sha256 of the session id and the text with whitespace runs collapsed) and ``lsm_schema``.

Adding the same text to the same session again returns the existing memory. Search is hybrid: the
cosine similarity of the query and each memory, plus a bonus when the query, or a code-like term of it
(an error string, a path, a symbol), occurs verbatim in the memory. Filters (session, tags, project,
agent) and verbatim terms are answered by the side index beside a local store (``memory_index``: SQLite
with FTS5, no scan of Chroma's metadata); against a shared server they are Chroma ``where`` and
``where_document`` ``$contains`` clauses.

chromadb is imported only inside functions: importing it costs ~0.7 s and ``lsm list`` must not pay it.
"""

from __future__ import annotations

import copy
import hashlib
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from llm_session_manager.errors import NotFoundError, StoreError, UsageError
from llm_session_manager.paths import Paths
from llm_session_manager.safetext import storable
from llm_session_manager.timefmt import iso

if TYPE_CHECKING:
    from llm_session_manager.memory_index import Query, Record, SideIndex
    from llm_session_manager.models import SessionView

SCHEMA = 1
# onnxruntime (which runs the embedding model) writes a device id and queues telemetry events under
# ~/.cache/Microsoft/DeveloperTools/.onnxruntime/ as soon as it loads, unless this is set before it is
# imported. lsm sets it (an explicit non-empty value of the user's is kept).
TELEMETRY_OFF = {"ORT_DISABLE_TELEMETRY": "1"}
ID_PREFIX = "mem-"
MAX_TEXT = 10_000
DEFAULT_SETTINGS: dict[str, Any] = {
    "server": None,
    "collection": "lsm_memories",
    "model": "auto",
    "model_dir": None,
}
T = TypeVar("T")


def quiet_libraries() -> None:
    """Turn onnxruntime's telemetry off for this process (before onnxruntime is imported)."""
    for name, value in TELEMETRY_OFF.items():
        if not os.environ.get(name):
            os.environ[name] = value


quiet_libraries()


@dataclass(frozen=True)
class Memory:
    id: str
    text: str
    session_id: str
    agent: str
    project: str | None
    tags: tuple[str, ...]
    created_at: str
    content_hash: str = ""
    native_id: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "text": self.text,
            "session_id": self.session_id,
            "agent": self.agent,
            "project": self.project,
            "tags": list(self.tags),
            "created_at": self.created_at,
        }


@dataclass(frozen=True)
class Hit:
    memory: Memory
    score: float  # similarity, plus 1 to 1.5 when matched verbatim: a score >= 1 is a verbatim match
    similarity: float  # cosine similarity of query and memory, clamped to 0..1
    matched: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {
            **self.memory.as_json(),
            "score": round(self.score, 4),
            "similarity": round(self.similarity, 4),
            "matched": list(self.matched),
        }


@dataclass(frozen=True)
class Filters:
    """Metadata filters; every one given must hold. ``sessions``: full session ids (any of them)."""

    sessions: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    project: str | None = None
    agent: str | None = None


@dataclass(frozen=True)
class NewMemory:
    text: str
    session_id: str
    native_id: str
    agent: str
    project: str | None
    tags: tuple[str, ...] = ()


@dataclass
class Stats:
    count: int
    by_session: dict[str, int]
    by_tag: dict[str, int]
    by_project: dict[str, int]
    by_agent: dict[str, int]
    store: dict[str, Any]
    embedding_model: dict[str, Any]
    collection: str
    warnings: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "memories": self.count,
            "by_session": self.by_session,
            "by_tag": self.by_tag,
            "by_project": self.by_project,
            "by_agent": self.by_agent,
            "store": self.store,
            "embedding_model": self.embedding_model,
            "collection": self.collection,
        }


# ---------------------------------------------------------------------------------------------------
# Pure helpers


def settings(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """The ``memory`` config section with defaults for any key missing."""
    merged = copy.deepcopy(DEFAULT_SETTINGS)
    merged.update(cfg.get("memory") or {})
    return merged


def normalise_text(text: str) -> str:
    """The stored text: line endings unified, blank edges trimmed; refuses empty and huge texts."""
    clean = storable(text).replace("\r\n", "\n").replace("\r", "\n").strip()
    if not clean:
        raise UsageError("the memory text is empty")
    if len(clean) > MAX_TEXT:
        raise UsageError(f"the memory text is longer than {MAX_TEXT:,} characters; save a summary")
    return clean


def content_hash(session_id: str, text: str) -> str:
    """sha256 of the session id and the text with every whitespace run collapsed to one space."""
    canonical = " ".join(text.split())
    return hashlib.sha256(f"{session_id}\n{canonical}".encode()).hexdigest()


def memory_id(digest: str, long: bool = False) -> str:
    return ID_PREFIX + digest[: 24 if long else 12]


def secret_kinds(text: str) -> list[str]:
    """The kinds of credential ``text`` seems to hold (the patterns used to redact exports)."""
    from llm_session_manager.redact import redact_text

    return sorted(redact_text(text)[1])


def where_clause(filters: Filters) -> dict[str, Any] | None:
    """The Chroma ``where`` filter for ``filters`` (None = everything)."""
    parts: list[dict[str, Any]] = []
    if filters.sessions:
        ids = sorted(set(filters.sessions))
        parts.append({"session_id": ids[0]} if len(ids) == 1 else {"session_id": {"$in": ids}})
    parts.extend({"tags": {"$contains": tag}} for tag in filters.tags)
    if filters.project is not None:
        parts.append({"project": filters.project})
    if filters.agent is not None:
        parts.append({"agent": filters.agent})
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else {"$and": parts}


_QUOTED = re.compile(r"\"([^\"]{3,})\"|`([^`]{3,})`|'([^'\s][^']{1,}[^'\s])'")
_EDGE = "\"'`,;!?()[]{}<>"
_CAMEL = re.compile(r"[a-z][A-Z]")
# Marks inside a token that only code has (a hyphen alone does not count: "multi-stage" is English).
_INNER_MARK = re.compile(r"\w[/\\._:#=@]+\w|\w\(|\w::|\w--\w")
_HAS_DIGIT_AND_LETTER = re.compile(r"(?=.*\d)(?=.*[A-Za-z])")
_FLAG = re.compile(r"^--?[A-Za-z][\w-]+$")


def is_code_like(token: str) -> bool:
    """An error code, path, symbol or identifier: ``src/app.py``, ``os.path.join``, ``snake_case``,
    ``getUser``, ``TypeError``, ``ECONNREFUSED``, ``E1101``, ``foo()``, ``--force`` — not a plain word."""
    if len(token) < 3 or any(ch.isspace() for ch in token):
        return False
    if _INNER_MARK.search(token) or _CAMEL.search(token) or _FLAG.match(token):
        return True
    if _HAS_DIGIT_AND_LETTER.match(token):
        return True
    return token.isupper() and len(token) >= 4 and token.isalpha()


def exact_terms(query: str) -> list[str]:
    """What must match verbatim (case-sensitive): quoted phrases, code-like tokens, and the whole query
    when it is code-like or at least 12 characters long. Longest first, no duplicates."""
    q = " ".join(query.split())
    terms: list[str] = []
    for match in _QUOTED.finditer(q):
        terms.append(next(g for g in match.groups() if g))
    for raw in q.split(" "):
        token = raw.strip(_EDGE).rstrip(".:")
        if is_code_like(token):
            terms.append(token)
    if len(q) >= 12 or is_code_like(q):
        terms.append(q)
    out: list[str] = []
    for term in sorted(terms, key=len, reverse=True):
        if len(term) >= 3 and term not in out:
            out.append(term)
    return out


def lookup_terms(query: str, terms: Sequence[str]) -> list[str]:
    """The terms worth a full-text lookup in the whole store: all of them when the query holds a quoted
    phrase or a code-like token (paths, symbols, error codes: semantic similarity is weak on those),
    else none — a plain-language query found verbatim in a memory is among its nearest neighbours."""
    whole = " ".join(query.split())
    if any(t != whole for t in terms) or is_code_like(whole):
        return list(terms)
    return []


def occurs(term: str, text: str) -> bool:
    """``term`` occurs in ``text`` and is not the middle of a longer word (``auth`` is not in
    ``author``); case-sensitive."""
    start = text.find(term)
    while start >= 0:
        end = start + len(term)
        left_ok = start == 0 or not (term[0].isalnum() and text[start - 1].isalnum())
        right_ok = end == len(text) or not (term[-1].isalnum() and text[end].isalnum())
        if left_ok and right_ok:
            return True
        start = text.find(term, start + 1)
    return False


def exact_bonus(query: str, terms: Sequence[str], text: str) -> tuple[float, tuple[str, ...]]:
    """1.5 when the whole query occurs verbatim; 1 + 0.4 * share of the other terms that occur; else 0."""
    found = tuple(t for t in terms if occurs(t, text))
    if not found:
        return 0.0, ()
    whole = " ".join(query.split())
    if whole in found:
        return 1.5, found
    parts = [t for t in terms if t != whole]
    return 1.0 + 0.4 * len(found) / max(len(parts), 1), found


def rank(hits: Iterable[Hit], limit: int) -> list[Hit]:
    """Best first by score; equal scores by id, so the order is the same every time."""
    return sorted(hits, key=lambda h: (-round(h.score, 6), h.memory.id))[:limit]


def memory_from(record_id: str, document: str | None, meta: dict[str, Any] | None) -> Memory:
    meta = meta or {}
    tags = meta.get("tags") or ()
    return Memory(
        id=record_id,
        text=document or "",
        session_id=str(meta.get("session_id", "")),
        agent=str(meta.get("agent", "")),
        project=meta.get("project") or None,
        tags=tuple(str(t) for t in tags) if isinstance(tags, (list, tuple)) else (str(tags),),
        created_at=str(meta.get("created_at", "")),
        content_hash=str(meta.get("content_hash", "")),
        native_id=str(meta.get("native_id", "")),
    )


def metadata_for(item: NewMemory, digest: str, now: datetime) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "session_id": item.session_id,
        "native_id": item.native_id,
        "agent": item.agent,
        "created_at": iso(now),
        "created_ts": now.timestamp(),
        "content_hash": digest,
        "lsm_schema": SCHEMA,
    }
    if item.project:
        meta["project"] = item.project
    if item.tags:
        meta["tags"] = list(item.tags)
    return meta


def parse_server(url: str) -> tuple[str, int, bool]:
    """``http://host:port`` -> (host, port, ssl). The port defaults to 8000 (http) or 443 (https)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise StoreError(f"memory.server must look like http://host:port, got {url!r}")
    try:
        port = parts.port
    except ValueError:
        raise StoreError(f"memory.server has a bad port: {url!r}") from None
    ssl = parts.scheme == "https"
    return parts.hostname, port or (443 if ssl else 8000), ssl


def _folder_size(path: Path) -> int:
    total = 0
    for item in path.rglob("*"):
        try:
            if item.is_file():
                total += item.stat().st_size
        except OSError:
            continue
    return total


# ---------------------------------------------------------------------------------------------------
# The store


def store_dir(paths: Paths) -> Path:
    return paths.data_dir / "memory"


def _chroma_settings() -> Any:
    from chromadb.config import Settings

    return Settings(anonymized_telemetry=False)


class MemoryStore:
    """An open memory collection. Build it with ``open_store``."""

    def __init__(
        self, client: Any, collection: Any, function: Any, files: Any, location: dict[str, Any]
    ) -> None:
        self.client = client
        self.collection = collection
        self.function = function
        self.files = files
        self.location = location
        self.warnings: list[str] = []
        self._max_batch: int | None = None
        self.index: SideIndex | None = None  # the local store's filter and verbatim-term index

    def _call(self, what: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """A Chroma call; its failures (a server gone away, a broken store) become one-line errors."""
        import httpx
        from chromadb.errors import ChromaError

        try:
            return what(*args, **kwargs)
        except (ChromaError, httpx.HTTPError, ConnectionError) as exc:
            raise StoreError(f"memory store {self.where()}: {type(exc).__name__}: {exc}") from None

    def where(self) -> str:
        return str(self.location.get("url") or self.location.get("path"))

    # -- reading

    def get(self, memory_id_: str) -> Memory | None:
        got = self._call(self.collection.get, ids=[memory_id_], include=["documents", "metadatas"])
        if not got["ids"]:
            return None
        return memory_from(got["ids"][0], got["documents"][0], got["metadatas"][0])

    def find(self, filters: Filters = Filters(), limit: int | None = None) -> list[Memory]:
        """Memories matching ``filters``, newest first."""
        if self.index is not None:
            rows = [
                (memory_from(r.id, r.text, r.meta), ts) for r, ts in self.index.records(index_query(filters))
            ]
        else:
            got = self._call(
                self.collection.get, where=where_clause(filters), include=["documents", "metadatas"]
            )
            rows = [
                (memory_from(i, d, m), float((m or {}).get("created_ts") or 0.0))
                for i, d, m in zip(got["ids"], got["documents"], got["metadatas"])
            ]
        rows.sort(key=lambda r: (-r[1], r[0].id))
        memories = [m for m, _ in rows]
        return memories if limit is None else memories[:limit]

    def count(self) -> int:
        return int(self._call(self.collection.count))

    def session_ids(self) -> set[str]:
        """Every session id that has memories (to resolve ``--session`` for sessions lsm no longer sees)."""
        if self.index is not None:
            return self.index.session_ids()
        got = self._call(self.collection.get, include=["metadatas"])
        return {str(m["session_id"]) for m in got["metadatas"] if m and m.get("session_id")}

    # -- writing

    def add(self, item: NewMemory, now: datetime | None = None) -> tuple[Memory, bool]:
        """Save one memory; (memory, True) if new, (the existing memory, False) if already saved."""
        return self.add_many([item], now)[0]

    def add_many(self, items: Sequence[NewMemory], now: datetime | None = None) -> list[tuple[Memory, bool]]:
        """Save many memories in batches (each text embedded once); same order as ``items``."""
        now = now or datetime.now(timezone.utc)
        plan: list[tuple[str, NewMemory, str]] = []  # (id, item, digest)
        for item in items:
            text = normalise_text(item.text)
            item = NewMemory(text, item.session_id, item.native_id, item.agent, item.project, item.tags)
            digest = content_hash(item.session_id, text)
            plan.append((memory_id(digest), item, digest))
        existing = self._existing([p[0] for p in plan])
        plan = [self._settle_collision(p, existing) for p in plan]
        results: list[tuple[Memory, bool]] = []
        new: dict[str, tuple[NewMemory, dict[str, Any]]] = {}
        for mid, item, digest in plan:
            old = existing.get(mid)
            if old is not None:
                results.append((old, False))
                continue
            if mid in new:  # the same text twice in one batch
                results.append((memory_from(mid, item.text, new[mid][1]), False))
                continue
            meta = metadata_for(item, digest, now)
            new[mid] = (item, meta)
            results.append((memory_from(mid, item.text, meta), True))
        self._write(new)
        return results

    def _existing(self, ids: Sequence[str]) -> dict[str, Memory]:
        found: dict[str, Memory] = {}
        unique = sorted(set(ids))
        step = self._batch_size()
        for start in range(0, len(unique), step):
            got = self._call(
                self.collection.get, ids=unique[start : start + step], include=["documents", "metadatas"]
            )
            for i, d, m in zip(got["ids"], got["documents"], got["metadatas"]):
                found[i] = memory_from(i, d, m)
        return found

    def _settle_collision(
        self, entry: tuple[str, NewMemory, str], existing: dict[str, Memory]
    ) -> tuple[str, NewMemory, str]:
        """A different text whose 12-digit id is taken gets the 24-digit id."""
        mid, item, digest = entry
        old = existing.get(mid)
        if old is None or old.content_hash == digest:
            return entry
        long_id = memory_id(digest, long=True)
        if long_id not in existing:
            existing.update(self._existing([long_id]))
        return long_id, item, digest

    def _batch_size(self) -> int:
        if self._max_batch is None:
            try:
                self._max_batch = max(1, min(int(self.client.get_max_batch_size()), 5000))
            except Exception:  # an older client or server: a size every chroma accepts
                self._max_batch = 1000
        return self._max_batch

    def _write(self, new: dict[str, tuple[NewMemory, dict[str, Any]]]) -> None:
        if not new:
            return
        ids = list(new)
        step = self._batch_size()
        for start in range(0, len(ids), step):
            chunk = ids[start : start + step]
            texts = [new[i][0].text for i in chunk]
            vectors = self._embed(texts)
            metadatas = [new[i][1] for i in chunk]
            self._call(
                self.collection.add, ids=chunk, documents=texts, embeddings=vectors, metadatas=metadatas
            )
            if self.index is not None:  # after Chroma: a crash in between is repaired on the next open
                self.index.add(index_records(chunk, texts, metadatas), vectors)

    def _embed(self, texts: list[str]) -> Any:
        return self.function(texts)

    def delete(self, memory_id_: str) -> Memory:
        """Remove exactly one memory, by its full id."""
        memory = self.get(memory_id_.strip())
        if memory is None:
            raise NotFoundError(f"no memory has the id '{memory_id_}' (see `lsm memory-list`)")
        self._call(self.collection.delete, ids=[memory.id])
        if self.index is not None:
            self.index.delete([memory.id])
        return memory

    # -- searching

    def search(self, query: str, filters: Filters = Filters(), limit: int = 10) -> list[Hit]:
        """The ``limit`` memories best matching ``query`` by meaning, verbatim matches first."""
        query = query.strip()
        if not query:
            raise UsageError("the search query is empty")
        qvec = self._embed([query])[0]
        candidates = max(2 * limit, 10)  # room for the verbatim bonus to reorder; more costs time
        hits: dict[str, Hit] = {}
        terms = exact_terms(query)
        lookup = lookup_terms(query, terms)
        if self.index is not None:
            self._knn_indexed(hits, qvec, candidates, filters)
            if lookup:  # the nearest of the memories holding a term verbatim, found by the FTS index
                self._knn_indexed(hits, qvec, candidates, filters, tuple(lookup))
        else:
            where = where_clause(filters)
            self._knn(hits, qvec, candidates, where)
            if lookup:  # the nearest of the memories holding a term verbatim, found by Chroma's text index
                contains = [{"$contains": t} for t in lookup]
                self._knn(
                    hits, qvec, candidates, where, contains[0] if len(contains) == 1 else {"$or": contains}
                )
        scored = []
        for hit in hits.values():
            bonus, found = exact_bonus(query, terms, hit.memory.text)
            scored.append(Hit(hit.memory, hit.similarity + bonus, hit.similarity, found))
        return rank(scored, limit)

    def _knn(self, hits: dict[str, Hit], qvec: Any, n: int, where: Any, where_document: Any = None) -> None:
        """The ``n`` memories nearest to ``qvec`` among those the filters let through, into ``hits``."""
        got = self._call(
            self.collection.query,
            query_embeddings=[qvec],
            n_results=n,
            where=where,
            where_document=where_document,
            include=["documents", "metadatas", "distances"],
        )
        rows = zip(got["ids"][0], got["documents"][0], got["metadatas"][0], got["distances"][0])
        for i, d, m, dist in rows:
            if i not in hits:
                hits[i] = Hit(memory_from(i, d, m), 0.0, _similarity(1.0 - float(dist)))

    def _knn_indexed(
        self, hits: dict[str, Hit], qvec: Any, n: int, filters: Filters, terms: tuple[str, ...] = ()
    ) -> None:
        """``_knn`` through the side index: unfiltered queries go to Chroma's HNSW as they are; filtered
        and verbatim ones take their candidates from the index (no scan of Chroma's metadata)."""
        query = index_query(filters, terms)
        if query == index_query(Filters()):
            self._knn(hits, qvec, n, None)
            return
        assert self.index is not None
        for record, distance in self.index.nearest(qvec, query, n, lambda k: self._nearest_ids(qvec, k)):
            if record.id not in hits:
                memory = memory_from(record.id, record.text, record.meta)
                hits[record.id] = Hit(memory, 0.0, _similarity(1.0 - distance))

    def _nearest_ids(self, qvec: Any, n: int) -> list[tuple[str, float]]:
        """The ``n`` memories nearest to ``qvec`` in the whole store (Chroma's HNSW): (id, distance)."""
        got = self._call(self.collection.query, query_embeddings=[qvec], n_results=n, include=["distances"])
        return [(str(i), float(d)) for i, d in zip(got["ids"][0], got["distances"][0])]

    def _chroma_records(self) -> Iterator[tuple[list[Record], list[Any]]]:
        """Every memory in the collection with its vector, in batches (to rebuild the side index)."""
        step = self._batch_size()
        offset = 0
        while True:
            got = self._call(
                self.collection.get,
                include=["documents", "metadatas", "embeddings"],
                limit=step,
                offset=offset,
            )
            if not got["ids"]:
                return
            records = index_records(got["ids"], got["documents"], got["metadatas"])
            yield records, list(got["embeddings"])
            offset += len(got["ids"])

    def attach_index(self, folder: Path) -> None:
        """Open the side index in ``folder`` (rebuilt from Chroma when it is missing or disagrees)."""
        import sqlite3

        from llm_session_manager import memory_index

        path = folder / memory_index.INDEX_FILE
        space = distance_space(self.collection)
        if space not in memory_index.SPACES:
            self.warnings.append(
                f"memory collection uses the {space!r} distance; filtered searches scan the store"
            )
            return
        try:
            self.index, _ = memory_index.open_index(
                path, str(self.collection.id), self.count(), self._chroma_records, space
            )
        except (sqlite3.Error, OSError) as exc:
            self.warnings.append(f"memory index {path}: {_first_line(exc)}; filtered searches scan the store")

    # -- statistics

    def stats(self) -> Stats:
        got = self._call(self.collection.get, include=["metadatas"])
        metas = [m or {} for m in got["metadatas"]]
        by_tag: Counter[str] = Counter()
        for m in metas:
            by_tag.update(str(t) for t in (m.get("tags") or ()))
        store = dict(self.location)
        if store.get("kind") == "local":
            store["size_bytes"] = _folder_size(Path(store["path"]))
        return Stats(
            count=len(metas),
            by_session=_counts(m.get("session_id") for m in metas),
            by_tag=dict(sorted(by_tag.items(), key=lambda kv: (-kv[1], kv[0]))),
            by_project=_counts(m.get("project") for m in metas),
            by_agent=_counts(m.get("agent") for m in metas),
            store=store,
            embedding_model={
                "name": "all-MiniLM-L6-v2",
                "function": "onnx_mini_lm_l6_v2",
                "variant": self.files.variant,
                "model_file": str(self.files.model_file),
                "dimensions": 384,
            },
            collection=str(self.collection.name),
        )


def distance_space(collection: Any) -> str:
    """The distance of the collection's vector index: its configuration's, else its metadata's, else
    Chroma's default (l2)."""
    conf = getattr(collection, "configuration_json", None) or {}
    for key in ("hnsw", "spann"):
        space = (conf.get(key) or {}).get("space")
        if space:
            return str(space)
    return str((collection.metadata or {}).get("hnsw:space") or "l2")


def index_query(filters: Filters, terms: tuple[str, ...] = ()) -> Query:
    from llm_session_manager.memory_index import Query

    return Query(filters.sessions, filters.tags, filters.project, filters.agent, terms)


def index_records(ids: Sequence[str], texts: Sequence[str | None], metas: Sequence[Any]) -> list[Record]:
    from llm_session_manager.memory_index import Record

    return [Record(i, t or "", dict(m or {})) for i, t, m in zip(ids, texts, metas)]


def _similarity(value: float) -> float:
    return min(1.0, max(0.0, value))


def _counts(values: Iterable[Any]) -> dict[str, int]:
    counter = Counter(str(v) for v in values if v)
    return dict(sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])))


def _client(paths: Paths, conf: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    import chromadb

    if conf.get("server"):
        url = str(conf["server"])
        host, port, ssl = parse_server(url)
        try:
            client = chromadb.HttpClient(host=host, port=port, ssl=ssl, settings=_chroma_settings())
        except Exception as exc:  # chromadb raises ValueError, httpx errors or its own, depending
            raise StoreError(
                f"cannot reach the memory server {url} ({type(exc).__name__}: {_first_line(exc)}); "
                "is `chroma run` up there?"
            ) from None
        return client, {"kind": "server", "url": url}
    folder = store_dir(paths)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        client = chromadb.PersistentClient(path=str(folder), settings=_chroma_settings())
    except Exception as exc:
        raise StoreError(f"cannot open the memory store {folder}: {_first_line(exc)}") from None
    return client, {"kind": "local", "path": str(folder)}


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else "no detail"


def _recorded_model(client: Any, name: str) -> str | None:
    """The model copy the collection's memories were embedded with. None when there is no collection or
    it is empty: a first add that failed (no model, no network) embedded nothing and must not pin the
    store to the model that was missing."""
    from chromadb.errors import NotFoundError as ChromaNotFound

    try:
        existing = client.get_collection(name)
    except (ChromaNotFound, ValueError):
        return None
    value = (existing.metadata or {}).get("lsm_model")
    return str(value) if value and existing.count() else None


def _record_model(collection: Any, variant: str) -> None:
    """Record the model an empty collection will be embedded with (it may name a model that failed)."""
    metadata = dict(collection.metadata or {})
    if metadata.get("lsm_model") == variant or collection.count():
        return
    metadata.update(lsm_model=variant, lsm_schema=SCHEMA)
    collection.modify(metadata=metadata)


def open_store(paths: Paths, cfg: Mapping[str, Any]) -> MemoryStore:
    """Open (creating if needed) the memory collection, with the embedding function passed explicitly."""
    from llm_session_manager import embedding

    conf = settings(cfg)
    client, location = _client(paths, conf)
    name = str(conf["collection"])
    try:
        recorded = _recorded_model(client, name)
    except Exception as exc:
        raise StoreError(
            f"memory store {location.get('url') or location.get('path')}: {_first_line(exc)}"
        ) from None
    files = embedding.choose(
        str(conf["model"]), embedding.chroma_model_dir(paths.home, conf.get("model_dir")), recorded
    )
    function = embedding.embedding_function(files)
    try:
        collection = client.get_or_create_collection(
            name, embedding_function=function, metadata={"lsm_model": files.variant, "lsm_schema": SCHEMA}
        )
        _record_model(collection, files.variant)
    except Exception as exc:
        raise StoreError(f"cannot open memory collection '{name}': {_first_line(exc)}") from None
    store = MemoryStore(client, collection, function, files, {**location, "collection": name})
    if location["kind"] == "local":  # a shared server has other writers: no side index there
        store.attach_index(Path(location["path"]))
    if recorded and recorded != files.variant:
        store.warnings.append(
            f"the memories were embedded with the {recorded} model but memory.model selects the "
            f"{files.variant} one; rankings may be slightly off (set memory.model: auto)"
        )
    return store


# ---------------------------------------------------------------------------------------------------
# What front ends (the CLI, the MCP server) call


def check_secret(text: str, allow_secret: bool) -> None:
    """Refuse a text that looks like it holds a credential, unless the user said it is fine."""
    kinds = secret_kinds(text)
    if kinds and not allow_secret:
        raise UsageError(
            f"the text looks like it holds a secret ({', '.join(kinds)}); remove it, "
            "or add --allow-secret to save it as it is"
        )


def new_memory_for(view: SessionView, text: str, tags: Sequence[str] = ()) -> NewMemory:
    """A memory of ``view``'s session: its id, agent and project (lsm's project name or folder name)."""
    from llm_session_manager.service import project_name

    s = view.session
    return NewMemory(text, s.id, s.native_id, s.agent, project_name(view), tuple(tags))


def resolve_session(views: Sequence[SessionView], known: Iterable[str], query: str) -> str:
    """A ``--session`` value as one full session id: a session lsm sees now (full id, native id or unique
    prefix, as everywhere in lsm), else a session that only the store still remembers (same rules)."""
    from llm_session_manager.errors import AmbiguousIdError
    from llm_session_manager.service import resolve_id

    try:
        return resolve_id(views, query).session.id
    except NotFoundError:
        pass
    q = query.strip()
    ids = sorted(set(known))
    exact = [i for i in ids if q in (i, i.partition(":")[2])]
    if len(exact) == 1:
        return exact[0]
    matches = exact or [i for i in ids if i.startswith(q) or i.partition(":")[2].startswith(q)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise NotFoundError(f"no session matches '{q}' (see `lsm list --all` and `lsm memory-stats`)")
    raise AmbiguousIdError(f"'{q}' matches {len(matches)} sessions: {', '.join(matches[:8])}; give more")
