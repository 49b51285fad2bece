"""Cline tasks, and those of its forks Roo Code and Kilo Code: one task = one session.

A task is a folder ``<storage>/tasks/<task id>/`` where ``<storage>`` is the extension's global storage
in a VS Code-like editor's user folder (``<User>/globalStorage/saoudrizwan.claude-dev``, Roo Code's
``rooveterinaryinc.roo-cline``, Kilo Code's ``kilocode.kilo-code``) or, for the Cline CLI and newer
Cline builds, ``~/.cline/data`` (``CLINE_DATA_DIR``, or ``$CLINE_DIR/data``). In it:

- ``ui_messages.json``: a JSON array of ``{ts (ms), type: "say"|"ask", say|ask, text, …}``, rewritten
  whole as the task runs. ``say == "api_req_started"`` entries carry ``text`` = a JSON string
  ``{request, tokensIn, tokensOut, cacheWrites, cacheReads, cost, cancelReason?, apiProtocol?}``: one
  API request each, with the provider's own token counts (exact);
- ``task_metadata.json`` (Cline): ``model_usage: [{ts, model_id, model_provider_id, mode}]``, an entry
  each time the model changes;
- ``api_conversation_history.json``: the messages sent to the model; read (by byte search, not parsed)
  only for a Roo/Kilo task without metadata, for the ``<model>`` tag and working directory of its
  environment details.

``tokensIn`` is the uncached input: Cline's providers all report it that way ("Anthropic semantic"),
with ``cacheWrites``/``cacheReads`` apart. Roo and Kilo write ``apiProtocol``; with ``"openai"`` their
``tokensIn`` includes the cached tokens, which are then subtracted. Every file is re-read whole when it
changes.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict, cast

import orjson

from llm_session_manager.agents.base import AgentInfo, FileState, Turn
from llm_session_manager.agents.common import (
    count_or,
    epoch_ms,
    file_identity,
    open_regular,
    scandir,
    title_from,
    valid_or_none,
)
from llm_session_manager.agents.jsonl import LINE_ERRORS
from llm_session_manager.digest import blake2b
from llm_session_manager.fileio import read_regular
from llm_session_manager.paths import Paths, xdg_config_home

if TYPE_CHECKING:
    from llm_session_manager.models import Session

AGENT = "cline"
UI_FILE = "ui_messages.json"
META_FILE = "task_metadata.json"
API_FILE = "api_conversation_history.json"
HEAD_BYTES = 256
META_MAX = 16 * 1024 * 1024  # task_metadata.json: models and files of one task
RECENT_KEEP = 10
RECENT_WINDOW = timedelta(minutes=30)
BURN_HISTORY_MS = 60 * 60 * 1000  # usage kept per minute for burn rates, before the last activity
CTX_HISTORY = 30  # context points kept (since the last compaction) for the time-to-compaction projection

# Extension folder -> (short name, title prefix). Roo Code and Kilo Code keep Cline's task format.
EXTENSIONS: dict[str, tuple[str, str]] = {
    "saoudrizwan.claude-dev": ("cline", ""),
    "rooveterinaryinc.roo-cline": ("roo", "[Roo Code] "),
    "kilocode.kilo-code": ("kilo", "[Kilo Code] "),
}
EXTENSIONS_BY_SHORT: dict[str, str] = {short: prefix for short, prefix in EXTENSIONS.values()}
# `lsm info` always lists the first roots (Cline's data folder, VS Code's three extension folders).
ALWAYS_SHOWN = 1 + len(EXTENSIONS)
# VS Code and the editors built on it: the folder under the config dir that holds ``User``.
EDITORS = ("Code", "Code - Insiders", "VSCodium", "Cursor", "Windsurf", "Positron")
# Remote/server installs: ``~/<dir>/data/User``.
SERVER_DIRS = (".vscode-server", ".vscode-server-insiders", ".cursor-server", ".windsurf-server")

TOOL_ASKS = frozenset({"tool", "command", "use_mcp_server", "browser_action_launch"})
TOOL_SAYS = frozenset({"tool", "command", "use_mcp_server", "browser_action"})
TOOL_ERROR_SAYS = frozenset({"error", "diff_error", "clineignore_error", "rooignore_error"})
COMPACTION_SAYS = frozenset({"condense_context", "sliding_window_truncation"})

_CWD = re.compile(r"# Current (?:Working|Workspace) Directory \(([^\n]*?)\) Files")
_CWD_BYTES = re.compile(rb"# Current (?:Working|Workspace) Directory \(((?:[^\\\n]|\\.)*?)\) Files")
_MODEL_TAG = re.compile(r"<model>([^<\n]{1,200})</model>")


# ---------------------------------------------------------------------------------------------------
# Where tasks live


def user_dirs(paths: Paths) -> list[Path]:
    """VS Code-like ``User`` folders for this platform (existing or not)."""
    home, env = paths.home, paths.env
    dirs = [xdg_config_home(env, home) / e / "User" for e in EDITORS]
    dirs += [home / d / "data" / "User" for d in SERVER_DIRS]
    if sys.platform == "darwin":
        dirs += [home / "Library" / "Application Support" / e / "User" for e in EDITORS]
    appdata = env.get("APPDATA")
    if appdata:
        dirs += [Path(appdata) / e / "User" for e in EDITORS]
    portable = env.get("VSCODE_PORTABLE")
    if portable:
        dirs.append(Path(portable) / "user-data" / "User")
    return dirs


def _expand(value: str, home: Path) -> Path:
    """``~`` means ``home`` (the environment lsm was given, never the process's own)."""
    if value == "~" or value.startswith(("~/", "~" + os.sep)):
        return home / value[2:]
    return Path(value)


def cline_data_dir(paths: Paths) -> Path:
    """The Cline CLI's data folder: ``CLINE_DATA_DIR``, else ``$CLINE_DIR/data``, else ``~/.cline/data``."""
    data = paths.env.get("CLINE_DATA_DIR", "").strip()
    if data:
        return _expand(data, paths.home)
    base = paths.env.get("CLINE_DIR", "").strip()
    return (_expand(base, paths.home) if base else paths.home / ".cline") / "data"


def task_roots(paths: Paths) -> list[tuple[Path, str]]:
    """(tasks folder, extension id) for every place a task may be, first the most likely."""
    roots = [(cline_data_dir(paths) / "tasks", "saoudrizwan.claude-dev")]
    for user in user_dirs(paths):
        for ext in EXTENSIONS:
            roots.append((user / "globalStorage" / ext / "tasks", ext))
    return roots


def extension_of(path: str) -> str:
    """The short extension name ("cline", "roo", "kilo") a task file belongs to, from its path."""
    for folder, (short, _prefix) in EXTENSIONS.items():
        if f"{os.sep}{folder}{os.sep}" in path or f"/{folder}/" in path:
            return short
    return "cline"


# ---------------------------------------------------------------------------------------------------
# ui_messages.json


class UiData(TypedDict):
    """What is kept of a task's ``ui_messages.json`` (``FileState.data``); see ``new_ui``. Times are
    epoch milliseconds, as Cline writes them."""

    kind: str  # "ui"
    ext: str
    reqs: list[list[Any]]
    first_ts: int | None
    last_ts: int | None
    title: str | None
    prompts: int
    since_compaction: int
    assistant: int
    tool_calls: int
    tool_errors: int
    api_errors: int
    interruptions: int
    compactions: int
    cwd: str | None
    ctx: int | None
    peak: int
    ctx_hist: list[list[Any]]
    last_compaction_ts: int | None
    recent_api: list[int | None]
    recent_int: list[int | None]
    skipped: int
    broken: bool


class MetaData(TypedDict):
    """``task_metadata.json``: the models the task used, ``[[ts, model_id], …]`` by time."""

    kind: str  # "meta"
    models: list[list[Any]]
    skipped: int
    broken: bool


class ApiData(TypedDict):
    """``api_conversation_history.json``: the last model tag and the first working directory."""

    kind: str  # "api"
    model: str | None
    cwd: str | None
    skipped: int
    broken: bool


def new_ui(ext: str) -> UiData:
    return {
        "kind": "ui",
        "ext": ext,
        "reqs": [],  # [ts, input (uncached), output, cache_creation, cache_read, model or None]
        "first_ts": None,
        "last_ts": None,
        "title": None,
        "prompts": 0,
        "since_compaction": 0,
        "assistant": 0,
        "tool_calls": 0,
        "tool_errors": 0,
        "api_errors": 0,
        "interruptions": 0,
        "compactions": 0,
        "cwd": None,
        "ctx": None,
        "peak": 0,
        "ctx_hist": [],  # [ts, context tokens] after each request since the last compaction
        "last_compaction_ts": None,
        "recent_api": [],
        "recent_int": [],
        "skipped": 0,
        "broken": False,
    }


def _ts(value: Any) -> int | None:
    """A message's time in epoch milliseconds, None when absent; ValueError when out of range."""
    return None if value is None else epoch_ms(value)


def _push(items: list[Any], value: Any, keep: int = RECENT_KEEP) -> None:
    items.append(value)
    if len(items) > keep:
        del items[: len(items) - keep]


def _prompt(data: UiData, text: Any) -> None:
    data["prompts"] += 1
    data["since_compaction"] += 1
    if data["title"] is None and isinstance(text, str) and text.strip():
        data["title"] = title_from(text)


def _model_of(msg: dict[str, Any]) -> str | None:
    info = msg.get("modelInfo")
    model = info.get("modelId") if isinstance(info, dict) else None
    return model if isinstance(model, str) and model else None


def _request(data: UiData, msg: dict[str, Any], ts: int | None, model: str | None) -> None:
    """One ``api_req_started`` (or old ``api_req_finished``) entry: its text is a JSON object."""
    text = msg.get("text")
    if not isinstance(text, str) or not text.strip():
        return
    try:
        info = orjson.loads(text)
    except ValueError:
        data["skipped"] += 1
        return
    if not isinstance(info, dict):
        data["skipped"] += 1
        return
    # The counts first: one out of range skips the whole message before anything is recorded.
    tin, tout = count_or(info.get("tokensIn")), count_or(info.get("tokensOut"))
    cw, cr = count_or(info.get("cacheWrites")), count_or(info.get("cacheReads"))
    request = info.get("request")
    if isinstance(request, str):
        _note_request_text(data, request)
        if model is None and data["ext"] != "cline":
            tags = _MODEL_TAG.findall(request)
            model = tags[-1].strip() if tags else None
    if info.get("apiProtocol") == "openai":
        tin = max(0, tin - cw - cr)  # Roo/Kilo: OpenAI-style input includes the cached tokens
    cancel = info.get("cancelReason")
    if cancel == "user_cancelled":
        data["interruptions"] += 1
        _push(data["recent_int"], ts)
    elif cancel == "streaming_failed":
        data["api_errors"] += 1
        _push(data["recent_api"], ts)
    if tin + tout + cw + cr == 0:
        return  # not answered yet, or cancelled before any usage arrived
    data["reqs"].append([ts, tin, tout, cw, cr, model])
    if tout:
        data["assistant"] += 1
    ctx = tin + cw + cr
    if ctx:
        data["ctx"] = ctx
        data["peak"] = max(data["peak"], ctx)
        _push(data["ctx_hist"], [ts, ctx], CTX_HISTORY)


def _note_request_text(data: UiData, request: str) -> None:
    if data["cwd"] is None and "Directory (" in request:
        match = _CWD.search(request)
        if match and match.group(1).strip():
            data["cwd"] = match.group(1).strip()


def _say(data: UiData, msg: dict[str, Any], say: Any, ts: int | None, first: bool) -> None:
    # Roo Code opens a task with a "text" message; Cline with "task".
    if say in ("task", "user_feedback") or (first and say == "text"):
        _prompt(data, msg.get("text"))
    elif say in TOOL_SAYS:
        data["tool_calls"] += 1
    elif say in TOOL_ERROR_SAYS:
        data["tool_errors"] += 1
    elif say in COMPACTION_SAYS:
        condense = msg.get("contextCondense")
        new_ctx = count_or(condense.get("newContextTokens")) if isinstance(condense, dict) else 0
        data["compactions"] += 1
        data["since_compaction"] = 0
        data["last_compaction_ts"] = ts
        data["ctx_hist"] = [[ts, new_ctx]] if new_ctx and ts is not None else []
        if new_ctx:
            data["ctx"] = new_ctx


def _ask(data: UiData, ask: Any, ts: int | None) -> None:
    if ask in TOOL_ASKS:
        data["tool_calls"] += 1
    elif ask == "api_req_failed":
        data["api_errors"] += 1
        _push(data["recent_api"], ts)


def fold_ui(data: UiData, messages: Any) -> None:
    """Fold the message array of ``ui_messages.json`` into ``data``."""
    if not isinstance(messages, list):
        data["broken"] = True
        return
    model: str | None = None  # the last model a message named (newer Cline: ``modelInfo``)
    for index, msg in enumerate(messages):
        if not isinstance(msg, dict):
            data["skipped"] += 1
            continue
        model = _model_of(msg) or model
        try:
            _fold_message(data, msg, index, model)
        except LINE_ERRORS:
            data["skipped"] += 1  # a message with a figure out of range costs that message only


def _fold_message(data: UiData, msg: dict[str, Any], index: int, model: str | None) -> None:
    ts = _ts(msg.get("ts"))
    if ts is not None:
        data["first_ts"] = ts if data["first_ts"] is None else min(data["first_ts"], ts)
        data["last_ts"] = ts if data["last_ts"] is None else max(data["last_ts"], ts)
    kind = msg.get("type")
    if kind == "say":
        say = msg.get("say")
        if say in ("api_req_started", "api_req_finished"):
            _request(data, msg, ts, model)
        else:
            _say(data, msg, say, ts, index == 0)
    elif kind == "ask":
        _ask(data, msg.get("ask"), ts)


# ---------------------------------------------------------------------------------------------------
# task_metadata.json and api_conversation_history.json


def fold_meta(raw: bytes) -> MetaData:
    """``model_usage`` as ``[[ts, model_id], …]`` ordered by time."""
    data: MetaData = {"kind": "meta", "models": [], "skipped": 0, "broken": False}
    try:
        obj = orjson.loads(raw)
    except ValueError:
        data["broken"] = True
        return data
    usage = obj.get("model_usage") if isinstance(obj, dict) else None
    for entry in usage if isinstance(usage, list) else []:
        if not isinstance(entry, dict):
            continue
        model, ts = entry.get("model_id"), valid_or_none(epoch_ms, entry.get("ts"))
        if isinstance(model, str) and model and ts is not None:
            data["models"].append([ts, model])
    data["models"].sort(key=lambda e: e[0])
    return data


def fold_api(raw: bytes) -> ApiData:
    """The last ``<model>`` tag and the first working directory in the conversation's environment
    details, found by byte search (the file is the whole conversation and is not parsed)."""
    data: ApiData = {"kind": "api", "model": None, "cwd": None, "skipped": 0, "broken": False}
    start = raw.rfind(b"<model>")
    if start >= 0:
        end = raw.find(b"</model>", start, start + 260)
        model = raw[start + 7 : end].decode("utf-8", "replace").strip() if end > 0 else ""
        data["model"] = model or None
    match = _CWD_BYTES.search(raw)
    if match:
        try:
            cwd = orjson.loads(b'"' + match.group(1) + b'"')  # undo the JSON string escapes
        except ValueError:
            cwd = match.group(1).decode("utf-8", "replace")
        data["cwd"] = (cwd.strip() or None) if isinstance(cwd, str) else None
    return data


def read_task_file(path: str, raw: bytes, prior: FileState | None) -> UiData | MetaData | ApiData:
    """The state of one task file from its bytes. A ``ui_messages.json`` that is not valid JSON (caught
    while being rewritten) keeps what was read before, marked broken (one skipped entry)."""
    name = os.path.basename(path)
    if name == META_FILE:
        return fold_meta(raw)
    if name == API_FILE:
        return fold_api(raw)
    data = new_ui(extension_of(path))
    try:
        messages = orjson.loads(raw)
    except ValueError:
        if prior is not None and prior.data.get("kind") == "ui":
            data = cast(UiData, dict(prior.data))
        data["broken"] = True
        return data
    fold_ui(data, messages)
    return data


# ---------------------------------------------------------------------------------------------------
# Merging a task's files into a session


def model_at(models: Sequence[Sequence[Any]], ts: int | None) -> str | None:
    """The model of the last ``model_usage`` entry at or before ``ts`` (the first one when the request
    is older than every entry)."""
    if not models:
        return None
    if ts is None:
        return str(models[-1][1])
    found = models[0][1]
    for entry_ts, model in models:
        if entry_ts > ts:
            break
        found = model
    return str(found)


def _utc(ms: int | None) -> datetime | None:
    return datetime.fromtimestamp(ms / 1000, timezone.utc) if ms is not None else None


def _count_recent(stamps: Iterable[int | None], last_ms: int | None) -> int:
    if last_ms is None:
        return 0
    start = last_ms - int(RECENT_WINDOW.total_seconds() * 1000)
    return sum(1 for t in stamps if t is not None and t >= start)


def _totals(per_model: dict[str, list[int]]) -> tuple[int, int, int, int]:
    rows = list(per_model.values())
    return (
        sum(r[0] for r in rows),
        sum(r[1] for r in rows),
        sum(r[2] for r in rows),
        sum(r[3] for r in rows),
    )


def build_session(key: str, files: Sequence[FileState]) -> Session | None:
    from llm_session_manager.models import (  # not at import: listing files needs no models
        ModelTokens,
        Session,
        TokenUsage,
    )

    ui_state = next((f for f in files if f.data.get("kind") == "ui"), None)
    if ui_state is None:
        return None  # metadata without messages: nothing to show
    ui = cast(UiData, ui_state.data)
    meta: list[list[Any]] = next((f.data["models"] for f in files if f.data.get("kind") == "meta"), [])
    api = next((f.data for f in files if f.data.get("kind") == "api"), {})
    fallback = api.get("model") if isinstance(api.get("model"), str) else None
    per_model: dict[str, list[int]] = {}
    buckets: dict[tuple[int, str], list[int]] = {}
    # Every request's tokens at the minute Cline timed it (a request without a time: at the last
    # activity), for usage reports; the hour before the last activity again for burn rates.
    history: dict[tuple[int, str], list[int]] = {}
    burn_start = (ui["last_ts"] or 0) - BURN_HISTORY_MS
    latest: str | None = None
    for ts, tin, tout, cw, cr, model in ui["reqs"]:
        name = model or model_at(meta, ts) or fallback or "unknown"
        rows = [per_model.setdefault(name, [0, 0, 0, 0])]
        when = ts if ts is not None else ui["last_ts"]
        if when is not None:
            rows.append(history.setdefault((when // 60_000, name), [0, 0, 0, 0]))
        if ts is not None and ts >= burn_start:
            rows.append(buckets.setdefault((ts // 60_000, name), [0, 0, 0, 0]))
        for row in rows:
            row[0] += tin
            row[1] += tout
            row[2] += cw
            row[3] += cr
        latest = name
    models = sorted((m for m in per_model if m != "unknown"), key=lambda m: -sum(per_model[m]))
    if latest == "unknown":
        latest = None
    latest = latest or (str(meta[-1][1]) if meta else None) or fallback
    prefix = EXTENSIONS_BY_SHORT.get(ui.get("ext", "cline"), "")
    title = f"{prefix}{ui['title']}" if ui.get("title") else (prefix.strip() or None)
    broken = sum(1 for f in files if f.data.get("broken"))
    return Session(
        id=f"{AGENT}:{key}",
        agent=AGENT,
        native_id=key,
        title=title,
        project_path=ui.get("cwd") or api.get("cwd"),
        git_branch=None,
        model=latest,
        models=tuple(models),
        started_at=_utc(ui["first_ts"]),
        last_activity=_utc(ui["last_ts"]),
        tokens=TokenUsage(*_totals(per_model), source="exact"),
        context_tokens=ui["ctx"],
        context_window=None,
        context_window_source="",
        messages_user=int(ui["prompts"]),
        messages_assistant=int(ui["assistant"]),
        tool_calls=int(ui["tool_calls"]),
        tool_errors=int(ui["tool_errors"]),
        api_errors=int(ui["api_errors"]),
        interruptions=int(ui["interruptions"]),
        compactions=int(ui["compactions"]),
        skipped_lines=int(ui["skipped"]) + broken,
        transcript_paths=tuple(sorted(f.path for f in files)),
        recent_api_errors=_count_recent(ui["recent_api"], ui["last_ts"]),
        recent_interruptions=_count_recent(ui["recent_int"], ui["last_ts"]),
        turns_since_compaction=int(ui["since_compaction"]),
        last_compaction_at=_utc(ui.get("last_compaction_ts")),
        peak_context_tokens=int(ui["peak"]) or None,
        model_usage=tuple(ModelTokens(m, *r) for m, r in per_model.items()),
        usage_buckets=tuple(
            (minute, m, r[0], r[1], r[2], r[3]) for (minute, m), r in sorted(buckets.items())
        ),
        usage_history=tuple(
            (minute, m, r[0], r[1], r[2], r[3], 0) for (minute, m), r in sorted(history.items())
        ),
        context_series=tuple((t // 1000, int(c)) for t, c in ui.get("ctx_hist") or [] if t is not None),
    )


# ---------------------------------------------------------------------------------------------------
# The reader


def _stat(path: str) -> os.stat_result | None:
    try:
        return os.stat(path)
    except OSError:
        return None


class ClineReader:
    """Tasks of Cline, Roo Code and Kilo Code in every editor's global storage and Cline's own data
    folder. Session ids are ``cline:<task id>``; Roo and Kilo titles start with "[Roo Code]" or
    "[Kilo Code]"."""

    name = AGENT
    parser_version = 3  # 3: usage_history (every request at its own minute, for reports)

    def __init__(self, roots: Sequence[tuple[str | Path, str]]) -> None:
        self.task_roots = tuple((str(p), ext) for p, ext in roots)

    @classmethod
    def from_paths(cls, paths: Paths) -> ClineReader:
        return cls(task_roots(paths))

    def roots(self) -> list[tuple[str, bool]]:
        """Where this reader looks, and whether each place exists (for `lsm info`): Cline's data folder
        and VS Code's three extension folders always, any other editor's only when it exists."""
        out = []
        for i, (root, _ext) in enumerate(self.task_roots):
            exists = os.path.isdir(root)
            if exists or i < ALWAYS_SHOWN:
                out.append((root, exists))
        return out

    def _task_dirs(self) -> Iterator[tuple[str, str]]:
        """``<root>/<task id>`` folders: one level, so a symlink loop below cannot make it go on."""
        for root, ext in self.task_roots:
            for entry in scandir(root):
                try:
                    if entry.is_dir():
                        yield entry.path, ext
                except OSError:
                    continue

    def sources(self) -> Iterable[tuple[str, str, tuple[int, int, int, int]]]:
        """(file, task id, stat) for each task's ``ui_messages.json``, its ``task_metadata.json`` and, for
        a Roo/Kilo task without metadata, its ``api_conversation_history.json``."""
        seen: set[tuple[int, int]] = set()
        for folder, ext in self._task_dirs():
            ui = os.path.join(folder, UI_FILE)
            st = _stat(ui)
            if st is None or (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            key = os.path.basename(folder)
            yield ui, key, file_identity(st)
            meta = os.path.join(folder, META_FILE)
            meta_st = _stat(meta)
            if meta_st is not None:
                yield meta, key, file_identity(meta_st)
            elif ext != "saoudrizwan.claude-dev":
                api = os.path.join(folder, API_FILE)
                api_st = _stat(api)
                if api_st is not None:
                    yield api, key, file_identity(api_st)

    def read(self, path: str | Path, session_key: str, prior: FileState | None) -> FileState:
        """Only a regular file is opened (a FIFO would block); the metadata file has a size cap."""
        with open_regular(path) as fh:
            identity = file_identity(os.fstat(fh.fileno()))
            raw = read_regular(path, META_MAX) if os.path.basename(path) == META_FILE else fh.read()
        raw = raw or b""
        data = read_task_file(str(path), raw, prior)
        head = blake2b(raw[:HEAD_BYTES], digest_size=16).digest()
        return FileState(str(path), session_key, identity, len(raw), head, cast(dict[str, Any], data))

    def sessions(self, states: Sequence[FileState]) -> list[Session]:
        by_task: dict[str, list[FileState]] = {}
        for state in states:
            by_task.setdefault(state.session_key, []).append(state)
        out = []
        for key, files in by_task.items():
            session = build_session(key, files)
            if session is not None:
                out.append(session)
        return out


# ---------------------------------------------------------------------------------------------------
# The conversation itself, for export (read on demand, never cached).
#
# Read from ``ui_messages.json`` (what the task's chat shows; ``api_conversation_history.json`` holds the
# same exchange buried in environment details and tool-result boilerplate). In order:
# - user: ``say: "task"``, ``say: "user_feedback"`` (answers and feedback), and Roo/Kilo's opening ``text``;
# - assistant: ``say: "text"``, ``say: "completion_result"``, ``ask: "followup"`` (``{question}``) and
#   ``ask: "plan_mode_respond"`` (``{response}``); everything said between two ``api_req_started`` entries
#   is one reply, its model from ``modelInfo``, ``task_metadata.json`` or the request's ``<model>`` tag;
# - tool calls (``say``/``ask``): ``tool`` (``{tool, …}``: name and the rest as input), ``command``
#   (``execute_command``), ``use_mcp_server`` and ``browser_action(_launch)``; Cline writes no call ids,
#   so each call's id is ``ui-<ts>``;
# - tool results: ``command_output``, ``mcp_server_response`` and ``browser_action_result`` for the
#   latest call; ``error``, ``diff_error`` and ``*ignore_error`` mark it failed (or, with no call
#   waiting, become a ``system`` turn ``[error] …``);
# - system: ``condense_context``/``sliding_window_truncation`` -> ``[conversation compacted]``,
#   ``ask: "api_req_failed"`` -> ``[API request failed] …``.

_CONV_RESULT_SAYS = frozenset({"command_output", "mcp_server_response", "browser_action_result"})


def _json_object(text: Any) -> dict[str, Any] | None:
    if not isinstance(text, str) or not text.startswith("{"):
        return None
    try:
        obj = orjson.loads(text)
    except ValueError:
        return None
    return obj if isinstance(obj, dict) else None


def _ui_tool_call(what: Any, text: Any) -> tuple[str, Any] | None:
    """(tool name, input) of a tool ``ask``/``say``, or None when the message is no tool call."""
    obj = _json_object(text)
    if what == "tool" and obj is not None:
        name = obj.get("tool")
        return (name if isinstance(name, str) else "tool"), {k: v for k, v in obj.items() if k != "tool"}
    if what == "command" and isinstance(text, str):
        return "execute_command", {"command": text}
    if what == "use_mcp_server":
        return "use_mcp_server", obj if obj is not None else text
    if what == "browser_action_launch":
        return "browser_action", {"action": "launch", "url": text}
    if what == "browser_action":
        return "browser_action", obj if obj is not None else text
    return None


def _ui_reply_text(msg: dict[str, Any], what: Any, kind: Any) -> str | None:
    """The text of an assistant message (a ``say`` text or result, or a question ``ask``), else None."""
    text = msg.get("text")
    if kind == "say" and what in ("text", "completion_result"):
        return text if isinstance(text, str) else None
    if kind == "ask" and what in ("followup", "plan_mode_respond"):
        obj = _json_object(text)
        if obj is not None:
            value = obj.get("question") if what == "followup" else obj.get("response")
            return value if isinstance(value, str) else None
        return text if isinstance(text, str) else None
    return None


class _UiConversation:
    """Turns built from the ui messages: the open reply collects texts, tool calls and results."""

    def __init__(self, models: Sequence[Sequence[Any]], fallback: str | None, ext: str) -> None:
        self.turns: list[Turn] = []
        self.reply: Turn | None = None
        self.models, self.fallback, self.ext = models, fallback, ext
        self.model: str | None = None  # the last model a message named (``modelInfo``) or a request's tag
        self.request_model: str | None = None

    def user(self, ts: str | None, text: Any) -> None:
        if isinstance(text, str) and text.strip():
            self.turns.append({"role": "user", "timestamp": ts, "text": text})
            self.reply = None

    def system(self, ts: str | None, text: str) -> None:
        self.turns.append({"role": "system", "timestamp": ts, "text": text})
        self.reply = None

    def request(self, msg: dict[str, Any], ts_ms: int | None) -> None:
        """An ``api_req_started``: what follows is the next reply, by the model of this request."""
        self.reply = None
        info = _json_object(msg.get("text")) or {}
        request = info.get("request")
        tags = _MODEL_TAG.findall(request) if isinstance(request, str) and self.ext != "cline" else []
        self.request_model = (
            self.model
            or (tags[-1].strip() if tags else None)
            or model_at(self.models, ts_ms)
            or self.fallback
        )

    def open_reply(self, ts: str | None, ts_ms: int | None) -> Turn:
        if self.reply is None:
            model = self.request_model or self.model or model_at(self.models, ts_ms) or self.fallback
            self.reply = {"role": "assistant", "timestamp": ts, "text": "", "model": model}
            self.turns.append(self.reply)
        return self.reply

    def result(self, ts: str | None, text: Any, error: bool) -> None:
        """A tool's output (or error) for the latest call of the open reply."""
        calls = self.reply.get("tool_calls") if self.reply is not None else None
        content = text if isinstance(text, str) else ""
        if not calls or self.reply is None:
            if error:
                self.system(ts, f"[error] {content}".rstrip())
            return
        call_id = calls[-1]["id"]
        results = self.reply.setdefault("tool_results", [])
        done = next((r for r in results if r["tool_use_id"] == call_id), None)
        if done is None:
            results.append({"tool_use_id": call_id, "is_error": error, "content": content})
        else:
            done["is_error"] = done["is_error"] or error
            done["content"] = "\n".join(c for c in (done["content"], content) if c)


def _iso_ms(ms: int | None) -> str | None:
    """A ``ts`` in milliseconds as ``YYYY-MM-DDTHH:MM:SS.mmmZ``."""
    try:
        dt = _utc(ms)
    except (OverflowError, OSError, ValueError):
        return None
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z" if dt is not None else None


def _ui_message(conv: _UiConversation, msg: dict[str, Any], first: bool) -> None:
    ts_ms = valid_or_none(epoch_ms, msg.get("ts"))  # export shows what it can
    ts = _iso_ms(ts_ms)
    conv.model = _model_of(msg) or conv.model
    kind, text = msg.get("type"), msg.get("text")
    what = msg.get("say") if kind == "say" else msg.get("ask")
    if kind == "say" and (what in ("task", "user_feedback") or (first and what == "text")):
        conv.user(ts, text)
    elif kind == "say" and what in ("api_req_started", "api_req_finished"):
        conv.request(msg, ts_ms)
    elif kind == "say" and what in COMPACTION_SAYS:
        conv.system(ts, "[conversation compacted]")
    elif kind == "ask" and what == "api_req_failed":
        conv.system(
            ts, f"[API request failed] {text}" if isinstance(text, str) and text else "[API request failed]"
        )
    elif what in _CONV_RESULT_SAYS:
        conv.result(ts, text, error=False)
    elif kind == "say" and what in TOOL_ERROR_SAYS:
        conv.result(ts, text, error=True)
    elif (reply := _ui_reply_text(msg, what, kind)) is not None:
        if reply.strip():
            turn = conv.open_reply(ts, ts_ms)
            turn["text"] = "\n\n".join(t for t in (turn["text"], reply) if t)
    elif (call := _ui_tool_call(what, text)) is not None:
        turn = conv.open_reply(ts, ts_ms)
        call_id = f"ui-{ts_ms}" if ts_ms is not None else f"ui-{len(conv.turns)}"
        turn.setdefault("tool_calls", []).append({"id": call_id, "name": call[0], "input": call[1]})


def _read(path: str) -> bytes:
    with open_regular(path) as fh:
        return fh.read()


def read_conversation(paths: Sequence[str], native_id: str | None = None) -> list[Turn]:
    """Prompts, replies, tool calls and tool outputs of a Cline / Roo Code / Kilo Code task, in order,
    from its ``ui_messages.json`` (models from ``task_metadata.json`` when the messages do not say)."""
    ui_path = next((p for p in paths if os.path.basename(p) == UI_FILE), None)
    if ui_path is None:
        return []
    models: list[list[Any]] = []
    fallback: str | None = None
    for path in paths:
        name = os.path.basename(path)
        if name == META_FILE:
            models = fold_meta(read_regular(path, META_MAX) or b"")["models"]
        elif name == API_FILE:
            fallback = fold_api(_read(path))["model"]
    try:
        messages = orjson.loads(_read(ui_path))
    except ValueError:
        return []  # caught while Cline rewrites it
    conv = _UiConversation(models, fallback, extension_of(ui_path))
    for index, msg in enumerate(messages if isinstance(messages, list) else ()):
        if isinstance(msg, dict):
            _ui_message(conv, msg, index == 0)
    return conv.turns


# ---------------------------------------------------------------------------------------------------
# What lsm knows about Cline

INFO = AgentInfo(
    name=AGENT,
    display_name="Cline",
    reader=lambda setup: ClineReader.from_paths(setup.paths),
    # No process of its own: it runs inside VS Code (and other editors), whose row stands for it.
    editor_hosted=True,
    conversation=read_conversation,
)
