"""Claude Code transcripts: ``<config dir>/projects/<encoded cwd>/<sessionId>.jsonl``.

Sub-agent transcripts (``<sessionId>/subagents/*.jsonl``) belong to their parent session. Reading is
incremental: a ``FileState`` carries the byte offset and a partial aggregate, and ``read`` continues from
there. Assistant usage is kept per unique (message.id, requestId) so that a message written as several
lines, or repeated in a resumed session's file, is counted once (the line with the largest total wins,
as the last streaming line carries the final output count).

A fork (``--resume X --fork-session``) starts its file with a ``{"type":"mode"}`` line and a header
(``queue-operation`` or ``file-history-snapshot``: its birth), then copies X's conversation with the
original uuids, ids and timestamps. Those copies are X's: a line of a fork's file older than its birth
counts toward nothing in the fork but its tokens when no other session holds them.
"""

from __future__ import annotations

import os
import re
import sys
import zlib
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, timedelta, timezone
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from llm_session_manager.agents.base import AgentInfo, AgentSignature, FileState, ToolCall, ToolResult, Turn
from llm_session_manager.agents.common import (
    HEAD_BYTES,
    MAX_COUNT,
    RECENT_KEEP,
    amount,
    bad_line,
    count_or,
    count_recent,
    file_identity,
    first_visit,
    merge_tools,
    needs_full_read,
    open_regular,
    recent_rows,
    scandir,
    title_from,
    utf8_name,
)
from llm_session_manager.agents.jsonl import Fold, fold_lines, read_tail
from llm_session_manager.compaction import CLAUDE_CODE_COMPACT
from llm_session_manager.digest import blake2b
from llm_session_manager.paths import Paths
from llm_session_manager.safetext import load_redactor
from llm_session_manager.timefmt import canonical_before, canonical_ts, parse_ts

if TYPE_CHECKING:
    from llm_session_manager.agents.claude_lines import Block, Line, Message, Usage
    from llm_session_manager.models import Session

_loads = orjson.loads

AGENT = "claude-code"
INTERRUPT_PREFIX = "[Request interrupted by user"
SYNTHETIC = "<synthetic>"
FATAL_PATTERNS = (
    ("prompt_too_long", "Prompt is too long"),
    ("compaction_thrash", "Autocompact is thrashing"),
)
_ID_SAFE = re.compile(r"[^A-Za-z0-9]")

# Index positions in a usage entry: [model, input, output, cache_creation, cache_read, cache_1h, sidechain]
# ... and E_TS, the line's canonical timestamp (burn rates), or its minute since the epoch when older.
E_MODEL, E_IN, E_OUT, E_CC, E_CR, E_CC1H, E_SIDE, E_TS = range(8)
_entry_model = itemgetter(E_MODEL)
BURN_HISTORY = timedelta(minutes=60)  # usage kept per session for burn rates, before its last activity
CTX_HISTORY = 30  # context points kept for the time-to-compaction projection
# A fork's own lines may be stamped a moment before its birth line (same event, clock jitter); its copies
# are at least a process start older.
FORK_JITTER = timedelta(milliseconds=100)
NO_BRANCH = "HEAD"  # what Claude Code writes as gitBranch outside a git repository
CMDS_KEEP = 200  # shell commands remembered by call id (a failed result names its call)
COMMAND_CHARS = 200  # of each
FAILS_KEEP = 200  # commands counted by their failures
INTERRUPTS_KEEP = 10  # times of the latest interruptions
# What Claude Code writes as a user line that is no prompt (slash commands, their output, reminders).
NOISE_PREFIXES = ("<local-command", "<command-", "<bash-", "Caveat:", "<system-reminder>")
CLEAR_COMMAND = "<command-name>/clear</command-name>"


def encode_project_dir(cwd: str) -> str:
    """Claude Code's folder name for a cwd (lossy: every non-alphanumeric character becomes '-')."""
    return _ID_SAFE.sub("-", cwd)


def session_key_for(path: Path, project_root: Path) -> str:
    """The native session id a transcript file belongs to, from its place under ``projects/``."""
    try:
        rel = path.relative_to(project_root)
    except ValueError:
        return path.stem
    parts = rel.parts
    # parts[0] is the encoded project folder.
    if len(parts) <= 2:
        return path.stem
    if "subagents" in parts:
        return parts[parts.index("subagents") - 1]
    return parts[1]


def new_data() -> dict[str, Any]:
    return {
        "entries": {},  # dedup key -> usage entry
        "first_ts": None,
        "last_ts": None,
        "cwd": None,
        "branch": None,
        "prompts": 0,
        "first_prompt": None,
        "custom_title": None,
        "ai_title": None,
        "summary": None,
        "tool_calls": 0,
        "tool_errors": 0,
        "api_errors": 0,
        "auth_error_ts": None,  # last authentication/billing error (only recent ones count)
        "peak_ctx": 0,
        "ctx_hist": [],  # [[ts, context tokens], ...] of main-chain replies since the last compaction
        "interruptions": 0,
        "compactions": 0,
        "last_compaction_ts": None,
        "turns_since_compaction": 0,
        "ctx": None,  # [context tokens, timestamp, model] of the last main-chain assistant usage
        "last_model": None,
        "one_m": False,
        "skipped": 0,
        "tail_partial": False,
        "fatal": [],
        "recent": [],  # [[ts, is_error], ...] newest last, last RECENT_KEEP tool results
        "recent_api": [],  # timestamps of recent API errors
        "recent_int": [],  # timestamps of recent interruptions
        "cmds": {},  # tool_use id -> command (bounded)
        "fails": {},  # command -> failure count (bounded)
        "sidechain_file": False,
        "lines": 0,
        "fork": False,  # the file began with {"type":"mode"} and may be a fork's (copies of its parent first)
        "copy_before": None,  # lines of a fork stamped before this are copies of its parent
        "copied": {},  # dedup keys of the replies that are copies (a fork's file only)
        "costs": {},  # dedup key -> costUSD, where Claude Code logged one on the line
    }


def _push_recent(items: list[Any], value: Any, keep: int = RECENT_KEEP) -> None:
    items.append(value)
    if len(items) > keep:
        del items[: len(items) - keep]


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for block in content:
            if isinstance(block, dict) and block.get("type") == "text":
                text = block.get("text")
                if isinstance(text, str):
                    parts.append(text)
        return "\n".join(parts)
    return ""


def _is_command_noise(text: str) -> bool:
    stripped = text.lstrip()
    return stripped.startswith(NOISE_PREFIXES)


def _note_fatal(data: dict[str, Any], text: str) -> None:
    for kind, needle in FATAL_PATTERNS:
        if needle in text and kind not in data["fatal"]:
            data["fatal"].append(kind)


def _user_blocks(data: dict[str, Any], content: list[Any], ts: str | None) -> str:
    """Fold a user line's blocks (tool results, text); return the prompt text, if any."""
    has_text = False
    for block in content:
        if not isinstance(block, dict):
            continue
        btype = block.get("type")
        if btype == "tool_result":
            _handle_tool_result(data, block, ts)
        elif btype == "text":
            text = block.get("text")
            if not isinstance(text, str):
                continue
            if text.startswith(INTERRUPT_PREFIX):
                _interrupt(data, ts)
            elif text.strip() and not _is_command_noise(text):
                has_text = True
    return _text_of(content) if has_text else ""


def _user_text(data: dict[str, Any], text: str, ts: str | None) -> str:
    """A user line whose content is a string: a prompt, an interruption or a slash-command echo."""
    if text.startswith(INTERRUPT_PREFIX):
        _interrupt(data, ts)
        return ""
    if _is_command_noise(text):
        if CLEAR_COMMAND in text:
            _fresh_context(data)
        return ""
    return text if text.strip() else ""


