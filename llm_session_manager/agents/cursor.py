"""Cursor IDE chats ("composers") from Cursor's global SQLite database, ``state.vscdb``.

Where: ``<User>/globalStorage/state.vscdb``, with ``<User>`` = ``$XDG_CONFIG_HOME/Cursor/User`` (Linux,
default ``~/.config``), ``~/Library/Application Support/Cursor/User`` (macOS) or ``%APPDATA%/Cursor/User``
(Windows). Every one of them that exists is read.

What is in the database (all of it written by Cursor, read-only to us):

- ``cursorDiskKV(key TEXT UNIQUE ON CONFLICT REPLACE, value BLOB)``, JSON values:

  - ``composerData:<cid>``: one chat. ``{name, createdAt (ms), lastUpdatedAt (ms), modelConfig{modelName},
    fullConversationHeadersOnly: [{bubbleId, type}], subComposerIds, createdOnBranch…}``. Legacy rows
    have the whole conversation inline in ``conversation: [bubble…]`` instead of headers.
  - ``bubbleId:<cid>:<bid>``: one message. ``{type: 1 user | 2 assistant, text, createdAt (ISO),
    modelInfo{modelName}, thinking{text}, toolFormerData{name, rawArgs, params, result, status,
    additionalData{status}}, errorDetails, tokenCount{inputTokens, outputTokens}…}``.
- ``composerHeaders(composerId, workspaceId, createdAt, lastUpdatedAt, isArchived, isSubagent, …, value)``
  on newer installs (``value`` JSON may hold ``name`` and ``workspaceIdentifier{id, uri{fsPath}}``); the
  same index as JSON under ``ItemTable['composer.composerHeaders']`` on 3.0-era installs.
- ``<User>/workspaceStorage/<workspaceId>/workspace.json`` (``{"folder": "file:///…"}``) names a
  workspace's folder; older installs list a workspace's chats in that folder's own ``state.vscdb``
  (``ItemTable['composer.composerData'].allComposers[].composerId``).

Tokens: a bubble whose ``tokenCount`` is non-zero was metered by Cursor and counts exactly. ``{0, 0}`` (or
no ``tokenCount``) means "not metered", not "free": such bubbles are counted with tiktoken, and a session
with any counted part reports ``source = "counted"``. The rules are in docs/TOKENS_AND_COST.md ("Cursor").

Reading never writes or locks: see ``open_readonly``. One database holds every chat, so one read yields
many sessions; a chat whose rows did not change since the previous read keeps its earlier aggregate
(rows are fingerprinted by key and rowid from the key index alone, without reading their values).
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict, cast
from urllib.parse import quote, unquote, urlsplit

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
    count_or,
    merge_tools,
    open_regular,
    scandir_sorted,
    title_from,
)
from llm_session_manager.agents.jsonl import LINE_ERRORS
from llm_session_manager.digest import blake2b
from llm_session_manager.fileio import UnreadableFile, read_regular
from llm_session_manager.paths import Paths, xdg_config_home
from llm_session_manager.timefmt import canonical_before, canonical_ts, parse_ts

if TYPE_CHECKING:
    from llm_session_manager.models import Session

AGENT = "cursor"
RECENT_KEEP = 20
RECENT_WINDOW = timedelta(minutes=30)
WORKSPACE_JSON_MAX = 1024 * 1024  # workspaceStorage/<id>/workspace.json: a folder URI or two
ALWAYS_REREAD = 3  # the chats written last are read again even when their key index did not change
USER, ASSISTANT = 1, 2
_KV = "cursorDiskKV"


# ---------------------------------------------------------------------------------------------------
# Where the databases are


def cursor_user_dirs(paths: Paths) -> tuple[Path, ...]:
    """Cursor's ``User`` folders for Linux, macOS and Windows (each is looked at; most will not exist)."""
    env, home = paths.env, paths.home
    appdata = env.get("APPDATA")
    dirs = [
        xdg_config_home(env, home) / "Cursor" / "User",
        home / "Library" / "Application Support" / "Cursor" / "User",
        (Path(appdata) if appdata else home / "AppData" / "Roaming") / "Cursor" / "User",
    ]
    out: list[Path] = []
    for d in dirs:
        if d not in out:
            out.append(d)
    return tuple(out)


def db_identity(path: str | Path) -> tuple[int, int, int, int]:
    """(dev, ino, size, mtime_ns) of the database combined with its ``-wal`` file: a write that only
    reached the WAL (Cursor keeps the database open in WAL mode) changes the identity too. Raises
    ``UnreadableFile`` for anything but a regular file (SQLite would block opening a FIFO)."""
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        raise UnreadableFile(f"{path}: not a regular file")
    size, mtime = st.st_size, st.st_mtime_ns
    try:
        wal = os.stat(f"{path}-wal")
    except OSError:
        return (st.st_dev, st.st_ino, size, mtime)
    return (st.st_dev, st.st_ino, size + wal.st_size, mtime + wal.st_mtime_ns)


# ---------------------------------------------------------------------------------------------------
# Opening without writing or locking


def _is_wal_file(path: str) -> bool:
    """True when the database header says WAL mode (bytes 18-19 of the header are 2)."""
    try:
        with open_regular(path) as fh:
            header = fh.read(20)
    except OSError:
        return False
    return len(header) == 20 and header[18] == 2


def _connect(path: str, param: str) -> sqlite3.Connection:
    uri = f"file:{quote(os.path.abspath(path))}?{param}"
    conn = sqlite3.connect(uri, uri=True, timeout=0, isolation_level=None, check_same_thread=False)
    try:
        conn.execute("PRAGMA query_only = 1")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # fails now if locked or unreadable
    except sqlite3.Error:
        conn.close()
        raise
    return conn


