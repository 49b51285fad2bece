"""GitHub Copilot Chat in VS Code (and VS Code Insiders, VSCodium, VS Code Server): the chat sessions
VS Code itself stores for the chat view.

Where, under each VS Code ``User`` folder:

- ``workspaceStorage/<hash>/chatSessions/<sessionId>.json|.jsonl`` (the workspace folder is named in
  ``workspaceStorage/<hash>/workspace.json``: ``{"folder": "file:///…"}``, or ``{"workspace": …}`` for a
  ``.code-workspace`` file);
- ``globalStorage/emptyWindowChatSessions/`` (chats in a window without a folder) and
  ``globalStorage/transferredChatSessions/``.

Two formats hold the same document (``ISerializableChatData`` version 3: ``sessionId``, ``creationDate``,
``customTitle``, ``requests[]``, ``inputState.selectedModel`` or, in older files, ``selectedModel``):

- ``.json``: the whole document, rewritten on every change;
- ``.jsonl``: VS Code's ``ObjectMutationLog`` (microsoft/vscode
  ``src/vs/workbench/contrib/chat/common/model/objectMutationLog.ts``): one entry per line, ``kind`` 0 =
  the initial document ``{v}``, 1 = set the value at key path ``k`` to ``v``, 2 = push the items ``v`` onto
  the array at ``k`` after truncating it to ``i`` items when ``i`` is given, 3 = delete the value at ``k``.
  VS Code rewrites the file as a single kind-0 line after 1024 entries.

Both are read whole whenever they change (the document must be rebuilt from its first line). Per request:
``requestId``, ``timestamp`` (ms), ``modelId``, ``message.text``, ``response[]``, ``result`` (tokens,
``errorDetails``), ``modelState`` (2 = cancelled, 3 = failed). Tokens are exact when the request carries
them (``result.usage``, ``result.promptTokens``/``outputTokens``, ``result.metadata``…); otherwise they are
counted with tiktoken over the prompt text and the response text, and the session is ``"counted"``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict, cast
from urllib.parse import unquote, urlparse

import orjson

from llm_session_manager.agents.base import (
    ELECTRON_CLI_SUFFIXES,
    ELECTRON_DENY_FLAGS,
    AgentInfo,
    AgentSignature,
    FileState,
    ToolCall,
    ToolResult,
    Turn,
)
from llm_session_manager.agents.common import (
    UNKNOWN_MODEL,
    count,
    file_identity,
    open_regular,
    scandir,
    title_from,
    usage_history,
    valid_or_none,
)
from llm_session_manager.agents.jsonl import LINE_ERRORS
from llm_session_manager.digest import blake2b
from llm_session_manager.fileio import read_regular
from llm_session_manager.paths import Paths, xdg_config_home
from llm_session_manager.timefmt import canonical_ts, parse_ts

if TYPE_CHECKING:
    from llm_session_manager.models import Session

AGENT = "copilot"
VARIANTS = ("Code", "Code - Insiders", "VSCodium", "Code - OSS")
SERVER_DIRS = (".vscode-server", ".vscode-server-insiders")
GLOBAL_CHAT_DIRS = ("emptyWindowChatSessions", "transferredChatSessions")
WORKSPACE_JSON_MAX = 1024 * 1024  # workspaceStorage/<hash>/workspace.json: a folder URI or two
CANCELLED, FAILED = 2, 3  # ResponseModelState values

# A request row in FileState.data["reqs"]:
# [requestId, timestamp, model, input, output, exact (1/0), fingerprint, tool_calls, tool_errors, outcome]
R_ID, R_TS, R_MODEL, R_IN, R_OUT, R_EXACT, R_FP, R_TOOLS, R_TOOL_ERR, R_OUTCOME = range(10)
OUTCOME_OK, OUTCOME_CANCELLED, OUTCOME_ERROR = 0, 1, 2


# ---------------------------------------------------------------------------------------------------
# Rebuilding the document


class ChatLogError(ValueError):
    """A chat session file we cannot turn into a document (not JSON, or no initial entry)."""


def _walk(doc: Any, path: Sequence[Any]) -> Any:
    """The container at ``path`` (a list of keys and indexes), or None when it is not there."""
    node = doc
    for key in path:
        if isinstance(node, dict) and isinstance(key, str):
            node = node.get(key)
        elif isinstance(node, list) and isinstance(key, int) and -len(node) <= key < len(node):
            node = node[key]
        else:
            return None
    return node


def _set(doc: Any, path: Sequence[Any], value: Any, delete: bool = False) -> bool:
    parent = _walk(doc, path[:-1])
    key = path[-1]
    if isinstance(parent, dict) and isinstance(key, str):
        if delete:
            parent.pop(key, None)
        else:
            parent[key] = value
        return True
    if isinstance(parent, list) and isinstance(key, int) and 0 <= key <= len(parent):
        if delete:
            if key < len(parent):
                parent[key] = None  # VS Code sets the slot to undefined, the array keeps its length
        elif key == len(parent):
            parent.append(value)
        else:
            parent[key] = value
        return True
    return False


def _push(doc: Any, path: Sequence[Any], values: Any, start: Any) -> bool:
    parent = _walk(doc, path[:-1])
    key = path[-1]
    if isinstance(parent, dict) and isinstance(key, str):
        target = parent.get(key)
        if not isinstance(target, list):
            target = parent[key] = []
    elif isinstance(parent, list) and isinstance(key, int) and 0 <= key < len(parent):
        target = parent[key]
        if not isinstance(target, list):
            target = parent[key] = []
    else:
        return False
    if isinstance(start, int) and not isinstance(start, bool) and start >= 0:
        del target[start:]
    if isinstance(values, list):
        target.extend(values)
    return True


def apply_entry(doc: Any, entry: Any) -> tuple[Any, bool]:
    """Apply one mutation-log entry; returns the (possibly new) document and whether it applied."""
    if not isinstance(entry, dict):
        return doc, False
    kind = entry.get("kind")
    if kind == 0:
        value = entry.get("v")
        return (value, True) if isinstance(value, dict) else (doc, False)
    path = entry.get("k")
    if doc is None or not isinstance(path, list) or not path:
        return doc, False
    if kind == 1:
        return doc, _set(doc, path, entry.get("v"))
    if kind == 2:
        return doc, _push(doc, path, entry.get("v"), entry.get("i"))
    if kind == 3:
        return doc, _set(doc, path, None, delete=True)
    return doc, False


def replay_log(raw: bytes) -> tuple[dict[str, Any], int, bool]:
    """The document a ``.jsonl`` mutation log describes, the number of lines skipped (not JSON, or not
    applicable), and whether the last line is an unfinished write (no newline, not JSON: ignored)."""
    doc: Any = None
    skipped = 0
    lines = raw.split(b"\n")
    last = lines.pop()
    partial = False
    if last.strip():
        try:
            orjson.loads(last)
        except ValueError:
            partial = True  # still being written: read again next time
        else:
            lines.append(last)  # complete, it just lacks its newline
    for line in lines:
        if not line.strip():
            continue
        try:
            entry = orjson.loads(line)
        except ValueError:
            skipped += 1
            continue
        doc, ok = apply_entry(doc, entry)
        skipped += 0 if ok else 1
    if not isinstance(doc, dict):
        raise ChatLogError("no initial chat document (kind 0) in the mutation log")
    return doc, skipped, partial


def load_document(path: str, raw: bytes) -> tuple[dict[str, Any], int, bool]:
    """(document, skipped lines, unfinished last line) of a ``.json`` or ``.jsonl`` chat session file."""
    if path.endswith(".jsonl"):
        return replay_log(raw)
    try:
        doc = orjson.loads(raw)
    except ValueError as exc:
        raise ChatLogError(f"not a JSON chat session ({exc})") from None
    if not isinstance(doc, dict):
        raise ChatLogError("not a JSON chat session (the top level is not an object)")
    return doc, 0, False


# ---------------------------------------------------------------------------------------------------
# Reading one request


def model_name(raw: Any) -> str | None:
    """``copilot/claude-sonnet-4.5`` -> ``claude-sonnet-4.5`` (the part after the last ``/``)."""
    if not isinstance(raw, str) or not raw.strip():
        return None
    return raw.strip().rsplit("/", 1)[-1] or None


def _count(value: Any) -> int | None:
    """A token figure, None when absent; ValueError when out of range (the request is skipped)."""
    return None if value is None else count(value)


def exact_tokens(request: dict[str, Any]) -> tuple[int, int] | None:
    """(prompt, output) tokens the request carries: the first of ``result.usage{promptTokens,
    completionTokens}``, ``result{promptTokens, outputTokens}``, ``result.metadata{promptTokens,
    outputTokens}``, ``usage{promptTokens, completionTokens}``; None when it has none."""
    result = request.get("result")
    result = result if isinstance(result, dict) else {}
    metadata = result.get("metadata")
    candidates = (
        (result.get("usage"), "promptTokens", "completionTokens"),
        (result, "promptTokens", "outputTokens"),
        (metadata, "promptTokens", "outputTokens"),
        (request.get("usage"), "promptTokens", "completionTokens"),
    )
    for obj, in_key, out_key in candidates:
        if not isinstance(obj, dict):
            continue
        prompt, output = _count(obj.get(in_key)), _count(obj.get(out_key))
        if prompt is not None or output is not None:
            return prompt or 0, output or 0
    return None


def _part_text(part: Any) -> str:
    """The model-written text of one response part: markdown (``{value}`` or ``markdownContent``) and
    ``thinking``; tool invocations, references, edits… are not text the model wrote."""
    if not isinstance(part, dict):
        return ""
    kind = part.get("kind")
    if kind is None or kind == "thinking":
        value = part.get("value")
        if isinstance(value, list):
            return "\n".join(v for v in value if isinstance(v, str))
        return value if isinstance(value, str) else ""
    if kind == "markdownContent":
        content = part.get("content")
        value = content.get("value") if isinstance(content, dict) else content
        return value if isinstance(value, str) else ""
    return ""


def _tool_arguments(request: dict[str, Any]) -> list[str]:
    """Tool-call arguments the model wrote (``result.metadata.toolCallRounds[].toolCalls[].arguments``)."""
    result = request.get("result")
    metadata = result.get("metadata") if isinstance(result, dict) else None
    rounds = metadata.get("toolCallRounds") if isinstance(metadata, dict) else None
    out: list[str] = []
    for rnd in rounds if isinstance(rounds, list) else ():
        calls = rnd.get("toolCalls") if isinstance(rnd, dict) else None
        for call in calls if isinstance(calls, list) else ():
            args = call.get("arguments") if isinstance(call, dict) else None
            if isinstance(args, str) and args:
                out.append(args)
    return out


def request_texts(request: dict[str, Any]) -> tuple[str, str]:
    """(input text, output text) counted when a request has no token figures of its own."""
    message = request.get("message")
    prompt = message.get("text") if isinstance(message, dict) else None
    response = request.get("response")
    parts = [_part_text(p) for p in response] if isinstance(response, list) else []
    parts.extend(_tool_arguments(request))
    return (prompt if isinstance(prompt, str) else ""), "\n".join(p for p in parts if p)


def _tools(request: dict[str, Any]) -> tuple[int, int]:
    calls = errors = 0
    response = request.get("response")
    for part in response if isinstance(response, list) else ():
        if isinstance(part, dict) and part.get("kind") in ("toolInvocationSerialized", "toolInvocation"):
            calls += 1
            details = part.get("resultDetails")
            if isinstance(details, dict) and details.get("isError") is True:
                errors += 1
    return calls, errors


def _outcome(request: dict[str, Any]) -> int:
    state = request.get("modelState")
    value = state.get("value") if isinstance(state, dict) else None
    if value == CANCELLED or request.get("isCanceled") is True:
        return OUTCOME_CANCELLED
    result = request.get("result")
    if value == FAILED or (isinstance(result, dict) and result.get("errorDetails")):
        return OUTCOME_ERROR
    return OUTCOME_OK


def ms_to_ts(value: Any) -> str | None:
    """A Unix time in milliseconds (as VS Code writes it) as a canonical UTC timestamp."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        return canonical_ts(value) if isinstance(value, str) else None
    try:
        dt = datetime.fromtimestamp(value / 1000, timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None
    return canonical_ts(dt.isoformat())


def _request_time(request: dict[str, Any]) -> str | None:
    state = request.get("modelState")
    done = ms_to_ts(state.get("completedAt")) if isinstance(state, dict) else None
    started = ms_to_ts(request.get("timestamp"))
    return max(t for t in (done, started) if t) if (done or started) else None


def _fingerprint(texts: tuple[str, str]) -> str:
    digest = blake2b(digest_size=8)
    digest.update(texts[0].encode("utf-8", "surrogatepass"))
    digest.update(b"\0")
    digest.update(texts[1].encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def request_row(request: dict[str, Any], prior: dict[str, list[Any]], index: int) -> list[Any]:
    """The compact row kept for one request. Counted figures of an unchanged request (same id and
    same text fingerprint) are taken from the previous read instead of being counted again."""
    rid = request.get("requestId")
    rid = rid if isinstance(rid, str) and rid else f"#{index}"
    tools, tool_errors = _tools(request)
    model = model_name(request.get("modelId"))
    row: list[Any] = [rid, _request_time(request), model, 0, 0, 1, "", tools, tool_errors, _outcome(request)]
    exact = exact_tokens(request)
    if exact is not None:
        row[R_IN], row[R_OUT] = exact
        return row
    texts = request_texts(request)
    fp = _fingerprint(texts)
    old = prior.get(rid)
    if old is not None and old[R_FP] == fp and not old[R_EXACT]:
        row[R_IN], row[R_OUT] = old[R_IN], old[R_OUT]
    else:
        from llm_session_manager.tokens import count_tokens

        row[R_IN], row[R_OUT] = count_tokens(texts[0]), count_tokens(texts[1])
    row[R_EXACT], row[R_FP] = 0, fp
    return row


# ---------------------------------------------------------------------------------------------------
# Reading one file


def workspace_folder(session_file: str) -> str | None:
    """The folder (or the ``.code-workspace`` file's folder) of ``workspaceStorage/<hash>/chatSessions/…``."""
    chat_dir = os.path.dirname(session_file)
    if os.path.basename(chat_dir) != "chatSessions":
        return None
    try:  # a FIFO, device or oversize file here is ignored, never waited on or read whole
        raw = read_regular(os.path.join(os.path.dirname(chat_dir), "workspace.json"), WORKSPACE_JSON_MAX)
        meta = orjson.loads(raw) if raw is not None else None
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict):
        return None
    folder = uri_path(meta.get("folder"))
    if folder:
        return folder
    workspace = uri_path(meta.get("workspace"))
    return os.path.dirname(workspace) if workspace else None


def uri_path(uri: Any) -> str | None:
    """The local path of a ``file://`` URI, or the path part of a remote one (``vscode-remote://…``)."""
    if not isinstance(uri, str) or not uri:
        return None
    parsed = urlparse(uri)
    path = unquote(parsed.path) if parsed.scheme else uri
    if len(path) >= 3 and path[0] == "/" and path[2] == ":" and path[1].isalpha():
        path = path[1:]  # file:///c%3A/Users/… -> c:/Users/…
    return path or None


def _window(doc: dict[str, Any]) -> list[Any] | None:
    """[maxInputTokens, model identifier] of the model selected in the chat input, when the log has it."""
    state = doc.get("inputState")
    selected = state.get("selectedModel") if isinstance(state, dict) else None
    if not isinstance(selected, dict):
        selected = doc.get("selectedModel")
    if not isinstance(selected, dict):
        return None
    meta = selected.get("metadata")
    limit = valid_or_none(count, meta.get("maxInputTokens")) if isinstance(meta, dict) else None
    if not limit:
        return None
    ident = selected.get("identifier") or (meta.get("id") if isinstance(meta, dict) else None)
    return [limit, model_name(ident)]


def title_or_none(text: Any) -> str | None:
    """A title (``common.title_from``), or None for an empty text or one that is not a string."""
    if not isinstance(text, str) or not text.strip():
        return None
    return title_from(text)


def _first_prompt(requests: list[Any]) -> str | None:
    for request in requests:
        message = request.get("message") if isinstance(request, dict) else None
        title = title_or_none(message.get("text") if isinstance(message, dict) else None)
        if title:
            return title
    return None


class CopilotData(TypedDict):
    """What is kept of one chat document (``FileState.data``): its request rows (see R_*) and times
    (canonical ISO), the window row (``_window``), the workspace folder, and skipped requests and lines."""

    sid: str | None
    created: str | None
    last_msg: str | None
    title: str | None
    first_prompt: str | None
    window: list[Any] | None
    reqs: list[list[Any]]
    project: str | None
    skipped: int


def summarise(doc: dict[str, Any], prior: FileState | None) -> CopilotData:
    """The compact data kept for one chat document (``project`` is filled in by the reader; ``skipped``
    counts the requests left out so far)."""
    requests = doc.get("requests")
    requests = [r for r in requests if isinstance(r, dict)] if isinstance(requests, list) else []
    old_rows = {r[R_ID]: r for r in prior.data.get("reqs", [])} if prior is not None else {}
    sid = doc.get("sessionId")
    rows: list[list[Any]] = []
    for i, request in enumerate(requests):
        try:
            rows.append(request_row(request, old_rows, i))
        except LINE_ERRORS:
            continue  # a request with a figure out of range costs that request, never the chat
    return {
        "sid": sid if isinstance(sid, str) and sid else None,
        "created": ms_to_ts(doc.get("creationDate")),
        "last_msg": ms_to_ts(doc.get("lastMessageDate")),
        "title": title_or_none(doc.get("customTitle")),
        "first_prompt": _first_prompt(requests),
        "window": _window(doc),
        "reqs": rows,
        "project": None,
        "skipped": len(requests) - len(rows),
    }


# ---------------------------------------------------------------------------------------------------
# Finding the files


def _chat_files(directory: str) -> Iterator[tuple[str, str, os.stat_result]]:
    for entry in scandir(directory):
        name = entry.name
        if not name.endswith((".json", ".jsonl")):
            continue
        try:
            if entry.is_file():
                yield entry.path, name.rsplit(".", 1)[0], entry.stat()
        except OSError:
            continue


def _user_files(user_dir: str) -> Iterator[tuple[str, str, os.stat_result]]:
    for ws in scandir(os.path.join(user_dir, "workspaceStorage")):
        try:
            if not ws.is_dir():
                continue
        except OSError:
            continue
        yield from _chat_files(os.path.join(ws.path, "chatSessions"))
    for name in GLOBAL_CHAT_DIRS:
        yield from _chat_files(os.path.join(user_dir, "globalStorage", name))


def default_user_dirs(paths: Paths) -> list[Path]:
    """VS Code ``User`` folders of this platform and of VS Code Server, plus
    ``$VSCODE_PORTABLE/user-data/User`` (VS Code's portable mode) when that variable is set."""
    home, env = paths.home, paths.env
    if sys.platform == "darwin":
        base = home / "Library" / "Application Support"
    elif sys.platform == "win32":
        base = Path(env["APPDATA"]) if env.get("APPDATA") else home / "AppData" / "Roaming"
    else:
        base = xdg_config_home(env, home)
    dirs = [base / variant / "User" for variant in VARIANTS]
    dirs += [home / server / "data" / "User" for server in SERVER_DIRS]
    portable = env.get("VSCODE_PORTABLE", "").strip()
    if portable:
        dirs.insert(0, Path(portable).expanduser() / "user-data" / "User")
    return dirs


class CopilotReader:
    name = AGENT
    parser_version = 3  # 3: usage_history (each request at its own minute, for reports)

    def __init__(self, user_dirs: Sequence[Path]) -> None:
        self.user_dirs = tuple(user_dirs)

    @classmethod
    def from_paths(cls, paths: Paths) -> CopilotReader:
        return cls(default_user_dirs(paths))

    def roots(self) -> list[tuple[str, bool]]:
        return [(str(d), d.is_dir()) for d in self.user_dirs]

    def sources(self) -> Iterable[tuple[str, str, tuple[int, int, int, int]]]:
        seen: set[tuple[int, int]] = set()
        for user_dir in self.user_dirs:
            for path, key, st in _user_files(str(user_dir)):
                ident = (st.st_dev, st.st_ino)
                if ident not in seen:
                    seen.add(ident)
                    yield path, key, file_identity(st)

    def read(self, path: str, session_key: str, prior: FileState | None) -> FileState:
        """Read the whole file (both formats must be rebuilt from the start). A ``.json`` file that is
        not JSON, or a ``.jsonl`` log without its initial entry, raises ``ChatLogError``: the scan reports
        it (``cannot parse``) and tries again next time. Bad ``.jsonl`` lines are skipped and counted."""
        with open_regular(path) as fh:
            identity = file_identity(os.fstat(fh.fileno()))
            raw = fh.read()
        doc, skipped, partial = load_document(str(path), raw)
        data = summarise(doc, prior)
        data["project"] = workspace_folder(str(path))
        data["skipped"] += skipped + (1 if partial else 0)
        head = blake2b(raw[:256], digest_size=16).digest()
        return FileState(str(path), session_key, identity, len(raw), head, cast(dict[str, Any], data))

    def sessions(self, states: Sequence[FileState]) -> list[Session]:
        groups: dict[str, list[FileState]] = {}
        for state in states:
            native = state.data.get("sid") or state.session_key
            groups.setdefault(native, []).append(state)
        out = []
        for native, files in groups.items():
            session = build_session(native, files)
            if session is not None:
                out.append(session)
        return out


# ---------------------------------------------------------------------------------------------------
# Building a session


def _rank(state: FileState) -> tuple[int, str, int]:
    """Which copy of a session counts: the most requests, then the latest activity, then ``.jsonl``."""
    reqs = state.data["reqs"]
    last = max((r[R_TS] or "" for r in reqs), default="")
    return (len(reqs), max(last, state.data.get("last_msg") or ""), 1 if state.path.endswith(".jsonl") else 0)


def _mtime_ts(state: FileState) -> str | None:
    return canonical_ts(datetime.fromtimestamp(state.identity[3] / 1e9, timezone.utc).isoformat())


def _per_model(reqs: list[list[Any]]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for r in reqs:
        row = out.setdefault(r[R_MODEL] or UNKNOWN_MODEL, [0, 0])
        row[0] += r[R_IN]
        row[1] += r[R_OUT]
    return {m: v for m, v in out.items() if any(v)}


def _context(reqs: list[list[Any]]) -> int | None:
    """The last request's prompt when it is exact; otherwise the counted text of the whole conversation
    (what the next request re-sends, system prompt and attachments not included)."""
    if not reqs:
        return None
    last = reqs[-1]
    if last[R_EXACT]:
        return int(last[R_IN]) or None
    return sum(int(r[R_IN]) + int(r[R_OUT]) for r in reqs) or None


def _times(state: FileState) -> tuple[str | None, str | None]:
    data = state.data
    stamps = [r[R_TS] for r in data["reqs"] if r[R_TS]]
    first = min([t for t in (data.get("created"), *stamps) if t], default=None)
    last = max([t for t in (data.get("last_msg"), *stamps) if t], default=None)
    return first, last or _mtime_ts(state)  # no time in the file at all: when it was last written


def build_session(native: str, files: list[FileState]) -> Session | None:
    from llm_session_manager.models import (  # not at import: listing files needs no models
        ModelTokens,
        Session,
        TokenUsage,
    )

    main = max(files, key=_rank)
    data = main.data
    reqs: list[list[Any]] = data["reqs"]
    if not reqs:
        return None  # an empty chat panel: VS Code keeps a file for it, but nothing was asked
    per_model = _per_model(reqs)
    latest = next((r[R_MODEL] for r in reversed(reqs) if r[R_MODEL]), None)
    window = data.get("window")
    window_ok = window is not None and (latest is None or window[1] in (None, latest))
    first, last = _times(main)
    return Session(
        id=f"{AGENT}:{native}",
        agent=AGENT,
        native_id=native,
        title=data.get("title") or data.get("first_prompt"),
        project_path=data.get("project"),
        git_branch=None,
        model=latest,
        models=tuple(m for m in sorted(per_model, key=lambda m: -sum(per_model[m])) if m != UNKNOWN_MODEL),
        started_at=parse_ts(first) if first else None,
        last_activity=parse_ts(last) if last else None,
        tokens=TokenUsage(
            sum(r[R_IN] for r in reqs),
            sum(r[R_OUT] for r in reqs),
            0,
            0,
            "exact" if all(r[R_EXACT] for r in reqs) else "counted",
        ),
        context_tokens=_context(reqs),
        context_window=int(window[0]) if window_ok and window else None,
        context_window_source="log" if window_ok else "",
        messages_user=len(reqs),
        messages_assistant=sum(1 for r in reqs if r[R_OUT] or r[R_OUTCOME] == OUTCOME_OK),
        tool_calls=sum(r[R_TOOLS] for r in reqs),
        tool_errors=sum(r[R_TOOL_ERR] for r in reqs),
        api_errors=sum(1 for r in reqs if r[R_OUTCOME] == OUTCOME_ERROR),
        interruptions=sum(1 for r in reqs if r[R_OUTCOME] == OUTCOME_CANCELLED),
        compactions=0,
        skipped_lines=int(data.get("skipped") or 0),
        transcript_paths=tuple(sorted(f.path for f in files)),
        recent_tool_results=(),
        model_usage=tuple(ModelTokens(m, v[0], v[1]) for m, v in per_model.items()),
        # Each request at the minute VS Code timed it (one without a time: at the last activity).
        usage_history=usage_history(
            (r[R_TS] or last, r[R_MODEL] or UNKNOWN_MODEL, r[R_IN], r[R_OUT], 0, 0) for r in reqs
        ),
    )


# ---------------------------------------------------------------------------------------------------
# The conversation itself, for export (read on demand, never cached).
#
# One request = a user turn (``message.text``) and an assistant turn: the markdown parts of ``response[]``
# (thinking left out), and its tool invocations (``toolInvocationSerialized``: ``toolCallId``, ``toolId``,
# the input from ``toolSpecificData`` or from the model's own call in ``result.metadata.toolCallRounds``,
# the result from ``resultDetails`` or ``result.metadata.toolCallResults``). A cancelled or failed request
# is followed by a ``system`` turn saying so.


def _markdown(value: Any) -> str:
    """A plain string or a VS Code ``IMarkdownString`` (``{value}``) as text."""
    if isinstance(value, dict):
        value = value.get("value")
    return value if isinstance(value, str) else ""


def _model_calls(request: dict[str, Any]) -> dict[str, Any]:
    """The model's tool calls by id (``result.metadata.toolCallRounds[].toolCalls[]``): their input,
    decoded from the JSON ``arguments`` string when it is JSON."""
    result = request.get("result")
    metadata = result.get("metadata") if isinstance(result, dict) else None
    rounds = metadata.get("toolCallRounds") if isinstance(metadata, dict) else None
    out: dict[str, Any] = {}
    for rnd in rounds if isinstance(rounds, list) else ():
        calls = rnd.get("toolCalls") if isinstance(rnd, dict) else None
        for call in calls if isinstance(calls, list) else ():
            if not isinstance(call, dict) or not isinstance(call.get("id"), str):
                continue
            args = call.get("arguments")
            try:
                out[call["id"]] = orjson.loads(args) if isinstance(args, str) else args
            except ValueError:
                out[call["id"]] = args
    return out


def _tool_input(part: dict[str, Any], model_calls: dict[str, Any]) -> Any:
    call_id = part.get("toolCallId")
    if isinstance(call_id, str) and call_id in model_calls:
        return model_calls[call_id]
    data = part.get("toolSpecificData")
    if isinstance(data, dict):
        if "rawInput" in data:
            return data["rawInput"]
        command = data.get("commandLine")
        if isinstance(command, dict):
            return {"command": command.get("userEdited") or command.get("original")}
        return data
    return _markdown(part.get("invocationMessage")) or None


def _result_content(value: Any) -> str:
    """Tool output as text: a string, ``[{value}]`` / ``{content: [{value}]}`` parts, or else its JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and ("content" in value or "output" in value):
        return _result_content(value.get("output", value.get("content")))
    if isinstance(value, list):
        texts = [v.get("value") if isinstance(v, dict) else v for v in value]
        if all(isinstance(t, str) for t in texts):
            return "\n".join(t for t in texts if isinstance(t, str))
    return orjson.dumps(value).decode() if value is not None else ""


def _tool_result(part: dict[str, Any], results: dict[str, Any]) -> ToolResult | None:
    call_id = part.get("toolCallId")
    details = part.get("resultDetails")
    error = isinstance(details, dict) and details.get("isError") is True
    if isinstance(call_id, str) and call_id in results:
        content = _result_content(results[call_id])
    elif isinstance(details, dict) and "output" in details:
        content = _result_content(details)
    elif part.get("pastTenseMessage") is not None:
        content = _markdown(part.get("pastTenseMessage"))
    else:
        return None
    return {"tool_use_id": call_id, "is_error": error, "content": content}


def _reference_name(part: dict[str, Any]) -> str:
    """An inline file or symbol reference in a reply (``{inlineReference: uri | {uri, range}, name?}``)
    as `` `name` ``: its own name, else the file name of its URI."""
    name = part.get("name")
    if not isinstance(name, str) or not name:
        ref = part.get("inlineReference")
        ref = ref.get("uri", ref) if isinstance(ref, dict) and "uri" in ref else ref
        path = ref.get("path") or ref.get("fsPath") if isinstance(ref, dict) else ref
        name = os.path.basename(str(path).rstrip("/")) if isinstance(path, str) else ""
    return f"`{name}`" if name else ""


def _reply(request: dict[str, Any]) -> tuple[str, list[ToolCall], list[ToolResult]]:
    """(text, tool calls, tool results) of one request's ``response[]``."""
    result = request.get("result")
    metadata = result.get("metadata") if isinstance(result, dict) else None
    raw_results = metadata.get("toolCallResults") if isinstance(metadata, dict) else None
    results = raw_results if isinstance(raw_results, dict) else {}
    model_calls = _model_calls(request)
    texts: list[str] = []
    calls: list[ToolCall] = []
    outputs: list[ToolResult] = []
    response = request.get("response")
    for part in response if isinstance(response, list) else ():
        kind = part.get("kind") if isinstance(part, dict) else None
        if not isinstance(part, dict) or kind == "thinking":
            continue
        if kind in ("toolInvocationSerialized", "toolInvocation"):
            call_id = part.get("toolCallId")
            calls.append({"id": call_id, "name": part.get("toolId"), "input": _tool_input(part, model_calls)})
            output = _tool_result(part, results)
            if output is not None:
                outputs.append(output)
            if texts and texts[-1] != "\n\n":
                texts.append("\n\n")  # text after a tool call is a new paragraph
        else:
            texts.append(_reference_name(part) if kind == "inlineReference" else _part_text(part))
    return "".join(texts).strip(), calls, outputs


def _outcome_note(request: dict[str, Any]) -> str | None:
    """``[request cancelled]`` / ``[request failed] <message>``, or None for a request that completed."""
    outcome = _outcome(request)
    if outcome == OUTCOME_OK:
        return None
    result = request.get("result")
    details = result.get("errorDetails") if isinstance(result, dict) else None
    reason = details.get("message") if isinstance(details, dict) else None
    note = "[request cancelled]" if outcome == OUTCOME_CANCELLED else "[request failed]"
    return f"{note} {reason}" if isinstance(reason, str) and reason else note


def _request_turns(request: dict[str, Any]) -> list[Turn]:
    """One request as turns: the prompt, the reply (with its tools), and a note when it did not complete."""
    message = request.get("message")
    prompt = message.get("text") if isinstance(message, dict) else None
    started = ms_to_ts(request.get("timestamp"))
    ended = _request_time(request) or started
    turns: list[Turn] = []
    if isinstance(prompt, str) and prompt.strip():
        turns.append({"role": "user", "timestamp": started, "text": prompt})
    text, calls, outputs = _reply(request)
    if text or calls:
        turn: Turn = {
            "role": "assistant",
            "timestamp": ended,
            "text": text,
            "model": model_name(request.get("modelId")),
        }
        if calls:
            turn["tool_calls"] = calls
        if outputs:
            turn["tool_results"] = outputs
        turns.append(turn)
    note = _outcome_note(request)
    if note is not None:
        turns.append({"role": "system", "timestamp": ended, "text": note})
    return turns


def _conversation_document(paths: Sequence[str]) -> dict[str, Any] | None:
    """The copy of the chat that counts (as ``_rank``: most requests, then ``.jsonl``)."""
    best: tuple[int, int] | None = None
    chosen: dict[str, Any] | None = None
    for path in paths:
        if not path.endswith((".json", ".jsonl")):
            continue
        try:
            with open_regular(path) as fh:
                doc, _skipped, _partial = load_document(path, fh.read())
        except (ChatLogError, OSError):
            continue
        requests = doc.get("requests")
        rank = (len(requests) if isinstance(requests, list) else 0, 1 if path.endswith(".jsonl") else 0)
        if best is None or rank > best:
            best, chosen = rank, doc
    return chosen


def read_conversation(paths: Sequence[str], native_id: str | None = None) -> list[Turn]:
    """Prompts, replies and tool calls (with their results) of a VS Code Copilot chat, as it stands now
    (a ``.jsonl`` mutation log is replayed into the document first)."""
    doc = _conversation_document(paths)
    requests = doc.get("requests") if doc is not None else None
    turns: list[Turn] = []
    for request in requests if isinstance(requests, list) else ():
        if isinstance(request, dict):
            turns.extend(_request_turns(request))
    return turns


# ---------------------------------------------------------------------------------------------------
# What lsm knows about GitHub Copilot (VS Code)

INFO = AgentInfo(
    name=AGENT,
    display_name="GitHub Copilot (VS Code)",
    reader=lambda setup: CopilotReader.from_paths(setup.paths),
    signature=AgentSignature(
        agent=AGENT,
        # GitHub Copilot (and Cline, Roo…) run inside VS Code's extension host: VS Code's main process
        # stands for them. Linux `code`/`code-insiders`/`codium`/`code-oss`, Windows `Code.exe`…,
        # macOS `…/Visual Studio Code.app/Contents/MacOS/Electron` (newer builds: `…/MacOS/Code`).
        programs=frozenset(
            {"code", "code-insiders", "codium", "code-oss", "Code", "Code - Insiders", "VSCodium"}
            | {"Code - OSS"}
        ),
        program_paths=(
            "Visual Studio Code.app/Contents/MacOS/Electron",
            "Visual Studio Code - Insiders.app/Contents/MacOS/Electron",
            "VSCodium.app/Contents/MacOS/Electron",
        ),
        deny_flags=ELECTRON_DENY_FLAGS,
        deny_arg_suffixes=ELECTRON_CLI_SUFFIXES,
        argv_hints=False,
        topmost_only=True,
    ),
    editor_hosted=True,
    conversation=read_conversation,
)
