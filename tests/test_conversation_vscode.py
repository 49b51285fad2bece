"""`read_conversation` for the VS Code family: Copilot Chat (``.json`` and the ``.jsonl`` mutation log),
Copilot CLI (``events.jsonl``) and Cline / Roo Code (``ui_messages.json``), from the fixtures and from
built cases, and `lsm export` showing each agent's conversation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import FakeHome
from test_agent_cline import CLINE_EXT, CLINE_TASK, ROO_EXT, ROO_TASK, storage
from test_agent_cline import install as install_cline
from test_agent_copilot import install_fixture as install_copilot
from test_agent_copilot import user_dir
from test_agent_copilot_cli import FIXTURE_ID
from test_agent_copilot_cli import install_fixture as install_copilot_cli

from llm_session_manager.agents import cline, copilot, copilot_cli

FIX = Path(__file__).parent / "fixtures"
T0 = 1767225600000  # 2026-01-01T00:00:00Z in ms


def roles(turns: list[dict[str, Any]]) -> list[str]:
    return [t["role"] for t in turns]


# ------------------------------------------------------------------------------------------------
# GitHub Copilot Chat (VS Code)


def test_copilot_fixture_conversation() -> None:
    turns = copilot.read_conversation([str(FIX / "copilot" / "session-01-today.json")])
    # Five requests, each a prompt and a markdown reply; no tools, no timestamps in the file.
    assert roles(turns) == ["user", "assistant"] * 5
    assert turns[0]["text"].startswith("Can you explain how the token estimation works")
    assert turns[1]["text"].startswith("## Token Estimation in Copilot Token Tracker")
    assert [t["model"] for t in turns[1::2]] == [
        "claude-sonnet-4.5",
        "gpt-4o",
        "claude-sonnet-4.5",
        "o3-mini",
        "gpt-4o",
    ]
    assert all(t["timestamp"] is None for t in turns)
    assert not any("tool_calls" in t for t in turns)


def tool_request() -> dict[str, Any]:
    """A request with thinking, text around an inline reference, two tool invocations (one failed),
    the model's own calls in toolCallRounds and their results in toolCallResults."""
    return {
        "requestId": "r1",
        "timestamp": T0,
        "modelId": "copilot/gpt-5",
        "message": {"text": "Fix the failing test"},
        "response": [
            {"kind": "thinking", "value": "secret reasoning"},
            {"value": "Looking at "},
            {"kind": "inlineReference", "inlineReference": {"path": "/w/tests/test_a.py", "scheme": "file"}},
            {"value": " first."},
            {
                "kind": "toolInvocationSerialized",
                "toolCallId": "c1",
                "toolId": "copilot_readFile",
                "invocationMessage": {"value": "Reading test_a.py"},
                "isComplete": True,
            },
            {
                "kind": "toolInvocationSerialized",
                "toolCallId": "c2",
                "toolId": "run_in_terminal",
                "toolSpecificData": {"kind": "terminal", "commandLine": {"original": "pytest -q"}},
                "resultDetails": {"input": "pytest -q", "output": [{"value": "1 failed"}], "isError": True},
                "isComplete": True,
            },
            {"kind": "markdownContent", "content": {"value": "The assertion was wrong; fixed."}},
        ],
        "result": {
            "metadata": {
                "toolCallRounds": [
                    {"toolCalls": [{"id": "c1", "name": "copilot_readFile", "arguments": '{"path": "t.py"}'}]}
                ],
                "toolCallResults": {"c1": {"content": [{"value": "def test_a(): assert 1 == 2"}]}},
            }
        },
        "modelState": {"value": 1, "completedAt": T0 + 5000},
    }


def cancelled_request() -> dict[str, Any]:
    return {
        "requestId": "r2",
        "timestamp": T0 + 10_000,
        "modelId": "copilot/gpt-5",
        "message": {"text": "Now refactor everything"},
        "response": [],
        "modelState": {"value": 2},
    }


