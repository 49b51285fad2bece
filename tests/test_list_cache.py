"""The stored listing output: a file beside the database named in its row, read back as it was or not
at all."""

from __future__ import annotations

import os
import sqlite3
import stat
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from llm_session_manager.store import db, list_cache


def loaded(conn: sqlite3.Connection, query: str) -> tuple[str, float, bytes] | None:
    """The stored output of ``query`` read whole, with its keys and end of validity (None: none, or not
    as it was written)."""
    opened = list_cache.open_stored(conn, query)
    output = opened.read() if opened is not None else None
    return None if opened is None or output is None else (opened.keys, opened.valid_until, output)


def save(conn: sqlite3.Connection, query: str, keys: str, until: float, chunks: Iterable[bytes]) -> Path:
    """Store an output as a listing does: written to its file, then named in its row."""
    file = db.database_file(conn)
    assert file is not None
    written = list_cache.write(list_cache.folder_of(file), chunks)
    list_cache.name(conn, query, keys, until, written)
    return written.path


def test_a_stored_output_reads_back_whole_and_replaces_the_last(tmp_path: Path) -> None:
    conn = db.connect(tmp_path / "lsm.db")
    big = b"[\n" + b'  {"id": "x"},\n' * 200_000 + b"]\n"
    save(conn, "list-all-json", "k1", 12.5, [big])
    assert loaded(conn, "list-all-json") == ("k1", 12.5, big)
    save(conn, "list-all-json", "k2", 13.0, [b""])
    assert loaded(conn, "list-all-json") == ("k2", 13.0, b"")
    assert conn.execute("SELECT count(*) FROM list_cache").fetchone()[0] == 1
    assert not conn.in_transaction


def files(tmp_path: Path) -> list[str]:
    folder = tmp_path / list_cache.FOLDER
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_the_output_is_a_private_file_named_in_its_row_and_goes_with_it(tmp_path: Path) -> None:
    conn = db.connect(tmp_path / "lsm.db")
    big = b"[" + b'{"title": "a"},' * 50_000 + b"{}]\n"
    save(conn, "list-all-json", "k1", 12.5, [big])
    [first] = files(tmp_path)
    folder = tmp_path / list_cache.FOLDER
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((folder / first).stat().st_mode) == 0o600
    assert (folder / first).read_bytes() == big
    column = conn.execute("SELECT output FROM list_cache").fetchone()[0]
    assert len(column) < 100 and first.encode() in column  # the row names the file, no copy of it
    save(conn, "list-all-table", "k1", 12.5, [b"[]"])
    save(conn, "list-all-json", "k2", 13.0, [b"[1]"])
    assert len(files(tmp_path)) == 2 and first not in files(tmp_path)  # the replaced output is gone
    list_cache.drop(conn, "list-all-json")
    list_cache.drop(conn, "list-all-json")  # nothing there: nothing happens
    assert len(files(tmp_path)) == 1 and loaded(conn, "list-all-json") is None
    assert loaded(conn, "list-all-table") == ("k1", 12.5, b"[]")


def test_a_file_gone_cut_short_or_replaced_by_something_else_is_no_output(tmp_path: Path) -> None:
    """Another process may replace the output between our reading its row and its file: a miss, which
    the listing computes again, never part of an output."""
    conn = db.connect(tmp_path / "lsm.db")
    save(conn, "q", "k", 1.0, [b"0123456789"])
    path = tmp_path / list_cache.FOLDER / files(tmp_path)[0]
    path.write_bytes(b"01234")
    assert loaded(conn, "q") is None
    path.write_bytes(b"0123456789-and-more")
    assert loaded(conn, "q") is None
    path.unlink()
    os.mkfifo(path)  # would block a plain open()
    assert loaded(conn, "q") is None
    path.unlink()
    assert loaded(conn, "q") is None
    conn.execute("UPDATE list_cache SET output = ?", (list_cache.FILE_REF + b"../../etc/passwd:10",))
    assert loaded(conn, "q") is None  # a name that is not ours is never opened


def test_files_no_row_names_are_swept_once_old(tmp_path: Path) -> None:
    conn = db.connect(tmp_path / "lsm.db")
    save(conn, "q", "k", 1.0, [b"[]"])
    folder = tmp_path / list_cache.FOLDER
    old, young = folder / "00aa11bb22cc33dd.out", folder / "44ee55ff66aa77bb.out"
    old.write_bytes(b"left by a process that stopped")
    young.write_bytes(b"about to be named")
    gone = time.time() - list_cache.ORPHAN_SECONDS - 5
    os.utime(old, (gone, gone))
    (folder / "notes.txt").write_bytes(b"not ours")
    save(conn, "q", "k2", 1.0, [b"[1]"])
    assert not old.exists() and young.exists() and (folder / "notes.txt").exists()
    assert loaded(conn, "q") == ("k2", 1.0, b"[1]")


