"""One-shot scans after a change: only the affected sessions are loaded and merged again, and the result
equals a cold scan of the same files; a config dir spelled another way reuses the cached states."""

from __future__ import annotations

import dataclasses
import json
import os
import random
import shutil
import sqlite3
from array import array
from pathlib import Path
from typing import Any

import pytest
from claude_corpus import SessionTruth, generate

from llm_session_manager.agents.claude_code import ClaudeCodeReader
from llm_session_manager.models import Session
from llm_session_manager.scan import Links, plan_scan, scan_agent
from llm_session_manager.store import db, parse_cache


def by_id(sessions: list[Session]) -> list[Session]:
    return sorted(sessions, key=lambda s: s.native_id)


def cold(tmp_path: Path, root: Path, name: str = "cold.db") -> list[Session]:
    return by_id(scan_agent(db.connect(tmp_path / name), ClaudeCodeReader([root]), history=True).sessions)


@pytest.fixture
def corpus(tmp_path: Path) -> tuple[Path, dict[str, SessionTruth]]:
    truths = generate(tmp_path / "claude", sessions=30, seed=3)
    return tmp_path / "claude" / "projects", truths


def test_a_new_file_copying_another_sessions_messages_matches_a_cold_scan(
    tmp_path: Path, corpus: tuple[Path, dict[str, SessionTruth]]
) -> None:
    """A resumed session's new file repeats its predecessor's messages: which file owns them decides both
    totals, so the predecessor is merged again with it (here in the same and in another project
    folder, which no link recorded yet)."""
    root, truths = corpus
    conn = db.connect(tmp_path / "lsm.db")
    scan_agent(conn, ClaudeCodeReader([root]))
    source = max((t for t in truths.values() if not t.spaced), key=lambda t: t.bytes)
    original = tmp_path / "claude" / source.files[0]
    # "0000..." sorts first: the copy owns the repeated messages, and the original loses them.
    same = original.parent / "00000000-0000-4000-8000-000000000001.jsonl"
    shutil.copyfile(original, same)
    again = scan_agent(conn, ClaudeCodeReader([root]), history=True)
    assert again.stats.files_read == 1 and not again.stats.errors
    assert by_id(again.sessions) == cold(tmp_path, root, "a.db")
    other = root / "-elsewhere"
    other.mkdir()
    shutil.copyfile(original, other / "00000000-0000-4000-8000-000000000000.jsonl")
    again = scan_agent(conn, ClaudeCodeReader([root]), history=True)
    assert by_id(again.sessions) == cold(tmp_path, root, "b.db")


def test_an_append_to_a_resumed_pair_and_a_removal_match_a_cold_scan(
    tmp_path: Path, corpus: tuple[Path, dict[str, SessionTruth]]
) -> None:
    root, truths = corpus
    conn = db.connect(tmp_path / "lsm.db")
    scan_agent(conn, ClaudeCodeReader([root]))
    resumed = next(t for t in truths.values() if t.resumed_from)
    path = tmp_path / "claude" / truths[resumed.resumed_from or ""].files[0]
    # A continuation of a message both files hold: its larger line must count for its owner.
    last = next(
        json.loads(raw)
        for raw in reversed(path.read_bytes().splitlines())
        if b'"usage"' in raw and b'"isSidechain":true' not in raw and raw.startswith(b"{")
    )
    last["message"]["usage"]["output_tokens"] = 10**6
    with open(path, "ab") as fh:
        fh.write(json.dumps(last).encode() + b"\n")
    pair = {resumed.session_id, resumed.resumed_from}
    lone = next(t for t in truths.values() if t.session_id not in pair and not t.resumed_from)
    gone = tmp_path / "claude" / lone.files[0]
    gone.unlink()
    again = scan_agent(conn, ClaudeCodeReader([root]), history=True)
    assert again.stats.files_read == 1 and not again.stats.errors
    assert by_id(again.sessions) == cold(tmp_path, root)
    assert scan_agent(conn, ClaudeCodeReader([root])).stats.from_cache


