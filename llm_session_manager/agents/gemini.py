"""Gemini CLI chats: ``~/.gemini/tmp/<project>/chats/session-<time>-<id8>.json`` (legacy: one JSON
document, rewritten on every change) and ``….jsonl`` (Gemini CLI >= 0.40, append-only). A sub-agent's
chat is ``chats/<parent session id>/<id>.jsonl`` and belongs to its parent session.

``<project>`` is a slug (``~/.gemini/projects.json`` maps project paths to slugs, and
``<project>/.project_root`` holds the path) or, in older versions, ``sha256(project path)``, which is also
every session's ``projectHash``. Roots: ``$GEMINI_DATA_DIR`` (ccusage's variable: comma-separated
directories laid out like ``~/.gemini/tmp``; a ``.gemini`` directory is accepted too), else
``$GEMINI_CLI_HOME/.gemini/tmp`` (Gemini CLI's own home override), else ``~/.gemini/tmp``.

Legacy document: ``{sessionId, projectHash, startTime, lastUpdated, summary?, kind?, messages: [...]}``.
JSONL, replayed as Gemini CLI's ``loadConversationRecord`` does: a header line ``{sessionId, projectHash,
startTime, kind}``; ``{"$set": {...}}`` metadata updates (``{"$set": {"messages": [...]}}`` replaces the
conversation: Gemini writes it when it compresses its history, or loads a session); ``{"$rewindTo": id}``
(the conversation goes back to before that message); message lines ``{id, timestamp, type:
"user"|"gemini"|"info"|"error"|"warning", content, model?, tokens?, toolCalls?}``. A message is re-written
under the same ``id`` as it grows (tokens, tool calls): the LAST line per id wins. A ``user`` line whose
content is only ``functionResponse`` parts carries tool results back to the model: not a prompt. On
``--resume`` Gemini CLI writes a header (or ``{"$set": {"sessionId"}}``) and ``$set`` messages that
restate the history in a reduced form (no tokens, tool calls or model): a message already written as
such keeps what was read from it, and this reload is not a compression.

Tokens of a ``gemini`` message, ``{input, output, cached, thoughts, tool, total}`` (Gemini API's prompt,
candidates, cachedContent, thoughts and toolUsePrompt counts): ``cached`` is part of ``input`` (unless
``total`` shows it was counted on top), thoughts are output, and tool-use prompt tokens are input (as
ccusage counts them: total = input + output + thoughts + tool). So input = input − cached + tool,
cache_read = cached, output = output + thoughts. Every message id ever written counts once, also when a
rewind or a compression later took it out of the conversation: its request was made and billed. A
request whose prompt (input + tool) exceeds 200k tokens is in the long-context tier.

Context fill: the prompt size (``tokens.input``) of the last ``gemini`` message still in the conversation;
the window is Gemini CLI's own ``tokenLimit()`` (1,048,576 for every Gemini model), source "agent".
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict, cast

import orjson

from llm_session_manager.agents.base import AgentInfo, AgentSignature, FileState, ToolCall, ToolResult, Turn
from llm_session_manager.agents.common import (
    HEAD_BYTES,
    UNKNOWN_MODEL,
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
from llm_session_manager.agents.jsonl import LINE_ERRORS
from llm_session_manager.compaction import CompactRule
from llm_session_manager.digest import blake2b
from llm_session_manager.fileio import read_regular
from llm_session_manager.paths import Paths
from llm_session_manager.pricing import LONG_CONTEXT_THRESHOLD
from llm_session_manager.timefmt import canonical_ts, parse_ts

if TYPE_CHECKING:
    from llm_session_manager.models import Session

AGENT = "gemini"
RESULTS_KEEP = 20
CONVERSATION_TYPES = ("user", "gemini")
# A ``user`` line whose parts are all ``functionResponse``: tool results sent back to the model, no prompt.
TOOL_RESULT = "tool_result"

# Gemini CLI's own context window, ``tokenLimit(model)`` (packages/core/src/core/tokenLimits.ts; in the
# 0.61.0 npm package: bundle/chunk-JDPZ4CE3.js): 1,048,576 for every model but the two Gemma 4 ones. It
# compresses its history and shows its context % against this figure, whatever the model's real limit.
GEMINI_CLI_TOKEN_LIMIT = 1_048_576
GEMMA_4_TOKEN_LIMIT = 256_000
GEMMA_4_MODELS = frozenset({"gemma-4-31b-it", "gemma-4-26b-a4b-it"})
WINDOW_SOURCE = "agent"
SIDE_FILE_MAX = 64 * 1024  # <project>/.project_root: one path
REGISTRY_MAX = 16 * 1024 * 1024  # projects.json: one entry per project

# The trailer of a run_shell_command result (Gemini CLI's shell tool): "Exit Code: N" when N != 0, after
# the command's output and before "Signal:", "Background PIDs:" and "Process Group PGID:" lines.
SHELL_TOOL = "run_shell_command"
_TRAILER = ("Signal: ", "Background PIDs: ", "Process Group PGID: ", "</untrusted_context>")

# A message, last version per id: [type, timestamp, model, tokens, tool calls, failed tool calls,
# cancelled (0/1), written directly (0/1, not only inside a "$set": {"messages"} rewrite), tool results]
# where tokens = [input, cached, output, thoughts, tool, total] or None, tool results = [[ts, failed], ...].
M_TYPE, M_TS, M_MODEL, M_TOKENS, M_CALLS, M_ERRORS, M_CANCELLED, M_DIRECT, M_RESULTS = range(9)
T_IN, T_CACHED, T_OUT, T_THOUGHTS, T_TOOL, T_TOTAL = range(6)


class GeminiData(TypedDict):
    """What is kept of one chat file between reads (``FileState.data``); see ``new_data``."""

    sid: str | None
    project_hash: str | None
    kind: str | None
    summary: str | None
    dirs: list[str] | None
    parent_dir: str | None
    project_dir: str | None
    project_root: str | None
    msgs: dict[str, list[Any]]
    live: dict[str, int]
    last_model: str | None
    first_prompt: str | None
    turns: int
    compactions: int
    last_compaction_ts: str | None
    first_ts: str | None
    last_ts: str | None
    skipped: int
    tail_partial: bool
    lines: int
    loading: bool


def new_data() -> GeminiData:
    return {
        "sid": None,
        "project_hash": None,
        "kind": None,
        "summary": None,
        "dirs": None,
        "parent_dir": None,  # a sub-agent chat: the folder named after its parent session
        "project_dir": None,  # the <project> folder name (slug or hash)
        "project_root": None,  # <project>/.project_root
        "msgs": {},  # id -> message (see M_*)
        "live": {},  # ids still in the conversation, in order (a dict used as an ordered set)
        "last_model": None,
        "first_prompt": None,
        "turns": 0,  # prompts since the last compaction
        "compactions": 0,
        "last_compaction_ts": None,
        "first_ts": None,
        "last_ts": None,
        "skipped": 0,
        "tail_partial": False,
        "lines": 0,
        "loading": False,  # a header or a resume's "$set": {"sessionId"} was the last thing read
    }


def _str(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _text(content: Any) -> str:
    """A message's text: a string, a Part (``{"text": …}``) or a list of parts and strings."""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        text = content.get("text")
        return text if isinstance(text, str) else ""
    if isinstance(content, list):
        return "".join(_text(part) for part in content)
    return ""


