"""GitHub Copilot CLI sessions: ``$COPILOT_HOME/session-state/<id>/events.jsonl`` (``~/.copilot`` by default).

Copilot CLI before 1.0.11 wrote one flat ``session-state/<id>.jsonl`` per session; some installs also keep
old sessions under ``history-session-state/``. Every line is one event ``{type, data, id, timestamp,
parentId}``; the file only grows, so it is read incrementally like Claude Code's transcripts.

Events used (``data`` fields):

- ``session.start``: ``sessionId``, ``selectedModel``, ``context{cwd, gitRoot, branch, model}``;
- ``session.model_change``: ``newModel``; ``assistant.message`` / ``tool.execution_complete`` may name
  ``model`` too;
- ``user.message``: ``content`` (a prompt); ``assistant.message``: ``content``, ``reasoningText``,
  ``toolRequests``, ``outputTokens`` (exact output tokens of that model call);
- ``tool.execution_start`` (a tool call; ``rename_session`` carries ``arguments.title``),
  ``tool.execution_complete`` (``success``, ``result.content``);
- ``session.error`` (an API error), ``abort`` (the user interrupted), ``session.compaction_complete``;
- a sub-agent's events (``task`` tool) are in the same file with a top-level ``agentId``: its calls,
  replies and tool calls count, its ``user.message`` (the task prompt) and ``session.model_change`` don't;
- ``session.usage_record`` (1.0.10x): ``usage{model, inputTokens, outputTokens, cacheReadTokens,
  cacheWriteTokens, apiCallId, maxPromptTokens}``, one per model call, written as the call ends;
- ``session.shutdown``: ``modelMetrics{<model>: {usage{…the same four…}}}``, the per-model totals of the
  whole session so far (every shutdown of a resumed session restates the earlier segments), plus
  ``currentTokens`` (Copilot's estimate of the context) and ``currentModel``. ``inputTokens`` includes
  the cache reads and writes.

The session's folder also holds ``workspace.yaml``; its ``name`` is the session's title when
``user_named: true`` (``copilot --name``, ``/rename``); otherwise Copilot derived it from the first prompt.

Tokens: the usage records, counted once per ``apiCallId``, are exact for a running, killed or ended
session alike. A log without them (older versions) takes the last shutdown's metrics; the events after
it only log each reply's output count, so their input is *counted* with tiktoken over the prompts and
tool results, and the session's tokens are then marked ``"counted"``.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypedDict, cast

import orjson

from llm_session_manager.agents.base import AgentInfo, AgentSignature, FileState, ToolResult, Turn
from llm_session_manager.agents.common import (
    HEAD_BYTES,
    UNKNOWN_MODEL,
    count_or,
    file_identity,
    needs_full_read,
    note_ts,
    open_regular,
    scandir,
    title_from,
)
from llm_session_manager.agents.jsonl import fold_lines, read_tail
from llm_session_manager.digest import blake2b
from llm_session_manager.fileio import read_regular
from llm_session_manager.paths import Paths
from llm_session_manager.timefmt import canonical_ts, parse_ts

if TYPE_CHECKING:
    from llm_session_manager.models import Session

AGENT = "copilot-cli"
RECENT_KEEP = 20
RECENT_WINDOW = timedelta(minutes=30)
STATE_DIRS = ("session-state", "history-session-state")  # in order of preference

# Per-model rows. Closed (from shutdown metrics): [input (uncached), output, cache_write, cache_read].
# Open (after the last shutdown): [counted input, exact output, counted output].
C_IN, C_OUT, C_CW, C_CR = range(4)
O_IN, O_OUT_EXACT, O_OUT_COUNTED = range(3)


def model_name(raw: Any) -> str | None:
    """A model id without its vendor prefix: ``openai/gpt-5.4`` -> ``gpt-5.4``."""
    if not isinstance(raw, str) or not raw.strip():
        return None
    return raw.strip().rsplit("/", 1)[-1] or None


WORKSPACE_YAML_MAX = 1024 * 1024  # <id>/workspace.yaml: a few fields


def _int(value: Any) -> int:
    """A count (absent = 0); ValueError when out of range (the line is skipped)."""
    return count_or(value)


def _check_counts(etype: str, ev: dict[str, Any]) -> None:
    """Every count of a usage event, checked before the line changes anything: one out of range
    raises ValueError and costs the whole line."""
    if etype == "assistant.message":
        _int(ev.get("outputTokens"))
    elif etype == "session.usage_record" and isinstance(ev.get("usage"), dict):
        _usage_row(ev["usage"])
        _int(ev["usage"].get("maxPromptTokens"))
    elif etype == "session.shutdown" and isinstance(ev.get("modelMetrics"), dict):
        for entry in ev["modelMetrics"].values():
            if isinstance(entry, dict) and isinstance(entry.get("usage"), dict):
                _usage_row(entry["usage"])
    _int(ev.get("tokenLimit"))
    _int(ev.get("currentTokens"))


class CopilotCliData(TypedDict):
    """What is kept of one session's ``events.jsonl`` between reads (``FileState.data``); see
    ``new_data``."""

    sid: str | None
    cwd: str | None
    branch: str | None
    first_ts: str | None
    last_ts: str | None
    title: str | None
    given_name: str | None
    first_prompt: str | None
    prompts: int
    replies: int
    tool_calls: int
    tool_errors: int
    api_errors: int
    interruptions: int
    compactions: int
    last_compaction_ts: str | None
    turns_since_compaction: int
    model: str | None
    calls: dict[str, list[int]]
    call_hist: dict[str, list[int]]
    call_ids: dict[str, int]
    call_ctx: list[Any] | None
    closed: dict[str, list[int]]
    open: dict[str, list[int]]
    open_activity: int
    shutdowns: int
    ctx: list[Any] | None
    window: int | None
    recent: list[list[Any]]
    recent_api: list[Any]
    recent_int: list[Any]
    skipped: int
    tail_partial: bool
    lines: int


def new_data() -> CopilotCliData:
    return {
        "sid": None,
        "cwd": None,
        "branch": None,
        "first_ts": None,
        "last_ts": None,
        "title": None,  # from a rename_session tool call
        "given_name": None,  # workspace.yaml's name, when the user gave it
        "first_prompt": None,
        "prompts": 0,
        "replies": 0,
        "tool_calls": 0,
        "tool_errors": 0,
        "api_errors": 0,
        "interruptions": 0,
        "compactions": 0,
        "last_compaction_ts": None,
        "turns_since_compaction": 0,
        "model": None,  # the current model
        "calls": {},  # model -> [input, output, cache_write, cache_read], from the usage records
        "call_hist": {},  # "<minute since the epoch> <model>" -> the same four, for usage reports
        "call_ids": {},  # apiCallId -> 1, for the usage records already summed
        "call_ctx": None,  # [whole prompt of the latest call, timestamp]
        "closed": {},  # model -> [input, output, cache_write, cache_read], the last shutdown's, exact
        "open": {},  # model -> [counted input, exact output, counted output]
        "open_activity": 0,  # replies and counted texts since the last shutdown with metrics
        "shutdowns": 0,
        "ctx": None,  # [context tokens, timestamp]
        "window": None,
        "recent": [],  # [[ts, is_error], ...] newest last
        "recent_api": [],
        "recent_int": [],
        "skipped": 0,
        "tail_partial": False,
        "lines": 0,
    }


class _Reading:
    """One ``read`` call: texts to count are held here and counted once at the end, so that the texts
    of a segment a later shutdown covers exactly are never counted."""

    def __init__(self, data: CopilotCliData) -> None:
        self.data = data
        self.pending: list[tuple[str, int, str]] = []  # (model, O_IN or O_OUT_COUNTED, text)

    def add_text(self, slot: int, text: str) -> None:
        if text.strip():
            self.pending.append((self.data["model"] or UNKNOWN_MODEL, slot, text))
            self.data["open_activity"] += 1

    def close_segment(self) -> None:
        self.pending.clear()
        self.data["open"] = {}
        self.data["open_activity"] = 0

    def finish(self) -> None:
        if self.data["calls"]:  # the usage records are exact: nothing needs counting
            self.close_segment()
        if not self.pending:
            return
        from llm_session_manager.tokens import count_tokens

        open_rows = self.data["open"]
        for model, slot, text in self.pending:
            row = open_rows.setdefault(model, [0, 0, 0])
            row[slot] += count_tokens(text)
        self.pending.clear()


def _push_recent(items: list[Any], value: Any, keep: int = RECENT_KEEP) -> None:
    items.append(value)
    if len(items) > keep:
        del items[: len(items) - keep]


def _set_model(data: CopilotCliData, raw: Any) -> None:
    name = model_name(raw)
    if name:
        data["model"] = name


def _on_start(data: CopilotCliData, ev: dict[str, Any]) -> None:
    sid = ev.get("sessionId")
    if isinstance(sid, str) and sid and data["sid"] is None:
        data["sid"] = sid
    context = ev.get("context")
    if isinstance(context, dict):
        _on_context(data, context)
        _set_model(data, context.get("model"))
    _set_model(data, ev.get("selectedModel"))


def _on_context(data: CopilotCliData, context: dict[str, Any]) -> None:
    cwd = context.get("cwd") or context.get("gitRoot")
    if isinstance(cwd, str) and cwd and data["cwd"] is None:
        data["cwd"] = cwd
    branch = context.get("branch")
    if isinstance(branch, str) and branch:
        data["branch"] = branch


def _on_user(reading: _Reading, ev: dict[str, Any]) -> None:
    data = reading.data
    content = ev.get("content")
    if not isinstance(content, str) or not content.strip():
        return
    data["prompts"] += 1
    data["turns_since_compaction"] += 1
    if data["first_prompt"] is None:
        data["first_prompt"] = title_from(content)
    sent = ev.get("transformedContent")
    reading.add_text(O_IN, sent if isinstance(sent, str) and sent.strip() else content)


def _on_reply(reading: _Reading, ev: dict[str, Any]) -> None:
    data = reading.data
    data["replies"] += 1
    _set_model(data, ev.get("model"))
    exact = ev.get("outputTokens")
    if exact is not None:
        row = data["open"].setdefault(data["model"] or UNKNOWN_MODEL, [0, 0, 0])
        row[O_OUT_EXACT] += _int(exact)
        data["open_activity"] += 1
        return
    parts = [ev.get("content"), ev.get("reasoningText")]
    requests = ev.get("toolRequests")
    if isinstance(requests, list) and requests:
        parts.append(orjson.dumps([r.get("arguments") for r in requests if isinstance(r, dict)]).decode())
    text = "\n".join(p for p in parts if isinstance(p, str) and p.strip())
    if text:
        reading.add_text(O_OUT_COUNTED, text)
    else:
        data["open_activity"] += 1  # a reply whose size we cannot know


def _on_tool_start(data: CopilotCliData, ev: dict[str, Any]) -> None:
    data["tool_calls"] += 1
    if ev.get("toolName") == "rename_session":
        args = ev.get("arguments")
        title = args.get("title") if isinstance(args, dict) else None
        if isinstance(title, str) and title.strip():
            data["title"] = title_from(title)


def _tool_failed(ev: dict[str, Any]) -> bool:
    """``success: false``, or a shell command that exited non-zero (Copilot then logs ``success: true``
    with ``shellExecution.exitCode``)."""
    shell = ev.get("shellExecution")
    code = shell.get("exitCode") if isinstance(shell, dict) else None
    return ev.get("success") is False or (type(code) is int and code > 0)


def _on_tool_done(reading: _Reading, ev: dict[str, Any], ts: str | None) -> None:
    data = reading.data
    _set_model(data, ev.get("model"))
    failed = _tool_failed(ev)
    if failed:
        data["tool_errors"] += 1
    _push_recent(data["recent"], [ts, failed])
    result = ev.get("result")
    content = result.get("content") if isinstance(result, dict) else None
    if isinstance(content, str):
        reading.add_text(O_IN, content)


def _usage_row(usage: dict[str, Any]) -> list[int]:
    """[input, output, cache_write, cache_read] from a shutdown usage object. ``inputTokens`` includes
    the cache reads and writes, so they are taken out of it (unless it is too small to hold them)."""
    gross = _int(usage.get("inputTokens"))
    cache_read = _int(usage.get("cacheReadTokens"))
    cache_write = _int(usage.get("cacheWriteTokens"))
    uncached = gross - cache_read - cache_write if gross >= cache_read + cache_write else gross
    return [uncached, _int(usage.get("outputTokens")), cache_write, cache_read]


def _on_usage_record(data: CopilotCliData, ev: dict[str, Any], ts: str | None) -> None:
    """One model call's exact usage, once per ``apiCallId`` (a record without an id always counts)."""
    usage = ev.get("usage")
    if not isinstance(usage, dict):
        return
    call_id = usage.get("apiCallId")
    if isinstance(call_id, str) and call_id:
        if call_id in data["call_ids"]:
            return
        data["call_ids"][call_id] = 1
    _set_model(data, usage.get("model"))
    row = _usage_row(usage)
    total = data["calls"].setdefault(
        model_name(usage.get("model")) or data["model"] or UNKNOWN_MODEL, [0, 0, 0, 0]
    )
    when = _ts(ts)
    model = model_name(usage.get("model")) or data["model"] or UNKNOWN_MODEL
    minute = data["call_hist"].setdefault(
        f"{int(when.timestamp() // 60) if when else -1} {model}", [0, 0, 0, 0]
    )
    for i, value in enumerate(row):
        total[i] += value
        minute[i] += value
    if _int(usage.get("inputTokens")):
        data["call_ctx"] = [_int(usage["inputTokens"]), ts]
    if _int(usage.get("maxPromptTokens")):
        data["window"] = _int(usage["maxPromptTokens"])