def _handle_user(data: dict[str, Any], obj: dict[str, Any], ts: str | None, side: bool) -> None:
    message = obj.get("message")
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, list):
        text = _user_blocks(data, content, ts)
    elif isinstance(content, str):
        text = _user_text(data, content, ts)
    else:
        return
    if not text or side or obj.get("isMeta") or obj.get("isCompactSummary"):
        return
    data["prompts"] += 1
    data["turns_since_compaction"] += 1
    if data["first_prompt"] is None:
        data["first_prompt"] = title_from(text)


def _fresh_context(data: dict[str, Any]) -> None:
    """A compaction or /clear starts the context afresh: turn count, repeated failures and a past
    "prompt is too long" no longer describe it (a thrash warning after it will be seen again)."""
    data["turns_since_compaction"] = 0
    data["ctx_hist"] = []
    data["fails"] = {}
    data["fatal"] = [k for k in data["fatal"] if k == "compaction_thrash"]


def _interrupt(data: dict[str, Any], ts: str | None) -> None:
    data["interruptions"] += 1
    _push_recent(data["recent_int"], ts, INTERRUPTS_KEEP)


def _handle_tool_result(data: dict[str, Any], block: dict[str, Any], ts: str | None) -> None:
    _tool_result(data, block.get("is_error") is True, block.get("tool_use_id"), ts)


def _tool_result(data: dict[str, Any], is_error: bool, tool_use_id: Any, ts: str | None) -> None:
    if is_error:
        data["tool_errors"] += 1
        command = data["cmds"].get(tool_use_id)
        if command:
            fails = data["fails"]
            fails[command] = fails.get(command, 0) + 1
            if len(fails) > FAILS_KEEP:
                fails.pop(next(iter(fails)))
    _push_recent(data["recent"], [ts, is_error])


def _handle_tool_use(data: dict[str, Any], block: dict[str, Any]) -> None:
    data["tool_calls"] += 1
    tool_input = block.get("input")
    if isinstance(tool_input, dict):
        _tool_command(data, tool_input.get("command"), block.get("id"))


def _tool_command(data: dict[str, Any], command: Any, call_id: Any) -> None:
    """Remember a shell command by its call id (a failed result names the call)."""
    if isinstance(command, str) and call_id:
        cmds = data["cmds"]
        cmds[str(call_id)] = command[:COMMAND_CHARS]
        if len(cmds) > CMDS_KEEP:
            cmds.pop(next(iter(cmds)))


def _handle_assistant(
    data: dict[str, Any], obj: dict[str, Any], message: dict[str, Any], ts: str | None, side: bool
) -> None:
    usage = message.get("usage")
    # The figures first: one out of range costs the whole line before it has changed anything.
    entry = _entry_of(message, usage, side) if isinstance(usage, dict) else None
    cost = _cost(obj.get("costUSD"))
    model = message.get("model")
    model = model if isinstance(model, str) else None
    api_error = obj.get("isApiErrorMessage") is True
    content = message.get("content")
    if isinstance(content, list):
        for block in content:
            if isinstance(block, dict) and block.get("type") == "tool_use":
                _handle_tool_use(data, block)
    if api_error:
        data["api_errors"] += 1
        _push_recent(data["recent_api"], ts, 10)
        text = _text_of(content)
        _note_fatal(data, text)
        if obj.get("error") in ("authentication_failed", "billing_error") or "401" in text[:60]:
            data["auth_error_ts"] = ts or data["last_ts"]
    if entry is None:
        return
    _keep_usage(data, obj, message, entry, cost, ts)
    _note_reply(data, entry, ts, model, side or api_error)


def _note_reply(
    data: dict[str, Any], entry: list[Any], ts: str | None, model: str | None, aside: bool
) -> None:
    """A main-chain reply's context: the latest, its history and peak, and the model."""
    if aside or model == SYNTHETIC:
        return
    ctx = entry[E_IN] + entry[E_CC] + entry[E_CR]
    data["ctx"] = [ctx, ts, model]
    if ts is not None:  # _push_recent, written out: once per reply
        hist = data["ctx_hist"]
        hist.append([ts, ctx])
        if len(hist) > CTX_HISTORY:
            del hist[: len(hist) - CTX_HISTORY]
    if ctx > data["peak_ctx"]:
        data["peak_ctx"] = ctx
    if model:
        data["last_model"] = model


def _keep_usage(
    data: dict[str, Any],
    obj: dict[str, Any],
    message: dict[str, Any],
    entry: list[Any],
    cost: float | None,
    ts: str | None,
) -> None:
    """Record a reply's usage entry under its dedup key (the better line wins), and its logged cost."""
    entry.append(ts)
    _keep_entry(data, _dedup_key(obj, message), entry, cost)


def _keep_entry(data: dict[str, Any], key: str, entry: list[Any], cost: float | None) -> None:
    entries = data["entries"]
    old = entries.get(key)
    if old is None or _better(entry, old):
        entries[key] = entry
    if cost is not None:
        data["costs"][key] = max(cost, data["costs"].get(key, 0.0))


def _cost(value: Any) -> float | None:
    """A logged ``costUSD`` (None when absent); ValueError when it is no finite non-negative amount."""
    return None if value is None else amount(value)


def _entry_of(message: dict[str, Any], usage: dict[str, Any], side: bool) -> list[Any]:
    model = message.get("model")
    return _usage_entry(usage, sys.intern(model) if isinstance(model, str) and model else None, side)


def _usage_entry(usage: dict[str, Any], model: str | None, side: bool) -> list[Any]:
    """[model, input, output, cache_creation, cache_read, cache_1h, sidechain]; ValueError for a count
    out of range (absent is 0)."""
    # Hot path: a plain int in range is by far the common case and is checked inline.
    inp = usage.get("input_tokens")
    out = usage.get("output_tokens")
    cc = usage.get("cache_creation_input_tokens")
    cr = usage.get("cache_read_input_tokens")
    cache = usage.get("cache_creation")
    one_hour = cache.get("ephemeral_1h_input_tokens") if type(cache) is dict else 0
    return [
        model,
        inp if type(inp) is int and 0 <= inp <= MAX_COUNT else count_or(inp),
        out if type(out) is int and 0 <= out <= MAX_COUNT else count_or(out),
        cc if type(cc) is int and 0 <= cc <= MAX_COUNT else count_or(cc),
        cr if type(cr) is int and 0 <= cr <= MAX_COUNT else count_or(cr),
        one_hour if type(one_hour) is int and 0 <= one_hour <= MAX_COUNT else count_or(one_hour),
        1 if side else 0,
    ]


def _dedup_key(obj: dict[str, Any], message: dict[str, Any]) -> str:
    msg_id = message.get("id")
    req_id = obj.get("requestId")
    if isinstance(msg_id, str) and msg_id:
        return f"{msg_id}|{req_id}" if isinstance(req_id, str) else msg_id
    uuid = obj.get("uuid")
    if isinstance(uuid, str):
        return f"uuid:{uuid}"
    # No id at all: the line's own content identifies it (a verbatim copy in a resumed file is the same).
    return "line:" + blake2b(orjson.dumps(obj, option=orjson.OPT_SORT_KEYS), digest_size=12).hexdigest()


def entry_total(entry: Sequence[Any]) -> int:
    return int(entry[E_IN] + entry[E_OUT] + entry[E_CC] + entry[E_CR])


