"""lsm on the logs GitHub Copilot CLI really wrote (fixtures/real/copilot-cli-*), against their truth."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from llm_session_manager.agents.base import FileState
from llm_session_manager.agents.copilot_cli import CopilotCliReader, build_session, given_name
from tests.real_fixtures import capture_dirs, compare, listed, load_truth

CAPTURES = capture_dirs("copilot-cli")


def test_captures_exist() -> None:
    assert CAPTURES, "no tests/fixtures/real/copilot-cli-* capture"


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda p: p.name)
def test_every_session_equals_its_truth(tmp_path: Path, capture: Path) -> None:
    rows, truth = listed(tmp_path, capture)
    report = compare(rows, truth)
    assert {k: v for k, v in report.items() if v} == {}


def _events(capture: Path, scenario: str) -> tuple[Path, dict[str, Any]]:
    """The events.jsonl of the session captured for ``scenario`` (a prefix), and its truth."""
    for want in load_truth(capture)["sessions"]:
        if want["scenario"].startswith(scenario):
            path = capture / "home" / ".copilot" / "session-state" / want["native_id"] / "events.jsonl"
            return path, want
    raise AssertionError(f"no {scenario!r} session in {capture}")


def _session_from_lines(tmp_path: Path, lines: list[str]) -> Any:
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "events.jsonl"
    path.write_text("".join(lines))
    state: FileState = CopilotCliReader(tmp_path).read(str(path), "s", None)
    return build_session("s", state)


def _tokens(session: Any) -> dict[str, int]:
    t = session.tokens
    return {
        "input": t.input,
        "output": t.output,
        "cache_creation": t.cache_creation,
        "cache_read": t.cache_read,
    }


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda p: p.name)
def test_killed_session_sums_its_usage_records(tmp_path: Path, capture: Path) -> None:
    """No shutdown was written: the usage records are exact, not a tiktoken count of the prompts."""
    path, want = _events(capture, "killed")
    text = path.read_text()
    assert '"session.shutdown"' not in text
    session = _session_from_lines(tmp_path, text.splitlines(keepends=True))
    assert _tokens(session) == want["tokens"]
    assert session.tokens.source == "exact"


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda p: p.name)
def test_resumed_session_counts_each_call_once(tmp_path: Path, capture: Path) -> None:
    """Every shutdown restates the whole session's metrics: summing them would count early calls again."""
    path, want = _events(capture, "read ok + resume")
    lines = path.read_text().splitlines(keepends=True)
    assert sum('"session.shutdown"' in line for line in lines) == 3
    assert _tokens(_session_from_lines(tmp_path, lines)) == want["tokens"]
    # The same without the usage records (as older versions wrote): the last shutdown alone is the total.
    old_style = [line for line in lines if '"session.usage_record"' not in line]
    assert _tokens(_session_from_lines(tmp_path / "old", old_style)) == want["tokens"]


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda p: p.name)
def test_usage_records_are_counted_once_by_api_call_id(tmp_path: Path, capture: Path) -> None:
    path, want = _events(capture, "tool ok")
    lines = path.read_text().splitlines(keepends=True)
    shutdown = [line for line in lines if '"session.shutdown"' in line]
    body = [line for line in lines if '"session.shutdown"' not in line]
    records = [line for line in lines if '"session.usage_record"' in line]
    session = _session_from_lines(tmp_path, body + records)  # a record written twice, no shutdown
    assert _tokens(session) == want["tokens"]
    assert shutdown


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda p: p.name)
def test_nonzero_exit_code_is_a_tool_error(tmp_path: Path, capture: Path) -> None:
    """A shell command that exited 2: ``success`` is true, ``shellExecution.exitCode`` is 2."""
    path, want = _events(capture, "tool fail")
    lines = path.read_text().splitlines(keepends=True)
    done = [json.loads(line) for line in lines if '"tool.execution_complete"' in line]
    assert [(d["data"]["success"], d["data"]["shellExecution"]["exitCode"]) for d in done] == [(True, 2)]
    session = _session_from_lines(tmp_path, lines)
    assert (session.tool_calls, session.tool_errors) == (1, 1) == (want["tool_calls"], want["tool_errors"])
    assert session.recent_tool_results == (True,)


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda p: p.name)
def test_given_name_is_the_title(tmp_path: Path, capture: Path) -> None:
    """``copilot --name`` writes the name only to workspace.yaml (``user_named: true``)."""
    path, want = _events(capture, "one-shot, named")
    workspace = (path.parent / "workspace.yaml").read_text()
    assert "user_named: true" in workspace and want["title"] not in path.read_text()
    folder = tmp_path / "s"
    folder.mkdir()
    (folder / "events.jsonl").write_bytes(path.read_bytes())
    (folder / "workspace.yaml").write_text(workspace)
    state = CopilotCliReader(tmp_path).read(str(folder / "events.jsonl"), "s", None)
    assert build_session("s", state).title == want["title"]


