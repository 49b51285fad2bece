"""Codex CLI rollouts: ``${CODEX_HOME:-~/.codex}/sessions/YYYY/MM/DD/rollout-<time>-<uuid>.jsonl``, plus
``archived_sessions/`` (a file name present in both: the ``sessions/`` copy wins).

Every line is ``{"timestamp", "type", "payload"}``. What is read:

- ``session_meta`` (the FIRST one in the file; a forked rollout copies its parent's after its own): ``id``
  (the native session id; fallback: the uuid in the file name), ``cwd``, ``git.branch``, and ``source``:
  ``{"subagent": {"thread_spawn": {"parent_thread_id": …}}}`` marks a sub-agent thread, which is folded
  into its parent session when that session is present.
- ``turn_context``: ``model`` (used for the token events that follow), ``cwd`` (fallback).
- ``event_msg`` with ``payload.type``:
  ``token_count`` (usage, context window, rate limits — see below), ``user_message`` (a prompt),
  ``turn_aborted`` (an interruption), ``error`` (an API error), ``thread_name_updated`` (the title),
  ``exec_command_end`` / ``patch_apply_end`` / ``mcp_tool_call_end`` / ``dynamic_tool_call_response``
  (tool results, failed or not).
- ``response_item``: tool calls (``function_call``, ``custom_tool_call``, ``local_shell_call``,
  ``web_search_call``, ``tool_search_call``, ``image_generation_call``); user ``message`` items are
  prompts only in rollouts that have no ``user_message`` event at all (older Codex).
- ``compacted``: one compaction.

Tokens. ``token_count.info.last_token_usage`` is one model response; when it is missing, the difference
of the cumulative ``total_token_usage`` from the previous event is used. ``info: null`` and all-zero events
add nothing. ``cached_input_tokens`` (and ``cache_write_input_tokens``) are part of ``input_tokens`` and
``reasoning_output_tokens`` is part of ``output_tokens``, so: input = input − cached − cache write,
cache_read = cached, cache_creation = cache write, output = output. The model of an event is its own
``model`` field, else the last ``turn_context`` model, else "unknown" (never guessed).

A forked session copies its parent's token events verbatim, so events are de-duplicated across files by
(timestamp, model, counts) in path order, the first file owning them (ccusage's rule). A spawned
sub-agent's rollout starts with a replay of its parent's token events, all stamped with the second of the
spawn: when the first two token events of such a file share a second, every leading event in that
second is dropped (ccusage's rule).

Context fill is Codex's own figure: ``last_token_usage.total_tokens`` (input incl. cached + output) of
the last response, against ``info.model_context_window`` (context window source "log").
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict, cast

import orjson

from llm_session_manager.agents.base import AgentInfo, AgentSignature, FileState, ToolCall, ToolResult, Turn
from llm_session_manager.agents.common import (
    CTX_HISTORY,
    RECENT_KEEP,
    UNKNOWN_MODEL,
    amount,
    context_series,
    count_or,
    count_recent,
    file_identity,
    first_visit,
    note_ts,
    open_regular,
    read_jsonl_file,
    recent_rows,
    scandir_sorted,
    title_from,
    total,
    usage_buckets,
    usage_history,
)
from llm_session_manager.paths import Paths
from llm_session_manager.timefmt import canonical_ts, parse_ts

if TYPE_CHECKING:
    from llm_session_manager.models import RateLimit, Session

_loads = orjson.loads

AGENT = "codex"
MAX_DEPTH = 4  # sessions/YYYY/MM/DD/<file>
REVIEW_MODEL = "codex-auto-review"  # review turns; not the session's own model
RATE_WINDOWS = {300: "5h", 10080: "weekly"}
TOOL_CALL_TYPES = frozenset(
    {
        "function_call",
        "custom_tool_call",
        "local_shell_call",
        "web_search_call",
        "tool_search_call",
        "image_generation_call",
    }
)
# Text Codex injects as "user" input that the person did not type.
INJECTED_PREFIXES = (
    "<environment_context",
    "<user_instructions",
    "# AGENTS.md instructions",
    "<INSTRUCTIONS>",
    "<user_shell_command",
    "<turn_aborted",
)
INJECTED_KINDS = frozenset({"user_instructions", "environment_context"})
_UUID_TAIL = re.compile(r"([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$")

# A usage event: [timestamp, model, input, cached, cache_write, output, reasoning, total] (raw counts).
U_TS, U_MODEL, U_IN, U_CACHED, U_CW, U_OUT, U_REASON, U_TOTAL = range(8)


class CodexData(TypedDict):
    """What is kept of one rollout file between reads (``FileState.data``); see ``new_data``."""

    meta_id: str | None
    cwd: str | None
    branch: str | None
    parent: str | None
    subagent: bool
    model: str | None
    main_model: str | None
    events: list[list[Any]]
    prev_total: list[int] | None
    records: bool
    lead: list[Any] | None
    window: int | None
    ctx_hist: list[list[Any]]
    rate: list[Any] | None
    first_ts: str | None
    last_ts: str | None
    prompts: int
    prompts_item: int
    prompts_ri: int
    first_prompt: str | None
    first_prompt_item: str | None
    first_prompt_ri: str | None
    turns: list[int]
    thread_name: str | None
    tool_calls: int
    tool_errors: int
    api_errors: int
    interruptions: int
    compactions: int
    last_compaction_ts: str | None
    recent: list[list[Any]]
    recent_api: list[str | None]
    recent_int: list[str | None]
    fails: dict[str, int]
    fatal: list[str]
    auth_error_ts: str | None
    skipped: int
    tail_partial: bool
    lines: int


def new_data() -> CodexData:
    return {
        "meta_id": None,
        "cwd": None,
        "branch": None,
        "parent": None,  # parent thread id of a sub-agent rollout
        "subagent": False,
        "model": None,  # model of the current turn (last turn_context or token event)
        "main_model": None,  # the same, review turns (codex-auto-review) left out
        "events": [],
        "prev_total": None,  # last cumulative total_token_usage, as [in, cached, cw, out, reasoning, total]
        "records": False,  # a token_usage_record was read: from then on token_count adds no usage
        "lead": None,  # sub-agent replay detection: [second, [event or 0, ...]] while undecided
        "window": None,
        "ctx_hist": [],  # [[ts, context tokens], ...] of responses since the last compaction
        "rate": None,  # [timestamp, [[name, used_percent, window_minutes, resets_at], ...]]
        "first_ts": None,
        "last_ts": None,
        "prompts": 0,  # user_message events
        "prompts_item": 0,  # item_completed UserMessage items (newer app-server rollouts)
        "prompts_ri": 0,  # response_item user messages (older rollouts)
        "first_prompt": None,
        "first_prompt_item": None,
        "first_prompt_ri": None,
        "turns": [0, 0, 0],  # prompts of each kind since the last compaction
        "thread_name": None,
        "tool_calls": 0,
        "tool_errors": 0,
        "api_errors": 0,
        "interruptions": 0,
        "compactions": 0,
        "last_compaction_ts": None,
        "recent": [],
        "recent_api": [],
        "recent_int": [],
        "fails": {},
        "fatal": [],
        "auth_error_ts": None,
        "skipped": 0,
        "tail_partial": False,
        "lines": 0,
    }


# ---------------------------------------------------------------------------------------------------
# Small value helpers


def _num(value: Any) -> float | None:
    """An optional non-negative finite number (a percentage, epoch seconds); ValueError when invalid."""
    return None if value is None else amount(value)


def _str(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def push_recent(items: list[Any], value: Any, keep: int = RECENT_KEEP) -> None:
    items.append(value)
    if len(items) > keep:
        del items[: len(items) - keep]


def native_id_from_name(name: str) -> str:
    """The session uuid at the end of a rollout file name, else the file's stem."""
    stem = name[:-6] if name.endswith(".jsonl") else name
    match = _UUID_TAIL.search(stem)
    return match.group(1).lower() if match else stem