def open_readonly(path: str) -> tuple[sqlite3.Connection, str]:
    """A read-only connection and how it was opened ("ro" or "immutable").

    - A WAL database whose ``-wal`` and ``-shm`` files exist (Cursor is running) is opened with
      ``mode=ro``: WAL readers never block the writer, and what Cursor wrote last is still in the WAL.
    - A WAL database without them (Cursor is closed, the WAL was checkpointed) is opened with
      ``immutable=1``: opening it ``mode=ro`` would create empty ``-wal``/``-shm`` files beside it.
    - A rollback-journal database is opened ``mode=ro`` with no busy wait, so a lock held by a writer
      fails at once instead of waiting.
    - When ``mode=ro`` fails (locked, busy, WAL index unreadable), ``immutable=1``: no lock is taken at
      all and the file is read as it is on disk.
    """
    if _is_wal_file(path) and not (os.path.exists(f"{path}-wal") and os.path.exists(f"{path}-shm")):
        return _connect(path, "immutable=1"), "immutable"
    try:
        return _connect(path, "mode=ro"), "ro"
    except sqlite3.Error:
        return _connect(path, "immutable=1"), "immutable"


def _has_table(conn: sqlite3.Connection, name: str) -> bool:
    row = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone()
    return row is not None


def _range(prefix: str) -> tuple[str, str]:
    """Bounds for ``key >= lo AND key < hi`` matching every key that starts with ``prefix``, which ends
    with ':' (the next character, ';', closes the range). The key index answers this; LIKE would not."""
    return prefix, prefix[:-1] + ";"


# ---------------------------------------------------------------------------------------------------
# Small value helpers


def _loads(value: Any) -> Any:
    """Parse a stored JSON value (TEXT or BLOB); raises ValueError when it is not JSON."""
    if value is None:
        raise ValueError("null value")
    return orjson.loads(value)


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def ms_iso(value: Any) -> str | None:
    """Epoch milliseconds (Cursor's composer timestamps) as a canonical ISO string."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        return None
    try:
        dt = datetime.fromtimestamp(value / 1000, timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def _ts(value: Any) -> str | None:
    """A bubble timestamp (ISO string, or epoch ms in some versions) as a canonical ISO string."""
    if isinstance(value, str):
        return canonical_ts(value)
    return ms_iso(value)


def _max_ts(*values: str | None) -> str | None:
    present = [v for v in values if v]
    return max(present) if present else None


# ---------------------------------------------------------------------------------------------------
# Headers: the composer -> workspace index


def _header_from_value(value: Any) -> dict[str, Any]:
    """name, workspace id and folder from a header's JSON (``workspaceIdentifier{id, uri{fsPath}}``)."""
    try:
        obj = _loads(value)
    except ValueError:
        return {}
    return header_facts(obj) if isinstance(obj, dict) else {}


def header_facts(obj: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    name = obj.get("name")
    if isinstance(name, str) and name.strip():
        out["name"] = name
    ident = obj.get("workspaceIdentifier")
    if isinstance(ident, dict):
        if isinstance(ident.get("id"), str):
            out["workspace"] = ident["id"]
        uri = ident.get("uri")
        fs_path = uri.get("fsPath") if isinstance(uri, dict) else None
        if isinstance(fs_path, str) and fs_path:
            out["folder"] = fs_path
    return out


def _json_headers(conn: sqlite3.Connection) -> dict[str, dict[str, Any]]:
    """The 3.0-era JSON index ``ItemTable['composer.composerHeaders'].allComposers``."""
    if not _has_table(conn, "ItemTable"):
        return {}
    row = conn.execute("SELECT value FROM ItemTable WHERE key = 'composer.composerHeaders'").fetchone()
    try:
        doc = _loads(row[0]) if row else None
    except ValueError:
        return {}
    entries = doc.get("allComposers") if isinstance(doc, dict) else None
    out: dict[str, dict[str, Any]] = {}
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict) and isinstance(entry.get("composerId"), str):
            head = header_facts(entry)
            head["archived"] = entry.get("isArchived") is True
            out[entry["composerId"]] = head
    return out


def _sql_headers(conn: sqlite3.Connection) -> dict[str, dict[str, Any]]:
    """The ``composerHeaders`` table of newer installs (only the columns that exist are read)."""
    if not _has_table(conn, "composerHeaders"):
        return {}
    columns = {str(r[1]) for r in conn.execute("PRAGMA table_info(composerHeaders)")}
    wanted = ("workspaceId", "createdAt", "lastUpdatedAt", "isArchived", "isSubagent", "value")
    present = [c for c in wanted if c in columns]
    if "composerId" not in columns:
        return {}
    sql = f"SELECT composerId{''.join(', ' + c for c in present)} FROM composerHeaders"
    out: dict[str, dict[str, Any]] = {}
    for row in conn.execute(sql):
        if not isinstance(row[0], str):
            continue
        cols = dict(zip(present, row[1:]))
        head = _header_from_value(cols.get("value")) if cols.get("value") is not None else {}
        if isinstance(cols.get("workspaceId"), str) and cols["workspaceId"]:
            head["workspace"] = cols["workspaceId"]
        head["created"] = ms_iso(cols.get("createdAt"))
        head["updated"] = ms_iso(cols.get("lastUpdatedAt"))
        head["archived"] = bool(cols.get("isArchived"))
        head["subagent"] = bool(cols.get("isSubagent"))
        out[row[0]] = head
    return out