def _on_shutdown(reading: _Reading, ev: dict[str, Any], ts: str | None) -> None:
    data = reading.data
    data["shutdowns"] += 1
    metrics = ev.get("modelMetrics")
    rows: dict[str, list[int]] = {}
    if isinstance(metrics, dict):
        for raw_model, entry in metrics.items():
            usage = entry.get("usage") if isinstance(entry, dict) else None
            if isinstance(usage, dict):
                rows[model_name(raw_model) or UNKNOWN_MODEL] = _usage_row(usage)
    if rows:  # the session's exact totals so far replace the last shutdown's and what was counted since
        data["closed"] = rows
        reading.close_segment()
    _set_model(data, ev.get("currentModel"))
    current = _int(ev.get("currentTokens"))
    if current:
        data["ctx"] = [current, ts]


def _on_session_event(reading: _Reading, etype: str, ev: dict[str, Any], ts: str | None) -> None:
    data = reading.data
    if etype == "session.start" or etype == "session.resume":
        _on_start(data, ev)
    elif etype == "session.model_change":
        _set_model(data, ev.get("newModel"))
    elif etype == "session.context_changed":
        context = ev.get("context")
        _on_context(data, context if isinstance(context, dict) else ev)
    elif etype == "session.usage_record":
        _on_usage_record(data, ev, ts)
    elif etype == "session.shutdown":
        _on_shutdown(reading, ev, ts)
    elif etype == "session.error":
        data["api_errors"] += 1
        _push_recent(data["recent_api"], ts, 10)
    elif etype == "session.compaction_complete" and ev.get("success") is not False:
        data["compactions"] += 1
        data["last_compaction_ts"] = ts
        data["turns_since_compaction"] = 0
        data["ctx"] = data["call_ctx"] = None  # the context was just rebuilt; its new size is not logged here


