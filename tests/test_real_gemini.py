"""lsm on the chats Gemini CLI really wrote (fixtures/real/gemini-*), against their truth.

The truth comes from the model stub's log (manual_tests/real_agents/capture_gemini.py): tokens of the
answers Gemini CLI writes to its chat, prompts, replies, tool calls and failed tool results, model,
context and Gemini CLI's own window.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llm_session_manager.agents.gemini import GeminiReader, token_limit
from llm_session_manager.models import Session
from tests.real_fixtures import capture_dirs, compare, listed, truth_of

CAPTURES = capture_dirs("gemini")


def _chats(capture: Path, scenario: str) -> list[Path]:
    return sorted((capture / "home" / ".gemini" / "tmp" / f"gemini-{scenario}" / "chats").glob("*.jsonl"))


def _read(tmp: Path, chats: dict[str, list[str]]) -> Session:
    """The one session of ``chats`` (file name -> lines) laid out under ``tmp``."""
    folder = tmp / "tmp" / "proj" / "chats"
    folder.mkdir(parents=True, exist_ok=True)
    for name, lines in chats.items():
        (folder / name).write_text("".join(lines), encoding="utf-8")
    reader = GeminiReader([tmp / "tmp"])
    states = [reader.read(path, key, None) for path, key, _ in reader.sources()]
    (session,) = reader.sessions(states)
    return session


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines(keepends=True)


def test_captures_exist() -> None:
    assert CAPTURES, "no tests/fixtures/real/gemini-* capture"


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda p: p.name)
def test_every_session_equals_its_truth(tmp_path: Path, capture: Path) -> None:
    rows, truth = listed(tmp_path, capture)
    report = compare(rows, truth)
    assert {k: v for k, v in report.items() if v} == {}
    assert len(truth["sessions"]) == len([r for r in rows if r["agent"] == "gemini"])


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda p: p.name)
def test_context_window_is_gemini_clis_own_token_limit(tmp_path: Path, capture: Path) -> None:
    """Gemini CLI measures the context against tokenLimit(): 1,048,576 for its default route
    gemini-3.8-flash too (lsm's table has no row for it and took 200,000: 5x the real %)."""
    rows, _truth_doc = listed(tmp_path, capture)
    rows = [r for r in rows if r["agent"] == "gemini"]
    assert {(r["context_window"], r["context_window_source"]) for r in rows} == {(1_048_576, "agent")}
    one_shot = next(r for r in rows if r["native_id"] == truth_of(capture, "one-shot")["native_id"])
    assert one_shot["model"] == "gemini-3.8-flash"
    assert one_shot["context_pct"] == round(100 * one_shot["context_tokens"] / 1_048_576, 1)


def test_token_limit_follows_gemini_cli() -> None:
    assert token_limit("gemini-3.8-flash") == 1_048_576
    assert token_limit("gemini-2.5-pro") == 1_048_576
    assert token_limit(None) == 1_048_576
    assert token_limit("gemma-4-31b-it") == 256_000
    assert token_limit("gemma-4-26b-a4b-it") == 256_000


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda p: p.name)
def test_tool_results_are_not_prompts(tmp_path: Path, capture: Path) -> None:
    """Gemini CLI sends a tool's result back as a ``type: "user"`` line of functionResponse parts."""
    (chat,) = _chats(capture, "read-ok")
    users = [json.loads(x) for x in _lines(chat) if '"type":"user"' in x and '"$set"' not in x]
    assert [("functionResponse" in u["content"][0]) for u in users] == [False, True]
    session = _read(tmp_path, {chat.name: _lines(chat)})
    assert (session.messages_user, session.messages_assistant) == (1, 2)
    assert session.title == "[[read:ok]] Read notes.txt."


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda p: p.name)
def test_failed_shell_command_is_a_tool_error(tmp_path: Path, capture: Path) -> None:
    """Gemini CLI marks a command that exited non-zero ``status: "success"``; its result says
    ``Exit Code: 2``."""
    (chat,) = _chats(capture, "tool-fail")
    calls = [c for x in _lines(chat) for c in json.loads(x).get("toolCalls") or []]
    assert {c["status"] for c in calls} == {"success"}
    assert "\nExit Code: 2\n" in json.dumps(calls[-1]["result"]).replace("\\n", "\n")
    session = _read(tmp_path, {chat.name: _lines(chat)})
    assert (session.tool_calls, session.tool_errors) == (1, 1)