def _model_of(payload: dict[str, Any]) -> str | None:
    """``model``, ``model_name`` or ``metadata.model`` of a payload (ccusage reads the same three)."""
    model = _str(payload.get("model")) or _str(payload.get("model_name"))
    if model:
        return model
    meta = payload.get("metadata")
    return _str(meta.get("model")) if isinstance(meta, dict) else None


# ---------------------------------------------------------------------------------------------------
# Token events


def _usage(raw: dict[str, Any]) -> list[int]:
    """The six counts of a usage object (absent = 0); ValueError for one out of range."""
    return [
        count_or(raw.get("input_tokens")),
        count_or(raw.get("cached_input_tokens")),
        count_or(raw.get("cache_write_input_tokens")),
        count_or(raw.get("output_tokens")),
        count_or(raw.get("reasoning_output_tokens")),
        count_or(raw.get("total_tokens")),
    ]


def _minus(current: list[int], previous: list[int] | None) -> list[int]:
    if previous is None:
        return list(current)
    return [max(c - p, 0) for c, p in zip(current, previous)]


def event_total(event: Sequence[Any]) -> int:
    """What one response put in the context window: Codex's ``total_tokens``, else input + output."""
    total = int(event[U_TOTAL])
    return total if total > 0 else int(event[U_IN]) + int(event[U_OUT])


def normalised(event: Sequence[Any]) -> tuple[int, int, int, int]:
    """(uncached input, output, cache write, cache read) of a raw event; cached is inside input,
    reasoning inside output."""
    inp = int(event[U_IN])
    cached = min(int(event[U_CACHED]), inp)
    write = min(int(event[U_CW]), inp - cached)
    return inp - cached - write, int(event[U_OUT]), write, cached


