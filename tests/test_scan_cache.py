"""The parse cache: unchanged files are never read again, appended bytes only are read, schema upgrades."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from conftest import FakeHome

from llm_session_manager.agents.claude_code import ClaudeCodeReader
from llm_session_manager.scan import scan_agent
from llm_session_manager.store import db


def scan(fake: FakeHome, conn: sqlite3.Connection):  # type: ignore[no-untyped-def]
    return scan_agent(conn, ClaudeCodeReader([fake.projects]))


def test_second_scan_reads_no_transcript_bytes(fake_home: FakeHome, tmp_path: Path) -> None:
    conn = db.connect(tmp_path / "c.db")
    cold = scan(fake_home, conn)
    assert cold.stats.files_read == cold.stats.files > 0
    assert not cold.stats.from_cache
    warm = scan(fake_home, conn)
    assert warm.stats.from_cache and warm.stats.files_read == 0 and warm.stats.bytes_read == 0
    key = lambda s: s.native_id  # noqa: E731
    assert sorted(warm.sessions, key=key) == sorted(cold.sessions, key=key)


def test_append_reads_only_new_bytes(fake_home: FakeHome, tmp_path: Path) -> None:
    conn = db.connect(tmp_path / "c.db")
    scan(fake_home, conn)
    path = fake_home.projects / "project-alpha" / "session-alpha" / "chat.jsonl"
    line = {
        "timestamp": "2026-01-11T10:00:00.000Z",
        "sessionId": "session-alpha",
        "requestId": "req-alpha-9",
        "message": {
            "id": "msg-alpha-9",
            "model": "claude-sonnet-4-20250514",
            "usage": {"input_tokens": 1000, "output_tokens": 1},
        },
    }
    appended = (json.dumps(line) + "\n").encode()
    if not path.read_bytes().endswith(b"\n"):
        appended = b"\n" + appended
    with open(path, "ab") as fh:
        fh.write(appended)
    again = scan(fake_home, conn)
    assert again.stats.files_read == 1
    assert again.stats.bytes_read == len(appended)
    s = {x.native_id: x for x in again.sessions}["session-alpha"]
    assert s.tokens.input == 600 + 1000


def test_deleted_file_disappears(fake_home: FakeHome, tmp_path: Path) -> None:
    conn = db.connect(tmp_path / "c.db")
    scan(fake_home, conn)
    (fake_home.projects / "project-alpha" / "session-alpha" / "chat.jsonl").unlink()
    ids = {s.native_id for s in scan(fake_home, conn).sessions}
    assert "session-alpha" not in ids
    assert conn.execute("SELECT count(*) FROM parse_cache WHERE path LIKE '%chat.jsonl'").fetchone()[0] == 0


def test_damaged_cache_row_is_reread(fake_home: FakeHome, tmp_path: Path) -> None:
    conn = db.connect(tmp_path / "c.db")
    cold = scan(fake_home, conn)
    conn.execute("UPDATE parse_cache SET state = x'00ff'")
    conn.execute("DELETE FROM merged_cache")
    again = scan(fake_home, conn)
    assert again.stats.files_read == cold.stats.files
    assert {s.native_id: s.tokens for s in again.sessions} == {s.native_id: s.tokens for s in cold.sessions}


def test_transcripts_are_never_written(fake_home: FakeHome, tmp_path: Path) -> None:
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in fake_home.claude.rglob("*") if p.is_file()}
    conn = db.connect(tmp_path / "c.db")
    scan(fake_home, conn)
    scan(fake_home, conn)
    after = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in fake_home.claude.rglob("*") if p.is_file()}
    assert before == after


@pytest.mark.parametrize("start", range(db.SCHEMA_VERSION))
def test_migration_upgrades_from_every_earlier_schema(tmp_path: Path, start: int) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(str(path), isolation_level=None)
    for version in range(start):
        for stmt in db.MIGRATIONS[version].split(";"):
            if stmt.strip():
                conn.execute(stmt)
    conn.execute(f"PRAGMA user_version = {start}")
    if start >= 3:
        conn.execute("INSERT INTO session_meta VALUES ('claude-code:x', 'P', 'D', NULL, '2026-01-01')")
    conn.close()
    upgraded = db.connect(path)
    assert upgraded.execute("PRAGMA user_version").fetchone()[0] == db.SCHEMA_VERSION
    tables = {r[0] for r in upgraded.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"parse_cache", "merged_cache", "session_meta", "session_tags"} <= tables
    if start >= 3:
        assert upgraded.execute("SELECT project FROM session_meta").fetchone()[0] == "P"


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    conn = sqlite3.connect(str(path))
    conn.execute(f"PRAGMA user_version = {db.SCHEMA_VERSION + 5}")
    conn.close()
    from llm_session_manager.errors import StoreError

    with pytest.raises(StoreError, match="newer"):
        db.connect(path)


def test_a_handed_listing_goes_once_to_a_reader_with_the_same_roots(tmp_path: Path) -> None:
    from llm_session_manager import sources

    for name in ("a", "b"):
        (tmp_path / name / "p").mkdir(parents=True)
        (tmp_path / name / "p" / f"{name}.jsonl").write_text("", encoding="utf-8")
    a, b = ClaudeCodeReader([tmp_path / "a"]), ClaudeCodeReader([tmp_path / "b"])
    with sources.handing():
        signature = sources.source_signature(a)
        assert [p for p, _k, _i in sources.listed(b)[0]] == [str(tmp_path / "b" / "p" / "b.jsonl")]
        handed = sources._handed[sources._reader_key(a)]  # type: ignore[index]
        assert sources.listed(ClaudeCodeReader([tmp_path / "a"])) is handed and handed[1] == signature
        assert sources._handed == {}
        assert sources.listed(a) == handed  # listed again, the same files
        sources.source_signature(a)
    assert sources._handed == {}  # what no scan took is dropped with the command
    sources.source_signature(a)  # outside a command of the entry point's: nothing kept
    assert sources._handed == {}


def test_a_sessions_files_and_every_identity_come_from_the_index(tmp_path: Path) -> None:
    """Merging a few sessions at a time looks their files up by session, and the identities a scan after
    a change compares are read from the index alone: neither visits every row's state."""
    conn = db.connect(tmp_path / "plan.db")

    def plan(sql: str, *args: object) -> str:
        return " ".join(str(row[-1]) for row in conn.execute("EXPLAIN QUERY PLAN " + sql, args))

    states = plan(
        "SELECT state FROM parse_cache WHERE agent = ? AND parser_version = ? AND session_key IN (?, ?)",
        "claude-code",
        11,
        "a",
        "b",
    )
    assert "USING INDEX parse_cache_session (agent=? AND parser_version=? AND session_key=?)" in states
    identities = plan(
        "SELECT path, dev, ino, size, mtime_ns, session_key FROM parse_cache"
        " WHERE agent = ? AND parser_version = ?",
        "claude-code",
        11,
    )
    assert "USING COVERING INDEX parse_cache_session" in identities