def test_command_output_that_mentions_an_exit_code_is_not_a_failure(tmp_path: Path) -> None:
    output = "<untrusted_context>\nOutput: Exit Code: 3\nProcess Group PGID: 7\n</untrusted_context>"
    call = {
        "id": "c1",
        "name": "run_shell_command",
        "status": "success",
        "result": [
            {"functionResponse": {"id": "c1", "name": "run_shell_command", "response": {"output": output}}}
        ],
    }
    lines = [
        json.dumps({"sessionId": "s1", "projectHash": "h", "startTime": "2026-12-04T10:00:00Z"}) + "\n",
        json.dumps({"id": "u1", "timestamp": "2026-12-04T10:00:01Z", "type": "user", "content": "hi"}) + "\n",
        json.dumps({"id": "g1", "timestamp": "2026-12-04T10:00:02Z", "type": "gemini", "toolCalls": [call]})
        + "\n",
    ]
    session = _read(tmp_path, {"session-x.jsonl": lines})
    assert (session.tool_calls, session.tool_errors) == (1, 0)


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda p: p.name)
def test_resume_restatement_keeps_tool_calls_and_errors(tmp_path: Path, capture: Path) -> None:
    """``--resume`` appends a header and ``$set`` messages restating the history without tokens, tool
    calls or model; what was read before stays, and the reload is no compression."""
    chats = _chats(capture, "resume")
    lines = {c.name: _lines(c) for c in chats}
    restated = [x for ls in lines.values() for x in ls if x.startswith('{"$set":{"messages"')]
    assert any('"functionCall"' in x for x in restated)  # the reduced form: calls moved into content
    want = truth_of(capture, "resume")
    full = _read(tmp_path / "full", lines)
    assert (full.tool_calls, full.tool_errors) == (want["tool_calls"], want["tool_errors"]) == (2, 2)
    assert (full.messages_user, full.messages_assistant) == (3, 5)
    assert full.compactions == 0 and full.turns_since_compaction == 3
    # The restatements add nothing: without them the counts are the same.
    bare = {name: [x for x in ls if not x.startswith('{"$set":{"messages"')] for name, ls in lines.items()}
    without = _read(tmp_path / "bare", bare)
    assert (without.tool_calls, without.tool_errors, without.tokens) == (
        full.tool_calls,
        full.tool_errors,
        full.tokens,
    )


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda p: p.name)
def test_restatement_in_another_file_does_not_replace_what_was_written(tmp_path: Path, capture: Path) -> None:
    """The same restatement written into the session's later file (sorted after the first) instead."""
    first, later = _chats(capture, "resume")
    lines = _lines(first)
    restated = [x for x in lines if x.startswith('{"$set":{"messages"')]
    moved = {first.name: [x for x in lines if x not in restated], later.name: _lines(later) + restated}
    want = truth_of(capture, "resume")
    session = _read(tmp_path, moved)
    assert (session.tool_calls, session.tool_errors) == (want["tool_calls"], want["tool_errors"])
    assert (session.messages_user, session.messages_assistant) == (3, 5)


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda p: p.name)
def test_resume_in_a_new_minute_opens_a_second_file_of_the_same_session(capture: Path) -> None:
    """Gemini CLI names a chat by the minute it started: a resume in a later minute writes a header-only
    file and goes on in the first one. Both carry the session id; lsm shows one session (the truth
    test checks its figures)."""
    chats = _chats(capture, "resume")
    ids = {json.loads(_lines(c)[0])["sessionId"] for c in chats}
    assert len(chats) == 2 and ids == {truth_of(capture, "resume")["native_id"]}


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda p: p.name)
def test_export_after_resume_keeps_the_tool_calls(capture: Path) -> None:
    from llm_session_manager.agents.gemini import read_conversation

    turns = read_conversation([str(c) for c in _chats(capture, "resume")])
    calls = [c["name"] for t in turns for c in t.get("tool_calls", [])]
    errors = [r["is_error"] for t in turns for r in t.get("tool_results", [])]
    assert calls == ["run_shell_command", "read_file"]
    assert errors == [True, True]  # the failed command too, though Gemini marks it "success"