def _note_limits(data: CopilotCliData, ev: dict[str, Any], ts: str | None) -> None:
    """``tokenLimit`` (the window Copilot works with) and ``currentTokens`` (its fill), wherever given:
    ``session.truncation``, ``session.compaction_start``, ``session.shutdown``…"""
    if _int(ev.get("tokenLimit")):
        data["window"] = _int(ev["tokenLimit"])
    if _int(ev.get("currentTokens")):
        data["ctx"] = [_int(ev["currentTokens"]), ts]


def apply_event(reading: _Reading, obj: Any) -> None:
    """Fold one parsed line into the reading's data."""
    data = reading.data
    if not isinstance(obj, dict):
        data["skipped"] += 1
        return
    data["lines"] += 1
    ts = note_ts(data, obj.get("timestamp"))
    etype = obj.get("type")
    ev = obj.get("data")
    if not isinstance(etype, str) or not isinstance(ev, dict):
        return
    _check_counts(etype, ev)
    agent = obj.get("agentId")
    if isinstance(agent, str) and agent:
        _on_subagent_event(reading, etype, ev, ts)
        return
    _note_limits(data, ev, ts)
    if etype.startswith("session."):
        _on_session_event(reading, etype, ev, ts)
    elif etype == "user.message":
        _on_user(reading, ev)
    elif etype == "assistant.message":
        _on_reply(reading, ev)
    elif etype == "tool.execution_start":
        _on_tool_start(data, ev)
    elif etype == "tool.execution_complete":
        _on_tool_done(reading, ev, ts)
    elif etype == "abort":
        data["interruptions"] += 1
        _push_recent(data["recent_int"], ts, 10)


