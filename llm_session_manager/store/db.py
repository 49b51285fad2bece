"""Opening the database (WAL) and running append-only schema migrations.

``MIGRATIONS[i]`` upgrades schema version ``i`` to ``i + 1``. Never edit a released migration: append a
new one. ``PRAGMA user_version`` records the version; each migration runs in its own transaction.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from llm_session_manager.errors import StoreError

MIGRATIONS: tuple[str, ...] = (
    # 1: parse cache, one row per transcript file.
    """
    CREATE TABLE parse_cache (
        path TEXT PRIMARY KEY,
        agent TEXT NOT NULL,
        session_key TEXT NOT NULL,
        dev INTEGER NOT NULL,
        ino INTEGER NOT NULL,
        size INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        offset INTEGER NOT NULL,
        head BLOB NOT NULL,
        state BLOB NOT NULL,
        parser_version INTEGER NOT NULL
    );
    CREATE INDEX parse_cache_agent ON parse_cache(agent);
    """,
    # 2: merged per-agent results, valid while the set of file identities is unchanged.
    """
    CREATE TABLE merged_cache (
        agent TEXT PRIMARY KEY,
        signature TEXT NOT NULL,
        sessions BLOB NOT NULL,
        parser_version INTEGER NOT NULL
    );
    """,
    # 3: our own metadata about sessions (status set through lsm, tags, project, description).
    """
    CREATE TABLE session_meta (
        session_id TEXT PRIMARY KEY,
        project TEXT,
        description TEXT,
        closed_at TEXT,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE session_tags (
        session_id TEXT NOT NULL,
        tag TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (session_id, tag)
    );
    CREATE INDEX session_tags_tag ON session_tags(tag);
    """,
    # 4: `lsm tokens` per-file counts, valid while (path, size, mtime_ns) is unchanged; NULL = binary.
    """
    CREATE TABLE token_cache (
        path TEXT NOT NULL,
        encoding TEXT NOT NULL,
        size INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        tokens INTEGER,
        PRIMARY KEY (path, encoding)
    );
    """,
    # 5: sessions imported from an export document (lsm import-context).
    """
    CREATE TABLE imported_sessions (
        session_id TEXT PRIMARY KEY,
        doc BLOB NOT NULL,
        content_hash TEXT NOT NULL,
        source_file TEXT,
        imported_at TEXT NOT NULL
    );
    """,
    # 6: auto-tagging's learning: tags suggested per session, and every accept/reject/apply decision.
    """
    CREATE TABLE tag_suggestions (
        session_id TEXT NOT NULL,
        tag TEXT NOT NULL,
        source TEXT NOT NULL,
        project_type TEXT NOT NULL,
        confidence REAL NOT NULL,
        first_at TEXT NOT NULL,
        last_at TEXT NOT NULL,
        times INTEGER NOT NULL,
        PRIMARY KEY (session_id, tag, source)
    );
    CREATE TABLE tag_feedback (
        id INTEGER PRIMARY KEY,
        session_id TEXT NOT NULL,
        tag TEXT NOT NULL,
        project_type TEXT NOT NULL,
        source TEXT NOT NULL,
        decision TEXT NOT NULL CHECK (decision IN ('accepted', 'rejected', 'applied')),
        confidence REAL,
        created_at TEXT NOT NULL
    );
    CREATE INDEX tag_feedback_type_tag ON tag_feedback(project_type, tag);
    CREATE INDEX tag_feedback_session ON tag_feedback(session_id);
    """,
    # 7: official plan limits and context/cost samples, from Claude Code's statusline input (spooled by
    # `lsm statusline`, moved here on read). Times are Unix seconds.
    """
    CREATE TABLE limit_observations (
        agent TEXT NOT NULL,
        window_name TEXT NOT NULL,
        used_percent REAL NOT NULL,
        resets_at REAL,
        observed_at REAL NOT NULL,
        source TEXT NOT NULL,
        session_id TEXT,
        PRIMARY KEY (agent, window_name, observed_at, source)
    );
    CREATE TABLE statusline_samples (
        session_id TEXT NOT NULL,
        observed_at REAL NOT NULL,
        model TEXT,
        context_tokens INTEGER,
        context_window INTEGER,
        context_percent REAL,
        cost_usd REAL,
        PRIMARY KEY (session_id, observed_at)
    );
    """,
    # 8: live session state pushed by the agents' hooks (`lsm hook` spools them, store/hook_events.py
    # reads them in): recent events (bounded), each session's state, how far each spool file was read.
    """
    CREATE TABLE hook_events (
        id INTEGER PRIMARY KEY,
        at REAL NOT NULL,
        agent TEXT NOT NULL,
        event TEXT NOT NULL,
        session_id TEXT NOT NULL,
        cwd TEXT,
        transcript_path TEXT,
        tool TEXT,
        subject TEXT,
        ntype TEXT,
        message TEXT,
        why TEXT,
        agent_id TEXT
    );
    CREATE TABLE hook_sessions (
        agent TEXT NOT NULL,
        session_id TEXT NOT NULL,
        state TEXT NOT NULL,
        detail TEXT,
        since REAL NOT NULL,
        last_event TEXT NOT NULL,
        last_event_at REAL NOT NULL,
        cwd TEXT,
        transcript_path TEXT,
        compactions INTEGER NOT NULL,
        failure TEXT,
        events INTEGER NOT NULL,
        PRIMARY KEY (agent, session_id)
    );
    CREATE TABLE hook_spool (
        dev INTEGER NOT NULL,
        ino INTEGER NOT NULL,
        offset INTEGER NOT NULL,
        PRIMARY KEY (dev, ino)
    );
    CREATE TABLE hook_spool_stats (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        lines INTEGER NOT NULL,
        corrupt_lines INTEGER NOT NULL
    );
    """,
    # 9: sessions whose transcript files are gone (the agent cleaned them up), with their last known
    # numbers and per-minute usage (store/archive.py); listed as "archived" until `lsm prune`.
    """
    CREATE TABLE archived_sessions (
        session_id TEXT PRIMARY KEY,
        agent TEXT NOT NULL,
        last_activity TEXT,
        archived_at TEXT NOT NULL,
        doc BLOB NOT NULL
    );
    """,
    # 10: the content index (store/content.py; its FTS5 table is made on first use), how far each
    # source was indexed, and the opt-in archive's compressed transcript copies.
    """
    CREATE TABLE content_messages (
        id INTEGER PRIMARY KEY,
        session_id TEXT NOT NULL,
        path TEXT NOT NULL,
        role TEXT NOT NULL,
        at TEXT,
        text TEXT NOT NULL
    );
    CREATE INDEX content_messages_source ON content_messages(session_id, path);
    CREATE TABLE content_progress (
        session_id TEXT NOT NULL,
        path TEXT NOT NULL,
        agent TEXT NOT NULL,
        dev INTEGER NOT NULL,
        ino INTEGER NOT NULL,
        size INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        offset INTEGER NOT NULL,
        head BLOB NOT NULL,
        signature TEXT NOT NULL,
        indexed_at TEXT NOT NULL,
        PRIMARY KEY (session_id, path)
    );
    CREATE TABLE transcript_copies (
        path TEXT PRIMARY KEY,
        agent TEXT NOT NULL,
        session_id TEXT NOT NULL,
        dev INTEGER NOT NULL,
        ino INTEGER NOT NULL,
        size INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        head BLOB NOT NULL,
        copied INTEGER NOT NULL,
        stored INTEGER NOT NULL,
        last_activity TEXT,
        archived_at TEXT NOT NULL
    );
    CREATE INDEX transcript_copies_session ON transcript_copies(session_id);
    """,
    # 11: `lsm list --format json`'s finished output while nothing it shows changes (store/list_cache.py).
    """
    CREATE TABLE list_cache (
        query TEXT PRIMARY KEY,
        keys TEXT NOT NULL,
        valid_until REAL NOT NULL,
        output BLOB NOT NULL
    );
    """,
    # 12: the parse cache indexed by session, holding every file's identity: merging a few sessions at a
    # time finds their files without visiting every row, and a scan after a change reads the identities
    # from the index alone instead of stepping over each row's state to its last column.
    """
    CREATE INDEX parse_cache_session
        ON parse_cache(agent, parser_version, session_key, path, dev, ino, size, mtime_ns);
    DROP INDEX parse_cache_agent;
    """,
)

SCHEMA_VERSION = len(MIGRATIONS)


def _version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection) -> int:
    """Bring ``conn`` to SCHEMA_VERSION. Returns the version it started from.

    Each step reads the version again inside its write transaction: when several lsm processes open a
    new database at once, the first one migrates and the others find the work done.
    """
    start = _version(conn)
    if start > SCHEMA_VERSION:
        raise StoreError(
            f"database schema version {start} is newer than this lsm understands ({SCHEMA_VERSION});"
            " upgrade lsm"
        )
    version = start
    while version < SCHEMA_VERSION:
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = _version(conn)
            if version < SCHEMA_VERSION:
                for statement in MIGRATIONS[version].split(";"):
                    if statement.strip():
                        conn.execute(statement)
                version += 1
                conn.execute(f"PRAGMA user_version = {version}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return start


def _use_wal(conn: sqlite3.Connection, attempts: int = 100) -> None:
    """Switch to WAL once. The switch needs the database to itself and SQLite does not wait for that
    (no busy handler), so concurrent first opens retry for up to ~5 s."""
    for attempt in range(attempts):
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
                return
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.05)


def database_file(conn: sqlite3.Connection) -> Path | None:
    """The file of ``conn``'s main database; None for one in memory (or a temporary one)."""
    for _seq, name, file in conn.execute("PRAGMA database_list"):
        if name == "main":
            return Path(file) if file else None
    return None


def explain(exc: sqlite3.Error, path: Path) -> str:
    """One line for a SQLite failure that reached the user."""
    text = str(exc) or type(exc).__name__
    if "readonly" in text.replace(" ", "").lower():
        return f"the lsm database {path} is read-only ({text}); check its permissions and those of its folder"
    if "locked" in text or "busy" in text:
        return f"the lsm database {path} is busy ({text}); another lsm is writing, try again"
    return f"the lsm database {path} cannot be used ({text}); run `lsm doctor --repair` to rebuild it"


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) and migrate the database at ``path``."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), timeout=10, isolation_level=None)
        _use_wal(conn)
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=10000")
        migrate(conn)
    except sqlite3.DatabaseError as exc:
        raise StoreError(explain(exc, path)) from None
    except OSError as exc:
        raise StoreError(f"{path}: cannot create the lsm database: {exc}") from None
    return conn
