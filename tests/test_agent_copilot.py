"""The VS Code Copilot Chat reader: the public chatSessions fixture, mutation-log (.jsonl) sessions,
sessions without usage (counted), empty-window chats and corrupt files, with totals worked out by hand.

Counted figures are tiktoken o200k_base counts of the texts shown next to them (offline, deterministic).
"""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from conftest import run_cli_inprocess

from llm_session_manager.agents.copilot import (
    ChatLogError,
    CopilotReader,
    apply_entry,
    default_user_dirs,
    replay_log,
    uri_path,
)
from llm_session_manager.models import ModelTokens, Session
from llm_session_manager.paths import resolve

FIX = Path(__file__).parent / "fixtures" / "copilot"
REPO = Path(__file__).resolve().parent.parent
T0 = 1767225600000  # 2026-01-01T00:00:00Z in ms, as VS Code writes times


def user_dir(home: Path) -> Path:
    return home / ".config" / "Code" / "User"


def chat_dir(user: Path, ws_hash: str, folder_uri: str | None = None) -> Path:
    ws = user / "workspaceStorage" / ws_hash
    (ws / "chatSessions").mkdir(parents=True, exist_ok=True)
    if folder_uri is not None:
        (ws / "workspace.json").write_text(json.dumps({"folder": folder_uri}))
    return ws / "chatSessions"


def read_all(user: Path) -> dict[str, Session]:
    reader = CopilotReader([user])
    states = [reader.read(path, key, None) for path, key, _ident in reader.sources()]
    return {s.native_id: s for s in reader.sessions(states)}


def install_fixture(user: Path) -> Path:
    target = chat_dir(user, "ws1", "file:///home/u/my%20proj") / "session-01-today.json"
    target.write_bytes((FIX / "session-01-today.json").read_bytes())
    return target


def request(rid: str, text: str, response: list[Any], **extra: Any) -> dict[str, Any]:
    return {"requestId": rid, "message": {"text": text}, "response": response, **extra}


def write_json(path: Path, doc: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))
    return path


# ------------------------------------------------------------------------------------------------
# The public fixture (rajbos/github-copilot-token-usage)


def test_fixture_exact_tokens_per_model(tmp_path: Path) -> None:
    user = user_dir(tmp_path / "home")
    path = install_fixture(user)
    s = read_all(user)["session-01-today"]  # no sessionId in the file: the file name is the id
    # result.promptTokens / outputTokens of the five requests:
    #   claude-sonnet-4.5: 42+47 = 89 in, 312+356 = 668 out
    #   gpt-4o:            58+44 = 102 in, 428+498 = 926 out
    #   o3-mini:           35 in, 389 out
    assert s.tokens.input == 42 + 58 + 47 + 35 + 44 == 226
    assert s.tokens.output == 312 + 428 + 356 + 389 + 498 == 1983
    assert (s.tokens.cache_creation, s.tokens.cache_read, s.tokens.source) == (0, 0, "exact")
    assert set(s.model_usage) == {
        ModelTokens("claude-sonnet-4.5", 89, 668),
        ModelTokens("gpt-4o", 102, 926),
        ModelTokens("o3-mini", 35, 389),
    }
    assert s.model == "gpt-4o"  # the last request's modelId, "copilot/" stripped
    assert s.models == ("gpt-4o", "claude-sonnet-4.5", "o3-mini")  # by total: 1028, 757, 424
    assert s.context_tokens == 44  # the last request's prompt
    assert s.context_window is None and s.context_window_source == ""  # no selectedModel in the file
    assert s.project_path == "/home/u/my proj"  # workspace.json, URL-decoded
    assert s.title is not None and s.title.startswith("Can you explain how the token estimation")
    assert len(s.title) == 80 and s.title.endswith("…")
    assert (s.messages_user, s.messages_assistant) == (5, 5)
    assert (s.tool_calls, s.api_errors, s.interruptions, s.skipped_lines) == (0, 0, 0, 0)
    # No timestamp anywhere in the file: last activity is when it was last written.
    assert s.started_at is None
    mtime = datetime.fromtimestamp(path.stat().st_mtime_ns / 1e9, timezone.utc)
    assert s.last_activity is not None and abs((s.last_activity - mtime).total_seconds()) < 0.002
    assert s.id == "copilot:session-01-today"