def token_limit(model: str | None) -> int:
    """The context window Gemini CLI itself uses for ``model`` (its ``tokenLimit()``)."""
    return GEMMA_4_TOKEN_LIMIT if model in GEMMA_4_MODELS else GEMINI_CLI_TOKEN_LIMIT


def _is_tool_result(content: Any) -> bool:
    """Content made only of ``functionResponse`` parts: what Gemini CLI sends back after a tool ran."""
    return (
        isinstance(content, list)
        and bool(content)
        and all(isinstance(p, dict) and "functionResponse" in p for p in content)
    )


def _tokens(raw: Any) -> list[int] | None:
    """A message's six counts (absent = 0), None when it has none; ValueError for one out of range."""
    if not isinstance(raw, dict):
        return None
    values = [count_or(raw.get(k)) for k in ("input", "cached", "output", "thoughts", "tool", "total")]
    return values if any(values[:5]) else None


def split_tokens(tokens: Sequence[int]) -> tuple[int, int, int, int]:
    """(input, output, cache_read, prompt size) of one message's raw tokens.

    ``cached`` is inside ``input`` (the Gemini API's promptTokenCount includes cachedContentTokenCount);
    only when ``total`` equals input + cached + output + thoughts + tool, and not the same without
    cached, was it counted on top (ccusage's test). Tool-use prompt tokens are input, thoughts output.
    """
    inp, cached, out, thoughts, tool, total = (int(t) for t in tokens)
    inclusive = inp + out + thoughts + tool
    separate = cached > 0 and total == inclusive + cached and total != inclusive
    if separate:
        prompt = inp + cached
    else:
        cached = min(cached, inp)
        prompt = inp
        inp -= cached
    return inp + tool, out + thoughts, cached, prompt + tool