def test_the_config_dir_spelled_another_way_reads_nothing_again(
    tmp_path: Path, corpus: tuple[Path, dict[str, SessionTruth]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The parse cache finds a file by device and inode when its path is spelled differently (a relative
    CLAUDE_CONFIG_DIR, a symlink): nothing is read again, and the sessions name the paths as listed."""
    root, _truths = corpus
    conn = db.connect(tmp_path / "lsm.db")
    first = scan_agent(conn, ClaudeCodeReader([root]))
    monkeypatch.chdir(tmp_path)
    relative = Path("claude") / "projects"
    again = scan_agent(conn, ClaudeCodeReader([relative]), history=True)
    assert again.stats.files_read == 0 and not again.stats.errors
    assert by_id(again.sessions) == cold(tmp_path, relative)
    assert all(not p.startswith("/") for s in again.sessions for p in s.transcript_paths)
    os.symlink(tmp_path / "claude", tmp_path / "link")
    linked = scan_agent(conn, ClaudeCodeReader([tmp_path / "link" / "projects"]))
    assert linked.stats.files_read == 0
    assert [s.tokens for s in by_id(linked.sessions)] == [s.tokens for s in by_id(first.sessions)]
    rows = conn.execute("SELECT count(*), min(path) FROM parse_cache").fetchone()
    assert rows[0] == first.stats.files and rows[1].startswith(str(tmp_path / "link"))


def test_plan_reuses_a_state_by_inode_only_for_the_same_session() -> None:
    known = {"/a/p/s.jsonl": (1, 7, 10, 5, "s"), "/a/p/t.jsonl": (1, 8, 10, 5, "t")}
    plan = plan_scan([("p/s.jsonl", "s", (1, 7, 10, 5)), ("p/x.jsonl", "x", (1, 8, 10, 5))], known)
    assert plan.renamed == {"p/s.jsonl": "/a/p/s.jsonl"} and not plan.unchanged
    assert [j[0] for j in plan.jobs] == ["p/x.jsonl"] and plan.jobs[0][2] is None
    assert plan.removed == ["/a/p/t.jsonl"]
    grown = plan_scan([("p/s.jsonl", "s", (1, 7, 20, 6))], known)
    assert grown.jobs == [("p/s.jsonl", "s", "/a/p/s.jsonl", 20)]


def test_links_round_trip_and_closure() -> None:
    links = Links({"a": {"b"}, "b": {"a", "c"}, "c": {"b"}}, Links.of([], lambda s: ()).hashes)
    again = Links.decode(links.encode())
    assert again is not None and again.closure({"a"}) == {"a", "b", "c"} and again.closure({"d"}) == {"d"}
    assert Links.decode(b"\xff" * 12) is None
    assert not parse_cache.LINKS.isalnum()


def test_a_cold_scan_in_worker_processes_equals_one_in_process(
    tmp_path: Path, corpus: tuple[Path, dict[str, SessionTruth]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Workers serialise each file's state where they read it; the sessions merged from the saved states
    (a few groups at a time) are the same, and so is the next scan from the cache."""
    from llm_session_manager import scan

    root, _truths = corpus
    serial = cold(tmp_path, root, "serial.db")
    monkeypatch.setattr(scan, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(scan, "MERGE_BYTES", 20_000)
    monkeypatch.setattr(scan, "_workers", lambda: 2)
    conn = db.connect(tmp_path / "pool.db")
    pooled = scan_agent(conn, ClaudeCodeReader([root]), history=True)
    assert pooled.stats.files_read == pooled.stats.files and not pooled.stats.errors
    assert by_id(pooled.sessions) == serial
    assert by_id(scan_agent(conn, ClaudeCodeReader([root]), history=True).sessions) == serial


def pooled(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cold scans from here on read and merge in two worker processes, a few sessions a task."""
    from llm_session_manager import scan

    monkeypatch.setattr(scan, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(scan, "MERGE_BYTES", 20_000)
    monkeypatch.setattr(scan, "_workers", lambda: 2)


def noting_merges(monkeypatch: pytest.MonkeyPatch, notes: Path) -> Path:
    """From here on, each process that merges a batch of sessions writes its pid to ``notes``."""
    from llm_session_manager import scan

    real = scan._merge_saved

    def noted(
        conn: sqlite3.Connection, reader: ClaudeCodeReader, chunk: list[str], sharing: object = None
    ) -> object:
        with open(notes, "a") as fh:
            fh.write(f"{os.getpid()}\n")
        return real(conn, reader, chunk, sharing)  # type: ignore[arg-type]

    monkeypatch.setattr(scan, "_merge_saved", noted)
    return notes


def test_a_cold_scan_merges_its_sessions_in_the_workers(
    tmp_path: Path, corpus: tuple[Path, dict[str, SessionTruth]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each worker loads its groups' states from the database itself and sends the sessions back
    serialised: the parent merges nothing, and what it decodes equals an in-process merge."""

    root, _truths = corpus
    serial = cold(tmp_path, root, "serial.db")
    pooled(monkeypatch)
    merging = noting_merges(monkeypatch, tmp_path / "merging.pids")
    conn = db.connect(tmp_path / "pool.db")
    result = scan_agent(conn, ClaudeCodeReader([root]), history=True)
    assert by_id(result.sessions) == serial and not result.stats.errors
    pids = set(merging.read_text().split())
    assert pids and str(os.getpid()) not in pids
    merging.unlink()
    again = scan_agent(conn, ClaudeCodeReader([root]))
    assert again.stats.from_cache and not merging.exists()
    without = [dataclasses.replace(s, usage_history=()) for s in serial]
    assert by_id(again.sessions) == without


def child_processes() -> list[int]:
    """This process's children still there (any thread's), from /proc: the pool's workers are forked
    without multiprocessing, which would count only its own."""
    found: list[int] = []
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        found += [int(pid) for pid in (task / "children").read_text().split()]
    return found


def test_what_workers_merged_is_decoded_once_they_are_gone(
    tmp_path: Path, corpus: tuple[Path, dict[str, SessionTruth]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sessions are read back from the parts saved as the workers sent them, after the workers
    ended: the same sessions, with or without their usage history."""
    root, _truths = corpus
    serial = cold(tmp_path, root, "serial.db")
    pooled(monkeypatch)
    from llm_session_manager.scan import _pool

    with _pool(2) as pool:
        assert len(child_processes()) == 2 and pool is not None  # the count sees a pool's workers
    real = parse_cache.fetched
    alive: list[int] = []  # worker processes still there, at each read back

    def fetched(conn: sqlite3.Connection, agent: str, tokens: list[str]) -> object:
        alive.append(len(child_processes()))
        return real(conn, agent, tokens)

    monkeypatch.setattr(parse_cache, "fetched", fetched)
    merging = noting_merges(monkeypatch, tmp_path / "merging.pids")
    result = scan_agent(db.connect(tmp_path / "pool.db"), ClaudeCodeReader([root]))
    assert str(os.getpid()) not in set(merging.read_text().split())  # merged in workers
    without = [dataclasses.replace(s, usage_history=()) for s in serial]
    assert by_id(result.sessions) == without and not result.stats.errors and alive == [0]


def test_parts_removed_by_another_merge_are_merged_again_here(
    tmp_path: Path, corpus: tuple[Path, dict[str, SessionTruth]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process publishing its merge removes the parts this one wrote: the sessions are merged
    again from the saved states, and this merge is not published."""
    root, _truths = corpus
    serial = cold(tmp_path, root, "serial.db")
    pooled(monkeypatch)
    real = parse_cache.fetched

    def fetched(conn: sqlite3.Connection, agent: str, tokens: list[str]) -> object:
        conn.execute("DELETE FROM merged_cache WHERE agent LIKE ?", (agent + parse_cache.PART + "%",))
        return real(conn, agent, tokens)

    monkeypatch.setattr(parse_cache, "fetched", fetched)
    conn = db.connect(tmp_path / "pool.db")
    result = scan_agent(conn, ClaudeCodeReader([root]), history=True)
    assert by_id(result.sessions) == serial and not result.stats.errors and len(serial) > 1
    assert parse_cache.merged_parts(conn, "claude-code", ClaudeCodeReader.parser_version, None) is None


def test_a_cold_scan_starts_its_workers_while_listing_and_merges_in_them(
    tmp_path: Path, corpus: tuple[Path, dict[str, SessionTruth]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Forked once the listing shows enough to read (here: at its second file), the workers share little
    of this process; the same two then read every file and merge every batch."""
    from collections.abc import Iterator
    from contextlib import AbstractContextManager

    from llm_session_manager import scan

    root, _truths = corpus
    serial = cold(tmp_path, root, "serial.db")
    pooled(monkeypatch)
    listed: list[int] = []
    started_at: list[int] = []
    real_sources, real_pool, real_read = ClaudeCodeReader.sources, scan._pool, scan._read_job

    def counted(self: ClaudeCodeReader) -> Iterator[tuple[str, str, tuple[int, int, int, int]]]:
        for entry in real_sources(self):
            listed.append(1)
            yield entry

    def noted_pool(size: int, reader: object = None) -> AbstractContextManager[object]:
        started_at.append(len(listed))
        return real_pool(size, reader)  # type: ignore[arg-type]

    reading = tmp_path / "reading.pids"

    def noted_read(args: tuple[object, ...]) -> object:
        with open(reading, "a") as fh:
            fh.write(f"{os.getpid()}\n")
        return real_read(args)  # type: ignore[arg-type]

    monkeypatch.setattr(ClaudeCodeReader, "sources", counted)
    monkeypatch.setattr(scan, "_pool", noted_pool)
    monkeypatch.setattr(scan, "_read_job", noted_read)
    merging = noting_merges(monkeypatch, tmp_path / "merging.pids")
    result = scan_agent(db.connect(tmp_path / "pool.db"), ClaudeCodeReader([root]), history=True)
    assert by_id(result.sessions) == serial and result.stats.files_read == result.stats.files
    assert result.stats.files == len(listed) > 10
    assert started_at == [2], "one pool, started at the second file listed"
    readers, mergers = set(reading.read_text().split()), set(merging.read_text().split())
    assert len(readers) == 2 and str(os.getpid()) not in readers
    assert mergers == readers


def test_workers_import_nothing_of_their_own_for_reading_and_merging(
    tmp_path: Path, corpus: tuple[Path, dict[str, SessionTruth]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """What reading and merging import on first use (the compiled fold, the typed decoder and msgspec,
    the redactor's compiled patterns) is imported before the workers are forked: shared, not imported
    again by each (~20 ms and a few MiB a worker)."""
    import sys

    from llm_session_manager import scan

    root, _truths = corpus
    pooled(monkeypatch)
    notes = tmp_path / "imported"
    real_init, real_read, real_merge = scan._worker_init, scan._read_job, scan._merge_saved
    at_start: set[str] = set()

    def init() -> None:
        at_start.update(sys.modules)
        real_init()

    def note() -> None:
        with open(notes, "a") as fh:
            fh.write(" ".join(sorted(set(sys.modules) - at_start)) + "\n")

    def read(args: tuple[object, ...]) -> object:
        try:
            return real_read(args)  # type: ignore[arg-type]
        finally:
            note()

    def merge(
        conn: sqlite3.Connection, reader: ClaudeCodeReader, chunk: list[str], sharing: object = None
    ) -> object:
        try:
            return real_merge(conn, reader, chunk, sharing)  # type: ignore[arg-type]
        finally:
            note()

    monkeypatch.setattr(scan, "_worker_init", init)
    monkeypatch.setattr(scan, "_read_job", read)
    monkeypatch.setattr(scan, "_merge_saved", merge)
    result = scan_agent(db.connect(tmp_path / "pool.db"), ClaudeCodeReader([root]), history=True)
    assert result.stats.files_read == result.stats.files > 10 and not result.stats.errors
    imported = set(notes.read_text().split())
    assert not {m for m in imported if "claude" in m or "msgspec" in m or "redact" in m}, imported


def test_a_few_batches_are_merged_here_without_starting_workers(
    tmp_path: Path, corpus: tuple[Path, dict[str, SessionTruth]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from llm_session_manager import scan

    root, _truths = corpus
    serial = cold(tmp_path, root, "serial.db")
    pooled(monkeypatch)
    monkeypatch.setattr(scan, "MERGE_POOL_MIN", 10_000)
    merging = noting_merges(monkeypatch, tmp_path / "merging.pids")
    result = scan_agent(db.connect(tmp_path / "pool.db"), ClaudeCodeReader([root]), history=True)
    assert by_id(result.sessions) == serial and result.stats.files_read == result.stats.files
    assert set(merging.read_text().split()) == {str(os.getpid())}


def test_a_merge_failing_in_a_worker_is_one_error_and_nothing_merged_is_kept(
    tmp_path: Path, corpus: tuple[Path, dict[str, SessionTruth]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from llm_session_manager import scan

    root, _truths = corpus
    serial = cold(tmp_path, root, "serial.db")
    pooled(monkeypatch)

    def broken(conn: object, reader: object, chunk: list[str], sharing: object = None) -> object:
        raise ValueError("a line shape never seen")

    monkeypatch.setattr(scan, "_merge_saved", broken)
    conn = db.connect(tmp_path / "pool.db")
    failed = scan_agent(conn, ClaudeCodeReader([root]))
    assert failed.sessions == []
    assert failed.stats.errors == ["claude-code: cannot merge sessions (ValueError: a line shape never seen)"]
    assert parse_cache.merged_parts(conn, "claude-code", ClaudeCodeReader.parser_version, None) is None
    assert rows(conn) == 0  # no part left behind
    monkeypatch.undo()
    again = scan_agent(conn, ClaudeCodeReader([root]), history=True)
    assert by_id(again.sessions) == serial and not again.stats.errors


def test_a_database_in_memory_is_merged_in_process_beside_reading_workers(
    tmp_path: Path, corpus: tuple[Path, dict[str, SessionTruth]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker cannot open a database that lives in this process's memory: it reads, this merges."""

    root, _truths = corpus
    serial = cold(tmp_path, root, "serial.db")
    pooled(monkeypatch)
    conn = sqlite3.connect(":memory:", isolation_level=None)
    db.migrate(conn)
    assert db.database_file(conn) is None
    assert db.database_file(db.connect(tmp_path / "f.db")) == tmp_path / "f.db"
    result = scan_agent(conn, ClaudeCodeReader([root]), history=True)
    assert by_id(result.sessions) == serial and not result.stats.errors


def merged(conn: sqlite3.Connection, agent: str = "a", signature: str | None = "sig") -> list[object] | None:
    parts = parse_cache.merged_parts(conn, agent, 1, signature)
    return None if parts is None else [d for p in parts for d in parse_cache.decoded(p)]


def rows(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT count(*) FROM merged_cache").fetchone()[0])


def test_merged_parts_are_rows_read_back_one_at_a_time(tmp_path: Path) -> None:
    conn = db.connect(tmp_path / "m.db")
    parse_cache.save_merged_parts(conn, "a", "sig", 1, [b'[1,{"x":2}]', b"", b'["three"]'])
    assert merged(conn) == [1, {"x": 2}, "three"]
    assert [p.body for p in parse_cache.merged_parts(conn, "a", 1, "sig") or ()] == [
        b'[1,{"x":2}]',
        b'["three"]',
    ]
    assert merged(conn, signature="other") is None and merged(conn, signature=None) is not None
    assert rows(conn) == 3
    parse_cache.save_merged_parts(conn, "a", "sig", 1, [])
    assert merged(conn) == [] and rows(conn) == 1
    parse_cache.save_merged(conn, "a", "sig", 1, [{"one": "array"}])  # a row of one array is one part
    assert merged(conn) == [{"one": "array"}]
    parse_cache.save_merged_parts(conn, "a", "sig", 1, [b"[1]", b"[2]"])
    parse_cache.save_merged_parts(conn, "ab", "sig", 1, [b"[3]"])  # another agent's parts stay
    parse_cache.save_merged(conn, "a", "sig", 1, [])
    assert rows(conn) == 3 and merged(conn, "ab") == [3]
    parse_cache.drop_merged(conn, "ab")
    assert rows(conn) == 1


def test_a_later_merge_keeps_unchanged_parts_and_drops_the_rest(tmp_path: Path) -> None:
    conn = db.connect(tmp_path / "m.db")
    parse_cache.save_merged_parts(conn, "a", "one", 1, [b"[1]", b"[2]", b"[3]"])
    parts = list(parse_cache.merged_parts(conn, "a", 1, "one") or ())
    with parse_cache.PartWriter(conn, "a") as writer:
        writer.keep(parts[0])
        writer.add(b"[4]")
        writer.keep(parts[2])
        writer.publish("two", 1)
    assert merged(conn, signature="two") == [1, 4, 3] and rows(conn) == 4
    with parse_cache.PartWriter(conn, "a") as writer:
        writer.add(b"[5]")  # never published: gone when the block ends
    assert rows(conn) == 4 and merged(conn, signature="two") == [1, 4, 3]
    with parse_cache.PartWriter(conn, "a") as writer:
        writer.keep(parts[0])
        writer.add(b"[6]")
        parse_cache.drop_merged(conn, "a")  # another process (the dashboard) dropped the merge meanwhile
        assert not writer.publish("three", 1)
    assert merged(conn, signature=None) is None and rows(conn) == 0


def test_a_damaged_or_replaced_merge_is_not_used(tmp_path: Path) -> None:
    conn = db.connect(tmp_path / "m.db")
    parse_cache.save_merged_parts(conn, "a", "sig", 1, [b"[1]", b"[2,"])
    with pytest.raises(parse_cache.Damaged):
        merged(conn)
    parse_cache.save_merged_parts(conn, "a", "sig", 1, [b"[1]", b"[2]"])
    parts = parse_cache.merged_parts(conn, "a", 1, "sig")
    assert parts is not None
    parse_cache.save_merged_parts(conn, "a", "new", 1, [b"[3]"])  # another process merged meanwhile
    with pytest.raises(parse_cache.Damaged):
        list(parts)
    conn.execute("UPDATE merged_cache SET sessions = ? WHERE agent = 'a'", (b"parts:[",))
    assert merged(conn, signature=None) is None


@pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "python"])
def test_sessions_sharing_a_message_hash_are_grouped_and_every_hash_is_listed_once(
    compiled: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from llm_session_manager import scan
    from llm_session_manager.scan import _groups

    assert scan._compiled_groups() is not None, "the compiled module was not built (pip install -e .)"
    if not compiled:
        monkeypatch.setattr(scan, "_compiled_groups", lambda: None)

    def blob(*values: int) -> bytes:
        return array("I", values).tobytes()

    high, low = 0xFF000001, 0x00000002  # first and last of the 256 buckets
    hashes = {
        "a": [blob(1, high)],
        "b": [blob(5), blob(low)],  # two files
        "c": [blob(7, low)],  # shares low with b
        "d": [blob(high, 9)],  # shares high with a
        "e": [blob(5 + (1 << 24))],  # same low bits as b's 5, another bucket: shares nothing
        "f": [blob(9)],  # shares 9 with d, so with a
    }
    groups, seen = _groups(hashes)
    assert groups == [["a", "d", "f"], ["b", "c"], ["e"]]
    assert list(seen) == sorted({1, high, 5, low, 7, 9, 5 + (1 << 24)})


@pytest.mark.parametrize("seed", range(30))
def test_compiled_groups_equal_the_python_ones(seed: int) -> None:
    """The same groups in the same order, members in the same order, the same hashes seen: on random
    sessions whose files share values now and then (few distinct values, so that chains form)."""
    from llm_session_manager import scan

    fast = scan._compiled_groups()
    assert fast is not None, "the compiled module was not built (pip install -e .)"
    rng = random.Random(seed)
    spread = rng.choice([50, 500, 1 << 32])
    hashes = {
        f"s{k}": [
            array("I", {rng.randrange(spread) for _ in range(rng.randrange(0, 8))}).tobytes()
            for _ in range(rng.randrange(0, 3))
        ]
        for k in range(rng.randrange(0, 80))
    }
    done = fast(hashes)
    assert done is not None
    groups, seen = scan._grouped(hashes)
    assert done[0] == groups
    assert done[1] == seen.tobytes()


@pytest.mark.parametrize(
    "hashes",
    [[], {1: []}, {"a": ()}, {"a": [bytearray(4)]}, {"a": [b"123"]}, {"a": [b"1234", "x"]}],
    ids=["list", "int key", "tuple", "bytearray", "3 bytes", "str blob"],
)
def test_groups_of_anything_else_are_left_to_python(hashes: Any) -> None:
    from llm_session_manager import scan

    fast = scan._compiled_groups()
    assert fast is not None
    assert fast(hashes) is None


def tokens(conn: sqlite3.Connection) -> list[str | None]:
    return [
        p.token for p in parse_cache.merged_parts(conn, "claude-code", ClaudeCodeReader.parser_version) or ()
    ]


def test_a_scan_after_an_append_rewrites_only_the_part_holding_its_session(
    tmp_path: Path, corpus: tuple[Path, dict[str, SessionTruth]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from llm_session_manager import scan

    root, truths = corpus
    monkeypatch.setattr(scan, "PART_BYTES", 5_000)  # a part per few sessions
    conn = db.connect(tmp_path / "lsm.db")
    scan_agent(conn, ClaudeCodeReader([root]))
    before = tokens(conn)
    linked = {key for t in truths.values() if t.resumed_from for key in (t.session_id, t.resumed_from)}
    lone = next(t for t in truths.values() if t.session_id not in linked and not t.spaced)
    path = tmp_path / "claude" / lone.files[0]
    with open(path, "ab") as fh:
        fh.write(path.read_bytes().splitlines()[-1] + b"\n")  # a repeated line: merged again, same totals
    again = scan_agent(conn, ClaudeCodeReader([root]), history=True)
    assert again.stats.files_read == 1 and by_id(again.sessions) == cold(tmp_path, root)
    after = tokens(conn)
    assert len(before) > 5 and len(set(before) - set(after)) == 1
    assert rows(conn) == len(after) + 2  # its parts, its row and its links: the replaced part is gone


def test_a_merge_saved_whole_is_split_into_parts_by_the_next_scan_after_a_change(
    tmp_path: Path, corpus: tuple[Path, dict[str, SessionTruth]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A merge saved as one array (by an earlier lsm, or merged whole) is read as one part; a scan after
    a change writes its sessions again in parts."""
    from llm_session_manager import scan

    root, truths = corpus
    conn = db.connect(tmp_path / "lsm.db")
    scan_agent(conn, ClaudeCodeReader([root]))
    version = ClaudeCodeReader.parser_version
    signature = conn.execute("SELECT signature FROM merged_cache WHERE agent = 'claude-code'").fetchone()[0]
    docs = [
        d
        for p in parse_cache.merged_parts(conn, "claude-code", version) or ()
        for d in parse_cache.decoded(p)
    ]
    parse_cache.save_merged(conn, "claude-code", signature, version, docs)
    assert tokens(conn) == [None]
    monkeypatch.setattr(scan, "PART_BYTES", 5_000)
    source = next(t for t in truths.values() if not t.resumed_from and not t.spaced)
    original = tmp_path / "claude" / source.files[0]
    line = next(json.loads(raw) for raw in original.read_bytes().splitlines() if b'"usage"' in raw)
    line["message"]["id"], line["requestId"], line["uuid"] = "msg_new", "req_new", "uuid-new"
    new = original.parent / "ffffffff-0000-4000-8000-000000000000.jsonl"
    new.write_text(json.dumps(line) + "\n")  # a new session sharing nothing: no old session is merged again
    again = scan_agent(conn, ClaudeCodeReader([root]), history=True)
    assert by_id(again.sessions) == cold(tmp_path, root)
    parts = list(parse_cache.merged_parts(conn, "claude-code", version) or ())
    assert len(parts) > 5 and None not in {p.token for p in parts}
    assert sum(len(parse_cache.decoded(p)) for p in parts) == len(docs) + 1


def test_a_merge_replaced_while_a_change_is_merged_is_merged_again_from_a_new_listing(
    tmp_path: Path, corpus: tuple[Path, dict[str, SessionTruth]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The scan after a change lets go of the file listing once it has planned (megabytes at thousands of
    files); when it then finds the previous merge replaced by another run, the files are listed again
    and everything is merged as without a previous merge: the same sessions as a cold scan."""
    from llm_session_manager import scan

    root, truths = corpus
    conn = db.connect(tmp_path / "lsm.db")
    first = scan_agent(conn, ClaudeCodeReader([root]))
    source = next(t for t in truths.values() if not t.resumed_from and not t.spaced)
    path = tmp_path / "claude" / source.files[0]
    with open(path, "ab") as fh:
        fh.write(path.read_bytes().splitlines()[-1] + b"\n")
    real_changes, left = scan._scan_changes, []

    def replaced(*args: object, **kwargs: object) -> list[Session]:
        raise parse_cache.Damaged("merged sessions: a part is gone")

    def changes(conn: sqlite3.Connection, reader: object, current: list[object], *rest: object) -> object:
        result = real_changes(conn, reader, current, *rest)  # type: ignore[arg-type]
        left.append(len(current))
        return result

    monkeypatch.setattr(scan, "_sessions_outside", replaced)
    monkeypatch.setattr(scan, "_scan_changes", changes)
    again = scan_agent(conn, ClaudeCodeReader([root]), history=True)
    assert left == [0] and not again.stats.errors
    assert again.stats.files == first.stats.files and again.stats.files_read == 1
    assert by_id(again.sessions) == cold(tmp_path, root)
    monkeypatch.undo()
    assert scan_agent(conn, ClaudeCodeReader([root])).stats.from_cache


@pytest.mark.parametrize("workers", [False, True])
def test_a_cold_scan_links_the_sessions_that_share_messages_and_only_those(
    tmp_path: Path,
    corpus: tuple[Path, dict[str, SessionTruth]],
    monkeypatch: pytest.MonkeyPatch,
    workers: bool,
) -> None:
    """The saved links list which sessions share a message with which, as all the saved states say,
    though a merge looks for them only among the sessions whose message hashes another session holds."""
    root, _truths = corpus
    if workers:
        pooled(monkeypatch)
    conn = db.connect(tmp_path / "links.db")
    result = scan_agent(conn, ClaudeCodeReader([root]))
    reader = ClaudeCodeReader([root])
    blob = parse_cache.load_links(conn, reader.name, result.stats.signature, reader.parser_version)
    saved = Links.decode(blob or b"")
    assert saved is not None
    states = parse_cache.load_states(conn, reader.name, reader.parser_version).values()
    every = Links.of(states, reader.shared_keys)
    assert saved.graph == every.graph and saved.graph  # the corpus has resumed sessions
    assert list(saved.hashes) == list(every.hashes)
