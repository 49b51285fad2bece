"""The agents' hook events: the spool `lsm hook` appends to, read incrementally into SQLite.

``sync`` reads what was appended to ``hooks/events.jsonl`` (and its rotated predecessor) since the last
read, remembered per file identity (device, inode) and byte offset, so that nothing is read twice and
no writer is ever interrupted: the spool is never truncated under an appender. Each event is folded
into its session's state (``hookstate.apply``) and kept in a bounded log of recent events (for `lsm
notify` and `lsm hooks status`). Lines of the wrong shape are skipped and counted.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import astuple, dataclass
from pathlib import Path

from llm_session_manager import hookspool
from llm_session_manager.hookstate import HookEvent, HookState, apply, parse_record

# The recent-events log and the session states are bounded: what `lsm notify` and `hooks status` need.
KEEP_EVENTS = 5000
KEEP_SESSION_DAYS = 30
MAX_READ_BYTES = 32 << 20  # more than both spool files can hold

_STATE_COLUMNS = (
    "agent, session_id, state, detail, since, last_event, last_event_at, cwd, transcript_path,"
    " compactions, failure, events"
)
_EVENT_COLUMNS = (
    "at, agent, event, session_id, cwd, transcript_path, tool, subject, ntype, message, why, agent_id"
)


@dataclass
class SyncStats:
    lines: int = 0
    corrupt_lines: int = 0


@dataclass(frozen=True)
class SpoolTotals:
    """Every line read from the spool since the store was made, and those skipped as malformed."""

    lines: int
    corrupt_lines: int


def _spool_files(directory: Path) -> list[tuple[Path, os.stat_result]]:
    """The rotated spool first (older events), then the current one."""
    out = []
    for name in (hookspool.ROTATED_NAME, hookspool.SPOOL_NAME):
        path = directory / name
        try:
            out.append((path, path.stat()))
        except OSError:
            continue
    return out


def _offsets(conn: sqlite3.Connection) -> dict[tuple[int, int], int]:
    return {(dev, ino): off for dev, ino, off in conn.execute("SELECT dev, ino, offset FROM hook_spool")}


def _pending(conn: sqlite3.Connection, files: list[tuple[Path, os.stat_result]]) -> bool:
    offsets = _offsets(conn)
    return any(st.st_size != offsets.get((st.st_dev, st.st_ino), 0) for _, st in files)


def _new_lines(path: Path, offset: int) -> tuple[list[bytes], int]:
    """Complete lines appended after ``offset``, and the offset after the last of them."""
    with path.open("rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        if size < offset:  # replaced or truncated by hand: read it again from the start
            offset = 0
        fh.seek(offset)
        data = fh.read(min(size - offset, MAX_READ_BYTES))
    end = data.rfind(b"\n") + 1
    return data[:end].splitlines(), offset + end


def _decode(line: bytes) -> HookEvent:
    return parse_record(json.loads(line))


def load_states(conn: sqlite3.Connection) -> dict[tuple[str, str], HookState]:
    rows = conn.execute(f"SELECT {_STATE_COLUMNS} FROM hook_sessions")
    return {(r[0], r[1]): HookState(*r) for r in rows}


def _save_states(conn: sqlite3.Connection, states: dict[tuple[str, str], HookState]) -> None:
    marks = ", ".join("?" * len(_STATE_COLUMNS.split(",")))
    conn.executemany(
        f"INSERT OR REPLACE INTO hook_sessions ({_STATE_COLUMNS}) VALUES ({marks})",
        [astuple(s) for s in states.values()],
    )


def _apply_lines(
    conn: sqlite3.Connection, lines: list[bytes], states: dict[tuple[str, str], HookState], stats: SyncStats
) -> None:
    rows = []
    for line in lines:
        if not line.strip():
            continue
        stats.lines += 1
        try:
            ev = _decode(line)
        except (ValueError, UnicodeDecodeError):
            stats.corrupt_lines += 1
            continue
        key = (ev.agent, ev.session_id)
        states[key] = apply(states.get(key), ev)
        rows.append(astuple(ev))
    marks = ", ".join("?" * len(_EVENT_COLUMNS.split(",")))
    conn.executemany(f"INSERT INTO hook_events ({_EVENT_COLUMNS}) VALUES ({marks})", rows)


def _read_all(conn: sqlite3.Connection, directory: Path, stats: SyncStats) -> None:
    files = _spool_files(directory)
    offsets = _offsets(conn)
    states = load_states(conn)
    changed: dict[tuple[str, str], HookState] = {}
    for path, st in files:
        key = (st.st_dev, st.st_ino)
        try:
            lines, end = _new_lines(path, offsets.get(key, 0))
        except OSError:
            continue
        before = dict(states)
        _apply_lines(conn, lines, states, stats)
        changed.update({k: v for k, v in states.items() if before.get(k) is not v})
        conn.execute("INSERT OR REPLACE INTO hook_spool (dev, ino, offset) VALUES (?, ?, ?)", (*key, end))
    live = [(st.st_dev, st.st_ino) for _, st in files]
    for dev, ino in list(offsets):
        if (dev, ino) not in live:
            conn.execute("DELETE FROM hook_spool WHERE dev = ? AND ino = ?", (dev, ino))
    _save_states(conn, changed)
    conn.execute(
        "INSERT INTO hook_spool_stats (id, lines, corrupt_lines) VALUES (1, ?, ?) ON CONFLICT(id) DO UPDATE"
        " SET lines = lines + excluded.lines, corrupt_lines = corrupt_lines + excluded.corrupt_lines",
        (stats.lines, stats.corrupt_lines),
    )


def _trim(conn: sqlite3.Connection, now: float) -> None:
    conn.execute("DELETE FROM hook_events WHERE id <= (SELECT MAX(id) FROM hook_events) - ?", (KEEP_EVENTS,))
    conn.execute("DELETE FROM hook_sessions WHERE last_event_at < ?", (now - KEEP_SESSION_DAYS * 86400,))


def sync(conn: sqlite3.Connection, directory: Path, now: float | None = None) -> SyncStats:
    """Move what the spool gained since the last call into the store. Cheap when nothing is new (two
    stat calls and one small query); the write happens in one transaction, so two lsm processes
    syncing at once read each line once."""
    stats = SyncStats()
    if not _pending(conn, _spool_files(directory)):
        return stats
    conn.execute("BEGIN IMMEDIATE")
    try:
        _read_all(conn, directory, stats)  # offsets read again inside the lock
        _trim(conn, time.time() if now is None else now)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return stats


def totals(conn: sqlite3.Connection) -> SpoolTotals:
    row = conn.execute("SELECT lines, corrupt_lines FROM hook_spool_stats WHERE id = 1").fetchone()
    return SpoolTotals(*(row or (0, 0)))


def events_after(
    conn: sqlite3.Connection, last_id: int, limit: int = 1000
) -> Iterator[tuple[int, HookEvent]]:
    """Events stored after ``last_id``, oldest first, with their ids."""
    rows = conn.execute(
        f"SELECT id, {_EVENT_COLUMNS} FROM hook_events WHERE id > ? ORDER BY id LIMIT ?", (last_id, limit)
    )
    for row in rows.fetchall():
        yield row[0], HookEvent(*row[1:])


def last_event_id(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT COALESCE(MAX(id), 0) FROM hook_events").fetchone()[0])


def last_seen_by_agent(conn: sqlite3.Connection) -> dict[str, tuple[float, str]]:
    """agent -> (time, event name) of the newest event each agent sent."""
    rows = conn.execute(
        "SELECT agent, MAX(last_event_at), last_event FROM hook_sessions GROUP BY agent"
    ).fetchall()
    return {agent: (at, event) for agent, at, event in rows}