def test_copilot_tools_results_and_cancellation(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text(
        json.dumps({"version": 3, "sessionId": "s", "requests": [tool_request(), cancelled_request()]})
    )
    turns = copilot.read_conversation([str(path)])
    assert roles(turns) == ["user", "assistant", "user", "system"]
    user, reply, _user2, note = turns
    assert user == {"role": "user", "timestamp": "2026-01-01T00:00:00.000Z", "text": "Fix the failing test"}
    # Thinking is left out; the inline reference shows as its file name; text after tools is a new paragraph.
    assert reply["text"] == "Looking at `test_a.py` first.\n\nThe assertion was wrong; fixed."
    assert reply["model"] == "gpt-5"
    assert reply["timestamp"] == "2026-01-01T00:00:05.000Z"  # completedAt
    assert reply["tool_calls"] == [
        {"id": "c1", "name": "copilot_readFile", "input": {"path": "t.py"}},  # the model's own arguments
        {"id": "c2", "name": "run_in_terminal", "input": {"command": "pytest -q"}},  # toolSpecificData
    ]
    assert reply["tool_results"] == [
        {"tool_use_id": "c1", "is_error": False, "content": "def test_a(): assert 1 == 2"},
        {"tool_use_id": "c2", "is_error": True, "content": "1 failed"},
    ]
    assert note == {"role": "system", "timestamp": "2026-01-01T00:00:10.000Z", "text": "[request cancelled]"}


def test_copilot_mutation_log_is_replayed_and_preferred(tmp_path: Path) -> None:
    """A ``.jsonl`` log (initial document, a pushed request, its response set later, a garbage line and
    a half-written last line) is rebuilt; it wins over an older ``.json`` copy with fewer requests."""
    first = {"requestId": "a", "timestamp": T0, "message": {"text": "hello"}, "response": []}
    second = {"requestId": "b", "timestamp": T0 + 1000, "message": {"text": "and again"}, "response": []}
    lines = [
        {"kind": 0, "v": {"version": 3, "sessionId": "s", "requests": [first]}},
        {"kind": 1, "k": ["requests", 0, "response"], "v": [{"value": "Hi!"}]},
        {"kind": 2, "k": ["requests"], "v": [second]},
        {
            "kind": 1,
            "k": ["requests", 1, "response"],
            "v": [{"kind": "markdownContent", "content": "Again hi."}],
        },
    ]
    log = tmp_path / "s.jsonl"
    log.write_text(
        "\n".join(json.dumps(x) for x in lines[:2])
        + "\nnot json\n"
        + "\n".join(json.dumps(x) for x in lines[2:])
        + '\n{"kind": 1, "k": ["requ'
    )
    old = tmp_path / "s.json"
    old.write_text(json.dumps({"version": 3, "sessionId": "s", "requests": [first]}))
    turns = copilot.read_conversation([str(old), str(log)])
    assert [(t["role"], t["text"]) for t in turns] == [
        ("user", "hello"),
        ("assistant", "Hi!"),
        ("user", "and again"),
        ("assistant", "Again hi."),
    ]
    assert turns[1]["model"] is None  # no modelId in these requests


# ------------------------------------------------------------------------------------------------
# GitHub Copilot CLI


def test_copilot_cli_fixture_conversation() -> None:
    turns = copilot_cli.read_conversation([str(FIX / "copilot" / "cli_events.jsonl")])
    assert turns == [
        {"role": "user", "timestamp": "2026-03-26T17:50:35.000Z", "text": "List the files"},
        {
            "role": "assistant",
            "timestamp": "2026-03-26T17:50:36.000Z",
            "text": "",
            "model": None,  # the fixture names no model
            "tool_calls": [
                {"id": "call_1", "name": "bash", "input": {"command": "ls", "description": "List files"}}
            ],
            "tool_results": [{"tool_use_id": "call_1", "is_error": False, "content": "file1\nfile2\n"}],
        },
        {
            "role": "assistant",
            "timestamp": "2026-03-26T17:50:37.100Z",
            "text": "The directory contains file1 and file2.",
            "model": None,
        },
    ]


def ev(etype: str, data: dict[str, Any], second: int) -> str:
    return json.dumps(
        {"type": etype, "data": data, "id": f"e{second}", "timestamp": f"2026-01-01T00:00:{second:02d}Z"}
    )


def test_copilot_cli_models_errors_and_system_turns(tmp_path: Path) -> None:
    lines = [
        ev("session.start", {"sessionId": "x", "selectedModel": "anthropic/claude-sonnet-4.5"}, 0),
        ev("user.message", {"content": "build it", "transformedContent": "<context>…</context> build it"}, 1),
        ev("assistant.message", {"content": "", "reasoningText": "hmm"}, 2),  # nothing to show: dropped
        ev(
            "assistant.message",
            {
                "content": "Running the build.",
                "toolRequests": [{"toolCallId": "t1", "name": "bash", "arguments": {"command": "make"}}],
            },
            3,
        ),
        ev(
            "tool.execution_start",
            {"toolCallId": "t1", "toolName": "bash", "arguments": {"command": "make"}},
            4,
        ),
        "garbage line",
        ev(
            "tool.execution_complete",
            {"toolCallId": "t1", "success": False, "error": {"message": "make: not found"}},
            5,
        ),
        ev(
            "tool.execution_start",
            {"toolCallId": "t2", "toolName": "view", "arguments": {"path": "README"}},
            6,
        ),
        ev(
            "tool.execution_complete",
            {"toolCallId": "t2", "success": True, "result": {"content": "# readme"}},
            7,
        ),
        ev("abort", {"reason": "user"}, 8),
        ev("session.model_change", {"newModel": "gpt-5"}, 9),
        ev("user.message", {"content": "try again"}, 10),
        ev("session.error", {"errorType": "rate_limit", "message": "429 Too Many Requests"}, 11),
        ev("session.compaction_complete", {"success": True}, 12),
        ev("assistant.message", {"content": "Done."}, 13),
    ]
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines) + '\n{"type": "assistant.mess')  # half-written last line: ignored
    turns = copilot_cli.read_conversation([str(path)])
    assert [(t["role"], t["text"]) for t in turns] == [
        ("user", "build it"),  # what the user typed, not transformedContent
        ("assistant", "Running the build."),
        ("system", "[interrupted by the user]"),
        ("user", "try again"),
        ("system", "[API error] 429 Too Many Requests"),
        ("system", "[conversation compacted]"),
        ("assistant", "Done."),
    ]
    reply = turns[1]
    assert reply["model"] == "claude-sonnet-4.5"
    # t1 announced by the reply; t2 only seen as an execution: added to the same (latest) reply.
    assert reply["tool_calls"] == [
        {"id": "t1", "name": "bash", "input": {"command": "make"}},
        {"id": "t2", "name": "view", "input": {"path": "README"}},
    ]
    assert reply["tool_results"] == [
        {"tool_use_id": "t1", "is_error": True, "content": "make: not found"},
        {"tool_use_id": "t2", "is_error": False, "content": "# readme"},
    ]
    assert turns[-1]["model"] == "gpt-5"