def _turn_usage(data: CodexData, info: dict[str, Any]) -> list[int] | None:
    """One response's counts: ``last_token_usage``, else the growth of the cumulative total. An event
    whose cumulative total equals the previous one restates it (Codex re-emits the last event on
    resume and on rate-limit refreshes) and adds nothing. Both objects are checked before anything is
    recorded: a bad count leaves ``data`` as it was."""
    last = info.get("last_token_usage")
    total = info.get("total_token_usage")
    total_usage = _usage(total) if isinstance(total, dict) else None
    last_usage = _usage(last) if isinstance(last, dict) else None
    previous = data["prev_total"]
    if total_usage is not None:
        data["prev_total"] = total_usage
        if total_usage == previous:
            return None
    if last_usage is not None:
        return last_usage
    if total_usage is not None:
        return _minus(total_usage, previous)
    return None


def _token_count(data: CodexData, payload: dict[str, Any], ts: str | None) -> None:
    limits = payload.get("rate_limits")
    slots = parse_rate_limits(limits, ts) if isinstance(limits, dict) else []
    info = payload.get("info")
    if not isinstance(info, dict):
        if slots:
            data["rate"] = [ts, slots]
        return
    window = count_or(info.get("model_context_window"))
    usage = _turn_usage(data, info)  # the last figure checked: nothing below raises
    if slots:
        data["rate"] = [ts, slots]
    if window:
        data["window"] = window
    if usage is None or data["records"]:
        return
    model = _model_of(payload) or _model_of(info)
    if model:
        data["model"] = model
        if model != REVIEW_MODEL:
            data["main_model"] = model
    zero = not (usage[0] or usage[1] or usage[3] or usage[4])
    event: list[Any] | int = 0 if zero else [ts, model or data["model"], *usage]
    if data["lead"] is not None and _in_replay(data, event, ts):
        return
    if isinstance(event, list):
        _commit(data, event)


def _usage_record(data: CodexData, payload: dict[str, Any], ts: str | None) -> None:
    """``token_usage_record`` (Codex 0.171+): one model response's ``usage``, written as soon as the
    response completes — before the tool it asked for runs, so a session killed mid-tool still has
    it, while the matching ``token_count`` never comes. Once a file has one, ``token_count`` events
    only give the window and rate limits. The model is the turn's (``turn_context``)."""
    raw = payload.get("usage")
    if not isinstance(raw, dict):
        return
    usage = _usage(raw)
    data["records"] = True
    if usage[0] or usage[1] or usage[3] or usage[4]:
        _commit(data, [ts, data["model"], *usage])


def _commit(data: CodexData, event: list[Any]) -> None:
    data["events"].append(event)
    push_recent(data["ctx_hist"], [event[U_TS], event_total(event)], CTX_HISTORY)


def _in_replay(data: CodexData, event: list[Any] | int, ts: str | None) -> bool:
    """Sub-agent replay detection (ccusage's rule): token events are held while they share the second of
    the first one. A second event in that second proves a replay and all of them are dropped; a lone
    first event is the sub-agent's own and is kept. True when ``event`` was held."""
    lead = data["lead"]
    if lead is None:
        return False
    second = (ts or "")[:19]
    if not lead[1] or lead[0] == second:
        lead[0] = second
        lead[1].append(event)
        return True
    data["lead"] = None
    held = lead[1]
    if len(held) == 1 and isinstance(held[0], list):
        _commit(data, held[0])
    return False


def _data(state: FileState) -> CodexData:
    """A rollout's state as ``read`` left it (``new_data``'s shape; the parse cache keeps it as JSON)."""
    return cast(CodexData, state.data)


def committed_events(data: CodexData) -> list[list[Any]]:
    """The file's usage events, including a lone first event still held by the replay detection."""
    events: list[list[Any]] = data["events"]
    lead = data.get("lead")
    if lead is not None and len(lead[1]) == 1 and isinstance(lead[1][0], list):
        return [lead[1][0], *events]
    return events


def parse_rate_limits(limits: dict[str, Any], ts: str | None) -> list[list[Any]]:
    """``rate_limits.primary/secondary`` (``used_percent``, ``window_minutes``, ``resets_at`` epoch seconds
    or ``resets_in_seconds`` from the event) or the older flat ``primary_used_percent`` shape, as
    [[name, used_percent, window_minutes, resets_at ISO], ...]. A window of 0 minutes is a placeholder and
    is ignored. Windows of 300 and 10080 minutes are named "5h" and "weekly", others by their slot."""
    out: list[list[Any]] = []
    for slot in ("primary", "secondary"):
        window_obj = limits.get(slot)
        if isinstance(window_obj, dict):
            used = _num(window_obj.get("used_percent"))
            minutes = window_obj.get("window_minutes")
            resets = _num(window_obj.get("resets_at"))
            resets_in = _num(window_obj.get("resets_in_seconds"))
        else:
            used = _num(limits.get(f"{slot}_used_percent"))
            minutes = limits.get(f"{slot}_window_minutes")
            resets = None
            resets_in = _num(limits.get(f"{slot}_resets_in_seconds"))
        if used is None:
            continue
        if minutes is not None and count_or(minutes) == 0:
            continue
        window = count_or(minutes) or None
        out.append([RATE_WINDOWS.get(window or 0, slot), used, window, _reset_time(resets, resets_in, ts)])
    return out


