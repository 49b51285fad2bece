"""The Codex CLI reader against the public fixtures and hand-built rollouts with known totals.

Every expected number is worked out by hand from the lines, with the arithmetic next to it. The rules:
input = input_tokens − cached_input_tokens, cache_read = cached_input_tokens, output = output_tokens
(reasoning is already inside it), context = total_tokens of the last response.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from conftest import run_cli_inprocess

from llm_session_manager.agents.codex import CodexReader
from llm_session_manager.models import ModelTokens, RateLimit, Session
from llm_session_manager.paths import resolve

FIX = Path(__file__).parent / "fixtures" / "codex"
REPO = Path(__file__).resolve().parent.parent

ALPHA_ID = "aaaaaaaa-1111-4222-8333-444444444444"
SMALL_ID = "019fc8be-3658-7ca3-9e29-000000000000"
RATE_FILE_ID = "0199e2f0-0000-7000-8000-000000000053"
LAYOUT = {
    f"sessions/2026/05/13/rollout-2026-05-13T09-00-00-{ALPHA_ID}.jsonl": "ccusage_session_alpha.jsonl",
    f"sessions/2025/10/31/rollout-2025-10-31T17-00-00-{RATE_FILE_ID}.jsonl": "codex_053_rate_limit.jsonl",
    f"sessions/2026/08/03/rollout-2026-08-03T10-48-56-{SMALL_ID}.jsonl": "stage0_small.jsonl",
}


def install(codex_home: Path) -> None:
    for rel, name in LAYOUT.items():
        target = codex_home / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(FIX / name, target)


def read_all(codex_home: Path) -> dict[str, Session]:
    reader = CodexReader(codex_home)
    states = [reader.read(path, key, None) for path, key, _ident in reader.sources()]
    return {s.native_id: s for s in reader.sessions(states)}


def write(path: Path, lines: list[Any], *, newline_at_end: bool = True) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines)
    path.write_text(text + ("\n" if newline_at_end else ""), encoding="utf-8")
    return path


def meta(ts: str, sid: str, *, cwd: str = "/work/app", source: Any = "cli", **extra: Any) -> dict[str, Any]:
    payload = {"id": sid, "timestamp": ts, "cwd": cwd, "cli_version": "0.60.0", "source": source, **extra}
    return {"timestamp": ts, "type": "session_meta", "payload": payload}


def turn(ts: str, model: str) -> dict[str, Any]:
    return {"timestamp": ts, "type": "turn_context", "payload": {"model": model, "cwd": "/work/app"}}


def tokens(
    ts: str,
    inp: int,
    cached: int,
    out: int,
    *,
    reasoning: int = 0,
    window: int | None = None,
    cumulative_only: bool = False,
    model: str | None = None,
    rate_limits: dict[str, Any] | None = None,
) -> dict[str, Any]:
    usage = {
        "input_tokens": inp,
        "cached_input_tokens": cached,
        "output_tokens": out,
        "reasoning_output_tokens": reasoning,
        "total_tokens": inp + out,
    }
    info: dict[str, Any] = {"total_token_usage": usage}
    if not cumulative_only:
        info["last_token_usage"] = usage
    if window:
        info["model_context_window"] = window
    if model:
        info["model"] = model
    payload: dict[str, Any] = {"type": "token_count", "info": info}
    if rate_limits is not None:
        payload["rate_limits"] = rate_limits
    return {"timestamp": ts, "type": "event_msg", "payload": payload}


def event(ts: str, ptype: str, **fields: Any) -> dict[str, Any]:
    return {"timestamp": ts, "type": "event_msg", "payload": {"type": ptype, **fields}}


def item(ts: str, ptype: str, **fields: Any) -> dict[str, Any]:
    return {"timestamp": ts, "type": "response_item", "payload": {"type": ptype, **fields}}


def rollout(home: Path, day: str, sid: str, lines: list[Any], **kw: Any) -> Path:
    y, m, d = day.split("-")
    return write(home / "sessions" / y / m / d / f"rollout-{day}T10-00-00-{sid}.jsonl", lines, **kw)


def ts_of(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, timezone.utc)


# ------------------------------------------------------------------------------------------------
# Public fixtures (ccusage 20.0.24 `codex session --json --offline` agrees on every token count below,
# except where a comment says otherwise)


def test_fixture_ccusage_session_alpha(tmp_path: Path) -> None:
    install(tmp_path)
    s = read_all(tmp_path)[ALPHA_ID]  # no session_meta: the uuid of the file name
    # Event 1 (info.model gpt-5.2-codex): input 1000 of which 250 cached, output 125.
    # Event 2 (info.model gpt-5.3-codex): input 2500 of which 500 cached, output 300.
    assert set(s.model_usage) == {
        ModelTokens("gpt-5.2-codex", input=1000 - 250, output=125, cache_read=250),
        ModelTokens("gpt-5.3-codex", input=2500 - 500, output=300, cache_read=500),
    }
    assert (s.tokens.input, s.tokens.output, s.tokens.cache_read, s.tokens.cache_creation) == (
        2750,
        425,
        750,
        0,
    )
    # 2750 + 425 + 750 = 3925. ccusage reports 4200: this synthetic file's total_tokens also adds the
    # reasoning tokens on top of output (1000 + 125 + 75 = 1200), which real Codex logs never do.
    assert s.tokens.total == 3925
    assert s.tokens.source == "exact"
    assert s.model == "gpt-5.3-codex"  # the last event's own model
    assert s.models == ("gpt-5.3-codex", "gpt-5.2-codex")  # by tokens: 2800 vs 1125
    assert s.context_tokens == 3000  # the last last_token_usage.total_tokens
    assert (s.context_window, s.context_window_source) == (None, "")
    assert s.messages_assistant == 2
    assert s.messages_user == 0 and s.title is None and s.project_path is None
    assert s.started_at == datetime(2026, 5, 13, 9, 0, tzinfo=timezone.utc)
    assert s.last_activity == datetime(2026, 5, 14, 10, 0, tzinfo=timezone.utc)


def test_fixture_rate_limit_053(tmp_path: Path) -> None:
    install(tmp_path)
    s = read_all(tmp_path)["test-ratelimit-session"]  # session_meta.id wins over the file name
    # One token event: input 12091 of which 10880 cached, output 182 (reasoning 128 inside it).
    assert (s.tokens.input, s.tokens.output, s.tokens.cache_read) == (12091 - 10880, 182, 10880)
    assert s.tokens.total == 12273  # = the event's total_tokens
    # No turn_context and no model on the event: the model is unknown (ccusage guesses gpt-5).
    assert s.model is None and s.models == ()
    assert s.model_usage == (ModelTokens("unknown", input=1211, output=182, cache_read=10880),)
    assert s.project_path == "/tmp/test"
    assert (s.context_tokens, s.context_window, s.context_window_source) == (12273, 258400, "log")
    assert s.api_errors == 1
    # The last token_count with rate limits is the `info: null` one at 17:00:10; the app-server style
    # `account/rateLimits/updated` line after it is not a rollout event and is ignored.
    seen = datetime(2025, 10, 31, 17, 0, 10, tzinfo=timezone.utc)
    assert s.rate_limits == (
        RateLimit("5h", 1.0, 300, ts_of(1761950223), seen),
        RateLimit("weekly", 7.0, 10080, ts_of(1762458353), seen),
    )


def test_fixture_stage0_small(tmp_path: Path) -> None:
    install(tmp_path)
    s = read_all(tmp_path)[SMALL_ID]
    # The only token event with usage (line 22): input 16341 of which 3584 cached, output 81; the two
    # later ones are `info: null` and all zero.
    assert s.model_usage == (ModelTokens("gpt-5.6-luna", input=16341 - 3584, output=81, cache_read=3584),)
    assert s.tokens.total == 16422
    assert s.model == "gpt-5.6-sol"  # the last turn_context (line 100)
    assert (s.project_path, s.git_branch) == ("/tmp/repo", "main")  # the FIRST session_meta only
    assert (s.context_tokens, s.context_window, s.peak_context_tokens) == (16422, 258400, 16422)
    # user_message events on lines 4, 71 and 85; response_item and item_completed copies not counted.
    assert s.messages_user == 3
    # thread_name_updated names another thread ("[trimmed…]" != this session's id): the first prompt.
    assert s.title == "List the files"
    assert s.messages_assistant == 1
    # function_call 2 + custom_tool_call 2 + tool_search_call 2 + web_search_call 1 + image_generation_call 1
    assert s.tool_calls == 8
    # mcp_tool_call_end with "Err" (line 40) + dynamic_tool_call_response success:false (line 67)
    assert s.tool_errors == 2
    assert (s.api_errors, s.interruptions, s.compactions, s.skipped_lines) == (1, 1, 6, 0)
    # Line 22's limits (primary = the weekly window); lines 86-87 carry 0-minute placeholders.
    seen = datetime(2026, 8, 3, 10, 48, 56, tzinfo=timezone.utc)  # line 22's timestamp
    assert s.rate_limits == (RateLimit("weekly", 1.0, 10080, ts_of(1785958530), seen),)


# ------------------------------------------------------------------------------------------------
# Token rules


def test_cumulative_totals_are_differenced_and_empty_events_skipped(tmp_path: Path) -> None:
    rollout(
        tmp_path,
        "2026-05-12",
        "s1",
        [
            meta("2026-05-12T08:00:00.000Z", "s1"),
            turn("2026-05-12T08:00:00.000Z", "gpt-5.2"),
            tokens("2026-05-12T08:01:00.000Z", 1000, 100, 200, cumulative_only=True),
            event("2026-05-12T08:01:30.000Z", "token_count", info=None),
            tokens("2026-05-12T08:02:00.000Z", 1600, 300, 450, cumulative_only=True),
            tokens("2026-05-12T08:03:00.000Z", 1600, 300, 450, cumulative_only=True),  # no growth
            tokens("2026-05-12T08:04:00.000Z", 0, 0, 0),  # all zero
        ],
    )
    s = read_all(tmp_path)["s1"]
    # Responses: (1000, 100 cached, 200 out) and (1600-1000, 300-100, 450-200) = (600, 200, 250).
    assert (s.tokens.input, s.tokens.cache_read, s.tokens.output) == (900 + 400, 300, 450)
    assert s.messages_assistant == 2
    assert s.context_tokens == 600 + 250  # the last response's total


def test_cache_write_tokens_are_inside_input(tmp_path: Path) -> None:
    line = tokens("2026-05-12T08:01:00.000Z", 1000, 300, 50)
    line["payload"]["info"]["last_token_usage"]["cache_write_input_tokens"] = 200
    rollout(tmp_path, "2026-05-12", "cw", [meta("2026-05-12T08:00:00.000Z", "cw"), line])
    t = read_all(tmp_path)["cw"].tokens
    assert (t.input, t.cache_read, t.cache_creation, t.output) == (1000 - 300 - 200, 300, 200, 50)
    assert t.total == 1050


def test_event_model_beats_turn_context_and_review_turns_are_not_the_session_model(tmp_path: Path) -> None:
    rollout(
        tmp_path,
        "2026-05-12",
        "m1",
        [
            meta("2026-05-12T08:00:00.000Z", "m1"),
            turn("2026-05-12T08:00:00.000Z", "gpt-5.1-codex"),
            tokens("2026-05-12T08:01:00.000Z", 100, 0, 10),
            turn("2026-05-12T08:02:00.000Z", "codex-auto-review"),
            tokens("2026-05-12T08:03:00.000Z", 200, 0, 20),
            tokens("2026-05-12T08:04:00.000Z", 300, 0, 30, model="gpt-5.1-codex-max"),
        ],
    )
    s = read_all(tmp_path)["m1"]
    assert {m.model: m.input for m in s.model_usage} == {
        "gpt-5.1-codex": 100,
        "codex-auto-review": 200,
        "gpt-5.1-codex-max": 300,
    }
    assert s.model == "gpt-5.1-codex-max"


def test_fork_copies_are_counted_once_for_the_parent(tmp_path: Path) -> None:
    parent, fork = "11111111-aaaa-4aaa-8aaa-000000000001", "22222222-bbbb-4bbb-8bbb-000000000002"
    copied = [
        meta("2026-05-12T08:00:00.000Z", parent),
        turn("2026-05-12T08:00:00.000Z", "gpt-5.2"),
        tokens("2026-05-12T08:01:00.000Z", 1000, 100, 200),
    ]
    write(tmp_path / f"sessions/2026/05/12/rollout-2026-05-12T08-00-00-{parent}.jsonl", copied)
    forked = [meta("2026-05-12T08:02:00.000Z", fork, forked_from_id=parent), *copied]
    forked.append(tokens("2026-05-12T08:02:00.000Z", 600, 200, 250))
    write(tmp_path / f"sessions/2026/05/12/rollout-2026-05-12T08-02-00-{fork}.jsonl", forked)
    sessions = read_all(tmp_path)
    # The copied response (same time, model and counts) belongs to the parent, which sorts first.
    assert (sessions[parent].tokens.input, sessions[parent].tokens.output) == (900, 200)
    assert (sessions[fork].tokens.input, sessions[fork].tokens.output) == (400, 250)
    assert sessions[fork].project_path == "/work/app"  # its own session_meta, not the copied one
    assert sessions[fork].messages_assistant == 2  # like Claude: copies count as the file's replies


def test_subagent_replay_is_dropped_and_the_thread_joins_its_parent(tmp_path: Path) -> None:
    parent, child = "33333333-aaaa-4aaa-8aaa-000000000003", "44444444-bbbb-4bbb-8bbb-000000000004"
    rollout(
        tmp_path,
        "2026-05-12",
        parent,
        [
            meta("2026-05-12T10:00:00.000Z", parent),
            turn("2026-05-12T10:00:00.000Z", "gpt-5"),
            event("2026-05-12T10:00:00.000Z", "user_message", message="refactor the parser"),
            tokens("2026-05-12T10:00:10.000Z", 1000, 0, 100, window=258400),
            tokens("2026-05-12T10:01:00.000Z", 2000, 1000, 200, window=258400),
        ],
    )
    spawn = {"subagent": {"thread_spawn": {"parent_thread_id": parent, "depth": 1}}}
    rollout(
        tmp_path,
        "2026-05-12",
        child,
        [
            meta("2026-05-12T10:02:00.000Z", child, source=spawn),
            turn("2026-05-12T10:02:00.000Z", "gpt-5-mini"),
            # The parent's responses replayed with the spawn time: dropped.
            tokens("2026-05-12T10:02:00.100Z", 1000, 0, 100),
            tokens("2026-05-12T10:02:00.200Z", 2000, 1000, 200),
            event("2026-05-12T10:02:01.000Z", "user_message", message="(task from the parent agent)"),
            tokens("2026-05-12T10:02:05.000Z", 500, 0, 50),
        ],
    )
    sessions = read_all(tmp_path)
    assert child not in sessions
    s = sessions[parent]
    assert len(s.transcript_paths) == 2
    # Parent 1000 + (2000-1000) uncached, child's own 500; output 100 + 200 + 50.
    assert (s.tokens.input, s.tokens.cache_read, s.tokens.output) == (2500, 1000, 350)
    assert {m.model: m.input for m in s.model_usage} == {"gpt-5": 2000, "gpt-5-mini": 500}
    # Context, model, title and prompts come from the parent's own rollout.
    assert (s.context_tokens, s.model, s.title, s.messages_user) == (2200, "gpt-5", "refactor the parser", 1)
    assert s.messages_assistant == 3


def test_subagent_lone_first_event_is_kept_and_orphans_stand_alone(tmp_path: Path) -> None:
    spawn = {"subagent": {"thread_spawn": {"parent_thread_id": "not-on-this-machine", "depth": 1}}}
    rollout(
        tmp_path,
        "2026-05-12",
        "orphan",
        [
            meta("2026-05-12T10:05:00.000Z", "orphan", source=spawn),
            tokens("2026-05-12T10:05:00.500Z", 100, 0, 10),  # alone in its second: its own
            tokens("2026-05-12T10:06:00.000Z", 200, 0, 20),
        ],
    )
    rollout(
        tmp_path,
        "2026-05-13",
        "open",
        [
            meta("2026-05-13T10:05:00.000Z", "open", source=spawn),
            tokens("2026-05-13T10:05:00.500Z", 70, 0, 7),
        ],
    )
    sessions = read_all(tmp_path)
    assert sessions["orphan"].tokens.input == 300
    assert sessions["open"].tokens.input == 70  # still undecided at the end of the file: one event, kept
    assert sessions["open"].context_tokens == 77


# ------------------------------------------------------------------------------------------------
# Prompts, tools, errors, compactions


def test_prompts_skip_injected_context_and_fall_back_to_response_items(tmp_path: Path) -> None:
    t = "2026-05-12T08:00:00.000Z"
    rollout(
        tmp_path,
        "2026-05-12",
        "p1",
        [
            meta(t, "p1"),
            event(t, "user_message", message="<environment_context>cwd</environment_context>"),
            event(t, "user_message", message="# AGENTS.md rules", kind="user_instructions"),
            event(t, "user_message", message="  add   a --json flag \n to list  "),
            item(t, "message", role="user", content=[{"type": "input_text", "text": "add a --json flag"}]),
        ],
    )
    rollout(
        tmp_path,
        "2026-05-13",
        "p2",
        [
            meta(t, "p2"),
            item(t, "message", role="user", content=[{"type": "input_text", "text": "<user_instructions>x"}]),
            item(t, "message", role="user", content=[{"type": "input_text", "text": "fix the bug"}]),
            item(t, "message", role="assistant", content=[{"type": "output_text", "text": "done"}]),
        ],
    )
    sessions = read_all(tmp_path)
    assert (sessions["p1"].messages_user, sessions["p1"].title) == (1, "add a --json flag to list")
    assert (sessions["p2"].messages_user, sessions["p2"].title) == (1, "fix the bug")


def test_thread_name_is_the_title(tmp_path: Path) -> None:
    t = "2026-05-12T08:00:00.000Z"
    rollout(
        tmp_path,
        "2026-05-12",
        "n1",
        [
            meta(t, "n1"),
            event(t, "user_message", message="first prompt"),
            event(t, "thread_name_updated", thread_id="n1", thread_name="Parser refactor"),
        ],
    )
    assert read_all(tmp_path)["n1"].title == "Parser refactor"


def test_tool_results_errors_and_repeated_failures(tmp_path: Path) -> None:
    t = "2026-05-12T08:00:0{}.000Z"
    rollout(
        tmp_path,
        "2026-05-12",
        "t1",
        [
            meta(t.format(0), "t1"),
            item(t.format(1), "function_call", name="shell", arguments="{}", call_id="c1"),
            event(t.format(1), "exec_command_end", command=["pytest", "-q"], exit_code=0),
            item(t.format(2), "local_shell_call", call_id="c2"),
            event(t.format(2), "exec_command_end", command=["pytest", "-q"], exit_code=1),
            event(t.format(3), "exec_command_end", command=["pytest", "-q"], exit_code=2),
            event(t.format(4), "patch_apply_end", success=False),
            event(t.format(5), "mcp_tool_call_end", result={"Ok": {"content": [], "isError": True}}),
            event(t.format(6), "mcp_tool_call_end", result={"Ok": {"content": [], "isError": False}}),
            event(t.format(7), "turn_aborted", reason="interrupted"),
        ],
    )
    s = read_all(tmp_path)["t1"]
    assert (s.tool_calls, s.tool_errors, s.interruptions) == (2, 4, 1)
    assert s.recent_tool_results == (False, True, True, True, True, False)
    assert s.repeated_failures == 2  # "pytest -q" failed twice
    assert s.recent_interruptions == 1


def test_context_window_error_is_fatal_until_a_compaction(tmp_path: Path) -> None:
    t = "2026-05-12T08:00:0{}.000Z"
    lines: list[Any] = [
        meta(t.format(0), "f1"),
        event(t.format(1), "user_message", message="one"),
        event(t.format(2), "error", message="out of room", codex_error_info="context_window_exceeded"),
    ]
    path = rollout(tmp_path, "2026-05-12", "f1", lines)
    s = read_all(tmp_path)["f1"]
    assert (s.fatal_signals, s.api_errors, s.recent_api_errors, s.turns_since_compaction) == (
        ("prompt_too_long",),
        1,
        1,
        1,
    )
    lines += [
        {"timestamp": t.format(3), "type": "compacted", "payload": {"message": "summary"}},
        event(t.format(4), "user_message", message="two"),
    ]
    write(path, lines)
    s = read_all(tmp_path)["f1"]
    assert (s.fatal_signals, s.compactions, s.turns_since_compaction, s.messages_user) == ((), 1, 1, 2)
    assert s.last_compaction_at == datetime(2026, 5, 12, 8, 0, 3, tzinfo=timezone.utc)


def test_rate_limits_from_the_last_snapshot_and_resets_in_seconds(tmp_path: Path) -> None:
    old = {"primary": {"used_percent": 10.0, "window_minutes": 300, "resets_at": 1778000000}}
    new = {
        "primary": {"used_percent": 42.5, "window_minutes": 300, "resets_in_seconds": 600},
        "secondary": {"used_percent": 3, "window_minutes": 10080},
    }
    rollout(
        tmp_path,
        "2026-05-12",
        "r1",
        [
            meta("2026-05-12T08:00:00.000Z", "r1"),
            tokens("2026-05-12T08:00:00.000Z", 10, 0, 1, rate_limits=old),
            event("2026-05-12T08:10:00.000Z", "token_count", info=None, rate_limits=new),
            event("2026-05-12T08:11:00.000Z", "token_count", info=None, rate_limits={"primary": None}),
        ],
    )
    seen = datetime(2026, 5, 12, 8, 10, tzinfo=timezone.utc)  # when the snapshot was logged
    assert read_all(tmp_path)["r1"].rate_limits == (
        RateLimit("5h", 42.5, 300, datetime(2026, 5, 12, 8, 20, tzinfo=timezone.utc), seen),  # 08:10 + 600 s
        RateLimit("weekly", 3.0, 10080, None, seen),
    )


# ------------------------------------------------------------------------------------------------
# Reading: damaged lines, incremental reads, files


def test_garbage_and_half_written_last_line(tmp_path: Path) -> None:
    first = tokens("2026-05-12T08:01:00.000Z", 100, 0, 10)
    second = json.dumps(tokens("2026-05-12T08:02:00.000Z", 200, 0, 20))
    path = rollout(
        tmp_path,
        "2026-05-12",
        "g1",
        [meta("2026-05-12T08:00:00.000Z", "g1"), "not json {", "[1, 2]", first, second[:40]],
        newline_at_end=False,
    )
    reader = CodexReader(tmp_path)
    state = reader.read(str(path), "g1", None)
    s = reader.sessions([state])[0]
    assert s.tokens.input == 100
    assert s.skipped_lines == 2 + 1  # garbage + array, and the half-written last line for now
    offset = state.offset
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(second[40:] + "\n")
    again = reader.read(str(path), "g1", state)
    assert again.data is state.data  # continued from the stored state, not read from the start
    assert again.offset > offset
    s = reader.sessions([again])[0]
    assert (s.tokens.input, s.skipped_lines) == (300, 2)


def test_incremental_read_equals_full_read(tmp_path: Path) -> None:
    lines = [
        meta("2026-05-12T08:00:00.000Z", "inc"),
        turn("2026-05-12T08:00:00.000Z", "gpt-5"),
        event("2026-05-12T08:00:01.000Z", "user_message", message="go"),
        tokens("2026-05-12T08:01:00.000Z", 1000, 0, 100, cumulative_only=True),
        tokens("2026-05-12T08:02:00.000Z", 2500, 800, 160, cumulative_only=True),
        {"timestamp": "2026-05-12T08:03:00.000Z", "type": "compacted", "payload": {}},
        tokens("2026-05-12T08:04:00.000Z", 4000, 2000, 200, cumulative_only=True, window=258400),
    ]
    path = rollout(tmp_path, "2026-05-12", "inc", lines[:4])
    reader = CodexReader(tmp_path)
    state = reader.read(str(path), "inc", None)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write("".join(json.dumps(line) + "\n" for line in lines[4:]))
    incremental = reader.sessions([reader.read(str(path), "inc", state)])
    full = reader.sessions([reader.read(str(path), "inc", None)])
    assert incremental == full
    # Responses from the cumulative differences: (1000, 0 cached, 100), (1500, 800, 60), (1500, 1200, 40).
    t = full[0].tokens
    assert (t.input, t.cache_read, t.output) == (1000 + 700 + 300, 800 + 1200, 100 + 60 + 40)
    assert (full[0].context_tokens, full[0].context_window, full[0].compactions) == (1500 + 40, 258400, 1)
    # Burn-rate buckets per minute (input, output, cache_creation, cache_read) and the context points
    # since the compaction at 08:03.
    minute = int(datetime(2026, 5, 12, 8, 1, tzinfo=timezone.utc).timestamp() // 60)
    assert full[0].usage_buckets == (
        (minute, "gpt-5", 1000, 100, 0, 0),
        (minute + 1, "gpt-5", 700, 60, 0, 800),
        (minute + 3, "gpt-5", 300, 40, 0, 1200),
    )
    assert full[0].context_series == (
        (int(datetime(2026, 5, 12, 8, 4, tzinfo=timezone.utc).timestamp()), 1540),
    )


def test_spaced_json_and_pre_envelope_rollouts(tmp_path: Path) -> None:
    # json.dumps' default ": " spacing (ccusage 20.0.24 skips such files: it looks for `"type":"event_msg"`).
    rollout(
        tmp_path,
        "2026-05-12",
        "sp",
        [meta("2026-05-12T08:00:00.000Z", "sp"), tokens("2026-05-12T08:01:00.000Z", 100, 40, 10)],
    )
    old_id = "77777777-aaaa-4aaa-8aaa-000000000007"
    write(
        tmp_path / f"sessions/2025/04/20/rollout-2025-04-20T08-00-00-{old_id}.jsonl",
        [
            {"id": old_id, "timestamp": "2025-04-20T08:00:00.000Z", "instructions": ""},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hello codex"}]},
            {"record_type": "state"},
        ],
    )
    sessions = read_all(tmp_path)
    assert (sessions["sp"].tokens.input, sessions["sp"].tokens.cache_read) == (60, 40)
    old = sessions[old_id]
    assert (old.title, old.messages_user, old.tokens.total, old.skipped_lines) == ("hello codex", 1, 0, 0)
    assert old.started_at == datetime(2025, 4, 20, 8, 0, tzinfo=timezone.utc)


def test_rewritten_file_is_read_again_from_the_start(tmp_path: Path) -> None:
    path = rollout(
        tmp_path,
        "2026-05-12",
        "rw",
        [meta("2026-05-12T08:00:00.000Z", "rw"), tokens("2026-05-12T08:01:00.000Z", 100, 0, 10)],
    )
    reader = CodexReader(tmp_path)
    state = reader.read(str(path), "rw", None)
    write(path, [meta("2026-05-12T09:00:00.000Z", "rw"), tokens("2026-05-12T09:01:00.000Z", 7000, 0, 70)])
    s = reader.sessions([reader.read(str(path), "rw", state)])[0]
    assert s.tokens.input == 7000  # not 7100: a new head means a new file


def test_sources_archived_copies_depth_and_keys(tmp_path: Path) -> None:
    dup = "55555555-aaaa-4aaa-8aaa-000000000005"
    only_archived = "66666666-aaaa-4aaa-8aaa-000000000006"
    active = write(
        tmp_path / f"sessions/2026/05/12/rollout-2026-05-12T08-00-00-{dup}.jsonl",
        [meta("2026-05-12T08:00:00.000Z", dup)],
    )
    write(
        tmp_path / f"archived_sessions/rollout-2026-05-12T08-00-00-{dup}.jsonl",
        [meta("2026-05-12T08:00:00.000Z", "stale")],
    )
    archived = write(
        tmp_path / f"archived_sessions/rollout-2026-05-01T08-00-00-{only_archived}.jsonl",
        [meta("2026-05-01T08:00:00.000Z", only_archived)],
    )
    write(tmp_path / "sessions/2026/05/12/notes.txt", ["not a rollout"])
    write(tmp_path / "sessions/a/b/c/d/too-deep.jsonl", [meta("2026-05-12T08:00:00.000Z", "deep")])
    found = {(path, key) for path, key, _ident in CodexReader(tmp_path).sources()}
    assert found == {(str(active), dup), (str(archived), only_archived)}
    assert set(read_all(tmp_path)) == {dup, only_archived}


def test_from_paths_honours_codex_home(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {"HOME": str(home)}
    assert CodexReader.from_paths(resolve(env)).codex_home == home / ".codex"
    reader = CodexReader.from_paths(resolve({**env, "CODEX_HOME": str(tmp_path / "cx")}))
    assert reader.codex_home == tmp_path / "cx"
    (tmp_path / "cx" / "sessions").mkdir(parents=True)
    assert reader.roots() == [
        (str(tmp_path / "cx" / "sessions"), True),
        (str(tmp_path / "cx" / "archived_sessions"), False),
    ]


def test_reader_is_picklable(tmp_path: Path) -> None:
    reader = CodexReader(tmp_path)
    assert pickle.loads(pickle.dumps(reader)).codex_home == tmp_path


# ------------------------------------------------------------------------------------------------
# End to end: the real CLI in a fake HOME


def test_end_to_end_list_json(tmp_path: Path) -> None:
    home, codex_home = tmp_path / "home", tmp_path / "codex-home"
    home.mkdir(exist_ok=True)
    install(codex_home)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("LSM_", "CLAUDE_", "XDG_", "CODEX_", "GEMINI_"))
    }
    env.update(
        HOME=str(home), LSM_HOME=str(tmp_path / "lsm"), LSM_DISCOVERY="off", CODEX_HOME=str(codex_home)
    )
    proc = run_cli_inprocess(["list", "--all", "--format", "json"], env=env, cwd=home)
    assert proc.returncode == 0, proc.stderr
    rows = {r["id"]: r for r in json.loads(proc.stdout) if r["agent"] == "codex"}
    assert set(rows) == {f"codex:{ALPHA_ID}", "codex:test-ratelimit-session", f"codex:{SMALL_ID}"}
    small = rows[f"codex:{SMALL_ID}"]
    assert small["tokens"] == {
        "input": 12757,
        "output": 81,
        "cache_creation": 0,
        "cache_read": 3584,
        "total": 16422,
        "source": "exact",
    }
    assert (small["model"], small["project_path"]) == ("gpt-5.6-sol", "/tmp/repo")
    assert small["cost_usd"] is None  # gpt-5.6-luna has no verified price
    rate = rows["codex:test-ratelimit-session"]
    assert rate["tokens"]["total"] == 12273 and rate["tokens"]["source"] == "exact"
    assert (rate["model"], rate["project_path"]) == (None, "/tmp/test")
    assert rate["rate_limits"][0] == {
        "name": "5h",
        "used_percent": 1.0,
        "window_minutes": 300,
        "resets_at": "2025-10-31T22:37:03Z",
    }
    alpha = rows[f"codex:{ALPHA_ID}"]
    assert alpha["tokens"]["total"] == 3925 and alpha["model"] == "gpt-5.3-codex"
