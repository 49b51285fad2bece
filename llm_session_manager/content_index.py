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
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, BinaryIO

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


@dataclass(frozen=True)
class Draft:
    """A message before it is cleaned (redacted, cut)."""

    role: str
    at: str | None
    text: str


def clean_all(drafts: Sequence[Draft], max_chars: int) -> list[content.Row]:
    """``drafts`` as indexed: redacted (a secret longer than the cut is still seen whole), cut to
    ``max_chars``, without control characters; empty ones dropped."""
    cuts = [d.text[: max_chars + SECRET_SPAN] for d in drafts]
    rows = []
    for draft, cut, redacted in zip(drafts, cuts, redact_many(cuts), strict=True):
        if len(cut) < len(draft.text):
            # A secret cut in two at the end may escape its rule; redaction shortened what came before
            # it, so the cut moves left by as much.
            redacted = redacted[: max(0, max_chars - (len(cut) - len(redacted)))]
        text = _CONTROL.sub(" ", redacted[:max_chars]).strip()
        if text:
            rows.append(content.Row(draft.role, draft.at, text))
    return rows


_SEPARATOR = "\n\n\x1e\x1f\x1e\n\n"  # between texts redacted together (control characters: no text holds it)
_BATCH_CHARS = 8 * 1024  # measured: smaller batches wake fewer rules, larger ones pay more calls


def redact_many(texts: Sequence[str]) -> list[str]:
    """Each text redacted. Short texts are redacted together, joined by a separator no rule can cross
    unnoticed: when the separators do not come back as they went, each text is redacted alone."""
    out: list[str] = []
    batch: list[str] = []
    size = 0
    for text in texts:
        batch.append(text)
        size += len(text)
        if size >= _BATCH_CHARS:
            out.extend(_redact_batch(batch))
            batch, size = [], 0
    out.extend(_redact_batch(batch))
    return out


def _redact_batch(batch: list[str]) -> list[str]:
    from llm_session_manager.redact import redact_text

    if len(batch) > 1 and not any(_SEPARATOR in text for text in batch):
        parts = redact_text(_SEPARATOR.join(batch))[0].split(_SEPARATOR)
        if len(parts) == len(batch):
            return parts
    return [redact_text(text)[0] for text in batch]


def _input_words(value: Any, tool_output: bool) -> list[str]:
    """What a tool call's input says: its commands, paths, patterns (all of it with tool output on)."""
    from llm_session_manager.content_lines import INPUT_KEYS

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
    words: list[str] = []  # whole values: clean_all cuts them after redaction, never a secret in two
    for key, item in value.items():
        if key not in INPUT_KEYS:
            continue
        if key in ("input", "patch"):  # a patch given as a tool argument: the files it touches
            words.extend(_PATCH_FILE.findall(item) if isinstance(item, str) else ())
            continue
        if isinstance(item, list):
            item = " ".join(str(x) for x in item if isinstance(x, (str, int)))
        if isinstance(item, str) and len(item) <= _INPUT_VALUE_MAX:
            words.append(item)
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


def drafts_of_turn(turn: Turn, tool_output: bool) -> Iterator[Draft]:
    """The messages of one conversation turn: its text, each tool call, each error (or each result
    with tool output on)."""
    role, at = turn.get("role"), canonical_ts(turn.get("timestamp"))
    if role not in ("user", "assistant"):
        return
    text = turn.get("text")
    if isinstance(text, str) and text.strip():
        yield Draft(role, at, text)
    for call in turn.get("tool_calls") or ():
        words = [str(call.get("name") or ""), *_input_words(call.get("input"), tool_output)]
        yield Draft("tool", at, "\n".join(w for w in words if w))
    for result in turn.get("tool_results") or ():
        body = result.get("content")
        if isinstance(body, str) and body.strip() and (result.get("is_error") or tool_output):
            yield Draft("tool", at, body)


def rows_of_turns(turns: Iterable[Turn], settings: Settings) -> list[content.Row]:
    drafts = [d for turn in turns for d in drafts_of_turn(turn, settings.tool_output)]
    return clean_all(drafts, settings.max_chars)


def _skipped_file(agent: str, path: str) -> bool:
    """Files the agent's conversation reader leaves out (Claude Code's sub-agents' transcripts)."""
    return agent == "claude-code" and "subagents" in path.replace("\\", "/").split("/")


# ---------------------------------------------------------------------------------------------------
# Refresh


@dataclass(frozen=True)
class FileJob:
    """One append-only transcript to index from ``prior``'s offset (or from the start)."""

    agent: str
    session_id: str
    path: str
    prior: content.Progress | None
    digest: str
    settings: Settings
    pending: int  # bytes to read, about


