"""Cursor Agent CLI reader: the public transcript fixture plus layouts and stores built here."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from conftest import run_cli_inprocess

from llm_session_manager.agents import cursor_agent as ca
from llm_session_manager.agents.base import FileState
from llm_session_manager.agents.cursor_agent import CursorAgentReader
from llm_session_manager.models import Session
from llm_session_manager.paths import resolve
from llm_session_manager.tokens import count_tokens

FIXTURE = Path(__file__).parent / "fixtures" / "cursor" / "agent_small.jsonl"
SID = "0f8fad5b-d9cb-469f-a165-70867728950e"
MTIME = 1_772_359_200_000_000_000  # 2026-03-01T10:00:00Z in ns


def line(role: str, *blocks: dict[str, Any]) -> str:
    return json.dumps({"role": role, "message": {"content": list(blocks)}}) + "\n"


def text(t: str) -> dict[str, Any]:
    return {"type": "text", "text": t}


def transcripts(root: Path, slug: str) -> Path:
    d = root / "projects" / slug / "agent-transcripts"
    d.mkdir(parents=True, exist_ok=True)
    return d


def put(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    os.utime(path, ns=(MTIME, MTIME))
    return path


def store(root: Path, cwd: str, sid: str, meta: dict[str, Any] | None, raw: str | None = None) -> Path:
    path = root / "chats" / hashlib.md5(cwd.encode()).hexdigest() / sid / "store.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path)
    conn.executescript(
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);"
        "CREATE TABLE blobs (id TEXT PRIMARY KEY, data BLOB);"
    )
    value = raw if raw is not None else json.dumps(meta).encode().hex()
    conn.execute("INSERT INTO meta VALUES ('0', ?)", (value,))
    conn.commit()
    conn.close()
    return path


def read_all(
    reader: CursorAgentReader, prior: dict[str, FileState] | None = None
) -> tuple[dict[str, FileState], dict[str, Session]]:
    states = {}
    for path, key, ident in reader.sources():
        old = (prior or {}).get(path)
        states[path] = old if old is not None and old.identity == ident else reader.read(path, key, old)
    return states, {s.native_id: s for s in reader.sessions(list(states.values()))}


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "home" / ".cursor"


def test_public_fixture_totals(root: Path) -> None:
    put(transcripts(root, "nowhere-at-all") / SID / f"{SID}.jsonl", FIXTURE.read_bytes())
    _, by_id = read_all(CursorAgentReader([root]))
    s = by_id[SID]
    # input  = "List the files." 4 + "Run ls." 3 = 7
    # output = "Here are the files." 5 + "Running ls." 3 + tool name "Bash" 2 + '{"command":"ls"}' 5 = 15
    assert [count_tokens(t) for t in ("List the files.", "Run ls.")] == [4, 3]
    assert [count_tokens(t) for t in ("Here are the files.", "Running ls.", "Bash", '{"command":"ls"}')] == [
        5,
        3,
        2,
        5,
    ]
    assert (s.tokens.input, s.tokens.output, s.tokens.source) == (7, 15, "counted")
    assert s.context_tokens == 22 and s.peak_context_tokens == 22
    assert (s.id, s.title, s.model, s.models, s.project_path) == (
        f"cursor-agent:{SID}",
        "List the files.",
        None,
        (),
        None,
    )
    assert (s.messages_user, s.messages_assistant, s.tool_calls, s.tool_errors, s.skipped_lines) == (
        2,
        2,
        1,
        0,
        0,
    )
    assert [(m.model, m.input, m.output) for m in s.model_usage] == [("unknown", 7, 15)]
    assert s.started_at is None
    assert s.last_activity is not None and s.last_activity.isoformat() == "2026-03-01T10:00:00+00:00"


def test_layouts_and_keys(root: Path) -> None:
    at = transcripts(root, "p")
    put(at / "a1" / "a1.jsonl", line("user", text("hello")))
    put(at / "a1" / "subagents" / "s9.jsonl", line("assistant", text("from the sub-agent")))
    put(at / "flat.jsonl", line("user", text("flat one")))
    put(at / "old.txt", "user:\nold prompt\nassistant:\nold answer\n")
    put(at / "both.txt", "user:\nshadowed\n")
    put(at / "both.jsonl", line("user", text("json wins")))
    (at / "notes.md").write_text("ignored")
    sources = sorted(
        (Path(p).relative_to(at).as_posix(), k) for p, k, _i in CursorAgentReader([root]).sources()
    )
    assert sources == [
        ("a1/a1.jsonl", "a1"),
        ("a1/subagents/s9.jsonl", "a1"),
        ("both.jsonl", "both"),
        ("flat.jsonl", "flat"),
        ("old.txt", "old"),
    ]
    _, by_id = read_all(CursorAgentReader([root]))
    s = by_id["a1"]
    # the sub-agent's tokens count; its messages, context and title do not
    assert (s.tokens.input, s.tokens.output) == (count_tokens("hello"), count_tokens("from the sub-agent"))
    assert (s.messages_user, s.messages_assistant, s.context_tokens) == (1, 0, count_tokens("hello"))
    assert len(s.transcript_paths) == 2
    assert by_id["both"].title == "json wins"
    old = by_id["old"]
    assert (old.tokens.input, old.tokens.output) == (count_tokens("old prompt"), count_tokens("old answer\n"))
    assert (old.title, old.messages_user, old.messages_assistant) == ("old prompt", 1, 1)


def test_text_transcript_sections(root: Path) -> None:
    body = (
        "user:\n<user_query>\nfix it\n</user_query>\n"
        "assistant:\nLooking.\n[Thinking] plan\n[Tool call] read_file\n  path: a.py\n"
        "[Tool result] read_file\n  print(1)\nDone.\n"
    )
    put(transcripts(root, "p") / "t1.txt", body)
    _, by_id = read_all(CursorAgentReader([root]))
    s = by_id["t1"]
    assert (s.title, s.tool_calls, s.messages_assistant) == ("fix it", 1, 1)
    # input: the user block and the tool result section (which runs to the end of the message);
    # output: the text, the thinking and the tool call (its name and arguments).
    user = "<user_query>\nfix it\n</user_query>"
    assert s.tokens.input == count_tokens(user) + count_tokens("read_file\n  print(1)\nDone.\n")
    assert s.tokens.output == sum(count_tokens(t) for t in ("Looking.", "plan", "read_file\n  path: a.py"))


def test_context_blocks_workspace_timestamp_and_tools(root: Path) -> None:
    first = (
        "<user_info>\nOS Version: linux 6.1\nShell: bash\nWorkspace Path: /home/dev/web app\n</user_info>\n"
        "<timestamp>Tuesday, Jun 2, 2026, 11:20 AM (UTC+8)</timestamp>\n"
        "<user_query>\nAdd a login page\n</user_query>"
    )
    rows = [
        line("user", text(first)),
        line(
            "assistant",
            {"type": "thinking", "thinking": "Plan the page."},
            {"type": "tool_use", "name": "Write", "input": {"path": "a"}},
        ),
        line(
            "user",
            {
                "type": "tool_result",
                "tool_use_id": "t1",
                "content": [text("permission denied")],
                "is_error": True,
            },
        ),
        line("user", {"type": "tool_result", "tool_use_id": "t2", "content": "ok"}),
        line("assistant", text("Done.")),
        json.dumps({"type": "turn_ended", "status": "aborted"}) + "\n",
        line(
            "user",
            text(
                "<timestamp>Tuesday, Jun 2, 2026, 1:05 PM (UTC-04:30)</timestamp>\n"
                "<system_reminder>x</system_reminder>"
            ),
        ),
    ]
    put(transcripts(root, "p") / "w1" / "w1.jsonl", "".join(rows))
    _, by_id = read_all(CursorAgentReader([root]))
    s = by_id["w1"]
    assert s.project_path == "/home/dev/web app"
    assert s.title == "Add a login page"
    assert s.messages_user == 1  # the last user line holds only context blocks
    assert (s.tool_calls, s.tool_errors, s.recent_tool_results, s.interruptions) == (1, 1, (True, False), 1)
    assert s.started_at is not None and s.started_at.isoformat() == "2026-06-02T03:20:00+00:00"
    assert (
        ca.stamp_of("<timestamp>Tuesday, Jun 2, 2026, 1:05 PM (UTC-04:30)</timestamp>")
        == "2026-06-02T17:35:00.000Z"
    )
    assert (
        ca.stamp_of("<timestamp>Monday, Dec 1, 2025, 12:00 AM (UTC)</timestamp>")
        == "2025-12-01T00:00:00.000Z"
    )


def test_store_metadata_and_verified_slug(root: Path, tmp_path: Path) -> None:
    project = tmp_path / "work" / "my_app"  # slug: ...-work-my-app
    project.mkdir(parents=True)
    (tmp_path / "work" / "my-app").mkdir()  # a second folder with the same slug
    slug = ca.slugify(str(project))
    assert slug == ca.slugify(str(tmp_path / "work" / "my-app"))
    put(transcripts(root, slug) / SID / f"{SID}.jsonl", FIXTURE.read_bytes())
    meta = {
        "agentId": SID,
        "name": "List files task",
        "createdAt": 1772359200000,
        "lastUsedModel": "claude-4.5-sonnet",
        "mode": "default",
    }
    store(root, str(project), SID, meta)
    _, by_id = read_all(CursorAgentReader([root]))
    s = by_id[SID]
    # md5(project) names the chats/ folder: of the two folders with this slug, only that one is taken.
    assert s.project_path == str(project)
    assert (s.title, s.model, s.models) == ("List files task", "claude-4.5-sonnet", ("claude-4.5-sonnet",))
    assert s.started_at is not None and s.started_at.isoformat() == "2026-03-01T10:00:00+00:00"
    assert [(m.model, m.input, m.output) for m in s.model_usage] == [("claude-4.5-sonnet", 7, 15)]
    assert len(s.transcript_paths) == 2


def test_slug_without_store_needs_a_single_match(root: Path, tmp_path: Path) -> None:
    (tmp_path / "a" / "b_c").mkdir(parents=True)
    slug = ca.slugify(str(tmp_path / "a" / "b_c"))
    put(transcripts(root, slug) / "x1.jsonl", line("user", text("hi")))
    assert read_all(CursorAgentReader([root]))[1]["x1"].project_path == str(tmp_path / "a" / "b_c")
    (tmp_path / "a" / "b" / "c").mkdir(parents=True)  # now two folders have this slug
    shutil.rmtree(root / "projects")
    put(transcripts(root, slug) / "x2.jsonl", line("user", text("hi")))
    assert read_all(CursorAgentReader([root]))[1]["x2"].project_path is None
    assert sorted(ca.slug_candidates(slug)) == sorted(
        [str(tmp_path / "a" / "b_c"), str(tmp_path / "a" / "b" / "c")]
    )


def test_store_without_meta_and_default_name(root: Path) -> None:
    put(transcripts(root, "p") / "n1.jsonl", line("user", text("first prompt")))
    put(transcripts(root, "p") / "n2.jsonl", line("user", text("second")))
    store(root, "/x", "n1", {"agentId": "n1", "name": "New Agent", "lastUsedModel": "default"})
    store(root, "/x", "n2", None, raw="zz-not-hex")
    store(root, "/x", "lonely", {"agentId": "lonely", "name": "no transcript"})
    _, by_id = read_all(CursorAgentReader([root]))
    assert sorted(by_id) == ["n1", "n2"]  # a store without a transcript is not a session
    assert (by_id["n1"].title, by_id["n1"].model) == ("first prompt", "default")
    assert (by_id["n2"].title, by_id["n2"].skipped_lines) == ("second", 1)


ONE = "one two three four five six seven eight nine ten " * 6  # the first line is longer than the
# 256-byte head fingerprint, so appending does not change the head (a shorter file is re-read whole)


def test_incremental_append_garbage_and_partial_tail(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = put(
        transcripts(root, "p") / "inc" / "inc.jsonl",
        line("user", text(ONE)) + "garbage{\n" + '{"role": "assist',
    )
    reader = CursorAgentReader([root])
    states, by_id = read_all(reader)
    s = by_id["inc"]
    assert (s.tokens.input, s.tokens.output, s.skipped_lines) == (
        count_tokens(ONE),
        0,
        2,
    )  # garbage + partial tail
    first_offset = states[str(path)].offset
    assert first_offset == len(line("user", text(ONE)) + "garbage{\n")

    counted: list[str] = []
    real = count_tokens
    monkeypatch.setattr(
        "llm_session_manager.tokens.count_tokens", lambda t, *a: (counted.append(t), real(t))[1]
    )
    with open(path, "ab") as fh:  # the half-written line is completed, and one more line added
        fh.write(b'ant", "message": {"content": [{"type": "text", "text": "two"}]}}\n')
        fh.write(line("user", text("three")).encode())
    states2, by_id = read_all(reader, states)
    s = by_id["inc"]
    assert counted == ["three", "two"]  # only the new lines were read and counted
    assert (s.tokens.input, s.tokens.output, s.skipped_lines) == (
        count_tokens(ONE) + count_tokens("three"),
        count_tokens("two"),
        1,
    )
    assert states2[str(path)].offset == path.stat().st_size

    # the same content read from scratch gives the same totals
    fresh = reader.read(str(path), "inc", None)
    assert (fresh.data["in"], fresh.data["out"]) == (
        states2[str(path)].data["in"],
        states2[str(path)].data["out"],
    )

    # a rewritten file (its head changed) is read again from the start
    put(path, line("user", text("new start")))
    _, by_id = read_all(reader, states2)
    assert (by_id["inc"].tokens.input, by_id["inc"].tokens.output, by_id["inc"].skipped_lines) == (
        count_tokens("new start"),
        0,
        0,
    )


def test_complete_last_line_without_newline_is_read(root: Path) -> None:
    put(
        transcripts(root, "p") / "t.jsonl",
        line("user", text("a")) + line("assistant", text("b")).rstrip("\n"),
    )
    _, by_id = read_all(CursorAgentReader([root]))
    assert (by_id["t"].tokens.output, by_id["t"].skipped_lines) == (count_tokens("b"), 0)


def test_roots_honour_cursor_config_dir(tmp_path: Path) -> None:
    home = tmp_path / "h"
    assert CursorAgentReader.from_paths(resolve({"HOME": str(home)})).roots() == [
        (str(home / ".cursor" / "projects"), False)
    ]
    other = tmp_path / "cfg"
    (other / "projects").mkdir(parents=True)
    reader = CursorAgentReader.from_paths(resolve({"HOME": str(home), "CURSOR_CONFIG_DIR": str(other)}))
    assert reader.roots() == [(str(other / "projects"), True)]
    import pickle

    assert pickle.loads(pickle.dumps(reader)).cursor_roots == (other,)


def test_end_to_end_list_json(tmp_path: Path) -> None:
    home = tmp_path / "home"
    cfg = tmp_path / "cursor-cfg"
    project = tmp_path / "src" / "demo"
    project.mkdir(parents=True)
    put(transcripts(cfg, ca.slugify(str(project))) / SID / f"{SID}.jsonl", FIXTURE.read_bytes())
    store(
        cfg,
        str(project),
        SID,
        {"agentId": SID, "name": "Demo", "lastUsedModel": "gpt-5", "createdAt": 1772359200000},
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LSM_", "CLAUDE_", "XDG_", "CURSOR_"))}
    env.update(
        HOME=str(home),
        LSM_HOME=str(tmp_path / "lsm"),
        LSM_DISCOVERY="off",
        NO_COLOR="1",
        CURSOR_CONFIG_DIR=str(cfg),
    )
    proc = run_cli_inprocess(["list", "--all", "--format", "json"], env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    rows = [r for r in (doc["sessions"] if isinstance(doc, dict) else doc) if r["agent"] == "cursor-agent"]
    assert len(rows) == 1
    r = rows[0]
    assert r["id"] == f"cursor-agent:{SID}"
    assert r["tokens"] == {
        "input": 7,
        "output": 15,
        "cache_creation": 0,
        "cache_read": 0,
        "total": 22,
        "source": "counted",
    }
    assert (r["tokens_source"], r["model"], r["project_path"], r["title"]) == (
        "counted",
        "gpt-5",
        str(project),
        "Demo",
    )
    assert r["context_tokens"] == 22 and r["health"]["estimated"] is True
