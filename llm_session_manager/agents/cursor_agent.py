"""Cursor Agent CLI transcripts (``cursor-agent``; Cursor's IDE agent writes the same files).

Where (``<cursor>`` = ``$CURSOR_CONFIG_DIR`` when set, else ``~/.cursor``), session id = ``<id>``:

- ``<cursor>/projects/<slug>/agent-transcripts/<id>/<id>.jsonl``: the transcript (current layout);
- ``…/agent-transcripts/<id>/subagents/<sub>.jsonl``: a sub-agent's transcript, part of session ``<id>``;
- ``…/agent-transcripts/<id>.jsonl``: the older flat layout;
- ``…/agent-transcripts/<id>.txt``: the older plain-text layout (``user:`` / ``assistant:`` lines), read
  only when no ``.jsonl`` exists for the same id;
- ``<cursor>/chats/<md5(cwd)>/<id>/store.db``: the CLI's own SQLite store; only its ``meta`` row ``'0'``
  (hex-encoded JSON ``{agentId, name, createdAt (ms), lastUsedModel}``) is read, for the title, the
  model and the start time of a session that has a transcript.

A JSONL line is ``{"role": "user" | "assistant", "message": {"content": [block…]}}`` with Anthropic-style
blocks (``text``, ``tool_use``, ``tool_result``, ``thinking``); other lines (``{"type": "turn_ended"}``)
carry no message. There are no token counts, no model and no timestamps on the lines: tokens are
counted with tiktoken (``source = "counted"``), and ``context_tokens`` is the counted size of the
conversation so far (an estimate). ``<slug>`` is the workspace path with every run of non-alphanumeric
characters turned into ``-``, which cannot be decoded reliably, so ``project_path`` is the
``Workspace Path:`` Cursor writes into the first user message when present, else a folder on this
machine whose slug is ``<slug>`` (confirmed by ``md5(folder)`` naming the ``chats/`` folder of the same
session when there is one, else only when a single folder matches), else None.

JSONL files are read incrementally like Claude Code's (see ``claude_code``): from the previous offset
when the file only grew, with the same rule for a half-written last line.
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict, cast

import orjson

from llm_session_manager.agents.base import AgentInfo, AgentSignature, FileState, ToolCall, ToolResult, Turn
from llm_session_manager.agents.common import (
    HEAD_BYTES,
    UNKNOWN_MODEL,
    file_identity,
    first_visit,
    merge_tools,
    needs_full_read,
    open_regular,
    scandir_sorted,
    title_from,
    total,
)
from llm_session_manager.agents.cursor import db_identity, ms_iso, open_readonly
from llm_session_manager.agents.jsonl import fold_lines, read_tail
from llm_session_manager.digest import blake2b
from llm_session_manager.paths import Paths
from llm_session_manager.timefmt import canonical_ts, parse_ts

if TYPE_CHECKING:
    from llm_session_manager.models import Session

AGENT = "cursor-agent"
RECENT_KEEP = 20
DEFAULT_NAME = "New Agent"  # the name a chat has before Cursor titles it
MAX_DIR_LISTINGS = 400  # bound on the folder walk that decodes a project slug

_loads = orjson.loads
_SLUG = re.compile(r"[^A-Za-z0-9]+")
_WORKSPACE = re.compile(r"Workspace Path:[ \t]*([^\r\n<]+)")
_QUERY = re.compile(r"<user_query>(.*?)</user_query>", re.S)
_CONTEXT_TAGS = ("user_info", "system_reminder", "timestamp", "additional_data", "attached_files", "rules")
_CONTEXT = re.compile(r"<(" + "|".join(_CONTEXT_TAGS) + r")>.*?</\1>", re.S)
_STAMP = re.compile(
    r"<timestamp>\s*(?:\w+,\s*)?(\w{3})\w*\s+(\d{1,2}),\s*(\d{4}),\s*(\d{1,2}):(\d{2})\s*([AP]M)"
    r"\s*(?:\(UTC(?:([+-])(\d{1,2})(?::?(\d{2}))?)?\))?"
)
_MONTHS = {m: i for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun"), 1)} | {
    m: i for i, m in enumerate(("jul", "aug", "sep", "oct", "nov", "dec"), 7)
}
_TOOL_USE = ("tool_use", "tool-use", "tool_call", "tool-call")
_TOOL_RESULT = ("tool_result", "tool-result")
_THINKING = ("thinking", "reasoning", "redacted_thinking")


def cursor_dirs(paths: Paths) -> tuple[Path, ...]:
    """``$CURSOR_CONFIG_DIR`` (the CLI's documented override) or ``~/.cursor``."""
    override = paths.env.get("CURSOR_CONFIG_DIR", "").strip()
    return (Path(override).expanduser(),) if override else (paths.home / ".cursor",)


def slugify(path: str) -> str:
    """Cursor's project folder name for a workspace path: runs of non-alphanumerics become ``-``."""
    return _SLUG.sub("-", path).strip("-")


# ---------------------------------------------------------------------------------------------------
# Finding the files


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def _is_file(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_file()
    except OSError:
        return False


def _jsonl_under(path: str, depth: int, seen: set[tuple[int, int]]) -> Iterator[str]:
    """Transcripts at most ``depth`` folders below ``path`` (sub-agents sit in ``subagents/``). Folder
    symlinks are followed, each folder entered once: a symlink loop back to the transcripts folder
    cannot file a session's transcript under another session."""
    if not first_visit(seen, path):
        return
    for entry in scandir_sorted(path):
        if entry.name.endswith(".jsonl") and _is_file(entry):
            yield entry.path
        elif depth > 0 and _is_dir(entry):
            yield from _jsonl_under(entry.path, depth - 1, seen)


def transcripts_in(folder: str) -> Iterator[tuple[str, str]]:
    """(file, session id) for every transcript in one ``agent-transcripts`` folder."""
    texts: dict[str, str] = {}
    ids: set[str] = set()
    seen: set[tuple[int, int]] = set()
    first_visit(seen, folder)
    for entry in scandir_sorted(folder):
        if _is_dir(entry):
            for path in _jsonl_under(entry.path, 2, seen):
                ids.add(entry.name)
                yield path, entry.name
        elif entry.name.endswith(".jsonl") and _is_file(entry):
            ids.add(entry.name[:-6])
            yield entry.path, entry.name[:-6]
        elif entry.name.endswith(".txt") and _is_file(entry):
            texts[entry.name[:-4]] = entry.path
    for sid, path in texts.items():
        if sid not in ids:
            yield path, sid


def _stat(path: str) -> tuple[int, int, int, int] | None:
    try:
        return file_identity(os.stat(path))
    except OSError:
        return None


def chat_stores(root: Path, ids: set[str]) -> Iterator[tuple[str, str]]:
    """(store.db, session id) for the sessions in ``ids`` that have a CLI store."""
    for workspace in scandir_sorted(root / "chats"):
        if not _is_dir(workspace):
            continue
        for entry in scandir_sorted(workspace.path):
            store = os.path.join(entry.path, "store.db")
            if entry.name in ids and os.path.isfile(store):
                yield store, entry.name


# ---------------------------------------------------------------------------------------------------
# Reading a JSONL transcript


# What is kept of one transcript between reads (``FileState.data``; see ``new_data``). Functional form:
# ``in`` is a keyword. in/out: counted tokens of what was sent to the model and of what it wrote.
_TranscriptData = TypedDict(
    "_TranscriptData",
    {
        "kind": str,  # "jsonl" or "txt" (a store.db's metadata is a plain dict of kind "meta")
        "side": bool,
        "slug": str | None,
        "in": int,
        "out": int,
        "lines": int,
        "skipped": int,
        "tail_partial": bool,
        "prompts": int,
        "first_prompt": str | None,
        "assistant": int,
        "tools": int,
        "tool_errors": int,
        "api_errors": int,
        "interruptions": int,
        "recent": list[bool],
        "cwd": str | None,
        "first_ts": str | None,
        "last_ts": str | None,
    },
)


class CursorAgentData(_TranscriptData, total=False):
    slug_path: str | None  # the project folder the slug names, resolved once by the first read


def new_data(path: str) -> CursorAgentData:
    parts = Path(path).parts
    at = parts.index("agent-transcripts") if "agent-transcripts" in parts else -1
    return {
        "kind": "jsonl",
        "side": "subagents" in parts,
        "slug": parts[at - 1] if at > 0 else None,
        "in": 0,  # counted tokens of what was sent to the model (user text, tool results)
        "out": 0,  # counted tokens of what the model wrote (text, thinking, tool-call arguments)
        "lines": 0,
        "skipped": 0,
        "tail_partial": False,
        "prompts": 0,
        "first_prompt": None,
        "assistant": 0,
        "tools": 0,
        "tool_errors": 0,
        "api_errors": 0,
        "interruptions": 0,
        "recent": [],  # is_error of the last RECENT_KEEP tool results (the lines carry no time)
        "cwd": None,
        "first_ts": None,
        "last_ts": None,
    }


def prompt_of(text: str) -> str:
    """What the user typed: the ``<user_query>`` blocks, else the text without Cursor's context blocks
    (``<user_info>``, ``<system_reminder>``, ``<timestamp>``, …)."""
    queries = _QUERY.findall(text)
    if queries:
        return "\n".join(q.strip() for q in queries).strip()
    return _CONTEXT.sub("", text).strip()


def stamp_of(text: str) -> str | None:
    """The time in a ``<timestamp>Tuesday, Jun 2, 2026, 11:20 AM (UTC+8)</timestamp>`` block."""
    m = _STAMP.search(text)
    if m is None:
        return None
    month = _MONTHS.get(m.group(1).lower())
    hour = int(m.group(4)) % 12 + (12 if m.group(6) == "PM" else 0)
    offset = timedelta(hours=int(m.group(8) or 0), minutes=int(m.group(9) or 0))
    if m.group(7) == "-":
        offset = -offset
    try:
        local = datetime(int(m.group(3)), month or 0, int(m.group(2)), hour, int(m.group(5)))
    except ValueError:
        return None
    return canonical_ts((local - offset).replace(tzinfo=timezone.utc).isoformat())


def _block_text(value: Any) -> str:
    """Text of a block's content: a string, or a list of ``{"type": "text", "text": …}`` parts."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "\n".join(p["text"] for p in value if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""


def _json_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return str(value)


def _blocks(obj: dict[str, Any]) -> list[Any]:
    message = obj.get("message")
    content = message.get("content") if isinstance(message, dict) else obj.get("content")
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return content if isinstance(content, list) else []


def _push_recent(data: CursorAgentData, is_error: bool) -> None:
    data["recent"].append(is_error)
    if len(data["recent"]) > RECENT_KEEP:
        del data["recent"][0]


def _user_line(data: CursorAgentData, blocks: list[Any], texts: list[list[str]]) -> None:
    parts: list[str] = []
    for block in blocks:
        if not isinstance(block, dict):
            continue
        btype = block.get("type")
        if btype == "text" and isinstance(block.get("text"), str):
            parts.append(block["text"])
        elif btype in _TOOL_RESULT:
            texts[0].append(_block_text(block.get("content")))
            is_error = block.get("is_error") is True
            data["tool_errors"] += is_error
            _push_recent(data, is_error)
    text = "\n".join(parts)
    texts[0].append(text)
    if data["cwd"] is None:
        m = _WORKSPACE.search(text)
        data["cwd"] = m.group(1).strip() if m else None
    stamp = stamp_of(text)
    if stamp:
        data["first_ts"] = min(data["first_ts"] or stamp, stamp)
        data["last_ts"] = max(data["last_ts"] or stamp, stamp)
    prompt = prompt_of(text)
    if prompt:
        data["prompts"] += 1
        if data["first_prompt"] is None:
            data["first_prompt"] = title_from(prompt)


def _assistant_line(data: CursorAgentData, blocks: list[Any], texts: list[list[str]]) -> None:
    wrote = False
    for block in blocks:
        if not isinstance(block, dict):
            continue
        btype = block.get("type")
        if btype == "text":
            text = block.get("text")
            texts[1].append(text if isinstance(text, str) else "")
            wrote = wrote or bool(isinstance(text, str) and text.strip())
        elif btype in _THINKING:
            texts[1].append(_json_text(block.get("thinking") or block.get("text")))
        elif btype in _TOOL_USE:
            data["tools"] += 1
            texts[1].append(_json_text(block.get("name") or block.get("toolName")))
            texts[1].append(_json_text(block.get("input", block.get("args"))))
        elif btype in _TOOL_RESULT:  # some writers put results on the assistant side
            texts[0].append(_block_text(block.get("content")))
    data["assistant"] += wrote


def apply_line(data: CursorAgentData, obj: Any, texts: list[list[str]]) -> None:
    """Fold one parsed line into ``data``; texts to count go to ``texts`` ([input, output])."""
    if not isinstance(obj, dict):
        data["skipped"] += 1
        return
    data["lines"] += 1
    role = obj.get("role")
    if role == "user":
        _user_line(data, _blocks(obj), texts)
    elif role == "system":
        texts[0].append(_block_text(_blocks(obj)))
    elif role == "assistant":
        _assistant_line(data, _blocks(obj), texts)
    elif obj.get("type") == "turn_ended":
        status = obj.get("status")
        if status in ("error", "failed"):
            data["api_errors"] += 1
        elif status in ("aborted", "cancelled", "canceled", "interrupted"):
            data["interruptions"] += 1


def add_counts(data: CursorAgentData, texts: list[list[str]]) -> None:
    """Count the collected texts with tiktoken (o200k_base) and add them to the totals."""
    if not any(t for side in texts for t in side):
        return
    from llm_session_manager.tokens import count_tokens

    data["in"] += sum(count_tokens(t) for t in texts[0] if t)
    data["out"] += sum(count_tokens(t) for t in texts[1] if t)


def _read_lines(fh: Any, offset: int, data: CursorAgentData, texts: list[list[str]]) -> int:
    """Fold every complete line from ``offset``; returns the offset after the last one."""

    return fold_lines(fh, offset, (data, texts), _apply_pair, _bad_pair)


def _apply_pair(state: tuple[CursorAgentData, list[list[str]]], obj: Any) -> None:
    apply_line(state[0], obj, state[1])


def _bad_pair(state: tuple[CursorAgentData, list[list[str]]]) -> None:
    state[0]["skipped"] += 1


def _finish_tail(fh: Any, offset: int, data: CursorAgentData, texts: list[list[str]]) -> int:
    """The half-written last line rule (see ``jsonl.read_tail``)."""
    offset, data["tail_partial"] = read_tail(fh, offset, (data, texts), _apply_pair)
    return offset


def read_jsonl(
    path: str, prior: FileState | None
) -> tuple[tuple[int, int, int, int], int, bytes, CursorAgentData]:
    with open_regular(path) as fh:
        identity = file_identity(os.fstat(fh.fileno()))
        head = blake2b(fh.read(HEAD_BYTES), digest_size=16).digest()
        if prior is None or prior.data.get("kind") != "jsonl" or needs_full_read(prior, identity, head):
            data, offset = new_data(path), 0
        else:
            data, offset = cast(CursorAgentData, prior.data), prior.offset
        texts: list[list[str]] = [[], []]
        offset = _read_lines(fh, offset, data, texts)
        offset = _finish_tail(fh, offset, data, texts)
    add_counts(data, texts)
    if "slug_path" not in data and not data["side"]:
        data["slug_path"] = resolve_slug(path, data["slug"])
    return identity, offset, head, data


# ---------------------------------------------------------------------------------------------------
# The older plain-text transcripts


def read_text(path: str) -> CursorAgentData:
    """``<id>.txt``: ``user:`` / ``assistant:`` lines start messages; in an assistant message,
    ``[Thinking]``, ``[Tool call] <name>`` and ``[Tool result]`` lines start sections."""
    data = new_data(path)
    data["kind"] = "txt"
    with open_regular(path) as fh:
        lines = fh.read().decode("utf-8", "replace").split("\n")
    texts: list[list[str]] = [[], []]
    role, section = "", "text"
    buf: list[str] = []  # the current section's lines
    for line in [*lines, "user:"]:  # a sentinel closes the last message
        marker = line.strip()
        if marker in ("user:", "assistant:") or marker.startswith(
            ("[Thinking]", "[Tool call]", "[Tool result]")
        ):
            _close_section(data, role, section, "\n".join(buf), texts)
            buf = []
            if marker in ("user:", "assistant:"):
                role, section = marker[:-1], "text"
            else:
                section, _sep, rest = marker[1:].partition("]")
                buf = [rest.strip()] if rest.strip() else []  # the thinking text or the tool's name
                data["tools"] += section == "Tool call"
            continue
        buf.append(line)
    add_counts(data, texts)
    data["slug_path"] = resolve_slug(path, data["slug"])
    return data


def _close_section(data: CursorAgentData, role: str, section: str, text: str, texts: list[list[str]]) -> None:
    if role == "user":
        _user_line(data, [{"type": "text", "text": text}], texts)
    elif role == "assistant":
        if section == "Tool result":
            texts[0].append(text)
        else:
            texts[1].append(text)
            data["assistant"] += section == "text" and bool(text.strip())


# ---------------------------------------------------------------------------------------------------
# The CLI store's metadata


def _meta_json(value: Any) -> Any:
    raw = value.encode() if isinstance(value, str) else bytes(value or b"")
    raw = raw.strip()
    if not raw.startswith(b"{"):
        raw = bytes.fromhex(raw.decode("ascii"))
    return _loads(raw)


class _StoreBase(TypedDict):
    kind: str  # "meta"
    hash: str
    skipped: int


class StoreData(_StoreBase, total=False):
    """What is kept of one CLI ``store.db`` (its chat's name, model and start), when its meta says."""

    name: str | None
    model: str | None
    created: str | None


def read_store(path: str) -> StoreData:
    """``chats/<hash>/<id>/store.db``: name, start and model from ``meta['0']`` (hex-encoded JSON)."""
    data: StoreData = {"kind": "meta", "hash": Path(path).parent.parent.name, "skipped": 0}
    try:
        conn, _mode = open_readonly(path)
    except sqlite3.Error:
        data["skipped"] = 1
        return data
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = '0'").fetchone()
        meta = _meta_json(row[0]) if row else None
    except (sqlite3.Error, ValueError, UnicodeError):
        meta = None
        data["skipped"] = 1
    finally:
        conn.close()
    if isinstance(meta, dict):
        name = meta.get("name")
        model = meta.get("lastUsedModel")
        created = meta.get("createdAt")
        data["name"] = name if isinstance(name, str) and name.strip() and name != DEFAULT_NAME else None
        data["model"] = model if isinstance(model, str) and model.strip() else None
        data["created"] = ms_iso(created)
    return data


# ---------------------------------------------------------------------------------------------------
# The project slug


def _cursor_root(path: str) -> Path | None:
    parts = Path(path).parts
    if "agent-transcripts" not in parts:
        return None
    at = parts.index("agent-transcripts")
    return Path(*parts[: at - 2]) if at >= 3 else None


def _session_hashes(root: Path, sid: str) -> set[str]:
    """The ``chats/<md5(cwd)>`` folders that hold this session's store."""
    return {e.name for e in scandir_sorted(root / "chats") if os.path.isdir(os.path.join(e.path, sid))}


def slug_candidates(slug: str, start: str = "/") -> list[str]:
    """Folders on this machine whose slug is ``slug``, found by walking down from ``start`` one
    matching folder name at a time (bounded to MAX_DIR_LISTINGS folder listings)."""
    found: list[str] = []
    budget = [MAX_DIR_LISTINGS]

    def walk(folder: str, rest: str) -> None:
        if budget[0] <= 0:
            return
        budget[0] -= 1
        for entry in scandir_sorted(folder):
            part = slugify(entry.name)
            if not part or not (rest == part or rest.startswith(part + "-")) or not _is_dir(entry):
                continue
            if rest == part:
                found.append(entry.path)
            else:
                walk(entry.path, rest[len(part) + 1 :])

    if slug and os.name == "posix":
        walk(start, slug)
    return found


def resolve_slug(path: str, slug: str | None) -> str | None:
    """The workspace folder a ``projects/<slug>`` stands for, when it can be told for sure: the one
    candidate whose md5 names this session's ``chats/`` folder, or the only candidate when the session
    has no store."""
    root = _cursor_root(path)
    if not slug or root is None:
        return None
    sid = Path(path).stem if Path(path).parent.name == "agent-transcripts" else Path(path).parent.name
    hashes = _session_hashes(root, sid)
    candidates = slug_candidates(slug)
    if hashes:
        import hashlib  # md5 here alone: the module loads without hashlib's OpenSSL bindings

        matches = [c for c in candidates if hashlib.md5(c.encode()).hexdigest() in hashes]
        return matches[0] if len(matches) == 1 else None
    return candidates[0] if len(candidates) == 1 else None


# ---------------------------------------------------------------------------------------------------
# The reader


class CursorAgentReader:
    """Cursor Agent CLI sessions: one per ``agent-transcripts`` id."""

    name = AGENT
    parser_version = 1

    def __init__(self, roots: Sequence[Path]) -> None:
        self.cursor_roots = tuple(roots)

    @classmethod
    def from_paths(cls, paths: Paths) -> CursorAgentReader:
        return cls(cursor_dirs(paths))

    def roots(self) -> list[tuple[str, bool]]:
        """The ``projects`` folders looked at, and whether each exists (for `lsm info`)."""
        return [(str(r / "projects"), (r / "projects").is_dir()) for r in self.cursor_roots]

    def sources(self) -> Iterable[tuple[str, str, tuple[int, int, int, int]]]:
        """Every transcript, then the CLI store of each session that has one (by folder listing and
        stat only; a file reachable twice is listed once)."""
        seen: set[tuple[int, int]] = set()
        for root in self.cursor_roots:
            ids: set[str] = set()
            for project in scandir_sorted(root / "projects"):
                for path, sid in transcripts_in(os.path.join(project.path, "agent-transcripts")):
                    ident = _stat(path)
                    if ident is not None and ident[:2] not in seen:
                        seen.add(ident[:2])
                        ids.add(sid)
                        yield path, sid, ident
            for store, sid in chat_stores(root, ids):
                try:
                    ident = db_identity(store)
                except OSError:
                    continue
                if ident[:2] not in seen:
                    seen.add(ident[:2])
                    yield store, sid, ident

    def read(self, path: str, session_key: str, prior: FileState | None) -> FileState:
        path = str(path)
        if path.endswith("store.db"):
            ident = db_identity(path)
            return FileState(path, session_key, ident, ident[2], b"", cast(dict[str, Any], read_store(path)))
        if path.endswith(".txt"):
            ident = file_identity(os.stat(path))
            return FileState(path, session_key, ident, ident[2], b"", cast(dict[str, Any], read_text(path)))
        ident, offset, head, data = read_jsonl(path, prior)
        return FileState(path, session_key, ident, offset, head, cast(dict[str, Any], data))

    def sessions(self, states: Sequence[FileState]) -> list[Session]:
        by_key: dict[str, list[FileState]] = {}
        for state in states:
            by_key.setdefault(state.session_key, []).append(state)
        out = []
        for key, files in sorted(by_key.items()):
            if any(f.data.get("kind") != "meta" for f in files):
                out.append(build_session(key, files))
        return out


# ---------------------------------------------------------------------------------------------------
# Sessions


def _first(values: Iterable[Any]) -> Any:
    return next((v for v in values if v), None)


def _mtime_iso(ns: int) -> str | None:
    return ms_iso(ns / 1_000_000)


def build_session(key: str, files: list[FileState]) -> Session:
    from llm_session_manager.models import (  # not at import: listing files needs no models
        ModelTokens,
        Session,
        TokenUsage,
    )

    files = sorted(files, key=lambda f: f.path)
    metas = [f.data for f in files if f.data.get("kind") == "meta"]
    texts = [f for f in files if f.data.get("kind") != "meta"]
    datas = [f.data for f in texts]
    main = [d for d in datas if not d.get("side")] or datas

    tin, tout = total(datas, "in"), total(datas, "out")
    model = _first(m.get("model") for m in metas)
    ctx = sum(int(d["in"]) + int(d["out"]) for d in main)
    stamps = [_mtime_iso(f.identity[3]) for f in texts] + [d.get("last_ts") for d in datas]
    last = max((t for t in stamps if t), default=None)
    started = _first(m.get("created") for m in metas) or min(
        (d["first_ts"] for d in datas if d.get("first_ts")), default=None
    )
    name = _first(m.get("name") for m in metas)
    title = title_from(name) if name else _first(d.get("first_prompt") for d in main)
    project = _first(d.get("cwd") for d in main) or _first(d.get("cwd") for d in datas)
    return Session(
        id=f"{AGENT}:{key}",
        agent=AGENT,
        native_id=key,
        title=title,
        project_path=project or _first(d.get("slug_path") for d in main),
        git_branch=None,
        model=model,
        models=(model,) if model else (),
        started_at=parse_ts(started) if started else None,
        last_activity=parse_ts(last) if last else None,
        tokens=TokenUsage(tin, tout, 0, 0, "counted"),
        context_tokens=ctx if ctx else None,
        context_window=None,
        context_window_source="",
        messages_user=sum(int(d["prompts"]) for d in main),
        messages_assistant=sum(int(d["assistant"]) for d in main),
        tool_calls=total(datas, "tools"),
        tool_errors=total(datas, "tool_errors"),
        api_errors=total(datas, "api_errors"),
        interruptions=total(datas, "interruptions"),
        compactions=0,
        skipped_lines=total(datas, "skipped")
        + sum(1 for d in datas if d.get("tail_partial"))
        + sum(int(m.get("skipped") or 0) for m in metas),
        transcript_paths=tuple(f.path for f in files),
        recent_tool_results=tuple(bool(r) for d in main for r in d.get("recent", []))[-RECENT_KEEP:],
        model_usage=(ModelTokens(model or UNKNOWN_MODEL, tin, tout),) if tin or tout else (),
        peak_context_tokens=ctx or None,
    )


# ---------------------------------------------------------------------------------------------------
# The conversation itself, for export (read on demand, never cached; see docs/EXPORT_FORMAT.md).
#
# User turns show what the user typed (``prompt_of``: the ``<user_query>`` blocks, without Cursor's
# context blocks), timed by their ``<timestamp>`` block when there is one; a user line holding only
# context blocks is left out. Assistant turns carry no time and no model (the transcript has neither).
# Thinking is left out. Consecutive assistant lines are one reply (one turn), and so are consecutive
# user lines that only return tool results. Sub-agent transcripts and the CLI store are not read.


def _call_of(block: dict[str, Any]) -> ToolCall:
    call_id = block.get("id", block.get("toolCallId", block.get("tool_use_id")))
    return {
        "id": call_id,
        "name": block.get("name") or block.get("toolName"),
        "input": block.get("input", block.get("args")),
    }


def _result_of(block: dict[str, Any]) -> ToolResult:
    content = block.get("content", block.get("result"))
    return {
        "tool_use_id": block.get("tool_use_id", block.get("toolCallId", block.get("id"))),
        "is_error": block.get("is_error") is True,
        "content": _block_text(content) or _json_text(content),
    }


def _line_turn(obj: dict[str, Any]) -> Turn | None:
    """One JSONL line as a turn, or None when it holds nothing of the conversation."""
    role = obj.get("role")
    if role not in ("user", "assistant"):
        return None
    texts: list[str] = []
    calls: list[ToolCall] = []
    results: list[ToolResult] = []
    for block in _blocks(obj):
        if not isinstance(block, dict):
            continue
        btype = block.get("type")
        if btype == "text" and isinstance(block.get("text"), str):
            texts.append(block["text"])
        elif btype in _TOOL_USE:
            calls.append(_call_of(block))
        elif btype in _TOOL_RESULT:
            results.append(_result_of(block))
    raw = "\n".join(texts)
    text = prompt_of(raw) if role == "user" else raw
    if not text.strip() and not calls and not results:
        return None
    turn: Turn = {
        "role": role,
        "timestamp": stamp_of(raw) if role == "user" else None,
        "text": text,
    }
    if role == "assistant":
        turn["model"] = None
    if calls:
        turn["tool_calls"] = calls
    if results:
        turn["tool_results"] = results
    return turn


def _joins(prev: Turn, turn: Turn) -> bool:
    """Whether ``turn`` continues ``prev``: more of the same reply, or more tool results."""
    if prev["role"] != turn["role"]:
        return False
    if turn["role"] == "assistant":
        return True
    texts = prev.get("text") or turn.get("text")
    return not texts and "tool_results" in prev and "tool_results" in turn


def _add_turn(turns: list[Turn], turn: Turn) -> None:
    if not turns or not _joins(turns[-1], turn):
        turns.append(turn)
        return
    into = turns[-1]
    into["text"] = "\n".join(t for t in (into.get("text"), turn.get("text")) if t)
    merge_tools(into, turn)


def _jsonl_turns(path: str) -> list[Turn]:
    """Turns of a ``.jsonl`` transcript; garbage and half-written lines are skipped."""
    turns: list[Turn] = []
    with open_regular(path) as fh:
        for raw in fh:
            try:
                obj = _loads(raw)
            except ValueError:
                continue
            turn = _line_turn(obj) if isinstance(obj, dict) else None
            if turn is not None:
                _add_turn(turns, turn)
    return turns


def _text_turns(path: str) -> list[Turn]:
    """Turns of an older ``.txt`` transcript (``user:`` / ``assistant:`` messages; in a reply,
    ``[Thinking]``, ``[Tool call] <name>`` and ``[Tool result]`` sections, as ``read_text`` reads them).
    A tool call's input is its section text (the arguments as Cursor printed them); calls and results
    carry no ids."""
    with open_regular(path) as fh:
        lines = fh.read().decode("utf-8", "replace").split("\n")
    turns: list[Turn] = []
    role, section, name = "", "text", ""
    buf: list[str] = []
    for line in [*lines, "user:"]:  # a sentinel closes the last message
        marker = line.strip()
        if marker in ("user:", "assistant:") or marker.startswith(
            ("[Thinking]", "[Tool call]", "[Tool result]")
        ):
            _text_section(turns, role, section, name, "\n".join(buf).strip("\n"))
            buf = []
            if marker in ("user:", "assistant:"):
                role, section, name = marker[:-1], "text", ""
            else:
                section, _sep, rest = marker[1:].partition("]")
                name = rest.strip()
            continue
        buf.append(line)
    return turns


def _text_section(turns: list[Turn], role: str, section: str, name: str, text: str) -> None:
    turn: Turn | None = None
    if role == "user":
        prompt = prompt_of(text)
        turn = {"role": "user", "timestamp": stamp_of(text), "text": prompt} if prompt else None
    elif role == "assistant" and section == "text" and text.strip():
        turn = {"role": "assistant", "timestamp": None, "text": text.strip(), "model": None}
    elif role == "assistant" and section == "Tool call":
        call: ToolCall = {"id": None, "name": name or None, "input": text.strip()}
        turn = {"role": "assistant", "timestamp": None, "text": "", "model": None, "tool_calls": [call]}
    elif role == "assistant" and section == "Tool result":
        result: ToolResult = {"tool_use_id": None, "is_error": False, "content": text.strip()}
        turn = {"role": "assistant", "timestamp": None, "text": "", "model": None, "tool_results": [result]}
    if turn is not None:
        _add_turn(turns, turn)


def read_conversation(paths: Sequence[str], native_id: str | None = None) -> list[Turn]:
    """The main conversation of a Cursor Agent session, in order: prompts, replies, tool calls and their
    results. ``paths`` are the session's ``transcript_paths``: the transcript (``.jsonl`` or ``.txt``),
    its sub-agents' transcripts and the CLI store; only the main transcript holds the conversation."""
    turns: list[Turn] = []
    for path in paths:
        if "subagents" in Path(path).parts:
            continue
        if path.endswith(".jsonl"):
            turns.extend(_jsonl_turns(path))
        elif path.endswith(".txt"):
            turns.extend(_text_turns(path))
    return turns


# ---------------------------------------------------------------------------------------------------
# What lsm knows about Cursor Agent

INFO = AgentInfo(
    name=AGENT,
    display_name="Cursor Agent",
    reader=lambda setup: CursorAgentReader.from_paths(setup.paths),
    signature=AgentSignature(
        agent=AGENT,
        # ~/.local/bin/cursor-agent (or `agent`) -> ~/.local/share/cursor-agent/versions/<ver>/cursor-agent,
        # a bash script that does `exec -a "$0" "$SCRIPT_DIR/node" [--use-system-ca] "$SCRIPT_DIR/index.js"`:
        # argv[0] is the wrapper's path, the executable the bundled node.
        programs=frozenset({"cursor-agent"}),
        interpreters=frozenset({"node", "nodejs"}),
        script_suffixes=("cursor-agent/versions/*/index.js", "cursor-agent/versions/*/dist-package/index.js"),
        # `worker-server` is the session's own helper child; `worker` the long-lived host of agents
        # dispatched from the IDE or cursor.com (it runs many chats; the IDE row stands for it);
        # `acp` a server for editors; the rest are utilities.
        deny_subcommands=frozenset(
            {"worker", "worker-server", "acp", "mcp", "login", "logout", "status", "whoami", "update"}
            | {"upgrade", "install-shell-integration", "uninstall-shell-integration", "ls", "about"}
            | {"models", "create-chat", "plugin", "help"}
        ),
        options_before_subcommand=True,
        value_options=frozenset(
            {"--model", "-m", "--output-format", "--mode", "--api-key", "--workspace", "--worker-dir", "-H"}
            | {"--header"}
        ),
        resume_subcommand="resume",
    ),
    resume=("cursor-agent", "--resume"),
    conversation=read_conversation,
)