def context_of(tokens: Sequence[int]) -> int:
    """The prompt the model was given: ``tokens.input`` (plus ``cached`` when counted on top)."""
    return split_tokens(tokens)[3] - int(tokens[T_TOOL])


# ---------------------------------------------------------------------------------------------------
# Records


def _shell_failed(call: dict[str, Any]) -> bool:
    """A ``run_shell_command`` whose command exited non-zero. Gemini CLI marks it ``success`` (the tool
    ran); the exit code is only in the result it sent back: an ``Exit Code: N`` trailer line."""
    if call.get("name") != SHELL_TOOL or not isinstance(call.get("result"), list):
        return False
    for part in call["result"]:
        response = part.get("functionResponse") if isinstance(part, dict) else None
        output = response.get("response") if isinstance(response, dict) else None
        output = output.get("output") if isinstance(output, dict) else None
        if not isinstance(output, str):
            continue
        for line in reversed(output.rstrip().splitlines()):
            if line.startswith("Exit Code: "):
                code = line[len("Exit Code: ") :].strip()
                return code.lstrip("-").isdigit() and int(code) != 0
            if not line.startswith(_TRAILER):
                break
    return False


def _tool_calls(calls: Any, ts: str | None) -> tuple[int, int, int, list[list[Any]]]:
    """(calls, failed, cancelled 0/1, [[ts, failed], ...]) of a message's ``toolCalls``; a call's
    ``status`` is success, error or cancelled (the person stopped it); a shell command that exited
    non-zero failed too."""
    if not isinstance(calls, list):
        return 0, 0, 0, []
    count = errors = cancelled = 0
    results: list[list[Any]] = []
    for call in calls:
        if not isinstance(call, dict):
            continue
        count += 1
        status = call.get("status")
        if status == "cancelled":
            cancelled = 1
        elif status in ("success", "error"):
            failed = status == "error" or _shell_failed(call)
            errors += failed
            results.append([canonical_ts(call.get("timestamp")) or ts, failed])
    return count, errors, cancelled, results[-RESULTS_KEEP:]


def _message(data: GeminiData, rec: dict[str, Any], direct: bool) -> None:
    """Insert or replace message ``rec["id"]`` (the last version wins); ``direct`` is False for a copy
    inside a ``$set`` conversation rewrite. Such a copy of a message already written as such restates
    it in a reduced form (on resume: no tokens, tool calls or model, the load time as its timestamp):
    it only puts the message back into the conversation."""
    mid = rec["id"]
    tokens = _tokens(rec.get("tokens"))  # first: a bad count leaves ``data`` as it was
    old = data["msgs"].get(mid)
    if not direct and old is not None and old[M_DIRECT]:
        note_ts(data, rec.get("timestamp"))
        data["live"].setdefault(mid, 1)
        return
    mtype = rec.get("type") if isinstance(rec.get("type"), str) else None
    if mtype == "user" and _is_tool_result(rec.get("content")):
        mtype = TOOL_RESULT
    ts = note_ts(data, rec.get("timestamp"))
    model = _str(rec.get("model"))
    if model:
        data["last_model"] = model
    msgs = data["msgs"]
    if tokens is None and old is not None and not direct:
        tokens = old[M_TOKENS]
    if mtype == "gemini" and not model:
        model = (old[M_MODEL] if old is not None else None) or data["last_model"]
    calls, errors, cancelled, results = _tool_calls(rec.get("toolCalls"), ts)
    was_direct = bool(old is not None and old[M_DIRECT])
    if direct and not was_direct and mtype == "user":
        text = _text(rec.get("content"))
        data["turns"] += 1
        if data["first_prompt"] is None and text.strip():
            data["first_prompt"] = title_from(text)
    msgs[mid] = [
        mtype,
        ts,
        model,
        tokens,
        calls,
        errors,
        cancelled,
        1 if direct or was_direct else 0,
        results,
    ]
    data["live"].setdefault(mid, 1)


def _rewind(data: GeminiData, target: str) -> None:
    """The conversation goes back to just before ``target``; an unknown id empties it (as Gemini does)."""
    live: dict[str, int] = data["live"]
    if target not in live:
        live.clear()
        return
    ids = list(live)
    for mid in ids[ids.index(target) :]:
        del live[mid]