def _reset_time(resets_at: float | None, resets_in: float | None, ts: str | None) -> str | None:
    if resets_at is not None and resets_at > 0:
        try:
            return datetime.fromtimestamp(resets_at, timezone.utc).isoformat()
        except (OverflowError, OSError, ValueError):
            return None
    when = parse_ts(ts)
    if resets_in is not None and resets_in > 0 and when is not None:
        return (when + timedelta(seconds=resets_in)).isoformat()
    return None


# ---------------------------------------------------------------------------------------------------
# Other records


def _session_meta(data: CodexData, payload: dict[str, Any]) -> None:
    """Only the first ``session_meta`` describes this file; later ones are copied from a parent."""
    if data["meta_id"] is not None:
        return
    data["meta_id"] = _str(payload.get("id")) or ""
    data["cwd"] = data["cwd"] or _str(payload.get("cwd"))
    git = payload.get("git")
    if isinstance(git, dict):
        data["branch"] = _str(git.get("branch"))
    source = payload.get("source")
    sub = source.get("subagent") if isinstance(source, dict) else None
    if sub is None:
        return
    data["subagent"] = True
    spawn = sub.get("thread_spawn") if isinstance(sub, dict) else None
    parent = spawn.get("parent_thread_id") if isinstance(spawn, dict) else None
    data["parent"] = _str(parent) or _str(payload.get("parent_thread_id"))
    if isinstance(spawn, dict):
        data["lead"] = ["", []]


def _turn_context(data: CodexData, payload: dict[str, Any]) -> None:
    model = _model_of(payload)
    if model:
        data["model"] = model
        if model != REVIEW_MODEL:
            data["main_model"] = model
    if data["cwd"] is None:
        data["cwd"] = _str(payload.get("cwd"))


def _is_injected(text: str) -> bool:
    return text.lstrip().startswith(INJECTED_PREFIXES)


def _prompt(data: CodexData, text: Any, kind: int) -> None:
    """A user prompt of one of the three kinds (0 user_message, 1 item_completed, 2 response_item)."""
    if not isinstance(text, str) or not text.strip() or _is_injected(text):
        return
    counter, first = (
        ("prompts", "first_prompt"),
        ("prompts_item", "first_prompt_item"),
        ("prompts_ri", "first_prompt_ri"),
    )[kind]
    kinds = cast(dict[str, Any], data)  # three parallel counters, one per kind of prompt record
    kinds[counter] += 1
    data["turns"][kind] += 1
    if kinds[first] is None:
        kinds[first] = title_from(text)


def _text_parts(content: Any) -> str:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    return "\n".join(b["text"] for b in content if isinstance(b, dict) and isinstance(b.get("text"), str))


def _tool_result(data: CodexData, ts: str | None, is_error: bool, command: str | None = None) -> None:
    if is_error:
        data["tool_errors"] += 1
        if command:
            fails = data["fails"]
            fails[command] = fails.get(command, 0) + 1
            if len(fails) > 200:
                fails.pop(next(iter(fails)))
    push_recent(data["recent"], [ts, is_error])


def _mcp_failed(result: Any) -> bool:
    if not isinstance(result, dict):
        return False
    if "Err" in result:
        return True
    ok = result.get("Ok")
    return isinstance(ok, dict) and ok.get("isError") is True


def _error_kind(info: Any) -> str | None:
    """``codex_error_info`` is a unit variant ("context_window_exceeded") or ``{"variant": {...}}``."""
    if isinstance(info, str):
        return info
    if isinstance(info, dict) and len(info) == 1:
        return str(next(iter(info)))
    return None


def _error(data: CodexData, payload: dict[str, Any], ts: str | None) -> None:
    data["api_errors"] += 1
    push_recent(data["recent_api"], ts, 10)
    kind = _error_kind(payload.get("codex_error_info"))
    if kind == "context_window_exceeded" and "prompt_too_long" not in data["fatal"]:
        data["fatal"].append("prompt_too_long")
    elif kind == "unauthorized":
        data["auth_error_ts"] = ts or data["last_ts"]


def _compacted(data: CodexData, ts: str | None) -> None:
    """A compaction starts the context afresh: turn counts, repeated failures and a past "prompt too
    long" no longer describe it."""
    data["compactions"] += 1
    data["last_compaction_ts"] = ts
    data["turns"] = [0, 0, 0]
    data["ctx_hist"] = []
    data["fails"] = {}
    data["fatal"] = []


TOOL_END_TYPES = frozenset(
    {"exec_command_end", "patch_apply_end", "mcp_tool_call_end", "dynamic_tool_call_response"}
)
USER_SHELL = "user_shell"  # a command the user ran with `!`, not the model
FAILED_STATUSES = frozenset({"failed", "declined"})