def _handle_system(data: dict[str, Any], obj: dict[str, Any], ts: str | None) -> None:
    subtype = obj.get("subtype")
    if subtype == "compact_boundary":
        data["compactions"] += 1
        data["last_compaction_ts"] = ts
        _fresh_context(data)
    elif subtype == "api_error":
        data["api_errors"] += 1
        _push_recent(data["recent_api"], ts, 10)
        error = obj.get("error")
        status = error.get("status") if isinstance(error, dict) else None
        if status in (401, 403) or "authentication_error" in str(error)[:2000]:
            data["auth_error_ts"] = ts or data["last_ts"]
    content = obj.get("content")
    if isinstance(content, str):
        _note_fatal(data, content)


def _handle_meta(data: dict[str, Any], obj: dict[str, Any], rtype: str) -> None:
    if rtype == "summary":
        value = obj.get("summary")
        if isinstance(value, str) and value.strip():
            data["summary"] = title_from(value)
    elif rtype == "custom-title":
        value = obj.get("customTitle")
        if isinstance(value, str) and value.strip():
            data["custom_title"] = title_from(value)
    elif rtype == "ai-title":
        value = obj.get("aiTitle")
        if isinstance(value, str) and value.strip():
            data["ai_title"] = title_from(value)
    elif rtype == "attachment":
        attachment = obj.get("attachment")
        identity = attachment.get("identity") if isinstance(attachment, dict) else None
        if isinstance(identity, dict):
            _note_identity(data, identity.get("modelId"))


def _note_identity(data: dict[str, Any], model_id: Any) -> None:
    """An attachment's identity names the model: a 1M-token context window when it says so."""
    if isinstance(model_id, str) and "[1m]" in model_id:
        data["one_m"] = True


def _note_place(data: dict[str, Any], obj: dict[str, Any], side: bool) -> None:
    """The session's cwd (first seen) and git branch (latest, main chain)."""
    _place(data, obj.get("cwd"), obj.get("gitBranch"), side)


def _place(data: dict[str, Any], cwd: Any, branch: Any, side: bool) -> None:
    if data["cwd"] is None and isinstance(cwd, str) and cwd:
        data["cwd"] = cwd
    if not side and isinstance(branch, str) and branch:
        data["branch"] = None if branch == NO_BRANCH else branch


HEADER_TYPES = ("queue-operation", "file-history-snapshot")  # what a fork writes before its copies


def _birth(obj: dict[str, Any], ts: str | None) -> str | None:
    """When a header line says the session began: a ``queue-operation``'s timestamp (``-p``), or the
    one inside a ``file-history-snapshot`` (the terminal UI)."""
    if ts is not None:
        return ts
    snapshot = obj.get("snapshot")
    return canonical_ts(snapshot.get("timestamp")) if isinstance(snapshot, dict) else None


def _copied_line(data: dict[str, Any], obj: dict[str, Any], ts: str | None) -> bool:
    """In a file that began with a ``mode`` line (a fork's, or a new interactive session's): learn the
    birth from a header line written before any conversation line, then fold a copy of the parent's
    line (True) — only its usage is kept, marked as a copy, so that it counts for the parent. A
    conversation line met before any header means the file copies nothing."""
    if data["copy_before"] is None:
        birth = parse_ts(_birth(obj, ts)) if obj.get("type") in HEADER_TYPES else None
        if birth is not None:
            data["copy_before"] = canonical_ts((birth - FORK_JITTER).isoformat())
        elif "uuid" in obj:
            data["fork"] = False
        return False
    if ts is None or ts >= data["copy_before"]:
        return False
    message = obj.get("message")
    usage = message.get("usage") if isinstance(message, dict) else None
    if obj.get("type") == "assistant" and isinstance(usage, dict) and isinstance(message, dict):
        entry = _entry_of(message, usage, obj.get("isSidechain") is True)
        _keep_usage(data, obj, message, entry, _cost(obj.get("costUSD")), ts)
        data["copied"][_dedup_key(obj, message)] = True
    return True


def _line_ts(value: Any) -> str | None:
    # The common form is already canonical; anything else is normalised (or dropped).
    if value is None or (type(value) is str and len(value) == 24 and value[23] == "Z"):
        return value
    return canonical_ts(value)


def _note_ts(data: dict[str, Any], ts: str) -> None:
    first = data["first_ts"]
    if first is None or ts < first:
        data["first_ts"] = ts
    last = data["last_ts"]
    if last is None or ts > last:
        data["last_ts"] = ts


def apply_line(data: dict[str, Any], obj: Any) -> None:
    """Fold one parsed transcript line into ``data``."""
    if type(obj) is _LINE:
        _apply_typed(data, obj)  # type: ignore[arg-type]
        return
    if not isinstance(obj, dict):
        data["skipped"] += 1
        return
    if data["lines"] == 0 and obj.get("type") == "mode":
        data["fork"] = True
    data["lines"] += 1
    ts = _line_ts(obj.get("timestamp"))
    if data["fork"] and _copied_line(data, obj, ts):
        return
    if ts is not None:
        _note_ts(data, ts)
    side = obj.get("isSidechain") is True
    if data["cwd"] is None or not side:
        _note_place(data, obj, side)
    rtype = obj.get("type")
    message = obj.get("message")
    if rtype == "user":
        _handle_user(data, obj, ts, side)
    elif isinstance(message, dict) and (rtype == "assistant" or "usage" in message):
        _handle_assistant(data, obj, message, ts, side)
    elif rtype == "system":
        _handle_system(data, obj, ts)
    elif isinstance(rtype, str):
        _handle_meta(data, obj, rtype)


# ---------------------------------------------------------------------------------------------------
# Typed decoding: user and assistant lines (nearly all of a transcript) are decoded into the structs
# of claude_lines.py, which name only the fields read above: tool results' bodies, thinking, tool inputs
# other than a command, and ``toolUseResult`` are skipped by the decoder without being built. Any other
# line, or one of an unexpected shape, is decoded as a plain dict and folded by ``apply_line`` as before.


_lines: Any = None  # agents/claude_lines.py, imported by the first read (msgspec takes ~10 ms to import)


class _Unread:
    """Stands for claude_lines.Line until that module is imported: no object is of this type."""


_LINE: type = _Unread


def _typed_lines() -> Any:
    global _lines, _LINE  # a lazy import, once per process
    if _lines is None:
        from llm_session_manager.agents import claude_lines

        _lines, _LINE = claude_lines, claude_lines.Line
    return _lines


# The compiled fold (_claude_fold.c), when it was built: it folds the common lines the way _apply_typed
# does and hands every other line back to decode_line and apply_line. Without a C compiler at install
# time there is none, and every line is folded in Python as before.
_fast: Fold | None = None
_fast_forget: Callable[[dict[str, Any], str], bool] | None = None
_fast_minute: Callable[[str], int] | None = None
History = tuple[tuple[int, str, int, int, int, int, int], ...]  # _usage_history's rows
Totals = dict[str, dict[str, list[int]]]  # per session, per model: _aggregate's ten totals
_fast_history: Callable[[list[list[Any]]], History | None] | None = None
_fast_aggregate: Callable[[dict[str, list[Any]], dict[str, str]], Totals | None] | None = None
_fast_drop: Callable[[dict[str, list[Any]]], bool] | None = None
_fast_hashes: Callable[[dict[str, list[Any]]], bytes | None] | None = None
_fast_tried = False