# ------------------------------------------------------------------------------------------------
# Cline / Roo Code


def test_cline_fixture_conversation(tmp_path: Path) -> None:
    install_cline(tmp_path)
    task = storage(tmp_path, CLINE_EXT) / CLINE_TASK
    turns = cline.read_conversation([str(p) for p in sorted(task.iterdir())])
    assert roles(turns) == ["user", "assistant", "assistant", "user", "system", "assistant", "assistant"]
    assert turns[0]["text"] == "Add a --verbose flag to the CLI and document it in the README"
    assert turns[0]["timestamp"] == "2024-11-30T20:53:20.000Z"  # ts 1733000000000
    first = turns[1]
    assert first["text"] == "I'll start by reading the CLI module."
    assert first["model"] == "claude-3-5-sonnet-20241022"  # task_metadata.json at that time
    assert first["tool_calls"] == [
        {
            "id": "ui-1733000005000",
            "name": "readFile",
            "input": {"path": "src/cli.py", "content": "/home/dev/projects/tool/src/cli.py"},
        }
    ]
    assert turns[2]["tool_calls"][0]["name"] == "editedExistingFile"  # the ask: "tool" after the 2nd request
    assert turns[3]["text"] == "Also add a short flag -v"  # user_feedback
    assert turns[4]["text"].startswith("[API request failed] 529")
    command = turns[5]
    assert command["model"] == "claude-3-7-sonnet-20250219"  # the model switch at ts 1733000035000
    assert command["tool_calls"] == [
        {"id": "ui-1733000045000", "name": "execute_command", "input": {"command": "pytest -q"}}
    ]
    assert command["tool_results"] == [
        {
            "tool_use_id": "ui-1733000045000",
            "is_error": True,
            "content": "Error executing command:\nCommand 'pytest' not found",
        }
    ]
    assert turns[6]["text"] == "Added --verbose / -v and documented it in the README."  # completion_result


def test_roo_fixture_model_tag_and_compaction(tmp_path: Path) -> None:
    install_cline(tmp_path)
    task = storage(tmp_path, ROO_EXT) / ROO_TASK
    turns = cline.read_conversation([str(p) for p in sorted(task.iterdir())])
    assert [(t["role"], t["text"]) for t in turns] == [
        ("user", "Refactor the parser into smaller functions"),  # Roo opens with say: "text"
        ("assistant", ""),
        ("system", "[conversation compacted]"),
    ]
    assert turns[1]["model"] == "gpt-4.1"  # the request's <model> tag (Roo Code)
    assert turns[1]["tool_calls"][0]["name"] == "appliedDiff"