def read_headers(conn: sqlite3.Connection) -> dict[str, dict[str, Any]]:
    """Composer id -> header facts; the SQL table wins over the JSON index for the same composer."""
    headers = _json_headers(conn)
    for cid, head in _sql_headers(conn).items():
        merged = dict(headers.get(cid, {}))
        merged.update({k: v for k, v in head.items() if v is not None})
        headers[cid] = merged
    return headers


# ---------------------------------------------------------------------------------------------------
# The key index: which chats exist and which changed


def key_index(conn: sqlite3.Connection) -> dict[str, list[Any]]:
    """Composer id -> [composerData rowid or None, [[bubble id, rowid], …]], from the key index alone
    (``SELECT key, rowid`` over a key range is answered by the UNIQUE index without touching values)."""
    index: dict[str, list[Any]] = {}
    lo, hi = _range("composerData:")
    for key, rowid in conn.execute(f"SELECT key, rowid FROM {_KV} WHERE key >= ? AND key < ?", (lo, hi)):
        cid = str(key)[len(lo) :]
        if cid:
            index.setdefault(cid, [None, []])[0] = rowid
    lo, hi = _range("bubbleId:")
    for key, rowid in conn.execute(f"SELECT key, rowid FROM {_KV} WHERE key >= ? AND key < ?", (lo, hi)):
        cid, sep, bid = str(key)[len(lo) :].partition(":")
        if cid and sep:
            index.setdefault(cid, [None, []])[1].append([bid, rowid])
    return index


def fingerprint(entry: Sequence[Any]) -> str:
    """A digest of a chat's row keys and rowids. Cursor writes rows with INSERT into a table declared
    ``ON CONFLICT REPLACE``, which gives a rewritten row a new rowid, so any added, removed or rewritten
    row changes the digest."""
    digest = blake2b(repr(entry[0]).encode(), digest_size=12)
    for bid, rowid in entry[1]:
        digest.update(f"|{bid}:{rowid}".encode())
    return digest.hexdigest()


def _recent_cids(index: dict[str, list[Any]], keep: int) -> set[str]:
    """The chats owning the highest rowids, i.e. written last."""
    top = sorted(
        ((max([e[0] or 0] + [r for _b, r in e[1]]), cid) for cid, e in index.items()),
        reverse=True,
    )
    return {cid for _r, cid in top[:keep]}


# ---------------------------------------------------------------------------------------------------
# Reading one chat


def read_composer(conn: sqlite3.Connection, cid: str) -> tuple[Any, dict[str, Any], int]:
    """(composerData JSON or None, {bubble id: bubble JSON}, number of values that were not JSON)."""
    skipped = 0
    composer: Any = None
    row = conn.execute(f"SELECT value FROM {_KV} WHERE key = ?", (f"composerData:{cid}",)).fetchone()
    if row is not None:
        try:
            composer = _loads(row[0])
        except ValueError:
            skipped += 1
    if not isinstance(composer, dict):
        composer = None
    bubbles: dict[str, Any] = {}
    lo, hi = _range(f"bubbleId:{cid}:")
    for key, value in conn.execute(f"SELECT key, value FROM {_KV} WHERE key >= ? AND key < ?", (lo, hi)):
        try:
            obj = _loads(value)
        except ValueError:
            skipped += 1
            continue
        if isinstance(obj, dict):
            bubbles[str(key)[len(lo) :]] = obj
        else:
            skipped += 1
    return composer, bubbles, skipped


def ordered_bubbles(composer: dict[str, Any] | None, kv: dict[str, Any]) -> list[dict[str, Any]]:
    """The conversation in order.

    - ``fullConversationHeadersOnly`` present: its bubbles, in its order, from their ``bubbleId:`` rows
      (bubbles left in the table but no longer in the headers — edited or reverted turns — are not part
      of the conversation);
    - else a legacy inline ``conversation``: its bubbles, each replaced by its ``bubbleId:`` row if one
      exists;
    - else (no or unreadable composerData): every ``bubbleId:`` row, by ``createdAt`` then key.
    """
    if composer is not None:
        headers = composer.get("fullConversationHeadersOnly")
        if isinstance(headers, list):
            ids = [h.get("bubbleId") for h in headers if isinstance(h, dict)]
            return [kv[i] for i in ids if isinstance(i, str) and i in kv]
        inline = composer.get("conversation")
        if isinstance(inline, list):
            out = []
            for b in inline:
                if isinstance(b, dict):
                    bid = b.get("bubbleId")
                    out.append(kv.get(bid, b) if isinstance(bid, str) else b)
            return out
    return [kv[k] for k in sorted(kv, key=lambda k: (_ts(kv[k].get("createdAt")) or "", k))]


# ---------------------------------------------------------------------------------------------------
# Folding one chat's bubbles


def token_count(bubble: dict[str, Any]) -> tuple[int, int] | None:
    """(input, output) when Cursor metered the bubble; None for ``{0, 0}`` or no ``tokenCount``;
    ValueError for a count out of range."""
    tc = bubble.get("tokenCount")
    if not isinstance(tc, dict):
        return None
    inp, out = count_or(tc.get("inputTokens")), count_or(tc.get("outputTokens"))
    return (inp, out) if inp or out else None


def _tool(bubble: dict[str, Any]) -> dict[str, Any] | None:
    tool = bubble.get("toolFormerData")
    return tool if isinstance(tool, dict) and tool else None


