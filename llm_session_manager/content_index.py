"""Full-text search of what was said in every session: keeping the content index up to date, and
answering queries from it (the SQL is in store/content.py).

What is indexed, per message (session id, role, time, text): user prompts, assistant text, tool names
with their commands and the file paths they touch, and tool errors. Tool outputs and file contents only
with ``search.index_tool_output``. Every text is redacted (redact.py) before it is stored, so a secret
can never be found or shown, and control characters are removed.

The index is brought up to date when a search asks (``refresh``), from the sessions the scan lists:

- Claude Code and Codex write append-only JSONL: each transcript file is read from the byte offset
  where the last refresh stopped (its identity and the hash of its head tell a rewritten or replaced
  file, which is indexed again from the start);
- every other agent's session is read whole through its conversation reader (``AgentInfo.conversation``)
  when its numbers changed (last activity, messages, tool calls), replacing its earlier rows.

A session whose files are gone keeps its rows (it stays findable) until ``lsm archive prune`` forgets it.
"""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import orjson

from llm_session_manager.agents.base import Turn
from llm_session_manager.errors import UsageError
from llm_session_manager.models import Session
from llm_session_manager.safetext import SECRET_SPAN, redactor_digest
from llm_session_manager.store import content
from llm_session_manager.timefmt import canonical_ts, iso

if TYPE_CHECKING:
    from llm_session_manager.transcript_archive import Archiver

FORMAT_VERSION = 1  # bump when what is indexed from a message changes: everything is indexed again
ROLES = ("user", "assistant", "tool")
SNIPPET_TOKENS = 16

# Tool input keys whose (short) values say what a tool did: a command, a file, a search.
_INPUT_KEYS = (
    "command",
    "cmd",
    "file_path",
    "path",
    "paths",
    "notebook_path",
    "filename",
    "pattern",
    "glob",
    "query",
    "url",
    "description",
    "workdir",
    "cwd",
)
_INPUT_VALUE_MAX = 2000
_PATCH_FILE = re.compile(r"^\*\*\* (?:Add|Update|Delete) File: (.+)$", re.MULTILINE)
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f]")  # what no indexed text holds (snippet markers among them)


@dataclass(frozen=True)
class Settings:
    tool_output: bool = False
    max_chars: int = 20_000

    @classmethod
    def of(cls, config: Any) -> Settings:
        search = config.get("search") or {}
        return cls(bool(search.get("index_tool_output", False)), int(search.get("max_message_chars", 20_000)))

    def digest(self) -> str:
        """What the rows were indexed with: a change (new redaction rules) indexes everything again."""
        return f"{FORMAT_VERSION}:{redactor_digest()}:{int(self.tool_output)}:{self.max_chars}"


@dataclass
class RefreshStats:
    sources_read: int = 0
    bytes_read: int = 0
    messages: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------------
# Messages: turns as rows to index


def clean(text: str, max_chars: int) -> str:
    """``text`` as indexed: redacted (a secret longer than the cut is still seen whole), cut to
    ``max_chars``, without control characters."""
    from llm_session_manager.redact import redact_text

    cut = text[: max_chars + SECRET_SPAN]
    redacted = redact_text(cut)[0]
    if len(cut) < len(text):
        # A secret cut in two at the end may escape its rule; redaction shortened what came before it,
        # so the cut moves left by as much.
        redacted = redacted[: max(0, max_chars - (len(cut) - len(redacted)))]
    return _CONTROL.sub(" ", redacted[:max_chars]).strip()