def compiled_fold() -> Fold | None:
    global _fast, _fast_forget, _fast_minute, _fast_history, _fast_aggregate, _fast_drop
    global _fast_hashes, _fast_tried
    if not _fast_tried:
        _fast_tried = True
        try:
            from llm_session_manager.agents import _claude_fold

            _claude_fold.configure(sys.modules[__name__])  # it reads the constants and helpers it shares
        except (ImportError, AttributeError, TypeError, ValueError, OverflowError):
            return None  # not built, or built from another version of this module (tests fail on either)
        _fast, _fast_forget, _fast_minute = _claude_fold.fold, _claude_fold.forget, _claude_fold.minute
        _fast_history = getattr(_claude_fold, "usage_history", None)
        _fast_aggregate = getattr(_claude_fold, "aggregate", None)
        _fast_drop = getattr(_claude_fold, "drop_replays", None)
        _fast_hashes = getattr(_claude_fold, "message_hashes", None)
    return _fast


def compiled_walk() -> Walker | None:
    """The compiled listing of a project folder (``_walk_project``), when the compiled module is in use."""
    if compiled_fold() is None:
        return None
    from llm_session_manager.agents import _claude_fold

    return getattr(_claude_fold, "walk", None)


def compiled_forget() -> Callable[[dict[str, Any], str], bool] | None:
    """The compiled loop of ``_forget_old_times``, when the compiled fold is in use."""
    return _fast_forget if compiled_fold() is not None else None


def minute_function() -> Callable[[str], int]:
    """``_minute``, compiled when the compiled fold is in use (a merge asks it of every recent reply)."""
    return _fast_minute if compiled_fold() is not None and _fast_minute is not None else _minute


def decode_line(data: dict[str, Any], raw: Any) -> Any:
    """One line: a ``claude_lines.Line`` when the typed fold can take it, else the plain dict (or
    ValueError)."""
    if data["fork"]:
        return _loads(raw)  # a fork's copies are told apart by ``_copied_line``, on the dict
    typed = _lines or _typed_lines()
    try:
        line = typed.decode(raw)
    except typed.DecodeError:
        return _loads(raw)
    rtype = line.type
    message = line.message
    if rtype == "user" or rtype == "assistant":
        if message is None:
            return _loads(raw)
        if rtype == "assistant" and message.usage is not None:
            msg_id = message.id
            if not (isinstance(msg_id, str) and msg_id) and not isinstance(line.uuid, str):
                return _loads(raw)  # its dedup key is a hash of the whole line
        return line
    if message is None and type(rtype) is str and rtype not in DICT_TYPES:
        return line  # attachments, progress, snapshots...: only their time and place are folded
    return _loads(raw)


_intern = sys.intern
# Line types whose fold reads more than the structs name (a "mode" line may begin a fork's file).
DICT_TYPES = frozenset({"mode", "system", "summary", "custom-title", "ai-title"})


def _apply_typed(data: dict[str, Any], line: Line) -> None:
    """``apply_line`` for a typed line: a user or assistant line, or one of another type read only for
    its time and place (``decode_line`` says which lines those are).

    This runs once for nearly every line of a cold scan, so the dict fold's smallest steps (_line_ts,
    _note_ts, _place, _keep_usage, a tool result's _push_recent) are written out here and below: a
    call would cost about as much as its step. Both folds must give the same state
    (tests/test_claude_typed_decode.py)."""
    data["lines"] += 1
    ts = line.timestamp
    if ts is not None and not (type(ts) is str and len(ts) == 24 and ts[23] == "Z"):
        ts = canonical_ts(ts)  # the common form is already canonical
    if ts is not None:
        first = data["first_ts"]
        if first is None or ts < first:
            data["first_ts"] = ts
        last = data["last_ts"]
        if last is None or ts > last:
            data["last_ts"] = ts
    side = line.isSidechain is True
    if not side:
        branch = line.gitBranch
        if type(branch) is str and branch:
            data["branch"] = None if branch == NO_BRANCH else branch
    if data["cwd"] is None:
        cwd = line.cwd
        if type(cwd) is str and cwd:
            data["cwd"] = cwd
    message = line.message
    if message is None:  # decode_line: a line of another type (not DICT_TYPES)
        attachment = line.attachment
        if attachment is not None and attachment.identity is not None:
            _note_identity(data, attachment.identity.modelId)
    elif line.type == "user":
        _user_typed(data, line, message, ts, side)
    else:
        _assistant_typed(data, line, message, ts, side)


def _user_typed(data: dict[str, Any], line: Line, message: Message, ts: str | None, side: bool) -> None:
    content = message.content
    if type(content) is list:
        text = _user_blocks_typed(data, content, ts)
    elif type(content) is str:
        text = _user_text(data, content, ts)
    else:
        return
    if not text or side or line.isMeta or line.isCompactSummary:
        return
    data["prompts"] += 1
    data["turns_since_compaction"] += 1
    if data["first_prompt"] is None:
        data["first_prompt"] = title_from(text)


def _user_blocks_typed(data: dict[str, Any], content: list[Block], ts: str | None) -> str:
    """``_user_blocks`` for typed blocks: most user lines are one tool result, recorded here inline."""
    texts: list[str] | None = None  # every text block's text, as ``_text_of`` joins them
    has_text = False
    for block in content:
        btype = block.type
        if btype == "tool_result":
            is_error = block.is_error is True
            if is_error:
                _tool_result(data, True, block.tool_use_id, ts)
                continue
            recent = data["recent"]
            recent.append([ts, False])
            if len(recent) > RECENT_KEEP:
                del recent[: len(recent) - RECENT_KEEP]
        elif btype == "text":
            text = _lines.decode_any(block.text)
            if type(text) is not str:
                continue
            if texts is None:
                texts = []
            texts.append(text)
            if text.startswith(INTERRUPT_PREFIX):
                _interrupt(data, ts)
            elif text.strip() and not _is_command_noise(text):
                has_text = True
    return "\n".join(texts) if has_text and texts else ""


def _text_typed(content: str | list[Block] | None) -> str:
    """``_text_of`` for typed content."""
    if type(content) is str:
        return content
    if content is None:
        return ""
    texts = (_lines.decode_any(b.text) for b in content if b.type == "text")  # type: ignore[union-attr]
    return "\n".join(t for t in texts if type(t) is str)


def _assistant_typed(data: dict[str, Any], line: Line, message: Message, ts: str | None, side: bool) -> None:
    usage = message.usage
    model = message.model
    if type(model) is not str:
        model = None
    # The figures first: one out of range costs the whole line before it has changed anything.
    entry = _typed_entry(usage, model, side, ts) if usage is not None else None
    cost = line.costUSD
    if cost is not None:
        cost = amount(cost)
    api_error = line.isApiErrorMessage is True
    content = message.content
    if type(content) is list:
        _tool_uses_typed(data, content)
    if api_error:
        _api_error_typed(data, line, content, ts)
    if entry is None:
        return
    # ``_keep_usage``: the entry under its dedup key (the better line wins), and its logged cost.
    msg_id = message.id
    key = _typed_key(msg_id, line.requestId) if type(msg_id) is str and msg_id else f"uuid:{line.uuid}"
    entries = data["entries"]
    old = entries.get(key)
    if old is None or _better(entry, old):
        entries[key] = entry
    if cost is not None:
        costs = data["costs"]
        costs[key] = max(cost, costs.get(key, 0.0))
    _note_reply(data, entry, ts, model, side or api_error)


