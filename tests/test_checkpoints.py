"""A cold scan's database log is checkpointed by a thread of its own (store.checkpoints): the writing
connection stops checkpointing for the block, the thread copies the log into the database as each few MB
are written and once more at the end, nothing is lost, and no such thread is alive when workers fork."""

from __future__ import annotations

import sqlite3
import struct
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from claude_corpus import generate

from llm_session_manager import scan
from llm_session_manager.agents.claude_code import ClaudeCodeReader
from llm_session_manager.models import Session
from llm_session_manager.scan import scan_agent
from llm_session_manager.store import checkpoints, db
from llm_session_manager.store.checkpoints import Checkpoints, checkpointed_aside


def autocheckpoint(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0])


def log_left(file: Path) -> tuple[int, int]:
    """(frames in the log, frames of it already copied into the database), read from the header of the
    shared-memory index as SQLite lays it out (two copies of a 48-byte header, then nBackfill): asking
    SQLite would mean checkpointing, which copies what is left."""
    shm = Path(f"{file}-shm").read_bytes()
    (frames,) = struct.unpack_from("=I", shm, 16)
    (done,) = struct.unpack_from("=I", shm, 96)
    return frames, done


def until(check: Callable[[], bool], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def write(conn: sqlite3.Connection, aside: Checkpoints, megabytes: int) -> None:
    conn.execute("CREATE TABLE IF NOT EXISTS blobs (body BLOB)")
    for _ in range(megabytes):
        body = bytes(1 << 20)
        conn.execute("INSERT INTO blobs VALUES (?)", (body,))
        aside.written(len(body))


def test_the_writer_stops_checkpointing_and_the_thread_copies_the_log(tmp_path: Path) -> None:
    conn = db.connect(tmp_path / "lsm.db")
    assert autocheckpoint(conn) == 1000
    with checkpointed_aside(conn) as aside:
        assert autocheckpoint(conn) == 0
        write(conn, aside, 3)  # under EVERY_BYTES: no thread yet
        assert aside.thread is None
        write(conn, aside, 6)
        assert aside.thread is not None
        assert until(lambda: aside.done >= 1)  # while the block goes on
        write(conn, aside, 1)
    assert autocheckpoint(conn) == 1000
    checkpoints.settle()
    assert not aside.thread.is_alive() and aside.error is None
    assert aside.done >= 2  # and one at its end
    frames, done = log_left(tmp_path / "lsm.db")
    assert frames > 0 and done == frames  # the whole log is in the database
    assert conn.execute("SELECT count(*), sum(length(body)) FROM blobs").fetchone() == (10, 10 << 20)
    conn.close()
    assert not (tmp_path / "lsm.db-wal").exists() or (tmp_path / "lsm.db-wal").stat().st_size == 0


def test_a_block_that_writes_nothing_starts_no_thread(tmp_path: Path) -> None:
    conn = db.connect(tmp_path / "lsm.db")
    with checkpointed_aside(conn) as aside:
        pass
    assert aside.thread is None and autocheckpoint(conn) == 1000


def test_a_small_block_is_checkpointed_once_at_its_end(tmp_path: Path) -> None:
    conn = db.connect(tmp_path / "lsm.db")
    with checkpointed_aside(conn) as aside:
        write(conn, aside, 1)
        assert aside.thread is None
    checkpoints.settle()
    assert aside.thread is not None and aside.done == 1
    frames, done = log_left(tmp_path / "lsm.db")
    assert done == frames


def test_a_database_in_memory_is_left_as_it_is() -> None:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    before = autocheckpoint(conn)
    with checkpointed_aside(conn) as aside:
        assert autocheckpoint(conn) == before
        write(conn, aside, 5)
    assert aside.thread is None and autocheckpoint(conn) == before


def test_the_block_failing_still_restores_the_writer_and_ends_the_thread(tmp_path: Path) -> None:
    conn = db.connect(tmp_path / "lsm.db")
    with pytest.raises(RuntimeError), checkpointed_aside(conn) as aside:
        write(conn, aside, 5)
        raise RuntimeError("boom")
    assert autocheckpoint(conn) == 1000
    checkpoints.settle()
    assert aside.thread is not None and not aside.thread.is_alive()


def test_a_thread_that_cannot_open_the_database_gives_up_quietly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    aside = Checkpoints(tmp_path / "missing" / "lsm.db")  # its folder does not exist: connect fails
    aside.written(checkpoints.EVERY_BYTES)
    aside.finish()
    checkpoints.settle()
    assert aside.error and aside.done == 0
    assert capsys.readouterr() == ("", "")


def test_a_pool_forks_only_once_the_checkpoint_threads_are_done(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A thread inside SQLite while the process forks would leave the child its mutexes held."""
    release = threading.Event()
    real = Checkpoints._checkpoints

    def slow(self: Checkpoints) -> None:
        release.wait(5)
        real(self)

    monkeypatch.setattr(Checkpoints, "_checkpoints", slow)
    conn = db.connect(tmp_path / "lsm.db")
    with checkpointed_aside(conn) as aside:
        write(conn, aside, 1)
    assert aside.thread is not None and aside.thread.is_alive()
    threading.Timer(0.2, release.set).start()
    with scan._pool(2) as pool:
        assert not aside.thread.is_alive()  # settled before forking
        assert pool.submit(int, "7").result() == 7


def by_id(sessions: list[Session]) -> list[Session]:
    return sorted(sessions, key=lambda s: s.native_id)


@contextmanager
def kept(monkeypatch: pytest.MonkeyPatch, found: list[Checkpoints]) -> Iterator[None]:
    real = scan.checkpointed_aside

    @contextmanager
    def noted(conn: sqlite3.Connection) -> Iterator[Checkpoints]:
        with real(conn) as aside:
            found.append(aside)
            yield aside

    monkeypatch.setattr(scan, "checkpointed_aside", noted)
    yield


def test_a_cold_scan_checkpoints_aside_and_its_database_is_whole_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    generate(tmp_path / "claude", sessions=30, seed=5)
    root = tmp_path / "claude" / "projects"
    serial = by_id(scan_agent(db.connect(tmp_path / "serial.db"), ClaudeCodeReader([root])).sessions)
    monkeypatch.setattr(scan, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(scan, "MERGE_BYTES", 20_000)
    monkeypatch.setattr(scan, "_workers", lambda: 2)
    monkeypatch.setattr(checkpoints, "EVERY_BYTES", 16_000)
    found: list[Checkpoints] = []
    conn = db.connect(tmp_path / "pool.db")
    with kept(monkeypatch, found):
        result = scan_agent(conn, ClaudeCodeReader([root]))
    assert not result.stats.errors and by_id(result.sessions) == serial
    assert len(found) == 1 and found[0].thread is not None
    assert autocheckpoint(conn) == 1000
    checkpoints.settle()
    assert found[0].done >= 2 and found[0].error is None
    frames, done = log_left(tmp_path / "pool.db")
    assert done == frames
    again = scan_agent(conn, ClaudeCodeReader([root]))
    assert again.stats.from_cache and by_id(again.sessions) == serial


def test_a_thread_is_started_before_another_threads_settle_can_see_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server's scan forking its workers settles (joins) the checkpoint threads of every other scan:
    one it found before it started failed the join ("cannot join thread before it is started")."""

    class Running(set[threading.Thread]):
        def add(self, thread: threading.Thread) -> None:
            assert thread.ident is not None, "a checkpoint thread was made visible before it started"
            super().add(thread)

    monkeypatch.setattr(checkpoints, "_RUNNING", Running())
    conn = db.connect(tmp_path / "lsm.db")
    with checkpointed_aside(conn) as aside:
        write(conn, aside, 5)
        assert aside.thread is not None
    checkpoints.settle()
    assert not aside.thread.is_alive() and aside.error is None


def test_the_block_ends_once_the_threads_last_checkpoint_has_begun(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After the block the writer checkpoints on its own again, and the log is far past its threshold:
    its next commit (a listing's other agents commit as soon as the cold scan ends) would run the whole
    checkpoint in the foreground, waiting for the disk, while the thread's found the log busy. The
    block ends once the thread's last checkpoint is under way, however slowly the thread starts."""
    entered: list[float] = []

    class SlowToStart(sqlite3.Connection):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            time.sleep(0.05)
            super().__init__(*args, **kwargs)

        def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
            if "wal_checkpoint" in sql:
                entered.append(time.monotonic())
            return super().execute(sql, *args)

    conn = db.connect(tmp_path / "lsm.db")
    connect = sqlite3.connect
    monkeypatch.setattr(sqlite3, "connect", lambda *a, **k: connect(*a, factory=SlowToStart, **k))
    with checkpointed_aside(conn) as aside:
        write(conn, aside, 1)  # under EVERY_BYTES: the thread starts as the block ends
    ended = time.monotonic()
    conn.execute("INSERT INTO blobs VALUES (x'00')")  # the writer's own checkpoint finds it held
    checkpoints.settle()
    assert aside.error is None and aside.done == 1 and entered and entered[0] <= ended
    assert conn.execute("SELECT count(*) FROM blobs").fetchone()[0] == 2