def test_workspace_name_forms(tmp_path: Path) -> None:
    workspace = tmp_path / "workspace.yaml"
    workspace.write_text('id: x\nname: "Tab\\tand \\"quotes\\""\nuser_named: true\n')
    assert given_name(workspace) == 'Tab and "quotes"'
    workspace.write_text("name: derived from the prompt\nuser_named: false\n")
    assert given_name(workspace) is None
    assert given_name(tmp_path / "missing.yaml") is None


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda p: p.name)
def test_subagent_events_are_not_the_users(tmp_path: Path, capture: Path) -> None:
    """The ``task`` sub-agent's events (top-level ``agentId``) are in the session's file: its calls count,
    its prompt is not a user prompt and its model is not the session's, even mid-task."""
    path, want = _events(capture, "sub-agent")
    lines = path.read_text().splitlines(keepends=True)
    sub_replies = [i for i, x in enumerate(lines) if '"agentId":"' in x and '"assistant.message"' in x]
    last_sub = sub_replies[-1]
    session = _session_from_lines(tmp_path, lines[: last_sub + 1])  # cut while the sub-agent runs
    assert (session.messages_user, session.model) == (1, want["model"])
    assert {m.model for m in session.model_usage} == {"gpt-4o", "gpt-4o-mini"}
    whole = _session_from_lines(tmp_path / "whole", lines)
    assert _tokens(whole) == want["tokens"]
    assert (whole.messages_user, whole.messages_assistant) == (1, want["messages"]["assistant"])


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda p: p.name)
def test_usage_history_puts_each_call_at_its_minute(tmp_path: Path, capture: Path) -> None:
    """Reports count a call when it happened: usage_history holds each usage record (once per apiCallId)
    at the minute of its timestamp, and sums to the session's tokens; without records, no history (the
    shutdown's totals count whole at the last activity)."""
    from datetime import datetime

    path, want = _events(capture, "read ok + resume")
    lines = path.read_text().splitlines(keepends=True)
    records = [json.loads(line) for line in lines if '"session.usage_record"' in line]
    session = _session_from_lines(
        tmp_path, lines + [line for line in lines if '"session.usage_record"' in line]
    )
    minutes = {
        int(datetime.fromisoformat(r["timestamp"].replace("Z", "+00:00")).timestamp() // 60) for r in records
    }
    assert {row[0] for row in session.usage_history} == minutes
    summed = [sum(row[i] for row in session.usage_history) for i in (2, 3, 4, 5)]
    t = session.tokens
    assert summed == [t.input, t.output, t.cache_creation, t.cache_read]
    assert _tokens(session) == want["tokens"]  # the record written twice counts once here too
    old_style = [line for line in lines if '"session.usage_record"' not in line]
    assert _session_from_lines(tmp_path / "old", old_style).usage_history == ()