def tool_status(tool: dict[str, Any]) -> str:
    """``additionalData.status`` wins over ``status``: "completed" there means the request finished."""
    extra = tool.get("additionalData")
    status = extra.get("status") if isinstance(extra, dict) else None
    return status if isinstance(status, str) else _str(tool.get("status"))


def _thinking(bubble: dict[str, Any]) -> str:
    value = bubble.get("thinking")
    if isinstance(value, dict):
        return _str(value.get("text"))
    return _str(value)


def _code_blocks(bubble: dict[str, Any]) -> str:
    blocks = bubble.get("codeBlocks")
    if not isinstance(blocks, list):
        return ""
    return "\n".join(_str(b.get("content")) for b in blocks if isinstance(b, dict))


def bubble_texts(bubble: dict[str, Any]) -> tuple[str, str]:
    """(input-side text, output-side text) of an unmetered bubble, as the model saw or wrote it.

    User bubble: its text is input. Assistant bubble: text (or its code blocks when it has no text),
    thinking and tool-call arguments are output; a tool's result is input (it is sent back to the model).
    """
    if bubble.get("type") == USER:
        return _str(bubble.get("text")), ""
    text = _str(bubble.get("text"))
    parts = [text if text.strip() else _code_blocks(bubble), _thinking(bubble)]
    result = ""
    tool = _tool(bubble)
    if tool is not None:
        parts.append(_str(tool.get("rawArgs")) or _str(tool.get("params")))
        result = _str(tool.get("result"))
    return result, "\n".join(p for p in parts if p)


def bubble_model(bubble: dict[str, Any]) -> str | None:
    info = bubble.get("modelInfo")
    name = info.get("modelName") if isinstance(info, dict) else None
    return name if isinstance(name, str) and name.strip() and name != "?" else None