def _typed_entry(usage: Usage, model: str | None, side: bool, ts: str | None) -> list[Any]:
    """``_usage_entry`` and the line's timestamp, for typed usage."""
    # A plain int in range is by far the common case and is checked inline.
    inp = usage.input_tokens
    out = usage.output_tokens
    cc = usage.cache_creation_input_tokens
    cr = usage.cache_read_input_tokens
    cache = usage.cache_creation
    one_hour = cache.ephemeral_1h_input_tokens if cache is not None else 0
    return [
        _intern(model) if model else None,
        inp if type(inp) is int and 0 <= inp <= MAX_COUNT else count_or(inp),
        out if type(out) is int and 0 <= out <= MAX_COUNT else count_or(out),
        cc if type(cc) is int and 0 <= cc <= MAX_COUNT else count_or(cc),
        cr if type(cr) is int and 0 <= cr <= MAX_COUNT else count_or(cr),
        one_hour if type(one_hour) is int and 0 <= one_hour <= MAX_COUNT else count_or(one_hour),
        1 if side else 0,
        ts,
    ]


def _typed_key(msg_id: str, req_id: Any) -> str:
    """``_dedup_key`` of a line whose message has an id."""
    return f"{msg_id}|{req_id}" if type(req_id) is str else msg_id


def _tool_uses_typed(data: dict[str, Any], content: list[Block]) -> None:
    for block in content:
        if block.type == "tool_use":
            data["tool_calls"] += 1
            if block.input is not None:
                _tool_command(data, block.input.command, block.id)


def _api_error_typed(
    data: dict[str, Any], line: Line, content: str | list[Block] | None, ts: str | None
) -> None:
    data["api_errors"] += 1
    _push_recent(data["recent_api"], ts, 10)
    text = _text_typed(content)
    _note_fatal(data, text)
    if line.error in ("authentication_failed", "billing_error") or "401" in text[:60]:
        data["auth_error_ts"] = ts or data["last_ts"]


def _forget_old_times(data: dict[str, Any]) -> None:
    """Full timestamps of replies are kept only where burn rates can use them (the hour before the
    file's last activity); older replies keep their minute since the epoch (an int), which is all the
    usage reports need, so the cache of a long history holds one small number per reply."""
    start = canonical_before(data.get("last_ts"), BURN_HISTORY)
    if start is None:
        return
    forget = compiled_forget()
    if forget is not None and forget(data["entries"], start):
        return
    for entry in data["entries"].values():
        ts = entry[E_TS] if len(entry) > E_TS else None
        if type(ts) is str and ts < start:
            entry[E_TS] = _minute(ts)


def _files_under(path: str, seen: set[tuple[int, int]]) -> Iterator[tuple[str, os.stat_result]]:
    """Every transcript below a session's folder (sub-agents, workflows...), at any depth. Folder
    symlinks are followed (a project folder moved elsewhere and linked back), each folder entered
    once: a symlink loop (``a/b -> ..``) ends there."""
    if not first_visit(seen, path):
        return
    for entry in scandir(path):
        try:
            if entry.is_dir():
                yield from _files_under(entry.path, seen)
            elif entry.name.endswith(".jsonl") and entry.is_file():
                yield entry.path, entry.stat()
        except OSError:
            continue


Entry = tuple[str, str, tuple[int, int, int, int]]  # a transcript, its session key, its identity
Walker = Callable[[str, set[tuple[int, int]], set[tuple[int, int]]], Iterable[Entry]]


def _walk_root(root: str, files: set[tuple[int, int]], fast: Walker | None) -> Iterator[Entry]:
    """The transcripts under one root (``sources``), each file once among those in ``files`` (its device
    and inode are added there). A project folder's own entries are listed by ``fast`` when given (the
    compiled module's ``walk``, the same entries in the same order: at 14,000 files 95 -> 60 ms), else
    by ``_walk_project``."""
    seen: set[tuple[int, int]] = set()
    first_visit(seen, root)  # a link back to the root is not walked again
    project = fast or _walk_project
    for top in scandir(root) if utf8_name(root) else ():  # a name that is not UTF-8: common.scandir
        try:
            if top.is_file():
                name = top.name
                if name.endswith(".jsonl") and (listed := _once(files, top.path, name[:-6], top.stat())):
                    yield listed
                continue
            if not top.is_dir() or not first_visit(seen, top.path):
                continue
        except OSError:
            continue
        yield from project(top.path, seen, files)


def _walk_project(top: str, seen: set[tuple[int, int]], files: set[tuple[int, int]]) -> Iterator[Entry]:
    """The transcripts of one project folder, entered already: its sessions' own files and everything
    below their folders (sub-agents)."""
    for entry in scandir(top):
        try:
            if entry.is_dir():
                for path, st in _files_under(entry.path, seen):
                    if listed := _once(files, path, entry.name, st):
                        yield listed
            elif (
                entry.name.endswith(".jsonl")
                and entry.is_file()
                and (listed := _once(files, entry.path, entry.name[:-6], entry.stat()))
            ):
                yield listed
        except OSError:
            continue


def _once(files: set[tuple[int, int]], path: str, key: str, st: os.stat_result) -> Entry | None:
    """The file's entry, or None when a file of its device and inode was listed (through a link)."""
    ident = (st.st_dev, st.st_ino)
    if ident in files:
        return None
    files.add(ident)
    return path, key, file_identity(st)


class ClaudeCodeReader:
    name = AGENT
    parser_version = 11  # 11: old replies keep their minute (usage reports)

    def __init__(self, project_roots: Sequence[Path]) -> None:
        self.project_roots = tuple(project_roots)

    @classmethod
    def from_paths(cls, paths: Paths) -> ClaudeCodeReader:
        return cls(paths.claude_project_roots)

    def roots(self) -> list[tuple[str, bool]]:
        """Where this reader looks, and whether each place exists (for `lsm info`)."""
        return [(str(r), r.is_dir()) for r in self.project_roots]

    def sources(self) -> Iterable[Entry]:
        """(transcript file, native session id, stat) for every ``*.jsonl`` under the project roots.

        ``projects/<p>/<id>.jsonl`` is session ``<id>``; anything deeper under ``projects/<p>/<id>/``
        (sub-agents, the nested ``<id>/chat.jsonl`` layout) belongs to ``<id>``. A file reachable from two
        roots (a symlink, the same dir listed twice) is read once. Lazily, a project folder at a time (a
        cold scan starts its workers as soon as there is enough to read, before the rest is listed).
        """
        return self._walked(compiled_walk())

    def _walked(self, fast: Walker | None) -> Iterator[Entry]:
        files: set[tuple[int, int]] = set()
        for root in self.project_roots:
            yield from _walk_root(str(root), files, fast)

    def read(self, path: str | Path, session_key: str, prior: FileState | None) -> FileState:
        with open_regular(path) as fh:
            identity = file_identity(os.fstat(fh.fileno()))
            head = blake2b(fh.read(HEAD_BYTES), digest_size=16).digest()
            if needs_full_read(prior, identity, head) or prior is None:
                data = new_data()
                parts = os.fspath(path).split(os.sep)  # not Path(path).parts: 10 us a file
                data["sidechain_file"] = "subagents" in parts
                offset = 0
            else:
                data = prior.data
                offset = prior.offset
            offset = fold_lines(fh, offset, data, apply_line, bad_line, decode_line, compiled_fold())
            offset, data["tail_partial"] = read_tail(fh, offset, data, apply_line)
        _forget_old_times(data)
        return FileState(str(path), session_key, identity, offset, head, data)

    def sessions(self, states: Sequence[FileState]) -> list[Session]:
        return build_sessions(states)

    @staticmethod
    def preload() -> None:
        """Import what reading and merging import on first use (the compiled fold, the typed decoder and
        msgspec, the redactor), before worker processes are forked: they share it instead of each
        importing its own (~20 ms and a few MiB a worker)."""
        compiled_fold()
        _typed_lines()
        load_redactor()

    @staticmethod
    def shared_keys(state: FileState) -> Iterable[str]:
        """The messages a file holds: two sessions holding one share it, and which of them owns it decides
        both totals (scan.Links). By message id, not dedup key: a sidechain replay of a message under
        another request id is dropped only when merged with it."""
        return {key.partition("|")[0] for key in state.data["entries"]}

    @staticmethod
    def message_hashes(state: FileState) -> bytes:
        """The CRC-32 of each message ``shared_keys`` names, distinct, as an ``array("I")``'s bytes (a cold
        scan groups the sessions by them). Worked out by the compiled module when it is in use (at
        6,000 sessions the set of 230,000 ids hashed in Python took 0.11 s of the workers' time)."""
        if compiled_fold() is not None and _fast_hashes is not None:
            done = _fast_hashes(state.data["entries"])
            if done is not None:
                return done
        crc = zlib.crc32
        return array(
            "I", sorted({crc(key.encode()) for key in ClaudeCodeReader.shared_keys(state)})
        ).tobytes()

    def rebuild(
        self, states: Sequence[FileState], changed: Sequence[str], previous: Sequence[Session]
    ) -> list[Session]:
        """Sessions after the files ``changed`` (or removed) changed: only the sessions that can be
        affected are merged again — those of the changed files, plus any session sharing a message
        with them (a resumed session repeats its predecessor's messages, and which of the two owns a
        message decides both totals). Every other session is kept as it was."""
        changed_set = set(changed)
        by_session: dict[str, list[FileState]] = {}
        for state in states:
            by_session.setdefault(state.session_key, []).append(state)
        group = {st.session_key for st in states if st.path in changed_set}
        group |= {s.native_id for s in previous if changed_set.intersection(s.transcript_paths)}
        keys: set[str] = set()
        for key in group:
            for f in by_session.get(key, []):
                keys.update(f.data["entries"])
        grew = True
        while grew:
            grew = False
            for key, files in by_session.items():
                if key not in group and any(f.data["entries"].keys() & keys for f in files):
                    group.add(key)
                    for f in files:
                        keys.update(f.data["entries"])
                    grew = True
        again = build_sessions([f for key in group for f in by_session.get(key, [])])
        return [s for s in previous if s.native_id not in group] + again


