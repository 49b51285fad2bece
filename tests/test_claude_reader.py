"""The Claude Code reader against the public fixtures and hand-built transcripts with known totals."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from conftest import SUBAGENT_PARENT, FakeHome

from llm_session_manager.agents.claude_code import (
    ClaudeCodeReader,
    build_sessions,
    encode_project_dir,
    session_key_for,
)
from llm_session_manager.models import Session


def read_all(projects: Path) -> dict[str, Session]:
    reader = ClaudeCodeReader([projects])
    states = [reader.read(path, key, None) for path, key, _st in reader.sources()]
    return {s.native_id: s for s in build_sessions(states)}


# ------------------------------------------------------------------------------------------------
# Public fixtures


def test_split_line_message_counted_once_and_sidechain_in_totals(fake_home: FakeHome) -> None:
    s = read_all(fake_home.projects)["88a8d761-7b9a-4bf1-a8ca-c1febe6bf358"]
    # Three unique messages; msg_017z… is written on two lines (sidechain) and counts once.
    assert s.tokens.input == 3 + 3 + 3
    assert s.tokens.output == 365 + 183 + 190
    assert s.tokens.cache_creation == 141272 + 19830 + 2952
    assert s.tokens.cache_read == 141272
    assert s.messages_assistant == 3
    # Context: the last main-chain message, sidechain excluded.
    assert s.context_tokens == 3 + 2952 + 141272
    assert s.model == "claude-sonnet-4-5-20250929"
    assert s.project_path == "e:\\Workspace\\src\\github\\claude-code-log"


def test_spaced_json_parses(fake_home: FakeHome) -> None:
    # sidechain_integrated.jsonl is written with ": " spacing (ccusage's byte filter skips it).
    raw = (fake_home.projects / "-e-Workspace-src-github-claude-code-log").glob("88a8*.jsonl")
    assert b'"usage": {' in next(iter(raw)).read_bytes()
    assert read_all(fake_home.projects)["88a8d761-7b9a-4bf1-a8ca-c1febe6bf358"].tokens.total > 0


def test_subagent_files_belong_to_parent(fake_home: FakeHome) -> None:
    sessions = read_all(fake_home.projects)
    assert "agent-a0ad4f44468bdf20d" not in sessions
    parent = sessions[SUBAGENT_PARENT]
    assert len(parent.transcript_paths) == 2
    assert any("subagents" in p for p in parent.transcript_paths)


def test_coverage_fixture_counts(fake_home: FakeHome) -> None:
    s = read_all(fake_home.projects)["ses_stage0_small"]
    assert s.title == "Stage0 small fixture"  # custom title wins over ai-title, summary and prompt
    assert s.compactions == 2
    assert s.api_errors >= 3
    assert s.tool_errors == 1
    assert "auth_error" in s.fatal_signals  # an authentication_error API error is in the fixture
    assert s.messages_user >= 1
    assert s.project_path == "/tmp"


def test_nested_layout_and_usage_without_type(fake_home: FakeHome) -> None:
    s = read_all(fake_home.projects)["session-alpha"]
    assert (s.tokens.input, s.tokens.output, s.tokens.cache_creation, s.tokens.cache_read) == (
        600,
        250,
        75,
        70,
    )
    assert set(s.models) == {"claude-sonnet-4-20250514", "claude-opus-4-20250514"}
    assert s.model == "claude-sonnet-4-20250514"  # the latest message's model


def test_summary_title_when_no_custom_title(fake_home: FakeHome) -> None:
    s = read_all(fake_home.projects)["representative"]
    assert s.title is not None and s.title.startswith("User learned about Python decorators")


# ------------------------------------------------------------------------------------------------
# Hand-built transcripts


def assistant(
    msg: str,
    req: str | None,
    *,
    inp: int,
    out: int,
    cc: int = 0,
    cr: int = 0,
    side: bool = False,
    ts: str = "2026-11-20T10:00:00.000Z",
    model: str = "claude-sonnet-4-5-20250929",
    content: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    line: dict[str, Any] = {
        "type": "assistant",
        "isSidechain": side,
        "sessionId": "s",
        "cwd": "/work/proj",
        "gitBranch": "main",
        "timestamp": ts,
        "uuid": f"u-{msg}-{out}",
        "message": {
            "id": msg,
            "model": model,
            "role": "assistant",
            "content": content or [{"type": "text", "text": "ok"}],
            "usage": {
                "input_tokens": inp,
                "output_tokens": out,
                "cache_creation_input_tokens": cc,
                "cache_read_input_tokens": cr,
            },
        },
        **extra,
    }
    if req is not None:
        line["requestId"] = req
    return line


def user(text: Any, ts: str = "2026-11-20T09:59:00.000Z", **extra: Any) -> dict[str, Any]:
    return {
        "type": "user",
        "isSidechain": False,
        "sessionId": "s",
        "cwd": "/work/proj",
        "timestamp": ts,
        "message": {"role": "user", "content": text},
        **extra,
    }


def write(path: Path, lines: list[Any], *, spaced: bool = False, tail: str = "") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sep = (", ", ": ") if spaced else (",", ":")
    body = "".join((x if isinstance(x, str) else json.dumps(x, separators=sep)) + "\n" for x in lines)
    path.write_text(body + tail, encoding="utf-8")


def test_streaming_lines_keep_largest_total(tmp_path: Path) -> None:
    proj = tmp_path / "projects" / encode_project_dir("/work/proj")
    write(
        proj / "a.jsonl",
        [
            user("fix the bug"),
            assistant("m1", "r1", inp=10, out=1, cc=100, cr=5),
            assistant("m1", "r1", inp=10, out=40, cc=100, cr=5),
            assistant("m1", "r1", inp=10, out=25, cc=100, cr=5),
        ],
    )
    s = read_all(tmp_path / "projects")["a"]
    assert (s.tokens.input, s.tokens.output, s.tokens.cache_creation, s.tokens.cache_read) == (10, 40, 100, 5)
    assert s.messages_assistant == 1 and s.messages_user == 1
    assert s.title == "fix the bug"


def test_garbage_and_truncated_lines_are_skipped_and_counted(tmp_path: Path) -> None:
    proj = tmp_path / "projects" / "-p"
    write(
        proj / "g.jsonl",
        [user("hi"), "this is not json", "[1, 2", assistant("m1", "r1", inp=1, out=2)],
        tail='{"type":"assistant","message":{"id":"m2","usage":{"input_tok',
    )
    s = read_all(tmp_path / "projects")["g"]
    assert s.tokens.total == 3
    assert s.skipped_lines == 3  # two bad lines + the unfinished last line


def test_compaction_drops_context_and_resets_turns(tmp_path: Path) -> None:
    proj = tmp_path / "projects" / "-p"
    write(
        proj / "c.jsonl",
        [
            user("one"),
            assistant("m1", "r1", inp=5, out=5, cc=150_000, cr=10_000),
            {
                "type": "system",
                "subtype": "compact_boundary",
                "timestamp": "2026-11-20T10:01:00.000Z",
                "compactMetadata": {"trigger": "auto", "preTokens": 160_005},
            },
            user("summary of the conversation", isCompactSummary=True),
            user("two"),
            assistant("m2", "r2", inp=5, out=5, cc=20_000, cr=0, ts="2026-11-20T10:02:00.000Z"),
        ],
    )
    s = read_all(tmp_path / "projects")["c"]
    assert s.compactions == 1
    assert s.context_tokens == 20_005
    assert s.messages_user == 2  # the compact summary is not a prompt
    assert s.turns_since_compaction == 1


def test_errors_interruptions_and_repeated_failures(tmp_path: Path) -> None:
    proj = tmp_path / "projects" / "-p"
    lines: list[Any] = [user("run tests")]
    for i in range(3):
        lines.append(
            assistant(
                f"m{i}",
                f"r{i}",
                inp=1,
                out=1,
                content=[{"type": "tool_use", "id": f"t{i}", "name": "Bash", "input": {"command": "pytest"}}],
            )
        )
        lines.append(
            user([{"type": "tool_result", "tool_use_id": f"t{i}", "content": "boom", "is_error": True}])
        )
    lines.append(user([{"type": "text", "text": "[Request interrupted by user]"}]))
    lines.append(user("[Request interrupted by user for tool use]"))
    lines.append(
        {
            "type": "assistant",
            "isApiErrorMessage": True,
            "timestamp": "2026-11-20T10:00:00.000Z",
            "message": {
                "id": "e1",
                "model": "<synthetic>",
                "content": [{"type": "text", "text": "Prompt is too long"}],
                "usage": {"input_tokens": 0, "output_tokens": 0},
            },
        }
    )
    write(proj / "e.jsonl", lines)
    s = read_all(tmp_path / "projects")["e"]
    assert s.tool_calls == 3 and s.tool_errors == 3
    assert s.repeated_failures == 3
    assert s.interruptions == 2
    assert s.api_errors == 1
    assert "prompt_too_long" in s.fatal_signals
    assert s.recent_tool_results == (True, True, True)
    assert s.messages_user == 1
    assert "<synthetic>" not in s.models


def test_resumed_session_repeats_are_counted_once(tmp_path: Path) -> None:
    proj = tmp_path / "projects" / "-p"
    first = [user("start"), assistant("m1", "r1", inp=100, out=10, ts="2026-11-20T10:00:00.000Z")]
    write(proj / "bbb.jsonl", first)
    resumed = [
        *first,
        user("go on", ts="2026-11-21T10:00:00.000Z"),
        assistant("m2", "r2", inp=7, out=3, ts="2026-11-21T10:00:01.000Z"),
    ]
    write(proj / "aaa.jsonl", resumed)
    sessions = read_all(tmp_path / "projects")
    # Counted once overall; like ccusage, the file whose path sorts first owns a repeated message.
    assert sessions["aaa"].tokens.total == 110 + 10
    assert sessions["bbb"].tokens.total == 0
    # Both transcripts do hold the reply, so both count it as a message.
    assert sessions["aaa"].messages_assistant == 2 and sessions["bbb"].messages_assistant == 1
    assert sessions["aaa"].context_tokens == 7


def test_btw_replay_on_sidechain_counts_nothing(tmp_path: Path) -> None:
    proj = tmp_path / "projects" / "-p"
    write(
        proj / "b.jsonl",
        [
            user("q"),
            assistant("m1", "r1", inp=10, out=10, cr=100),
            assistant("m1", "r-new", inp=10, out=10, cr=5000, side=True),
        ],
    )
    s = read_all(tmp_path / "projects")["b"]
    assert s.tokens.total == 120 and s.messages_assistant == 1


def test_one_m_identity_is_recorded(tmp_path: Path) -> None:
    proj = tmp_path / "projects" / "-p"
    write(
        proj / "x.jsonl",
        [
            {
                "type": "attachment",
                "attachment": {"type": "identity", "identity": {"modelId": "claude-opus-5[1m]"}},
            },
            assistant("m1", "r1", inp=1, out=1),
        ],
    )
    assert read_all(tmp_path / "projects")["x"].context_window_source == "1m-identity"


@pytest.mark.parametrize("spaced", [False, True])
def test_incremental_read_equals_full_read(tmp_path: Path, spaced: bool) -> None:
    proj = tmp_path / "projects" / "-p"
    path = proj / "inc.jsonl"
    lines = [user("q1"), assistant("m1", "r1", inp=3, out=4, cc=5, cr=6)]
    more = [
        user("q2", ts="2026-11-20T11:00:00.000Z"),
        assistant("m2", "r2", inp=30, out=40, ts="2026-11-20T11:00:01.000Z"),
    ]
    write(path, lines, spaced=spaced)
    reader = ClaudeCodeReader([tmp_path / "projects"])
    first = reader.read(path, "inc", None)
    # Append half a line, then finish it: the half line must not be lost or double counted.
    full_text = "".join(json.dumps(x, separators=(", ", ": ") if spaced else (",", ":")) + "\n" for x in more)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(full_text[:20])
    mid = reader.read(path, "inc", first)
    assert mid.data["tail_partial"] is True
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(full_text[20:])
    incremental = reader.read(path, "inc", mid)
    fresh = reader.read(path, "inc", None)
    assert incremental.offset == fresh.offset == os.path.getsize(path)
    assert build_sessions([incremental])[0] == build_sessions([fresh])[0]
    assert build_sessions([incremental])[0].tokens.total == 3 + 4 + 5 + 6 + 70


def test_rewritten_or_shrunk_file_is_read_again(tmp_path: Path) -> None:
    proj = tmp_path / "projects" / "-p"
    path = proj / "w.jsonl"
    write(path, [user("q1"), assistant("m1", "r1", inp=1000, out=1000)])
    reader = ClaudeCodeReader([tmp_path / "projects"])
    first = reader.read(path, "w", None)
    write(path, [user("q1"), assistant("m9", "r9", inp=1, out=1)])  # shorter: a different file now
    again = reader.read(path, "w", first)
    assert build_sessions([again])[0].tokens.total == 2


def test_session_key_layouts(tmp_path: Path) -> None:
    root = tmp_path / "projects"
    assert session_key_for(root / "-p" / "abc.jsonl", root) == "abc"
    assert session_key_for(root / "-p" / "abc" / "subagents" / "agent-1.jsonl", root) == "abc"
    assert session_key_for(root / "-p" / "sess" / "chat.jsonl", root) == "sess"


def test_encode_project_dir() -> None:
    assert encode_project_dir("/home/u/my_repo") == "-home-u-my-repo"
    assert encode_project_dir("C:\\x") == "C--x"
    assert encode_project_dir("/a/b.c d/é") == "-a-b-c-d--"
