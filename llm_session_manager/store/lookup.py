"""Quick, read-only look-ups for shell completion: the session ids and tags lsm last saw, straight from
the database, with no scan, no migration and no write. Anything wrong with the database (missing,
locked, damaged, from another version) gives nothing rather than an error: a completer must never
break the shell it runs in."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import NamedTuple

import orjson

from llm_session_manager.store.parse_cache import LINKS


class SessionName(NamedTuple):
    id: str  # agent:native
    native_id: str
    title: str | None
    last_activity: str | None  # ISO 8601, as stored


def session_names(db_file: Path) -> list[SessionName]:
    """Every session in the merged parse cache, the archive and the imports (a live one first)."""
    try:
        with closing(_read_only(db_file)) as conn:
            seen: dict[str, SessionName] = {}
            for name in _all(conn):
                seen.setdefault(name.id, name)
            return list(seen.values())
    except (sqlite3.Error, OSError, ValueError):
        return []


def tag_names(db_file: Path) -> list[str]:
    """Every tag given to a session, sorted."""
    try:
        with closing(_read_only(db_file)) as conn:
            return [str(t) for (t,) in conn.execute("SELECT DISTINCT tag FROM session_tags ORDER BY tag")]
    except (sqlite3.Error, OSError, ValueError):
        return []


def _read_only(db_file: Path) -> sqlite3.Connection:
    if not db_file.is_file():
        raise FileNotFoundError(db_file)
    conn = sqlite3.connect(f"{db_file.resolve().as_uri()}?mode=ro", uri=True, timeout=0.5)
    conn.execute("PRAGMA query_only=ON")
    return conn


def _all(conn: sqlite3.Connection) -> Iterator[SessionName]:
    # An agent's parts are rows of their own, each one array; the row listing them decodes as nothing.
    for agent, blob in conn.execute("SELECT agent, sessions FROM merged_cache"):
        if str(agent).endswith(LINKS):
            continue
        yield from _from_documents(_decoded(blob))
    for (blob,) in conn.execute("SELECT doc FROM archived_sessions"):
        yield from _from_documents([_decoded(blob)])
    for sid, blob in conn.execute("SELECT session_id, doc FROM imported_sessions"):
        doc = _decoded(blob)
        session = doc.get("session") if isinstance(doc, dict) else None
        title = session.get("title") if isinstance(session, dict) else None
        yield SessionName(str(sid), str(sid).partition(":")[2], _text(title), None)


def _decoded(blob: object) -> object:
    try:
        return orjson.loads(blob) if isinstance(blob, bytes | str) else None
    except orjson.JSONDecodeError:
        return None


def _from_documents(docs: object) -> Iterator[SessionName]:
    """The names in a list of serialised sessions (codec.session_to_dict); odd entries are skipped."""
    if not isinstance(docs, list):
        return
    for doc in docs:
        if not isinstance(doc, dict):
            continue
        sid, native = doc.get("id"), doc.get("native_id")
        if isinstance(sid, str) and isinstance(native, str) and sid and native:
            yield SessionName(sid, native, _text(doc.get("title")), _text(doc.get("last_activity")))


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
