"""The dashboard's refresh after an agent wrote: only the changed transcript is stat'ed and read again,
only its session is merged again, and the frame shows its new numbers."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from factories import SONNET, iso, write_claude_transcript

from llm_session_manager.agents import claude_code
from llm_session_manager.agents.base import FileState
from llm_session_manager.config import DEFAULTS
from llm_session_manager.models import Session
from llm_session_manager.paths import resolve
from llm_session_manager.tui.snapshot import Refresher


def reply(sid: str, n: int, output: int) -> str:
    line = {
        "sessionId": sid,
        "cwd": "/work/b",
        "timestamp": iso(datetime.now(timezone.utc)),
        "isSidechain": False,
        "type": "assistant",
        "requestId": f"req_more_{n}",
        "message": {
            "id": f"msg_more_{n}",
            "model": SONNET,
            "content": [{"type": "text", "text": "Done."}],
            "usage": {"input_tokens": 7, "output_tokens": output, "cache_read_input_tokens": 6_000},
        },
    }
    return json.dumps(line) + "\n"


class Counting:
    """Counts the Claude reader's walks, file reads and merges (by session)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.walks = 0
        self.reads: list[str] = []
        self.merged: list[set[str]] = []
        reader = claude_code.ClaudeCodeReader
        sources, read, build = reader.sources, reader.read, claude_code.build_sessions

        def counted_sources(reader: Any) -> Iterable[tuple[str, str, tuple[int, int, int, int]]]:
            self.walks += 1
            return sources(reader)

        def counted_read(reader: Any, path: Any, key: str, prior: FileState | None) -> FileState:
            self.reads.append(str(path))
            return read(reader, path, key, prior)

        def counted_build(states: Sequence[FileState]) -> list[Session]:
            self.merged.append({st.session_key for st in states})
            return build(states)

        monkeypatch.setattr(claude_code.ClaudeCodeReader, "sources", counted_sources)
        monkeypatch.setattr(claude_code.ClaudeCodeReader, "read", counted_read)
        monkeypatch.setattr(claude_code, "build_sessions", counted_build)

    def reset(self) -> None:
        self.walks, self.reads, self.merged = 0, [], []


