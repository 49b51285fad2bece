"""Checking and repairing lsm's own database.

The database holds two kinds of data: caches (parse cache, merged results, token counts), which lsm can
always rebuild from the agents' files, and the user's own records (tags, projects, descriptions, closed
marks, imported sessions, tagging feedback), which exist nowhere else. A repair therefore moves the
damaged file aside (it is never deleted), creates a fresh database and copies over every row of the
user's records that can still be read; the caches start empty and refill on the next scan.
"""

from __future__ import annotations

import sqlite3
import stat
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from llm_session_manager.errors import StoreError
from llm_session_manager.store import db

# The user's own records, in dependency-free order; everything else is a cache.
# Rows lsm cannot read again from anywhere: kept by --repair. (Official limits came from Claude Code's
# statusline input, which is gone once shown.)
USER_TABLES = (
    "session_meta",
    "session_tags",
    "imported_sessions",
    "tag_suggestions",
    "tag_feedback",
    "limit_observations",
    "statusline_samples",
    "archived_sessions",  # their transcripts are gone
    # What was said in sessions whose transcripts may be gone, and the archive's copies (its FTS5 index
    # is rebuilt from content_messages on first use).
    "content_messages",
    "content_progress",
    "transcript_copies",
)
CACHE_TABLES = ("parse_cache", "merged_cache", "token_cache")


@dataclass
class Diagnosis:
    path: str
    exists: bool
    schema_version: int | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class Repair:
    backup: str
    kept: dict[str, int] = field(default_factory=dict)  # table -> rows copied
    lost: dict[str, str] = field(default_factory=dict)  # table -> why some or all rows could not be read


def diagnose(path: Path) -> Diagnosis:
    """What is wrong with the database at ``path`` (read-only: nothing is written)."""
    diag = Diagnosis(str(path), path.exists())
    if not diag.exists:
        return diag
    if not _is_regular(path):  # a FIFO would block the open forever, a folder cannot be a database
        diag.problems.append("not a regular file")
        return diag
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    except sqlite3.Error as exc:
        diag.problems.append(f"cannot open: {exc}")
        return diag
    try:
        diag.schema_version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        rows = [r[0] for r in conn.execute("PRAGMA integrity_check(20)")]
        if rows != ["ok"]:
            diag.problems.extend(f"integrity: {r}" for r in rows)
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if diag.schema_version > db.SCHEMA_VERSION:
            diag.problems.append(
                f"schema version {diag.schema_version} is newer than this lsm ({db.SCHEMA_VERSION})"
            )
        elif diag.schema_version == db.SCHEMA_VERSION:
            missing = [t for t in (*USER_TABLES, *CACHE_TABLES) if t not in tables]
            diag.problems.extend(f"missing table: {t}" for t in missing)
    except sqlite3.Error as exc:
        diag.problems.append(f"unreadable: {exc}")
    finally:
        conn.close()
    return diag


def repair(path: Path, now: datetime | None = None) -> Repair:
    """Move the database aside and rebuild it, keeping every readable row of the user's records."""
    stamp = (now or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%SZ")
    backup = path.with_name(f"{path.name}.damaged-{stamp}")
    for suffix in ("", "-wal", "-shm"):
        src = Path(f"{path}{suffix}")
        if src.exists():
            try:
                src.replace(Path(f"{backup}{suffix}"))
            except OSError as exc:
                raise StoreError(f"cannot move {src} aside to repair it: {exc.strerror}") from exc
    result = Repair(str(backup))
    rows = _salvage(backup, result)
    conn = db.connect(path)
    try:
        conn.execute("BEGIN IMMEDIATE")
        for table, (columns, values) in rows.items():
            have = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
            keep = [i for i, c in enumerate(columns) if c in have]
            names = ", ".join(columns[i] for i in keep)
            marks = ", ".join("?" for _ in keep)
            sql = f"INSERT OR IGNORE INTO {table} ({names}) VALUES ({marks})"
            conn.executemany(sql, ([row[i] for i in keep] for row in values))
            result.kept[table] = len(values)
        conn.execute("COMMIT")
    finally:
        conn.close()
    return result


def _salvage(path: Path, result: Repair) -> dict[str, tuple[list[str], list[tuple[object, ...]]]]:
    """Every row of the user's tables that can be read from a damaged file (rows past a bad page in
    one table are lost; the other tables are still read)."""
    out: dict[str, tuple[list[str], list[tuple[object, ...]]]] = {}
    if not _is_regular(path):
        return out
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    except sqlite3.Error as exc:
        result.lost = {t: f"cannot open: {exc}" for t in USER_TABLES}
        return out
    try:
        for table in USER_TABLES:
            values: list[tuple[object, ...]] = []
            try:
                cursor = conn.execute(f"SELECT * FROM {table}")
                columns = [d[0] for d in cursor.description]
                for row in cursor:
                    values.append(tuple(row))
            except sqlite3.Error as exc:
                result.lost[table] = str(exc)
                if not values:
                    continue
            out[table] = (columns, values)
    finally:
        conn.close()
    return out


def _is_regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(path.stat().st_mode)
    except OSError:
        return False