@dataclass
class FileResult:
    job: FileJob
    identity: tuple[int, int, int, int] = (0, 0, 0, 0)
    head: bytes = b""
    start: int = 0
    end: int = 0
    rows: list[content.Row] = field(default_factory=list)
    error: str | None = None


FLUSH_ROWS = 20_000  # rows written per transaction
NOTICE_BYTES = 64 * 1024 * 1024


def refresh(
    conn: sqlite3.Connection,
    sessions: Iterable[Session],
    settings: Settings,
    archiver: Archiver | None = None,
    notice: Callable[[str], None] | None = None,
) -> RefreshStats:
    """Index what is new in ``sessions`` (only live ones: an archived session's files are gone).
    ``notice`` is told when there is much to read (a first search over a long history)."""
    from llm_session_manager.content_lines import LINE_TURNS

    content.ensure_fts(conn)
    started = time.perf_counter()
    stats = RefreshStats()
    progress = content.load_progress(conn)
    digest = settings.digest()
    by_id: dict[str, Session] = {}
    jobs: list[FileJob] = []
    for session in sessions:
        if session.origin != "live" or not session.transcript_paths:
            continue
        by_id[session.id] = session
        if session.agent not in LINE_TURNS:
            _refresh_session(conn, session, progress.get((session.id, "")), digest, settings, stats, archiver)
            continue
        for path in session.transcript_paths:
            if _skipped_file(session.agent, path):
                continue
            job = _file_job(session, path, progress.get((session.id, path)), digest, settings)
            if job is not None:
                jobs.append(job)
            elif archiver is not None and (prior := progress.get((session.id, path))) is not None:
                archiver.keep_lines(session, path, prior.identity, prior.head, prior.offset, prior.offset)
    total = sum(j.pending for j in jobs)
    if notice is not None and total >= NOTICE_BYTES:
        mb = total / 1e6
        notice(
            f"indexing {mb:.0f} MB of transcripts for content search (later searches read only what is new)"
        )
    pending: list[FileResult] = []
    for result in _read_files(jobs):
        if result.error is not None:
            stats.errors.append(result.error)
            continue
        pending.append(result)
        if sum(len(r.rows) for r in pending) >= FLUSH_ROWS:
            _flush(conn, pending, by_id, stats, archiver)
            pending = []
    _flush(conn, pending, by_id, stats, archiver)
    stats.seconds = time.perf_counter() - started
    return stats


def _file_job(
    session: Session, path: str, prior: content.Progress | None, digest: str, settings: Settings
) -> FileJob | None:
    """The job of reading ``path``; None when it has not changed since it was indexed."""
    try:
        st = os.stat(path)
    except OSError:
        return None  # gone since the scan listed it: the next scan archives its session
    identity = _identity(st)
    if prior is not None and prior.identity == identity and prior.signature == digest:
        return None
    start = prior.offset if _continues(prior, identity, digest) and prior is not None else 0
    return FileJob(session.agent, session.id, path, prior, digest, settings, max(0, st.st_size - start))


def _read_files(jobs: list[FileJob]) -> Iterator[FileResult]:
    """Each job's rows, largest first, in worker processes when there is much to read and a core free
    (as the scan reads)."""
    from llm_session_manager import scan

    jobs = sorted(jobs, key=lambda j: -j.pending)
    if sum(j.pending for j in jobs) >= scan.PARALLEL_MIN_BYTES and len(jobs) > 1:
        with scan._pool(scan._workers()) as pool:  # None (read here) when no second core is free
            yield from scan._mapped(pool, read_file, jobs, per_task=4)
        return
    for job in jobs:
        yield read_file(job)


def read_file(job: FileJob) -> FileResult:
    """The rows of the complete lines ``job``'s file holds past its prior offset (all of them when the
    file was rewritten: another inode, shorter, or another head), read a block at a time."""
    from llm_session_manager.agents.common import HEAD_BYTES
    from llm_session_manager.fileio import open_regular

    result = FileResult(job)
    try:
        with open_regular(job.path) as fh:
            result.identity = _identity(os.fstat(fh.fileno()))
            result.head = _head(fh.read(HEAD_BYTES))
            prior = job.prior
            go_on = prior is not None and prior.head == result.head
            result.start = (
                prior.offset if go_on and prior and _continues(prior, result.identity, job.digest) else 0
            )
            result.end = _read_lines(fh, result, result.identity[2])
    except OSError as exc:
        result.error = f"{job.path}: {exc.strerror or exc}"
    return result


READ_BLOCK = 16 * 1024 * 1024


