"""Helpers and constants every reader shares: titles, numbers from the logs, file identity and rewrites,
skipped lines, incremental JSONL files, the recent window, usage per minute and the context series."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any, TypedDict, TypeVar, cast

from llm_session_manager.agents.base import FileState, Turn
from llm_session_manager.agents.jsonl import fold_lines, read_tail
from llm_session_manager.digest import blake2b
from llm_session_manager.fileio import open_regular as open_regular  # the readers take it from here
from llm_session_manager.safetext import title_line
from llm_session_manager.timefmt import canonical_before, canonical_ts, parse_ts


class Counted(TypedDict):
    """The part of a reader's state (``FileState.data``) every JSONL reader keeps: lines that were not
    JSON, and whether the last line is still being written."""

    skipped: int
    tail_partial: bool


class Timed(TypedDict):
    """The part of a reader's state that spans the file's timestamps (canonical ISO strings)."""

    first_ts: str | None
    last_ts: str | None


D = TypeVar("D", bound=Counted)  # a reader's own state TypedDict

TITLE_MAX = 80  # a session title: one line of at most this many characters
UNKNOWN_MODEL = "unknown"  # the model of usage whose record names none
BURN_HISTORY = timedelta(minutes=60)  # usage kept per session for burn rates, before its last activity
CTX_HISTORY = 30  # context points kept for the time-to-compaction projection
HEAD_BYTES = 256  # how much of a file's start fingerprints it (a rewritten file is read again)
RECENT_KEEP = 20  # tool results kept for the error-rate part of health
RECENT_WINDOW = timedelta(minutes=30)  # "recent" = this long before the session's last activity
# The largest count a reader accepts: every integer up to it is exact in a double (what the agents'
# JavaScript wrote), sums of millions of them stay far inside SQLite's and orjson's 64 bits.
MAX_COUNT = 2**53
MAX_EPOCH_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z, the last instant datetime can hold


def title_from(text: str) -> str:
    """A session title from a prompt or a name: one line, secrets redacted, at most TITLE_MAX characters."""
    return title_line(text, TITLE_MAX)


# ---------------------------------------------------------------------------------------------------
# Numbers from the agents' logs. A value out of range raises ValueError (one of jsonl.LINE_ERRORS), so
# the record that carries it is skipped whole: one hostile figure can neither crash every command
# (a 2**64 token count breaks the parse cache) nor leave a half-counted record behind.


def count(value: Any) -> int:
    """A count (tokens, messages, a context size): an int, or a float with a whole value (JavaScript
    writes some that way), within 0..MAX_COUNT. Anything else (a bool, a string, a negative or huge
    number, NaN) raises ValueError."""
    if type(value) is int:
        if 0 <= value <= MAX_COUNT:
            return value
    elif type(value) is float and 0 <= value <= MAX_COUNT and value.is_integer():
        return int(value)
    raise ValueError(f"not a count: {_show(value)}")


def count_or(value: Any, default: int = 0) -> int:
    """``count(value)``, or ``default`` when the field is absent (None)."""
    return default if value is None else count(value)


def amount(value: Any) -> float:
    """A non-negative finite number (a cost in USD, a percentage) no larger than MAX_COUNT; else
    ValueError."""
    if type(value) in (int, float) and 0 <= value <= MAX_COUNT and math.isfinite(value):
        return float(value)
    raise ValueError(f"not an amount: {_show(value)}")


def epoch_ms(value: Any) -> int:
    """Milliseconds since the epoch, as a count no later than the year 9999; else ValueError."""
    ms = count(value)
    if ms > MAX_EPOCH_MS:
        raise ValueError(f"not a time: {_show(value)}")
    return ms


def valid_or_none(check: Any, value: Any) -> Any:
    """``check(value)``, or None when the value is absent or invalid: for a figure of a whole document
    (a context window in a chat file), where skipping the record would hide the session."""
    if value is None:
        return None
    try:
        return check(value)
    except ValueError:
        return None


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


# ---------------------------------------------------------------------------------------------------
# Files someone else controls


def first_visit(seen: set[tuple[int, int]], path: str) -> bool:
    """True the first time a walk enters the folder ``path`` (by device and inode, through symlinks):
    a symlink loop (``a/b -> ..``, a link to itself) or a second link to a folder already walked is
    not entered again, so every walk ends and lists each file once."""
    try:
        st = os.stat(path)
    except OSError:
        return False
    key = (st.st_dev, st.st_ino)
    if key in seen:
        return False
    seen.add(key)
    return True


def file_identity(st: os.stat_result) -> tuple[int, int, int, int]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def head_of(path: str | Path) -> bytes:
    with open(path, "rb") as fh:
        return blake2b(fh.read(HEAD_BYTES), digest_size=16).digest()


def needs_full_read(prior: FileState | None, identity: tuple[int, int, int, int], head: bytes) -> bool:
    """A file read before continues from its offset only if it is the same file and only grew."""
    if prior is None:
        return True
    dev, ino, size, mtime = identity
    pdev, pino, psize, pmtime = prior.identity
    if (dev, ino) != (pdev, pino) or size < prior.offset or head != prior.head:
        return True
    # Written to without growing: rewritten in place (an append always makes the file larger).
    return size == psize and mtime != pmtime


def bad_line(data: dict[str, Any] | Counted) -> None:
    """Count a line that is not JSON."""
    data["skipped"] += 1


def window_start(last_ts: str | None) -> str:
    """The canonical timestamp RECENT_WINDOW before ``last_ts`` ("" when unknown)."""
    return (canonical_before(last_ts, RECENT_WINDOW) if last_ts else None) or ""


def recent_rows(datas: Iterable[dict[str, Any]], last_ts: str | None) -> list[list[Any]]:
    """The last RECENT_KEEP ``[ts, is_error]`` tool results within RECENT_WINDOW of ``last_ts``."""
    start = window_start(last_ts)
    rows = sorted((r for d in datas for r in d.get("recent", [])), key=lambda r: r[0] or "")
    return [r for r in rows if (r[0] or "") >= start][-RECENT_KEEP:]


def count_recent(stamps: Iterable[str | None], last_ts: str | None) -> int:
    """How many of ``stamps`` fall within RECENT_WINDOW of ``last_ts``."""
    start = window_start(last_ts)
    return sum(1 for t in stamps if t and t >= start)


def scandir(path: str | Path) -> list[os.DirEntry[str]]:
    """The entries of a folder; none when it is missing or unreadable (never an exception), and none
    whose name is not UTF-8: a path lsm can neither store nor show as text is no agent's file (one such
    name failed every listing with a traceback)."""
    try:
        with os.scandir(path) as it:
            return [e for e in it if e.name.isascii() or utf8_name(e.name)]
    except OSError:
        return []


def utf8_name(name: str) -> bool:
    """Whether a name from the file system is UTF-8 (``os.fsdecode`` keeps other bytes as lone
    surrogates, which neither the database nor JSON takes)."""
    try:
        name.encode()
    except UnicodeEncodeError:
        return False
    return True


def scandir_sorted(path: str | Path) -> list[os.DirEntry[str]]:
    """``scandir`` in name order, for readers whose results must not depend on the file system's order."""
    return sorted(scandir(path), key=lambda e: e.name)