def test_refresh_after_an_append_rebuilds_only_the_touched_session(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LSM_DISCOVERY", "off")
    projects = Path.home() / ".claude" / "projects"
    ids = [f"{c}{c}{c}{c}1111-0000-4000-8000-000000000000" for c in "abc"]
    files = {sid: write_claude_transcript(projects, Path(f"/work/{sid[0]}"), sid) for sid in ids}
    counting = Counting(monkeypatch)
    refresher = Refresher(resolve(), DEFAULTS, cpu_clock=lambda: 0.0)
    try:
        first = refresher.refresh()
        before = {v.session.native_id: v.session.tokens.output for v in first.views}
        assert before == dict.fromkeys(ids, 20) and counting.walks == 1
        counting.reset()
        touched = ids[1]
        with files[touched].open("a", encoding="utf-8") as fh:
            fh.write(reply(touched, 1, 500))
        second = refresher.refresh()
        assert refresher.stats.reasons.get("changed") == 1
        after = {v.session.native_id: v.session.tokens.output for v in second.views}
        assert after == {ids[0]: 20, touched: 520, ids[2]: 20}  # the new reply shows
        assert counting.walks == 0  # only the watched file was stat'ed: no walk of the tree
        assert counting.reads == [str(files[touched])]
        assert counting.merged == [{touched}]
        untouched = {v.session.native_id: v.session for v in first.views if v.session.native_id != touched}
        again = {v.session.native_id: v.session for v in second.views if v.session.native_id != touched}
        assert again == untouched
        counting.reset()
        third = refresher.refresh(force=True)  # `r`: every file listed again, nothing read
        assert counting.walks == 1 and counting.reads == [] and counting.merged == []
        assert {v.session.native_id: v.session.tokens.output for v in third.views} == after
    finally:
        refresher.close()


def test_a_refresh_after_a_change_looks_for_running_agents_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tick that saw the change has just run process discovery: the collect and the new baseline
    use what it found instead of looking twice more."""
    from llm_session_manager import discovery

    monkeypatch.setenv("LSM_DISCOVERY", "on")
    calls: list[int] = []

    def scan_processes(*a: Any, **k: Any) -> list[Any]:
        calls.append(1)
        return []

    monkeypatch.setattr(discovery, "scan_processes", scan_processes)
    sid = "dddd1111-0000-4000-8000-000000000000"
    path = write_claude_transcript(Path.home() / ".claude" / "projects", Path("/work/d"), sid)
    refresher = Refresher(resolve(), DEFAULTS, cpu_clock=lambda: 0.0)
    try:
        refresher.refresh()
        calls.clear()
        with path.open("a", encoding="utf-8") as fh:
            fh.write(reply(sid, 1, 500))
        snap = refresher.refresh()
        assert refresher.stats.reasons.get("changed") == 1 and len(calls) == 1
        assert [v.session.tokens.output for v in snap.views] == [520]
        calls.clear()
        refresher.refresh()  # nothing changed since: a quiet tick, which looks once
        assert refresher.stats.collects == 2 and len(calls) == 1
    finally:
        refresher.close()


def test_a_walk_after_appends_and_a_new_file_merges_as_a_full_scan(monkeypatch: pytest.MonkeyPatch) -> None:
    """The safety net's walk with a memo: files grown and a new session file are merged as the sessions
    they can affect only, and give what a scan from nothing gives."""
    from llm_session_manager.scan import ScanMemo, scan_agent
    from llm_session_manager.service import open_db

    projects = Path.home() / ".claude" / "projects"
    ids = [f"{c}{c}{c}{c}1111-0000-4000-8000-000000000000" for c in "abc"]
    files = {sid: write_claude_transcript(projects, Path(f"/work/{sid[0]}"), sid) for sid in ids}
    paths = resolve()
    conn = open_db(paths)
    reader = claude_code.ClaudeCodeReader.from_paths(paths)
    memo = ScanMemo()
    try:
        scan_agent(conn, reader, memo, history=True)
        counting = Counting(monkeypatch)
        with files[ids[0]].open("a", encoding="utf-8") as fh:
            fh.write(reply(ids[0], 1, 300))
        new = "eeee1111-0000-4000-8000-000000000000"
        write_claude_transcript(projects, Path("/work/e"), new)
        walked = scan_agent(conn, reader, memo, history=True)
        assert counting.walks == 1 and len(counting.reads) == 2
        assert counting.merged == [{ids[0], new}]
        whole = scan_agent(conn, reader, ScanMemo(), history=True)  # every saved state merged again
        assert sorted(walked.sessions, key=lambda s: s.id) == sorted(whole.sessions, key=lambda s: s.id)
        assert {s.native_id: s.tokens.output for s in walked.sessions} == {
            ids[0]: 320,
            ids[1]: 20,
            ids[2]: 20,
            new: 20,
        }
    finally:
        conn.close()


def test_a_targeted_scan_of_a_resumed_pair_matches_a_cold_scan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Told which files changed, a memo scan stats and reads only those; when they hold a resumed
    session and its predecessor (which share messages), the result equals a cold scan, field by field."""
    from claude_corpus import generate

    from llm_session_manager.scan import ScanMemo, scan_agent
    from llm_session_manager.store import db

    truths = generate(tmp_path / "claude", sessions=40, seed=5)
    root = tmp_path / "claude" / "projects"
    conn = db.connect(tmp_path / "lsm.db")
    memo = ScanMemo()
    scan_agent(conn, claude_code.ClaudeCodeReader([root]), memo)
    resumed = next(t for t in truths.values() if t.resumed_from)
    changed = set()
    for n, sid in enumerate((resumed.resumed_from, resumed.session_id)):
        path = tmp_path / "claude" / truths[sid].files[0]
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(reply(sid, n, 40 + n))
        changed.add(str(path))
    counting = Counting(monkeypatch)
    again = scan_agent(conn, claude_code.ClaudeCodeReader([root]), memo, changed=changed)
    assert counting.walks == 0 and sorted(counting.reads) == sorted(changed)
    cold = scan_agent(db.connect(tmp_path / "cold.db"), claude_code.ClaudeCodeReader([root]))
    assert sorted(again.sessions, key=lambda s: s.native_id) == sorted(
        cold.sessions, key=lambda s: s.native_id
    )