def _input_words(value: Any, tool_output: bool) -> list[str]:
    """What a tool call's input says: its commands, paths, patterns (all of it with tool output on)."""
    if isinstance(value, str):
        files = _PATCH_FILE.findall(value)  # apply_patch: the files it touches
        if tool_output:
            return [value]
        return files or ([value] if len(value) <= _INPUT_VALUE_MAX else [])
    if not isinstance(value, dict):
        return []
    if tool_output:
        from llm_session_manager.redact import redact_value

        # Redacted as a structure first (a value is a secret by its key's name), then its strings.
        return list(_strings(redact_value(value)))
    words: list[str] = []  # whole values: clean() cuts them after redaction, never a secret in two
    for key in _INPUT_KEYS:
        item = value.get(key)
        if isinstance(item, list):
            item = " ".join(str(x) for x in item if isinstance(x, (str, int)))
        if isinstance(item, str) and len(item) <= _INPUT_VALUE_MAX:
            words.append(item)
    for key in ("input", "patch"):  # a patch given as a tool argument
        item = value.get(key)
        if isinstance(item, str):
            words.extend(_PATCH_FILE.findall(item))
    return words


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def rows_of_turn(turn: Turn, settings: Settings) -> Iterator[content.Row]:
    """The messages of one conversation turn: its text, each tool call, each error (or each result
    with tool output on)."""
    role, at = turn.get("role"), canonical_ts(turn.get("timestamp"))
    if role not in ("user", "assistant"):
        return
    text = turn.get("text")
    if isinstance(text, str) and text.strip():
        yield from _row(role, at, text, settings)
    for call in turn.get("tool_calls") or ():
        name = call.get("name") or ""
        words = [str(name), *_input_words(call.get("input"), settings.tool_output)]
        yield from _row("tool", at, "\n".join(w for w in words if w), settings)
    for result in turn.get("tool_results") or ():
        body = result.get("content")
        if isinstance(body, str) and body.strip() and (result.get("is_error") or settings.tool_output):
            yield from _row("tool", at, body, settings)


def _row(role: str, at: str | None, text: str, settings: Settings) -> Iterator[content.Row]:
    cleaned = clean(text, settings.max_chars)
    if cleaned:
        yield content.Row(role, at, cleaned)


# ---------------------------------------------------------------------------------------------------
# Agents whose transcripts are append-only JSONL: one line -> its turns


def _claude_line(obj: dict[str, Any]) -> list[Turn]:
    from llm_session_manager.agents.claude_code import _turn_from_line

    if obj.get("isSidechain") is True:
        return []
    turn = _turn_from_line(obj)
    return [turn] if turn is not None else []


def _codex_line(obj: dict[str, Any]) -> list[Turn]:
    from llm_session_manager.agents.codex import _conversation_turn

    payload = obj.get("payload")
    if obj.get("type") != "response_item" or not isinstance(payload, dict):
        return []
    turn = _conversation_turn(payload, canonical_ts(obj.get("timestamp")))
    return [turn] if turn is not None else []


# Agent -> what one line of its transcript says (the same functions its conversation reader uses).
LINE_READERS: dict[str, Callable[[dict[str, Any]], list[Turn]]] = {
    "claude-code": _claude_line,
    "codex": _codex_line,
}


def _skipped_file(agent: str, path: str) -> bool:
    """Files the agent's conversation reader leaves out (Claude Code's sub-agents' transcripts)."""
    return agent == "claude-code" and "subagents" in path.replace("\\", "/").split("/")


# ---------------------------------------------------------------------------------------------------
# Refresh


def refresh(
    conn: sqlite3.Connection,
    sessions: Iterable[Session],
    settings: Settings,
    archiver: Archiver | None = None,
) -> RefreshStats:
    """Index what is new in ``sessions`` (only live ones: an archived session's files are gone)."""
    content.ensure_fts(conn)
    started = time.perf_counter()
    stats = RefreshStats()
    progress = content.load_progress(conn)
    digest = settings.digest()
    for session in sessions:
        if session.origin != "live" or not session.transcript_paths:
            continue
        if session.agent in LINE_READERS:
            for path in session.transcript_paths:
                if not _skipped_file(session.agent, path):
                    _refresh_file(
                        conn,
                        session,
                        path,
                        progress.get((session.id, path)),
                        digest,
                        settings,
                        stats,
                        archiver,
                    )
        else:
            _refresh_session(conn, session, progress.get((session.id, "")), digest, settings, stats, archiver)
    stats.seconds = time.perf_counter() - started
    return stats


def _identity(st: os.stat_result) -> tuple[int, int, int, int]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _head(data: bytes) -> bytes:
    from llm_session_manager.agents.common import HEAD_BYTES

    return hashlib.blake2b(data[:HEAD_BYTES], digest_size=16).digest()