def _command_end(data: CodexData, payload: dict[str, Any], ts: str | None) -> None:
    """A shell command finished (``exec_command_end``, or Codex 0.171's ``item_completed``
    ``CommandExecution`` item): failed when its ``status`` says so (``failed``, ``declined``) or its
    ``exit_code`` is not 0. A command the user ran with ``!`` (``source: "user_shell"``) is no tool
    call of the model's and is not counted."""
    if payload.get("source") == USER_SHELL:
        return
    code = payload.get("exit_code")
    failed = payload.get("status") in FAILED_STATUSES or (isinstance(code, int) and code != 0)
    command = payload.get("command")
    text = " ".join(str(c) for c in command)[:200] if isinstance(command, list) else _str(command)
    _tool_result(data, ts, failed, text)


def _tool_end(data: CodexData, ptype: str, payload: dict[str, Any], ts: str | None) -> None:
    """A tool finished: a command with a non-zero exit code, a patch or dynamic tool that did not
    succeed, an MCP call that returned ``Err`` or ``isError`` is a failure."""
    if ptype == "exec_command_end":
        _command_end(data, payload, ts)
    elif ptype == "mcp_tool_call_end":
        _tool_result(data, ts, _mcp_failed(payload.get("result")))
    else:  # patch_apply_end, dynamic_tool_call_response
        _tool_result(data, ts, payload.get("success") is False)


def _thread_name(data: CodexData, payload: dict[str, Any]) -> None:
    thread = payload.get("thread_id")
    name = _str(payload.get("thread_name"))
    if name and (thread is None or thread == data["meta_id"]):
        data["thread_name"] = title_from(name)


def _event_msg(data: CodexData, payload: dict[str, Any], ts: str | None) -> None:
    ptype = payload.get("type")
    if ptype == "token_count":
        _token_count(data, payload, ts)
    elif ptype in TOOL_END_TYPES:
        _tool_end(data, str(ptype), payload, ts)
    elif ptype == "user_message":
        if payload.get("kind") not in INJECTED_KINDS:
            _prompt(data, payload.get("message"), 0)
    elif ptype == "turn_aborted":
        data["interruptions"] += 1
        push_recent(data["recent_int"], ts, 10)
    elif ptype == "error":
        _error(data, payload, ts)
    elif ptype == "thread_name_updated":
        _thread_name(data, payload)
    elif ptype == "item_completed":
        _item_completed(data, payload.get("item"), ts)
    elif ptype == "task_started":
        window = count_or(payload.get("model_context_window"))
        if window:
            data["window"] = window


def _item_completed(data: CodexData, item: Any, ts: str | None) -> None:
    """Codex 0.171's item events: a prompt (``UserMessage``) or a command's result
    (``CommandExecution``, which replaced ``exec_command_end``)."""
    if not isinstance(item, dict):
        return
    kind = item.get("type")
    if kind == "UserMessage":
        _prompt(data, _text_parts(item.get("content")), 1)
    elif kind == "CommandExecution":
        _command_end(data, item, ts)


def _response_item(data: CodexData, payload: dict[str, Any]) -> None:
    ptype = payload.get("type")
    if ptype in TOOL_CALL_TYPES:
        data["tool_calls"] += 1
    elif ptype == "message" and payload.get("role") == "user":
        _prompt(data, _text_parts(payload.get("content")), 2)


def _legacy_line(data: CodexData, obj: dict[str, Any]) -> None:
    """Rollouts written before the ``{type, payload}`` envelope: a first ``{id, timestamp, instructions}``
    line, then bare response items (no token counts)."""
    if "type" not in obj and isinstance(obj.get("id"), str) and data["meta_id"] is None:
        data["meta_id"] = obj["id"].strip()
        return
    _response_item(data, obj)


def apply_line(data: CodexData, obj: Any) -> None:
    """Fold one parsed rollout line into ``data``."""
    if not isinstance(obj, dict):
        data["skipped"] += 1
        return
    data["lines"] += 1
    ts = note_ts(data, obj.get("timestamp"))
    payload = obj.get("payload")
    if not isinstance(payload, dict):
        if "payload" not in obj:
            _legacy_line(data, obj)
        return
    rtype = obj.get("type")
    if rtype == "event_msg":
        _event_msg(data, payload, ts)
    elif rtype == "response_item":
        _response_item(data, payload)
    elif rtype == "token_usage_record":
        _usage_record(data, payload, ts)
    elif rtype == "turn_context":
        _turn_context(data, payload)
    elif rtype == "session_meta":
        _session_meta(data, payload)
    elif rtype == "compacted":
        _compacted(data, ts)


# ---------------------------------------------------------------------------------------------------
# Finding files


def jsonl_files(
    root: str, depth: int = MAX_DEPTH, seen: set[tuple[int, int]] | None = None
) -> Iterator[tuple[str, os.stat_result]]:
    """Every ``*.jsonl`` file under ``root``, at most ``depth`` levels down, in name order. Folder
    symlinks are followed (people move ``sessions/`` or a year's folder to another disk and link it
    back), each folder entered once: a symlink loop ends there."""
    seen = set() if seen is None else seen
    if not first_visit(seen, root):
        return
    for entry in scandir_sorted(root):
        try:
            if entry.is_dir():
                if depth > 1:
                    yield from jsonl_files(entry.path, depth - 1, seen)
            elif entry.name.endswith(".jsonl") and entry.is_file():
                yield entry.path, entry.stat()
        except OSError:
            continue