def note_ts(data: dict[str, Any] | Timed, raw: Any) -> str | None:
    """The canonical form of a line's timestamp, widening ``data``'s first_ts/last_ts to include it."""
    if raw is None:
        return None
    ts = raw if type(raw) is str and len(raw) == 24 and raw[23] == "Z" else canonical_ts(raw)
    if ts is not None:
        if data["first_ts"] is None or ts < data["first_ts"]:
            data["first_ts"] = ts
        if data["last_ts"] is None or ts > data["last_ts"]:
            data["last_ts"] = ts
    return ts


def total(datas: Iterable[Mapping[str, Any]], name: str) -> int:
    """The sum of the counter ``name`` over the partial aggregates of a session's files (absent = 0)."""
    return sum(int(d.get(name) or 0) for d in datas)


# ---------------------------------------------------------------------------------------------------
# Incremental JSONL files (Codex rollouts, Gemini CLI chats)


def read_jsonl_file(
    path: str | Path,
    session_key: str,
    prior: FileState | None,
    fresh: Callable[[], D],
    apply: Callable[[D, Any], None],
) -> FileState:
    """Read an append-only JSONL file, continuing from ``prior`` when it is the same file that only grew
    (same device and inode, not shorter than the offset, same first bytes). A line that is not JSON is
    counted in ``data["skipped"]``; a half-written last line is flagged in ``data["tail_partial"]`` (see
    ``jsonl.read_tail``)."""
    with open_regular(path) as fh:
        identity = file_identity(os.fstat(fh.fileno()))
        head = blake2b(fh.read(HEAD_BYTES), digest_size=16).digest()
        if prior is None or needs_full_read(prior, identity, head):
            data = fresh()
            offset = 0
        else:
            data = cast(D, prior.data)  # written by ``fresh`` and ``apply`` before
            offset = prior.offset
        offset = fold_lines(fh, offset, data, apply, bad_line)
        offset, data["tail_partial"] = read_tail(fh, offset, data, apply)
    return FileState(str(path), session_key, identity, offset, head, cast(dict[str, Any], data))


