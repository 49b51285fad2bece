"""The Copilot CLI reader: the public events.jsonl fixture, exact shutdown metrics, counted open segments,
incremental reading, damaged lines and file layouts, with totals worked out by hand.

Counted figures are tiktoken o200k_base counts of the texts shown next to them (offline, deterministic).
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from conftest import run_cli_inprocess

from llm_session_manager.agents.copilot_cli import CopilotCliReader
from llm_session_manager.models import ModelTokens, Session
from llm_session_manager.paths import resolve

FIX = Path(__file__).parent / "fixtures" / "copilot"
FIXTURE_ID = "aaaabbbb-1111-2222-3333-ccccddddeeee"


def line(etype: str, data: dict[str, Any], second: int = 0) -> str:
    return json.dumps(
        {"type": etype, "data": data, "id": f"e{second}", "timestamp": f"2026-04-08T05:00:{second:02d}.000Z"}
    )


def write_session(root: Path, sid: str, lines: list[str], tail: str = "") -> Path:
    path = root / "session-state" / sid / "events.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(x + "\n" for x in lines) + tail)
    return path


def read_all(root: Path) -> dict[str, Session]:
    reader = CopilotCliReader(root)
    states = [reader.read(path, key, None) for path, key, _ident in reader.sources()]
    return {s.native_id: s for s in reader.sessions(states)}


def usage(inp: int, out: int, cache_read: int, cache_write: int) -> dict[str, Any]:
    return {
        "requests": {"count": 1, "cost": 1},
        "usage": {
            "inputTokens": inp,
            "outputTokens": out,
            "cacheReadTokens": cache_read,
            "cacheWriteTokens": cache_write,
        },
    }


START = line(
    "session.start",
    {
        "sessionId": "cli-2",
        "selectedModel": "claude-sonnet-4.5",
        "context": {"cwd": "/w/app", "branch": "dev"},
    },
    0,
)
SEGMENT_1 = [
    START,
    line("user.message", {"content": "Refactor the parser"}, 1),
    line("assistant.message", {"content": "I will start.", "outputTokens": 1500}, 2),
    line(
        "tool.execution_start",
        {"toolCallId": "t1", "toolName": "bash", "arguments": {"command": "pytest"}},
        3,
    ),
    line(
        "tool.execution_complete",
        {"toolCallId": "t1", "success": False, "result": {"content": "3 passed"}},
        4,
    ),
    line(
        "session.shutdown",
        {
            # inputTokens includes the cache: 71282 = 4 + 35495 (read) + 35783 (write).
            "modelMetrics": {"claude-sonnet-4.5": usage(71282, 1500, 35495, 35783)},
            "currentModel": "claude-sonnet-4.5",
            "currentTokens": 40000,
        },
        5,
    ),
]
SEGMENT_2 = [
    line("session.resume", {}, 10),
    line("session.model_change", {"newModel": "openai/gpt-5.4"}, 11),
    line("user.message", {"content": "ok"}, 12),
    line("assistant.message", {"content": "Done.", "outputTokens": 300}, 13),
    line(
        "session.shutdown",
        {
            # Cumulative, as Copilot CLI writes it: the first segment's claude-sonnet-4.5 metrics plus 100/10.
            "modelMetrics": {
                "gpt-5.4": usage(5000, 300, 4000, 0),
                "claude-sonnet-4.5": usage(71382, 1510, 35495, 35783),
            },
            "currentTokens": 52000,
        },
        14,
    ),
]


# ------------------------------------------------------------------------------------------------
# The public fixture (jazzyalex/agent-sessions)


def install_fixture(root: Path) -> Path:
    path = root / "session-state" / FIXTURE_ID / "events.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes((FIX / "cli_events.jsonl").read_bytes())
    return path


def test_fixture_output_exact_input_counted(tmp_path: Path) -> None:
    root = tmp_path / ".copilot"
    install_fixture(root)
    s = read_all(root)[FIXTURE_ID]
    # No session.shutdown: output is the two replies' outputTokens, 12 + 14 (exact); input is not logged,
    # so it is counted: "List the files" 3 + the tool result "file1\nfile2\n" 6.
    assert (s.tokens.input, s.tokens.output) == (3 + 6, 12 + 14)
    assert (s.tokens.cache_creation, s.tokens.cache_read) == (0, 0)
    assert s.tokens.source == "counted"
    assert s.model is None and s.models == ()  # the fixture names no model anywhere
    assert s.model_usage == (ModelTokens("unknown", 9, 26),)
    assert (s.project_path, s.git_branch, s.title) == ("/tmp/project", "main", "List the files")
    assert (s.messages_user, s.messages_assistant, s.tool_calls, s.tool_errors) == (1, 2, 1, 0)
    assert s.started_at == datetime(2026, 3, 26, 17, 50, 34, 302000, tzinfo=timezone.utc)
    assert s.last_activity == datetime(2026, 3, 26, 17, 50, 37, 100000, tzinfo=timezone.utc)
    assert s.context_tokens is None and s.context_window is None
    assert s.skipped_lines == 0 and s.id == f"copilot-cli:{FIXTURE_ID}"


# ------------------------------------------------------------------------------------------------
# Shutdown metrics (exact) and the open segment after them (counted)


def test_shutdown_metrics_are_cumulative_the_last_one_counts(tmp_path: Path) -> None:
    root = tmp_path / ".copilot"
    write_session(root, "cli-2", SEGMENT_1 + SEGMENT_2)
    s = read_all(root)["cli-2"]
    # claude-sonnet-4.5: input (71282 - 35495 - 35783) + 100 = 104, output 1500 + 10, write 35783, read 35495
    # gpt-5.4 ("openai/" stripped): input 5000 - 4000 = 1000, output 300, read 4000
    assert set(s.model_usage) == {
        ModelTokens("claude-sonnet-4.5", 104, 1510, 35783, 35495),
        ModelTokens("gpt-5.4", 1000, 300, 0, 4000),
    }
    assert (s.tokens.input, s.tokens.output) == (1104, 1810)
    assert (s.tokens.cache_creation, s.tokens.cache_read) == (35783, 39495)
    assert s.tokens.source == "exact"  # every token is from a shutdown's metrics
    assert s.model == "gpt-5.4"
    assert s.context_tokens == 52000  # the last shutdown's currentTokens
    assert (s.tool_calls, s.tool_errors, s.messages_user, s.messages_assistant) == (1, 1, 2, 2)
    assert (s.project_path, s.git_branch, s.title) == ("/w/app", "dev", "Refactor the parser")


def test_open_segment_after_a_shutdown_is_counted(tmp_path: Path) -> None:
    root = tmp_path / ".copilot"
    open_segment = [
        line("session.resume", {}, 20),
        line("user.message", {"content": "Summarise the repo"}, 21),
        line(
            "assistant.message",
            {
                "content": "I will start.",
                "reasoningText": "Thinking hard",
                "toolRequests": [{"arguments": {"command": "pytest"}}],
            },
            22,
        ),
        line("tool.execution_complete", {"success": True, "result": {"content": "3 passed"}}, 23),
        line("assistant.message", {"content": "x", "outputTokens": 25}, 24),
    ]
    write_session(root, "cli-2", SEGMENT_1 + open_segment)
    s = read_all(root)["cli-2"]
    # Closed (exact): claude 4 in / 1500 out / 35783 write / 35495 read.
    # Open on claude-sonnet-4.5: input "Summarise the repo" 5 + "3 passed" 2 (counted);
    # output 'I will start.\nThinking hard\n[{"command":"pytest"}]' 14 (counted: no outputTokens)
    # + 25 (exact).
    assert s.model_usage == (ModelTokens("claude-sonnet-4.5", 4 + 7, 1500 + 39, 35783, 35495),)
    assert s.tokens.source == "counted"


def test_net_input_shape_is_not_reduced(tmp_path: Path) -> None:
    root = tmp_path / ".copilot"
    lines = [START, line("session.shutdown", {"modelMetrics": {"claude-sonnet-4.5": usage(10, 5, 50, 0)}}, 1)]
    write_session(root, "cli-2", lines)
    # inputTokens (10) smaller than the cache reads (50): it cannot include them, so it is kept as is.
    assert read_all(root)["cli-2"].model_usage == (ModelTokens("claude-sonnet-4.5", 10, 5, 0, 50),)


def test_texts_covered_by_a_shutdown_are_never_counted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import llm_session_manager.tokens as tokens

    def refuse(text: str, encoding: str = "o200k_base") -> int:
        raise AssertionError(f"counted {text!r}")

    monkeypatch.setattr(tokens, "count_tokens", refuse)
    root = tmp_path / ".copilot"
    write_session(root, "cli-2", SEGMENT_1 + SEGMENT_2)
    assert read_all(root)["cli-2"].tokens.source == "exact"


def test_errors_compactions_window_and_title(tmp_path: Path) -> None:
    root = tmp_path / ".copilot"
    lines = [
        START,
        line("user.message", {"content": "first prompt"}, 1),
        line(
            "session.error",
            {"errorType": "rate_limit", "message": "Rate limit exceeded", "statusCode": 429},
            2,
        ),
        line("abort", {"reason": "user initiated"}, 3),
        line(
            "tool.execution_start", {"toolName": "rename_session", "arguments": {"title": "Parser work"}}, 4
        ),
        line("session.compaction_start", {"currentTokens": 90000, "tokenLimit": 128000}, 5),
        line("session.compaction_complete", {"success": True, "preCompactionTokens": 90000}, 6),
        line("session.truncation", {"tokenLimit": 128000, "postTruncationTokensInMessages": 1000}, 7),
        line("user.message", {"content": "second"}, 8),
    ]
    write_session(root, "cli-2", lines)
    s = read_all(root)["cli-2"]
    assert (s.api_errors, s.interruptions, s.compactions, s.tool_calls) == (1, 1, 1, 1)
    assert (s.recent_api_errors, s.recent_interruptions) == (1, 1)
    assert s.title == "Parser work"  # rename_session wins over the first prompt
    assert (s.context_window, s.context_window_source) == (128000, "log")
    assert s.context_tokens is None  # the fill before the compaction no longer holds
    assert s.turns_since_compaction == 1
    assert s.last_compaction_at == datetime(2026, 4, 8, 5, 0, 6, tzinfo=timezone.utc)


# ------------------------------------------------------------------------------------------------
# Incremental reading, damaged and rewritten files


def test_incremental_append_matches_a_full_read(tmp_path: Path) -> None:
    root = tmp_path / ".copilot"
    path = write_session(root, "cli-2", SEGMENT_1[:3], tail=SEGMENT_1[3][:25])  # last line half-written
    reader = CopilotCliReader(root)
    first = reader.read(str(path), "cli-2", None)
    assert first.data["tail_partial"] and reader.sessions([first])[0].skipped_lines == 1
    assert first.offset == len("".join(x + "\n" for x in SEGMENT_1[:3]).encode())
    with open(path, "a") as fh:
        fh.write(SEGMENT_1[3][25:] + "\n" + "\n".join(SEGMENT_1[4:] + SEGMENT_2) + "\n")
    second = reader.read(str(path), "cli-2", first)
    assert second.offset == path.stat().st_size
    fresh = reader.read(str(path), "cli-2", None)
    assert reader.sessions([second]) == reader.sessions([fresh])
    assert reader.sessions([second])[0].tokens.total == 1104 + 1810 + 35783 + 39495
    assert reader.sessions([second])[0].skipped_lines == 0


def test_garbage_lines_are_skipped_and_counted(tmp_path: Path) -> None:
    root = tmp_path / ".copilot"
    lines = [START, "not json", "[1, 2]", "", line("assistant.message", {"outputTokens": 7}, 1)]
    write_session(root, "cli-2", lines, tail=line("user.message", {"content": "complete but no newline"}, 2))
    s = read_all(root)["cli-2"]
    assert s.skipped_lines == 2  # the text line and the array; the blank line is ignored
    assert s.messages_user == 1  # the last line lacks its newline but is whole: read
    assert s.tokens.output == 7


def test_rewritten_file_is_read_from_the_start(tmp_path: Path) -> None:
    root = tmp_path / ".copilot"
    path = write_session(root, "cli-2", SEGMENT_1)
    reader = CopilotCliReader(root)
    first = reader.read(str(path), "cli-2", None)
    other_start = START.replace("/w/app", "/w/other")
    path.write_text("".join(x + "\n" for x in [other_start, *SEGMENT_1[1:], *SEGMENT_2]))
    s = reader.sessions([reader.read(str(path), "cli-2", first)])[0]
    assert s.project_path == "/w/other"
    assert s.tokens.output == 1810  # not 1500 + 1810: the old totals were thrown away


# ------------------------------------------------------------------------------------------------
# Where sessions are found


def test_copilot_home_and_layouts(tmp_path: Path) -> None:
    root = tmp_path / "custom-copilot"
    paths = resolve({"HOME": str(tmp_path / "home"), "COPILOT_HOME": str(root)})
    reader = CopilotCliReader.from_paths(paths)
    assert reader.roots() == [
        (str(root / "session-state"), False),
        (str(root / "history-session-state"), False),
    ]
    write_session(root, "cli-2", SEGMENT_1)
    flat = root / "session-state" / "cli-2.jsonl"  # the pre-1.0.11 form of the same session
    flat.write_text(START + "\n" + line("assistant.message", {"outputTokens": 99999}, 1) + "\n")
    old = root / "history-session-state" / "legacy-1.jsonl"
    old.parent.mkdir(parents=True)
    old.write_text(line("session.start", {"context": {"cwd": "/old"}}, 0) + "\n")
    sessions = {
        s.native_id: s for s in reader.sessions([reader.read(p, k, None) for p, k, _ in reader.sources()])
    }
    assert set(sessions) == {"cli-2", "legacy-1"}
    assert sessions["cli-2"].transcript_paths == (str(root / "session-state" / "cli-2" / "events.jsonl"),)
    assert sessions["cli-2"].tokens.output == 1500  # the events.jsonl copy, not the flat one
    assert sessions["legacy-1"].project_path == "/old"
    default = CopilotCliReader.from_paths(resolve({"HOME": str(tmp_path / "home")}))
    assert default.copilot_home == tmp_path / "home" / ".copilot"


# ------------------------------------------------------------------------------------------------
# End to end: the real CLI over a fake HOME


def test_end_to_end_list_json(tmp_path: Path) -> None:
    home = tmp_path / "home"  # created by conftest's autouse fixture
    root = tmp_path / "copilot-home"
    install_fixture(root)
    write_session(root, "cli-2", SEGMENT_1 + SEGMENT_2)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LSM_", "CLAUDE_", "XDG_", "COPILOT_"))}
    env.update(
        HOME=str(home),
        LSM_HOME=str(tmp_path / "lsm-data"),
        LSM_DISCOVERY="off",
        COPILOT_HOME=str(root),
        NO_COLOR="1",
    )
    proc = run_cli_inprocess(["list", "--all", "--format", "json"], env=env, cwd=home)
    assert proc.returncode == 0, proc.stderr
    rows = {r["id"]: r for r in json.loads(proc.stdout)}
    fixture = rows[f"copilot-cli:{FIXTURE_ID}"]
    assert (fixture["tokens"]["input"], fixture["tokens"]["output"], fixture["tokens"]["total"]) == (
        9,
        26,
        35,
    )
    assert fixture["tokens_source"] == "counted"
    assert fixture["model"] is None and fixture["project_path"] == "/tmp/project"
    exact = rows["copilot-cli:cli-2"]
    assert exact["tokens"] == {
        "input": 1104,
        "output": 1810,
        "cache_creation": 35783,
        "cache_read": 39495,
        "total": 1104 + 1810 + 35783 + 39495,
        "source": "exact",
    }
    assert exact["tokens_source"] == "exact"
    assert exact["model"] == "gpt-5.4" and exact["project_path"] == "/w/app"