# ---------------------------------------------------------------------------------------------------
# Merging file states into sessions


def _better(new: Sequence[Any], old: Sequence[Any]) -> bool:
    """Which of two lines for the same message to keep: main chain first, then the larger total."""
    if new[E_SIDE] != old[E_SIDE]:
        return not new[E_SIDE]
    # entry_total of each, written out: this runs for every repeated line of a reply
    return bool(
        new[E_IN] + new[E_OUT] + new[E_CC] + new[E_CR] > old[E_IN] + old[E_OUT] + old[E_CC] + old[E_CR]
    )


def _drop_sidechain_replays(best: dict[str, list[Any]]) -> None:
    """A sidechain line that repeats a message id under another request id (a "/btw" replay) is the
    same message: keep one line per message id, a main-chain one when there is one. Done by the
    compiled module when it is in use and every entry is as a fold writes it."""
    if compiled_fold() is not None and _fast_drop is not None and _fast_drop(best):
        return
    side_ids = {k.partition("|")[0] for k, e in best.items() if e[E_SIDE]}
    if not side_ids:
        return
    groups: dict[str, list[str]] = {}
    for key in best:
        msg_id = key.partition("|")[0]
        if msg_id in side_ids:
            groups.setdefault(msg_id, []).append(key)
    for keys in groups.values():
        if len(keys) < 2:
            continue
        main = [k for k in keys if not best[k][E_SIDE]]
        drop = [k for k in keys if best[k][E_SIDE]] if main else keys[1:]
        for key in drop:
            del best[key]


def _dedup_across_files(states: Sequence[FileState]) -> tuple[dict[str, list[Any]], dict[str, str]]:
    """Every unique message once, with its owner: files are taken in path order (as ccusage does), and
    the first file holding a message owns it — unless it holds only a fork's copy and a later file
    holds the original; the best line for it (main chain, largest total) counts."""
    best: dict[str, list[Any]] = {}
    owner: dict[str, str] = {}
    owned_copy: set[str] = set()  # keys whose owner so far holds only a copy
    for state in sorted(states, key=lambda s: s.path):
        session = state.session_key
        copied = state.data.get("copied") or {}
        entries = state.data["entries"]
        if not copied and type(entries) is dict and best.keys().isdisjoint(entries):
            best.update(entries)  # a file whose messages no file before it holds (most files): all its own
            owner.update(dict.fromkeys(entries, session))
            continue
        for key, entry in entries.items():
            old = best.get(key)
            if old is None:
                best[key] = entry
                owner[key] = session
                if key in copied:
                    owned_copy.add(key)
                continue
            if key in owned_copy and key not in copied:
                owner[key] = session
                owned_copy.discard(key)
            if _better(entry, old):
                best[key] = entry
    _drop_sidechain_replays(best)
    return best, owner


def _aggregate(best: dict[str, list[Any]], owner: dict[str, str]) -> dict[str, dict[str, list[int]]]:
    """Per session, per model: [input, output, cache_creation, cache_read, cache_1h] for standard
    requests, then the same five for requests above the 200k long-context tier. Worked out by the
    compiled module when it is in use and every entry is as a fold writes it."""
    if compiled_fold() is not None and _fast_aggregate is not None:
        done = _fast_aggregate(best, owner)
        if done is not None:
            return done
    out: dict[str, dict[str, list[int]]] = {}
    for key, e in best.items():
        model = e[E_MODEL] or "unknown"
        if model == SYNTHETIC:
            continue
        per = out.get(owner[key])
        if per is None:
            per = out[owner[key]] = {}
        row = per.get(model)
        if row is None:
            row = per[model] = [0] * 10
        base = 5 if e[E_IN] + e[E_CC] + e[E_CR] > 200_000 else 0
        row[base] += e[E_IN]
        row[base + 1] += e[E_OUT]
        row[base + 2] += e[E_CC]
        row[base + 3] += e[E_CR]
        row[base + 4] += e[E_CC1H]
    return out


def _distinct_messages(files: list[FileState]) -> int:
    """Assistant replies in the session's own files (copies from a resumed session included, a fork's
    copies of its parent not)."""
    seen: dict[str, list[Any]] = {}
    for f in files:
        copied = f.data.get("copied") or {}
        entries = f.data["entries"]
        if not copied and type(entries) is dict:  # most files copy nothing: their entries go in whole
            seen.update(entries)
        else:
            seen.update((k, e) for k, e in entries.items() if k not in copied)
    _drop_sidechain_replays(seen)
    models = list(map(_entry_model, seen.values()))
    return len(models) - models.count(SYNTHETIC)


def _ts(value: str | None) -> datetime | None:
    return parse_ts(value) if value else None


def build_sessions(states: Sequence[FileState]) -> list[Session]:
    by_session: dict[str, list[FileState]] = {}
    for state in states:
        by_session.setdefault(state.session_key, []).append(state)
    best, owner = _dedup_across_files(states)
    usage = _aggregate(best, owner)
    owned: dict[str, list[list[Any]]] = {}
    for k, e in best.items():
        owned.setdefault(owner[k], []).append(e)
    costs = _agent_costs(states, owner)
    cutoff = _series_cutoff()
    return [
        _build_one(key, files, usage.get(key, {}), owned.get(key, []), costs.get(key), cutoff)
        for key, files in by_session.items()
    ]


