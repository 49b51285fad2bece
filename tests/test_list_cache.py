"""The stored listing output: written through a blob handle, read back as it was."""

from __future__ import annotations

from pathlib import Path

from llm_session_manager.store import db, list_cache


def test_a_stored_output_reads_back_whole_and_replaces_the_last(tmp_path: Path) -> None:
    conn = db.connect(tmp_path / "lsm.db")
    big = b"[\n" + b'  {"id": "x"},\n' * 200_000 + b"]\n"
    list_cache.save(conn, "list-all-json", list_cache.Entry("k1", 12.5, big))
    assert list_cache.load(conn, "list-all-json") == list_cache.Entry("k1", 12.5, big)
    list_cache.save(conn, "list-all-json", list_cache.Entry("k2", 13.0, b""))
    assert list_cache.load(conn, "list-all-json") == list_cache.Entry("k2", 13.0, b"")
    assert conn.execute("SELECT count(*) FROM list_cache").fetchone()[0] == 1
    assert not conn.in_transaction