# ---------------------------------------------------------------------------------------------------
# The reader


class CodexReader:
    name = AGENT
    parser_version = 4  # 4: merged sessions carry their usage history

    def __init__(self, codex_home: Path) -> None:
        self.codex_home = codex_home

    @classmethod
    def from_paths(cls, paths: Paths) -> CodexReader:
        """``$CODEX_HOME`` when set (Codex's own override), else ``~/.codex``."""
        value = (paths.env.get("CODEX_HOME") or "").strip()
        return cls(Path(value).expanduser() if value else paths.home / ".codex")

    @property
    def session_roots(self) -> tuple[Path, Path]:
        return self.codex_home / "sessions", self.codex_home / "archived_sessions"

    def roots(self) -> list[tuple[str, bool]]:
        return [(str(r), r.is_dir()) for r in self.session_roots]

    def sources(self) -> Iterable[tuple[str, str, tuple[int, int, int, int]]]:
        """Every rollout under ``sessions/`` then ``archived_sessions/``; an archived file whose name is
        also under ``sessions/`` (or the same file reached twice) is skipped. The key is the uuid in the
        file name; the session id proper comes from the file's ``session_meta``."""
        names: set[str] = set()
        inodes: set[tuple[int, int]] = set()
        for root in self.session_roots:
            for path, st in jsonl_files(str(root)):
                name = os.path.basename(path)
                ident = (st.st_dev, st.st_ino)
                if name in names or ident in inodes:
                    continue
                names.add(name)
                inodes.add(ident)
                yield path, native_id_from_name(name), file_identity(st)

    def read(self, path: str | Path, session_key: str, prior: FileState | None) -> FileState:
        return read_jsonl_file(path, session_key, prior, new_data, apply_line)

    def sessions(self, states: Sequence[FileState]) -> list[Session]:
        return build_sessions(states)


# ---------------------------------------------------------------------------------------------------
# Merging file states into sessions


def _native(state: FileState) -> str:
    return str(state.data.get("meta_id") or state.session_key)


def _owners(states: Sequence[FileState]) -> dict[str, str]:
    """Native id -> the session it belongs to: a sub-agent thread belongs to its parent (transitively)
    when the parent's rollout is present, else it is a session of its own."""
    present = {_native(s) for s in states}
    parent_of = {
        _native(s): s.data["parent"] for s in states if s.data.get("subagent") and s.data.get("parent")
    }
    owners: dict[str, str] = {}
    for native in present:
        current, seen = native, {native}
        while parent_of.get(current) in present and parent_of[current] not in seen:
            current = parent_of[current]
            seen.add(current)
        owners[native] = current
    return owners


def _path_order(state: FileState) -> tuple[int, str]:
    """Active sessions first, then archived ones; path order within each (as ccusage reads them)."""
    return (1 if f"{os.sep}archived_sessions{os.sep}" in state.path else 0, state.path)


def _aggregate(
    states: Sequence[FileState], owners: dict[str, str]
) -> tuple[dict[str, dict[str, list[int]]], dict[str, list[list[Any]]]]:
    """Per session, per model: [input, output, cache_creation, cache_read], and the events each session
    owns: every event counted once, for the first file (in path order) that holds it."""
    seen: set[tuple[Any, ...]] = set()
    out: dict[str, dict[str, list[int]]] = {}
    owned: dict[str, list[list[Any]]] = {}
    for state in sorted(states, key=_path_order):
        owner = owners[_native(state)]
        for event in committed_events(_data(state)):
            key = tuple(event)
            if key in seen:
                continue
            seen.add(key)
            owned.setdefault(owner, []).append(event)
            row = out.setdefault(owner, {}).setdefault(event[U_MODEL] or UNKNOWN_MODEL, [0, 0, 0, 0])
            for i, value in enumerate(normalised(event)):
                row[i] += value
    return out, owned


def build_sessions(states: Sequence[FileState]) -> list[Session]:
    owners = _owners(states)
    groups: dict[str, list[FileState]] = {}
    for state in states:
        groups.setdefault(owners[_native(state)], []).append(state)
    usage, owned = _aggregate(states, owners)
    return [_build_one(key, files, usage.get(key, {}), owned.get(key, [])) for key, files in groups.items()]


def _ts(value: str | None) -> datetime | None:
    return parse_ts(value) if value else None


def _prompts(data: CodexData) -> tuple[int, str | None, int]:
    """(prompt count, first prompt, prompts since compaction) from the best kind the file has."""
    for kind, (counter, first) in enumerate(
        (
            ("prompts", "first_prompt"),
            ("prompts_item", "first_prompt_item"),
            ("prompts_ri", "first_prompt_ri"),
        )
    ):
        kinds = cast(dict[str, Any], data)  # see _prompt
        if kinds.get(counter):
            return int(kinds[counter]), kinds.get(first), int(data["turns"][kind])
    return 0, None, 0