def _replace_conversation(data: GeminiData, items: list[Any], ts: str | None) -> None:
    """``{"$set": {"messages": [...]}}``: the conversation is now exactly these messages. When user or
    model turns that were in it are gone, Gemini compressed its history: a compaction, unless the
    session is being loaded (a resume first sets the conversation to its opening context, then restates
    the history)."""
    valid = _checked(items)
    keep = {m["id"] for m in valid}
    msgs = data["msgs"]
    dropped = not data.get("loading") and any(
        mid not in keep and msgs[mid][M_TYPE] in CONVERSATION_TYPES for mid in data["live"]
    )
    if dropped:
        data["compactions"] += 1
        data["last_compaction_ts"] = ts or data["last_ts"]
        data["turns"] = 0
    data["live"] = {}
    for rec in valid:
        _message(data, rec, direct=False)


def _checked(items: list[Any]) -> list[dict[str, Any]]:
    """The messages of a rewrite or a header, each one's counts checked before any is applied (a bad
    count costs the whole line, as in any other line)."""
    valid = [m for m in items if isinstance(m, dict) and isinstance(m.get("id"), str)]
    for rec in valid:
        _tokens(rec.get("tokens"))
    return valid


def _metadata(data: GeminiData, meta: dict[str, Any]) -> None:
    """Header or ``$set`` fields: session id, project hash, times, summary (the title), kind, folders."""
    data["sid"] = _str(meta.get("sessionId")) or data["sid"]
    data["project_hash"] = _str(meta.get("projectHash")) or data["project_hash"]
    data["kind"] = _str(meta.get("kind")) or data["kind"]
    summary = _str(meta.get("summary"))
    if summary:
        data["summary"] = title_from(summary)
    dirs = meta.get("directories")
    if isinstance(dirs, list) and dirs and all(isinstance(d, str) for d in dirs):
        data["dirs"] = dirs
    note_ts(data, meta.get("startTime"))
    note_ts(data, meta.get("lastUpdated"))


def apply_record(data: GeminiData, obj: Any) -> None:
    """Fold one JSONL record into ``data``, tested in Gemini CLI's order: rewind, message, ``$set``,
    header."""
    if not isinstance(obj, dict):
        data["skipped"] += 1
        return
    data["lines"] += 1
    if isinstance(obj.get("$rewindTo"), str):
        data["loading"] = False
        _rewind(data, obj["$rewindTo"])
    elif isinstance(obj.get("id"), str):
        data["loading"] = False
        _message(data, obj, direct=True)
    elif isinstance(obj.get("$set"), dict):
        update = obj["$set"]
        _metadata(data, update)
        if isinstance(update.get("sessionId"), str):  # a resume names the session it loads
            data["loading"] = True
        if isinstance(update.get("messages"), list):
            _replace_conversation(data, update["messages"], canonical_ts(update.get("lastUpdated")))
    elif isinstance(obj.get("sessionId"), str):
        messages = _checked(obj["messages"]) if isinstance(obj.get("messages"), list) else []
        data["loading"] = True  # a header: Gemini CLI (re)opened this chat
        _metadata(data, obj)
        for rec in messages:  # a header that carries the conversation
            _message(data, rec, direct=True)


def apply_document(data: GeminiData, doc: Any) -> None:
    """A legacy whole-JSON chat: its metadata, then each message in order."""
    if not isinstance(doc, dict):
        data["skipped"] += 1
        return
    data["lines"] += 1
    _metadata(data, doc)
    messages = doc.get("messages")
    for rec in messages if isinstance(messages, list) else []:
        if not isinstance(rec, dict) or not isinstance(rec.get("id"), str):
            data["skipped"] += 1
            continue
        try:
            _message(data, rec, direct=True)
        except LINE_ERRORS:
            data["skipped"] += 1  # one bad message costs that message, never the chat


def read_document(path: str | Path, session_key: str) -> FileState:
    """A legacy ``.json`` chat is rewritten as a whole: always read in full. A document that does not
    parse (caught mid-rewrite) counts as one skipped line and is read again when it changes."""
    with open_regular(path) as fh:
        identity = file_identity(os.fstat(fh.fileno()))
        raw = fh.read()
    data = new_data()
    try:
        apply_document(data, orjson.loads(raw))
    except ValueError:
        data["skipped"] += 1 if raw.strip() else 0
    head = blake2b(raw[:HEAD_BYTES], digest_size=16).digest()
    return FileState(str(path), session_key, identity, len(raw), head, cast(dict[str, Any], data))


# ---------------------------------------------------------------------------------------------------
# Finding files


def _chat_dirs(root: Path) -> Iterator[str]:
    """``<root>/<project>/chats`` for every project folder (and ``<root>/chats``, or ``root`` itself when
    it is a ``chats`` folder)."""
    if root.name == "chats":
        yield str(root)
        return
    if (root / "chats").is_dir():
        yield str(root / "chats")
    for entry in scandir_sorted(root):
        try:
            if entry.is_dir() and os.path.isdir(os.path.join(entry.path, "chats")):
                yield os.path.join(entry.path, "chats")
        except OSError:
            continue