def _on_subagent_event(reading: _Reading, etype: str, ev: dict[str, Any], ts: str | None) -> None:
    """An event of a sub-agent (``agentId`` set; Copilot writes them into the session's own file). Its
    model calls, replies and tool calls are the session's; its prompt is not the user's, and its model,
    context and window are not the session's."""
    data = reading.data
    kept = data["model"], data["call_ctx"], data["window"]
    if etype == "user.message":
        sent = ev.get("transformedContent") or ev.get("content")
        if isinstance(sent, str):
            reading.add_text(O_IN, sent)
    elif etype == "session.usage_record":
        _on_usage_record(data, ev, ts)
    elif etype == "assistant.message":
        _on_reply(reading, ev)
    elif etype == "tool.execution_start":
        _on_tool_start(data, ev)
    elif etype == "tool.execution_complete":
        _on_tool_done(reading, ev, ts)
    elif etype == "session.error":
        _on_session_event(reading, etype, ev, ts)
    data["model"], data["call_ctx"], data["window"] = kept


def _yaml_scalar(raw: str) -> str:
    """A one-line YAML scalar as Copilot writes it: plain, 'single' or "double" quoted."""
    raw = raw.strip()
    if len(raw) >= 2 and raw[0] == raw[-1] == '"':
        try:
            value = orjson.loads(raw)
        except ValueError:
            return raw[1:-1]
        return value if isinstance(value, str) else raw[1:-1]
    if len(raw) >= 2 and raw[0] == raw[-1] == "'":
        return raw[1:-1].replace("''", "'")
    return raw