def _latest_rate(datas: list[dict[str, Any]]) -> tuple[RateLimit, ...]:
    from llm_session_manager.models import RateLimit  # not at import: listing files needs no models

    best: list[Any] | None = None
    for d in datas:
        rate = d.get("rate")
        if rate and (best is None or (rate[0] or "") >= (best[0] or "")):
            best = rate
    if best is None:
        return ()
    seen = parse_ts(best[0])
    return tuple(RateLimit(str(n), float(u), w, parse_ts(r), seen) for n, u, w, r in best[1])


def _build_one(
    key: str, files: list[FileState], per_model: dict[str, list[int]], owned: list[list[Any]]
) -> Session:
    from llm_session_manager.models import (  # not at import: listing files needs no models
        ModelTokens,
        Session,
        TokenUsage,
    )

    datas = [f.data for f in files]
    main = sorted(
        [f for f in files if _native(f) == key] or files, key=lambda f: (f.data.get("last_ts") or "", f.path)
    )
    newest = main[-1].data
    models = tuple(sorted(per_model, key=lambda m: -sum(per_model[m])))
    main_events = [e for f in main for e in committed_events(_data(f))]
    last_events = next((committed_events(_data(f)) for f in reversed(main) if committed_events(_data(f))), [])
    prompts = [_prompts(_data(f)) for f in main]
    firsts = [d["first_ts"] for d in datas if d.get("first_ts")]
    lasts = [d["last_ts"] for d in datas if d.get("last_ts")]
    last_ts = max(lasts) if lasts else None
    compaction_ts = max((d["last_compaction_ts"] for d in datas if d.get("last_compaction_ts")), default=None)
    fatal = tuple(sorted({k for d in datas for k in d.get("fatal", [])}))
    if count_recent([d.get("auth_error_ts") for d in datas], last_ts):
        fatal = (*fatal, "auth_error")
    distinct = {tuple(e) for f in files for e in committed_events(_data(f))}
    window = next((int(f.data["window"]) for f in reversed(main) if f.data.get("window")), None)
    title = next((f.data["thread_name"] for f in reversed(main) if f.data.get("thread_name")), None)
    title = title or next((p[1] for p in reversed(prompts) if p[1]), None)
    model = next(
        (f.data.get("main_model") or f.data.get("model") for f in reversed(main) if f.data.get("model")), None
    )
    return Session(
        id=f"{AGENT}:{key}",
        agent=AGENT,
        native_id=key,
        title=title,
        project_path=next((f.data["cwd"] for f in main if f.data.get("cwd")), None)
        or next((d["cwd"] for d in datas if d.get("cwd")), None),
        git_branch=newest.get("branch"),
        model=model or next((m for m in models if m != UNKNOWN_MODEL), None),
        models=tuple(m for m in models if m != UNKNOWN_MODEL),
        started_at=_ts(min(firsts)) if firsts else None,
        last_activity=_ts(last_ts),
        tokens=TokenUsage(
            sum(r[0] for r in per_model.values()),
            sum(r[1] for r in per_model.values()),
            sum(r[2] for r in per_model.values()),
            sum(r[3] for r in per_model.values()),
            "exact",
        ),
        context_tokens=event_total(last_events[-1]) if last_events else None,
        context_window=window,
        context_window_source="log" if window else "",
        messages_user=sum(p[0] for p in prompts),
        messages_assistant=len(distinct),
        tool_calls=total(datas, "tool_calls"),
        tool_errors=total(datas, "tool_errors"),
        api_errors=total(datas, "api_errors"),
        interruptions=total(datas, "interruptions"),
        compactions=total([f.data for f in main], "compactions"),
        skipped_lines=total(datas, "skipped") + sum(1 for d in datas if d.get("tail_partial")),
        transcript_paths=tuple(sorted(f.path for f in files)),
        fatal_signals=fatal,
        recent_tool_results=tuple(bool(r[1]) for r in recent_rows(datas, last_ts)),
        repeated_failures=max((n for d in datas for n in d.get("fails", {}).values()), default=0),
        recent_api_errors=count_recent([t for d in datas for t in d.get("recent_api", [])], last_ts),
        recent_interruptions=count_recent([t for d in datas for t in d.get("recent_int", [])], last_ts),
        turns_since_compaction=prompts[-1][2] if prompts else 0,
        last_compaction_at=_ts(compaction_ts),
        model_usage=tuple(ModelTokens(m, r[0], r[1], r[2], r[3]) for m, r in per_model.items()),
        peak_context_tokens=max((event_total(e) for e in main_events), default=0) or None,
        rate_limits=_latest_rate(datas),
        usage_buckets=usage_buckets(
            ((e[U_TS], e[U_MODEL] or UNKNOWN_MODEL, *normalised(e)) for e in owned), last_ts
        ),
        usage_history=usage_history((e[U_TS], e[U_MODEL] or UNKNOWN_MODEL, *normalised(e)) for e in owned),
        context_series=context_series(main[-1].data.get("ctx_hist") or []),
    )


def _item_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        content = [content]
    if not isinstance(content, list):
        return ""
    parts = [b.get("text") for b in content if isinstance(b, dict) and isinstance(b.get("text"), str)]
    return "\n".join(p for p in parts if p)