def _continues(prior: content.Progress | None, identity: tuple[int, int, int, int], digest: str) -> bool:
    """Whether ``prior`` can be continued: the same file, only grown, indexed with these settings."""
    if prior is None or prior.signature != digest:
        return False
    dev, ino, size, mtime = identity
    if (dev, ino) != prior.identity[:2] or size < prior.offset:
        return False
    return not (size == prior.identity[2] and mtime != prior.identity[3])


def _refresh_file(
    conn: sqlite3.Connection,
    session: Session,
    path: str,
    prior: content.Progress | None,
    digest: str,
    settings: Settings,
    stats: RefreshStats,
    archiver: Archiver | None,
) -> None:
    from llm_session_manager.agents.common import HEAD_BYTES, open_regular

    try:
        with open_regular(path) as fh:
            identity = _identity(os.fstat(fh.fileno()))
            if prior is not None and prior.identity == identity and prior.signature == digest:
                if archiver is not None:
                    archiver.keep_lines(session, path, identity, prior.head, prior.offset, None)
                return
            head_bytes = fh.read(HEAD_BYTES)
            head = _head(head_bytes)
            start = (
                prior.offset if _continues(prior, identity, digest) and prior and prior.head == head else 0
            )
            fh.seek(start)
            data = fh.read(max(0, identity[2] - start))
    except OSError as exc:
        stats.errors.append(f"{path}: {exc.strerror or exc}")
        return
    end = data.rfind(b"\n") + 1  # a half-written last line waits for the next refresh
    data = data[:end]
    rows = list(_rows_of_lines(LINE_READERS[session.agent], data, settings))
    done = content.Progress(session.id, path, session.agent, identity, start + end, head, digest)
    if _write(conn, session.id, path, prior if start else None, start == 0, rows, done):
        stats.sources_read += 1
        stats.bytes_read += end
        stats.messages += len(rows)
        if archiver is not None:
            archiver.keep_lines(session, path, identity, head, start, data)


def _rows_of_lines(
    line_turns: Callable[[dict[str, Any]], list[Turn]], data: bytes, settings: Settings
) -> Iterator[content.Row]:
    for raw in data.split(b"\n"):
        if not raw.strip():
            continue
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError:
            continue
        if isinstance(obj, dict):
            for turn in line_turns(obj):
                yield from rows_of_turn(turn, settings)


def _write(
    conn: sqlite3.Connection,
    session_id: str,
    path: str,
    expected: content.Progress | None,
    replace: bool,
    rows: Sequence[content.Row],
    done: content.Progress,
) -> bool:
    """Save one source's new rows and its progress in one transaction, unless another lsm got there
    first (its progress is no longer ``expected``): False then."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        now = content.load_progress_of(conn, session_id, path)
        if expected is not None and now != expected:
            conn.execute("ROLLBACK")
            return False
        if replace:
            content.forget_source(conn, session_id, path)
        content.add(conn, session_id, path, rows)
        content.save_progress(conn, done, iso(datetime.now(timezone.utc)) or "")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return True


def _session_signature(session: Session, digest: str) -> str:
    parts = (
        digest,
        "\0".join(session.transcript_paths),
        iso(session.last_activity) or "",
        session.messages_user,
        session.messages_assistant,
        session.tool_calls,
        session.tool_errors,
    )
    return hashlib.blake2b(repr(parts).encode(), digest_size=16).hexdigest()


def _refresh_session(
    conn: sqlite3.Connection,
    session: Session,
    prior: content.Progress | None,
    digest: str,
    settings: Settings,
    stats: RefreshStats,
    archiver: Archiver | None,
) -> None:
    from llm_session_manager.agents import agent_info

    signature = _session_signature(session, digest)
    if prior is not None and prior.signature == signature:
        if archiver is not None:
            archiver.keep_whole(session)
        return
    info = agent_info(session.agent)
    if info is None or info.conversation is None:
        return
    try:
        turns = info.conversation(list(session.transcript_paths), session.native_id)
    except OSError as exc:
        stats.errors.append(f"{session.id}: {exc.strerror or exc}")
        return
    except Exception as exc:  # a format we do not understand must not stop the other sessions
        stats.errors.append(f"{session.id}: cannot read the conversation ({type(exc).__name__}: {exc})")
        return
    rows = [row for turn in turns for row in rows_of_turn(turn, settings)]
    done = content.Progress(session.id, "", session.agent, (0, 0, 0, 0), 0, b"", signature)
    if _write(conn, session.id, "", None, True, rows, done):
        stats.sources_read += 1
        stats.messages += len(rows)
        if archiver is not None:
            archiver.keep_whole(session)


# ---------------------------------------------------------------------------------------------------
# Queries


@dataclass(frozen=True)
class Snippet:
    """A message's best extract: ``text`` with ``spans`` (start, end) where the query matched."""

    text: str
    spans: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class MessageHit:
    session_id: str
    role: str
    at: str | None
    score: float
    snippet: Snippet