# ------------------------------------------------------------------------------------------------
# The incremental .jsonl form (VS Code's ObjectMutationLog)


def mutation_log() -> list[str]:
    model = "copilot/claude-sonnet-4.5"
    header = {
        "version": 3,
        "sessionId": "s-jsonl",
        "creationDate": T0,
        "requests": [],
        "inputState": {"selectedModel": {"identifier": model, "metadata": {"maxInputTokens": 128000}}},
    }
    entries: list[Any] = [
        {"kind": 0, "v": header},
        {"kind": 2, "k": ["requests"], "v": [request("r1", "How do I reverse a list?", [], modelId=model)]},
        {"kind": 1, "k": ["requests", 0, "timestamp"], "v": T0 + 60_000},
        {"kind": 2, "k": ["requests", 0, "response"], "v": [{"value": "Use reversed() or list[::-1]."}]},
        {
            "kind": 1,
            "k": ["requests", 0, "result"],
            "v": {"metadata": {"promptTokens": 1200, "outputTokens": 80}},
        },
        {"kind": 1, "k": ["requests", 0, "modelState"], "v": {"value": 1, "completedAt": T0 + 65_000}},
        "not json at all",
        {
            "kind": 2,
            "k": ["requests"],
            "v": [request("r2", "draft", [], modelId=model, timestamp=T0 + 90_000)],
        },
        # Push with i=1: the array is cut to one item, then r3 is appended (r2 is gone).
        {
            "kind": 2,
            "k": ["requests"],
            "i": 1,
            "v": [
                request(
                    "r3",
                    "Explain decorators",
                    [{"value": "A decorator wraps a function."}],
                    modelId=model,
                    timestamp=T0 + 120_000,
                )
            ],
        },
        {"kind": 1, "k": ["customTitle"], "v": "Python questions"},
        {"kind": 3, "k": ["requests", 1, "modelState"]},
        {"kind": 1, "k": ["nowhere", "deeper"], "v": 1},  # its parent does not exist: skipped
    ]
    return [e if isinstance(e, str) else json.dumps(e) for e in entries]


def test_mutation_log_rebuilds_the_document(tmp_path: Path) -> None:
    user = user_dir(tmp_path / "home")
    lines = mutation_log()
    path = chat_dir(user, "ws2", "file:///srv/app") / "s-jsonl.jsonl"
    # The last line is still being written (no newline, not JSON yet).
    path.write_text("\n".join(lines) + '\n{"kind":1,"k":["customTitle"],"v":"Py')
    s = read_all(user)["s-jsonl"]
    # r1 exact (result.metadata): 1200 in / 80 out; r3 counted: "Explain decorators" = 2,
    # "A decorator wraps a function." = 6.
    assert (s.tokens.input, s.tokens.output) == (1200 + 2, 80 + 6)
    assert s.tokens.source == "counted"  # one request had to be counted
    assert s.model_usage == (ModelTokens("claude-sonnet-4.5", 1202, 86),)
    assert (s.messages_user, s.title) == (2, "Python questions")
    assert s.context_window == 128000 and s.context_window_source == "log"
    # The last request is counted: the context estimate is the whole conversation, 1280 + 8.
    assert s.context_tokens == 1288
    assert s.started_at == datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert s.last_activity == datetime(2026, 1, 1, 0, 2, tzinfo=timezone.utc)  # r3's timestamp
    # Skipped: the non-JSON line, the entry whose path does not exist, the unfinished last line.
    assert s.skipped_lines == 3
    assert s.project_path == "/srv/app"


def test_mutation_log_completed_tail_is_read(tmp_path: Path) -> None:
    user = user_dir(tmp_path / "home")
    path = chat_dir(user, "ws2") / "s-jsonl.jsonl"
    # A complete last line without its newline is read.
    path.write_text("\n".join([*mutation_log(), '{"kind":1,"k":["customTitle"],"v":"Final title"}']))
    s = read_all(user)["s-jsonl"]
    assert s.title == "Final title" and s.skipped_lines == 2


