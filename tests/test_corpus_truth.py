"""The reader against generated corpora whose truth is computed independently while writing them.

The generator (tests/claude_corpus.py) covers split lines, sidechains, sub-agent files, resumed sessions,
"/btw" replays, compactions, API errors, interruptions, spaced JSON, garbage and truncated lines.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from claude_corpus import SessionTruth, generate
from conftest import FakeHome

from llm_session_manager.agents.claude_code import ClaudeCodeReader
from llm_session_manager.models import Session
from llm_session_manager.scan import scan_agent
from llm_session_manager.store import db, parse_cache
from llm_session_manager.timefmt import iso, parse_ts


def compare(session: Session, truth: SessionTruth) -> dict[str, tuple[object, object]]:
    t = session.tokens
    pairs: dict[str, tuple[object, object]] = {
        "input": (t.input, truth.input),
        "output": (t.output, truth.output),
        "cache_creation": (t.cache_creation, truth.cache_creation),
        "cache_read": (t.cache_read, truth.cache_read),
        "user_prompts": (session.messages_user, truth.user_prompts),
        "assistant_messages": (session.messages_assistant, truth.assistant_messages),
        "tool_errors": (session.tool_errors, truth.tool_errors),
        "interruptions": (session.interruptions, truth.interruptions),
        "compactions": (session.compactions, truth.compactions),
        "api_errors": (session.api_errors, truth.api_errors),
        "context_tokens": (session.context_tokens or 0, truth.context_tokens),
        "models": (sorted(session.models), sorted(truth.models)),
        "skipped_lines": (session.skipped_lines, truth.skipped_lines),
        "project_path": (session.project_path, truth.cwd),
        "first_ts": (iso(session.started_at), iso(parse_ts(truth.first_ts))),
        "last_ts": (iso(session.last_activity), iso(parse_ts(truth.last_ts))),
    }
    if truth.last_model:
        pairs["model"] = (session.model, truth.last_model)
    if truth.custom_title:
        pairs["title"] = (session.title, " ".join(truth.custom_title.split())[:80])
    return {k: v for k, v in pairs.items() if v[0] != v[1]}


def check_all(sessions: list[Session], truths: dict[str, SessionTruth]) -> None:
    by_id = {s.native_id: s for s in sessions}
    assert set(by_id) == set(truths)
    problems = {sid: d for sid, t in truths.items() if (d := compare(by_id[sid], t))}
    shown = {k: {f: list(v) for f, v in d.items()} for k, d in list(problems.items())[:5]}
    assert not problems, json.dumps(shown)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_tricky_corpus_matches_truth(tmp_path: Path, seed: int) -> None:
    truths = generate(tmp_path / "claude", sessions=60, seed=seed)
    conn = db.connect(tmp_path / "lsm.db")
    result = scan_agent(conn, ClaudeCodeReader([tmp_path / "claude" / "projects"]))
    check_all(result.sessions, truths)
    # The second run comes from the cache and must be identical.
    again = scan_agent(conn, ClaudeCodeReader([tmp_path / "claude" / "projects"]))
    assert again.stats.from_cache
    check_all(again.sessions, truths)


def test_corpus_in_parallel_workers_matches_truth(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from llm_session_manager import scan

    monkeypatch.setattr(scan, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(scan, "_workers", lambda: 2)
    truths = generate(tmp_path / "claude", sessions=40, seed=7)
    reader = ClaudeCodeReader([tmp_path / "claude" / "projects"])
    result = scan_agent(db.connect(tmp_path / "lsm.db"), reader)
    check_all(result.sessions, truths)


def test_growing_corpus_read_incrementally_matches_fresh_read(tmp_path: Path) -> None:
    """Cut every file in two, scan, restore the rest, scan again: equal to a cold read of the whole."""
    truths = generate(tmp_path / "claude", sessions=30, seed=3)
    root = tmp_path / "claude" / "projects"
    full = {p: p.read_bytes() for p in root.rglob("*.jsonl")}
    for path, data in full.items():
        path.write_bytes(data[: len(data) // 2])
    conn = db.connect(tmp_path / "lsm.db")
    scan_agent(conn, ClaudeCodeReader([root]))
    for path, data in full.items():
        with open(path, "ab") as fh:
            fh.write(data[len(data) // 2 :])
    grown = scan_agent(conn, ClaudeCodeReader([root]))
    assert 0 < grown.stats.bytes_read < sum(len(d) for d in full.values())
    check_all(grown.sessions, truths)


def test_cli_json_matches_truth(fake_home: FakeHome, tmp_path: Path) -> None:
    truths = generate(tmp_path / "corpus", sessions=25, seed=11)
    r = fake_home.run("list", "--all", "--format", "json", CLAUDE_CONFIG_DIR=str(tmp_path / "corpus"))
    assert r.returncode == 0, r.stderr
    data = {o["native_id"]: o for o in json.loads(r.stdout)}
    assert set(data) == set(truths)
    for sid, t in truths.items():
        tok = data[sid]["tokens"]
        assert (tok["input"], tok["output"], tok["cache_creation"], tok["cache_read"]) == (
            t.input,
            t.output,
            t.cache_creation,
            t.cache_read,
        ), sid
        assert tok["total"] == t.total
    assert os.listdir(fake_home.lsm_home)  # our database lives in LSM_HOME


def test_long_running_scan_rebuilds_only_what_changed_and_matches_a_full_scan(tmp_path: Path) -> None:
    """The dashboard keeps a memo between scans: after files grow (a resumed pair among them), the
    sessions it rebuilds incrementally equal a cold scan of the same files, field by field."""
    from llm_session_manager.scan import ScanMemo

    truths = generate(tmp_path / "claude", sessions=40, seed=5)
    root = tmp_path / "claude" / "projects"
    conn = db.connect(tmp_path / "lsm.db")
    memo = ScanMemo()
    first = scan_agent(conn, ClaudeCodeReader([root]), memo)
    check_all(first.sessions, truths)
    assert scan_agent(conn, ClaudeCodeReader([root]), memo).stats.from_cache
    resumed = [t for t in truths.values() if t.resumed_from]
    assert resumed, "the corpus has resumed sessions"
    targets = {resumed[0].resumed_from, resumed[0].session_id, next(iter(truths))}
    for sid in targets:
        path = tmp_path / "claude" / truths[sid].files[0]
        line = json.dumps(
            {
                "type": "assistant",
                "sessionId": sid,
                "timestamp": "2030-01-01T00:00:00.000Z",
                "requestId": f"req-new-{sid}",
                "message": {
                    "id": f"msg-new-{sid}",
                    "model": "claude-sonnet-4-5",
                    "usage": {"input_tokens": 7, "output_tokens": 3},
                },
            }
        )
        data = path.read_bytes()
        with open(path, "ab") as fh:
            fh.write((b"" if data.endswith(b"\n") else b"\n") + line.encode() + b"\n")
    again = scan_agent(conn, ClaudeCodeReader([root]), memo)
    assert again.stats.files_read <= len(targets) + 3
    cold = scan_agent(db.connect(tmp_path / "cold.db"), ClaudeCodeReader([root]))
    key = lambda s: s.native_id  # noqa: E731
    assert sorted(again.sessions, key=key) == sorted(cold.sessions, key=key)


def test_one_shot_scan_after_an_append_rebuilds_only_what_changed_and_matches_a_full_scan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A one-shot command (no memo) after agents appended lines takes the previous merge from the cache
    and re-merges only the sessions the new lines can change: the result, usage history included,
    equals a cold scan of the same files."""
    truths = generate(tmp_path / "claude", sessions=40, seed=7)
    root = tmp_path / "claude" / "projects"
    conn = db.connect(tmp_path / "lsm.db")
    check_all(scan_agent(conn, ClaudeCodeReader([root])).sessions, truths)
    resumed = [t for t in truths.values() if t.resumed_from]
    assert resumed, "the corpus has resumed sessions"
    targets = [resumed[0].resumed_from, resumed[0].session_id, next(iter(truths))]
    for n, sid in enumerate(targets):
        path = tmp_path / "claude" / truths[sid].files[0]
        line = {
            "type": "assistant",
            "sessionId": sid,
            "timestamp": f"2030-01-01T00:0{n}:00.000Z",
            "requestId": f"req-new-{sid}",
            "message": {"id": f"msg-new-{sid}", "model": "claude-sonnet-4-5", "usage": {"input_tokens": 7}},
        }
        data = path.read_bytes()
        with open(path, "ab") as fh:
            fh.write((b"" if data.endswith(b"\n") else b"\n") + json.dumps(line).encode() + b"\n")
    merged: list[int] = []
    build = ClaudeCodeReader.sessions
    with monkeypatch.context() as patch:  # neither loading nor merging every file is what it may do
        patch.setattr(parse_cache, "load_states", lambda *a: pytest.fail("loaded every state"))
        patch.setattr(ClaudeCodeReader, "sessions", lambda s, st: merged.append(len(st)) or build(s, st))
        again = scan_agent(conn, ClaudeCodeReader([root]), history=True)
    assert not again.stats.errors
    assert merged and sum(merged) < again.stats.files / 2
    assert again.stats.files_read <= len(targets) + 3
    cold = scan_agent(db.connect(tmp_path / "cold.db"), ClaudeCodeReader([root]), history=True)
    key = lambda s: s.native_id  # noqa: E731
    assert sorted(again.sessions, key=key) == sorted(cold.sessions, key=key)
    # and the merge it saved is the one the next command starts from
    assert scan_agent(conn, ClaudeCodeReader([root])).stats.from_cache