def given_name(workspace: Path) -> str | None:
    """``name`` from a session's ``workspace.yaml`` when ``user_named: true``, else None."""
    try:  # a FIFO, device or oversize file here is ignored, never waited on or read whole
        raw = read_regular(workspace, WORKSPACE_YAML_MAX)
    except OSError:
        return None
    text = raw.decode("utf-8", "replace") if raw is not None else ""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key in ("name", "user_named") and not key.startswith(" "):
            fields[key] = _yaml_scalar(value)
    name = " ".join(fields.get("name", "").split())
    return title_from(name) if name and fields.get("user_named") == "true" else None


def _read_lines(fh: Any, offset: int, reading: _Reading) -> int:
    """Fold every complete line from ``offset``; returns the offset after the last one."""

    return fold_lines(fh, offset, reading, apply_event, _bad_event_line)


def _bad_event_line(reading: _Reading) -> None:
    reading.data["skipped"] += 1


def _finish_tail(fh: Any, offset: int, reading: _Reading) -> int:
    """The half-written last line rule (see ``jsonl.read_tail``)."""
    offset, reading.data["tail_partial"] = read_tail(fh, offset, reading, apply_event)
    return offset


# ---------------------------------------------------------------------------------------------------
# Finding the files


def _session_files(state_dir: Path) -> Iterator[tuple[str, str, os.stat_result]]:
    """(path, session id, stat) of ``<id>/events.jsonl`` and legacy flat ``<id>.jsonl`` files: one
    folder level, so a symlink loop below cannot make the walk go on; regular files only."""
    for entry in scandir(state_dir):
        try:
            if entry.is_dir():
                events = os.path.join(entry.path, "events.jsonl")
                try:
                    st = os.stat(events)
                except OSError:
                    continue
                if stat.S_ISREG(st.st_mode):
                    yield events, entry.name, st
            elif entry.name.endswith(".jsonl") and entry.is_file():
                yield entry.path, entry.name[:-6], entry.stat()
        except OSError:
            continue


def _priority(path: str) -> tuple[int, int]:
    """Lower is preferred: ``session-state`` before ``history-session-state``, a per-session folder's
    ``events.jsonl`` before a legacy flat file."""
    parts = Path(path).parts
    where = 0 if "session-state" in parts else 1
    return (where, 0 if parts[-1] == "events.jsonl" else 1)