_OPERATORS = re.compile(r'["*()^:{}]|\b(?:AND|OR|NOT|NEAR)\b')


def as_words(query: str) -> str:
    """A plain query that FTS5 cannot parse (``auth.py``, ``jwt-refresh``) as every word quoted."""
    return " ".join('"' + word.replace('"', '""') + '"' for word in query.split())


def checked_query(query: str) -> str:
    text = query.strip()
    if not text:
        raise UsageError("search: give the words to find")
    return text


def find(
    conn: sqlite3.Connection,
    query: str,
    *,
    roles: Sequence[str] = (),
    since: str | None = None,
    keep: Callable[[str], bool] = lambda _sid: True,
    sessions: int = 20,
    per_session: int = 3,
) -> list[list[MessageHit]]:
    """The ``sessions`` sessions with the best matching messages for an FTS5 ``query`` (best first),
    each with its ``per_session`` best messages, narrowed by role, time (``since``, canonical) and
    ``keep(session_id)``. A plain query FTS5 cannot parse is read as its words; a query with FTS5
    syntax that cannot be parsed is a UsageError."""
    content.ensure_fts(conn)
    text = checked_query(query)
    try:
        found = _best(conn, text, roles, since, keep, sessions, per_session)
    except sqlite3.OperationalError as exc:
        if not _is_query_error(exc):
            raise
        if _OPERATORS.search(text):
            raise UsageError(f"search: cannot read the query ({exc}); see `lsm search --help`") from None
        text = as_words(text)
        found = _best(conn, text, roles, since, keep, sessions, per_session)
    return [
        [
            MessageHit(
                m.session_id,
                m.role,
                m.at,
                m.score,
                _parse_snippet(content.snippet(conn, text, m.id, SNIPPET_TOKENS)),
            )
            for m in group
        ]
        for group in found
    ]


def _is_query_error(exc: sqlite3.OperationalError) -> bool:
    message = str(exc).lower()
    return any(
        s in message for s in ("fts5", "syntax error", "no such column", "unterminated", "unknown special")
    )


def _best(
    conn: sqlite3.Connection,
    query: str,
    roles: Sequence[str],
    since: str | None,
    keep: Callable[[str], bool],
    sessions: int,
    per_session: int,
) -> list[list[content.Match]]:
    limit = max(64, sessions * per_session * 4)
    while True:
        found = content.matches(conn, query, roles=roles, since=since, limit=limit)
        groups: dict[str, list[content.Match]] = {}
        for match in found:
            if not keep(match.session_id):
                continue
            group = groups.setdefault(match.session_id, [])
            if len(group) < per_session:
                group.append(match)
        if len(found) < limit or len(groups) >= sessions:
            return list(groups.values())[:sessions]
        limit *= 4


def _parse_snippet(marked: str) -> Snippet:
    """A snippet made safe to show (for_terminal) with the spans of its highlight markers."""
    from llm_session_manager.safetext import for_terminal

    text, spans, pos = [], [], 0
    for i, part in enumerate(marked.split(content.MARK_START)):
        inside, _, after = part.partition(content.MARK_END) if i else ("", "", part)
        if i and inside:
            shown = for_terminal(inside)
            spans.append((pos, pos + len(shown)))
            text.append(shown)
            pos += len(shown)
        shown = for_terminal(after.replace(content.MARK_END, ""))
        text.append(shown)
        pos += len(shown)
    return Snippet("".join(text), tuple(spans))