def test_rows_that_hold_their_output_whole_still_read(tmp_path: Path) -> None:
    conn = sqlite3.connect(":memory:", isolation_level=None)  # a database in memory has no folder
    db.migrate(conn)
    conn.execute("INSERT INTO list_cache VALUES ('q', 'k', 2.0, ?)", (b"[1, 2]",))
    assert loaded(conn, "q") == ("k", 2.0, b"[1, 2]")
    on_disk = db.connect(tmp_path / "lsm.db")  # a row stored whole by an earlier version
    on_disk.execute("INSERT INTO list_cache VALUES ('q', 'k', 3.0, ?)", (b"[3]",))
    assert loaded(on_disk, "q") == ("k", 3.0, b"[3]")
    save(on_disk, "q", "k", 4.0, [b"[4]"])
    assert loaded(on_disk, "q") == ("k", 4.0, b"[4]")


def test_an_output_in_pieces_is_written_as_it_comes(tmp_path: Path) -> None:
    conn = db.connect(tmp_path / "lsm.db")
    pieces = [b"[", b'\n  {"a": 1}', b',\n  {"b": 2}', b"\n]\n"]
    made: list[bytes] = []

    def one_at_a_time() -> Iterator[bytes]:
        for piece in pieces:
            made.append(piece)
            yield piece

    path = save(conn, "q", "k", 5.0, one_at_a_time())
    assert path.read_bytes() == b"".join(pieces) == b"".join(made)
    assert loaded(conn, "q") == ("k", 5.0, b"".join(pieces))


def test_an_opened_output_reads_whole_even_if_a_later_run_replaces_it(tmp_path: Path) -> None:
    """`lsm list`'s fast path copies the output from its open file: a run that replaces it meanwhile
    (removing the file) cannot cut it short, and an output stored in its row opens as well."""
    conn = db.connect(tmp_path / "lsm.db")
    big = b"[" + b'{"id": "y"},' * 100_000 + b"{}]\n"
    save(conn, "q", "k1", 5.0, [big[:1000], big[1000:]])
    opened = list_cache.open_stored(conn, "q")
    assert opened is not None and (opened.keys, opened.valid_until, opened.size) == ("k1", 5.0, len(big))
    save(conn, "q", "k2", 6.0, [b"[]"])
    assert len(files(tmp_path)) == 1  # the first file is gone from the folder
    with opened.stream as fh:
        assert fh.read() == big
    in_row = db.connect(tmp_path / "other.db")
    in_row.execute("INSERT INTO list_cache VALUES ('q', 'k', 3.0, ?)", (b"[3]",))
    row = list_cache.open_stored(in_row, "q")
    assert row is not None and row.size == 3 and row.stream.read() == b"[3]"


def test_an_output_written_apart_is_no_output_until_named_and_goes_if_it_cannot_be(tmp_path: Path) -> None:
    """A listing writes its outputs before it opens the database (fastlist.remember), then names them:
    until then no reader sees the file; one that cannot be named is deleted, not left for the sweep."""
    conn = db.connect(tmp_path / "lsm.db")
    folder = list_cache.folder_of(tmp_path / "lsm.db")
    written = list_cache.write(folder, iter([b"[", b"1", b"]\n"]))
    assert written.path.parent == folder and written.path.read_bytes() == b"[1]\n" and written.size == 4
    assert stat.S_IMODE(written.path.stat().st_mode) == 0o600
    assert loaded(conn, "q") is None
    list_cache.name(conn, "q", "k", 7.0, written)
    assert loaded(conn, "q") == ("k", 7.0, b"[1]\n")
    refused = list_cache.write(folder, [b"[2]\n"])
    conn.execute("PRAGMA query_only = ON")  # the row cannot be written
    with pytest.raises(sqlite3.Error):
        list_cache.name(conn, "q", "k2", 8.0, refused)
    assert not refused.path.exists() and files(tmp_path) == [written.path.name]
    assert loaded(conn, "q") == ("k", 7.0, b"[1]\n") and not conn.in_transaction

    def failing() -> Iterator[bytes]:
        yield b"[3"
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        list_cache.write(folder, failing())
    assert files(tmp_path) == [written.path.name]  # nothing half-written left