class CopilotCliReader:
    name = AGENT
    parser_version = 6  # 6: call_hist (each usage record at its own minute, for reports)

    def __init__(self, copilot_home: Path) -> None:
        self.copilot_home = copilot_home

    @classmethod
    def from_paths(cls, paths: Paths) -> CopilotCliReader:
        """``COPILOT_HOME`` when set (Copilot CLI's own override), else ``~/.copilot``."""
        raw = paths.env.get("COPILOT_HOME", "").strip()
        return cls(Path(raw).expanduser() if raw else paths.home / ".copilot")

    def state_dirs(self) -> list[Path]:
        return [self.copilot_home / name for name in STATE_DIRS]

    def roots(self) -> list[tuple[str, bool]]:
        return [(str(d), d.is_dir()) for d in self.state_dirs()]

    def sources(self) -> Iterable[tuple[str, str, tuple[int, int, int, int]]]:
        seen: set[tuple[int, int]] = set()
        for state_dir in self.state_dirs():
            for path, key, st in _session_files(state_dir):
                ident = (st.st_dev, st.st_ino)
                if ident not in seen:
                    seen.add(ident)
                    yield path, key, file_identity(st)

    def read(self, path: str, session_key: str, prior: FileState | None) -> FileState:
        with open_regular(path) as fh:
            identity = file_identity(os.fstat(fh.fileno()))
            head = blake2b(fh.read(HEAD_BYTES), digest_size=16).digest()
            if prior is None or needs_full_read(prior, identity, head):
                data, offset = new_data(), 0
            else:
                data, offset = cast(CopilotCliData, prior.data), prior.offset
            reading = _Reading(data)
            offset = _read_lines(fh, offset, reading)
            offset = _finish_tail(fh, offset, reading)
            reading.finish()
        if os.path.basename(path) == "events.jsonl":
            data["given_name"] = given_name(Path(path).parent / "workspace.yaml")
        return FileState(str(path), session_key, identity, offset, head, cast(dict[str, Any], data))

    def sessions(self, states: Sequence[FileState]) -> list[Session]:
        chosen: dict[str, FileState] = {}
        for state in states:
            old = chosen.get(state.session_key)
            if old is None or _priority(state.path) < _priority(old.path):
                chosen[state.session_key] = state
        return [build_session(key, state) for key, state in chosen.items()]


# ---------------------------------------------------------------------------------------------------
# Building a session


def _per_model(data: CopilotCliData) -> dict[str, list[int]]:
    """[input, output, cache_write, cache_read] per model: the usage records when the log has them, else
    the last shutdown's metrics plus the open segment after it."""
    if data["calls"]:
        return {m: list(r) for m, r in data["calls"].items() if any(r)}
    out: dict[str, list[int]] = {m: list(r) for m, r in data["closed"].items()}
    for model, row in data["open"].items():
        total = out.setdefault(model, [0, 0, 0, 0])
        total[C_IN] += row[O_IN]
        total[C_OUT] += row[O_OUT_EXACT] + row[O_OUT_COUNTED]
    return {m: r for m, r in out.items() if any(r)}


def _ts(value: str | None) -> datetime | None:
    return parse_ts(value) if value else None


def _recent(data: CopilotCliData, key: Literal["recent", "recent_api", "recent_int"]) -> list[Any]:
    last = _ts(data["last_ts"])
    if last is None:
        return []
    start = canonical_ts((last - RECENT_WINDOW).isoformat()) or ""
    rows: list[Any] = data[key]
    return [r for r in rows if ((r[0] if isinstance(r, list) else r) or "") >= start]


def build_session(key: str, state: FileState) -> Session:
    from llm_session_manager.models import (  # not at import: listing files needs no models
        ModelTokens,
        Session,
        TokenUsage,
    )

    data = cast(CopilotCliData, state.data)
    per_model = _per_model(data)
    totals = [sum(r[i] for r in per_model.values()) for i in range(4)]
    models = tuple(sorted(per_model, key=lambda m: -sum(per_model[m])))
    native = data["sid"] or key
    ctx = data["call_ctx"] or data["ctx"]
    return Session(
        id=f"{AGENT}:{native}",
        agent=AGENT,
        native_id=native,
        title=data.get("given_name") or data["title"] or data["first_prompt"],
        project_path=data["cwd"],
        git_branch=data["branch"],
        model=data["model"] or (models[0] if models and models[0] != UNKNOWN_MODEL else None),
        models=tuple(m for m in models if m != UNKNOWN_MODEL),
        started_at=_ts(data["first_ts"]),
        last_activity=_ts(data["last_ts"]),
        tokens=TokenUsage(
            totals[C_IN],
            totals[C_OUT],
            totals[C_CW],
            totals[C_CR],
            "counted" if data["open_activity"] and not data["calls"] else "exact",
        ),
        context_tokens=int(ctx[0]) if ctx else None,
        context_window=data["window"],
        context_window_source="log" if data["window"] else "",
        messages_user=data["prompts"],
        messages_assistant=data["replies"],
        tool_calls=data["tool_calls"],
        tool_errors=data["tool_errors"],
        api_errors=data["api_errors"],
        interruptions=data["interruptions"],
        compactions=data["compactions"],
        skipped_lines=data["skipped"] + (1 if data["tail_partial"] else 0),
        transcript_paths=(state.path,),
        recent_tool_results=tuple(bool(r[1]) for r in _recent(data, "recent")),
        recent_api_errors=len(_recent(data, "recent_api")),
        recent_interruptions=len(_recent(data, "recent_int")),
        turns_since_compaction=data["turns_since_compaction"],
        last_compaction_at=_ts(data["last_compaction_ts"]),
        peak_context_tokens=None,
        model_usage=tuple(ModelTokens(m, r[C_IN], r[C_OUT], r[C_CW], r[C_CR]) for m, r in per_model.items()),
        usage_history=_history(data, _ts(data["last_ts"])),
    )