def test_mutation_entries() -> None:
    doc: Any = None
    doc, ok = apply_entry(doc, {"kind": 1, "k": ["a"], "v": 1})
    assert (doc, ok) == (None, False)  # nothing to apply to before the initial entry
    doc, ok = apply_entry(doc, {"kind": 0, "v": {"a": [1, 2, 3], "b": {"c": 1}}})
    assert ok
    doc, _ = apply_entry(doc, {"kind": 2, "k": ["a"], "i": 1})  # truncate only
    assert doc["a"] == [1]
    doc, _ = apply_entry(doc, {"kind": 2, "k": ["new"], "v": [7]})  # push onto a missing array
    assert doc["new"] == [7]
    doc, _ = apply_entry(doc, {"kind": 3, "k": ["b", "c"]})
    assert doc["b"] == {}
    doc, _ = apply_entry(doc, {"kind": 1, "k": ["a", 1], "v": 5})  # set one past the end appends
    assert doc["a"] == [1, 5]
    doc, ok = apply_entry(doc, {"kind": 9, "k": ["a"]})
    assert not ok
    # A later kind-0 line (VS Code's compaction) replaces the whole document.
    doc, _ = apply_entry(doc, {"kind": 0, "v": {"fresh": True}})
    assert doc == {"fresh": True}


def test_log_without_initial_entry_is_an_error() -> None:
    with pytest.raises(ChatLogError, match="kind 0"):
        replay_log(b'{"kind":1,"k":["a"],"v":1}\n')


# ------------------------------------------------------------------------------------------------
# Sessions without token figures, errors, tools


def test_counted_session_errors_and_tools(tmp_path: Path) -> None:
    user = user_dir(tmp_path / "home")
    failed_tool = {"kind": "toolInvocationSerialized", "toolId": "run", "resultDetails": {"isError": True}}
    ok_tool = {"kind": "toolInvocationSerialized", "toolId": "read", "resultDetails": {"isError": False}}
    doc = {
        "version": 3,
        "sessionId": "s-counted",
        "creationDate": T0,
        "lastMessageDate": T0 + 300_000,
        "requests": [
            request(
                "a",
                "Hello",
                [
                    {"kind": "thinking", "value": "Thinking about it"},
                    failed_tool,
                    ok_tool,
                    {"value": "Hi there!"},
                ],
                modelId="copilot/gpt-4.1",
                timestamp=T0 + 1_000,
            ),
            request(
                "b",
                "fix the bug",
                [{"kind": "markdownContent", "content": {"value": "Done."}}],
                modelId="copilot/gpt-4.1",
                timestamp=T0 + 2_000,
                result={
                    "errorDetails": {"message": "Sorry, you have been rate-limited."},
                    "metadata": {
                        "toolCallRounds": [{"toolCalls": [{"name": "read", "arguments": '{"path":"a.py"}'}]}]
                    },
                },
            ),
            request("c", "ok", [], modelId="copilot/gpt-4.1", timestamp=T0 + 3_000, modelState={"value": 2}),
        ],
    }
    write_json(chat_dir(user, "ws3") / "s-counted.json", doc)
    s = read_all(user)["s-counted"]
    # Input: "Hello" 1 + "fix the bug" 3 + "ok" 1 = 5.
    # Output: "Thinking about it\nHi there!" 7 + 'Done.\n{"path":"a.py"}' 8 + nothing = 15.
    assert (s.tokens.input, s.tokens.output, s.tokens.source) == (5, 15, "counted")
    assert s.model == "gpt-4.1" and s.model_usage == (ModelTokens("gpt-4.1", 5, 15),)
    assert s.context_tokens == 20  # counted conversation: 5 + 15
    assert (s.tool_calls, s.tool_errors) == (2, 1)
    assert (s.api_errors, s.interruptions) == (1, 1)
    assert (s.messages_user, s.messages_assistant) == (3, 2)  # the cancelled one got no answer
    assert s.last_activity == datetime(2026, 1, 1, 0, 5, tzinfo=timezone.utc)  # lastMessageDate
    assert s.project_path is None  # no workspace.json next to chatSessions/


def test_result_usage_preferred_over_other_figures(tmp_path: Path) -> None:
    user = user_dir(tmp_path / "home")
    result = {
        "usage": {"promptTokens": 500, "completionTokens": 40},
        "promptTokens": 1,
        "outputTokens": 1,
        "metadata": {"promptTokens": 2, "outputTokens": 2},
    }
    doc = {"sessionId": "s-usage", "requests": [request("a", "hi", [{"value": "x"}], result=result)]}
    write_json(chat_dir(user, "ws4") / "s-usage.json", doc)
    s = read_all(user)["s-usage"]
    assert (s.tokens.input, s.tokens.output, s.tokens.source) == (500, 40, "exact")
    assert s.model is None and s.model_usage == (ModelTokens("unknown", 500, 40),)