def test_cline_questions_mcp_and_outputs(tmp_path: Path) -> None:
    messages: list[Any] = [
        {"ts": T0, "type": "say", "say": "task", "text": "check the server"},
        {"ts": T0 + 1, "type": "say", "say": "api_req_started", "text": '{"tokensIn": 1, "tokensOut": 2}'},
        {"ts": T0 + 2, "type": "say", "say": "error", "text": "no call waiting"},
        {
            "ts": T0 + 3,
            "type": "say",
            "say": "text",
            "text": "First a look.",
            "modelInfo": {"modelId": "m-1"},
        },
        {"ts": T0 + 4, "type": "ask", "ask": "command", "text": "curl localhost"},
        {"ts": T0 + 5, "type": "ask", "ask": "command_output", "text": "ok"},
        {"ts": T0 + 6, "type": "say", "say": "command_output", "text": "200"},
        {
            "ts": T0 + 7,
            "type": "say",
            "say": "use_mcp_server",
            "text": '{"serverName": "gh", "toolName": "x"}',
        },
        {"ts": T0 + 8, "type": "say", "say": "mcp_server_response", "text": "[]"},
        {"ts": T0 + 9, "type": "say", "say": "reasoning", "text": "private"},
        {
            "ts": T0 + 10,
            "type": "ask",
            "ask": "followup",
            "text": '{"question": "Which port?", "options": ["80"]}',
        },
        {"ts": T0 + 11, "type": "say", "say": "user_feedback", "text": "8080"},
        "not a message",
    ]
    task = tmp_path / "tasks" / "1"
    task.mkdir(parents=True)
    (task / "ui_messages.json").write_text(json.dumps(messages))
    turns = cline.read_conversation([str(task / "ui_messages.json")])
    assert [(t["role"], t["text"]) for t in turns] == [
        ("user", "check the server"),
        ("system", "[error] no call waiting"),
        ("assistant", "First a look.\n\nWhich port?"),  # reasoning left out; the followup question kept
        ("user", "8080"),
    ]
    reply = turns[2]
    assert reply["model"] == "m-1"  # modelInfo
    assert reply["tool_calls"] == [
        {"id": f"ui-{T0 + 4}", "name": "execute_command", "input": {"command": "curl localhost"}},
        {"id": f"ui-{T0 + 7}", "name": "use_mcp_server", "input": {"serverName": "gh", "toolName": "x"}},
    ]
    assert reply["tool_results"] == [
        {"tool_use_id": f"ui-{T0 + 4}", "is_error": False, "content": "ok\n200"},  # outputs joined
        {"tool_use_id": f"ui-{T0 + 7}", "is_error": False, "content": "[]"},
    ]
    # A ui_messages.json caught while being rewritten: no conversation rather than a crash.
    (task / "ui_messages.json").write_text('[{"ts": 1, "type": "sa')
    assert cline.read_conversation([str(task / "ui_messages.json")]) == []


# ------------------------------------------------------------------------------------------------
# `lsm export`, end to end


@pytest.fixture
def vscode_home(fake_home: FakeHome) -> FakeHome:
    install_copilot(user_dir(fake_home.home))
    install_copilot_cli(fake_home.home / ".copilot")
    install_cline(fake_home.home)
    return fake_home


@pytest.mark.parametrize(
    ("session_id", "prompt", "tool"),
    [
        ("copilot:session-01-today", "Can you explain how the token estimation works", None),
        (f"copilot-cli:{FIXTURE_ID}", "List the files", "bash"),
        (f"cline:{CLINE_TASK}", "Add a --verbose flag to the CLI and document it in the README", "readFile"),
    ],
)
def test_export_includes_the_conversation(
    vscode_home: FakeHome, session_id: str, prompt: str, tool: str | None
) -> None:
    r = vscode_home.run("export", session_id, "-o", "-")
    assert r.returncode == 0, r.stderr
    conv = json.loads(r.stdout)["conversation"]
    assert conv["available"] is True and conv["included"] is True
    turns = conv["turns"]
    assert turns[0]["role"] == "user" and turns[0]["text"].startswith(prompt)
    assert "assistant" in roles(turns)
    calls = [c["name"] for t in turns for c in t.get("tool_calls", [])]
    assert (calls[0] if calls else None) == tool