def _history(
    data: CopilotCliData, last: datetime | None
) -> tuple[tuple[int, str, int, int, int, int, int], ...]:
    """Each usage record's tokens at its own minute (one without a time: at the last activity); none
    when the log has no usage records (the shutdown's totals then count whole at the last activity)."""
    if not data["calls"]:
        return ()
    fallback = int(last.timestamp() // 60) if last else None
    rows: dict[tuple[int, str], list[int]] = {}
    for key, counts in data["call_hist"].items():
        minute_text, _, model = key.partition(" ")
        minute = int(minute_text) if int(minute_text) >= 0 else fallback
        if minute is None:
            continue
        row = rows.setdefault((minute, model), [0, 0, 0, 0])
        for i, value in enumerate(counts):
            row[i] += value
    return tuple((m, model, r[0], r[1], r[2], r[3], 0) for (m, model), r in sorted(rows.items()))


# ---------------------------------------------------------------------------------------------------
# The conversation itself, for export (read on demand, never cached).
#
# ``user.message`` -> a user turn (``content``, what the user typed, not ``transformedContent``);
# ``assistant.message`` -> an assistant turn (``content``; ``toolRequests[]`` {toolCallId, name, arguments}
# as its tool calls; the model is the one in use: ``session.start``/``session.model_change``/the event's
# own ``model``); ``tool.execution_complete`` -> a tool result on the turn that made the call (a call only
# seen in ``tool.execution_start`` is added to the latest reply); ``session.compaction_complete`` -> a
# ``system`` turn ``[conversation compacted]``; ``abort`` -> ``[interrupted by the user]``;
# ``session.error`` -> ``[API error] <message>``.


class _Conversation:
    """The turns built so far, the model in use, and which turn holds each tool call."""

    def __init__(self) -> None:
        self.turns: list[Turn] = []
        self.model: str | None = None
        self.owner: dict[str, Turn] = {}

    def system(self, ts: str | None, text: str) -> None:
        self.turns.append({"role": "system", "timestamp": ts, "text": text})

    def reply_turn(self, ts: str | None) -> Turn:
        """The latest turn when it is a reply, else a new empty reply (for a tool with no reply seen)."""
        if self.turns and self.turns[-1]["role"] == "assistant":
            return self.turns[-1]
        turn: Turn = {"role": "assistant", "timestamp": ts, "text": "", "model": self.model}
        self.turns.append(turn)
        return turn

    def add_call(self, turn: Turn, call_id: Any, name: Any, args: Any) -> None:
        turn.setdefault("tool_calls", []).append({"id": call_id, "name": name, "input": args})
        if isinstance(call_id, str):
            self.owner[call_id] = turn


def _tool_output(ev: dict[str, Any]) -> str:
    """``result.content`` (or ``detailedContent``), else ``error.message``, of a finished tool call."""
    result = ev.get("result")
    if isinstance(result, dict):
        for key in ("content", "detailedContent"):
            if isinstance(result.get(key), str):
                return str(result[key])
    error = ev.get("error")
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return str(error["message"])
    if isinstance(error, str):
        return error
    return orjson.dumps(result).decode() if result is not None else ""


def _conv_reply(conv: _Conversation, ev: dict[str, Any], ts: str | None) -> None:
    conv.model = model_name(ev.get("model")) or conv.model
    content = ev.get("content")
    turn: Turn = {
        "role": "assistant",
        "timestamp": ts,
        "text": content if isinstance(content, str) else "",
        "model": conv.model,
    }
    conv.turns.append(turn)
    requests = ev.get("toolRequests")
    for req in requests if isinstance(requests, list) else ():
        if isinstance(req, dict):
            conv.add_call(turn, req.get("toolCallId"), req.get("name"), req.get("arguments"))
    if not turn["text"] and "tool_calls" not in turn:
        conv.turns.pop()  # an empty reply (only reasoning, or nothing): not part of the conversation


def _conv_tool_start(conv: _Conversation, ev: dict[str, Any], ts: str | None) -> None:
    call_id = ev.get("toolCallId")
    if isinstance(call_id, str) and call_id in conv.owner:
        return
    conv.add_call(conv.reply_turn(ts), call_id, ev.get("toolName"), ev.get("arguments"))


def _conv_tool_done(conv: _Conversation, ev: dict[str, Any], ts: str | None) -> None:
    conv.model = model_name(ev.get("model")) or conv.model
    call_id = ev.get("toolCallId")
    turn = conv.owner.get(call_id) if isinstance(call_id, str) else None
    if turn is None:
        turn = conv.reply_turn(ts)
    result: ToolResult = {
        "tool_use_id": call_id,
        "is_error": ev.get("success") is False,
        "content": _tool_output(ev),
    }
    turn.setdefault("tool_results", []).append(result)


def _conv_session(conv: _Conversation, etype: str, ev: dict[str, Any], ts: str | None) -> None:
    if etype in ("session.start", "session.resume"):
        context = ev.get("context")
        start_model = context.get("model") if isinstance(context, dict) else None
        conv.model = model_name(ev.get("selectedModel")) or model_name(start_model) or conv.model
    elif etype == "session.model_change":
        conv.model = model_name(ev.get("newModel")) or conv.model
    elif etype == "session.compaction_complete" and ev.get("success") is not False:
        conv.system(ts, "[conversation compacted]")
    elif etype == "session.error":
        message = ev.get("message")
        conv.system(ts, f"[API error] {message}" if isinstance(message, str) and message else "[API error]")


def _conv_event(conv: _Conversation, obj: dict[str, Any]) -> None:
    etype, ev = obj.get("type"), obj.get("data")
    if not isinstance(etype, str) or not isinstance(ev, dict):
        return
    ts = canonical_ts(obj.get("timestamp"))
    if etype.startswith("session."):
        _conv_session(conv, etype, ev, ts)
    elif etype == "user.message":
        content = ev.get("content")
        if isinstance(content, str) and content.strip():
            conv.turns.append({"role": "user", "timestamp": ts, "text": content})
    elif etype == "assistant.message":
        _conv_reply(conv, ev, ts)
    elif etype == "tool.execution_start":
        _conv_tool_start(conv, ev, ts)
    elif etype == "tool.execution_complete":
        _conv_tool_done(conv, ev, ts)
    elif etype == "abort":
        conv.system(ts, "[interrupted by the user]")


def read_conversation(paths: Sequence[str], native_id: str | None = None) -> list[Turn]:
    """Prompts, replies, tool calls and their results of a Copilot CLI session, in order."""
    conv = _Conversation()
    for path in paths:
        with open_regular(path) as fh:
            for raw in fh:
                try:
                    obj = orjson.loads(raw)
                except ValueError:
                    continue  # a corrupt or half-written line
                if isinstance(obj, dict):
                    _conv_event(conv, obj)
    return conv.turns


# ---------------------------------------------------------------------------------------------------
# What lsm knows about Copilot CLI

INFO = AgentInfo(
    name=AGENT,
    display_name="Copilot CLI",
    reader=lambda setup: CopilotCliReader.from_paths(setup.paths),
    signature=AgentSignature(
        agent=AGENT,
        # npm: `node …/@github/copilot/npm-loader.js` (or the `copilot` bin symlink) spawnSync's the
        # native …/@github/copilot-<platform>-<arch>/copilot, the agent; the loader is its wrapper.
        programs=frozenset({"copilot"}),
        interpreters=frozenset({"node", "nodejs"}),
        script_suffixes=("@github/copilot/npm-loader.js", "@github/copilot/index.js"),
        script_names=frozenset({"copilot"}),
        deny_flags=frozenset({"--acp"}),
        # Its utilities, and the subcommands of AWS's unrelated `copilot` CLI.
        deny_subcommands=frozenset(
            {"login", "logout", "help", "update", "version", "plugin", "mcp", "init"}
            | {"app", "env", "svc", "job", "pipeline", "deploy", "task", "storage", "secret", "docs"}
            | {"completion", "run"}
        ),
        options_before_subcommand=True,
        value_options=frozenset({"--model", "-p", "--prompt", "--config-dir", "--log-dir", "--log-level"})
        | frozenset({"--add-dir", "--agent", "--allow-tool", "--deny-tool"}),
    ),
    resume=("copilot", "--resume"),
    conversation=read_conversation,
)
