"""Conversations for export from the Cursor Agent CLI transcripts (``cursor_agent.read_conversation``),
the Cursor IDE database (``cursor.read_conversation``, one composer of the shared ``state.vscdb``) and
aider's history (``aider.read_conversation``, one ``# aider chat started at`` section of the file)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conftest import FakeHome
from test_agent_cursor import Builder, bubble, build_standard, iso
from test_agent_cursor_agent import FIXTURE, line, put, read_all, store, text, transcripts
from test_all_agents import everything as everything  # a fixture

from llm_session_manager.agents import aider, cursor
from llm_session_manager.agents.aider import AiderReader, session_native_id
from llm_session_manager.agents.cursor import CursorReader
from llm_session_manager.agents.cursor_agent import CursorAgentReader, read_conversation


def test_public_fixture_conversation() -> None:
    turns = read_conversation([str(FIXTURE)])
    assert [(t["role"], t["text"]) for t in turns] == [
        ("user", "List the files."),
        ("assistant", "Here are the files."),
        ("user", "Run ls."),
        ("assistant", "Running ls."),
    ]
    assert turns[3]["tool_calls"] == [{"id": None, "name": "Bash", "input": {"command": "ls"}}]
    assert all(t["timestamp"] is None for t in turns)  # the lines carry no time
    assert all(t["model"] is None for t in turns if t["role"] == "assistant")  # nor a model


def test_built_transcript_through_the_reader(tmp_path: Path) -> None:
    root = tmp_path / "home" / ".cursor"
    first = (
        "<user_info>\nWorkspace Path: /home/dev/web\n</user_info>\n"
        "<timestamp>Tuesday, Jun 2, 2026, 11:20 AM (UTC+8)</timestamp>\n"
        "<user_query>\nAdd a login page\n</user_query>"
    )
    result_err: dict[str, Any] = {
        "type": "tool_result",
        "tool_use_id": "c1",
        "content": [text("permission denied")],
        "is_error": True,
    }
    rows = [
        line("user", text(first)),
        line(
            "assistant",
            {"type": "thinking", "thinking": "Plan the page."},
            text("I will write it."),
        ),
        line("assistant", {"type": "tool_use", "id": "c1", "name": "Write", "input": {"path": "a"}}),
        line("user", result_err),
        line("user", {"type": "tool_result", "tool_use_id": "c2", "content": "ok"}),
        "not json at all\n",
        line("assistant", text("Done.")),
        json.dumps({"type": "turn_ended", "status": "success"}) + "\n",
        line("user", text("<system_reminder>context only</system_reminder>")),
        line("user", text("thanks")),
        '{"role": "assistant", "message": {"content": [{"type": "te',  # half-written
    ]
    put(transcripts(root, "home-dev-web") / "w1" / "w1.jsonl", "".join(rows))
    put(
        transcripts(root, "home-dev-web") / "w1" / "subagents" / "s1.jsonl",
        line("user", text("sub-agent prompt")),
    )
    store(root, "/home/dev/web", "w1", {"name": "Login", "lastUsedModel": "gpt-5"})
    _, by_id = read_all(CursorAgentReader([root]))
    paths = by_id["w1"].transcript_paths
    assert len(paths) == 3  # transcript, sub-agent transcript, CLI store
    turns = read_conversation(paths)
    assert [(t["role"], t["text"]) for t in turns] == [
        ("user", "Add a login page"),  # Cursor's context blocks are not what the user typed
        ("assistant", "I will write it."),  # one reply over two lines; thinking left out
        ("user", ""),  # the two tool-result lines, one turn
        ("assistant", "Done."),
        ("user", "thanks"),  # the context-only line is left out, and so is the half-written one
    ]
    assert turns[0]["timestamp"] == "2026-06-02T03:20:00.000Z"
    assert turns[1]["tool_calls"] == [{"id": "c1", "name": "Write", "input": {"path": "a"}}]
    assert turns[2]["tool_results"] == [
        {"tool_use_id": "c1", "is_error": True, "content": "permission denied"},
        {"tool_use_id": "c2", "is_error": False, "content": "ok"},
    ]
    assert "sub-agent prompt" not in json.dumps(turns)


def test_text_transcript_conversation(tmp_path: Path) -> None:
    body = (
        "user:\n<user_query>\nfix it\n</user_query>\n"
        "assistant:\nLooking.\n[Thinking] plan\n[Tool call] read_file\n  path: a.py\n"
        "[Tool result] read_file\n  print(1)\nassistant:\nDone.\n"
        "user:\n<system_reminder>x</system_reminder>\n"
    )
    path = put(tmp_path / "t1.txt", body)
    turns = read_conversation([str(path)])
    assert [(t["role"], t["text"]) for t in turns] == [("user", "fix it"), ("assistant", "Looking.\nDone.")]
    assert turns[1]["tool_calls"] == [{"id": None, "name": "read_file", "input": "path: a.py"}]
    assert turns[1]["tool_results"] == [{"tool_use_id": None, "is_error": False, "content": "print(1)"}]


def _export(home: FakeHome, agent: str, title: str | None = None) -> dict[str, Any]:
    r = home.run("list", "--all", "--agent", agent, "--format", "json")
    assert r.returncode == 0, r.stderr
    rows = [o for o in json.loads(r.stdout) if o["agent"] == agent]  # --agent cursor lists cursor-agent too
    rows = [o for o in rows if title is None or o["title"] == title]
    assert rows, agent
    r = home.run("export", rows[0]["id"], "-o", "-")
    assert r.returncode == 0, r.stderr
    doc: dict[str, Any] = json.loads(r.stdout)
    return doc


def test_cli_export_cursor_agent(everything: FakeHome) -> None:
    conv = _export(everything, "cursor-agent")["conversation"]
    assert conv["available"] is True
    assert conv["turns"][0]["role"] == "user" and conv["turns"][0]["text"] == "List the files."
    assert conv["turns"][-1]["tool_calls"][0]["name"] == "Bash"


# ---------------------------------------------------------------------------------------------------
# Cursor IDE: one composer of the shared state.vscdb


def _cursor_chats(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    user_dir = tmp_path / "home" / ".config" / "Cursor" / "User"
    build_standard(user_dir)
    reader = CursorReader([user_dir])
    path, key, _ident = next(iter(reader.sources()))
    sessions = {s.native_id: s for s in reader.sessions([reader.read(path, key, None)])}
    return Path(path), sessions


def test_cursor_conversation_of_one_composer(tmp_path: Path) -> None:
    db, sessions = _cursor_chats(tmp_path)
    s = sessions["c-exact"]
    turns = cursor.read_conversation(s.transcript_paths, native_id=s.native_id)
    assert [(t["role"], t["text"]) for t in turns] == [
        ("user", "Fix the login bug"),
        ("assistant", "Done."),
        ("user", "Now add a test"),
        ("assistant", "Added."),
    ]
    assert [t["timestamp"] for t in turns] == [iso(0), iso(0, 30), iso(5), iso(5, 20)]
    assert [t.get("model") for t in turns] == [None, "claude-4.5-sonnet", None, "claude-4.5-sonnet"]
    # The database holds every chat: without a composer id there is nothing to read, and an unknown
    # or empty composer has no turns.
    assert cursor.read_conversation([str(db)]) == []
    assert cursor.read_conversation([str(db)], native_id="c-empty") == []
    assert cursor.read_conversation([str(db)], native_id="no-such-chat") == []


def test_cursor_tool_calls_results_and_merged_replies(tmp_path: Path) -> None:
    db, _sessions = _cursor_chats(tmp_path)
    turns = cursor.read_conversation([str(db)], native_id="c-mixed")
    # m2 (tool), m3 (text) and m4 (tool) are one reply; the orphan bubble is not in the headers.
    assert [(t["role"], t["text"]) for t in turns] == [
        ("user", "Refactor utils"),
        ("assistant", "Refactored."),
    ]
    reply = turns[1]
    assert reply["model"] == "gpt-5"  # m3 names it; m2 used the chat's configured claude-4-sonnet
    assert reply["timestamp"] == iso(10, 5)
    assert reply["tool_calls"] == [
        {"id": None, "name": "read_file", "input": {"path": "utils.py"}},
        {"id": None, "name": "run_terminal_cmd", "input": {"command": "pytest"}},
    ]
    assert reply["tool_results"] == [
        {"tool_use_id": None, "is_error": False, "content": "def f(): pass"},
        {"tool_use_id": None, "is_error": True, "content": ""},  # additionalData.status "error"
    ]
    assert "left over" not in json.dumps(turns)
    # Thinking and an error-only bubble are left out; the configured model names the reply.
    turns = cursor.read_conversation([str(db)], native_id="c-unmetered")
    assert [(t["role"], t["text"]) for t in turns] == [
        ("user", "Why does the cache miss on every request?"),
        ("assistant", "Because the key includes a timestamp."),
    ]
    assert turns[0]["timestamp"] is None  # that bubble has no createdAt
    assert turns[1]["model"] == "default"
    assert turns[1]["tool_calls"] == [{"id": None, "name": "grep", "input": {"query": "cache_key"}}]
    assert "The key is built" not in json.dumps(turns)


def test_cursor_legacy_broken_and_sub_agent_chats(tmp_path: Path) -> None:
    db, sessions = _cursor_chats(tmp_path)
    texts = {
        cid: [t["text"] for t in cursor.read_conversation([str(db)], native_id=cid)]
        for cid in ("c-legacy", "c-broken", "c-badbubble", "c-parent")
    }
    assert texts == {
        "c-legacy": ["Old question", "Old answer"],  # inline conversation
        "c-broken": ["Hi", "Hello"],  # composerData not JSON: bubbles by createdAt
        "c-badbubble": ["Q", "A"],  # the bubble that is not JSON is left out
        "c-parent": ["Plan it", "Planned."],  # the sub-agent's chat is not included
    }
    assert "c-sub" not in sessions


def test_cursor_tool_call_ids_raw_args_and_wal(tmp_path: Path) -> None:
    db = tmp_path / "User" / "globalStorage" / "state.vscdb"
    b = Builder(db, wal=True)
    b.composer(
        "c1",
        [
            bubble("b1", 1, "Run the tests", createdAt=iso(0)),
            bubble(
                "b2",
                2,
                toolFormerData={"toolCallId": "t1", "name": "run", "rawArgs": "not json", "result": "ok"},
                createdAt=iso(0, 5),
            ),
            bubble("b3", 2, "", codeBlocks=[{"content": "print(1)"}], createdAt=iso(0, 9)),
            bubble("b4", 1, "", createdAt=iso(1)),  # no text (context only): left out
            bubble("b5", 2, "Bye.", createdAt=iso(1, 5)),
        ],
    )
    before = sorted(p.name for p in db.parent.iterdir())
    turns = cursor.read_conversation([str(db)], native_id="c1")
    b.close()
    assert before == ["state.vscdb", "state.vscdb-shm", "state.vscdb-wal"]  # Cursor "running"
    assert [(t["role"], t["text"]) for t in turns] == [
        ("user", "Run the tests"),
        ("assistant", "print(1)\nBye."),  # code blocks stand for an empty text; b4 left out
    ]
    assert turns[1]["tool_calls"] == [{"id": "t1", "name": "run", "input": "not json"}]
    assert turns[1]["tool_results"] == [{"tool_use_id": "t1", "is_error": False, "content": "ok"}]


def test_cli_export_cursor_ide(everything: FakeHome) -> None:
    conv = _export(everything, "cursor", "Fix login")["conversation"]
    assert conv["available"] is True
    assert [(t["role"], t["text"]) for t in conv["turns"]] == [
        ("user", "Fix the login bug"),
        ("assistant", "Done."),
        ("user", "Now add a test"),
        ("assistant", "Added."),
    ]
    assert conv["turns"][1]["model"] == "claude-4.5-sonnet"


# ---------------------------------------------------------------------------------------------------
# aider: one "# aider chat started at" section of the history file

AIDER_FIX = Path(__file__).parent / "fixtures" / "aider"


def _aider_sessions(path: Path) -> dict[str, Any]:
    reader = AiderReader([str(path)])
    (src, key, _ident) = next(iter(reader.sources()))
    return {str(s.title): s for s in reader.sessions([reader.read(src, key, None)])}


def test_aider_modern_sections(tmp_path: Path) -> None:
    path = tmp_path / ".aider.chat.history.md"
    path.write_bytes((AIDER_FIX / "modern.md").read_bytes())
    sessions = _aider_sessions(path)
    first = sessions["Make the greeting configurable"]
    turns = aider.read_conversation(first.transcript_paths, native_id=first.native_id)
    model = "anthropic/claude-3-7-sonnet-20250219"
    assert [(t["role"], t["text"].split("\n")[0]) for t in turns] == [
        ("user", "/add app.py"),  # commands are what the user typed; "> Added app.py…" is left out
        ("user", "Make the greeting configurable"),
        ("assistant", "Sure. Here is the change:"),
        ("user", "/ask why is the test slow?"),
        ("assistant", "The test sleeps for 2 seconds."),
        ("user", "/clear"),
        ("user", "rename greet to hello"),  # interrupted: no reply, only aider's output
    ]
    assert turns[1]["text"] == "Make the greeting configurable\nvia an environment variable"
    # The reply keeps its own "#### " and "> " lines (no two trailing spaces: not aider's), and ends
    # before aider's "> Tokens:" report.
    reply = turns[2]["text"]
    assert reply.endswith(
        "#### Step 2: tests\n\n> Quoted text from the model, not aider output\n"
        "> Tokens: 9,999 sent, 999 received."
    )
    assert "Applied edit" not in json.dumps(turns) and "3.2k sent" not in json.dumps(turns)
    assert all(t["timestamp"] is None for t in turns)
    assert {t["model"] for t in turns if t["role"] == "assistant"} == {model}
    # The second section of the same file, by its own id.
    second = sessions["hello"]
    turns = aider.read_conversation([str(path)], native_id=second.native_id)
    assert [(t["role"], t["text"], t.get("model")) for t in turns] == [
        ("user", "hello", None),
        ("assistant", "Hi! How can I help?", "gpt-4o"),  # the rate-limit lines are aider's output
    ]
    assert aider.read_conversation([str(path)]) == []
    assert aider.read_conversation([str(path)], native_id="0000000000000000") == []


def test_aider_same_second_headers_blank_inputs_and_partial_line(tmp_path: Path) -> None:
    path = tmp_path / "h.md"
    path.write_text(
        "stray reply before any header\n"
        "# aider chat started at 2025-01-01 10:00:00\n\n#### first  \n\nOne.\n\n"
        "# aider chat started at 2025-01-01 10:00:00\n\n"
        "#### <blank>  \n\n#### second  \n#### <blank>  \n####   more  \n\r\nTwo.\r\n"
        "> Tokens: 10 sent, 2 received.  \nhalf-writ",
        encoding="utf-8",
    )
    p = str(path)

    def texts(key: str) -> list[tuple[str, str]]:
        turns = aider.read_conversation([p], native_id=session_native_id(p, key))
        return [(t["role"], t["text"]) for t in turns]

    assert texts("") == [("assistant", "stray reply before any header")]
    assert texts("2025-01-01 10:00:00") == [("user", "first"), ("assistant", "One.")]
    # Same second: the reader's "#1" key. An empty input is left out; the lines of one input keep
    # their indentation; the unfinished last line is not read.
    assert texts("2025-01-01 10:00:00#1") == [("user", "second\n\n  more"), ("assistant", "Two.")]
    ids = {s.native_id for s in AiderReader([p]).sessions([AiderReader([p]).read(p, "", None)])}
    assert session_native_id(p, "2025-01-01 10:00:00#1") in ids


def test_cli_export_aider(everything: FakeHome) -> None:
    title = "Use the Spinner instead of the inlined custom spinner"
    conv = _export(everything, "aider", title)["conversation"]
    assert conv["available"] is True
    turns = conv["turns"]
    assert [t["role"] for t in turns] == ["user", "assistant", "user", "user"]
    assert turns[0]["text"] == title
    assert turns[1]["text"].startswith("Certainly! I'll modify the `run_install` function")
    assert [t["text"] for t in turns[2:]] == ["/diff", "/ex"]