def test_window_only_for_the_model_in_use(tmp_path: Path) -> None:
    user = user_dir(tmp_path / "home")
    selected = {"identifier": "copilot/gpt-4.1", "metadata": {"maxInputTokens": 111424}}
    exact = {"promptTokens": 10, "outputTokens": 1}
    for sid, model in (("same", "copilot/gpt-4.1"), ("other", "copilot/claude-sonnet-4")):
        doc = {
            "sessionId": sid,
            "selectedModel": selected,
            "requests": [request("a", "q", [], modelId=model, result=exact)],
        }
        write_json(chat_dir(user, "ws5") / f"{sid}.json", doc)
    sessions = read_all(user)
    assert (sessions["same"].context_window, sessions["same"].context_window_source) == (111424, "log")
    assert (sessions["other"].context_window, sessions["other"].context_window_source) == (None, "")


# ------------------------------------------------------------------------------------------------
# Places, duplicates, empty and corrupt files


def test_empty_window_session_and_empty_panel(tmp_path: Path) -> None:
    user = user_dir(tmp_path / "home")
    global_dir = user / "globalStorage" / "emptyWindowChatSessions"
    exact = {"promptTokens": 30, "outputTokens": 3}
    write_json(
        global_dir / "e1.json", {"sessionId": "e1", "requests": [request("a", "no folder", [], result=exact)]}
    )
    write_json(global_dir / "e2.json", {"sessionId": "e2", "requests": []})  # a chat panel nobody used
    sessions = read_all(user)
    assert set(sessions) == {"e1"}
    assert sessions["e1"].project_path is None
    assert (sessions["e1"].tokens.input, sessions["e1"].tokens.output) == (30, 3)


def test_same_session_in_json_and_jsonl_counts_once(tmp_path: Path) -> None:
    user = user_dir(tmp_path / "home")
    chats = chat_dir(user, "ws6")
    exact = {"promptTokens": 100, "outputTokens": 10}
    one = [request("a", "q1", [], result=exact)]
    write_json(chats / "dup.json", {"sessionId": "dup", "requests": one})
    log = [{"kind": 0, "v": {"sessionId": "dup", "requests": one}}]
    log.append({"kind": 2, "k": ["requests"], "v": [request("b", "q2", [], result=exact)]})
    (chats / "dup.jsonl").write_text("".join(json.dumps(e) + "\n" for e in log))
    sessions = read_all(user)
    assert list(sessions) == ["dup"]
    s = sessions["dup"]
    assert (s.tokens.input, s.tokens.output, s.messages_user) == (200, 20, 2)  # the longer copy
    assert len(s.transcript_paths) == 2


def test_corrupt_json_raises_a_clear_error(tmp_path: Path) -> None:
    user = user_dir(tmp_path / "home")
    bad = chat_dir(user, "ws7") / "bad.json"
    bad.write_text('{"requests": [ {"requestId": "cut short')
    reader = CopilotReader([user])
    with pytest.raises(ChatLogError, match="not a JSON chat session"):
        reader.read(str(bad), "bad", None)
    (bad.parent / "list.json").write_text("[1, 2]")
    with pytest.raises(ChatLogError, match="not an object"):
        reader.read(str(bad.parent / "list.json"), "list", None)


def test_counted_figures_are_reused_when_the_file_is_rewritten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import llm_session_manager.tokens as tokens

    calls: list[str] = []
    real = tokens.count_tokens

    def counting(text: str, encoding: str = "o200k_base") -> int:
        calls.append(text)
        return real(text, encoding)

    monkeypatch.setattr(tokens, "count_tokens", counting)
    user = user_dir(tmp_path / "home")
    path = chat_dir(user, "ws8") / "grow.json"
    reqs = [request("a", "Hello", [{"value": "Hi there!"}])]
    write_json(path, {"sessionId": "grow", "requests": reqs})
    reader = CopilotReader([user])
    first = reader.read(str(path), "grow", None)
    assert calls == ["Hello", "Hi there!"]
    reqs.append(request("b", "ok", [{"value": "Done."}]))
    write_json(path, {"sessionId": "grow", "requests": reqs})
    second = reader.read(str(path), "grow", first)
    assert calls == ["Hello", "Hi there!", "ok", "Done."]  # request "a" was not counted again
    s = reader.sessions([second])[0]
    assert (s.tokens.input, s.tokens.output) == (1 + 1, 3 + 2)