def _agent_costs(states: Sequence[FileState], owner: dict[str, str]) -> dict[str, float]:
    """Per session, the ``costUSD`` Claude Code logged on the replies it owns (older versions write
    one per reply; 2.1.x writes none)."""
    per_key: dict[str, float] = {}
    for state in states:
        for key, cost in (state.data.get("costs") or {}).items():
            per_key[key] = max(cost, per_key.get(key, 0.0))
    out: dict[str, float] = {}
    for key, cost in per_key.items():
        if key in owner:
            out[owner[key]] = out.get(owner[key], 0.0) + cost
    return out


def _main_files(files: list[FileState]) -> list[FileState]:
    main = [f for f in files if not f.data.get("sidechain_file")]
    return sorted(main or files, key=lambda f: (f.data.get("last_ts") or "", f.path))


_MINUTES: dict[str, int] = {}
# Minutes memoised at most: a session's replies share minutes, sessions rarely do. At 100,000 the memo
# held ~10 MB in every reading and merging worker of a large cold scan, for the same hits.
MINUTES_KEPT = 4096
SERIES_KEEP = timedelta(minutes=90)  # the same horizon as scan.SERIES_KEEP


def _series_cutoff() -> str:
    """Canonical timestamp before which a session is too quiet to need its usage series."""
    return canonical_ts((datetime.now(timezone.utc) - SERIES_KEEP).isoformat()) or ""


def _minute(ts: str) -> int:
    """Minutes since the epoch of a canonical timestamp (memoised by its minute: many replies share one).
    Only a valid canonical timestamp is memoised: the prefix of any other need not name its minute, and
    a memo it filled would answer for the valid ones after it (the compiled forget computes those)."""
    prefix = ts[:16]
    minute = _MINUTES.get(prefix)
    if minute is None:
        match = _CANONICAL_TIME.fullmatch(ts)
        minute = _parse_minute(ts, match)
        if match is None:
            return minute
        if len(_MINUTES) > MINUTES_KEPT:
            _MINUTES.clear()
        _MINUTES[prefix] = minute
    return minute


# A canonical timestamp of a valid time of day: its minute is its day's plus hours and minutes.
_CANONICAL_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T([01][0-9]|2[0-3]):([0-5][0-9]):[0-5][0-9]\.[0-9]{3}Z"
)
_DAYS: dict[str, int] = {}  # minutes since the epoch at the start of each day seen