def _read_lines(fh: BinaryIO, result: FileResult, size: int) -> int:
    """Index the complete lines from ``result.start`` up to ``size``; returns the offset after the last
    one (a half-written last line waits for the next refresh)."""
    from llm_session_manager.content_lines import LINE_TURNS

    line_turns = LINE_TURNS[result.job.agent]
    bodies = result.job.settings.tool_output
    offset, carry = result.start, b""
    fh.seek(offset)
    while offset + len(carry) < size:
        block = fh.read(min(READ_BLOCK, size - offset - len(carry)))
        if not block:
            break
        data = carry + block
        end = data.rfind(b"\n") + 1
        turns = [t for raw in data[:end].split(b"\n") if raw.strip() for t in line_turns(raw, bodies)]
        result.rows.extend(rows_of_turns(turns, result.job.settings))
        offset += end
        carry = data[end:]
    return offset


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


def _flush(
    conn: sqlite3.Connection,
    results: list[FileResult],
    sessions: dict[str, Session],
    stats: RefreshStats,
    archiver: Archiver | None,
) -> None:
    """Save files' new rows and progress in one transaction. A file another lsm indexed meanwhile (its
    progress is no longer the one this read continued) is left as that one left it."""
    if not results:
        return
    now = iso(datetime.now(timezone.utc)) or ""
    written: list[FileResult] = []
    conn.execute("BEGIN IMMEDIATE")
    try:
        for r in results:
            job = r.job
            if r.start and content.load_progress_of(conn, job.session_id, job.path) != job.prior:
                continue
            if r.start == 0:
                content.forget_source(conn, job.session_id, job.path)
            content.add(conn, job.session_id, job.path, r.rows)
            done = content.Progress(
                job.session_id, job.path, job.agent, r.identity, r.end, r.head, job.digest
            )
            content.save_progress(conn, done, now)
            written.append(r)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    for r in written:
        stats.sources_read += 1
        stats.bytes_read += r.end - r.start
        stats.messages += len(r.rows)
        if archiver is not None:
            archiver.keep_lines(sessions[r.job.session_id], r.job.path, r.identity, r.head, r.start, r.end)


def _write_session(
    conn: sqlite3.Connection, session_id: str, rows: Sequence[content.Row], done: content.Progress
) -> None:
    """Replace a session's rows and save its progress, in one transaction."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        content.forget_source(conn, session_id, "")
        content.add(conn, session_id, "", rows)
        content.save_progress(conn, done, iso(datetime.now(timezone.utc)) or "")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


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
    # Files indexed before and deleted since (a resumed chat's first file): read from the archive's
    # copies when it has them, so that what they said stays in the index.
    before = [
        p for p in (prior.head.decode(errors="replace").split("\0") if prior and prior.head else []) if p
    ]
    gone = [p for p in before if p not in session.transcript_paths and not os.path.lexists(p)]
    paths = [p for p in before if p in gone] + list(session.transcript_paths)
    try:
        with _readable(archiver, paths if gone else list(session.transcript_paths)) as (readable, kept):
            turns = info.conversation(readable, session.native_id)
    except OSError as exc:
        stats.errors.append(f"{session.id}: {exc.strerror or exc}")
        return
    except Exception as exc:  # a format we do not understand must not stop the other sessions
        stats.errors.append(f"{session.id}: cannot read the conversation ({type(exc).__name__}: {exc})")
        return
    rows = rows_of_turns(turns, settings)
    done = content.Progress(
        session.id, "", session.agent, (0, 0, 0, 0), 0, "\0".join(kept).encode(), signature
    )
    _write_session(conn, session.id, rows, done)
    stats.sources_read += 1
    stats.messages += len(rows)
    if archiver is not None:
        archiver.keep_whole(session)


@contextmanager
def _readable(archiver: Archiver | None, paths: list[str]) -> Iterator[tuple[list[str], list[str]]]:
    """(the paths to read, the original paths they stand for): a deleted file's archived copy is read
    in its place; a deleted file without one is left out."""
    if archiver is None or all(os.path.lexists(p) for p in paths):
        present = [p for p in paths if os.path.lexists(p)]
        yield present, present
        return
    from llm_session_manager.transcript_archive import readable

    with readable(archiver.conn, archiver.root, paths) as restored:
        if restored is None:
            present = [p for p in paths if os.path.lexists(p)]
            yield present, present
            return
        copied = {c.path for c in content.copies_of(archiver.conn, paths)}
        yield restored, [p for p in paths if os.path.lexists(p) or p in copied]


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
            raise UsageError(
                f"search: cannot read the query ({exc}); FTS5 query syntax: `lsm grep --help`"
            ) from None
        text = as_words(text)
        found = _best(conn, text, roles, since, keep, sessions, per_session)
    marked = content.snippets(conn, text, [m.id for group in found for m in group], SNIPPET_TOKENS)
    return [
        [MessageHit(m.session_id, m.role, m.at, m.score, _parse_snippet(marked.get(m.id, ""))) for m in group]
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
