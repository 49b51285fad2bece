"""The team store's schema: append-only migrations, as the local store's (store/db.py).

``MIGRATIONS[i]`` upgrades schema version ``i`` to ``i + 1``; never edit a released one, append. The
version is the row of ``lsm_team_schema``. Each step runs in its own transaction under an advisory lock,
so ten laptops running `lsm team init` at once migrate once.

Keys: a session is (user, agent, native id) and a usage bucket (user, agent, native id, hour, model). The
machine is an attribute, not part of either key: the same logs synced to two of one person's computers
are one session and count once. Different people's sessions never share a key.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llm_session_manager.errors import StoreError

if TYPE_CHECKING:
    import psycopg

# Any fixed number: the advisory lock that serialises migrations of one database.
MIGRATION_LOCK = 0x6C736D7465616D  # "lsmteam"

MIGRATIONS: tuple[str, ...] = (
    # 1: sessions (numbers and the list document), per-hour usage, machines, official limits.
    """
    CREATE TABLE lsm_team_sessions (
        user_name TEXT NOT NULL,
        agent TEXT NOT NULL,
        native_id TEXT NOT NULL,
        machine TEXT NOT NULL,
        session_id TEXT NOT NULL,
        project TEXT,
        model TEXT,
        status TEXT NOT NULL,
        running BOOLEAN NOT NULL,
        started_at TIMESTAMPTZ,
        last_activity TIMESTAMPTZ,
        input_tokens BIGINT NOT NULL,
        output_tokens BIGINT NOT NULL,
        cache_creation_tokens BIGINT NOT NULL,
        cache_read_tokens BIGINT NOT NULL,
        total_tokens BIGINT NOT NULL,
        cost_usd DOUBLE PRECISION,
        context_pct DOUBLE PRECISION,
        health_score DOUBLE PRECISION,
        health_status TEXT,
        models JSON NOT NULL,
        doc JSON NOT NULL,
        digest TEXT NOT NULL,
        pushed_at TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (user_name, agent, native_id)
    );
    CREATE INDEX lsm_team_sessions_last ON lsm_team_sessions (last_activity);
    CREATE TABLE lsm_team_usage (
        user_name TEXT NOT NULL,
        agent TEXT NOT NULL,
        native_id TEXT NOT NULL,
        hour TIMESTAMPTZ NOT NULL,
        model TEXT NOT NULL,
        input_tokens BIGINT NOT NULL,
        output_tokens BIGINT NOT NULL,
        cache_creation_tokens BIGINT NOT NULL,
        cache_read_tokens BIGINT NOT NULL,
        cache_write_1h_tokens BIGINT NOT NULL,
        PRIMARY KEY (user_name, agent, native_id, hour, model),
        FOREIGN KEY (user_name, agent, native_id)
            REFERENCES lsm_team_sessions (user_name, agent, native_id) ON DELETE CASCADE
    );
    CREATE INDEX lsm_team_usage_hour ON lsm_team_usage (hour);
    CREATE TABLE lsm_team_machines (
        machine TEXT NOT NULL,
        user_name TEXT NOT NULL,
        last_push_at TIMESTAMPTZ NOT NULL,
        lsm_version TEXT NOT NULL,
        sessions INTEGER NOT NULL,
        PRIMARY KEY (machine, user_name)
    );
    CREATE TABLE lsm_team_limits (
        user_name TEXT NOT NULL,
        agent TEXT NOT NULL,
        window_name TEXT NOT NULL,
        observed_at TIMESTAMPTZ NOT NULL,
        source TEXT NOT NULL,
        machine TEXT NOT NULL,
        used_percent DOUBLE PRECISION NOT NULL,
        resets_at TIMESTAMPTZ,
        window_minutes INTEGER,
        session_id TEXT,
        PRIMARY KEY (user_name, agent, window_name, observed_at, source)
    );
    """,
)

SCHEMA_VERSION = len(MIGRATIONS)


def _version(conn: psycopg.Connection) -> int:
    row = conn.execute("SELECT version FROM lsm_team_schema").fetchone()
    return int(row[0]) if row else 0


def version(conn: psycopg.Connection) -> int:
    """The schema version of the database (0: never initialised)."""
    exists = conn.execute("SELECT to_regclass('lsm_team_schema') IS NOT NULL").fetchone()
    return _version(conn) if exists and exists[0] else 0


def migrate(conn: psycopg.Connection) -> int:
    """Bring the database to SCHEMA_VERSION; returns the version it started from. The whole run holds
    an advisory lock, so of several lsm migrating one database at once, one does the work and the
    others find it done."""
    conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
    try:
        with conn.transaction():
            conn.execute("CREATE TABLE IF NOT EXISTS lsm_team_schema (version INTEGER NOT NULL)")
            if conn.execute("SELECT count(*) FROM lsm_team_schema").fetchone() == (0,):
                conn.execute("INSERT INTO lsm_team_schema (version) VALUES (0)")
        start = _version(conn)
        check(start)
        for current in range(start, SCHEMA_VERSION):
            with conn.transaction():
                conn.execute(MIGRATIONS[current].encode())
                conn.execute("UPDATE lsm_team_schema SET version = %s", (current + 1,))
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))
    return start


def check(found: int) -> None:
    """A database migrated by a newer lsm is not written by this one."""
    if found > SCHEMA_VERSION:
        raise StoreError(
            f"the team database's schema version {found} is newer than this lsm understands"
            f" ({SCHEMA_VERSION}); upgrade lsm"
        )


def require(conn: psycopg.Connection) -> None:
    """Reads and pushes need the current schema: say how to get it rather than fail on a missing table."""
    found = version(conn)
    check(found)
    if found < SCHEMA_VERSION:
        raise StoreError(
            "the team database is not initialised (or is older than this lsm): run `lsm team init`"
        )