def _chat_files(chats: str) -> Iterator[tuple[str, str, os.stat_result]]:
    """(path, key, stat): top-level ``*.json``/``*.jsonl`` (key: the file stem; a ``.json`` whose
    ``.jsonl`` twin exists was migrated by Gemini CLI into it and is skipped) and sub-agent chats one
    folder down (key: the folder, i.e. the parent session id). The walk has a fixed depth; a folder
    symlink back to ``chats`` (or to a folder already listed) is not taken for a sub-agent folder."""
    entries = scandir_sorted(chats)
    names = {e.name for e in entries}
    seen: set[tuple[int, int]] = set()
    first_visit(seen, chats)
    for entry in entries:
        try:
            if entry.is_dir():
                if not first_visit(seen, entry.path):
                    continue
                for sub in scandir_sorted(entry.path):
                    if sub.name.endswith((".json", ".jsonl")) and sub.is_file():
                        yield sub.path, entry.name, sub.stat()
            elif entry.name.endswith(".jsonl") and entry.is_file():
                yield entry.path, entry.name[:-6], entry.stat()
            elif entry.name.endswith(".json") and entry.name + "l" not in names and entry.is_file():
                yield entry.path, entry.name[:-5], entry.stat()
        except OSError:
            continue


def _place(data: GeminiData, path: Path) -> None:
    """Facts that come from where the file is: sub-agent parent, project folder and its ``.project_root``."""
    chats = path.parent
    if chats.name != "chats" and chats.parent.name == "chats":
        data["parent_dir"] = chats.name
        chats = chats.parent
    project = chats.parent if chats.name == "chats" else chats
    data["project_dir"] = project.name
    try:  # a FIFO, a device or an oversize file here is ignored, never waited on or read whole
        raw = read_regular(project / ".project_root", SIDE_FILE_MAX)
        root = raw.decode("utf-8").strip() if raw else ""
    except (OSError, UnicodeDecodeError):
        root = ""
    data["project_root"] = root or None


# ---------------------------------------------------------------------------------------------------
# The reader


class GeminiReader:
    name = AGENT
    parser_version = 4  # 4: merged sessions carry their usage history

    def __init__(self, roots: Sequence[Path]) -> None:
        self.data_roots = tuple(roots)

    @classmethod
    def from_paths(cls, paths: Paths) -> GeminiReader:
        env = paths.env
        raw = (env.get("GEMINI_DATA_DIR") or "").strip()
        if raw:
            roots: list[Path] = []
            for part in raw.split(","):
                path = Path(part.strip()).expanduser()
                if part.strip() and path not in roots:
                    roots.append(path)
            return cls(roots)
        home = (env.get("GEMINI_CLI_HOME") or "").strip()
        base = Path(home).expanduser() if home else paths.home
        return cls([base / ".gemini" / "tmp"])

    def tmp_dirs(self) -> list[Path]:
        """Each root as a ``tmp``-like folder (a ``.gemini`` folder is taken as its ``tmp``)."""
        return [r / "tmp" if r.name != "tmp" and (r / "tmp").is_dir() else r for r in self.data_roots]

    def roots(self) -> list[tuple[str, bool]]:
        return [(str(r), r.is_dir()) for r in self.tmp_dirs()]

    def sources(self) -> Iterable[tuple[str, str, tuple[int, int, int, int]]]:
        inodes: set[tuple[int, int]] = set()
        for root in self.tmp_dirs():
            for chats in _chat_dirs(root):
                for path, key, st in _chat_files(chats):
                    if (st.st_dev, st.st_ino) in inodes:
                        continue
                    inodes.add((st.st_dev, st.st_ino))
                    yield path, key, file_identity(st)

    def read(self, path: str | Path, session_key: str, prior: FileState | None) -> FileState:
        if str(path).endswith(".json"):
            state = read_document(path, session_key)
        else:
            state = read_jsonl_file(path, session_key, prior, new_data, apply_record)
        _place(_data(state), Path(path))
        return state

    def sessions(self, states: Sequence[FileState]) -> list[Session]:
        needs_registry = any(not s.data.get("project_root") for s in states)
        registry = load_registry(self.registry_files()) if needs_registry else {}
        return build_sessions(states, registry)

    def registry_files(self) -> list[Path]:
        """``projects.json`` next to each ``tmp`` folder (``~/.gemini/projects.json``)."""
        return [r.parent / "projects.json" for r in self.tmp_dirs()]


