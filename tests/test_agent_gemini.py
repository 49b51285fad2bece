"""The Gemini CLI reader against the public fixtures and hand-built chats with known totals.

Rules checked here (worked by hand next to each assertion): ``cached`` is inside ``input`` (input =
input − cached, cache_read = cached), thoughts are output, tool-use prompt tokens are input, the last line
per message id wins, and context = ``tokens.input`` of the last model message still in the conversation.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from conftest import run_cli_inprocess

from llm_session_manager.agents.gemini import GeminiReader
from llm_session_manager.models import ModelTokens, Session
from llm_session_manager.paths import resolve
from llm_session_manager.pricing import ModelTable

FIX = Path(__file__).parent / "fixtures" / "gemini"
HASH = "0b7dfb1274ee51b336813b17f2ddab1f56b6591f723e7314126bbd502c69e9c9"
LEGACY_ID = "session-2026-01-16T18-34-3739ef95"
JSONL_ID = "gemini_stage0_jsonl"


def install(tmp: Path) -> None:
    """The fixtures as ``<tmp>/<projectHash>/chats/…`` (``tmp`` is like ``~/.gemini/tmp``)."""
    chats = tmp / HASH / "chats"
    chats.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(FIX / "stage0_small.json", chats / f"{LEGACY_ID}.json")
    shutil.copyfile(FIX / "jsonl_v040.jsonl", chats / "session-2026-04-29T21-39-gemini_s.jsonl")


def read_all(*roots: Path) -> dict[str, Session]:
    reader = GeminiReader(list(roots))
    states = [reader.read(path, key, None) for path, key, _ident in reader.sources()]
    return {s.native_id: s for s in reader.sessions(states)}


def write(path: Path, lines: list[Any], *, newline_at_end: bool = True) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines)
    path.write_text(text + ("\n" if newline_at_end else ""), encoding="utf-8")
    return path


def header(sid: str, project_hash: str = "h" * 64, **extra: Any) -> dict[str, Any]:
    start = "2026-05-01T10:00:00.000Z"
    return {"sessionId": sid, "projectHash": project_hash, "startTime": start, "lastUpdated": start, **extra}


def user(mid: str, text: str, minute: int = 0) -> dict[str, Any]:
    return {
        "id": mid,
        "timestamp": f"2026-05-01T10:{minute:02d}:00.000Z",
        "type": "user",
        "content": [{"text": text}],
    }


def model(
    mid: str,
    inp: int,
    out: int,
    *,
    cached: int = 0,
    thoughts: int = 0,
    tool: int = 0,
    total: int | None = None,
    minute: int = 0,
    name: str = "gemini-2.5-pro",
    **extra: Any,
) -> dict[str, Any]:
    tokens = {
        "input": inp,
        "output": out,
        "cached": cached,
        "thoughts": thoughts,
        "tool": tool,
        "total": inp + out + thoughts + tool if total is None else total,
    }
    stamp = f"2026-05-01T10:{minute:02d}:30.000Z"
    return {
        "id": mid,
        "timestamp": stamp,
        "type": "gemini",
        "content": "",
        "model": name,
        "tokens": tokens,
        **extra,
    }


def chat(tmp: Path, name: str, lines: list[Any], project: str = "proj", **kw: Any) -> Path:
    return write(tmp / project / "chats" / name, lines, **kw)


# ------------------------------------------------------------------------------------------------
# Public fixtures (ccusage 20.0.24 `gemini session --json --offline` agrees on every token count)


def test_fixture_legacy_json(tmp_path: Path) -> None:
    install(tmp_path)
    s = read_all(tmp_path)[LEGACY_ID]
    # One gemini message: input 10 (cached 0), output 5, thoughts 0, tool 0; total 15.
    assert s.model_usage == (ModelTokens("gemini-3-flash-preview", input=10, output=5),)
    assert (s.tokens.total, s.tokens.source) == (15, "exact")
    assert (s.model, s.models, s.title) == ("gemini-3-flash-preview", ("gemini-3-flash-preview",), "Hello")
    assert (s.messages_user, s.messages_assistant, s.context_tokens) == (1, 1, 10)
    # Gemini CLI's own tokenLimit(): 1,048,576 for every Gemini model.
    assert (s.context_window, s.context_window_source) == (1_048_576, "agent")
    assert s.started_at == datetime(2026, 1, 16, 18, 34, 0, tzinfo=timezone.utc)  # startTime
    assert s.last_activity == datetime(2026, 1, 16, 18, 34, 10, tzinfo=timezone.utc)  # lastUpdated
    assert s.project_path is None  # the hash is not in any projects.json


def test_fixture_jsonl_v040(tmp_path: Path) -> None:
    install(tmp_path)
    s = read_all(tmp_path)[JSONL_ID]
    # g-assistant-1: input 11855, cached 0, output 81 (total 11936 = 11855 + 81).
    # g-assistant-2: input 12069 of which 11502 cached, output 147 (total 12216 = 12069 + 147).
    assert s.model_usage == (
        ModelTokens("gemini-3-flash-preview", input=11855 + 12069 - 11502, output=81 + 147, cache_read=11502),
    )
    assert (s.tokens.input, s.tokens.output, s.tokens.cache_read) == (12422, 228, 11502)
    assert s.tokens.total == 24152
    assert s.context_tokens == 12069  # the last gemini message's tokens.input
    assert (s.messages_user, s.messages_assistant, s.tool_calls, s.tool_errors) == (1, 2, 1, 0)
    assert s.recent_tool_results == (False,)
    assert s.title == "Say hello and list files."
    assert s.started_at == datetime(2026, 4, 29, 21, 39, 22, 319000, tzinfo=timezone.utc)
    assert s.last_activity == datetime(2026, 4, 29, 21, 39, 45, 996000, tzinfo=timezone.utc)
    # gemini-3-flash-preview: $0.50 input, $0.05 cached, $3 output per million:
    # 12422 x 0.50 + 11502 x 0.05 + 228 x 3 = 6211 + 575.1 + 684 = 7470.1 -> $0.0074701 (ccusage: same)
    assert ModelTable().cost(s.model_usage) == (0.00747, [])


# ------------------------------------------------------------------------------------------------
# Records: rewrites, rewinds, conversation replacements


def test_message_rewritten_under_the_same_id_counts_once(tmp_path: Path) -> None:
    first = model("g1", 5000, 40, thoughts=10)
    first_without_tokens = {k: v for k, v in first.items() if k != "tokens"}
    calls = [
        {"id": "c1", "name": "read_file", "args": {}, "status": "success", "timestamp": first["timestamp"]}
    ]
    chat(
        tmp_path,
        "session-a.jsonl",
        [header("a"), user("u1", "read it"), first_without_tokens, first, {**first, "toolCalls": calls}],
    )
    s = read_all(tmp_path)["a"]
    # g1's last line: input 5000, output 40 + thoughts 10.
    assert (s.tokens.input, s.tokens.output, s.messages_assistant, s.tool_calls) == (5000, 50, 1, 1)


def test_rewind_keeps_billed_tokens_but_moves_the_context_back(tmp_path: Path) -> None:
    lines: list[Any] = [
        header("r"),
        user("u1", "one", 1),
        model("g1", 1000, 100, minute=1),
        user("u2", "two", 2),
        model("g2", 3000, 200, cached=1000, minute=2),
        {"$rewindTo": "u2"},
    ]
    path = chat(tmp_path, "session-r.jsonl", lines)
    s = read_all(tmp_path)["r"]
    # Both requests were made: input 1000 + (3000 - 1000), cached 1000, output 100 + 200.
    assert (s.tokens.input, s.tokens.cache_read, s.tokens.output) == (3000, 1000, 300)
    assert s.context_tokens == 1000  # g1 is the last model message still in the conversation
    write(path, [*lines, user("u3", "three", 3), model("g3", 1500, 50, minute=3)])
    s = read_all(tmp_path)["r"]
    assert (s.context_tokens, s.messages_user, s.messages_assistant) == (1500, 3, 3)
    write(path, [*lines, {"$rewindTo": "no-such-id"}])
    assert read_all(tmp_path)["r"].context_tokens is None  # an unknown id empties the conversation


def test_conversation_replaced_by_a_summary_is_a_compaction(tmp_path: Path) -> None:
    summary = [
        {
            "id": "s1",
            "timestamp": "2026-05-01T10:05:00.000Z",
            "type": "user",
            "content": [{"text": "<summary>"}],
        },
        {"id": "s2", "timestamp": "2026-05-01T10:05:00.000Z", "type": "gemini", "content": "Got it."},
    ]
    chat(
        tmp_path,
        "session-c.jsonl",
        [
            header("c"),
            user("u1", "one", 1),
            model("g1", 100_000, 100, minute=1),
            user("u2", "two", 2),
            model("g2", 150_000, 100, minute=2),
            {"$set": {"messages": summary, "lastUpdated": "2026-05-01T10:05:00.000Z"}},
            user("u3", "three", 6),
            model("g3", 20_000, 100, minute=6),
        ],
    )
    s = read_all(tmp_path)["c"]
    assert (s.compactions, s.turns_since_compaction, s.context_tokens) == (1, 1, 20_000)
    assert s.last_compaction_at == datetime(2026, 5, 1, 10, 5, tzinfo=timezone.utc)
    assert (s.messages_user, s.messages_assistant) == (3, 3)  # the summary turns were not typed or billed
    assert s.tokens.input == 100_000 + 150_000 + 20_000
    assert s.peak_context_tokens == 150_000
    minute = int(datetime(2026, 5, 1, 10, 1, 30, tzinfo=timezone.utc).timestamp() // 60)
    assert s.usage_buckets == (
        (minute, "gemini-2.5-pro", 100_000, 100, 0, 0),
        (minute + 1, "gemini-2.5-pro", 150_000, 100, 0, 0),
        (minute + 5, "gemini-2.5-pro", 20_000, 100, 0, 0),
    )
    # Only the reply after the compaction (10:05) is on the context series.
    assert s.context_series == (
        (int(datetime(2026, 5, 1, 10, 6, 30, tzinfo=timezone.utc).timestamp()), 20_000),
    )


def test_conversation_rewrite_that_keeps_every_turn_is_not_a_compaction(tmp_path: Path) -> None:
    u1, g1 = user("u1", "one"), model("g1", 1000, 10)
    chat(tmp_path, "session-k.jsonl", [header("k"), u1, g1, {"$set": {"messages": [u1, g1]}}])
    s = read_all(tmp_path)["k"]
    assert (s.compactions, s.messages_user, s.tokens.input, s.context_tokens) == (0, 1, 1000, 1000)


def test_summary_title_tool_statuses_and_error_messages(tmp_path: Path) -> None:
    calls = [
        {"id": "c1", "name": "shell", "status": "success", "timestamp": "2026-05-01T10:01:01.000Z"},
        {"id": "c2", "name": "shell", "status": "error", "timestamp": "2026-05-01T10:01:02.000Z"},
        {"id": "c3", "name": "shell", "status": "cancelled", "timestamp": "2026-05-01T10:01:03.000Z"},
    ]
    chat(
        tmp_path,
        "session-t.jsonl",
        [
            header("t"),
            user("u1", "run the tests", 1),
            model("g1", 100, 10, minute=1, toolCalls=calls),
            {
                "id": "e1",
                "timestamp": "2026-05-01T10:02:00.000Z",
                "type": "error",
                "content": "quota exceeded",
            },
            {"$set": {"summary": "Running the test suite"}},
        ],
    )
    s = read_all(tmp_path)["t"]
    assert s.title == "Running the test suite"
    assert (s.tool_calls, s.tool_errors, s.interruptions, s.api_errors) == (3, 1, 1, 1)
    assert s.recent_tool_results == (False, True)
    assert (s.recent_api_errors, s.recent_interruptions) == (1, 1)


# ------------------------------------------------------------------------------------------------
# Token rules and cost


def test_cached_inside_or_on_top_of_input_tool_and_thoughts(tmp_path: Path) -> None:
    chat(
        tmp_path,
        "session-x.jsonl",
        [
            header("x"),
            # total 1100 = 1000 + 50 + 30 + 20: cached is inside input.
            model("a", 1000, 50, cached=400, thoughts=30, tool=20, minute=1),
            # total 710 = 500 + 200 + 10: cached was counted on top of input.
            model("b", 500, 10, cached=200, total=710, minute=2),
        ],
    )
    s = read_all(tmp_path)["x"]
    # a: input 1000 - 400 + tool 20 = 620, cached 400, output 50 + 30; b: input 500, cached 200, output 10.
    assert (s.tokens.input, s.tokens.cache_read, s.tokens.output) == (620 + 500, 400 + 200, 80 + 10)
    assert s.context_tokens == 500 + 200  # b's prompt: input plus the cached part counted on top
    assert s.peak_context_tokens == 1000


def test_long_context_requests_are_priced_in_the_upper_tier(tmp_path: Path) -> None:
    chat(
        tmp_path,
        "session-l.jsonl",
        [
            header("l"),
            model("g1", 1000, 100, minute=1),
            # Prompt 250,000 > 200,000: every count of this request is in the long tier.
            model("g2", 250_000, 1000, cached=50_000, thoughts=500, minute=2),
        ],
    )
    s = read_all(tmp_path)["l"]
    assert s.model_usage == (
        ModelTokens(
            "gemini-2.5-pro",
            input=1000 + 200_000,
            output=100 + 1500,
            cache_read=50_000,
            long_input=200_000,
            long_output=1500,
            long_cache_read=50_000,
        ),
    )
    # gemini-2.5-pro: $1.25 / $0.125 cached / $10 per million, long tier 2x input and cached, 1.5x output.
    # (1000 x 1.25 + 100 x 10) + (200000 x 2.50 + 50000 x 0.25 + 1500 x 15) = 2250 + 535000 -> $0.53725
    assert ModelTable().cost(s.model_usage) == (0.53725, [])


# ------------------------------------------------------------------------------------------------
# Files and folders


def test_legacy_chat_migrated_to_jsonl_is_read_once(tmp_path: Path) -> None:
    legacy = {**header("m"), "messages": [user("u1", "hi"), model("g1", 100, 10)]}
    chats = tmp_path / "proj" / "chats"
    chats.mkdir(parents=True)
    (chats / "session-m.json").write_text(json.dumps(legacy), encoding="utf-8")
    migrated = chat(
        tmp_path,
        "session-m.jsonl",
        [header("m"), user("u1", "hi"), model("g1", 100, 10), model("g2", 200, 20)],
    )
    assert [p for p, _k, _i in GeminiReader([tmp_path]).sources()] == [str(migrated)]
    s = read_all(tmp_path)["m"]
    assert (s.tokens.input, s.messages_assistant) == (300, 2)


def test_subagent_chat_joins_its_parent(tmp_path: Path) -> None:
    parent = "abcd1234-0000-4000-8000-000000000001"
    chat(
        tmp_path,
        "session-2026-05-01T10-00-abcd1234.jsonl",
        [header(parent), user("u1", "plan it"), model("g1", 1000, 100)],
    )
    chat(
        tmp_path,
        f"{parent}/sub-1.jsonl",
        [
            header("sub-1", kind="subagent"),
            user("su1", "(the parent's task)"),
            model("sg1", 400, 40, name="gemini-2.5-flash"),
        ],
    )
    chat(tmp_path, "someone-else/sub-2.jsonl", [header("sub-2", kind="subagent"), model("og1", 7, 1)])
    sessions = read_all(tmp_path)
    assert set(sessions) == {parent, "sub-2"}  # an orphan sub-agent stands alone
    s = sessions[parent]
    assert (s.tokens.input, s.tokens.output, len(s.transcript_paths)) == (1400, 140, 2)
    assert (s.messages_user, s.messages_assistant, s.context_tokens, s.model) == (
        1,
        2,
        1000,
        "gemini-2.5-pro",
    )
    assert s.models == ("gemini-2.5-pro", "gemini-2.5-flash")


def test_project_path_from_marker_registry_slug_and_hash(tmp_path: Path) -> None:
    gemini = tmp_path / ".gemini"
    tmp = gemini / "tmp"
    chat(tmp, "session-1.jsonl", [header("s-marker"), user("u", "x")], project="marked")
    (tmp / "marked" / ".project_root").write_text("/home/u/marked\n", encoding="utf-8")
    chat(tmp, "session-2.jsonl", [header("s-slug"), user("u", "x")], project="my-app")
    by_hash = hashlib.sha256(b"/home/u/old-app").hexdigest()
    chat(tmp, "session-3.jsonl", [header("s-hash", project_hash=by_hash), user("u", "x")], project=by_hash)
    chat(
        tmp,
        "session-4.jsonl",
        [header("s-dirs", directories=["/home/u/dirs"]), user("u", "x")],
        project="zzz",
    )
    chat(tmp, "session-5.jsonl", [header("s-none"), user("u", "x")], project="unknown")
    registry = {"projects": {"/home/u/My App": "my-app", "/home/u/old-app": "old-app"}}
    (gemini / "projects.json").write_text(json.dumps(registry), encoding="utf-8")
    paths = {k: s.project_path for k, s in read_all(gemini).items()}  # a .gemini folder is taken as its tmp
    assert paths == {
        "s-marker": "/home/u/marked",
        "s-slug": "/home/u/My App",
        "s-hash": "/home/u/old-app",
        "s-dirs": "/home/u/dirs",
        "s-none": None,
    }


def test_roots_from_the_environment(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert GeminiReader.from_paths(resolve({"HOME": str(home)})).data_roots == (home / ".gemini" / "tmp",)
    cli_home = resolve({"HOME": str(home), "GEMINI_CLI_HOME": str(tmp_path / "g")})
    assert GeminiReader.from_paths(cli_home).data_roots == (tmp_path / "g" / ".gemini" / "tmp",)
    data_dirs = resolve({"HOME": str(home), "GEMINI_DATA_DIR": f"{tmp_path / 'a'}, {tmp_path / 'b'},,"})
    reader = GeminiReader.from_paths(data_dirs)
    assert reader.data_roots == (tmp_path / "a", tmp_path / "b")
    (tmp_path / "a").mkdir()
    assert reader.roots() == [(str(tmp_path / "a"), True), (str(tmp_path / "b"), False)]
    assert pickle.loads(pickle.dumps(reader)).data_roots == reader.data_roots


# ------------------------------------------------------------------------------------------------
# Damaged input and incremental reads


def test_garbage_half_written_line_and_incremental_append(tmp_path: Path) -> None:
    tail = json.dumps(model("g2", 300, 30, minute=2))
    path = chat(
        tmp_path,
        "session-g.jsonl",
        [header("g"), "{not json", "[]", user("u1", "one"), model("g1", 100, 10), tail[:25]],
        newline_at_end=False,
    )
    reader = GeminiReader([tmp_path])
    state = reader.read(str(path), "session-g", None)
    s = reader.sessions([state])[0]
    assert (s.tokens.input, s.skipped_lines) == (100, 2 + 1)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(tail[25:] + "\n" + json.dumps({"$rewindTo": "g2"}) + "\n")
    again = reader.read(str(path), "session-g", state)
    assert again.data is state.data and again.offset > state.offset
    s = reader.sessions([again])[0]
    assert (s.tokens.input, s.skipped_lines, s.context_tokens) == (400, 2, 100)
    assert reader.sessions([reader.read(str(path), "session-g", None)]) == [s]  # same as a full read


def test_unreadable_legacy_document_counts_one_skipped_line(tmp_path: Path) -> None:
    chats = tmp_path / "proj" / "chats"
    chats.mkdir(parents=True)
    (chats / "session-bad.json").write_text('{"sessionId": "bad", "messages": [', encoding="utf-8")
    s = read_all(tmp_path)["session-bad"]
    assert (s.skipped_lines, s.tokens.total, s.messages_user) == (1, 0, 0)


# ------------------------------------------------------------------------------------------------
# End to end: the real CLI in a fake HOME


@pytest.mark.parametrize("via", ["GEMINI_DATA_DIR", "HOME"])
def test_end_to_end_list_json(tmp_path: Path, via: str) -> None:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    data_dir = tmp_path / "gemini-data" if via == "GEMINI_DATA_DIR" else home / ".gemini" / "tmp"
    install(data_dir)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("LSM_", "CLAUDE_", "XDG_", "CODEX_", "GEMINI_"))
    }
    env.update(HOME=str(home), LSM_HOME=str(tmp_path / "lsm"), LSM_DISCOVERY="off")
    if via == "GEMINI_DATA_DIR":
        env["GEMINI_DATA_DIR"] = str(data_dir)
    proc = run_cli_inprocess(["list", "--all", "--format", "json"], env=env, cwd=home)
    assert proc.returncode == 0, proc.stderr
    rows = {r["id"]: r for r in json.loads(proc.stdout) if r["agent"] == "gemini"}
    assert set(rows) == {f"gemini:{LEGACY_ID}", f"gemini:{JSONL_ID}"}
    row = rows[f"gemini:{JSONL_ID}"]
    assert row["tokens"] == {
        "input": 12422,
        "output": 228,
        "cache_creation": 0,
        "cache_read": 11502,
        "total": 24152,
        "source": "exact",
    }
    assert (row["model"], row["project_path"], row["cost_usd"]) == ("gemini-3-flash-preview", None, 0.00747)
    legacy = rows[f"gemini:{LEGACY_ID}"]
    assert legacy["tokens"]["total"] == 15 and legacy["tokens"]["source"] == "exact"
    assert legacy["model"] == "gemini-3-flash-preview"