def _turns(bubbles: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """A turn is a user bubble and the assistant bubbles after it (bubbles before the first user bubble
    form a turn of their own)."""
    turns: list[list[dict[str, Any]]] = []
    for b in bubbles:
        if b.get("type") == USER or not turns:
            turns.append([])
        turns[-1].append(b)
    return turns


def plan_tokens(bubbles: list[dict[str, Any]], default_model: str | None) -> list[list[Any]]:
    """One row per bubble: [model, exact input, exact output, input text, output text].

    In a turn where Cursor metered some bubble, the metered input already contains the prompt and the
    tool results of that turn, so the turn's unmetered bubbles add only their output-side text.
    """
    rows: list[list[Any]] = []
    model = default_model
    for turn in _turns(bubbles):
        metered_turn = any(token_count(b) is not None for b in turn)
        for b in turn:
            model = bubble_model(b) or model
            exact = token_count(b)
            if exact is not None:
                rows.append([model, exact[0], exact[1], "", ""])
                continue
            in_text, out_text = bubble_texts(b)
            rows.append([model, 0, 0, "" if metered_turn else in_text, out_text])
    return rows


def count_rows(rows: list[list[Any]]) -> list[tuple[int, int]]:
    """Counted (input, output) tokens of each planned row's texts (tiktoken, o200k_base)."""
    if not any(r[3] or r[4] for r in rows):
        return [(0, 0)] * len(rows)
    # One text at a time: for many short texts this is several times faster than tiktoken's threaded
    # batch encoder (100k bubbles: 0.6 s against 3 s).
    from llm_session_manager.tokens import count_tokens

    return [(count_tokens(r[3]) if r[3] else 0, count_tokens(r[4]) if r[4] else 0) for r in rows]


class _ChatCounts(TypedDict):
    models: dict[str, list[int]]  # model -> [input, output]
    metered: int
    counted: int
    ctx: int | None
    peak: int
    last_model: str | None
    first_ts: str | None
    last_ts: str | None
    prompts: int
    first_prompt: str | None
    assistant: int
    tools: int
    tool_errors: int
    api_errors: int
    recent: list[list[Any]]
    recent_api: list[str | None]
    skipped: int


class CursorChat(_ChatCounts, total=False):
    """One chat's aggregate (see ``new_chat`` and ``fold_chat``), kept in ``FileState.data["chats"]``.
    ``fp`` fingerprints its rows (an unchanged chat is not read again); ``project`` is set once resolved."""

    name: str | None
    created: str | None
    updated: str | None
    model_cfg: str | None
    branch: str | None
    subs: list[str]
    empty: bool
    fp: str
    project: str | None


class CursorData(TypedDict):
    """What is kept of one ``state.vscdb`` (``FileState.data``): every chat's aggregate, the composer
    headers, and how the database was opened."""

    chats: dict[str, CursorChat]
    headers: dict[str, dict[str, Any]]
    mode: str


def new_chat() -> CursorChat:
    return {
        "models": {},  # model -> [input, output]
        "metered": 0,  # bubbles Cursor metered
        "counted": 0,  # tokens we counted with tiktoken (> 0: the chat is "counted")
        "ctx": None,
        "peak": 0,
        "last_model": None,
        "first_ts": None,
        "last_ts": None,
        "prompts": 0,
        "first_prompt": None,
        "assistant": 0,
        "tools": 0,
        "tool_errors": 0,
        "api_errors": 0,
        "recent": [],  # [[ts, is_error], …] of the last RECENT_KEEP tool results
        "recent_api": [],
        "skipped": 0,
    }


def _push(items: list[Any], value: Any, keep: int) -> None:
    items.append(value)
    if len(items) > keep:
        del items[: len(items) - keep]


def _fold_tokens(chat: CursorChat, row: list[Any], counted: tuple[int, int]) -> None:
    model = row[0] or UNKNOWN_MODEL
    inp, out = row[1] + counted[0], row[2] + counted[1]
    if row[1] or row[2]:
        chat["metered"] += 1
        chat["ctx"] = row[1] + row[2]  # the metered request's context, plus what it wrote
    elif inp or out:
        chat["counted"] += inp + out
        chat["ctx"] = (chat["ctx"] or 0) + inp + out
    if inp or out:
        pair = chat["models"].setdefault(model, [0, 0])
        pair[0] += inp
        pair[1] += out
        chat["peak"] = max(chat["peak"], chat["ctx"] or 0)
        if row[0]:
            chat["last_model"] = row[0]


def _fold_message(chat: CursorChat, bubble: dict[str, Any], ts: str | None) -> None:
    text = _str(bubble.get("text"))
    if bubble.get("type") == USER:
        if text.strip():
            chat["prompts"] += 1
            if chat["first_prompt"] is None:
                chat["first_prompt"] = title_from(text)
        return
    tool = _tool(bubble)
    if text.strip() or _thinking(bubble) or tool is not None or _code_blocks(bubble):
        chat["assistant"] += 1
    if tool is not None:
        chat["tools"] += 1
        is_error = tool_status(tool) == "error"
        chat["tool_errors"] += is_error
        _push(chat["recent"], [ts, is_error], RECENT_KEEP)
    if bubble.get("errorDetails"):
        chat["api_errors"] += 1
        _push(chat["recent_api"], ts, 10)


def sound_bubbles(bubbles: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """The bubbles whose figures are in range, and how many were not (each bad bubble is skipped on
    its own: it never hides the rest of the chat)."""
    good: list[dict[str, Any]] = []
    for bubble in bubbles:
        try:
            token_count(bubble)
        except LINE_ERRORS:
            continue
        good.append(bubble)
    return good, len(bubbles) - len(good)


def fold_chat(composer: dict[str, Any] | None, bubbles: list[dict[str, Any]], skipped: int) -> CursorChat:
    """A chat's aggregate (plain JSON) from its composerData and its ordered bubbles."""
    chat = new_chat()
    bubbles, bad = sound_bubbles(bubbles)
    chat["skipped"] = skipped + bad
    comp = composer or {}
    config = comp.get("modelConfig")
    default_model = bubble_model({"modelInfo": config})
    rows = plan_tokens(bubbles, default_model)
    counts = count_rows(rows)
    ts = ms_iso(comp.get("createdAt"))
    for bubble, row, counted in zip(bubbles, rows, counts):
        ts = _ts(bubble.get("createdAt")) or ts  # ~1/3 of bubbles have no createdAt of their own
        if ts:
            chat["first_ts"] = chat["first_ts"] or ts
            chat["last_ts"] = _max_ts(chat["last_ts"], ts)
        _fold_tokens(chat, row, counted)
        _fold_message(chat, bubble, ts)
    chat["name"] = _str(comp.get("name")).strip() or None
    chat["created"] = ms_iso(comp.get("createdAt"))
    chat["updated"] = ms_iso(comp.get("lastUpdatedAt"))
    chat["model_cfg"] = default_model
    chat["branch"] = _str(comp.get("createdOnBranch")) or None
    subs = comp.get("subComposerIds")
    chat["subs"] = [s for s in subs if isinstance(s, str)] if isinstance(subs, list) else []
    chat["empty"] = not bubbles
    return chat


# ---------------------------------------------------------------------------------------------------
# Projects


def folder_from_uri(uri: str) -> str | None:
    """A workspace folder from its URI: ``file:///home/u/p`` (URL-decoded; ``/c%3A/x`` -> ``c:/x``) or the
    path part of ``vscode-remote://host/path``."""
    if not uri:
        return None
    parts = urlsplit(uri)
    if parts.scheme not in ("file", "vscode-remote"):
        return None
    path = unquote(parts.path)
    if len(path) >= 3 and path[0] == "/" and path[2] == ":":
        path = path[1:]  # a Windows drive
    if parts.scheme == "file" and parts.netloc and parts.netloc != "localhost":
        path = f"//{parts.netloc}{path}"  # a UNC share
    return path or None


def workspace_folder(user_dir: Path, workspace_id: str, cache: dict[str, str | None]) -> str | None:
    """``workspaceStorage/<id>/workspace.json``: ``folder``, or the folder holding a ``.code-workspace``."""
    if workspace_id in cache:
        return cache[workspace_id]
    folder: str | None = None
    try:  # a FIFO, device or oversize file here is ignored, never waited on or read whole
        path = user_dir / "workspaceStorage" / workspace_id / "workspace.json"
        raw = read_regular(path, WORKSPACE_JSON_MAX)
        doc = json.loads(raw) if raw is not None else None
    except (OSError, ValueError):
        doc = None
    if isinstance(doc, dict):
        folder = folder_from_uri(_str(doc.get("folder")))
        if folder is None:
            ws_file = folder_from_uri(_str(doc.get("workspace")))
            folder = str(Path(ws_file).parent) if ws_file else None
    cache[workspace_id] = folder
    return folder


def legacy_workspace_map(user_dir: Path) -> dict[str, str]:
    """Composer id -> workspace id from every workspace's own ``state.vscdb``
    (``ItemTable['composer.composerData'].allComposers``), for chats that have no header."""
    out: dict[str, str] = {}
    for entry in scandir_sorted(user_dir / "workspaceStorage"):
        db = os.path.join(entry.path, "state.vscdb")
        if not os.path.isfile(db):
            continue
        for cid in _workspace_composers(db):
            out.setdefault(cid, entry.name)
    return out


def _workspace_composers(db: str) -> list[str]:
    try:
        conn, _mode = open_readonly(db)
    except sqlite3.Error:
        return []
    try:
        row = conn.execute("SELECT value FROM ItemTable WHERE key = 'composer.composerData'").fetchone()
        doc = _loads(row[0]) if row else None
    except (sqlite3.Error, ValueError):
        doc = None
    finally:
        conn.close()
    items = doc.get("allComposers") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        return []
    return [c["composerId"] for c in items if isinstance(c, dict) and isinstance(c.get("composerId"), str)]


def resolve_projects(user_dir: Path, chats: dict[str, CursorChat], headers: dict[str, Any]) -> None:
    """Set each chat's ``project``: the header's folder, else its workspace's ``workspace.json``, else
    (no header) the workspace whose own database lists the chat. Chats that kept an earlier aggregate
    keep the project found then."""
    cache: dict[str, str | None] = {}
    legacy: dict[str, str] | None = None
    for cid, chat in chats.items():
        if chat.get("empty"):
            continue
        head = headers.get(cid, {})
        project = head.get("folder")
        if project is None and head.get("workspace"):
            project = workspace_folder(user_dir, head["workspace"], cache)
        if project is None and "project" in chat:
            continue  # resolved by an earlier read
        if project is None and not head.get("workspace"):
            legacy = legacy_workspace_map(user_dir) if legacy is None else legacy
            ws = legacy.get(cid)
            project = workspace_folder(user_dir, ws, cache) if ws else None
        chat["project"] = project


# ---------------------------------------------------------------------------------------------------
# Reading the database


def read_database(path: str, prior: CursorData | None) -> CursorData:
    """Every chat's aggregate, re-using ``prior`` chats whose rows did not change. A lock taken by a
    writer between two of our statements (rollback-journal databases) restarts the read immutable."""
    conn, mode = open_readonly(path)
    try:
        return _read_all(conn, path, prior, mode)
    except sqlite3.OperationalError:
        if mode == "immutable":
            raise
    finally:
        conn.close()
    conn = _connect(path, "immutable=1")
    try:
        return _read_all(conn, path, prior, "immutable")
    finally:
        conn.close()


def _read_all(conn: sqlite3.Connection, path: str, prior: CursorData | None, mode: str) -> CursorData:
    wal = mode == "ro" and _is_wal_file(path)
    if wal:
        conn.execute("BEGIN")  # one snapshot for the whole read; WAL readers never block the writer
    try:
        if not _has_table(conn, _KV):
            return {"chats": {}, "headers": {}, "mode": mode}
        headers = read_headers(conn)
        index = key_index(conn)
        old = prior.get("chats", {}) if prior else {}
        recent = _recent_cids(index, ALWAYS_REREAD)
        chats: dict[str, CursorChat] = {}
        for cid in sorted(index):
            fp = f"{fingerprint(index[cid])}/{headers.get(cid, {}).get('updated')}"
            kept = old.get(cid)
            if kept is not None and kept.get("fp") == fp and cid not in recent:
                chats[cid] = kept
                continue
            composer, kv, skipped = read_composer(conn, cid)
            try:
                chat = fold_chat(composer, ordered_bubbles(composer, kv), skipped)
            except LINE_ERRORS:  # a chat of a shape we do not know costs that chat, not the database
                chat = fold_chat(None, [], skipped + len(kv) + 1)
            chat["fp"] = fp
            chats[cid] = chat
    finally:
        if wal:
            conn.execute("COMMIT")
    resolve_projects(Path(path).parent.parent, chats, headers)
    return {"chats": chats, "headers": headers, "mode": mode}


# ---------------------------------------------------------------------------------------------------
# The reader


def _scan_db(user_dir: Path) -> Iterator[tuple[str, tuple[int, int, int, int]]]:
    db = user_dir / "globalStorage" / "state.vscdb"
    try:
        if db.is_file():
            yield str(db), db_identity(db)
    except OSError:
        return


class CursorReader:
    """Cursor IDE chats, one session per composer of each ``globalStorage/state.vscdb``."""

    name = AGENT
    parser_version = 2

    def __init__(self, user_dirs: Sequence[Path]) -> None:
        self.user_dirs = tuple(user_dirs)

    @classmethod
    def from_paths(cls, paths: Paths) -> CursorReader:
        return cls(cursor_user_dirs(paths))

    def roots(self) -> list[tuple[str, bool]]:
        """Each platform's database path and whether it exists (for `lsm info`)."""
        dbs = [d / "globalStorage" / "state.vscdb" for d in self.user_dirs]
        return [(str(db), db.is_file()) for db in dbs]

    def sources(self) -> Iterable[tuple[str, str, tuple[int, int, int, int]]]:
        """(database, "", identity) for every database that exists; identity covers its ``-wal`` file."""
        seen: set[tuple[int, int]] = set()
        for user_dir in self.user_dirs:
            for path, ident in _scan_db(user_dir):
                if ident[:2] not in seen:
                    seen.add(ident[:2])
                    yield path, "", ident

    def read(self, path: str, session_key: str, prior: FileState | None) -> FileState:
        ident = db_identity(path)
        data = read_database(str(path), cast(CursorData, prior.data) if prior is not None else None)
        return FileState(str(path), session_key, ident, ident[2], b"", cast(dict[str, Any], data))

    def sessions(self, states: Sequence[FileState]) -> list[Session]:
        out: list[Session] = []
        for state in sorted(states, key=lambda s: s.path):
            out.extend(build_sessions(state.path, cast(CursorData, state.data)))
        return out


# ---------------------------------------------------------------------------------------------------
# Sessions


def _merge_into(parent: CursorChat, child: CursorChat) -> None:
    """A sub-agent chat's tokens and tool activity count in its parent's session."""
    for model, (inp, out) in child["models"].items():
        pair = parent["models"].setdefault(model, [0, 0])
        pair[0] += inp
        pair[1] += out
    parent["metered"] += child["metered"]
    parent["counted"] += child["counted"]
    parent["tools"] += child["tools"]
    parent["tool_errors"] += child["tool_errors"]
    parent["api_errors"] += child["api_errors"]
    parent["skipped"] += child["skipped"]
    parent["recent"] = sorted(parent["recent"] + child["recent"], key=lambda r: r[0] or "")[-RECENT_KEEP:]
    recent_api = sorted(t for t in parent["recent_api"] + child["recent_api"] if t)
    parent["recent_api"] = list[str | None](recent_api[-10:])
    parent["last_ts"] = _max_ts(parent["last_ts"], child["last_ts"])


def _sub_agents(chats: dict[str, CursorChat], headers: dict[str, Any]) -> dict[str, str]:
    """Sub-agent chat -> the top chat it belongs to: a chat whose header says ``isSubagent`` and that
    another chat lists in ``subComposerIds`` (a sub-agent whose parent is not found stays a session)."""
    parents: dict[str, str] = {}
    for cid in sorted(chats):
        for sub in chats[cid].get("subs", []):
            if sub != cid and sub in chats and headers.get(sub, {}).get("subagent"):
                parents.setdefault(sub, cid)
    top: dict[str, str] = {}
    for sub, parent in parents.items():
        seen = {sub}
        while parent in parents and parent not in seen:  # a sub-agent's sub-agent: to the top
            seen.add(parent)
            parent = parents[parent]
        if parent not in parents:
            top[sub] = parent
    return top


def build_sessions(path: str, data: CursorData) -> list[Session]:
    """One session per non-empty chat; a sub-agent's chat is folded into its parent's session."""
    chats: dict[str, CursorChat] = {
        cid: {**c, "models": {m: list(v) for m, v in c["models"].items()}, "recent": list(c["recent"])}
        for cid, c in data.get("chats", {}).items()
        if not c.get("empty")
    }
    headers = data.get("headers", {})
    parents = _sub_agents(chats, headers)
    for sub in sorted(parents):
        _merge_into(chats[parents[sub]], chats[sub])
    return [
        _session(path, cid, chat, headers.get(cid, {}))
        for cid, chat in sorted(chats.items())
        if cid not in parents
    ]


def _window_start(last: str | None) -> str:
    """The start of the recent window (RECENT_WINDOW before the last activity), canonical ISO."""
    return (canonical_before(last, RECENT_WINDOW) if last else None) or ""


def _session(path: str, cid: str, chat: CursorChat, head: dict[str, Any]) -> Session:
    from llm_session_manager.models import (  # not at import: listing files needs no models
        ModelTokens,
        Session,
        TokenUsage,
    )

    models = chat["models"]
    tin = sum(v[0] for v in models.values())
    tout = sum(v[1] for v in models.values())
    exact = chat["metered"] > 0 and chat["counted"] == 0
    ranked = sorted(models, key=lambda m: (-(models[m][0] + models[m][1]), m))
    known = [m for m in ranked if m != UNKNOWN_MODEL]
    last = _max_ts(chat["last_ts"], chat.get("updated"), head.get("updated"))
    started = chat.get("created") or head.get("created") or chat["first_ts"]
    title = head.get("name") or chat.get("name") or chat["first_prompt"]
    start = _window_start(chat["last_ts"])
    return Session(
        id=f"{AGENT}:{cid}",
        agent=AGENT,
        native_id=cid,
        title=title_from(title) if title else None,
        project_path=chat.get("project"),
        git_branch=chat.get("branch"),
        model=chat["last_model"] or chat.get("model_cfg") or (known[0] if known else None),
        models=tuple(known),
        started_at=parse_ts(started) if started else None,
        last_activity=parse_ts(last) if last else None,
        tokens=TokenUsage(tin, tout, 0, 0, "exact" if exact else "counted"),
        context_tokens=chat["ctx"],
        context_window=None,
        context_window_source="",
        messages_user=chat["prompts"],
        messages_assistant=chat["assistant"],
        tool_calls=chat["tools"],
        tool_errors=chat["tool_errors"],
        api_errors=chat["api_errors"],
        interruptions=0,
        compactions=0,
        skipped_lines=chat["skipped"],
        transcript_paths=(path,),
        recent_tool_results=tuple(bool(r[1]) for r in chat["recent"] if (r[0] or "") >= start),
        recent_api_errors=sum(1 for t in chat["recent_api"] if t and t >= start),
        model_usage=tuple(ModelTokens(m, models[m][0], models[m][1]) for m in ranked),
        peak_context_tokens=chat["peak"] or None,
    )


# ---------------------------------------------------------------------------------------------------
# The conversation, for export


def read_conversation(paths: Sequence[str], native_id: str | None = None) -> list[Turn]:
    """One chat's conversation, in order. ``paths`` is the session's ``transcript_paths`` (the shared
    ``state.vscdb``, which holds every chat) and ``native_id`` the composer id that names the chat.

    The bubbles are read read-only (``open_readonly``) by key (``composerData:<cid>``) and key range
    (``bubbleId:<cid>:…``) and put in conversation order by ``ordered_bubbles``. A user bubble (type 1)
    with text is a user turn. Assistant bubbles (type 2) in a row are one assistant turn: their texts
    (or code blocks when a bubble has no text), the tool calls of their ``toolFormerData`` (arguments
    parsed from ``rawArgs`` when it is JSON) and each tool's result (``is_error`` when its status says
    "error"). Thinking is left out. A sub-agent's chat is not included (its usage is).
    """
    if not native_id:
        return []
    turns: list[Turn] = []
    for path in paths:
        composer, bubbles = read_chat(path, native_id)
        default_model = bubble_model({"modelInfo": (composer or {}).get("modelConfig")})
        turns.extend(bubble_turns(bubbles, default_model))
    return turns


def read_chat(path: str, cid: str) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """One chat's composerData and ordered bubbles. A lock taken by a writer between our statements
    (rollback-journal databases) restarts the read immutable."""
    conn, mode = open_readonly(path)
    try:
        return _chat(conn, path, cid, mode)
    except sqlite3.OperationalError:
        if mode == "immutable":
            raise
    finally:
        conn.close()
    conn = _connect(path, "immutable=1")
    try:
        return _chat(conn, path, cid, "immutable")
    finally:
        conn.close()


def _chat(
    conn: sqlite3.Connection, path: str, cid: str, mode: str
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    wal = mode == "ro" and _is_wal_file(path)
    if wal:
        conn.execute("BEGIN")  # one snapshot for the composer row and its bubbles
    try:
        if not _has_table(conn, _KV):
            return None, []
        composer, kv, _skipped = read_composer(conn, cid)
        return composer, ordered_bubbles(composer, kv)
    finally:
        if wal:
            conn.execute("COMMIT")


def _tool_input(tool: dict[str, Any]) -> Any:
    """A tool call's arguments: ``rawArgs`` parsed when it is JSON, else as written, else ``params``."""
    for field in ("rawArgs", "params"):
        raw = tool.get(field)
        if isinstance(raw, str) and raw.strip():
            try:
                return orjson.loads(raw)
            except orjson.JSONDecodeError:
                return raw
        if isinstance(raw, dict) and raw:
            return raw
    return None


def _tool_parts(tool: dict[str, Any]) -> tuple[ToolCall, ToolResult | None]:
    """(tool call, tool result or None) of one ``toolFormerData``."""
    call_id = tool.get("toolCallId")
    call_id = call_id if isinstance(call_id, str) and call_id else None
    call: ToolCall = {"id": call_id, "name": _str(tool.get("name")) or None, "input": _tool_input(tool)}
    result = tool.get("result")
    is_error = tool_status(tool) == "error"
    if result is None and not is_error:
        return call, None
    content = result if isinstance(result, str) else ("" if result is None else orjson.dumps(result).decode())
    return call, {"tool_use_id": call_id, "is_error": is_error, "content": content}


def _assistant_turn(bubble: dict[str, Any], model: str | None) -> Turn | None:
    """One assistant bubble as a turn; None when it has nothing to show (thinking or an error only)."""
    text = _str(bubble.get("text"))
    text = text if text.strip() else _code_blocks(bubble)
    turn: Turn = {
        "role": "assistant",
        "timestamp": _ts(bubble.get("createdAt")),
        "text": text,
        "model": model,
    }
    tool = _tool(bubble)
    if tool is not None:
        call, result = _tool_parts(tool)
        turn["tool_calls"] = [call]
        if result is not None:
            turn["tool_results"] = [result]
    return turn if text.strip() or tool is not None else None


def _merge_assistant(into: Turn, more: Turn) -> None:
    """A reply Cursor wrote over several bubbles is one turn."""
    into["text"] = "\n".join(t for t in (into.get("text"), more.get("text")) if t and t.strip())
    into["timestamp"] = into.get("timestamp") or more.get("timestamp")
    into["model"] = more.get("model") or into.get("model")
    merge_tools(into, more)


def bubble_turns(bubbles: list[dict[str, Any]], default_model: str | None = None) -> list[Turn]:
    """Export turns from a chat's ordered bubbles (see ``read_conversation``); an assistant turn's model
    is the last one a bubble named, else the chat's configured model."""
    turns: list[Turn] = []
    model = default_model
    for bubble in bubbles:
        model = bubble_model(bubble) or model
        if bubble.get("type") == USER:
            text = _str(bubble.get("text"))
            if text.strip():
                turns.append({"role": "user", "timestamp": _ts(bubble.get("createdAt")), "text": text})
            continue
        if bubble.get("type") != ASSISTANT:
            continue
        turn = _assistant_turn(bubble, model)
        if turn is None:
            continue
        if turns and turns[-1]["role"] == "assistant":
            _merge_assistant(turns[-1], turn)
        else:
            turns.append(turn)
    return turns


# ---------------------------------------------------------------------------------------------------
# What lsm knows about Cursor

INFO = AgentInfo(
    name=AGENT,
    display_name="Cursor",
    reader=lambda setup: CursorReader.from_paths(setup.paths),
    signature=AgentSignature(
        agent=AGENT,
        # The Electron main process: /usr/share/cursor/cursor (deb), <AppImage mount>/cursor,
        # /Applications/Cursor.app/Contents/MacOS/Cursor, Cursor.exe. Its `Cursor Helper (…)`
        # processes have other names; its `--type=…` children are excluded by flag.
        programs=frozenset({"cursor", "Cursor"}),
        deny_flags=ELECTRON_DENY_FLAGS,
        deny_arg_suffixes=ELECTRON_CLI_SUFFIXES,
        argv_hints=False,
        topmost_only=True,
    ),
    editor_hosted=True,
    conversation=read_conversation,
)