def _parse_minute(ts: str, match: re.Match[str] | None) -> int:
    """``_minute`` without its memo (``match``: ``ts`` matched against ``_CANONICAL_TIME``): 0 for a
    timestamp that does not parse. A history spreads its replies over many minutes but few days, so a
    day is parsed once."""
    if match is None:
        parsed = parse_ts(ts)
        return int(parsed.timestamp() // 60) if parsed else 0
    day = _DAYS.get(ts[:10])
    if day is None:
        midnight = parse_ts(ts[:10])
        if midnight is None:  # no such date (February 30th)
            return 0
        day = int(midnight.timestamp()) // 60
        if len(_DAYS) > 100_000:
            _DAYS.clear()
        _DAYS[ts[:10]] = day
    return day + int(match[1]) * 60 + int(match[2])


def _usage_buckets(
    entries: list[list[Any]], last_ts: str | None
) -> tuple[tuple[int, str, int, int, int, int], ...]:
    """Per minute and model, the tokens of the hour before the session's last activity (burn rates)."""
    start = canonical_before(last_ts, BURN_HISTORY) if last_ts else None
    if start is None:
        return ()
    buckets: dict[tuple[int, str], list[int]] = {}
    minute = minute_function()
    for e in entries:
        ts = e[E_TS] if len(e) > E_TS else None
        if type(ts) is not str or ts < start or e[E_MODEL] == SYNTHETIC:
            continue
        row = buckets.setdefault((minute(ts), e[E_MODEL] or "unknown"), [0, 0, 0, 0])
        row[0] += e[E_IN]
        row[1] += e[E_OUT]
        row[2] += e[E_CC]
        row[3] += e[E_CR]
    return tuple((m, model, *row) for (m, model), row in sorted(buckets.items()))  # type: ignore[misc]


def _usage_history(entries: list[list[Any]]) -> tuple[tuple[int, str, int, int, int, int, int], ...]:
    """Per minute and model, the tokens of every reply the session owns (usage reports): input, output,
    cache_creation, cache_read, and the part of cache_creation written for an hour. Worked out by the
    compiled module when it is in use and every entry is as a fold writes it."""
    if compiled_fold() is not None and _fast_history is not None:
        done = _fast_history(entries)
        if done is not None:
            return done
    buckets: dict[tuple[int, str], list[int]] = {}
    minute = minute_function()
    for e in entries:
        if len(e) <= E_TS:
            continue
        ts, model = e[E_TS], e[E_MODEL]
        if ts is None or model == SYNTHETIC:
            continue
        key = (ts if type(ts) is int else minute(ts), model or "unknown")
        row = buckets.get(key)
        if row is None:
            buckets[key] = [e[E_IN], e[E_OUT], e[E_CC], e[E_CR], e[E_CC1H]]
            continue
        row[0] += e[E_IN]
        row[1] += e[E_OUT]
        row[2] += e[E_CC]
        row[3] += e[E_CR]
        row[4] += e[E_CC1H]
    return tuple((m, model, *row) for (m, model), row in sorted(buckets.items()))  # type: ignore[misc]


def _context_series(main: list[FileState]) -> tuple[tuple[int, int], ...]:
    points: list[tuple[int, int]] = []
    for f in main:
        for ts, ctx in f.data.get("ctx_hist") or []:
            parsed = parse_ts(ts)
            if parsed is not None:
                points.append((int(parsed.timestamp()), int(ctx)))
    return tuple(sorted(points)[-CTX_HISTORY:])


def _build_one(
    key: str,
    files: list[FileState],
    per_model: dict[str, list[int]],
    entries: list[list[Any]],
    cost: float | None,
    cutoff: str,
) -> Session:
    """One session from its files, the usage it owns, its logged cost, and the series cutoff
    (``_series_cutoff``)."""
    from llm_session_manager.models import (  # not at import: listing files needs no models
        ModelTokens,
        Session,
        TokenUsage,
    )

    datas = [f.data for f in files]
    main = _main_files(files)
    last_main = main[-1].data

    def total(name: str) -> int:
        return sum(int(d.get(name) or 0) for d in datas)

    def main_total(name: str) -> int:
        return sum(int(f.data.get(name) or 0) for f in main)

    tin = sum(r[0] + r[5] for r in per_model.values())
    tout = sum(r[1] + r[6] for r in per_model.values())
    tcc = sum(r[2] + r[7] for r in per_model.values())
    tcr = sum(r[3] + r[8] for r in per_model.values())
    ctx_row = next((f.data["ctx"] for f in reversed(main) if f.data.get("ctx")), None)
    latest_model = next((f.data["last_model"] for f in reversed(main) if f.data.get("last_model")), None)
    firsts = [d["first_ts"] for d in datas if d.get("first_ts")]
    lasts = [d["last_ts"] for d in datas if d.get("last_ts")]
    compaction_ts = max((d["last_compaction_ts"] for d in datas if d.get("last_compaction_ts")), default=None)
    last_ts = max(lasts) if lasts else None
    recent = recent_rows(datas, last_ts)
    fails = max((n for d in datas for n in d.get("fails", {}).values()), default=0)
    fatal = tuple(sorted({k for d in datas for k in d.get("fatal", [])}))
    if count_recent([d.get("auth_error_ts") for d in datas], last_ts):
        fatal = (*fatal, "auth_error")
    title = _pick_title(main)
    models = tuple(sorted(per_model, key=lambda m: -(sum(per_model[m]))))
    one_m = any(d.get("one_m") for d in datas)
    return Session(
        id=f"{AGENT}:{key}",
        agent=AGENT,
        native_id=key,
        title=title,
        project_path=next((f.data["cwd"] for f in main if f.data.get("cwd")), None)
        or next((d["cwd"] for d in datas if d.get("cwd")), None),
        git_branch=last_main.get("branch"),
        model=latest_model or (models[0] if models else None),
        models=tuple(m for m in models if m != "unknown"),
        started_at=_ts(min(firsts)) if firsts else None,
        last_activity=_ts(max(lasts)) if lasts else None,
        tokens=TokenUsage(tin, tout, tcc, tcr, "exact"),
        context_tokens=int(ctx_row[0]) if ctx_row else None,
        context_window=None,
        context_window_source="1m-identity" if one_m else "",
        messages_user=main_total("prompts"),
        messages_assistant=_distinct_messages(files),
        tool_calls=total("tool_calls"),
        tool_errors=total("tool_errors"),
        api_errors=total("api_errors"),
        interruptions=total("interruptions"),
        compactions=main_total("compactions"),
        skipped_lines=total("skipped") + sum(1 for d in datas if d.get("tail_partial")),
        transcript_paths=tuple(sorted(f.path for f in files)),
        fatal_signals=fatal,
        recent_tool_results=tuple(bool(r[1]) for r in recent),
        repeated_failures=fails,
        recent_api_errors=count_recent([t for d in datas for t in d.get("recent_api", [])], last_ts),
        recent_interruptions=count_recent([t for d in datas for t in d.get("recent_int", [])], last_ts),
        turns_since_compaction=int(last_main.get("turns_since_compaction") or 0),
        last_compaction_at=_ts(compaction_ts),
        peak_context_tokens=max((int(f.data.get("peak_ctx") or 0) for f in main), default=0) or None,
        # Only a session active lately can have a burn rate or a compaction projection (scan.SERIES_KEEP).
        usage_buckets=_usage_buckets(entries, last_ts) if (last_ts or "") >= cutoff else (),
        context_series=_context_series(main) if (last_ts or "") >= cutoff else (),
        usage_history=_usage_history(entries),
        model_usage=tuple(
            ModelTokens(m, r[0] + r[5], r[1] + r[6], r[2] + r[7], r[3] + r[8], r[4] + r[9], *r[5:])
            for m, r in per_model.items()
        ),
        agent_cost_usd=cost,
    )


def _pick_title(main: list[FileState]) -> str | None:
    for field_name in ("custom_title", "ai_title", "summary", "first_prompt"):
        for f in reversed(main):
            value = f.data.get(field_name)
            if value:
                return str(value)
    return None


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


# ---------------------------------------------------------------------------------------------------
# The conversation itself, for export (read on demand, never cached).


def _blocks(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []


def _turn_from_line(obj: dict[str, Any]) -> Turn | None:
    """One transcript line as a conversation turn, or None when it is not part of the conversation."""
    rtype = obj.get("type")
    ts = canonical_ts(obj.get("timestamp"))
    if rtype == "system" and obj.get("subtype") == "compact_boundary":
        return {"role": "system", "timestamp": ts, "text": "[conversation compacted]"}
    message = obj.get("message")
    if rtype not in ("user", "assistant") or not isinstance(message, dict):
        return None
    if obj.get("isMeta") or (obj.get("isCompactSummary") and rtype == "user"):
        return None
    texts: list[str] = []
    calls: list[ToolCall] = []
    results: list[ToolResult] = []
    for block in _blocks(message.get("content")):
        btype = block.get("type")
        if btype == "text" and isinstance(block.get("text"), str):
            texts.append(block["text"])
        elif btype == "tool_use":
            calls.append({"id": block.get("id"), "name": block.get("name"), "input": block.get("input")})
        elif btype == "tool_result":
            results.append(
                {
                    "tool_use_id": block.get("tool_use_id"),
                    "is_error": block.get("is_error") is True,
                    "content": _text_of(block.get("content")) or str(block.get("content") or ""),
                }
            )
    text = "\n".join(texts)
    if rtype == "user" and not results and (not text.strip() or _is_command_noise(text)):
        return None
    turn: Turn = {"role": rtype, "timestamp": ts, "text": text}
    if rtype == "assistant":
        turn["model"] = message.get("model")
        turn["id"] = message.get("id")
    if calls:
        turn["tool_calls"] = calls
    if results:
        turn["tool_results"] = results
    return turn


def read_conversation(paths: Sequence[str], native_id: str | None = None) -> list[Turn]:
    """The main-chain conversation of a session, in order: prompts, replies (a reply written over
    several lines is merged into one turn), tool calls and their results, compactions."""
    turns: list[Turn] = []
    by_message: dict[str, Turn] = {}
    for path in paths:
        if "subagents" in Path(path).parts:
            continue
        with open_regular(path) as fh:
            for raw in fh:
                try:
                    obj = _loads(raw)
                except ValueError:
                    continue
                if not isinstance(obj, dict) or obj.get("isSidechain") is True:
                    continue
                turn = _turn_from_line(obj)
                if turn is None:
                    continue
                msg_id = turn.get("id")
                if isinstance(msg_id, str) and msg_id in by_message:
                    _merge_turn(by_message[msg_id], turn)
                    continue
                if isinstance(msg_id, str):
                    by_message[msg_id] = turn
                turns.append(turn)
    for turn in turns:
        turn.pop("id", None)
    return turns


def _merge_turn(into: Turn, more: Turn) -> None:
    if more.get("text"):
        into["text"] = "\n".join(t for t in (into.get("text"), more["text"]) if t)
    merge_tools(into, more)


# ---------------------------------------------------------------------------------------------------
# What lsm knows about Claude Code

INFO = AgentInfo(
    name=AGENT,
    display_name="Claude Code",
    reader=lambda setup: ClaudeCodeReader.from_paths(setup.paths),
    signature=AgentSignature(
        agent=AGENT,
        # Native installer: ~/.local/bin/claude -> ~/.local/share/claude/versions/<ver> (claude.exe on
        # Windows). Also what an npm install shows once it has set process.title = "claude".
        programs=frozenset({"claude"}),
        exe_markers=("/claude/versions/",),
        # npm install: node …/@anthropic-ai/claude-code/cli.js (older ~/.claude/local/node_modules/…
        # installs end the same way), or node …/bin/claude when started through the npm bin symlink.
        interpreters=frozenset({"node", "nodejs", "bun"}),
        script_suffixes=("@anthropic-ai/claude-code/cli.js",),
        script_names=frozenset({"claude"}),
        # The Claude desktop app (macOS bundle, Windows install dir), its helpers and MCP servers.
        deny_markers=("/Claude.app/", "/AnthropicClaude/"),
        # Background daemon helpers and the binary re-running itself as ripgrep: no transcript.
        deny_flags=frozenset({"--bg-pty-host", "--bg-spare", "--ripgrep"}),
        # Utility subcommands that never own a transcript (`claude daemon run`, `claude mcp serve`, …).
        deny_subcommands=frozenset(
            {"daemon", "mcp", "doctor", "update", "install", "setup-token", "plugin", "config"}
            | {"migrate-installer"}
        ),
        status_file=True,
    ),
    compact=CLAUDE_CODE_COMPACT,
    resume=("claude", "--resume"),
    compact_command="/compact",
    conversation=read_conversation,
)