# ---------------------------------------------------------------------------------------------------
# Usage per minute and the context series (burn rates, usage reports, time to compaction)

UsageRow = tuple[str | None, str, int, int, int, int]  # timestamp, model, input, output, cache writes, reads


def usage_buckets(
    rows: Iterable[UsageRow], last_ts: str | None
) -> tuple[tuple[int, str, int, int, int, int], ...]:
    """Per (minute since the epoch, model): input, output, cache_creation, cache_read of the rows
    (timestamp, model, the four counts) in the hour before the session's last activity (burn rates)."""
    start = canonical_before(last_ts, BURN_HISTORY)
    if start is None:
        return ()
    buckets: dict[tuple[int, str], list[int]] = {}
    for ts, model, *counts in rows:
        when = parse_ts(ts) if ts and ts >= start else None
        if when is None:
            continue
        row = buckets.setdefault((int(when.timestamp() // 60), model), [0, 0, 0, 0])
        for i, value in enumerate(counts):
            row[i] += value
    return tuple((m, model, row[0], row[1], row[2], row[3]) for (m, model), row in sorted(buckets.items()))


def usage_history(rows: Iterable[UsageRow]) -> tuple[tuple[int, str, int, int, int, int, int], ...]:
    """Per (minute since the epoch, model), the tokens of every row (timestamp, model, the four counts)
    of the session, for usage reports (no one-hour cache writes here: the last figure is 0)."""
    buckets: dict[tuple[int, str], list[int]] = {}
    for ts, model, *counts in rows:
        when = parse_ts(ts) if ts else None
        if when is None:
            continue
        row = buckets.setdefault((int(when.timestamp() // 60), model), [0, 0, 0, 0])
        for i, value in enumerate(counts):
            row[i] += value
    return tuple((m, model, row[0], row[1], row[2], row[3], 0) for (m, model), row in sorted(buckets.items()))


def context_series(points: Iterable[Sequence[Any]]) -> tuple[tuple[int, int], ...]:
    """(epoch seconds, context tokens) of the given [timestamp, context] points, oldest first, the
    last CTX_HISTORY of them."""
    out: list[tuple[int, int]] = []
    for ts, ctx in points:
        when = parse_ts(ts)
        if when is not None:
            out.append((int(when.timestamp()), int(ctx)))
    return tuple(sorted(out)[-CTX_HISTORY:])


# ---------------------------------------------------------------------------------------------------
# Conversation turns (export)


def merge_tools(into: Turn, more: Turn) -> None:
    """Append ``more``'s tool calls and results to ``into``'s: one reply written over several records."""
    if more.get("tool_calls"):
        into.setdefault("tool_calls", []).extend(more["tool_calls"])
    if more.get("tool_results"):
        into.setdefault("tool_results", []).extend(more["tool_results"])