def test_workspace_file_and_uris(tmp_path: Path) -> None:
    user = user_dir(tmp_path / "home")
    ws = user / "workspaceStorage" / "ws9"
    write_json(ws / "workspace.json", {"workspace": "file:///home/u/team/app.code-workspace"})
    exact = {"promptTokens": 1, "outputTokens": 1}
    write_json(
        ws / "chatSessions" / "w.json", {"sessionId": "w", "requests": [request("a", "q", [], result=exact)]}
    )
    assert read_all(user)["w"].project_path == "/home/u/team"
    assert uri_path("file:///c%3A/Users/me/proj") == "c:/Users/me/proj"
    assert uri_path("vscode-remote://ssh-remote%2Bbox/home/me/app") == "/home/me/app"
    assert uri_path(None) is None


def test_user_dirs_follow_xdg_and_portable(tmp_path: Path) -> None:
    env = {
        "HOME": str(tmp_path),
        "XDG_CONFIG_HOME": str(tmp_path / "cfg"),
        "VSCODE_PORTABLE": str(tmp_path / "p"),
    }
    dirs = default_user_dirs(resolve(env))
    if sys.platform.startswith("linux"):
        assert tmp_path / "cfg" / "Code" / "User" in dirs
        assert tmp_path / "cfg" / "Code - Insiders" / "User" in dirs
    assert dirs[0] == tmp_path / "p" / "user-data" / "User"
    assert tmp_path / ".vscode-server" / "data" / "User" in dirs


# ------------------------------------------------------------------------------------------------
# End to end: the real CLI over a fake HOME


def test_end_to_end_list_json(tmp_path: Path) -> None:
    home = tmp_path / "home"
    user = user_dir(home)
    install_fixture(user)
    (chat_dir(user, "ws1") / "broken.json").write_text("{not json")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LSM_", "CLAUDE_", "XDG_", "COPILOT_"))}
    env.update(HOME=str(home), LSM_HOME=str(tmp_path / "lsm-data"), LSM_DISCOVERY="off", NO_COLOR="1")
    proc = run_cli_inprocess(["list", "--all", "--format", "json"], env=env, cwd=home)
    assert proc.returncode == 0, proc.stderr
    rows = {r["id"]: r for r in json.loads(proc.stdout)}
    row = rows["copilot:session-01-today"]
    assert row["tokens"]["input"] == 226 and row["tokens"]["output"] == 1983
    assert row["tokens"]["total"] == 2209 and row["tokens_source"] == "exact"
    assert row["model"] == "gpt-4o"
    assert row["project_path"] == "/home/u/my proj"
    assert "broken.json: cannot parse (ChatLogError: not a JSON chat session" in proc.stderr


def test_every_request_counts_at_its_own_minute_for_reports(tmp_path: Path) -> None:
    """A chat used on two days is reported on both: usage_history holds each request's tokens at the
    minute VS Code timed it, summing to the session's totals."""
    from datetime import datetime, timezone

    user = user_dir(tmp_path / "home")
    day1 = 1_764_806_400_000  # 2025-12-04 00:00 UTC, in ms
    day2 = day1 + 86_400_000 + 3_600_000
    reqs = [
        request(
            "a",
            "one",
            [{"value": "x"}],
            timestamp=day1 + 60_000,
            result={"promptTokens": 100, "outputTokens": 10},
        ),
        request(
            "b", "two", [{"value": "y"}], timestamp=day2, result={"promptTokens": 200, "outputTokens": 20}
        ),
    ]
    write_json(chat_dir(user, "ws9") / "s-days.json", {"sessionId": "s-days", "requests": reqs})
    s = read_all(user)["s-days"]
    assert [(row[0], row[2], row[3]) for row in s.usage_history] == [
        ((day1 + 60_000) // 60_000, 100, 10),
        (day2 // 60_000, 200, 20),
    ]
    assert sum(row[2] for row in s.usage_history) == s.tokens.input
    days = {datetime.fromtimestamp(row[0] * 60, timezone.utc).date().isoformat() for row in s.usage_history}
    assert days == {"2025-12-04", "2025-12-05"}