def load_registry(files: Iterable[Path]) -> dict[str, str]:
    """Project folder name (slug, or the sha256 of the path that older versions used) -> project path,
    from Gemini CLI's ``projects.json`` (``{"projects": {"<path>": "<slug>"}}``)."""
    import hashlib  # sha256 here alone: the module loads without hashlib's OpenSSL bindings

    out: dict[str, str] = {}
    for file in files:
        try:
            raw = read_regular(file, REGISTRY_MAX)
            doc = orjson.loads(raw) if raw is not None else None
        except (OSError, ValueError):
            continue
        projects = doc.get("projects") if isinstance(doc, dict) else None
        if not isinstance(projects, dict):
            continue
        for path, slug in projects.items():
            if isinstance(path, str) and path:
                out.setdefault(hashlib.sha256(path.encode()).hexdigest(), path)
                if isinstance(slug, str) and slug:
                    out.setdefault(slug, path)
    return out


# ---------------------------------------------------------------------------------------------------
# Merging file states into sessions


def _native(state: FileState) -> str:
    return str(state.data.get("sid") or state.session_key)


def build_sessions(states: Sequence[FileState], registry: dict[str, str]) -> list[Session]:
    """One session per session id; a sub-agent chat joins its parent's session when that is present."""
    mains = {_native(s) for s in states if not s.data.get("parent_dir")}
    groups: dict[str, list[FileState]] = {}
    for state in states:
        parent = state.data.get("parent_dir")
        key = parent if parent and parent in mains else _native(state)
        groups.setdefault(key, []).append(state)
    return [_build_one(key, files, registry) for key, files in groups.items()]


def _merged(files: Sequence[FileState]) -> dict[str, list[Any]]:
    """Every message of the session once (a legacy chat and its migrated JSONL hold the same ids; a
    resume may restate in one file what another wrote): a message written as such wins over a copy."""
    out: dict[str, list[Any]] = {}
    for f in sorted(files, key=lambda f: f.path):
        for mid, rec in f.data["msgs"].items():
            old = out.get(mid)
            if old is None or rec[M_DIRECT] or not old[M_DIRECT]:
                out[mid] = rec
    return out


def _usage(msgs: dict[str, list[Any]]) -> dict[str, list[int]]:
    """Per model: [input, output, cache_read, long input, long output, long cache_read]."""
    out: dict[str, list[int]] = {}
    for rec in msgs.values():
        tokens = rec[M_TOKENS]
        if not tokens:
            continue
        inp, out_tokens, cached, prompt = split_tokens(tokens)
        row = out.setdefault(rec[M_MODEL] or UNKNOWN_MODEL, [0] * 6)
        base = 3 if prompt > LONG_CONTEXT_THRESHOLD else 0
        row[0] += inp
        row[1] += out_tokens
        row[2] += cached
        if base:
            row[3] += inp
            row[4] += out_tokens
            row[5] += cached
    return out


def _data(state: FileState) -> GeminiData:
    """A chat's state as ``read`` left it (``new_data``'s shape; the parse cache keeps it as JSON)."""
    return cast(GeminiData, state.data)


def _last_live(data: GeminiData) -> list[Any] | None:
    """The newest model message with tokens that is still in the conversation."""
    msgs = data["msgs"]
    for mid in reversed(list(data["live"])):
        rec: list[Any] | None = msgs.get(mid)
        if rec is not None and rec[M_TYPE] == "gemini" and rec[M_TOKENS]:
            return rec
    return None


def _series(data: GeminiData) -> list[list[Any]]:
    """[timestamp, context] of the model messages still in the conversation since its last compaction."""
    msgs, since = data["msgs"], data.get("last_compaction_ts") or ""
    recs = (msgs.get(mid) for mid in data["live"])
    return [
        [r[M_TS], context_of(r[M_TOKENS])]
        for r in recs
        if r is not None and r[M_TYPE] == "gemini" and r[M_TOKENS] and (r[M_TS] or "") >= since
    ]


def _rows(msgs: dict[str, list[Any]]) -> Iterator[tuple[str | None, str, int, int, int, int]]:
    """(timestamp, model, input, output, cache_creation, cache_read) of every message with tokens."""
    for rec in msgs.values():
        if rec[M_TOKENS]:
            inp, out, cached, _prompt = split_tokens(rec[M_TOKENS])
            yield rec[M_TS], rec[M_MODEL] or UNKNOWN_MODEL, inp, out, 0, cached