def _call_input(payload: dict[str, Any]) -> Any:
    raw = payload.get("arguments", payload.get("input"))
    if isinstance(raw, str):
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            return raw
    return raw


def _conversation_turn(payload: dict[str, Any], ts: str | None) -> Turn | None:
    """One ``response_item`` as a conversation turn (None when it is not part of the conversation)."""
    kind = payload.get("type")
    if kind == "message" and payload.get("role") in ("user", "assistant"):
        text = _item_text(payload.get("content"))
        if not text.strip() or (payload["role"] == "user" and _is_injected(text)):
            return None
        return {"role": payload["role"], "timestamp": ts, "text": text}
    if kind in ("function_call", "custom_tool_call", "local_shell_call"):
        call: ToolCall = {
            "id": payload.get("call_id"),
            "name": payload.get("name") or kind,
            "input": _call_input(payload),
        }
        return {"role": "assistant", "timestamp": ts, "text": "", "tool_calls": [call]}
    if kind in ("function_call_output", "custom_tool_call_output"):
        output = payload.get("output")
        text = _item_text(output) if not isinstance(output, str) else output
        result: ToolResult = {"tool_use_id": payload.get("call_id"), "is_error": False, "content": text}
        return {"role": "user", "timestamp": ts, "text": "", "tool_results": [result]}
    return None


def read_conversation(paths: Sequence[str], native_id: str | None = None) -> list[Turn]:
    """Prompts, replies, tool calls and their outputs of a Codex session, in order, from its rollout's
    ``response_item`` lines (the model's own view of the conversation); compactions are marked."""
    turns: list[Turn] = []
    for path in paths:
        with open_regular(path) as fh:
            for raw in fh:
                try:
                    obj = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    continue
                if not isinstance(obj, dict):
                    continue
                ts = canonical_ts(obj.get("timestamp"))
                payload = obj.get("payload")
                if obj.get("type") == "compacted":
                    turns.append({"role": "system", "timestamp": ts, "text": "[conversation compacted]"})
                elif obj.get("type") == "response_item" and isinstance(payload, dict):
                    turn = _conversation_turn(payload, ts)
                    if turn is not None:
                        turns.append(turn)
    return turns


# ---------------------------------------------------------------------------------------------------
# What lsm knows about Codex

INFO = AgentInfo(
    name=AGENT,
    display_name="Codex",
    reader=lambda setup: CodexReader.from_paths(setup.paths),
    signature=AgentSignature(
        agent=AGENT,
        # The native binary: `codex` (Homebrew, the install script, npm's
        # …/@openai/codex-<platform>/vendor/<triple>/codex/codex) or, in older npm packages,
        # …/@openai/codex/bin/codex-<target triple>. Its own arg0 helpers (codex-linux-sandbox,
        # apply_patch, codex-execve-wrapper) carry other names and so never match.
        programs=frozenset({"codex"}),
        program_patterns=(
            r"codex-(x86_64|aarch64)-(unknown-linux-musl|unknown-linux-gnu|apple-darwin|pc-windows-msvc)",
        ),
        # The npm launcher `node …/@openai/codex/bin/codex.js` spawns the native child at once
        # (CODEX_MANAGED_BY_NPM=1) and is then dropped as its wrapper; when there is no native child
        # (the 2025 TypeScript CLI, dist/cli.js) the node process is the session.
        interpreters=frozenset({"node", "nodejs", "bun"}),
        script_suffixes=("@openai/codex/bin/codex.js", "@openai/codex/dist/cli.js"),
        script_names=frozenset({"codex"}),
        # The ChatGPT and Codex desktop apps bundle the binary for their own app-server.
        deny_markers=("/ChatGPT.app/", "/Codex.app/"),
        deny_flags=frozenset({"--orphaned-helper"}),
        # Servers for other programs (IDE extension / desktop app, MCP clients) and utilities that
        # write no rollout. `exec`, `review`, `resume` and `fork` are sessions.
        deny_subcommands=frozenset(
            {"app-server", "mcp-server", "mcp", "login", "logout", "completion", "sandbox", "debug"}
            | {"apply", "a", "cloud", "responses-api-proxy", "stdio-to-uds", "features", "generate-ts"}
            | {"help", "update"}
            # 0.171: the app-server daemon's manager, a standalone exec server, and one-shot utilities.
            | {"remote-control", "exec-server", "plugin", "doctor", "queue", "archive", "unarchive", "delete"}
            | {"migrate-rollouts", "migrate-nfs-db"}
        ),
        options_before_subcommand=True,
        value_options=frozenset(
            {"-c", "--config", "-m", "--model", "-p", "--profile", "-s", "--sandbox", "-a"}
            | {"--ask-for-approval", "-C", "--cd", "-i", "--image", "--enable", "--disable", "--add-dir"}
            | {"--local-provider"}
        ),
        resume_subcommand="resume",
        open_rollout=True,
    ),
    resume=("codex", "resume"),
    compact_command="/compact",
    conversation=read_conversation,
)