def _project_path(files: Sequence[FileState], registry: dict[str, str]) -> str | None:
    for f in files:
        d = f.data
        path = d.get("project_root") or registry.get(d.get("project_dir") or "")
        path = path or registry.get(d.get("project_hash") or "")
        if path:
            return str(path)
    return next((str(f.data["dirs"][0]) for f in files if f.data.get("dirs")), None)


def _ts(value: str | None) -> datetime | None:
    return parse_ts(value) if value else None


def _build_one(key: str, files: list[FileState], registry: dict[str, str]) -> Session:
    from llm_session_manager.models import (  # not at import: listing files needs no models
        ModelTokens,
        Session,
        TokenUsage,
    )

    datas = [f.data for f in files]
    main = sorted(
        [f for f in files if _native(f) == key] or files, key=lambda f: (f.data.get("last_ts") or "", f.path)
    )
    msgs = _merged(files)
    main_msgs = _merged(main)
    per_model = _usage(msgs)
    models = tuple(sorted(per_model, key=lambda m: -sum(per_model[m][:3])))
    last = next((rec for f in reversed(main) if (rec := _last_live(_data(f))) is not None), None)
    firsts = [d["first_ts"] for d in datas if d.get("first_ts")]
    lasts = [d["last_ts"] for d in datas if d.get("last_ts")]
    last_ts = max(lasts) if lasts else None
    compaction_ts = max((d["last_compaction_ts"] for d in datas if d.get("last_compaction_ts")), default=None)
    direct = [r for r in msgs.values() if r[M_DIRECT]]
    results = [{"recent": [res for r in msgs.values() for res in r[M_RESULTS]]}]
    title = next((f.data["summary"] for f in reversed(main) if f.data.get("summary")), None)
    title = title or next((f.data["first_prompt"] for f in main if f.data.get("first_prompt")), None)
    model = (last[M_MODEL] if last else None) or next(
        (f.data["last_model"] for f in reversed(main) if f.data.get("last_model")), None
    )
    model = model or next((m for m in models if m != UNKNOWN_MODEL), None)
    peaks = [context_of(r[M_TOKENS]) for r in main_msgs.values() if r[M_TYPE] == "gemini" and r[M_TOKENS]]
    return Session(
        id=f"{AGENT}:{key}",
        agent=AGENT,
        native_id=key,
        title=title,
        project_path=_project_path(main, registry) or _project_path(files, registry),
        git_branch=None,
        model=model,
        models=tuple(m for m in models if m != UNKNOWN_MODEL),
        started_at=_ts(min(firsts)) if firsts else None,
        last_activity=_ts(last_ts),
        tokens=TokenUsage(
            sum(r[0] for r in per_model.values()),
            sum(r[1] for r in per_model.values()),
            0,
            sum(r[2] for r in per_model.values()),
            "exact",
        ),
        context_tokens=context_of(last[M_TOKENS]) if last else None,
        context_window=token_limit(model),
        context_window_source=WINDOW_SOURCE,
        messages_user=sum(1 for r in main_msgs.values() if r[M_DIRECT] and r[M_TYPE] == "user"),
        messages_assistant=sum(1 for r in direct if r[M_TYPE] == "gemini"),
        tool_calls=sum(int(r[M_CALLS]) for r in msgs.values()),
        tool_errors=sum(int(r[M_ERRORS]) for r in msgs.values()),
        api_errors=sum(1 for r in direct if r[M_TYPE] == "error"),
        interruptions=sum(int(r[M_CANCELLED]) for r in msgs.values()),
        compactions=total([f.data for f in main], "compactions"),
        skipped_lines=total(datas, "skipped") + sum(1 for d in datas if d.get("tail_partial")),
        transcript_paths=tuple(sorted(f.path for f in files)),
        recent_tool_results=tuple(bool(r[1]) for r in recent_rows(results, last_ts)),
        recent_api_errors=count_recent([r[M_TS] for r in direct if r[M_TYPE] == "error"], last_ts),
        recent_interruptions=count_recent([r[M_TS] for r in msgs.values() if r[M_CANCELLED]], last_ts),
        turns_since_compaction=int(main[-1].data.get("turns") or 0),
        last_compaction_at=_ts(compaction_ts),
        model_usage=tuple(
            ModelTokens(m, r[0], r[1], 0, r[2], 0, r[3], r[4], 0, r[5], 0) for m, r in per_model.items()
        ),
        peak_context_tokens=max(peaks, default=0) or None,
        usage_buckets=usage_buckets(_rows(msgs), last_ts),
        usage_history=usage_history(_rows(msgs)),
        context_series=context_series(_series(_data(main[-1]))),
    )


# ---------------------------------------------------------------------------------------------------
# The conversation itself, for export (read on demand, never cached).


def _replay(path: str) -> list[dict[str, Any]]:
    """The chat's current messages, replayed as Gemini CLI loads them: the last record per id wins,
    ``$rewindTo`` cuts the conversation, ``$set.messages`` replaces it (a message it restates that was
    written as such keeps its full record: a resume restates history without tool calls). Legacy files
    are one document."""
    with open_regular(path) as fh:
        raw = fh.read()
    if path.endswith(".json"):
        try:
            doc = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return []
        messages = doc.get("messages") if isinstance(doc, dict) else None
        return [m for m in messages or [] if isinstance(m, dict)]
    live: dict[str, dict[str, Any]] = {}
    written: dict[str, dict[str, Any]] = {}  # messages written as such, last version per id
    for line in raw.splitlines():
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if not isinstance(obj, dict):
            continue
        if isinstance(obj.get("$rewindTo"), str):
            ids = list(live)
            cut = ids.index(obj["$rewindTo"]) if obj["$rewindTo"] in live else 0
            for mid in ids[cut:]:
                del live[mid]
        elif isinstance(obj.get("id"), str):
            live[obj["id"]] = written[obj["id"]] = obj
        elif isinstance(obj.get("$set"), dict) and isinstance(obj["$set"].get("messages"), list):
            live = {
                m["id"]: written.get(m["id"], m)
                for m in obj["$set"]["messages"]
                if isinstance(m, dict) and isinstance(m.get("id"), str)
            }
    return list(live.values())


def _turn(message: dict[str, Any]) -> Turn | None:
    kind = message.get("type")
    role = {"user": "user", "gemini": "assistant"}.get(str(kind))
    if role is None:
        return None
    turn: Turn = {
        "role": role,
        "timestamp": canonical_ts(message.get("timestamp")),
        "text": _text(message.get("content")),
    }
    if role == "assistant":
        turn["model"] = message.get("model")
    calls: list[ToolCall] = []
    results: list[ToolResult] = []
    for call in message.get("toolCalls") or []:
        if not isinstance(call, dict):
            continue
        calls.append({"id": call.get("id"), "name": call.get("name"), "input": call.get("args")})
        if call.get("result") is not None or call.get("status"):
            content = call.get("resultDisplay") or call.get("result")
            results.append(
                {
                    "tool_use_id": call.get("id"),
                    "is_error": call.get("status") == "error" or _shell_failed(call),
                    "content": content if isinstance(content, str) else orjson.dumps(content).decode(),
                }
            )
    if calls:
        turn["tool_calls"] = calls
    if results:
        turn["tool_results"] = results
    if not turn["text"] and not calls:
        return None
    return turn


def read_conversation(paths: Sequence[str], native_id: str | None = None) -> list[Turn]:
    """Prompts, replies and tool calls (with their results) of a Gemini CLI chat, as it stands now."""
    turns: list[Turn] = []
    for path in paths:
        for message in _replay(path):
            turn = _turn(message)
            if turn is not None:
                turns.append(turn)
    return turns


# ---------------------------------------------------------------------------------------------------
# What lsm knows about Gemini CLI

INFO = AgentInfo(
    name=AGENT,
    display_name="Gemini CLI",
    reader=lambda setup: GeminiReader.from_paths(setup.paths),
    signature=AgentSignature(
        agent=AGENT,
        # npm: node …/bin/gemini (the bin symlink) or node …/@google/gemini-cli/dist/index.js; the
        # repository's bundle is bundle/gemini.js. It always re-launches itself as a child
        # (node --max-old-space-size=… …/bin/gemini, GEMINI_CLI_NO_RELAUNCH=true) that does the work
        # and may be restarted later; the child is kept, the launcher dropped (see `relaunches`).
        programs=frozenset({"gemini"}),
        interpreters=frozenset({"node", "nodejs", "bun"}),
        script_suffixes=("@google/gemini-cli/dist/index.js", "@google/gemini-cli/bundle/gemini.js"),
        script_names=frozenset({"gemini"}),
        deny_flags=frozenset({"--experimental-acp", "--acp"}),
        deny_subcommands=frozenset({"mcp", "extensions", "extension", "hooks", "skills"}),
        options_before_subcommand=True,
        value_options=frozenset({"-m", "--model", "-p", "--prompt", "-i", "--prompt-interactive", "-r"})
        | frozenset({"--resume", "--approval-mode", "-e", "--extensions", "--include-directories"}),
        relaunches=True,
    ),
    compact=CompactRule(share=0.5),
    resume=("gemini", "--resume"),
    compact_command="/compress",
    conversation=read_conversation,
)
